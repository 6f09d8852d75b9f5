//! `fastcgi.server` / `scgi.server` / `proxy.server` arrays (lighttpd
//! src/gw_backend.c `gw_set_defaults_backend`): every per-host key of
//! lighttpd 1.4.69 with its default, the host/port/socket rules, bin-path
//! argv splitting, and the extension table (authorizer and responder lists,
//! in config order). Also `<m>.balance`.

use std::rc::Rc;

use super::host::Host;
use crate::config::validate::{
    get_array, get_bool, get_int, get_kvstring, get_list, get_short, get_str,
};
use crate::config::value::{Array, Value};

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Responder,
    Authorizer,
}

/// `<m>.balance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    /// `fair` / `least-connection` (default).
    #[default]
    LeastConnection,
    RoundRobin,
    Hash,
    Sticky,
}

/// lighttpd `gw_get_defaults_balance`: unknown values warn and fall back.
pub fn parse_balance(v: &str) -> Balance {
    match v {
        "" | "fair" | "least-connection" => Balance::LeastConnection,
        "round-robin" => Balance::RoundRobin,
        "hash" => Balance::Hash,
        "sticky" => Balance::Sticky,
        other => {
            crate::log_error!(
                "xxxxx.balance has to be one of: least-connection, round-robin, hash, sticky, but not: {other}"
            );
            Balance::LeastConnection
        }
    }
}

/// One backend host block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConf {
    /// The backend label (`"label" => ( ... )`), "" when unlabelled.
    pub label: String,
    /// IP address or name (TCP); None for unix sockets.
    pub host: Option<String>,
    pub port: u16,
    pub socket: Option<String>,
    pub bin_path: Option<String>,
    /// argv of bin-path (SCGI: `/bin/sh -c "exec <bin-path>"`).
    pub argv: Vec<String>,
    pub bin_environment: Vec<(String, String)>,
    pub bin_copy_environment: Vec<String>,
    pub min_procs: u16,
    pub max_procs: u16,
    pub max_load_per_proc: u16,
    pub idle_timeout: u16,
    pub disable_time: u16,
    pub kill_signal: u16,
    pub listen_backlog: u32,
    pub check_local: bool,
    pub mode: Mode,
    pub docroot: Option<String>,
    /// Without its trailing '/'.
    pub strip_request_uri: Option<String>,
    pub fix_root_scriptname: bool,
    pub broken_scriptfilename: bool,
    pub xsendfile_allow: bool,
    /// Simplified, each ending in '/'.
    pub xsendfile_docroot: Vec<String>,
    pub tcp_fin_propagate: bool,
    pub connect_timeout: u32,
    pub write_timeout: u32,
    pub read_timeout: u32,
}

impl Default for HostConf {
    fn default() -> HostConf {
        HostConf {
            label: String::new(),
            host: None,
            port: 0,
            socket: None,
            bin_path: None,
            argv: Vec::new(),
            bin_environment: Vec::new(),
            bin_copy_environment: Vec::new(),
            min_procs: 4,
            max_procs: 4,
            max_load_per_proc: 1,
            idle_timeout: 60,
            disable_time: 1,
            kill_signal: libc::SIGTERM as u16,
            listen_backlog: 1024,
            check_local: true,
            mode: Mode::Responder,
            docroot: None,
            strip_request_uri: None,
            fix_root_scriptname: false,
            broken_scriptfilename: false,
            xsendfile_allow: false,
            xsendfile_docroot: Vec::new(),
            tcp_fin_propagate: false,
            connect_timeout: 8,
            write_timeout: 0,
            read_timeout: 0,
        }
    }
}

/// One extension (or `/prefix`) key with its hosts.
#[derive(Debug)]
pub struct Extension {
    pub key: String,
    pub hosts: Vec<Rc<Host>>,
    /// Round-robin position.
    pub last_used: std::cell::Cell<i64>,
    /// "all handlers ... are down" was logged.
    pub note_sent: std::cell::Cell<bool>,
}

/// The compiled `<m>.server` value of one config context.
#[derive(Debug, Default)]
pub struct Exts {
    pub auth: Vec<Rc<Extension>>,
    pub resp: Vec<Rc<Extension>>,
}

impl Exts {
    /// Every host (authorizers and responders).
    pub fn hosts(&self) -> impl Iterator<Item = &Rc<Host>> {
        self.auth
            .iter()
            .chain(&self.resp)
            .flat_map(|e| e.hosts.iter())
    }
}

/// What differs between the three modules when reading the array.
#[derive(Debug, Clone, Copy)]
pub struct ServerKind {
    /// `fastcgi.server` etc., for messages.
    pub key: &'static str,
    /// SCGI runs bin-path through `/bin/sh -c "exec ..."`.
    pub sh_exec: bool,
    /// mod_proxy: check-local forced off, authorizers refused.
    pub proxy: bool,
}

const HOST_KEYS: &[&str] = &[
    "host",
    "port",
    "socket",
    "listen-backlog",
    "bin-path",
    "kill-signal",
    "check-local",
    "mode",
    "docroot",
    "min-procs",
    "max-procs",
    "max-load-per-proc",
    "idle-timeout",
    "disable-time",
    "bin-environment",
    "bin-copy-environment",
    "broken-scriptfilename",
    "strip-request-uri",
    "fix-root-scriptname",
    "allow-x-send-file",
    "x-sendfile",
    "x-sendfile-docroot",
    "tcp-fin-propagate",
    "connect-timeout",
    "write-timeout",
    "read-timeout",
];

/// Parse a whole `<m>.server` value. `known` holds hosts built from other
/// contexts (a spawned unix socket is shared, as lighttpd does).
pub fn parse_server(
    kind: ServerKind,
    value: &Value,
    known: &mut Vec<Rc<Host>>,
) -> Result<Exts, String> {
    let arr = value
        .as_array()
        .ok_or_else(|| format!("{} should have been an array", kind.key))?;
    let mut exts = Exts::default();
    for (ext_key, hosts) in &arr.items {
        let ext_key = ext_key.clone().unwrap_or_default();
        let Value::Array(hosts) = hosts else {
            return Err(unexpected(&ext_key));
        };
        for (label, block) in &hosts.items {
            let label = label.clone().unwrap_or_default();
            let Value::Array(block) = block else {
                return Err(unexpected(&label));
            };
            if block.items.iter().any(|(k, _)| k.is_none()) {
                return Err(unexpected(&label));
            }
            let mut conf = parse_host(kind, block, &ext_key, &label)?;
            if kind.proxy {
                if conf.mode == Mode::Authorizer {
                    return Err(format!(
                        "{} must not define any hosts with attribute \"mode\" = \"authorizer\"",
                        kind.key
                    ));
                }
                conf.check_local = false;
            }
            let host = shared_host(conf, known)?;
            let list = match host.conf.mode {
                Mode::Authorizer => &mut exts.auth,
                Mode::Responder => &mut exts.resp,
            };
            insert(list, &ext_key, host);
        }
    }
    Ok(exts)
}

fn unexpected(near: &str) -> String {
    format!(
        "unexpected value for gw.server near [{near}](string); expected ( \"ext\" => ( \"backend-label\" => ( \"key\" => \"value\" )))"
    )
}

fn insert(list: &mut Vec<Rc<Extension>>, key: &str, host: Rc<Host>) {
    if let Some(e) = list.iter_mut().find(|e| e.key == key) {
        if let Some(e) = Rc::get_mut(e) {
            e.hosts.push(host);
        }
        return;
    }
    list.push(Rc::new(Extension {
        key: key.to_string(),
        hosts: vec![host],
        last_used: std::cell::Cell::new(-1),
        note_sent: std::cell::Cell::new(false),
    }));
}

/// A spawned unix socket named twice is one host (same bin-path) or an error.
fn shared_host(conf: HostConf, known: &mut Vec<Rc<Host>>) -> Result<Rc<Host>, String> {
    if let (Some(sock), Some(bin)) = (&conf.socket, &conf.bin_path) {
        let dup = known
            .iter()
            .find(|h| h.conf.socket.as_ref() == Some(sock) && h.conf.bin_path.is_some());
        if let Some(h) = dup {
            if h.conf.bin_path.as_ref() != Some(bin) {
                return Err(format!("duplicate unixsocket path: {sock}"));
            }
            return Ok(h.clone());
        }
    }
    let host = Rc::new(Host::new(conf));
    known.push(host.clone());
    Ok(host)
}

/// One host block.
fn parse_host(kind: ServerKind, block: &Array, ext: &str, label: &str) -> Result<HostConf, String> {
    let mut c = HostConf {
        label: label.to_string(),
        ..HostConf::default()
    };
    for (key, v) in &block.items {
        let key = key.as_deref().unwrap_or("");
        if key.contains('_') {
            crate::log_error!(
                "incorrect directive contains underscore ('_') instead of dash ('-'): {key}"
            );
        }
        let lower = key.to_ascii_lowercase();
        if HOST_KEYS.contains(&lower.as_str()) {
            set_key(&mut c, &lower, v)?;
        }
    }
    // an unlabelled block has no key: lighttpd prints its NULL as "(null)"
    let shown = if label.is_empty() { "(null)" } else { label };
    let place = format!("{} = ({ext} => ({shown} ( ...", kind.key);
    if (c.host.is_some() || c.port != 0) && c.socket.is_some() {
        return Err(format!(
            "either host/port or socket have to be set in: {place}"
        ));
    }
    if c.socket.is_none() && c.host.as_deref().is_some_and(|h| h.starts_with('/')) {
        c.socket = c.host.take();
    }
    if let Some(sock) = &c.socket {
        if sock.len() + 1 > 108 - 2 {
            return Err(format!("unixsocket is too long in: {place}"));
        }
    } else {
        if c.host.is_none() && c.bin_path.is_none() {
            return Err(format!("host or bin-path have to be set in: {place}"));
        }
        if c.port == 0 {
            c.port = 80;
        }
        c.host.get_or_insert_with(|| "127.0.0.1".to_string());
    }
    match &c.bin_path {
        Some(bin) => {
            c.argv = if kind.sh_exec {
                vec!["/bin/sh".into(), "-c".into(), format!("exec {bin}")]
            } else {
                split_bin_path(bin)
            };
            // (the program itself, also when SCGI runs it through /bin/sh)
            let program = split_bin_path(bin).swap_remove(0);
            check_executable(bin, &program);
            c.min_procs = c.min_procs.min(c.max_procs);
        }
        None => {
            c.min_procs = 1;
            c.max_procs = 1;
        }
    }
    if c.socket.is_none() {
        check_resolvable(c.host.as_deref().unwrap_or(""), c.port)?;
    }
    Ok(c)
}

/// lighttpd resolves a backend's host name while setting the module up
/// (`gw_proc_sockaddr_init`): a name that does not resolve is an error.
fn check_resolvable(host: &str, port: u16) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    match (bare, port).to_socket_addrs().map(|mut found| found.next()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(format!("getaddrinfo failed: no address '{host}'")),
        Err(e) => {
            let text = e.to_string();
            let why = text
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&text);
            Err(format!("getaddrinfo failed: {why} '{host}'"))
        }
    }
}

fn set_key(c: &mut HostConf, key: &str, v: &Value) -> Result<(), String> {
    let nonblank = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
    match key {
        "host" => c.host = nonblank(get_str(key, v)?),
        "port" => c.port = get_short(key, v)?,
        "socket" => c.socket = nonblank(get_str(key, v)?),
        "listen-backlog" => c.listen_backlog = get_int(key, v)?,
        "bin-path" => c.bin_path = nonblank(get_str(key, v)?),
        "kill-signal" => c.kill_signal = get_short(key, v)?,
        "check-local" => c.check_local = get_bool(key, v)?,
        "mode" => c.mode = parse_mode(get_str(key, v)?),
        "docroot" => c.docroot = nonblank(get_str(key, v)?),
        "min-procs" => c.min_procs = get_short(key, v)?,
        "max-procs" => c.max_procs = get_short(key, v)?,
        "max-load-per-proc" => c.max_load_per_proc = get_short(key, v)?,
        "idle-timeout" => c.idle_timeout = get_short(key, v)?,
        "disable-time" => c.disable_time = get_short(key, v)?,
        "bin-environment" => c.bin_environment = get_kvstring(key, v)?,
        "bin-copy-environment" => c.bin_copy_environment = get_list(key, v)?,
        "broken-scriptfilename" => c.broken_scriptfilename = get_bool(key, v)?,
        "strip-request-uri" => {
            let s = get_str(key, v)?;
            c.strip_request_uri = Some(s.strip_suffix('/').unwrap_or(s).to_string());
        }
        "fix-root-scriptname" => c.fix_root_scriptname = get_bool(key, v)?,
        "allow-x-send-file" | "x-sendfile" => c.xsendfile_allow = get_bool(key, v)?,
        "x-sendfile-docroot" => c.xsendfile_docroot = xsendfile_docroots(key, v)?,
        "tcp-fin-propagate" => c.tcp_fin_propagate = get_bool(key, v)?,
        "connect-timeout" => c.connect_timeout = get_int(key, v)?,
        "write-timeout" => c.write_timeout = get_int(key, v)?,
        "read-timeout" => c.read_timeout = get_int(key, v)?,
        _ => {}
    }
    Ok(())
}

fn parse_mode(v: &str) -> Mode {
    match v {
        "" | "responder" => Mode::Responder,
        "authorizer" => Mode::Authorizer,
        other => {
            crate::log_error!("WARNING: unknown gw mode: {other} (ignored, mode set to responder)");
            Mode::Responder
        }
    }
}

fn xsendfile_docroots(key: &str, v: &Value) -> Result<Vec<String>, String> {
    // any array (lighttpd T_CONFIG_ARRAY), then strings only
    let list: Vec<String> = get_array(key, v)?
        .items
        .iter()
        .map(|(_, v)| v.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            "unexpected type for x-sendfile-docroot; expected: \"x-sendfile-docroot\" => ( \"/allowed/path\", ... )".to_string()
        })?;
    list.into_iter()
        .map(|p| {
            if !p.starts_with('/') {
                return Err(format!(
                    "x-sendfile-docroot paths must begin with '/'; invalid: \"{p}\""
                ));
            }
            let simple = crate::http::uri::path_simplify(p.as_bytes());
            let mut s = String::from_utf8_lossy(&simple).into_owned();
            if !s.ends_with('/') {
                s.push('/');
            }
            Ok(s)
        })
        .collect()
}

/// lighttpd `parse_binpath`: split on every space and tab.
pub fn split_bin_path(bin: &str) -> Vec<String> {
    bin.split([' ', '\t']).map(str::to_string).collect()
}

fn check_executable(bin: &str, argv0: &str) {
    use std::os::unix::fs::PermissionsExt;
    let ok =
        std::fs::metadata(argv0).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !ok {
        crate::log_error!(
            "invalid \"bin-path\" => \"{bin}\" (check that file exists, is regular file, and is executable by lighttpd)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate::testing::{kv, list, s};

    const FCGI: ServerKind = ServerKind {
        key: "fastcgi.server",
        sh_exec: false,
        proxy: false,
    };

    fn arr(items: Vec<(Option<&str>, Value)>) -> Value {
        Value::Array(Array {
            items: items
                .into_iter()
                .map(|(k, v)| (k.map(str::to_string), v))
                .collect(),
        })
    }

    fn server(ext: &str, hosts: Vec<(Option<&str>, Value)>) -> Value {
        arr(vec![(Some(ext), arr(hosts))])
    }

    #[test]
    fn defaults_and_tcp_address() {
        let v = server(
            ".php",
            vec![(None, kv(&[("host", "127.0.0.1"), ("port", "9000")]))],
        );
        let exts = parse_server(FCGI, &v, &mut Vec::new()).unwrap();
        let h = &exts.resp[0].hosts[0].conf;
        assert_eq!((h.host.as_deref(), h.port), (Some("127.0.0.1"), 9000));
        assert_eq!((h.min_procs, h.max_procs, h.connect_timeout), (1, 1, 8));
        assert!(h.check_local);
        assert_eq!(h.kill_signal, 15);
    }

    #[test]
    fn host_with_slash_is_a_socket_and_port_defaults_to_80() {
        let v = server("/x", vec![(Some("a"), kv(&[("host", "/run/php.sock")]))]);
        let exts = parse_server(FCGI, &v, &mut Vec::new()).unwrap();
        let h = &exts.resp[0].hosts[0].conf;
        assert_eq!(
            (h.socket.as_deref(), h.host.as_deref()),
            (Some("/run/php.sock"), None)
        );
        let v = server(".x", vec![(None, kv(&[("host", "10.0.0.1")]))]);
        let exts = parse_server(FCGI, &v, &mut Vec::new()).unwrap();
        assert_eq!(exts.resp[0].hosts[0].conf.port, 80);
    }

    #[test]
    fn host_errors_are_lighttpds() {
        let v = server(".x", vec![(Some("b"), kv(&[("port", "1")]))]);
        let e = parse_server(FCGI, &v, &mut Vec::new()).unwrap_err();
        assert!(
            e.starts_with("host or bin-path have to be set in: fastcgi.server = (.x => (b"),
            "{e}"
        );
        let v = server(".x", vec![(None, kv(&[("host", "h"), ("socket", "/s")]))]);
        let e = parse_server(FCGI, &v, &mut Vec::new()).unwrap_err();
        assert!(e.starts_with("either host/port or socket"), "{e}");
        let v = server(".x", vec![(None, s("nope"))]);
        assert!(parse_server(FCGI, &v, &mut Vec::new())
            .unwrap_err()
            .starts_with("unexpected value"));
    }

    #[test]
    fn backend_host_names_must_resolve() {
        let v = server(
            ".x",
            vec![(None, kv(&[("host", "localhost"), ("port", "9")]))],
        );
        assert!(parse_server(FCGI, &v, &mut Vec::new()).is_ok());
        let v = server(".x", vec![(None, kv(&[("host", "no.such.host.invalid")]))]);
        let e = parse_server(FCGI, &v, &mut Vec::new()).unwrap_err();
        assert!(e.starts_with("getaddrinfo failed: "), "{e}");
        assert!(e.ends_with(" 'no.such.host.invalid'"), "{e}");
    }

    #[test]
    fn modes_split_authorizers_and_proxy_refuses_them() {
        let v = arr(vec![(
            Some("/"),
            arr(vec![
                (
                    Some("auth"),
                    kv(&[("host", "127.0.0.1"), ("port", "1"), ("mode", "authorizer")]),
                ),
                (Some("resp"), kv(&[("host", "127.0.0.1"), ("port", "1")])),
            ]),
        )]);
        let exts = parse_server(FCGI, &v, &mut Vec::new()).unwrap();
        assert_eq!((exts.auth.len(), exts.resp.len()), (1, 1));
        let proxy = ServerKind {
            key: "proxy.server",
            sh_exec: false,
            proxy: true,
        };
        let e = parse_server(proxy, &v, &mut Vec::new()).unwrap_err();
        assert!(e.contains("must not define any hosts"), "{e}");
    }

    #[test]
    fn bin_path_procs_and_options() {
        let mut block = Array::default();
        for (k, v) in [
            ("bin-path", s("/bin/true -a\t-b")),
            ("socket", s("/tmp/x.sock")),
            ("min-procs", s("9")),
            ("max-procs", s("2")),
            ("strip-request-uri", s("/app/")),
            ("bin-copy-environment", list(&["PATH"])),
            ("x-sendfile-docroot", list(&["/srv/a/../b"])),
        ] {
            block.items.push((Some(k.to_string()), v));
        }
        let v = server(".x", vec![(None, Value::Array(block))]);
        let exts = parse_server(FCGI, &v, &mut Vec::new()).unwrap();
        let h = &exts.resp[0].hosts[0].conf;
        assert_eq!(h.argv, vec!["/bin/true", "-a", "-b"]);
        assert_eq!((h.min_procs, h.max_procs), (2, 2));
        assert_eq!(h.strip_request_uri.as_deref(), Some("/app"));
        assert_eq!(h.xsendfile_docroot, vec!["/srv/b/"]);
        let scgi = ServerKind {
            key: "scgi.server",
            sh_exec: true,
            proxy: false,
        };
        let exts = parse_server(scgi, &v, &mut Vec::new()).unwrap();
        assert_eq!(exts.resp[0].hosts[0].conf.argv[2], "exec /bin/true -a\t-b");
    }

    #[test]
    fn same_extension_collects_hosts_and_shared_sockets_dedupe() {
        let h = kv(&[("bin-path", "/bin/true"), ("socket", "/tmp/s")]);
        let v = server(".x", vec![(None, h.clone()), (None, h.clone())]);
        let mut known = Vec::new();
        let exts = parse_server(FCGI, &v, &mut known).unwrap();
        assert_eq!(exts.resp.len(), 1);
        assert_eq!(exts.resp[0].hosts.len(), 2);
        assert!(Rc::ptr_eq(&exts.resp[0].hosts[0], &exts.resp[0].hosts[1]));
        let other = server(
            ".y",
            vec![(
                None,
                kv(&[("bin-path", "/bin/false"), ("socket", "/tmp/s")]),
            )],
        );
        assert!(parse_server(FCGI, &other, &mut known)
            .unwrap_err()
            .contains("duplicate unixsocket"));
    }

    #[test]
    fn balance_names() {
        assert_eq!(parse_balance("fair"), Balance::LeastConnection);
        assert_eq!(parse_balance("round-robin"), Balance::RoundRobin);
        assert_eq!(parse_balance("hash"), Balance::Hash);
        assert_eq!(parse_balance("sticky"), Balance::Sticky);
        assert_eq!(parse_balance("bogus"), Balance::LeastConnection);
    }
}
