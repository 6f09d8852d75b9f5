//! mod_deflate (lighttpd src/mod_deflate.c): compress complete responses
//! with gzip or deflate (zlib) at response_start.
//!
//! Choice: the first `deflate.allowed-encodings` entry (config order) the
//! client's Accept-Encoding names (tokens compared case-sensitively, `;q=`
//! ignored); 1.4.69 compresses nothing without that key, `()` means all.
//! Content-Type must prefix-match `deflate.mimetypes`. `Vary:
//! Accept-Encoding` is added, the ETag gets `-<encoding>`, and an
//! If-None-Match naming that ETag gives 304 (GET/HEAD) or 412.
//! Not implemented: brotli, zstd, bzip2, `deflate.cache-dir`.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_int, get_list, get_short, get_str};
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

/// Encodings this build can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Deflate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeflateConf {
    /// Content-Type prefixes; None = module inactive.
    pub mimetypes: Option<Vec<String>>,
    /// None = not configured (1.4.69: compress nothing).
    pub allowed: Option<Vec<Encoding>>,
    pub min_size: u64,
    /// KiB.
    pub max_size_kib: u64,
    pub level: Option<u32>,
    pub max_loadavg: Option<f64>,
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
        }
    }
}

#[derive(Debug, Clone)]
pub enum Item {
    Mimetypes(Vec<String>),
    Allowed(Vec<Encoding>),
    Min(u64),
    Max(u64),
    Level(Option<u32>),
    Loadavg(Option<f64>),
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
        }
    }
}

/// `deflate.allowed-encodings` entries → encodings (substring tests as
/// lighttpd; unavailable ones are dropped; `()` = all available).
pub fn parse_allowed(list: &[String]) -> Vec<Encoding> {
    if list.is_empty() {
        return vec![Encoding::Gzip, Encoding::Deflate];
    }
    let mut out = Vec::new();
    for e in list {
        let enc = if e.contains("gzip") {
            Encoding::Gzip
        } else if e.contains("deflate") {
            Encoding::Deflate
        } else {
            continue;
        };
        if !out.contains(&enc) {
            out.push(enc);
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
                let n = u64::from(get_int(key, v)?);
                Item::Max(if n == 0 { 131_072 } else { n })
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
                    _ => {
                        return Err("compression-level must be between 1 and 9:".to_string()
                            + &s.to_string())
                    }
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

/// The client's token for an encoding in Accept-Encoding (case-sensitive,
/// parameters ignored).
pub fn client_label(accept: &str, enc: Encoding) -> Option<&'static str> {
    let tokens = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim_matches([' ', '\t']));
    for t in tokens {
        match (enc, t) {
            (Encoding::Gzip, "gzip") => return Some("gzip"),
            (Encoding::Gzip, "x-gzip") => return Some("x-gzip"),
            (Encoding::Deflate, "deflate") => return Some("deflate"),
            _ => {}
        }
    }
    None
}

/// Pick the encoding: config order wins over client order.
pub fn choose(allowed: &[Encoding], accept: &str) -> Option<(Encoding, &'static str)> {
    allowed
        .iter()
        .find_map(|e| client_label(accept, *e).map(|l| (*e, l)))
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

/// Compress a whole body in one call (zlib's deflate with Z_FINISH, as
/// lighttpd does for a complete response, so the output matches zlib
/// byte for byte). gzip: zlib's header (no name, mtime 0, OS unix).
pub fn compress(enc: Encoding, level: Option<u32>, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let level = level.map_or(Compression::default(), Compression::new);
    let zlib = enc == Encoding::Deflate;
    let mut c = Compress::new(level, zlib);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    if !zlib {
        let xfl = match level.level() {
            9 => 2,
            1 => 4,
            _ => 0,
        };
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
    }
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(
                &data[consumed.min(data.len())..],
                &mut out,
                FlushCompress::Finish,
            )
            .map_err(std::io::Error::other)?;
        if status == Status::StreamEnd {
            break;
        }
        out.reserve(out.capacity().max(4096));
    }
    if !zlib {
        let mut crc = Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    }
    Ok(out)
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

fn add_vary(r: &mut Request) {
    match r.resp.headers.get("Vary").map(str::to_string) {
        Some(v) if crate::http::headers::contains_token(&v, "Accept-Encoding") => {}
        Some(v) => r.resp.headers.set("Vary", &format!("{v}, Accept-Encoding")),
        None => r.resp.headers.append("Vary", "Accept-Encoding"),
    }
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
        if len <= conf.min_size || len > conf.max_size_kib * 1024 {
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
        add_vary(r);
        if conf
            .max_loadavg
            .is_some_and(|max| loadavg().is_some_and(|l| l > max))
        {
            return Flow::GoOn;
        }
        if let Some(etag) = r.resp.headers.get("ETag").map(str::to_string) {
            let new_tag = etag_with(&etag, label);
            let base = etag.strip_suffix('"').unwrap_or(&etag);
            let prefix = format!("{base}-{label}");
            let inm = r.headers.get("If-None-Match").map(str::to_string);
            r.resp.headers.set("ETag", &new_tag);
            if r.resp.status < 300 && inm.is_some_and(|v| v.starts_with(&prefix)) {
                r.resp.body.reset();
                r.resp.headers.remove("Content-Length");
                return if r.method.is_get_or_head() {
                    r.finish_with(304)
                } else {
                    r.finish_with(412)
                };
            }
        }
        let mut data = Vec::with_capacity(len as usize);
        if r.resp.body.read_into(&mut data, len as usize).is_err() {
            return Flow::GoOn;
        }
        let out = match compress(enc, conf.level, &data) {
            Ok(out) => out,
            Err(_) => {
                r.resp.body.append_vec(data);
                return Flow::GoOn;
            }
        };
        r.resp.body.reset();
        r.resp.headers.set("Content-Encoding", label);
        r.resp.headers.set("Content-Length", &out.len().to_string());
        r.resp.body.append_vec(out);
        Flow::GoOn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn negotiation_follows_config_order_and_is_case_sensitive() {
        let all = parse_allowed(&["gzip".into(), "deflate".into(), "br".into()]);
        assert_eq!(all, [Encoding::Gzip, Encoding::Deflate]);
        assert_eq!(
            choose(&all, "deflate, gzip"),
            Some((Encoding::Gzip, "gzip"))
        );
        assert_eq!(choose(&all, "br, x-gzip"), Some((Encoding::Gzip, "x-gzip")));
        assert_eq!(
            choose(&all, "gzip;q=0"),
            Some((Encoding::Gzip, "gzip")),
            "q ignored"
        );
        assert_eq!(choose(&all, "GZIP"), None, "case-sensitive");
        assert_eq!(choose(&all, "*"), None);
        assert_eq!(
            choose(&[Encoding::Deflate], "gzip, deflate"),
            Some((Encoding::Deflate, "deflate"))
        );
        assert_eq!(parse_allowed(&[]), [Encoding::Gzip, Encoding::Deflate]);
        assert_eq!(parse_allowed(&["brotli".into(), "zstd".into()]), []);
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

    #[test]
    fn compressed_output_round_trips() {
        let data = b"hello hello hello hello hello hello hello".repeat(50);
        let gz = compress(Encoding::Gzip, None, &data).expect("gzip");
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, data);
        let z = compress(Encoding::Deflate, Some(9), &data).expect("zlib");
        let mut back = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut back)
            .expect("inflate");
        assert_eq!(back, data);
    }

    #[test]
    fn sizes_match_zlib() {
        // zlib.compress(data, 6) of this input is 1294 bytes (Python's zlib).
        let data =
            std::fs::read("/work/ref/lighttpd-1.4.69/tests/docroot/index.html").unwrap_or_default();
        if data.len() == 4348 {
            assert_eq!(
                compress(Encoding::Deflate, None, &data)
                    .map(|v| v.len())
                    .ok(),
                Some(1294)
            );
            assert_eq!(
                compress(Encoding::Gzip, None, &data).map(|v| v.len()).ok(),
                Some(1306)
            );
        }
        assert!(compress(Encoding::Gzip, None, b"").is_ok_and(|v| v.len() >= 18));
    }
}
