//! mod_ssi document scanning and directive parsing, as lighttpd 1.4.69's
//! `mod_ssi_read_fd` / `mod_ssi_parse_ssi_stmt`: the file is read in 8 KiB
//! blocks and split into text and `<!--#cmd attr=value ... -->` statements
//! (at most two attributes; quotes `"`/`'` with backslash escapes kept as
//! written). A directive that does not fit in one block is reported as
//! "directive too long"; an unterminated one at the end is passed as text.

use std::io::Read;

/// lighttpd's read block; a directive must fit in it.
pub const BLOCK: usize = 8192;

/// A piece of a document, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Document text (dropped while inside a false `#if`).
    Text(&'a [u8]),
    /// A complete `<!--#...-->` statement.
    Stmt(&'a [u8]),
    /// Output regardless of `#if` state (error markers).
    Raw(&'a [u8]),
}

/// A parsed directive: `cmd` and its `(attribute, value)` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub cmd: String,
    pub params: Vec<(String, String)>,
}

impl Directive {
    /// The value of attribute `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Read `input` to the end, handing each piece to `emit` in order.
/// Returns the read error, if one ended the scan early.
pub fn scan<R: Read>(mut input: R, mut emit: impl FnMut(Piece)) -> std::io::Result<()> {
    let mut buf = vec![0u8; BLOCK];
    let (mut offset, mut pretag) = (0usize, 0usize);
    let result = loop {
        let rd = match input.read(&mut buf[offset..]) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        offset += rd;
        scan_block(&mut buf, &mut offset, &mut pretag, &mut emit);
        if offset == BLOCK {
            emit(Piece::Text(&buf[pretag..offset]));
            offset = 0;
            pretag = 0;
        }
    };
    if offset > pretag {
        emit(Piece::Text(&buf[pretag..offset]));
    }
    result
}

/// Look for statements in `buf[..offset]`; keeps an incomplete tail at the
/// start of `buf` for the next read.
fn scan_block(
    buf: &mut [u8],
    offset: &mut usize,
    pretag: &mut usize,
    emit: &mut impl FnMut(Piece),
) {
    let mut prelen = 0usize;
    while let Some(pos) = buf[prelen..*offset].iter().position(|&c| c == b'<') {
        prelen += pos;
        if prelen + 5 <= *offset {
            if &buf[prelen + 1..prelen + 5] != b"!--#" {
                prelen += 1;
                continue;
            }
            if prelen > *pretag {
                emit(Piece::Text(&buf[*pretag..prelen]));
            }
            let len = stmt_len(&buf[prelen..*offset]);
            if len > 0 {
                emit(Piece::Stmt(&buf[prelen..prelen + len]));
                prelen += len;
                *pretag = prelen;
                if *pretag == *offset {
                    *offset = 0;
                    *pretag = 0;
                    return;
                }
                continue;
            }
            if prelen == 0 && *offset == BLOCK {
                emit(Piece::Raw(b"<!-- [an error occurred: directive too long] "));
                if buf[BLOCK - 2..] == *b"--" {
                    emit(Piece::Raw(b"--"));
                } else if buf[BLOCK - 1] == b'-' {
                    emit(Piece::Raw(b"-"));
                }
                *offset = 0;
                *pretag = 0;
                return;
            }
            keep_tail(buf, offset, pretag, prelen);
            return;
        }
        let n = *offset - prelen - 1;
        if n == 0 || buf[prelen + 1..*offset] == b"!--"[..n] {
            if prelen > *pretag {
                emit(Piece::Text(&buf[*pretag..prelen]));
            }
            keep_tail(buf, offset, pretag, prelen);
            return;
        }
        prelen += 1;
    }
}

fn keep_tail(buf: &mut [u8], offset: &mut usize, pretag: &mut usize, from: usize) {
    buf.copy_within(from..*offset, 0);
    *offset -= from;
    *pretag = 0;
}

/// Length of the statement at the start of `s` (which begins `<!--#`)
/// through its `-->` outside quotes; 0 if it does not end in `s`.
pub fn stmt_len(s: &[u8]) -> usize {
    let (mut sq, mut dq, mut bs) = (false, false, false);
    for n in 5..s.len() {
        match s[n] {
            b'-' if !sq && !dq && s.get(n + 1..n + 3) == Some(b"->") => return n + 3,
            b'"' if !sq && (!dq || !bs) => dq = !dq,
            b'\'' if !dq && (!sq || !bs) => sq = !sq,
            b'\\' if sq || dq => bs = !bs,
            _ => {}
        }
    }
    0
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Length of a value at the start of `s`: a quoted string (with its
/// quotes) or up to the first space; 0 if empty or unterminated.
fn value_len(s: &[u8]) -> usize {
    let quote = match s.first() {
        Some(&q @ (b'"' | b'\'')) => Some(q),
        _ => None,
    };
    let mut n = usize::from(quote.is_some());
    while n < s.len() {
        match s[n] {
            c if Some(c) == quote => return n + 1,
            c if quote.is_none() && is_space(c) => return n,
            b'\\' if n + 1 == s.len() => return 0,
            b'\\' => n += 2,
            _ => n += 1,
        }
    }
    if quote.is_some() {
        0
    } else {
        s.len()
    }
}

fn alpha_len(s: &[u8]) -> usize {
    s.iter().take_while(|c| c.is_ascii_alphabetic()).count()
}

fn text(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Parse a complete statement (`<!--#` ... `-->`); None if malformed.
pub fn parse_stmt(stmt: &[u8]) -> Option<Directive> {
    let body = stmt.strip_prefix(b"<!--#")?.strip_suffix(b"-->")?;
    let cmd_len = alpha_len(body);
    if cmd_len == 0 {
        return None;
    }
    let mut d = Directive {
        cmd: text(&body[..cmd_len]),
        params: Vec::new(),
    };
    let mut rest = &body[cmd_len..];
    loop {
        let trimmed = rest.iter().take_while(|&&c| is_space(c)).count();
        if trimmed == rest.len() {
            return Some(d);
        }
        if trimmed == 0 || d.params.len() == 2 {
            return None;
        }
        rest = &rest[trimmed..];
        let name_len = alpha_len(rest);
        if name_len == 0 || rest.get(name_len) != Some(&b'=') {
            return None;
        }
        let value = &rest[name_len + 1..];
        let vlen = value_len(value);
        if vlen == 0 {
            return None;
        }
        let v = match value[0] {
            b'"' | b'\'' => &value[1..vlen - 1],
            _ => &value[..vlen],
        };
        d.params.push((text(&rest[..name_len]), text(v)));
        rest = &value[vlen..];
    }
}

/// A malformed statement that lighttpd drops silently (`<!--#comment ...`).
pub fn is_ignored_comment(stmt: &[u8]) -> bool {
    stmt.len() >= 16 && &stmt[5..12] == b"comment" && matches!(stmt[12], b' ' | b'\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(cmd: &str, params: &[(&str, &str)]) -> Option<Directive> {
        Some(Directive {
            cmd: cmd.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    #[test]
    fn statements_parse_like_lighttpd() {
        let table: &[(&str, Option<Directive>)] = &[
            ("<!--#endif -->", d("endif", &[])),
            ("<!--#endif-->", d("endif", &[])),
            ("<!--#echo var=\"X\" -->", d("echo", &[("var", "X")])),
            ("<!--#echo var='X'-->", d("echo", &[("var", "X")])),
            ("<!--#echo var=X -->", d("echo", &[("var", "X")])),
            (
                "<!--#set var=\"a\" value=\"b c\" -->",
                d("set", &[("var", "a"), ("value", "b c")]),
            ),
            (
                "<!--#exec cmd=\"echo \\\"hi\\\"\" -->",
                d("exec", &[("cmd", "echo \\\"hi\\\"")]),
            ),
            ("<!--#a b=1 c=2 d=3 -->", None),
            ("<!--# echo -->", None),
            ("<!--#echo var= -->", None),
            ("<!--#echo var=\"open -->", None),
            ("<!--#echo var -->", None),
            ("<!--#echo\"x\" -->", None),
        ];
        for (stmt, want) in table {
            assert_eq!(&parse_stmt(stmt.as_bytes()), want, "stmt {stmt}");
        }
    }

    #[test]
    fn statement_ends_at_arrow_outside_quotes() {
        assert_eq!(stmt_len(b"<!--#echo var=\"-->\" --> x"), 23);
        assert_eq!(stmt_len(b"<!--#echo var=x --> x"), 19);
        assert_eq!(stmt_len(b"<!--#echo var=x"), 0);
    }

    fn pieces(input: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        scan(input, |p| {
            out.push(match p {
                Piece::Text(t) => format!("T:{}", String::from_utf8_lossy(t)),
                Piece::Stmt(t) => format!("S:{}", String::from_utf8_lossy(t)),
                Piece::Raw(t) => format!("R:{}", String::from_utf8_lossy(t)),
            })
        })
        .expect("scan");
        out
    }

    #[test]
    fn documents_split_into_text_and_statements() {
        assert_eq!(
            pieces(b"a<b <!--#x --> c <!-- plain --> <!--#y"),
            ["T:a<b ", "S:<!--#x -->", "T: c <!-- plain --> ", "T:<!--#y"]
        );
        assert_eq!(pieces(b"<!--#x -->"), ["S:<!--#x -->"]);
        assert_eq!(pieces(b"end <"), ["T:end ", "T:<"]);
    }

    #[test]
    fn overlong_directive_is_reported_and_bounded() {
        let mut doc = b"<!--#echo var=\"".to_vec();
        doc.extend(std::iter::repeat_n(b'x', 3 * BLOCK));
        doc.extend_from_slice(b"\" -->");
        let got = pieces(&doc);
        assert!(got[0].starts_with("R:<!-- [an error occurred: directive too long]"));
        let total: usize = got.iter().map(|s| s.len()).sum();
        assert!(total < 4 * BLOCK);
    }

    #[test]
    fn statements_across_block_boundaries_are_whole() {
        let mut doc = vec![b'a'; BLOCK - 4];
        doc.extend_from_slice(b"<!--#echo var=x -->tail");
        let got = pieces(&doc);
        assert!(
            got.contains(&"S:<!--#echo var=x -->".to_string()),
            "{got:?}"
        );
        assert_eq!(got.last().map(String::as_str), Some("T:tail"));
    }
}
