//! Backend hosts and their processes at run time (lighttpd gw_host /
//! gw_proc): proc states (running, overloaded/disabled, died, killed), load
//! counting through [`Lease`] guards, host election by balance policy,
//! disabling a proc after a connect error for `disable-time`, and the
//! per-second maintenance (re-enable, respawn dead local procs, adaptive
//! spawning up to `max-procs`, idle-timeout reaping), and lighttpd's
//! `gw.*` counters in [`crate::plugin::stats`].

use std::cell::RefCell;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::rc::Rc;

use super::config::{Balance, Extension, HostConf};
use super::spawn;
use crate::plugin::stats::{self, Counter};

/// Where a proc listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Addr {
    /// lighttpd's connection name: `tcp:IP:PORT` or `unix:/path`.
    pub fn name(&self) -> String {
        match self {
            Addr::Tcp(a) => format!("tcp:{}:{}", a.ip(), a.port()),
            Addr::Unix(p) => format!("unix:{}", p.display()),
        }
    }
}

/// lighttpd `PROC_STATE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    Running,
    /// Disabled after a connect error until `disabled_until`.
    Overloaded,
    Died,
    /// Stopped by us (idle timeout); not restarted.
    Killed,
}

/// One backend process (or the single remote endpoint of a host).
#[derive(Debug)]
pub struct Proc {
    pub id: u16,
    pub addr: Option<Addr>,
    /// Spawned by us (0 = none).
    pub pid: i32,
    pub is_local: bool,
    pub state: ProcState,
    /// Requests using this proc.
    pub load: u32,
    pub disabled_until: i64,
    pub last_used: i64,
    /// `gw.backend.<label>.<id>.*` for mod_status.
    pub stats: ProcStats,
}

/// A proc's statistics counters (`.disabled` stays 0, as in lighttpd).
#[derive(Debug, Default)]
pub struct ProcStats {
    pub died: Counter,
    pub overloaded: Counter,
    pub connected: Counter,
    pub load: Counter,
}

/// Mutable state of a host.
#[derive(Debug, Default)]
pub struct HostState {
    pub procs: Vec<Proc>,
    /// Requests assigned to the host.
    pub load: u32,
    /// bin-path procs were spawned (done lazily, after daemonizing).
    pub started: bool,
}

/// One backend host block.
#[derive(Debug)]
pub struct Host {
    pub conf: HostConf,
    /// djb hash of the host name / socket path (hash, sticky).
    pub hash: u32,
    pub state: RefCell<HostState>,
    /// `gw.backend.<label>.load` and `gw.active-requests`.
    load_stat: Counter,
    active_requests: Counter,
}

/// lighttpd's djbhash.
pub fn djb_hash(s: &[u8], init: u32) -> u32 {
    s.iter()
        .fold(init, |h, &c| (h << 5).wrapping_add(h) ^ u32::from(c))
}
const DJB_INIT: u32 = 5381;

impl Host {
    pub fn new(conf: HostConf) -> Host {
        let name = conf
            .host
            .as_deref()
            .or(conf.socket.as_deref())
            .unwrap_or("");
        let hash = djb_hash(name.as_bytes(), DJB_INIT);
        let load_stat = stats::counter(&format!("gw.backend.{}.load", conf.label));
        load_stat.set(0);
        let active_requests = stats::counter("gw.active-requests");
        let mut state = HostState::default();
        if conf.bin_path.is_none() {
            // a remote backend: one "proc", running until it fails
            let mut p = new_proc(&conf, 0);
            p.state = ProcState::Running;
            state.procs.push(p);
            state.started = true;
        }
        Host {
            conf,
            hash,
            state: RefCell::new(state),
            load_stat,
            active_requests,
        }
    }

    /// Procs able to take requests.
    pub fn active_procs(&self) -> usize {
        let st = self.state.borrow();
        st.procs
            .iter()
            .filter(|p| p.state == ProcState::Running)
            .count()
    }

    /// Spawn the min-procs of a bin-path host once (lighttpd does this at
    /// startup; here it waits for the first use or tick, after the server
    /// went to the background and dropped privileges).
    pub fn ensure_started(&self, now: i64) {
        if self.state.borrow().started {
            return;
        }
        self.state.borrow_mut().started = true;
        for _ in 0..self.conf.min_procs {
            self.spawn_new(now);
        }
    }

    fn spawn_new(&self, now: i64) {
        let id = self.state.borrow().procs.len() as u16;
        let mut p = new_proc(&self.conf, id);
        spawn::start(&self.conf, &mut p, now);
        self.state.borrow_mut().procs.push(p);
    }

    /// The proc with the least load among the running ones.
    pub fn pick_proc(&self) -> Option<usize> {
        let st = self.state.borrow();
        st.procs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.state == ProcState::Running && p.addr.is_some())
            .min_by_key(|(i, p)| (p.load, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
    }

    /// A connect to proc `i` failed: disable it for `disable-time`
    /// (lighttpd `gw_proc_connect_error`).
    pub fn connect_failed(&self, i: usize, pid: i32, now: i64, why: &str) {
        let mut st = self.state.borrow_mut();
        let Some(p) = st.procs.get_mut(i) else { return };
        let name = p.addr.as_ref().map(Addr::name).unwrap_or_default();
        crate::log_error!("establishing connection failed: {why} socket: {name}");
        // lighttpd: EAGAIN (backlog full) counts as overloaded, else died.
        if why.contains("temporarily unavailable") {
            p.stats.overloaded.add(1);
        } else {
            p.stats.died.add(1);
        }
        if !p.is_local || (p.pid == pid && p.state == ProcState::Running) {
            if p.is_local {
                crate::log_error!(
                    "backend error; we'll disable for {}secs and send the request to another backend instead:load: {}",
                    self.conf.disable_time,
                    p.load
                );
            }
            p.disabled_until = now + i64::from(self.conf.disable_time);
            p.state = ProcState::Overloaded;
        }
    }

    /// A connect to proc `i` succeeded (lighttpd `gw_proc_connect_success`).
    pub fn connected(&self, i: usize) {
        if let Some(p) = self.state.borrow().procs.get(i) {
            p.stats.connected.add(1);
        }
    }

    /// The 1 s tick (lighttpd `gw_handle_trigger_host`).
    pub fn trigger(&self, now: i64) {
        self.ensure_started(now);
        let dead: Vec<usize> = {
            let mut st = self.state.borrow_mut();
            for p in st.procs.iter_mut() {
                if p.state == ProcState::Overloaded && now > p.disabled_until {
                    p.state = ProcState::Running;
                    crate::log_error!(
                        "gw-server re-enabled: {} {} {} {}",
                        p.addr.as_ref().map(Addr::name).unwrap_or_default(),
                        self.conf.host.as_deref().unwrap_or(""),
                        self.conf.port,
                        self.conf.socket.as_deref().unwrap_or("")
                    );
                }
            }
            st.procs
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    p.state == ProcState::Died && p.load == 0 && p.disabled_until < now
                })
                .map(|(i, _)| i)
                .collect()
        };
        if self.conf.bin_path.is_some() {
            for i in dead {
                self.respawn(i, now);
            }
            self.adapt(now);
        }
    }

    fn respawn(&self, i: usize, now: i64) {
        let mut st = self.state.borrow_mut();
        if let Some(p) = st.procs.get_mut(i) {
            spawn::start(&self.conf, p, now);
        }
    }

    /// Adaptive spawning between min-procs and max-procs.
    fn adapt(&self, now: i64) {
        if self.conf.min_procs == self.conf.max_procs {
            return;
        }
        let (overloaded, live) = {
            let st = self.state.borrow();
            let live: Vec<&Proc> = st
                .procs
                .iter()
                .filter(|p| p.state != ProcState::Killed)
                .collect();
            let over = !live.is_empty()
                && live
                    .iter()
                    .all(|p| p.load > u32::from(self.conf.max_load_per_proc));
            (over, live.len())
        };
        if overloaded && live < usize::from(self.conf.max_procs) {
            self.spawn_new(now);
            return;
        }
        let mut st = self.state.borrow_mut();
        if live <= usize::from(self.conf.min_procs) {
            return;
        }
        let idle_since = now - i64::from(self.conf.idle_timeout);
        if let Some(p) = st.procs.iter_mut().find(|p| {
            p.load == 0 && p.pid > 0 && p.state == ProcState::Running && p.last_used < idle_since
        }) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p.pid),
                nix::sys::signal::Signal::try_from(i32::from(self.conf.kill_signal)).ok(),
            );
            p.state = ProcState::Killed;
        }
    }

    /// A child was reaped: is it ours? Then mark it dead (and respawn it
    /// unless it exits too quickly, lighttpd `gw_handle_waitpid_cb`).
    pub fn reaped(&self, pid: i32, status: i32, now: i64) -> bool {
        let idx = {
            let st = self.state.borrow();
            st.procs.iter().position(|p| p.is_local && p.pid == pid)
        };
        let Some(i) = idx else { return false };
        let respawn = {
            let mut st = self.state.borrow_mut();
            let p = &mut st.procs[i];
            p.pid = 0;
            let killed = p.state == ProcState::Killed;
            if !killed {
                log_exit(status, p, self.conf.kill_signal);
                p.state = ProcState::Died;
            }
            let quick = p.disabled_until >= now;
            if !killed {
                p.disabled_until = now;
            }
            !killed && !quick && p.load == 0
        };
        if respawn {
            self.respawn(i, now);
        }
        true
    }

    /// Stop spawned procs, wait (briefly) for them to exit so a restarted
    /// config can bind their addresses again, and remove their sockets
    /// (server shutdown, graceful restart).
    pub fn stop_all(&self) {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        let st = self.state.borrow();
        let mut pids = Vec::new();
        for p in st.procs.iter().filter(|p| p.is_local && p.pid > 0) {
            let pid = nix::unistd::Pid::from_raw(p.pid);
            let sig = nix::sys::signal::Signal::try_from(i32::from(self.conf.kill_signal)).ok();
            if nix::sys::signal::kill(pid, sig).is_ok() {
                pids.push(pid);
            }
            if let Some(Addr::Unix(path)) = &p.addr {
                let _ = std::fs::remove_file(path);
            }
        }
        for _ in 0..50 {
            pids.retain(|&pid| {
                matches!(
                    waitpid(pid, Some(WaitPidFlag::WNOHANG)),
                    Ok(WaitStatus::StillAlive)
                )
            });
            if pids.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// lighttpd `gw_proc_waitpid_log`.
fn log_exit(status: i32, p: &Proc, kill_signal: u16) {
    let name = p.addr.as_ref().map(Addr::name).unwrap_or_default();
    if libc::WIFEXITED(status) {
        crate::log_error!("child exited: {} {name}", libc::WEXITSTATUS(status));
    } else if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        if sig != libc::SIGTERM && sig != libc::SIGINT && sig != i32::from(kill_signal) {
            crate::log_error!("child signalled: {sig}");
        }
    } else {
        crate::log_error!("child died somehow: {status}");
    }
}

/// A proc record with its address (port + n, or `<socket>-<n>` when spawned).
fn new_proc(conf: &HostConf, id: u16) -> Proc {
    let addr = match (&conf.socket, &conf.host) {
        (Some(sock), _) if conf.bin_path.is_some() => {
            Some(Addr::Unix(format!("{sock}-{id}").into()))
        }
        (Some(sock), _) => Some(Addr::Unix(sock.into())),
        (None, Some(h)) => resolve(h, conf.port.wrapping_add(id)),
        (None, None) => None,
    };
    if addr.is_none() {
        crate::log_error!(
            "ERROR: spawning backend failed: cannot resolve {:?}",
            conf.host
        );
    }
    let stat = |tag: &str| {
        let c = stats::counter(&format!("gw.backend.{}.{id}.{tag}", conf.label));
        c.set(0);
        c
    };
    stat("disabled");
    let stats = ProcStats {
        died: stat("died"),
        overloaded: stat("overloaded"),
        connected: stat("connected"),
        load: stat("load"),
    };
    Proc {
        id,
        addr,
        pid: 0,
        is_local: false,
        state: ProcState::Died,
        load: 0,
        disabled_until: 0,
        last_used: 0,
        stats,
    }
}

fn resolve(host: &str, port: u16) -> Option<Addr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Some(Addr::Tcp(SocketAddr::new(ip, port)));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .map(Addr::Tcp)
}

/// lighttpd `gw_host_get`: elect a host of `ext` with running procs.
pub fn elect(
    ext: &Extension,
    balance: Balance,
    path: &str,
    authority: &str,
    client_ip: &str,
) -> Option<Rc<Host>> {
    let hosts = &ext.hosts;
    let active = |h: &Rc<Host>| h.active_procs() > 0;
    let ndx = if hosts.len() <= 1 {
        hosts.first().filter(|h| active(h)).map(|_| 0)
    } else {
        match balance {
            Balance::LeastConnection => hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| active(h))
                .min_by_key(|(i, h)| (h.state.borrow().load, *i))
                .map(|(i, _)| i),
            Balance::Hash => {
                let base = djb_hash(authority.as_bytes(), djb_hash(path.as_bytes(), DJB_INIT));
                max_hash(hosts, |h| base ^ h.hash)
            }
            Balance::Sticky => {
                let base = djb_hash(client_ip.as_bytes(), DJB_INIT);
                max_hash(hosts, |h| base ^ h.hash ^ u32::from(h.conf.port))
            }
            Balance::RoundRobin => {
                let last = ext.last_used.get();
                let n = hosts.len() as i64;
                let found = (1..=n)
                    .map(|k| ((last + k).rem_euclid(n)) as usize)
                    .find(|&i| active(&hosts[i]));
                if let Some(i) = found {
                    ext.last_used.set(i as i64);
                }
                found
            }
        }
    };
    ndx.map(|i| hosts[i].clone())
}

fn max_hash(hosts: &[Rc<Host>], f: impl Fn(&Host) -> u32) -> Option<usize> {
    hosts
        .iter()
        .enumerate()
        .filter(|(_, h)| h.active_procs() > 0)
        .max_by_key(|(i, h)| (f(h), std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
}

/// A request's claim on a host (and, once connecting, one of its procs):
/// the load counters drop when it is dropped, however the request ends.
#[derive(Debug)]
pub struct Lease {
    pub host: Rc<Host>,
    proc_idx: Option<usize>,
    /// pid of the proc when it was chosen (to not blame a respawned one).
    pub pid: i32,
}

impl Lease {
    pub fn new(host: Rc<Host>) -> Lease {
        host.state.borrow_mut().load += 1;
        host.load_stat.set(i64::from(host.state.borrow().load));
        Lease {
            host,
            proc_idx: None,
            pid: 0,
        }
    }

    /// Take proc `i` (its load goes up); returns its address.
    pub fn take_proc(&mut self, i: usize, now: i64) -> Option<Addr> {
        self.release_proc();
        let mut st = self.host.state.borrow_mut();
        let p = st.procs.get_mut(i)?;
        p.load += 1;
        p.stats.load.set(i64::from(p.load));
        self.host.active_requests.add(1);
        p.last_used = now;
        self.pid = p.pid;
        self.proc_idx = Some(i);
        p.addr.clone()
    }

    pub fn proc_idx(&self) -> Option<usize> {
        self.proc_idx
    }

    pub fn release_proc(&mut self) {
        if let Some(i) = self.proc_idx.take() {
            if let Some(p) = self.host.state.borrow_mut().procs.get_mut(i) {
                p.load = p.load.saturating_sub(1);
                p.stats.load.set(i64::from(p.load));
                self.host.active_requests.add(-1);
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.release_proc();
        let mut st = self.host.state.borrow_mut();
        st.load = st.load.saturating_sub(1);
        self.host.load_stat.set(i64::from(st.load));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn remote(port: u16) -> Rc<Host> {
        Rc::new(Host::new(HostConf {
            host: Some("127.0.0.1".into()),
            port,
            min_procs: 1,
            max_procs: 1,
            ..HostConf::default()
        }))
    }

    fn ext(hosts: Vec<Rc<Host>>) -> Extension {
        Extension {
            key: ".x".into(),
            hosts,
            last_used: Cell::new(-1),
            note_sent: Cell::new(false),
        }
    }

    #[test]
    fn least_connection_and_lease_counts() {
        let e = ext(vec![remote(1), remote(2)]);
        let a = elect(&e, Balance::LeastConnection, "/", "", "").unwrap();
        assert_eq!(a.conf.port, 1);
        let lease = Lease::new(a);
        let b = elect(&e, Balance::LeastConnection, "/", "", "").unwrap();
        assert_eq!(b.conf.port, 2);
        drop(lease);
        assert_eq!(e.hosts[0].state.borrow().load, 0);
    }

    #[test]
    fn round_robin_skips_disabled_hosts() {
        let e = ext(vec![remote(1), remote(2), remote(3)]);
        let ports: Vec<u16> = (0..4)
            .map(|_| {
                elect(&e, Balance::RoundRobin, "/", "", "")
                    .unwrap()
                    .conf
                    .port
            })
            .collect();
        assert_eq!(ports, vec![1, 2, 3, 1]);
        e.hosts[1].connect_failed(0, 0, 100, "refused");
        let ports: Vec<u16> = (0..3)
            .map(|_| {
                elect(&e, Balance::RoundRobin, "/", "", "")
                    .unwrap()
                    .conf
                    .port
            })
            .collect();
        assert_eq!(ports, vec![3, 1, 3]);
    }

    #[test]
    fn disabled_proc_comes_back_after_disable_time() {
        let h = remote(1);
        let e = ext(vec![h.clone()]);
        h.connect_failed(0, 0, 100, "refused");
        assert!(elect(&e, Balance::LeastConnection, "/", "", "").is_none());
        h.trigger(101);
        assert!(elect(&e, Balance::LeastConnection, "/", "", "").is_none());
        h.trigger(102);
        assert!(elect(&e, Balance::LeastConnection, "/", "", "").is_some());
    }

    #[test]
    fn hash_and_sticky_are_stable() {
        let e = ext(vec![remote(1), remote(2), remote(3)]);
        let a = elect(&e, Balance::Hash, "/p", "h", "").unwrap().conf.port;
        for _ in 0..5 {
            assert_eq!(
                elect(&e, Balance::Hash, "/p", "h", "").unwrap().conf.port,
                a
            );
        }
        let s = elect(&e, Balance::Sticky, "/", "", "10.0.0.1")
            .unwrap()
            .conf
            .port;
        assert_eq!(
            elect(&e, Balance::Sticky, "/q", "", "10.0.0.1")
                .unwrap()
                .conf
                .port,
            s
        );
    }

    #[test]
    fn proc_addresses_follow_lighttpd() {
        let c = HostConf {
            socket: Some("/tmp/php.sock".into()),
            bin_path: Some("/bin/true".into()),
            ..HostConf::default()
        };
        assert_eq!(
            new_proc(&c, 1).addr,
            Some(Addr::Unix("/tmp/php.sock-1".into()))
        );
        let c = HostConf {
            host: Some("127.0.0.1".into()),
            port: 9000,
            bin_path: Some("/bin/true".into()),
            ..HostConf::default()
        };
        assert_eq!(new_proc(&c, 2).addr.unwrap().name(), "tcp:127.0.0.1:9002");
    }
}
