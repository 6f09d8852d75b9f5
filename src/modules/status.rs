//! mod_status (lighttpd src/mod_status.c): server status at
//! `status.status-url` (HTML, `?auto` text, `?json`/`?jsonp=fn`), the
//! loaded modules at `status.config-url`, the [`crate::plugin::stats`]
//! counters at `status.statistics-url` (204 while there are none).
//!
//! The module follows each connection through its hooks (accept, uri_clean,
//! request_done, close) to fill the scoreboard and the connection table:
//! `r` read, `h` handle-req (from the uri hooks), `W` write (from the
//! response start), `k` keep-alive, `C` close; `R` read-POST while the
//! connection reads a request body for its handler (published by the
//! connection, [`crate::plugin::live`]). Like lighttpd, request and
//! traffic totals move forward at the 1 s tick. Extension:
//! `?format=prometheus` gives the numbers in the Prometheus text format.
//! The states lighttpd only passes through within one event (`.`, `q`,
//! `Q`, `s`, `S`, `E`) cannot be seen from another connection's request
//! there either, and are not shown.

pub mod render;

use std::collections::HashMap;

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_bool, get_str};
use crate::plugin::live::Progress;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{ConnInfo, Ctx, Flow, Hook, Module};
use crate::request::Request;
use render::{
    render_config, render_html_head, render_json, render_prometheus, render_row,
    render_statistics_prometheus, render_text, Page, Row, State, Stats, HTML_TAIL,
};

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

/// The module.
pub struct ModStatus {
    conf: Scoped<StatusConf>,
    modules: Vec<String>,
    started: i64,
    max_conns: usize,
    /// Open connections by id, with their accept order.
    conns: HashMap<usize, (u64, Row, i64)>,
    accepted: u64,
    requests: u64,
    traffic: u64,
    requests_5s: [u64; 5],
    traffic_5s: [u64; 5],
    this_second: (u64, u64),
    slot: usize,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    crate::plugin::live::enable();
    let max = crate::config::core::compile_server(init.tree, Vec::new())
        .map(|s| usize::from(s.max_connections))
        .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Ok(Box::new(ModStatus {
        conf: compile(init.tree)?,
        modules: init.modules.to_vec(),
        started: now,
        max_conns: if max == 0 { 4096 / 3 } else { max },
        conns: HashMap::new(),
        accepted: 0,
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
        let busy = self.conns.len();
        Stats {
            requests: self.requests,
            traffic_out: self.traffic,
            uptime: now - self.started,
            started: self.started,
            busy,
            idle: self.max_conns.saturating_sub(busy),
            requests_5s: self.requests_5s,
            traffic_5s: self.traffic_5s,
        }
    }

    /// The connection table, newest connection first (as lighttpd's list).
    fn rows(&self, now: i64) -> Vec<(usize, Row)> {
        let mut list: Vec<(u64, usize, Row)> = self
            .conns
            .iter()
            .map(|(id, (seq, row, start))| {
                let mut row = row.clone();
                row.age = now - start;
                match crate::plugin::live::progress(*id) {
                    Some(Progress::ReadBody { received, expected }) => {
                        row.state = Some(State::ReadPost);
                        row.body = (received, expected);
                    }
                    Some(Progress::Write { written, queued }) => row.written = (written, queued),
                    None => {}
                }
                (*seq, *id, row)
            })
            .collect();
        list.sort_by_key(|e| std::cmp::Reverse(e.0));
        list.into_iter().map(|(_, id, row)| (id, row)).collect()
    }

    /// The request is being handled: its row shows it.
    fn track_request(&mut self, r: &Request, conn_id: usize, now: i64) {
        let Some((_, row, start)) = self.conns.get_mut(&conn_id) else {
            return;
        };
        *row = Row {
            remote_ip: r.remote_ip.clone(),
            state: Some(State::HandleReq),
            keep_alive: false,
            body: (
                r.body.received,
                if r.chunked {
                    -1
                } else {
                    r.content_length.map_or(0, |n| n as i64)
                },
            ),
            written: (0, 0),
            age: 0,
            host: r.server_name.clone(),
            path: r.uri.path.clone(),
            query: r.uri.query.clone(),
            target_orig: r.target_orig.clone(),
            physical: r.physical.path.clone(),
        };
        *start = r.start_secs.min(now);
    }

    fn status_page(&self, r: &mut Request, now: i64, conn_id: usize) -> Flow {
        let s = self.stats(now);
        let q = r.uri.query.clone();
        if q == "auto" {
            let rows: Vec<Row> = self.rows(now).into_iter().map(|(_, row)| row).collect();
            return Self::respond(r, 200, "text/plain", render_text(&s, &rows));
        }
        if q.starts_with("json") {
            return Self::respond(r, 200, "application/javascript", render_json(&s, &q));
        }
        if q == "format=prometheus" {
            return Self::respond(r, 200, "text/plain; version=0.0.4", render_prometheus(&s));
        }
        let conf = r.resolve(&self.conf);
        let t = crate::sys::localtime(self.started);
        let page = Page {
            tag: r.conf.server_tag.as_deref(),
            authority: &r.uri.authority,
            server_name: r.conf.server_name.as_deref(),
            query: &q,
            sort: conf.enable_sort,
            started_text: format!(
                "{}-{:02}-{:02} {:02}:{:02}:{:02}",
                t.year, t.month, t.day, t.hour, t.minute, t.second
            ),
        };
        let mut rows = self.rows(now);
        let mut html = render_html_head(
            &s,
            &rows.iter().map(|(_, row)| row.clone()).collect::<Vec<_>>(),
            &page,
        );
        // lighttpd: the requesting connection has the page so far queued.
        let queued = html.len() as u64;
        for (id, row) in &mut rows {
            if *id == conn_id {
                row.written = (0, queued);
            }
            render_row(&mut html, row);
        }
        html.push_str(HTML_TAIL);
        Self::respond(r, 200, "text/html", html)
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
            Hook::SubrequestStart,
            Hook::ResponseStart,
            Hook::RequestDone,
            Hook::Trigger,
            Hook::ConnectionAccept,
            Hook::ConnectionClose,
        ]
    }

    fn uri_clean(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        self.track_request(r, cx.token_base, cx.now);
        if r.handler.is_some() || r.handler_module.is_some() {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        let path = r.uri.path.as_str();
        if conf.status_url.as_deref() == Some(path) {
            return self.status_page(r, cx.now, cx.token_base);
        }
        if conf.config_url.as_deref() == Some(path) {
            let body = render_config(&self.modules, r.conf.server_tag.as_deref());
            return Self::respond(r, 200, "text/html", body);
        }
        if conf.statistics_url.as_deref() == Some(path) {
            let counters = crate::plugin::stats::snapshot();
            if r.uri.query == "format=prometheus" {
                let body = render_statistics_prometheus(&counters);
                return Self::respond(r, 200, "text/plain; version=0.0.4", body);
            }
            if counters.is_empty() {
                // lighttpd: nothing to send.
                r.resp.headers.set("Content-Type", "text/plain");
                r.resp.complete = true;
                r.handler_module = Some("mod_status");
                return r.finish_with(204);
            }
            let body: String = counters
                .iter()
                .map(|(k, v)| format!("{k}: {v}\n"))
                .collect();
            return Self::respond(r, 200, "text/plain", body);
        }
        Flow::GoOn
    }

    /// The file is known: the row shows it while the handler runs (or
    /// reads the request body for it).
    fn subrequest_start(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if let Some((_, row, _)) = self.conns.get_mut(&cx.token_base) {
            row.physical.clone_from(&r.physical.path);
        }
        Flow::GoOn
    }

    fn response_start(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if let Some((_, row, _)) = self.conns.get_mut(&cx.token_base) {
            row.state = Some(State::Write);
            row.physical.clone_from(&r.physical.path);
        }
        Flow::GoOn
    }

    fn request_done(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        self.this_second.0 += 1;
        self.this_second.1 += r.bytes_out;
        if let Some((_, row, _)) = self.conns.get_mut(&cx.token_base) {
            // Between requests: keep-alive (lighttpd keeps the last
            // target, uri and host; the file and byte counts are reset).
            row.keep_alive = r.keep_alive && !r.target_orig.is_empty();
            row.state = Some(if r.keep_alive {
                State::Read
            } else {
                State::Close
            });
            row.body = (0, 0);
            row.written = (0, 0);
            row.physical.clear();
        }
        Flow::GoOn
    }

    fn trigger(&mut self, _cx: &mut Ctx) -> Flow {
        // lighttpd accounts the last second's requests and bytes here.
        self.requests += self.this_second.0;
        self.traffic += self.this_second.1;
        self.requests_5s[self.slot] = self.this_second.0;
        self.traffic_5s[self.slot] = self.this_second.1;
        self.slot = (self.slot + 1) % 5;
        self.this_second = (0, 0);
        Flow::GoOn
    }

    fn connection_accept(&mut self, conn: &ConnInfo, cx: &mut Ctx) -> Flow {
        self.accepted += 1;
        let row = Row {
            remote_ip: conn.remote_ip.clone(),
            state: Some(State::Read),
            ..Row::default()
        };
        self.conns.insert(conn.id, (self.accepted, row, cx.now));
        Flow::GoOn
    }

    fn connection_close(&mut self, conn: &ConnInfo, _cx: &mut Ctx) -> Flow {
        self.conns.remove(&conn.id);
        Flow::GoOn
    }
}

#[cfg(test)]
mod tests;
