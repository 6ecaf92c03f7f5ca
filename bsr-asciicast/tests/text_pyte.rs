//! An independent emulator: for every channel of every testdata recording and every cast
//! fixture in `../shared/cast-fixtures/` (imported with `bsr-asciicast import`, then read back),
//! the final screen of our terminal model equals what pyte (PyPI, a separate VT
//! implementation in Python) renders from the same output and window changes, rows compared
//! with trailing blanks stripped.
//!
//! Skipped, with a message, only when pyte cannot be imported and `BSR_REQUIRE_PYTE` is not
//! set (`python3 -m pip install 'pyte==0.8.2'`). `BSR_CAST_FIXTURES` overrides the fixtures'
//! folder (default: `../shared/cast-fixtures` from the repository root).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use bsr_asciicast::convert::ChannelFiles;
use bsr_asciicast::term::TermModel;
use bsr_asciicast::term::channel::{Event, Replay};
use bsr_core::read::Recording;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// pyte has no alternate screen (xterm modes 47, 1047, 1049); the harness gives it one the
/// xterm way, by swapping the screen's buffer (and, for 1049, saving the cursor), so that
/// full-screen programs are compared too. Everything else is pyte's own.
const PYTE: &str = r#"
import copy, json, sys, pyte
ALT = (47, 1047, 1049)
class Screen(pyte.Screen):
    saved = None
    def set_mode(self, *modes, **kw):
        if kw.get("private") and any(m in ALT for m in modes) and self.saved is None:
            self.saved = (self.buffer, copy.copy(self.cursor) if 1049 in modes else None)
            self.buffer = type(self.buffer)(self.buffer.default_factory)
            self.dirty.update(range(self.lines))
        modes = [m for m in modes if not (kw.get("private") and m in ALT)]
        if modes:
            super().set_mode(*modes, **kw)
    def reset_mode(self, *modes, **kw):
        if kw.get("private") and any(m in ALT for m in modes) and self.saved is not None:
            self.buffer, cursor = self.saved
            self.saved = None
            if cursor is not None:
                self.cursor = cursor
            self.dirty.update(range(self.lines))
        modes = [m for m in modes if not (kw.get("private") and m in ALT)]
        if modes:
            super().reset_mode(*modes, **kw)
job = json.load(sys.stdin)
screen = Screen(job["cols"], job["rows"])
stream = pyte.Stream(screen)
for ev in job["events"]:
    if ev[0] == "o":
        stream.feed(ev[1])
    else:
        screen.resize(lines=ev[2], columns=ev[1])
json.dump([row.rstrip() for row in screen.display], sys.stdout)
"#;

fn pyte_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pyte"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("BSR_REQUIRE_PYTE").is_none(),
            "pyte is required (BSR_REQUIRE_PYTE is set) but `python3 -c 'import pyte'` fails; \
             install it with: python3 -m pip install 'pyte==0.8.2'"
        );
        eprintln!("SKIPPED: pyte is not installed (python3 -m pip install 'pyte==0.8.2')");
    }
    ok
}

/// Our final screen and pyte's, for one channel.
fn both_screens(files: &ChannelFiles) -> (Vec<String>, Vec<String>) {
    let replay = Replay::open(files).unwrap();
    let start = replay.start().clone();
    let mut model = TermModel::new(start.cols, start.rows).unwrap();
    let mut events = Vec::new();
    let mut nothing = |_| Ok::<(), bsr_asciicast::term::TextError>(());
    replay
        .run(false, |t, ev| {
            match ev {
                Event::Output(s) => {
                    events.push(serde_json::json!(["o", s]));
                    model.feed(t, s, &mut nothing)?;
                }
                Event::Resize { cols, rows } => {
                    events.push(serde_json::json!(["r", cols, rows]));
                    model.resize(t, cols, rows, &mut nothing)?;
                }
                Event::Input(_) => {}
            }
            Ok(())
        })
        .unwrap();
    let ours: Vec<String> = model
        .terminal()
        .screen()
        .visible_lines()
        .map(|l| l.text().trim_end().to_string())
        .collect();
    let job = serde_json::json!({"cols": start.cols, "rows": start.rows, "events": events});
    let mut child = Command::new("python3")
        .args(["-c", PYTE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pyte failed");
    let theirs: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    (ours, theirs)
}

/// Every shell and exec channel of a recording.
fn channels(rec: &Recording) -> Vec<ChannelFiles> {
    let mut v = Vec::new();
    for conn in rec.connections().unwrap() {
        for ch in conn.channels().unwrap() {
            let f = ChannelFiles::of_channel(&ch, Some(conn.dir())).unwrap();
            if Replay::open(&f).is_ok() {
                v.push(f);
            }
        }
    }
    v
}

fn compare(name: &str, rec: &Recording) -> usize {
    let chans = channels(rec);
    for f in &chans {
        let (ours, theirs) = both_screens(f);
        assert_eq!(ours, theirs, "{name}: {} (ours, then pyte's)", f.name);
        assert!(
            ours.iter().any(|l| !l.is_empty()),
            "{name}: {}: an empty final screen proves nothing",
            f.name
        );
    }
    chans.len()
}

#[test]
fn testdata_recordings_match_pyte() {
    if !pyte_available() {
        return;
    }
    let dir = root().join("testdata/recordings");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let rec = Recording::open_path(&p).unwrap();
        n += compare(&p.display().to_string(), &rec);
    }
    assert!(n >= 4, "only {n} channels compared");
}

fn fixtures() -> PathBuf {
    std::env::var_os("BSR_CAST_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/cast-fixtures"))
}

/// Fixtures that are negative by design (their README marks them NEGATIVE).
fn negative(readme: &str, name: &str) -> bool {
    readme
        .lines()
        .any(|l| l.contains(&format!("| {name} |")) && l.contains("NEGATIVE"))
}

fn import(cast: &Path, out: &Path) -> PathBuf {
    let o = Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .arg("import")
        .arg(cast)
        .arg("--out")
        .arg(out)
        .arg("--kek")
        .arg(root().join("testdata/keys/test-kek.hex"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "import {}: {}",
        cast.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let printed = String::from_utf8(o.stdout).unwrap();
    let dir = printed.lines().next().unwrap().trim().to_string();
    let p = PathBuf::from(&dir);
    if p.is_absolute() { p } else { out.join(dir) }
}

#[test]
fn cast_fixtures_match_pyte() {
    if !pyte_available() {
        return;
    }
    let dir = fixtures();
    let readme = std::fs::read_to_string(dir.join("README.md"))
        .unwrap_or_else(|e| panic!("{}: {e} (set BSR_CAST_FIXTURES)", dir.display()));
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cast" || x == "json"))
        .collect();
    names.sort();
    for cast in names {
        let name = cast.file_name().unwrap().to_string_lossy().into_owned();
        if negative(&readme, &name) {
            continue;
        }
        let out = tmp.path().join(&name);
        std::fs::create_dir_all(&out).unwrap();
        let rec_dir = import(&cast, &out);
        let rec = Recording::open_path(&rec_dir).unwrap();
        assert_eq!(compare(&name, &rec), 1, "{name}");
        n += 1;
    }
    assert!(n >= 9, "only {n} fixtures compared");
}
