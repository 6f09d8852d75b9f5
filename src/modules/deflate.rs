//! mod_deflate (lighttpd src/mod_deflate.c): compress complete responses
//! with zstd, brotli, gzip or deflate at response_start ([`encode`]).
//!
//! Choice (lighttpd `mod_deflate_choose_encoding`): the client's
//! Accept-Encoding tokens (case-sensitive, `;q=` ignored) against the
//! `deflate.allowed-encodings` entries in config order — each entry naming
//! gzip (also x-gzip), deflate, br or zstd by substring; the first entry the
//! client accepts wins, zstd > br > gzip > x-gzip > deflate inside it.
//! 1.4.69 compresses nothing without that key; `()` means zstd, br, then
//! gzip/x-gzip/deflate together. Content-Type must prefix-match
//! `deflate.mimetypes`. `Vary: Accept-Encoding` is added (`,Accept-Encoding`
//! appended to another Vary), the ETag gets `-<encoding>`, and an
//! If-None-Match naming that ETag gives 304 (GET/HEAD) or 412, before the
//! `deflate.max-loadavg` test. `deflate.cache-dir` keeps compressed copies
//! of whole static files ([`cache`]).
//!
//! Streamed (incomplete) responses are not compressed, as in 1.4.69; the
//! body is compressed in one call, so `deflate.output-buffer-size` and
//! `deflate.work-block-size`, which only shape lighttpd's incremental
//! output, are accepted and change nothing.
//! `deflate.params` tunes the encoders ([`params`]). Not implemented:
//! bzip2 (1.4.69 Debian builds lack it too).

pub mod cache;
pub mod encode;
pub mod params;

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_int, get_list, get_short, get_str};
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;
pub use encode::{compress, Encoding};

/// Accept-Encoding flags (lighttpd `HTTP_ACCEPT_ENCODING_*`).
pub mod flag {
    pub const GZIP: u8 = 1;
    pub const X_GZIP: u8 = 2;
    pub const DEFLATE: u8 = 4;
    pub const BR: u8 = 8;
    pub const ZSTD: u8 = 16;
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeflateConf {
    /// Content-Type prefixes; None = module inactive.
    pub mimetypes: Option<Vec<String>>,
    /// Accepted flag sets in preference order; None = not configured
    /// (1.4.69: compress nothing).
    pub allowed: Option<Vec<u8>>,
    pub min_size: u64,
    /// KiB.
    pub max_size_kib: u64,
    pub level: Option<u32>,
    pub max_loadavg: Option<f64>,
    /// `deflate.cache-dir` without its trailing slash.
    pub cache_dir: Option<String>,
    /// `deflate.params`.
    pub params: Option<params::Params>,
}

impl Default for DeflateConf {
    fn default() -> Self {
        DeflateConf {
            mimetypes: None,
            allowed: None,
            min_size: 256,
            max_size_kib: 131_072,
            level: None,
            max_loadavg: None,
            cache_dir: None,
            params: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Item {
    Mimetypes(Vec<String>),
    Allowed(Vec<u8>),
    Min(u64),
    Max(u64),
    Level(Option<u32>),
    Loadavg(Option<f64>),
    CacheDir(Option<String>),
    Params(Option<params::Params>),
    /// Accepted, no effect on complete bodies (output-buffer-size,
    /// work-block-size).
    Ignored,
}

impl Patch for DeflateConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Mimetypes(m) => self.mimetypes = Some(m.clone()),
            Item::Allowed(a) => self.allowed = Some(a.clone()),
            Item::Min(n) => self.min_size = *n,
            Item::Max(n) => self.max_size_kib = *n,
            Item::Level(l) => self.level = *l,
            Item::Loadavg(l) => self.max_loadavg = *l,
            Item::CacheDir(d) => self.cache_dir = d.clone(),
            Item::Params(p) => self.params = *p,
            Item::Ignored => {}
        }
    }
}

/// `deflate.allowed-encodings` entries → flag sets, in order (substring
/// tests as lighttpd: one entry may name several; encodings not built in
/// are dropped; `()` = zstd, br, then gzip/x-gzip/deflate as one set).
pub fn parse_allowed(list: &[String]) -> Vec<u8> {
    let br = Encoding::Brotli.available();
    let zstd = Encoding::Zstd.available();
    if list.is_empty() {
        let mut out = Vec::new();
        if zstd {
            out.push(flag::ZSTD);
        }
        if br {
            out.push(flag::BR);
        }
        out.push(flag::GZIP | flag::X_GZIP | flag::DEFLATE);
        return out;
    }
    let mut out = Vec::new();
    for e in list {
        if e.contains("gzip") {
            out.push(flag::GZIP | flag::X_GZIP);
        }
        if e.contains("deflate") {
            out.push(flag::DEFLATE);
        }
        if br && e.contains("br") {
            out.push(flag::BR);
        }
        if zstd && e.contains("zstd") {
            out.push(flag::ZSTD);
        }
    }
    out
}

/// Mimetype entries: trailing `*` dropped, application/javascript →
/// text/javascript.
pub fn parse_mimetypes(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|m| {
            let m = m.strip_suffix('*').unwrap_or(m);
            match m.strip_prefix("application/javascript") {
                Some(rest) => format!("text/javascript{rest}"),
                None => m.to_string(),
            }
        })
        .collect()
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<DeflateConf>, Vec<Diagnostic>> {
    let keys = [
        "deflate.mimetypes",
        "compress.filetype",
        "deflate.allowed-encodings",
        "compress.allowed-encodings",
        "deflate.max-compress-size",
        "compress.max-filesize",
        "deflate.min-compress-size",
        "deflate.compression-level",
        "deflate.max-loadavg",
        "compress.max-loadavg",
        "deflate.cache-dir",
        "compress.cache-dir",
        "deflate.output-buffer-size",
        "deflate.work-block-size",
        "deflate.params",
    ];
    Scoped::build(tree, DeflateConf::default(), &keys, |key, d| {
        let v = &d.value;
        Ok(match key {
            "deflate.mimetypes" | "compress.filetype" => {
                Item::Mimetypes(parse_mimetypes(&get_list(key, v)?))
            }
            "deflate.allowed-encodings" | "compress.allowed-encodings" => {
                Item::Allowed(parse_allowed(&get_list(key, v)?))
            }
            "deflate.max-compress-size" | "compress.max-filesize" => {
                // 0 = no limit (lighttpd tests `max && len > max`)
                Item::Max(u64::from(get_int(key, v)?))
            }
            "deflate.cache-dir" | "compress.cache-dir" => cache_dir(key, get_str(key, v)?)?,
            "deflate.params" => {
                let arr = crate::config::validate::get_kvany(key, v)?;
                let (p, log) = params::parse(arr);
                for line in log {
                    crate::log_error!("{line}");
                }
                Item::Params(Some(p))
            }
            "deflate.output-buffer-size" | "deflate.work-block-size" => {
                get_short(key, v)?;
                Item::Ignored
            }
            "deflate.min-compress-size" => Item::Min(u64::from(get_short(key, v)?)),
            "deflate.compression-level" => {
                let s = match v {
                    crate::config::value::Value::Int(i) => *i as i64,
                    crate::config::value::Value::Str(s) => s
                        .trim()
                        .parse()
                        .map_err(|_| format!("{key} must be an integer"))?,
                    _ => return Err(format!("{key} must be an integer")),
                };
                match s {
                    -1 => Item::Level(None),
                    1..=9 => Item::Level(Some(s as u32)),
                    _ => return Err(format!("compression-level must be between 1 and 9: {s}")),
                }
            }
            _ => {
                let s = get_str(key, v)?;
                Item::Loadavg(if s.is_empty() {
                    None
                } else {
                    s.trim().parse().ok()
                })
            }
        })
    })
}

/// `deflate.cache-dir`: trailing slash dropped, created if missing.
fn cache_dir(key: &str, dir: &str) -> Result<Item, String> {
    if dir.trim().is_empty() {
        return Ok(Item::CacheDir(None));
    }
    let dir = if dir.len() > 1 {
        dir.strip_suffix('/').unwrap_or(dir)
    } else {
        dir
    };
    cache::make_dir(dir).map_err(|e| format!("can't stat {key} {dir} {e}"))?;
    Ok(Item::CacheDir(Some(dir.to_string())))
}

/// The encodings an Accept-Encoding value names (lighttpd's tokenizer:
/// tokens split at space and comma, `;...` skipped, compared exactly).
pub fn client_flags(accept: &str) -> u8 {
    let mut flags = 0;
    for part in accept.split(',') {
        let token_part = part.split(';').next().unwrap_or("");
        for token in token_part.split(' ') {
            flags |= match token {
                "gzip" => flag::GZIP,
                "x-gzip" => flag::X_GZIP,
                "deflate" => flag::DEFLATE,
                "br" if Encoding::Brotli.available() => flag::BR,
                "zstd" if Encoding::Zstd.available() => flag::ZSTD,
                _ => 0,
            };
        }
    }
    flags
}

/// Pick the encoding: the first allowed set the client accepts, then
/// zstd > br > gzip > x-gzip > deflate within it.
pub fn choose(allowed: &[u8], accept: &str) -> Option<(Encoding, &'static str)> {
    let client = client_flags(accept);
    let set = allowed.iter().find(|&&f| f & client != 0)? & client;
    [
        (flag::ZSTD, Encoding::Zstd, "zstd"),
        (flag::BR, Encoding::Brotli, "br"),
        (flag::GZIP, Encoding::Gzip, "gzip"),
        (flag::X_GZIP, Encoding::Gzip, "x-gzip"),
        (flag::DEFLATE, Encoding::Deflate, "deflate"),
    ]
    .into_iter()
    .find(|(f, _, _)| set & f != 0)
    .map(|(_, e, l)| (e, l))
}

/// Does the Content-Type match a configured prefix?
pub fn mimetype_ok(mimetypes: &[String], content_type: Option<&str>) -> bool {
    match content_type {
        None => mimetypes.first().is_some_and(|m| m.is_empty()),
        Some(ct) => mimetypes
            .iter()
            .any(|m| !m.is_empty() && ct.starts_with(m.as_str())),
    }
}

/// `"xyz"` → `"xyz-gzip"`.
pub fn etag_with(etag: &str, label: &str) -> String {
    match etag.strip_suffix('"') {
        Some(base) => format!("{base}-{label}\""),
        None => format!("{etag}-{label}"),
    }
}

fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The module.
pub struct ModDeflate {
    conf: Scoped<DeflateConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModDeflate {
        conf: compile(init.tree)?,
    }))
}

/// Add `Accept-Encoding` to Vary; true if a Vary was there before.
fn add_vary(r: &mut Request) -> bool {
    match r.resp.headers.get("Vary").map(str::to_string) {
        Some(v) if crate::http::headers::contains_token(&v, "Accept-Encoding") => true,
        Some(v) => {
            r.resp.headers.set("Vary", &format!("{v},Accept-Encoding"));
            true
        }
        None => {
            r.resp.headers.append("Vary", "Accept-Encoding");
            false
        }
    }
}

/// If-None-Match naming the compressed variant's ETag (lighttpd compares
/// the ETag without its closing quote, then `-<label>`): 304 for GET/HEAD
/// (with the variant's ETag), else 412; the body is dropped.
fn variant_not_modified(r: &mut Request, etag: &str, label: &str) -> Option<Flow> {
    let base = etag.strip_suffix('"').unwrap_or(etag);
    let prefix = format!("{base}-{label}");
    let inm = r.headers.get("If-None-Match")?;
    if r.resp.status >= 300 || !inm.starts_with(&prefix) {
        return None;
    }
    r.resp.body.reset();
    r.resp.headers.remove("Content-Length");
    Some(if r.method.is_get_or_head() {
        r.resp.headers.set("ETag", &etag_with(etag, label));
        r.finish_with(304)
    } else {
        r.finish_with(412)
    })
}

/// The cache file for this response, if it may be cached: a whole static
/// file (one file chunk from offset 0, not a temp file, as long as the
/// file; or a small static file read into memory), an ETag, no Vary before ours, no `Cache-Control: private` or
/// `no-store`.
fn cache_name(r: &Request, dir: &str, had_vary: bool, len: u64) -> Option<String> {
    let etag = r.resp.headers.get("ETag")?;
    if had_vary || etag.len() <= 2 || r.resp.status == 206 {
        return None;
    }
    if let Some(cc) = r.resp.headers.get("Cache-Control") {
        let has = |t| crate::http::headers::contains_token(cc, t);
        if has("private") || has("no-store") {
            return None;
        }
    }
    let whole = match r.resp.body.single_file() {
        Some((file, off, flen, temp)) => {
            off == 0 && !temp && flen == len && file.metadata().is_ok_and(|m| m.len() == len)
        }
        // mod_staticfile reads small files into memory: it must be that file
        None => {
            r.handler_module.is_none()
                && std::fs::metadata(&r.physical.path).is_ok_and(|m| m.is_file() && m.len() == len)
        }
    };
    whole.then(|| cache::file_name(dir, &r.physical.path, etag))
}

/// Replace the body with a file (a cached compressed copy).
fn serve_file(r: &mut Request, file: std::fs::File, len: u64) {
    r.resp.body.reset();
    r.resp.body.append_file(std::rc::Rc::new(file), 0, len);
    r.resp.headers.remove("Content-Length");
}

impl Module for ModDeflate {
    fn name(&self) -> &'static str {
        "mod_deflate"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::ResponseStart]
    }

    fn response_start(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if !r.resp.complete || r.is_head() || matches!(r.resp.status, 100 | 101 | 204 | 205 | 304) {
            return Flow::GoOn;
        }
        if r.resp.headers.contains("Content-Encoding")
            || r.resp.headers.contains("Transfer-Encoding")
        {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        let (Some(mimes), Some(allowed)) = (&conf.mimetypes, &conf.allowed) else {
            return Flow::GoOn;
        };
        let len = r.resp.body.len();
        if len <= conf.min_size || len > max_body(conf.max_size_kib) {
            return Flow::GoOn;
        }
        let Some(accept) = r.headers.get_all_joined("Accept-Encoding") else {
            return Flow::GoOn;
        };
        let Some((enc, label)) = choose(allowed, &accept) else {
            return Flow::GoOn;
        };
        if !mimetype_ok(mimes, r.resp.headers.get("Content-Type")) {
            return Flow::GoOn;
        }
        let had_vary = add_vary(r);
        let etag = r.resp.headers.get("ETag").map(str::to_string);
        if let Some(flow) = etag
            .as_deref()
            .and_then(|e| variant_not_modified(r, e, label))
        {
            return flow;
        }
        if conf
            .max_loadavg
            .is_some_and(|max| max > 0.0 && loadavg().is_some_and(|l| l > max))
        {
            return Flow::GoOn;
        }
        if let Some(etag) = &etag {
            r.resp.headers.set("ETag", &etag_with(etag, label));
        }
        let cached = conf
            .cache_dir
            .as_deref()
            .and_then(|dir| cache_name(r, dir, had_vary, len));
        if let Some((file, clen)) = cached.as_deref().and_then(cache::lookup) {
            r.resp.headers.set("Content-Encoding", label);
            serve_file(r, file, clen);
            return Flow::GoOn;
        }
        let mut data = Vec::with_capacity(len as usize);
        if r.resp.body.read_into(&mut data, len as usize).is_err() {
            return Flow::GoOn;
        }
        let ctype = r.resp.headers.get("Content-Type");
        let out = match compress(enc, conf.level, conf.params.as_ref(), ctype, &data) {
            Ok(out) => out,
            Err(e) => {
                crate::log_error!("Failed to initialize compression {label} {e}");
                if let Some(etag) = &etag {
                    r.resp.headers.set("ETag", etag);
                }
                r.resp.body.append_vec(data);
                return Flow::GoOn;
            }
        };
        r.resp.headers.set("Content-Encoding", label);
        if let Some(name) = cached {
            match cache::store(&name, &out) {
                Ok((file, clen)) => {
                    serve_file(r, file, clen);
                    return Flow::GoOn;
                }
                Err(e) => crate::log_error!("writing cache file {name} failed: {e}"),
            }
        }
        r.resp.body.reset();
        r.resp.headers.set("Content-Length", &out.len().to_string());
        r.resp.body.append_vec(out);
        Flow::GoOn
    }
}

/// The largest body compressed: `deflate.max-compress-size` (KiB), and with
/// 0 ("no limit") still 128 MiB — bodies are compressed in memory in one
/// call, so a multi-GB file must not be (README "Differences").
fn max_body(max_size_kib: u64) -> u64 {
    const IN_MEMORY_CAP: u64 = 128 << 20;
    match max_size_kib {
        0 => IN_MEMORY_CAP,
        kib => kib.saturating_mul(1024),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_max_compress_size_still_bounds_the_in_memory_body() {
        assert_eq!(max_body(0), 128 << 20);
        assert_eq!(max_body(1), 1024);
        assert_eq!(max_body(1 << 20), 1 << 30);
        assert_eq!(max_body(u64::MAX), u64::MAX);
    }

    #[test]
    fn negotiation_follows_config_order_and_is_case_sensitive() {
        let all = parse_allowed(&["gzip".into(), "deflate".into(), "bzip2".into()]);
        assert_eq!(all, [flag::GZIP | flag::X_GZIP, flag::DEFLATE]);
        assert_eq!(
            choose(&all, "deflate, gzip"),
            Some((Encoding::Gzip, "gzip"))
        );
        assert_eq!(choose(&all, "br, x-gzip"), Some((Encoding::Gzip, "x-gzip")));
        assert_eq!(
            choose(&all, "x-gzip, gzip"),
            Some((Encoding::Gzip, "gzip")),
            "gzip before x-gzip whatever the client's order"
        );
        assert_eq!(
            choose(&all, "gzip;q=0"),
            Some((Encoding::Gzip, "gzip")),
            "q ignored"
        );
        assert_eq!(choose(&all, "GZIP"), None, "case-sensitive");
        assert_eq!(choose(&all, "*"), None);
        assert_eq!(
            choose(&[flag::DEFLATE], "gzip, deflate"),
            Some((Encoding::Deflate, "deflate"))
        );
        assert_eq!(
            parse_allowed(&["gzip, deflate".into()]),
            [flag::GZIP | flag::X_GZIP, flag::DEFLATE],
            "one entry may name several"
        );
    }

    #[test]
    fn brotli_and_zstd_when_built_in() {
        let all = parse_allowed(&[]);
        let want_br = cfg!(feature = "brotli");
        let want_zstd = cfg!(feature = "zstd");
        assert_eq!(all.len(), 1 + usize::from(want_br) + usize::from(want_zstd));
        let got = choose(&all, "gzip, deflate, br, zstd").map(|c| c.1);
        let best = if want_zstd {
            "zstd"
        } else if want_br {
            "br"
        } else {
            "gzip"
        };
        assert_eq!(got, Some(best), "() prefers zstd, then br");
        let brotli_first = parse_allowed(&["brotli".into(), "gzip".into()]);
        let got = choose(&brotli_first, "gzip, br").map(|c| c.1);
        assert_eq!(got, Some(if want_br { "br" } else { "gzip" }));
        assert_eq!(
            choose(&parse_allowed(&[]), "gzip, deflate").map(|c| c.1),
            Some("gzip"),
            "gzip, x-gzip and deflate form one set"
        );
    }

    #[test]
    fn mimetypes_and_etags() {
        let m = parse_mimetypes(&["text/*".into(), "application/javascript".into()]);
        assert_eq!(m, ["text/", "text/javascript"]);
        assert!(mimetype_ok(&m, Some("text/html; charset=utf-8")));
        assert!(!mimetype_ok(&m, Some("image/png")));
        assert!(!mimetype_ok(&m, None));
        assert!(mimetype_ok(&["".into(), "text/".into()], None));
        assert_eq!(etag_with("\"123\"", "gzip"), "\"123-gzip\"");
        assert_eq!(etag_with("W/\"1\"", "deflate"), "W/\"1-deflate\"");
    }
}
