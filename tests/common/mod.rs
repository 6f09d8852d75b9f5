//! Shared helpers for integration tests: start the real binary on a free
//! 127.0.0.1 port with a config string and a docroot, speak raw HTTP with
//! timeouts, and stop the server by pid.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Read/write timeout of test sockets: generous, as the CI machine is loaded.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on waiting for a server to start listening or a process to exit
/// (a debug binary on a loaded 2-core machine can take seconds).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Poll `cond` every 20 ms until it holds or `limit` passes; whether it held.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A free TCP port on 127.0.0.1 (bound, then released), chosen at random
/// below the kernel's ephemeral range: a port from that range may be handed
/// to some client's connect() before our server binds it.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            t.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    if low > 12_000 {
        for _ in 0..200 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(SEQ.fetch_add(1, Ordering::SeqCst));
            let port = 10_000 + (h.finish() % u64::from(low - 10_000)) as u16;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A fresh temp directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("lrs-it-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// Write `files` (path relative to `root`, content) creating directories.
pub fn write_files(root: &Path, files: &[(&str, &[u8])]) {
    for (rel, content) in files {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
    }
}

/// A running server.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub docroot: PathBuf,
    pub conf: PathBuf,
}

/// The part of a config every test server shares.
pub const MIME: &str =
    r#"mimetype.assign = (".html" => "text/html", ".txt" => "text/plain", ".css" => "text/css")"#;

impl Server {
    /// Start with `extra` config lines appended to the document root, bind
    /// and port settings; `files` go into the docroot. `@DIR@` in `extra`
    /// is replaced by the test directory (the docroot is `@DIR@/www`).
    pub fn start(extra: &str, files: &[(&str, &[u8])]) -> Server {
        let dir = temp_dir("srv");
        let docroot = dir.join("www");
        std::fs::create_dir_all(&docroot).expect("mkdir");
        write_files(&docroot, files);
        let dir_text = dir.display().to_string();
        let root = docroot.display().to_string();
        Server::start_on_free_port(dir, docroot, &["-D"], |port| {
            format!(
                "server.document-root = \"{root}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n{MIME}\n{extra}\n"
            )
            .replace("@DIR@", &dir_text)
        })
    }

    /// Start in `dir` with the config `conf(port)` on a free port, trying
    /// another port when one is taken between free_port() and the bind.
    pub fn start_on_free_port(
        dir: PathBuf,
        docroot: PathBuf,
        args: &[&str],
        conf: impl Fn(u16) -> String,
    ) -> Server {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Server::try_start_conf(dir.clone(), docroot.clone(), port, &conf(port), args) {
                Ok(s) => return s,
                Err(e) if e.contains("Address already in use") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("no free port after 5 tries: {last}");
    }

    /// Start with a complete config text.
    pub fn start_conf(
        dir: PathBuf,
        docroot: PathBuf,
        port: u16,
        conf: &str,
        args: &[&str],
    ) -> Server {
        Server::try_start_conf(dir, docroot, port, conf, args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Server::start_conf`], returning why the server did not come up.
    pub fn try_start_conf(
        dir: PathBuf,
        docroot: PathBuf,
        port: u16,
        conf: &str,
        args: &[&str],
    ) -> Result<Server, String> {
        let conf_path = dir.join("lighttpd.conf");
        std::fs::write(&conf_path, conf).expect("write conf");
        // stderr goes to a file: a pipe nobody reads would block a chatty
        // server once 64 KiB are buffered
        let stderr = std::fs::File::create(dir.join("stderr.log")).expect("stderr file");
        let child = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
            .process_group(0)
            .args(args)
            .arg("-f")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn lighttpd");
        let mut s = Server {
            child,
            port,
            dir,
            docroot,
            conf: conf_path,
        };
        if let Err(e) = s.wait_ready() {
            s.dir = PathBuf::new(); // the caller may retry in the same directory
            return Err(e);
        }
        Ok(s)
    }

    /// Wait until this server (not some other process that got the port)
    /// listens on its port.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            let ready = listener_owned_by(self.child.id(), self.port)
                .unwrap_or_else(|| TcpStream::connect(("127.0.0.1", self.port)).is_ok());
            if ready {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let err = std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
                return Err(format!("server exited ({status}): {err}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("server did not start listening on {}", self.port))
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// A connected client socket with timeouts.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        s.set_write_timeout(Some(TIMEOUT)).expect("timeout");
        s
    }

    /// Send raw bytes on a new connection and read until the server closes.
    pub fn raw(&self, req: &[u8]) -> Vec<u8> {
        let mut s = self.connect();
        s.write_all(req).expect("send");
        read_to_close(&mut s)
    }

    /// One `GET path` with `Connection: close`; the parsed response.
    pub fn get(&self, path: &str) -> Response {
        let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        parse(&self.raw(req.as_bytes())).pop().expect("a response")
    }

    /// Send SIGTERM and wait (bounded) for the exit status.
    pub fn stop(&mut self) -> Option<i32> {
        signal(self.pid(), libc::SIGTERM);
        wait_exit(&mut self.child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The server runs in its own process group: this also stops workers.
        // Only while the leader is not reaped (stop() reaps it): until then
        // its pid, the group id, cannot have been given to another process.
        if matches!(self.child.try_wait(), Ok(None)) {
            signal(-self.pid(), libc::SIGKILL);
        }
        let _ = self.child.wait();
        if std::thread::panicking() {
            // the test failed: what the server said goes with the failure
            let err = std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
            eprintln!("server {} (port {}) stderr:\n{err}", self.pid(), self.port);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether process `pid` holds a listening socket on 127.0.0.1:`port`
/// (from /proc); None when /proc cannot tell.
pub fn listener_owned_by(pid: u32, port: u16) -> Option<bool> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let listening = f.get(1) == Some(&wanted.as_str()) && f.get(3) == Some(&"0A");
            listening.then(|| f.get(9).map(|inode| format!("socket:[{inode}]")))?
        })
        .collect();
    if inodes.is_empty() {
        return Some(false);
    }
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let owned = fds
        .filter_map(|fd| fd.ok().and_then(|fd| std::fs::read_link(fd.path()).ok()))
        .any(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()));
    Some(owned)
}

/// Send a signal to a pid we started.
pub fn signal(pid: i32, sig: libc::c_int) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::try_from(sig).ok(),
    );
}

/// Wait up to START_TIMEOUT for a child to exit; its code (None if still running).
pub fn wait_exit(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Read until EOF (or the read timeout).
pub fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status_line: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn names(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Read exactly one response (head, then Content-Length body; `head_only`
/// for HEAD requests) from a keep-alive connection.
pub fn read_response(s: &mut TcpStream, head_only: bool) -> Option<Response> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let mut r = parse_head(&buf);
    let len: usize = if head_only || matches!(r.status, 304 | 204) {
        0
    } else {
        r.header("Content-Length")?.parse().ok()?
    };
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    r.body = body;
    Some(r)
}

fn parse_head(head: &[u8]) -> Response {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_string();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Response {
        status_line,
        status,
        headers,
        body: Vec::new(),
    }
}

/// Split a byte stream of responses (bodies by Content-Length; the last one
/// may run to EOF).
pub fn parse(mut data: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
        let mut r = parse_head(&data[..end + 4]);
        data = &data[end + 4..];
        let len = match r
            .header("Content-Length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            Some(n) if !matches!(r.status, 304 | 204) => n.min(data.len()),
            Some(_) => 0,
            None => data.len(),
        };
        r.body = data[..len].to_vec();
        data = &data[len..];
        out.push(r);
    }
    out
}
