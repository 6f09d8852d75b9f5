//! Diagnostics: every config problem found while loading, with lighttpd's
//! phrasing (`message`) and a location for rustc-style rendering by
//! `lighttpd check`.

use super::source::{SourceMap, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem in a configuration.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// lighttpd's own message text (what `-t`/`-tt` print).
    pub message: String,
    /// Where it is, when known.
    pub span: Option<Span>,
    /// A suggestion ("did you mean ...?").
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Option<Span>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>, span: Option<Span>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            span,
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Compiler-style rendering: `error: msg`, ` --> file:line:col`, the
    /// source line and a caret, then `help:`.
    pub fn render(&self, sources: &SourceMap) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{kind}: {}\n", self.message);
        if let Some(span) = self.span {
            if let Some(src) = sources.get(span.file) {
                let (line, col) = src.line_col(span.start);
                let text = String::from_utf8_lossy(src.line_text(line));
                let gutter = line.to_string().len();
                let pad = " ".repeat(gutter);
                let width = span
                    .end
                    .saturating_sub(span.start)
                    .clamp(1, text.len().max(1));
                out += &format!("{pad}--> {}:{line}:{col}\n", src.name());
                out += &format!("{pad} |\n{line} | {text}\n");
                out += &format!("{pad} | {}{}\n", " ".repeat(col - 1), "^".repeat(width));
            }
        }
        if let Some(help) = &self.help {
            out += &format!("  = help: {help}\n");
        }
        out
    }
}

/// One line (or fragment) of lighttpd's own stderr output for a config
/// problem, so `-t`/`-p` failures read exactly like lighttpd's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LhLine {
    /// Printed as is (lighttpd's parser `fprintf`s; some lack a newline).
    Plain(String),
    /// A `log_error` line: `TIMESTAMP: (<origin>) <message>`; `origin` is
    /// lighttpd's `file.line` for the message.
    Log {
        origin: &'static str,
        message: String,
    },
}

impl LhLine {
    pub fn log(origin: &'static str, message: impl Into<String>) -> LhLine {
        LhLine::Log {
            origin,
            message: message.into(),
        }
    }

    /// The text as lighttpd would print it, with `timestamp` for log lines.
    pub fn render(&self, timestamp: &str) -> String {
        match self {
            LhLine::Plain(s) => s.clone(),
            LhLine::Log { origin, message } => {
                format!("{timestamp}: ({origin}) {}\n", escape_log(message))
            }
        }
    }
}

/// lighttpd escapes control bytes in log lines (`\t`, `\r`, `\n`, `\xNN`).
fn escape_log(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for c in msg.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// lighttpd's log timestamp, `YYYY-MM-DD HH:MM:SS` in local time.
pub fn lh_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    crate::log::format_local(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_render_like_lighttpd() {
        let l = LhLine::log("configfile.c.2259", "include file not found: x");
        assert_eq!(
            l.render("TS"),
            "TS: (configfile.c.2259) include file not found: x\n"
        );
        assert_eq!(
            LhLine::Plain("rvalue must be string".into()).render("TS"),
            "rvalue must be string"
        );
    }
}
