//! `lighttpd -1` with a pipe on stdin (as netcat gives): requests are read
//! from stdin, responses written to stdout, then the process exits; the
//! connection's addresses are ncat's variables or lighttpd's made-up ones.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use common::{parse, temp_dir, wait_exit, write_files, MIME};

const CGI: &[u8] = b"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n\
echo \"SA=$SERVER_ADDR RA=$REMOTE_ADDR RP=$REMOTE_PORT SP=$SERVER_PORT M=$REQUEST_METHOD\"\ncat\n";

/// Run `lighttpd -1` with `input` on a stdin pipe (closed after writing) and
/// `env` set; returns (exit code, stdout, stderr). Bounded by wait_exit.
fn one_shot(input: &[u8], env: &[(&str, &str)]) -> (Option<i32>, Vec<u8>, String) {
    run_one_shot(input, env, "")
}

/// [`one_shot`] without ncat variables, with `extra` config lines.
fn one_shot_conf(input: &[u8], extra: &str) -> (Option<i32>, Vec<u8>, String) {
    run_one_shot(input, &[], extra)
}

fn run_one_shot(input: &[u8], env: &[(&str, &str)], extra: &str) -> (Option<i32>, Vec<u8>, String) {
    let dir = temp_dir("oneshot-pipe");
    let www = dir.join("www");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    write_files(
        &www,
        &[("a.txt", b"one\n"), ("big.bin", &big), ("e.sh", CGI)],
    );
    let conf = format!(
        "server.document-root = \"{}\"\nserver.bind = \"127.0.0.1\"\nserver.port = 1\n{MIME}\n\
         server.modules += (\"mod_cgi\")\ncgi.assign = (\".sh\" => \"/bin/sh\")\n\
         $SERVER[\"socket\"] == \"0.0.0.0:9090\" {{ server.tag = \"wild\" }}\n{extra}",
        www.display()
    );
    let conf_path = dir.join("o.conf");
    std::fs::write(&conf_path, conf).expect("conf");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lighttpd"));
    cmd.args(["-1", "-f"]).arg(&conf_path);
    cmd.env_remove("NCAT_LOCAL_ADDR").envs(env.iter().copied());
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let code = wait_exit(&mut child);
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = writer.join();
    let out = reader.join().unwrap_or_default();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let _ = std::fs::remove_dir_all(&dir);
    (code, out, err)
}

#[test]
fn pipe_requests_are_answered_on_stdout_the_last_one_closing() {
    let (code, out, _) = one_shot(
        b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n",
        &[],
    );
    assert_eq!(code, Some(0));
    let rs = parse(&out);
    assert_eq!(
        rs.len(),
        2,
        "{}",
        String::from_utf8_lossy(&out[..out.len().min(600)])
    );
    assert_eq!(rs[0].text(), "one\n");
    assert_eq!(rs[0].header("Connection"), None);
    // 300 KB is several pipe buffers: the writer waits for stdout to drain.
    assert_eq!(rs[1].body.len(), 300_000);
    assert!(rs[1]
        .body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 251) as u8));
    // stdin ended with nothing pending: lighttpd ends keep-alive.
    assert_eq!(rs[1].header("Connection"), Some("close"));
    // no listener matches 127.0.0.1:80: the first one (the $SERVER["socket"])
    assert_eq!(rs[1].header("Server"), Some("wild"));
}

#[test]
fn pipe_addresses_are_made_up_or_taken_from_ncat() {
    // SERVER_ADDR: the wildcard listener's local address cannot be told on a pipe
    let post = b"POST /e.sh HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc";
    let (code, out, _) = one_shot(post, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        parse(&out)[0].text(),
        "SA= RA=127.0.0.1 RP=48080 SP=9090 M=POST\nabc"
    );
    let ncat = [
        ("NCAT_LOCAL_ADDR", "10.1.2.3"),
        ("NCAT_LOCAL_PORT", "9090"),
        ("NCAT_REMOTE_ADDR", "10.9.9.9"),
        ("NCAT_REMOTE_PORT", "5555"),
    ];
    let (code, out, _) = one_shot(post, &ncat);
    assert_eq!(code, Some(0));
    assert_eq!(
        parse(&out)[0].text(),
        "SA= RA=10.9.9.9 RP=5555 SP=9090 M=POST\nabc"
    );
}

#[test]
fn pipe_setup_failures_exit_cleanly_and_a_file_is_refused() {
    let get = b"GET /a.txt HTTP/1.0\r\n\r\n";
    let (code, out, err) = one_shot(get, &[("NCAT_LOCAL_ADDR", "10.1.2.3")]);
    assert_eq!((code, out.len(), err.as_str()), (Some(0), 0, ""));
    let bad = [
        ("NCAT_LOCAL_ADDR", "10.1.2.3"),
        ("NCAT_LOCAL_PORT", "80"),
        ("NCAT_REMOTE_ADDR", "::1"),
        ("NCAT_REMOTE_PORT", "80"),
    ];
    let (code, out, err) = one_shot(get, &bad);
    assert_eq!((code, out.len()), (Some(0), 0));
    assert!(err.contains("invalid remote addr"), "{err}");
    let (code, out, err) = one_shot_conf(get, "server.max-worker = 2\n");
    assert_eq!((code, parse(&out)[0].text().as_str()), (Some(0), "one\n"));
    assert!(
        err.contains(
            "server one-shot command line option disables server.max-worker config file option."
        ),
        "{err}"
    );
    let dir = temp_dir("oneshot-file");
    let conf = dir.join("o.conf");
    std::fs::write(
        &conf,
        format!("server.document-root = \"{}\"\n", dir.display()),
    )
    .expect("conf");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args(["-1", "-f"])
        .arg(&conf)
        .stdin(std::fs::File::open(&conf).expect("open"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let code = wait_exit(&mut child);
    if code.is_none() {
        let _ = child.kill();
    }
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert_eq!(code, Some(255));
    assert!(err.contains("lighttpd -1 stdin is not a socket"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
