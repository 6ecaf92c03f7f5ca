"""Driver of benches/compare.sh: builds inputs with our writer, alternates A and B over
repetitions, reports medians and ratios, and writes docs/PERFORMANCE.md."""
import os, platform, re, shutil, statistics, subprocess, sys, time

smoke = "--smoke" in sys.argv
big = "--big" in sys.argv
REPS = 1 if smoke else 5
ROOT = os.getcwd()
REL = os.path.join(ROOT, "target", "release")
OUT = os.path.join(ROOT, "bench-out")
VERIFY, CONVERT, PERF = (os.path.join(REL, b) for b in ("bsr-verify", "bsr-asciicast", "bsr-perf"))
BIG_MIB = 16 if smoke else 1024
MANY, MANY_MIB = (8, 1) if smoke else (200, 4)
TINY_MIB = 1 if smoke else 64

def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)

def wall(cmd, ok=(0,)):
    t = time.perf_counter()
    r = subprocess.run(cmd, shell=isinstance(cmd, str), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    if r.returncode not in ok:
        raise SystemExit(f"{cmd}: exit {r.returncode}: {r.stderr[-500:]}")
    return dt

def internal(args):
    return float(sh([PERF] + args).stdout.strip().splitlines()[-1])

def du(path):
    total = 0
    for d, _, fs in os.walk(path):
        for f in fs:
            total += os.path.getsize(os.path.join(d, f))
    return total

def warm(path):
    """Puts the files in the page cache the way an archive's recordings get there: written out,
    dropped from the cache (POSIX_FADV_DONTNEED on just these files), then read back, so the
    kernel caches them through readahead as it would recordings read from disk, not as the pages
    the writer's small writes left behind."""
    for d, _, fs in os.walk(path):
        for f in fs:
            p = os.path.join(d, f)
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            with open(p, "rb") as fh:
                while fh.read(1 << 24):
                    pass

def alternate(pairs):
    """pairs: list of (name, fn). Runs them alternately REPS times; returns name -> samples."""
    res = {n: [] for n, _ in pairs}
    for _ in range(REPS):
        for n, f in pairs:
            res[n].append(f())
    return res

def rss(cmd):
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return int(m.group(1)) / 1024 if m else float("nan")

shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
print(f"generating inputs in {OUT} ...", flush=True)
sh([PERF, "gen", f"{OUT}/big", "big", str(BIG_MIB), str(256 * 1024)])
sh([PERF, "gen-many", f"{OUT}/many", str(MANY), str(MANY_MIB)])
sh([PERF, "gen", f"{OUT}/tiny", "tiny", str(TINY_MIB), "16"])
if big:
    sh([PERF, "gen", f"{OUT}/huge", "huge", str(6 * 1024), str(256 * 1024)])
for p in ("big", "many", "tiny"):
    warm(f"{OUT}/{p}")
big_rec = f"{OUT}/big/sr_big.bsr"
big_bytes = du(big_rec)
big_data = f"{big_rec}/cr_big/../cr_big.connection/chr_big.channel/messages-outbound.data".replace("/cr_big/..", "")
tiny_data = f"{OUT}/tiny/sr_tiny.bsr/cr_tiny.connection/chr_tiny.channel/messages-outbound.data"
many_bytes = du(f"{OUT}/many")
containers = [d for d, _, _ in os.walk(big_rec) if d.endswith((".bsr", ".connection", ".channel"))]
sha256sum_c = "; ".join(f"(cd '{d}' && sha256sum --quiet -c SHA256SUM)" for d in containers)

rows = []
def row(label, a_name, a, b_name, b, nbytes, cmd_a, cmd_b, unit="GB/s", count=None, per=1e6):
    ma, mb = statistics.median(a), statistics.median(b)
    ta = (nbytes / ma / 1e9) if nbytes else (count / ma / per)
    tb = (nbytes / mb / 1e9) if nbytes else (count / mb / per)
    rows.append((label, a_name, ma, ta, b_name, mb, tb, mb / ma, unit, cmd_a, cmd_b))
    print(f"{label}: {a_name} {ma:.3f}s ({ta:.2f} {unit}) vs {b_name} {mb:.3f}s ({tb:.2f} {unit}); A is {mb/ma:.2f}x B", flush=True)

print("measuring ...", flush=True)
r = alternate([
    ("verify", lambda: wall([VERIFY, "-q", "-j", "1", big_rec], ok=(3,))),
    ("sha256sum", lambda: wall(["bash", "-c", sha256sum_c])),
    ("sha2", lambda: internal(["sha", big_rec])),
    ("sha2hot", lambda: internal(["sha-hot", big_rec])),
    ("nommap", lambda: wall([VERIFY, "--no-mmap", "-q", "-j", "1", big_rec], ok=(3,))),
])
row("verify 1 GiB recording, --jobs 1", "bsr-verify", r["verify"], "sha256sum -c (every container)", r["sha256sum"], big_bytes,
    f"bsr-verify -q -j 1 {big_rec}", "cd <container> && sha256sum -c SHA256SUM (each)")
row("verify 1 GiB recording, --jobs 1 vs raw sha2 at its best (single core, cache-resident buffer)", "bsr-verify", r["verify"], "sha2 crate, raw, 256 KiB buffer in cache", r["sha2hot"], big_bytes,
    f"bsr-verify -q -j 1 {big_rec}", f"bsr-perf sha-hot {big_rec}")
row("verify 1 GiB recording, --jobs 1 vs raw sha2 over the same files' bytes in memory", "bsr-verify", r["verify"], "sha2 crate, raw, files read into memory", r["sha2"], big_bytes,
    f"bsr-verify -q -j 1 {big_rec}", f"bsr-perf sha {big_rec}")
row("verify 1 GiB recording, --jobs 1: memory map (default) vs --no-mmap", "bsr-verify", r["verify"], "bsr-verify --no-mmap", r["nommap"], big_bytes,
    f"bsr-verify -q -j 1 {big_rec}", f"bsr-verify --no-mmap -q -j 1 {big_rec}")
r = alternate([
    ("j1", lambda: wall([VERIFY, "-q", "-j", "1", f"{OUT}/many"], ok=(3,))),
    ("j2", lambda: wall([VERIFY, "-q", "-j", "2", f"{OUT}/many"], ok=(3,))),
])
row(f"verify {MANY} recordings", "--jobs 2", r["j2"], "--jobs 1", r["j1"], many_bytes, f"bsr-verify -q -j 2 {OUT}/many", f"bsr-verify -q -j 1 {OUT}/many")
r = alternate([
    ("w", lambda: internal(["write", "null", str(BIG_MIB), str(256 * 1024)])),
    ("f", lambda: internal(["sha-crc", str(BIG_MIB), str(256 * 1024)])),
    ("p", lambda: internal(["write", f"{OUT}/w", str(BIG_MIB), str(256 * 1024)])),
])
row("writer, 256 KiB DATA chunks (store discards)", "bsr-core writer", r["w"], "raw sha2 + crc32fast", r["f"], BIG_MIB << 20,
    f"bsr-perf write null {BIG_MIB} 262144", f"bsr-perf sha-crc {BIG_MIB} 262144")
row("writer, 256 KiB DATA chunks (local folder, page cache)", "bsr-core writer", r["p"], "raw sha2 + crc32fast", r["f"], BIG_MIB << 20,
    f"bsr-perf write DIR {BIG_MIB} 262144", f"bsr-perf sha-crc {BIG_MIB} 262144")
# The honest floors (issue 18): the same SHA-256 and CRC over the bytes the format makes a
# writer produce, plus write(2) into the page cache, and with the writer's closing fsync.
r = alternate([
    ("loop", lambda: internal(["write-loop", f"{OUT}/w", str(BIG_MIB), str(256 * 1024)])),
    ("w", lambda: internal(["write", f"{OUT}/w", str(BIG_MIB), str(256 * 1024)])),
    ("fw", lambda: internal(["sha-crc-write", f"{OUT}/w", str(BIG_MIB), str(256 * 1024)])),
    ("fws", lambda: internal(["sha-crc-write", f"{OUT}/w", str(BIG_MIB), str(256 * 1024), "sync"])),
])
row("writer, 256 KiB DATA chunks (local folder): the DATA loop vs the honest floor", "bsr-core writer, before finish", r["loop"], "sha2 + crc32fast over the encoded chunks + write(2)", r["fw"], BIG_MIB << 20,
    f"bsr-perf write-loop DIR {BIG_MIB} 262144", f"bsr-perf sha-crc-write DIR {BIG_MIB} 262144")
row("writer, 256 KiB DATA chunks (local folder): with finish (fsync) vs the honest floor with fsync", "bsr-core writer", r["w"], "the same floor + fsync", r["fws"], BIG_MIB << 20,
    f"bsr-perf write DIR {BIG_MIB} 262144", f"bsr-perf sha-crc-write DIR {BIG_MIB} 262144 sync")
n16 = (TINY_MIB << 20) // 16
r = alternate([
    ("w", lambda: internal(["write", "null", str(TINY_MIB), "16"])),
    ("f", lambda: internal(["sha-crc", str(TINY_MIB), "16"])),
    ("fe", lambda: internal(["sha-crc-encoded", str(TINY_MIB), "16"])),
])
row("writer, 16-byte DATA chunks (store discards)", "bsr-core writer", r["w"], "raw sha2 + crc32fast", r["f"], 0,
    f"bsr-perf write null {TINY_MIB} 16", f"bsr-perf sha-crc {TINY_MIB} 16", unit="M chunks/s", count=n16)
row("writer, 16-byte DATA chunks (store discards) vs SHA-256 + CRC over the encoded chunks (45 bytes each)", "bsr-core writer", r["w"], "sha2 + crc32fast over the encoded chunks", r["fe"], 0,
    f"bsr-perf write null {TINY_MIB} 16", f"bsr-perf sha-crc-encoded {TINY_MIB} 16", unit="M chunks/s", count=n16)
r = alternate([("r", lambda: internal(["read", big_data])), ("c", lambda: internal(["crc", big_data]))])
row("reader iteration with CRC, 256 KiB chunks", "ChunkReader", r["r"], "raw crc32fast", r["c"], os.path.getsize(big_data),
    f"bsr-perf read {big_data}", f"bsr-perf crc {big_data}")
r = alternate([("r", lambda: internal(["read", tiny_data])), ("c", lambda: internal(["crc", tiny_data])),
               ("cc", lambda: internal(["crc-chunks", tiny_data]))])
row("reader iteration with CRC, 16-byte chunks", "ChunkReader", r["r"], "raw crc32fast", r["c"], 0,
    f"bsr-perf read {tiny_data}", f"bsr-perf crc {tiny_data}", unit="M chunks/s", count=n16)
row("reader iteration with CRC, 16-byte chunks vs one CRC call per chunk", "ChunkReader", r["r"], "crc32fast, one call per chunk's CRC range", r["cc"], 0,
    f"bsr-perf read {tiny_data}", f"bsr-perf crc-chunks {tiny_data}", unit="M chunks/s", count=n16)
cast = f"{OUT}/big.cast"
with open(cast, "w") as fh:
    subprocess.run([CONVERT, "convert", "-q", "--max-output", "1T", big_rec], stdout=fh, check=True)
# By default the recording is verified while it is read (on a second thread; the channel's
# output file read once, by the verifier, for both) and the output is held back until the
# verdict: standard output redirected to a file is held (memory, then a temporary file in
# $TMPDIR, copied out after the verdict); `-o FILE` is staged and renamed; /dev/null is written
# as made (nobody reads it; the verdict still sets the exit status); a pipe would get the
# recording verified first.
r = alternate([
    ("conv", lambda: wall(["bash", "-c", f"'{CONVERT}' convert -q --max-output 1T '{big_rec}' > /dev/null"])),
    ("convo", lambda: wall(["bash", "-c", f"'{CONVERT}' convert -q --max-output 1T -o '{OUT}/conv-o.cast' '{big_rec}'"])),
    ("convh", lambda: wall(["bash", "-c", f"'{CONVERT}' convert -q --max-output 1T '{big_rec}' > '{OUT}/conv-held.cast'"])),
    ("convu", lambda: wall(["bash", "-c", f"'{CONVERT}' convert -q --unverified --max-output 1T '{big_rec}' > /dev/null 2>&1"])),
    ("floor", lambda: internal(["serde-floor", big_data])),
    ("floor-staged", lambda: internal(["serde-floor", big_data, "staged", f"{OUT}/floor-o.cast"])),
    ("floor-held", lambda: internal(["serde-floor", big_data, "held", f"{OUT}/floor-held.cast"])),
])
row("SSH → asciicast, 1 GiB channel (verified while read, the default; to /dev/null, not held)", "bsr-asciicast convert", r["conv"], "serde_json floor", r["floor"], BIG_MIB << 20,
    f"bsr-asciicast convert -q --max-output 1T {big_rec} > /dev/null", f"bsr-perf serde-floor {big_data}")
row("SSH → asciicast, 1 GiB channel, -o FILE (verified while read; staged file renamed after the verdict)", "bsr-asciicast convert -o FILE", r["convo"], "serde_json floor", r["floor"], BIG_MIB << 20,
    f"bsr-asciicast convert -q --max-output 1T -o {OUT}/conv-o.cast {big_rec}", f"bsr-perf serde-floor {big_data}")
row("SSH → asciicast, 1 GiB channel, > FILE (verified while read; output held in a temporary file, copied after the verdict)", "bsr-asciicast convert > FILE", r["convh"], "serde_json floor", r["floor"], BIG_MIB << 20,
    f"bsr-asciicast convert -q --max-output 1T {big_rec} > {OUT}/conv-held.cast", f"bsr-perf serde-floor {big_data}")
row("SSH → asciicast, 1 GiB channel, -o FILE vs the serde_json floor writing the same file (staged, renamed)", "bsr-asciicast convert -o FILE", r["convo"], "serde_json floor into a staged file", r["floor-staged"], BIG_MIB << 20,
    f"bsr-asciicast convert -q --max-output 1T -o {OUT}/conv-o.cast {big_rec}", f"bsr-perf serde-floor {big_data} staged {OUT}/floor-o.cast")
row("SSH → asciicast, 1 GiB channel, > FILE vs the serde_json floor held in a temporary file, then copied", "bsr-asciicast convert > FILE", r["convh"], "serde_json floor, held then copied", r["floor-held"], BIG_MIB << 20,
    f"bsr-asciicast convert -q --max-output 1T {big_rec} > {OUT}/conv-held.cast", f"bsr-perf serde-floor {big_data} held {OUT}/floor-held.cast")
row("SSH → asciicast, 1 GiB channel, --unverified (the converter alone: no verification, no SHA-256)", "bsr-asciicast convert --unverified", r["convu"], "serde_json floor", r["floor"], BIG_MIB << 20,
    f"bsr-asciicast convert -q --unverified --max-output 1T {big_rec} > /dev/null", f"bsr-perf serde-floor {big_data}")
CACHED = os.path.join(ROOT, "target", "asciinema-cli", "bin", "asciinema")
asciinema3 = shutil.which("asciinema3") or (CACHED if os.path.exists(CACHED) else None)
if asciinema3 is None and not smoke:
    print("building the asciinema CLI (crates.io) for `asciinema convert` ...", flush=True)
    rr = subprocess.run(["cargo", "install", "asciinema", "--locked", "--root", os.path.dirname(os.path.dirname(CACHED))], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if rr.returncode == 0:
        asciinema3 = CACHED
    else:
        print("asciinema could not be built; skipping that row:", rr.stderr[-300:])
if asciinema3:
    r = alternate([
        ("conv", lambda: wall(["bash", "-c", f"'{CONVERT}' convert -q --max-output 1T '{big_rec}' > /dev/null"])),
        ("asc", lambda: wall([asciinema3, "convert", "--overwrite", "-f", "asciicast-v2", cast, f"{OUT}/out.cast"])),
    ])
    row("SSH → asciicast vs asciinema convert (cast → cast, same events)", "bsr-asciicast convert", r["conv"], "asciinema convert", r["asc"], BIG_MIB << 20,
        f"bsr-asciicast convert -q {big_rec}", f"asciinema convert -f asciicast-v2 big.cast out.cast")
# The text view (issue 15): the transcript of the same channel (coloured shell output) against
# feeding its bytes straight into avt, the emulator it runs; by default `text` verifies the
# recording while reading it (as convert), `--unverified` is the view alone.
r = alternate([
    ("text", lambda: wall(["bash", "-c", f"'{CONVERT}' text '{big_rec}' > /dev/null"])),
    ("textu", lambda: wall(["bash", "-c", f"'{CONVERT}' text --unverified '{big_rec}' > /dev/null 2>&1"])),
    ("avt", lambda: internal(["avt-floor", big_data])),
])
row("text, 1 GiB channel (verified while read, the default; to /dev/null, not held)", "bsr-asciicast text", r["text"], "avt fed the same bytes", r["avt"], BIG_MIB << 20,
    f"bsr-asciicast text {big_rec} > /dev/null", f"bsr-perf avt-floor {big_data}")
row("text --unverified, 1 GiB channel (the view alone)", "bsr-asciicast text --unverified", r["textu"], "avt fed the same bytes", r["avt"], BIG_MIB << 20,
    f"bsr-asciicast text --unverified {big_rec} > /dev/null", f"bsr-perf avt-floor {big_data}")
r = alternate([
    ("j1", lambda: wall([CONVERT, "search", "-j", "1", "no-such-text-zz", f"{OUT}/many"], ok=(1,))),
    ("j2", lambda: wall([CONVERT, "search", "-j", "2", "no-such-text-zz", f"{OUT}/many"], ok=(1,))),
])
row(f"search by scan, {MANY} recordings", "-j 2", r["j2"], "-j 1", r["j1"], many_bytes,
    f"bsr-asciicast search -j 2 no-such-text-zz {OUT}/many", f"bsr-asciicast search -j 1 no-such-text-zz {OUT}/many")
# The search index (issues 15, 18): SMALL small shell recordings (about 1 KiB of text each,
# written without fsync, about 1 MiB of text in all), indexed with `bsr-asciicast index -j 2`, then queried. B is always the
# scan of the same recordings.
SMALL = 200 if smoke else 10000
sh([PERF, "gen-small", f"{OUT}/small", str(SMALL)])
# Not warm()ed: an fsync per file of 240,000 small files takes minutes; they are just written,
# so in the page cache already.
IX = f"{OUT}/small-index"
def build_index():
    shutil.rmtree(IX, ignore_errors=True)
    return wall([CONVERT, "index", "-j", "2", IX, f"{OUT}/small"])
r = alternate([
    ("build", build_index),
    ("scan", lambda: wall([CONVERT, "search", "-j", "2", "token-000042", f"{OUT}/small"])),
])
scan = r["scan"]
scan_cmd = f"bsr-asciicast search -j 2 token-000042 {OUT}/small"
row(f"search index build, {SMALL} small recordings (verify, text, index)", "bsr-asciicast index -j 2", r["build"], "search by scan -j 2", scan, 0,
    f"bsr-asciicast index -j 2 {IX} {OUT}/small", scan_cmd, unit="k recordings/s", count=SMALL, per=1e3)
r = alternate([
    ("q", lambda: internal(["index-query", IX, "token-000042", "21"])),
    ("cli", lambda: wall([CONVERT, "search", "--index", IX, "token-000042"])),
    ("upd", lambda: wall([CONVERT, "search", "--index", IX, "token-000042", f"{OUT}/small"])),
    ("open", lambda: internal(["index-query", IX, r"\w{3}-\d{3}", "3", "--regex"])),
])
row(f"search --index query, {SMALL} recordings (median of 21 in one process)", "index query", r["q"], "search by scan -j 2", scan, 0,
    f"bsr-perf index-query {IX} token-000042 21", scan_cmd, unit="queries/s", count=1, per=1)
row(f"search --index query, {SMALL} recordings (the command: start, open, query)", "search --index", r["cli"], "search by scan -j 2", scan, 0,
    f"bsr-asciicast search --index {IX} token-000042", scan_cmd, unit="queries/s", count=1, per=1)
row(f"search --index with targets, {SMALL} unchanged recordings (reads each SHA256SUM.sig, then queries)", "search --index DIR … TARGET", r["upd"], "search by scan -j 2", scan, 0,
    f"bsr-asciicast search --index {IX} token-000042 {OUT}/small", scan_cmd, unit="queries/s", count=1, per=1)
row(f"search --index query that cannot be narrowed, {SMALL} recordings (every line confirmed)", "index query", r["open"], "search by scan -j 2", scan, 0,
    f"bsr-perf index-query {IX} '\\w{{3}}-\\d{{3}}' 3 --regex", scan_cmd, unit="queries/s", count=1, per=1)
# Follow mode: writer sync() → follower event, one run of FOLLOW_N synced chunks per mode.
FOLLOW_N = 50 if smoke else 400
follow = {}
for mode in ("inotify", "poll"):
    v = sh([PERF, "follow-latency", f"{OUT}/follow", mode, str(FOLLOW_N)]).stdout.split()
    follow[mode] = [float(x) for x in v[:4]] + [int(v[4])]
    print(f"follow latency {mode}: from sync() call median {v[0]} ms p99 {v[1]} ms; from its return median {v[2]} ms p99 {v[3]} ms; {v[4]}/{FOLLOW_N} events before sync() returned", flush=True)
mem = {
    "bsr-asciicast text (1 GiB channel)": rss(["bash", "-c", f"exec '{CONVERT}' text '{big_rec}' > /dev/null"]),
    "bsr-verify -j 1 (1 GiB recording)": rss([VERIFY, "-q", "-j", "1", big_rec]),
    "bsr-asciicast convert (1 GiB channel)": rss(["bash", "-c", f"exec '{CONVERT}' convert -q --max-output 1T -o '{OUT}/rss.cast' '{big_rec}'"]),
    f"bsr-asciicast index -j 2 ({SMALL} small recordings, from scratch)": rss(["bash", "-c", f"rm -rf '{IX}' && exec '{CONVERT}' index -j 2 '{IX}' '{OUT}/small'"]),
}
if big:
    huge = f"{OUT}/huge/sr_huge.bsr"
    mem["bsr-verify -j 1 (6 GB recording)"] = rss([VERIFY, "-q", "-j", "1", huge])
    mem["bsr-asciicast convert (6 GB channel)"] = rss(["bash", "-c", f"exec '{CONVERT}' convert -q --max-output 1T -o /dev/null '{huge}'"])
    # Speed at 6 GB (above Boundary's 5 GB-per-object limit on S3), alternated like the rest.
    huge_bytes = du(huge)
    r = alternate([
        ("verify", lambda: wall([VERIFY, "-q", "-j", "1", huge], ok=(3,))),
        ("sha2hot", lambda: internal(["sha-hot", huge])),
        ("conv", lambda: wall(["bash", "-c", f"'{CONVERT}' convert -q --max-output 1T '{huge}' > /dev/null"])),
    ])
    row("verify 6 GB recording (--big), --jobs 1 vs raw sha2 at its best", "bsr-verify", r["verify"], "sha2 crate, raw, 256 KiB buffer in cache", r["sha2hot"], huge_bytes,
        f"bsr-verify -q -j 1 {huge}", f"bsr-perf sha-hot {huge}")
    row("convert 6 GB channel (--big; verified while read) vs bsr-verify of the same recording", "bsr-asciicast convert", r["conv"], "bsr-verify -j 1", r["verify"], huge_bytes,
        f"bsr-asciicast convert -q --max-output 1T {huge} > /dev/null", f"bsr-verify -q -j 1 {huge}")
for k, v in mem.items():
    print(f"peak RSS {k}: {v:.1f} MiB")

# The web server (`bsr-asciicast serve`, bsr-perf serve-big / serve-list): first cast bytes of
# the 1 GiB recording, opening it at its middle, and the session list over many tiny
# recordings (hard-linked copies of one, made quickly by gen-copies). One run each: the cold
# numbers need a fresh server.
LIST_N = 200 if smoke else 100_000
def kv(out):
    d = {}
    for ln in out.splitlines():
        p = ln.split()
        if len(p) >= 2:
            try:
                d[p[0]] = float(p[1])
            except ValueError:
                pass
    return d
serve_big = kv(sh([PERF, "serve-big", f"{OUT}/big"]).stdout)
sh([PERF, "gen", f"{OUT}/one", "one", "0", "4096"])
t_gen = time.perf_counter()
sh([PERF, "gen-copies", f"{OUT}/one/sr_one.bsr", f"{OUT}/list", str(LIST_N)])
t_gen = time.perf_counter() - t_gen
serve_list = kv(sh([PERF, "serve-list", f"{OUT}/list"]).stdout)
print("serve:", serve_big, serve_list, flush=True)

cpu = "unknown"
flags = ""
try:
    info = open("/proc/cpuinfo").read()
    cpu = re.search(r"model name\s*:\s*(.*)", info).group(1)
    fl = re.search(r"flags\s*:\s*(.*)", info).group(1).split()
    flags = ", ".join(f for f in ("sha_ni", "pclmulqdq", "avx2", "avx512f") if f in fl)
except Exception:
    pass
def secs(x):
    return f"{x * 1000:.2f} ms" if x < 0.01 else f"{x:.3f} s"
lines = [
    "# Performance",
    "",
    f"Measured by `bash benches/compare.sh{' --smoke' if smoke else ''}` on {time.strftime('%Y-%m-%d')}: {cpu}, {os.cpu_count()} cores, "
    f"CPU extensions {flags or 'n/a'}, {platform.system()} {platform.release()}. Release build, inputs written by our writer, then dropped "
    f"from the page cache and read back into it (as recordings read from an archive are); each group alternated over {REPS} repetitions; medians.",
    "",
    "| what | A | A median | A rate | B | B median | B rate | A/B speed |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
]
for (label, an, ma, ta, bn, mb, tb, ratio, unit, ca, cb) in rows:
    lines.append(f"| {label} | {an} | {secs(ma)} | {ta:.2f} {unit} | {bn} | {secs(mb)} | {tb:.2f} {unit} | {ratio:.2f}× |")
lines += ["", f"Follow latency (`bsr-perf follow-latency DIR MODE {FOLLOW_N}`: a writer thread syncs one DATA chunk at a time, pauses 0.5–60.5 ms between chunks; time until the follower's event for it):", "",
          "| follower | from sync() call: median | p99 | from sync() return: median | p99 | events before sync() returned |",
          "| --- | --- | --- | --- | --- | --- |"]
for mode, label in (("inotify", "inotify (notify crate)"), ("poll", "polling every 50 ms")):
    c50, c99, r50, r99, early = follow[mode]
    lines.append(f"| {label} | {c50:.2f} ms | {c99:.2f} ms | {r50:.2f} ms | {r99:.2f} ms | {early}/{FOLLOW_N} |")
lines += ["", "Peak RSS (`/usr/bin/time -v`):", ""]
for k, v in mem.items():
    lines.append(f"- {k}: {v:.1f} MiB")
lines += ["", "Commands behind each row (A; B):", ""]
for (label, an, ma, ta, bn, mb, tb, ratio, unit, ca, cb) in rows:
    lines.append(f"- {label}: `{ca}`; `{cb}`")
lines.append("")
lines.append(f"Inputs: a recording with {BIG_MIB} MiB of channel data in 256 KiB chunks ({big_bytes} bytes on disk), {MANY} recordings of {MANY_MIB} MiB, {SMALL} small shell recordings (about 1 KiB of text each) for the search index, a {TINY_MIB} MiB recording of 16-byte chunks ({n16} chunks).")
lines += ["", "## The web server", "",
          f"`bsr-perf serve-big {OUT}/big` and `bsr-perf serve-list` over {LIST_N} recordings (hard-linked copies of one tiny recording, made in {t_gen:.1f} s); HTTP/1.1 over loopback, in process.", "",
          "| what | seconds |", "| --- | --- |"]
for k, label in [("first-screen-cold", f"first cast bytes, {BIG_MIB} MiB recording, cold (the gate verifies it first)"),
                 ("first-screen", f"first cast bytes, {BIG_MIB} MiB recording, verification cached"),
                 ("whole-cast", "the whole cast streamed"),
                 ("open-at-t-cold", "open at the middle (first bytes), no checkpoints yet"),
                 ("checkpoints-built-after", "checkpoints built (background), after the first request"),
                 ("open-at-t", "open at the middle (first bytes), with checkpoints"),
                 ("replay-page", "the replay page (facts, findings; transcript and commands up to 64 MiB of output)"),
                 ("open-at-t-restart", "open at the middle, first request of a restarted server (--cache-dir: verification and checkpoints from the disk)"),
                 ("prepared-after", "a fresh server (--cache-dir, background pass on): its checkpoints prepared after"),
                 ("open-at-t-prepared", "open at the middle, first request once the background pass prepared it")]:
    if k in serve_big:
        lines.append(f"| {label} | {serve_big[k]:.3f} |")
for k, label in [("listing", "listing the recordings at startup"),
                 ("first-page-cold", "first page (100 rows), cold cache"),
                 ("cache-fill", "filling the facts cache (2 threads)"),
                 ("first-page", "first page (100 rows, API), warm cache"),
                 ("first-page-html", "first page (100 rows, HTML), warm cache"),
                 ("last-page", "last page, warm cache"),
                 ("first-page-filtered", "first page filtered by verdict, warm cache"),
                 ("first-page-restart", "first page, first request of a restarted server (--cache-dir: rows from the disk)"),
                 ("cache-fill-from-disk", "filling the restarted server's cache from the disk (2 threads)")]:
    if k in serve_list:
        lines.append(f"| {label} | {serve_list[k]:.3f} |")
lines += ["", "| memory, after filling the cache for every recording | MiB |", "| --- | --- |"]
for k, label in [("rss-after-fill", "resident now"), ("rss-peak-after-fill", "peak (the serve-list process)"),
                 ("rows-in-memory", "whole rows in memory (a count; the rest are summaries)")]:
    if k in serve_list:
        v = serve_list[k]
        lines.append(f"| {label} | {int(v) if k == 'rows-in-memory' else f'{v:.1f}'} |")
# The targets of the issues, judged on this run's medians.
def rate(label_start):
    for r in rows:
        if r[0].startswith(label_start):
            return r
    return None
checks = []
def target(name, r, ok, shown):
    if r is not None:
        checks.append((name, shown, "met" if ok else "NOT met"))
r = rate("verify 1 GiB recording, --jobs 1 vs raw sha2 at its best")
target("verify --jobs 1 ≥ 90 % of raw sha2 (its best: cache-resident buffer)", r, r and r[7] >= 0.9, r and f"{r[7]*100:.0f} % ({r[3]:.2f} vs {r[6]:.2f} GB/s)")
r = rate("verify 1 GiB recording, --jobs 1 vs raw sha2 over the same files")
target("verify --jobs 1 ≥ 90 % of raw sha2 (over the same files' bytes in memory)", r, r and r[7] >= 0.9, r and f"{r[7]*100:.0f} % ({r[3]:.2f} vs {r[6]:.2f} GB/s)")
r = rate("verify 1 GiB recording, --jobs 1")
target("verify vs sha256sum -c (ratio)", r, True, r and f"{r[7]:.2f}× faster")
r = rate(f"verify {MANY} recordings")
target("--jobs 2 ≥ 1.8× --jobs 1", r, r and r[7] >= 1.8, r and f"{r[7]:.2f}×")
r = rate("writer, 256 KiB DATA chunks (store discards)")
target("writer ≥ 1 GB/s, 256 KiB chunks", r, r and r[3] >= 1.0, r and f"{r[3]:.2f} GB/s")
r = rate("writer, 16-byte")
target("writer ≥ 5 M chunks/s, 16 B chunks", r, r and r[3] >= 5, r and f"{r[3]:.1f} M chunks/s")
r = rate("writer, 256 KiB DATA chunks (local folder): the DATA loop")
target("writer (local folder) ≥ 0.9× of the honest floor (SHA-256 + CRC + write(2))", r, r and r[7] >= 0.9, r and f"{r[7]:.2f}×")
r = rate("writer, 16-byte DATA chunks (store discards)")
target("writer, 16 B chunks ≥ 0.5× of the raw floor", r, r and r[7] >= 0.5, r and f"{r[7]:.2f}×")
r = rate("writer, 16-byte DATA chunks (store discards) vs SHA-256")
target("writer, 16 B chunks, against SHA-256 + CRC over the bytes it must hash", r, r and r[7] >= 0.5, r and f"{r[7]:.2f}×")
r = rate("reader iteration with CRC, 16-byte chunks")
target("reader, 16 B chunks ≥ 0.5× of the raw floor", r, r and r[7] >= 0.5, r and f"{r[7]:.2f}×")
r = rate("reader iteration with CRC, 16-byte chunks vs one CRC")
target("reader, 16 B chunks, against one CRC call per chunk", r, r and r[7] >= 0.5, r and f"{r[7]:.2f}×")
r = rate("reader iteration with CRC, 256 KiB")
target("reader ≥ 8 GB/s, 256 KiB chunks", r, r and r[3] >= 8, r and f"{r[3]:.1f} GB/s")
r = rate("reader iteration with CRC, 16-byte")
target("reader ≥ 10 M chunks/s, 16 B chunks", r, r and r[3] >= 10, r and f"{r[3]:.1f} M chunks/s")
r = rate("SSH → asciicast, 1 GiB channel")
target("convert ≥ 400 MB/s", r, r and r[3] >= 0.4, r and f"{r[3]:.2f} GB/s")
target("convert ≥ 1 GB/s or ≥ 0.65× of the serde_json floor (verified while read, the default)", r, r and (r[3] >= 1.0 or r[7] >= 0.65), r and f"{r[3]:.2f} GB/s, {r[7]:.2f}×")
r = rate("SSH → asciicast, 1 GiB channel, -o FILE")
target("convert -o FILE ≥ 1 GB/s or ≥ 0.65× of the serde_json floor (verified while read)", r, r and (r[3] >= 1.0 or r[7] >= 0.65), r and f"{r[3]:.2f} GB/s, {r[7]:.2f}×")
r = rate("SSH → asciicast, 1 GiB channel, > FILE")
target("convert > FILE ≥ 1 GB/s or ≥ 0.65× of the serde_json floor (verified while read, held)", r, r and (r[3] >= 1.0 or r[7] >= 0.65), r and f"{r[3]:.2f} GB/s, {r[7]:.2f}×")
r = rate("SSH → asciicast, 1 GiB channel, -o FILE vs")
target("convert -o FILE ≥ 0.65× of its honest floor (the serde_json floor writing the same file)", r, r and r[7] >= 0.65, r and f"{r[7]:.2f}×")
r = rate("SSH → asciicast, 1 GiB channel, > FILE vs")
target("convert > FILE ≥ 0.65× of its honest floor (the serde_json floor held, then copied)", r, r and r[7] >= 0.65, r and f"{r[7]:.2f}×")
r = rate("SSH → asciicast, 1 GiB channel, --unverified")
target("convert --unverified ≥ 1 GB/s or ≥ 0.65× of the serde_json floor (the converter alone)", r, r and (r[3] >= 1.0 or r[7] >= 0.65), r and f"{r[3]:.2f} GB/s, {r[7]:.2f}×")
r = rate("text, 1 GiB channel")
target("text ≥ 0.8× of straight avt (1 GiB, verified while read, the default)", r, r and r[7] >= 0.8, r and f"{r[7]:.2f}×")
r = rate("text --unverified")
target("text --unverified ≥ 0.8× of straight avt (the view alone)", r, r and r[7] >= 0.8, r and f"{r[7]:.2f}×")
r = rate("search by scan")
target("search -j 2 ≥ 1.8× -j 1", r, r and r[7] >= 1.8, r and f"{r[7]:.2f}×")
for name, k, lim, d in [(f"serve: first screen < 2 s ({BIG_MIB} MiB, cold)", "first-screen-cold", 2.0, serve_big),
                        ("serve: open at T < 1 s (with checkpoints)", "open-at-t", 1.0, serve_big),
                        ("serve: open at T < 1 s, first request after a restart (--cache-dir)", "open-at-t-restart", 1.0, serve_big),
                        ("serve: open at T < 1 s, first request once the background pass prepared it", "open-at-t-prepared", 1.0, serve_big),
                        (f"serve: first page < 1 s after a restart ({LIST_N} recordings, --cache-dir)", "first-page-restart", 1.0, serve_list),
                        (f"serve: first page < 1 s ({LIST_N} recordings, warm cache)", "first-page", 1.0, serve_list)]:
    if k in d:
        checks.append((name, f"{d[k]:.3f} s", "met" if d[k] < lim else "NOT met"))
r = rate("search --index query, ")
target(f"search --index query < 50 ms ({SMALL} recordings)", r, r and r[2] < 0.05, r and f"{r[2]*1000:.1f} ms")
r = rate("search index build")
target("search index build (recordings/s, -j 2)", r, True, r and f"{r[3]*1000:.0f} recordings/s")
tm = mem.get("bsr-asciicast text (1 GiB channel)")
if tm is not None:
    checks.append(("text peak RSS ≤ 64 MiB", f"{tm:.1f} MiB", "met" if tm <= 64 else "NOT met"))
cm = mem.get("bsr-asciicast convert (1 GiB channel)")
if cm is not None:
    checks.append(("convert peak RSS ≤ 64 MiB", f"{cm:.1f} MiB", "met" if cm <= 64 else "NOT met"))
lines += ["", "## Targets (judged on this run)", "", "| target | this run | status |", "| --- | --- | --- |"]
lines += [f"| {a} | {b} | {c} |" for a, b, c in checks]
lines.append("")
lines.append(open(os.path.join(ROOT, "benches", "notes.md")).read())
target_file = os.path.join(OUT, "PERFORMANCE.smoke.md") if smoke else os.path.join(ROOT, "docs", "PERFORMANCE.md")
open(target_file, "w").write("\n".join(lines) + "\n")
target = target_file
print(f"wrote {target}")
