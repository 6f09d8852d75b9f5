//! Starting `bin-path` backends (lighttpd `gw_spawn_connection`): if the
//! address already answers, use it as a remote backend; otherwise bind the
//! listening socket (SO_REUSEADDR, `listen-backlog`), remove a stale unix
//! socket, and start the program with that socket as its stdin (the
//! FastCGI convention, FCGI_LISTENSOCK_FILENO = 0), in the program's
//! directory, with the copied environment plus `bin-environment` and
//! `PHP_FCGI_CHILDREN=1` unless set. The server reaps children and tells
//! the module through the waitpid hook.

use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::config::HostConf;
use super::host::{Addr, Proc, ProcState};

/// Connect or spawn `p`; on success it is Running.
pub fn start(conf: &HostConf, p: &mut Proc, now: i64) {
    let Some(addr) = p.addr.clone() else { return };
    if answers(&addr) {
        p.is_local = false;
        p.pid = 0;
        p.state = ProcState::Running;
        return;
    }
    match spawn(conf, &addr) {
        Ok(pid) => {
            p.pid = pid;
            p.is_local = true;
            p.last_used = now;
            p.state = ProcState::Running;
        }
        Err(e) => {
            let bin = conf.bin_path.as_deref().unwrap_or("");
            crate::log_error!("gw-backend failed to start: {bin}: {e}");
            crate::log_error!("ERROR: spawning gw failed.");
            p.pid = 0;
            p.disabled_until = now;
            p.state = ProcState::Died;
        }
    }
}

/// Is something already listening there?
fn answers(addr: &Addr) -> bool {
    match addr {
        Addr::Tcp(a) => std::net::TcpStream::connect_timeout(a, Duration::from_secs(1)).is_ok(),
        Addr::Unix(path) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => true,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    let _ = std::fs::remove_file(path);
                }
                false
            }
        },
    }
}

fn listen(addr: &Addr, backlog: u32) -> std::io::Result<OwnedFd> {
    let fd: OwnedFd = match addr {
        Addr::Tcp(a) => TcpListener::bind(a)?.into(),
        Addr::Unix(path) => UnixListener::bind(path)?.into(),
    };
    let backlog = nix::sys::socket::Backlog::new(backlog.min(i32::MAX as u32) as i32)
        .unwrap_or(nix::sys::socket::Backlog::MAXCONN);
    nix::sys::socket::listen(&fd, backlog)?;
    Ok(fd)
}

/// The child's environment.
pub fn environment(conf: &HostConf) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = if conf.bin_copy_environment.is_empty() {
        std::env::vars().collect()
    } else {
        conf.bin_copy_environment
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
            .collect()
    };
    for (k, v) in &conf.bin_environment {
        match env.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    if !env.iter().any(|(k, _)| k == "PHP_FCGI_CHILDREN") {
        env.push(("PHP_FCGI_CHILDREN".into(), "1".into()));
    }
    env
}

fn spawn(conf: &HostConf, addr: &Addr) -> std::io::Result<i32> {
    let argv0 = conf
        .argv
        .first()
        .ok_or_else(|| std::io::Error::other("empty bin-path"))?;
    let sock = listen(addr, conf.listen_backlog)?;
    let dir = Path::new(argv0)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let child = Command::new(argv0)
        .args(&conf.argv[1..])
        .env_clear()
        .envs(environment(conf))
        .current_dir(dir)
        .stdin(Stdio::from(sock))
        .spawn()?;
    let pid = child.id() as i32;
    // lighttpd checks after 1 ms whether the program died right away
    std::thread::sleep(Duration::from_millis(1));
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_copies_and_overrides() {
        let conf = HostConf {
            bin_copy_environment: vec!["PATH".into(), "LRS_SURELY_UNSET_VAR".into()],
            bin_environment: vec![
                ("A".into(), "1".into()),
                ("PHP_FCGI_CHILDREN".into(), "4".into()),
            ],
            ..HostConf::default()
        };
        let env = environment(&conf);
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert!(!keys.contains(&"LRS_SURELY_UNSET_VAR"));
        assert!(keys.contains(&"A"));
        assert_eq!(
            env.iter().filter(|(k, _)| k == "PHP_FCGI_CHILDREN").count(),
            1
        );
        let plain = environment(&HostConf::default());
        assert!(plain
            .iter()
            .any(|(k, v)| k == "PHP_FCGI_CHILDREN" && v == "1"));
    }

    #[test]
    fn spawned_program_gets_the_listening_socket_as_stdin() {
        let dir = std::env::temp_dir().join(format!("lrs-gw-spawn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s");
        let marker = dir.join("ok");
        let conf = HostConf {
            argv: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("test -S /dev/stdin && touch {}", marker.display()),
            ],
            bin_path: Some("/bin/sh".into()),
            ..HostConf::default()
        };
        let mut p = Proc {
            id: 0,
            addr: Some(Addr::Unix(sock.clone())),
            pid: 0,
            is_local: false,
            state: ProcState::Died,
            load: 0,
            disabled_until: 0,
            last_used: 0,
            stats: Default::default(),
        };
        start(&conf, &mut p, 1);
        assert_eq!(p.state, ProcState::Running);
        assert!(p.is_local && p.pid > 0);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(p.pid), None);
        assert!(marker.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
