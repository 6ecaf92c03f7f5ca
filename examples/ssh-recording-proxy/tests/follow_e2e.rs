//! End to end, live: a session driven by real OpenSSH through the recording proxy is followed
//! while it runs with what `bsr-asciicast convert --follow` runs (bsr-asciicast's
//! `convert::follow::convert_follow` on a bsr-core `Follower`; the binary itself is tested
//! against the writer in `bsr-asciicast/tests/follow.rs`), and the live cast is compared with
//! the cast converted after the session.
//!
//! What may differ, and does here: the live cast starts with the live-unverified marker and its
//! header carries it in `BSR_HEADER_NOTE`. The size and TERM could differ after a
//! window-change (the live header is made when the channel starts); there is none here, so
//! they are compared too. Every other event is equal, time included.
//!
//! Without OpenSSH the test prints a loud notice and returns; with `BSR_REQUIRE_OPENSSH=1` it
//! fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bsr_asciicast::convert::follow::{FollowEnd, FollowSelection, convert_follow};
use bsr_asciicast::convert::{ConvertContext, ConvertOptions};
use bsr_core::read::follow::{FollowOptions, Follower};
use common::*;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

fn parse(cast: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
    let mut lines = cast.lines();
    let header = serde_json::from_str(lines.next().unwrap()).unwrap();
    (
        header,
        lines.map(|l| serde_json::from_str(l).unwrap()).collect(),
    )
}

#[test]
fn ssh_session_followed_live_equals_the_cast_after() {
    if !openssh_ready(false) {
        return;
    }
    let env = Env::start(Mode::Record);
    // The remote command prints five lines, then waits until the test has seen them live.
    let gate = env.path("gate");
    let script = format!(
        "for i in 1 2 3 4 5; do echo tick-$i; sleep 0.1; done; \
         while [ ! -e {g} ]; do sleep 0.05; done; echo after-gate; printf 'caf\\303\\251\\n'",
        g = gate.display()
    );
    let mut ssh = Killed(
        env.ssh()
            .args(["-tt", &env.target(), &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut rec = PathBuf::new();
    wait_for("the recording folder", Duration::from_secs(20), || {
        let found = std::fs::read_dir(&env.rec_dir).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "bsr"))
        });
        found.map(|p| rec = p).is_some()
    });
    let live = env.path("live.cast");
    let (follow_rec, follow_out) = (rec.clone(), live.clone());
    let follower = std::thread::spawn(move || {
        let opts = FollowOptions {
            writer_timeout: Duration::from_secs(60),
            ..FollowOptions::default()
        };
        let mut f = Follower::open(&follow_rec, opts).unwrap();
        let out = std::fs::File::create(&follow_out).unwrap();
        let sel = FollowSelection::default();
        let (o, c) = (ConvertOptions::default(), ConvertContext::default());
        convert_follow(&mut f, &sel, &o, &c, out).unwrap()
    });
    // Live: the lines are in the cast while the session still runs (it waits for the gate).
    wait_for("tick-5 in the live cast", Duration::from_secs(30), || {
        std::fs::read_to_string(&live).is_ok_and(|s| s.contains("tick-5"))
    });
    assert!(
        ssh.0.try_wait().unwrap().is_none(),
        "the session still runs"
    );
    assert!(
        !std::fs::read_to_string(&live)
            .unwrap()
            .contains("after-gate")
    );
    std::fs::write(&gate, b"").unwrap();
    wait_for("ssh to exit", Duration::from_secs(20), || {
        ssh.0.try_wait().unwrap().is_some()
    });
    let done = follower.join().unwrap();
    assert_eq!(done.end, FollowEnd::ChannelDone);
    assert_eq!(done.session_program, "exec");

    let recs = env.finished_recordings(1);
    assert_eq!(recs, vec![rec.clone()]);
    assert_authentic(&rec);
    let chans = channels(&rec);
    let (conn_dir, ch, _) = chans
        .iter()
        .find(|(_, _, s)| s.session_program == "exec")
        .expect("the exec channel");
    let (h_after, ev_after, _) = convert_channel(conn_dir, ch, ConvertOptions::default()).unwrap();
    let (h_live, ev_live) = parse(&std::fs::read_to_string(&live).unwrap());
    assert_eq!(ev_live[0][1], "m", "the live warning marker first");
    assert!(ev_live[0][2].as_str().unwrap().contains("LIVE, UNVERIFIED"));
    assert_eq!(
        &ev_live[1..],
        &ev_after[..],
        "the same events after the marker"
    );
    let text = output_text(&ev_after);
    assert!(text.contains("tick-5") && text.contains("after-gate") && text.contains("café"));
    for k in ["timestamp", "width", "height"] {
        assert_eq!(h_live[k], h_after[k], "{k}");
    }
    assert_eq!(h_live["env"]["TERM"], h_after["env"]["TERM"]);
    assert!(
        h_live["env"]["BSR_HEADER_NOTE"]
            .as_str()
            .unwrap()
            .contains("LIVE")
    );
}
