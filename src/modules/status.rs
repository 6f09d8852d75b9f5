//! mod_status (lighttpd src/mod_status.c): server status at
//! `status.status-url` (HTML, `?auto` text, `?json`/`?jsonp=fn`), the
//! loaded modules at `status.config-url`, counters at
//! `status.statistics-url` (204 while there are none).
//!
//! Extension: `?format=prometheus` gives the same numbers in the
//! Prometheus text format. Differences: the scoreboard marks every open
//! connection `h` (per-connection states are not visible to modules) and
//! the HTML page has no per-connection table.

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_bool, get_str};
use crate::plugin::registry::ModuleInit;
use crate::plugin::{ConnInfo, Ctx, Flow, Hook, Module};
use crate::request::Request;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusConf {
    pub status_url: Option<String>,
    pub config_url: Option<String>,
    pub statistics_url: Option<String>,
    pub enable_sort: bool,
}

impl Default for StatusConf {
    fn default() -> Self {
        StatusConf {
            status_url: None,
            config_url: None,
            statistics_url: None,
            enable_sort: true,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Item {
    Url(u8, Option<String>),
    Sort(bool),
}

impl Patch for StatusConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Url(0, u) => self.status_url = u.clone(),
            Item::Url(1, u) => self.config_url = u.clone(),
            Item::Url(_, u) => self.statistics_url = u.clone(),
            Item::Sort(b) => self.enable_sort = *b,
        }
    }
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<StatusConf>, Vec<Diagnostic>> {
    let keys = [
        "status.status-url",
        "status.config-url",
        "status.statistics-url",
        "status.enable-sort",
    ];
    Scoped::build(tree, StatusConf::default(), &keys, |key, d| {
        if key == "status.enable-sort" {
            return Ok(Item::Sort(get_bool(key, &d.value)?));
        }
        let u = get_str(key, &d.value)?;
        let u = (!u.is_empty()).then(|| u.to_string());
        Ok(Item::Url(
            match key {
                "status.status-url" => 0,
                "status.config-url" => 1,
                _ => 2,
            },
            u,
        ))
    })
}

/// The numbers the pages show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub traffic_out: u64,
    pub uptime: i64,
    pub busy: usize,
    pub idle: usize,
    /// Requests / bytes of the last five seconds (one slot per second).
    pub requests_5s: [u64; 5],
    pub traffic_5s: [u64; 5],
}

/// `?auto`.
pub fn render_text(s: &Stats) -> String {
    format!(
        "Total Accesses: {}\nTotal kBytes: {}\nUptime: {}\nBusyServers: {}\nIdleServers: {}\nScoreboard: {}{}\n",
        s.requests,
        s.traffic_out / 1024,
        s.uptime,
        s.busy,
        s.idle,
        "h".repeat(s.busy),
        "_".repeat(s.idle)
    )
}

/// `?json` / `?jsonp=name`.
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
    let mut metric = |name: &str, kind: &str, help: &str, v: String| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    };
    metric(
        "lighttpd_requests_total",
        "counter",
        "Requests served.",
        s.requests.to_string(),
    );
    metric(
        "lighttpd_traffic_out_bytes_total",
        "counter",
        "Response bytes sent.",
        s.traffic_out.to_string(),
    );
    metric(
        "lighttpd_uptime_seconds",
        "gauge",
        "Seconds since start.",
        s.uptime.to_string(),
    );
    metric(
        "lighttpd_connections_busy",
        "gauge",
        "Open connections.",
        s.busy.to_string(),
    );
    metric(
        "lighttpd_connections_idle",
        "gauge",
        "Free connection slots.",
        s.idle.to_string(),
    );
    out
}

fn duration(secs: i64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(d, "days"), (h, "hours"), (m, "min")] {
        if n > 0 || !out.is_empty() {
            out.push_str(&format!("{n} {unit} "));
        }
    }
    out.push_str(&format!("{s} s"));
    out
}

fn xhtml(title: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>{title}</title>\n </head>\n <body>\n{body} </body>\n</html>\n"
    )
}

/// The HTML status page.
pub fn render_html(s: &Stats, tag: &str) -> String {
    let avg = |a: &[u64; 5]| a.iter().sum::<u64>() / 5;
    let rows = [
        ("Uptime", duration(s.uptime)),
        ("Requests", s.requests.to_string()),
        (
            "Traffic",
            format!("{:.2} kbyte", s.traffic_out as f64 / 1024.0),
        ),
        (
            "Requests (avg, 5 s)",
            format!("{} req/s", avg(&s.requests_5s)),
        ),
        (
            "Traffic (avg, 5 s)",
            format!("{:.2} kbyte/s", avg(&s.traffic_5s) as f64 / 1024.0),
        ),
        ("Connections", format!("{} busy, {} idle", s.busy, s.idle)),
    ];
    let mut body = format!(
        "  <h1>Server-Status ({})</h1>\n  <table summary=\"status\" class=\"status\">\n",
        escape_html(tag)
    );
    for (k, v) in rows {
        body.push_str(&format!(
            "   <tr><td>{k}</td><td class=\"string\">{v}</td></tr>\n"
        ));
    }
    body.push_str("  </table>\n");
    xhtml("Status", &body)
}

/// The config page: loaded modules without `mod_`.
pub fn render_config(modules: &[String]) -> String {
    let names: Vec<String> = modules
        .iter()
        .map(|m| escape_html(m.strip_prefix("mod_").unwrap_or(m)))
        .collect();
    let body = format!(
        "  <h1>Config</h1>\n  <table summary=\"status\" class=\"status\">\n   <tr><th colspan=\"2\">Server-Features</th></tr>\n   <tr><td>RegEx Conditionals</td><td>enabled</td></tr>\n   <tr><th colspan=\"2\">Network Engine</th></tr>\n   <tr><td>fd-Event-Handler</td><td>epoll</td></tr>\n   <tr><th colspan=\"2\">Config-File-Settings</th></tr>\n   <tr><td>Loaded Modules</td><td>{}</td></tr>\n  </table>\n",
        names.join("<br />\n")
    );
    xhtml("Status", &body)
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The module.
pub struct ModStatus {
    conf: Scoped<StatusConf>,
    modules: Vec<String>,
    started: Option<i64>,
    max_conns: usize,
    open_conns: usize,
    requests: u64,
    traffic: u64,
    requests_5s: [u64; 5],
    traffic_5s: [u64; 5],
    this_second: (u64, u64),
    slot: usize,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let max = crate::config::core::compile_server(init.tree, Vec::new())
        .map(|s| usize::from(s.max_connections))
        .unwrap_or(0);
    Ok(Box::new(ModStatus {
        conf: compile(init.tree)?,
        modules: init.modules.to_vec(),
        started: None,
        max_conns: if max == 0 { 4096 / 3 } else { max },
        open_conns: 0,
        requests: 0,
        traffic: 0,
        requests_5s: [0; 5],
        traffic_5s: [0; 5],
        this_second: (0, 0),
        slot: 0,
    }))
}

impl ModStatus {
    fn stats(&self, now: i64) -> Stats {
        let busy = self.open_conns.max(1);
        Stats {
            requests: self.requests,
            traffic_out: self.traffic,
            uptime: now - self.started.unwrap_or(now),
            busy,
            idle: self.max_conns.saturating_sub(busy),
            requests_5s: self.requests_5s,
            traffic_5s: self.traffic_5s,
        }
    }

    fn respond(r: &mut Request, status: u16, ctype: &str, body: String) -> Flow {
        r.resp.headers.set("Content-Type", ctype);
        r.resp.body.append_vec(body.into_bytes());
        r.resp.complete = true;
        r.handler_module = Some("mod_status");
        r.finish_with(status)
    }
}

impl Module for ModStatus {
    fn name(&self) -> &'static str {
        "mod_status"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[
            Hook::UriClean,
            Hook::RequestDone,
            Hook::Trigger,
            Hook::ConnectionAccept,
            Hook::ConnectionClose,
        ]
    }

    fn uri_clean(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if r.handler.is_some() || r.handler_module.is_some() {
            return Flow::GoOn;
        }
        self.started.get_or_insert(cx.now);
        let conf = r.resolve(&self.conf);
        let path = r.uri.path.as_str();
        if conf.status_url.as_deref() == Some(path) {
            let s = self.stats(cx.now);
            let q = r.uri.query.clone();
            return if q == "auto" {
                Self::respond(r, 200, "text/plain", render_text(&s))
            } else if q.starts_with("json") {
                Self::respond(r, 200, "application/javascript", render_json(&s, &q))
            } else if q == "format=prometheus" {
                Self::respond(r, 200, "text/plain; version=0.0.4", render_prometheus(&s))
            } else {
                let tag = r.conf.server_tag.clone().unwrap_or_default();
                Self::respond(r, 200, "text/html", render_html(&s, &tag))
            };
        }
        if conf.config_url.as_deref() == Some(path) {
            return Self::respond(r, 200, "text/html", render_config(&self.modules));
        }
        if conf.statistics_url.as_deref() == Some(path) {
            // No module publishes counters yet (lighttpd: fastcgi/proxy stats).
            r.resp.headers.set("Content-Type", "text/plain");
            r.resp.complete = true;
            r.handler_module = Some("mod_status");
            return r.finish_with(204);
        }
        Flow::GoOn
    }

    fn request_done(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        self.this_second.0 += 1;
        self.this_second.1 += r.bytes_out;
        self.requests += 1;
        self.traffic += r.bytes_out;
        Flow::GoOn
    }

    fn trigger(&mut self, cx: &mut Ctx) -> Flow {
        self.started.get_or_insert(cx.now);
        self.requests_5s[self.slot] = self.this_second.0;
        self.traffic_5s[self.slot] = self.this_second.1;
        self.slot = (self.slot + 1) % 5;
        self.this_second = (0, 0);
        Flow::GoOn
    }

    fn connection_accept(&mut self, _conn: &ConnInfo, cx: &mut Ctx) -> Flow {
        self.started.get_or_insert(cx.now);
        self.open_conns += 1;
        Flow::GoOn
    }

    fn connection_close(&mut self, _conn: &ConnInfo, _cx: &mut Ctx) -> Flow {
        self.open_conns = self.open_conns.saturating_sub(1);
        Flow::GoOn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> Stats {
        Stats {
            requests: 12,
            traffic_out: 4096,
            uptime: 3725,
            busy: 2,
            idle: 3,
            requests_5s: [5, 5, 0, 0, 0],
            traffic_5s: [2048, 3072, 0, 0, 0],
        }
    }

    #[test]
    fn text_and_json() {
        assert_eq!(
            render_text(&stats()),
            "Total Accesses: 12\nTotal kBytes: 4\nUptime: 3725\nBusyServers: 2\nIdleServers: 3\nScoreboard: hh___\n"
        );
        let j = render_json(&stats(), "json");
        assert_eq!(
            j,
            "{\n\t\"RequestsTotal\": 12,\n\t\"TrafficTotal\": 4,\n\t\"Uptime\": 3725,\n\t\"BusyServers\": 2,\n\t\"IdleServers\": 3,\n\t\"RequestAverage5s\":2,\n\t\"TrafficAverage5s\":1\n}"
        );
        assert!(
            render_json(&stats(), "jsonp=cb_1").starts_with("cb_1({")
                && render_json(&stats(), "jsonp=cb_1").ends_with("});")
        );
        for bad in ["jsonp=1cb", "jsonp=a-b", "jsonp=", "jsonp=x<script>"] {
            assert!(render_json(&stats(), bad).starts_with('{'), "{bad}");
        }
    }

    #[test]
    fn html_pages() {
        let h = render_html(&stats(), "lighttpd/1.4.69 <x>");
        assert!(
            h.contains("<title>Status</title>")
                && h.contains("Server-Status (lighttpd/1.4.69 &lt;x&gt;)")
        );
        assert!(h.contains("1 hours 2 min 5 s"));
        let c = render_config(&["mod_indexfile".into(), "mod_status".into()]);
        assert!(c.contains("indexfile<br />\nstatus"));
        let p = render_prometheus(&stats());
        assert!(p.contains("lighttpd_requests_total 12\n"));
    }
}
