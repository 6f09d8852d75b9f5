//! mod_status against the real binary.

mod common;

use common::Server;

#[test]
fn status_pages() {
    let s = Server::start(
        r#"server.modules = ("mod_status")
status.status-url = "/server-status"
status.config-url = "/server-config"
status.statistics-url = "/server-statistics""#,
        &[("a.txt", b"a")],
    );
    s.get("/a.txt");
    let r = s.get("/server-status?auto");
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    let t = r.text();
    assert!(
        t.starts_with("Total Accesses: 1\nTotal kBytes: 0\nUptime: "),
        "{t}"
    );
    assert!(
        t.contains("\nBusyServers: 1\n") && t.contains("\nScoreboard: h_"),
        "{t}"
    );
    let r = s.get("/server-status?json");
    assert_eq!(r.header("Content-Type"), Some("application/javascript"));
    assert!(
        r.text().starts_with("{\n\t\"RequestsTotal\": 2,"),
        "{}",
        r.text()
    );
    let r = s.get("/server-status");
    assert!(r.text().contains("Server-Status (lighttpd/1.4.69)"));
    assert!(s.get("/server-config").text().contains("status"));
    let r = s.get("/server-statistics");
    assert_eq!(
        (r.status, r.header("Content-Type")),
        (204, Some("text/plain"))
    );
    assert!(s
        .get("/server-status?format=prometheus")
        .text()
        .contains("lighttpd_requests_total "));
}
