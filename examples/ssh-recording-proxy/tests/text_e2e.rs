//! End to end for the text views (issue 15, "checked against what really happened"): a bash
//! session typed through the proxy under tmux with line editing (backspace, Ctrl-U, arrows),
//! history recall, tab completion, a password prompt, full-screen programs (less, vim), a
//! `clear` and a line that wraps. Then, on the recording:
//!
//! * the commands `bsr-asciicast commands` lists equal what bash really ran — bash's own
//!   history, logged on the server by `PROMPT_COMMAND` (and an `EXIT` trap) — and the password
//!   typed into `read -s` is `[input not echoed: N keystrokes]`, never its text;
//! * the last screen of `bsr-asciicast text` equals tmux's `capture-pane` at the end.
//!
//! The views are run through bsr-asciicast's library (`write_commands` and `write_text`, what
//! the `commands` and `text` subcommands call after the verification gate; the recording is
//! verified here first). Without OpenSSH, tmux, less or vim the test prints a loud notice and
//! returns; with `BSR_REQUIRE_OPENSSH=1` it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bsr_asciicast::convert::ChannelFiles;
use bsr_asciicast::text::{TextOptions, write_text};
use common::*;
use std::path::Path;
use std::time::Duration;

const COLS: u16 = 100;
const ROWS: u16 = 30;
const PROMPT: &str = "e2e>";
const SECRET: &str = "hunter2-Sekrit";
/// Generous: the machine may be loaded.
const WAIT: Duration = Duration::from_secs(60);

/// The server side: bash started by sshd's `ForceCommand` with its own rc file, which logs
/// every history entry (`history 1`) to `truth.log` before each prompt and at exit.
fn server_side(dir: &Path) -> String {
    let d = dir.display();
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("unique-tab-target.txt"), "tab target content\n").unwrap();
    let rc = format!(
        "cd {d}/work\n\
         PS1='{PROMPT} '\n\
         HISTFILE={d}/histfile\nHISTSIZE=1000\nunset HISTCONTROL HISTIGNORE\n\
         PROMPT_COMMAND='history 1 >> {d}/truth.log'\n\
         trap 'history 1 >> {d}/truth.log' EXIT\n\
         export LESSHISTFILE=- LESS=\n"
    );
    std::fs::write(dir.join("rc"), rc).unwrap();
    format!("ForceCommand /bin/bash --noprofile --rcfile {d}/rc -i\n")
}

/// The commands bash ran, from the log: `history 1` prints `  N  command`; the same N is the
/// same history entry (logged again at an empty prompt).
fn truth(dir: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(dir.join("truth.log")).unwrap_or_default();
    let mut out: Vec<(u64, String)> = Vec::new();
    for l in log.lines() {
        let (n, cmd) = l
            .trim_start()
            .split_once("  ")
            .unwrap_or_else(|| panic!("history line {l:?}"));
        let n: u64 = n.parse().unwrap();
        if out.last().is_none_or(|(last, _)| *last != n) {
            out.push((n, cmd.to_string()));
        }
    }
    out.into_iter().map(|(_, c)| c).collect()
}

/// The pane's lines, trailing blanks removed, blank rows at the bottom dropped.
fn screen_lines(capture: &str) -> Vec<String> {
    let mut v: Vec<String> = capture.lines().map(|l| l.trim_end().to_string()).collect();
    while v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

/// The session, typed the way a person types: each piece is sent after the screen shows the
/// one before.
struct Session<'a> {
    tmux: &'a Tmux,
    dir: &'a Path,
    /// What bash has run so far, as the test expects it.
    ran: Vec<String>,
}

impl Session<'_> {
    fn cursor_line(&self) -> String {
        screen_lines(&self.tmux.capture()).pop().unwrap_or_default()
    }

    /// Waits until the last line on screen is `want`.
    fn wait_line(&self, want: &str) {
        let t0 = std::time::Instant::now();
        while self.cursor_line() != want {
            assert!(
                t0.elapsed() < WAIT,
                "waited for the line {want:?}; the screen:\n{}",
                self.tmux.capture()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_prompt(&self) {
        self.wait_line(PROMPT);
    }

    fn wait_screen(&self, what: &str, f: impl Fn(&str) -> bool) {
        wait_for(what, WAIT, || f(&self.tmux.capture()));
    }

    /// Presses Enter for a command bash will run as `ran`, and waits for the next prompt and
    /// for bash's log to have it.
    fn enter(&mut self, ran: &str) {
        self.start(ran);
        self.finished();
    }

    /// Presses Enter for a command bash will run as `ran`, not waiting.
    fn start(&mut self, ran: &str) {
        self.tmux.keys(&["Enter"]);
        self.ran.push(ran.to_string());
    }

    /// Waits for bash to log the last command and show the next prompt.
    fn finished(&self) {
        let n = self.ran.len();
        wait_for("bash to log the command", WAIT, || {
            truth(self.dir).len() >= n
        });
        self.wait_prompt();
    }
}

#[test]
fn typed_bash_session_commands_and_last_screen() {
    if !openssh_ready_with(true, &["less", "vim"]) {
        return;
    }
    let server = tempfile::tempdir().unwrap();
    let sd = server.path();
    let env = Env::start_with(Mode::Record, &server_side(sd));
    let status_file = env.path("status");
    // sh stays after ssh so that the pane keeps the session's last screen.
    let script = format!(
        "{}; echo $? > {}; exec sleep 3600",
        ssh_tty_command(&env),
        status_file.display()
    );
    let tmux = Tmux::start(&env, "text", COLS, ROWS, &script);
    let mut s = Session {
        tmux: &tmux,
        dir: sd,
        ran: Vec::new(),
    };
    s.wait_prompt();

    // Backspace.
    tmux.type_text("echo abx");
    s.wait_line("e2e> echo abx");
    tmux.keys(&["BSpace"]);
    s.wait_line("e2e> echo ab");
    tmux.type_text("c");
    s.wait_line("e2e> echo abc");
    s.enter("echo abc");

    // Ctrl-U over a whole line, then another command.
    tmux.type_text("rm -rf /nonexistent-oops");
    s.wait_line("e2e> rm -rf /nonexistent-oops");
    tmux.keys(&["C-u"]);
    s.wait_prompt();
    tmux.type_text("echo after ctrl-u");
    s.wait_line("e2e> echo after ctrl-u");
    s.enter("echo after ctrl-u");

    // Arrows: left to insert in the middle, right back to the end.
    tmux.type_text("echo hllo");
    s.wait_line("e2e> echo hllo");
    tmux.keys(&["Left", "Left", "Left"]);
    tmux.type_text("e");
    s.wait_line("e2e> echo hello");
    tmux.keys(&["Right", "Right", "Right"]);
    tmux.type_text(" world");
    s.wait_line("e2e> echo hello world");
    s.enter("echo hello world");

    // History recall: two Ups, edited; then one Up run as it is.
    tmux.keys(&["Up"]);
    s.wait_line("e2e> echo hello world");
    tmux.keys(&["Up"]);
    s.wait_line("e2e> echo after ctrl-u");
    tmux.type_text(" again");
    s.wait_line("e2e> echo after ctrl-u again");
    s.enter("echo after ctrl-u again");
    tmux.keys(&["Up"]);
    s.wait_line("e2e> echo after ctrl-u again");
    s.enter("echo after ctrl-u again");

    // Tab completion of a file name.
    tmux.type_text("cat uniq");
    s.wait_line("e2e> cat uniq");
    tmux.keys(&["Tab"]);
    s.wait_line("e2e> cat unique-tab-target.txt");
    tmux.type_text("| tr a-z A-Z");
    s.wait_line("e2e> cat unique-tab-target.txt | tr a-z A-Z");
    s.enter("cat unique-tab-target.txt | tr a-z A-Z");
    s.wait_screen("the completed command's output", |c| {
        c.contains("TAB TARGET CONTENT")
    });

    // A password prompt: the secret is typed but never echoed.
    let read = "read -s -p 'Password: ' pw; echo; echo \"secret has ${#pw} characters\"";
    tmux.type_text(read);
    s.wait_line(&format!("e2e> {read}"));
    s.start(read);
    s.wait_line("Password:");
    tmux.type_text(SECRET);
    tmux.keys(&["Enter"]);
    s.finished();
    s.wait_screen("the secret's length", |c| {
        c.contains(&format!("secret has {} characters", SECRET.len()))
    });

    // less: a full-screen program; its keystrokes (G, q) are not commands.
    tmux.type_text("seq 1 500 > nums.txt");
    s.wait_line("e2e> seq 1 500 > nums.txt");
    s.enter("seq 1 500 > nums.txt");
    tmux.type_text("less nums.txt");
    s.wait_line("e2e> less nums.txt");
    s.start("less nums.txt");
    wait_for("less on the alternate screen", WAIT, || {
        tmux.display("#{alternate_on}") == "1" && tmux.capture().starts_with("1\n2\n")
    });
    tmux.keys(&["G"]);
    s.wait_screen("less at the end", |c| c.contains("500\n(END)"));
    tmux.keys(&["q"]);
    s.finished();

    // vim: typing text and `:wq` with Enter inside it; none of that is a command.
    tmux.type_text("vim -u NONE -N note.txt");
    s.wait_line("e2e> vim -u NONE -N note.txt");
    s.start("vim -u NONE -N note.txt");
    wait_for("vim on the alternate screen", WAIT, || {
        tmux.display("#{alternate_on}") == "1" && tmux.capture().contains("note.txt")
    });
    tmux.type_text("ihello from vim");
    s.wait_screen("vim's text", |c| c.starts_with("hello from vim\n"));
    tmux.keys(&["Escape"]);
    tmux.type_text(":wq");
    tmux.keys(&["Enter"]);
    s.finished();
    assert_eq!(
        std::fs::read_to_string(sd.join("work/note.txt")).unwrap(),
        "hello from vim\n"
    );

    // clear, then a command line and an output line longer than the pane is wide.
    tmux.type_text("clear");
    s.wait_line("e2e> clear");
    s.enter("clear");
    s.wait_screen("the cleared screen", |c| screen_lines(c) == [PROMPT]);
    let long = format!("echo long-{}", "0123456789".repeat(14));
    tmux.type_text(&long);
    s.wait_line(&format!("e2e> {long}"));
    s.enter(&long);
    tmux.type_text("printf 'done %s\\n' $((6*7))");
    s.wait_line("e2e> printf 'done %s\\n' $((6*7))");
    s.enter("printf 'done %s\\n' $((6*7))");
    tmux.type_text("exit");
    s.wait_line("e2e> exit");
    s.start("exit");
    wait_for("ssh to exit", WAIT, || {
        std::fs::read_to_string(&status_file).is_ok_and(|s| s.ends_with('\n'))
    });
    let last_screen = screen_lines(&tmux.capture());
    let ran = std::mem::take(&mut s.ran);
    drop(tmux);
    assert_eq!(
        std::fs::read_to_string(&status_file).unwrap().trim(),
        "0",
        "ssh exit status; proxy log:\n{}",
        env.proxy_log()
    );
    let bash_ran = truth(sd);
    assert_eq!(bash_ran, ran, "bash's history against the test's script");

    // The recording.
    let recs = env.finished_recordings(1);
    assert_authentic(&recs[0]);
    let chans = channels(&recs[0]);
    assert_eq!(chans.len(), 1, "one channel");
    let (conn_dir, ch, summary) = &chans[0];
    assert_eq!(summary.session_program, "shell");
    let files = ChannelFiles::of_channel(ch, Some(conn_dir)).unwrap();

    // `commands --json`.
    let mut out = Vec::new();
    bsr_asciicast::commands::write_commands(&files, true, &mut out).unwrap();
    let commands: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listed: Vec<&str> = commands
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    let not_echoed = format!("[input not echoed: {} keystrokes]", SECRET.len());
    // Bash's truth with the password, which is input to `read`, at its place.
    let mut expected: Vec<&str> = bash_ran.iter().map(String::as_str).collect();
    let at = expected.iter().position(|c| *c == read).unwrap() + 1;
    expected.insert(at, &not_echoed);
    assert_eq!(listed, expected, "commands --json: {commands:#?}");
    for c in &commands {
        let echoed = c["command"] != not_echoed.as_str();
        assert_eq!(c["echoed"], echoed, "{c}");
        assert_eq!(c["source"], "enter", "{c}");
    }
    assert_eq!(commands[at]["keystrokes"], SECRET.len());
    let screen_of = |cmd: &str| -> String {
        let c = commands.iter().find(|c| c["command"] == cmd).unwrap();
        let frame = c["screen"]["alt_screen"]["frame"]
            .as_array()
            .unwrap_or_else(|| panic!("{cmd}: no full-screen block: {c}"));
        frame
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let less = screen_of("less nums.txt");
    assert!(less.ends_with("499\n500"), "less's last frame: {less}");
    let vim = screen_of("vim -u NONE -N note.txt");
    // vim ends with a newline on its bottom row (the screen scrolls) before it leaves: the
    // frame is the one from before that scroll.
    assert!(
        vim.starts_with("hello from vim\n~\n")
            && vim.ends_with("~\n\"note.txt\" [New] 1L, 15B written"),
        "vim's last frame: {vim}"
    );
    assert_eq!(
        vim.lines().count(),
        usize::from(ROWS),
        "vim's last frame: {vim}"
    );

    // `commands` as text: `time<TAB>command`.
    let mut out = Vec::new();
    bsr_asciicast::commands::write_commands(&files, false, &mut out).unwrap();
    let plain = String::from_utf8(out).unwrap();
    let plain_cmds: Vec<&str> = plain
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .filter_map(|l| l.split_once('\t').map(|(_, c)| c))
        .collect();
    assert_eq!(plain_cmds, expected, "commands:\n{plain}");

    // `text --json`: the lines still on screen at the end are the transcript's last lines.
    let mut out = Vec::new();
    write_text(&files, &TextOptions { json: true }, &mut out).unwrap();
    let items: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<&str> = items.iter().filter_map(|i| i["line"].as_str()).collect();
    eprintln!("ITEMS {items:#?}\nSCREEN {last_screen:#?}");
    assert!(
        lines.len() >= last_screen.len(),
        "{} transcript lines",
        lines.len()
    );
    assert_eq!(
        lines[lines.len() - last_screen.len()..],
        last_screen,
        "the transcript's last screen against tmux's capture-pane"
    );
    assert_eq!(
        items
            .iter()
            .filter(|i| i.get("alt_screen").is_some())
            .count(),
        2,
        "the blocks of less and vim"
    );
    // Nothing before the clear was lost.
    for want in ["abc", "TAB TARGET CONTENT", "e2e> less nums.txt"] {
        assert!(
            lines.iter().any(|l| l.contains(want)),
            "{want:?} in the transcript: {lines:#?}"
        );
    }

    // `text` as plain text; nowhere the secret.
    let mut out = Vec::new();
    write_text(&files, &TextOptions { json: false }, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!("secret has {} characters", SECRET.len())));
    for (view, body) in [
        ("text", &text),
        ("commands", &plain),
        ("text --json", &serde_json::to_string(&items).unwrap()),
        (
            "commands --json",
            &serde_json::to_string(&commands).unwrap(),
        ),
    ] {
        assert!(!body.contains(SECRET), "{view} shows the secret");
    }
}
