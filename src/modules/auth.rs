//! mod_auth (lighttpd src/mod_auth.c, mod_auth_api.c): HTTP Basic and
//! Digest authentication (RFC 7617, RFC 7616) against the mod_authn_file
//! backends, and `extern` (REMOTE_USER set elsewhere).
//!
//! The first `auth.require` key that is a prefix of the url path decides.
//! Failures: 401 with a challenge (keep-alive off for wrong credentials),
//! 400 for malformed credentials, 500 for a missing/unsuitable backend.
//! Digest nonces are `<hex time>:<hex hash>` (with `nonce_secret`:
//! `<hex time>:<hex rand>:<hex hash>`), valid for 600 s. Wrong credentials
//! set [`Request::delay_response`] (lighttpd `keep_alive = -1`): with
//! `server.feature-flags` "auth.delay-invalid-creds" (default on) the
//! connection holds the 401 until the next 1 s tick, without blocking the
//! loop. `auth.cache`: see [`cache`].

pub mod cache;

use std::cell::RefCell;
use std::rc::Rc;

use md5::Md5;
use sha2::{Sha256, Sha512_256};

use super::authn_file::{self, base64_decode, constant_eq, from_hex};
use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_bool, get_kvarray, get_str};
use crate::config::value::Value;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

/// Digest algorithm bits (lighttpd `HTTP_AUTH_DIGEST_*`).
pub const MD5: u8 = 1;
pub const SHA256: u8 = 2;
pub const SHA512_256: u8 = 4;
pub const SESS: u8 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Basic,
    Digest,
    Extern,
}

/// One `auth.require` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    pub prefix: String,
    pub scheme: Scheme,
    pub realm: String,
    /// Algorithm bits (with SESS if allowed).
    pub algorithms: u8,
    pub nonce_secret: Option<String>,
    pub userhash: bool,
    pub valid_user: bool,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub hosts: Vec<String>,
}

impl Require {
    /// lighttpd `http_auth_match_rules` for a user (file backends have no groups).
    pub fn allows(&self, user: &str) -> bool {
        self.valid_user || self.users.iter().any(|u| u == user)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Plain,
    Htpasswd,
    Htdigest,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConf {
    pub backend: Option<Backend>,
    pub require: Option<Rc<Vec<Require>>>,
    pub extern_authn: bool,
    pub plain_userfile: Option<String>,
    pub htpasswd_userfile: Option<String>,
    pub htdigest_userfile: Option<String>,
    pub cache: Option<cache::CacheRef>,
}

#[derive(Debug, Clone)]
pub enum Item {
    Backend(Option<Backend>),
    Require(Rc<Vec<Require>>),
    ExternAuthn(bool),
    Plain(String),
    Htpasswd(String),
    Htdigest(String),
    Cache(cache::CacheRef),
}

impl Patch for AuthConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Backend(b) => self.backend = *b,
            Item::Require(r) => self.require = Some(r.clone()),
            Item::ExternAuthn(b) => self.extern_authn = *b,
            Item::Plain(f) => self.plain_userfile = Some(f.clone()),
            Item::Htpasswd(f) => self.htpasswd_userfile = Some(f.clone()),
            Item::Htdigest(f) => self.htdigest_userfile = Some(f.clone()),
            Item::Cache(c) => self.cache = Some(c.clone()),
        }
    }
}

const KEYS: [&str; 7] = [
    "auth.backend",
    "auth.require",
    "auth.extern-authn",
    "auth.backend.plain.userfile",
    "auth.backend.htpasswd.userfile",
    "auth.backend.htdigest.userfile",
    "auth.cache",
];

pub fn compile(tree: &ConfigTree) -> Result<Scoped<AuthConf>, Vec<Diagnostic>> {
    Scoped::build(tree, AuthConf::default(), &KEYS, |key, d| {
        let v = &d.value;
        Ok(match key {
            "auth.backend" => Item::Backend(match get_str(key, v)? {
                "" => None,
                "plain" => Some(Backend::Plain),
                "htpasswd" => Some(Backend::Htpasswd),
                "htdigest" => Some(Backend::Htdigest),
                other => return Err(format!("auth.backend not supported: {other}")),
            }),
            "auth.require" => Item::Require(Rc::new(parse_require_list(get_kvarray(key, v)?)?)),
            "auth.extern-authn" => Item::ExternAuthn(get_bool(key, v)?),
            "auth.backend.plain.userfile" => Item::Plain(get_str(key, v)?.to_string()),
            "auth.backend.htpasswd.userfile" => Item::Htpasswd(get_str(key, v)?.to_string()),
            "auth.cache" => {
                let c = cache::AuthCache::new(cache::parse_max_age(v));
                Item::Cache(cache::CacheRef(Rc::new(RefCell::new(c))))
            }
            _ => Item::Htdigest(get_str(key, v)?.to_string()),
        })
    })
}

fn parse_require_list(arr: &crate::config::value::Array) -> Result<Vec<Require>, String> {
    let mut out = Vec::new();
    for (prefix, entry) in &arr.items {
        let Value::Array(fields) = entry else {
            return Err("unexpected value for auth.require; expected auth.require = ( \"urlpath\" => ( \"option\" => \"value\" ) )".into());
        };
        out.push(parse_require(prefix.as_deref().unwrap_or(""), fields)?);
    }
    Ok(out)
}

fn field_err(what: &str, key: &str) -> String {
    format!("{what} auth.require = ( \"...\" => ( ..., -> \"{key}\" <- => \"...\" ) )")
}

/// One entry of `auth.require` (lighttpd `mod_auth_require_parse_array`).
pub fn parse_require(
    prefix: &str,
    fields: &crate::config::value::Array,
) -> Result<Require, String> {
    let (mut method, mut realm, mut require, mut algos, mut secret, mut userhash) =
        (None, None, None, None, None, false);
    for (k, v) in &fields.items {
        let k = k.as_deref().unwrap_or("");
        let Value::Str(s) = v else {
            return Err(field_err("a string was expected for:", k));
        };
        match k {
            "method" => method = Some(s.as_str()),
            "realm" => realm = Some(s.clone()),
            "require" => require = Some(s.as_str()),
            "algorithm" => algos = Some(s.as_str()),
            "nonce_secret" | "nonce-secret" => secret = Some(s.clone()),
            "userhash" => userhash = v.as_bool().unwrap_or(false),
            _ => return Err(field_err("the field is unknown in:", k)),
        }
    }
    let scheme = match method.filter(|m| !m.is_empty()) {
        None => return Err("the method field is missing or blank in: auth.require = ( \"...\" => ( ..., \"method\" => \"...\" ) )".into()),
        Some("basic") => Scheme::Basic,
        Some("digest") => Scheme::Digest,
        Some("extern") => Scheme::Extern,
        Some(m) => {
            return Err(format!(
                "unknown method {m} (e.g. \"basic\", \"digest\" or \"extern\") in auth.require = ( \"...\" => ( ..., \"method\" => \"...\") )"
            ))
        }
    };
    let realm = realm.ok_or("the realm field is missing in: auth.require = ( \"...\" => ( ..., \"realm\" => \"...\" ) )")?;
    let require = require
        .filter(|r| !r.is_empty())
        .ok_or("the require field is missing or blank in: auth.require = ( \"...\" => ( ..., \"require\" => \"...\" ) )")?;
    let mut algorithms = SESS;
    match algos.filter(|a| !a.is_empty()) {
        None => algorithms |= MD5,
        Some(a) => {
            for one in a.split('|') {
                algorithms |= parse_algorithm(one)
                    .ok_or("invalid algorithm in: auth.require = ( \"...\" => ( ..., \"algorithm\" => \"...\" ) )")?;
            }
        }
    }
    let mut r = Require {
        prefix: prefix.to_string(),
        scheme,
        realm,
        algorithms,
        nonce_secret: secret,
        userhash,
        valid_user: false,
        users: Vec::new(),
        groups: Vec::new(),
        hosts: Vec::new(),
    };
    parse_require_rule(&mut r, require)?;
    Ok(r)
}

/// `valid-user` or `user=a|group=g|host=h` (lighttpd `mod_auth_require_parse`).
fn parse_require_rule(r: &mut Require, text: &str) -> Result<(), String> {
    if text == "valid-user" {
        r.valid_user = true;
        return Ok(());
    }
    const EXPECT: &str = "(expecting \"valid-user\" or \"user=a|user=b|group=g|host=h\")";
    for tok in text.split('|').filter(|t| !t.is_empty()) {
        let Some((name, value)) = tok.split_once('=') else {
            return Err(format!("error parsing auth.require 'require' field: missing '=' {EXPECT}. error value: {text} error near: {tok}"));
        };
        if value.is_empty() {
            return Err(format!("error parsing auth.require 'require' field: missing token after '=' {EXPECT}. error value: {text} error near: {tok}"));
        }
        match name {
            "user" => r.users.push(value.to_string()),
            "group" => r.groups.push(value.to_string()),
            "host" => {
                crate::log_error!("warning parsing auth.require 'require' field: 'host' not implemented; field value: {text}");
                r.hosts.push(value.to_string())
            }
            "valid-user" => {
                return Err(format!("error parsing auth.require 'require' field: valid user can not be combined with other require rules {EXPECT}. error value: {text}"))
            }
            _ => {
                return Err(format!("error parsing auth.require 'require' field: invalid/unsupported token {EXPECT}. error value: {text} error near: {tok}"))
            }
        }
    }
    Ok(())
}

/// `MD5`, `SHA-256`, `SHA-512-256`, each optionally `-sess` (ASCII
/// case-insensitive); the empty string is MD5.
pub fn parse_algorithm(s: &str) -> Option<u8> {
    if s.is_empty() {
        return Some(MD5);
    }
    let lower = s.to_ascii_lowercase();
    let (base, sess) = match lower.strip_suffix("-sess") {
        Some(b) if s.len() > 5 => (b, SESS),
        _ => (lower.as_str(), 0),
    };
    let algo = match base {
        "md5" => MD5,
        "sha-256" => SHA256,
        "sha-512-256" => SHA512_256,
        _ => return None,
    };
    Some(algo | sess)
}

/// Hash of the concatenated parts with the algorithm of `algo`.
pub fn hash(algo: u8, parts: &[&[u8]]) -> Vec<u8> {
    fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut d = D::new();
        parts.iter().for_each(|p| d.update(p));
        d.finalize().to_vec()
    }
    if algo & SHA256 != 0 {
        run::<Sha256>(parts)
    } else if algo & SHA512_256 != 0 {
        run::<Sha512_256>(parts)
    } else {
        run::<Md5>(parts)
    }
}

fn digest_len(algo: u8) -> usize {
    if algo & (SHA256 | SHA512_256) != 0 {
        32
    } else {
        16
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The user database behind a scheme.
pub trait UserDb {
    /// Check a Basic password.
    fn basic(&self, require: &Require, user: &str, pw: &str) -> bool;
    /// HA1 = H(user:realm:password) and the real user name (for userhash).
    fn ha1(&self, algo: u8, user: &str, realm: &str, userhash: bool) -> Option<(Vec<u8>, String)>;
    /// Does the backend support Digest?
    fn has_digest(&self) -> bool;
}

/// The mod_authn_file backends.
pub struct FileDb<'a> {
    pub backend: Backend,
    pub conf: &'a AuthConf,
}

impl UserDb for FileDb<'_> {
    fn basic(&self, require: &Require, user: &str, pw: &str) -> bool {
        let ok = match self.backend {
            Backend::Plain => self
                .file(&self.conf.plain_userfile)
                .and_then(|d| authn_file::find_password(&d, user))
                .is_some_and(|p| constant_eq(p.as_bytes(), pw.as_bytes())),
            Backend::Htpasswd => self
                .file(&self.conf.htpasswd_userfile)
                .and_then(|d| authn_file::find_password(&d, user))
                .is_some_and(|h| authn_file::verify_htpasswd(&h, pw)),
            Backend::Htdigest => {
                let algo = if require.algorithms & SHA256 != 0 {
                    SHA256
                } else {
                    require.algorithms & !SESS
                };
                self.ha1(algo, user, &require.realm, false)
                    .is_some_and(|(ha1, _)| {
                        let mine = hash(
                            algo,
                            &[
                                user.as_bytes(),
                                b":",
                                require.realm.as_bytes(),
                                b":",
                                pw.as_bytes(),
                            ],
                        );
                        constant_eq(&ha1, &mine)
                    })
            }
        };
        ok && require.allows(user)
    }

    fn ha1(&self, algo: u8, user: &str, realm: &str, userhash: bool) -> Option<(Vec<u8>, String)> {
        match self.backend {
            Backend::Htpasswd => None,
            Backend::Plain => {
                let pw = authn_file::find_password(&self.file(&self.conf.plain_userfile)?, user)?;
                let h = hash(
                    algo,
                    &[user.as_bytes(), b":", realm.as_bytes(), b":", pw.as_bytes()],
                );
                Some((h, user.to_string()))
            }
            Backend::Htdigest => {
                let data = self.file(&self.conf.htdigest_userfile)?;
                authn_file::find_htdigest(&data, user, realm, digest_len(algo), userhash)
                    .map(|e| (e.digest, e.user))
            }
        }
    }

    fn has_digest(&self) -> bool {
        self.backend != Backend::Htpasswd
    }
}

impl FileDb<'_> {
    fn file(&self, path: &Option<String>) -> Option<Vec<u8>> {
        authn_file::load(path.as_deref()?)
    }
}

/// The outcome of an authentication check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Authenticated: REMOTE_USER, AUTH_TYPE, optional Authentication-Info.
    Ok {
        user: String,
        auth_type: &'static str,
        info: Option<String>,
    },
    /// 401 with these WWW-Authenticate values; `close` = wrong credentials.
    Unauthorized {
        challenges: Vec<String>,
        close: bool,
    },
    BadRequest,
    ServerError(String),
}

fn basic_challenge(realm: &str) -> String {
    format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")
}

/// Who asks, for lighttpd's failure log lines (fail2ban filters read
/// them): the url path and the client address.
#[derive(Debug, Clone, Copy, Default)]
pub struct Client<'a> {
    pub path: &'a str,
    pub ip: &'a str,
}

/// lighttpd `mod_auth_check_basic`.
pub fn check_basic(
    req: &Require,
    header: Option<&str>,
    db: &dyn UserDb,
    client: Client,
) -> Outcome {
    let unauthorized = |close| Outcome::Unauthorized {
        challenges: vec![basic_challenge(&req.realm)],
        close,
    };
    let Some(b64) = header.and_then(|h| strip_prefix_icase(h, "Basic ")) else {
        return unauthorized(false);
    };
    if b64.len() > 1363 {
        return unauthorized(false);
    }
    let Some(decoded) = base64_decode(b64.as_bytes()) else {
        return Outcome::BadRequest;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return Outcome::BadRequest;
    };
    let user = String::from_utf8_lossy(&decoded[..colon]).into_owned();
    let pw = String::from_utf8_lossy(&decoded[colon + 1..]).into_owned();
    if db.basic(req, &user, &pw) {
        return Outcome::Ok {
            user,
            auth_type: "Basic",
            info: None,
        };
    }
    crate::log_error!(
        "password doesn't match for {} username: {user} IP: {}",
        client.path,
        client.ip
    );
    unauthorized(true)
}

fn strip_prefix_icase<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Parsed Digest credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestParams {
    pub username: Option<String>,
    pub realm: Option<String>,
    pub nonce: Option<String>,
    pub uri: Option<String>,
    pub algorithm: Option<String>,
    pub qop: Option<String>,
    pub cnonce: Option<String>,
    pub nc: Option<String>,
    pub response: Option<String>,
    pub userstar: Option<String>,
    pub userhash: Option<String>,
}

impl DigestParams {
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<String>> {
        Some(match key {
            b"username" => &mut self.username,
            b"realm" => &mut self.realm,
            b"nonce" => &mut self.nonce,
            b"uri" => &mut self.uri,
            b"algorithm" => &mut self.algorithm,
            b"qop" => &mut self.qop,
            b"cnonce" => &mut self.cnonce,
            b"nc" => &mut self.nc,
            b"response" => &mut self.response,
            b"username*" => &mut self.userstar,
            b"userhash" => &mut self.userhash,
            _ => return None,
        })
    }
}

/// Parse the part after `Digest ` (lighttpd `mod_auth_digest_parse_authorization`):
/// `key=value` or `key="quoted"` pairs separated by commas; a malformed
/// pair stops parsing. Quoted values are kept as written (escapes stay).
pub fn parse_digest(s: &str) -> DigestParams {
    let b = s.as_bytes();
    let mut dp = DigestParams::default();
    let mut c = 0;
    let ws = |x: u8| x == b' ' || x == b'\t';
    while c < b.len() {
        while c < b.len() && (ws(b[c]) || b[c] == b',') {
            c += 1;
        }
        if c >= b.len() {
            break;
        }
        let mut e = c;
        while e < b.len() && b[e] != b'=' && !ws(b[e]) {
            e += 1;
        }
        let key = &b[c..e];
        c = e;
        let known = dp.slot(key).is_some();
        if known {
            while c < b.len() && ws(b[c]) {
                c += 1;
            }
            if b.get(c) != Some(&b'=') {
                return dp;
            }
            c += 1;
            while c < b.len() && ws(b[c]) {
                c += 1;
            }
            let (start, end);
            if b.get(c) == Some(&b'"') {
                start = c + 1;
                let mut x = start;
                while x < b.len() && b[x] != b'"' {
                    if b[x] == b'\\' {
                        x += 1;
                    }
                    x += 1;
                }
                if x >= b.len() {
                    return dp;
                }
                end = x;
            } else {
                start = c;
                let mut x = c;
                while x < b.len() && b[x] != b',' && !ws(b[x]) {
                    x += 1;
                }
                end = x;
            }
            if let Some(slot) = dp.slot(key) {
                *slot = Some(String::from_utf8_lossy(&b[start..end]).into_owned());
            }
            c = end;
        }
        match b[c..].iter().position(|&x| x == b',') {
            Some(p) => c += p + 1,
            None => return dp,
        }
    }
    dp
}

/// A nonce for `now` (lighttpd `mod_auth_append_nonce`).
pub fn make_nonce(now: i64, algo: u8, secret: Option<&str>, rnd: u32) -> String {
    let t = now.to_ne_bytes();
    let r = rnd.to_ne_bytes();
    match secret {
        None => format!("{now:x}:{}", hex(&hash(algo, &[&t, &r]))),
        Some(s) => format!(
            "{now:x}:{rnd:x}:{}",
            hex(&hash(algo, &[&t, &r, s.as_bytes()]))
        ),
    }
}

/// The Digest challenges, strongest algorithm first (one header each).
pub fn digest_challenges(
    req: &Require,
    now: i64,
    stale: Option<u8>,
    rnd: &mut dyn FnMut() -> u32,
) -> Vec<String> {
    let algos = stale.unwrap_or(req.algorithms);
    [(SHA512_256, "SHA-512-256"), (SHA256, "SHA-256"), (MD5, "MD5")]
        .iter()
        .filter(|(a, _)| algos & a != 0)
        .map(|(a, name)| {
            let nonce = make_nonce(now, *a, req.nonce_secret.as_deref(), rnd());
            let mut v = format!(
                "Digest realm=\"{}\", charset=\"UTF-8\", algorithm={name}, nonce=\"{nonce}\", qop=\"auth\"",
                req.realm
            );
            if req.userhash {
                v.push_str(", userhash=true");
            }
            if stale.is_some() {
                v.push_str(", stale=true");
            }
            v
        })
        .collect()
}

/// What a Digest check needs from the request.
pub struct DigestInput<'a> {
    pub header: Option<&'a str>,
    pub client: Client<'a>,
    pub method: &'a str,
    pub target_orig: &'a str,
    pub now: i64,
}

/// lighttpd `mod_auth_check_digest`.
pub fn check_digest(
    req: &Require,
    input: &DigestInput,
    db: &dyn UserDb,
    rnd: &mut dyn FnMut() -> u32,
) -> Outcome {
    if !db.has_digest() {
        return Outcome::ServerError(format!(
            "auth.require \"method\" => \"digest\" invalid (try \"basic\"?) for {}",
            req.prefix
        ));
    }
    let mut challenge = |stale: Option<u8>, close: bool| Outcome::Unauthorized {
        challenges: digest_challenges(req, input.now, stale, rnd),
        close,
    };
    let Some(rest) = input.header.and_then(|h| strip_prefix_icase(h, "Digest ")) else {
        return challenge(None, false);
    };
    let dp = parse_digest(rest);
    let qop_ok = dp.qop.is_none() || (dp.nc.is_some() && dp.cnonce.is_some());
    let (Some(realm), Some(nonce), Some(uri), Some(response)) =
        (&dp.realm, &dp.nonce, &dp.uri, &dp.response)
    else {
        return Outcome::BadRequest;
    };
    if !qop_ok || dp.username.is_some() == dp.userstar.is_some() {
        return Outcome::BadRequest;
    }
    let userhash = dp.userhash.as_deref() == Some("true");
    let username = match (&dp.username, &dp.userstar) {
        (Some(u), _) => u.clone(),
        (None, Some(star)) => match decode_userstar(star, userhash) {
            Some(u) => u,
            None => return Outcome::BadRequest,
        },
        _ => return Outcome::BadRequest,
    };
    if *realm != req.realm {
        return challenge(None, false);
    }
    let Some(algo) = parse_algorithm(dp.algorithm.as_deref().unwrap_or("")) else {
        return challenge(None, false);
    };
    if req.algorithms & algo & !SESS == 0 {
        return challenge(None, false);
    }
    if algo & SESS != 0 && dp.cnonce.is_none() {
        return Outcome::BadRequest;
    }
    let dlen = digest_len(algo);
    let Some(rdigest) = from_hex(response.as_bytes()).filter(|d| d.len() == dlen) else {
        return Outcome::BadRequest;
    };
    if dp
        .qop
        .as_deref()
        .is_some_and(|q| q.eq_ignore_ascii_case("auth-int"))
    {
        return Outcome::BadRequest;
    }
    if uri != input.target_orig {
        return Outcome::BadRequest;
    }
    let mut next_nonce = false;
    match check_nonce(req, nonce, algo, input.now) {
        NonceCheck::Fresh => {}
        NonceCheck::Aging => next_nonce = true,
        NonceCheck::Stale => return challenge(Some(algo & !SESS), false),
        NonceCheck::Malformed => return Outcome::BadRequest,
        NonceCheck::Forged => return challenge(None, false),
    }
    let lookup_user = if userhash {
        username.to_ascii_lowercase()
    } else {
        username.clone()
    };
    let Some((ha1, real_user)) = db.ha1(algo, &lookup_user, &req.realm, userhash) else {
        return challenge(None, true);
    };
    let expected = digest_response(algo, &ha1, &dp, input.method);
    if !constant_eq(&expected, &rdigest) {
        crate::log_error!(
            "digest: auth failed for {real_user}: wrong password, IP: {}",
            input.client.ip
        );
        return challenge(None, true);
    }
    if !req.allows(&real_user) {
        return challenge(None, false);
    }
    let info = next_nonce.then(|| {
        format!(
            "nextnonce=\"{}\"",
            make_nonce(input.now, algo & !SESS, req.nonce_secret.as_deref(), rnd())
        )
    });
    Outcome::Ok {
        user: real_user,
        auth_type: "Digest",
        info,
    }
}

/// RFC 7616 response: H(HA1:nonce[:nc:cnonce:qop]:H(method:uri)).
pub fn digest_response(algo: u8, ha1: &[u8], dp: &DigestParams, method: &str) -> Vec<u8> {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    let (nonce, cnonce) = (s(&dp.nonce), s(&dp.cnonce));
    let mut a1 = hex(ha1);
    if algo & SESS != 0 {
        a1 = hex(&hash(
            algo,
            &[
                a1.as_bytes(),
                b":",
                nonce.as_bytes(),
                b":",
                cnonce.as_bytes(),
            ],
        ));
    }
    let a2 = hex(&hash(
        algo,
        &[method.as_bytes(), b":", s(&dp.uri).as_bytes()],
    ));
    match &dp.qop {
        Some(qop) if !qop.is_empty() => {
            let nc = s(&dp.nc);
            hash(
                algo,
                &[
                    a1.as_bytes(),
                    b":",
                    nonce.as_bytes(),
                    b":",
                    nc.as_bytes(),
                    b":",
                    cnonce.as_bytes(),
                    b":",
                    qop.as_bytes(),
                    b":",
                    a2.as_bytes(),
                ],
            )
        }
        _ => hash(
            algo,
            &[a1.as_bytes(), b":", nonce.as_bytes(), b":", a2.as_bytes()],
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Fresh,
    /// Older than 540 s: send a nextnonce.
    Aging,
    Stale,
    Malformed,
    Forged,
}

/// lighttpd `mod_auth_digest_validate_nonce`.
pub fn check_nonce(req: &Require, nonce: &str, algo: u8, now: i64) -> NonceCheck {
    let b = nonce.as_bytes();
    let digits = b
        .iter()
        .take(16)
        .take_while(|c| c.is_ascii_hexdigit())
        .count();
    let ts = i64::from_str_radix(&nonce[..digits], 16).unwrap_or(i64::MAX);
    if digits == 0 || b.get(digits) != Some(&b':') || ts > now || now - ts > 600 {
        return NonceCheck::Stale;
    }
    let fresh = if now - ts > 540 {
        NonceCheck::Aging
    } else {
        NonceCheck::Fresh
    };
    let Some(secret) = &req.nonce_secret else {
        return fresh;
    };
    let rest = &nonce[digits + 1..];
    let rlen = rest
        .bytes()
        .take(8)
        .take_while(|c| c.is_ascii_hexdigit())
        .count();
    if rest.as_bytes().get(rlen) != Some(&b':') {
        return NonceCheck::Malformed;
    }
    let rnd = u32::from_str_radix(&rest[..rlen], 16).unwrap_or(0);
    if make_nonce(ts, algo & !SESS, Some(secret), rnd) == nonce {
        fresh
    } else {
        NonceCheck::Forged
    }
}

/// RFC 5987 `username*` (`utf-8''name` / `iso-8859-1''name`).
fn decode_userstar(star: &str, userhash: bool) -> Option<String> {
    if userhash {
        return None;
    }
    let lower = star.to_ascii_lowercase();
    let rest = if lower.starts_with("utf-8'") {
        &star[6..]
    } else if lower.starts_with("iso-8859-1'") {
        &star[11..]
    } else {
        return None;
    };
    let (_, value) = rest.split_once('\'')?;
    let bytes = crate::http::uri::percent_decode(value);
    let s = String::from_utf8(bytes).ok()?;
    (s.len() <= 256 && !s.chars().any(|c| c.is_control())).then_some(s)
}

/// Random 32 bits for nonces.
fn random_u32() -> u32 {
    use std::io::Read;
    let mut b = [0u8; 4];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if ok {
        u32::from_ne_bytes(b)
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    }
}

/// The module.
pub struct ModAuth {
    conf: Scoped<AuthConf>,
    /// Every `auth.cache`, for the periodic cleanup.
    caches: Vec<cache::CacheRef>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let conf = compile(init.tree)?;
    let blocks = conf.blocks.iter().flat_map(|(_, items)| items);
    let caches = blocks
        .filter_map(|it| match it {
            Item::Cache(c) => Some(c.clone()),
            _ => None,
        })
        .chain(conf.defaults.cache.clone())
        .collect();
    Ok(Box::new(ModAuth { conf, caches }))
}

/// Check with `db`, through the config's cache if it has one.
fn with_cache<T>(
    conf: &AuthConf,
    db: &dyn UserDb,
    now: i64,
    f: impl FnOnce(&dyn UserDb) -> T,
) -> T {
    match &conf.cache {
        Some(c) => f(&cache::CachedDb {
            inner: db,
            cache: &c.0,
            now,
        }),
        None => f(db),
    }
}

fn env_get<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.env
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn env_set(r: &mut Request, name: &str, value: &str) {
    r.env.retain(|(k, _)| k != name);
    r.env.push((name.to_string(), value.to_string()));
}

impl Module for ModAuth {
    fn name(&self) -> &'static str {
        "mod_auth"
    }

    fn hooks(&self) -> &'static [Hook] {
        if self.caches.is_empty() {
            &[Hook::UriClean]
        } else {
            &[Hook::UriClean, Hook::Trigger]
        }
    }

    fn trigger(&mut self, cx: &mut Ctx) -> Flow {
        if cx.now & 7 == 0 {
            for c in &self.caches {
                c.0.borrow_mut().purge(cx.now);
            }
        }
        Flow::GoOn
    }

    fn uri_clean(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        let conf = r.resolve(&self.conf);
        let Some(list) = conf.require.clone() else {
            return Flow::GoOn;
        };
        let lc = r.conf.force_lowercase_filenames;
        let path = &r.uri.path;
        let Some(req) = list.iter().find(|q| {
            path.len() >= q.prefix.len()
                && if lc {
                    path.as_bytes()[..q.prefix.len()].eq_ignore_ascii_case(q.prefix.as_bytes())
                } else {
                    path.starts_with(&q.prefix)
                }
        }) else {
            return Flow::GoOn;
        };
        let remote_user = env_get(r, "REMOTE_USER").map(str::to_string);
        if conf.extern_authn && remote_user.as_deref().is_some_and(|u| req.allows(u)) {
            return Flow::GoOn;
        }
        let outcome = match (req.scheme, conf.backend) {
            (Scheme::Extern, _) => match remote_user {
                Some(u) if req.allows(&u) => return Flow::GoOn,
                _ => Outcome::Unauthorized {
                    challenges: Vec::new(),
                    close: false,
                },
            },
            (_, None) => {
                Outcome::ServerError(format!("auth.backend not configured for {}", r.uri.path))
            }
            (Scheme::Basic, Some(backend)) => {
                let db = FileDb {
                    backend,
                    conf: &conf,
                };
                let header = r.headers.get("Authorization");
                let client = Client {
                    path: &r.uri.path,
                    ip: &r.remote_ip,
                };
                with_cache(&conf, &db, cx.now, |db| {
                    check_basic(req, header, db, client)
                })
            }
            (Scheme::Digest, Some(backend)) => {
                let db = FileDb {
                    backend,
                    conf: &conf,
                };
                let input = DigestInput {
                    header: r.headers.get("Authorization"),
                    client: Client {
                        path: &r.uri.path,
                        ip: &r.remote_ip,
                    },
                    method: r.method.as_str(),
                    target_orig: &r.target_orig,
                    now: cx.now,
                };
                with_cache(&conf, &db, cx.now, |db| {
                    check_digest(req, &input, db, &mut random_u32)
                })
            }
        };
        apply(r, outcome)
    }
}

fn apply(r: &mut Request, outcome: Outcome) -> Flow {
    match outcome {
        Outcome::Ok {
            user,
            auth_type,
            info,
        } => {
            env_set(r, "REMOTE_USER", &user);
            env_set(r, "AUTH_TYPE", auth_type);
            if let Some(info) = info {
                r.resp.headers.set("Authentication-Info", &info);
            }
            Flow::GoOn
        }
        Outcome::Unauthorized { challenges, close } => {
            r.resp.headers.remove("WWW-Authenticate");
            for c in challenges {
                r.resp.headers.append("WWW-Authenticate", &c);
            }
            if close {
                r.keep_alive = false;
                r.delay_response = true;
            }
            r.handler_module = None;
            r.finish_with(401)
        }
        Outcome::BadRequest => {
            r.handler_module = None;
            r.finish_with(400)
        }
        Outcome::ServerError(msg) => {
            crate::log_error!("{msg}");
            r.handler_module = None;
            r.finish_with(500)
        }
    }
}

#[cfg(test)]
mod tests;
