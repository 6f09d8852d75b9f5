//! mod_status against the real binary: the pages, and a scoreboard and
//! connection table that follow real connections.

mod common;

use common::Server;
use std::io::Write;
use std::time::Duration;

/// Poll the status page `url` (up to 20 s) until it contains `want`; the
/// last page. (Connections come and go asynchronously: the one a previous
/// status request used may still linger, as C, for a moment.)
fn page_with(s: &Server, url: &str, want: &str) -> String {
    let mut page = String::new();
    common::wait_for(Duration::from_secs(20), || {
        page = s.get(url).text();
        page.contains(want)
    });
    page
}

/// [`page_with`] for `?auto`.
fn auto_page_with(s: &Server, want: &str) -> String {
    page_with(s, "/server-status?auto", want)
}

fn server() -> Server {
    Server::start(
        r#"server.modules = ("mod_status")
server.max-connections = 20
status.status-url = "/server-status"
status.config-url = "/server-config"
status.statistics-url = "/server-statistics""#,
        &[("a.txt", b"a"), ("big.bin", &[b'x'; 8 << 20])],
    )
}

#[test]
fn status_pages() {
    let s = server();
    s.get("/a.txt");
    let r = s.get("/server-status?auto");
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    // (the /a.txt connection may linger a moment after its close)
    let t = auto_page_with(&s, "\nBusyServers: 1\nIdleServers: 19\nScoreboard: h___");
    assert!(t.starts_with("Total Accesses: "), "{t}");
    assert!(
        t.contains("\nBusyServers: 1\nIdleServers: 19\nScoreboard: h___"),
        "{t}"
    );
    // Totals move at the 1 s tick, as lighttpd's: poll until they count
    // the requests above (a loaded machine may run the tick late).
    let mut r = s.get("/server-status?json");
    let total = |r: &common::Response| -> u32 {
        let t = r.text();
        let v = t.strip_prefix("{\n\t\"RequestsTotal\": ").unwrap_or("");
        v.split(',')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        common::wait_for(Duration::from_secs(20), || {
            r = s.get("/server-status?json");
            total(&r) >= 2
        }),
        "{}",
        r.text()
    );
    assert_eq!(r.header("Content-Type"), Some("application/javascript"));
    let r = s.get("/server-status");
    assert!(r
        .text()
        .contains("<h1>Server-Status (lighttpd/1.4.69)</h1>"));
    let c = s.get("/server-config").text();
    assert!(c.contains("<td>status<br />staticfile</td>"), "{c}");
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

#[test]
fn scoreboard_and_table_follow_connections() {
    let s = server();
    // A: one request, then idle in keep-alive; B: connected, nothing sent.
    let mut a = s.connect();
    a.write_all(b"GET /a.txt?q=1 HTTP/1.1\r\nHost: Keep.Example\r\n\r\n")
        .expect("send");
    assert_eq!(
        common::read_response(&mut a, false).map(|r| r.status),
        Some(200)
    );
    let b = s.connect();
    // until the server has accepted B
    let t = auto_page_with(&s, "\nBusyServers: 3\nIdleServers: 17\nScoreboard: hrk_");
    assert!(
        t.contains("\nBusyServers: 3\nIdleServers: 17\nScoreboard: hrk_"),
        "{t}"
    );
    let html = page_with(&s, "/server-status", "<b>3 connections</b>\nhrk\n");
    assert!(html.contains("<b>3 connections</b>\nhrk\n"), "{html}");
    assert!(
        html.contains("<tr><td style=\"text-align:right\">1<td>&nbsp;&nbsp;k = keep-alive"),
        "{html}"
    );
    assert!(
        html.contains("<td class=\"string\">keep.example</td><td class=\"string\">/a.txt?q=1 (/a.txt?q=1)</td><td class=\"string\"></td></tr>")
            && html.contains("<td class=\"int\">0/0</td><td class=\"string\">keep-alive</td>"),
        "{html}"
    );
    assert!(html.contains("<td class=\"string\">read</td>"), "{html}");
    assert!(
        html.contains("<td class=\"string\">test</td><td class=\"string\">/server-status (/server-status)</td>")
            && html.contains("<td class=\"string\">handle-req</td>"),
        "{html}"
    );
    drop(a);
    drop(b);
    let t = auto_page_with(&s, "\nBusyServers: 1\nIdleServers: 19\nScoreboard: h___");
    assert!(
        t.contains("\nBusyServers: 1\nIdleServers: 19\nScoreboard: h___"),
        "{t}"
    );
}

#[test]
fn a_blocked_download_shows_as_writing() {
    let s = server();
    let mut a = s.connect();
    a.write_all(b"GET /big.bin HTTP/1.1\r\nHost: dl\r\n\r\n")
        .expect("send");
    // A does not read: its response stays in the write state.
    let t = auto_page_with(&s, "\nScoreboard: hW_");
    assert!(t.contains("\nScoreboard: hW_"), "{t}");
    let html = s.get("/server-status").text();
    assert!(
        html.contains("<td class=\"string\">write</td>") && html.contains("/big.bin</td></tr>"),
        "{html}"
    );
    // the Written column follows the connection: part of head + 8 MiB
    let cell = html
        .split("<td class=\"int\">")
        .find_map(|c| {
            c.split_once("</td><td class=\"string\">write</td>")
                .map(|x| x.0)
        })
        .unwrap_or_default();
    let (written, queued) = cell.split_once('/').unwrap_or_default();
    let (written, queued): (u64, u64) = (written.parse().unwrap_or(0), queued.parse().unwrap_or(0));
    assert!(
        queued > 8 << 20 && queued < (8 << 20) + 1024 && written > 0 && written < queued,
        "{cell}"
    );
    drop(a);
}

#[test]
fn statistics_in_prometheus_format() {
    let dead = common::free_port();
    let s = Server::start(
        &format!(
            r#"server.modules = ("mod_status", "mod_proxy")
status.statistics-url = "/server-statistics"
proxy.server = ( "/app" => ( "be" => ( "host" => "127.0.0.1", "port" => {dead} ) ) )"#
        ),
        &[("a.txt", b"a")],
    );
    assert_eq!(s.get("/app/x").status, 503);
    let r = s.get("/server-statistics?format=prometheus");
    assert_eq!(
        (r.status, r.header("Content-Type")),
        (200, Some("text/plain; version=0.0.4"))
    );
    let t = r.text();
    assert!(
        t.contains("lighttpd_gw_backend_process_died{backend=\"be\",process=\"0\"} 1\n"),
        "{t}"
    );
    assert!(
        t.contains("lighttpd_gw_backend_load{backend=\"be\"} "),
        "{t}"
    );
}

/// Polls `?auto` until its scoreboard starts with `want` (bounded wait).
fn wait_for_scoreboard(s: &Server, want: &str) -> String {
    auto_page_with(s, &format!("\nScoreboard: {want}"))
}

#[test]
fn a_request_body_being_read_shows_as_read_post() {
    let s = Server::start(
        r#"server.modules = ("mod_status", "mod_cgi")
status.status-url = "/server-status"
cgi.assign = ( ".sh" => "/bin/sh" )"#,
        &[(
            "echo.sh",
            b"printf 'Content-Type: text/plain\\r\\n\\r\\n'\ncat\n",
        )],
    );
    // A: 10 of 100 body bytes; B: one chunk of a chunked body.
    let mut a = s.connect();
    a.write_all(b"POST /echo.sh HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
        .expect("send");
    let mut b = s.connect();
    b.write_all(
        b"POST /echo.sh HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    )
    .expect("send");
    let t = wait_for_scoreboard(&s, "hRR_");
    assert!(t.contains("\nScoreboard: hRR_"), "{t}");
    let html = page_with(&s, "/server-status", "<b>3 connections</b>\nhRR\n");
    assert!(
        html.contains("<td class=\"int\">10/100</td><td class=\"int\">0/0</td><td class=\"string\">readpost</td>")
            && html.contains("<td class=\"int\">5/-1</td><td class=\"int\">0/0</td><td class=\"string\">readpost</td>"),
        "{html}"
    );
    assert!(html.contains("<b>3 connections</b>\nhRR\n"), "{html}");
    assert!(
        html.contains("/echo.sh (/echo.sh)</td><td class=\"string\">/"),
        "{html}"
    );
    // the rest of A's body: the program runs and answers, A idles in keep-alive
    a.write_all(&[b'x'; 90]).expect("send");
    let r = common::read_response(&mut a, false).expect("response");
    assert_eq!((r.status, r.body.len()), (200, 100));
    let t = wait_for_scoreboard(&s, "hRk_");
    assert!(t.contains("\nScoreboard: hRk_"), "{t}");
    drop(b);
}

#[test]
fn a_lingering_close_and_a_running_handler_show_as_lighttpd() {
    let s = Server::start(
        r#"server.modules = ("mod_status", "mod_cgi")
status.status-url = "/server-status"
cgi.assign = ( ".sh" => "/bin/sh" )"#,
        &[
            ("a.txt", b"a"),
            (
                "slow.sh",
                b"i=0\nwhile [ ! -e go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\nprintf 'Content-Type: text/plain\\r\\n\\r\\ndone'\n",
            ),
        ],
    );
    // A: answered with Connection: close, but A keeps its side open (C)
    let mut a = s.connect();
    a.write_all(b"GET /a.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .expect("send");
    assert_eq!(
        common::read_response(&mut a, false).map(|r| r.status),
        Some(200)
    );
    // (a lingering close lasts 5 s, as lighttpd's: looked at right away)
    let html = s.get("/server-status").text();
    assert!(html.contains("<b>2 connections</b>\nhC\n"), "{html}");
    assert!(
        html.contains("<td class=\"string\">close</td><td class=\"int\">")
            && html
                .contains("<td class=\"string\">a</td><td class=\"string\">/a.txt (/a.txt)</td>"),
        "{html}"
    );
    drop(a);
    // B: its program runs and has not answered yet (h)
    let mut b = s.connect();
    b.write_all(b"GET /slow.sh HTTP/1.1\r\nHost: b\r\n\r\n")
        .expect("send");
    let t = wait_for_scoreboard(&s, "hh");
    assert!(t.contains("\nScoreboard: hh"), "{t}");
    // B's program ends once told to (at most 30 s): B gets its answer
    std::fs::write(s.docroot.join("go"), b"").expect("write");
    let r = common::read_response(&mut b, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "done"));
}
