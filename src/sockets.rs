//! Listening sockets (lighttpd src/network.c): the `server.bind` /
//! `server.port` listener, one per `$SERVER["socket"] == "..."` block,
//! `[IPv6]:port` and unix-domain paths, `server.use-ipv6`,
//! `server.set-v6only` / `server.v4mapped`, `server.listen-backlog`,
//! `server.socket-perms`, and systemd socket activation
//! (`LISTEN_PID` / `LISTEN_FDS`, including `parent:PID`).
//!
//! Also [`Stream`], an accepted connection (TCP or unix, or for `-1` the
//! stdin/stdout pipe pair).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;

use mio::event::Source;
use mio::{Interest, Registry, Token};
use nix::sys::socket::{
    self as nsock, sockopt, AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6,
    SockaddrLike, SockaddrStorage, UnixAddr,
};

use crate::config::cond::{CondField, CondOp, Pattern};
use crate::config::core::ServerConf;
use crate::config::tree::{ConfigTree, Context, CtxId};
use crate::config::validate::get_bool;

/// One listener to create, with its socket-scope settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSpec {
    /// The address as written (`server.bind` + port, or the
    /// `$SERVER["socket"]` value).
    pub addr: String,
    /// The `$SERVER["socket"]` block defining it (None = `server.bind`).
    pub ctx: Option<CtxId>,
    /// `server.port` (for addresses without a port).
    pub default_port: u16,
    pub use_ipv6: bool,
    pub set_v6only: bool,
    pub v4mapped: Option<bool>,
    pub backlog: i32,
    /// `server.socket-perms` as an octal mode.
    pub socket_perms: Option<u32>,
    /// `ssl.engine` for this socket.
    pub ssl: bool,
}

/// A resolved listen address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Inet(SocketAddr),
    Unix(PathBuf),
}

impl ListenAddr {
    /// The normalised token `$SERVER["socket"]` compares against:
    /// `a.b.c.d:port`, `[v6]:port` or the unix path.
    pub fn token(&self) -> String {
        match self {
            ListenAddr::Inet(SocketAddr::V4(a)) => format!("{}:{}", a.ip(), a.port()),
            ListenAddr::Inet(SocketAddr::V6(a)) => format!("[{}]:{}", a.ip(), a.port()),
            ListenAddr::Unix(p) => p.display().to_string(),
        }
    }
}

/// Every listener the configuration asks for (the registry's order:
/// `$SERVER["socket"]` blocks, then `server.bind:server.port`).
pub fn listen_specs(srv: &ServerConf) -> Vec<ListenSpec> {
    srv.listeners
        .iter()
        .map(|l| ListenSpec {
            addr: l.addr.clone(),
            ctx: l.ctx,
            default_port: srv.port,
            use_ipv6: l.socket.use_ipv6,
            set_v6only: l.socket.set_v6only,
            v4mapped: l.socket.v4mapped,
            backlog: i32::try_from(l.socket.listen_backlog).unwrap_or(1024),
            socket_perms: l
                .socket
                .socket_perms
                .as_deref()
                .and_then(|p| u32::from_str_radix(p, 8).ok()),
            ssl: l.socket.ssl_engine,
        })
        .collect()
}

/// Parse and resolve a listen address (lighttpd's rules, §12.2).
pub fn resolve(addr: &str, default_port: u16, use_ipv6: bool) -> Result<ListenAddr, String> {
    if addr.is_empty() {
        return Err("value of $SERVER[\"socket\"] must not be empty".into());
    }
    if addr.starts_with('/') {
        return Ok(ListenAddr::Unix(PathBuf::from(addr)));
    }
    if let Some(rest) = addr.strip_prefix('[') {
        let Some((host, tail)) = rest.split_once(']') else {
            return Err(format!("invalid IP addr: {addr}"));
        };
        let port = parse_port(tail.strip_prefix(':'), default_port, addr)?;
        let ip: Ipv6Addr = if host.is_empty() {
            Ipv6Addr::UNSPECIFIED
        } else {
            host.parse()
                .map_err(|_| format!("invalid IPv6 addr: {addr}"))?
        };
        return Ok(ListenAddr::Inet(SocketAddr::new(IpAddr::V6(ip), port)));
    }
    let (host, port) = match addr.rsplit_once(':') {
        Some((h, p)) => (h, parse_port(Some(p), default_port, addr)?),
        None => (addr, default_port),
    };
    if host.is_empty() || host == "*" {
        let any = if use_ipv6 && host.is_empty() {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        return Ok(ListenAddr::Inet(SocketAddr::new(any, port)));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        if ip.is_ipv6() && !use_ipv6 {
            return Err(format!(
                "getaddrinfo failed: Address family for hostname not supported '{host}'"
            ));
        }
        return Ok(ListenAddr::Inet(SocketAddr::new(ip, port)));
    }
    let found = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("getaddrinfo failed: {e} '{host}'"))?;
    let all: Vec<SocketAddr> = found.collect();
    all.iter()
        .find(|a| a.is_ipv6() == use_ipv6)
        .or_else(|| all.iter().find(|a| a.is_ipv4()))
        .map(|a| ListenAddr::Inet(*a))
        .ok_or_else(|| format!("getaddrinfo failed: no address for '{host}'"))
}

/// lighttpd `network_init` rewrites every `$SERVER["socket"]` `==` / `!=`
/// value to the text of the address it resolves to: with `server.port` 80,
/// `127.0.0.1`, `localhost:80` and `127.0.0.1:80` all become `127.0.0.1:80`,
/// the token of the one listener they name, and match its connections.
/// Values that do not resolve stay as written (startup reports them).
pub fn resolve_socket_conditions(tree: &mut ConfigTree, default_port: u16) {
    let use_ipv6 = |ctx: &Context| {
        ctx.get("server.use-ipv6")
            .and_then(|d| get_bool("", &d.value).ok())
    };
    let global_v6 = use_ipv6(tree.global()).unwrap_or(false);
    for ctx in &mut tree.contexts {
        let v6 = use_ipv6(ctx).unwrap_or(global_v6);
        let Some(c) = ctx.cond.as_mut() else { continue };
        if c.field != CondField::ServerSocket || !matches!(c.op, CondOp::Eq | CondOp::Ne) {
            continue;
        }
        if let Ok(addr) = resolve(&c.value, default_port, v6) {
            c.value = addr.token();
            c.pattern = Pattern::Literal(c.value.clone());
        }
    }
}

fn parse_port(p: Option<&str>, default_port: u16, addr: &str) -> Result<u16, String> {
    match p {
        None | Some("") => Ok(default_port),
        Some(p) => match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            _ => Err(format!("port not set or out of range: {addr}")),
        },
    }
}

/// A listening socket.
#[derive(Debug)]
pub enum ListenSock {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
}

/// A bound listener and what it serves.
#[derive(Debug)]
pub struct Listener {
    pub sock: ListenSock,
    pub addr: ListenAddr,
    /// The `$SERVER["socket"]` token of connections accepted here.
    pub name: String,
    pub spec: ListenSpec,
}

impl Listener {
    /// Accept one connection (non-blocking): the stream, the client's
    /// address text and port; `None` when none is waiting.
    pub fn accept(&self) -> io::Result<Option<(Stream, String, Option<u16>)>> {
        let accepted = match &self.sock {
            ListenSock::Tcp(l) => l
                .accept()
                .map(|(s, peer)| (Stream::Tcp(s), peer_ip_text(peer), Some(peer.port()))),
            ListenSock::Unix(l) => l
                .accept()
                .map(|(s, _)| (Stream::Unix(s), String::from("0.0.0.0"), None)),
        };
        match accepted {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn source(&mut self) -> &mut dyn Source {
        match &mut self.sock {
            ListenSock::Tcp(l) => l,
            ListenSock::Unix(l) => l,
        }
    }
}

pub fn peer_ip_text(peer: SocketAddr) -> String {
    match peer.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        ip => ip.to_string(),
    }
}

/// Create every listener: reuse one from `previous` (graceful restart) or
/// an `inherited` socket (socket activation) with the same address, else
/// bind a new one. A duplicate address is created once (first wins).
pub fn bind_all(
    specs: &[ListenSpec],
    previous: &mut Vec<Listener>,
    inherited: &mut Vec<(ListenAddr, OwnedFd)>,
) -> Result<Vec<Listener>, String> {
    let mut out: Vec<Listener> = Vec::new();
    for spec in specs {
        let addr = resolve(&spec.addr, spec.default_port, spec.use_ipv6)?;
        if out.iter().any(|l| l.addr == addr) {
            continue;
        }
        let sock = if let Some(i) = previous.iter().position(|l| l.addr == addr) {
            previous.swap_remove(i).sock
        } else if let Some(i) = inherited.iter().position(|(a, _)| *a == addr) {
            adopt(inherited.swap_remove(i).1, &addr)?
        } else {
            bind_new(&addr, spec)?
        };
        out.push(Listener {
            name: addr.token(),
            sock,
            addr,
            spec: spec.clone(),
        });
    }
    // Inherited sockets nobody configured are still served, global settings.
    for (addr, fd) in inherited.drain(..) {
        let sock = adopt(fd, &addr)?;
        let spec = ListenSpec {
            addr: addr.token(),
            ctx: None,
            ..specs.last().cloned().unwrap_or_else(default_spec)
        };
        out.push(Listener {
            name: addr.token(),
            sock,
            addr,
            spec,
        });
    }
    if out.is_empty() {
        return Err("no sockets configured".into());
    }
    Ok(out)
}

pub(crate) fn default_spec() -> ListenSpec {
    ListenSpec {
        addr: String::new(),
        ctx: None,
        default_port: 80,
        use_ipv6: false,
        set_v6only: true,
        v4mapped: None,
        backlog: 1024,
        socket_perms: None,
        ssl: false,
    }
}

fn adopt(fd: OwnedFd, addr: &ListenAddr) -> Result<ListenSock, String> {
    set_nonblocking(fd.as_raw_fd())?;
    Ok(match addr {
        ListenAddr::Unix(_) => ListenSock::Unix(mio::net::UnixListener::from_std(
            std::os::unix::net::UnixListener::from(fd),
        )),
        ListenAddr::Inet(_) => ListenSock::Tcp(mio::net::TcpListener::from_std(
            std::net::TcpListener::from(fd),
        )),
    })
}

pub fn set_nonblocking(fd: impl AsRawFd) -> Result<(), String> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).map_err(|e| e.to_string())?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags)).map_err(|e| e.to_string())?;
    Ok(())
}

fn bind_new(addr: &ListenAddr, spec: &ListenSpec) -> Result<ListenSock, String> {
    let backlog = Backlog::new(spec.backlog.max(1)).unwrap_or(Backlog::MAXCONN);
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let fail = |what: &str, e: nix::Error| format!("{what} failed for {}: {e}", addr.token());
    match addr {
        ListenAddr::Unix(path) => {
            clear_stale_unix_socket(path)?;
            let fd = nsock::socket(AddressFamily::Unix, SockType::Stream, flags, None)
                .map_err(|e| fail("socket", e))?;
            let ua = UnixAddr::new(path).map_err(|e| fail("socket path", e))?;
            nsock::bind(fd.as_raw_fd(), &ua).map_err(|e| fail("bind", e))?;
            if let Some(mode) = spec.socket_perms {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| format!("chmod failed for {}: {e}", path.display()))?;
            }
            nsock::listen(&fd, backlog).map_err(|e| fail("listen", e))?;
            adopt(fd, addr)
        }
        ListenAddr::Inet(sa) => {
            let family = if sa.is_ipv6() {
                AddressFamily::Inet6
            } else {
                AddressFamily::Inet
            };
            let fd = nsock::socket(family, SockType::Stream, flags, None)
                .map_err(|e| fail("socket", e))?;
            nsock::setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| fail("setsockopt", e))?;
            if let SocketAddr::V6(v6) = sa {
                let v6only = match spec.v4mapped {
                    Some(mapped) => !mapped,
                    // An empty host (`:port` with use-ipv6) keeps the kernel default.
                    None => spec.set_v6only && !spec.addr.starts_with(':'),
                };
                nsock::setsockopt(&fd, sockopt::Ipv6V6Only, &v6only)
                    .map_err(|e| fail("setsockopt", e))?;
                nsock::bind(fd.as_raw_fd(), &SockaddrIn6::from(*v6))
                    .map_err(|e| fail("bind", e))?;
            } else if let SocketAddr::V4(v4) = sa {
                nsock::bind(fd.as_raw_fd(), &SockaddrIn::from(*v4)).map_err(|e| fail("bind", e))?;
            }
            nsock::listen(&fd, backlog).map_err(|e| fail("listen", e))?;
            adopt(fd, addr)
        }
    }
}

/// Remove a unix socket file nobody listens on; refuse a live one.
fn clear_stale_unix_socket(path: &std::path::Path) -> Result<(), String> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Ok(());
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(format!("server socket is still in use: {}", path.display()));
    }
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Sockets handed over by systemd (or a previous lighttpd): fds 3.. when
/// `LISTEN_PID` is our pid (or `parent:<our parent's pid>`) and
/// `0 < LISTEN_FDS < 5000`. The variables are always removed afterwards.
pub fn inherited_from_env() -> Vec<(ListenAddr, OwnedFd)> {
    let pid = std::env::var("LISTEN_PID").unwrap_or_default();
    let fds = std::env::var("LISTEN_FDS").unwrap_or_default();
    for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(k);
    }
    let ours = match pid.strip_prefix("parent:") {
        Some(ppid) => ppid.parse::<u32>().ok() == Some(std::os::unix::process::parent_id()),
        None => pid.parse::<u32>().ok() == Some(std::process::id()),
    };
    let count: i32 = fds.parse().unwrap_or(0);
    if !ours || !(1..5000).contains(&count) {
        return Vec::new();
    }
    (3..3 + count)
        .filter_map(crate::sys::adopt_inherited_fd)
        .filter_map(|fd| local_addr(&fd).map(|a| (a, fd)))
        .collect()
}

/// SERVER_ADDR for a connection accepted by listener `token` (lighttpd
/// http_cgi.c): the listener's address, or for a wildcard one the address
/// the client connected to (empty when that cannot be told, as for `-1`
/// pipes); empty for unix sockets.
pub fn server_addr(token: &str, stream: &Stream) -> String {
    let Some((addr, _port)) = token.rsplit_once(':').filter(|_| !token.starts_with('/')) else {
        return String::new();
    };
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    if addr != "0.0.0.0" && addr != "::" {
        return addr.to_string();
    }
    match stream {
        Stream::Tcp(s) => s.local_addr().map(peer_ip_text).unwrap_or_default(),
        Stream::Tls(t) => t.tcp.local_addr().map(peer_ip_text).unwrap_or_default(),
        _ => String::new(),
    }
}

/// `server.bind = "/dev/stdin"`: the listening socket an inetd-style
/// launcher passed on stdin (lighttpd `srv->stdin_fd`), served like an
/// inherited one.
pub fn stdin_listener() -> Result<(ListenAddr, OwnedFd), String> {
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("dup(): {e}"))?;
    if let Err(e) = nsock::getsockname::<SockaddrStorage>(fd.as_raw_fd()) {
        return Err(format!("getsockname(): {}", e.desc()));
    }
    let addr = local_addr(&fd).ok_or("getsockname(): unsupported address family")?;
    Ok((addr, fd))
}

/// getsockname() of a socket as a [`ListenAddr`].
pub fn local_addr(fd: &OwnedFd) -> Option<ListenAddr> {
    let ss: SockaddrStorage = nsock::getsockname(fd.as_raw_fd()).ok()?;
    if let Some(v4) = ss.as_sockaddr_in() {
        return Some(ListenAddr::Inet(SocketAddr::from((v4.ip(), v4.port()))));
    }
    if let Some(v6) = ss.as_sockaddr_in6() {
        return Some(ListenAddr::Inet(SocketAddr::from((v6.ip(), v6.port()))));
    }
    if ss.family() == Some(AddressFamily::Unix) {
        // Unnamed (socketpair) and abstract sockets have no path.
        let path = ss.as_unix_addr()?.path().map(|p| p.to_path_buf());
        return Some(ListenAddr::Unix(path.unwrap_or_default()));
    }
    None
}

/// An accepted client connection.
#[derive(Debug)]
pub enum Stream {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
    /// `-1` with pipes: requests come in on `rd`, responses go out on `wr`.
    Pipe(Box<PipePair>),
    /// A TLS listener's connection (`ssl.engine`).
    Tls(Box<crate::tls::TlsStream>),
}

/// The two ends of a `-1` pipe connection.
#[derive(Debug)]
pub struct PipePair {
    pub rd: mio::unix::pipe::Receiver,
    pub wr: mio::unix::pipe::Sender,
    /// `wr` is registered for writability (a regular file cannot be).
    wr_watched: bool,
}

impl PipePair {
    pub fn new(rd: mio::unix::pipe::Receiver, wr: mio::unix::pipe::Sender) -> PipePair {
        PipePair {
            rd,
            wr,
            wr_watched: false,
        }
    }

    /// Watch `wr` for writability only while asked to; an fd epoll refuses
    /// (a regular file: always writable) is left unwatched.
    fn watch_wr(&mut self, r: &Registry, t: Token, on: bool) -> io::Result<()> {
        if on && !self.wr_watched {
            match self.wr.register(r, t, Interest::WRITABLE) {
                Ok(()) => self.wr_watched = true,
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
                Err(e) => return Err(e),
            }
        } else if !on && self.wr_watched {
            self.wr_watched = false;
            self.wr.deregister(r)?;
        }
        Ok(())
    }
}

impl Stream {
    /// shutdown(SHUT_WR): the response is complete (nothing for pipes).
    pub fn shutdown_write(&mut self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Pipe(_) => Ok(()),
            Stream::Tls(t) => {
                t.shutdown_write();
                Ok(())
            }
        };
    }

    /// Append up to `max` bytes read (decrypted for TLS) to `buf`.
    pub fn read_append(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        match self {
            Stream::Tls(t) => t.read_append(buf, max),
            s => crate::sys::read_append(s.read_fd(), buf, max),
        }
    }

    /// Send up to `max` bytes of `q` (sendfile/writev, or encrypted).
    pub fn write_queue(
        &mut self,
        q: &mut crate::chunk::ChunkQueue,
        max: u64,
    ) -> io::Result<crate::chunk::Written> {
        match self {
            Stream::Tls(t) => t.write_queue(q, max),
            s => q.write_to_limited(s, max),
        }
    }

    /// TLS output (a handshake reply) waits for the socket: sends what
    /// it can; true while some is still waiting.
    pub fn tls_output_blocked(&mut self) -> io::Result<bool> {
        match self {
            Stream::Tls(t) if t.wants_write() => t.flush_tls().map(|done| !done),
            _ => Ok(false),
        }
    }

    /// Add a TLS connection's variables to a request's environment.
    pub fn add_tls_env(&mut self, env: &mut Vec<(String, String)>) {
        if let Stream::Tls(t) = self {
            t.add_env(env);
        }
    }

    /// The scheme requests on this connection have.
    pub fn scheme(&self) -> &'static str {
        match self {
            Stream::Tls(_) => "https",
            _ => "http",
        }
    }

    /// The fd requests are read from ([`AsFd`] gives the one written to).
    pub fn read_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Pipe(p) => p.rd.as_fd(),
            s => s.as_fd(),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
            Stream::Pipe(p) => p.wr.as_fd(),
            Stream::Tls(t) => t.tcp.as_fd(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
            Stream::Tls(s) => s.tcp.register(r, t, i),
            Stream::Pipe(p) => {
                p.rd.register(r, t, Interest::READABLE)?;
                p.watch_wr(r, t, i.is_writable())
            }
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
            Stream::Tls(s) => s.tcp.reregister(r, t, i),
            Stream::Pipe(p) => {
                p.rd.reregister(r, t, Interest::READABLE)?;
                p.watch_wr(r, t, i.is_writable())
            }
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
            Stream::Tls(s) => s.tcp.deregister(r),
            Stream::Pipe(p) => {
                p.rd.deregister(r)?;
                p.watch_wr(r, Token(0), false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(s: &str) -> ListenAddr {
        ListenAddr::Inet(s.parse().unwrap())
    }

    #[test]
    fn server_addr_is_the_listeners_or_for_a_wildcard_the_local_one() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let s = Stream::Tcp(mio::net::TcpStream::from_std(tcp));
        assert_eq!(server_addr("0.0.0.0:80", &s), "127.0.0.1");
        assert_eq!(server_addr("[::]:80", &s), "127.0.0.1");
        assert_eq!(server_addr("10.0.0.1:80", &s), "10.0.0.1");
        assert_eq!(server_addr("[::1]:80", &s), "::1");
        assert_eq!(server_addr("/run/l.sock", &s), "");
    }

    #[test]
    fn addresses_resolve_like_lighttpd() {
        assert_eq!(resolve("127.0.0.1:81", 80, false), Ok(inet("127.0.0.1:81")));
        assert_eq!(
            resolve("127.0.0.1", 8080, false),
            Ok(inet("127.0.0.1:8080"))
        );
        assert_eq!(resolve(":81", 80, false), Ok(inet("0.0.0.0:81")));
        assert_eq!(resolve("*:81", 80, true), Ok(inet("0.0.0.0:81")));
        assert_eq!(resolve(":81", 80, true), Ok(inet("[::]:81")));
        assert_eq!(resolve("[::1]:82", 80, false), Ok(inet("[::1]:82")));
        assert_eq!(resolve("[]:82", 80, false), Ok(inet("[::]:82")));
        assert_eq!(resolve("[::1]", 83, false), Ok(inet("[::1]:83")));
        assert!(resolve("::1:8080", 80, false).is_err());
        assert_eq!(resolve("::1:8080", 80, true), Ok(inet("[::1]:8080")));
        assert_eq!(
            resolve("/tmp/x.sock", 80, false),
            Ok(ListenAddr::Unix("/tmp/x.sock".into()))
        );
        assert!(resolve("1.2.3.4:0", 80, false).is_err());
        assert!(resolve("1.2.3.4:70000", 80, false).is_err());
        assert!(resolve("", 80, false).is_err());
        assert_eq!(resolve("localhost:84", 80, false), Ok(inet("127.0.0.1:84")));
    }

    #[test]
    fn socket_conditions_become_resolved_tokens() {
        use crate::config::validate::testing::{cond, s, TreeBuilder};
        let mut b = TreeBuilder::new();
        let sock = |op, v: &str| cond(CondField::ServerSocket, op, v);
        let bare = b.block(0, sock(CondOp::Eq, "127.0.0.1"));
        let named = b.block(0, sock(CondOp::Ne, "localhost:81"));
        let v6 = b.block(0, sock(CondOp::Eq, "[::1]"));
        let any = b.block(0, sock(CondOp::Eq, ":82"));
        let regex = b.block(0, sock(CondOp::Match, "^127"));
        let bad = b.block(0, sock(CondOp::Eq, "127.0.0.1:0"));
        let unix = b.block(0, sock(CondOp::Eq, "/run/l.sock"));
        b.set(v6, "server.use-ipv6", s("enable"));
        let mut tree = b.build();
        resolve_socket_conditions(&mut tree, 80);
        let value = |id: CtxId| {
            let c = tree.contexts[id].cond.as_ref().unwrap();
            match &c.pattern {
                Pattern::Literal(p) => assert_eq!(p, &c.value),
                _ => assert_eq!(c.op, CondOp::Match),
            }
            c.value.clone()
        };
        assert_eq!(value(bare), "127.0.0.1:80");
        assert_eq!(value(named), "127.0.0.1:81");
        assert_eq!(value(v6), "[::1]:80");
        assert_eq!(value(any), "0.0.0.0:82");
        assert_eq!(value(regex), "^127");
        assert_eq!(value(bad), "127.0.0.1:0");
        assert_eq!(value(unix), "/run/l.sock");
    }

    #[test]
    fn tokens_are_normalised() {
        assert_eq!(inet("[::1]:82").token(), "[::1]:82");
        assert_eq!(inet("127.0.0.1:8").token(), "127.0.0.1:8");
    }

    #[test]
    fn binds_tcp_and_unix_and_dedups() {
        let dir = std::env::temp_dir().join(format!("lrs-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let mut specs = vec![default_spec(), default_spec(), default_spec()];
        specs[0].addr = "127.0.0.1:0".into();
        specs[0].ctx = Some(1);
        specs[2].addr = path.display().to_string();
        specs[2].socket_perms = Some(0o660);
        // a released port may be taken again before the bind: try a few
        let (ls, port) = (0..5)
            .find_map(|_| {
                let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let port = free.local_addr().unwrap().port();
                drop(free);
                specs[0].addr = format!("127.0.0.1:{port}");
                specs[1].addr = format!("127.0.0.1:{port}");
                let _ = std::fs::remove_file(&path);
                Some((
                    bind_all(&specs, &mut Vec::new(), &mut Vec::new()).ok()?,
                    port,
                ))
            })
            .unwrap();
        assert_eq!(ls.len(), 2);
        assert_eq!(ls[0].name, format!("127.0.0.1:{port}"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        // A live unix socket refuses a second bind.
        assert!(bind_all(&specs[2..], &mut Vec::new(), &mut Vec::new()).is_err());
        drop(ls);
        // A stale one is replaced. Another test of this process may be
        // forking right now: until its child execs, the child holds a copy
        // of our (close-on-exec) listener and the socket still answers, so
        // allow that window to pass (bounded generously: on a loaded
        // machine a forked child may wait seconds before it execs).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let replaced = loop {
            if bind_all(&specs[2..], &mut Vec::new(), &mut Vec::new()).is_ok() {
                break true;
            }
            if std::time::Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(replaced);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
