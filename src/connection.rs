//! One client connection (lighttpd src/connections.c, h1.c): the state
//! machine read head → handle → write → keep-alive or close, pipelining,
//! half-closed clients, request bodies (Content-Length), `Expect:
//! 100-continue`, idle timeouts, and returning buffers to the pool while a
//! keep-alive connection is idle.

use std::io;

use mio::{Interest, Registry, Token};

use crate::chunk::{ChunkQueue, SpillConf};
use crate::config::core::ServerConf;
use crate::http::chunked::ChunkedDecoder;
use crate::http::h1::{self, BlankPrefix, Version};
use crate::plugin::{Ctx, Flow, Hook, Pipeline, Preamble};
use crate::read_ahead::ReadAhead;
use crate::request::{prepare, response, ReqContext, Request};
use crate::sockets::Stream;
use crate::throttle::{ConnThrottle, ScopeCounters};

/// Bytes read per `read` call.
const READ_CHUNK: usize = 8192;
/// Unparsed pipelined bytes kept while a response is in progress.
const MAX_PENDING_INPUT: usize = 64 * 1024;
/// Seconds a closing connection waits for the client's EOF, reading and
/// dropping what it still sends so that the response is not lost to a
/// reset (lighttpd's `HTTP_LINGER_TIMEOUT`).
const LINGER_SECS: i64 = 5;
/// Bytes written to one connection per readiness round (lighttpd
/// `MAX_WRITE_LIMIT`): a large file goes out in turns with the other
/// connections, which keeps the data each client reads warm in the cache.
const WRITE_LIMIT: u64 = 256 * 1024;
/// Streamed response bytes written in one go before other connections get
/// a turn (the socket is re-armed to come back).
const STREAM_BUDGET: u64 = 1 << 20;

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for / reading a request head.
    ReadHead,
    /// A request is being prepared or its handler is running.
    Handle,
    /// The response is being written.
    Write,
    /// Response sent, write side shut: drain input until EOF, then close.
    Linger,
    /// Done: the server removes the connection.
    Closed,
}

/// Reusable buffers shared by all connections: read buffers, write queues
/// and request objects go back here when a connection goes idle or a
/// request ends (an idle keep-alive connection holds none of them), and
/// the head parser's output and scratch space are reused for every head.
#[derive(Default)]
pub struct BufPool {
    free: Vec<Vec<u8>>,
    queues: Vec<ChunkQueue>,
    /// Boxed: a request moves to and from `Conn::req` without copying.
    #[allow(clippy::vec_box)]
    requests: Vec<Box<Request>>,
    head: h1::RequestHead,
    head_scratch: h1::HeadScratch,
}

impl BufPool {
    /// Kept read buffers and write queues, and kept requests. Connections
    /// served side by side tend to finish their responses in the same
    /// round (a large file goes out 256 KiB per connection per round) and
    /// then all start their next request: the pool must take a whole
    /// round's worth, or every request of the next round allocates anew.
    /// What it holds is bounded by the requests alive at once, and given
    /// back in the first quiet second ([`BufPool::release_free`]).
    const MAX_FREE: usize = 64;
    const MAX_FREE_REQUESTS: usize = 64;

    pub fn take(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(READ_CHUNK))
    }

    pub fn give(&mut self, mut buf: Vec<u8>) {
        if self.free.len() < Self::MAX_FREE && buf.capacity() <= 4 * READ_CHUNK {
            buf.clear();
            self.free.push(buf);
        }
    }

    fn take_queue(&mut self) -> ChunkQueue {
        self.queues.pop().unwrap_or_default()
    }

    /// Keep an emptied write queue (with its storage) for another response.
    fn give_queue(&mut self, mut q: ChunkQueue) {
        if self.queues.len() < Self::MAX_FREE {
            q.reset();
            self.queues.push(q);
        }
    }

    /// A request object in its initial state for `ctx`.
    /// `now_hp` is its start time.
    fn take_request(&mut self, ctx: &ReqContext, now_hp: std::time::SystemTime) -> Box<Request> {
        let mut r = match self.requests.pop() {
            // reset when it was given back; again only if the config changed
            Some(r) if std::rc::Rc::ptr_eq(&r.core, &ctx.core) => r,
            Some(mut r) => {
                r.reset(ctx);
                r
            }
            None => Box::new(Request::empty(ctx)),
        };
        r.start_hp = now_hp;
        r
    }

    /// The server went idle: give the kept buffers and requests back.
    pub fn release_free(&mut self) {
        self.free = Vec::new();
        self.queues = Vec::new();
        self.requests = Vec::new();
    }

    /// A finished request: its handler, files and module state are dropped
    /// now, its storage is kept for the next one.
    fn give_request(&mut self, mut r: Box<Request>, ctx: &ReqContext) {
        if self.requests.len() < Self::MAX_FREE_REQUESTS {
            r.reset(ctx);
            self.requests.push(r);
        }
    }
}

/// What the connection needs from the server for one step.
pub struct Env<'a> {
    pub registry: &'a Registry,
    pub pipeline: &'a mut Pipeline,
    pub server: &'a ServerConf,
    pub ctx: &'a ReqContext,
    pub spill: &'a SpillConf,
    pub pool: &'a mut BufPool,
    pub now: i64,
    /// This wakeup's clock reading (a request's `start_hp`).
    pub now_hp: std::time::SystemTime,
    /// The `Date: …\r\n` line of this second.
    pub date_line: &'a str,
    /// Graceful shutdown in progress (no more keep-alive).
    pub stopping: bool,
    /// `server.kbytes-per-second` counters of this second.
    pub scopes: &'a mut ScopeCounters,
    /// How reads right after a keep-alive response went lately.
    pub read_ahead: &'a mut ReadAhead,
}

/// One client connection.
pub struct Conn {
    pub id: usize,
    pub stream: Stream,
    pub state: State,
    rbuf: Vec<u8>,
    wq: ChunkQueue,
    req: Option<Box<Request>>,
    /// Requests started on this connection.
    seq: u32,
    /// Last time bytes moved (for the idle timeouts).
    pub last_io: i64,
    /// The socket may have more to read (edge-triggered: read to EAGAIN).
    can_read: bool,
    /// The next read is one right after a keep-alive response: tell
    /// [`ReadAhead`] what it found.
    reading_ahead: bool,
    /// The client shut its write side (EOF seen).
    read_closed: bool,
    /// The poller reported the peer's FIN: read until EOF.
    eof_hint: bool,
    /// WRITABLE is part of the registered interest.
    write_interest: bool,
    /// Stopped writing to give other connections a turn while the socket
    /// still takes more: the server resumes it after this round's events
    /// (no poller call to re-arm an edge that will not come).
    pub yielded: bool,
    /// The connection-preamble hooks are done with this connection.
    preamble_done: bool,
    /// Timeouts from the last request's config.
    ka_idle: i64,
    read_idle: i64,
    write_idle: i64,
    /// 100 Continue already sent for the current request.
    sent_continue: bool,
    /// The response waits for the next tick (auth.delay-invalid-creds).
    delayed: bool,
    /// Bandwidth limits (`*.kbytes-per-second`).
    throttle: ConnThrottle,
    /// When the connection was accepted (seconds).
    accepted: i64,
    remote_ip: String,
    remote_port: Option<u16>,
    /// `$SERVER["socket"]` token of the listener.
    server_socket: String,
    /// SERVER_ADDR of this connection (see [`crate::sockets::server_addr`]).
    server_addr: String,
}

impl Conn {
    pub fn new(id: usize, stream: Stream, now: i64) -> Conn {
        Conn {
            id,
            stream,
            state: State::ReadHead,
            rbuf: Vec::new(),
            wq: ChunkQueue::new(),
            req: None,
            seq: 0,
            last_io: now,
            can_read: true,
            reading_ahead: false,
            read_closed: false,
            eof_hint: false,
            write_interest: false,
            yielded: false,
            preamble_done: false,
            ka_idle: 5,
            read_idle: 60,
            write_idle: 360,
            sent_continue: false,
            delayed: false,
            throttle: ConnThrottle::default(),
            accepted: now,
            remote_ip: String::new(),
            remote_port: None,
            server_socket: String::new(),
            server_addr: String::new(),
        }
    }

    /// What accept/close hooks see.
    pub fn info(&self) -> crate::plugin::ConnInfo {
        crate::plugin::ConnInfo {
            id: self.id,
            remote_ip: self.remote_ip.clone(),
            server_socket: self.server_socket.clone(),
        }
    }

    /// Idle limits before the first request: the global config's.
    pub fn set_timeouts(&mut self, conf: &crate::config::core::CoreConf) {
        self.ka_idle = i64::from(conf.max_keep_alive_idle);
        self.read_idle = i64::from(conf.max_read_idle);
        self.write_idle = i64::from(conf.max_write_idle);
    }

    /// A just accepted connection a module takes as a raw byte tunnel
    /// (mod_sockproxy): the handler gets the client's bytes as request
    /// body and its response body goes out as is, as after a 101.
    pub fn try_tunnel(&mut self, env: &mut Env) {
        if !env.pipeline.has(Hook::ConnectionTunnel) {
            return;
        }
        let mut r = env.pool.take_request(env.ctx, env.now_hp);
        r.start_secs = env.now;
        r.remote_ip.clone_from(&self.remote_ip);
        r.remote_port = self.remote_port;
        r.server_socket.clone_from(&self.server_socket);
        r.server_addr.clone_from(&self.server_addr);
        let mut cx = ctx(env.registry, env.now, self.id);
        if !env.pipeline.run_tunnel(&mut r, &mut cx) {
            env.pool.give_request(r, env.ctx);
            return;
        }
        (r.resp.upgraded, r.resp.streaming, r.head_sent) = (true, true, true);
        (r.keep_alive, r.env_ready, r.seq) = (false, true, 1);
        (self.seq, self.preamble_done) = (1, true);
        self.wq = env.pool.take_queue();
        self.req = Some(r);
        self.state = State::Write;
        self.advance(env);
    }

    /// Who the client is and which listener accepted it.
    pub fn set_peer(&mut self, remote_ip: String, port: Option<u16>, server_socket: String) {
        self.remote_ip = remote_ip;
        self.remote_port = port;
        self.server_addr = crate::sockets::server_addr(&server_socket, &self.stream);
        self.server_socket = server_socket;
    }

    pub fn register(&mut self, registry: &Registry) -> io::Result<()> {
        registry.register(&mut self.stream, Token(self.id), Interest::READABLE)
    }

    /// Ask for writability only while a write is blocked (saves a wakeup
    /// per response).
    fn want_write(&mut self, registry: &Registry, on: bool) {
        if self.write_interest == on {
            return;
        }
        let interest = if on {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if registry
            .reregister(&mut self.stream, Token(self.id), interest)
            .is_ok()
        {
            self.write_interest = on;
        }
    }

    /// Is the connection idle between requests (for graceful shutdown)?
    pub fn is_idle(&self) -> bool {
        self.state == State::ReadHead && self.rbuf.is_empty() && self.req.is_none()
    }

    /// Does the connection still owe its client something? Idle and
    /// lingering ones (the response is out) do not hold up a graceful
    /// shutdown, as with lighttpd.
    pub fn is_busy(&self) -> bool {
        !self.is_idle() && self.state != State::Linger
    }

    /// A readiness event on the socket.
    pub fn on_event(&mut self, readable: bool, peer_closed: bool, env: &mut Env) {
        if readable || peer_closed {
            self.can_read = true;
        }
        self.eof_hint |= peer_closed;
        self.advance(env);
    }

    /// An event on one of the handler's fds.
    pub fn on_handler_event(&mut self, slot: usize, env: &mut Env) {
        let Some(r) = self.req.as_mut() else { return };
        let Some(mut h) = r.handler.take() else {
            return;
        };
        let mut cx = ctx(env.registry, env.now, self.id);
        let flow = h.on_event(r, &mut cx, slot);
        r.handler = Some(h);
        if flow == Flow::Error {
            self.abort(env);
            return;
        }
        self.advance(env);
    }

    /// Run the state machine as far as it goes without blocking.
    fn advance(&mut self, env: &mut Env) {
        self.run_states(env);
        if crate::plugin::live::enabled() {
            crate::plugin::live::publish(self.id, self.progress());
        }
        self.flush_tls_output(env);
    }

    /// The request body being read for the handler, or the response being
    /// written, and how far (mod_status).
    fn progress(&self) -> Option<crate::plugin::live::Progress> {
        use crate::plugin::live::Progress;
        let r = self.req.as_ref()?;
        match self.state {
            State::Handle if r.body.wanted && !r.body.complete => Some(Progress::ReadBody {
                received: r.body.received,
                expected: if r.chunked {
                    -1
                } else {
                    r.content_length.map_or(0, |n| n as i64)
                },
            }),
            State::Write => Some(Progress::Write {
                written: r.bytes_out.saturating_sub(self.wq.len()),
                queued: r.bytes_out,
            }),
            _ => None,
        }
    }

    /// TLS handshake replies the socket did not take: wait for writability.
    fn flush_tls_output(&mut self, env: &mut Env) {
        if self.state == State::Closed {
            return;
        }
        match self.stream.tls_output_blocked() {
            Ok(true) => self.want_write(env.registry, true),
            Ok(false) => {}
            Err(_) => self.close(env),
        }
    }

    fn run_states(&mut self, env: &mut Env) {
        for _ in 0..64 {
            let progressed = match self.state {
                State::ReadHead => self.read_head(env),
                State::Handle => self.handle(env),
                State::Write => self.write(env),
                State::Linger => self.linger(env),
                State::Closed => false,
            };
            if !progressed || self.state == State::Closed {
                return;
            }
        }
        // still going after its share of steps (many pipelined requests):
        // other connections get a turn, then this one goes on, since no
        // readiness event will come for bytes already read
        self.yielded = true;
    }

    /// Read what the socket has into `rbuf`, up to `limit` bytes buffered.
    fn fill(&mut self, env: &mut Env, limit: usize) -> io::Result<()> {
        if self.rbuf.capacity() == 0 {
            self.rbuf = env.pool.take();
        }
        while self.can_read && !self.read_closed && self.rbuf.len() < limit {
            let got = self.stream.read_append(&mut self.rbuf, READ_CHUNK);
            if std::mem::take(&mut self.reading_ahead) {
                env.read_ahead.record(matches!(got, Ok(n) if n > 0));
            }
            match got {
                Ok(0) => self.read_closed = true,
                Ok(n) => {
                    self.last_io = env.now;
                    // A short read drained the socket; edge-triggered
                    // readiness reports the next bytes.
                    self.can_read = n == READ_CHUNK || self.eof_hint;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.can_read = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_head(&mut self, env: &mut Env) -> bool {
        let max = env.server.max_request_field_size as usize;
        if self.fill(env, max + READ_CHUNK).is_err() {
            self.close(env);
            return false;
        }
        if !self.preamble_done && !self.rbuf.is_empty() && !self.preamble(env) {
            return false;
        }
        if self.seq > 0 {
            match h1::keepalive_blank_prefix(&self.rbuf) {
                BlankPrefix::Skip(n) => {
                    self.rbuf.drain(..n);
                }
                BlankPrefix::NeedMore if !self.read_closed => return false,
                _ => {}
            }
        }
        if self.rbuf.is_empty() {
            if self.read_closed {
                self.close(env);
            } else {
                self.release_buffers(env);
            }
            return false;
        }
        let pool = &mut *env.pool;
        let parsed = h1::parse_head_into(
            &self.rbuf,
            &env.server.parseopts,
            max,
            80,
            &mut pool.head,
            &mut pool.head_scratch,
        );
        if matches!(parsed, Ok(None)) {
            if self.read_closed {
                self.close(env);
            }
            return false;
        }
        let mut r = pool.take_request(env.ctx, env.now_hp);
        r.start_secs = env.now;
        r.uri.scheme = self.stream.scheme();
        self.stream.add_tls_env(&mut r.env);
        r.seq = self.seq + 1;
        r.remote_ip.clone_from(&self.remote_ip);
        r.remote_port = self.remote_port;
        r.server_socket.clone_from(&self.server_socket);
        r.server_addr.clone_from(&self.server_addr);
        match parsed {
            Ok(Some(n)) => {
                let utf8 = pool.head_scratch.head_was_utf8();
                r.raw_head = (!utf8).then(|| self.rbuf[..n].to_vec());
                self.rbuf.drain(..n);
                r.set_head(&mut pool.head);
                r.bytes_in = n as u64;
            }
            Ok(None) => {}
            Err(e) => {
                r.raw_head = raw_head_if_not_utf8(&self.rbuf);
                let consumed = self.rbuf.len() as u64;
                self.rbuf.clear();
                r.set_head_error(e);
                r.bytes_in = consumed;
            }
        }
        self.seq += 1;
        self.sent_continue = false;
        self.req = Some(r);
        self.state = State::Handle;
        true
    }

    /// Let the preamble hooks look at the first bytes; false = wait or closed.
    fn preamble(&mut self, env: &mut Env) -> bool {
        if !env.pipeline.has(Hook::ConnectionPreamble) {
            self.preamble_done = true;
            return true;
        }
        let info = self.info();
        let mut cx = ctx(env.registry, env.now, self.id);
        match env.pipeline.run_preamble(&info, &self.rbuf, &mut cx) {
            Preamble::NotMine => {}
            Preamble::NeedMore => {
                if self.read_closed {
                    self.close(env);
                }
                return false;
            }
            Preamble::Consumed {
                len,
                remote_ip,
                remote_port,
            } => {
                self.rbuf.drain(..len.min(self.rbuf.len()));
                if let Some(ip) = remote_ip {
                    self.remote_ip = ip;
                    self.remote_port = remote_port;
                }
            }
            Preamble::Reject => {
                self.close(env);
                return false;
            }
        }
        self.preamble_done = true;
        true
    }

    /// Prepare the request, run its handler, start the response.
    fn handle(&mut self, env: &mut Env) -> bool {
        let Some(mut r) = self.req.take() else {
            self.state = State::ReadHead;
            return true;
        };
        let flow = self.run_request(&mut r, env);
        self.req = Some(r);
        match flow {
            Flow::Finished => self.start_response(env),
            Flow::Error => {
                self.abort(env);
                false
            }
            _ => false,
        }
    }

    fn run_request(&mut self, r: &mut Request, env: &mut Env) -> Flow {
        loop {
            let mut cx = ctx(env.registry, env.now, self.id);
            let mut flow = if r.handler.is_none() && r.resp.status == 0 {
                prepare::prepare(r, env.pipeline, &mut cx, env.server)
            } else {
                Flow::Finished
            };
            if flow == Flow::Finished && r.handler.is_some() && !r.env_ready {
                r.env_ready = true;
                let mut cx = ctx(env.registry, env.now, self.id);
                env.pipeline.run(Hook::RequestEnv, r, &mut cx);
            }
            if flow == Flow::Finished && r.handler.is_some() && !r.resp.complete {
                if r.body.wanted && !r.body.complete {
                    self.read_body(r, env);
                }
                let mut cx = ctx(env.registry, env.now, self.id);
                flow = if r.body.failed {
                    if let Some(mut h) = r.handler.take() {
                        h.reset(&mut cx);
                    }
                    Flow::Finished
                } else {
                    run_handler(r, &mut cx)
                };
            }
            match flow {
                Flow::Comeback => {
                    if let Err(f) = prepare::restart(r, env.server) {
                        return f;
                    }
                }
                // a streaming handler has the head: start the response
                f @ (Flow::Finished | Flow::WaitForEvent)
                    if f == Flow::Finished || r.resp.streaming =>
                {
                    let mut cx = ctx(env.registry, env.now, self.id);
                    let http10_range = env.server.feature_bool("http10.range", false);
                    match response::response_start(r, env.pipeline, &mut cx, http10_range) {
                        Flow::Comeback => {
                            if let Err(f) = prepare::restart(r, env.server) {
                                return f;
                            }
                        }
                        Flow::Error => return Flow::Error,
                        _ => return Flow::Finished,
                    }
                }
                other => return other,
            }
        }
    }

    /// Move request-body bytes from the read buffer to the request.
    fn read_body(&mut self, r: &mut Request, env: &mut Env) {
        if r.expect_100 && !self.sent_continue && r.version == Version::Http11 {
            // skipped while throttled (lighttpd)
            let quiet = r.body.received == 0 && self.rbuf.is_empty() && self.wq.is_empty();
            if quiet && !self.throttle.limited {
                const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
                self.wq.append_mem(CONTINUE);
                // counted as sent, outside the head (lighttpd: accesslog %b)
                r.bytes_out += CONTINUE.len() as u64;
                let _ = self.stream.write_queue(&mut self.wq, u64::MAX);
            }
            self.sent_continue = true;
        }
        // Drain the socket (edge-triggered): fill and hand over in rounds
        // until the body is complete or the socket has nothing more.
        let step = loop {
            if self.fill(env, MAX_PENDING_INPUT).is_err() {
                r.keep_alive = false;
            }
            let step = match r.body.expected {
                Some(expected) => self.take_sized_body(r, expected, env),
                None => self.take_chunked_body(r, env),
            };
            let stuck = self.rbuf.len() >= MAX_PENDING_INPUT;
            if step.is_err() || r.body.complete || !self.can_read || self.read_closed || stuck {
                break step;
            }
        };
        if let Err(status) = step {
            // A broken body ends the request with an error page and a close.
            r.resp.status = status;
            r.handler_module = None;
            r.keep_alive = false;
            r.body.complete = true;
            r.body.failed = true;
            self.rbuf.clear();
        } else if !r.body.complete && self.read_closed {
            r.keep_alive = false;
            r.body.complete = true;
            r.resp.status = 400;
            r.handler_module = None;
            r.body.failed = true;
        }
    }

    fn take_sized_body(&mut self, r: &mut Request, expected: u64, env: &Env) -> Result<(), u16> {
        let want = (expected - r.body.received).min(self.rbuf.len() as u64) as usize;
        if want > 0 {
            r.body
                .queue
                .append_spilling(&self.rbuf[..want], env.spill)
                .map_err(|_| 500u16)?;
            self.rbuf.drain(..want);
            r.body.received += want as u64;
        }
        r.body.complete = r.body.received >= expected;
        Ok(())
    }

    fn take_chunked_body(&mut self, r: &mut Request, env: &Env) -> Result<(), u16> {
        let max_body = u64::from(r.conf.max_request_size) * 1024;
        let max_trailers = env.server.max_request_field_size as usize;
        let dec = r
            .body
            .dechunk
            .get_or_insert_with(|| ChunkedDecoder::with_limits(max_body, max_trailers));
        let mut out = Vec::new();
        let used = dec.decode(&self.rbuf, &mut out)?;
        let (done, cut) = (dec.is_done(), dec.trailers_cut());
        self.rbuf.drain(..used);
        r.body
            .queue
            .append_spilling(&out, env.spill)
            .map_err(|_| 500u16)?;
        r.body.received += out.len() as u64;
        // the chunk framing counts as bytes read (accesslog %I, rrdtool)
        r.bytes_in += (used as u64).saturating_sub(out.len() as u64);
        if done {
            r.body.complete = true;
            r.keep_alive &= !cut;
        }
        Ok(())
    }

    /// Serialise the head, queue the body, switch to writing.
    fn start_response(&mut self, env: &mut Env) -> bool {
        let Some(r) = self.req.as_mut() else {
            return false;
        };
        if !r.body.complete {
            // The handler did not read the body: it cannot be skipped safely.
            r.keep_alive = false;
        }
        if r.conf.max_keep_alive_idle == 0
            || r.seq > u32::from(r.conf.max_keep_alive_requests)
            || env.stopping
            || (self.read_closed && self.rbuf.is_empty())
        {
            // lighttpd: no keep-alive while shutting down, nor once the
            // client half-closed with nothing more queued.
            r.keep_alive = false;
        }
        self.ka_idle = i64::from(r.conf.max_keep_alive_idle);
        self.read_idle = i64::from(r.conf.max_read_idle);
        self.write_idle = i64::from(r.conf.max_write_idle);
        if !self.wq.has_storage() {
            self.wq = env.pool.take_queue();
        }
        let _ = self.wq.append_filled(|head| {
            head.reserve(256);
            response::write_head(r, env.date_line, head);
            r.resp_head_len = head.len() as u64;
            Ok::<(), ()>(())
        });
        // after any 100 Continue already counted
        r.bytes_out += r.resp_head_len + response::queue_body(r, &mut self.wq, true);
        r.head_sent = true;
        self.delayed =
            r.delay_response && env.server.feature_bool("auth.delay-invalid-creds", true);
        self.state = State::Write;
        true
    }

    fn write(&mut self, env: &mut Env) -> bool {
        if self.delayed || self.throttle.limited {
            return false;
        }
        let mut sent = 0;
        loop {
            let allowance = self.write_allowance(env);
            if allowance == 0 {
                // parked: no events until the tick lets it go
                self.want_write(env.registry, false);
                return false;
            }
            let max = allowance.min(WRITE_LIMIT);
            match self.stream.write_queue(&mut self.wq, max) {
                Ok(w) => {
                    if w.bytes > 0 {
                        self.last_io = env.now;
                        self.count_written(w.bytes, env);
                    }
                    if w.blocked {
                        self.want_write(env.registry, true);
                        return false;
                    }
                    sent += w.bytes;
                    if !self.wq.is_empty() && max < allowance {
                        // WRITE_LIMIT reached: other connections get a turn
                        self.yielded = true;
                        return false;
                    }
                    if !self.wq.is_empty() {
                        continue; // stopped at the bandwidth limit
                    }
                }
                Err(_) => {
                    self.abort(env);
                    return false;
                }
            }
            if !self.req.as_ref().is_some_and(|r| r.resp.streaming) {
                break;
            }
            if sent >= STREAM_BUDGET {
                // writable still: resumed after the other connections
                self.yielded = true;
                return false;
            }
            if self.req.as_ref().is_some_and(|r| r.resp.upgraded) {
                self.tunnel_in(env);
            }
            if !self.pump_stream(env) {
                if self.state == State::Write {
                    self.want_write(env.registry, false);
                }
                return false;
            }
        }
        self.want_write(env.registry, false);
        self.finish_request(env);
        true
    }

    /// An upgraded connection: the client's bytes go to the handler as
    /// request body, at most [`MAX_PENDING_INPUT`] waiting; its EOF
    /// completes the body.
    fn tunnel_in(&mut self, env: &mut Env) {
        let queued = self.req.as_ref().map_or(0, |r| r.body.queue.len());
        if queued < MAX_PENDING_INPUT as u64 && self.fill(env, MAX_PENDING_INPUT).is_err() {
            self.read_closed = true;
        }
        let Some(r) = self.req.as_mut() else { return };
        if !self.rbuf.is_empty() {
            r.body.queue.append_mem(&self.rbuf);
            r.body.received += self.rbuf.len() as u64;
            self.rbuf.clear();
        }
        r.body.complete = self.read_closed;
    }

    /// Bytes the bandwidth limits let through now (`u64::MAX`: no limit).
    fn write_allowance(&mut self, env: &mut Env) -> u64 {
        match self.req.as_ref() {
            Some(r) if !env.stopping => self.throttle.allowance(&r.conf, env.scopes),
            _ => u64::MAX,
        }
    }

    fn count_written(&mut self, n: u64, env: &mut Env) {
        if let Some(r) = self.req.as_ref() {
            self.throttle.record(n, &r.conf, env.scopes);
        }
    }

    /// Everything queued went out: queue what the streaming handler has,
    /// asking it for more first when nothing is waiting. False = wait for
    /// the handler's next event (or the connection was aborted).
    fn pump_stream(&mut self, env: &mut Env) -> bool {
        let Some(r) = self.req.as_mut() else {
            return false;
        };
        if r.resp.body.is_empty() && !r.resp.complete {
            let mut cx = ctx(env.registry, env.now, self.id);
            if run_handler(r, &mut cx) == Flow::Error {
                self.abort(env);
                return false;
            }
        }
        if r.resp.body.is_empty() && !r.resp.complete {
            return false;
        }
        r.bytes_out += response::queue_body(r, &mut self.wq, false);
        true
    }

    /// Response written: log hooks, then keep-alive or close.
    fn finish_request(&mut self, env: &mut Env) {
        let keep = match self.req.take() {
            Some(mut r) => {
                let mut cx = ctx(env.registry, env.now, self.id);
                env.pipeline.run(Hook::RequestDone, &mut r, &mut cx);
                env.pipeline.run(Hook::RequestReset, &mut r, &mut cx);
                if let Some(mut h) = r.handler.take() {
                    h.reset(&mut cx);
                }
                let keep = r.keep_alive;
                env.pool.give_request(r, env.ctx);
                keep
            }
            None => false,
        };
        if self.wq.is_empty() && self.wq.has_storage() {
            env.pool.give_queue(std::mem::take(&mut self.wq));
        }
        if keep && !self.read_closed {
            self.state = State::ReadHead;
            // Look for the next request now, as lighttpd does, while such
            // reads find it often enough (crate::read_ahead).
            if !self.can_read && env.read_ahead.wanted() {
                self.can_read = true;
                self.reading_ahead = true;
            }
        } else if keep && !self.rbuf.is_empty() {
            // Half-closed client with pipelined requests left: answer them.
            self.state = State::ReadHead;
        } else {
            self.stream.shutdown_write();
            self.state = State::Linger;
            self.last_io = env.now;
        }
    }

    fn linger(&mut self, env: &mut Env) -> bool {
        self.rbuf.clear();
        let _ = self.fill(env, READ_CHUNK);
        self.rbuf.clear();
        if self.read_closed {
            self.close(env);
        }
        false
    }

    /// Give the read buffer back while idle between requests.
    fn release_buffers(&mut self, env: &mut Env) {
        if self.rbuf.is_empty() && self.rbuf.capacity() > 0 {
            env.pool.give(std::mem::take(&mut self.rbuf));
        }
    }

    /// Close without (more of) a response.
    fn abort(&mut self, env: &mut Env) {
        if let Some(mut r) = self.req.take() {
            r.aborted = true;
            let mut cx = ctx(env.registry, env.now, self.id);
            if r.resp.status != 0 {
                env.pipeline.run(Hook::RequestDone, &mut r, &mut cx);
            }
            if let Some(mut h) = r.handler.take() {
                h.reset(&mut cx);
            }
            env.pool.give_request(r, env.ctx);
        }
        self.close(env);
    }

    pub fn close(&mut self, env: &mut Env) {
        if self.state == State::Closed {
            return;
        }
        crate::plugin::live::publish(self.id, None);
        if let Some(mut r) = self.req.take() {
            if let Some(mut h) = r.handler.take() {
                let mut cx = ctx(env.registry, env.now, self.id);
                h.reset(&mut cx);
            }
            env.pool.give_request(r, env.ctx);
        }
        self.wq = ChunkQueue::new();
        let _ = env.registry.deregister(&mut self.stream);
        self.release_buffers(env);
        self.rbuf = Vec::new();
        self.state = State::Closed;
    }

    /// Graceful shutdown: bandwidth limits no longer apply (lighttpd).
    pub fn lift_limits(&mut self, env: &mut Env) {
        if self.throttle.limited {
            self.throttle.limited = false;
            self.advance(env);
        }
    }

    /// The 1 s tick: handler timeouts, then close connections idle for
    /// too long.
    pub fn check_timeout(&mut self, env: &mut Env) {
        if self.delayed {
            self.delayed = false;
            self.last_io = env.now;
            self.advance(env);
            return;
        }
        // graceful shutdown lifts the limits (lighttpd)
        let conf = self.req.as_ref().map(|r| &r.conf).filter(|_| !env.stopping);
        if self.throttle.limited {
            // lighttpd counts a throttled connection as writing (no write-idle)
            self.last_io = env.now;
        }
        if self
            .throttle
            .tick(conf.map(|c| &**c), env.now - self.accepted)
        {
            self.advance(env);
            return;
        }
        let streaming = self.req.as_ref().is_some_and(|r| r.resp.streaming);
        if (self.state == State::Handle || streaming) && self.tick_handler(env) {
            self.advance(env);
            if self.state == State::Closed {
                return;
            }
        }
        let idle = env.now - self.last_io;
        let limit = match self.state {
            State::ReadHead if self.rbuf.is_empty() && self.seq > 0 => self.ka_idle,
            State::ReadHead => self.read_idle,
            State::Handle => match self.req.as_ref() {
                Some(r) if r.body.wanted && !r.body.complete => self.read_idle,
                _ => return,
            },
            State::Write => self.write_idle,
            State::Linger => LINGER_SECS,
            State::Closed => return,
        };
        if idle > limit {
            self.abort(env);
        }
    }
}

impl Conn {
    /// Let the handler check its timeouts; true when it wants to run.
    fn tick_handler(&mut self, env: &mut Env) -> bool {
        let Some(r) = self.req.as_mut() else {
            return false;
        };
        let Some(mut h) = r.handler.take() else {
            return false;
        };
        let mut cx = ctx(env.registry, env.now, self.id);
        let flow = h.tick(r, &mut cx);
        r.handler = Some(h);
        flow != Flow::WaitForEvent
    }
}

fn ctx(registry: &Registry, now: i64, id: usize) -> Ctx<'_> {
    Ctx {
        now,
        registry,
        token_base: id,
    }
}

fn run_handler(r: &mut Request, cx: &mut Ctx) -> Flow {
    let Some(mut h) = r.handler.take() else {
        return Flow::Finished;
    };
    let flow = h.handle(r, cx);
    r.handler = Some(h);
    flow
}

/// A copy of a request head that is not UTF-8 (rare: its strings in the
/// request had invalid bytes replaced; mod_accesslog logs the originals).
fn raw_head_if_not_utf8(head: &[u8]) -> Option<Vec<u8>> {
    (!head.is_ascii() && std::str::from_utf8(head).is_err()).then(|| head.to_vec())
}

#[cfg(test)]
mod tests {
    use super::BufPool;

    #[test]
    fn pool_keeps_buffers_until_released() {
        let mut pool = BufPool::default();
        let bufs: Vec<Vec<u8>> = (0..3).map(|_| pool.take()).collect();
        for b in bufs {
            pool.give(b);
        }
        assert_eq!(pool.free.len(), 3);
        assert!(pool.take().capacity() >= super::READ_CHUNK);
        pool.release_free();
        assert!(pool.free.is_empty() && pool.free.capacity() == 0);
        assert!(pool.queues.is_empty() && pool.requests.is_empty());
    }
}
