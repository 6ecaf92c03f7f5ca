//! `bsr-asciicast serve` in a real browser (Debian's chromium over CDP, as html_browser.rs):
//! the Session Logs page renders and filters; a replay page plays to the end and its terminal
//! shows `bsr-asciicast text`'s final screen; a replay opened at T shows the screen at T;
//! recording text carrying script payloads runs no script; the live view of a recording that a
//! writer thread is appending to shows the screen so far, then what is written after.
//!
//! Without chromium these tests print why and pass, unless `BSR_REQUIRE_CHROMIUM=1`.
//! Screenshots go to `target/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser_support;
mod serve_support;

use browser_support::*;
use serve_support::generate;

use headless_chrome::{Browser, Tab};
use serve_support::*;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A browser with a tab on `http://addr{path}`.
fn browse(addr: SocketAddr, path: &str) -> Option<(tempfile::TempDir, Browser, Arc<Tab>)> {
    let (profile, b, tab) = new_tab()?;
    go(&tab, addr, path);
    Some((profile, b, tab))
}

fn go(tab: &Tab, addr: SocketAddr, path: &str) {
    tab.navigate_to(&format!("http://{addr}{path}"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
}

/// The player's screen, one string per row, trailing blanks and blank rows at the end
/// removed, whitespace inside rows dropped (the player lays wide characters out in their own
/// element).
fn player_rows(tab: &Tab) -> Vec<String> {
    // Row by row (`.ap-line`), by textContent: innerText would break lines where the layout
    // puts a wide character in its own box.
    let t = eval(
        tab,
        "(function(){var e=document.querySelector('pre.ap-term-text');if(!e)return '';\
         var l=e.querySelectorAll('.ap-line');if(!l.length)return e.innerText;\
         return Array.from(l).map(function(x){return x.textContent}).join('\\n')})()",
    );
    squash_rows(t.as_str().unwrap_or_default().lines())
}

fn squash_rows<'a>(rows: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = rows
        .map(|r| r.chars().filter(|c| !c.is_whitespace()).collect())
        .collect();
    while v.last().is_some_and(|r: &String| r.is_empty()) {
        v.pop();
    }
    v
}

fn rows_count(tab: &Tab) -> u64 {
    eval(
        tab,
        "document.querySelectorAll('#sessions tr[data-id]').length",
    )
    .as_u64()
    .unwrap()
}

#[test]
fn list_page_renders_and_filters() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    let Some((_p, _b, tab)) = browse(addr, "/") else {
        return;
    };
    assert_eq!(rows_count(&tab), 5);
    let user = eval(
        &tab,
        "document.querySelector('tr[data-id=sr_shell00001] td.user').textContent",
    );
    assert_eq!(user, "alice (u_1234567890)");
    let verdict = eval(
        &tab,
        "document.querySelector('tr[data-id=\"sr_shell00001~2\"] .verdict').textContent",
    );
    assert_eq!(verdict, "invalid");
    let red = eval(
        &tab,
        "getComputedStyle(document.querySelector('tr[data-id=\"sr_shell00001~2\"] .verdict')).color",
    );
    assert_eq!(red, "rgb(170, 17, 17)", "the refused verdict is red");
    screenshot(&tab, "serve-list");

    // The filter form: verdict "refused".
    eval(
        &tab,
        "document.getElementById('f-verdict').value='refused'; document.getElementById('apply').click(); true",
    );
    wait_for(
        &tab,
        "location.search.indexOf('verdict=refused') >= 0",
        "the filtered page",
    );
    wait_for(&tab, "document.readyState === 'complete'", "the page");
    assert_eq!(rows_count(&tab), 1);
    // A user that matches nobody.
    go(&tab, addr, "/?user=mallory");
    assert_eq!(rows_count(&tab), 0);
    // The search box.
    go(&tab, addr, "/");
    eval(
        &tab,
        "document.getElementById('f-q').value='wörld'; document.getElementById('apply').click(); true",
    );
    wait_for(
        &tab,
        "document.getElementById('hits') !== null",
        "search results",
    );
    let hits = eval(&tab, "document.querySelectorAll('#hits tr').length - 1");
    assert!(hits.as_u64().unwrap() >= 2, "{hits}");
    screenshot(&tab, "serve-search");
}

/// The final screen that `bsr-asciicast text` prints: its last lines.
fn text_final_screen(rec: &Path, rows: usize) -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bsr-asciicast"))
        .arg("text")
        .arg(rec)
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    squash_rows(lines[lines.len().saturating_sub(rows)..].iter().copied())
}

#[test]
fn replay_plays_to_the_final_screen_and_opens_at_t() {
    let a = archive();
    let addr = start(&[a.path()], None, None);
    let Some((_p, _b, tab)) = browse(addr, "/sessions/sr_shell00001") else {
        return;
    };
    wait_for(&tab, "typeof window.bsrPlayer === 'object'", "the player");
    eval(
        &tab,
        "document.querySelector('button.speed[data-speed=\"8\"]').click(); true",
    );
    let ended = eval(
        &tab,
        "new Promise(function(res){var p=window.bsrPlayer;p.addEventListener('ended',function(){res(true)});\
         p.play(); setTimeout(function(){res('timeout')}, 20000)})",
    );
    assert_eq!(
        ended,
        serde_json::json!(true),
        "the player did not reach the end"
    );
    let shown = player_rows(&tab);
    assert!(!shown.is_empty());
    let want = text_final_screen(&a.path().join("sr_shell00001.bsr"), shown.len());
    assert_eq!(shown, want, "the player's final screen is `text`'s");
    screenshot(&tab, "serve-replay");

    // Opened at T = 1.6 s: the screen at T (echo's output shown, `exit` not yet typed).
    go(&tab, addr, "/sessions/sr_shell00001?t=1.6");
    wait_for(
        &tab,
        "typeof window.bsrPlayer === 'object'",
        "the player at T",
    );
    wait_for(
        &tab,
        "(function(){var e=document.querySelector('pre.ap-term-text');return !!e && e.innerText.indexOf('wörld') >= 0})()",
        "the screen at T",
    );
    let at_t = player_rows(&tab);
    let want_t = squash_rows(["demo@host:~$ echo héllo", "héllo wörld → ✓ 🎉"].into_iter());
    assert_eq!(at_t, want_t, "the screen at 1.6 s");
    screenshot(&tab, "serve-replay-at-t");
}

#[test]
fn hostile_recording_runs_no_script_in_list_or_replay() {
    let d = tempfile::tempdir().unwrap();
    hostile(Arc::new(bsr_core::store::FsStore::new(d.path())));
    let addr = start(&[d.path()], None, None);
    let Some((_p, _b, tab)) = browse(addr, "/") else {
        return;
    };
    let body = eval(&tab, "document.body.innerText");
    assert!(
        body.as_str().unwrap().contains(PAYLOADS[0]),
        "the user name is shown as text"
    );
    assert_eq!(eval(&tab, "typeof window.__pwned"), "undefined");
    assert_eq!(eval(&tab, "document.querySelectorAll('img').length"), 0);

    go(&tab, addr, "/sessions/sr_hostile0001");
    wait_for(&tab, "typeof window.bsrPlayer === 'object'", "the player");
    let ended = eval(
        &tab,
        "new Promise(function(res){var p=window.bsrPlayer;p.addEventListener('ended',function(){res(true)});\
         p.play(); setTimeout(function(){res('timeout')}, 20000)})",
    );
    assert_eq!(ended, serde_json::json!(true));
    let text = player_rows(&tab).join("\n");
    assert!(text.contains("javascript:window.__pwned=1"), "{text}");
    eval(
        &tab,
        "document.querySelectorAll('a, nav.tabs button, .ap-marker-container').forEach(function(e){if(e.getAttribute('href')==='#'||e.tagName!=='A')e.click()}); true",
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(eval(&tab, "typeof window.__pwned"), "undefined");
    assert_eq!(eval(&tab, "document.querySelectorAll('img').length"), 0);
    // Search hits carry the payloads as text too.
    go(&tab, addr, "/?q=pwned");
    wait_for(
        &tab,
        "document.getElementById('hits') !== null",
        "search results",
    );
    assert_eq!(eval(&tab, "typeof window.__pwned"), "undefined");
    assert_eq!(eval(&tab, "document.querySelectorAll('img').length"), 0);
    screenshot(&tab, "serve-hostile");
}

fn screen_has(needle: &str) -> String {
    format!(
        "(function(){{var e=document.querySelector('pre.ap-term-text');return !!e && e.textContent.indexOf({}) >= 0}})()",
        serde_json::Value::from(needle)
    )
}

#[test]
fn live_view_shows_the_screen_so_far_then_what_is_written() {
    let d = tempfile::tempdir().unwrap();
    let w = LiveWriter::start(d.path(), "\x1b[1;32mlive-before-join\x1b[0m\r\n");
    w.step(Step::Out("$ ".into()));
    w.step(Step::In("hidden-typed\r".into()));
    let addr = start(&[d.path()], None, None);
    let Some((_p, _b, tab)) = browse(addr, &format!("/live/{LIVE_ID}")) else {
        w.finish();
        return;
    };
    wait_for(&tab, &screen_has("live-before-join"), "the screen so far");
    w.step(Step::Out("written-after-join\r\n$ ".into()));
    wait_for(&tab, &screen_has("written-after-join"), "the live output");
    let rows = player_rows(&tab);
    assert_eq!(
        rows,
        squash_rows(["live-before-join", "$ written-after-join", "$"].into_iter()),
        "the player's screen"
    );
    assert_eq!(
        eval(&tab, &screen_has("hidden-typed")),
        serde_json::json!(false)
    );
    let warning = eval(&tab, "document.getElementById('live-warning').textContent");
    assert!(warning.as_str().unwrap_or_default().contains("UNVERIFIED"));
    screenshot(&tab, "serve-live");
    w.finish();
    wait_for(
        &tab,
        "document.getElementById('status').textContent.indexOf('ended') >= 0",
        "the end of the stream",
    );
}
