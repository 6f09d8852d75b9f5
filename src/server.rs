//! The server (lighttpd src/server.c): compile the configuration, bind the
//! listeners, go to the background, drop privileges, then run the mio event
//! loop with a 1 s tick for timeouts — accept, drive connections, react to
//! signals (TERM now, INT graceful, USR1 graceful restart with a re-read
//! config, HUP reopen logs), and `server.max-worker` worker processes.

use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mio::{Events, Interest, Poll, Token};

use crate::chunk::SpillConf;
use crate::cli::ServeOptions;
use crate::config::core::{compile, ServerConf};
use crate::config::diagnostic::Diagnostic;
use crate::config::tree::ConfigTree;
use crate::connection::{BufPool, Conn, Env, State};
use crate::daemon::{self, Identity, Ready};
use crate::log::{self, LogTarget};
use crate::log_error;
use crate::plugin::{registry, Ctx, Hook, Module, Pipeline};
use crate::request::{CoreConfs, ReqContext};
use crate::signals::{SignalEvent, Signals};
use crate::sockets::{self, Listener};

/// Tokens at and above this are listeners.
const LISTENER_BASE: usize = 1 << 31;
/// The signal self-pipe.
const SIGNAL_TOKEN: Token = Token((1 << 31) - 1);
/// Connection ids stay below this (handler slots live above bit 32).
const MAX_CONN_ID: usize = (1 << 30) - 1;

/// How to run, from the command line.
pub struct Settings {
    /// `-D`: stay in the foreground, log to stderr by default.
    pub foreground: bool,
    /// `-i SECS`: stop after this long without connections.
    pub idle_timeout: Option<u64>,
    /// `-m DIR` (for messages about modules that are not built in).
    pub module_dir: String,
    /// Re-read the configuration (SIGUSR1).
    pub reload: Option<Box<dyn Fn() -> Result<ConfigTree, String>>>,
    /// The modules, when the startup checks already constructed them from
    /// the (prepared) tree; constructed anew when None.
    pub modules: Option<Vec<Box<dyn Module>>>,
}

/// The `-f` file's compiled form and the modules built from it.
pub struct Site {
    pub server: ServerConf,
    pub ctx: ReqContext,
    pub pipeline: Pipeline,
    pub spill: SpillConf,
    pub names: Vec<String>,
    /// The TLS listeners' configs (mod_openssl).
    pub tls: crate::tls::TlsListeners,
}

impl Site {
    /// Compile a configuration and construct its modules.
    pub fn build(tree: &ConfigTree, module_dir: &str) -> Result<Site, Vec<Diagnostic>> {
        Site::build_with(tree, module_dir, None)
    }

    /// [`Site::build`], with `modules` (when given) already constructed
    /// from the [`prepare`]d tree, so that nothing is set up twice.
    pub fn build_with(
        tree: &ConfigTree,
        module_dir: &str,
        modules: Option<Vec<Box<dyn Module>>>,
    ) -> Result<Site, Vec<Diagnostic>> {
        let tree = &prepare(tree.clone());
        let compiled = compile(tree)?;
        let modules = match modules {
            Some(m) => m,
            None => registry::load(tree, &compiled.modules, module_dir)?,
        };
        let server = compiled.server;
        let spill = spill_conf(&server);
        let tls = if compiled.modules.iter().any(|m| m == "mod_openssl") {
            crate::tls::TlsListeners::build(tree, &sockets::listen_specs(&server), false)?
        } else {
            crate::tls::TlsListeners::default()
        };
        Ok(Site {
            ctx: ReqContext {
                scheme: "http",
                remote_ip: String::new(),
                remote_port: None,
                server_socket: String::new(),
                core: Rc::new(CoreConfs::new(compiled.core)),
                cond_tree: compiled.conds,
                now: 0,
                seq: 0,
            },
            pipeline: Pipeline::new(modules),
            spill,
            names: compiled.modules,
            server,
            tls,
        })
    }
}

/// What lighttpd's `network_init` does to the configuration before the
/// modules are set up: `$SERVER["socket"]` values become the addresses they
/// resolve to (see [`sockets::resolve_socket_conditions`]).
pub fn prepare(mut tree: ConfigTree) -> ConfigTree {
    let port = crate::config::validate::listen::default_port(&tree);
    sockets::resolve_socket_conditions(&mut tree, port);
    tree
}

fn spill_conf(server: &ServerConf) -> SpillConf {
    let mut spill = SpillConf::default();
    if !server.upload_dirs.is_empty() {
        spill.dirs = server.upload_dirs.iter().map(Into::into).collect();
    }
    if server.upload_temp_file_size > 0 {
        spill.file_limit = u64::from(server.upload_temp_file_size);
    }
    spill
}

/// The `Date` field line of responses made during second `now`.
fn date_line(now: i64) -> String {
    format!("Date: {}\r\n", crate::http::date::http_date_secs(now))
}

fn epoch_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn print_diagnostics(diags: &[Diagnostic], tree: &ConfigTree) {
    for d in diags {
        match d.span {
            Some(span) => log_error!("{}: {}", tree.sources.locate(span), d.message),
            None => log_error!("{}", d.message),
        }
    }
}

/// Serve `tree` as the command line says, with its `modules` if already
/// constructed; returns the process exit code. SIGUSR1 re-reads
/// `opts.config_path`.
pub fn run(tree: ConfigTree, opts: ServeOptions, modules: Option<Vec<Box<dyn Module>>>) -> i32 {
    let path = opts.config_path.clone();
    let reload = move || {
        crate::config::load(&path)
            .map_err(|e| crate::config::lighttpd_stderr(&e).trim().to_string())
    };
    let settings = Settings {
        foreground: opts.foreground,
        idle_timeout: opts.idle_timeout,
        module_dir: opts
            .module_dir
            .unwrap_or_else(|| "/usr/lib/lighttpd".to_string()),
        reload: Some(Box::new(reload)),
        modules,
    };
    if opts.one_shot {
        return serve_stdin(tree, settings);
    }
    serve(tree, settings)
}

/// The modules' files (lighttpd opens them in `set_defaults`); false, with
/// lighttpd's messages logged, when one cannot be opened.
fn open_module_files(site: &mut Site) -> bool {
    match site.pipeline.open_files() {
        Ok(()) => true,
        Err(e) => {
            log_error!("{e}");
            log_error!("Configuration of plugins failed. Going down.");
            false
        }
    }
}

/// `-1`: serve the one connection on stdin (a socket or a pipe), then exit. No
/// listeners, no daemon, no pid file.
pub fn serve_stdin(tree: ConfigTree, mut settings: Settings) -> i32 {
    let modules = settings.modules.take();
    let mut site = match Site::build_with(&tree, &settings.module_dir, modules) {
        Ok(s) => s,
        Err(diags) => {
            print_diagnostics(&diags, &tree);
            return 255;
        }
    };
    if !open_module_files(&mut site) {
        return 255;
    }
    if site.server.max_worker > 0 {
        log_error!(
            "server one-shot command line option disables server.max-worker config file option."
        );
    }
    let conn = match crate::oneshot::stdin_connection(&sockets::listen_specs(&site.server)) {
        Ok(Some(c)) => c,
        Ok(None) => return 0,
        Err(msg) => {
            log_error!("{msg}");
            return 255;
        }
    };
    let mut server = match Server::new(site, Vec::new(), settings) {
        Ok(s) => s,
        Err(e) => {
            log_error!("event loop setup failed: {e}");
            return 255;
        }
    };
    server.one_shot = true;
    server.add_conn(
        conn.stream,
        (conn.remote_ip, conn.remote_port),
        conn.socket_name,
    );
    server.run()
}

/// Serve `tree` until told to stop; returns the process exit code.
pub fn serve(tree: ConfigTree, mut settings: Settings) -> i32 {
    if let Err(e) = crate::signals::catch_early() {
        log_error!("sigaction failed: {e}");
        return 255;
    }
    let modules = settings.modules.take();
    let mut site = match Site::build_with(&tree, &settings.module_dir, modules) {
        Ok(s) => s,
        Err(diags) => {
            print_diagnostics(&diags, &tree);
            return 255;
        }
    };
    if !open_module_files(&mut site) {
        return 255;
    }
    drop(tree); // the parsed config (source text, AST) is not needed any more
    let mut inherited = if site.server.systemd_socket_activation {
        sockets::inherited_from_env()
    } else {
        Vec::new()
    };
    if site.server.bind.as_deref() == Some("/dev/stdin") {
        match sockets::stdin_listener() {
            Ok(l) => inherited.push(l),
            Err(e) => {
                log_error!("{e}");
                return 255;
            }
        }
    }
    let specs = sockets::listen_specs(&site.server);
    let listeners = match sockets::bind_all(&specs, &mut Vec::new(), &mut inherited) {
        Ok(l) => l,
        Err(e) => {
            log_error!("{e}");
            return 255;
        }
    };
    if let Err(e) = open_error_log(&site, settings.foreground) {
        log_error!("opening errorlog failed: {e}");
        return 255;
    }
    let ready = if settings.foreground {
        Ready::none()
    } else {
        match daemon::daemonize() {
            Ok(r) => r,
            Err(e) => {
                log_error!("daemonize failed: {e}");
                return 255;
            }
        }
    };
    let pid_file = site.server.pid_file.clone();
    if let Some(p) = &pid_file {
        if let Err(e) = daemon::write_pid_file(p) {
            log_error!("opening pid-file failed: {p} {e}");
            return 255;
        }
    }
    let id = Identity {
        chroot: site.server.chroot.clone(),
        username: site.server.username.clone(),
        groupname: site.server.groupname.clone(),
    };
    if let Err(e) = daemon::drop_privileges(&id) {
        log_error!("{e}");
        return 255;
    }
    // Once, before any worker is forked (lighttpd logs it in setup).
    log_error!(
        "server started ({})",
        crate::config::core::DEFAULT_SERVER_TAG
    );
    let workers = usize::from(site.server.max_worker);
    if workers > 1 && settings.idle_timeout.is_none() {
        if let Some(code) = supervise_workers(workers) {
            if let Some(p) = &pid_file {
                daemon::remove_pid_file(p);
            }
            ready.done();
            return code;
        }
    }
    let code = match Server::new(site, listeners, settings) {
        Ok(mut server) => {
            ready.done();
            crate::sys::release_startup_memory();
            server.run()
        }
        Err(e) => {
            log_error!("event loop setup failed: {e}");
            255
        }
    };
    if let Some(p) = &pid_file {
        daemon::remove_pid_file(p);
    }
    code
}

/// `server.max-worker`: fork the workers and watch them — signals are
/// passed on, a dead worker is replaced until shutdown. Returns the exit
/// code in the parent, None in a worker (which then serves).
fn supervise_workers(n: usize) -> Option<i32> {
    let mut pids = match daemon::fork_workers(n) {
        Ok(Some(pids)) => pids,
        Ok(None) => return None,
        Err(e) => {
            log_error!("fork failed: {e}");
            return Some(255);
        }
    };
    let Ok(mut poll) = Poll::new() else {
        return Some(255);
    };
    let Ok(mut signals) = Signals::install(poll.registry(), SIGNAL_TOKEN) else {
        return Some(255);
    };
    let mut events = Events::with_capacity(8);
    let mut stopping = false;
    loop {
        let _ = poll.poll(&mut events, Some(Duration::from_secs(1)));
        for ev in signals.drain(true) {
            let sig = match ev {
                SignalEvent::Terminate => Some(nix::sys::signal::Signal::SIGTERM),
                SignalEvent::GracefulShutdown => Some(nix::sys::signal::Signal::SIGINT),
                SignalEvent::GracefulRestart => Some(nix::sys::signal::Signal::SIGUSR1),
                SignalEvent::ReopenLogs => Some(nix::sys::signal::Signal::SIGHUP),
                SignalEvent::Child => None,
            };
            if let Some(sig) = sig {
                stopping |= matches!(ev, SignalEvent::Terminate | SignalEvent::GracefulShutdown);
                daemon::signal_all(&pids, sig);
            }
        }
        for (pid, status) in daemon::reap_children() {
            if !stopping {
                log_error!("worker {pid} ended: {status:?}");
            }
            pids.retain(|p| *p != pid);
        }
        if stopping && pids.is_empty() {
            return Some(0);
        }
        while !stopping && pids.len() < n {
            match daemon::fork_workers(1) {
                Ok(Some(mut more)) => pids.append(&mut more),
                Ok(None) => return None,
                Err(_) => break,
            }
        }
    }
}

/// A wait status as the `status` int of the waitpid hook (exit code, or
/// 128 + signal number).
fn wait_code(status: nix::sys::wait::WaitStatus) -> i32 {
    match status {
        nix::sys::wait::WaitStatus::Exited(_, code) => code,
        nix::sys::wait::WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 0,
    }
}

fn open_error_log(site: &Site, foreground: bool) -> std::io::Result<()> {
    let target = if site.server.errorlog_use_syslog {
        LogTarget::Syslog(site.server.syslog_facility.clone())
    } else {
        match site.ctx.core.defaults.errorlog.as_deref() {
            Some(v) if !v.is_empty() => LogTarget::from_errorlog(v),
            _ if foreground => LogTarget::Stderr,
            _ => LogTarget::File("/dev/null".into()),
        }
    };
    log::open(&target)
}

/// The running server: event loop, listeners, connections.
struct Server {
    poll: Poll,
    site: Site,
    listeners: Vec<Listener>,
    listening: bool,
    conns: Vec<Option<Conn>>,
    free_ids: Vec<usize>,
    live: usize,
    pool: BufPool,
    /// Readiness events since the last tick, and whether any came since
    /// memory was last given back ([`Server::tick`]).
    events_since_tick: u64,
    busy_since_trim: bool,
    /// Connections that yielded while writable ([`Conn::yielded`]): run
    /// again after this round's events, and the next poll does not wait.
    ready: Vec<usize>,
    /// The previous round's `ready`, being run.
    resuming: Vec<usize>,
    signals: Signals,
    /// The signal pipe reported readiness this round.
    signal_ready: bool,
    settings: Settings,
    now: i64,
    /// The clock read once per wakeup (lighttpd reads it once per loop).
    now_hp: SystemTime,
    /// Its milliseconds past the second.
    now_ms: u32,
    /// `Date: <this second>\r\n`, as every response head carries it.
    date_line: String,
    last_activity: i64,
    /// Graceful shutdown started at this time.
    stopping: Option<i64>,
    /// `-1`: exit once the connection on stdin is done.
    one_shot: bool,
    /// `server.kbytes-per-second` counters of this second.
    scopes: crate::throttle::ScopeCounters,
    read_ahead: crate::read_ahead::ReadAhead,
}

impl Server {
    fn new(site: Site, listeners: Vec<Listener>, settings: Settings) -> std::io::Result<Server> {
        crate::stat_cache::configure(&site.server.stat_cache_engine);
        let poll = Poll::new()?;
        let signals = Signals::install(poll.registry(), SIGNAL_TOKEN)?;
        let now_hp = SystemTime::now();
        let now = epoch_secs(now_hp);
        let mut s = Server {
            poll,
            site,
            listeners,
            listening: false,
            conns: Vec::new(),
            free_ids: Vec::new(),
            live: 0,
            pool: BufPool::default(),
            events_since_tick: 0,
            busy_since_trim: false,
            ready: Vec::new(),
            resuming: Vec::new(),
            signals,
            settings,
            now,
            now_hp,
            now_ms: 0,
            date_line: date_line(now),
            last_activity: now,
            stopping: None,
            one_shot: false,
            scopes: Default::default(),
            read_ahead: Default::default(),
            signal_ready: false,
        };
        s.set_listening(true);
        Ok(s)
    }

    fn set_listening(&mut self, on: bool) {
        if on == self.listening {
            return;
        }
        for (i, l) in self.listeners.iter_mut().enumerate() {
            let reg = self.poll.registry();
            let _ = if on {
                reg.register(l.source(), Token(LISTENER_BASE + i), Interest::READABLE)
            } else {
                reg.deregister(l.source())
            };
        }
        self.listening = on;
    }

    fn run(&mut self) -> i32 {
        let mut events = Events::with_capacity(1024);
        loop {
            // until the next second starts (as of this wakeup's clock
            // read), or not at all while yielded connections wait
            let wait = if self.ready.is_empty() {
                Duration::from_millis(1000 - u64::from(self.now_ms.min(999)))
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    log_error!("poll failed: {e}");
                    return 255;
                }
            }
            self.now_hp = SystemTime::now();
            let since_epoch = self.now_hp.duration_since(UNIX_EPOCH).unwrap_or_default();
            self.now_ms = since_epoch.subsec_millis();
            let now = since_epoch.as_secs() as i64;
            if now != self.now {
                self.now = now;
                self.date_line = date_line(now);
                self.tick();
            }
            for ev in events.iter() {
                self.dispatch(ev.token(), ev.is_readable(), ev.is_read_closed());
            }
            self.resume_yielded();
            if let Some(code) = self.handle_signals() {
                return code;
            }
            if let Some(code) = self.should_exit() {
                return code;
            }
        }
    }

    fn dispatch(&mut self, token: Token, readable: bool, peer_closed: bool) {
        self.events_since_tick += 1;
        match token.0 {
            t if t == SIGNAL_TOKEN.0 => self.signal_ready = true,
            t if (LISTENER_BASE..(1 << 32)).contains(&t) => self.accept(t - LISTENER_BASE),
            t => {
                let (id, slot) = (t & 0xFFFF_FFFF, t >> 32);
                self.with_conn(id, |conn, env| {
                    if slot == 0 {
                        conn.on_event(readable, peer_closed, env)
                    } else {
                        conn.on_handler_event(slot, env)
                    }
                });
            }
        }
    }

    /// Run the connections that yielded last round (each once; one that
    /// yields again waits for the next round).
    fn resume_yielded(&mut self) {
        std::mem::swap(&mut self.ready, &mut self.resuming);
        let mut ids = std::mem::take(&mut self.resuming);
        for &id in &ids {
            self.with_conn(id, |conn, env| conn.on_event(false, false, env));
        }
        ids.clear();
        self.resuming = ids;
    }

    /// Run `f` on a connection with its environment; drop it once closed.
    fn with_conn(&mut self, id: usize, f: impl FnOnce(&mut Conn, &mut Env)) {
        let Some(Some(conn)) = self.conns.get_mut(id) else {
            return;
        };
        let mut env = Env {
            registry: self.poll.registry(),
            pipeline: &mut self.site.pipeline,
            server: &self.site.server,
            ctx: &self.site.ctx,
            spill: &self.site.spill,
            pool: &mut self.pool,
            now: self.now,
            now_hp: self.now_hp,
            date_line: &self.date_line,
            stopping: self.stopping.is_some(),
            scopes: &mut self.scopes,
            read_ahead: &mut self.read_ahead,
        };
        f(conn, &mut env);
        if std::mem::take(&mut conn.yielded) && conn.state != State::Closed {
            self.ready.push(id);
        }
        if conn.state == State::Closed {
            let info = conn.info();
            let mut cx = Ctx {
                now: self.now,
                registry: self.poll.registry(),
                token_base: id,
            };
            self.site
                .pipeline
                .run_conn(Hook::ConnectionClose, &info, &mut cx);
            self.conns[id] = None;
            self.free_ids.push(id);
            self.live -= 1;
            self.last_activity = self.now;
            if self.stopping.is_none() && !self.listening {
                self.set_listening(true);
                log_error!("[note] sockets enabled again");
            }
        }
    }

    fn max_connections(&self) -> usize {
        match self.site.server.max_connections as usize {
            0 => 4096 / 3,
            n => n,
        }
    }

    fn accept(&mut self, idx: usize) {
        loop {
            if self.live >= self.max_connections() {
                self.set_listening(false);
                log_error!("[note] sockets disabled, connection limit reached");
                return;
            }
            let Some(l) = self.listeners.get(idx) else {
                return;
            };
            let (stream, ip, port) = match l.accept() {
                Ok(Some(a)) => a,
                Ok(None) => return,
                Err(e) => {
                    if e.raw_os_error() == Some(libc::EMFILE) {
                        log_error!("accept failed: {e}");
                    }
                    return;
                }
            };
            let name = l.name.clone();
            let Some(stream) = self.wrap_tls(stream, l.spec.ctx) else {
                continue;
            };
            self.add_conn(stream, (ip, port), name);
        }
    }

    /// A TLS listener's connection starts its handshake (mod_openssl).
    fn wrap_tls(
        &self,
        stream: sockets::Stream,
        ctx: Option<crate::config::tree::CtxId>,
    ) -> Option<sockets::Stream> {
        let Some(tls) = self.site.tls.config_for(ctx) else {
            return Some(stream);
        };
        match stream {
            sockets::Stream::Tcp(tcp) => {
                let _ = tcp.set_nodelay(true);
                let tls = crate::tls::TlsStream::new(tcp, tls.config, tls.env).ok()?;
                Some(sockets::Stream::Tls(Box::new(tls)))
            }
            // TLS over a unix socket is not implemented: never serve such
            // a listener in clear text
            _ => None,
        }
    }

    fn add_conn(
        &mut self,
        stream: sockets::Stream,
        peer: (String, Option<u16>),
        socket_name: String,
    ) {
        let id = match self.free_ids.pop() {
            Some(id) => id,
            None if self.conns.len() < MAX_CONN_ID => {
                self.conns.push(None);
                self.conns.len() - 1
            }
            None => return,
        };
        // TCP_NODELAY as lighttpd (set on its listening sockets, inherited):
        // a response's last partial segment leaves without waiting for the
        // client's ACK (the head before a file body goes with MSG_MORE).
        if let sockets::Stream::Tcp(s) = &stream {
            let _ = s.set_nodelay(true);
        }
        let mut conn = Conn::new(id, stream, self.now);
        conn.set_peer(peer.0, peer.1, socket_name);
        conn.set_timeouts(&self.site.ctx.core.defaults);
        if conn.register(self.poll.registry()).is_err() {
            self.free_ids.push(id);
            return;
        }
        let info = conn.info();
        self.conns[id] = Some(conn);
        self.live += 1;
        self.last_activity = self.now;
        let mut cx = Ctx {
            now: self.now,
            registry: self.poll.registry(),
            token_base: id,
        };
        let flow = self
            .site
            .pipeline
            .run_conn(Hook::ConnectionAccept, &info, &mut cx);
        if flow != crate::plugin::Flow::GoOn {
            self.with_conn(id, |conn, env| conn.close(env));
        } else {
            self.with_conn(id, |conn, env| conn.try_tunnel(env));
        }
    }

    /// Once a second: connection timeouts and the modules' trigger hooks;
    /// the first quiet second after a busy one gives pooled buffers and the
    /// heap's free pages back (an idle server holds what it needs at rest).
    fn tick(&mut self) {
        let quiet = self.events_since_tick == 0;
        if quiet && self.busy_since_trim {
            self.pool.release_free();
            crate::sys::trim_heap();
        }
        self.busy_since_trim = !quiet;
        self.events_since_tick = 0;
        crate::stat_cache::tick();
        self.scopes.reset();
        for id in 0..self.conns.len() {
            self.with_conn(id, |conn, env| conn.check_timeout(env));
        }
        self.shrink_conn_table();
        let mut cx = Ctx {
            now: self.now,
            registry: self.poll.registry(),
            token_base: 0,
        };
        self.site.pipeline.run_server(Hook::Trigger, &mut cx, 0, 0);
        for (pid, status) in daemon::reap_children() {
            let code = wait_code(status);
            self.site
                .pipeline
                .run_server(Hook::Waitpid, &mut cx, pid.as_raw(), code);
        }
    }

    /// After a burst of connections: drop the free slots at the end of the
    /// connection table and give its memory back; free ids are handed out
    /// lowest first so the live ones gather at the front.
    fn shrink_conn_table(&mut self) {
        while self.conns.last().is_some_and(Option::is_none) {
            self.conns.pop();
        }
        let len = self.conns.len();
        self.free_ids.retain(|&id| id < len);
        self.free_ids.sort_unstable_by(|a, b| b.cmp(a));
        if self.conns.capacity() > 2 * len + 64 {
            self.conns.shrink_to(len + 64);
            self.free_ids.shrink_to(len);
        }
    }

    fn handle_signals(&mut self) -> Option<i32> {
        let pipe_ready = std::mem::take(&mut self.signal_ready);
        for ev in self.signals.drain(pipe_ready) {
            match ev {
                SignalEvent::Terminate => return Some(self.stopped(0)),
                SignalEvent::GracefulShutdown => {
                    if self.stopping.is_some() {
                        return Some(self.stopped(0));
                    }
                    log_error!("[note] graceful shutdown started");
                    self.begin_shutdown();
                }
                SignalEvent::GracefulRestart => self.restart(),
                SignalEvent::ReopenLogs => {
                    if let Err(e) = log::reopen() {
                        log_error!("reopening errorlog failed: {e}");
                    }
                    log_error!("{}", crate::signals::logs_cycled_message());
                    let mut cx = Ctx {
                        now: self.now,
                        registry: self.poll.registry(),
                        token_base: 0,
                    };
                    self.site.pipeline.run_server(Hook::Sighup, &mut cx, 0, 0);
                }
                SignalEvent::Child => {
                    let mut cx = Ctx {
                        now: self.now,
                        registry: self.poll.registry(),
                        token_base: 0,
                    };
                    for (pid, status) in daemon::reap_children() {
                        let code = wait_code(status);
                        self.site
                            .pipeline
                            .run_server(Hook::Waitpid, &mut cx, pid.as_raw(), code);
                    }
                }
            }
        }
        None
    }

    /// Exit with `code`, logging lighttpd's "server stopped by …" (not
    /// for `-1`).
    fn stopped(&self, code: i32) -> i32 {
        if !self.one_shot {
            log_error!("{}", crate::signals::stopped_by_message());
        }
        code
    }

    fn begin_shutdown(&mut self) {
        self.set_listening(false);
        self.listeners.clear();
        self.stopping = Some(self.now);
        for id in 0..self.conns.len() {
            self.with_conn(id, |conn, env| {
                if conn.is_idle() {
                    conn.close(env);
                } else {
                    conn.lift_limits(env);
                }
            });
        }
    }

    /// SIGUSR1: re-read the config; keep serving with the old one if the
    /// new one does not load. Listeners with unchanged addresses are kept.
    fn restart(&mut self) {
        let Some(reload) = &self.settings.reload else {
            return;
        };
        let tree = match reload() {
            Ok(t) => t,
            Err(e) => {
                log_error!("graceful restart: config not reloaded, keeping the old one: {e}");
                return;
            }
        };
        let mut site = match Site::build(&tree, &self.settings.module_dir) {
            Ok(s) => s,
            Err(diags) => {
                print_diagnostics(&diags, &tree);
                log_error!("graceful restart: config not reloaded, keeping the old one");
                return;
            }
        };
        if !open_module_files(&mut site) {
            log_error!("graceful restart: config not reloaded, keeping the old one");
            return;
        }
        drop(tree);
        let was_listening = self.listening;
        self.set_listening(false);
        let specs = sockets::listen_specs(&site.server);
        let mut old = std::mem::take(&mut self.listeners);
        match sockets::bind_all(&specs, &mut old, &mut Vec::new()) {
            Ok(l) => {
                self.listeners = l;
                crate::stat_cache::configure(&site.server.stat_cache_engine);
                self.site = site;
                // lighttpd restarts its whole main loop and says so.
                log_error!("[note] graceful shutdown started");
                log_error!("{}", crate::signals::stopped_by_message());
                log_error!(
                    "server started ({})",
                    crate::config::core::DEFAULT_SERVER_TAG
                );
                crate::sys::release_startup_memory();
            }
            Err(e) => {
                log_error!("graceful restart: {e}; keeping the old configuration");
                self.listeners = old;
            }
        }
        if was_listening || self.stopping.is_none() {
            self.set_listening(true);
        }
    }

    fn should_exit(&mut self) -> Option<i32> {
        if self.one_shot && self.live == 0 {
            return Some(0);
        }
        if let Some(since) = self.stopping {
            let limit = i64::from(self.site.server.graceful_shutdown_timeout().max(0));
            let busy = self.conns.iter().flatten().any(|c| c.is_busy());
            if !busy || (limit > 0 && self.now - since >= limit) {
                return Some(self.stopped(0));
            }
        }
        if let Some(idle) = self.settings.idle_timeout {
            if self.live == 0 && self.now - self.last_activity >= idle as i64 {
                log_error!("server stopped after idle timeout");
                return Some(0);
            }
        }
        None
    }
}
