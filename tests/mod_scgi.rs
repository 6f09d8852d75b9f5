//! mod_scgi against the real binary: an SCGI (and uwsgi) backend thread for
//! the environment, bodies and heads, and a `bin-path` backend (a small
//! perl SCGI responder listening on its stdin) that the server spawns,
//! respawns after it dies, and stops on shutdown.

mod common;
mod gw_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;
use gw_support::{scgi_read, serve};

fn scgi_backend(mut s: TcpStream) {
    let Some((env, body)) = scgi_read(&mut s) else {
        return;
    };
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let q = get("QUERY_STRING").unwrap_or_default();
    let out = match q.as_str() {
        "lf" => "Status: 200\nX-Lf: yes\n\ntest123".to_string(),
        "first" => format!("\r\n{}", env.first().map(|(k, _)| k.as_str()).unwrap_or("")),
        "scgi" => format!("\r\n{}", get("SCGI").unwrap_or_default()),
        "echo" => format!("Status: 200\r\n\r\n{}", String::from_utf8_lossy(&body)),
        "nohead" => "Status: 200\r\nX: y\r\n".to_string(),
        "chunked" => "Status: 200\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n5;x=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: t\r\n\r\n".to_string(),
        "badchunk" => "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nmore".to_string(),
        "cutchunk" => "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nabc".to_string(),
        q => {
            let name = q.strip_prefix("env=").unwrap_or("SCRIPT_NAME");
            format!(
                "Content-Type: text/plain\r\n\r\n{}",
                get(name).unwrap_or_default()
            )
        }
    };
    let _ = s.write_all(out.as_bytes());
}

/// A uwsgi backend: answers with the PATH_INFO it received.
fn uwsgi_backend(mut s: TcpStream) {
    let mut h = [0u8; 4];
    if s.read_exact(&mut h).is_err() {
        return;
    }
    let mut vars = vec![0; usize::from(u16::from_le_bytes([h[1], h[2]]))];
    if s.read_exact(&mut vars).is_err() {
        return;
    }
    let mut p = &vars[..];
    let mut path_info = String::new();
    let take = |p: &mut &[u8]| -> Option<String> {
        let n = usize::from(u16::from_le_bytes([*p.first()?, *p.get(1)?]));
        let v = String::from_utf8_lossy(p.get(2..2 + n)?).into_owned();
        *p = &p[2 + n..];
        Some(v)
    };
    while let (Some(k), Some(v)) = (take(&mut p), take(&mut p)) {
        if k == "PATH_INFO" {
            path_info = v;
        }
    }
    let _ = s.write_all(format!("Status: 200\r\n\r\nuwsgi {path_info}").as_bytes());
}

fn start(port: u16, extra: &str) -> Server {
    let conf = format!(
        r#"server.modules = ("mod_scgi")
scgi.server = ( "/app" => (( "host" => "127.0.0.1", "port" => {port}, "check-local" => "disable" )) )
{extra}"#
    );
    Server::start(&conf, &[])
}

#[test]
fn environment_heads_and_bodies() {
    let s = start(serve(scgi_backend), "");
    assert_eq!(s.get("/app/a/b?env=PATH_INFO").text(), "/a/b");
    assert_eq!(s.get("/app/a/b?env=SCRIPT_NAME").text(), "/app");
    assert_eq!(s.get("/app?first").text(), "CONTENT_LENGTH");
    assert_eq!(s.get("/app?scgi").text(), "1");
    let r = s.get("/app?lf");
    assert_eq!(
        (r.status, r.header("X-Lf"), r.text().as_str()),
        (200, Some("yes"), "test123")
    );
    let req = b"POST /app?echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let r = common::parse(&s.raw(req)).pop().expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert_eq!(
        s.get("/app?nohead").status,
        500,
        "closed before the end of the head"
    );
}

#[test]
fn a_chunked_backend_body_is_decoded_as_lighttpd() {
    let s = start(serve(scgi_backend), "");
    let get = |q: &str| format!("GET /app?{q} HTTP/1.1\r\nHost: t\r\n\r\n");
    // decoded, framed by length, trailers joined to the headers (the status
    // was given), the backend's Content-Length dropped; keep-alive stays
    let mut c = s.connect();
    c.write_all(get("chunked").as_bytes()).expect("send");
    let r = common::read_response(&mut c, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "hello!"));
    assert_eq!(r.header("Content-Length"), Some("6"));
    assert_eq!(r.header("X-T"), Some("t\r"));
    assert_eq!(r.header("Transfer-Encoding"), None);
    // cut short: what arrived, still keep-alive (lighttpd)
    c.write_all(get("cutchunk").as_bytes()).expect("send");
    let r = common::read_response(&mut c, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "helloabc"));
    assert_eq!(r.header("Connection"), None);
    // malformed: what decoded before the error, then the connection closes
    c.write_all(get("badchunk").as_bytes()).expect("send");
    let r = common::read_response(&mut c, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert_eq!(r.header("Connection"), Some("close"));
}

#[test]
fn fix_root_scriptname_puts_everything_in_path_info() {
    let port = serve(scgi_backend);
    let conf = format!(
        r#"server.modules = ("mod_scgi")
scgi.server = ( "/" => (( "host" => "127.0.0.1", "port" => {port}, "check-local" => "disable", "fix-root-scriptname" => "enable" )) )"#
    );
    let s = Server::start(&conf, &[]);
    assert_eq!(s.get("/abc/def/ghi?env=PATH_INFO").text(), "/abc/def/ghi");
    assert_eq!(s.get("/abc/def/ghi?env=SCRIPT_NAME").text(), "");
}

#[test]
fn uwsgi_protocol() {
    let s = start(serve(uwsgi_backend), r#"scgi.protocol = "uwsgi""#);
    let r = s.get("/app/x");
    assert_eq!((r.status, r.text().as_str()), (200, "uwsgi /x"));
}

const PERL_RESPONDER: &str = r#"#!/usr/bin/perl
open(my $L, "<&=0") or die "no listening socket: $!";
while (accept(my $c, $L)) {
    my $len = "";
    while (sysread($c, my $ch, 1)) { last if $ch eq ":"; $len .= $ch; }
    my $data = "";
    while (length($data) < $len + 1) {
        sysread($c, $data, $len + 1 - length($data), length($data)) or last;
    }
    my %env = split /\0/, substr($data, 0, $len);
    syswrite($c, "Status: 200\r\nContent-Type: text/plain\r\n\r\npid=$$ child=$ENV{PHP_FCGI_CHILDREN} x=$ENV{X_TEST}");
    close($c);
}
"#;

fn pid_of(text: &str) -> i32 {
    text.strip_prefix("pid=")
        .and_then(|t| t.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text:?}"))
}

fn alive(pid: i32) -> bool {
    // through /proc; a zombie counts as gone
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[test]
fn bin_path_is_spawned_respawned_and_stopped() {
    if !std::path::Path::new("/usr/bin/perl").exists() {
        eprintln!("skipped: no /usr/bin/perl for the spawned responder");
        return;
    }
    let dir = common::temp_dir("scgi-bin");
    let script = dir.join("responder.pl");
    std::fs::write(&script, PERL_RESPONDER).expect("write");
    let sock = dir.join("scgi.sock");
    let conf = format!(
        r#"server.modules = ("mod_scgi")
scgi.server = ( ".pl" => (( "socket" => "{}", "bin-path" => "/usr/bin/perl {}", "check-local" => "disable", "max-procs" => 1,
                            "bin-environment" => ( "X_TEST" => "from-conf" ) )) )"#,
        sock.display(),
        script.display()
    );
    let mut s = Server::start(&conf, &[]);
    let r = s.get("/x.pl");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().ends_with("child=1 x=from-conf"), "{}", r.text());
    let first = pid_of(&r.text());
    assert!(std::path::Path::new(&format!("{}-0", sock.display())).exists());
    common::signal(first, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        std::thread::sleep(Duration::from_millis(200));
        let r = s.get("/x.pl");
        if r.status == 200 && pid_of(&r.text()) != first {
            break pid_of(&r.text());
        }
        assert!(Instant::now() < deadline, "backend was not respawned");
    };
    assert!(!alive(first), "the killed backend was reaped");
    assert!(alive(second));
    assert_eq!(s.stop(), Some(0));
    let deadline = Instant::now() + Duration::from_secs(20);
    while alive(second) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(second), "backend stopped with the server");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn graceful_restart_replaces_spawned_tcp_backends() {
    if !std::path::Path::new("/usr/bin/perl").exists() {
        eprintln!("skipped: no /usr/bin/perl for the spawned responder");
        return;
    }
    let dir = common::temp_dir("scgi-usr1");
    let script = dir.join("responder.pl");
    std::fs::write(&script, PERL_RESPONDER).expect("write");
    let port = common::free_port();
    let conf = format!(
        r#"server.modules = ("mod_scgi")
scgi.server = ( ".pl" => (( "host" => "127.0.0.1", "port" => {port}, "bin-path" => "/usr/bin/perl {}", "check-local" => "disable", "max-procs" => 1 )) )"#,
        script.display()
    );
    let mut s = Server::start(&conf, &[]);
    let first = pid_of(&s.get("/a.pl").text());
    common::signal(s.pid(), libc::SIGUSR1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        std::thread::sleep(Duration::from_millis(200));
        let r = s.get("/a.pl");
        if r.status == 200 && pid_of(&r.text()) != first {
            break pid_of(&r.text());
        }
        assert!(
            Instant::now() < deadline,
            "no new backend after USR1 ({})",
            r.status
        );
    };
    assert!(!alive(first), "the old backend was stopped");
    assert_eq!(s.stop(), Some(0));
    let deadline = Instant::now() + Duration::from_secs(20);
    while alive(second) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(second));
    let _ = std::fs::remove_dir_all(&dir);
}
