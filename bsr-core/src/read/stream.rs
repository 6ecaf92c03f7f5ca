//! [`ChunkStream`]: a `.data` file read chunk by chunk from any `Read`, or from a local file
//! through a sliding memory map, with the CRC and SHA-256 computed in one pass.

use crate::error::{Error, Result};
use crate::format;
use crate::store::ReadStore;

/// Bytes read from the source per `read` call.
const STREAM_READ_SIZE: usize = 1024 * 1024;
/// Bytes read before [`ChunkStream::with_sha256_on_thread`] moves the hash to its own thread.
pub const HASH_THREAD_FROM: u64 = 1024 * 1024;
/// Initial buffer.
const STREAM_INITIAL_BUF: usize = 64 * 1024;
/// Smallest room worth a read call.
const STREAM_MIN_READ: usize = 16 * 1024;
/// Buffer capacity: one read plus the largest possible chunk.
const STREAM_BUF_SIZE: usize =
    STREAM_READ_SIZE + format::MAX_CHUNK_DATA_LENGTH as usize + format::CHUNK_OVERHEAD;

/// Bytes of a local file mapped at a time by [`ChunkStream::open`]: larger than any legal chunk,
/// small enough that the mapping never holds much of the file.
pub const STREAM_MAP_WINDOW: usize = 16 * 1024 * 1024;
/// Files smaller than this are read with `read` calls even when mapping is asked for: for them
/// the map's system calls and page-table work (and, with several verifier threads in one
/// process, the other threads' waits on the address space and the TLB flushes that unmapping
/// sends them) cost more than the copy. A recording's request files are a few hundred bytes.
pub const STREAM_MAP_MIN: u64 = 256 * 1024;

/// Windows start at file offsets that are multiples of this (and so, being a multiple of it
/// long, also end on one unless they end at the end of the file). 2 MiB is x86_64's huge-page
/// size: where the page cache holds a file in 2 MiB folios (as after reading it from disk), the
/// kernel places such a mapping so that each folio takes one page-table entry instead of 512,
/// which makes populating cheaper and spares the hash a TLB miss every 4 KiB (measured: the same
/// hash loop over a mapping whose 2 MiB pieces are split in 4 KiB pages ran 15–20 % slower).
const STREAM_MAP_ALIGN: u64 = 2 * 1024 * 1024;
const _: () = assert!(
    STREAM_MAP_WINDOW
        > format::MAX_CHUNK_DATA_LENGTH as usize
            + format::CHUNK_OVERHEAD
            + STREAM_MAP_ALIGN as usize
);
const _: () = assert!((STREAM_MAP_WINDOW as u64).is_multiple_of(STREAM_MAP_ALIGN));

/// A local file read through a sliding memory map instead of `read` calls.
struct MapSource {
    file: std::fs::File,
    /// File size when opened; bytes appended later are not read.
    len: u64,
    map: Option<memmap2::Mmap>,
    /// File offset of `map[0]`.
    base: u64,
}

impl MapSource {
    fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Maps `[base, base + min(window, len - base))`, after checking that the file has not shrunk
    /// (see the safety contract in [`ChunkStream::open`]).
    fn map_at(&mut self, base: u64, path: &str) -> Result<()> {
        self.map = None;
        let now = self
            .file
            .metadata()
            .map_err(|e| Error::io(path.to_string(), e))?
            .len();
        if now < self.len {
            return Err(Error::io(
                path.to_string(),
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "file shrank from {} to {now} bytes while being read",
                        self.len
                    ),
                ),
            ));
        }
        let n = (self.len.saturating_sub(base)).min(STREAM_MAP_WINDOW as u64) as usize;
        self.base = base;
        if n == 0 {
            return Ok(());
        }
        #[allow(unsafe_code)]
        // SAFETY: the mapping is read-only and private to this stream; the contract of
        // `ChunkStream::open` (the file is not truncated or rewritten while it is read) is the
        // caller's, and the size check above narrows the window in which a truncation could
        // raise SIGBUS.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(base)
                .len(n)
                .populate()
                .map(&self.file)
        }
        .map_err(|e| Error::io(path.to_string(), e))?;
        self.map = Some(map);
        Ok(())
    }
}

/// Map mode: how far ahead of the byte being hashed the bytes are prefetched. The hardware
/// prefetchers stop at every page of a mapping, so without this the hash and the CRC would wait
/// on memory at each one; 256 KiB ahead (about 130 µs of SHA-256) hides the latency and stays
/// well inside L2 (measured against 16 KiB to 2 MiB: nearer leaves misses, further is evicted).
const PREFETCH_AHEAD: usize = 256 * 1024;

/// Feeds `h` with the mapped bytes from `*hashed` up to `upto` (file offsets; clamped to the
/// window) and advances `*hashed`, prefetching [`PREFETCH_AHEAD`] bytes ahead as it goes. Chunk
/// bodies go through [`crc_and_hash`] instead; this takes the bytes between them and the rest.
fn hash_window(m: &MapSource, h: &mut sha2::Sha256, hashed: &mut u64, upto: u64) {
    use sha2::Digest;
    const STEP: usize = 1024;
    let bytes = m.bytes();
    if upto <= *hashed || *hashed < m.base {
        return;
    }
    let from = (*hashed - m.base) as usize;
    let to = ((upto - m.base) as usize).min(bytes.len());
    let mut pos = from;
    while pos < to {
        let step_end = (pos + STEP).min(to);
        prefetch(bytes, pos + PREFETCH_AHEAD, step_end + PREFETCH_AHEAD);
        h.update(&bytes[pos..step_end]);
        pos = step_end;
    }
    *hashed = m.base + to.max(from) as u64;
}

/// Map mode: the CRC of `covered`, the bytes of a chunk that its CRC covers, which start at file
/// offset `at` inside the window; SHA-256 is fed with them in the same pass.
///
/// Both run over each 512-byte piece in turn, so the CRC finds the piece in L2 (prefetched) and
/// leaves it in L1 for the hash, and its instructions fill the gaps of SHA-256's dependency
/// chain. If the chunk is small, or the hash is not exactly at `at` (it always is otherwise, but
/// the stream must not depend on it), the CRC is computed alone and the hash catches up later
/// through [`hash_window`].
fn crc_and_hash(
    m: &MapSource,
    h: &mut sha2::Sha256,
    hashed: &mut u64,
    at: u64,
    covered: &[u8],
) -> u32 {
    use sha2::Digest;
    const STEP: usize = 512;
    // A small chunk is hashed whole afterwards, in one call: per call, the hasher's overhead
    // would outweigh what the shared pass saves.
    const SMALL: usize = 4 * STEP;
    if covered.len() < SMALL {
        return crc32fast::hash(covered);
    }
    hash_window(m, h, hashed, at);
    if *hashed != at || at < m.base {
        return crc32fast::hash(covered);
    }
    let bytes = m.bytes();
    let mut crc = crc32fast::Hasher::new();
    let mut pos = (at - m.base) as usize;
    // Pieces end at file offsets that are multiples of STEP (and so of SHA-256's 64-byte block,
    // the hash having started at offset 0): then no piece but the first leaves a partial block
    // that the hasher would copy and hash apart.
    let mut rest = covered;
    let mut n = (STEP - (at % STEP as u64) as usize).min(rest.len());
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(n);
        let end = pos + n;
        prefetch(bytes, pos + PREFETCH_AHEAD, end + PREFETCH_AHEAD);
        crc.update(piece);
        h.update(piece);
        pos = end;
        rest = tail;
        n = STEP.min(rest.len());
    }
    *hashed = at + covered.len() as u64;
    crc.finalize()
}

/// The bytes a [`ChunkStream`] parses from: the mapped window in map mode, else the read buffer.
/// A free function so that `next_chunk` can borrow it beside the stream's other fields.
fn window_of<'b>(mapped: &'b Option<MapSource>, buf: &'b [u8]) -> &'b [u8] {
    match mapped {
        Some(m) => m.bytes(),
        None => buf,
    }
}

/// Asks the CPU to bring `bytes[from..to]` (clamped) into the L2 cache. A hint only.
#[inline]
fn prefetch(bytes: &[u8], from: usize, to: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        let to = to.min(bytes.len());
        let mut i = from;
        while i < to {
            let p = bytes[i..].as_ptr().cast::<i8>();
            #[allow(unsafe_code)]
            // SAFETY: PREFETCHT1 is a hint: it never faults, changes no memory and no register
            // the program sees, and SSE (which it needs) is part of the x86_64 baseline. The
            // address is inside `bytes` anyway.
            unsafe {
                _mm_prefetch::<_MM_HINT_T1>(p)
            };
            i += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, from, to);
}

/// What [`ChunkStream::finish`] reports about the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd {
    /// SHA-256 of every byte of the file (when hashing was enabled).
    pub sha256: Option<[u8; 32]>,
    /// Bytes in the file.
    pub bytes: u64,
    /// Chunks returned.
    pub chunks: u64,
}

/// Reads a `.data` file from any [`std::io::Read`] with bounded memory (about 8 MiB: one read
/// plus the largest legal chunk) and returns chunks borrowed from its buffer, optionally
/// hashing every byte with SHA-256 as it goes. Compression is tracked from the HEAD chunk.
///
/// This is the reader for large files and remote stores: it never maps or loads a whole file.
/// [`ChunkStream::open`] reads local files through a sliding memory map instead (no copy out of
/// the page cache, the same bounded memory).
pub struct ChunkStream<R> {
    src: R,
    mapped: Option<MapSource>,
    /// Map mode: file offset up to which the SHA-256 has been fed.
    hashed: u64,
    path: String,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    index: u64,
    hasher: Option<sha2::Sha256>,
    /// Hash on a second thread once the file is larger than [`HASH_THREAD_FROM`] (read mode).
    hash_on_thread: bool,
    hash_thread: Option<super::hash_thread::HashThread>,
    gzip: bool,
    eof: bool,
    magic_done: bool,
    total: u64,
    /// The structure rules, when the caller asked for them ([`ChunkStream::with_structure`]).
    structure: Option<crate::read::structure::StructureChecker>,
}

impl<R> std::fmt::Debug for ChunkStream<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkStream")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish()
    }
}

impl<'a> ChunkStream<Box<dyn std::io::Read + Send + 'a>> {
    /// Opens the data file `path` of `store`. With `map` set and a local store
    /// ([`ReadStore::open_local`]), the file is read through a memory map that slides over it
    /// [`STREAM_MAP_WINDOW`] bytes at a time: no copy out of the page cache, and memory bounded
    /// by the window. Otherwise, and for files smaller than [`STREAM_MAP_MIN`], it is read with
    /// `read` calls into a bounded buffer.
    ///
    /// # Mmap safety contract
    /// A mapped file must not be truncated or rewritten while it is read. Closed recordings are
    /// immutable; the stream re-checks the file's size before each window and fails with
    /// [`Error::Io`] if it shrank, but a truncation between that check and the read of a page
    /// would still raise SIGBUS. Callers that cannot rule this out (a writer still working on
    /// the folder) pass `map = false`; `bsr-verify --no-mmap` does.
    ///
    /// ```
    /// # use bsr_core::store::MemStore;
    /// use bsr_core::read::ChunkStream;
    /// # fn demo(store: &MemStore) -> bsr_core::Result<()> {
    /// let mut s = ChunkStream::open(store, "sr_x.bsr/c.connection/ch.channel/messages-inbound.data", true)?
    ///     .with_sha256();
    /// while let Some(chunk) = s.next_chunk()? {
    ///     println!("chunk {} at byte {}", chunk.index, chunk.offset);
    /// }
    /// let end = s.finish()?;
    /// println!("{} bytes, sha256 {:?}", end.bytes, end.sha256);
    /// # Ok(()) }
    /// ```
    pub fn open(store: &'a dyn ReadStore, path: &str, map: bool) -> Result<Self> {
        Self::open_mapped_from(store, path, map.then_some(STREAM_MAP_MIN))
    }

    /// [`ChunkStream::open`] with the size from which a local file is mapped chosen by the
    /// caller: `Some(n)` maps local files of at least `n` bytes (`open` uses
    /// [`STREAM_MAP_MIN`]; 0 maps every local file, which tests use to cover the mapped path
    /// with small files), `None` never maps. The same safety contract applies.
    pub fn open_mapped_from(
        store: &'a dyn ReadStore,
        path: &str,
        map_from: Option<u64>,
    ) -> Result<Self> {
        if let Some(min) = map_from
            && let Some(file) = store.open_local(path)?
        {
            let len = file
                .metadata()
                .map_err(|e| Error::io(store.describe(path), e))?
                .len();
            if len < min {
                return Ok(ChunkStream::new(Box::new(file), path));
            }
            let src: Box<dyn std::io::Read + Send + 'a> = Box::new(std::io::empty());
            let mut s = ChunkStream::new(src, path);
            s.mapped = Some(MapSource {
                file,
                len,
                map: None,
                base: 0,
            });
            return Ok(s);
        }
        Ok(ChunkStream::new(store.open(path)?, path))
    }
}

impl<R: std::io::Read> ChunkStream<R> {
    /// A stream over `src`; `path` names the file in errors.
    pub fn new(src: R, path: &str) -> Self {
        ChunkStream {
            src,
            mapped: None,
            hashed: 0,
            path: path.to_string(),
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 0,
            index: 0,
            hasher: None,
            hash_on_thread: false,
            hash_thread: None,
            gzip: false,
            eof: false,
            magic_done: false,
            total: 0,
            structure: None,
        }
    }

    /// Also check the chunk-structure rules of a `kind` stream as the chunks are read (bsr-core's
    /// [`StructureChecker`](crate::read::structure::StructureChecker), the verifier's rules):
    /// a chunk that breaks one (a HEAD that is not first or comes twice, a chunk after DONE, a
    /// chunk type the stream may not hold) is [`Error::Malformed`] at its offset. For readers
    /// that show content, so that they apply the same rules as the verifier.
    pub fn with_structure(mut self, kind: crate::read::structure::StreamKind) -> Self {
        self.structure = Some(crate::read::structure::StructureChecker::new(kind));
        self
    }

    /// Also compute the SHA-256 of the whole file.
    pub fn with_sha256(mut self) -> Self {
        use sha2::Digest;
        self.hasher = Some(sha2::Sha256::new());
        self
    }

    /// [`Self::with_sha256`], with the hash computed on a second thread once more than
    /// [`HASH_THREAD_FROM`] bytes were read (smaller files are hashed inline: a thread costs
    /// more than their hash). For readers that do heavy work of their own with the chunks (a
    /// converter, a terminal emulator): the reading thread only copies each block it reads for
    /// the hashing thread (memory: a few blocks of at most one read). A stream that reads
    /// through a memory map ([`ChunkStream::open`]) hashes inline, in its one pass with the CRC.
    pub fn with_sha256_on_thread(mut self) -> Self {
        self.hash_on_thread = true;
        self.with_sha256()
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// File offset of the next unread chunk.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads more bytes; returns false at end of input.
    fn fill(&mut self) -> Result<bool> {
        use sha2::Digest;
        if self.eof {
            return Ok(false);
        }
        if self.mapped.is_some() {
            return self.fill_mapped();
        }
        // Make room: drop consumed bytes, then grow (doubling, from 64 KiB up to one read plus
        // the largest legal chunk) only when a chunk does not fit.
        if self.start > 0 && self.buf.len() - self.end < STREAM_READ_SIZE {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < STREAM_MIN_READ && self.buf.len() < STREAM_BUF_SIZE {
            let new = (self.buf.len() * 2).clamp(STREAM_INITIAL_BUF, STREAM_BUF_SIZE);
            self.buf.resize(new, 0);
        }
        let room = (self.buf.len() - self.end).min(STREAM_READ_SIZE);
        let n = loop {
            match self.src.read(&mut self.buf[self.end..self.end + room]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(self.path.clone(), e)),
            }
        };
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        if self.hash_on_thread
            && self.hash_thread.is_none()
            && self.total >= HASH_THREAD_FROM
            && let Some(h) = self.hasher.take()
        {
            match super::hash_thread::HashThread::spawn(h) {
                Ok(t) => self.hash_thread = Some(t),
                Err(h) => {
                    self.hasher = Some(h);
                    self.hash_on_thread = false;
                }
            }
        }
        if let Some(t) = &mut self.hash_thread {
            t.update(&self.buf[self.end..self.end + n], &self.path)?;
        } else if let Some(h) = &mut self.hasher {
            h.update(&self.buf[self.end..self.end + n]);
        }
        self.end += n;
        self.total += n as u64;
        Ok(true)
    }

    /// Map mode: slides the window so that it starts at the [`STREAM_MAP_ALIGN`] boundary at or
    /// before the first unconsumed byte.
    fn fill_mapped(&mut self) -> Result<bool> {
        let Some(m) = &mut self.mapped else {
            return Ok(false);
        };
        let mapped_end = m.base + m.bytes().len() as u64;
        if mapped_end >= m.len {
            self.eof = true;
            return Ok(false);
        }
        let base = self.offset - self.offset % STREAM_MAP_ALIGN;
        m.map_at(base, &self.path)?;
        self.start = (self.offset - base) as usize;
        self.end = m.bytes().len();
        self.total = m.base + self.end as u64;
        Ok(true)
    }

    /// Map mode: feeds the hash with the file's bytes up to `upto` (a file offset inside the
    /// current window).
    fn hash_mapped_to(&mut self, upto: u64) {
        if let (Some(m), Some(h)) = (&self.mapped, &mut self.hasher) {
            hash_window(m, h, &mut self.hashed, upto);
        }
    }

    /// The bytes between `start` and `end`: the read buffer, or the mapped window.
    fn window(&self) -> &[u8] {
        window_of(&self.mapped, &self.buf)
    }

    fn check_magic(&mut self) -> Result<()> {
        while self.end - self.start < format::MAGIC.len() {
            if !self.fill()? {
                let have = self.end - self.start;
                if have == 0 || self.window()[self.start..self.end] != format::MAGIC[..have] {
                    return Err(Error::malformed(
                        crate::Location::at(0).in_file(&self.path),
                        "not a BSR data file (bad magic)",
                    ));
                }
                return Err(Error::Truncated {
                    loc: crate::Location::at(0).in_file(&self.path),
                    what: "magic",
                    needed: format::MAGIC.len() as u64,
                    available: have as u64,
                });
            }
        }
        if self.window()[self.start..self.start + format::MAGIC.len()] != format::MAGIC {
            return Err(Error::malformed(
                crate::Location::at(0).in_file(&self.path),
                "not a BSR data file (bad magic)",
            ));
        }
        self.start += format::MAGIC.len();
        self.offset = format::MAGIC.len() as u64;
        self.magic_done = true;
        Ok(())
    }

    /// The next chunk (CRC checked), `None` at a clean end of input.
    pub fn next_chunk(&mut self) -> Result<Option<crate::read::chunk::Chunk<'_>>> {
        if !self.magic_done {
            self.check_magic()?;
        }
        // Read until the next chunk is complete (or the input ends): peek at its length field
        // so the chunk is decoded, and its CRC computed, only once.
        loop {
            let avail = self.end - self.start;
            if avail == 0 && self.eof {
                return Ok(None);
            }
            let needed = if avail >= format::LENGTH_SIZE {
                let b = &self.window()[self.start..self.start + 4];
                let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                if len > format::MAX_CHUNK_DATA_LENGTH {
                    break; // decode reports TooLarge
                }
                format::CHUNK_OVERHEAD + len as usize
            } else {
                format::CHUNK_OVERHEAD
            };
            if avail >= needed || !self.fill()? {
                break;
            }
        }
        let Self {
            buf,
            mapped,
            hasher,
            hashed,
            start,
            end,
            offset,
            index,
            gzip,
            path,
            structure,
            ..
        } = self;
        let path: &String = path;
        let win = window_of(mapped, buf);
        let at = *offset;
        let decoded = match (mapped.as_ref(), hasher.as_mut()) {
            // Map mode: the CRC and the hash in one pass over the chunk.
            (Some(m), Some(h)) => crate::read::chunk::decode_chunk_crc_with(
                &win[*start..*end],
                at,
                *index,
                |covered| crc_and_hash(m, h, hashed, at + format::LENGTH_SIZE as u64, covered),
            ),
            _ => crate::read::chunk::decode_chunk(&win[*start..*end], at, *index),
        };
        let (mut chunk, n) = match decoded {
            Ok(Some(x)) => x,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e.in_file(path)),
        };
        // Map mode: the rest of the chunk (its CRC field).
        if let (Some(m), Some(h)) = (mapped.as_ref(), hasher.as_mut()) {
            hash_window(m, h, hashed, at + n as u64);
        }
        *start += n;
        *offset += n as u64;
        *index += 1;
        if chunk.is_head() {
            let h = chunk.header().map_err(|e| e.in_file(path))?;
            *gzip = h.compression == crate::format::Compression::Gzip;
        } else if !chunk.is_done() {
            chunk.compressed = *gzip;
        }
        chunk.path = path;
        if let Some(v) = structure.as_mut().and_then(|s| {
            s.check(&chunk)
                .into_iter()
                .find(crate::read::structure::Violation::breaks_structure)
        }) {
            let loc = crate::Location::chunk(chunk.offset, chunk.index).in_file(path.as_str());
            return Err(Error::malformed(loc, v.to_string()));
        }
        Ok(Some(chunk))
    }

    /// Reads whatever is left (hashing it) and reports the totals. Bytes left unparsed are not
    /// an error here: callers that need "nothing after DONE" check `next_chunk` first.
    pub fn finish(mut self) -> Result<StreamEnd> {
        use sha2::Digest;
        if self.mapped.is_some() {
            loop {
                let end = self.offset + (self.end - self.start) as u64;
                self.hash_mapped_to(end);
                self.offset = end;
                self.start = self.end;
                if !self.fill()? {
                    break;
                }
            }
        }
        while self.fill()? {
            self.start = self.end;
        }
        let sha256 = match self.hash_thread.take() {
            Some(t) => Some(t.finish(&self.path)?),
            None => self.hasher.take().map(|h| h.finalize().into()),
        };
        Ok(StreamEnd {
            sha256,
            bytes: self.total,
            chunks: self.index,
        })
    }
}
