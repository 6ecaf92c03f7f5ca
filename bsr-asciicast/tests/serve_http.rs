//! `bsr-asciicast serve` over HTTP: the list and its filters and pages, search, the JSON API,
//! the streamed cast and the keyframe at T, and the guards (token, loopback, path traversal,
//! oversize heads, slow clients, read-only, CSP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_support;

use bsr_asciicast::convert::{ConvertOptions, Format, convert, select_channel};
use bsr_core::read::Recording;
use serve_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn api_lists_pages_and_filters() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    let all = get(addr, "/api/v1/sessions").json();
    assert_eq!(
        ids(&all),
        [
            "sr_exec000001",
            "sr_gzip000001",
            "sr_multi00001",
            "sr_shell00001",
            "sr_shell00001~2"
        ]
    );
    assert_eq!(all["recordings"], 5);
    let s = &all["sessions"][3];
    assert_eq!(s["verdict"], "authentic");
    assert_eq!(s["facts"]["user"]["name"], "alice");
    assert_eq!(s["facts"]["worker"], "w_1234567890");
    assert!(s["facts"]["duration_seconds"].as_f64().unwrap() > 0.0);
    assert!(s["findings"].is_object());
    // The tampered copy: refused, and nothing of its files shown.
    let t = &all["sessions"][4];
    assert_eq!(t["verdict"], "invalid");
    assert_eq!(t["shown"], false);
    assert!(t["facts"].is_null() && t["findings"].is_null());

    // Pages.
    let p1 = get(addr, "/api/v1/sessions?page=1&page_size=2").json();
    let p2 = get(addr, "/api/v1/sessions?page=2&page_size=2").json();
    let p3 = get(addr, "/api/v1/sessions?page=3&page_size=2").json();
    assert_eq!(ids(&p1), ["sr_exec000001", "sr_gzip000001"]);
    assert_eq!(ids(&p2), ["sr_multi00001", "sr_shell00001"]);
    assert_eq!(ids(&p3), ["sr_shell00001~2"]);
    assert_eq!(
        (p1["more"].clone(), p3["more"].clone()),
        (true.into(), false.into())
    );

    // Filters: user, target, time range, verdict.
    assert_eq!(
        ids(&get(addr, "/api/v1/sessions?user=alice").json()).len(),
        4
    );
    assert_eq!(
        ids(&get(addr, "/api/v1/sessions?user=u_1234567890").json()).len(),
        4
    );
    assert!(ids(&get(addr, "/api/v1/sessions?user=mallory").json()).is_empty());
    assert_eq!(
        ids(&get(addr, "/api/v1/sessions?target=db-bastion").json()).len(),
        4
    );
    assert!(ids(&get(addr, "/api/v1/sessions?since=2030-01-01").json()).is_empty());
    assert!(ids(&get(addr, "/api/v1/sessions?until=2020-01-01").json()).is_empty());
    let in_range = get(addr, "/api/v1/sessions?since=2023-11-14&until=2023-11-15").json();
    assert_eq!(ids(&in_range).len(), 4);
    assert_eq!(
        ids(&get(addr, "/api/v1/sessions?verdict=refused").json()),
        ["sr_shell00001~2"]
    );
    let paged = get(addr, "/api/v1/sessions?user=alice&page=2&page_size=3").json();
    assert_eq!(ids(&paged), ["sr_shell00001"]);
    assert_eq!(get(addr, "/api/v1/sessions?since=yesterday").status, 400);
}

#[test]
fn list_page_filters_and_searches() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    let r = get(addr, "/?user=alice&verdict=authentic");
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'none'"));
    let page = r.text();
    assert_eq!(page.matches("<tr data-id=").count(), 4, "{page}");
    assert!(page.contains("alice (u_1234567890)"));
    let refused = get(addr, "/?verdict=refused").text();
    assert_eq!(refused.matches("<tr data-id=").count(), 1);
    assert!(refused.contains("did not pass verification"));
    assert!(
        !refused.contains("alice"),
        "a refused recording shows no facts"
    );

    // The search box runs the text view's search; the tampered copy is not searched.
    let s = get(addr, "/?q=w%C3%B6rld").text();
    assert!(s.contains("id=\"hits\""), "{s}");
    assert!(s.contains("héllo wörld"), "{s}");
    assert!(s.contains("1 recording(s) not searched"), "{s}");
    assert!(s.contains("href=\"/sessions/sr_shell00001?t="));
}

#[test]
fn api_content_routes_match_the_library() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    let rec = Recording::open_path(&a.path().join("sr_shell00001.bsr")).unwrap();
    let files = select_channel(&rec, None, None).unwrap();

    // The cast is streamed (chunked) and is convert's output byte for byte.
    let r = get(addr, "/api/v1/sessions/sr_shell00001/cast");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-type"), Some("application/x-asciicast"));
    let mut want = Vec::new();
    let opts = ConvertOptions {
        format: Format::V2,
        resize: true,
        ..ConvertOptions::default()
    };
    convert(&files, &opts, &mut want).unwrap();
    assert_eq!(r.body, want);

    let mut text = Vec::new();
    bsr_asciicast::text::write_text(
        &files,
        &bsr_asciicast::text::TextOptions { json: true },
        &mut text,
    )
    .unwrap();
    assert_eq!(get(addr, "/api/v1/sessions/sr_shell00001/text").body, text);
    let mut cmds = Vec::new();
    bsr_asciicast::commands::write_commands(&files, true, &mut cmds).unwrap();
    let c = get(addr, "/api/v1/sessions/sr_shell00001/commands");
    assert_eq!(c.body, cmds);
    assert!(c.text().contains("echo"));

    let one = get(addr, "/api/v1/sessions/sr_shell00001").json();
    assert_eq!(one["facts"]["recording_id"], "sr_shell00001");
    let ev = get(addr, "/api/v1/sessions/sr_shell00001/events").json();
    let names: Vec<&str> = ev
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"session.start"));
    assert_eq!(names.last(), Some(&"session.end"));
    let v = get(addr, "/api/v1/sessions/sr_shell00001/verify").json();
    assert_eq!(v["verdict"], "authentic");

    // The tampered copy: its verification report says why; its content is refused.
    let v = get(addr, "/api/v1/sessions/sr_shell00001~2/verify").json();
    assert_eq!(v["verdict"], "invalid");
    for route in ["cast", "text", "commands", "events"] {
        let r = get(addr, &format!("/api/v1/sessions/sr_shell00001~2/{route}"));
        assert_eq!(r.status, 403, "{route}");
        assert!(!r.text().contains("demo@host"), "{route}");
    }
    let page = get(addr, "/sessions/sr_shell00001~2");
    assert_eq!(page.status, 403);
    assert!(page.text().contains("class=\"refused\""));
    assert!(!page.text().contains("alice"));
}

/// The rows of an avt screen, trailing blanks removed.
fn screen(t: &avt::Terminal) -> Vec<String> {
    t.screen()
        .visible_lines()
        .map(|l| l.text().trim_end().to_string())
        .collect()
}

fn events(cast: &str) -> (serde_json::Value, Vec<(f64, String, String)>) {
    let mut lines = cast.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let ev = lines
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v[0].as_f64().unwrap(),
                v[1].as_str().unwrap().to_string(),
                v[2].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (header, ev)
}

#[test]
fn keyframe_at_t_draws_the_screen_at_t_then_continues() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    let full = get(addr, "/api/v1/sessions/sr_shell00001/cast").text();
    let (h, all) = events(&full);
    for at in [0.5, 1.6, 2.05, 2.5, 99.0] {
        let r = get(addr, &format!("/api/v1/sessions/sr_shell00001/cast?t={at}"));
        assert_eq!(r.status, 200);
        let (kh, kev) = events(&r.text());
        // The screen at T from the full cast, replayed from the start.
        // The recording's pty is 100x30 at the start (the header holds the largest size).
        assert_eq!(h["width"], 120);
        let mut want = avt::Terminal::new(100, 30).unwrap();
        for (_, k, d) in all.iter().filter(|e| e.0 < at) {
            match k.as_str() {
                "o" => want.feed(d.as_str()),
                "r" => {
                    let (c, r) = d.split_once('x').unwrap();
                    want.resize(c.parse().unwrap(), r.parse().unwrap());
                }
                _ => {}
            }
        }
        // The keyframe alone, in a fresh terminal of the header's size.
        let mut got = avt::Terminal::new(
            kh["width"].as_u64().unwrap() as usize,
            kh["height"].as_u64().unwrap() as usize,
        )
        .unwrap();
        assert!(
            kev[0].0 <= at + 1e-6 && kev[0].1 == "o",
            "{at}: {:?}",
            kev[0]
        );
        got.feed(kev[0].2.as_str());
        assert_eq!(screen(&got), screen(&want), "screen at {at}");
        assert_eq!(got.cursor(), want.cursor(), "cursor at {at}");
        // Then the events at and after T, at their own times.
        let rest: Vec<_> = all.iter().filter(|e| e.0 >= at).cloned().collect();
        assert_eq!(kev[1..].to_vec(), rest, "events after {at}");
    }
}

#[test]
fn token_is_required_when_configured() {
    let a = archive();
    let tok = "s3cret-token-0123456789";
    let addr = start(&[a.path()], Some(tok), None);
    let r = get(addr, "/api/v1/sessions");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert!(r.header("content-security-policy").is_some());
    let wrong = get_with(
        addr,
        "/api/v1/sessions",
        &["Authorization: Bearer s3cret-token-0123456788"],
    );
    assert_eq!(wrong.status, 401);
    let short = get_with(addr, "/", &["Authorization: Bearer s3cret"]);
    assert_eq!(short.status, 401);
    let ok = get_with(
        addr,
        "/api/v1/sessions",
        &[&format!("Authorization: Bearer {tok}")],
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["recordings"], 5);
}

#[test]
fn non_loopback_listen_without_token_is_refused_at_startup() {
    let a = archive();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .arg(a.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("non-loopback") && err.contains("--token-file"),
        "{err}"
    );
}

#[test]
fn path_traversal_reaches_nothing() {
    let a = archive();
    // A file next to the archive that a traversal would reach.
    std::fs::write(a.path().join("secret.txt"), "TOP-SECRET").unwrap();
    let addr = start(&[a.path()], None, None);
    for path in [
        "/api/v1/sessions/../secret.txt",
        "/api/v1/sessions/..%2fsecret.txt",
        "/api/v1/sessions/%2e%2e%2fsecret.txt",
        "/api/v1/sessions/%2e%2e%2f%2e%2e%2fetc%2fpasswd/cast",
        "/api/v1/sessions/%252e%252e%252fsecret.txt/text",
        "/api/v1/sessions/%2Fetc%2Fpasswd",
        "/api/v1/sessions//etc/passwd",
        "/sessions/..%2F..%2Fetc%2Fpasswd",
        "/sessions/sr_shell00001.bsr",
        "/sessions/tampered%2Fsr_shell00001",
        "/../../etc/passwd",
        "http://evil/etc/passwd",
        "/etc/passwd",
    ] {
        let r = get(addr, path);
        assert!(matches!(r.status, 400 | 404), "{path}: {}", r.status);
        let t = r.text();
        assert!(!t.contains("TOP-SECRET") && !t.contains("root:"), "{path}");
    }
}

#[test]
fn oversize_heads_are_refused() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    let big = format!("X-Big: {}", "a".repeat(64 * 1024));
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\n{big}\r\n\r\n").into_bytes();
    // A 431, or the connection closed without a response: refused either way.
    let r = raw(addr, &req);
    assert!(r.as_ref().is_none_or(|r| r.status == 431), "{r:?}");
    // A long URL too.
    let r = raw(
        addr,
        format!(
            "GET /?user={} HTTP/1.1\r\nHost: x\r\n\r\n",
            "u".repeat(64 * 1024)
        )
        .as_bytes(),
    );
    assert!(
        r.is_none_or(|r| r.status == 431 || r.status == 414),
        "long URL accepted"
    );
}

#[test]
fn a_slow_client_is_cut_off() {
    let a = archive();
    let addr = start(&[a.path()], None, Some(Duration::from_secs(1)));
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Never finish the head: the server must close the connection (read returns, with no
    // 200). The read timeout only keeps a broken server from hanging the test.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    let r = s.read_to_end(&mut buf);
    assert!(r.is_ok(), "the server did not close the connection: {r:?}");
    assert!(!String::from_utf8_lossy(&buf).contains(" 200 "), "{buf:?}");
}

#[test]
fn read_only_and_every_response_has_a_csp() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    for m in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = raw(addr, format!("{m} /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
        assert_eq!(r.status, 405, "{m}");
        assert!(r.header("content-security-policy").is_some());
    }
    let head = raw(
        addr,
        b"HEAD /api/v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(head.status, 200);
    for p in [
        "/",
        "/sessions/sr_shell00001",
        "/sessions/sr_shell00001?t=1.5",
        "/api/v1/sessions",
        "/api/v1/sessions/sr_shell00001/cast",
        "/nope",
    ] {
        let r = get(addr, p);
        let csp = r
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{p}: no CSP"));
        assert!(csp.contains("default-src 'none'"), "{p}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("http"),
            "{p}: {csp}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    // The replay page fetches its cast from this origin and opens at T.
    let page = get(addr, "/sessions/sr_shell00001?t=1.5");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let html = page.text();
    assert!(
        html.contains("/api/v1/sessions/sr_shell00001/cast?t=1.5"),
        "cast URL"
    );
    assert!(html.contains("\"startAt\":1.5"));
    assert!(html.contains("id=\"tab-text\"") && html.contains("id=\"tab-commands\""));
}

#[test]
fn checkpoints_give_the_same_keyframe_as_a_replay_from_the_start() {
    use bsr_asciicast::serve::keyframe::{checkpoints, write_from};
    let a = archive();
    for name in ["sr_shell00001", "sr_gzip000001", "sr_exec000001"] {
        let rec = Recording::open_path(&a.path().join(format!("{name}.bsr"))).unwrap();
        let files = select_channel(&rec, None, None).unwrap();
        // A checkpoint after every output event.
        let cp = checkpoints(&files, 1).unwrap();
        let least = if name == "sr_exec000001" { 1 } else { 3 };
        assert!(cp.0.len() >= least, "{name}: {} checkpoints", cp.0.len());
        for at in [0.0, 0.5, 1.1, 1.52, 1.6, 2.05, 2.2, 3.5, 99.0] {
            let (mut plain, mut fast) = (Vec::new(), Vec::new());
            let k1 = write_from(&files, at, None, &mut plain).unwrap();
            let k2 = write_from(&files, at, Some(&cp), &mut fast).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(plain).unwrap(),
                "{name} at {at}"
            );
            assert_eq!((k1.cols, k1.rows), (k2.cols, k2.rows));
        }
    }
}

#[test]
fn the_server_builds_checkpoints_and_still_answers_the_same() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    let before = get(addr, "/api/v1/sessions/sr_shell00001/cast?t=1.6").text();
    // The first request started building the checkpoints; later answers are the same.
    for _ in 0..20 {
        let again = get(addr, "/api/v1/sessions/sr_shell00001/cast?t=1.6").text();
        assert_eq!(again, before);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_large_channel_gets_a_note_instead_of_its_transcript_in_the_page() {
    use bsr_asciicast::html::{HtmlOptions, render};
    let a = archive();
    let store: std::sync::Arc<dyn bsr_core::store::ReadStore> =
        std::sync::Arc::new(bsr_core::store::FsStore::new(a.path()));
    let mut opts = HtmlOptions {
        cast_url: Some("/api/v1/sessions/sr_shell00001/cast".into()),
        ..HtmlOptions::default()
    };
    let full = render(store.clone(), "sr_shell00001.bsr", &opts).unwrap();
    assert!(full.html.contains("id=\"text-lines\"") && full.html.contains("logout"));
    opts.max_text_bytes = Some(100);
    let page = render(store, "sr_shell00001.bsr", &opts).unwrap();
    assert!(page.shown);
    assert!(
        page.html
            .contains("its transcript is not listed in this page")
    );
    assert!(
        page.html
            .contains("its command list is not listed in this page")
    );
    assert!(!page.html.contains("echo héllo"), "no command listed");
    // The findings and facts are still there, and the cast is fetched, not inlined.
    assert!(page.html.contains("data-fact=\"user\""));
    assert!(
        page.html
            .contains("\"castUrl\":\"/api/v1/sessions/sr_shell00001/cast\"")
    );
    assert!(page.html.contains("\"cast\":\"\""));
}

#[test]
fn the_facts_cache_follows_a_recording_that_changes() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    let row = |addr| get(addr, "/api/v1/sessions/sr_shell00001").json();
    assert_eq!(row(addr)["verdict"], "authentic");
    // Cached: asked again, the same answer.
    assert_eq!(row(addr)["verdict"], "authentic");
    assert_eq!(get(addr, "/api/v1/sessions/sr_shell00001/cast").status, 200);
    // One byte of its output changes (the file's modification time moves on).
    let p = a.path().join(
        "sr_shell00001.bsr/cr_shell00001.connection/chr_shell00001.channel/messages-outbound.data",
    );
    let mut b = std::fs::read(&p).unwrap();
    let at = b.len() - 40;
    b[at] ^= 0x20;
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&p, &b).unwrap();
    let now = row(addr);
    assert_eq!(now["verdict"], "invalid", "{now}");
    assert!(now["facts"].is_null());
    assert_eq!(get(addr, "/api/v1/sessions/sr_shell00001/cast").status, 403);
    assert!(
        get(addr, "/?verdict=refused")
            .text()
            .contains("data-id=\"sr_shell00001\"")
    );
    // Put back: shown again.
    b[at] ^= 0x20;
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&p, &b).unwrap();
    assert_eq!(row(addr)["verdict"], "authentic");
    assert_eq!(get(addr, "/api/v1/sessions/sr_shell00001/cast").status, 200);
}

/// The rows of the search results table.
fn hit_rows(page: &str) -> Vec<String> {
    let table = page
        .split("<table id=\"hits\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_default();
    let mut rows: Vec<String> = table
        .lines()
        .filter(|l| l.starts_with("<tr><td>"))
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

#[test]
fn the_search_box_answers_from_an_index_as_a_scan_would() {
    use bsr_asciicast::search_index::{SearchIndex, UpdateOptions};
    let a = archive();
    // An index that holds one recording only (sr_shell00001): the others are scanned.
    let ixdir = tempfile::tempdir().unwrap();
    let ix = SearchIndex::open_or_create(ixdir.path()).unwrap();
    let t =
        bsr_verify::target::resolve(&a.path().display().to_string(), &Default::default()).unwrap();
    let one: Vec<String> = t
        .recordings
        .iter()
        .filter(|d| d.ends_with("sr_shell00001.bsr") && !d.contains("tampered"))
        .cloned()
        .collect();
    assert_eq!(one.len(), 1, "{:?}", t.recordings);
    let opts = UpdateOptions {
        jobs: 1,
        gate: trusted(),
        trust_key: "test".into(),
        ..UpdateOptions::default()
    };
    ix.update(&[(t.store.clone(), one)], &opts, &|_| {})
        .unwrap();
    drop(ix);

    let scanning = start(&[a.path()], None, None);
    let indexed = start_with(bsr_asciicast::serve::ServeOptions {
        targets: vec![a.path().display().to_string()],
        gate: trusted(),
        indexes: vec![ixdir.path().to_path_buf()],
        ..Default::default()
    });
    for q in ["w%C3%B6rld", "e", "echo", "nothing-matches-this"] {
        let want = get(scanning, &format!("/?q={q}")).text();
        let got = get(indexed, &format!("/?q={q}")).text();
        assert_eq!(hit_rows(&got), hit_rows(&want), "{q}");
        assert!(
            got.contains("(1 of them by the search index)"),
            "{q}: {got}"
        );
        assert!(got.contains("1 recording(s) not searched"), "{q}");
        if q == "e" {
            assert!(
                hit_rows(&got)
                    .iter()
                    .any(|r| r.contains("/sessions/sr_shell00001?t="))
            );
        }
    }
    // With filters: only the recordings that match them, from the index or not.
    let want = get(scanning, "/?q=e&user=nobody").text();
    let got = get(indexed, "/?q=e&user=nobody").text();
    assert!(hit_rows(&got).is_empty() && hit_rows(&want).is_empty());
}
