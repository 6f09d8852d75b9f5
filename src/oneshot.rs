//! `lighttpd -1` (lighttpd src/server.c `server_oneshot_init`,
//! `server_oneshot_init_pipe`, `server_oneshot_getsock`): the one connection
//! on stdin. A socket on stdin is the connection itself. A pipe on stdin (as
//! netcat or an inetd-style wrapper gives) carries the requests, and the
//! responses go to stdout; its addresses come from the variables ncat exports
//! (`NCAT_LOCAL_ADDR`, `NCAT_LOCAL_PORT`, `NCAT_REMOTE_ADDR`,
//! `NCAT_REMOTE_PORT`) or, without them, are the ones lighttpd makes up:
//! local 127.0.0.1:80, remote 127.0.0.1:48080.
//!
//! Either way the connection belongs to the configured listener with the
//! same address and port, else a wildcard one on that port, else the first.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::sockets::{self, ListenAddr, ListenSpec, PipePair, Stream};

/// The stdin connection, ready for `Server::add_conn`.
#[derive(Debug)]
pub struct OneShot {
    pub stream: Stream,
    pub remote_ip: String,
    pub remote_port: Option<u16>,
    /// The `$SERVER["socket"]` token of the listener it belongs to.
    pub socket_name: String,
}

/// Take over stdin (and stdout for a pipe). `Err`: lighttpd's startup
/// error (exit 255). `Ok(None)`: the connection could not be set up; as
/// lighttpd, the reason (if any) is logged and the server exits cleanly.
pub fn stdin_connection(specs: &[ListenSpec]) -> Result<Option<OneShot>, String> {
    let st = nix::sys::stat::fstat(0).map_err(|e| format!("fstat(): {e}"))?;
    let conn = match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => pipe_connection(specs),
        libc::S_IFSOCK => socket_connection(specs),
        _ => return Err("lighttpd -1 stdin is not a socket".to_string()),
    };
    Ok(conn
        .map_err(|msg| {
            if !msg.is_empty() {
                crate::log_error!("{msg}");
            }
        })
        .ok())
}

fn dup_nonblocking(fd: impl AsFd) -> Result<OwnedFd, String> {
    let fd = fd
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("dup(): {e}"))?;
    sockets::set_nonblocking(fd.as_raw_fd()).map_err(|e| format!("fcntl(): {e}"))?;
    Ok(fd)
}

fn socket_connection(specs: &[ListenSpec]) -> Result<OneShot, String> {
    let fd = dup_nonblocking(std::io::stdin())?;
    let local = sockets::local_addr(&fd).ok_or("getsockname() failed")?;
    let socket_name = listener_for(specs, &local).ok_or("no sockets configured")?;
    Ok(match local {
        ListenAddr::Unix(_) => OneShot {
            stream: Stream::Unix(mio::net::UnixStream::from_std(fd.into())),
            remote_ip: "0.0.0.0".to_string(),
            remote_port: None,
            socket_name,
        },
        ListenAddr::Inet(_) => {
            let tcp = std::net::TcpStream::from(fd);
            let peer = tcp.peer_addr().map_err(|e| format!("getpeername(): {e}"))?;
            OneShot {
                stream: Stream::Tcp(mio::net::TcpStream::from_std(tcp)),
                remote_ip: sockets::peer_ip_text(peer),
                remote_port: Some(peer.port()),
                socket_name,
            }
        }
    })
}

fn pipe_connection(specs: &[ListenSpec]) -> Result<OneShot, String> {
    let (local, remote) = pipe_addresses(|k| std::env::var(k).ok())?;
    let socket_name =
        listener_for(specs, &ListenAddr::Inet(local)).ok_or("no sockets configured")?;
    let rd = dup_nonblocking(std::io::stdin())?;
    let wr = dup_nonblocking(std::io::stdout())?;
    let pair = PipePair::new(rd.into(), wr.into());
    Ok(OneShot {
        stream: Stream::Pipe(Box::new(pair)),
        remote_ip: sockets::peer_ip_text(remote),
        remote_port: Some(remote.port()),
        socket_name,
    })
}

/// Local and remote address of a pipe connection, from ncat's variables
/// (all four needed once `NCAT_LOCAL_ADDR` is set) or lighttpd's defaults.
fn pipe_addresses(
    var: impl Fn(&str) -> Option<String>,
) -> Result<(SocketAddr, SocketAddr), String> {
    let Some(local_ip) = var("NCAT_LOCAL_ADDR") else {
        let lo = IpAddr::from([127, 0, 0, 1]);
        return Ok((SocketAddr::new(lo, 80), SocketAddr::new(lo, 48080)));
    };
    let (Some(local_port), Some(remote_ip), Some(remote_port)) = (
        var("NCAT_LOCAL_PORT"),
        var("NCAT_REMOTE_ADDR"),
        var("NCAT_REMOTE_PORT"),
    ) else {
        return Err(String::new());
    };
    let v6 = local_ip.contains(':');
    let addr = |ip: &str, port: &str, what: &str| {
        ip.parse::<IpAddr>()
            .ok()
            .filter(|ip| ip.is_ipv6() == v6)
            .map(|ip| SocketAddr::new(ip, leading_number(port)))
            .ok_or_else(|| format!("invalid {what} addr"))
    };
    Ok((
        addr(&local_ip, &local_port, "local")?,
        addr(&remote_ip, &remote_port, "remote")?,
    ))
}

/// strtol() then a cast to unsigned short, as lighttpd reads the ports.
fn leading_number(s: &str) -> u16 {
    let s = s.trim_start();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u64, |n, d| {
            n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        });
    let n = if neg { n.wrapping_neg() } else { n };
    n as u16
}

/// lighttpd `server_oneshot_getsock`: the token of the listener `local`
/// belongs to; None when nothing is configured.
fn listener_for(specs: &[ListenSpec], local: &ListenAddr) -> Option<String> {
    let addrs: Vec<ListenAddr> = specs
        .iter()
        .filter_map(|s| sockets::resolve(&s.addr, s.default_port, s.use_ipv6).ok())
        .collect();
    let port = |a: &ListenAddr| match a {
        ListenAddr::Inet(sa) => Some(sa.port()),
        ListenAddr::Unix(_) => None,
    };
    let wildcard = |a: &ListenAddr| matches!(a, ListenAddr::Inet(sa) if sa.ip().is_unspecified());
    let found = addrs
        .iter()
        .find(|a| *a == local)
        .or_else(|| {
            addrs
                .iter()
                .find(|a| port(a).is_some() && port(a) == port(local) && wildcard(a))
        })
        .or(addrs.first());
    found.map(ListenAddr::token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(addr: &str) -> ListenSpec {
        ListenSpec {
            addr: addr.to_string(),
            ..crate::sockets::default_spec()
        }
    }

    fn inet(s: &str) -> ListenAddr {
        ListenAddr::Inet(s.parse().unwrap())
    }

    #[test]
    fn the_listener_is_exact_then_wildcard_then_first() {
        let specs = [
            spec("127.0.0.1:8080"),
            spec("0.0.0.0:80"),
            spec("127.0.0.1:80"),
        ];
        let name = |a| listener_for(&specs, &inet(a));
        assert_eq!(name("127.0.0.1:80").as_deref(), Some("127.0.0.1:80"));
        assert_eq!(name("10.0.0.1:80").as_deref(), Some("0.0.0.0:80"));
        assert_eq!(name("10.0.0.1:81").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(listener_for(&[], &inet("127.0.0.1:80")), None);
    }

    #[test]
    fn pipe_addresses_default_or_from_ncat() {
        let (l, r) = pipe_addresses(|_| None).unwrap();
        assert_eq!(
            (l.to_string(), r.to_string()),
            ("127.0.0.1:80".into(), "127.0.0.1:48080".into())
        );
        let env = |k: &str| {
            let v = match k {
                "NCAT_LOCAL_ADDR" => "::1",
                "NCAT_LOCAL_PORT" => "8080x",
                "NCAT_REMOTE_ADDR" => "::2",
                "NCAT_REMOTE_PORT" => "70000",
                _ => return None,
            };
            Some(v.to_string())
        };
        let (l, r) = pipe_addresses(env).unwrap();
        assert_eq!(
            (l.to_string(), r.to_string()),
            ("[::1]:8080".into(), "[::2]:4464".into())
        );
        let partial = |k: &str| (k == "NCAT_LOCAL_ADDR").then(|| "127.0.0.1".to_string());
        assert_eq!(pipe_addresses(partial), Err(String::new()));
        let bad = |k: &str| {
            Some(
                if k == "NCAT_REMOTE_ADDR" {
                    "::1"
                } else {
                    "127.0.0.1"
                }
                .to_string(),
            )
        };
        assert_eq!(pipe_addresses(bad), Err("invalid remote addr".into()));
    }
}
