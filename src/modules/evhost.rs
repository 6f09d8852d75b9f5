//! mod_evhost (lighttpd src/mod_evhost.c): document root from a pattern
//! over the host name's labels, counted from the right: `%0` domain+tld,
//! `%1` tld, `%2` domain, `%3`.. further left, `%_` the whole host,
//! `%{N.M}` the M-th character of label N, `%%` a percent sign. The root
//! is used only if the directory exists.

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::get_str;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Percent,
    FullHost,
    Label(u8),
    /// Character `1..=9` of a label (0 = whole label).
    LabelChar(u8, u8),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvhostConf {
    pub pattern: Option<Vec<Piece>>,
}

impl Patch for EvhostConf {
    type Item = Option<Vec<Piece>>;
    fn apply(&mut self, item: &Self::Item) {
        self.pattern = item.clone();
    }
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<EvhostConf>, Vec<Diagnostic>> {
    Scoped::build(
        tree,
        EvhostConf::default(),
        &["evhost.path-pattern"],
        |key, d| {
            let v = get_str(key, &d.value)?;
            if v.is_empty() {
                return Ok(None);
            }
            parse_pattern(v)
                .map(Some)
                .ok_or_else(|| format!("invalid evhost.path-pattern: {v}"))
        },
    )
}

fn digit(b: Option<&u8>) -> Option<u8> {
    b.filter(|b| b.is_ascii_digit()).map(|b| b - b'0')
}

/// Compile a pattern (lighttpd `mod_evhost_parse_pattern`).
pub fn parse_pattern(p: &str) -> Option<Vec<Piece>> {
    let b = p.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut text_start) = (0, 0);
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        let (piece, len) = match b.get(i + 1) {
            Some(b'%') => (Piece::Percent, 2),
            Some(b'_') => (Piece::FullHost, 2),
            Some(c) if c.is_ascii_digit() => (Piece::Label(c - b'0'), 2),
            Some(b'{') => {
                let n = digit(b.get(i + 2))?;
                match b.get(i + 3) {
                    Some(b'.') if b.get(i + 5) == Some(&b'}') => {
                        (Piece::LabelChar(n, digit(b.get(i + 4))?), 6)
                    }
                    Some(b'}') => (Piece::Label(n), 4),
                    _ => return None,
                }
            }
            _ => return None,
        };
        if i > text_start {
            out.push(Piece::Text(p[text_start..i].to_string()));
        }
        out.push(piece);
        i += len;
        text_start = i;
    }
    if text_start < b.len() {
        out.push(Piece::Text(p[text_start..].to_string()));
    }
    Some(out)
}

/// The labels of a host: index 0 = `%0`, 1 = tld, 2 = domain, …
pub fn split_host(authority: &str) -> Vec<String> {
    if authority.starts_with('[') {
        let end = authority.find(']').map_or(authority.len(), |e| e + 1);
        return vec![authority[..end].to_string()];
    }
    let host = authority.split(':').next().unwrap_or("");
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    let n = labels.len();
    let mut out = vec![labels[n.saturating_sub(2)..].join(".")];
    out.extend(labels.iter().rev().map(|l| l.to_string()));
    out
}

/// Expand a pattern for a request authority; a trailing slash is added.
pub fn expand(pattern: &[Piece], authority: &str) -> String {
    let labels = split_host(authority);
    let label = |n: u8| labels.get(usize::from(n)).map(String::as_str).unwrap_or("");
    let mut out = String::new();
    for piece in pattern {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Percent => out.push('%'),
            Piece::FullHost => out.push_str(authority.split(':').next().unwrap_or("")),
            Piece::Label(n) | Piece::LabelChar(n, 0) => out.push_str(label(*n)),
            Piece::LabelChar(n, m) => {
                if let Some(c) = label(*n).as_bytes().get(usize::from(*m) - 1) {
                    out.push(char::from(*c));
                }
            }
        }
    }
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The module.
pub struct ModEvhost {
    conf: Scoped<EvhostConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModEvhost {
        conf: compile(init.tree)?,
    }))
}

impl Module for ModEvhost {
    fn name(&self) -> &'static str {
        "mod_evhost"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Docroot]
    }

    fn docroot(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if r.uri.authority.is_empty() {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        let Some(pattern) = conf.pattern else {
            return Flow::GoOn;
        };
        let root = expand(&pattern, &r.uri.authority);
        if std::fs::metadata(&root).is_ok_and(|m| m.is_dir()) {
            r.physical.doc_root = root;
        } else {
            crate::log_error!("{root}: No such file or directory");
        }
        Flow::GoOn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_the_right() {
        let p =
            parse_pattern("/srv/%0/%1/%2/%3/%4/%5/%_/%{3.1}/%{2.0}/%{2}/%{2.9}/%%").expect("valid");
        assert_eq!(
            expand(&p, "dbg.a.b.example.com:8081"),
            "/srv/example.com/com/example/b/a/dbg/dbg.a.b.example.com/b/example/example//%/"
        );
        assert_eq!(
            expand(&p, "localhost"),
            "/srv/localhost/localhost/////localhost/////%/"
        );
        let p = parse_pattern("/v/%0/").expect("valid");
        assert_eq!(expand(&p, "[::1]:80"), "/v/[::1]/");
        assert_eq!(expand(&p, "a..b.c"), "/v/b.c/");
    }

    #[test]
    fn pattern_errors() {
        for bad in ["/%x", "/%{a}", "/%{1.x}", "/%{1.2", "/%{12}", "%"] {
            assert_eq!(parse_pattern(bad), None, "{bad}");
        }
        assert_eq!(
            parse_pattern("a%1b").expect("ok"),
            vec![
                Piece::Text("a".into()),
                Piece::Label(1),
                Piece::Text("b".into())
            ]
        );
    }
}
