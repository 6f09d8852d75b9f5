//! mod_expire (lighttpd src/mod_expire.c): `Cache-Control: max-age` (to
//! HTTP/1.1) or `Expires` (to HTTP/1.0) from `expire.url` prefixes or
//! `expire.mimetypes` Content-Type prefixes.
//!
//! Spec syntax: `access|now|modification [plus] (<num> <unit>)+` with units
//! year(s) = 360 days, month(s) = 30 days, week(s), day(s), hour(s),
//! minute(s), second(s). Applied at response_start to 200/204/206
//! responses of GET/HEAD/QUERY without a Cache-Control header.

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::get_kvstring;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

/// What an expiry is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// `access` / `now`: the request time.
    Access,
    /// `modification`: the file's mtime.
    Modification,
}

/// A parsed spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub base: Base,
    pub offset: i64,
}

type Rules = Vec<(String, Expiry)>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpireConf {
    pub url: Option<Rules>,
    pub mimetypes: Option<Rules>,
}

#[derive(Debug, Clone)]
pub enum ExpireItem {
    Url(Rules),
    Mimetypes(Rules),
}

impl Patch for ExpireConf {
    type Item = ExpireItem;
    fn apply(&mut self, item: &ExpireItem) {
        match item {
            ExpireItem::Url(r) => self.url = Some(r.clone()),
            ExpireItem::Mimetypes(r) => self.mimetypes = Some(r.clone()),
        }
    }
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<ExpireConf>, Vec<Diagnostic>> {
    Scoped::build(
        tree,
        ExpireConf::default(),
        &["expire.url", "expire.mimetypes"],
        |key, d| {
            let mut rules = Rules::new();
            for (k, v) in get_kvstring(key, &d.value)? {
                let e = parse_spec(&v).map_err(|e| format!("{e}\nparsing {key} failed: {v}"))?;
                rules.push((k, e));
            }
            if key == "expire.url" {
                return Ok(ExpireItem::Url(rules));
            }
            for (k, _) in rules.iter_mut() {
                if k.ends_with('*') {
                    k.pop();
                }
            }
            let has = |name: &str| rules.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
            if !has("text/javascript") && !has("text/") {
                if let Some(r) = rules
                    .iter_mut()
                    .find(|(k, _)| k.eq_ignore_ascii_case("application/javascript"))
                {
                    r.0 = "text/javascript".into();
                }
            }
            Ok(ExpireItem::Mimetypes(rules))
        },
    )
}

/// Parse `access plus 1 days 2 hours` (lighttpd `mod_expire_get_offset`).
pub fn parse_spec(spec: &str) -> Result<Expiry, String> {
    let (base, mut ts) = if let Some(r) = spec.strip_prefix("access ") {
        (Base::Access, r)
    } else if let Some(r) = spec.strip_prefix("now ") {
        (Base::Access, r)
    } else if let Some(r) = spec.strip_prefix("modification ") {
        (Base::Modification, r)
    } else {
        return Err(format!("invalid <base>: {spec}"));
    };
    ts = ts.strip_prefix("plus ").unwrap_or(ts);
    let mut offset: i64 = 0;
    loop {
        let Some((num, rest)) = ts.split_once(' ') else {
            return Err(format!("missing space after <num>: {ts}"));
        };
        let num: i64 = c_strtol(num).ok_or_else(|| format!("missing <type> after <num>: {ts}"))?;
        let (unit, next) = match rest.split_once(' ') {
            Some((u, n)) => (u, Some(n)),
            None => (rest, None),
        };
        let secs = unit_seconds(unit).ok_or_else(|| format!("unknown type: {rest}"))?;
        offset = offset.saturating_add(num.saturating_mul(secs));
        match next {
            Some(n) if !n.is_empty() => ts = n,
            _ => break,
        }
    }
    Ok(Expiry { base, offset })
}

/// strtol over the whole token (leading whitespace and sign allowed).
fn c_strtol(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(if t.starts_with('-') { -n } else { n })
}

fn unit_seconds(unit: &str) -> Option<i64> {
    let u = unit.strip_suffix('s').unwrap_or(unit);
    Some(match u {
        "year" => 60 * 60 * 24 * 30 * 12,
        "month" => 60 * 60 * 24 * 30,
        "week" => 60 * 60 * 24 * 7,
        "day" => 60 * 60 * 24,
        "hour" => 60 * 60,
        "minute" => 60,
        "second" => 1,
        _ => return None,
    })
}

/// The rule for a response: first `expire.url` prefix of the url path,
/// else first `expire.mimetypes` prefix of the Content-Type, else `""`.
pub fn lookup(conf: &ExpireConf, url_path: &str, content_type: Option<&str>) -> Option<Expiry> {
    if let Some((_, e)) = conf
        .url
        .iter()
        .flatten()
        .find(|(k, _)| url_path.starts_with(k.as_str()))
    {
        return Some(*e);
    }
    let mimes = conf.mimetypes.as_ref()?;
    content_type
        .and_then(|ct| mimes.iter().find(|(k, _)| ct.starts_with(k.as_str())))
        .or_else(|| mimes.iter().find(|(k, _)| k.is_empty()))
        .map(|(_, e)| *e)
}

/// Seconds from `now` the response expires (clamped at 0); None for a
/// modification-based rule without an mtime.
pub fn max_age(e: Expiry, now: i64, mtime: Option<i64>) -> Option<i64> {
    let at = match e.base {
        Base::Access => now.saturating_add(e.offset),
        Base::Modification => mtime?.saturating_add(e.offset),
    };
    Some(at.max(now) - now)
}

/// Does mod_expire look at this response at all?
pub fn applies(status: u16, get_head_query: bool, has_cache_control: bool) -> bool {
    matches!(status, 200 | 204 | 206) && get_head_query && !has_cache_control
}

/// The module.
pub struct ModExpire {
    conf: Scoped<ExpireConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModExpire {
        conf: compile(init.tree)?,
    }))
}

impl Module for ModExpire {
    fn name(&self) -> &'static str {
        "mod_expire"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::ResponseStart]
    }

    fn response_start(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        let has_cc = r.resp.headers.contains("Cache-Control");
        if !applies(r.resp.status, r.method.is_get_head_query(), has_cc) {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        let Some(rule) = lookup(&conf, &r.uri.path, r.resp.headers.get("Content-Type")) else {
            return Flow::GoOn;
        };
        let mtime = || {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&r.physical.path).ok().map(|m| m.mtime())
        };
        let mtime = if rule.base == Base::Modification {
            mtime()
        } else {
            None
        };
        let Some(age) = max_age(rule, cx.now, mtime) else {
            return Flow::GoOn;
        };
        if r.version == crate::http::h1::Version::Http10 {
            let date = crate::http::date::http_date_secs(cx.now + age);
            r.resp.headers.set("Expires", &date);
        } else {
            r.resp
                .headers
                .set("Cache-Control", &format!("max-age={age}"));
        }
        Flow::GoOn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_like_lighttpd() {
        let ok = |s: &str| parse_spec(s).expect(s);
        assert_eq!(
            ok("access plus 1 days 2 hours"),
            Expiry {
                base: Base::Access,
                offset: 86400 + 7200
            }
        );
        assert_eq!(ok("now 1 year").offset, 360 * 86400);
        assert_eq!(
            ok("modification plus 2 months 3 weeks 4 minutes 5 seconds").base,
            Base::Modification
        );
        assert_eq!(
            ok("modification plus 2 months 3 weeks 4 minutes 5 seconds").offset,
            2 * 30 * 86400 + 3 * 7 * 86400 + 240 + 5
        );
        assert_eq!(ok("access 1 second").offset, 1);
        for bad in [
            "access",
            "later plus 1 day",
            "access plus 1",
            "access plus x days",
            "access plus 1 fortnight",
            "access plus 1day",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_spec("later 1 day").unwrap_err(),
            "invalid <base>: later 1 day"
        );
    }

    #[test]
    fn lookup_order_and_clamping() {
        let e = |o| Expiry {
            base: Base::Access,
            offset: o,
        };
        let conf = ExpireConf {
            url: Some(vec![("/img/".into(), e(10)), ("/".into(), e(20))]),
            mimetypes: Some(vec![("text/".into(), e(30)), ("".into(), e(40))]),
        };
        assert_eq!(lookup(&conf, "/img/a.png", Some("image/png")), Some(e(10)));
        let only_mime = ExpireConf {
            url: Some(vec![("/img/".into(), e(10))]),
            ..conf.clone()
        };
        assert_eq!(
            lookup(&only_mime, "/a.txt", Some("text/plain")),
            Some(e(30))
        );
        assert_eq!(
            lookup(&only_mime, "/a.bin", Some("application/x")),
            Some(e(40))
        );
        assert_eq!(lookup(&only_mime, "/a.bin", None), Some(e(40)));
        assert_eq!(
            lookup(&ExpireConf::default(), "/", Some("text/plain")),
            None
        );
        assert_eq!(max_age(e(100), 1000, None), Some(100));
        let m = Expiry {
            base: Base::Modification,
            offset: 50,
        };
        assert_eq!(max_age(m, 1000, Some(900)), Some(0));
        assert_eq!(max_age(m, 1000, Some(990)), Some(40));
        assert_eq!(max_age(m, 1000, None), None);
        assert!(
            applies(206, true, false)
                && !applies(404, true, false)
                && !applies(200, false, false)
                && !applies(200, true, true)
        );
    }
}
