//! Process-level behaviour of the real binary: signals (USR1 reload, HUP
//! log reopen, INT graceful stop, TERM), extra `$SERVER["socket"]` and unix
//! listeners, daemon mode with a pid file, startup failures.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;

use common::{
    free_port, parse, signal, temp_dir, wait_exit, write_files, Server, MIME, START_TIMEOUT,
    TIMEOUT,
};

fn conf(docroot: &std::path::Path, port: u16, extra: &str) -> String {
    format!(
        "server.document-root = \"{}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n{MIME}\n{extra}\n",
        docroot.display()
    )
}

/// Poll `cond` for up to START_TIMEOUT.
fn wait_for(cond: impl FnMut() -> bool) -> bool {
    common::wait_for(START_TIMEOUT, cond)
}

#[test]
fn usr1_reloads_config_and_keeps_old_one_when_broken() {
    let dir = temp_dir("usr1");
    let www = dir.join("www");
    write_files(&www, &[("a.txt", b"a\n")]);
    let log = dir.join("error.log");
    let with_log = |tag: &str| {
        format!(
            "server.tag = \"{tag}\"\nserver.errorlog = \"{}\"",
            log.display()
        )
    };
    let s = Server::start_on_free_port(dir.clone(), www.clone(), &["-D"], |port| {
        conf(&www, port, &with_log("one"))
    });
    assert_eq!(s.get("/a.txt").header("Server"), Some("one"));
    std::fs::write(&s.conf, conf(&www, s.port, &with_log("two"))).expect("write");
    signal(s.pid(), libc::SIGUSR1);
    assert!(wait_for(|| s.get("/a.txt").header("Server") == Some("two")));
    std::fs::write(&s.conf, "server.document-root = (\n").expect("write");
    signal(s.pid(), libc::SIGUSR1);
    // wait until the failed reload is logged, then the old config must hold
    assert!(wait_for(|| std::fs::read_to_string(&log).is_ok_and(
        |t| t.contains("config not reloaded, keeping the old one")
    )));
    let r = s.get("/a.txt");
    assert_eq!(r.status, 200, "a broken config keeps the old one");
    assert_eq!(r.header("Server"), Some("two"));
}

#[test]
fn hup_reopens_the_error_log() {
    let dir = temp_dir("hup");
    let www = dir.join("www");
    write_files(&www, &[("a.txt", b"a\n")]);
    let log = dir.join("error.log");
    let extra = format!("server.errorlog = \"{}\"", log.display());
    let s = Server::start_on_free_port(dir.clone(), www.clone(), &["-D"], |port| {
        conf(&www, port, &extra)
    });
    assert!(wait_for(
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("server started"))
    ));
    std::fs::rename(&log, dir.join("error.log.1")).expect("rotate");
    signal(s.pid(), libc::SIGHUP);
    // lighttpd names the sender (this test process) in the reopened log
    let cycled = format!(
        "logfiles cycled UID = {} PID = {}",
        nix::unistd::getuid(),
        std::process::id()
    );
    assert!(wait_for(
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains(&cycled))
    ));
    signal(s.pid(), libc::SIGUSR1);
    assert!(wait_for(|| std::fs::read_to_string(&log)
        .is_ok_and(|t| t.contains("[note] graceful shutdown started"))));
}

#[test]
fn stop_signals_log_who_sent_them() {
    let stopped = format!(
        "server stopped by UID = {} PID = {}",
        nix::unistd::getuid(),
        std::process::id()
    );
    for (sig, note) in [(libc::SIGTERM, false), (libc::SIGINT, true)] {
        let dir = temp_dir("stopped-by");
        let www = dir.join("www");
        write_files(&www, &[("a.txt", b"a\n")]);
        let log = dir.join("error.log");
        let extra = format!("server.errorlog = \"{}\"", log.display());
        let mut s =
            Server::start_on_free_port(dir, www.clone(), &["-D"], |port| conf(&www, port, &extra));
        signal(s.pid(), sig);
        assert_eq!(wait_exit(&mut s.child), Some(0));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let last = text.lines().last().unwrap_or("");
        assert!(last.ends_with(&stopped), "{text}");
        assert_eq!(
            text.contains("[note] graceful shutdown started"),
            note,
            "{text}"
        );
    }
}

#[test]
fn int_stops_gracefully_and_term_stops_now() {
    let mut s = Server::start("", &[("a.txt", b"a\n")]);
    signal(s.pid(), libc::SIGINT);
    assert_eq!(wait_exit(&mut s.child), Some(0));
    let mut s = Server::start("", &[("a.txt", b"a\n")]);
    let mut idle = s.connect();
    idle.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert_eq!(s.stop(), Some(0));
}

#[test]
fn server_socket_blocks_add_listeners_with_their_own_settings() {
    let dir = temp_dir("sock");
    let www = dir.join("www");
    write_files(&www, &[("a.txt", b"main\n"), ("other/a.txt", b"other\n")]);
    let port2 = std::cell::Cell::new(0);
    let sock = dir.join("s.sock");
    // a fresh second port with each try: either may be taken meanwhile
    let s = Server::start_on_free_port(dir.clone(), www.clone(), &["-D"], |port| {
        port2.set(free_port());
        let extra = format!(
            "$SERVER[\"socket\"] == \"127.0.0.1:{}\" {{ server.document-root = \"{}\" }}\n\
             $SERVER[\"socket\"] == \"{}\" {{ }}",
            port2.get(),
            www.join("other").display(),
            sock.display()
        );
        conf(&www, port, &extra)
    });
    let port2 = port2.get();
    assert_eq!(s.get("/a.txt").text(), "main\n");
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port2)).expect("second listener");
    c.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    c.write_all(b"GET /a.txt HTTP/1.0\r\n\r\n").expect("send");
    assert_eq!(parse(&common::read_to_close(&mut c))[0].text(), "other\n");
    let mut u = UnixStream::connect(&sock).expect("unix listener");
    u.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    u.write_all(b"GET /a.txt HTTP/1.0\r\n\r\n").expect("send");
    let mut out = Vec::new();
    let _ = u.read_to_end(&mut out);
    assert_eq!(parse(&out)[0].text(), "main\n");
}

#[test]
fn daemon_mode_writes_pid_file_and_parent_exits_zero() {
    let dir = temp_dir("daemon");
    let www = dir.join("www");
    write_files(&www, &[("a.txt", b"a\n")]);
    let pid_file = dir.join("l.pid");
    let extra = format!("server.pid-file = \"{}\"", pid_file.display());
    let conf_path = dir.join("l.conf");
    // 255: the free port was taken before the bind; try another one
    let (mut port, mut code) = (0, None);
    for _ in 0..5 {
        port = free_port();
        std::fs::write(&conf_path, conf(&www, port, &extra)).expect("conf");
        code = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
            .arg("-f")
            .arg(&conf_path)
            .status()
            .expect("run")
            .code();
        if code != Some(255) {
            break;
        }
    }
    assert_eq!(code, Some(0));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let ok = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    signal(pid, libc::SIGTERM);
    assert!(ok, "daemon serves");
    assert!(wait_for(|| !pid_file.exists()), "pid file removed at exit");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn startup_failures_exit_255() {
    let dir = temp_dir("fail");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).expect("mkdir");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    for extra in ["", "server.modules = (\"mod_nonexistent\")"] {
        let conf_path = dir.join("f.conf");
        let p = if extra.is_empty() { port } else { free_port() };
        std::fs::write(&conf_path, conf(&www, p, extra)).expect("conf");
        let mut child = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
            .args(["-D", "-f"])
            .arg(&conf_path)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let code = wait_exit(&mut child);
        if code.is_none() {
            let _ = child.kill();
        }
        assert_eq!(code, Some(255), "config: {extra:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn max_worker_forks_workers_and_stops_them() {
    let mut s = Server::start("server.max-worker = 2", &[("a.txt", b"a\n")]);
    for _ in 0..4 {
        assert_eq!(s.get("/a.txt").text(), "a\n");
    }
    let children = || {
        std::fs::read_to_string(format!("/proc/{}/task/{}/children", s.pid(), s.pid()))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert!(wait_for(|| children().len() == 2), "two workers");
    let workers = children();
    assert_eq!(s.stop(), Some(0));
    // The workers are gone with the master (not "the port refuses": another
    // test may bind the freed port at once).
    for w in workers {
        assert!(
            wait_for(|| !std::path::Path::new(&format!("/proc/{w}")).exists()),
            "worker {w} left"
        );
    }
}

#[test]
fn one_shot_serves_the_socket_on_stdin_then_exits() {
    let dir = temp_dir("oneshot");
    let www = dir.join("www");
    write_files(&www, &[("a.txt", b"one\n")]);
    let conf_path = dir.join("o.conf");
    std::fs::write(&conf_path, conf(&www, free_port(), "")).expect("conf");
    let (mut ours, theirs) = UnixStream::pair().expect("socketpair");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args(["-1", "-f"])
        .arg(&conf_path)
        .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs,
        )))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    ours.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    ours.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut out = Vec::new();
    let _ = ours.read_to_end(&mut out);
    let code = wait_exit(&mut child);
    if code.is_none() {
        let _ = child.kill();
    }
    assert_eq!(parse(&out)[0].text(), "one\n");
    assert_eq!(code, Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_taken_port_is_reported_not_mistaken_for_our_server() {
    // tests/common retries Server::start on this error; a listener of
    // another process is never taken for the server being ready.
    let other = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = other.local_addr().expect("addr").port();
    let dir = temp_dir("taken");
    let www = dir.join("www");
    write_files(&www, &[("a.txt", b"a\n")]);
    let err = Server::try_start_conf(
        dir.clone(),
        www.clone(),
        port,
        &conf(&www, port, ""),
        &["-D"],
    )
    .err()
    .expect("must not start");
    assert!(err.contains("Address already in use"), "{err}");
    assert_eq!(
        common::listener_owned_by(std::process::id(), port),
        Some(true)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn workers_log_the_master_as_sender_and_start_is_logged_once() {
    let dir = temp_dir("workers-log");
    let www = dir.join("www");
    write_files(&www, &[("a.txt", b"a\n")]);
    let log = dir.join("error.log");
    let extra = format!(
        "server.errorlog = \"{}\"\nserver.max-worker = 2",
        log.display()
    );
    let mut s =
        Server::start_on_free_port(dir, www.clone(), &["-D"], |port| conf(&www, port, &extra));
    let master = s.pid();
    signal(master, libc::SIGTERM);
    assert_eq!(wait_exit(&mut s.child), Some(0));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(text.matches("server started").count(), 1, "{text}");
    // the master passes the signal on: the workers name it as the sender
    let by_master = format!(
        "server stopped by UID = {} PID = {master}",
        nix::unistd::getuid()
    );
    assert_eq!(text.matches(&by_master).count(), 2, "{text}");
}

#[test]
fn bind_dev_stdin_serves_the_listening_socket_on_stdin() {
    let dir = temp_dir("bind-stdin");
    let www = dir.join("www");
    write_files(&www, &[("a.txt", b"from stdin\n")]);
    let conf_path = dir.join("l.conf");
    let text = format!(
        "server.document-root = \"{}\"\nserver.bind = \"/dev/stdin\"\n{MIME}\n",
        www.display()
    );
    std::fs::write(&conf_path, text).expect("conf");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args(["-D", "-f"])
        .arg(&conf_path)
        .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            listener,
        )))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    c.write_all(b"GET /a.txt HTTP/1.0\r\n\r\n").expect("send");
    let body = parse(&common::read_to_close(&mut c))
        .pop()
        .map(|r| r.text());
    signal(child.id() as i32, libc::SIGTERM);
    let code = wait_exit(&mut child);
    if code.is_none() {
        let _ = child.kill();
    }
    assert_eq!(body.as_deref(), Some("from stdin\n"));
    assert_eq!(code, Some(0));
    // not a socket on stdin: lighttpd's message and exit 255
    let mut child = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args(["-D", "-f"])
        .arg(&conf_path)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let code = wait_exit(&mut child);
    if code.is_none() {
        let _ = child.kill();
    }
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert_eq!(code, Some(255));
    assert!(
        err.contains("getsockname(): Socket operation on non-socket"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
