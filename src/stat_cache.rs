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

use std::cell::{Cell, OnceCell, RefCell};
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

/// What is known of the file at a path (lighttpd `stat_cache_entry`): its
/// metadata as checked in one second, and, once asked for, its open fd
/// and its bytes. A request keeps the entry its lookup found and uses it
/// for as long as it serves that path (lighttpd `r->tmp_sce`); the cache
/// replaces an entry rather than changing it, so what a request holds
/// stays consistent.
#[derive(Debug)]
pub struct Entry {
    path: Rc<str>,
    meta: Metadata,
    /// Second the metadata was checked.
    checked: i64,
    /// Second the entry was last looked up.
    used: Cell<i64>,
    /// In the cache's table: its fd and bytes are kept for later requests
    /// (not so with the engine disabled, nor for a file that changed
    /// between the stat and the open).
    kept: bool,
    /// The open file (regular files only, opened on first demand).
    file: OnceCell<Rc<File>>,
    /// The file's bytes (small files of kept entries, read on first demand).
    contents: OnceCell<Rc<[u8]>>,
}

impl Entry {
    fn new(path: Rc<str>, meta: Metadata, now: i64, kept: bool) -> Entry {
        Entry {
            path,
            meta,
            checked: now,
            used: Cell::new(now),
            kept,
            file: OnceCell::new(),
            contents: OnceCell::new(),
        }
    }

    /// The path looked up.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `stat(2)` of the path (symlinks followed).
    pub fn meta(&self) -> &Metadata {
        &self.meta
    }

    /// The file opened for reading, and the entry describing what was
    /// opened: this one, whose fd is kept (and shared) while the file
    /// stays the same; or, for a file that is not regular or is not the
    /// one this entry describes any more, a new entry (from `fstat`) with
    /// the fd opened now and kept nowhere.
    pub fn open(self: &Rc<Self>) -> io::Result<(Rc<File>, Rc<Entry>)> {
        if let Some(f) = self.file.get() {
            return Ok((f.clone(), self.clone()));
        }
        let file = Rc::new(open_nonblocking(&self.path)?);
        let meta = file.metadata()?;
        if !meta.is_file() || !same_file(&self.meta, &meta) {
            let opened = Entry::new(self.path.clone(), meta, self.checked, false);
            let _ = opened.file.set(file.clone());
            return Ok((file, Rc::new(opened)));
        }
        let _ = self.file.set(file.clone());
        Ok((file, self.clone()))
    }
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Rc<str>, Rc<Entry>, rustc_hash::FxBuildHasher>,
    /// The second of the last [`tick`] (0: none yet, read the clock).
    now: i64,
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
    /// The valid entry for `path`: one hash lookup if it was checked this
    /// second, else one `stat`. A file found the same again keeps its fd
    /// and bytes; a changed or vanished one loses them.
    fn lookup(&mut self, path: &str, now: i64) -> io::Result<Rc<Entry>> {
        if self.disabled {
            let meta = std::fs::metadata(path)?;
            return Ok(Rc::new(Entry::new(path.into(), meta, now, false)));
        }
        let old = match self.entries.get(path) {
            Some(e) if e.checked == now => {
                e.used.set(now);
                return Ok(e.clone());
            }
            Some(e) => e.clone(),
            None => {
                let meta = std::fs::metadata(path)?;
                return Ok(self.insert(Entry::new(path.into(), meta, now, true)));
            }
        };
        match std::fs::metadata(path) {
            Ok(meta) if same_file(&old.meta, &meta) => {
                let mut fresh = Entry::new(old.path.clone(), meta, now, true);
                fresh.file = old.file.clone();
                fresh.contents = old.contents.clone();
                Ok(self.insert(fresh))
            }
            found => {
                self.forget(path);
                let meta = found?;
                Ok(self.insert(Entry::new(path.into(), meta, now, true)))
            }
        }
    }

    /// Stores (or replaces) the entry of its path.
    fn insert(&mut self, entry: Entry) -> Rc<Entry> {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&entry.path) {
            self.entries.clear();
            self.cached_bytes = 0;
        }
        let entry = Rc::new(entry);
        self.entries.insert(entry.path.clone(), entry.clone());
        entry
    }

    fn prune(&mut self, now: i64) {
        self.entries.retain(|_, e| now - e.used.get() <= MAX_AGE);
        self.cached_bytes = self
            .entries
            .values()
            .filter_map(|e| e.contents.get())
            .map(|c| c.len())
            .sum();
    }

    /// Drops the entry of `path` (its file changed or is gone).
    fn forget(&mut self, path: &str) {
        if let Some(e) = self.entries.remove(path) {
            let held = e.contents.get().map_or(0, |c| c.len());
            self.cached_bytes = self.cached_bytes.saturating_sub(held);
        }
    }

    /// See [`contents`].
    fn contents(&mut self, e: &Entry) -> Option<Rc<[u8]>> {
        if let Some(c) = e.contents.get() {
            return Some(c.clone());
        }
        let len = e.meta.len();
        let size = usize::try_from(len).ok()?;
        let file = e.file.get().filter(|_| e.kept)?;
        if len == 0 || len > MAX_CACHED_FILE || self.cached_bytes + size > MAX_CACHED_BYTES {
            return None;
        }
        let mut bytes = vec![0u8; size];
        file.read_exact_at(&mut bytes, 0).ok()?;
        let bytes: Rc<[u8]> = bytes.into();
        e.contents.set(bytes.clone()).ok()?;
        self.cached_bytes += size;
        Some(bytes)
    }
}

/// The entry of `path` (`stat(2)`, following symlinks), cached for the
/// current second.
pub fn lookup(path: &str) -> io::Result<Rc<Entry>> {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let now = cache.now();
        cache.lookup(path, now)
    })
}

/// The bytes of the small regular file of an opened entry ([`Entry::open`]),
/// kept with it: read once from its fd. None for entries not kept, large
/// files, or when the cache holds its share already.
pub fn contents(e: &Entry) -> Option<Rc<[u8]>> {
    if let Some(c) = e.contents.get() {
        return Some(c.clone());
    }
    if !e.kept || e.meta.len() == 0 || e.meta.len() > MAX_CACHED_FILE {
        return None;
    }
    CACHE.with(|c| c.borrow_mut().contents(e))
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

/// `path` looked up and opened ([`lookup`], [`Entry::open`]).
pub fn open(path: &str) -> io::Result<(Rc<File>, Rc<Entry>)> {
    lookup(path)?.open()
}

/// Applies `server.stat-cache-engine`: "disable" (or "none") keeps
/// nothing from one lookup to the next; anything else caches. Drops what
/// was kept (a reloaded configuration starts afresh).
pub fn configure(engine: &str) {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        cache.entries.clear();
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

    /// `path` looked up and opened at second `now`.
    fn open_at(c: &mut Cache, path: &str, now: i64) -> (Rc<File>, Rc<Entry>) {
        c.lookup(path, now).unwrap().open().unwrap()
    }

    #[test]
    fn same_second_reuses_the_fd_and_next_second_rechecks() {
        let mut c = Cache::default();
        let path = temp_file("a.txt", b"one");
        let (f1, e1) = open_at(&mut c, &path, 100);
        let (f2, e2) = open_at(&mut c, &path, 100);
        assert!(Rc::ptr_eq(&f1, &f2));
        assert!(Rc::ptr_eq(&e1, &e2), "one lookup's entry");
        assert_eq!(e1.meta().len(), 3);
        assert_eq!(e1.path(), path);
        // Replaced by a longer file: within the second the entry is trusted,
        // in the next one the change is seen and the file reopened.
        std::fs::write(&path, b"three").unwrap();
        assert_eq!(c.lookup(&path, 100).unwrap().meta().len(), 3);
        let (f3, e3) = open_at(&mut c, &path, 101);
        assert_eq!(e3.meta().len(), 5);
        assert!(!Rc::ptr_eq(&f1, &f3));
        let mut buf = [0u8; 5];
        f3.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"three");
        // what an earlier request holds stays as it found it
        assert_eq!(e1.meta().len(), 3);
    }

    #[test]
    fn an_unchanged_file_keeps_its_fd_across_seconds() {
        let mut c = Cache::default();
        let path = temp_file("k.txt", b"same");
        let (f1, e1) = open_at(&mut c, &path, 150);
        assert_eq!(&contents_of(&mut c, &e1)[..], b"same");
        let (f2, e2) = open_at(&mut c, &path, 151);
        assert!(Rc::ptr_eq(&f1, &f2));
        assert!(!Rc::ptr_eq(&e1, &e2), "re-checked: a new entry");
        assert_eq!(e2.checked, 151);
        assert!(Rc::ptr_eq(
            e1.contents.get().unwrap(),
            e2.contents.get().unwrap()
        ));
        assert_eq!(c.cached_bytes, 4);
    }

    /// The bytes of an opened entry, through `c`.
    fn contents_of(c: &mut Cache, e: &Entry) -> Rc<[u8]> {
        c.contents(e).unwrap()
    }

    #[test]
    fn a_file_replaced_between_stat_and_open_is_not_kept() {
        let mut c = Cache::default();
        let path = temp_file("r.txt", b"one");
        let e = c.lookup(&path, 170).unwrap();
        std::fs::write(&path, b"three").unwrap();
        let (f, opened) = e.open().unwrap();
        assert_eq!(opened.meta().len(), 5, "what was opened");
        assert!(!Rc::ptr_eq(&e, &opened));
        assert!(e.file.get().is_none());
        assert!(c.contents(&opened).is_none());
        let mut buf = [0u8; 5];
        f.read_exact_at(&mut buf, 0).unwrap();
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
        assert!(c.entries.is_empty());
        std::fs::write(&path, b"back").unwrap();
        assert_eq!(c.lookup(&path, 201).unwrap().meta().len(), 4);
    }

    #[test]
    fn directories_are_looked_up_and_not_kept_open() {
        let mut c = Cache::default();
        let dir = std::env::temp_dir();
        let e = c.lookup(dir.to_str().unwrap(), 250).unwrap();
        assert!(e.meta().is_dir());
        let (_, opened) = e.open().unwrap();
        assert!(opened.meta().is_dir());
        assert!(e.file.get().is_none());
    }

    #[test]
    fn small_files_bytes_are_kept_with_their_entry() {
        let mut c = Cache::default();
        let path = temp_file("f.txt", b"small body");
        let (_, e) = open_at(&mut c, &path, 500);
        let a = contents_of(&mut c, &e);
        assert_eq!(&a[..], b"small body");
        let (_, e) = open_at(&mut c, &path, 500);
        let b = contents_of(&mut c, &e);
        assert!(Rc::ptr_eq(&a, &b));
        assert_eq!(c.cached_bytes, 10);
        // changed (size): the next second's check drops the old bytes
        std::fs::write(&path, b"a longer body").unwrap();
        let (_, e) = open_at(&mut c, &path, 501);
        assert_eq!(&contents_of(&mut c, &e)[..], b"a longer body");
        assert_eq!(c.cached_bytes, 13);
        drop(e);
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
            let (_, e) = open_at(&mut c, &path, 600);
            kept += usize::from(c.contents(&e).is_some());
        }
        assert_eq!(kept, MAX_CACHED_BYTES / body.len());
        assert!(c.cached_bytes <= MAX_CACHED_BYTES);
        let big = temp_file("big.bin", &vec![b'y'; MAX_CACHED_FILE as usize + 1]);
        let (_, e) = open_at(&mut c, &big, 600);
        assert!(contents(&e).is_none());
    }

    #[test]
    fn a_disabled_cache_stats_and_opens_every_time() {
        let mut c = Cache {
            disabled: true,
            ..Cache::default()
        };
        let path = temp_file("h.txt", b"one");
        let (f1, e1) = open_at(&mut c, &path, 700);
        assert_eq!(e1.meta().len(), 3);
        assert!(c.contents(&e1).is_none());
        std::fs::write(&path, b"three").unwrap();
        let (f2, e2) = open_at(&mut c, &path, 700);
        assert_eq!(
            e2.meta().len(),
            5,
            "the change is seen within the same second"
        );
        assert!(!Rc::ptr_eq(&f1, &f2));
        assert!(c.entries.is_empty());
    }

    #[test]
    fn unused_entries_are_dropped() {
        let mut c = Cache::default();
        let path = temp_file("c.txt", b"x");
        let (f, e) = open_at(&mut c, &path, 300);
        drop(e);
        assert_eq!(Rc::strong_count(&f), 2);
        c.prune(300 + MAX_AGE + 1);
        assert_eq!(Rc::strong_count(&f), 1);
        assert!(c.entries.is_empty());
    }

    #[test]
    fn a_full_table_starts_over() {
        let mut c = Cache::default();
        let path = temp_file("m.txt", b"x");
        let e = c.lookup(&path, 800).unwrap();
        for i in 1..MAX_ENTRIES {
            c.insert(Entry::new(
                format!("/fake/{i}").into(),
                e.meta.clone(),
                800,
                true,
            ));
        }
        assert_eq!(c.entries.len(), MAX_ENTRIES);
        c.lookup(&temp_file("n.txt", b"y"), 800).unwrap();
        assert_eq!(c.entries.len(), 1);
    }
}
