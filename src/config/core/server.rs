//! [`ServerConf`]: the server- and socket-scope core directives (lighttpd
//! `config_insert_srvconf` and `network_init`, sections 11.1, 11.2, 12),
//! read from the global block only, plus the listeners.

use super::{build_parseopts, ParseOpts, ParseOptsInput};
use crate::config::cond::{CondField, CondOp};
use crate::config::diagnostic::Diagnostic;
use crate::config::tree::{ConfigTree, Context, CtxId};
use crate::config::validate::listen::default_port;
use crate::config::validate::{
    get_array, get_bool, get_int, get_kvany, get_kvstring, get_list, get_short, get_str,
};
use crate::config::value::{Array, Value};

/// Per-listener settings (socket scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketConf {
    pub ssl_engine: bool,
    pub listen_backlog: u32,
    /// Octal mode text for unix sockets (`"0660"`).
    pub socket_perms: Option<String>,
    pub bsd_accept_filter: Option<String>,
    pub defer_accept: bool,
    pub use_ipv6: bool,
    pub set_v6only: bool,
    /// If set, IPV6_V6ONLY = !v4mapped.
    pub v4mapped: Option<bool>,
}

impl Default for SocketConf {
    fn default() -> Self {
        SocketConf {
            ssl_engine: false,
            listen_backlog: 1024,
            socket_perms: None,
            bsd_accept_filter: None,
            defer_accept: false,
            use_ipv6: false,
            set_v6only: true,
            v4mapped: None,
        }
    }
}

/// One listening socket to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The address text as written: `host:port`, `[v6]:port`, `:port`,
    /// `host` alone (then [`ServerConf::port`] applies), a unix path.
    /// Listeners are deduplicated by this text only; resolving to the same
    /// address is left to the socket layer (lighttpd also compares the
    /// resolved addresses).
    pub addr: String,
    /// The `$SERVER["socket"] == ...` block that defines it (None = the
    /// main `server.bind`/`server.port` listener).
    pub ctx: Option<CtxId>,
    pub socket: SocketConf,
}

/// Server-wide settings, from the global block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConf {
    /// The final module list (see `validate::module_list`).
    pub modules: Vec<String>,
    pub compat_module_load: bool,
    pub systemd_socket_activation: bool,
    /// `server.bind`; None = unset / blank.
    pub bind: Option<String>,
    /// `server.port`, defaulted to 80 / 443.
    pub port: u16,
    /// `$SERVER["socket"]` listeners in block order, then the main one.
    pub listeners: Vec<Listener>,
    pub network_backend: Option<String>,
    pub chroot: Option<String>,
    pub username: Option<String>,
    pub groupname: Option<String>,
    pub errorlog_use_syslog: bool,
    pub syslog_facility: String,
    pub core_files: bool,
    pub event_handler: Option<String>,
    pub pid_file: Option<String>,
    pub max_worker: u16,
    /// 0 = min(RLIMIT_NOFILE, 4096).
    pub max_fds: u16,
    /// 0 = max_fds / 3.
    pub max_connections: u16,
    pub max_request_field_size: u32,
    pub chunkqueue_chunk_sz: u32,
    /// 0 = 1048576.
    pub upload_temp_file_size: u32,
    /// Empty = `$TMPDIR` or `/var/tmp`.
    pub upload_dirs: Vec<String>,
    pub parseopts: ParseOpts,
    /// `simple` unless set (`disable`/`none` = no cache).
    pub stat_cache_engine: String,
    pub mimetype_xattr_name: String,
    pub log_request_header_on_error: bool,
    /// `server.feature-flags` as written.
    pub feature_flags: Array,
}

impl Default for ServerConf {
    fn default() -> Self {
        ServerConf {
            modules: Vec::new(),
            compat_module_load: true,
            systemd_socket_activation: false,
            bind: None,
            port: 80,
            listeners: Vec::new(),
            network_backend: None,
            chroot: None,
            username: None,
            groupname: None,
            errorlog_use_syslog: false,
            syslog_facility: "daemon".to_string(),
            core_files: false,
            event_handler: None,
            pid_file: None,
            max_worker: 0,
            max_fds: 0,
            max_connections: 0,
            max_request_field_size: 8192,
            chunkqueue_chunk_sz: 8192,
            upload_temp_file_size: 0,
            upload_dirs: Vec::new(),
            parseopts: ParseOpts::default(),
            stat_cache_engine: "simple".to_string(),
            mimetype_xattr_name: "Content-Type".to_string(),
            log_request_header_on_error: false,
            feature_flags: Array::default(),
        }
    }
}

impl ServerConf {
    /// A boolean feature flag (lighttpd `config_feature_bool`).
    pub fn feature_bool(&self, name: &str, default: bool) -> bool {
        self.feature_flags
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    /// An integer feature flag (lighttpd `config_feature_int`).
    pub fn feature_int(&self, name: &str, default: i32) -> i32 {
        match self.feature_flags.get(name) {
            Some(Value::Int(i)) => *i,
            Some(Value::Str(s)) => s.parse().unwrap_or(default),
            _ => default,
        }
    }

    /// `server.graceful-shutdown-timeout` (feature flag), seconds.
    pub fn graceful_shutdown_timeout(&self) -> i32 {
        self.feature_int("server.graceful-shutdown-timeout", 8)
    }

    /// HTTP/2 enabled (`server.h2proto`, default on).
    pub fn h2proto(&self) -> bool {
        self.feature_bool("server.h2proto", true)
    }

    /// `server.absolute-dir-redirect` (default off).
    pub fn absolute_dir_redirect(&self) -> bool {
        self.feature_bool("server.absolute-dir-redirect", false)
    }
}

/// Reads typed global values, collecting errors with spans.
struct Reader<'a> {
    ctx: &'a Context,
    errors: Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    fn get<T>(&mut self, key: &str, f: impl Fn(&str, &'a Value) -> Result<T, String>) -> Option<T> {
        let d = self.ctx.get(key)?;
        match f(key, &d.value) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.errors.push(Diagnostic::error(msg, Some(d.span)));
                None
            }
        }
    }

    fn string(&mut self, key: &str) -> Option<String> {
        self.get(key, get_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    fn bool(&mut self, key: &str, default: bool) -> bool {
        self.get(key, get_bool).unwrap_or(default)
    }

    fn short(&mut self, key: &str, default: u16) -> u16 {
        self.get(key, get_short).unwrap_or(default)
    }

    fn int(&mut self, key: &str, default: u32) -> u32 {
        self.get(key, get_int).unwrap_or(default)
    }

    /// Socket-scope settings of this context over `base`.
    fn socket(&mut self, base: &SocketConf) -> SocketConf {
        SocketConf {
            ssl_engine: self.bool("ssl.engine", base.ssl_engine),
            listen_backlog: self.int("server.listen-backlog", base.listen_backlog),
            socket_perms: self
                .string("server.socket-perms")
                .or(base.socket_perms.clone()),
            bsd_accept_filter: self
                .string("server.bsd-accept-filter")
                .or(base.bsd_accept_filter.clone()),
            defer_accept: self.bool("server.defer-accept", base.defer_accept),
            use_ipv6: self.bool("server.use-ipv6", base.use_ipv6),
            set_v6only: self.bool("server.set-v6only", base.set_v6only),
            v4mapped: self.get("server.v4mapped", get_bool).or(base.v4mapped),
        }
    }
}

fn read_global(r: &mut Reader) -> ServerConf {
    let d = ServerConf::default();
    ServerConf {
        compat_module_load: r.bool("server.compat-module-load", true),
        systemd_socket_activation: r.bool("server.systemd-socket-activation", false),
        bind: r.string("server.bind"),
        port: r.short("server.port", 0),
        network_backend: r.string("server.network-backend"),
        chroot: r.string("server.chroot"),
        username: r.string("server.username"),
        groupname: r.string("server.groupname"),
        errorlog_use_syslog: r.bool("server.errorlog-use-syslog", false),
        syslog_facility: r
            .string("server.syslog-facility")
            .unwrap_or(d.syslog_facility),
        core_files: r.bool("server.core-files", false),
        event_handler: r.get("server.event-handler", get_str).map(str::to_string),
        pid_file: r.string("server.pid-file"),
        max_worker: match r.short("server.max-worker", 0) {
            1 => 0,
            n => n,
        },
        max_fds: r.short("server.max-fds", 0),
        max_connections: r.short("server.max-connections", 0),
        max_request_field_size: r.int("server.max-request-field-size", 8192),
        chunkqueue_chunk_sz: r.int("server.chunkqueue-chunk-sz", 8192),
        upload_temp_file_size: r.int("server.upload-temp-file-size", 0),
        upload_dirs: r.get("server.upload-dirs", get_list).unwrap_or_default(),
        stat_cache_engine: match r.get("server.stat-cache-engine", get_str) {
            None | Some("") => d.stat_cache_engine,
            Some(s) => s.to_string(),
        },
        mimetype_xattr_name: r
            .string("mimetype.xattr-name")
            .unwrap_or(d.mimetype_xattr_name),
        log_request_header_on_error: r.bool("debug.log-request-header-on-error", false),
        feature_flags: r
            .get("server.feature-flags", get_kvany)
            .cloned()
            .unwrap_or_default(),
        ..d
    }
}

fn read_parseopts(r: &mut Reader) -> ParseOpts {
    let input = ParseOptsInput {
        parseopts: r.get("server.http-parseopts", |k, v| {
            get_kvstring(k, v).and_then(|_| get_array(k, v))
        }),
        header_strict: r.get("server.http-parseopt-header-strict", get_bool),
        host_strict: r.get("server.http-parseopt-host-strict", get_bool),
        host_normalize: r.get("server.http-parseopt-host-normalize", get_bool),
    };
    let (opts, errors) = build_parseopts(&input);
    let span = r.ctx.get("server.http-parseopts").map(|d| d.span);
    r.errors
        .extend(errors.into_iter().map(|m| Diagnostic::error(m, span)));
    opts
}

/// Every listener, in lighttpd's order (section 12.1): `$SERVER["socket"]
/// == ...` blocks at any depth, then `server.bind:port` unless it is
/// already defined, skipped with socket activation and no `server.bind`.
fn listeners(
    tree: &ConfigTree,
    conf: &ServerConf,
    global: &SocketConf,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Listener> {
    let mut out: Vec<Listener> = Vec::new();
    for (id, ctx) in tree.contexts.iter().enumerate() {
        let Some(c) = &ctx.cond else { continue };
        if c.field != CondField::ServerSocket || c.op != CondOp::Eq || ctx.is_else {
            continue;
        }
        if out.iter().any(|l| l.addr == c.value) {
            continue;
        }
        let mut r = Reader {
            ctx,
            errors: Vec::new(),
        };
        let socket = r.socket(global);
        errors.extend(r.errors);
        out.push(Listener {
            addr: c.value.clone(),
            ctx: Some(id),
            socket,
        });
    }
    let bind = conf.bind.clone().unwrap_or_default();
    if bind == "/dev/stdin" || (conf.systemd_socket_activation && conf.bind.is_none()) {
        return out;
    }
    let addr = if bind.starts_with(['/', '\\']) {
        bind
    } else {
        format!("{bind}:{}", conf.port)
    };
    if !out.iter().any(|l| l.addr == addr) {
        out.push(Listener {
            addr,
            ctx: None,
            socket: global.clone(),
        });
    }
    out
}

/// Build the [`ServerConf`] of a tree (modules given by the caller).
pub fn compile_server(
    tree: &ConfigTree,
    modules: Vec<String>,
) -> Result<ServerConf, Vec<Diagnostic>> {
    let mut r = Reader {
        ctx: tree.global(),
        errors: Vec::new(),
    };
    let mut conf = read_global(&mut r);
    conf.parseopts = read_parseopts(&mut r);
    let global_socket = r.socket(&SocketConf::default());
    let mut errors = r.errors;
    conf.port = default_port(tree);
    conf.modules = modules;
    if conf.feature_bool("server.graceful-restart-bg", false) {
        conf.systemd_socket_activation = true;
    }
    conf.listeners = listeners(tree, &conf, &global_socket, &mut errors);
    if errors.is_empty() {
        Ok(conf)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate::testing::{cond, kv, list, s, TreeBuilder};

    fn compile(b: &mut TreeBuilder) -> ServerConf {
        compile_server(&b.build(), Vec::new()).expect("valid")
    }

    #[test]
    fn defaults_match_lighttpd() {
        let c = compile(&mut TreeBuilder::new());
        assert_eq!(c.port, 80);
        assert_eq!(c.max_request_field_size, 8192);
        assert_eq!(c.stat_cache_engine, "simple");
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].addr, ":80");
        assert_eq!(c.listeners[0].socket.listen_backlog, 1024);
        assert_eq!(c.graceful_shutdown_timeout(), 8);
        assert!(c.h2proto() && !c.absolute_dir_redirect());
    }

    #[test]
    fn port_defaults_to_443_with_global_ssl() {
        let mut b = TreeBuilder::new();
        b.set(0, "ssl.engine", s("enable"))
            .set(0, "server.bind", s("127.0.0.1"));
        let c = compile(&mut b);
        assert_eq!(c.port, 443);
        assert_eq!(c.listeners[0].addr, "127.0.0.1:443");
        assert!(c.listeners[0].socket.ssl_engine);
    }

    #[test]
    fn socket_blocks_create_listeners_with_their_settings() {
        let mut b = TreeBuilder::new();
        b.set(0, "server.port", Value::Int(8080))
            .set(0, "server.bind", s("127.0.0.1"))
            .set(0, "server.listen-backlog", Value::Int(64));
        let sock = b.block(
            0,
            cond(CondField::ServerSocket, CondOp::Eq, "127.0.0.1:8443"),
        );
        b.set(sock, "ssl.engine", s("enable"));
        let h = b.block(0, cond(CondField::Host, CondOp::Eq, "x"));
        let nested = b.block(h, cond(CondField::ServerSocket, CondOp::Eq, "[::1]:8081"));
        b.set(nested, "server.use-ipv6", s("enable"));
        b.block(0, cond(CondField::ServerSocket, CondOp::Match, "8082$"));
        let same = b.block(
            0,
            cond(CondField::ServerSocket, CondOp::Eq, "127.0.0.1:8080"),
        );
        b.set(same, "server.defer-accept", s("enable"));
        let c = compile(&mut b);
        let addrs: Vec<&str> = c.listeners.iter().map(|l| l.addr.as_str()).collect();
        assert_eq!(addrs, ["127.0.0.1:8443", "[::1]:8081", "127.0.0.1:8080"]);
        assert!(c.listeners[0].socket.ssl_engine);
        assert_eq!(c.listeners[0].socket.listen_backlog, 64, "inherits global");
        assert!(c.listeners[1].socket.use_ipv6);
        assert!(
            c.listeners[2].socket.defer_accept,
            "bind:port uses the socket block"
        );
    }

    #[test]
    fn socket_activation_without_bind_has_no_main_listener() {
        let mut b = TreeBuilder::new();
        b.set(0, "server.systemd-socket-activation", s("enable"));
        assert!(compile(&mut b).listeners.is_empty());
        let mut b = TreeBuilder::new();
        b.set(0, "server.bind", s("/run/l.sock"));
        assert_eq!(compile(&mut b).listeners[0].addr, "/run/l.sock");
    }

    #[test]
    fn global_values_are_read_and_typed() {
        let mut b = TreeBuilder::new();
        b.set(0, "server.max-worker", Value::Int(1))
            .set(0, "server.upload-dirs", list(&["/tmp"]))
            .set(
                0,
                "server.http-parseopts",
                kv(&[("url-path-2f-decode", "disable")]),
            )
            .set(
                0,
                "server.feature-flags",
                kv(&[("server.graceful-shutdown-timeout", "3")]),
            )
            .set(0, "server.pid-file", s(""));
        let c = compile(&mut b);
        assert_eq!(c.max_worker, 0, "1 worker = single process");
        assert_eq!(c.upload_dirs, ["/tmp"]);
        assert!(!c.parseopts.url_path_2f_decode);
        assert_eq!(c.graceful_shutdown_timeout(), 3);
        assert_eq!(c.pid_file, None);
    }

    #[test]
    fn errors_name_the_directive() {
        let mut b = TreeBuilder::new();
        b.set(0, "server.port", s("http")).set(
            0,
            "server.http-parseopts",
            kv(&[("bogus", "enable")]),
        );
        let errs = compile_server(&b.build(), Vec::new()).expect_err("invalid");
        let m: Vec<&str> = errs.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            m,
            [
                "got a string but expected a short: server.port http",
                "unrecognized key for server.http-parseopts: bogus"
            ]
        );
    }
}
