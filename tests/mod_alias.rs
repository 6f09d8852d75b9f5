//! mod_alias against the real binary.

mod common;

use common::Server;

#[test]
fn prefix_mapping_and_traversal_guard() {
    let dir = common::temp_dir("alias");
    common::write_files(&dir, &[("a.txt", b"aliased\n"), ("sub/b.txt", b"b\n")]);
    let conf = format!(
        "server.modules = (\"mod_alias\")\nalias.url = (\"/img\" => \"{0}/\", \"/al/\" => \"{0}/\")",
        dir.display()
    );
    let s = Server::start(&conf, &[("alpha.txt", b"alpha\n")]);
    assert_eq!(s.get("/al/a.txt").text(), "aliased\n");
    assert_eq!(s.get("/img/sub/b.txt").text(), "b\n");
    assert_eq!(s.get("/alpha.txt").text(), "alpha\n");
    // "/img.." would escape the aliased directory: 403 (CVE-2018-19052).
    let r = s.raw(b"GET /img../alpha.txt HTTP/1.0\r\n\r\n");
    assert!(String::from_utf8_lossy(&r).starts_with("HTTP/1.0 403"));
    let r = s.get("/al/sub");
    assert_eq!((r.status, r.header("Location")), (301, Some("/al/sub/")));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn shadowed_alias_is_a_startup_error() {
    let dir = common::temp_dir("alias-bad");
    let conf = dir.join("l.conf");
    let text = format!(
        "server.document-root = \"/tmp\"\nserver.bind = \"127.0.0.1\"\nserver.port = {}\nserver.modules = (\"mod_alias\")\nalias.url = (\"/a\" => \"/x\", \"/ab\" => \"/y\")\n",
        common::free_port()
    );
    std::fs::write(&conf, text).expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args(["-D", "-f"])
        .arg(&conf)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let code = common::wait_exit(&mut child);
    if code.is_none() {
        common::signal(child.id() as i32, libc::SIGKILL);
    }
    let out = child.wait_with_output().expect("output");
    assert!(code.is_some_and(|c| c != 0), "startup must fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("will never match as `/a' matched first"));
    let _ = std::fs::remove_dir_all(dir);
}
