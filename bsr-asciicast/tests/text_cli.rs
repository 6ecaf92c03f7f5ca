//! The `text`, `commands` and `search` commands of the binary: output, JSON, files, exit
//! codes, the verification gate and its `--unverified` warning.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

const SHELL: &str = "testdata/recordings/sr_shell00001.bsr";

#[test]
fn text_plain_json_and_file() {
    let o = run(&["text", SHELL]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        stdout(&o),
        "demo@host:~$ echo héllo\nhéllo wörld → ✓ 🎉\ndemo@host:~$ exit\nlogout\n"
    );
    let o = run(&["text", "--json", SHELL]);
    let v: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 4);
    assert_eq!(v[1]["line"], "héllo wörld → ✓ 🎉");
    assert_eq!(v[1]["t"], 1.538);
    assert_eq!(v[1]["time"], "2023-11-14T22:13:21.540000007Z");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("t.txt");
    let o = run(&["text", SHELL, "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("demo@host:~$ echo héllo\n")
    );
    assert!(!d.path().join("t.txt.partial").exists());
}

#[test]
fn commands_plain_and_json() {
    let o = run(&["commands", SHELL]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "2023-11-14T22:13:21.500000007Z\techo héllo\n2023-11-14T22:13:23.000000007Z\texit\n"
    );
    let o = run(&[
        "commands",
        "--json",
        "testdata/recordings/sr_exec000001.bsr",
    ]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(v["command"], "uname -a");
    assert_eq!(v["source"], "exec");
    assert_eq!(v["echoed"], true);
}

#[test]
fn gate_refuses_tampered_recordings_unless_unverified() {
    let d = tempfile::tempdir().unwrap();
    let copy = d.path().join("sr_shell00001.bsr");
    let status = Command::new("cp")
        .arg("-r")
        .arg(root().join(SHELL))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let data = copy.join("cr_shell00001.connection/chr_shell00001.channel/messages-outbound.data");
    let mut b = std::fs::read(&data).unwrap();
    let n = b.len();
    b[n - 40] ^= 1;
    std::fs::write(&data, b).unwrap();
    let p = copy.to_str().unwrap();
    for cmd in ["text", "commands"] {
        let o = run(&[cmd, p]);
        assert_eq!(o.status.code(), Some(5), "{cmd}");
        assert!(o.stdout.is_empty(), "{cmd}: content shown");
        assert!(String::from_utf8_lossy(&o.stderr).contains("INVALID"));
    }
    // --unverified shows it, with the warning first. (The changed byte is in a chunk whose CRC
    // now fails, so reading stops there with an error after the warning.)
    let o = run(&["text", "--unverified", p]);
    assert!(
        stdout(&o).starts_with("[WARNING: UNVERIFIED CONTENT"),
        "{}",
        stdout(&o)
    );
    // search reports it and searches the rest.
    let o = run(&[
        "search",
        "héllo",
        d.path().to_str().unwrap(),
        "testdata/recordings",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("sr_shell00001.bsr: could not be searched"),
        "{err}"
    );
    assert_eq!(stdout(&o).lines().count(), 4, "{}", stdout(&o));
}

#[test]
fn search_output_and_exit_codes() {
    let o = run(&["search", "-j", "2", "wörld", "testdata/recordings"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut hits: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    hits.sort();
    assert_eq!(hits.len(), 2);
    let f: Vec<&str> = hits[1].split('\t').collect();
    assert_eq!(
        &f[1..],
        [
            "cr_shell00001",
            "chr_shell00001",
            "alice",
            "db-bastion",
            "1.538",
            "2023-11-14T22:13:21.540000007Z",
            "héllo wörld → ✓ 🎉"
        ]
    );
    let o = run(&[
        "search",
        "-i",
        "--json",
        "LOGOUT",
        "testdata/recordings/sr_shell00001.bsr",
    ]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["line"], "logout");
    let o = run(&["search", "no such text anywhere", "testdata/recordings"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let o = run(&[
        "text",
        "--channel",
        "chr_multi0002",
        "--connection",
        "cr_multi00001",
        "testdata/recordings/sr_multi00001.bsr",
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Issue 18: `search --shard K/N` searches the recordings `bsr-verify --shard K/N` assigns to
/// shard K; the shards' hits are disjoint and together equal the unsharded search.
#[test]
fn search_shards_are_disjoint_and_cover_the_unsharded_search() {
    let lines = |args: &[&str]| -> Vec<String> {
        let o = run(args);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        stdout(&o).lines().map(str::to_string).collect()
    };
    let mut all = lines(&["search", "-i", "e", "testdata/recordings"]);
    all.sort();
    assert!(all.len() >= 4, "{all:?}");
    let mut union = Vec::new();
    let mut non_empty = 0;
    for k in 0..3 {
        let shard = format!("{k}/3");
        let part = lines(&[
            "search",
            "--shard",
            &shard,
            "-i",
            "e",
            "testdata/recordings",
        ]);
        non_empty += usize::from(!part.is_empty());
        union.extend(part);
    }
    union.sort();
    assert_eq!(
        union, all,
        "the shards' hits are the unsharded hits, once each"
    );
    assert!(
        non_empty >= 2,
        "the recordings fall into more than one shard"
    );
    let o = run(&["search", "--shard", "3/3", "e", "testdata/recordings"]);
    assert_eq!(o.status.code(), Some(2), "K must be below N");
}
