use super::*;

fn stats() -> Stats {
    Stats {
        requests: 12,
        traffic_out: 4096,
        uptime: 3725,
        started: 0,
        busy: 2,
        idle: 3,
        requests_5s: [5, 5, 0, 0, 0],
        traffic_5s: [2048, 3072, 0, 0, 0],
    }
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            remote_ip: "127.0.0.1".into(),
            state: Some(State::HandleReq),
            written: (0, 5000),
            host: "a<b".into(),
            path: "/server-status".into(),
            query: "x=1".into(),
            target_orig: "/server-status?x=1".into(),
            ..Row::default()
        },
        Row {
            remote_ip: "::1".into(),
            state: Some(State::Read),
            keep_alive: true,
            age: 3,
            target_orig: "/a".into(),
            ..Row::default()
        },
    ]
}

#[test]
fn text_and_json() {
    assert_eq!(
        render_text(&stats(), &rows()),
        "Total Accesses: 12\nTotal kBytes: 4\nUptime: 3725\nBusyServers: 2\nIdleServers: 3\nScoreboard: hk___\n"
    );
    assert_eq!(
        render_json(&stats(), "json"),
        "{\n\t\"RequestsTotal\": 12,\n\t\"TrafficTotal\": 4,\n\t\"Uptime\": 3725,\n\t\"BusyServers\": 2,\n\t\"IdleServers\": 3,\n\t\"RequestAverage5s\":2,\n\t\"TrafficAverage5s\":1\n}"
    );
    let j = render_json(&stats(), "jsonp=cb_1");
    assert!(j.starts_with("cb_1({") && j.ends_with("});"));
    for bad in ["jsonp=1cb", "jsonp=a-b", "jsonp=", "jsonp=x<script>"] {
        assert!(render_json(&stats(), bad).starts_with('{'), "{bad}");
    }
    assert!(render_prometheus(&stats()).contains("lighttpd_requests_total 12\n"));
}

#[test]
fn multipliers_as_lighttpd_prints_them() {
    assert_eq!(multiplier(0.0, 1000), "0  ");
    assert_eq!(multiplier(999.0, 1000), "999  ");
    assert_eq!(multiplier(1500.0, 1000), "1 k");
    assert_eq!(multiplier(2_500_000.0, 1000), "2 M");
    assert_eq!(multiplier(482.0, 1024), "482.00  ");
    assert_eq!(multiplier(2048.0, 1024), "2.00 k");
    assert_eq!(multiplier(96.4, 1024), "96.40  ");
    // Uptime 0: lighttpd divides by zero.
    assert_eq!(multiplier(f64::NAN, 1000), "-9223372036854775808  ");
    assert_eq!(multiplier(f64::NAN, 1024), "-nan  ");
    assert_eq!(multiplier(f64::INFINITY, 1000), "-9223372036854775808 Y");
    assert_eq!(multiplier(f64::INFINITY, 1024), "inf Y");
}

fn page(sort: bool, query: &str) -> Page<'_> {
    Page {
        tag: Some("lighttpd/1.4.69"),
        authority: "example.com",
        server_name: None,
        query,
        sort,
        started_text: "2024-01-02 03:04:05".into(),
    }
}

#[test]
fn html_status_page() {
    let rows = rows();
    let h = render_html_head(&stats(), &rows, &page(true, ""));
    assert!(h.contains("<h1>Server-Status (lighttpd/1.4.69)</h1><table summary=\"status\" class=\"status\"><tr><td>Hostname</td><td class=\"string\">example.com</td></tr>\n"));
    assert!(h.contains("<tr><td>Uptime</td><td class=\"string\">1 hours 2 min 5 s</td></tr>\n"));
    assert!(
        h.contains("<tr><td>Started at</td><td class=\"string\">2024-01-02 03:04:05</td></tr>\n")
    );
    assert!(h.contains("<tr><td>Requests</td><td class=\"string\">12  req</td></tr>\n"));
    assert!(h.contains("<tr><td>Traffic</td><td class=\"string\">4.00 kbyte</td></tr>\n"));
    assert!(h.contains("<tr><td>Requests</td><td class=\"string\">2  req/s</td></tr>\n"));
    assert!(h.contains("<b>2 connections</b>\nhk\n\n<table>\n<tr><td style=\"text-align:right\">1<td>&nbsp;&nbsp;k = keep-alive</td></tr>\n"));
    assert!(h.contains(
        "<tr><td style=\"text-align:right\">1</td><td>&nbsp;&nbsp;h = handle-req</td></tr>\n"
    ));
    assert!(h.contains("<tr><td style=\"text-align:right\">0</td><td>&nbsp;&nbsp;C = close</td></tr>\n</table>\n</pre><hr />\n"));
    assert!(
        h.contains("<script")
            && h.contains("onclick=\"resort(this);return false;\">Client IP<span")
    );
    assert!(!h.contains("http-equiv"));
    let plain = render_html_head(&stats(), &rows, &page(false, "refresh=99999999"));
    assert!(
        !plain.contains("<script") && plain.contains("<tr><th class=\"status\">Client IP</th>\n")
    );
    assert!(plain.contains("<meta http-equiv=\"refresh\" content=\"604800\">\n"));
    assert!(render_html_head(&stats(), &rows, &page(false, "refresh=7")).contains("content=\"7\""));
    assert!(!render_html_head(&stats(), &rows, &page(false, "refresh=0")).contains("http-equiv"));
    let mut b = String::new();
    render_row(&mut b, &rows[0]);
    render_row(&mut b, &rows[1]);
    assert_eq!(
        b,
        "<tr><td class=\"string\">127.0.0.1</td><td class=\"int\">0/0</td><td class=\"int\">0/5000</td><td class=\"string\">handle-req</td><td class=\"int\">0</td><td class=\"string\">a&lt;b</td><td class=\"string\">/server-status?x=1 (/server-status?x=1)</td><td class=\"string\"></td></tr>\n\
         <tr><td class=\"string\">::1</td><td class=\"int\">0/0</td><td class=\"int\">0/0</td><td class=\"string\">keep-alive</td><td class=\"int\">3</td><td class=\"string\"></td><td class=\"string\"> (/a)</td><td class=\"string\"></td></tr>\n"
    );
    // A long scoreboard wraps every 50 letters.
    let many = vec![Row::default(); 51];
    let h = render_html_head(&stats(), &many, &page(false, ""));
    assert!(h.contains(&format!("<b>51 connections</b>\n{}\nr\n\n", "r".repeat(50))));
}

#[test]
fn config_page() {
    let c = render_config(&["mod_indexfile".into(), "mod_status".into()], Some("t"));
    assert!(c.contains("  <h1>t  </h1>\n  <table summary=\"status\" border=\"1\">\n"));
    assert!(c.contains("    <td><b>Loaded Modules</b></td>\n    <td>indexfile<br />status</td>\n"));
    assert!(c.contains("    <td>linux-sysepoll</td>\n"));
    assert!(!render_config(&[], None).contains("<h1>"));
}
