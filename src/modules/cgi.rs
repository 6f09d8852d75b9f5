//! mod_cgi (lighttpd src/mod_cgi.c): run CGI programs selected by
//! `cgi.assign` suffix (first match in config order; `""` matches all;
//! empty interpreter = execute the file itself).
//!
//! The request body is collected first, then the program runs with the
//! CGI environment ([`env`]), its directory as working directory, stdin fed
//! from the body and stdout read non-blocking through the event loop.
//! The response head is parsed by [`head`]; `cgi.local-redir` restarts the
//! request for a Location-only answer (at most 5 times, then 500).
//! `cgi.limits` read-timeout kills a silent program (504 if nothing came).
//! A `Content-Length` from the program is kept and ends its output: the
//! rest is dropped and the program stopped, as lighttpd.
//! A `Transfer-Encoding` from the program (dropped, with its Content-Length)
//! means a chunked body: it is decoded (the request-body decoder, errors
//! and limits as lighttpd) and framed anew, except that once the head went
//! out chunked the program's coding is passed on as is; the last chunk
//! stops the program, a malformed body (or bytes after the last chunk) ends
//! the response and the connection, a body cut short ends it without a
//! last chunk (streamed) or with what arrived (buffered). Bytes decoded
//! before the head went out are reframed to fit the rest; trailers of a body
//! that ended first join the headers when the program gave the status.
//! With `server.stream-response-body` 0 (the default) the output is
//! collected and the response is sent when the program closes stdout; past
//! [`SPILL_AT`] bytes the body goes to temp files in `server.upload-dirs`
//! (as lighttpd), so memory stays bounded; a head never ending is cut at
//! [`MAX_OUTPUT`] (in fact at [`head::MAX_HEAD`]: 502), the spilled body at
//! [`MAX_SPILLED`] (502). One readiness event reads at most
//! `READ_BUDGET` bytes, then re-arms the pipe so other connections run. With 1 or 2 the head is sent as soon as it is
//! parsed and the body as it arrives; reading stops while more than the
//! connection's cap ([`response::stream_cap`]) waits to be written, so a
//! program writing faster than the client reads blocks on its pipe. A head
//! that may still become a local redirect or names an X-Sendfile waits for
//! the end of the output, as without streaming.
//!
//! `cgi.upgrade` (HTTP/1.1 requests with `Upgrade` only; otherwise that
//! request header is dropped, so the program sees no `HTTP_UPGRADE`): the
//! program's stdin stays open; if it answers `101` with an `Upgrade` header
//! the response streams whatever `server.stream-response-body` says, the
//! connection is not kept alive, and the client's further bytes are copied
//! to stdin until the client closes (lighttpd
//! `http_response_upgrade_read_body_unknown`). Any other answer ends the
//! input and is handled as usual. Not implemented: `tcp-fin-propagate`.

pub mod env;
pub mod head;

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::rc::Rc;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::chunk::{ChunkQueue, SpillConf};
use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_bool, get_kvany, get_kvstring, get_list};
use crate::config::value::Value;
use crate::http::chunked::ChunkedDecoder;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Handler, Hook, Module};
use crate::request::{response, Request};

/// Most CGI output kept in memory before its head is complete.
pub const MAX_OUTPUT: usize = 64 * 1024 * 1024;
/// Buffered output past this many bytes (head complete) spills to files.
pub const SPILL_AT: usize = 256 * 1024;
/// Most buffered (spilled) output of a non-streamed response: lighttpd has
/// no limit; a runaway program must not fill the disk.
pub const MAX_SPILLED: u64 = 1024 * 1024 * 1024;
/// Most bytes one readiness event reads before other connections get a turn.
const READ_BUDGET: usize = 256 * 1024;
/// lighttpd's local-redirect loop limit.
const MAX_LOCAL_REDIRECTS: u32 = 5;
const NAME: &str = "mod_cgi";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgiConf {
    pub assign: Vec<(String, String)>,
    pub execute_x_only: bool,
    pub local_redir: bool,
    pub x_sendfile: bool,
    pub x_sendfile_docroot: Vec<String>,
    pub upgrade: bool,
    /// Seconds without output before the program is killed (0 = never).
    pub read_timeout: u32,
    pub write_timeout: u32,
}

#[derive(Debug, Clone)]
pub enum Item {
    Assign(Vec<(String, String)>),
    Bool(&'static str, bool),
    Docroot(Vec<String>),
    Limits(u32, u32),
}

impl Patch for CgiConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Assign(a) => self.assign = a.clone(),
            Item::Bool("cgi.execute-x-only", b) => self.execute_x_only = *b,
            Item::Bool("cgi.local-redir", b) => self.local_redir = *b,
            Item::Bool("cgi.x-sendfile", b) => self.x_sendfile = *b,
            Item::Bool(_, b) => self.upgrade = *b,
            Item::Docroot(d) => self.x_sendfile_docroot = d.clone(),
            Item::Limits(r, w) => (self.read_timeout, self.write_timeout) = (*r, *w),
        }
    }
}

const KEYS: [&str; 7] = [
    "cgi.assign",
    "cgi.execute-x-only",
    "cgi.x-sendfile",
    "cgi.x-sendfile-docroot",
    "cgi.local-redir",
    "cgi.upgrade",
    "cgi.limits",
];

pub fn compile(tree: &ConfigTree) -> Result<Scoped<CgiConf>, Vec<Diagnostic>> {
    Scoped::build(tree, CgiConf::default(), &KEYS, |key, d| {
        let v = &d.value;
        Ok(match key {
            "cgi.assign" => Item::Assign(get_kvstring(key, v)?),
            "cgi.x-sendfile-docroot" => {
                let list = get_list(key, v)?;
                if let Some(bad) = list.iter().find(|p| !p.starts_with('/')) {
                    return Err(format!(
                        "cgi.x-sendfile-docroot paths must begin with '/'; invalid: \"{bad}\""
                    ));
                }
                Item::Docroot(
                    list.into_iter()
                        .map(|p| if p.ends_with('/') { p } else { p + "/" })
                        .collect(),
                )
            }
            "cgi.limits" => limits(key, v)?,
            "cgi.execute-x-only" => Item::Bool("cgi.execute-x-only", get_bool(key, v)?),
            "cgi.local-redir" => Item::Bool("cgi.local-redir", get_bool(key, v)?),
            "cgi.x-sendfile" => Item::Bool("cgi.x-sendfile", get_bool(key, v)?),
            _ => Item::Bool("cgi.upgrade", get_bool(key, v)?),
        })
    })
}

fn limits(key: &str, v: &Value) -> Result<Item, String> {
    let arr = get_kvany(key, v)?;
    const KNOWN: [&str; 3] = ["read-timeout", "write-timeout", "tcp-fin-propagate"];
    for (k, _) in &arr.items {
        let k = k.as_deref().unwrap_or("(null)");
        if !KNOWN.iter().any(|n| n.eq_ignore_ascii_case(k)) {
            crate::log_error!("unrecognized {key} param: {k}");
        }
    }
    let num = |name: &str| -> Result<u32, String> {
        match arr.get(name) {
            None => Ok(0),
            Some(Value::Int(i)) => Ok((*i).max(0) as u32),
            Some(Value::Str(s)) => s
                .trim()
                .parse()
                .map_err(|_| format!("{key} {name} must be an integer")),
            Some(_) => Err(format!("{key} {name} must be an integer")),
        }
    };
    Ok(Item::Limits(num("read-timeout")?, num("write-timeout")?))
}

/// The interpreter for a path: Some("") = run the file itself.
pub fn interpreter<'a>(assign: &'a [(String, String)], path: &str) -> Option<&'a str> {
    assign
        .iter()
        .find(|(suffix, _)| path.ends_with(suffix.as_str()))
        .map(|(_, i)| i.as_str())
}

/// A running program known to the module's timeout watch.
struct Watch {
    pid: i32,
    /// Unix time after which the program is killed (0 = no limit).
    deadline: i64,
    timed_out: bool,
    done: bool,
    /// Reading paused for a slow client: the read timeout waits.
    paused: bool,
}

type Watches = Rc<RefCell<Vec<Rc<RefCell<Watch>>>>>;

/// The module.
pub struct ModCgi {
    conf: Scoped<CgiConf>,
    watches: Watches,
    spill: Rc<SpillConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModCgi {
        conf: compile(init.tree)?,
        watches: Rc::default(),
        spill: Rc::new(crate::gw::module::spill_conf(init.tree)),
    }))
}

/// SIGTERM to the program's process group (it runs in its own, so
/// helpers it started and that hold stdout open go too).
fn kill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(-pid),
        nix::sys::signal::Signal::SIGTERM,
    );
}

impl Module for ModCgi {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::SubrequestStart, Hook::Trigger, Hook::RequestReset]
    }

    fn subrequest_start(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if r.handler.is_some() || r.handler_module.is_some() || r.physical.path.is_empty() {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        let Some(interp) = interpreter(&conf.assign, &r.physical.path) else {
            return Flow::GoOn;
        };
        let Ok(meta) = std::fs::metadata(&r.physical.path) else {
            return Flow::GoOn;
        };
        if !meta.is_file() {
            return Flow::GoOn;
        }
        if conf.execute_x_only {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o111 == 0 {
                return Flow::GoOn;
            }
        }
        let http11 = r.version == crate::http::h1::Version::Http11;
        let upgrade =
            conf.upgrade && crate::http::backend_response::client_wants_upgrade(&r.headers, http11);
        if !upgrade {
            r.headers.remove("Upgrade");
        }
        r.handler_module = Some(NAME);
        r.body.wanted = true;
        let mut h = CgiHandler::new(interp.to_string(), conf, self.watches.clone());
        h.spill_conf = self.spill.clone();
        h.upgrade_pending = upgrade;
        r.handler = Some(Box::new(h));
        Flow::Finished
    }

    fn trigger(&mut self, cx: &mut Ctx) -> Flow {
        self.watches.borrow_mut().retain(|w| !w.borrow().done);
        for w in self.watches.borrow().iter() {
            let mut w = w.borrow_mut();
            if w.deadline > 0 && cx.now > w.deadline && !w.timed_out && !w.paused {
                w.timed_out = true;
                kill(w.pid);
            }
        }
        Flow::GoOn
    }

    fn request_reset(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        r.plugin_ctx.remove(NAME);
        Flow::GoOn
    }
}

/// Per-request local-redirect counter.
#[derive(Default)]
struct Redirects(u32);

const STDOUT_SLOT: usize = 1;
const STDIN_SLOT: usize = 2;

/// One CGI run.
pub struct CgiHandler {
    interpreter: String,
    conf: CgiConf,
    watches: Watches,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    watch: Option<Rc<RefCell<Watch>>>,
    /// Body bytes read from the request but not yet written.
    pending: Vec<u8>,
    /// Output before the head is committed (all of it when buffering).
    out: Vec<u8>,
    /// Streaming: most bytes queued in `r.resp.body` before reading stops.
    cap: Option<u64>,
    /// Streaming: the head is in `r.resp`; output goes to `r.resp.body`.
    committed: bool,
    /// Committed with a Content-Length: body bytes still expected.
    body_left: Option<u64>,
    /// Not committed: where the Content-Length ends the output.
    out_limit: Option<usize>,
    /// Not committed: the head, once complete.
    early_head: Option<head::Head>,
    /// Buffered body past [`SPILL_AT`] (memory, then temp files).
    spilled: Option<ChunkQueue>,
    spill_conf: Rc<SpillConf>,
    /// The Content-Length (or the last chunk) was reached, or the chunked
    /// body broke: the program is stopped.
    length_reached: bool,
    /// The program sent `Transfer-Encoding`: its body is de-chunked.
    dechunk: Option<Box<ChunkedDecoder>>,
    /// Its chunked body was malformed: the response ends there, the
    /// connection closes.
    dechunk_failed: bool,
    /// Committed: the head's status came from the program (its chunked
    /// body's trailers may join the headers).
    status_known: bool,
    /// `cgi.upgrade` applies and the answer is not known yet: stdin stays
    /// open and the head is looked at as it arrives.
    upgrade_pending: bool,
    /// The cap `server.stream-response-body` gives (an upgrade streams
    /// regardless).
    configured_cap: Option<u64>,
    eof: bool,
    timed_out: bool,
    failed: Option<u16>,
}

impl CgiHandler {
    fn new(interpreter: String, conf: CgiConf, watches: Watches) -> CgiHandler {
        CgiHandler {
            interpreter,
            conf,
            watches,
            child: None,
            stdin: None,
            stdout: None,
            watch: None,
            pending: Vec::new(),
            out: Vec::new(),
            cap: None,
            committed: false,
            body_left: None,
            out_limit: None,
            early_head: None,
            spilled: None,
            spill_conf: Rc::default(),
            length_reached: false,
            dechunk: None,
            dechunk_failed: false,
            status_known: false,
            upgrade_pending: false,
            configured_cap: None,
            eof: false,
            timed_out: false,
            failed: None,
        }
    }

    fn token(cx: &Ctx, slot: usize) -> Token {
        Token(cx.token_base | (slot << 32))
    }

    /// Fork/exec the program (lighttpd `cgi_create_env`).
    fn spawn(&mut self, r: &mut Request, cx: &mut Ctx) -> Result<(), u16> {
        let script = r.physical.path.clone();
        let mut cmd = if self.interpreter.is_empty() {
            Command::new(&script)
        } else {
            let mut c = Command::new(&self.interpreter);
            c.arg(&script);
            c
        };
        let dir = std::path::Path::new(&script)
            .parent()
            .map(|p| p.to_path_buf());
        cmd.env_clear();
        for var in ["LD_PRELOAD", "LD_LIBRARY_PATH"] {
            if let Ok(v) = std::env::var(var) {
                cmd.env(var, v);
            }
        }
        cmd.envs(env::build(r, &env::EnvOpts::default()));
        if let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            cmd.current_dir(d);
        }
        let has_body =
            r.body.expected.unwrap_or(1) > 0 || r.body.received > 0 || self.upgrade_pending;
        cmd.stdin(if has_body {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| {
            crate::log_error!("execve failed for: {script} {e}");
            500u16
        })?;
        let stdout = child.stdout.take().ok_or(500u16)?;
        let _ = crate::sockets::set_nonblocking(stdout.as_raw_fd());
        cx.registry
            .register(
                &mut SourceFd(&stdout.as_raw_fd()),
                Self::token(cx, STDOUT_SLOT),
                Interest::READABLE,
            )
            .map_err(|_| 500u16)?;
        if let Some(stdin) = child.stdin.take() {
            let _ = crate::sockets::set_nonblocking(stdin.as_raw_fd());
            cx.registry
                .register(
                    &mut SourceFd(&stdin.as_raw_fd()),
                    Self::token(cx, STDIN_SLOT),
                    Interest::WRITABLE,
                )
                .map_err(|_| 500u16)?;
            self.stdin = Some(stdin);
        }
        let deadline = if self.conf.read_timeout > 0 {
            cx.now + i64::from(self.conf.read_timeout)
        } else {
            0
        };
        let watch = Rc::new(RefCell::new(Watch {
            pid: child.id() as i32,
            deadline,
            timed_out: false,
            done: false,
            paused: false,
        }));
        self.watches.borrow_mut().push(watch.clone());
        self.watch = Some(watch);
        self.stdout = Some(stdout);
        self.child = Some(child);
        Ok(())
    }

    /// Feed the request body to stdin.
    fn write_body(&mut self, r: &mut Request, cx: &mut Ctx) {
        loop {
            let Some(stdin) = self.stdin.as_mut() else {
                return;
            };
            if self.pending.is_empty() {
                if r.body
                    .queue
                    .read_into(&mut self.pending, 64 * 1024)
                    .is_err()
                {
                    self.pending.clear();
                }
                if self.pending.is_empty() {
                    // an upgrade keeps stdin open for the client's bytes:
                    // once the head went out, `complete` is the client's EOF
                    let input_done = if r.resp.upgraded {
                        r.head_sent && r.body.complete
                    } else {
                        r.body.complete && !self.upgrade_pending
                    };
                    if input_done {
                        self.close_stdin(cx);
                    }
                    return;
                }
            }
            match stdin.write(&self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    // The program does not read its input: fine.
                    self.pending.clear();
                    r.body.queue.reset();
                    self.close_stdin(cx);
                    return;
                }
            }
        }
    }

    /// Ask for another readiness event on stdout (mio is edge-triggered).
    fn rearm_stdout(&mut self, cx: &mut Ctx) {
        let token = Self::token(cx, STDOUT_SLOT);
        if let Some(stdout) = &self.stdout {
            let fd = stdout.as_raw_fd();
            if cx
                .registry
                .reregister(&mut SourceFd(&fd), token, Interest::READABLE)
                .is_err()
            {
                self.failed = Some(502);
                self.eof = true;
            }
        }
    }

    fn close_stdin(&mut self, cx: &mut Ctx) {
        if let Some(stdin) = self.stdin.take() {
            let _ = cx.registry.deregister(&mut SourceFd(&stdin.as_raw_fd()));
        }
    }

    /// Read what stdout has (while streaming, until the cap is queued).
    fn read_output(&mut self, r: &mut Request, cx: &mut Ctx) {
        let mut buf = [0u8; 16384];
        let mut budget = READ_BUDGET;
        loop {
            if budget == 0 {
                // let other connections run: re-arming the edge-triggered
                // registration reports the still-readable pipe again on the
                // next poll
                self.rearm_stdout(cx);
                break;
            }
            let paused = self.committed && self.cap.is_some_and(|c| r.resp.body.len() >= c);
            self.pause(paused, cx);
            if paused {
                break; // back-pressure: the connection calls handle() again
            }
            let Some(stdout) = self.stdout.as_mut() else {
                return;
            };
            match stdout.read(&mut buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    self.touch(cx);
                    self.take_output(r, &buf[..n]);
                    if self.eof {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.eof = true;
                    break;
                }
            }
        }
        if self.eof {
            self.release(cx, self.length_reached);
        }
    }

    /// New output: into the response body once the head is committed, else
    /// kept. The program's Content-Length ends its output: the rest is
    /// dropped and the program stopped (lighttpd `resp_body_scratchpad`).
    fn take_output(&mut self, r: &mut Request, data: &[u8]) {
        if self.committed && self.dechunk.is_some() {
            // once the head went out chunked, the program's own chunked
            // coding is passed on as is (lighttpd)
            let raw = r.head_sent && r.resp.send_chunked;
            let mut body = Vec::new();
            self.dechunk_feed(data, raw, &mut body);
            r.resp.backend_chunked |= raw || self.dechunk_failed;
            r.resp.body.append_vec(body);
            self.note_resume(r);
            return;
        }
        let decoded;
        let data = if self.dechunk.is_some() {
            let mut body = Vec::new();
            self.dechunk_feed(data, false, &mut body);
            decoded = body;
            &decoded[..]
        } else {
            data
        };
        if self.committed {
            let n = self
                .body_left
                .map_or(data.len(), |left| data.len().min(left as usize));
            r.resp.body.append_mem(&data[..n]);
            if let Some(left) = self.body_left.as_mut() {
                *left -= n as u64;
                self.length_reached = *left == 0;
                self.eof |= self.length_reached;
            }
            return;
        }
        let room = self
            .out_limit
            .map_or(data.len(), |l| l.saturating_sub(self.output_len()));
        let data = &data[..data.len().min(room)];
        if let Some(q) = self.spilled.as_mut() {
            if q.len().saturating_add(data.len() as u64) > MAX_SPILLED {
                crate::log_error!("CGI output exceeds {MAX_SPILLED} bytes; aborting");
                self.failed = Some(502);
                self.eof = true;
                return;
            }
            if q.append_spilling(data, &self.spill_conf).is_err() {
                crate::log_error!("CGI output: writing a temp file failed");
                self.failed = Some(500);
                self.eof = true;
                return;
            }
        } else {
            if self.out.len() + data.len() > MAX_OUTPUT {
                crate::log_error!("CGI output exceeds {MAX_OUTPUT} bytes; aborting");
                self.failed = Some(502);
                self.eof = true;
                return;
            }
            self.out.extend_from_slice(data);
            if self.cap.is_some() {
                self.try_commit(r);
                if self.committed || self.eof {
                    return;
                }
            }
            self.learn_head();
        }
        if let Some(limit) = self.out_limit.filter(|&l| self.output_len() >= l) {
            if self.spilled.is_none() {
                self.out.truncate(limit);
            }
            self.length_reached = true;
            self.eof = true;
        }
    }

    /// Buffered output so far.
    fn output_len(&self) -> usize {
        self.out.len() + self.spilled.as_ref().map_or(0, |q| q.len() as usize)
    }

    /// Not committed: note the head once complete (its Content-Length),
    /// and move a large body to the spill queue.
    fn learn_head(&mut self) {
        if self.early_head.is_none() {
            match head::parse(&self.out, false) {
                Ok(Some(h)) => {
                    self.out_limit = h
                        .content_length
                        .map(|n| h.body_at.saturating_add(n as usize));
                    if h.chunked {
                        self.start_dechunk(h.body_at);
                    }
                    self.early_head = Some(h);
                }
                Ok(None) => {}
                Err(status) => {
                    // a head past head::MAX_HEAD or a bad status line: stop
                    // reading at once (no rescans up to MAX_OUTPUT)
                    crate::log_error!("CGI response head invalid or too large");
                    self.failed = Some(status);
                    self.eof = true;
                    return;
                }
            }
        }
        let Some(h) = &self.early_head else { return };
        let at_limit = matches!(self.out_limit, Some(l) if self.out.len() >= l);
        if self.out.len() > SPILL_AT && !at_limit {
            let body = self.out.split_off(h.body_at.min(self.out.len()));
            let mut q = ChunkQueue::new();
            if q.append_spilling(&body, &self.spill_conf).is_err() {
                crate::log_error!("CGI output: writing a temp file failed");
                self.failed = Some(500);
                self.eof = true;
            }
            self.spilled = Some(q);
        }
    }

    /// The head says `Transfer-Encoding`: decode the body bytes already in
    /// `out` (from `body_at`) and every later one (lighttpd
    /// `resp_decode_chunked`; Content-Length was dropped with the head).
    fn start_dechunk(&mut self, body_at: usize) {
        if self.dechunk.is_some() {
            return;
        }
        self.dechunk = Some(Box::default());
        let raw = self.out.split_off(body_at.min(self.out.len()));
        let mut body = Vec::new();
        self.dechunk_feed(&raw, false, &mut body);
        self.out.extend_from_slice(&body);
    }

    /// Committed, head not sent: where the de-chunking stands, so that a
    /// head going out chunked frames the decoded bytes to fit the rest.
    fn note_resume(&self, r: &mut Request) {
        if let Some(d) = self.dechunk.as_ref().filter(|_| !r.head_sent) {
            r.resp.dechunk_resume = Some(d.resume_point());
        }
    }

    /// A chunked body that ended before the head went out: its trailers
    /// join the headers if the program gave the status.
    fn merge_trailers(&self, r: &mut Request, status_known: bool) {
        if let Some(d) = self.dechunk.as_ref() {
            if d.is_done() && status_known && !r.head_sent {
                let trailers = d.trailers();
                crate::http::backend_response::merge_trailers(&mut r.resp.headers, trailers);
            }
        }
    }

    /// Program output through the de-chunker into `out` (decoded, or as is
    /// with `raw`). A malformed body (or bytes after the last chunk) ends
    /// the output, as does the last chunk: the program is stopped.
    fn dechunk_feed(&mut self, data: &[u8], raw: bool, out: &mut Vec<u8>) {
        let Some(d) = self.dechunk.as_mut() else {
            return;
        };
        if d.feed_response(data, raw, out).is_err() {
            crate::log_error!("CGI: malformed chunked response body");
            self.dechunk_failed = true;
        } else if !d.is_done() {
            return;
        }
        self.length_reached = true;
        self.eof = true;
    }

    /// Pause or resume the read timeout (resuming restarts its clock).
    fn pause(&mut self, on: bool, cx: &Ctx) {
        let Some(w) = &self.watch else { return };
        let was = std::mem::replace(&mut w.borrow_mut().paused, on);
        if was && !on {
            self.touch(cx);
        }
    }

    /// Output arrived: push the read-timeout deadline.
    fn touch(&mut self, cx: &Ctx) {
        if let Some(w) = &self.watch {
            let mut w = w.borrow_mut();
            if w.deadline > 0 {
                w.deadline = cx.now + i64::from(self.conf.read_timeout);
            }
        }
    }

    /// Streaming: once the head is complete, put it in the response and
    /// start sending (unless it may turn into a local redirect or an
    /// X-Sendfile, or is an error an error handler may replace).
    fn try_commit(&mut self, r: &mut Request) {
        let parsed = match head::parse(&self.out, false) {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(status) => {
                self.failed = Some(status);
                self.eof = true;
                return;
            }
        };
        let redirect = self.conf.local_redir
            && parsed.location_only
            && parsed.headers.len() == 1
            && parsed.body_at >= self.out.len();
        let sendfile = self.conf.x_sendfile
            && parsed.headers.iter().any(|(k, _)| {
                k.eq_ignore_ascii_case("X-Sendfile")
                    || k.eq_ignore_ascii_case("X-LIGHTTPD-send-file")
            });
        let switch = parsed.status == 101
            && parsed
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("Upgrade"));
        if self.upgrade_pending && switch && !sendfile {
            r.resp.upgraded = true;
            r.keep_alive = false;
        } else if self.upgrade_pending {
            // no switch: the input ends, streaming as configured
            self.upgrade_pending = false;
            self.cap = self.configured_cap;
            if self.cap.is_none() {
                return;
            }
        }
        self.upgrade_pending = false;
        if parsed.chunked {
            self.start_dechunk(parsed.body_at);
        }
        let before = r.resp.status;
        r.resp.status = parsed.status;
        let streams = r.resp.upgraded || response::stream_cap(r).is_some();
        if redirect || sendfile || !streams {
            r.resp.status = before;
            return;
        }
        if parsed.close {
            r.keep_alive = false;
        }
        for (k, v) in &parsed.headers {
            r.resp.headers.append(k, v);
        }
        let out = std::mem::take(&mut self.out);
        let body = &out[parsed.body_at.min(out.len())..];
        let n = parsed
            .content_length
            .map_or(body.len(), |cl| body.len().min(cl as usize));
        r.resp.body.append_mem(&body[..n]);
        self.status_known = parsed.status_known;
        self.note_resume(r);
        self.body_left = parsed.content_length.map(|cl| cl - n as u64);
        self.length_reached = self.body_left == Some(0);
        self.eof |= self.length_reached;
        r.resp.streaming = true;
        self.committed = true;
    }

    /// Deregister fds; kill the program if it may still run.
    fn release(&mut self, cx: &mut Ctx, kill_child: bool) {
        self.close_stdin(cx);
        if let Some(stdout) = self.stdout.take() {
            let _ = cx.registry.deregister(&mut SourceFd(&stdout.as_raw_fd()));
        }
        if let Some(w) = self.watch.take() {
            let mut w = w.borrow_mut();
            self.timed_out = w.timed_out;
            if kill_child || self.failed.is_some() {
                kill(w.pid);
            }
            w.done = true;
        }
        // The server's SIGCHLD handler reaps the process.
        self.child = None;
    }

    /// Turn the collected output into the response.
    fn finish(&mut self, r: &mut Request) -> Flow {
        if self.committed {
            // the head went out already: end the body (cut short on error
            // or before the promised length)
            let cut = self.failed.is_some() || self.timed_out || self.dechunk_failed;
            let unfinished = self.dechunk.as_ref().is_some_and(|d| !d.is_done());
            if cut || unfinished || self.body_left.is_some_and(|n| n > 0) {
                r.keep_alive = false;
            }
            // a chunked body cut short gets no last chunk (lighttpd
            // `http_chunk_close`)
            r.resp.backend_chunked |= unfinished;
            self.merge_trailers(r, self.status_known);
            r.resp.complete = true;
            return Flow::Finished;
        }
        let timed_out = self.timed_out;
        if let Some(status) = self.failed {
            return fail(r, status);
        }
        let spilled = self.spilled.take();
        let early = self.early_head.take().filter(|_| spilled.is_some());
        let parsed = match early.map_or_else(|| head::parse(&self.out, true), |h| Ok(Some(h))) {
            Ok(Some(h)) => h,
            Ok(None) | Err(_) if timed_out && self.out.is_empty() => return fail(r, 504),
            Ok(None) => return fail(r, 500),
            Err(status) => return fail(r, status),
        };
        if parsed.close || self.dechunk_failed {
            r.keep_alive = false;
        }
        if self.conf.local_redir
            && parsed.location_only
            && parsed.headers.len() == 1
            && parsed.body_at == self.out.len()
            && spilled.is_none()
        {
            if let Some(flow) = local_redirect(r, &parsed.headers[0].1, parsed.status) {
                return flow;
            }
        }
        r.resp.status = parsed.status;
        let mut sendfile = None;
        for (k, v) in &parsed.headers {
            if self.conf.x_sendfile
                && (k.eq_ignore_ascii_case("X-Sendfile")
                    || k.eq_ignore_ascii_case("X-LIGHTTPD-send-file"))
            {
                sendfile = Some(v.clone());
                continue;
            }
            r.resp.headers.append(k, v);
        }
        self.merge_trailers(r, parsed.status_known);
        r.resp.complete = true;
        if let Some(path) = sendfile {
            return x_sendfile(r, &path, &self.conf.x_sendfile_docroot);
        }
        let body = self.out.split_off(parsed.body_at.min(self.out.len()));
        let mut spilled = spilled.unwrap_or_default();
        let total = body.len() as u64 + spilled.len();
        if parsed.content_length.is_some_and(|n| total < n) {
            r.keep_alive = false; // fewer bytes than promised
        }
        r.resp.body.append_vec(body);
        r.resp.body.append_queue(&mut spilled);
        Flow::Finished
    }
}

/// `X-Sendfile: <url-encoded path>`: serve that file instead of the
/// CGI's body (lighttpd `http_response_xsendfile`).
fn x_sendfile(r: &mut Request, value: &str, docroots: &[String]) -> Flow {
    let Ok(decoded) = String::from_utf8(crate::http::uri::percent_decode(value)) else {
        return fail(r, 502);
    };
    let simplified = crate::http::uri::path_simplify(decoded.as_bytes());
    let mut path = String::from_utf8_lossy(&simplified).into_owned();
    if r.conf.force_lowercase_filenames {
        path = path.to_lowercase();
    }
    if !docroots.is_empty() && !docroots.iter().any(|d| path.starts_with(d.as_str())) {
        crate::log_error!("X-Sendfile ({path}) not under configured x-sendfile-docroot");
        return fail(r, 403);
    }
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => return fail(r, crate::request::prepare::open_error_status(&e)),
    };
    let len = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        _ => return fail(r, 403),
    };
    r.resp.headers.remove("Content-Length");
    r.resp.body.reset();
    r.resp.body.append_file(Rc::new(file), 0, len);
    Flow::Finished
}

fn fail(r: &mut Request, status: u16) -> Flow {
    r.handler_module = None;
    r.resp.status = status;
    r.resp.headers = Default::default();
    r.resp.body.reset();
    r.resp.complete = true;
    Flow::Finished
}

/// RFC 3875 local redirect: restart with the Location as target.
fn local_redirect(r: &mut Request, location: &str, status: u16) -> Option<Flow> {
    if !location.starts_with('/') {
        return None;
    }
    let path = &r.uri.path;
    if let Some(rest) = location.strip_prefix(path.as_str()) {
        if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') {
            return None;
        }
    }
    let count = {
        let c = r.plugin_ctx.entry::<Redirects>(NAME);
        c.0 += 1;
        c.0
    };
    if count > MAX_LOCAL_REDIRECTS {
        crate::log_error!(
            "too many internal loops while processing request: {}",
            r.target_orig
        );
        return Some(fail(r, 500));
    }
    r.target = location.to_string();
    r.physical.path_info.clear();
    if !matches!(status, 307 | 308) {
        r.method = crate::http::method::Method::Get;
    }
    r.body.queue.reset();
    r.resp.headers = Default::default();
    r.resp.status = 0;
    Some(Flow::Comeback)
}

impl Handler for CgiHandler {
    fn handle(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if self.child.is_none() && !self.eof {
            if !r.body.complete {
                return Flow::WaitForEvent;
            }
            if let Err(status) = self.spawn(r, cx) {
                return fail(r, status);
            }
            self.configured_cap = response::stream_cap(r);
            self.cap = self.configured_cap;
            if self.upgrade_pending {
                self.cap = self.cap.or(Some(65536 - 4096));
            }
            self.write_body(r, cx);
            self.read_output(r, cx);
        } else if !self.eof {
            self.write_body(r, cx);
            self.read_output(r, cx);
        }
        if self.eof {
            let flow = self.finish(r);
            if flow == Flow::Comeback {
                r.handler = None;
            }
            return flow;
        }
        Flow::WaitForEvent
    }

    fn on_event(&mut self, r: &mut Request, cx: &mut Ctx, slot: usize) -> Flow {
        if slot == STDIN_SLOT {
            self.write_body(r, cx);
        } else {
            self.read_output(r, cx);
        }
        Flow::WaitForEvent
    }

    fn reset(&mut self, cx: &mut Ctx) {
        let running = !self.eof;
        self.release(cx, running);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_is_first_suffix_match() {
        let a = vec![
            (".pl".to_string(), "/usr/bin/perl".to_string()),
            ("".to_string(), "".to_string()),
        ];
        assert_eq!(interpreter(&a, "/x/a.pl"), Some("/usr/bin/perl"));
        assert_eq!(interpreter(&a, "/x/a.sh"), Some(""));
        assert_eq!(interpreter(&a[..1], "/x/a.sh"), None);
    }

    use crate::plugin::tests::request;

    #[test]
    fn one_readiness_reads_at_most_the_budget_then_rearms() {
        use nix::fcntl::{fcntl, FcntlArg};
        let (rd, wr) = nix::unistd::pipe().unwrap();
        fcntl(wr.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(1 << 20)).unwrap();
        let mut w = std::fs::File::from(wr);
        w.write_all(b"Content-Type: x\n\n").unwrap();
        w.write_all(&vec![b'a'; 3 * READ_BUDGET]).unwrap();
        let _ = crate::sockets::set_nonblocking(rd.as_raw_fd());
        let mut poll = mio::Poll::new().unwrap();
        let mut cx = Ctx {
            now: 0,
            registry: poll.registry(),
            token_base: 1 << 8,
        };
        let token = CgiHandler::token(&cx, STDOUT_SLOT);
        let mut h = CgiHandler::new(String::new(), CgiConf::default(), Rc::default());
        let stdout = ChildStdout::from(rd);
        cx.registry
            .register(
                &mut SourceFd(&stdout.as_raw_fd()),
                token,
                Interest::READABLE,
            )
            .unwrap();
        h.stdout = Some(stdout);
        let mut r = request();
        h.read_output(&mut r, &mut cx);
        assert!(!h.eof && h.failed.is_none());
        assert!(h.output_len() <= READ_BUDGET + 16384, "{}", h.output_len());
        // the rest is announced again by the (edge-triggered) poll
        let mut events = mio::Events::with_capacity(4);
        poll.poll(&mut events, Some(std::time::Duration::from_millis(100)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == token));
    }

    fn handler() -> CgiHandler {
        CgiHandler::new(String::new(), CgiConf::default(), Rc::default())
    }

    #[test]
    fn a_chunked_body_is_decoded_and_its_end_stops_the_program() {
        let mut r = request();
        r.keep_alive = true;
        let mut h = handler();
        h.take_output(
            &mut r,
            b"Transfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n3\r",
        );
        h.take_output(&mut r, b"\nabc\r\n2;x\r\nde\r\n0\r\nT: 1\r\n");
        assert!(!h.eof);
        h.take_output(&mut r, b"\r\n");
        assert!(h.eof && h.length_reached && !h.dechunk_failed);
        assert_eq!(h.finish(&mut r), Flow::Finished);
        assert_eq!(r.resp.body.len(), 5);
        assert!(r.keep_alive && !r.resp.headers.contains("Content-Length"));
    }

    #[test]
    fn a_broken_chunked_body_keeps_what_decoded_and_closes() {
        for bad in [
            &b"ZZ\r\n"[..],
            b"fffffffffffffffffff\r\n",
            &[b'1', b';'].repeat(700),
        ] {
            let mut r = request();
            r.keep_alive = true;
            let mut h = handler();
            h.take_output(&mut r, b"Transfer-Encoding: chunked\n\n2\r\nab\r\n");
            h.take_output(&mut r, bad);
            assert!(h.eof && h.dechunk_failed, "{bad:?}");
            h.finish(&mut r);
            assert_eq!(
                (r.resp.status, r.resp.body.len(), r.keep_alive),
                (200, 2, false)
            );
        }
    }

    #[test]
    fn a_streamed_chunked_body_passes_as_is_once_the_head_went_out() {
        let mut r = request();
        r.keep_alive = true;
        let mut h = handler();
        h.committed = true;
        h.dechunk = Some(Box::default());
        h.take_output(&mut r, b"2\r\nab\r\n");
        assert!(!r.resp.backend_chunked && r.resp.body.len() == 2);
        (r.head_sent, r.resp.send_chunked) = (true, true);
        r.resp.body.reset();
        h.take_output(&mut r, b"1;e\r\nc\r\n");
        assert!(r.resp.backend_chunked && r.resp.body.len() == 8);
        h.take_output(&mut r, b"9\r\nabc"); // cut short by the program's exit
        h.eof = true;
        h.finish(&mut r);
        assert!(!r.keep_alive && r.resp.complete);
        // a malformed piece is not passed on
        let before = r.resp.body.len();
        let mut h2 = handler();
        (h2.committed, h2.dechunk) = (true, Some(Box::default()));
        h2.take_output(&mut r, b"x\r\n");
        assert!(h2.dechunk_failed && r.resp.body.len() == before);
    }

    #[test]
    fn endless_head_fails_once_past_the_head_limit() {
        let mut h = CgiHandler::new(String::new(), CgiConf::default(), Rc::default());
        h.out = b"X: y\n".repeat(head::MAX_HEAD / 5 + 1);
        h.learn_head();
        assert_eq!((h.failed, h.eof), (Some(502), true));
    }
}
