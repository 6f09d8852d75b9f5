//! The stat cache (lighttpd src/stat_cache.c, engine "simple"): the
//! metadata of files served lately and their open descriptors, so a file
//! asked for again within the same second costs no `stat`, `open` or
//! `close` — only a `pread` or `sendfile` on the kept fd. An entry is
//! trusted for the second it was checked in (as lighttpd trusts
//! `sce->stat_ts == log_epoch_secs`); in a later second one `stat` confirms
//! it, and a changed file (device, inode, size, mtime) is opened afresh.
//! Failures are never cached. Per process, single-threaded (a thread local).
//! `server.stat-cache-engine = "disable"` ([`configure`]) turns all of it
//! off: every lookup stats, every open opens (lighttpd's "disable"; its
//! "inotify" and "fam" engines are taken as "simple").
//! A small regular file's bytes are kept with its entry too (at most
//! [`MAX_CACHED_FILE`] each and [`MAX_CACHED_BYTES`] in all), so serving it
//! again costs no `pread`; they live and die with the entry, so they are
//! exactly as fresh as its metadata (lighttpd has no such cache and reads
//! each time).
//! The current second is the one the server's tick last saw (lighttpd's
//! `log_epoch_secs`), so a hit reads no clock; paths are hashed with a
//! small multiplicative hash (FxHash, the rustc-hash crate) instead of SipHash: the keys are
//! file names, not a way for clients to make a table degenerate beyond
//! [`MAX_ENTRIES`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::rc::Rc;

/// Most entries kept; beyond this the cache starts over.
const MAX_ENTRIES: usize = 512;
/// Entries not used for this many seconds are dropped by [`tick`].
const MAX_AGE: i64 = 2;
/// Largest file whose bytes are kept (with a response head it still fits
/// the 16 KiB buffer it is written from).
pub const MAX_CACHED_FILE: u64 = 12 * 1024;
/// Most file bytes kept in all.
const MAX_CACHED_BYTES: usize = 512 * 1024;

#[derive(Clone)]
struct Entry {
    meta: Metadata,
    /// Second the metadata was last checked.
    checked: i64,
    /// Second the entry was last used.
    used: i64,
    /// The open file (regular files only, opened on first demand).
    file: Option<Rc<File>>,
    /// The file's bytes (small files, read on first demand).
    contents: Option<Rc<[u8]>>,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<String, Entry, rustc_hash::FxBuildHasher>,
    /// The second of the last [`tick`] (0: none yet, read the clock).
    now: i64,
    /// A copy of the entry used last (a request looks its file up twice:
    /// the existence check, then the handler's open): a repeat within the
    /// same second compares one string instead of hashing. Cleared by
    /// every change to `entries`.
    last: Option<Entry>,
    /// The path of `last` (its buffer is kept when `last` is cleared, so
    /// remembering another path does not allocate).
    last_path: String,
    /// Bytes held in entries' `contents` (recounted by `prune`).
    cached_bytes: usize,
    /// `server.stat-cache-engine = "disable"`: nothing is kept.
    disabled: bool,
}

impl Cache {
    fn now(&self) -> i64 {
        if self.now == 0 {
            now_secs()
        } else {
            self.now
        }
    }
}

/// The current second (vDSO clock, no system call).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The same file as before: nothing that lighttpd's etag or the length
/// depends on changed.
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev()
        && a.ino() == b.ino()
        && a.len() == b.len()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && a.mode() == b.mode()
}

impl Cache {
    /// The valid entry for `path`, re-checked with one stat if it is from
    /// an earlier second.
    /// `use_it` on the valid entry for `path` (see [`Cache::lookup`]); an
    /// entry checked this second costs one hash lookup.
    fn with_entry<R>(
        &mut self,
        path: &str,
        now: i64,
        use_it: impl FnOnce(&mut Entry) -> R,
    ) -> io::Result<R> {
        if self.disabled {
            let mut fresh = Entry {
                meta: std::fs::metadata(path)?,
                checked: now,
                used: now,
                file: None,
                contents: None,
            };
            return Ok(use_it(&mut fresh));
        }
        if let Some(e) = self.remembered(path).filter(|e| e.checked == now) {
            return Ok(use_it(e));
        }
        match self.entries.get_mut(path) {
            Some(e) if e.checked == now => {
                e.used = now;
                let r = use_it(e);
                self.remember(path);
                return Ok(r);
            }
            Some(_) => {}
            None => {
                let meta = std::fs::metadata(path)?;
                return Ok(use_it(self.insert(path, meta, now)));
            }
        }
        self.lookup(path, now).map(use_it)
    }

    /// Makes the entry of `path` the remembered one.
    fn remember(&mut self, path: &str) {
        self.last = self.entries.get(path).cloned();
        if self.last_path != path {
            self.last_path.clear();
            self.last_path.push_str(path);
        }
    }

    /// The remembered entry, if it is the one of `path`.
    fn remembered(&mut self, path: &str) -> Option<&mut Entry> {
        self.last.as_mut().filter(|_| self.last_path == path)
    }

    fn lookup(&mut self, path: &str, now: i64) -> io::Result<&mut Entry> {
        self.last = None;
        let fresh = match self.entries.get(path) {
            Some(e) if e.checked == now => None,
            Some(e) => match std::fs::metadata(path) {
                Ok(m) if same_file(&e.meta, &m) => Some(m),
                Ok(m) => {
                    self.forget(path);
                    Some(m)
                }
                Err(err) => {
                    self.forget(path);
                    return Err(err);
                }
            },
            None => Some(std::fs::metadata(path)?),
        };
        if let Some(meta) = fresh {
            return Ok(self.insert(path, meta, now));
        }
        let e = self
            .entries
            .get_mut(path)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        e.used = now;
        Ok(e)
    }

    /// Stores (or refreshes) the entry for `path` with metadata checked now.
    fn insert(&mut self, path: &str, meta: Metadata, now: i64) -> &mut Entry {
        self.last = None;
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(path) {
            self.entries.clear();
            self.cached_bytes = 0;
        }
        let e = self.entries.entry(path.to_string()).or_insert(Entry {
            meta: meta.clone(),
            checked: now,
            used: now,
            file: None,
            contents: None,
        });
        e.meta = meta;
        e.checked = now;
        e.used = now;
        e
    }

    /// See [`open`].
    fn open(&mut self, path: &str, now: i64) -> io::Result<(Rc<File>, Metadata)> {
        if self.last.as_ref().is_some_and(|e| e.file.is_none()) {
            // the fd is to be kept in the entry itself, not in the copy
            self.last = None;
        }
        self.with_entry(path, now, |e| Self::open_entry(e, path))?
    }

    /// The kept fd of an entry, opened (and kept if still the same file).
    fn open_entry(e: &mut Entry, path: &str) -> io::Result<(Rc<File>, Metadata)> {
        if let Some(f) = &e.file {
            return Ok((f.clone(), e.meta.clone()));
        }
        let file = open_nonblocking(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() || !same_file(&e.meta, &meta) {
            return Ok((Rc::new(file), meta));
        }
        let file = Rc::new(file);
        e.file = Some(file.clone());
        Ok((file, meta))
    }

    fn prune(&mut self, now: i64) {
        self.last = None;
        self.entries.retain(|_, e| now - e.used <= MAX_AGE);
        self.cached_bytes = self
            .entries
            .values()
            .filter_map(|e| e.contents.as_ref())
            .map(|c| c.len())
            .sum();
    }

    /// Drops the entry of `path` (its file changed or is gone).
    fn forget(&mut self, path: &str) {
        if let Some(e) = self.entries.remove(path) {
            let held = e.contents.map_or(0, |c| c.len());
            self.cached_bytes = self.cached_bytes.saturating_sub(held);
        }
    }

    /// See [`contents`].
    fn contents(&mut self, path: &str, len: u64) -> Option<Rc<[u8]>> {
        if self.disabled {
            return None;
        }
        if let Some(c) = self.remembered(path).and_then(|e| e.contents.clone()) {
            return Some(c).filter(|c| c.len() as u64 == len);
        }
        let e = self.entries.get_mut(path)?;
        if e.contents.is_none() {
            let file = e.file.as_ref().filter(|_| e.meta.len() == len)?;
            let size = usize::try_from(len).ok()?;
            if len == 0 || len > MAX_CACHED_FILE || self.cached_bytes + size > MAX_CACHED_BYTES {
                return None;
            }
            let mut bytes = vec![0u8; size];
            file.read_exact_at(&mut bytes, 0).ok()?;
            e.contents = Some(bytes.into());
            self.cached_bytes += size;
        }
        let contents = e.contents.clone().filter(|c| c.len() as u64 == len);
        self.remember(path);
        contents
    }
}

/// `stat(2)` of `path` (following symlinks), cached for the current second.
pub fn metadata(path: &str) -> io::Result<Metadata> {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let now = cache.now();
        cache.with_entry(path, now, |e| e.meta.clone())
    })
}

/// The bytes of the small regular file at `path`, `len` long, kept with
/// its entry: call right after [`open`] (whose kept fd they are read
/// from, once). None for files not kept open, large files, or when the
/// cache holds its share already.
pub fn contents(path: &str, len: u64) -> Option<Rc<[u8]>> {
    if len == 0 || len > MAX_CACHED_FILE {
        return None;
    }
    CACHE.with(|c| c.borrow_mut().contents(path, len))
}

/// `path` opened for reading without waiting: O_NONBLOCK, so a FIFO (or a
/// device) named by a request never blocks the event loop in open(2); it has
/// no effect on reading regular files.
pub fn open_nonblocking(path: &str) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// `path` opened for reading with its metadata; the fd is kept (and
/// shared) while the file stays the same. Non-regular files are opened
/// each time and not kept.
pub fn open(path: &str) -> io::Result<(Rc<File>, Metadata)> {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let now = cache.now();
        cache.open(path, now)
    })
}

/// Applies `server.stat-cache-engine`: "disable" (or "none") keeps
/// nothing from one lookup to the next; anything else caches. Drops what
/// was kept (a reloaded configuration starts afresh).
pub fn configure(engine: &str) {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        cache.entries.clear();
        cache.last = None;
        cache.cached_bytes = 0;
        // the current second until the server's first tick (else every
        // lookup in the first second after start reads the clock)
        cache.now = now_secs();
        // blanks around the value are accepted as the config check accepts them
        cache.disabled = matches!(
            engine.trim_matches([' ', '\t', '\r', '\n']),
            "disable" | "none"
        );
    });
}

/// The server's 1 s tick (run when the second changes): the new current
/// second; drop entries (and their fds) unused for a while.
pub fn tick() {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        cache.now = now_secs();
        let now = cache.now;
        cache.prune(now);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileExt;

    fn temp_file(name: &str, body: &[u8]) -> String {
        let dir = std::env::temp_dir().join(format!("lrs-statcache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(body)
            .unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn same_second_reuses_the_fd_and_next_second_rechecks() {
        let mut c = Cache::default();
        let path = temp_file("a.txt", b"one");
        let (f1, m1) = c.open(&path, 100).unwrap();
        let (f2, _) = c.open(&path, 100).unwrap();
        assert!(Rc::ptr_eq(&f1, &f2));
        assert_eq!(m1.len(), 3);
        // Replaced by a longer file: within the second the entry is trusted,
        // in the next one the change is seen and the file reopened.
        std::fs::write(&path, b"three").unwrap();
        assert_eq!(c.lookup(&path, 100).unwrap().meta.len(), 3);
        let (f3, m3) = c.open(&path, 101).unwrap();
        assert_eq!(m3.len(), 5);
        assert!(!Rc::ptr_eq(&f1, &f3));
        let mut buf = [0u8; 5];
        f3.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"three");
    }

    #[test]
    fn removed_files_are_noticed_next_second_and_errors_not_cached() {
        let mut c = Cache::default();
        let path = temp_file("b.txt", b"x");
        assert!(c.lookup(&path, 200).is_ok());
        std::fs::remove_file(&path).unwrap();
        let err = c.lookup(&path, 201).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::NotFound));
        std::fs::write(&path, b"back").unwrap();
        assert_eq!(c.lookup(&path, 201).unwrap().meta.len(), 4);
    }

    #[test]
    fn the_remembered_entry_keeps_the_fd_and_follows_changes() {
        let mut c = Cache::default();
        let path = temp_file("d.txt", b"one");
        let m = c.with_entry(&path, 400, |e| e.meta.len()).unwrap();
        assert_eq!(m, 3);
        let (f1, _) = c.open(&path, 400).unwrap();
        let (f2, _) = c.open(&path, 400).unwrap();
        assert!(Rc::ptr_eq(&f1, &f2));
        assert!(c.last.as_ref().is_some_and(|e| e.file.is_some()));
        let other = temp_file("e.txt", b"other");
        assert_eq!(c.with_entry(&other, 400, |e| e.meta.len()).unwrap(), 5);
        let (f3, _) = c.open(&path, 400).unwrap();
        assert!(Rc::ptr_eq(&f1, &f3));
        // alternating files reuse the remembered path's buffer
        let buffer = c.last_path.as_ptr();
        for p in [&other, &path, &other, &path] {
            c.with_entry(p, 400, |_| ()).unwrap();
            assert_eq!(&c.last_path, p);
        }
        assert_eq!(c.last_path.as_ptr(), buffer);
        std::fs::write(&path, b"three").unwrap();
        let (f4, m4) = c.open(&path, 401).unwrap();
        assert_eq!(m4.len(), 5);
        assert!(!Rc::ptr_eq(&f1, &f4));
        c.prune(401 + MAX_AGE + 1);
        assert!(c.last.is_none());
        assert_eq!(Rc::strong_count(&f4), 1);
    }

    #[test]
    fn small_files_bytes_are_kept_with_their_entry() {
        let mut c = Cache::default();
        let path = temp_file("f.txt", b"small body");
        let (_, m) = c.open(&path, 500).unwrap();
        let a = c.contents(&path, m.len()).unwrap();
        assert_eq!(&a[..], b"small body");
        let b = c.contents(&path, m.len()).unwrap();
        assert!(Rc::ptr_eq(&a, &b));
        assert_eq!(c.cached_bytes, 10);
        assert!(
            c.contents(&path, 3).is_none(),
            "a length that is not the file's"
        );
        // changed (size): the next second's check drops the old bytes
        std::fs::write(&path, b"a longer body").unwrap();
        let (_, m) = c.open(&path, 501).unwrap();
        assert_eq!(&c.contents(&path, m.len()).unwrap()[..], b"a longer body");
        assert_eq!(c.cached_bytes, 13);
        c.prune(501 + MAX_AGE + 1);
        assert_eq!(c.cached_bytes, 0);
    }

    #[test]
    fn the_cached_bytes_are_bounded() {
        let mut c = Cache::default();
        let body = vec![b'x'; MAX_CACHED_FILE as usize];
        let mut kept = 0;
        for i in 0..(MAX_CACHED_BYTES / body.len() + 3) {
            let path = temp_file(&format!("g{i}.bin"), &body);
            let (_, m) = c.open(&path, 600).unwrap();
            kept += usize::from(c.contents(&path, m.len()).is_some());
        }
        assert_eq!(kept, MAX_CACHED_BYTES / body.len());
        assert!(c.cached_bytes <= MAX_CACHED_BYTES);
        let big = temp_file("big.bin", &vec![b'y'; MAX_CACHED_FILE as usize + 1]);
        let (_, m) = c.open(&big, 600).unwrap();
        assert!(c.contents(&big, m.len()).is_none());
    }

    #[test]
    fn a_disabled_cache_stats_and_opens_every_time() {
        let mut c = Cache {
            disabled: true,
            ..Cache::default()
        };
        let path = temp_file("h.txt", b"one");
        let (f1, m1) = c.open(&path, 700).unwrap();
        assert_eq!(m1.len(), 3);
        assert!(c.contents(&path, 3).is_none());
        std::fs::write(&path, b"three").unwrap();
        let (f2, m2) = c.open(&path, 700).unwrap();
        assert_eq!(m2.len(), 5, "the change is seen within the same second");
        assert!(!Rc::ptr_eq(&f1, &f2));
        assert!(c.entries.is_empty());
    }

    #[test]
    fn unused_entries_are_dropped() {
        let mut c = Cache::default();
        let path = temp_file("c.txt", b"x");
        let (f, _) = c.open(&path, 300).unwrap();
        assert_eq!(Rc::strong_count(&f), 2);
        c.prune(300 + MAX_AGE + 1);
        assert_eq!(Rc::strong_count(&f), 1);
    }
}
