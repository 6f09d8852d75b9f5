//! mod_ssi `<!--#if expr="..." -->` expressions, as lighttpd 1.4.69's
//! `ssi_eval_expr` evaluates them: values (bare words, `'quoted'`, `$VAR`,
//! `${VAR}`; adjacent values join with one space), comparisons
//! `=`, `!=`, `<`, `<=`, `>`, `>=` (byte-wise string compare, or truth
//! values when one side is a boolean), `!`, `&&`, `||` (left to right, no
//! precedence, no short-circuit), parentheses (nesting limited to 16).

/// A token of the expression language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    And,
    Or,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Not,
    LParen,
    RParen,
    Value,
}

/// A syntax error (lighttpd returns -1: the condition is false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError(pub String);

type Step = Result<Tok, ExprError>;

/// An evaluated operand: a string, or a boolean once compared/negated.
#[derive(Debug, Default)]
struct Val {
    s: Vec<u8>,
    boolean: Option<bool>,
}

impl Val {
    fn truth(&self) -> bool {
        self.boolean.unwrap_or(!self.s.is_empty())
    }

    fn reset(&mut self) {
        self.s.clear();
        self.boolean = None;
    }
}

struct Tokenizer<'a, F> {
    input: &'a [u8],
    off: usize,
    in_brace: i32,
    depth: i32,
    lookup: F,
}

/// Evaluate `expr`; `lookup` gives a variable's value (CGI env, then SSI
/// vars). Ok(truth) or the parse error.
pub fn eval<F: Fn(&str) -> Option<String>>(expr: &str, lookup: F) -> Result<bool, ExprError> {
    let bytes = expr.as_bytes();
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    let mut t = Tokenizer {
        input: &bytes[..end],
        off: 0,
        in_brace: 0,
        depth: 0,
        lookup,
    };
    let mut v = Val::default();
    let next = t.eval_loop(&mut v)?;
    if next == Tok::End && t.in_brace == 0 && t.depth == 0 {
        Ok(v.truth())
    } else {
        Err(ExprError("unbalanced expression".into()))
    }
}

fn append_val(out: &mut Vec<u8>, s: &[u8]) {
    if out.is_empty() {
        out.extend_from_slice(s);
    } else if !s.is_empty() {
        out.push(b' ');
        out.extend_from_slice(s);
    }
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_graphic()
        && !matches!(
            c,
            b')' | b'(' | b'\'' | b'=' | b'!' | b'<' | b'>' | b'&' | b'|'
        )
}

impl<F: Fn(&str) -> Option<String>> Tokenizer<'_, F> {
    fn at(&self, i: usize) -> u8 {
        self.input.get(self.off + i).copied().unwrap_or(0)
    }

    fn err(&self, what: &str) -> ExprError {
        ExprError(format!("pos: {} {what}", self.off + 1))
    }

    /// One token; a value's text is appended to `token`.
    fn next(&mut self, token: &mut Vec<u8>) -> Step {
        while matches!(self.at(0), b' ' | b'\t') {
            self.off += 1;
        }
        if self.off >= self.input.len() {
            return Ok(Tok::End);
        }
        let (tok, len) = match (self.at(0), self.at(1)) {
            (b'=', _) => (Tok::Eq, 1),
            (b'>', b'=') => (Tok::Ge, 2),
            (b'>', _) => (Tok::Gt, 1),
            (b'<', b'=') => (Tok::Le, 2),
            (b'<', _) => (Tok::Lt, 1),
            (b'!', b'=') => (Tok::Ne, 2),
            (b'!', _) => (Tok::Not, 1),
            (b'&', b'&') => (Tok::And, 2),
            (b'&', _) => return Err(self.err("missing second &")),
            (b'|', b'|') => (Tok::Or, 2),
            (b'|', _) => return Err(self.err("missing second |")),
            (b'(', _) => {
                self.in_brace += 1;
                (Tok::LParen, 1)
            }
            (b')', _) => {
                self.in_brace -= 1;
                (Tok::RParen, 1)
            }
            (b'\'', _) => return self.quoted(token),
            (b'$', _) => return self.variable(token),
            _ => {
                let n = self.input[self.off..]
                    .iter()
                    .take_while(|&&c| is_word_byte(c))
                    .count();
                if n == 0 {
                    // NUL (lighttpd's "foobar"), a newline, a non-ASCII byte:
                    // no token can start here, and not moving on would loop.
                    return Err(self.err("foobar"));
                }
                append_val(token, &self.input[self.off..self.off + n]);
                (Tok::Value, n)
            }
        };
        self.off += len;
        Ok(tok)
    }

    fn quoted(&mut self, token: &mut Vec<u8>) -> Step {
        let rest = &self.input[self.off + 1..];
        match rest.iter().position(|&c| c == b'\'') {
            Some(n) => {
                append_val(token, &rest[..n]);
                self.off += n + 2;
                Ok(Tok::Value)
            }
            None => Err(self.err("missing closing quote")),
        }
    }

    fn variable(&mut self, token: &mut Vec<u8>) -> Step {
        let (name, consumed) = if self.at(1) == b'{' {
            let rest = &self.input[self.off + 2..];
            match rest.iter().position(|&c| c == b'}') {
                Some(n) => (&rest[..n], n + 3),
                None => return Err(self.err("missing closing curly-brace")),
            }
        } else {
            let rest = &self.input[self.off + 1..];
            let n = rest
                .iter()
                .enumerate()
                .take_while(|&(i, &c)| {
                    c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit())
                })
                .count();
            (&rest[..n], n + 1)
        };
        if let Some(value) = (self.lookup)(&String::from_utf8_lossy(name)) {
            append_val(token, value.as_bytes());
        }
        self.off += consumed;
        Ok(Tok::Value)
    }

    /// One operand (values joined, a parenthesised group, or `!operand`);
    /// returns the token after it.
    fn step(&mut self, v: &mut Val) -> Step {
        v.reset();
        let level = self.in_brace;
        match self.next(&mut v.s)? {
            Tok::Value => loop {
                let next = self.next(&mut v.s)?;
                if next != Tok::Value {
                    return Ok(next);
                }
            },
            Tok::LParen => {
                if self.in_brace > 16 {
                    return Err(self.err("too deeply nested"));
                }
                let next = self.eval_loop(v)?;
                if next != Tok::RParen || level != self.in_brace {
                    return Err(self.err("unbalanced parentheses"));
                }
                let result = v.truth();
                let next = self.step(v)?;
                v.boolean = Some(result);
                match next {
                    Tok::And | Tok::Or | Tok::RParen | Tok::End => Ok(next),
                    _ => Err(self.err("parser failed somehow near here")),
                }
            }
            Tok::RParen if self.in_brace >= 0 => Ok(Tok::RParen),
            Tok::RParen => Err(self.err("unbalanced parentheses")),
            Tok::Not => {
                self.depth += 1;
                if self.depth > 16 {
                    return Err(self.err("too deeply nested"));
                }
                let next = self.step(v)?;
                self.depth -= 1;
                v.boolean = Some(!v.truth());
                Ok(next)
            }
            other => Ok(other),
        }
    }

    fn compare_into(&mut self, v1: &mut Val, op: Tok) -> Step {
        let mut v2 = Val::default();
        let next = self.step(&mut v2)?;
        v1.boolean = Some(compare(v1, &v2, op));
        Ok(next)
    }

    fn eval_loop(&mut self, v1: &mut Val) -> Step {
        let mut next = self.step(v1)?;
        match next {
            Tok::And | Tok::Or => {}
            op if is_comparison(op) => {
                next = self.compare_into(v1, op)?;
                match next {
                    Tok::RParen | Tok::End => return Ok(next),
                    Tok::And | Tok::Or => {}
                    _ => return Err(self.err("parser failed somehow near here")),
                }
            }
            _ => return Ok(next),
        }
        let mut v2 = Val::default();
        while matches!(next, Tok::And | Tok::Or) {
            let cond = next;
            next = self.step(&mut v2)?;
            if is_comparison(next) {
                next = self.compare_into(&mut v2, next)?;
            } else if !matches!(next, Tok::And | Tok::Or | Tok::End | Tok::RParen) {
                continue;
            }
            let (a, b) = (v1.truth(), v2.truth());
            v1.boolean = Some(if cond == Tok::Or { a || b } else { a && b });
        }
        Ok(next)
    }
}

fn is_comparison(t: Tok) -> bool {
    matches!(t, Tok::Eq | Tok::Ne | Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le)
}

fn compare(v1: &Val, v2: &Val, op: Tok) -> bool {
    let ord = if v1.boolean.is_none() && v2.boolean.is_none() {
        v1.s.cmp(&v2.s)
    } else {
        v1.truth().cmp(&v2.truth())
    };
    use std::cmp::Ordering::*;
    match op {
        Tok::Eq => ord == Equal,
        Tok::Ne => ord != Equal,
        Tok::Ge => ord != Less,
        Tok::Gt => ord == Greater,
        Tok::Le => ord != Greater,
        Tok::Lt => ord == Less,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "color" => Some("blue".into()),
            "empty" => Some(String::new()),
            "QUERY_STRING" => Some("a=1".into()),
            _ => None,
        }
    }

    #[test]
    fn expressions_evaluate_like_lighttpd() {
        let table: &[(&str, Result<bool, ()>)] = &[
            ("$color = blue", Ok(true)),
            ("${color} = blue", Ok(true)),
            ("$color = red", Ok(false)),
            ("$color != red", Ok(true)),
            ("'a b' = 'a b'", Ok(true)),
            ("a b = 'a b'", Ok(true)),
            ("abc < abd", Ok(true)),
            ("abc <= abc", Ok(true)),
            ("b > a", Ok(true)),
            ("b >= c", Ok(false)),
            ("$empty", Ok(false)),
            ("$nothing", Ok(false)),
            ("", Ok(false)),
            ("foo", Ok(true)),
            ("!foo", Ok(false)),
            ("!$nothing", Ok(true)),
            ("a = a && b = b", Ok(true)),
            ("a = a && b = c", Ok(false)),
            ("a = b || b = b", Ok(true)),
            ("(a = b) || (c = c)", Ok(true)),
            ("!(a = b)", Ok(true)),
            ("((a = a))", Ok(true)),
            ("$QUERY_STRING = 'a=1'", Ok(true)),
            ("a & b", Err(())),
            ("a | b", Err(())),
            ("'open", Err(())),
            ("${open", Err(())),
            ("(a = a", Err(())),
            ("a = a)", Err(())),
            ("(a) b", Ok(true)),
            ("(a) = b", Err(())),
            // bytes no token starts with end the evaluation instead of looping
            ("a\nb", Err(())),
            ("a = \r", Err(())),
            ("caf\u{e9} = x", Err(())),
        ];
        for (expr, want) in table {
            let got = eval(expr, lookup).map_err(|_| ());
            assert_eq!(&got, want, "expr {expr:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(eval(&deep, lookup).is_err());
        let nots = format!("{}a", "!".repeat(5000));
        assert!(eval(&nots, lookup).is_err());
    }
}
