//! `lighttpd check`: load a configuration, run every check lighttpd's
//! `-t`/`-tt` would, and print every problem rustc-style (or as JSON
//! lines), with "did you mean" help, plus advice on conditions that can
//! never match; `--explain` shows how one request would be configured.
//!
//! ```text
//! lighttpd check [-f FILE] [--format text|json]
//!                [--explain [--host H] [--url U] [--remote-ip IP] [--method M]
//!                           [--scheme S] [--socket ADDR] [--header 'Name: value']...]
//! ```

use std::fmt::Write as _;

use super::cond::CondField;
use super::diagnostic::{Diagnostic, Severity};
use super::directive::suggest;
use super::explain::explain;
use super::scoped::RequestFacts;
use super::source::SourceMap;
use super::tree::ConfigTree;
use super::validate::{listen::default_port, preflight, syntax_check};

/// The default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/lighttpd/lighttpd.conf";

/// The usage text of `lighttpd check`.
pub const USAGE: &str = "usage: lighttpd check [-f FILE] [--format text|json]\n\
    \x20      [--explain [--host H] [--url U] [--remote-ip IP] [--method M] [--scheme S]\n\
    \x20                  [--socket ADDR] [--header 'Name: value']...]\n";

/// The request `--explain` describes; None = not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExplainRequest {
    pub host: Option<String>,
    pub url: Option<String>,
    pub remote_ip: Option<String>,
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub socket: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// Parsed `check` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    pub file: String,
    pub json: bool,
    pub explain: Option<ExplainRequest>,
}

/// Parse the arguments after `check` (a leading `check` is skipped).
pub fn parse_args(args: &[String]) -> Result<CheckOptions, String> {
    let mut opts = CheckOptions {
        file: DEFAULT_CONFIG.to_string(),
        json: false,
        explain: None,
    };
    let mut req = ExplainRequest::default();
    let mut it = args.iter().skip_while(|a| *a == "check");
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("option {name} needs a value"))
        };
        match arg.as_str() {
            "-f" | "--file" => opts.file = value(arg)?,
            "--format" => match value(arg)?.as_str() {
                "json" => opts.json = true,
                "text" => opts.json = false,
                other => return Err(format!("unknown format: {other} (expected text or json)")),
            },
            "--explain" => opts.explain = Some(ExplainRequest::default()),
            "--host" => req.host = Some(value(arg)?),
            "--url" => req.url = Some(value(arg)?),
            "--remote-ip" => req.remote_ip = Some(value(arg)?),
            "--method" => req.method = Some(value(arg)?),
            "--scheme" => req.scheme = Some(value(arg)?),
            "--socket" => req.socket = Some(value(arg)?),
            "--header" => {
                let h = value(arg)?;
                let (n, v) = h
                    .split_once(':')
                    .ok_or_else(|| format!("--header wants 'Name: value', got: {h}"))?;
                req.headers
                    .push((n.trim().to_string(), v.trim().to_string()));
            }
            other => return Err(format!("unknown option: {other}")),
        }
    }
    if opts.explain.is_some() {
        opts.explain = Some(req);
    } else if req != ExplainRequest::default() {
        return Err("request options need --explain".to_string());
    }
    Ok(opts)
}

/// The request data of `--explain`: url split into path and query;
/// method GET and scheme http unless given; the socket defaults to the
/// main listener.
pub fn request_facts(req: &ExplainRequest, tree: &ConfigTree) -> RequestFacts {
    let mut fields = Vec::new();
    let mut add = |f: CondField, v: Option<String>| {
        if let Some(v) = v {
            fields.push((f, v));
        }
    };
    let (path, query) = match &req.url {
        Some(u) => match u.split_once('?') {
            Some((p, q)) => (Some(p.to_string()), Some(q.to_string())),
            None => (Some(u.clone()), Some(String::new())),
        },
        None => (None, None),
    };
    add(CondField::Url, path);
    add(CondField::QueryString, query);
    let host_header = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.clone());
    let host = req.host.clone().or(host_header);
    add(CondField::Host, host.map(|h| h.to_ascii_lowercase()));
    add(CondField::RemoteIp, req.remote_ip.clone());
    add(
        CondField::RequestMethod,
        Some(req.method.clone().unwrap_or_else(|| "GET".into())),
    );
    add(
        CondField::Scheme,
        Some(req.scheme.clone().unwrap_or_else(|| "http".into())),
    );
    let socket = req.socket.clone().unwrap_or_else(|| main_socket(tree));
    add(CondField::ServerSocket, Some(socket));
    RequestFacts {
        fields,
        headers: Some(req.headers.clone()),
    }
}

/// The text `$SERVER["socket"]` compares for the main listener.
fn main_socket(tree: &ConfigTree) -> String {
    let bind = tree
        .global()
        .get("server.bind")
        .and_then(|d| d.value.as_str())
        .unwrap_or("");
    if bind.starts_with(['/', '\\']) {
        return bind.to_string();
    }
    let host = if bind.is_empty() { "0.0.0.0" } else { bind };
    format!("{host}:{}", default_port(tree))
}

/// The condition fields lighttpd 1.4.69 accepts, for suggestions.
const COND_FIELDS: [&str; 16] = [
    "$HTTP[\"host\"]",
    "$HTTP[\"url\"]",
    "$HTTP[\"querystring\"]",
    "$HTTP[\"query-string\"]",
    "$HTTP[\"remoteip\"]",
    "$HTTP[\"remote-ip\"]",
    "$HTTP[\"scheme\"]",
    "$HTTP[\"request-method\"]",
    "$HTTP[\"referer\"]",
    "$HTTP[\"useragent\"]",
    "$HTTP[\"user-agent\"]",
    "$HTTP[\"language\"]",
    "$HTTP[\"cookie\"]",
    "$REQUEST_HEADER[\"...\"]",
    "$SERVER[\"socket\"]",
    "$HTTP[\"request-header\"]",
];

/// "did you mean" for an unknown condition field (`error comp_key ...`).
fn cond_field_suggestion(message: &str) -> Option<String> {
    let rest = message.split("comp_key ").nth(1)?;
    let field = &rest[..=rest.find(']')?];
    let name = field.split('"').nth(1).unwrap_or("");
    let candidates = COND_FIELDS
        .iter()
        .copied()
        .filter(|c| *c != "$HTTP[\"request-header\"]");
    let best = suggest(field, candidates.clone()).or_else(|| {
        candidates
            .clone()
            .find(|c| !name.is_empty() && c.contains(&format!("-{name}\"")))
    })?;
    Some(format!("did you mean `{best}`?"))
}

fn with_field_help(mut d: Diagnostic) -> Diagnostic {
    if d.message.contains("comp_key ") {
        if let Some(help) = cond_field_suggestion(&d.message) {
            d.help = Some(help);
        }
    }
    d
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One diagnostic as a JSON object (one line).
pub fn to_json(d: &Diagnostic, sources: &SourceMap) -> String {
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!(
        "{{\"severity\":\"{sev}\",\"message\":{}",
        json_str(&d.message)
    );
    if let Some(src) = d.span.and_then(|s| sources.get(s.file).map(|src| (s, src))) {
        let (span, src) = src;
        let (line, col) = src.line_col(span.start);
        let _ = write!(
            out,
            ",\"file\":{},\"line\":{line},\"column\":{col}",
            json_str(&src.name())
        );
    }
    if let Some(h) = &d.help {
        let _ = write!(out, ",\"help\":{}", json_str(h));
    }
    out.push('}');
    out
}

/// A diagnostic for text output: without lighttpd's own `ERROR: ` /
/// `WARNING: ` / `Warning: ` prefix (the severity is shown already).
fn display(d: &Diagnostic) -> Diagnostic {
    let mut d = d.clone();
    // (lighttpd writes a literal `\n` at the end of a few messages)
    d.message = d.message.trim_end_matches("\\n").to_string();
    for prefix in ["ERROR: ", "WARNING: ", "Warning: "] {
        if let Some(rest) = d.message.strip_prefix(prefix) {
            d.message = rest.to_string();
            break;
        }
    }
    d
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Render diagnostics (and the optional explanation); returns the text and
/// the exit status (255 if any error, as lighttpd).
pub fn report(
    diags: &[Diagnostic],
    sources: &SourceMap,
    json: bool,
    explanation: Option<&str>,
) -> (String, i32) {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let mut out = String::new();
    for d in diags {
        if json {
            out += &to_json(d, sources);
            out.push('\n');
        } else {
            out += &display(d).render(sources);
            out.push('\n');
        }
    }
    if let Some(text) = explanation {
        if json {
            out += &format!("{{\"explain\":{}}}\n", json_str(text));
        } else {
            out += text;
        }
    }
    if !json {
        out += &if errors > 0 {
            format!(
                "check failed: {}, {}\n",
                plural(errors, "error"),
                plural(warnings, "warning")
            )
        } else if warnings > 0 {
            format!("configuration OK ({})\n", plural(warnings, "warning"))
        } else {
            "configuration OK\n".to_string()
        };
    }
    (out, if errors > 0 { 255 } else { 0 })
}

/// What a config loader returns on failure: its diagnostics and sources.
pub type LoadFailure = (Vec<Diagnostic>, SourceMap);

/// `check` with a given loader; returns the output text and exit status.
pub fn check_with(
    args: &[String],
    load: impl FnOnce(&str) -> Result<ConfigTree, LoadFailure>,
) -> (String, i32) {
    check_with_preflight(args, load, preflight)
}

/// [`check_with`], the `-tt` phases given by the caller (the binary passes
/// the built-in modules: those not built in and module set-up errors count).
pub fn check_with_preflight(
    args: &[String],
    load: impl FnOnce(&str) -> Result<ConfigTree, LoadFailure>,
    preflight: impl FnOnce(&ConfigTree) -> Vec<Diagnostic>,
) -> (String, i32) {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(msg) => return (format!("error: {msg}\n{USAGE}"), 255),
    };
    let tree = match load(&opts.file) {
        Ok(t) => t,
        Err((diags, sources)) => {
            let diags: Vec<Diagnostic> = diags.into_iter().map(with_field_help).collect();
            return report(&diags, &sources, opts.json, None);
        }
    };
    let mut diags = tree.warnings.clone(); // found while loading
    diags.extend(syntax_check(&tree));
    diags.extend(preflight(&tree));
    diags.extend(lints::lints(&tree));
    let explanation = opts
        .explain
        .as_ref()
        .map(|req| explain(&tree, &request_facts(req, &tree)));
    report(&diags, &tree.sources, opts.json, explanation.as_deref())
}

mod lints;

#[cfg(test)]
mod tests;
