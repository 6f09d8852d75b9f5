//! One request's backend connection (lighttpd gw_backend.c
//! `gw_write_request`, `gw_recv_response`, the trigger timeouts): connect
//! (non-blocking, retried on another proc up to 5 times), write the request
//! and body, read and decode the response, parse its head, frame its body
//! (Content-Length, chunked, or until close; a chunked body is decoded, or
//! passed on as is once the head went out chunked, as for mod_cgi), X-Sendfile, the FastCGI
//! authorizer outcome, and the error statuses:
//!
//! - no backend up, connect failures, connect timeout (after one retry),
//!   write errors: 503 (write timeout 504)
//! - unparsable or oversized response head: 502
//! - read timeout before the response: 504
//! - backend closed before a complete head: 500 (as lighttpd)
//! - after the head: what arrived is sent and the client connection closed.
//!
//! With `server.stream-response-body` 1/2 the response starts once the head
//! is parsed ([`Response::streaming`](crate::request::Response)) and reading
//! pauses while the connection has more than its cap queued
//! ([`response::stream_cap`]); the read timeout does not run while paused.
//! A 101 with Upgrade to a request that asked for it (proxy `upgrade`)
//! makes a tunnel: the response streams regardless, and the client's
//! further bytes (`r.body`) go to the backend, whose write side is shut
//! at the client's EOF.

use std::io;
use std::rc::Rc;

use mio::{Interest, Token};

use super::config::{Balance, Extension, HostConf};
use super::host::{elect, Addr, Lease};
use super::GwProtocol;
use crate::chunk::{ChunkQueue, SpillConf};
use crate::http::backend_response::{
    merge_trailers, parse_backend_head, xsendfile_path, Backend, BackendOpts, BackendParse,
    MAX_RESPONSE_HEAD,
};
use crate::http::chunked::ChunkedDecoder;
use crate::http::headers::Headers;
use crate::plugin::{Ctx, Flow, Handler};
use crate::request::{response, Request};

/// Connect attempts on other procs after a failure (lighttpd: 5).
const MAX_RECONNECTS: u32 = 5;
/// Bytes read from the backend per read call.
const READ_CHUNK: usize = 65536;
/// The backend socket's handler slot.
const SLOT: usize = 1;

/// Buffers of one backend read: what the socket gave and what the
/// protocol decoded from it. A read is processed before the next starts,
/// so one pair serves every backend of the event loop (no 64 KiB buffer
/// allocated and zeroed per request).
#[derive(Default)]
struct Scratch {
    raw: Vec<u8>,
    stream: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// The backend socket.
enum Sock {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl Sock {
    fn connect(addr: &Addr) -> io::Result<Sock> {
        Ok(match addr {
            Addr::Tcp(a) => Sock::Tcp(mio::net::TcpStream::connect(*a)?),
            Addr::Unix(p) => Sock::Unix(mio::net::UnixStream::connect(p)?),
        })
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Sock::Tcp(s) => s,
            Sock::Unix(s) => s,
        }
    }

    /// None while the connect is in progress, Some(Ok) once connected.
    fn connected(&self) -> Option<io::Result<()>> {
        let (err, peer) = match self {
            Sock::Tcp(s) => (s.take_error(), s.peer_addr().map(|_| ())),
            Sock::Unix(s) => (s.take_error(), s.peer_addr().map(|_| ())),
        };
        match (err, peer) {
            (Ok(Some(e)), _) | (Err(e), _) => Some(Err(e)),
            (Ok(None), Ok(())) => Some(Ok(())),
            (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => None,
            (Ok(None), Err(e)) => Some(Err(e)),
        }
    }

    /// Read at most `max` bytes, appended to `buf` (not zeroed first).
    fn read_append(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        use std::os::fd::AsFd;
        match self {
            Sock::Tcp(s) => crate::sys::read_append(s.as_fd(), buf, max),
            Sock::Unix(s) => crate::sys::read_append(s.as_fd(), buf, max),
        }
    }

    fn write_queue(&self, q: &mut ChunkQueue) -> io::Result<crate::chunk::Written> {
        match self {
            Sock::Tcp(s) => q.write_to(s),
            Sock::Unix(s) => q.write_to(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not connected yet (or reconnecting).
    Init,
    Connecting,
    /// Connected: writing the request (and reading whatever comes).
    Talking,
}

/// How the response body ends.
enum Framing {
    UntilEnd,
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
}

/// Settings of one backend request, from the module.
pub struct GwParams {
    pub ext: Rc<Extension>,
    pub balance: Balance,
    pub authorizer: bool,
    pub spill: Rc<SpillConf>,
    /// The module's name (for per-request state after an authorizer).
    pub module: &'static str,
}

/// Per-request state a module keeps across an authorizer's COMEBACK.
#[derive(Debug, Default)]
pub struct AuthDone {
    /// The authorizer host's `docroot`, used for the restarted request.
    pub docroot: Option<String>,
}

/// The per-request backend state machine.
pub struct GwHandler {
    proto: Box<dyn GwProtocol>,
    params: GwParams,
    lease: Lease,
    sock: Option<Sock>,
    phase: Phase,
    wq: ChunkQueue,
    reconnects: u32,
    /// Connect start / last write progress, last read progress.
    write_ts: i64,
    read_ts: i64,
    /// Undecoded response head bytes.
    head: Vec<u8>,
    head_done: bool,
    /// The backend gave the status (a chunked body's trailers may then
    /// join the headers, lighttpd `http_response_merge_trailers`).
    status_known: bool,
    /// FastCGI: the chunked body broke, the response ends there.
    dechunk_failed: bool,
    /// The first head line was checked (early 502 for non-headers).
    first_line_seen: bool,
    framing: Framing,
    /// Bytes of the request sent (a request that reached the backend is
    /// not retried).
    started: bool,
    result: Option<Flow>,
    /// Streaming: most body bytes queued before reading pauses.
    cap: Option<u64>,
    /// Reading is paused for the client (back-pressure).
    paused: bool,
    /// Tunnel: the backend's write side was shut after the client's EOF.
    tunnel_shut: bool,
}

impl GwHandler {
    pub fn new(proto: Box<dyn GwProtocol>, params: GwParams, lease: Lease) -> GwHandler {
        GwHandler {
            proto,
            params,
            lease,
            sock: None,
            phase: Phase::Init,
            wq: ChunkQueue::new(),
            reconnects: 0,
            write_ts: 0,
            read_ts: 0,
            head: Vec::new(),
            head_done: false,
            status_known: false,
            dechunk_failed: false,
            first_line_seen: false,
            framing: Framing::UntilEnd,
            started: false,
            result: None,
            cap: None,
            paused: false,
            tunnel_shut: false,
        }
    }

    /// mod_sockproxy: no request head and no response head; the backend's
    /// bytes are the response body from the first, read while at most
    /// 60 KiB wait for the client.
    pub fn transparent(mut self) -> GwHandler {
        self.head_done = true;
        self.cap = Some(65536 - 4096);
        self
    }

    fn host(&self) -> &HostConf {
        &self.lease.host.conf
    }

    fn close_backend(&mut self, cx: &mut Ctx) {
        if let Some(mut s) = self.sock.take() {
            let _ = cx.registry.deregister(s.source());
        }
        self.lease.release_proc();
    }

    /// End the request with an error status and lighttpd's error page.
    fn fail(&mut self, r: &mut Request, cx: &mut Ctx, status: u16) -> Flow {
        self.close_backend(cx);
        if self.head_done {
            // the response head arrived: send what we have, then close
            r.keep_alive = false;
        } else {
            r.resp.status = status;
            r.resp.headers = Headers::new();
            r.resp.body.reset();
            r.handler_module = None;
        }
        r.resp.complete = true;
        self.result = Some(Flow::Finished);
        Flow::Finished
    }

    fn finish(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        self.close_backend(cx);
        if !self.head_done {
            return self.fail(r, cx, 500);
        }
        let incomplete = match &self.framing {
            Framing::UntilEnd => false,
            Framing::Length(n) => *n > 0,
            // lighttpd `http_chunk_close`: a chunked body cut short ends the
            // connection only when it was being passed on chunked (then
            // without a last chunk); buffered, what arrived is the answer
            Framing::Chunked(d) if !d.is_done() && r.head_sent && r.resp.send_chunked => {
                r.resp.backend_chunked = true;
                true
            }
            Framing::Chunked(d) => {
                if d.is_done() && self.status_known && !r.head_sent {
                    merge_trailers(&mut r.resp.headers, d.trailers());
                }
                false
            }
        };
        if incomplete {
            r.keep_alive = false;
        }
        r.resp.complete = true;
        self.result = Some(Flow::Finished);
        Flow::Finished
    }

    /// Pick another host/proc after a connect problem, or give up (503).
    fn reconnect(&mut self, r: &mut Request, cx: &mut Ctx, limit: u32) -> Flow {
        self.close_backend(cx);
        self.reconnects += 1;
        if self.reconnects > limit {
            return self.fail(r, cx, 503);
        }
        let ip = r.remote_ip.clone();
        match elect(
            &self.params.ext,
            self.params.balance,
            &r.uri.path,
            &r.uri.authority,
            &ip,
        ) {
            Some(h) => {
                self.lease = Lease::new(h);
                self.phase = Phase::Init;
                self.drive(r, cx)
            }
            None => self.fail(r, cx, 503),
        }
    }

    fn start_connect(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        let Some(i) = self.lease.host.pick_proc() else {
            // all procs of the host went down meanwhile
            return self.reconnect(r, cx, MAX_RECONNECTS);
        };
        let Some(addr) = self.lease.take_proc(i, cx.now) else {
            return self.reconnect(r, cx, MAX_RECONNECTS);
        };
        self.write_ts = cx.now;
        match Sock::connect(&addr) {
            Ok(mut s) => {
                let token = Token(cx.token_base | (SLOT << 32));
                if cx
                    .registry
                    .register(s.source(), token, Interest::READABLE | Interest::WRITABLE)
                    .is_err()
                {
                    return self.fail(r, cx, 503);
                }
                self.sock = Some(s);
                self.phase = Phase::Connecting;
                self.drive(r, cx)
            }
            Err(e) => self.connect_failed(r, cx, &e.to_string()),
        }
    }

    fn connect_failed(&mut self, r: &mut Request, cx: &mut Ctx, why: &str) -> Flow {
        if let Some(i) = self.lease.proc_idx() {
            self.lease
                .host
                .connect_failed(i, self.lease.pid, cx.now, why);
        }
        self.reconnect(r, cx, MAX_RECONNECTS)
    }

    /// Connected: queue the request head and body.
    fn prepare_write(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        let host = self.lease.host.clone();
        let head = match self.proto.create_request(r, &host.conf) {
            Ok(h) => h,
            Err(status) => return self.fail(r, cx, status),
        };
        self.wq.append_vec(head);
        // lighttpd counts "fastcgi.requests", "scgi.requests", "proxy.requests".
        let requests = match self.params.module {
            "mod_fastcgi" => "fastcgi.requests",
            "mod_scgi" => "scgi.requests",
            "mod_proxy" => "proxy.requests",
            _ => "gw.requests",
        };
        crate::plugin::stats::add(requests, 1);
        if !self.params.authorizer {
            let mut body = std::mem::take(&mut r.body.queue);
            self.proto.feed_body(&mut body, &mut self.wq);
        } else {
            self.proto.feed_body(&mut ChunkQueue::new(), &mut self.wq);
        }
        self.phase = Phase::Talking;
        self.write_ts = cx.now;
        self.read_ts = cx.now;
        Flow::GoOn
    }

    /// Run as far as possible without blocking.
    fn drive(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if let Some(f) = self.result {
            return f;
        }
        if self.phase == Phase::Init {
            return self.start_connect(r, cx);
        }
        if self.phase == Phase::Connecting {
            let state = match &self.sock {
                Some(s) => s.connected(),
                None => Some(Err(io::Error::other("no socket"))),
            };
            match state {
                None => return Flow::WaitForEvent,
                Some(Err(e)) => return self.connect_failed(r, cx, &e.to_string()),
                Some(Ok(())) => {
                    if let Some(i) = self.lease.proc_idx() {
                        self.lease.host.connected(i);
                    }
                    let flow = self.prepare_write(r, cx);
                    if flow != Flow::GoOn {
                        return flow;
                    }
                }
            }
        }
        if r.resp.upgraded {
            self.tunnel_out(r);
        }
        if let Some(flow) = self.write(r, cx) {
            return flow;
        }
        self.read(r, cx)
    }

    /// Tunnel: the client's bytes to the backend (at most 64 KiB waiting);
    /// its EOF shuts the backend's write side.
    fn tunnel_out(&mut self, r: &mut Request) {
        if self.wq.len() < 65536 {
            self.wq.append_queue(&mut r.body.queue);
        }
        // `complete` is the client's EOF once the head went out
        let client_done = r.head_sent && r.body.complete;
        if client_done && r.body.queue.is_empty() && self.wq.is_empty() && !self.tunnel_shut {
            self.tunnel_shut = true;
            if let Some(Sock::Tcp(s)) = &self.sock {
                let _ = s.shutdown(std::net::Shutdown::Write);
            } else if let Some(Sock::Unix(s)) = &self.sock {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
        }
    }

    fn write(&mut self, r: &mut Request, cx: &mut Ctx) -> Option<Flow> {
        if self.wq.is_empty() {
            return None;
        }
        let sock = self.sock.as_ref()?;
        match sock.write_queue(&mut self.wq) {
            Ok(w) => {
                if w.bytes > 0 {
                    self.started = true;
                    self.write_ts = cx.now;
                }
                None
            }
            Err(e) => {
                crate::log_error!("write to backend failed: {e}");
                // the backend may have answered already: look once
                let flow = self.read(r, cx);
                if self.result.is_some() {
                    return Some(flow);
                }
                Some(self.fail(r, cx, 503))
            }
        }
    }

    fn read(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        let mut scratch = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        let flow = self.read_with(r, cx, &mut scratch);
        SCRATCH.with(|s| *s.borrow_mut() = scratch);
        flow
    }

    /// Read and process what the backend sent, with `scratch` as the raw
    /// and the decoded buffer.
    fn read_with(&mut self, r: &mut Request, cx: &mut Ctx, scratch: &mut Scratch) -> Flow {
        let (raw, stream) = (&mut scratch.raw, &mut scratch.stream);
        loop {
            self.paused = self.cap.is_some_and(|c| r.resp.body.len() >= c);
            if self.paused {
                // the connection calls handle() again once it wrote some
                self.read_ts = cx.now;
                return Flow::WaitForEvent;
            }
            let Some(sock) = self.sock.as_mut() else {
                return Flow::WaitForEvent;
            };
            raw.clear();
            let n = match sock.read_append(raw, READ_CHUNK) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flow::WaitForEvent,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    crate::log_error!("read from backend failed: {e}");
                    return self.eof(r, cx);
                }
            };
            if n == 0 {
                return self.eof(r, cx);
            }
            self.read_ts = cx.now;
            stream.clear();
            let progress = self.proto.process_response(raw, stream);
            if let Err(status) = self.on_stream(r, cx, stream) {
                return self.fail(r, cx, status);
            }
            if let Some(f) = self.result {
                return f;
            }
            if progress.ended || self.body_done() {
                return self.finish(r, cx);
            }
        }
    }

    /// The backend closed its side.
    fn eof(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if !self.proto.eof_is_end() {
            let name = self
                .lease
                .proc_idx()
                .and_then(|i| {
                    self.lease
                        .host
                        .state
                        .borrow()
                        .procs
                        .get(i)
                        .and_then(|p| p.addr.as_ref().map(Addr::name))
                })
                .unwrap_or_default();
            crate::log_error!(
                "unexpected end-of-file (perhaps the fastcgi process died):pid: {} socket: {name}",
                self.lease.pid
            );
            if self.head_done {
                r.keep_alive = false;
            }
        }
        self.finish(r, cx)
    }

    fn body_done(&self) -> bool {
        if self.dechunk_failed {
            return true; // FastCGI: the response ends here (lighttpd `fin`)
        }
        if !self.head_done || self.proto.backend() == Backend::FastCgi {
            return false;
        }
        match &self.framing {
            Framing::UntilEnd => false,
            Framing::Length(n) => *n == 0,
            Framing::Chunked(d) => d.is_done(),
        }
    }

    /// Decoded response-stream bytes: head first, then body.
    fn on_stream(&mut self, r: &mut Request, cx: &mut Ctx, data: &[u8]) -> Result<(), u16> {
        if self.head_done {
            return self.on_body(r, data);
        }
        let scan_from = self.head.len().saturating_sub(2);
        self.head.extend_from_slice(data);
        // parse only once a blank line may have arrived: a backend
        // trickling a long head must not cost a full re-parse per byte
        let first_line = !self.first_line_seen && self.head.contains(&b'\n');
        self.first_line_seen |= first_line;
        let blank = has_blank_line(&self.head[scan_from..])
            || self.head.starts_with(b"\n")
            || self.head.starts_with(b"\r\n");
        if self.head.len() <= MAX_RESPONSE_HEAD && !blank && !first_line {
            return Ok(());
        }
        loop {
            let opts = BackendOpts {
                backend: self.proto.backend(),
                authorizer: self.params.authorizer,
                http2: false,
            };
            let h = match parse_backend_head(&self.head, &opts)? {
                BackendParse::NeedMore => {
                    if self.head.len() > MAX_RESPONSE_HEAD {
                        return Err(502);
                    }
                    return Ok(());
                }
                BackendParse::BodyOnly => return Err(502),
                BackendParse::Head(h) => h,
            };
            let rest = self.head.split_off(h.head_len.min(self.head.len()));
            if (100..200).contains(&h.status) && h.status != 101 {
                self.head = rest; // interim response: skip it
                self.first_line_seen = false;
                continue;
            }
            self.head = Vec::new();
            self.head_done = true;
            if self.params.authorizer && h.status == 200 {
                self.authorized(r, cx, h.auth_vars);
                return Ok(());
            }
            r.resp.status = h.status;
            self.status_known = h.status_explicit || h.headers.contains("Location");
            r.resp.headers = h.headers;
            self.proto.response_headers(&mut r.resp.headers);
            if h.close_connection {
                r.keep_alive = false;
            }
            let bodiless = r.is_head() || matches!(h.status, 204 | 304);
            self.framing = if bodiless && self.proto.backend() == Backend::Proxy {
                Framing::Length(0)
            } else if h.chunked {
                Framing::Chunked(Box::default())
            } else {
                h.content_length.map_or(Framing::UntilEnd, Framing::Length)
            };
            if self.host().xsendfile_allow && self.xsendfile(r, cx)? {
                return Ok(());
            }
            let switch = h.status == 101 && r.resp.headers.contains("Upgrade");
            if switch && self.proto.upgrading() {
                r.resp.upgraded = true;
                r.keep_alive = false;
                self.cap = Some(65536 - 4096);
            } else {
                self.cap = response::stream_cap(r);
            }
            r.resp.streaming = self.cap.is_some();
            return self.on_body(r, &rest);
        }
    }

    fn on_body(&mut self, r: &mut Request, data: &[u8]) -> Result<(), u16> {
        let mut decoded = Vec::new();
        let take: &[u8] = match &mut self.framing {
            Framing::UntilEnd => data,
            Framing::Length(left) => {
                let n = (*left).min(data.len() as u64) as usize;
                *left -= n as u64;
                &data[..n]
            }
            Framing::Chunked(dec) => {
                // once the head went out chunked, the backend's own coding
                // is passed on as is (lighttpd `http_chunk_decode_append_mem`)
                if self.dechunk_failed {
                    return Ok(());
                }
                let raw = r.head_sent && r.resp.send_chunked;
                r.resp.backend_chunked |= raw;
                if dec.feed_response(data, raw, &mut decoded).is_err() {
                    // what decoded before the error is kept. FastCGI ends
                    // the response there, the others also close the
                    // connection, with no last chunk
                    // (lighttpd mod_fastcgi `send_content_body = 0` vs
                    // `http_response_backend_error`)
                    crate::log_error!("bad chunked response from backend");
                    if self.proto.backend() == Backend::FastCgi {
                        self.dechunk_failed = true;
                    } else {
                        r.keep_alive = false;
                        r.resp.backend_chunked = true;
                        self.framing = Framing::Length(0);
                    }
                } else if !r.head_sent {
                    r.resp.dechunk_resume = Some(dec.resume_point());
                }
                &decoded
            }
        };
        r.resp
            .body
            .append_spilling(take, &self.params.spill)
            .map_err(|_| 500u16)
    }

    /// A FastCGI authorizer said 200: its `Variable-*` become request
    /// environment and the request restarts (lighttpd `gw_authorizer_ok`).
    fn authorized(&mut self, r: &mut Request, cx: &mut Ctx, vars: Vec<(String, String)>) {
        self.close_backend(cx);
        for (k, v) in vars {
            r.env.retain(|(ek, _)| *ek != k);
            r.env.push((k, v));
        }
        let docroot = self.host().docroot.clone();
        r.plugin_ctx.entry::<AuthDone>(self.params.module).docroot = docroot;
        r.resp.status = 0;
        r.resp.headers = Headers::new();
        r.resp.body.reset();
        r.handler_module = None;
        r.loops += 1;
        self.result = Some(if r.loops > 5 {
            crate::log_error!("too many loops while processing request: {}", r.target_orig);
            r.resp.status = 500;
            Flow::Finished
        } else {
            Flow::Comeback
        });
    }

    /// `X-Sendfile` (and FastCGI's `X-LIGHTTPD-send-file`): serve a local
    /// file instead of the backend body. Ok(true) when it took over.
    fn xsendfile(&mut self, r: &mut Request, cx: &mut Ctx) -> Result<bool, u16> {
        let fastcgi = self.proto.backend() == Backend::FastCgi;
        let name = if r.resp.headers.contains("X-Sendfile") {
            "X-Sendfile"
        } else if fastcgi && r.resp.headers.contains("X-LIGHTTPD-send-file") {
            "X-LIGHTTPD-send-file"
        } else {
            return Ok(false);
        };
        let value = r.resp.headers.get(name).unwrap_or("").to_string();
        r.resp.headers.remove(name);
        r.resp.headers.remove("Content-Length");
        let docroots = self.host().xsendfile_docroot.clone();
        let outcome =
            xsendfile_path(&value, &docroots, r.conf.force_lowercase_filenames).and_then(|path| {
                let file = std::fs::File::open(&path)
                    .map_err(|e| crate::request::prepare::open_error_status(&e))?;
                let meta = file.metadata().map_err(|_| 500u16)?;
                if !meta.is_file() {
                    return Err(403);
                }
                Ok((file, meta.len()))
            });
        self.close_backend(cx);
        match outcome {
            Ok((file, len)) => {
                r.resp.body.reset();
                r.resp.body.append_file(Rc::new(file), 0, len);
                r.resp.complete = true;
                self.result = Some(Flow::Finished);
            }
            Err(status) => {
                self.head_done = false;
                self.fail(r, cx, status);
            }
        }
        Ok(true)
    }
}

/// Does `buf` hold a line end followed by an empty line (`\n\n` or
/// `\n\r\n`)?
fn has_blank_line(buf: &[u8]) -> bool {
    buf.windows(2).any(|w| w == b"\n\n") || buf.windows(3).any(|w| w == b"\n\r\n")
}

impl Handler for GwHandler {
    fn handle(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if let Some(f) = self.result {
            return f;
        }
        if self.phase == Phase::Init && r.resp.status != 0 {
            // a later module decided the request (e.g. access denied)
            r.handler_module = None;
            self.result = Some(Flow::Finished);
            return Flow::Finished;
        }
        if !self.params.authorizer && !r.body.complete && !r.resp.upgraded {
            return Flow::WaitForEvent;
        }
        self.drive(r, cx)
    }

    fn on_event(&mut self, _r: &mut Request, _cx: &mut Ctx, _slot: usize) -> Flow {
        // the connection calls handle() right after this
        Flow::WaitForEvent
    }

    fn tick(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if self.result.is_some() || self.sock.is_none() {
            return Flow::WaitForEvent;
        }
        let host = self.lease.host.clone();
        let conf = &host.conf;
        let over = |limit: u32, since: i64| limit > 0 && cx.now - since > i64::from(limit);
        if self.phase == Phase::Connecting {
            if over(conf.connect_timeout, self.write_ts) {
                if let Some(i) = self.lease.proc_idx() {
                    host.connect_failed(i, self.lease.pid, cx.now, "Connection timed out");
                }
                // retry once: the request already waited connect-timeout
                return self.reconnect(r, cx, 1);
            }
            return Flow::WaitForEvent;
        }
        if !self.wq.is_empty() && over(conf.write_timeout, self.write_ts) {
            crate::log_error!(
                "write timeout on socket: {}",
                host.conf
                    .host
                    .as_deref()
                    .or(host.conf.socket.as_deref())
                    .unwrap_or("")
            );
            return self.fail(r, cx, 504);
        }
        if !self.paused && over(conf.read_timeout, self.read_ts) {
            crate::log_error!(
                "read timeout on socket: {}",
                host.conf
                    .host
                    .as_deref()
                    .or(host.conf.socket.as_deref())
                    .unwrap_or("")
            );
            return self.fail(r, cx, 504);
        }
        Flow::WaitForEvent
    }

    fn reset(&mut self, cx: &mut Ctx) {
        self.close_backend(cx);
    }
}
