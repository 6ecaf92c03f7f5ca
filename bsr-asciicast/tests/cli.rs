//! The `bsr-asciicast` binary: exit codes, output and report files, import then convert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
}

#[test]
fn convert_exit_codes_and_files() {
    let d = tempfile::tempdir().unwrap();
    let rec = root().join("testdata/recordings/sr_shell00001.bsr");
    let out = d.path().join("s.cast");
    let rep = d.path().join("r.json");
    let st = bin()
        .args(["convert", "--all"])
        .arg(&rec)
        .arg("-o")
        .arg(&out)
        .arg("--report")
        .arg(&rep)
        .output()
        .unwrap();
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(String::from_utf8_lossy(&st.stderr).contains("shell channel"));
    let cast = std::fs::read_to_string(&out).unwrap();
    assert!(cast.starts_with("{\"version\":2,\"width\":120,\"height\":40"));
    assert!(!d.path().join("s.cast.partial").exists());
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&rep).unwrap()).unwrap();
    assert_eq!(report["schema"], "bsr-asciicast/report/v1");
    assert_eq!(report["exit_status"], 0);
    // sftp: not interactive, exit 3, no output file left behind.
    let multi = root().join("testdata/recordings/sr_multi00001.bsr");
    let out2 = d.path().join("sftp.cast");
    let st = bin()
        .args([
            "convert",
            "--connection",
            "cr_multi00001",
            "--channel",
            "chr_multi0002",
        ])
        .arg(&multi)
        .arg("-o")
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&st.stderr).contains("sftp"));
    assert!(!out2.exists() && !d.path().join("sftp.cast.partial").exists());
    // Raw files taken out of a recording (unsigned, so only with --unverified).
    let ch = rec.join("cr_shell00001.connection/chr_shell00001.channel");
    let st = bin()
        .args(["convert", "-q", "--unverified", "--requests"])
        .arg(ch.join("requests-inbound.data"))
        .arg("--messages")
        .arg(ch.join("messages-outbound.data"))
        .output()
        .unwrap();
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(String::from_utf8_lossy(&st.stdout).contains("éllo wörld"));
    // A recording that does not exist: exit 2 with the path.
    let st = bin()
        .args(["convert", "/nonexistent/sr_x.bsr"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("/nonexistent"));
}

#[test]
fn import_then_convert_then_verify() {
    let d = tempfile::tempdir().unwrap();
    let cast = root().join("../shared/cast-fixtures/asciinema-cli__demo-v2.cast");
    let kek = root().join("testdata/keys/test-kek.hex");
    let st = bin()
        .arg("import")
        .arg(&cast)
        .arg("--out")
        .arg(d.path())
        .arg("--kek")
        .arg(&kek)
        .arg("--recorder-key")
        .arg(root().join("testdata/keys/test-recorder.key"))
        .output()
        .unwrap();
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&st.stdout).trim().to_string());
    assert!(dir.exists());
    let st = bin().args(["convert", "-q"]).arg(&dir).output().unwrap();
    assert_eq!(st.status.code(), Some(0));
    let orig = std::fs::read_to_string(&cast).unwrap();
    // Every output event's data is in the original, in order.
    let out = String::from_utf8_lossy(&st.stdout).into_owned();
    assert_eq!(
        out.lines().count(),
        orig.lines().filter(|l| l.contains("\"o\"")).count() + 1
    );
}
