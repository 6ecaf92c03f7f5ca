//! The HTML evidence page in a real browser (Debian's chromium, driven over CDP by
//! `headless_chrome`): the testdata recordings play to the end, links seek the player, findings
//! are markers; a hostile recording runs no script; a tampered recording gets the red refusal.
//!
//! Without chromium these tests print why and pass, unless `BSR_REQUIRE_CHROMIUM=1` (CI), which
//! makes them fail. Screenshots go to `target/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser_support;
#[path = "../../bsr-core/tests/support/generate.rs"]
mod generate;

use browser_support::*;
use bsr_asciicast::html::{HtmlOptions, Page, render};
use bsr_core::keys::RecorderTrust;
use bsr_core::store::{FsStore, MemStore, ReadStore};
use headless_chrome::{Browser, Tab};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A fresh browser (and its profile folder) with `page` open in a tab.
fn browse(page: &Path) -> Option<(tempfile::TempDir, Browser, Arc<Tab>)> {
    let (profile, b, tab) = new_tab()?;
    open(&tab, page);
    Some((profile, b, tab))
}

fn trusted() -> HtmlOptions {
    let mut o = HtmlOptions::default();
    o.gate.trust.kek = Some(Arc::new(generate::kek()));
    o.gate.trust.recorder = Some(Arc::new(RecorderTrust::from_public_keys(vec![
        generate::recorder().public_key(),
    ])));
    o
}

fn write_page(name: &str, page: &Page) -> PathBuf {
    let p = out_dir().join(format!("{name}.html"));
    std::fs::write(&p, &page.html).unwrap();
    p
}

fn open(tab: &Tab, page: &Path) {
    tab.navigate_to(&format!("file://{}", page.display()))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
}

fn term_text(tab: &Tab) -> String {
    eval(
        tab,
        "(function(){var e=document.querySelector('pre.ap-term-text');return e?e.innerText:null})()",
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Plays the page's player to the end at 8x (the speed button recreates the player).
fn play_to_end(tab: &Tab) {
    wait_for(tab, "typeof window.bsrPlayer === 'object'", "the player");
    eval(
        tab,
        "document.querySelector('button.speed[data-speed=\"8\"]').click(); true",
    );
    let ended = eval(
        tab,
        "new Promise(function(res){var p=window.bsrPlayer;p.addEventListener('ended',function(){res(true)});\
         p.play(); setTimeout(function(){res('timeout')}, 20000)})",
    );
    assert_eq!(
        ended,
        serde_json::json!(true),
        "the player did not reach the end"
    );
}

#[test]
fn testdata_pages_play_to_the_end_and_links_seek() {
    let profile = tempfile::tempdir().unwrap();
    let Some(b) = browser(profile.path()) else {
        return;
    };
    let tab = b.new_tab().unwrap();
    let store: Arc<dyn ReadStore> = Arc::new(FsStore::new(root().join("testdata/recordings")));
    // (recording, text its final screen must show)
    let cases = [
        ("sr_shell00001", vec!["héllo wörld → ✓ 🎉", "logout"]),
        ("sr_gzip000001", vec!["héllo wörld → ✓ 🎉", "logout"]),
        (
            "sr_exec000001",
            vec!["Linux host 6.1.0 #1 SMP x86_64 GNU/Linux"],
        ),
        ("sr_multi00001", vec!["$"]),
    ];
    for (name, final_text) in cases {
        let page = render(store.clone(), &format!("{name}.bsr"), &trusted()).unwrap();
        assert!(page.shown, "{name}: {:?}", page.verdict);
        assert_eq!(page.verdict, bsr_verify::Verdict::Authentic, "{name}");
        let path = write_page(name, &page);
        open(&tab, &path);

        // The verdict and the facts are in the page, escaped, from the recording.
        assert_eq!(
            eval(&tab, "document.getElementById('verdict').textContent"),
            "authentic"
        );
        let user = eval(
            &tab,
            "document.querySelector('[data-fact=user]').textContent",
        );
        assert_eq!(user, "alice (u_1234567890)", "{name}");
        let worker = eval(
            &tab,
            "document.querySelector('[data-fact=worker]').textContent",
        );
        assert_eq!(worker, "w_1234567890", "{name}");
        let sums = eval(&tab, "document.getElementById('sums').textContent");
        assert!(
            sums.as_str().unwrap().contains("session-meta.json"),
            "{name}"
        );

        play_to_end(&tab);
        let text = term_text(&tab);
        // The player lays wide characters (the emoji) out in their own element, so compare the
        // cells without the layout's whitespace.
        let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        for want in &final_text {
            assert!(
                squash(&text).contains(&squash(want)),
                "{name}: final screen lacks {want:?}:\n{text}"
            );
        }
        screenshot(&tab, name);

        // Every finding is a marker in the player's progress bar, labelled with its severity.
        let findings = eval(&tab, "document.querySelectorAll('#findings tr').length");
        let n_findings = findings.as_u64().unwrap().saturating_sub(1);
        let markers = eval(
            &tab,
            "document.querySelectorAll('.ap-marker-container').length",
        );
        assert_eq!(markers.as_u64().unwrap(), n_findings, "{name}: markers");
        if n_findings > 0 {
            let label = eval(
                &tab,
                "document.querySelector('.ap-marker-container .ap-tooltip').textContent",
            );
            let label = label.as_str().unwrap();
            assert!(
                ["HIGH:", "MEDIUM:", "LOW:", "INFO:"]
                    .iter()
                    .any(|s| label.contains(s)),
                "{name}: marker label {label:?}"
            );
        }

        // Every seek link moves the player to its time (no idle cap, so player time = cast time).
        eval(
            &tab,
            "var s=document.getElementById('idle'); s.value='none'; s.dispatchEvent(new Event('change')); true",
        );
        wait_for(&tab, "typeof window.bsrPlayer === 'object'", "the player");
        let links = eval(&tab, "document.querySelectorAll('a.seek').length")
            .as_u64()
            .unwrap();
        for i in 0..links {
            let t = eval(
                &tab,
                &format!(
                    "parseFloat(document.querySelectorAll('a.seek')[{i}].getAttribute('data-t'))"
                ),
            )
            .as_f64()
            .unwrap();
            // Move away first so that a link at 0 is seen to seek too.
            eval(
                &tab,
                "window.bsrPlayer.seek('100%').then(function(){return true})",
            );
            eval(
                &tab,
                &format!("document.querySelectorAll('a.seek')[{i}].click(); true"),
            );
            wait_for(
                &tab,
                &format!("Math.abs(window.bsrPlayer.getCurrentTime() - {t}) < 0.05"),
                &format!("{name}: link {i} seeking to {t}"),
            );
        }
        // The Text and Commands tabs hold the text view's transcript and commands as links.
        let text_lines = eval(
            &tab,
            "Array.from(document.querySelectorAll('#text-lines a')).map(function(a){return a.textContent}).join('\\n')",
        );
        let cmds = eval(
            &tab,
            "Array.from(document.querySelectorAll('#command-lines a')).map(function(a){return a.textContent}).join('\\n')",
        );
        if name == "sr_shell00001" || name == "sr_gzip000001" {
            let tl = text_lines.as_str().unwrap();
            assert!(
                tl.contains("héllo wörld → ✓ 🎉") && tl.contains("logout"),
                "{tl}"
            );
            let c = cmds.as_str().unwrap();
            assert!(c.contains("echo héllo") && c.contains("exit"), "{c}");
            // A real mouse click on the first command seeks to its time.
            eval(
                &tab,
                "window.bsrPage.showTab('commands'); window.bsrPlayer.seek('100%').then(function(){return true})",
            );
            let t = eval(
                &tab,
                "parseFloat(document.querySelector('#command-lines a').getAttribute('data-t'))",
            )
            .as_f64()
            .unwrap();
            assert!(
                t > 0.4 && t < 2.0,
                "echo is entered between 0.5 s and 1.5 s: {t}"
            );
            tab.wait_for_element("#command-lines a")
                .unwrap()
                .click()
                .unwrap();
            wait_for(
                &tab,
                &format!("Math.abs(window.bsrPlayer.getCurrentTime() - {t}) < 0.05"),
                "a mouse click on a command seeking the player",
            );
        }
        if name == "sr_exec000001" {
            assert!(links >= 1, "the exec command is a seek link");
            let cmd = eval(
                &tab,
                "document.querySelector('#command-lines a').textContent",
            );
            assert!(cmd.as_str().unwrap().contains("uname -a"), "{cmd}");
        }
    }
}

#[test]
fn hostile_recording_runs_no_script() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(FsStore::new(dir.path()));
    hostile(fs.clone());
    let page = render(fs, "sr_hostile0001.bsr", &trusted()).unwrap();
    assert!(page.shown, "{:?}", page.verdict);
    // The raw payloads are nowhere in the HTML: escaped in markup, \u-escaped in the JSON.
    assert!(!page.html.contains("<script>window.__pwned"));
    assert!(!page.html.contains("<img src=x"));
    assert!(!page.html.contains("href=\"javascript:"));
    let path = write_page("hostile", &page);

    let Some((_profile, _browser, tab)) = browse(&path) else {
        return;
    };
    wait_for(&tab, "typeof window.bsrPlayer === 'object'", "the player");
    assert_eq!(eval(&tab, "typeof window.__pwned"), "undefined");
    // The payloads are shown as text, in the facts, the findings and the command list.
    let body = eval(&tab, "document.body.innerText");
    let body = body.as_str().unwrap();
    assert!(body.contains(PAYLOADS[0]), "user name shown as text");
    assert!(body.contains(PAYLOADS[2]));
    let cmd = eval(
        &tab,
        "document.querySelector('#command-lines a').textContent",
    );
    assert!(cmd.as_str().unwrap().contains(PAYLOADS[1]), "{cmd}");

    play_to_end(&tab);
    let text = term_text(&tab);
    assert!(text.contains("javascript:window.__pwned=1"), "{text}");
    assert_eq!(eval(&tab, "typeof window.__pwned"), "undefined");
    // Every link, every tab button, every marker.
    eval(
        &tab,
        "document.querySelectorAll('a, nav.tabs button, .ap-marker-container').forEach(function(e){e.click()}); true",
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(eval(&tab, "typeof window.__pwned"), "undefined");
    assert!(
        eval(&tab, "document.querySelectorAll('img').length") == serde_json::json!(0),
        "no <img> element was injected"
    );
    eval(&tab, "window.bsrPage.showTab('facts'); true");
    screenshot(&tab, "hostile");
    assert_eq!(eval(&tab, "typeof window.__pwned"), "undefined");
}

#[test]
fn tampered_recording_gets_the_red_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("testdata/recordings/sr_shell00001.bsr");
    let mem = Arc::new(MemStore::new());
    copy(&src, &mem, "sr_shell00001.bsr");
    // One byte of the terminal output changed.
    let p =
        "sr_shell00001.bsr/cr_shell00001.connection/chr_shell00001.channel/messages-outbound.data";
    let mut b = mem.read_limited(p, u64::MAX).unwrap();
    let at = b.len() - 40;
    b[at] ^= 0x20;
    mem.put(p, b).unwrap();
    let page = render(mem, "sr_shell00001.bsr", &trusted()).unwrap();
    assert!(!page.shown);
    assert_eq!(page.verdict, bsr_verify::Verdict::Invalid);
    for secret in [
        "demo@host",
        "alice",
        "u_1234567890",
        "LANG",
        "db-bastion",
        "bsr-data",
    ] {
        assert!(!page.html.contains(secret), "the refusal shows {secret:?}");
    }
    let path = dir.path().join("tampered.html");
    std::fs::write(&path, &page.html).unwrap();
    std::fs::copy(&path, out_dir().join("tampered.html")).unwrap();

    let Some((_profile, _browser, tab)) = browse(&path) else {
        return;
    };
    let v = eval(&tab, "document.getElementById('verdict').textContent");
    assert_eq!(v, "invalid");
    let color = eval(
        &tab,
        "getComputedStyle(document.getElementById('refused')).color",
    );
    assert_eq!(color, "rgb(164, 14, 38)", "the refusal is red");
    let bg = eval(
        &tab,
        "getComputedStyle(document.getElementById('verdict')).backgroundColor",
    );
    assert_eq!(bg, "rgb(207, 34, 46)");
    let body = eval(&tab, "document.body.innerText");
    assert!(body.as_str().unwrap().contains("checksum"), "{body}");
    assert_eq!(
        eval(&tab, "document.querySelectorAll('pre.ap-term-text').length"),
        0
    );
    screenshot(&tab, "tampered");
}

/// Copies a local folder into a memory store.
fn copy(src: &Path, mem: &MemStore, dest: &str) {
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let name = format!("{dest}/{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), mem, &name);
        } else {
            mem.put(&name, std::fs::read(e.path()).unwrap()).unwrap();
        }
    }
}
