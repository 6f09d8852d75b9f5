//! Loaded configuration sources: files, include_shell outputs and stdin.
//!
//! Every AST node carries a [`Span`] into one of these sources, so any
//! diagnostic can name `file:line:column` and show the offending line.

use std::path::PathBuf;

/// Index of a source in [`SourceMap`].
pub type FileId = usize;

/// A byte range in one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

/// Where a source's text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file, with the path as lighttpd names it in messages (as opened).
    File(PathBuf),
    /// Output of an `include_shell` command; the name is the command string.
    Shell(String),
    /// `-f -`
    Stdin,
}

/// One loaded source text.
#[derive(Debug, Clone)]
pub struct Source {
    pub origin: Origin,
    pub text: Vec<u8>,
    /// Byte offsets where each line starts (line 1 starts at 0).
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(origin: Origin, text: Vec<u8>) -> Source {
        let mut line_starts = vec![0];
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b'\n' => line_starts.push(i + 1),
                b'\r' if text.get(i + 1) != Some(&b'\n') => line_starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        Source {
            origin,
            text,
            line_starts,
        }
    }

    /// The name used in messages: the path as opened, the command, or `-`.
    pub fn name(&self) -> String {
        match &self.origin {
            Origin::File(p) => p.display().to_string(),
            Origin::Shell(cmd) => cmd.clone(),
            Origin::Stdin => "-".to_string(),
        }
    }

    /// 1-based line and 1-based column (in bytes) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        (line + 1, offset - self.line_starts[line] + 1)
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &[u8] {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return &[];
        };
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        let mut s = &self.text[start..end];
        while let [rest @ .., b'\n' | b'\r'] = s {
            s = rest;
        }
        s
    }
}

/// All sources read while loading one configuration.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    pub sources: Vec<Source>,
}

impl SourceMap {
    pub fn add(&mut self, source: Source) -> FileId {
        self.sources.push(source);
        self.sources.len() - 1
    }

    pub fn get(&self, id: FileId) -> Option<&Source> {
        self.sources.get(id)
    }

    /// `file:line:column` of a span's start.
    pub fn locate(&self, span: Span) -> String {
        match self.get(span.file) {
            Some(src) => {
                let (line, col) = src.line_col(span.start);
                format!("{}:{}:{}", src.name(), line, col)
            }
            None => "<unknown>".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_all_line_breaks() {
        let s = Source::new(Origin::Stdin, b"a\nbc\r\nd\re".to_vec());
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(3), (2, 2));
        assert_eq!(s.line_col(6), (3, 1));
        assert_eq!(s.line_col(8), (4, 1));
        assert_eq!(s.line_text(2), b"bc");
    }
}
