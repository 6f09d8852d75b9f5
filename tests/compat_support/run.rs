//! Running one case: fixture, server, request expansion, connections; then comparing with
//! (or writing) the recorded answers.

use super::case::Case;
use super::client::{fetch_header, run_connection, Timing};
use super::escape::unescape;
use super::outcome::{first_difference, normalised, parse_file, Outcome, WrittenFile};
use super::server::{Fixture, Server};
use super::tls::{TlsClient, CERTS};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How a case ended.
#[derive(Debug)]
pub enum Verdict {
    Match,
    /// Matched only on the second try; the text is the first try's difference.
    Flaky(String),
    /// The answers differ; the text names the first difference.
    Differ(String),
    /// The case itself is broken (bad file, not recorded, fixture trouble).
    Broken(String),
    /// Recording mode: the answers were written.
    Recorded,
}

/// Settings shared by all cases of a run.
pub struct Settings<'a> {
    pub compat_dir: &'a Path,
    pub exe: &'a Path,
    pub record: bool,
    pub timing: Timing,
    /// The fixture certificates (compat-tests/tls/), for telling which one a server presented.
    pub certs: Arc<Vec<(&'static str, Vec<u8>)>>,
}

pub fn run_case(case: &Case, settings: &Settings) -> Verdict {
    let expected_path = settings
        .compat_dir
        .join("expected")
        .join(format!("{}.txt", case.name));
    let expected = if settings.record {
        None
    } else {
        let text = match std::fs::read_to_string(&expected_path) {
            Ok(text) => text,
            Err(_) => return Verdict::Broken("not recorded yet (run compat-tests/record)".into()),
        };
        match parse_file(&text) {
            Ok(outcome) => Some(outcome),
            Err(e) => return Verdict::Broken(format!("{}: {e}", expected_path.display())),
        }
    };
    let actual = match observe(case, settings, expected.as_ref()) {
        Ok(outcome) => outcome,
        Err(e) => return Verdict::Broken(e),
    };
    let Some(expected) = expected else {
        let text = actual.to_file(&case.name, &server_label(settings.exe), &case.normalize);
        return match std::fs::write(&expected_path, text) {
            Ok(()) => Verdict::Recorded,
            Err(e) => Verdict::Broken(format!("{}: {e}", expected_path.display())),
        };
    };
    match compare(case, &expected, &actual) {
        None => Verdict::Match,
        // A case expected to match gets one more try, so a one-off hiccup on a loaded
        // machine does not fail the run; it is still reported.
        Some(first) if case.xfail.is_none() => match observe(case, settings, Some(&expected)) {
            Ok(again) if compare(case, &expected, &again).is_none() => Verdict::Flaky(first),
            _ => Verdict::Differ(first),
        },
        Some(diff) => Verdict::Differ(diff),
    }
}

/// The first difference between the recorded and the observed outcome, if any.
fn compare(case: &Case, expected: &Outcome, actual: &Outcome) -> Option<String> {
    let want = normalised(expected, &case.normalize, case.strict_header_order);
    let got = normalised(actual, &case.normalize, case.strict_header_order);
    let diff = first_difference(&want, &got)?;
    Some(match actual {
        Outcome::NoServer(why) => format!("server did not start: {why}"),
        Outcome::Ran(..) => diff,
    })
}

fn server_label(exe: &Path) -> String {
    let output = std::process::Command::new(exe).arg("-v").output();
    let version = output
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    version.split(" - ").next().unwrap_or("").to_string()
}

/// Starts the server for `case` and runs its connections.
fn observe(
    case: &Case,
    settings: &Settings,
    expected: Option<&Outcome>,
) -> Result<Outcome, String> {
    let (fixture, mut server) = match start_server(case, settings)? {
        Ok(started) => started,
        Err(why) => return Ok(Outcome::NoServer(why)),
    };
    let plan = expected.and_then(Outcome::expectations);
    let mut connections = Vec::new();
    for (index, connection) in case.connections.iter().enumerate() {
        let bytes = connection
            .sends
            .iter()
            .map(|s| expand(s, &fixture).and_then(|t| unescape(&t)))
            .collect::<Result<Vec<_>, _>>()?;
        let expect = match &plan {
            Some(plan) => Some(plan.get(index).map(Vec::as_slice).unwrap_or(&[])),
            None => None,
        };
        let port = if connection.port2 {
            fixture.port2
        } else {
            fixture.port
        };
        let tls = connection.tls.as_ref().map(|tls| TlsClient {
            sni: tls.sni.clone(),
            known: settings.certs.clone(),
        });
        match run_connection(port, tls.as_ref(), &bytes, expect, settings.timing) {
            Ok(outcome) => connections.push(outcome),
            Err(e) if server.alive() => return Err(e),
            Err(e) => return Ok(Outcome::NoServer(format!("server died: {e}"))),
        }
    }
    let ports = [(fixture.port, "@PORT@"), (fixture.port2, "@PORT2@")];
    for send in connections.iter_mut().flat_map(|c| c.sends.iter_mut()) {
        for response in &mut send.responses {
            response.head = mask_ports(&response.head, &ports);
            response.body = mask_ports(&response.body, &ports);
        }
        send.leftover = mask_ports(&send.leftover, &ports);
    }
    let files = written_files(case, &fixture, server)?;
    Ok(Outcome::Ran(connections, files))
}

/// The case's `compare-file:`s, read after a clean stop (SIGTERM, as lighttpd flushes its
/// buffered access log then). The case's private dir appears as `@TMP@`, the ports as
/// `@PORT@` / `@PORT2@` wherever they stand as a whole number (`%p` logs the bare port).
fn written_files(
    case: &Case,
    fixture: &Fixture,
    server: Server,
) -> Result<Vec<WrittenFile>, String> {
    if case.files.is_empty() {
        return Ok(Vec::new());
    }
    server.stop()?;
    let ports = [(fixture.port, "@PORT@"), (fixture.port2, "@PORT2@")];
    let read = |name: &String| WrittenFile {
        name: name.clone(),
        content: std::fs::read(fixture.dir.join(name))
            .ok()
            .map(|bytes| mask_bare_ports(&mask_dir(&bytes, &fixture.dir), &ports)),
    };
    Ok(case.files.iter().map(read).collect())
}

/// Replaces the case's private dir (e.g. in a logged `%f`) with `@TMP@`.
fn mask_dir(bytes: &[u8], dir: &Path) -> Vec<u8> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"@TMP@");
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Replaces each port written as a whole number (no digit on either side).
fn mask_bare_ports(bytes: &[u8], ports: &[(u16, &str)]) -> Vec<u8> {
    mask_port_numbers(bytes, ports, false)
}

/// Replaces `:<port>` (not followed by another digit) with `:@PORT@` / `:@PORT2@`: the
/// case's ports differ on every run, e.g. in a Location built from the listening socket.
fn mask_ports(bytes: &[u8], ports: &[(u16, &str)]) -> Vec<u8> {
    mask_port_numbers(bytes, ports, true)
}

/// Replaces each port written as a whole number, only right after a `:`
/// when `after_colon`.
fn mask_port_numbers(bytes: &[u8], ports: &[(u16, &str)], after_colon: bool) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (port, name) in ports {
        let needle = port.to_string().into_bytes();
        let mut masked = Vec::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            let before = masked.last().copied();
            let whole = out[i..].starts_with(&needle)
                && !before.is_some_and(|b: u8| b.is_ascii_digit())
                && (!after_colon || before == Some(b':'))
                && !out.get(i + needle.len()).is_some_and(u8::is_ascii_digit);
            if whole {
                masked.extend_from_slice(name.as_bytes());
                i += needle.len();
            } else {
                masked.push(out[i]);
                i += 1;
            }
        }
        out = masked;
    }
    out
}

/// Prepares the fixture and starts the server. Another process may take a port between
/// picking it and the server binding it; then the start is retried with fresh ports.
fn start_server(
    case: &Case,
    settings: &Settings,
) -> Result<Result<(Fixture, Server), String>, String> {
    let base = std::fs::read_to_string(settings.compat_dir.join("base.conf"))
        .map_err(|e| format!("base.conf: {e}"))?;
    let mut attempt = 0;
    loop {
        let fixture = Fixture::new(&case.name, &settings.compat_dir.join(&case.docroot))?;
        let config = fixture.fill(&format!("{base}\n# case {}\n{}", case.name, case.config));
        let config = CERTS.iter().fold(config, |config, (placeholder, file)| {
            let path = settings.compat_dir.join("tls").join(file);
            config.replace(placeholder, &path.to_string_lossy())
        });
        match Server::start(settings.exe, &fixture, &config) {
            Ok(server) => return Ok(Ok((fixture, server))),
            Err(why) if why.contains("Address already in use") && attempt < 3 => attempt += 1,
            Err(why) => return Ok(Err(why)),
        }
    }
}

/// Fills the request placeholders: `@PORT@`, `@PORT2@`, `@ETAG:/path@`,
/// `@LASTMOD:/path@` (fetched from the server under test) and `@REPEAT:N:text@`.
/// An `@` that does not start a known placeholder is kept as is.
pub fn expand(text: &str, fixture: &Fixture) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('@') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after
            .find('@')
            .and_then(|end| Some((placeholder(&after[..end], fixture).transpose()?, end)))
        {
            Some((value, end)) => {
                out.push_str(&value?);
                rest = &after[end + 1..];
            }
            None => {
                out.push('@');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn placeholder(token: &str, fixture: &Fixture) -> Result<Option<String>, String> {
    let (kind, arg) = token.split_once(':').unwrap_or((token, ""));
    Ok(Some(match kind {
        "PORT" => fixture.port.to_string(),
        "PORT2" => fixture.port2.to_string(),
        "ETAG" => fetch_header(fixture.port, arg, "ETag")?,
        "LASTMOD" => fetch_header(fixture.port, arg, "Last-Modified")?,
        "REPEAT" => {
            let (count, unit) = arg.split_once(':').ok_or("use @REPEAT:N:text@")?;
            let count: usize = count
                .parse()
                .map_err(|_| format!("bad repeat count {count}"))?;
            unit.repeat(count.min(1 << 20))
        }
        _ => return Ok(None),
    }))
}

/// Default waits; `COMPAT_IDLE_MS` overrides the recording idle time. The
/// replay bounds are generous (a loaded CI machine): they only cost time
/// when an answer or a close is missing.
pub fn default_timing() -> Timing {
    let idle = std::env::var("COMPAT_IDLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Timing {
        idle: Duration::from_millis(idle),
        patience: Duration::from_secs(15),
        close_wait: Duration::from_secs(10),
        quiet: Duration::from_millis(300),
    }
}

#[cfg(test)]
mod tests {
    use super::{mask_bare_ports, mask_dir, mask_ports};
    use std::path::Path;

    #[test]
    fn masks_the_private_dir() {
        let dir = Path::new("/tmp/case");
        let text = b"200 [/tmp/case/docroot/a] /tmp/case";
        assert_eq!(mask_dir(text, dir), b"200 [@TMP@/docroot/a] @TMP@".to_vec());
    }

    #[test]
    fn masks_bare_ports_as_whole_numbers() {
        let ports = [(8080, "@PORT@")];
        let text = b"8080 x:8080 18080 80801 8080";
        assert_eq!(
            mask_bare_ports(text, &ports),
            b"@PORT@ x:@PORT@ 18080 80801 @PORT@".to_vec()
        );
    }

    #[test]
    fn masks_only_whole_ports_after_a_colon() {
        let ports = [(8080, "@PORT@"), (9, "@PORT2@")];
        let text = b"http://h:8080/x :80801 8080 a:9 b:90";
        assert_eq!(
            mask_ports(text, &ports),
            b"http://h:@PORT@/x :80801 8080 a:@PORT2@ b:90".to_vec()
        );
    }
}
