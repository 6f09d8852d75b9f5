//! The module system (lighttpd src/plugin.c): the [`Module`] trait with one
//! default no-op method per hook, [`Flow`] (lighttpd's handler results), the
//! [`Handler`] trait for the object that produces one request's response,
//! and the [`Pipeline`] that calls hooks in `server.modules` order.
//!
//! # Writing a module
//!
//! 1. Create `src/modules/<name>.rs` (name without `mod_`) with a struct
//!    holding its compiled config (typically `Scoped<MyConf>` built with
//!    [`Scoped::build`](crate::config::scoped::Scoped::build)).
//! 2. `impl Module`: return the hooks you implement from [`Module::hooks`]
//!    (the pipeline calls only those) and override those methods. Resolve
//!    your config for a request with [`Request::resolve`].
//! 3. Add one line to [`registry::BUILTIN`]: `("mod_x", modules::x::new)`.
//!
//! Hook results: `GoOn` = not mine, next module; `Finished` = the request is
//! decided (status set, or a handler/body prepared); `Comeback` = restart the
//! request (after changing `r.target`); `WaitForEvent` = come back to this
//! hook later; `Error` = close the connection without a response.

pub mod live;
pub mod registry;
pub mod stats;

use crate::request::Request;

/// lighttpd's `handler_t`: what a hook or handler tells the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Not mine / continue with the next module.
    GoOn,
    /// The request is decided; go to the response.
    Finished,
    /// Waiting for I/O; call again later.
    WaitForEvent,
    /// Restart request processing with the (changed) target.
    Comeback,
    /// Fatal: close the connection without sending anything.
    Error,
}

/// The hooks a module can implement (lighttpd `PLUGIN_FUNC_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    UriRaw,
    UriClean,
    Docroot,
    Physical,
    SubrequestStart,
    ResponseStart,
    RequestEnv,
    RequestDone,
    RequestReset,
    ConnectionAccept,
    ConnectionClose,
    Trigger,
    Sighup,
    Waitpid,
    ConnectionPreamble,
    /// A module takes a new connection as a raw byte tunnel (mod_sockproxy).
    ConnectionTunnel,
}

const HOOK_COUNT: usize = 16;

impl Hook {
    fn index(self) -> usize {
        self as usize
    }

    /// Hooks run in reverse module order (lighttpd: reset and close).
    fn reversed(self) -> bool {
        matches!(self, Hook::RequestReset | Hook::ConnectionClose)
    }
}

/// What hooks see besides the request: the clock and the event loop (for
/// handlers registering their own fds).
pub struct Ctx<'a> {
    /// Current Unix time in seconds (the loop's cached clock).
    pub now: i64,
    /// The event loop's registry (for backend sockets and pipes).
    pub registry: &'a mio::Registry,
    /// Base of the tokens a handler may use for its fds: register with
    /// `Token(cx.token_base | slot << 32)` (slot 1..); events on them come
    /// back through [`Handler::on_event`].
    pub token_base: usize,
}

/// A connection as seen by accept/close hooks.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub id: usize,
    pub remote_ip: String,
    /// `$SERVER["socket"]` token of the listener.
    pub server_socket: String,
}

/// What a [`Module::connection_preamble`] hook decided about the bytes a
/// connection starts with (e.g. a HAProxy PROXY header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preamble {
    /// Not for this module (the next one is asked).
    NotMine,
    /// Mine, but incomplete: call again with more bytes.
    NeedMore,
    /// Mine: drop `len` bytes; the client address is replaced if given.
    Consumed {
        len: usize,
        remote_ip: Option<String>,
        remote_port: Option<u16>,
    },
    /// Mine and invalid: close the connection.
    Reject,
}

/// A module (lighttpd `plugin`): every hook has a default that does nothing
/// and returns `GoOn`; the pipeline calls only the hooks in [`Module::hooks`].
#[allow(unused_variables)]
pub trait Module {
    /// `mod_xxx`, as in `server.modules`.
    fn name(&self) -> &'static str;

    /// The hooks this module implements (decides lighttpd's uri-slot order:
    /// every `UriRaw` hook runs before every `UriClean` hook).
    fn hooks(&self) -> &'static [Hook];

    /// Raw request target, before any `uri_clean` hook (mod_rewrite).
    fn uri_raw(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// Normalised uri (redirect, access, auth, setenv, proxy...).
    fn uri_clean(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// Choose `r.physical.doc_root` (vhost modules).
    fn docroot(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// Adjust `r.physical.path` (alias, userdir).
    fn physical(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// After the existence check: take the request (set `r.handler` or fill
    /// the response and return `Finished`), or `GoOn`.
    fn subrequest_start(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// Before the response head is serialised (expire, setenv, deflate).
    fn response_start(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// Add backend environment variables to `r.env`; run once per request,
    /// right before the selected handler is first called.
    fn request_env(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// After the response (logging).
    fn request_done(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// Before the next request on the connection / an error-handler restart.
    fn request_reset(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// Right after accept(); anything but `GoOn` closes the connection.
    fn connection_accept(&mut self, conn: &ConnInfo, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// The first bytes of a connection, before the first request head is
    /// parsed (PROXY protocol). Called until every module answered
    /// `NotMine` or one consumed or rejected.
    fn connection_preamble(&mut self, conn: &ConnInfo, input: &[u8], cx: &mut Ctx) -> Preamble {
        Preamble::NotMine
    }
    /// Before close().
    /// A connection was accepted: set `r.handler` to take its bytes as a
    /// two-way tunnel from the first byte (`r` carries only the
    /// connection's remote address and listener; no HTTP is parsed).
    fn connection_tunnel(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }

    fn connection_close(&mut self, conn: &ConnInfo, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// Once per second.
    fn trigger(&mut self, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// SIGHUP (reopen your log files).
    fn sighup(&mut self, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// A child process was reaped; `GoOn` if it is not yours.
    fn waitpid(&mut self, pid: i32, status: i32, cx: &mut Ctx) -> Flow {
        Flow::GoOn
    }
    /// The server is about to serve (still privileged; not for `-t`/`-tt`):
    /// open the files lighttpd opens in `set_defaults` (mod_accesslog's
    /// logs). An error stops the start.
    fn open_files(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// The object producing one request's response once a module took the
/// request (lighttpd `handle_subrequest`). Static files need none: their
/// module fills `r.resp` and returns `Finished` directly.
#[allow(unused_variables)]
pub trait Handler {
    /// Make progress: start, read the request body (`r.body`, after setting
    /// `r.want_body`), fill `r.resp`. Return `Finished` when the response is
    /// complete, `WaitForEvent` while waiting for your fds or the body,
    /// `Comeback` to restart (local redirect), `Error` to abort.
    fn handle(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow;

    /// One of your fds (registered with a token from [`Ctx::token_base`]) is
    /// ready. Default: call [`Handler::handle`].
    fn on_event(&mut self, r: &mut Request, cx: &mut Ctx, slot: usize) -> Flow {
        self.handle(r, cx)
    }

    /// Once a second while the request is handled (backend timeouts).
    /// Anything but `WaitForEvent` makes the connection call
    /// [`Handler::handle`] again.
    fn tick(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        Flow::WaitForEvent
    }

    /// The request is over (finished, aborted, or restarted): deregister
    /// and close your fds.
    fn reset(&mut self, cx: &mut Ctx) {}
}

/// Loaded modules and, per hook, the indexes of the modules implementing it.
pub struct Pipeline {
    modules: Vec<Box<dyn Module>>,
    lists: [Vec<usize>; HOOK_COUNT],
}

impl Pipeline {
    /// Build the per-hook lists from the final module order. The uri slot
    /// follows lighttpd: all `UriRaw` modules, then the `UriClean` modules
    /// that have no `UriRaw` hook.
    pub fn new(modules: Vec<Box<dyn Module>>) -> Pipeline {
        let mut lists: [Vec<usize>; HOOK_COUNT] = Default::default();
        for (i, m) in modules.iter().enumerate() {
            for &h in m.hooks() {
                if !lists[h.index()].contains(&i) {
                    lists[h.index()].push(i);
                }
            }
        }
        let raw = lists[Hook::UriRaw.index()].clone();
        lists[Hook::UriClean.index()].retain(|i| !raw.contains(i));
        Pipeline { modules, lists }
    }

    /// [`Module::open_files`] of every module, in order; the first error.
    pub fn open_files(&mut self) -> Result<(), String> {
        self.modules.iter_mut().try_for_each(|m| m.open_files())
    }

    /// Names of the loaded modules, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.modules.iter().map(|m| m.name()).collect()
    }

    /// Run a request hook: modules in order (reverse for reset) until one
    /// returns anything but `GoOn`. The uri slot is `UriRaw` then `UriClean`.
    pub fn run(&mut self, hook: Hook, r: &mut Request, cx: &mut Ctx) -> Flow {
        if hook == Hook::UriClean {
            let flow = self.run_list(Hook::UriRaw, r, cx);
            if flow != Flow::GoOn {
                return flow;
            }
        }
        self.run_list(hook, r, cx)
    }

    fn run_list(&mut self, hook: Hook, r: &mut Request, cx: &mut Ctx) -> Flow {
        let n = self.lists[hook.index()].len();
        for k in 0..n {
            let k = if hook.reversed() { n - 1 - k } else { k };
            let i = self.lists[hook.index()][k];
            let m = &mut self.modules[i];
            let flow = match hook {
                Hook::UriRaw => m.uri_raw(r, cx),
                Hook::UriClean => m.uri_clean(r, cx),
                Hook::Docroot => m.docroot(r, cx),
                Hook::Physical => m.physical(r, cx),
                Hook::SubrequestStart => m.subrequest_start(r, cx),
                Hook::ResponseStart => m.response_start(r, cx),
                Hook::RequestEnv => m.request_env(r, cx),
                Hook::RequestDone => m.request_done(r, cx),
                Hook::RequestReset => m.request_reset(r, cx),
                _ => Flow::GoOn,
            };
            // request_env runs every module; the others stop at non-GoOn.
            if flow != Flow::GoOn && hook != Hook::RequestEnv {
                return flow;
            }
        }
        Flow::GoOn
    }

    /// Does any module implement `hook`?
    pub fn has(&self, hook: Hook) -> bool {
        !self.lists[hook.index()].is_empty()
    }

    /// Ask the preamble hooks about a connection's first bytes.
    pub fn run_preamble(&mut self, conn: &ConnInfo, input: &[u8], cx: &mut Ctx) -> Preamble {
        for k in 0..self.lists[Hook::ConnectionPreamble.index()].len() {
            let i = self.lists[Hook::ConnectionPreamble.index()][k];
            let answer = self.modules[i].connection_preamble(conn, input, cx);
            if answer != Preamble::NotMine {
                return answer;
            }
        }
        Preamble::NotMine
    }

    /// Ask the tunnel hooks whether a module takes a new connection; true
    /// when one set `r.handler`.
    pub fn run_tunnel(&mut self, r: &mut Request, cx: &mut Ctx) -> bool {
        for k in 0..self.lists[Hook::ConnectionTunnel.index()].len() {
            let i = self.lists[Hook::ConnectionTunnel.index()][k];
            self.modules[i].connection_tunnel(r, cx);
            if r.handler.is_some() {
                return true;
            }
        }
        false
    }

    /// Connection hooks (accept stops at the first non-GoOn; close runs all,
    /// in reverse order).
    pub fn run_conn(&mut self, hook: Hook, conn: &ConnInfo, cx: &mut Ctx) -> Flow {
        let list = self.lists[hook.index()].clone();
        let order: Vec<usize> = if hook.reversed() {
            list.into_iter().rev().collect()
        } else {
            list
        };
        for i in order {
            let m = &mut self.modules[i];
            let flow = match hook {
                Hook::ConnectionAccept => m.connection_accept(conn, cx),
                Hook::ConnectionClose => m.connection_close(conn, cx),
                _ => Flow::GoOn,
            };
            if flow != Flow::GoOn && hook == Hook::ConnectionAccept {
                return flow;
            }
        }
        Flow::GoOn
    }

    /// Server-wide hooks: trigger and sighup call every module; waitpid
    /// stops at the module that owned the child.
    pub fn run_server(&mut self, hook: Hook, cx: &mut Ctx, pid: i32, status: i32) -> Flow {
        for k in 0..self.lists[hook.index()].len() {
            let i = self.lists[hook.index()][k];
            let m = &mut self.modules[i];
            match hook {
                Hook::Trigger => {
                    m.trigger(cx);
                }
                Hook::Sighup => {
                    m.sighup(cx);
                }
                Hook::Waitpid => {
                    let flow = m.waitpid(pid, status, cx);
                    if flow != Flow::GoOn {
                        return flow;
                    }
                }
                _ => {}
            }
        }
        Flow::GoOn
    }
}

#[cfg(test)]
pub(crate) mod tests;
