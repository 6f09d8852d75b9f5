//! mod_setenv (lighttpd src/mod_setenv.c): add or set request headers,
//! response headers and the backend environment.
//!
//! The configuration is captured once per request, at the module's first
//! uri_clean call (later restarts reuse it). Request headers are changed
//! there, the environment when a backend asks for it (request_env), the
//! response headers at response_start — only if the uri_clean step ran.
//! Header values are trimmed; a CR/LF right after a comma becomes a space.

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::get_kvstring;
use crate::http::headers::Headers;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

type Pairs = Vec<(String, String)>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetenvConf {
    pub add_request_header: Pairs,
    pub set_request_header: Pairs,
    pub add_response_header: Pairs,
    pub set_response_header: Pairs,
    pub add_environment: Pairs,
    pub set_environment: Pairs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    AddRequestHeader,
    AddResponseHeader,
    AddEnvironment,
    SetRequestHeader,
    SetResponseHeader,
    SetEnvironment,
}

const KEYS: [(&str, Key); 6] = [
    ("setenv.add-request-header", Key::AddRequestHeader),
    ("setenv.add-response-header", Key::AddResponseHeader),
    ("setenv.add-environment", Key::AddEnvironment),
    ("setenv.set-request-header", Key::SetRequestHeader),
    ("setenv.set-response-header", Key::SetResponseHeader),
    ("setenv.set-environment", Key::SetEnvironment),
];

impl Patch for SetenvConf {
    type Item = (Key, Pairs);
    fn apply(&mut self, (key, pairs): &Self::Item) {
        let slot = match key {
            Key::AddRequestHeader => &mut self.add_request_header,
            Key::AddResponseHeader => &mut self.add_response_header,
            Key::AddEnvironment => &mut self.add_environment,
            Key::SetRequestHeader => &mut self.set_request_header,
            Key::SetResponseHeader => &mut self.set_response_header,
            Key::SetEnvironment => &mut self.set_environment,
        };
        *slot = pairs.clone();
    }
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<SetenvConf>, Vec<Diagnostic>> {
    let names: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
    Scoped::build(tree, SetenvConf::default(), &names, |name, d| {
        let key = KEYS
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, k)| *k)
            .ok_or_else(|| format!("internal: no setenv key {name}"))?;
        let mut pairs = get_kvstring(name, &d.value)?;
        if !matches!(key, Key::AddEnvironment | Key::SetEnvironment) {
            pairs
                .iter_mut()
                .for_each(|(_, v)| *v = clean_header_value(v));
        }
        Ok((key, pairs))
    })
}

/// lighttpd `mod_setenv_prep_ext`: a CR or LF right after a comma becomes
/// a space, then surrounding whitespace is trimmed.
pub fn clean_header_value(v: &str) -> String {
    let mut b = v.as_bytes().to_vec();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b',' {
            for _ in 0..2 {
                if matches!(b.get(i + 1), Some(b'\r') | Some(b'\n')) {
                    i += 1;
                    b[i] = b' ';
                }
            }
        }
        i += 1;
    }
    let s = String::from_utf8_lossy(&b).into_owned();
    s.trim_matches([' ', '\t', '\r', '\n']).to_string()
}

/// The uri_clean step: add, then set (empty value = remove) request headers.
pub fn apply_request_headers(conf: &SetenvConf, h: &mut Headers) {
    for (k, v) in &conf.add_request_header {
        h.add_joined(k, v);
    }
    for (k, v) in &conf.set_request_header {
        if v.is_empty() {
            h.remove(k);
        } else {
            h.set(k, v);
        }
    }
}

/// The response_start step: add (extra header line if present), then set.
pub fn apply_response_headers(conf: &SetenvConf, h: &mut Headers) {
    for (k, v) in &conf.add_response_header {
        if !v.is_empty() {
            h.append(k, v);
        }
    }
    for (k, v) in &conf.set_response_header {
        if v.is_empty() {
            h.remove(k);
        } else {
            h.set(k, v);
        }
    }
}

/// The request_env step: append (`, `-joined) then set variables.
pub fn apply_environment(conf: &SetenvConf, env: &mut Vec<(String, String)>) {
    for (k, v) in &conf.add_environment {
        match env.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
            Some((_, old)) if !old.is_empty() => {
                if !v.is_empty() {
                    old.push_str(", ");
                    old.push_str(v);
                }
            }
            Some((_, old)) => *old = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    for (k, v) in &conf.set_environment {
        match env.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
            Some((_, old)) => *old = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
}

/// The module.
pub struct ModSetenv {
    conf: Scoped<SetenvConf>,
}

const NAME: &str = "mod_setenv";

/// The config captured at the first uri_clean call of a request.
#[derive(Default)]
struct State {
    conf: SetenvConf,
    env_done: bool,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModSetenv {
        conf: compile(init.tree)?,
    }))
}

impl Module for ModSetenv {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> &'static [Hook] {
        &[
            Hook::UriClean,
            Hook::RequestEnv,
            Hook::ResponseStart,
            Hook::RequestReset,
        ]
    }

    fn uri_clean(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if r.plugin_ctx.get_mut::<State>(NAME).is_some() {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        apply_request_headers(&conf, &mut r.headers);
        *r.plugin_ctx.entry::<State>(NAME) = State {
            conf,
            env_done: false,
        };
        Flow::GoOn
    }

    fn request_env(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if let Some(st) = r.plugin_ctx.get_mut::<State>(NAME) {
            if !st.env_done {
                st.env_done = true;
                apply_environment(&st.conf, &mut r.env);
            }
        }
        Flow::GoOn
    }

    fn response_start(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if let Some(st) = r.plugin_ctx.get_mut::<State>(NAME) {
            apply_response_headers(&st.conf, &mut r.resp.headers);
        }
        Flow::GoOn
    }

    fn request_reset(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        r.plugin_ctx.remove(NAME);
        Flow::GoOn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Pairs {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn header_values_are_cleaned() {
        assert_eq!(clean_header_value("  a,\r\n b \t"), "a,   b");
        assert_eq!(clean_header_value("x,\ny"), "x, y");
        assert_eq!(clean_header_value("\tv\n"), "v");
    }

    #[test]
    fn request_headers_add_then_set() {
        let conf = SetenvConf {
            add_request_header: pairs(&[("X-A", "1"), ("Cookie", "b=2")]),
            set_request_header: pairs(&[("X-S", "s"), ("User-Agent", "")]),
            ..SetenvConf::default()
        };
        let mut h = Headers::new();
        h.append("X-A", "0");
        h.append("Cookie", "a=1");
        h.append("User-Agent", "curl");
        h.append("X-S", "old");
        apply_request_headers(&conf, &mut h);
        assert_eq!(h.get("x-a"), Some("0, 1"));
        assert_eq!(h.get("cookie"), Some("a=1; b=2"));
        assert_eq!(h.get("user-agent"), None);
        assert_eq!(h.get("x-s"), Some("s"));
    }

    #[test]
    fn response_headers_add_lines_and_set_replaces() {
        let conf = SetenvConf {
            add_response_header: pairs(&[("Set-Cookie", "b=2"), ("X-Empty", "")]),
            set_response_header: pairs(&[("Server", "mine"), ("X-Powered-By", "")]),
            ..SetenvConf::default()
        };
        let mut h = Headers::new();
        h.append("Set-Cookie", "a=1");
        h.append("X-Powered-By", "php");
        apply_response_headers(&conf, &mut h);
        let cookies: Vec<_> = h
            .iter()
            .filter(|(n, _)| *n == "Set-Cookie")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(h.get("server"), Some("mine"));
        assert!(!h.contains("X-Powered-By") && !h.contains("X-Empty"));
    }

    #[test]
    fn environment_add_joins_and_set_replaces() {
        let conf = SetenvConf {
            add_environment: pairs(&[("A", "2"), ("B", "new"), ("E", "")]),
            set_environment: pairs(&[("C", "set"), ("a", "over")]),
            ..SetenvConf::default()
        };
        let mut env = vec![("A".to_string(), "1".to_string())];
        apply_environment(&conf, &mut env);
        assert_eq!(
            env,
            pairs(&[("A", "over"), ("B", "new"), ("E", ""), ("C", "set")])
        );
        let conf = SetenvConf {
            add_environment: pairs(&[("A", "2")]),
            ..SetenvConf::default()
        };
        let mut env = pairs(&[("A", "1")]);
        apply_environment(&conf, &mut env);
        assert_eq!(env, pairs(&[("A", "1, 2")]));
    }
}
