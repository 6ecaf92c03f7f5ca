//! The hostile-file sweep (issue 14): every kind of non-regular or unreadable file, planted at
//! every file position of a small recording, run through every command that reads recordings.
//! Each run must end before its deadline, exit non-zero, and name the planted file.
//!
//! The commands live in three binaries: `bsr-asciicast` (this package), and `bsr-verify` and
//! `bsr-recover`, found beside it in the same target folder (`cargo test --workspace`, the
//! README's test command, builds them all).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary of the workspace: this package's own, or a sibling in the same target folder.
fn bin(name: &str) -> PathBuf {
    let own = PathBuf::from(env!("CARGO_BIN_EXE_bsr-asciicast"));
    if name == "bsr-asciicast" {
        return own;
    }
    let p = own.with_file_name(name);
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (cargo test --workspace)",
        p.display()
    );
    p
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Fifo,
    Socket,
    SymlinkInside,
    SymlinkOutside,
    Folder,
    Device,
    Unreadable,
}

const KINDS: [Kind; 7] = [
    Kind::Fifo,
    Kind::Socket,
    Kind::SymlinkInside,
    Kind::SymlinkOutside,
    Kind::Folder,
    Kind::Device,
    Kind::Unreadable,
];

fn is_root() -> bool {
    // SAFETY-free check: the effective uid is in /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn run_ok(cmd: &mut Command) {
    let st = cmd.status().unwrap();
    assert!(st.success(), "{cmd:?}: {st}");
}

/// Replaces `rel` (a regular file of the recording at `rec`) with a hostile thing of `kind`.
/// Returns false where the kind cannot be made here.
fn plant(rec: &Path, rel: &str, kind: Kind, outside: &Path) -> bool {
    let p = rec.join(rel);
    let original = std::fs::read(&p).unwrap();
    std::fs::remove_file(&p).unwrap();
    match kind {
        Kind::Fifo => run_ok(Command::new("mkfifo").arg(&p)),
        Kind::Socket => {
            // The socket file stays after the listener is dropped; nobody ever answers on it.
            // Bound under a short name (socket paths are limited to ~108 bytes), then moved.
            let short = tempfile::tempdir_in("/tmp").unwrap();
            let s = short.path().join("s");
            drop(std::os::unix::net::UnixListener::bind(&s).unwrap());
            std::fs::rename(&s, &p).unwrap();
        }
        Kind::SymlinkInside => {
            // Another file of the same recording, with the original content beside it, so that
            // following the link would read plausible bytes.
            let twin = p.with_file_name(format!(
                ".twin-{}",
                p.file_name().unwrap().to_string_lossy()
            ));
            std::fs::write(&twin, &original).unwrap();
            std::os::unix::fs::symlink(twin.file_name().unwrap(), &p).unwrap();
        }
        Kind::SymlinkOutside => {
            // The very bytes the file held, outside the tree: only the link itself is wrong.
            let target = outside.join(rel.replace('/', "_"));
            std::fs::write(&target, &original).unwrap();
            std::os::unix::fs::symlink(&target, &p).unwrap();
        }
        Kind::Folder => std::fs::create_dir(&p).unwrap(),
        Kind::Device => {
            if !is_root() {
                return false;
            }
            // A character device with /dev/zero's numbers: reading it never ends. A container
            // without CAP_MKNOD cannot make one: that kind is then left out (and said so).
            let made = Command::new("mknod")
                .arg(&p)
                .args(["c", "1", "5"])
                .status()
                .is_ok_and(|s| s.success());
            if !made {
                eprintln!("hostile_files: mknod refused here; device nodes are not planted");
                return false;
            }
        }
        Kind::Unreadable => {
            std::fs::write(&p, &original).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
        }
    }
    true
}

/// Runs a command under the deadline; returns (exit code, stdout + stderr); no exit code
/// when it hung and was killed.
fn run(mut cmd: Command, as_nobody: bool) -> (Option<i32>, String) {
    if as_nobody {
        // Root reads any file whatever its mode: run the command as `nobody` so that an
        // unreadable file really is unreadable.
        let prog = cmd.get_program().to_owned();
        let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(prog)
            .args(args);
        cmd = c;
    }
    let out_path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let out = std::fs::File::create(&out_path).unwrap();
    std::fs::set_permissions(&out_path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return (
                st.code(),
                std::fs::read_to_string(&out_path).unwrap_or_default(),
            );
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let so_far = std::fs::read_to_string(&out_path).unwrap_or_default();
            return (
                None,
                format!("HUNG (killed after {DEADLINE:?}); output so far:\n{so_far}"),
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every regular file of the tree, as paths relative to `rec`.
fn files(rec: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![rec.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(rec)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

fn open_up(p: &Path) {
    // So that `nobody` owns the tree (it may write its outputs, and `bsr-recover` may close the
    // recording) and can read every file but the planted one, whose mode stays 000.
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let md = std::fs::symlink_metadata(&d).unwrap();
        std::os::unix::fs::lchown(&d, Some(65534), Some(65534)).unwrap();
        if md.is_dir() {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
            for e in std::fs::read_dir(&d).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else if md.is_file() && md.permissions().mode() & 0o777 != 0 {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

struct Failure(String);

/// How strictly a command is judged.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// Reads every file: must exit non-zero and name the planted file.
    Refuse,
    /// Reads only part of the recording (`--no-verify`): must end in time, and where it fails
    /// it must name the planted file.
    NoHang,
}

type Commands<'a> = &'a dyn Fn(&Path) -> Vec<(&'static str, Expect, Command)>;

/// Plants every kind at every position of `source` and runs `commands(rec_path)` on each.
fn sweep(source: &Path, rec_name: &str, commands: Commands) -> Vec<Failure> {
    let positions = files(source);
    assert!(positions.len() > 10, "{positions:?}");
    let mut failures = Vec::new();
    let mut runs = 0;
    for rel in &positions {
        for kind in KINDS {
            let tmp = tempfile::tempdir().unwrap();
            let outside = tmp.path().join("outside");
            std::fs::create_dir(&outside).unwrap();
            let rec = tmp.path().join(rec_name);
            copy_tree(source, &rec);
            if !plant(&rec, rel, kind, &outside) {
                continue;
            }
            let as_nobody = kind == Kind::Unreadable && is_root();
            if as_nobody {
                open_up(tmp.path());
            }
            for (label, expect, cmd) in commands(&rec) {
                runs += 1;
                let (code, out) = run(cmd, as_nobody);
                let named = out.contains(rel.as_str());
                let bad = match expect {
                    Expect::Refuse => code == Some(0) || code.is_none() || !named,
                    Expect::NoHang => code != Some(0) && !named,
                };
                if bad {
                    failures.push(Failure(format!(
                        "{label} with a {kind:?} at {rel}: exit {code:?}, names the file: {named}\n{}",
                        out.lines().take(12).collect::<Vec<_>>().join("\n")
                    )));
                }
            }
        }
    }
    assert!(runs > 100, "only {runs} runs");
    failures
}

fn report(failures: Vec<Failure>) {
    if !failures.is_empty() {
        let n = failures.len();
        // A tally by command and kind first, then the first failures in full.
        let mut tally = std::collections::BTreeMap::<String, usize>::new();
        for f in &failures {
            let key = f.0.split(" at ").next().unwrap_or_default().to_string();
            *tally.entry(key).or_default() += 1;
        }
        let tally: Vec<String> = tally.iter().map(|(k, v)| format!("{v:5} {k}")).collect();
        let text: Vec<String> = failures.into_iter().take(40).map(|f| f.0).collect();
        panic!(
            "{n} hostile runs misbehaved:\n{}\n\nthe first ones:\n\n{}",
            tally.join("\n"),
            text.join("\n\n")
        );
    }
}

fn keys() -> (PathBuf, PathBuf) {
    let k = root().join("testdata/keys");
    (k.join("test-kek.hex"), k.join("test-recorder.pub"))
}

#[test]
fn hostile_files_in_a_finished_recording_fail_every_reading_command() {
    let source = root().join("testdata/recordings/sr_exec000001.bsr");
    let (kek, recorder) = keys();
    let verify = bin("bsr-verify");
    let asciicast = bin("bsr-asciicast");
    let cmds = |rec: &Path| {
        let mut v: Vec<(&'static str, Expect, Command)> = Vec::new();
        let mut c = Command::new(&verify);
        c.arg("--kek")
            .arg(&kek)
            .arg("--recorder-key")
            .arg(&recorder)
            .arg(rec);
        v.push(("verify", Expect::Refuse, c));
        for (sub, nv) in [
            ("facts", "facts --no-verify"),
            ("events", "events --no-verify"),
        ] {
            let mut c = Command::new(&verify);
            c.arg(sub).arg("--kek").arg(&kek).arg(rec);
            v.push((sub, Expect::Refuse, c));
            let mut c = Command::new(&verify);
            c.arg(sub).arg("--no-verify").arg(rec);
            v.push((nv, Expect::NoHang, c));
        }
        let mut c = Command::new(&asciicast);
        c.arg("convert")
            .arg(rec)
            .arg("-o")
            .arg(rec.with_extension("cast"));
        v.push(("convert", Expect::Refuse, c));
        let mut c = Command::new(&asciicast);
        c.args(["convert", "--unverified"])
            .arg(rec)
            .arg("-o")
            .arg(rec.with_extension("u.cast"));
        v.push(("convert --unverified", Expect::NoHang, c));
        // The auditor's views: each verifies through the same gate before it shows anything.
        for sub in ["text", "commands"] {
            let mut c = Command::new(&asciicast);
            c.arg(sub).arg(rec);
            v.push((sub, Expect::Refuse, c));
        }
        let mut c = Command::new(&asciicast);
        c.args(["search", "hello"]).arg(rec);
        v.push(("search", Expect::Refuse, c));
        let mut c = Command::new(&asciicast);
        c.arg("html")
            .arg(rec)
            .arg("-o")
            .arg(rec.with_extension("html"));
        v.push(("html", Expect::Refuse, c));
        v
    };
    report(sweep(&source, "sr_exec000001.bsr", &cmds));
}

/// An unfinished recording, as a writer that died after its last `sync` leaves it.
fn unfinished(dir: &Path) -> PathBuf {
    use bsr_core::Direction;
    use bsr_core::ssh::{Request, ShellRequest};
    let kek = bsr_core::keys::AeadWrapper::from_kek_file(&keys().0).unwrap();
    let store = std::sync::Arc::new(bsr_core::store::FsStore::new(dir));
    let t = |ms: u64| {
        bsr_core::Timestamp::new(1_700_000_000 + ms / 1000, ((ms % 1000) * 1_000_000) as u32)
    };
    let keys = bsr_core::keys::RecordingKeys::generate("s_sweep00001").unwrap();
    let opts = bsr_core::write::SessionOptions::new("sr_sweep00001", "s_sweep00001", t(0));
    let s = bsr_core::write::SessionWriter::create(store, "", opts, keys, &kek, None).unwrap();
    let c = s.new_connection("cr_sweep00001", t(0)).unwrap();
    let mut ch = c.new_channel("chr_sweep0001", "session", t(0)).unwrap();
    ch.write_request(
        Direction::Inbound,
        t(1),
        &Request::Shell(ShellRequest {
            request_type: "shell".into(),
            want_reply: true,
        }),
    )
    .unwrap();
    for k in 0..20 {
        ch.write_data(
            Direction::Outbound,
            t(2 + k),
            format!("line {k}\r\n").as_bytes(),
        )
        .unwrap();
        ch.write_data(Direction::Inbound, t(2 + k), b"k").unwrap();
    }
    ch.sync().unwrap();
    // The writer "dies": nothing is finished, nothing is signed (Drop never seals).
    drop(ch);
    drop(c);
    drop(s);
    dir.join("sr_sweep00001.bsr")
}

#[test]
fn hostile_files_in_an_unfinished_recording_fail_recovery_and_verification() {
    let made = tempfile::tempdir().unwrap();
    let source = unfinished(made.path());
    let (kek, _) = keys();
    let recover = bin("bsr-recover");
    let verify = bin("bsr-verify");
    let cmds = |rec: &Path| {
        let mut v: Vec<(&'static str, Expect, Command)> = Vec::new();
        let mut c = Command::new(&verify);
        c.arg("--kek").arg(&kek).arg(rec);
        v.push(("verify (unfinished)", Expect::Refuse, c));
        let mut c = Command::new(&recover);
        c.arg(rec).arg("--kek").arg(&kek);
        v.push(("recover", Expect::Refuse, c));
        v
    };
    report(sweep(&source, "sr_sweep00001.bsr", &cmds));
}
