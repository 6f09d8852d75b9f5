//! The config tokenizer, mirroring lighttpd's `config_tokenizer`
//! (src/configfile.c): the same tokens, the same three pieces of state
//! (`parens`, `in_cond`, `in_key`), the same error texts, and lighttpd's own
//! line/position counting (which ignores line breaks inside strings) so
//! `source: F line: L pos: P` messages match byte for byte.
//!
//! The small recognisers (keys, integers, condition names, comments, string
//! bodies) are nom parsers over bytes; the state machine around them is a
//! plain loop because the token kinds depend on that state.

use nom::bytes::complete::{take_till, take_while, take_while1};
use nom::IResult;

use super::cond::CondOp;

/// lighttpd's idea of a position: 1-based line (line breaks inside strings
/// are not counted) and 0-based byte offset from that line's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LhPos {
    pub line: usize,
    pub pos: usize,
}

/// One token kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Eol,
    Assign,
    Append,
    ForceAssign,
    Plus,
    ArrayAssign,
    LParen,
    RParen,
    Comma,
    LCurly,
    RCurly,
    LBracket,
    RBracket,
    Dollar,
    CondOp(CondOp),
    Str(String),
    Int(String),
    Key(String),
    SrvVarName(String),
    Include,
    IncludeShell,
    Global,
    Else,
}

/// A token with its byte range and lighttpd's bookkeeping.
#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
    /// Tokenizer position after reading this token (used by lighttpd's
    /// `parser failed somehow near here` line).
    pub after: LhPos,
    /// lighttpd's text for the token (`(EOL)`, `(COMMA)`, string contents…).
    pub text: String,
}

/// A tokenizer error: lighttpd prints it as
/// `source: F line: L pos: P <message>` + `configfile parser failed at: <last>`.
#[derive(Debug, Clone)]
pub struct LexError {
    pub message: &'static str,
    pub at: LhPos,
    pub offset: usize,
    /// Text of the last token read successfully (lighttpd's `lasttoken`).
    pub last_text: String,
}

/// Result of tokenizing one source.
#[derive(Debug, Clone, Default)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    /// Set when tokenizing stopped on an error (tokens hold what came before).
    pub error: Option<LexError>,
    /// A NUL byte ended the input early (lighttpd logs `stray NUL` and
    /// treats it as the end of input).
    pub stray_nul: Option<(LhPos, usize)>,
    /// Position at the end of input.
    pub end: LhPos,
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-'
}

fn key_word(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(is_key_char)(i)
}

fn digits(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|c: u8| c.is_ascii_digit())(i)
}

fn cond_word(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(|c: u8| c.is_ascii_alphabetic() || c == b'_')(i)
}

/// A comment body: from `#` up to (not including) a line break or NUL.
fn comment(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_till(|c| c == b'\r' || c == b'\n' || c == 0)(i)
}

/// Raw string body up to the next `"` that is not preceded by `\`, or NUL.
/// Returns the body length; `\"` pairs are skipped over.
fn string_body(i: &[u8]) -> IResult<&[u8], usize> {
    let mut n = 0;
    while n < i.len() && i[n] != b'"' && i[n] != 0 {
        n += if i[n] == b'\\' && i.get(n + 1) == Some(&b'"') {
            2
        } else {
            1
        };
    }
    Ok((&i[n..], n))
}

/// Unescape a string body: `\"` → `"`, every other byte kept.
fn unescape(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' && body.get(i + 1) == Some(&b'"') {
            i += 1;
        }
        out.push(body[i]);
        i += 1;
    }
    out
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Lexer<'a> {
    input: &'a [u8],
    offset: usize,
    line: usize,
    line_pos: usize,
    in_key: bool,
    parens: usize,
    in_cond: bool,
    simulate_eol: bool,
    last_text: String,
}

type Step = Result<Option<(Tok, String)>, &'static str>;

impl<'a> Lexer<'a> {
    fn at(&self, i: usize) -> u8 {
        self.input.get(self.offset + i).copied().unwrap_or(0)
    }

    fn pos(&self) -> LhPos {
        LhPos {
            line: self.line,
            pos: self.offset - self.line_pos,
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.input[self.offset..]
    }

    fn skip_newline_run(&mut self) {
        while self.offset < self.input.len() {
            match self.at(0) {
                b'\r' | b'\n' => {
                    self.offset += 1 + usize::from(self.at(0) == b'\r' && self.at(1) == b'\n');
                    self.line_pos = self.offset;
                    self.line += 1;
                }
                b'#' => self.skip_comment(),
                b' ' | b'\t' => self.offset += 1,
                _ => break,
            }
        }
    }

    fn skip_comment(&mut self) {
        if let Ok((_, body)) = comment(&self.rest()[1..]) {
            self.offset += 1 + body.len();
        }
    }

    fn two(&mut self, tok: Tok) -> Step {
        let text = lossy(&self.rest()[..2]);
        self.offset += 2;
        Ok(Some((tok, text)))
    }

    fn one(&mut self, tok: Tok) -> Step {
        let text = lossy(&self.rest()[..1]);
        self.offset += 1;
        Ok(Some((tok, text)))
    }

    fn equal_sign(&mut self) -> Step {
        if self.parens > 0 {
            if self.at(1) != b'>' {
                return Err("use => for assignments in arrays");
            }
            return self.two(Tok::ArrayAssign);
        }
        if self.in_cond {
            let op = match self.at(1) {
                b'=' => CondOp::Eq,
                b'~' => CondOp::Match,
                b'^' => CondOp::Prefix,
                b'$' => CondOp::Suffix,
                _ => return Err("only == =~ =^ =$ are allowed in the condition"),
            };
            self.in_key = true;
            self.in_cond = false;
            return self.two(Tok::CondOp(op));
        }
        if self.in_key {
            return self.one(Tok::Assign);
        }
        Err("unexpected equal-sign: =")
    }

    fn exclamation(&mut self) -> Step {
        if !self.in_cond {
            return Err("unexpected exclamation-marks: !");
        }
        let op = match self.at(1) {
            b'=' => CondOp::Ne,
            b'~' => CondOp::NoMatch,
            _ => return Err("only !~ and != are allowed in the condition"),
        };
        self.in_key = true;
        self.in_cond = false;
        self.two(Tok::CondOp(op))
    }

    fn string(&mut self) -> Step {
        let body_start = &self.rest()[1..];
        let (rest, len) = string_body(body_start).map_err(|_| "missing closing quote")?;
        if rest.first() != Some(&b'"') {
            // lighttpd keeps the pieces before each `\"` in its token buffer.
            let body = &body_start[..len];
            let cut = body.windows(2).rposition(|w| w == b"\\\"").unwrap_or(0);
            self.last_text = lossy(&unescape(&body[..cut]));
            return Err("missing closing quote");
        }
        let text = lossy(&unescape(&body_start[..len]));
        self.offset += len + 2;
        Ok(Some((Tok::Str(text.clone()), text)))
    }

    fn close_curly(&mut self) -> Step {
        self.offset += 1;
        while self.offset < self.input.len() {
            match self.at(0) {
                b'\r' | b'\n' => break,
                b'#' => {
                    self.skip_comment();
                    break;
                }
                b' ' | b'\t' => self.offset += 1,
                _ => {
                    self.simulate_eol = true;
                    break;
                }
            }
        }
        Ok(Some((Tok::RCurly, "}".to_string())))
    }

    fn word(&mut self) -> Step {
        let rest = self.rest();
        if self.in_cond {
            let (after, w) = cond_word(rest).map_err(|_| "invalid character in condition")?;
            if w.is_empty() || matches!(after.first(), None | Some(0)) {
                return Err("invalid character in condition");
            }
            self.offset += w.len();
            let text = lossy(w);
            return Ok(Some((Tok::SrvVarName(text.clone()), text)));
        }
        if let Ok((_, d)) = digits(rest) {
            self.offset += d.len();
            let text = lossy(d);
            return Ok(Some((Tok::Int(text.clone()), text)));
        }
        if let Ok((after, w)) = key_word(rest) {
            if matches!(after.first(), None | Some(0)) {
                return Err("invalid character in variable name");
            }
            self.offset += w.len();
            let text = lossy(w);
            let tok = match text.as_str() {
                "include" => Tok::Include,
                "include_shell" => Tok::IncludeShell,
                "global" => Tok::Global,
                "else" => Tok::Else,
                _ => Tok::Key(text.clone()),
            };
            return Ok(Some((tok, text)));
        }
        if rest.starts_with(&[0xc2, 0xa0]) {
            self.offset += 2; // U+00A0 NO-BREAK SPACE counts as whitespace
            return Ok(None);
        }
        Err("invalid character in variable name")
    }

    /// One step: a token, nothing (whitespace consumed), or an error.
    fn step(&mut self) -> Step {
        match self.at(0) {
            b'\t' | b' ' => {
                self.offset += 1;
                Ok(None)
            }
            b'=' => self.equal_sign(),
            b'!' => self.exclamation(),
            b'\n' | b'\r' => {
                self.skip_newline_run();
                if self.parens == 0 {
                    self.in_key = true;
                    return Ok(Some((Tok::Eol, "(EOL)".to_string())));
                }
                Ok(None)
            }
            b',' => {
                self.offset += 1;
                if self.parens > 0 {
                    return Ok(Some((Tok::Comma, "(COMMA)".to_string())));
                }
                Ok(None)
            }
            b'"' => self.string(),
            b'(' => {
                self.parens += 1;
                self.one(Tok::LParen)
            }
            b')' => {
                if self.parens == 0 {
                    return Err("close-parens seen open-parens");
                }
                self.parens -= 1;
                self.one(Tok::RParen)
            }
            b'$' => {
                self.in_cond = true;
                self.in_key = false;
                self.one(Tok::Dollar)
            }
            b'+' if self.at(1) == b'=' => self.two(Tok::Append),
            b'+' => self.one(Tok::Plus),
            b':' if self.at(1) == b'=' => self.two(Tok::ForceAssign),
            b':' => Err("unexpected character ':'"),
            b'{' => self.one(Tok::LCurly),
            b'}' => self.close_curly(),
            b'[' => self.one(Tok::LBracket),
            b']' => self.one(Tok::RBracket),
            b'#' => {
                self.skip_comment();
                Ok(None)
            }
            _ => self.word(),
        }
    }
}

/// Tokenize a whole source the way lighttpd does.
pub fn tokenize(input: &[u8]) -> Lexed {
    let mut lx = Lexer {
        input,
        offset: 0,
        line: 1,
        line_pos: 0,
        in_key: true,
        parens: 0,
        in_cond: false,
        simulate_eol: false,
        last_text: "(null)".to_string(), // lighttpd prints its unset buffer so
    };
    let mut out = Lexed::default();
    loop {
        if lx.simulate_eol {
            lx.simulate_eol = false;
            lx.in_key = true;
            let at = lx.offset;
            lx.last_text = "(EOL)".to_string();
            out.tokens.push(Token {
                tok: Tok::Eol,
                start: at,
                end: at,
                after: lx.pos(),
                text: lx.last_text.clone(),
            });
            continue;
        }
        if lx.offset >= input.len() {
            break;
        }
        if lx.at(0) == 0 {
            out.stray_nul = Some((lx.pos(), lx.offset));
            break;
        }
        let start = lx.offset;
        let at = lx.pos();
        match lx.step() {
            Ok(None) => {}
            Ok(Some((tok, text))) => {
                lx.last_text = text.clone();
                out.tokens.push(Token {
                    tok,
                    start,
                    end: lx.offset,
                    after: lx.pos(),
                    text,
                });
            }
            Err(message) => {
                out.error = Some(LexError {
                    message,
                    at,
                    offset: start,
                    last_text: lx.last_text.clone(),
                });
                break;
            }
        }
    }
    out.end = lx.pos();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        let l = tokenize(src.as_bytes());
        assert!(l.error.is_none(), "{src:?}: {:?}", l.error);
        l.tokens.into_iter().map(|t| t.tok).collect()
    }

    fn err(src: &str) -> (&'static str, usize, usize, String) {
        let e = tokenize(src.as_bytes()).error.expect("an error");
        (e.message, e.at.line, e.at.pos, e.last_text)
    }

    fn key(s: &str) -> Tok {
        Tok::Key(s.into())
    }

    #[test]
    fn tokens_of_an_assignment() {
        assert_eq!(
            kinds("var.a = \"x\" + 12\n"),
            vec![
                key("var.a"),
                Tok::Assign,
                Tok::Str("x".into()),
                Tok::Plus,
                Tok::Int("12".into()),
                Tok::Eol
            ]
        );
    }

    #[test]
    fn comments_blank_lines_make_one_eol() {
        assert_eq!(kinds("a = 1 # c\n\n  # x\n\r\nb = 2"), {
            let mut v = vec![key("a"), Tok::Assign, Tok::Int("1".into()), Tok::Eol];
            v.extend([key("b"), Tok::Assign, Tok::Int("2".into())]);
            v
        });
    }

    #[test]
    fn newlines_and_commas_inside_parens() {
        assert_eq!(
            kinds("a = (1,\n 2)"),
            vec![
                key("a"),
                Tok::Assign,
                Tok::LParen,
                Tok::Int("1".into()),
                Tok::Comma,
                Tok::Int("2".into()),
                Tok::RParen
            ]
        );
        // a comma outside parentheses is whitespace
        assert_eq!(
            kinds("a = 1,2\n"),
            vec![
                key("a"),
                Tok::Assign,
                Tok::Int("1".into()),
                Tok::Int("2".into()),
                Tok::Eol
            ]
        );
    }

    #[test]
    fn string_escapes_only_quote() {
        assert_eq!(
            kinds(r#"a = "x\"y\tz\\a""#)[2],
            Tok::Str("x\"y\\tz\\\\a".into())
        );
        // a string cannot end with a backslash: `\"` is an escaped quote
        assert_eq!(err(r#"a = "x\\""#).0, "missing closing quote");
        assert_eq!(kinds("a = \"l1\nl2\"")[2], Tok::Str("l1\nl2".into()));
    }

    #[test]
    fn condition_mode_tokens() {
        assert_eq!(
            kinds("$HTTP[\"url\"] =~ \"^/x\" {\n}"),
            vec![
                Tok::Dollar,
                Tok::SrvVarName("HTTP".into()),
                Tok::LBracket,
                Tok::Str("url".into()),
                Tok::RBracket,
                Tok::CondOp(CondOp::Match),
                Tok::Str("^/x".into()),
                Tok::LCurly,
                Tok::Eol,
                Tok::RCurly
            ]
        );
    }

    #[test]
    fn close_curly_synthesizes_eol_before_code_on_same_line() {
        let k = kinds("$HTTP[\"url\"] == \"/\" { } else { }");
        assert_eq!(k[8], Tok::RCurly);
        assert_eq!(k[9], Tok::Eol);
        assert_eq!(k[10], Tok::Else);
        // a comment after `}` does not
        let k = kinds("$HTTP[\"url\"] == \"/\" { } # c\n");
        assert_eq!(&k[8..], &[Tok::RCurly, Tok::Eol]);
    }

    #[test]
    fn reserved_words_and_keys() {
        assert_eq!(
            kinds("include include_shell global else elif -x .y\n"),
            vec![
                Tok::Include,
                Tok::IncludeShell,
                Tok::Global,
                Tok::Else,
                key("elif"),
                key("-x"),
                key(".y"),
                Tok::Eol
            ]
        );
    }

    #[test]
    fn no_break_space_is_whitespace() {
        assert_eq!(
            kinds("a\u{a0}= 1\n"),
            vec![key("a"), Tok::Assign, Tok::Int("1".into()), Tok::Eol]
        );
    }

    #[test]
    fn tokenizer_errors_match_lighttpd() {
        assert_eq!(
            err("server.document-root = \"/srv/www\n"),
            ("missing closing quote", 1, 23, String::new())
        );
        assert_eq!(
            err("a = ('k' => 1)").0,
            "invalid character in variable name"
        );
        assert_eq!(err("\u{feff}a = 1").0, "invalid character in variable name");
        assert_eq!(
            err("var.a = (\"k\" = \"v\")"),
            ("use => for assignments in arrays", 1, 13, "k".into())
        );
        assert_eq!(
            err("$HTTP[\"url\"] !^ \"/x\"").0,
            "only !~ and != are allowed in the condition"
        );
        assert_eq!(
            err("$HTTP[\"url\"] = \"/x\"").0,
            "only == =~ =^ =$ are allowed in the condition"
        );
        assert_eq!(err("$HTTP.x").0, "invalid character in condition");
        assert_eq!(err("a = 1 )").0, "close-parens seen open-parens");
        assert_eq!(err("a : 1").0, "unexpected character ':'");
        assert_eq!(err("a = !1").0, "unexpected exclamation-marks: !");
        // a key at the very end of input
        assert_eq!(err("a = b").0, "invalid character in variable name");
    }

    #[test]
    fn positions_ignore_newlines_in_strings() {
        let l = tokenize(b"a = \"x\ny\"\nb = c");
        assert!(l.error.is_some());
        let e = l.error.unwrap();
        assert_eq!((e.at.line, e.at.pos), (2, 4));
    }

    #[test]
    fn stray_nul_ends_input() {
        let l = tokenize(b"a = 1\n\0b = 2");
        assert!(l.error.is_none());
        assert_eq!(l.stray_nul.map(|(p, _)| p.line), Some(2));
        assert_eq!(l.tokens.len(), 4);
    }
}
