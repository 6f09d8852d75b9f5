//! One request's life (lighttpd `request_st`): the parsed head, the
//! normalised uri, the physical path, the per-request configuration and its
//! condition cache, the request body and the response under construction.
//!
//! - [`prepare`]: lighttpd's `http_response_prepare` — the hook chain,
//!   the physical-path check, PATH_INFO, directory redirects.
//! - [`response`]: response start (error pages, error handlers, Range,
//!   Content-Length) and the serialised response head.

pub mod prepare;
pub mod response;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::chunk::ChunkQueue;
use crate::config::cond::CondField;
use crate::config::scoped::{CondCache, CondInput, Patch, Scoped};
use crate::http::h1::{RequestHead, Version};
use crate::http::headers::Headers;
use crate::http::method::Method;
use crate::plugin::Handler;

pub use crate::config::core::{CoreConf, ServerConf};

/// The uri parts (lighttpd `r->uri`).
#[derive(Debug, Clone, Default)]
pub struct Uri {
    /// `http` (or `https` on TLS listeners).
    pub scheme: &'static str,
    /// Normalised Host / absolute-form authority ("" if none).
    pub authority: String,
    /// Decoded, simplified path (`$HTTP["url"]`).
    pub path: String,
    /// Query string as received (normalised, still encoded); "" if none.
    pub query: String,
}

impl Uri {
    fn clear(&mut self, scheme: &'static str) {
        self.scheme = scheme;
        self.authority.clear();
        self.path.clear();
        self.query.clear();
    }
}

/// The filesystem side (lighttpd `r->physical`).
#[derive(Debug, Clone, Default)]
pub struct Physical {
    pub doc_root: String,
    pub basedir: String,
    pub rel_path: String,
    /// The file being served ("" until the docroot step).
    pub path: String,
    /// PATH_INFO split off the path.
    pub path_info: String,
    /// What the existence check found at `path` (lighttpd `r->tmp_sce`):
    /// valid while `path` is the one it names (see [`Physical::stat`]).
    pub found: Option<Rc<crate::stat_cache::Entry>>,
}

impl Physical {
    /// Empty every path, keeping the strings' heap blocks.
    pub fn clear(&mut self) {
        self.doc_root.clear();
        self.basedir.clear();
        self.rel_path.clear();
        self.path.clear();
        self.path_info.clear();
        self.found = None;
    }

    /// The stat-cache entry of `path`: the one found by the existence
    /// check (or by whoever set `found`) if it names the same path, else
    /// looked up now.
    pub fn stat(&self) -> std::io::Result<Rc<crate::stat_cache::Entry>> {
        match &self.found {
            Some(e) if e.path() == self.path => Ok(Rc::clone(e)),
            _ => crate::stat_cache::lookup(&self.path),
        }
    }
}

/// The response under construction.
#[derive(Debug, Default)]
pub struct Response {
    /// 0 = not decided yet.
    pub status: u16,
    pub headers: Headers,
    pub body: ChunkQueue,
    /// All body bytes are queued (lighttpd `r->resp_body_finished`).
    pub complete: bool,
    /// The head is ready but the body is still arriving: the connection
    /// sends the head now and `body` as the handler fills it, calling the
    /// handler again whenever it has written what was queued
    /// (`server.stream-response-body` 1/2; lighttpd `r->resp_body_started`).
    pub streaming: bool,
    /// The streamed body goes out with `Transfer-Encoding: chunked`.
    pub send_chunked: bool,
    /// With `send_chunked`: the body holds a backend's own chunked coding,
    /// passed on as is (lighttpd does so once the head went out chunked), so
    /// no chunk framing and no last chunk are added (the backend's own last
    /// chunk went through, or the backend's body was cut off).
    pub backend_chunked: bool,
    /// Set by a handler de-chunking a backend's body while the head is not
    /// sent: if the head goes out chunked, the bytes decoded so far are
    /// framed to fit the rest, which then passes on as is.
    pub dechunk_resume: Option<crate::http::chunked::Resume>,
    /// The handler switched protocols (101 with `cgi.upgrade`): the
    /// connection says `Connection: upgrade` and, while streaming, hands
    /// the client's further bytes to the handler as `body` (complete at
    /// the client's EOF).
    pub upgraded: bool,
}

impl Response {
    fn clear(&mut self) {
        let Response {
            status,
            headers,
            body,
            complete,
            streaming,
            send_chunked,
            backend_chunked,
            dechunk_resume,
            upgraded,
        } = self;
        *status = 0;
        headers.clear();
        body.reset();
        *complete = false;
        *streaming = false;
        *send_chunked = false;
        *backend_chunked = false;
        *dechunk_resume = None;
        *upgraded = false;
    }
}

/// State of the request body.
#[derive(Debug, Default)]
pub struct Body {
    /// Bytes of body received (after de-chunking).
    pub received: u64,
    /// Content-Length, or None for chunked.
    pub expected: Option<u64>,
    /// Every byte of the body has arrived.
    pub complete: bool,
    /// A handler asked for the body (only then is it read).
    pub wanted: bool,
    /// The body was malformed, too large or cut short (status already set).
    pub failed: bool,
    /// Decoded body bytes waiting for the handler.
    pub queue: ChunkQueue,
    /// The de-chunker of a `Transfer-Encoding: chunked` body.
    pub dechunk: Option<crate::http::chunked::ChunkedDecoder>,
}

impl Body {
    /// An empty, complete body (no body expected yet).
    fn clear(&mut self) {
        let Body {
            received,
            expected,
            complete,
            wanted,
            failed,
            queue,
            dechunk,
        } = self;
        *received = 0;
        *expected = None;
        *complete = true;
        *wanted = false;
        *failed = false;
        queue.reset();
        *dechunk = None;
    }
}

/// Where the error-handler dispatch stands (lighttpd `r->error_handler_saved_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorHandlerState {
    #[default]
    None,
    /// `server.error-handler` dispatched for this original status.
    NewStyle(u16),
    /// `server.error-handler-404` dispatched for this original status.
    OldStyle(u16),
}

/// One request.
pub struct Request {
    pub method: Method,
    pub version: Version,
    /// The target as received (REQUEST_URI, accesslog `%r`).
    pub target_orig: String,
    /// The current (normalised, maybe rewritten) target with query.
    pub target: String,
    pub headers: Headers,
    pub uri: Uri,
    pub physical: Physical,
    /// `server.name`, else the request authority.
    pub server_name: String,
    pub remote_ip: String,
    /// Client port, when the connection knows it (CGI REMOTE_PORT).
    pub remote_port: Option<u16>,
    /// `$SERVER["socket"]` token of the listener.
    pub server_socket: String,
    /// SERVER_ADDR: the listener's address, or for a wildcard listener the
    /// one the client connected to (lighttpd's getsockname()).
    pub server_addr: String,
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub expect_100: bool,
    pub keep_alive: bool,
    /// lighttpd `keep_alive = -1` (bad credentials): hold the response
    /// until the next 1 s tick when "auth.delay-invalid-creds" is on.
    pub delay_response: bool,
    /// Environment for backends (setenv, auth, error handler...). The
    /// `request_env` hooks have run once `env_ready` is set (before the
    /// handler's first call).
    pub env: Vec<(String, String)>,
    pub env_ready: bool,
    /// Core settings in effect for this request (shared: requests matching
    /// the same condition blocks share one resolved value).
    pub conf: Rc<CoreConf>,
    /// Where `conf` is resolved from.
    pub core: Rc<CoreConfs>,
    pub conds: CondCache,
    pub resp: Response,
    pub body: Body,
    /// The module that took the request (lighttpd `r->handler_module`).
    pub handler_module: Option<&'static str>,
    pub handler: Option<Box<dyn Handler>>,
    pub error_handler: ErrorHandlerState,
    /// The method before `server.error-handler` turned it into GET; the
    /// response is judged with it again (lighttpd `error_handler_saved_method`).
    pub error_handler_method: Option<Method>,
    /// COMEBACK rounds so far (bounded).
    pub loops: u32,
    /// Unix time the request started.
    pub start_secs: i64,
    /// When the request was created, with sub-second resolution (for
    /// mod_accesslog `%D`, `%{ms}T`, `%{usec}t`; lighttpd `start_hp`).
    pub start_hp: std::time::SystemTime,
    /// Number of this request on its connection (1-based).
    pub seq: u32,
    /// Set when the request head could not be parsed.
    pub parse_error: bool,
    /// Response head already written.
    pub head_sent: bool,
    /// Response bytes queued: a 100 Continue, the head and the body (for
    /// logs).
    pub bytes_out: u64,
    /// Bytes of the response head (included in `bytes_out`).
    pub resp_head_len: u64,
    /// The connection broke before the response was complete.
    pub aborted: bool,
    /// Request head size in bytes, plus a chunked body's framing (for
    /// logs: with `body.received` it makes the bytes read).
    pub bytes_in: u64,
    /// The head as received when it is not UTF-8 (the strings above had its
    /// invalid bytes replaced): mod_accesslog logs the bytes themselves.
    pub raw_head: Option<Vec<u8>>,
    /// Per-request state of modules (lighttpd `r->plugin_ctx`).
    pub plugin_ctx: PluginCtx,
}

/// Per-request module state by module name (lighttpd `r->plugin_ctx`).
#[derive(Default)]
pub struct PluginCtx(Vec<(&'static str, Box<dyn std::any::Any>)>);

impl PluginCtx {
    /// The state a module stored, if it has that type.
    pub fn get_mut<T: 'static>(&mut self, module: &str) -> Option<&mut T> {
        self.0
            .iter_mut()
            .find(|(m, _)| *m == module)
            .and_then(|(_, v)| v.downcast_mut())
    }

    /// The module's state, created with `Default` if missing.
    pub fn entry<T: 'static + Default>(&mut self, module: &'static str) -> &mut T {
        let pos = self.0.iter().position(|(m, v)| *m == module && v.is::<T>());
        let i = pos.unwrap_or_else(|| {
            self.0.retain(|(m, _)| *m != module);
            self.0.push((module, Box::new(T::default())));
            self.0.len() - 1
        });
        self.0[i]
            .1
            .downcast_mut()
            .unwrap_or_else(|| unreachable!("type checked above"))
    }

    /// Forget a module's state (request reset).
    pub fn remove(&mut self, module: &str) {
        self.0.retain(|(m, _)| *m != module);
    }
}

/// Set or replace one backend environment variable, keeping its place.
pub fn env_set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => value.clone_into(&mut slot.1),
        None => env.push((key.to_string(), value.to_string())),
    }
}

impl Request {
    /// A request from a parsed head.
    pub fn new(mut head: RequestHead, ctx: &ReqContext) -> Request {
        let mut r = Request::empty(ctx);
        r.set_head(&mut head);
        r
    }

    /// Take the parsed head's values (its strings and headers are swapped
    /// with this request's cleared ones, so both keep their heap blocks).
    pub fn set_head(&mut self, head: &mut RequestHead) {
        use std::mem::swap;
        self.method = std::mem::replace(&mut head.method, Method::Get);
        self.version = head.version;
        swap(&mut self.target_orig, &mut head.target);
        swap(&mut self.target, &mut head.norm_target);
        swap(&mut self.uri.path, &mut head.uri_path);
        match head.query.as_mut() {
            Some(q) => swap(&mut self.uri.query, q),
            None => self.uri.query.clear(),
        }
        match head.host.as_mut() {
            Some(h) => swap(&mut self.uri.authority, h),
            None => self.uri.authority.clear(),
        }
        swap(&mut self.headers, &mut head.headers);
        self.content_length = head.content_length;
        self.chunked = head.chunked;
        self.expect_100 = head.expect_100;
        self.keep_alive = head.keep_alive;
        self.body.expected = if head.chunked {
            None
        } else {
            Some(head.content_length.unwrap_or(0))
        };
        self.body.complete = !head.chunked && head.content_length.unwrap_or(0) == 0;
    }

    /// A request that failed to parse: only enough to send the error.
    pub fn failed(
        status: u16,
        version: Version,
        method: Option<Method>,
        ctx: &ReqContext,
    ) -> Request {
        let mut r = Request::empty(ctx);
        r.set_failed(status, version, method);
        r
    }

    /// A rejected head, keeping what lighttpd parsed before the error (an
    /// error handler sees the target and the earlier header lines).
    pub fn from_head_error(e: crate::http::h1::HeadError, ctx: &ReqContext) -> Request {
        let mut r = Request::empty(ctx);
        r.set_head_error(e);
        r
    }

    /// Mark this (fresh) request as one whose head was rejected, keeping
    /// what was parsed before the error.
    pub fn set_head_error(&mut self, e: crate::http::h1::HeadError) {
        self.set_failed(e.status, e.version, e.method);
        if let Some(p) = e.partial {
            let p = *p;
            self.target_orig = p.target;
            self.uri.authority = p.host.unwrap_or_default();
            self.headers = p.headers;
        }
    }

    /// Mark this (fresh) request as one whose head failed to parse.
    pub fn set_failed(&mut self, status: u16, version: Version, method: Option<Method>) {
        self.version = version;
        if let Some(m) = method {
            self.method = m;
        }
        self.resp.status = status;
        self.keep_alive = false;
        self.parse_error = true;
    }

    pub fn empty(ctx: &ReqContext) -> Request {
        Request {
            method: Method::Get,
            version: Version::Http10,
            target_orig: String::new(),
            target: String::new(),
            headers: Headers::new(),
            uri: Uri {
                scheme: ctx.scheme,
                ..Uri::default()
            },
            physical: Physical::default(),
            server_name: String::new(),
            remote_ip: ctx.remote_ip.clone(),
            remote_port: ctx.remote_port,
            server_socket: ctx.server_socket.clone(),
            server_addr: String::new(),
            content_length: None,
            chunked: false,
            expect_100: false,
            keep_alive: false,
            delay_response: false,
            env: Vec::new(),
            env_ready: false,
            conf: ctx.core.defaults.clone(),
            core: ctx.core.clone(),
            conds: CondCache::new(ctx.cond_tree.clone()),
            resp: Response::default(),
            body: Body {
                complete: true,
                ..Body::default()
            },
            handler_module: None,
            handler: None,
            error_handler: ErrorHandlerState::None,
            error_handler_method: None,
            loops: 0,
            start_secs: ctx.now,
            start_hp: std::time::SystemTime::now(),
            seq: ctx.seq,
            parse_error: false,
            head_sent: false,
            bytes_out: 0,
            resp_head_len: 0,
            aborted: false,
            bytes_in: 0,
            raw_head: None,
            plugin_ctx: PluginCtx::default(),
        }
    }

    /// Back to the state of `Request::empty(ctx)` while keeping heap blocks
    /// (strings, header fields, queues, condition cache) for the next request
    /// of the pool. Handler, module state, files and body chunks are dropped.
    pub fn reset(&mut self, ctx: &ReqContext) {
        let Request {
            method,
            version,
            target_orig,
            target,
            headers,
            uri,
            physical,
            server_name,
            remote_ip,
            remote_port,
            server_socket,
            server_addr,
            content_length,
            chunked,
            expect_100,
            keep_alive,
            delay_response,
            env,
            env_ready,
            conf,
            core,
            conds,
            resp,
            body,
            handler_module,
            handler,
            error_handler,
            error_handler_method,
            loops,
            start_secs,
            start_hp,
            seq,
            parse_error,
            head_sent,
            bytes_out,
            resp_head_len,
            aborted,
            bytes_in,
            raw_head,
            plugin_ctx,
        } = self;
        *method = Method::Get;
        *version = Version::Http10;
        target_orig.clear();
        target.clear();
        headers.clear();
        uri.clear(ctx.scheme);
        physical.clear();
        server_name.clear();
        remote_ip.clone_from(&ctx.remote_ip);
        *remote_port = ctx.remote_port;
        server_socket.clone_from(&ctx.server_socket);
        server_addr.clear();
        *content_length = None;
        *chunked = false;
        *expect_100 = false;
        *keep_alive = false;
        *delay_response = false;
        env.clear();
        *env_ready = false;
        conf.clone_from(&ctx.core.defaults);
        core.clone_from(&ctx.core);
        conds.reset_for(&ctx.cond_tree);
        resp.clear();
        body.clear();
        *handler_module = None;
        *handler = None;
        *error_handler = ErrorHandlerState::None;
        *error_handler_method = None;
        *loops = 0;
        *start_secs = ctx.now;
        // the taker sets the start time (the server's clock reading)
        *start_hp = std::time::UNIX_EPOCH;
        *seq = ctx.seq;
        *parse_error = false;
        *head_sent = false;
        *bytes_out = 0;
        *resp_head_len = 0;
        *aborted = false;
        *bytes_in = 0;
        *raw_head = None;
        plugin_ctx.0.clear();
    }

    /// Resolve a module's scoped config for this request.
    pub fn resolve<C: Patch>(&mut self, scoped: &Scoped<C>) -> C {
        let view = CondView {
            uri: &self.uri,
            headers: &self.headers,
            method: self.method.as_str(),
            remote_ip: &self.remote_ip,
            server_socket: &self.server_socket,
            physical: &self.physical,
        };
        scoped.resolve(&mut self.conds, &view)
    }

    /// Resolve the core config (memoised by the set of matching blocks).
    pub fn resolve_core(&mut self) -> Rc<CoreConf> {
        let core = self.core.clone();
        let mut matched = Vec::new();
        for ctx in core.scoped.contexts() {
            let view = CondView {
                uri: &self.uri,
                headers: &self.headers,
                method: self.method.as_str(),
                remote_ip: &self.remote_ip,
                server_socket: &self.server_socket,
                physical: &self.physical,
            };
            if self.conds.matches(ctx, &view) {
                matched.push(ctx);
            }
        }
        if matched.is_empty() {
            return core.defaults.clone();
        }
        if let Some(c) = core.memo.borrow().get(&matched) {
            return c.clone();
        }
        let resolved = Rc::new(self.resolve(&core.scoped));
        let mut memo = core.memo.borrow_mut();
        if memo.len() >= CoreConfs::MEMO_MAX {
            memo.clear();
        }
        memo.insert(matched, resolved.clone());
        resolved
    }

    /// The url or query changed (rewrite, error handler): re-evaluate the
    /// conditions that look at them.
    pub fn invalidate_uri_conds(&mut self) {
        self.conds.invalidate(&[
            CondField::Url,
            CondField::QueryString,
            CondField::PhysicalPath,
            CondField::PhysicalExistingPath,
        ]);
    }

    /// Is this a HEAD request (no response body)?
    pub fn is_head(&self) -> bool {
        self.method == Method::Head
    }

    /// Set a final status with no handler body (lighttpd
    /// `r->http_status = n; return HANDLER_FINISHED`).
    pub fn finish_with(&mut self, status: u16) -> crate::plugin::Flow {
        self.resp.status = status;
        crate::plugin::Flow::Finished
    }
}

/// The scoped core config with its global value and a memo of resolved
/// values per set of matching condition blocks.
pub struct CoreConfs {
    pub scoped: Scoped<CoreConf>,
    pub defaults: Rc<CoreConf>,
    memo: RefCell<HashMap<Vec<usize>, Rc<CoreConf>>>,
}

impl CoreConfs {
    const MEMO_MAX: usize = 256;

    pub fn new(scoped: Scoped<CoreConf>) -> CoreConfs {
        CoreConfs {
            defaults: Rc::new(scoped.defaults.clone()),
            scoped,
            memo: RefCell::new(HashMap::new()),
        }
    }
}

/// What a connection gives every request it creates.
#[derive(Clone)]
pub struct ReqContext {
    pub scheme: &'static str,
    pub remote_ip: String,
    pub remote_port: Option<u16>,
    pub server_socket: String,
    pub core: Rc<CoreConfs>,
    pub cond_tree: Rc<crate::config::scoped::CondTree>,
    pub now: i64,
    pub seq: u32,
}

/// The request data conditions look at.
struct CondView<'a> {
    uri: &'a Uri,
    headers: &'a Headers,
    method: &'a str,
    remote_ip: &'a str,
    server_socket: &'a str,
    physical: &'a Physical,
}

impl CondInput for CondView<'_> {
    fn value(&self, field: &CondField) -> Option<Cow<'_, str>> {
        Some(match field {
            CondField::ServerSocket => Cow::Borrowed(self.server_socket),
            CondField::Host => Cow::Borrowed(&self.uri.authority),
            CondField::Url => {
                if self.uri.path.is_empty() {
                    return None;
                }
                Cow::Borrowed(&self.uri.path)
            }
            CondField::QueryString => Cow::Borrowed(&self.uri.query),
            CondField::RemoteIp => Cow::Borrowed(self.remote_ip),
            CondField::Scheme => Cow::Borrowed(self.uri.scheme),
            CondField::RequestMethod => Cow::Borrowed(self.method),
            CondField::RequestHeader(name) => {
                let name = crate::config::scoped::header_name(name);
                Cow::Owned(self.headers.get(name).unwrap_or("").to_string())
            }
            CondField::PhysicalPath | CondField::PhysicalExistingPath => {
                if self.physical.path.is_empty() {
                    return None;
                }
                Cow::Borrowed(&self.physical.path)
            }
        })
    }
}
