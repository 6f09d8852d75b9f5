//! Parsing of one case file (`compat-tests/cases/<name>.case`; format in
//! compat-tests/README.md): header fields, an optional config snippet, and the raw
//! requests grouped by connection.

use std::path::Path;

/// One differential case.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub description: String,
    /// `Some(reason)` when the case is known not to pass yet.
    pub xfail: Option<String>,
    pub normalize: Vec<Normalize>,
    /// Compare header order too (default: header lines are compared as a sorted set).
    pub strict_header_order: bool,
    /// Fixture directory copied as the document root, relative to compat-tests/.
    pub docroot: String,
    /// Lines appended to compat-tests/base.conf.
    pub config: String,
    /// Connections in order.
    pub connections: Vec<Connection>,
    /// Files in the case's private dir compared after the server stopped
    /// (`compare-file: @TMP@/NAME`), e.g. an access log.
    pub files: Vec<String>,
}

/// One client connection of a case.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// Connect to the second port (`== connection port2`, for `$SERVER["socket"]` cases).
    pub port2: bool,
    /// Speak TLS (`== connection tls`), with this SNI name (`sni=NAME`) if any.
    pub tls: Option<Tls>,
    /// The sends in order (escaped text, placeholders unexpanded).
    pub sends: Vec<String>,
}

/// The TLS settings of a `== connection tls` line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tls {
    pub sni: Option<String>,
}

/// A declared normalisation, applied to recorded and observed answers alike.
#[derive(Debug, Clone)]
pub enum Normalize {
    /// `ETag` header values become `<etag>`.
    Etag,
    /// The named header's value becomes `<ignored>`.
    Header(String),
    /// A regex replacement over the rendered (escaped) text of every response.
    Replace(regex::Regex, String),
}

impl Case {
    pub fn load(path: &Path) -> Result<Case, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("bad case file name")?
            .to_string();
        parse(&name, &text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

enum Section {
    Header,
    Config,
    Send,
}

/// Parses a case file's text.
pub fn parse(name: &str, text: &str) -> Result<Case, String> {
    let mut case = Case {
        name: name.to_string(),
        description: String::new(),
        xfail: None,
        normalize: Vec::new(),
        strict_header_order: false,
        docroot: "docroot".to_string(),
        config: String::new(),
        connections: Vec::new(),
        files: Vec::new(),
    };
    let mut section = Section::Header;
    let mut next_connection = Some(Connection::default());
    for (index, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", index + 1);
        if let Some(marker) = line.strip_prefix("== ") {
            section = start_section(&mut case, marker.trim(), &mut next_connection).map_err(at)?;
            continue;
        }
        match section {
            Section::Header => header_line(&mut case, line).map_err(at)?,
            Section::Config => {
                case.config.push_str(line);
                case.config.push('\n');
            }
            Section::Send => {
                if !line.is_empty() {
                    let connection = case
                        .connections
                        .last_mut()
                        .ok_or("send outside connection")?;
                    let send = connection
                        .sends
                        .last_mut()
                        .ok_or("send outside send block")?;
                    send.push_str(line);
                    send.push('\n');
                }
            }
        }
    }
    if case.connections.is_empty() {
        return Err("no `== send` block".into());
    }
    Ok(case)
}

fn start_section(
    case: &mut Case,
    marker: &str,
    next: &mut Option<Connection>,
) -> Result<Section, String> {
    match marker {
        "config" => Ok(Section::Config),
        _ if marker.split(' ').next() == Some("connection") => {
            *next = Some(parse_connection(marker)?);
            Ok(Section::Header)
        }
        "send" => {
            if let Some(connection) = next.take() {
                case.connections.push(connection);
            }
            if let Some(connection) = case.connections.last_mut() {
                connection.sends.push(String::new());
            }
            Ok(Section::Send)
        }
        other => Err(format!("unknown section `== {other}`")),
    }
}

/// `connection [port2] [tls [sni=NAME]]`, words in any order.
fn parse_connection(marker: &str) -> Result<Connection, String> {
    let mut connection = Connection::default();
    let mut sni = None;
    for word in marker.split(' ').skip(1).filter(|w| !w.is_empty()) {
        match word {
            "port2" => connection.port2 = true,
            "tls" => connection.tls = Some(Tls::default()),
            _ => match word.strip_prefix("sni=") {
                Some(name) if !name.is_empty() => sni = Some(name.to_string()),
                _ => return Err(format!("unknown connection word `{word}`")),
            },
        }
    }
    match (&mut connection.tls, sni) {
        (Some(tls), sni) => tls.sni = sni,
        (None, Some(_)) => return Err("`sni=` needs `tls`".into()),
        (None, None) => {}
    }
    Ok(connection)
}

fn header_line(case: &mut Case, line: &str) -> Result<(), String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(());
    }
    let (key, value) = line
        .split_once(':')
        .ok_or_else(|| format!("expected `key: value`, got `{line}`"))?;
    let value = value.trim();
    match key.trim() {
        "description" => case.description = value.to_string(),
        "xfail" => case.xfail = Some(value.to_string()),
        "docroot" => case.docroot = value.to_string(),
        "compare" if value == "header-order" => case.strict_header_order = true,
        "normalize" => case.normalize.push(parse_normalize(value)?),
        "compare-file" => case.files.push(parse_compared_file(value)?),
        other => return Err(format!("unknown field `{other}`")),
    }
    Ok(())
}

/// `@TMP@/NAME`: a plain name inside the case's private dir.
fn parse_compared_file(value: &str) -> Result<String, String> {
    let name = value
        .strip_prefix("@TMP@/")
        .ok_or("expected `compare-file: @TMP@/NAME`")?;
    let plain = !name.is_empty() && !name.contains('/') && name != "." && name != "..";
    plain
        .then(|| name.to_string())
        .ok_or_else(|| format!("`{name}` is not a plain file name"))
}

fn parse_normalize(value: &str) -> Result<Normalize, String> {
    let (kind, rest) = value.split_once(' ').unwrap_or((value, ""));
    match kind {
        "etag" => Ok(Normalize::Etag),
        "header" if !rest.trim().is_empty() => Ok(Normalize::Header(rest.trim().to_string())),
        "replace" => {
            let (pattern, replacement) = rest
                .split_once(" => ")
                .ok_or("expected `normalize: replace REGEX => REPLACEMENT`")?;
            let regex = regex::Regex::new(pattern.trim()).map_err(|e| e.to_string())?;
            Ok(Normalize::Replace(regex, replacement.trim().to_string()))
        }
        _ => Err(format!("unknown normalisation `{value}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "description: two connections\n\
        xfail: not yet\nnormalize: etag\nnormalize: replace \\d+ => N\n\
        compare-file: @TMP@/access.log\n\
        == config\nserver.tag = \"x\"\n\
        == send\nGET / HTTP/1.1\\r\\n\n\n\\r\\n\n\
        == send\nGET /b HTTP/1.0\\r\\n\\r\\n\n\
        == connection port2\n== send\nX\n\
        == connection tls port2 sni=example.com\n== send\nY\n\
        == connection tls\n== send\nZ\n";

    #[test]
    fn parses_sections() {
        let case = parse("t", SAMPLE).unwrap();
        assert_eq!(case.xfail.as_deref(), Some("not yet"));
        assert_eq!(case.normalize.len(), 2);
        assert_eq!(case.config, "server.tag = \"x\"\n");
        assert_eq!(case.connections.len(), 4);
        assert_eq!(case.connections[0].sends.len(), 2);
        assert_eq!(
            case.connections[0].sends[0],
            "GET / HTTP/1.1\\r\\n\n\\r\\n\n"
        );
        assert!(!case.connections[0].port2 && case.connections[1].port2);
        assert!(case.connections[..2].iter().all(|c| c.tls.is_none()));
        let sni = |i: usize| case.connections[i].tls.clone().map(|t| t.sni);
        assert_eq!(sni(2), Some(Some("example.com".to_string())));
        assert!(case.connections[2].port2);
        assert_eq!(sni(3), Some(None));
        assert_eq!(case.files, ["access.log"]);
    }

    #[test]
    fn rejects_unknown_fields() {
        assert!(parse("t", "bogus: 1\n== send\nx\n").is_err());
        assert!(parse("t", "description: no sends\n").is_err());
        for bad in ["connection sni=x", "connection tls sni=", "connection tsl"] {
            assert!(
                parse("t", &format!("== {bad}\n== send\nx\n")).is_err(),
                "{bad}"
            );
        }
        for bad in ["access.log", "@TMP@/../x", "@TMP@/a/b", "@TMP@/"] {
            let text = format!("compare-file: {bad}\n== send\nx\n");
            assert!(parse("t", &text).is_err(), "{bad}");
        }
    }
}
