//! mod_extforward (lighttpd src/mod_extforward.c): take the client address
//! (and scheme) from `X-Forwarded-For`/`Forwarded` headers sent by trusted
//! proxies, in the uri_raw hook (before every uri_clean module).
//!
//! Trust: `extforward.forwarder` exact addresses, CIDR masks, or `all`.
//! X-Forwarded-For: the rightmost address that is not trusted becomes the
//! client; `X-Forwarded-Proto` http/https then sets the scheme. RFC 7239
//! `Forwarded`: the rightmost untrusted `for=`, with its `proto=`, and
//! `host=`/`remote_user=` when enabled in `extforward.params`.
//!
//! `extforward.hap-PROXY`: on a connection from a trusted forwarder (the
//! option and the forwarders resolved for the listener's
//! `$SERVER["socket"]` and the peer's `$HTTP["remoteip"]`, as lighttpd's
//! accept hook does), the connection must start with a HAProxy PROXY v1/v2
//! header ([`proxy`]); its client address replaces the peer's for the whole
//! connection, an invalid header closes it. v2 TLVs become environment
//! variables (request_env), and `extforward.hap-PROXY-ssl-client-verify`
//! sets `SSL_CLIENT_VERIFY`/`REMOTE_USER`/`AUTH_TYPE` from the SSL TLV.
//! With hap-PROXY enabled globally, `extforward.headers` has no default.

pub mod proxy;

use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;

use crate::config::cond::CondField;
use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{CondCache, CondTree, Patch, RequestFacts, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_bool, get_kvany, get_kvstring, get_list, value_tobool};
use crate::config::value::Array;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{ConnInfo, Ctx, Flow, Hook, Module, Preamble};
use crate::request::{env_set, Request};

/// Who is a trusted proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwarders {
    /// `"all" => "trust"`: Some(true); `"all" => other`: Some(false).
    pub all: Option<bool>,
    /// Exact addresses (as written) and whether they are trusted.
    pub exact: Vec<(String, bool)>,
    /// Trusted networks.
    pub masks: Vec<(IpAddr, u8)>,
}

impl Forwarders {
    /// lighttpd `is_proxy_trusted` for one address text.
    pub fn trusts(&self, ip: &str) -> bool {
        if let Some((_, t)) = self.exact.iter().find(|(a, _)| a.eq_ignore_ascii_case(ip)) {
            return *t;
        }
        let Ok(addr) = ip.parse::<IpAddr>() else {
            return false;
        };
        self.masks
            .iter()
            .any(|(net, bits)| in_net(addr, *net, *bits))
    }

    /// Is the connecting address trusted (`all` counts here)?
    pub fn trusts_connection(&self, ip: &str) -> bool {
        match self.all {
            Some(t) => t,
            None => self.trusts(ip),
        }
    }
}

/// Is `addr` inside `net/bits` (IPv4-mapped IPv6 compares as IPv4)?
pub fn in_net(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    let norm = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    };
    let (a, n) = (norm(addr), norm(net));
    let prefix = |x: &[u8], y: &[u8], bits: u32| {
        let full = (bits / 8) as usize;
        let rest = bits % 8;
        x.len() == y.len()
            && full <= x.len()
            && x[..full] == y[..full]
            && (rest == 0 || (x[full] ^ y[full]) >> (8 - rest) == 0)
    };
    match (a, n) {
        (IpAddr::V4(a), IpAddr::V4(n)) => prefix(&a.octets(), &n.octets(), u32::from(bits.min(32))),
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            prefix(&a.octets(), &n.octets(), u32::from(bits.min(128)))
        }
        _ => false,
    }
}

/// Parse `extforward.forwarder` (lighttpd `mod_extforward_parse_forwarder`).
pub fn parse_forwarders(list: &[(String, String)]) -> Result<Forwarders, String> {
    let mut f = Forwarders::default();
    for (key, value) in list {
        let trusted = value.eq_ignore_ascii_case("trust");
        if !trusted && !value.eq_ignore_ascii_case("untrusted") {
            crate::log_error!(
                "ERROR: expect \"trust\", not \"{key}\" => \"{value}\"; treating as untrusted"
            );
        }
        if key.eq_ignore_ascii_case("all") {
            f.all = Some(trusted);
            continue;
        }
        match key.split_once('/') {
            None => f.exact.push((key.clone(), trusted)),
            Some(_) if !trusted => {
                crate::log_error!(
                    "ERROR: untrusted CIDR masks are ignored (\"{key}\" => \"{value}\")"
                );
            }
            Some((addr, bits)) => {
                let bad = || format!("ERROR: invalid netmask: {key}");
                let bits: u8 = bits.parse().ok().filter(|b| *b > 0).ok_or_else(bad)?;
                let addr = addr.trim_start_matches('[').trim_end_matches(']');
                let addr: IpAddr = addr.parse().map_err(|_| bad())?;
                f.masks.push((addr, bits));
            }
        }
    }
    Ok(f)
}

/// lighttpd `extract_forward_array`: every run of hex digits, `:` and
/// `.` that starts with a hex digit or `:`.
pub fn forwarded_for_tokens(h: &str) -> Vec<&str> {
    let b = h.as_bytes();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, &c) in b.iter().enumerate() {
        let hexcolon = c.is_ascii_hexdigit() || c == b':';
        match start {
            Some(s) if !hexcolon && c != b'.' => {
                out.push(&h[s..i]);
                start = None;
            }
            None if hexcolon => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&h[s..]);
    }
    out
}

/// The client address from X-Forwarded-For: the last untrusted token.
pub fn client_from_xff<'a>(h: &'a str, fwd: &Forwarders) -> Option<&'a str> {
    forwarded_for_tokens(h)
        .into_iter()
        .rev()
        .find(|ip| !fwd.trusts(ip))
}

/// What a `Forwarded` header says about the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardedHop {
    pub for_addr: Option<String>,
    pub proto: Option<String>,
    pub host: Option<String>,
    pub remote_user: Option<String>,
}

/// A malformed `Forwarded` header (lighttpd answers 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadForwarded;

/// Parse RFC 7239 `Forwarded` into hops (left to right). Err = malformed.
pub fn parse_forwarded(h: &str) -> Result<Vec<Vec<(String, String)>>, BadForwarded> {
    let b = h.as_bytes();
    let mut hops = vec![Vec::new()];
    let mut i = 0;
    let ws = |c: u8| c == b' ' || c == b'\t';
    while i < b.len() {
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b';' && b[i] != b',' {
            i += 1;
        }
        if b.get(i) != Some(&b'=') || i == ks {
            return Err(BadForwarded);
        }
        let key = h[ks..i].trim().to_ascii_lowercase();
        i += 1;
        let value = if b.get(i) == Some(&b'"') {
            i += 1;
            let mut v = Vec::new();
            loop {
                match b.get(i) {
                    None => return Err(BadForwarded),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        v.push(*b.get(i + 1).ok_or(BadForwarded)?);
                        i += 2;
                    }
                    Some(&c) => {
                        v.push(c);
                        i += 1;
                    }
                }
            }
            i += 1;
            String::from_utf8(v).map_err(|_| BadForwarded)?
        } else {
            let vs = i;
            while i < b.len() && b[i] != b';' && b[i] != b',' && !ws(b[i]) {
                i += 1;
            }
            h[vs..i].to_string()
        };
        if let Some(hop) = hops.last_mut() {
            hop.push((key, value));
        }
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        match b.get(i) {
            None => break,
            Some(b';') => i += 1,
            Some(b',') => {
                hops.push(Vec::new());
                i += 1;
            }
            Some(_) => return Err(BadForwarded),
        }
    }
    Ok(hops)
}

/// Strip `"[v6]:port"` / `v4:port` to the address.
fn node_addr(node: &str) -> &str {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match node.split_once(':') {
        Some((a, _)) if !a.contains(':') => a,
        _ => node,
    }
}

/// The client hop of a Forwarded header: the rightmost `for=` that is not
/// trusted (obfuscated `_x` and `unknown` are skipped).
pub fn client_from_forwarded(
    h: &str,
    fwd: &Forwarders,
) -> Result<Option<ForwardedHop>, BadForwarded> {
    let hops = parse_forwarded(h)?;
    for hop in hops.iter().rev() {
        let Some((_, node)) = hop.iter().find(|(k, _)| k == "for") else {
            continue;
        };
        let addr = node_addr(node);
        if addr.starts_with('_') || addr.eq_ignore_ascii_case("unknown") || fwd.trusts(addr) {
            continue;
        }
        if addr.parse::<IpAddr>().is_err() {
            return Err(BadForwarded);
        }
        let get = |k: &str| hop.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        return Ok(Some(ForwardedHop {
            for_addr: Some(addr.to_string()),
            proto: get("proto"),
            host: get("host"),
            remote_user: get("remote_user"),
        }));
    }
    Ok(None)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtforwardConf {
    pub forwarders: Option<Forwarders>,
    pub headers: Vec<String>,
    pub use_host: bool,
    pub use_remote_user: bool,
    pub hap_proxy: bool,
    pub hap_ssl_client_verify: bool,
}

#[derive(Debug, Clone)]
pub enum Item {
    Forwarders(Forwarders),
    Headers(Vec<String>),
    Params(bool, bool),
    HapProxy(bool),
    HapSslClientVerify(bool),
}

impl Patch for ExtforwardConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Forwarders(f) => self.forwarders = Some(f.clone()),
            Item::Headers(h) => self.headers = h.clone(),
            Item::Params(h, u) => (self.use_host, self.use_remote_user) = (*h, *u),
            Item::HapProxy(b) => self.hap_proxy = *b,
            Item::HapSslClientVerify(b) => self.hap_ssl_client_verify = *b,
        }
    }
}

/// lighttpd `mod_extforward_parse_opts`: `host` and `remote_user`, each
/// on or off.
fn parse_params(key: &str, arr: &Array) -> Result<Item, String> {
    let (mut host, mut remote_user) = (false, false);
    for (k, val) in &arr.items {
        let k = k.as_deref().unwrap_or("");
        let slot = match k {
            "host" => &mut host,
            "remote_user" => &mut remote_user,
            _ => {
                return Err(format!(
                    "{key} keys must be one of: host, remote_user, but not: {k}"
                ))
            }
        };
        *slot = value_tobool(val).ok_or_else(|| {
            format!("{key} values must be one of: 0, 1, enable, disable; error for key: {k}")
        })?;
    }
    Ok(Item::Params(host, remote_user))
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<ExtforwardConf>, Vec<Diagnostic>> {
    let keys = [
        "extforward.forwarder",
        "extforward.headers",
        "extforward.params",
        "extforward.hap-PROXY",
        "extforward.hap-PROXY-ssl-client-verify",
    ];
    let mut scoped = Scoped::build(tree, ExtforwardConf::default(), &keys, |key, d| {
        let v = &d.value;
        Ok(match key {
            "extforward.forwarder" => Item::Forwarders(parse_forwarders(&get_kvstring(key, v)?)?),
            "extforward.headers" => Item::Headers(get_list(key, v)?),
            "extforward.params" => parse_params(key, get_kvany(key, v)?)?,
            "extforward.hap-PROXY" => Item::HapProxy(get_bool(key, v)?),
            _ => Item::HapSslClientVerify(get_bool(key, v)?),
        })
    })?;
    // lighttpd: the default headers only when hap-PROXY is off globally.
    let d = &mut scoped.defaults;
    if d.headers.is_empty() && !d.hap_proxy {
        d.headers = vec!["X-Forwarded-For".into(), "Forwarded-For".into()];
    }
    Ok(scoped)
}

/// The module.
pub struct ModExtforward {
    conf: Scoped<ExtforwardConf>,
    /// Some context enables hap-PROXY (else the connection hooks are off).
    any_hap_proxy: bool,
    /// Conditions, for resolving the config of a connection at accept.
    cond_tree: Rc<CondTree>,
    /// What the PROXY header of each connection (by id) carried.
    conns: HashMap<usize, ProxyState>,
}

/// Per-connection leftovers of a PROXY v2 header (lighttpd's handler_ctx).
#[derive(Debug, Default)]
struct ProxyState {
    env: Vec<(String, String)>,
    ssl_client_verify: bool,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let conf = compile(init.tree)?;
    let any_hap_proxy = conf.defaults.hap_proxy
        || conf
            .blocks
            .iter()
            .flat_map(|(_, items)| items)
            .any(|it| matches!(it, Item::HapProxy(true)));
    Ok(Box::new(ModExtforward {
        conf,
        any_hap_proxy,
        cond_tree: Rc::new(CondTree::new(init.tree)),
        conns: HashMap::new(),
    }))
}

impl ModExtforward {
    /// The config as lighttpd's accept hook sees it: only what is known
    /// about a fresh connection can match.
    fn conn_conf(&self, conn: &ConnInfo) -> ExtforwardConf {
        let facts = RequestFacts {
            fields: vec![
                (CondField::ServerSocket, conn.server_socket.clone()),
                (CondField::RemoteIp, conn.remote_ip.clone()),
                (CondField::Scheme, "http".to_string()),
            ],
            headers: None,
        };
        let mut cache = CondCache::new(self.cond_tree.clone());
        self.conf.resolve(&mut cache, &facts)
    }

    /// `extforward.hap-PROXY-ssl-client-verify` for one request.
    fn ssl_client_verify(&self, r: &mut Request, conn_id: usize) {
        let cn = self
            .conns
            .get(&conn_id)
            .filter(|st| st.ssl_client_verify)
            .and_then(|st| st.env.iter().find(|(k, _)| k == "SSL_CLIENT_S_DN_CN"))
            .map(|(_, v)| v.clone());
        match cn {
            Some(cn) => {
                env_set(&mut r.env, "SSL_CLIENT_VERIFY", "SUCCESS");
                env_set(&mut r.env, "REMOTE_USER", &cn);
                env_set(&mut r.env, "AUTH_TYPE", "SSL_CLIENT_VERIFY");
            }
            None => env_set(&mut r.env, "SSL_CLIENT_VERIFY", "NONE"),
        }
    }
}

fn set_proto(r: &mut Request, proto: &str) {
    let scheme = if proto.eq_ignore_ascii_case("https") {
        "https"
    } else if proto.eq_ignore_ascii_case("http") {
        "http"
    } else {
        return;
    };
    if r.uri.scheme != scheme {
        r.uri.scheme = scheme;
        r.conds.invalidate(&[CondField::Scheme]);
    }
}

fn set_addr(r: &mut Request, addr: &str) -> bool {
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    r.remote_ip = ip.to_string();
    r.conds.invalidate(&[CondField::RemoteIp]);
    true
}

impl Module for ModExtforward {
    fn name(&self) -> &'static str {
        "mod_extforward"
    }

    fn hooks(&self) -> &'static [Hook] {
        if self.any_hap_proxy {
            &[
                Hook::UriRaw,
                Hook::ConnectionPreamble,
                Hook::RequestEnv,
                Hook::ConnectionClose,
            ]
        } else {
            &[Hook::UriRaw]
        }
    }

    fn connection_preamble(&mut self, conn: &ConnInfo, input: &[u8], _cx: &mut Ctx) -> Preamble {
        let conf = self.conn_conf(conn);
        let trusted = conf
            .forwarders
            .as_ref()
            .is_some_and(|f| f.trusts_connection(&conn.remote_ip));
        if !conf.hap_proxy || !trusted {
            return Preamble::NotMine;
        }
        match proxy::parse(input) {
            Err(proxy::ProxyError::Incomplete) => Preamble::NeedMore,
            Err(proxy::ProxyError::Invalid) => {
                crate::log_error!("hap-PROXY proto received invalid/unsupported request");
                Preamble::Reject
            }
            Ok(h) => {
                if !h.env.is_empty() || h.ssl_client_verify {
                    let state = ProxyState {
                        env: h.env,
                        ssl_client_verify: h.ssl_client_verify,
                    };
                    self.conns.insert(conn.id, state);
                }
                let (remote_ip, remote_port) = h.client.unzip();
                Preamble::Consumed {
                    len: h.len,
                    remote_ip,
                    remote_port: remote_port.flatten(),
                }
            }
        }
    }

    fn request_env(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if let Some(st) = self.conns.get(&cx.token_base) {
            for (k, v) in &st.env {
                env_set(&mut r.env, k, v);
            }
        }
        Flow::GoOn
    }

    fn connection_close(&mut self, conn: &ConnInfo, _cx: &mut Ctx) -> Flow {
        self.conns.remove(&conn.id);
        Flow::GoOn
    }

    fn uri_raw(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if r.loops > 0 {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        let Some(fwd) = conf.forwarders.as_ref() else {
            return Flow::GoOn;
        };
        if conf.hap_ssl_client_verify {
            self.ssl_client_verify(r, cx.token_base);
        }
        if !fwd.trusts_connection(&r.remote_ip) {
            return Flow::GoOn;
        }
        let Some((name, value)) = conf
            .headers
            .iter()
            .find_map(|h| r.headers.get_all_joined(h).map(|v| (h.clone(), v)))
        else {
            return Flow::GoOn;
        };
        if name.eq_ignore_ascii_case("Forwarded") {
            return match client_from_forwarded(&value, fwd) {
                Err(BadForwarded) => {
                    r.keep_alive = false;
                    r.finish_with(400)
                }
                Ok(None) => Flow::GoOn,
                Ok(Some(hop)) => {
                    if hop.for_addr.as_deref().is_some_and(|a| set_addr(r, a)) {
                        if let Some(p) = &hop.proto {
                            set_proto(r, p);
                        }
                        if let (true, Some(h)) = (conf.use_host, &hop.host) {
                            r.uri.authority = h.to_ascii_lowercase();
                            r.headers.set("Host", h);
                            r.conds.invalidate(&[CondField::Host]);
                        }
                        if let (true, Some(u)) = (conf.use_remote_user, &hop.remote_user) {
                            r.env.retain(|(k, _)| k != "REMOTE_USER");
                            r.env.push(("REMOTE_USER".into(), u.clone()));
                        }
                    }
                    Flow::GoOn
                }
            };
        }
        if let Some(client) = client_from_xff(&value, fwd).map(str::to_string) {
            if set_addr(r, &client) {
                if let Some(p) = r.headers.get("X-Forwarded-Proto").map(str::to_string) {
                    set_proto(r, &p);
                }
            }
        }
        Flow::GoOn
    }
}

#[cfg(test)]
mod tests;
