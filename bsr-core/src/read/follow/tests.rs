//! Follow mode against the real writer (in a thread and in a child process) and hand-made
//! torn files.

use super::*;
use crate::format::{Compression, Direction, MAGIC, PROTOCOL_SSH, Timestamp};
use crate::keys::{AeadWrapper, RecordingKeys};
use crate::store::FsStore;
use crate::write::chunk::ChunkEncoder;
use crate::write::{SessionOptions, SessionWriter};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;

const REC: &str = "sr_1234567890.bsr";

fn t(s: u64) -> Timestamp {
    Timestamp::new(1_700_000_000 + s, 0)
}

fn session(root: &Path) -> SessionWriter {
    let store = Arc::new(FsStore::new(root));
    let kek = AeadWrapper::new([7u8; 32], "kek_test");
    let keys = RecordingKeys::from_seed("s_1234567890", [3; 32]);
    let opts = SessionOptions::new("sr_1234567890", "s_1234567890", t(0));
    SessionWriter::create(store, "", opts, keys, &kek, None).unwrap()
}

fn opts(watch: Watch) -> FollowOptions {
    FollowOptions {
        watch,
        poll_interval: Duration::from_millis(5),
        rescan_interval: Duration::from_millis(200),
        writer_timeout: Duration::from_secs(60),
        ..FollowOptions::default()
    }
}

/// Events until the end (an error fails the test).
fn drain(f: &mut Follower) -> Vec<FollowEvent> {
    let mut out = Vec::new();
    for ev in f.by_ref() {
        out.push(ev.unwrap());
    }
    out
}

/// Events until one satisfies `pred` (returned last); fails after a minute without it.
fn until(f: &mut Follower, pred: impl Fn(&FollowEvent) -> bool) -> Vec<FollowEvent> {
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while Instant::now() < give_up {
        if let Some(ev) = f.next_event(Some(Duration::from_millis(100))).unwrap() {
            let hit = pred(&ev);
            out.push(ev);
            if hit {
                return out;
            }
        }
    }
    panic!("event not seen; got {out:?}");
}

fn payload(i: u32) -> Vec<u8> {
    format!("line {i}\r\n").into_bytes()
}

/// The writer of tests 1 and 5: one connection, one channel, `n` DATA chunks each synced.
fn write_session(s: SessionWriter, n: u32) {
    let c = s.new_connection("cr_1", t(0)).unwrap();
    c.sync().unwrap();
    let mut ch = c.new_channel("chr_1", "session", t(0)).unwrap();
    for i in 0..n {
        let time = Timestamp::new(1_700_000_001, i);
        ch.write_data(Direction::Outbound, time, &payload(i))
            .unwrap();
        ch.sync().unwrap();
    }
    ch.finish(t(5)).unwrap();
    c.finish(t(5)).unwrap();
    s.finish(t(5)).unwrap();
}

/// The events that come until nothing comes for 100 ms.
fn quiet(f: &mut Follower) -> Vec<FollowEvent> {
    let mut out = Vec::new();
    while let Some(ev) = f.next_event(Some(Duration::from_millis(100))).unwrap() {
        out.push(ev);
    }
    out
}

/// The chunks of each stream, in the order they came.
fn by_stream(evs: &[FollowEvent]) -> BTreeMap<String, Vec<OwnedChunk>> {
    let mut m: BTreeMap<String, Vec<OwnedChunk>> = BTreeMap::new();
    for ev in evs {
        if let FollowEvent::Chunk { stream, chunk } = ev {
            m.entry(stream.path()).or_default().push(chunk.clone());
        }
    }
    m
}

fn follow_live_writer(watch: Watch) -> (Vec<FollowEvent>, Watching) {
    let tmp = tempfile::tempdir().unwrap();
    let s = session(tmp.path());
    let mut f = Follower::open(tmp.path().join(REC), opts(watch)).unwrap();
    let watching = f.watching();
    let w = std::thread::spawn(move || write_session(s, 300));
    let evs = drain(&mut f);
    w.join().unwrap();
    (evs, watching)
}

/// Test 1: every chunk exactly once and in order, with the tree events before their chunks.
fn check_live(evs: &[FollowEvent]) {
    assert_eq!(evs.last(), Some(&FollowEvent::Finished));
    let pos = |p: &dyn Fn(&FollowEvent) -> bool| evs.iter().position(p).unwrap();
    let conn =
        pos(&|e| matches!(e, FollowEvent::NewConnection { connection } if connection == "cr_1"));
    let chan = pos(&|e| {
        matches!(e, FollowEvent::NewChannel { channel, channel_type, .. }
            if channel == "chr_1" && channel_type == "session")
    });
    let first_chunk =
        pos(&|e| matches!(e, FollowEvent::Chunk { stream, .. } if stream.channel.is_some()));
    let done = pos(&|e| matches!(e, FollowEvent::ChannelDone { .. }));
    assert!(conn < chan && chan < first_chunk && first_chunk < done);
    let streams = by_stream(evs);
    assert_eq!(streams.len(), 6, "{:?}", streams.keys());
    for (path, chunks) in &streams {
        let idx: Vec<u64> = chunks.iter().map(|c| c.index).collect();
        assert_eq!(idx, (0..chunks.len() as u64).collect::<Vec<_>>(), "{path}");
        assert_eq!(&chunks[0].chunk_type, b"HEAD", "{path}");
        assert_eq!(&chunks[chunks.len() - 1].chunk_type, b"DONE", "{path}");
    }
    let out = &streams["cr_1.connection/chr_1.channel/messages-outbound.data"];
    assert_eq!(out.len(), 302);
    for (i, c) in out[1..301].iter().enumerate() {
        assert_eq!(c.data().unwrap(), payload(i as u32), "chunk {}", i + 1);
    }
    let done_at = |file: &str| {
        evs.iter()
            .position(|e| matches!(e, FollowEvent::Chunk { stream, chunk } if stream.file == file && stream.channel.is_some() && &chunk.chunk_type == b"DONE"))
            .unwrap()
    };
    assert!(done_at("messages-outbound.data") < done);
}

#[test]
fn live_writer_thread_every_chunk_once_in_order() {
    let (evs, _) = follow_live_writer(Watch::Poll);
    check_live(&evs);
}

/// Test 5: polling gives what inotify gives (per stream: the same chunks in the same order).
#[test]
fn polling_gives_the_same_result_as_inotify() {
    let (auto, watching) = follow_live_writer(Watch::Auto);
    #[cfg(feature = "inotify")]
    assert_eq!(watching, Watching::Inotify);
    #[cfg(not(feature = "inotify"))]
    assert_eq!(watching, Watching::Poll);
    let (poll, _) = follow_live_writer(Watch::Poll);
    check_live(&auto);
    check_live(&poll);
    assert_eq!(by_stream(&auto), by_stream(&poll));
    let tree = |evs: &[FollowEvent]| -> Vec<FollowEvent> {
        evs.iter()
            .filter(|e| !matches!(e, FollowEvent::Chunk { .. }))
            .cloned()
            .collect()
    };
    assert_eq!(tree(&auto), tree(&poll));
}

/// Test 3: connections and channels that appear while following are noticed.
#[test]
fn new_connections_and_channels_mid_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let s = session(tmp.path());
    let c1 = s.new_connection("cr_1", t(0)).unwrap();
    let mut a = c1.new_channel("chr_a", "session", t(0)).unwrap();
    a.write_data(Direction::Outbound, t(1), b"a").unwrap();
    a.sync().unwrap();
    let mut f = Follower::open(tmp.path().join(REC), opts(Watch::Auto)).unwrap();
    until(
        &mut f,
        |e| matches!(e, FollowEvent::Chunk { chunk, .. } if &chunk.chunk_type == b"DATA"),
    );
    // Nothing new: nothing comes, and that is not the end.
    assert!(quiet(&mut f).iter().all(|e| !e.is_end()));
    assert_eq!(f.next_event(Some(Duration::from_millis(50))).unwrap(), None);
    let mut b = c1.new_channel("chr_b", "direct-tcpip", t(2)).unwrap();
    b.sync().unwrap();
    let evs = until(
        &mut f,
        |e| matches!(e, FollowEvent::NewChannel { channel, .. } if channel == "chr_b"),
    );
    assert!(
        matches!(evs.last(), Some(FollowEvent::NewChannel { channel_type, connection, .. })
        if channel_type == "direct-tcpip" && connection == "cr_1")
    );
    let c2 = s.new_connection("cr_2", t(3)).unwrap();
    let mut x = c2.new_channel("chr_x", "session", t(3)).unwrap();
    x.write_data(Direction::Outbound, t(4), b"x").unwrap();
    x.sync().unwrap();
    let evs = until(&mut f, |e| {
        matches!(e, FollowEvent::Chunk { stream, chunk }
        if stream.channel.as_deref() == Some("chr_x") && &chunk.chunk_type == b"DATA")
    });
    assert!(evs.contains(&FollowEvent::NewConnection {
        connection: "cr_2".into()
    }));
    assert!(
        evs.iter()
            .any(|e| matches!(e, FollowEvent::NewChannel { channel, .. } if channel == "chr_x"))
    );
    for ch in [a, b, x] {
        ch.finish(t(5)).unwrap();
    }
    c1.finish(t(5)).unwrap();
    c2.finish(t(5)).unwrap();
    s.finish(t(5)).unwrap();
    let rest = drain(&mut f);
    assert_eq!(rest.last(), Some(&FollowEvent::Finished));
    let done = rest
        .iter()
        .filter(|e| matches!(e, FollowEvent::ChannelDone { .. }))
        .count();
    assert_eq!(done, 3);
}

/// A session of many channels, one after the other: files are closed at their DONE, so the
/// follower holds the files of the open channel and connection only, and finished channels
/// are not scanned again.
#[test]
fn files_are_closed_at_done_however_many_channels() {
    let tmp = tempfile::tempdir().unwrap();
    let s = session(tmp.path());
    let c = s.new_connection("cr_1", t(0)).unwrap();
    let mut f = Follower::open(tmp.path().join(REC), opts(Watch::Poll)).unwrap();
    let mut most = 0;
    for i in 0..60 {
        let mut ch = c
            .new_channel(&format!("chr_{i}"), "direct-tcpip", t(1))
            .unwrap();
        ch.write_data(Direction::Outbound, t(2), b"x").unwrap();
        ch.sync().unwrap();
        until(
            &mut f,
            |e| matches!(e, FollowEvent::Chunk { chunk, .. } if &chunk.chunk_type == b"DATA"),
        );
        most = most.max(f.open_files());
        ch.finish(t(3)).unwrap();
        let name = format!("chr_{i}");
        until(
            &mut f,
            |e| matches!(e, FollowEvent::ChannelDone { channel, .. } if *channel == name),
        );
        assert_eq!(f.open_files(), 2, "the connection's request files");
    }
    assert!(
        most <= 6,
        "at most one channel's and the connection's files: {most}"
    );
    c.finish(t(5)).unwrap();
    s.finish(t(5)).unwrap();
    let rest = drain(&mut f);
    assert_eq!(rest.last(), Some(&FollowEvent::Finished));
    assert_eq!(f.open_files(), 0);
}

/// A data file's bytes: the magic, HEAD, and `data` as DATA chunks (or requests), then DONE.
fn file_bytes(data: &[&[u8]], done: bool) -> Vec<u8> {
    let mut enc = ChunkEncoder::new(Compression::None);
    let mut b = MAGIC.to_vec();
    enc.head(
        &mut b,
        PROTOCOL_SSH,
        Direction::Outbound,
        t(0),
        b"s_1234567890",
    )
    .unwrap();
    for d in data {
        enc.chunk(&mut b, PROTOCOL_SSH, *b"DATA", Direction::Outbound, t(1), d)
            .unwrap();
    }
    if done {
        enc.done(&mut b, PROTOCOL_SSH, Direction::Outbound, t(2))
            .unwrap();
    }
    b
}

/// A hand-made recording with one channel whose other five files are complete.
fn hand_made(root: &Path) -> PathBuf {
    let rec = root.join(REC);
    let conn = rec.join("cr_1.connection");
    let chan = conn.join("chr_1.channel");
    std::fs::create_dir_all(&chan).unwrap();
    std::fs::write(
        chan.join("channel-recording.meta"),
        "id: chr_1\nchannelType: session\n",
    )
    .unwrap();
    let empty = file_bytes(&[], true);
    for f in ["requests-inbound.data", "requests-outbound.data"] {
        std::fs::write(conn.join(f), &empty).unwrap();
        std::fs::write(chan.join(f), &empty).unwrap();
    }
    std::fs::write(chan.join("messages-inbound.data"), &empty).unwrap();
    chan.join("messages-outbound.data")
}

fn append(p: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// Test 4: half a chunk means "wait"; the rest makes it whole; sealed with a torn tail is an
/// error that names the file and offset.
#[test]
fn torn_tail_waits_then_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = hand_made(tmp.path());
    let whole = file_bytes(&[b"hello", b"world"], true);
    let head_len = file_bytes(&[], false).len();
    let one = file_bytes(&[b"hello"], false).len();
    // HEAD, then half of the first DATA chunk.
    let half = head_len + (one - head_len) / 2;
    append(&out, &whole[..half]);
    let mut f = Follower::open(tmp.path().join(REC), opts(Watch::Poll)).unwrap();
    until(&mut f, |e| {
        matches!(e, FollowEvent::Chunk { stream, chunk }
        if stream.file == "messages-outbound.data" && &chunk.chunk_type == b"HEAD")
    });
    // The other files, then nothing: half a chunk is waited for, not yielded, not an error.
    let rest = quiet(&mut f);
    assert!(rest.iter().all(|e| !matches!(e, FollowEvent::Chunk { stream, .. } if stream.file == "messages-outbound.data")), "{rest:?}");
    assert!(rest.iter().all(|e| !e.is_end()));
    assert_eq!(f.next_event(Some(Duration::from_millis(50))).unwrap(), None);
    append(&out, &whole[half..one + 3]);
    let evs = until(
        &mut f,
        |e| matches!(e, FollowEvent::Chunk { chunk, .. } if &chunk.chunk_type == b"DATA"),
    );
    let FollowEvent::Chunk { chunk, .. } = evs.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(chunk.data().unwrap(), &b"hello"[..]);
    assert_eq!(f.next_event(Some(Duration::from_millis(30))).unwrap(), None);
    // The writer seals while a torn tail is left: that is an error, with where.
    std::fs::write(tmp.path().join(REC).join("SHA256SUM.sig"), b"sig").unwrap();
    let err = loop {
        match f.next_event(Some(Duration::from_secs(30))) {
            Err(e) => break e,
            Ok(Some(FollowEvent::Chunk { .. } | FollowEvent::ChannelDone { .. })) => {}
            other => panic!("expected an error, got {other:?}"),
        }
    };
    match err {
        Error::Truncated { loc, .. } => {
            assert!(
                loc.path.ends_with("chr_1.channel/messages-outbound.data"),
                "{loc}"
            );
            assert_eq!(loc.offset, one as u64);
        }
        e => panic!("{e}"),
    }
}

/// A complete chunk with a bad CRC is corrupt (not a torn tail), located.
#[test]
fn corrupt_complete_chunk_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = hand_made(tmp.path());
    let mut bytes = file_bytes(&[b"hello"], false);
    let n = bytes.len();
    bytes[n - 6] ^= 0xff;
    append(&out, &bytes);
    let mut f = Follower::open(tmp.path().join(REC), opts(Watch::Poll)).unwrap();
    let err = loop {
        match f.next_event(Some(Duration::from_secs(30))) {
            Err(e) => break e,
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
        }
    };
    assert!(
        matches!(&err, Error::Crc { loc, .. } if loc.path.ends_with("messages-outbound.data") && loc.chunk == Some(1)),
        "{err}"
    );
    assert_eq!(f.next_event(Some(Duration::ZERO)).unwrap(), None, "ended");
}

/// A read budget far below the data (4 KiB per file, 32 KiB per scan, for 1.6 MB): the same
/// chunks as with the default budget, and the end only after the last of them.
#[test]
fn small_read_budget_reads_everything_before_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let s = session(tmp.path());
    let c = s.new_connection("cr_1", t(0)).unwrap();
    let mut ch = c.new_channel("chr_1", "session", t(0)).unwrap();
    for i in 0..200u32 {
        let data = vec![b'a' + (i % 26) as u8; 8192];
        ch.write_data(Direction::Outbound, t(1), &data).unwrap();
    }
    ch.finish(t(2)).unwrap();
    c.finish(t(2)).unwrap();
    s.finish(t(2)).unwrap();
    let mut small = opts(Watch::Poll);
    small.read_budget = 4096;
    let a = drain(&mut Follower::open(tmp.path().join(REC), small).unwrap());
    let b = drain(&mut Follower::open(tmp.path().join(REC), opts(Watch::Poll)).unwrap());
    assert_eq!(a.last(), Some(&FollowEvent::Finished));
    assert_eq!(by_stream(&a), by_stream(&b));
    let out = &by_stream(&a)["cr_1.connection/chr_1.channel/messages-outbound.data"];
    assert_eq!(out.len(), 202);
    assert_eq!(out[200].data().unwrap()[0], b'a' + (199 % 26) as u8);
}

/// A follower can be moved to the thread that serves it (a web server's live view).
#[test]
fn follower_is_send() {
    fn send<T: Send>(_: &T) {}
    let tmp = tempfile::tempdir().unwrap();
    let _s = session(tmp.path());
    let f = Follower::open(tmp.path().join(REC), opts(Watch::Auto)).unwrap();
    send(&f);
    let h = std::thread::spawn(move || f.open_items());
    assert!(
        h.join()
            .unwrap()
            .iter()
            .any(|o| o.starts_with("session container"))
    );
}

/// A symbolic link or a FIFO where a data file should be is refused (named), never followed,
/// never blocked on.
#[test]
fn hostile_files_are_refused_not_followed() {
    for kind in ["symlink", "fifo"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = hand_made(tmp.path());
        match kind {
            "symlink" => std::os::unix::fs::symlink("/etc/passwd", &out).unwrap(),
            _ => {
                let st = std::process::Command::new("mkfifo").arg(&out).status();
                if !st.is_ok_and(|s| s.success()) {
                    eprintln!("mkfifo not available: FIFO case not run");
                    continue;
                }
            }
        }
        let mut f = Follower::open(tmp.path().join(REC), opts(Watch::Poll)).unwrap();
        let err = loop {
            match f.next_event(Some(Duration::from_secs(30))) {
                Err(e) => break e,
                Ok(Some(_)) => {}
                Ok(None) => panic!("{kind}: no error"),
            }
        };
        assert!(
            matches!(&err, Error::NotRegularFile { path, .. } if path.ends_with("messages-outbound.data")),
            "{kind}: {err}"
        );
    }
}

/// The writer of test 2, run in a child process (this test binary, started again with
/// `BSR_FOLLOW_CHILD` set): it writes and syncs a chunk every 10 ms until it is killed.
#[test]
fn child_writer() {
    let Ok(root) = std::env::var("BSR_FOLLOW_CHILD") else {
        return;
    };
    let s = session(Path::new(&root));
    let c = s.new_connection("cr_1", t(0)).unwrap();
    let mut ch = c.new_channel("chr_1", "session", t(0)).unwrap();
    let mut stdout = std::io::stdout();
    for i in 0.. {
        let time = Timestamp::new(1_700_000_001 + u64::from(i / 1000), i % 1000);
        ch.write_data(Direction::Outbound, time, &payload(i))
            .unwrap();
        ch.sync().unwrap();
        if i == 0 {
            writeln!(stdout, "ready").unwrap();
            stdout.flush().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Test 2: a writer process SIGKILLed mid-session: the follower ends with "writer gone" after
/// the timeout and names what is open, and the chunks it yielded are the writer's, in order.
#[test]
fn writer_killed_ends_with_writer_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "read::follow::tests::child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BSR_FOLLOW_CHILD", tmp.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.unwrap().trim_end().ends_with("ready")),
        "child never ready"
    );
    let mut o = opts(Watch::Auto);
    o.writer_timeout = Duration::from_millis(700);
    let mut f = Follower::open(tmp.path().join(REC), o).unwrap();
    let is_data = |e: &FollowEvent| matches!(e, FollowEvent::Chunk { chunk, .. } if &chunk.chunk_type == b"DATA");
    let mut evs = until(&mut f, is_data);
    evs.extend(until(&mut f, is_data));
    child.kill().unwrap();
    child.wait().unwrap();
    evs.extend(drain(&mut f));
    let Some(FollowEvent::WriterGone { idle, open }) = evs.last() else {
        panic!("{:?}", evs.last());
    };
    assert!(*idle >= Duration::from_millis(700));
    assert!(
        open.iter().any(|o| o.starts_with("session container")),
        "{open:?}"
    );
    assert!(
        open.contains(
            &"cr_1.connection/chr_1.channel/messages-outbound.data (no DONE chunk)".to_string()
        ),
        "{open:?}"
    );
    let out = &by_stream(&evs)["cr_1.connection/chr_1.channel/messages-outbound.data"];
    assert!(out.len() >= 3);
    for (i, c) in out[1..].iter().enumerate() {
        assert_eq!(c.index, i as u64 + 1);
        assert_eq!(c.data().unwrap(), payload(i as u32));
    }
}
