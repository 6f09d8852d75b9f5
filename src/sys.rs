//! The only `unsafe` code of lighttpd-rs: the few system calls that nix and
//! libc leave unsafe — the signal handler (with the sender's uid and pid from
//! its siginfo) and its installation, `fork`,
//! adopting inherited file descriptors (systemd socket activation),
//! `TCP_CORK` (which nix 0.29 has no socket option for),
//! `localtime_r` for log and listing timestamps, `read(2)` into a
//! buffer's spare capacity (the request reader, without zeroing it first),
//! and giving startup-only memory back (`malloc_trim`, `madvise`).
//!
//! Every block names why it is sound in a `// SAFETY:` comment.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Write end of the self-pipe the signal handler pokes (-1 = none).
static SIGNAL_PIPE_FD: AtomicI32 = AtomicI32::new(-1);
/// Bit `n` set = signal number `n` arrived and was not yet taken.
static PENDING_SIGNALS: AtomicU32 = AtomicU32::new(0);

/// Sender (uid, pid) of the last SIGTERM / SIGINT / SIGUSR1 (lighttpd
/// `last_sigterm_info`) and of the last SIGHUP (`last_sighup_info`).
static STOP_SENDER: [AtomicI32; 2] = [AtomicI32::new(0), AtomicI32::new(0)];
static HUP_SENDER: [AtomicI32; 2] = [AtomicI32::new(0), AtomicI32::new(0)];

/// The handler: remember the signal and who sent it, wake the event loop.
/// Only async-signal-safe operations (atomics and `write(2)`).
extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    if (0..32).contains(&sig) {
        PENDING_SIGNALS.fetch_or(1 << sig, Ordering::SeqCst);
    }
    let slot = match sig {
        libc::SIGTERM | libc::SIGINT | libc::SIGUSR1 => Some(&STOP_SENDER),
        libc::SIGHUP => Some(&HUP_SENDER),
        _ => None,
    };
    if let (Some(slot), false) = (slot, info.is_null()) {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t for
        // the duration of the handler (checked non-null above); si_uid and
        // si_pid are plain fields (kill(2)/sigqueue(3) senders fill them).
        let (uid, pid) = unsafe { ((*info).si_uid(), (*info).si_pid()) };
        slot[0].store(uid as i32, Ordering::SeqCst);
        slot[1].store(pid, Ordering::SeqCst);
    }
    let fd = SIGNAL_PIPE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; `byte` outlives the call and
        // the length matches the buffer. A full pipe (EAGAIN) is harmless:
        // the loop is already awake and the bit is recorded.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// Route `signals` to the self-pipe whose (non-blocking) write end is
/// `pipe_write_fd`; the fd must stay open for the life of the process.
pub fn install_signal_handlers(pipe_write_fd: RawFd, signals: &[Signal]) -> nix::Result<()> {
    SIGNAL_PIPE_FD.store(pipe_write_fd, Ordering::SeqCst);
    let action = SigAction::new(
        SigHandler::SigAction(on_signal),
        SaFlags::SA_RESTART | SaFlags::SA_SIGINFO,
        SigSet::empty(),
    );
    for &sig in signals {
        // SAFETY: the handler only touches atomics and calls write(2),
        // both async-signal-safe.
        unsafe { sigaction(sig, &action)? };
    }
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: ignoring SIGPIPE installs no code; failed writes return EPIPE.
    unsafe { sigaction(Signal::SIGPIPE, &ignore)? };
    Ok(())
}

/// Restore the default disposition of `signals` (in a forked child that
/// execs or must not share the parent's pipe).
pub fn reset_signal_handlers(signals: &[Signal]) {
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for &sig in signals {
        // SAFETY: restoring the default disposition installs no code.
        let _ = unsafe { sigaction(sig, &dfl) };
    }
}

/// (uid, pid) of the sender of the last stop signal (TERM, INT, USR1), or
/// with `hup` of the last SIGHUP; (0, 0) when none was received.
pub fn signal_sender(hup: bool) -> (u32, i32) {
    let slot = if hup { &HUP_SENDER } else { &STOP_SENDER };
    (
        slot[0].load(Ordering::SeqCst) as u32,
        slot[1].load(Ordering::SeqCst),
    )
}

/// Take (and clear) the set of signals received since the last call:
/// bit `n` = signal number `n`.
pub fn take_pending_signals() -> u32 {
    PENDING_SIGNALS.swap(0, Ordering::SeqCst)
}

/// Mark a signal as pending without a real signal (tests, internal restarts).
pub fn raise_pending(sig: Signal) {
    PENDING_SIGNALS.fetch_or(1 << (sig as i32), Ordering::SeqCst);
}

/// `fork(2)`. Callers fork only while the process is single-threaded
/// (startup: daemonizing and spawning workers).
pub fn fork() -> nix::Result<nix::unistd::ForkResult> {
    // SAFETY: lighttpd-rs runs one thread; the child continues with a
    // consistent copy of the only thread's memory.
    unsafe { nix::unistd::fork() }
}

/// Take ownership of a descriptor inherited from the parent process
/// (systemd socket activation: fds 3..3+LISTEN_FDS).
///
/// The caller must have checked with `fcntl(F_GETFD)` that `fd` is open and
/// must call this at most once per fd.
pub fn adopt_inherited_fd(fd: RawFd) -> Option<OwnedFd> {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).ok()?;
    // SAFETY: the fd is open (checked above), was handed to us by the
    // activator, and nothing else in the process owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Broken-down local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalTime {
    pub year: i32,
    /// 1..=12
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// `read(2)` from `fd` into the unused capacity of `buf` (at most `max`
/// bytes, reserving room first), appending what was read. Saves zeroing the
/// read buffer before every read.
pub fn read_append(fd: BorrowedFd<'_>, buf: &mut Vec<u8>, max: usize) -> std::io::Result<usize> {
    buf.reserve(max);
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(max);
    // SAFETY: `spare` points to `want` writable bytes owned by `buf`; read(2)
    // writes at most `want` bytes there and reports how many it wrote.
    let got = unsafe { libc::read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), want) };
    if got < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let got = got as usize;
    // SAFETY: the kernel initialised exactly `got` (<= want) bytes after the
    // old length.
    unsafe { buf.set_len(buf.len() + got) };
    Ok(got)
}

/// Set or clear `TCP_CORK` on a socket: while set, the kernel sends only
/// full segments; clearing it sends what is left. Fails harmlessly
/// (ENOTSOCK, ENOPROTOOPT) on pipes and Unix sockets.
pub fn set_tcp_cork(fd: BorrowedFd<'_>, on: bool) -> std::io::Result<()> {
    let value = libc::c_int::from(on);
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `&value`,
    // which lives across the call; `fd` is an open descriptor.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Is `TCP_CORK` set on a socket? (For tests.)
#[cfg(test)]
pub fn tcp_corked(fd: BorrowedFd<'_>) -> std::io::Result<bool> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `value`, which
    // lives across the call, and stores the written size in `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(value != 0)
}

/// `localtime_r(3)` of a Unix time (seconds).
pub fn localtime(secs: i64) -> LocalTime {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: `tm` is plain old data; zeroed is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the
    // reentrant variant and writes only into `tm`.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return LocalTime::default();
    }
    LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
    }
}

/// `strftime(3)` of a Unix time, local (`localtime_r`) or UTC
/// (`gmtime_r`); "" when the format has a NUL or the result exceeds 1 KiB.
pub fn strftime(fmt: &str, secs: i64, local: bool) -> String {
    let Ok(cfmt) = std::ffi::CString::new(fmt) else {
        return String::new();
    };
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: `tm` is plain old data; zeroed is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; the _r variants write
    // only into `tm`.
    let ok = unsafe {
        if local {
            !libc::localtime_r(&t, &mut tm).is_null()
        } else {
            !libc::gmtime_r(&t, &mut tm).is_null()
        }
    };
    if !ok {
        return String::new();
    }
    let mut buf = [0u8; 1024];
    // SAFETY: `buf` has `buf.len()` writable bytes, `cfmt` is
    // NUL-terminated and `tm` initialised; strftime writes at most that
    // many bytes and returns how many (0 on overflow).
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm) };
    String::from_utf8_lossy(&buf[..n.min(buf.len())]).into_owned()
}

#[link(name = "crypt")]
extern "C" {
    #[link_name = "crypt"]
    fn libcrypt_crypt(key: *const libc::c_char, salt: *const libc::c_char) -> *mut libc::c_char;
}

/// libcrypt `crypt(3)`: the hash of `key` with the salt/settings of `salt`
/// (used for htpasswd hash types without a Rust implementation, e.g.
/// traditional DES). None on failure.
pub fn crypt(key: &str, salt: &str) -> Option<String> {
    let key = std::ffi::CString::new(key).ok()?;
    let salt = std::ffi::CString::new(salt).ok()?;
    // SAFETY: both arguments are valid NUL-terminated strings that outlive
    // the call; crypt returns NULL or a pointer to its own NUL-terminated
    // static buffer, which is copied below before any other crypt call
    // (the server is single-threaded).
    let out = unsafe { libcrypt_crypt(key.as_ptr(), salt.as_ptr()) };
    if out.is_null() {
        return None;
    }
    // SAFETY: `out` is non-null and NUL-terminated per crypt(3).
    let text = unsafe { std::ffi::CStr::from_ptr(out) };
    Some(text.to_string_lossy().into_owned())
}

/// Hand the heap's free pages back to the kernel (`malloc_trim`).
pub fn trim_heap() {
    // SAFETY: malloc_trim only hands free heap pages back to the kernel.
    unsafe { libc::malloc_trim(0) };
}

/// Startup is over: give back the memory only it used. `malloc_trim`
/// returns the heap's free pages to the kernel, and the pages of this
/// executable's read-only segments (code, constants, the relocation tables
/// the dynamic linker read) are dropped from the process: they are clean
/// copies of the file, stay in the page cache, and the few the running
/// server uses fault back in on first use. One binary with every module
/// touches code all over itself while it reads the config and sets up;
/// lighttpd maps only the modules its config loads. Returns the bytes of
/// address space advised (0 when the executable has text relocations,
/// whose written pages must not be dropped).
pub fn release_startup_memory() -> usize {
    trim_heap();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    // SAFETY: the callback only reads the program headers glibc passes it
    // and pushes into the Vec behind `data`, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(
            Some(read_only_segments),
            (&mut ranges as *mut Vec<_>).cast(),
        )
    };
    let mut advised = 0;
    for (start, len) in ranges {
        // SAFETY: [start, start + len) lies inside a mapped, never-written
        // segment of the executable (no PF_W, no text relocations), so
        // MADV_DONTNEED only unmaps clean file pages that read back the same.
        if unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) } == 0 {
            advised += len;
        }
    }
    advised
}

/// `dl_iterate_phdr` callback for the first object (the executable): its
/// PT_LOAD segments without write permission, as page-aligned (start, len)
/// shrunk inwards so no page of a writable neighbour is included. Nothing
/// when the executable has text relocations.
unsafe extern "C" fn read_only_segments(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: glibc passes a valid info whose dlpi_phdr has dlpi_phnum
    // entries; `data` is the &mut Vec given to dl_iterate_phdr.
    let (info, ranges) = unsafe { (&*info, &mut *data.cast::<Vec<(usize, usize)>>()) };
    let base = info.dlpi_addr as usize;
    // SAFETY: see above.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let textrel = phdrs
        .iter()
        .filter(|p| p.p_type == libc::PT_DYNAMIC)
        // SAFETY: PT_DYNAMIC of a loaded object is mapped (in its RELRO).
        .any(|p| unsafe { has_text_relocations(base + p.p_vaddr as usize) });
    if !textrel {
        for p in phdrs
            .iter()
            .filter(|p| p.p_type == libc::PT_LOAD && p.p_flags & libc::PF_W == 0)
        {
            let start = (base + p.p_vaddr as usize).next_multiple_of(page);
            let end = (base + (p.p_vaddr + p.p_memsz) as usize) / page * page;
            if end > start {
                ranges.push((start, end - start));
            }
        }
    }
    1 // the executable comes first; stop there
}

/// Whether the dynamic section at `dynamic` asks for text relocations
/// (DT_TEXTREL, or DF_TEXTREL in DT_FLAGS).
///
/// # Safety
/// `dynamic` must point at a loaded object's DT_NULL-terminated dynamic array.
unsafe fn has_text_relocations(dynamic: usize) -> bool {
    const DT_NULL: i64 = 0;
    const DT_TEXTREL: i64 = 22;
    const DT_FLAGS: i64 = 30;
    const DF_TEXTREL: u64 = 4;
    let mut entry = dynamic as *const [u64; 2];
    loop {
        // SAFETY: the array is DT_NULL-terminated (caller's contract).
        let [tag, val] = unsafe { *entry };
        match tag as i64 {
            DT_NULL => return false,
            DT_TEXTREL => return true,
            DT_FLAGS if val & DF_TEXTREL != 0 => return true,
            _ => {}
        }
        // SAFETY: not yet at DT_NULL, so the next entry exists.
        entry = unsafe { entry.add(1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_append_appends_what_was_read() {
        use std::io::Write;
        use std::os::fd::AsFd;
        let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
        tx.write_all(b"hello world").unwrap();
        let mut buf = b"> ".to_vec();
        assert_eq!(read_append(rx.as_fd(), &mut buf, 5).unwrap(), 5);
        assert_eq!(buf, b"> hello");
        assert_eq!(read_append(rx.as_fd(), &mut buf, 100).unwrap(), 6);
        assert_eq!(buf, b"> hello world");
        drop(tx);
        assert_eq!(read_append(rx.as_fd(), &mut buf, 100).unwrap(), 0);
    }

    #[test]
    fn localtime_is_plausible() {
        let t = localtime(86_400 * 365 * 30);
        assert!((1999..=2001).contains(&t.year));
        assert!((1..=12).contains(&t.month));
        assert!(t.hour < 24 && t.minute < 60);
    }

    #[test]
    fn pending_signals_are_taken_once() {
        raise_pending(Signal::SIGUSR2);
        let bits = take_pending_signals();
        assert_ne!(bits & (1 << Signal::SIGUSR2 as i32), 0);
        assert_eq!(take_pending_signals() & (1 << Signal::SIGUSR2 as i32), 0);
    }

    #[test]
    fn startup_memory_release_covers_this_code_which_still_runs() {
        let here = release_startup_memory as *const () as usize;
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        // SAFETY: as in release_startup_memory.
        unsafe {
            libc::dl_iterate_phdr(
                Some(read_only_segments),
                (&mut ranges as *mut Vec<_>).cast(),
            )
        };
        assert!(ranges.iter().any(|&(s, l)| (s..s + l).contains(&here)));
        let advised = release_startup_memory();
        assert_eq!(advised, ranges.iter().map(|r| r.1).sum::<usize>());
        // The dropped code and constants read back: this runs and compares.
        assert_eq!(format!("{}", 6 * 7), "42");
    }

    #[test]
    fn adopting_a_closed_fd_fails() {
        assert!(adopt_inherited_fd(987_654).is_none());
    }
}
