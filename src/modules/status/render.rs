//! The pages of mod_status, as lighttpd 1.4.69 lays them out: the HTML
//! status page (summary, scoreboard, state counts, one row per
//! connection), `?auto` text, `?json`/`?jsonp=`, the config page, and the
//! Prometheus text (our extension). Pure functions over [`Stats`] and
//! [`Row`]s.
//!
//! Numbers are printed as lighttpd does, including its quirks: averages
//! "since start" divide by an uptime of 0 (C's `-nan`, `inf` and the
//! x86 integer conversion of those), units `k M G …` by 1000 or 1024.
//! The table-sorting script is our own (lighttpd's differs in text only).

/// Server-wide numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Requests / response bytes accounted at the last 1 s tick.
    pub requests: u64,
    pub traffic_out: u64,
    pub uptime: i64,
    /// Server start (Unix seconds).
    pub started: i64,
    /// Open connections and free slots (lighttpd max_conns - lim_conns, lim_conns).
    pub busy: usize,
    pub idle: usize,
    /// Requests / bytes of the last five seconds (one slot per second).
    pub requests_5s: [u64; 5],
    pub traffic_5s: [u64; 5],
}

/// lighttpd's connection states (`request_state_t`), in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connect,
    ReqStart,
    Read,
    ReqEnd,
    ReadPost,
    HandleReq,
    RespStart,
    Write,
    RespEnd,
    Error,
    Close,
}

impl State {
    const ALL: [State; 11] = [
        State::Connect,
        State::ReqStart,
        State::Read,
        State::ReqEnd,
        State::ReadPost,
        State::HandleReq,
        State::RespStart,
        State::Write,
        State::RespEnd,
        State::Error,
        State::Close,
    ];

    /// The scoreboard letter.
    pub fn short(self) -> char {
        b".qrQRhsWSECx"[self as usize] as char
    }

    pub fn name(self) -> &'static str {
        [
            "connect",
            "req-start",
            "read",
            "req-end",
            "readpost",
            "handle-req",
            "resp-start",
            "write",
            "resp-end",
            "error",
            "close",
        ][self as usize]
    }
}

/// One connection as the table shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub remote_ip: String,
    pub state: Option<State>,
    /// Waiting for the next request after one was served (`k`).
    pub keep_alive: bool,
    /// Request body bytes read / expected (0/0 without a body; -1
    /// expected for a chunked body).
    pub body: (u64, i64),
    /// Response bytes written / queued.
    pub written: (u64, u64),
    /// Seconds since the request started.
    pub age: i64,
    pub host: String,
    pub path: String,
    pub query: String,
    pub target_orig: String,
    pub physical: String,
}

impl Row {
    fn short(&self) -> char {
        if self.keep_alive {
            'k'
        } else {
            self.state.unwrap_or(State::Read).short()
        }
    }
}

/// HTML-escape (lighttpd ENCODING_HTML).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `?auto`.
pub fn render_text(s: &Stats, rows: &[Row]) -> String {
    let board: String = rows.iter().map(Row::short).collect();
    format!(
        "Total Accesses: {}\nTotal kBytes: {}\nUptime: {}\nBusyServers: {}\nIdleServers: {}\nScoreboard: {board}{}\n",
        s.requests,
        s.traffic_out / 1024,
        s.uptime,
        s.busy,
        s.idle,
        "_".repeat(s.idle)
    )
}

/// `?json` / `?jsonp=name` (name: a letter, then letters, digits, `_`).
pub fn render_json(s: &Stats, query: &str) -> String {
    let jsonp = query.strip_prefix("jsonp=").filter(|f| {
        f.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
            && f.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
    });
    let avg = |a: &[u64; 5]| a.iter().sum::<u64>() / 5;
    let body = format!(
        "{{\n\t\"RequestsTotal\": {},\n\t\"TrafficTotal\": {},\n\t\"Uptime\": {},\n\t\"BusyServers\": {},\n\t\"IdleServers\": {},\n\t\"RequestAverage5s\":{},\n\t\"TrafficAverage5s\":{}\n}}",
        s.requests,
        s.traffic_out / 1024,
        s.uptime,
        s.busy,
        s.idle,
        avg(&s.requests_5s),
        avg(&s.traffic_5s) / 1024
    );
    match jsonp {
        Some(f) => format!("{f}({body});"),
        None => body,
    }
}

/// `?format=prometheus` (extension).
pub fn render_prometheus(s: &Stats) -> String {
    let mut out = String::new();
    let metrics = [
        (
            "lighttpd_requests_total",
            "counter",
            "Requests served.",
            s.requests.to_string(),
        ),
        (
            "lighttpd_traffic_out_bytes_total",
            "counter",
            "Response bytes sent.",
            s.traffic_out.to_string(),
        ),
        (
            "lighttpd_uptime_seconds",
            "gauge",
            "Seconds since start.",
            s.uptime.to_string(),
        ),
        (
            "lighttpd_connections_busy",
            "gauge",
            "Open connections.",
            s.busy.to_string(),
        ),
        (
            "lighttpd_connections_idle",
            "gauge",
            "Free connection slots.",
            s.idle.to_string(),
        ),
    ];
    for (name, kind, help, v) in metrics {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    }
    out
}

/// `?format=prometheus` on the statistics URL (extension): the plugin
/// counters, `gw.backend.LABEL[.PROC].FIELD` as
/// `lighttpd_gw_backend[_process]_FIELD{backend="LABEL"[,process="PROC"]}`,
/// any other `a.b-c` as `lighttpd_a_b_c`.
pub fn render_statistics_prometheus(counters: &[(String, i64)]) -> String {
    let mut out = String::new();
    for (key, value) in counters {
        let (name, labels) = prometheus_metric(key);
        out.push_str(&format!("{name}{labels} {value}\n"));
    }
    out
}

/// A counter's metric name and label set.
fn prometheus_metric(key: &str) -> (String, String) {
    let name = |parts: &str| {
        let clean: String = parts
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("lighttpd_{clean}")
    };
    let Some(rest) = key.strip_prefix("gw.backend.") else {
        return (name(key), String::new());
    };
    let Some((head, field)) = rest.rsplit_once('.') else {
        return (name(key), String::new());
    };
    match head.rsplit_once('.') {
        Some((label, proc)) if !proc.is_empty() && proc.bytes().all(|b| b.is_ascii_digit()) => (
            name(&format!("gw.backend.process.{field}")),
            format!("{{backend=\"{}\",process=\"{proc}\"}}", label_value(label)),
        ),
        _ => (
            name(&format!("gw.backend.{field}")),
            format!("{{backend=\"{}\"}}", label_value(head)),
        ),
    }
}

/// A Prometheus label value: `\`, `"` and newline escaped.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// lighttpd `mod_status_get_multiplier`: scaled value and a 2-char unit.
pub fn multiplier(mut avg: f64, size: u32) -> String {
    let size = f64::from(size);
    let mut unit = ' ';
    for u in ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'] {
        if avg > size {
            avg /= size;
            unit = u;
        }
    }
    let num = if size == 1000.0 {
        // C's (intmax_t) of inf/nan on x86 is INT64_MIN.
        if avg.is_finite() {
            (avg as i64).to_string()
        } else {
            i64::MIN.to_string()
        }
    } else if avg.is_nan() {
        "-nan".to_string()
    } else {
        format!("{avg:.2}")
    };
    format!("{num} {unit}")
}

fn uptime_text(secs: i64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(d, "days"), (h, "hours"), (m, "min")] {
        if n != 0 {
            out.push_str(&format!("{n} {unit} "));
        }
    }
    out.push_str(&format!("{s} s"));
    out
}

const STYLE: &str = "  <style type=\"text/css\">\n    table.status { border: black solid thin; }\n    td { white-space: nowrap; }\n    td.int { background-color: #f0f0f0; text-align: right }\n    td.string { background-color: #f0f0f0; text-align: left }\n    th.status { background-color: black; color: white; font-weight: bold; }\n    a.sortheader { background-color: black; color: white; font-weight: bold; text-decoration: none; display: block; }\n    span.sortarrow { color: white; text-decoration: none; }\n  </style>\n";

/// Click a column header to sort the connection table by it (again to
/// reverse); numeric columns compare as numbers.
const SORT_SCRIPT: &str = "<script type=\"text/javascript\">\n// <!--\nvar sorted_by = null;\nfunction cell_text(row, col) {\n return row.cells[col].textContent || row.cells[col].innerText || \"\";\n}\nfunction resort(link) {\n var th = link.parentNode;\n var table = th.parentNode.parentNode.parentNode;\n var col = th.cellIndex;\n var numeric = table.rows.length > 1 && table.rows[1].cells[col].className == 'int';\n var rows = [];\n for (var i = 1; i < table.rows.length; i++) rows.push(table.rows[i]);\n rows.sort(function (a, b) {\n  var x = cell_text(a, col), y = cell_text(b, col);\n  if (numeric) return parseInt(x) - parseInt(y);\n  x = x.toLowerCase(); y = y.toLowerCase();\n  return x < y ? -1 : (x > y ? 1 : 0);\n });\n var arrow = link.getElementsByTagName('span')[0];\n var down = arrow.getAttribute('sortdir') != 'down';\n if (!down) rows.reverse();\n if (sorted_by && sorted_by != arrow) sorted_by.innerHTML = '';\n arrow.innerHTML = down ? '&darr;' : '&uarr;';\n arrow.setAttribute('sortdir', down ? 'down' : 'up');\n sorted_by = arrow;\n for (var j = 0; j < rows.length; j++) table.tBodies[0].appendChild(rows[j]);\n}\n// -->\n</script>\n";

/// What the HTML page needs besides the numbers.
pub struct Page<'a> {
    pub tag: Option<&'a str>,
    /// The request's authority and `server.name` (shown when set).
    pub authority: &'a str,
    pub server_name: Option<&'a str>,
    pub query: &'a str,
    pub sort: bool,
    /// Local time of the server start, `%F %T`.
    pub started_text: String,
}

fn header_cell(out: &mut String, name: &str, sort: bool) {
    if sort {
        out.push_str(&format!("<th class=\"status\"><a href=\"#\" class=\"sortheader\" onclick=\"resort(this);return false;\">{name}<span class=\"sortarrow\">:</span></a></th>\n"));
    } else {
        out.push_str(&format!("<th class=\"status\">{name}</th>\n"));
    }
}

/// The page up to the connection rows (lighttpd sends this part first;
/// the requesting connection's row shows its length as queued bytes).
pub fn render_html_head(s: &Stats, rows: &[Row], p: &Page) -> String {
    let mut b = String::with_capacity(8192);
    b.push_str("<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>Status</title>\n");
    b.push_str(STYLE);
    if let Some(v) = p.query.strip_prefix("refresh=") {
        let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
        let n: i64 = digits
            .parse()
            .unwrap_or(if digits.is_empty() { 0 } else { i64::MAX });
        if n > 0 {
            b.push_str(&format!(
                "<meta http-equiv=\"refresh\" content=\"{}\">\n",
                n.min(604_800)
            ));
        }
    }
    if p.sort {
        b.push_str(SORT_SCRIPT);
    }
    b.push_str(" </head>\n<body>\n<h1>Server-Status");
    if let Some(tag) = p.tag {
        b.push_str(&format!(" ({tag})"));
    }
    b.push_str("</h1><table summary=\"status\" class=\"status\"><tr><td>Hostname</td><td class=\"string\">");
    b.push_str(&escape_html(p.authority));
    if let Some(name) = p.server_name.filter(|n| !n.is_empty()) {
        b.push_str(&format!(" ({})", escape_html(name)));
    }
    let since = s.uptime as f64;
    let avg5 = |a: &[u64; 5]| a.iter().sum::<u64>() as f64 / 5.0;
    let row = |k: &str, v: String| format!("<tr><td>{k}</td><td class=\"string\">{v}</td></tr>\n");
    let th = |k: &str| format!("<tr><th colspan=\"2\">{k}</th></tr>\n");
    b.push_str("</td></tr>\n");
    b.push_str(&row("Uptime", uptime_text(s.uptime)));
    b.push_str(&row("Started at", p.started_text.clone()));
    b.push_str(&th("absolute (since start)"));
    b.push_str(&row(
        "Requests",
        multiplier(s.requests as f64, 1000) + "req",
    ));
    b.push_str(&row(
        "Traffic",
        multiplier(s.traffic_out as f64, 1024) + "byte",
    ));
    b.push_str(&th("average (since start)"));
    b.push_str(&row(
        "Requests",
        multiplier(s.requests as f64 / since, 1000) + "req/s",
    ));
    b.push_str(&row(
        "Traffic",
        multiplier(s.traffic_out as f64 / since, 1024) + "byte/s",
    ));
    b.push_str(&th("average (5s sliding average)"));
    b.push_str(&row(
        "Requests",
        multiplier(avg5(&s.requests_5s), 1000) + "req/s",
    ));
    b.push_str(&row(
        "Traffic",
        multiplier(avg5(&s.traffic_5s), 1024) + "byte/s",
    ));
    b.push_str("</table>\n<hr />\n<pre>\n");
    scoreboard(&mut b, rows);
    b.push_str(
        "</pre><hr />\n<h2>Connections</h2>\n<table summary=\"status\" class=\"status\">\n<tr>",
    );
    for name in [
        "Client IP",
        "Read",
        "Written",
        "State",
        "Time",
        "Host",
        "URI",
        "File",
    ] {
        header_cell(&mut b, name, p.sort);
    }
    b.push_str("</tr>\n");
    b
}

/// Connection count, the letters (50 a line) and the count per state.
fn scoreboard(b: &mut String, rows: &[Row]) {
    b.push_str(&format!("<b>{} connections</b>\n", rows.len()));
    for (i, r) in rows.iter().enumerate() {
        b.push(r.short());
        if (i + 1) % 50 == 0 {
            b.push('\n');
        }
    }
    let keep = rows.iter().filter(|r| r.keep_alive).count();
    b.push_str(&format!("\n\n<table>\n<tr><td style=\"text-align:right\">{keep}<td>&nbsp;&nbsp;k = keep-alive</td></tr>\n"));
    for st in State::ALL {
        let n = rows
            .iter()
            .filter(|r| !r.keep_alive && r.state.unwrap_or(State::Read) == st)
            .count();
        b.push_str(&format!(
            "<tr><td style=\"text-align:right\">{n}</td><td>&nbsp;&nbsp;{} = {}</td></tr>\n",
            st.short(),
            st.name()
        ));
    }
    b.push_str("</table>\n");
}

/// One connection row.
pub fn render_row(b: &mut String, r: &Row) {
    let state = if r.keep_alive {
        "keep-alive"
    } else {
        r.state.unwrap_or(State::Read).name()
    };
    let mut uri = escape_html(&r.path);
    if !r.query.is_empty() {
        uri.push('?');
        uri.push_str(&escape_html(&r.query));
    }
    if !r.target_orig.is_empty() {
        uri.push_str(&format!(" ({})", escape_html(&r.target_orig)));
    }
    b.push_str(&format!(
        "<tr><td class=\"string\">{}</td><td class=\"int\">{}/{}</td><td class=\"int\">{}/{}</td><td class=\"string\">{state}</td><td class=\"int\">{}</td><td class=\"string\">{}</td><td class=\"string\">{uri}</td><td class=\"string\">{}</td></tr>\n",
        r.remote_ip,
        r.body.0,
        r.body.1,
        r.written.0,
        r.written.1,
        r.age,
        escape_html(&r.host),
        escape_html(&r.physical)
    ));
}

pub const HTML_TAIL: &str = "</table>\n</body>\n</html>\n";

/// The config page: the loaded modules without `mod_`.
pub fn render_config(modules: &[String], tag: Option<&str>) -> String {
    let names: Vec<&str> = modules
        .iter()
        .map(|m| m.strip_prefix("mod_").unwrap_or(m))
        .collect();
    let th = |k: &str| format!("   <tr>\n    <th colspan=\"2\">{k}</th>\n   </tr>\n");
    let row = |k: &str, v: &str| {
        format!("   <tr>\n    <td><b>{k}</b></td>\n    <td>{v}</td>\n   </tr>\n")
    };
    let mut b = String::from("<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>Status</title>\n </head>\n <body>\n");
    if let Some(tag) = tag {
        b.push_str(&format!("  <h1>{tag}  </h1>\n"));
    }
    b.push_str("  <table summary=\"status\" border=\"1\">\n");
    b.push_str(&th("Server-Features"));
    b.push_str(&row("RegEx Conditionals", "enabled"));
    b.push_str(&th("Network Engine"));
    b.push_str(&row("fd-Event-Handler", "linux-sysepoll"));
    b.push_str(&th("Config-File-Settings"));
    b.push_str(&row("Loaded Modules", &names.join("<br />")));
    b.push_str("  </table>\n </body>\n</html>\n");
    b
}

#[cfg(test)]
mod tests;
