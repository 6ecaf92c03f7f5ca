//! `serve`'s live view over HTTP: a recording that a writer thread is appending to is listed
//! with a live link, its page carries the warning and a policy that allows only this server,
//! and its event stream (Server-Sent Events, asciinema-player's `eventsource` protocol) starts
//! with the current screen, then sends each output chunk as it is synced, never the input,
//! and ends with `done` when the channel is done. Finished and remote recordings are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_support;

use serve_support::*;

#[test]
fn a_recording_being_written_is_streamed_live_from_its_current_screen() {
    let d = tempfile::tempdir().unwrap();
    let w = LiveWriter::start(d.path(), "early-1\r\n");
    w.step(Step::Out("early-2\r\n$ ".into()));
    // Typed but never echoed (a password at a prompt): must not reach any viewer.
    w.step(Step::In("SECRET-typed\r".into()));
    let addr = start(&[d.path()], None, None);

    let list = get(addr, "/");
    assert_eq!(list.status, 200);
    assert!(
        list.text().contains(&format!("href=\"/live/{LIVE_ID}\"")),
        "{}",
        list.text()
    );
    let page = get(addr, &format!("/live/{LIVE_ID}"));
    assert_eq!(page.status, 200, "{}", page.text());
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("connect-src 'self'") && csp.contains("script-src 'sha256-"));
    assert!(!csp.contains("unsafe-inline"));
    assert!(page.text().contains("LIVE, UNVERIFIED CONTENT"));
    assert!(
        page.text()
            .contains(&format!("/api/v1/sessions/{LIVE_ID}/live"))
    );

    let mut a = Sse::open(addr, &format!("/api/v1/sessions/{LIVE_ID}/live"));
    assert_eq!(a.status, 200, "{}", a.head);
    assert!(
        a.head
            .to_ascii_lowercase()
            .contains("content-type: text/event-stream")
    );
    let reset = a.next_data();
    assert_eq!(
        (reset["cols"].as_u64(), reset["rows"].as_u64()),
        (Some(80), Some(24))
    );
    let init = reset["init"].as_str().unwrap();
    assert!(
        init.contains("early-1") && init.contains("early-2"),
        "{init:?}"
    );
    let t0 = reset["time"].as_f64().unwrap();

    w.step(Step::Out("grown-line\r\n".into()));
    let ev = a.next_data();
    assert_eq!(ev[1], "o");
    assert_eq!(ev[2], "grown-line\r\n");
    let t1 = ev[0].as_f64().unwrap();
    assert!(t1 > t0, "{t1} after {t0}");

    // A viewer who joins now gets a screen that holds everything so far.
    let mut b = Sse::open(addr, &format!("/api/v1/sessions/{LIVE_ID}/live"));
    let reset_b = b.next_data();
    let init_b = reset_b["init"].as_str().unwrap();
    assert!(
        init_b.contains("early-2") && init_b.contains("grown-line"),
        "{init_b:?}"
    );
    assert_eq!(reset_b["time"].as_f64(), Some(t1));

    w.step(Step::Out("last-words".into()));
    for s in [&mut a, &mut b] {
        assert_eq!(s.next_data()[2], "last-words");
    }
    w.finish();
    let mut rest = Vec::new();
    for s in [&mut a, &mut b] {
        let m = s.next().expect("a done event");
        assert_eq!(m, "event: done\ndata: {}");
        assert!(s.next().is_none(), "the stream ends after done");
        rest.push(m);
    }
    // Nothing typed was shown, in any message.
    assert!(!init.contains("SECRET") && !init_b.contains("SECRET"));
    assert!(rest.iter().all(|m| !m.contains("SECRET")));

    // Finished: no longer live; the replay is the place.
    let r = get(addr, &format!("/live/{LIVE_ID}"));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains(&format!("/sessions/{LIVE_ID}")));
}

#[test]
fn live_view_refuses_finished_unknown_and_traversing_ids() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    for p in ["/live/sr_shell00001", "/api/v1/sessions/sr_shell00001/live"] {
        let r = get(addr, p);
        assert_eq!(r.status, 409, "{p}: {}", r.text());
    }
    for p in [
        "/live/sr_nothere0001",
        "/api/v1/sessions/sr_nothere0001/live",
        "/live/..%2Fsr_shell00001",
        "/live/%2e%2e%2f%2e%2e%2fetc",
        "/api/v1/sessions/..%2F..%2Fsr_shell00001/live",
    ] {
        let r = get(addr, p);
        assert_eq!(r.status, 404, "{p}: {}", r.text());
    }
}

#[test]
fn live_view_needs_the_token_when_one_is_set() {
    let d = tempfile::tempdir().unwrap();
    let w = LiveWriter::start(d.path(), "hello\r\n");
    let addr = start(&[d.path()], Some("s3cret-token-for-tests"), None);
    let p = format!("/api/v1/sessions/{LIVE_ID}/live");
    assert_eq!(get(addr, &p).status, 401);
    assert_eq!(get(addr, &format!("/live/{LIVE_ID}")).status, 401);
    let r = get_with(
        addr,
        &format!("/live/{LIVE_ID}"),
        &["Authorization: Bearer s3cret-token-for-tests"],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    w.finish();
}

#[test]
fn a_writer_that_stops_mid_session_makes_the_stream_go_offline() {
    let d = tempfile::tempdir().unwrap();
    let w = LiveWriter::start(d.path(), "before the writer died\r\n");
    let addr = start_with(bsr_asciicast::serve::ServeOptions {
        targets: vec![d.path().display().to_string()],
        gate: trusted(),
        live_writer_timeout: Some(std::time::Duration::from_secs(2)),
        ..Default::default()
    });
    let mut s = Sse::open(addr, &format!("/api/v1/sessions/{LIVE_ID}/live"));
    let t0 = std::time::Instant::now();
    let reset = s.next_data();
    assert!(
        reset["init"]
            .as_str()
            .unwrap()
            .contains("before the writer died")
    );
    // Killed: nothing more is written, nothing is finished.
    w.abandon();
    assert_eq!(s.next_data(), serde_json::json!({"state": "offline"}));
    assert!(
        t0.elapsed() >= std::time::Duration::from_secs(1),
        "offline only after the timeout"
    );
    assert_eq!(s.next().as_deref(), Some("event: done\ndata: {}"));
    assert!(s.next().is_none());
    // Still unfinished: still listed as incomplete, never as tampered.
    let row = get(addr, &format!("/api/v1/sessions/{LIVE_ID}")).json();
    assert_eq!(row["verdict"], "incomplete");
}

#[test]
fn a_session_that_starts_after_the_server_is_listed_and_can_be_watched() {
    let d = tempfile::tempdir().unwrap();
    // The server starts over an empty folder, rescanning every 200 ms.
    let addr = start_with(bsr_asciicast::serve::ServeOptions {
        targets: vec![d.path().display().to_string()],
        gate: trusted(),
        rescan: Some(std::time::Duration::from_millis(200)),
        ..Default::default()
    });
    let list = get(addr, "/api/v1/sessions");
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["recordings"], 0, "{}", list.text());

    // A session starts: its live stream can be opened by its link at once (an unknown id
    // lists the targets again), and it shows up in the list with the next rescan.
    let w = LiveWriter::start(d.path(), "started-late\r\n");
    let mut s = Sse::open(addr, &format!("/api/v1/sessions/{LIVE_ID}/live"));
    assert_eq!(s.status, 200, "{}", s.head);
    let reset = s.next_data();
    assert!(
        reset["init"].as_str().unwrap().contains("started-late"),
        "{reset}"
    );
    w.step(Step::Out("and-more\r\n".into()));
    let ev = s.next_data();
    assert!(ev[2].as_str().unwrap().contains("and-more"), "{ev}");
    let t0 = std::time::Instant::now();
    loop {
        let list = get(addr, "/api/v1/sessions");
        let ids: Vec<String> = list.json()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        if ids == [LIVE_ID] {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(10),
            "not listed: {ids:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Ids stay put: a second recording gets its own id, the first keeps its own.
    let before = get(addr, &format!("/api/v1/sessions/{LIVE_ID}"));
    assert_eq!(before.status, 200);
    // Unknown ids are still 404 (after listing again), and never reach a path.
    assert_eq!(get(addr, "/api/v1/sessions/sr_nope").status, 404);
    assert_eq!(get(addr, "/api/v1/sessions/..%2f..%2fetc").status, 404);
    w.finish();
}
