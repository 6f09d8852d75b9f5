//! A case's observed result, its text form (the recorded `compat-tests/expected/*.txt`
//! files), reading that form back, normalisation and comparison.

use super::case::Normalize;
use super::client::{ConnectionOutcome, Expect, SendOutcome};
use super::escape::{escape_lines, unescape};
use super::framing::Response;

/// Everything observed for one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server exited or never accepted connections (detail is not compared).
    NoServer(String),
    /// One entry per connection (its TLS handshake, if any, and one entry per send
    /// actually made); then the files the case compares (`compare-file:`), read after
    /// the server stopped.
    Ran(Vec<ConnectionOutcome>, Vec<WrittenFile>),
}

/// A file the server wrote into the case's private dir.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenFile {
    pub name: String,
    /// `None`: the file does not exist.
    pub content: Option<Vec<u8>>,
}

/// Width at which recorded bodies are wrapped (line breaks carry no bytes).
const WRAP: usize = 100;

impl Outcome {
    /// Renders the outcome; `wrap` 0 gives the canonical one-line-per-`\n` form.
    pub fn render(&self, wrap: usize) -> String {
        let mut out = String::new();
        match self {
            Outcome::NoServer(_) => out.push_str("== server did not start\n"),
            Outcome::Ran(connections, files) => {
                for (c, connection) in connections.iter().enumerate() {
                    out.push_str(&format!("== connection {}\n", c + 1));
                    if let Some(tls) = &connection.tls {
                        out.push_str(&format!("== tls {tls}\n"));
                    }
                    render_sends(&mut out, &connection.sends, wrap);
                }
                files.iter().for_each(|file| render_file(&mut out, file));
            }
        }
        out
    }

    /// The text stored in compat-tests/expected/.
    /// The `Date` value, the headers the case masks (`normalize: etag`, `header X`) and
    /// the `replace` rules' matches in compared files are written masked, so re-recording
    /// gives no churn.
    pub fn to_file(&self, case: &str, server: &str, rules: &[Normalize]) -> String {
        let mut outcome = self.clone();
        for response in outcome.responses_mut() {
            response.head = normalise_head(&response.head, rules, true);
        }
        let mut files = String::new();
        if let Outcome::Ran(_, written) = &mut outcome {
            std::mem::take(written)
                .iter()
                .for_each(|file| render_file(&mut files, file));
        }
        format!(
            "# case {case}: answers recorded from {server} by compat-tests/record\n{}{}",
            outcome.render(WRAP),
            replaced(files, rules)
        )
    }

    fn responses_mut(&mut self) -> impl Iterator<Item = &mut Response> {
        let connections: &mut [ConnectionOutcome] = match self {
            Outcome::Ran(connections, _) => connections,
            Outcome::NoServer(_) => &mut [],
        };
        connections
            .iter_mut()
            .flat_map(|c| c.sends.iter_mut())
            .flat_map(|s| s.responses.iter_mut())
    }

    /// What replaying must wait for, per connection and send.
    pub fn expectations(&self) -> Option<Vec<Vec<Expect>>> {
        let Outcome::Ran(connections, _) = self else {
            return None;
        };
        let per_send = |s: &SendOutcome| Expect {
            responses: s.responses.len(),
            leftover: !s.leftover.is_empty(),
            closed: s.closed,
        };
        Some(
            connections
                .iter()
                .map(|c| c.sends.iter().map(per_send).collect())
                .collect(),
        )
    }
}

fn render_sends(out: &mut String, sends: &[SendOutcome], wrap: usize) {
    for (s, send) in sends.iter().enumerate() {
        out.push_str(&format!("== send {}\n", s + 1));
        for response in &send.responses {
            out.push_str("== response\n");
            for line in escape_lines(&response.head, 0) {
                out.push_str(&line);
                out.push('\n');
            }
            push_lines(out, &response.body, wrap);
        }
        if !send.leftover.is_empty() {
            out.push_str("== incomplete\n");
            push_lines(out, &send.leftover, wrap);
        }
        if send.closed {
            out.push_str("== closed\n");
        }
    }
    if sends.last().is_some_and(|s| !s.closed) {
        out.push_str("== open\n");
    }
}

/// `== file NAME` and the content one line per `\n` (never wrapped, so a
/// `normalize: replace` sees whole log lines), or `== file NAME missing`.
fn render_file(out: &mut String, file: &WrittenFile) {
    match &file.content {
        Some(content) => {
            out.push_str(&format!("== file {}\n", file.name));
            push_lines(out, content, 0);
        }
        None => out.push_str(&format!("== file {} missing\n", file.name)),
    }
}

fn push_lines(out: &mut String, bytes: &[u8], wrap: usize) {
    for line in escape_lines(bytes, wrap) {
        out.push_str(&line);
        out.push('\n');
    }
}

/// Reads a recorded file back into an outcome.
pub fn parse_file(text: &str) -> Result<Outcome, String> {
    let mut connections: Vec<ConnectionOutcome> = Vec::new();
    let mut files: Vec<WrittenFile> = Vec::new();
    let mut block: Option<(&str, String)> = None;
    let mut no_server = false;
    for line in text.lines() {
        let Some(marker) = line.strip_prefix("== ") else {
            match block.as_mut() {
                Some((_, text)) => {
                    text.push_str(line);
                    text.push('\n');
                }
                None if line.starts_with('#') || line.is_empty() => {}
                None => return Err(format!("text outside a block: {line}")),
            }
            continue;
        };
        finish_block(&mut connections, &mut files, block.take())?;
        match marker.split(' ').next().unwrap_or("") {
            "server" => no_server = true,
            "connection" => connections.push(ConnectionOutcome::default()),
            "tls" => {
                connections.last_mut().ok_or("tls before connection")?.tls =
                    Some(marker["tls".len()..].trim().to_string())
            }
            "send" => connections
                .last_mut()
                .ok_or("send before connection")?
                .sends
                .push(SendOutcome::default()),
            "response" => block = Some(("response", String::new())),
            "incomplete" => block = Some(("incomplete", String::new())),
            "closed" => last_send(&mut connections)?.closed = true,
            "open" => {}
            "file" => block = Some(start_file(&mut files, marker)?),
            other => return Err(format!("unknown marker `== {other}`")),
        }
    }
    finish_block(&mut connections, &mut files, block)?;
    Ok(if no_server {
        Outcome::NoServer(String::new())
    } else {
        Outcome::Ran(connections, files)
    })
}

/// `file NAME` opens a block for the content; `file NAME missing` records absence.
fn start_file(
    files: &mut Vec<WrittenFile>,
    marker: &str,
) -> Result<(&'static str, String), String> {
    let mut words = marker.split(' ').skip(1);
    let name = words
        .next()
        .filter(|n| !n.is_empty())
        .ok_or("file without a name")?;
    let content = match words.next() {
        None => Some(Vec::new()),
        Some("missing") => None,
        Some(other) => return Err(format!("unknown file marker word `{other}`")),
    };
    files.push(WrittenFile {
        name: name.to_string(),
        content,
    });
    Ok(("file", String::new()))
}

fn finish_block(
    connections: &mut [ConnectionOutcome],
    files: &mut [WrittenFile],
    block: Option<(&str, String)>,
) -> Result<(), String> {
    let Some((kind, text)) = block else {
        return Ok(());
    };
    let bytes = unescape(&text)?;
    if kind == "file" {
        if let Some(content) = files.last_mut().and_then(|f| f.content.as_mut()) {
            *content = bytes;
        }
        return Ok(());
    }
    let send = last_send(connections)?;
    if kind == "incomplete" {
        send.leftover = bytes;
        return Ok(());
    }
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| i + 4);
    send.responses.push(Response {
        head: bytes[..split].to_vec(),
        body: bytes[split..].to_vec(),
    });
    Ok(())
}

fn last_send(connections: &mut [ConnectionOutcome]) -> Result<&mut SendOutcome, String> {
    connections
        .last_mut()
        .and_then(|c| c.sends.last_mut())
        .ok_or_else(|| "marker or text before `== send`".to_string())
}

/// The canonical, normalised text of an outcome, as compared.
pub fn normalised(outcome: &Outcome, rules: &[Normalize], strict_order: bool) -> String {
    let mut outcome = outcome.clone();
    for response in outcome.responses_mut() {
        response.head = normalise_head(&response.head, rules, strict_order);
    }
    replaced(outcome.render(0), rules)
}

/// `text` after the case's `normalize: replace` rules.
fn replaced(mut text: String, rules: &[Normalize]) -> String {
    for rule in rules {
        if let Normalize::Replace(regex, replacement) = rule {
            text = regex.replace_all(&text, replacement.as_str()).into_owned();
        }
    }
    text
}

fn normalise_head(head: &[u8], rules: &[Normalize], strict_order: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut lines: Vec<String> = text.split_inclusive("\r\n").map(str::to_string).collect();
    let end = if lines.last().is_some_and(|l| l == "\r\n") {
        lines.len() - 1
    } else {
        lines.len()
    };
    for line in lines.iter_mut().take(end).skip(1) {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        let masked = if name == "date" {
            Some("<date>")
        } else if name == "etag" && rules.iter().any(|r| matches!(r, Normalize::Etag)) {
            Some("<etag>")
        } else if rules
            .iter()
            .any(|r| matches!(r, Normalize::Header(h) if h.eq_ignore_ascii_case(&name)))
        {
            Some("<ignored>")
        } else {
            None
        };
        if let (Some(mask), Some((original, _))) = (masked, line.split_once(':')) {
            *line = format!("{original}: {mask}\r\n");
        }
    }
    if !strict_order && end > 1 {
        lines[1..end].sort_by_key(|l| l.split(':').next().unwrap_or("").to_ascii_lowercase());
    }
    lines.concat().into_bytes()
}

/// The first difference between two normalised texts, with a little context.
pub fn first_difference(expected: &str, actual: &str) -> Option<String> {
    let exp: Vec<&str> = expected.lines().collect();
    let act: Vec<&str> = actual.lines().collect();
    let index = (0..exp.len().max(act.len())).find(|&i| exp.get(i) != act.get(i))?;
    let section = exp[..index.min(exp.len())]
        .iter()
        .rev()
        .find(|l| l.starts_with("== connection") || l.starts_with("== send"))
        .copied()
        .unwrap_or("");
    let show = |l: Option<&&str>| l.map_or("<nothing>".to_string(), |s| shorten(s));
    Some(format!(
        "at line {} ({section}): expected `{}`, got `{}`",
        index + 1,
        show(exp.get(index)),
        show(act.get(index))
    ))
}

fn shorten(line: &str) -> String {
    if line.len() <= 160 {
        return line.to_string();
    }
    let cut = (0..=160)
        .rev()
        .find(|&i| line.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}…", &line[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Outcome {
        let response = Response {
            head: b"HTTP/1.1 200 OK\r\nServer: x\r\nETag: \"1\"\r\nDate: Mon\r\n\r\n".to_vec(),
            body: b"=line\nno newline at end ".to_vec(),
        };
        let send = SendOutcome {
            responses: vec![response],
            leftover: b"HTTP/1.1 4".to_vec(),
            closed: true,
        };
        let log = WrittenFile {
            name: "access.log".into(),
            content: Some(b"127.0.0.1 \"GET / HTTP/1.1\" 200\n=x \\x0A\n".to_vec()),
        };
        let gone = WrittenFile {
            name: "other.log".into(),
            content: None,
        };
        let plain = ConnectionOutcome {
            tls: None,
            sends: vec![send],
        };
        let tls = ConnectionOutcome {
            tls: Some("TLSv1.3 alpn=http/1.1 cert=@TLSPEM@".into()),
            sends: vec![SendOutcome::default()],
        };
        let failed = ConnectionOutcome {
            tls: Some("handshake failed".into()),
            sends: Vec::new(),
        };
        Outcome::Ran(vec![plain, tls, failed], vec![log, gone])
    }

    #[test]
    fn file_round_trip() {
        let outcome = sample();
        let parsed = parse_file(&outcome.to_file("t", "test", &[])).unwrap();
        assert_eq!(
            parsed.render(0),
            outcome.render(0).replace("Date: Mon", "Date: <date>")
        );
        assert!(outcome
            .render(0)
            .contains("== file access.log\n127.0.0.1 \"GET"));
        assert!(outcome.render(0).ends_with("== file other.log missing\n"));
        assert!(outcome.render(0).contains(
            "== connection 2\n== tls TLSv1.3 alpn=http/1.1 cert=@TLSPEM@\n== send 1\n== open\n\
             == connection 3\n== tls handshake failed\n== file"
        ));
        assert_eq!(parsed, {
            let mut masked = outcome.clone();
            masked.responses_mut().for_each(|r| {
                r.head = normalise_head(&r.head, &[], true);
            });
            masked
        });
        let expect = parsed.expectations().unwrap();
        assert_eq!(expect[0][0].responses, 1);
        assert!(expect[0][0].closed && expect[0][0].leftover);
        assert!(!expect[1][0].closed);
    }

    #[test]
    fn normalises_and_finds_differences() {
        let text = normalised(&sample(), &[Normalize::Etag], false);
        assert!(text.contains("Date: <date>\\r\\n\nETag: <etag>\\r\\n\nServer: x"));
        let strict = normalised(&sample(), &[], true);
        assert!(strict.contains("ETag: \"1\"\\r\\n\nDate: <date>"));
        assert!(first_difference(&text, &text).is_none());
        let diff = first_difference(&text, &strict).unwrap();
        assert!(diff.contains("== send 1"), "{diff}");
    }
}
