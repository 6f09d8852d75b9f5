//! TLS for listeners with `ssl.engine = "enable"` (lighttpd mod_openssl),
//! on rustls with the ring provider: the per-listener server configs built
//! from `ssl.pemfile` / `ssl.privkey` / `ssl.ca-file` /
//! `ssl.openssl.ssl-conf-cmd`, with lighttpd's startup messages, and the
//! SNI certificate choice (`$HTTP["host"]` blocks setting `ssl.pemfile`,
//! evaluated on the client's server name as lighttpd does in its
//! servername callback). The encrypted stream itself is [`stream`].
//!
//! Accepted and ignored (rustls chooses): `ssl.cipher-list`, `CipherString`
//! and the other `ssl-conf-cmd` commands (warned; `ssl.honor-cipher-order`,
//! `ssl.dh-file`, `ssl.ec-curve` are unknown keys in 1.4.69 too), `ssl.read-ahead`,
//! `ssl.disable-client-renegotiation` (rustls never renegotiates),
//! `ssl.stek-file`, `ssl.stapling-file`, `ssl.acme-tls-1`, CRLs.

pub mod env;
pub mod stream;

use std::collections::HashMap;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use crate::config::cond::{CondField, Condition};
use crate::config::diagnostic::Diagnostic;
use crate::config::tree::{ConfigTree, CtxId, Directive};
use crate::config::value::Value;
use crate::sockets::ListenSpec;

pub use env::ClientEnvConf;
pub use stream::TlsStream;

/// The rustls server config of every TLS listener, by the listener's
/// `$SERVER["socket"]` block (None: `server.bind`/`server.port`).
#[derive(Default, Clone)]
pub struct TlsListeners {
    by_ctx: HashMap<Option<CtxId>, ListenerTls>,
}

/// One TLS listener: its rustls config and what its requests' environment
/// tells about the client certificate.
#[derive(Clone)]
pub struct ListenerTls {
    pub config: Arc<ServerConfig>,
    pub env: Arc<ClientEnvConf>,
}

impl TlsListeners {
    /// Build the configs of the listeners in `specs` with `ssl.engine`;
    /// `warn`: log the notes about ignored settings (once per start).
    pub fn build(
        tree: &ConfigTree,
        specs: &[ListenSpec],
        warn: bool,
    ) -> Result<TlsListeners, Vec<Diagnostic>> {
        if warn {
            cipher_list_notes(tree);
        }
        let mut out = TlsListeners::default();
        for (i, spec) in specs.iter().filter(|s| s.ssl).enumerate() {
            // the first failure stops the setup, as in lighttpd
            let scope = spec.ctx.unwrap_or(0);
            let cfg = listener_config(tree, scope, warn && i == 0)?;
            let env = ClientEnvConf {
                activate: scoped_bool(tree, scope, "ssl.verifyclient.activate", false),
                username: scoped_str(tree, scope, "ssl.verifyclient.username"),
                export_cert: scoped_bool(tree, scope, "ssl.verifyclient.exportcert", false),
            };
            let tls = ListenerTls {
                config: Arc::new(cfg),
                env: Arc::new(env),
            };
            out.by_ctx.insert(spec.ctx, tls);
        }
        Ok(out)
    }

    /// The config of the listener defined by `ctx`, when it speaks TLS.
    pub fn config_for(&self, ctx: Option<CtxId>) -> Option<ListenerTls> {
        self.by_ctx.get(&ctx).cloned()
    }
}

/// lighttpd's note for `ssl.cipher-list` in the global or a socket block.
fn cipher_list_notes(tree: &ConfigTree) {
    for (id, ctx) in tree.contexts.iter().enumerate() {
        let socket_scope = id == 0
            || ctx
                .cond
                .as_ref()
                .is_some_and(|c| c.field == CondField::ServerSocket);
        let set = ctx
            .get("ssl.cipher-list")
            .and_then(|d| d.value.as_str())
            .is_some_and(|s| !s.trim().is_empty());
        if socket_scope && set {
            crate::log_error!(
                "ssl.cipher-list is deprecated.  Please prefer lighttpd secure TLS defaults, \
                 or use ssl.openssl.ssl-conf-cmd \"CipherString\" to set custom cipher list."
            );
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A directive of `scope`, else of the global block (socket blocks
/// inherit the global values).
fn scoped<'a>(tree: &'a ConfigTree, scope: CtxId, key: &str) -> Option<&'a Directive> {
    tree.contexts
        .get(scope)
        .and_then(|c| c.get(key))
        .or_else(|| tree.contexts.first().and_then(|c| c.get(key)))
}

fn scoped_str(tree: &ConfigTree, scope: CtxId, key: &str) -> Option<String> {
    scoped(tree, scope, key)
        .and_then(|d| d.value.as_str())
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

fn scoped_bool(tree: &ConfigTree, scope: CtxId, key: &str, default: bool) -> bool {
    scoped(tree, scope, key)
        .and_then(|d| crate::config::validate::value_tobool(&d.value))
        .unwrap_or(default)
}

fn err(msg: impl Into<String>) -> Vec<Diagnostic> {
    vec![Diagnostic::error(msg.into(), None)]
}

/// The server config of one listener whose block is `scope`.
fn listener_config(
    tree: &ConfigTree,
    scope: CtxId,
    warn: bool,
) -> Result<ServerConfig, Vec<Diagnostic>> {
    let key_scope = pemfile_scope(tree, scope)?;
    let default = load_keypair(tree, key_scope)?;
    let sni = sni_certs(tree, scope)?;
    let versions = protocol_versions(tree, scope, warn)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions)
        .map_err(|e| err(format!("SSL: {e}")))?;
    let builder = match client_verifier(tree, scope)? {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder.with_cert_resolver(Arc::new(SniResolver { default, sni }));
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Where this listener's `ssl.pemfile` is: its own block, or the global
/// one when the block sets only `ssl.engine` (lighttpd's inheritance).
fn pemfile_scope(tree: &ConfigTree, scope: CtxId) -> Result<CtxId, Vec<Diagnostic>> {
    let own = &tree.contexts[scope];
    if own.get("ssl.pemfile").is_some() {
        return Ok(scope);
    }
    let others = own
        .directives
        .iter()
        .any(|d| d.key.starts_with("ssl.") && !d.key.eq_ignore_ascii_case("ssl.engine"));
    let global_has = tree.contexts[0].get("ssl.pemfile").is_some();
    if scope != 0 && (others || !global_has) {
        return Err(err(
            "ssl.pemfile has to be set in same $SERVER[\"socket\"] scope as other ssl.* \
             directives, unless only ssl.engine is set, inheriting ssl.* from global scope",
        ));
    }
    if !global_has {
        return Err(err(
            "ssl.pemfile has to be set when ssl.engine = \"enable\"",
        ));
    }
    Ok(0)
}

/// The certificate chain and key set in block `ctx`.
fn load_keypair(tree: &ConfigTree, ctx: CtxId) -> Result<Arc<CertifiedKey>, Vec<Diagnostic>> {
    let block = &tree.contexts[ctx];
    let pem = block
        .get("ssl.pemfile")
        .and_then(|d| d.value.as_str())
        .unwrap_or_default();
    let key = block
        .get("ssl.privkey")
        .and_then(|d| d.value.as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or(pem);
    let mut chain = read_certs(pem)?;
    if chain.is_empty() {
        return Err(err(format!(
            "SSL: couldn't read X509 certificate from '{pem}'"
        )));
    }
    if let Some(ca) = scoped_str(tree, ctx, "ssl.ca-file") {
        // lighttpd builds the chain from ssl.ca-file when the pemfile has
        // only the leaf: the issuers up to (not including) the root.
        let cas = read_certs(&ca)?;
        if chain.len() == 1 {
            complete_chain(&mut chain, &cas);
        }
    }
    let priv_key = read_key(key)?;
    let signer = provider()
        .key_provider
        .load_private_key(priv_key)
        .map_err(|_| err(format!("SSL: couldn't read private key from '{key}'")))?;
    let certified = CertifiedKey::new(chain, signer);
    if let Err(e) = certified.keys_match() {
        return Err(err(format!(
            "SSL:Private key does not match the certificate public key, reason: {e} {pem} {key}"
        )));
    }
    Ok(Arc::new(certified))
}

/// Append the intermediate CAs of `cas` that issued the chain's last
/// certificate, in turn (bounded; self-signed roots are not sent).
fn complete_chain(chain: &mut Vec<CertificateDer<'static>>, cas: &[CertificateDer<'static>]) {
    use env::serial_issuer_subject as names;
    for _ in 0..8 {
        let Some((_, issuer, subject)) = chain.last().and_then(|c| names(c)) else {
            return;
        };
        if issuer == subject {
            return;
        }
        let next = cas.iter().find(|ca| {
            names(ca).is_some_and(|(_, ca_issuer, ca_subject)| {
                ca_subject == issuer && ca_issuer != ca_subject
            })
        });
        match next {
            Some(ca) if !chain.contains(ca) => chain.push(ca.clone()),
            _ => return,
        }
    }
}

fn load_file(path: &str) -> Result<Vec<u8>, Vec<Diagnostic>> {
    std::fs::read(path).map_err(|e| {
        let why = e
            .raw_os_error()
            .map(|c| nix::errno::Errno::from_raw(c).desc().to_string())
            .unwrap_or_else(|| e.to_string());
        err(format!("fdevent_load_file() {path}: {why}"))
    })
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, Vec<Diagnostic>> {
    let data = load_file(path)?;
    CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            err(format!(
                "SSL: couldn't read X509 certificates from '{path}'"
            ))
        })
}

fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, Vec<Diagnostic>> {
    let data = load_file(path)?;
    PrivateKeyDer::from_pem_slice(&data)
        .map_err(|_| err(format!("SSL: couldn't read private key from '{path}'")))
}

/// `ssl.openssl.ssl-conf-cmd` MinProtocol / MaxProtocol / Protocol → TLS
/// versions; other commands are warned about and ignored.
fn protocol_versions(
    tree: &ConfigTree,
    scope: CtxId,
    warn: bool,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, Vec<Diagnostic>> {
    let (mut min, mut max) = (12u8, 13u8);
    let mut enabled = [true, true]; // TLSv1.2, TLSv1.3
    if let Some(Value::Array(arr)) =
        scoped(tree, scope, "ssl.openssl.ssl-conf-cmd").map(|d| &d.value)
    {
        for (k, v) in arr
            .items
            .iter()
            .filter_map(|(k, v)| Some((k.as_deref()?, v.as_str()?)))
        {
            let version = |v: &str| match v.to_ascii_lowercase().as_str() {
                "tlsv1.3" => Some(13),
                "tlsv1.2" => Some(12),
                "none" => None,
                _ => Some(0),
            };
            match k.to_ascii_lowercase().as_str() {
                "minprotocol" => min = version(v).map_or(12, |n| n.max(12)),
                "maxprotocol" => max = version(v).map_or(13, |n| n.clamp(12, 13)),
                "protocol" => apply_protocol_list(v, &mut enabled),
                _ if warn => crate::log_error!(
                    "SSL: ssl.openssl.ssl-conf-cmd \"{k}\" is not supported by lighttpd-rs (rustls); ignored"
                ),
                _ => {}
            }
        }
    }
    let versions: Vec<_> = [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
        .into_iter()
        .filter(|(n, _)| (min..=max).contains(n) && enabled[usize::from(n - 12)])
        .map(|(_, v)| v)
        .collect();
    if versions.is_empty() {
        return Err(err("SSL: SSL_CONF_cmd MinProtocol/MaxProtocol/Protocol: no TLS version left (TLSv1.2 and TLSv1.3 are supported)"));
    }
    Ok(versions)
}

/// OpenSSL's `Protocol` command: names separated by commas or spaces, each
/// enabling the version, or disabling it with a `-` prefix; `ALL` names
/// every version. Versions rustls lacks (SSLv3 .. TLSv1.1) change nothing.
fn apply_protocol_list(list: &str, enabled: &mut [bool; 2]) {
    for item in list.split([',', ' ']).filter(|i| !i.is_empty()) {
        let (on, name) = match item.strip_prefix('-') {
            Some(name) => (false, name),
            None => (true, item.strip_prefix('+').unwrap_or(item)),
        };
        let slots: &[usize] = match name.to_ascii_lowercase().as_str() {
            "all" => &[0, 1],
            "tlsv1.2" => &[0],
            "tlsv1.3" => &[1],
            _ => &[],
        };
        slots.iter().for_each(|&i| enabled[i] = on);
    }
}

/// `ssl.verifyclient.activate`: verify client certificates against
/// `ssl.ca-file` (required unless `ssl.verifyclient.enforce = "disable"`).
fn client_verifier(
    tree: &ConfigTree,
    scope: CtxId,
) -> Result<Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>, Vec<Diagnostic>> {
    if !scoped_bool(tree, scope, "ssl.verifyclient.activate", false) {
        return Ok(None);
    }
    let Some(ca) = scoped_str(tree, scope, "ssl.ca-file")
        .or_else(|| scoped_str(tree, scope, "ssl.verifyclient.ca-file"))
    else {
        return Err(err(
            "SSL: You specified ssl.verifyclient.activate but no ssl.verifyclient.ca-file",
        ));
    };
    let mut roots = RootCertStore::empty();
    for c in read_certs(&ca)? {
        roots.add(c).map_err(|e| err(format!("SSL: {e} {ca}")))?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = if scoped_bool(tree, scope, "ssl.verifyclient.enforce", true) {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder
        .build()
        .map(Some)
        .map_err(|e| err(format!("SSL: {e} {ca}")))
}

/// One `$HTTP["host"]` certificate: the host conditions on the way to its
/// block and the keypair.
#[derive(Debug)]
struct SniCert {
    conds: Vec<Condition>,
    key: Arc<CertifiedKey>,
}

/// The blocks below the global one (or the listener's socket block) that
/// set `ssl.pemfile` under `$HTTP["host"]` conditions only.
fn sni_certs(tree: &ConfigTree, scope: CtxId) -> Result<Vec<SniCert>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    for (id, ctx) in tree.contexts.iter().enumerate().skip(1) {
        if id == scope || ctx.get("ssl.pemfile").is_none() {
            continue;
        }
        let Some(conds) = host_conditions(tree, id, scope) else {
            continue;
        };
        out.push(SniCert {
            conds,
            key: load_keypair(tree, id)?,
        });
    }
    Ok(out)
}

/// The chain of conditions from block `id` up to the global block, when
/// it has only `$HTTP["host"]` conditions (and at most this listener's
/// socket block); None when it cannot apply to a handshake here.
fn host_conditions(tree: &ConfigTree, mut id: CtxId, scope: CtxId) -> Option<Vec<Condition>> {
    let mut conds = Vec::new();
    let mut has_host = false;
    while id != 0 {
        let ctx = tree.contexts.get(id)?;
        let cond = ctx.cond.as_ref()?;
        match cond.field {
            CondField::ServerSocket if id == scope => {}
            CondField::Host => {
                has_host = true;
                conds.push(cond.clone());
            }
            _ => return None,
        }
        id = ctx.parent?;
    }
    has_host.then_some(conds)
}

/// Picks the certificate for a handshake: the last `$HTTP["host"]` block
/// matching the client's SNI name, else the listener's own.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    sni: Vec<SniCert>,
}

impl SniResolver {
    fn choose(&self, name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = name else {
            return self.default.clone();
        };
        let name = name.to_ascii_lowercase();
        let mut caps = Vec::new();
        self.sni
            .iter()
            .rev()
            .find(|c| c.conds.iter().all(|cond| cond.eval(&name, &mut caps)))
            .map_or_else(|| self.default.clone(), |c| c.key.clone())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.choose(hello.server_name()))
    }
}

#[cfg(test)]
mod tests;
