//! `ChunkQueue`: an ordered queue of memory and file chunks — a response on
//! its way to the socket, or a request body on its way to a handler
//! (lighttpd's `chunkqueue`).
//!
//! Memory chunks go out with one `writev(2)` (a small file's head and body in
//! one call), file chunks with `sendfile(2)`. Request bodies past a memory
//! threshold spill into unlinked temp files in `server.upload-dirs`
//! ([`ChunkQueue::append_spilling`]). The queue itself has no limit; callers
//! check [`ChunkQueue::len`] against theirs.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::rc::Rc;

/// Most slices handed to one `writev` call.
const MAX_IOVECS: usize = 32;
/// Largest single `sendfile` call.
const SENDFILE_MAX: usize = 1 << 30;
/// A memory chunk smaller than this is extended in place by appends.
const MEM_COALESCE: usize = 16 * 1024;

/// One piece of queued data.
#[derive(Debug)]
pub enum Chunk {
    /// Bytes `data[off..]` still to go.
    Mem { data: Vec<u8>, off: usize },
    /// `len` bytes of `file` starting at `off` still to go. `temp` marks a
    /// spilled request-body file that appends may extend. `cached`: the
    /// whole file's bytes when the stat cache holds them (small static
    /// files), copied instead of read.
    File {
        file: Rc<File>,
        off: u64,
        len: u64,
        temp: bool,
        cached: Option<Rc<[u8]>>,
    },
}

impl Chunk {
    fn remaining(&self) -> u64 {
        match self {
            Chunk::Mem { data, off } => (data.len() - off) as u64,
            Chunk::File { len, .. } => *len,
        }
    }
}

/// Where request bodies go when they outgrow memory.
#[derive(Debug, Clone)]
pub struct SpillConf {
    /// `server.upload-dirs` (tried in order).
    pub dirs: Vec<PathBuf>,
    /// Bytes kept in memory before spilling (lighttpd: 64 KiB).
    pub mem_limit: u64,
    /// Bytes per temp file (`server.upload-temp-file-size`).
    pub file_limit: u64,
}

impl Default for SpillConf {
    fn default() -> SpillConf {
        let tmp = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp"));
        SpillConf {
            dirs: vec![tmp],
            mem_limit: 64 * 1024,
            file_limit: 1 << 20,
        }
    }
}

/// Outcome of [`ChunkQueue::write_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    /// The socket would block: wait for writability.
    pub blocked: bool,
}

/// An ordered queue of chunks.
#[derive(Debug, Default)]
pub struct ChunkQueue {
    chunks: VecDeque<Chunk>,
    /// Bytes queued and not yet written/consumed.
    len: u64,
    /// Bytes ever appended (since the last reset).
    bytes_in: u64,
    /// Bytes ever written/consumed (since the last reset).
    bytes_out: u64,
    /// Bytes held in memory chunks.
    mem_bytes: u64,
    /// An emptied memory buffer kept for the next memory chunk.
    spare: Vec<u8>,
}

impl ChunkQueue {
    pub fn new() -> ChunkQueue {
        ChunkQueue::default()
    }

    /// Bytes still queued.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// The queue's only chunk if it is a file chunk: (file, offset,
    /// length, spilled temp file). mod_deflate caches only such bodies.
    pub fn single_file(&self) -> Option<(&Rc<File>, u64, u64, bool)> {
        match (self.chunks.len(), self.chunks.front()) {
            (
                1,
                Some(Chunk::File {
                    file,
                    off,
                    len,
                    temp,
                    ..
                }),
            ) => Some((file, *off, *len, *temp)),
            _ => None,
        }
    }

    /// Has this queue storage of its own (it had chunks once)?
    pub fn has_storage(&self) -> bool {
        self.chunks.capacity() > 0 || self.spare.capacity() > 0
    }

    /// Drop everything; keeps the deque's allocation and one memory buffer.
    /// Inline: most queues reset are empty already (no call then).
    #[inline]
    pub fn reset(&mut self) {
        if !self.chunks.is_empty() {
            self.drop_chunks();
        }
        self.len = 0;
        self.bytes_in = 0;
        self.bytes_out = 0;
        self.mem_bytes = 0;
    }

    #[inline(never)]
    fn drop_chunks(&mut self) {
        while let Some(chunk) = self.chunks.pop_front() {
            self.recycle(chunk);
        }
    }

    fn account_in(&mut self, n: u64, mem: bool) {
        self.len += n;
        self.bytes_in += n;
        if mem {
            self.mem_bytes += n;
        }
    }

    /// Append a copy of `data`, extending the last memory chunk when small.
    pub fn append_mem(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if let Some(Chunk::Mem { data: last, off }) = self.chunks.back_mut() {
            if last.len() - *off < MEM_COALESCE {
                last.extend_from_slice(data);
                self.account_in(data.len() as u64, true);
                return;
            }
        }
        let _ = self.append_filled(|buf| {
            buf.extend_from_slice(data);
            Ok::<(), ()>(())
        });
    }

    /// Append an owned buffer without copying.
    pub fn append_vec(&mut self, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        self.account_in(data.len() as u64, true);
        self.chunks.push_back(Chunk::Mem { data, off: 0 });
    }

    /// Append a memory chunk that `fill` writes into a (reused, empty)
    /// buffer. On error nothing is appended.
    pub fn append_filled<E>(
        &mut self,
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut buf = std::mem::take(&mut self.spare);
        buf.clear();
        let result = fill(&mut buf);
        if result.is_ok() && !buf.is_empty() {
            self.append_vec(buf);
        } else {
            buf.clear();
            self.spare = buf;
        }
        result
    }

    /// Keep a finished memory chunk's buffer as the spare (one, not too big).
    fn recycle(&mut self, chunk: Chunk) {
        if let Chunk::Mem { data, .. } = chunk {
            if self.spare.capacity() == 0 && data.capacity() <= MEM_COALESCE {
                self.spare = data;
            }
        }
    }

    /// Append `len` bytes of `file` from `off`.
    pub fn append_file(&mut self, file: Rc<File>, off: u64, len: u64) {
        self.append_file_cached(file, off, len, None);
    }

    /// [`ChunkQueue::append_file`] with the file's bytes in memory, if
    /// they are (the whole file: `off` and `len` index it).
    pub fn append_file_cached(
        &mut self,
        file: Rc<File>,
        off: u64,
        len: u64,
        cached: Option<Rc<[u8]>>,
    ) {
        if len == 0 {
            return;
        }
        self.account_in(len, false);
        self.chunks.push_back(Chunk::File {
            file,
            off,
            len,
            temp: false,
            cached,
        });
    }

    /// Append request-body bytes: in memory up to `conf.mem_limit`, then into
    /// unlinked temp files of at most `conf.file_limit` bytes each.
    pub fn append_spilling(&mut self, data: &[u8], conf: &SpillConf) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let spilled = self.chunks.iter().any(|c| matches!(c, Chunk::File { .. }));
        if !spilled && self.mem_bytes + data.len() as u64 <= conf.mem_limit {
            self.append_mem(data);
            return Ok(());
        }
        let mut rest = data;
        while !rest.is_empty() {
            let room = self.temp_room(conf.file_limit);
            if room == 0 {
                let file = create_temp_file(&conf.dirs)?;
                self.chunks.push_back(Chunk::File {
                    file: Rc::new(file),
                    off: 0,
                    len: 0,
                    temp: true,
                    cached: None,
                });
                continue;
            }
            let n = rest.len().min(room as usize);
            self.write_temp_tail(&rest[..n])?;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Free bytes in the last chunk if it is a temp file.
    fn temp_room(&self, file_limit: u64) -> u64 {
        match self.chunks.back() {
            Some(Chunk::File {
                temp: true,
                off,
                len,
                ..
            }) => file_limit.max(1).saturating_sub(off + len),
            _ => 0,
        }
    }

    fn write_temp_tail(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(Chunk::File { file, off, len, .. }) = self.chunks.back_mut() else {
            return Err(io::Error::other("no temp file chunk"));
        };
        file.write_all_at(data, *off + *len)?;
        *len += data.len() as u64;
        self.account_in(data.len() as u64, false);
        Ok(())
    }

    /// Move `other` to the end of this queue, like [`ChunkQueue::append_queue`];
    /// a small all-memory `other` is copied instead (into the last memory
    /// chunk when it has room), so its buffers stay with it for reuse.
    ///
    /// A body that is one small file (a static file) is read with one
    /// `pread` onto the end of the last memory chunk (the response head),
    /// so head and body leave in one write with no copy in between.
    pub fn append_queue_small_copied(&mut self, other: &mut ChunkQueue) {
        if let Some(Chunk::File {
            file,
            off,
            len,
            cached,
            ..
        }) = other.chunks.front()
        {
            let (file, cached) = (file.clone(), cached.clone());
            if other.chunks.len() == 1 && self.read_onto_last(&file, *off, *len, cached.as_deref())
            {
                other.reset();
                return;
            }
        }
        let all_mem = other.chunks.iter().all(|c| matches!(c, Chunk::Mem { .. }));
        if !all_mem || other.len > MEM_COALESCE as u64 {
            self.append_queue(other);
            return;
        }
        for chunk in &other.chunks {
            if let Chunk::Mem { data, off } = chunk {
                self.append_mem(&data[*off..]);
            }
        }
        other.reset();
    }

    /// Reads `len` bytes of `file` at `off` (or copies them from `cached`,
    /// the whole file) onto the end of the last memory chunk, if that
    /// stays within [`MEM_COALESCE`] bytes and the whole range reads; else
    /// nothing changes.
    fn read_onto_last(&mut self, file: &File, off: u64, len: u64, cached: Option<&[u8]>) -> bool {
        let Some(Chunk::Mem { data, off: from }) = self.chunks.back_mut() else {
            return false;
        };
        let start = data.len();
        if len == 0 || len > MEM_COALESCE as u64 || start - *from + len as usize > MEM_COALESCE {
            return false;
        }
        let range = usize::try_from(off)
            .ok()
            .and_then(|a| Some(a..a.checked_add(len as usize)?));
        if let Some(bytes) = range.and_then(|r| cached?.get(r)) {
            data.extend_from_slice(bytes);
            self.account_in(len, true);
            return true;
        }
        data.resize(start + len as usize, 0);
        if file.read_exact_at(&mut data[start..], off).is_err() {
            data.truncate(start);
            return false;
        }
        self.account_in(len, true);
        true
    }

    /// Move every chunk of `other` to the end of this queue.
    pub fn append_queue(&mut self, other: &mut ChunkQueue) {
        self.len += other.len;
        self.bytes_in += other.len;
        self.mem_bytes += other.mem_bytes;
        self.chunks.append(&mut other.chunks);
        other.reset();
    }

    /// Append to `out` the bytes `start..start+len` of this queue (files
    /// by reference, memory copied). Used for Range responses.
    pub fn copy_range(&self, mut start: u64, mut len: u64, out: &mut ChunkQueue) {
        for chunk in &self.chunks {
            if len == 0 {
                break;
            }
            let rem = chunk.remaining();
            if start >= rem {
                start -= rem;
                continue;
            }
            let take = len.min(rem - start);
            match chunk {
                Chunk::Mem { data, off } => {
                    let from = off + start as usize;
                    out.append_mem(&data[from..from + take as usize]);
                }
                Chunk::File {
                    file, off, cached, ..
                } => out.append_file_cached(file.clone(), off + start, take, cached.clone()),
            }
            len -= take;
            start = 0;
        }
    }

    /// Mark `n` bytes from the front as consumed.
    pub fn consume(&mut self, mut n: u64) {
        n = n.min(self.len);
        self.len -= n;
        self.bytes_out += n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let rem = front.remaining();
            let step = n.min(rem);
            match front {
                Chunk::Mem { off, .. } => {
                    *off += step as usize;
                    self.mem_bytes -= step;
                }
                Chunk::File { off, len, .. } => {
                    *off += step;
                    *len -= step;
                }
            }
            n -= step;
            if step == rem {
                if let Some(done) = self.chunks.pop_front() {
                    self.recycle(done);
                }
            }
        }
        while self.chunks.front().is_some_and(|c| c.remaining() == 0) {
            if let Some(done) = self.chunks.pop_front() {
                self.recycle(done);
            }
        }
    }

    /// Copy up to `max` bytes from the front into `out` and consume them
    /// (reading file chunks). Used to hand bodies to handlers.
    pub fn read_into(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let start = out.len();
        while out.len() - start < max {
            let want = max - (out.len() - start);
            let Some(front) = self.chunks.front() else {
                break;
            };
            let n = match front {
                Chunk::Mem { data, off } => {
                    let take = want.min(data.len() - off);
                    out.extend_from_slice(&data[*off..*off + take]);
                    take
                }
                Chunk::File { file, off, len, .. } => {
                    let take = want.min(*len as usize);
                    let at = out.len();
                    out.resize(at + take, 0);
                    file.read_exact_at(&mut out[at..], *off)?;
                    take
                }
            };
            self.consume(n as u64);
        }
        Ok(out.len() - start)
    }

    /// Write as much as the socket takes: consecutive memory chunks with one
    /// `writev`, file chunks with `sendfile`.
    pub fn write_to<S: AsFd>(&mut self, sock: &S) -> io::Result<Written> {
        self.write_to_limited(sock, u64::MAX)
    }

    /// [`ChunkQueue::write_to`], at most `max` bytes (bandwidth limits).
    /// A head before a file body goes out corked, as with lighttpd: the
    /// kernel sends only full segments until the round ends (a 1 MiB GET on
    /// loopback: 22.9 data segments, as lighttpd, against 23.8 with
    /// MSG_MORE on the head alone).
    pub fn write_to_limited<S: AsFd>(&mut self, sock: &S, max: u64) -> io::Result<Written> {
        let cork = matches!(
            (self.chunks.front(), self.chunks.get(1)),
            (Some(Chunk::Mem { .. }), Some(Chunk::File { .. }))
        ) && crate::sys::set_tcp_cork(sock.as_fd(), true).is_ok();
        let written = self.write_all_it_takes(sock, max);
        if cork {
            let _ = crate::sys::set_tcp_cork(sock.as_fd(), false);
        }
        written
    }

    fn write_all_it_takes<S: AsFd>(&mut self, sock: &S, max: u64) -> io::Result<Written> {
        let mut total = 0u64;
        loop {
            let left = max - total;
            let step = match self.chunks.front() {
                None => {
                    return Ok(Written {
                        bytes: total,
                        blocked: false,
                    })
                }
                _ if left == 0 => {
                    return Ok(Written {
                        bytes: total,
                        blocked: false,
                    })
                }
                Some(Chunk::Mem { .. }) => self.writev_front(sock, left),
                Some(Chunk::File { file, off, len, .. }) => {
                    sendfile_chunk(sock, file, *off, (*len).min(left))
                }
            };
            match step {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "write returned 0")),
                Ok(n) => {
                    total += n;
                    self.consume(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Written {
                        bytes: total,
                        blocked: true,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn writev_front<S: AsFd>(&self, sock: &S, max: u64) -> io::Result<u64> {
        // the usual small response: head and body in one memory chunk
        if let (1, Some(Chunk::Mem { data, off })) = (self.chunks.len(), self.chunks.front()) {
            let part = &data[*off..];
            let part = &part[..part.len().min(usize::try_from(max).unwrap_or(usize::MAX))];
            let n = nix::sys::uio::writev(sock.as_fd(), &[IoSlice::new(part)])
                .map_err(io::Error::from)?;
            return Ok(n as u64);
        }
        let mut slices: [IoSlice<'_>; MAX_IOVECS] = [IoSlice::new(&[]); MAX_IOVECS];
        let mut count = 0;
        let mut left = usize::try_from(max).unwrap_or(usize::MAX);
        for chunk in self.chunks.iter().take(MAX_IOVECS) {
            match chunk {
                Chunk::Mem { data, off } if left > 0 => {
                    let part = &data[*off..];
                    let part = &part[..part.len().min(left)];
                    left -= part.len();
                    slices[count] = IoSlice::new(part);
                    count += 1;
                }
                _ => break,
            }
        }
        let n = nix::sys::uio::writev(sock.as_fd(), &slices[..count]).map_err(io::Error::from)?;
        Ok(n as u64)
    }

    /// Copy the whole queue into a writer (blocking; for `-1` mode on a pipe
    /// and tests).
    pub fn copy_to<W: Write>(&mut self, w: &mut W) -> io::Result<()> {
        let mut buf = Vec::with_capacity(8192);
        while !self.is_empty() {
            buf.clear();
            self.read_into(&mut buf, 64 * 1024)?;
            w.write_all(&buf)?;
        }
        Ok(())
    }
}

fn sendfile_chunk<S: AsFd>(sock: &S, file: &File, off: u64, len: u64) -> io::Result<u64> {
    let mut offset = off as libc::off64_t;
    let count = len.min(SENDFILE_MAX as u64) as usize;
    let n = nix::sys::sendfile::sendfile64(sock.as_fd(), file.as_fd(), Some(&mut offset), count)
        .map_err(io::Error::from)?;
    if n == 0 {
        // The file shrank under us: the promised length cannot be sent.
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file truncated while sending",
        ));
    }
    Ok(n as u64)
}

/// Create an unlinked temp file in the first usable directory.
fn create_temp_file(dirs: &[PathBuf]) -> io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut last_err = io::Error::new(io::ErrorKind::NotFound, "no server.upload-dirs usable");
    for dir in dirs {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("lighttpd-upload-{}-{seq}", std::process::id()));
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match opened {
            Ok(file) => {
                let _ = std::fs::remove_file(&path);
                return Ok(file);
            }
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    fn temp_file_with(content: &[u8]) -> File {
        let f = create_temp_file(&[std::env::temp_dir()]).unwrap();
        f.write_all_at(content, 0).unwrap();
        f
    }

    #[test]
    fn memory_chunks_coalesce_and_consume() {
        let mut q = ChunkQueue::new();
        q.append_mem(b"abc");
        q.append_mem(b"def");
        assert_eq!(q.len(), 6);
        q.consume(4);
        let mut out = Vec::new();
        q.read_into(&mut out, 100).unwrap();
        assert_eq!(out, b"ef");
        assert!(q.is_empty());
        assert_eq!(q.bytes_out(), 6);
    }

    #[test]
    fn a_head_before_a_file_goes_out_corked_and_the_socket_is_uncorked_after() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sock = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let file = Rc::new(temp_file_with(b"0123456789"));
        let mut q = ChunkQueue::new();
        q.append_mem(b"head:");
        q.append_file(file, 2, 5);
        let w = q.write_to(&sock).unwrap();
        assert_eq!((w.bytes, w.blocked), (10, false));
        let corked = crate::sys::tcp_corked(sock.as_fd()).unwrap();
        assert!(!corked, "left corked: the tail would wait");
        let mut got = [0u8; 10];
        peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"head:23456");
    }

    #[test]
    fn a_small_file_body_is_read_behind_the_head() {
        let file = Rc::new(temp_file_with(b"0123456789"));
        let mut q = ChunkQueue::new();
        q.append_mem(b"head:");
        let mut body = ChunkQueue::new();
        body.append_file(file.clone(), 2, 5);
        q.append_queue_small_copied(&mut body);
        assert!(body.is_empty());
        assert_eq!((q.chunks.len(), q.len(), q.mem_bytes), (1, 10, 10));
        let mut out = Vec::new();
        q.read_into(&mut out, 100).unwrap();
        assert_eq!(out, b"head:23456");
        // bytes the stat cache holds are copied, not read
        let mut q = ChunkQueue::new();
        q.append_mem(b"head:");
        let cached: Rc<[u8]> = Rc::from(&b"ABCDEFGHIJ"[..]);
        body.append_file_cached(file.clone(), 2, 5, Some(cached));
        q.append_queue_small_copied(&mut body);
        let mut out = Vec::new();
        q.read_into(&mut out, 100).unwrap();
        assert_eq!(out, b"head:CDEFG");
        // past the file's end: stays a file chunk (its write fails later)
        let mut q = ChunkQueue::new();
        q.append_mem(b"head:");
        body.append_file(file, 8, 5);
        q.append_queue_small_copied(&mut body);
        assert_eq!((q.chunks.len(), q.len(), q.mem_bytes), (2, 10, 5));
    }

    #[test]
    fn write_to_sends_memory_and_file_in_order() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut q = ChunkQueue::new();
        q.append_mem(b"head\r\n\r\n");
        q.append_file(Rc::new(temp_file_with(b"0123456789")), 2, 5);
        q.append_mem(b"tail");
        let w = q.write_to(&a).unwrap();
        assert_eq!(
            w,
            Written {
                bytes: 17,
                blocked: false
            }
        );
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"head\r\n\r\n23456tail");
    }

    #[test]
    fn write_to_limited_stops_at_the_limit_in_memory_and_files() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut q = ChunkQueue::new();
        q.append_mem(b"head");
        q.append_mem(b"er");
        q.append_file(Rc::new(temp_file_with(b"0123456789")), 2, 5);
        let w = q.write_to_limited(&a, 3).unwrap();
        assert_eq!((w.bytes, w.blocked), (3, false));
        let w = q.write_to_limited(&a, 5).unwrap();
        assert_eq!((w.bytes, w.blocked), (5, false));
        let w = q.write_to_limited(&a, 100).unwrap();
        assert_eq!((w.bytes, w.blocked, q.is_empty()), (3, false, true));
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"header23456");
    }

    #[test]
    fn write_to_reports_blocking() {
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut q = ChunkQueue::new();
        q.append_vec(vec![7u8; 8 << 20]);
        let w = q.write_to(&a).unwrap();
        assert!(w.blocked);
        assert!(w.bytes < 8 << 20);
        assert_eq!(q.len(), (8 << 20) - w.bytes);
    }

    #[test]
    fn copy_range_spans_chunks() {
        let mut q = ChunkQueue::new();
        q.append_vec(b"0123".to_vec());
        q.append_file(Rc::new(temp_file_with(b"456789")), 0, 6);
        let mut out = ChunkQueue::new();
        q.copy_range(2, 5, &mut out);
        let mut got = Vec::new();
        out.read_into(&mut got, 100).unwrap();
        assert_eq!(got, b"23456");
        assert_eq!(q.len(), 10);
    }

    #[test]
    fn truncated_file_is_an_error() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut q = ChunkQueue::new();
        q.append_file(Rc::new(temp_file_with(b"abc")), 0, 10);
        assert!(q.write_to(&a).is_err());
    }

    #[test]
    fn bodies_spill_to_temp_files_in_order() {
        let conf = SpillConf {
            dirs: vec![PathBuf::from("/nonexistent-dir"), std::env::temp_dir()],
            mem_limit: 4,
            file_limit: 5,
        };
        let mut q = ChunkQueue::new();
        q.append_spilling(b"ab", &conf).unwrap();
        q.append_spilling(b"cdefghijklm", &conf).unwrap();
        assert_eq!(q.len(), 13);
        assert!(
            q.chunks
                .iter()
                .filter(|c| matches!(c, Chunk::File { .. }))
                .count()
                >= 2
        );
        let mut out = Vec::new();
        q.read_into(&mut out, 1000).unwrap();
        assert_eq!(out, b"abcdefghijklm");
    }

    #[test]
    fn spilling_without_usable_dir_fails() {
        let conf = SpillConf {
            dirs: vec![PathBuf::from("/nonexistent-dir")],
            mem_limit: 1,
            file_limit: 5,
        };
        let mut q = ChunkQueue::new();
        assert!(q.append_spilling(b"abc", &conf).is_err());
    }
}
