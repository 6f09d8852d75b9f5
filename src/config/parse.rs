//! The config grammar (lighttpd src/configparser.y) as a recursive-descent
//! parser over the tokens of `lex.rs`: pure, text → [`ast::File`].
//!
//! lighttpd's lemon parser has no error rules: a token it cannot use is
//! silently dropped and only an unexpected end of input fails. This parser
//! does the same — wherever a token does not fit, it is skipped — which is
//! what makes common styles work (a newline between a condition and its
//! `{`, `( , )`, repeated commas) and keeps lighttpd's leniency for the
//! rest. Deliberate difference: the 1.4.74+ keywords `if`, `elif`,
//! `elsif`, `elseif` and `else if` (before a `$` condition) have their newer
//! meaning instead of 1.4.69's silent misparse.

use super::ast::{
    AssignOp, Branch, CondHead, Element, Expr, ExprKind, File, Follow, ParseFailure, Stmt,
};
use super::lex::{tokenize, LexError, LhPos, Tok, Token};
use super::source::{FileId, Span};

/// Parse one source's text.
pub fn parse(input: &[u8], file: FileId) -> File {
    let lexed = tokenize(input);
    let mut tokens = lexed.tokens;
    let last_text = tokens.last().map(|t| t.text.clone()).unwrap_or_default();
    if lexed.error.is_none() {
        // lighttpd appends an EOL at end of input; its "text" stays the
        // last real token's.
        let n = input.len();
        tokens.push(Token {
            tok: Tok::Eol,
            start: n,
            end: n,
            after: lexed.end,
            text: last_text.clone(),
        });
    }
    let mut p = Parser {
        tokens,
        i: 0,
        file,
        end: Follow {
            at: lexed.end,
            text: last_text,
        },
        end_offset: lexed.stray_nul.map_or(input.len(), |(_, o)| o),
        lex_error: lexed.error,
        failure: None,
        depth: 0,
        pending: Vec::new(),
    };
    let stmts = p.top_level();
    let stray_nul = lexed.stray_nul.map(|(at, o)| {
        (
            at,
            Span {
                file,
                start: o,
                end: o + 1,
            },
        )
    });
    File {
        stmts,
        failure: p.failure,
        stray_nul,
    }
}

/// The token stream ended (the failure is recorded in the parser),
/// carrying what was parsed of the enclosing construct: lighttpd has run
/// the grammar actions up to there (a block whose `{` was read is open).
struct Stop(Option<Box<Partial>>);

// boxed as a whole in `Stop`, so the variants' sizes do not matter
#[allow(clippy::large_enum_variant)]
enum Partial {
    Stmt(Stmt),
    Body(Vec<Stmt>),
    Branch(Branch),
}

type PResult<T> = Result<T, Stop>;

struct Parser {
    tokens: Vec<Token>,
    i: usize,
    file: FileId,
    end: Follow,
    end_offset: usize,
    lex_error: Option<LexError>,
    failure: Option<ParseFailure>,
    /// Current nesting of blocks and arrays.
    depth: usize,
    /// Expressions completed in the current statement (see [`Stmt::Probe`]).
    pending: Vec<Expr>,
}

/// Deepest nesting of blocks and arrays (lighttpd's parser stack holds 100
/// entries); deeper input fails instead of exhausting our stack.
pub const MAX_NESTING: usize = 100;

const NEWER_ELSE_IF: [&str; 3] = ["elif", "elsif", "elseif"];

impl Parser {
    fn tok(&self, i: usize) -> Option<&Tok> {
        self.tokens.get(i).map(|t| &t.tok)
    }

    fn peek(&self) -> Option<&Tok> {
        self.tok(self.i)
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span {
            file: self.file,
            start,
            end,
        }
    }

    /// The lookahead after token `i`.
    fn follow_of(&self, i: usize) -> Follow {
        match self.tokens.get(i + 1) {
            Some(t) => Follow {
                at: t.after,
                text: t.text.clone(),
            },
            None => self.end.clone(),
        }
    }

    /// Record why the stream ended and stop.
    fn stop(&mut self) -> Stop {
        if self.failure.is_none() {
            let at_end = self.span(self.end_offset, self.end_offset);
            self.failure = Some(match &self.lex_error {
                Some(e) => ParseFailure::Token {
                    message: e.message,
                    at: e.at,
                    last_text: e.last_text.clone(),
                    span: self.span(e.offset, e.offset + 1),
                },
                None => ParseFailure::Eof {
                    at: self.end.at,
                    last_text: self.end.text.clone(),
                    span: at_end,
                },
            });
        }
        Stop(None)
    }

    /// Enter a nested block or array at token `at`, failing when too deep.
    fn enter(&mut self, at: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth <= MAX_NESTING {
            return Ok(());
        }
        let t = &self.tokens[at.min(self.tokens.len().saturating_sub(1))];
        let span = self.span(t.start, t.end);
        self.failure = Some(ParseFailure::Token {
            message: "blocks or arrays nested more than 100 deep",
            at: t.after,
            last_text: t.text.clone(),
            span,
        });
        Err(Stop(None))
    }

    /// Skip tokens until one satisfies `want`; return its index (consumed).
    fn expect(&mut self, want: impl Fn(&Tok) -> bool) -> PResult<usize> {
        loop {
            match self.peek() {
                None => return Err(self.stop()),
                Some(t) if want(t) => {
                    self.i += 1;
                    return Ok(self.i - 1);
                }
                Some(_) => self.i += 1,
            }
        }
    }

    fn top_level(&mut self) -> Vec<Stmt> {
        let mut out = Vec::new();
        while self.peek().is_some() {
            match self.statement(false) {
                Ok(Some(s)) => out.push(s),
                Ok(None) => {}
                Err(Stop(partial)) => {
                    out.extend(self.unfinished(partial));
                    return out;
                }
            }
        }
        if self.lex_error.is_some() {
            self.stop();
        }
        out
    }

    /// Statements up to and including the block's closing `}`.
    fn block_body(&mut self) -> PResult<(Vec<Stmt>, usize)> {
        self.enter(self.i.saturating_sub(1))?;
        let res = self.block_statements();
        self.depth -= 1;
        res
    }

    fn block_statements(&mut self) -> PResult<(Vec<Stmt>, usize)> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.stop();
                    return Err(Stop(Some(Box::new(Partial::Body(out)))));
                }
                Some(Tok::RCurly) => {
                    self.i += 1;
                    return Ok((out, self.i - 1));
                }
                Some(_) => match self.statement(true) {
                    Ok(Some(s)) => out.push(s),
                    Ok(None) => {}
                    Err(Stop(partial)) => {
                        out.extend(self.unfinished(partial));
                        return Err(Stop(Some(Box::new(Partial::Body(out)))));
                    }
                },
            }
        }
    }

    /// What an unfinished statement leaves: its partial form, or the
    /// expressions it had completed.
    fn unfinished(&mut self, partial: Option<Box<Partial>>) -> Option<Stmt> {
        let pending = std::mem::take(&mut self.pending);
        match partial.map(|p| *p) {
            Some(Partial::Stmt(s)) => Some(s),
            _ if !pending.is_empty() => Some(Stmt::Probe(pending)),
            _ => None,
        }
    }

    /// One statement, or None when a token was skipped.
    fn statement(&mut self, in_block: bool) -> PResult<Option<Stmt>> {
        self.pending.clear();
        let Some(tok) = self.peek() else {
            return Err(self.stop());
        };
        let stmt = match tok {
            Tok::Key(k) if k == "if" && self.tok(self.i + 1) == Some(&Tok::Dollar) => {
                self.i += 1;
                self.chain(true)?
            }
            Tok::Key(_) => self.assignment()?,
            Tok::Include | Tok::IncludeShell => self.include()?,
            Tok::Global => self.global()?,
            Tok::Dollar => self.chain(false)?,
            Tok::RCurly if in_block => return Ok(None),
            _ => {
                self.i += 1; // lighttpd drops what it cannot use
                return Ok(None);
            }
        };
        Ok(Some(stmt))
    }

    fn assignment(&mut self) -> PResult<Stmt> {
        let key_tok = &self.tokens[self.i];
        let Tok::Key(raw) = &key_tok.tok else {
            return Err(self.stop());
        };
        let key = prefixed_key(raw);
        let key_span = self.span(key_tok.start, key_tok.end);
        self.i += 1;
        let op_i = self.expect(|t| matches!(t, Tok::Assign | Tok::Append | Tok::ForceAssign))?;
        let op = match self.tokens[op_i].tok {
            Tok::Append => AssignOp::Append,
            Tok::ForceAssign => AssignOp::Force,
            _ => AssignOp::Assign,
        };
        let value = self.expression()?;
        let span = self.span(key_span.start, value.span.end);
        Ok(Stmt::Assign {
            key,
            key_span,
            op,
            value,
            span,
        })
    }

    fn include(&mut self) -> PResult<Stmt> {
        let kw = &self.tokens[self.i];
        let (shell, start) = (kw.tok == Tok::IncludeShell, kw.start);
        self.i += 1;
        let arg = self.expression()?;
        let span = self.span(start, arg.span.end);
        Ok(Stmt::Include { shell, arg, span })
    }

    fn global(&mut self) -> PResult<Stmt> {
        let kw = self.i;
        let span = self.span(self.tokens[kw].start, self.tokens[kw].end);
        self.i += 1;
        let open = self.follow_of(kw);
        self.expect(|t| *t == Tok::LCurly)?;
        match self.block_body() {
            Ok((body, _)) => Ok(Stmt::Global { body, span, open }),
            Err(Stop(partial)) => match partial.map(|p| *p) {
                Some(Partial::Body(body)) => {
                    Err(Stop(Some(Box::new(Partial::Stmt(Stmt::Global {
                        body,
                        span,
                        open,
                    })))))
                }
                _ => Err(Stop(None)),
            },
        }
    }

    /// An expression; lighttpd evaluates it only once the token after it
    /// was read, so a tokenizer error right after it stops here.
    fn expression(&mut self) -> PResult<Expr> {
        let e = self.operands()?;
        if self.peek().is_none() {
            return Err(self.stop());
        }
        Ok(e)
    }

    fn operands(&mut self) -> PResult<Expr> {
        let first = self.value()?;
        if self.peek() != Some(&Tok::Plus) {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.peek() == Some(&Tok::Plus) {
            self.i += 1;
            operands.push(self.value()?);
        }
        let (start, last) = (operands[0].span.start, &operands[operands.len() - 1]);
        let (span, follow) = (self.span(start, last.span.end), last.follow.clone());
        let e = Expr {
            kind: ExprKind::Plus(operands),
            span,
            follow,
        };
        if self.peek().is_some() {
            self.pending.push(e.clone()); // merged when lighttpd read the next token
        }
        Ok(e)
    }

    fn value(&mut self) -> PResult<Expr> {
        let i =
            self.expect(|t| matches!(t, Tok::Key(_) | Tok::Str(_) | Tok::Int(_) | Tok::LParen))?;
        let t = &self.tokens[i];
        let (start, end) = (t.start, t.end);
        let kind = match &t.tok {
            Tok::Key(k) => ExprKind::Key(prefixed_key(k)),
            Tok::Str(s) => ExprKind::Str(s.clone()),
            Tok::Int(d) => ExprKind::Int(d.clone()),
            _ => return self.array(start),
        };
        let can_fail = !matches!(kind, ExprKind::Str(_));
        if can_fail && self.tok(i + 1).is_some() {
            // lighttpd looks the variable up (or converts the number) as
            // soon as it has read the next token
            let e = Expr {
                kind: kind.clone(),
                span: self.span(start, end),
                follow: self.follow_of(i),
            };
            self.pending.push(e);
        }
        Ok(Expr {
            kind,
            span: self.span(start, end),
            follow: self.follow_of(i),
        })
    }

    /// After `(`: elements, commas, `)`.
    fn array(&mut self, start: usize) -> PResult<Expr> {
        self.enter(self.i.saturating_sub(1))?;
        let res = self.array_items(start);
        self.depth -= 1;
        res
    }

    fn array_items(&mut self, start: usize) -> PResult<Expr> {
        let mut items = Vec::new();
        let mut after_element = false;
        loop {
            match self.peek() {
                None => return Err(self.stop()),
                Some(Tok::RParen) => {
                    let close = self.i;
                    self.i += 1;
                    let complete = self.peek().is_some();
                    let span = self.span(start, self.tokens[close].end);
                    let e = Expr {
                        kind: ExprKind::Array(items),
                        span,
                        follow: self.follow_of(close),
                    };
                    if complete {
                        self.pending.push(e.clone()); // built once the next token was read
                    }
                    return Ok(e);
                }
                Some(Tok::Comma) if !items.is_empty() => {
                    self.i += 1;
                    after_element = false;
                }
                Some(Tok::Key(_) | Tok::Str(_) | Tok::Int(_) | Tok::LParen) if !after_element => {
                    items.push(self.element()?);
                    after_element = true;
                }
                Some(_) => {
                    // after a comma, lighttpd's parser takes the comma as a
                    // trailing one on any unusable token and then wants `,`/`)`
                    after_element = !items.is_empty();
                    self.i += 1;
                }
            }
        }
    }

    fn element(&mut self) -> PResult<Element> {
        let first = self.expression()?;
        // lighttpd ends an element on anything but `=>` (what follows that
        // is not `,` or `)` is then dropped by the array loop)
        if self.peek() != Some(&Tok::ArrayAssign) {
            let span = first.span;
            return Ok(Element {
                key: None,
                value: first,
                span,
            });
        }
        self.i += 1;
        let value = self.expression()?;
        let span = self.span(first.span.start, value.span.end);
        Ok(Element {
            key: Some(first),
            value,
            span,
        })
    }

    /// A condition chain starting at `$`.
    fn chain(&mut self, newer: bool) -> PResult<Stmt> {
        let mut branches = Vec::new();
        self.chain_branches(newer, &mut branches)
            .map_err(|Stop(partial)| {
                if let Some(Partial::Branch(b)) = partial.map(|p| *p) {
                    branches.push(b);
                }
                match branches.is_empty() {
                    true => Stop(None),
                    false => Stop(Some(Box::new(Partial::Stmt(Stmt::Chain(branches))))),
                }
            })
    }

    fn chain_branches(&mut self, newer: bool, branches: &mut Vec<Branch>) -> PResult<Stmt> {
        branches.push(self.cond_branch(newer)?);
        loop {
            let mut j = self.i;
            if self.tok(j) == Some(&Tok::Eol) {
                j += 1;
            }
            let next_is_dollar = self.tok(j + 1) == Some(&Tok::Dollar);
            match self.tok(j) {
                Some(Tok::Else) => {
                    let else_i = j;
                    self.i = j + 1;
                    if self.peek() == Some(&Tok::Dollar) {
                        branches.push(self.cond_branch(false)?);
                    } else if matches!(self.peek(), Some(Tok::Key(k)) if k == "if")
                        && self.tok(self.i + 1) == Some(&Tok::Dollar)
                    {
                        self.i += 1;
                        branches.push(self.cond_branch(true)?);
                    } else {
                        branches.push(self.else_branch(else_i)?);
                    }
                }
                Some(Tok::Key(k)) if next_is_dollar && NEWER_ELSE_IF.contains(&k.as_str()) => {
                    self.i = j + 1;
                    branches.push(self.cond_branch(true)?);
                }
                _ => return Ok(Stmt::Chain(std::mem::take(branches))),
            }
        }
    }

    fn cond_branch(&mut self, newer_keyword: bool) -> PResult<Branch> {
        let start = self.tokens[self.i].start;
        self.i += 1; // `$`
        let obj_i = self.expect(|t| matches!(t, Tok::SrvVarName(_)))?;
        let obj = self.tokens[obj_i].text.clone();
        self.expect(|t| *t == Tok::LBracket)?;
        let field = self.expression()?;
        self.expect(|t| *t == Tok::RBracket)?;
        let op_i = self.expect(|t| matches!(t, Tok::CondOp(_)))?;
        let Tok::CondOp(op) = self.tokens[op_i].tok else {
            return Err(self.stop());
        };
        let rhs = self.expression()?;
        let span = self.span(start, rhs.span.end);
        let open = rhs.follow.clone();
        let head = CondHead {
            obj,
            field,
            op,
            rhs,
            span,
        };
        let mut branch = Branch {
            head: Some(head),
            body: Vec::new(),
            span,
            open,
            close: Follow::default(),
            newer_keyword,
            complete: false,
        };
        // lighttpd opens the block at the token after the condition, even
        // if that is not the `{` it then waits for
        if let Err(stop) = self.expect(|t| *t == Tok::LCurly) {
            return Err(Stop(Some(Box::new(Partial::Branch(branch))).or(stop.0)));
        }
        self.branch_body(&mut branch)?;
        Ok(branch)
    }

    fn else_branch(&mut self, else_i: usize) -> PResult<Branch> {
        let t = &self.tokens[else_i];
        let span = self.span(t.start, t.end);
        let open = self.follow_of(else_i);
        self.expect(|t| *t == Tok::LCurly)?;
        let mut branch = Branch {
            head: None,
            body: Vec::new(),
            span,
            open,
            close: Follow::default(),
            newer_keyword: false,
            complete: false,
        };
        self.branch_body(&mut branch)?;
        Ok(branch)
    }

    /// The body of a branch whose `{` was read; on a stop the branch is
    /// handed up, incomplete, with the statements read so far.
    fn branch_body(&mut self, branch: &mut Branch) -> PResult<()> {
        match self.block_body() {
            Ok((body, close_i)) => {
                branch.body = body;
                branch.close = self.follow_of(close_i);
                branch.complete = true;
                Ok(())
            }
            Err(Stop(partial)) => {
                if let Some(Partial::Body(body)) = partial.map(|p| *p) {
                    branch.body = body;
                }
                Err(Stop(Some(Box::new(Partial::Branch(std::mem::replace(
                    branch,
                    empty_branch(),
                ))))))
            }
        }
    }
}

fn empty_branch() -> Branch {
    Branch {
        head: None,
        body: Vec::new(),
        span: Span::default(),
        open: Follow::default(),
        close: Follow::default(),
        newer_keyword: false,
        complete: false,
    }
}

/// lighttpd prepends `var.` to keys without a dot.
fn prefixed_key(raw: &str) -> String {
    if raw.contains('.') {
        raw.to_string()
    } else {
        format!("var.{raw}")
    }
}

/// Position helper for tests and callers: lighttpd's (line, pos).
pub fn lh(line: usize, pos: usize) -> LhPos {
    LhPos { line, pos }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cond::CondOp;

    fn ok(src: &str) -> Vec<Stmt> {
        let f = parse(src.as_bytes(), 0);
        assert!(f.failure.is_none(), "{src:?}: {:?}", f.failure);
        f.stmts
    }

    /// A compact rendering of the AST for table tests.
    fn show(stmts: &[Stmt]) -> String {
        stmts.iter().map(show_stmt).collect::<Vec<_>>().join("; ")
    }

    fn show_stmt(s: &Stmt) -> String {
        match s {
            Stmt::Assign { key, op, value, .. } => {
                let op = match op {
                    AssignOp::Assign => "=",
                    AssignOp::Append => "+=",
                    AssignOp::Force => ":=",
                };
                format!("{key} {op} {}", show_expr(value))
            }
            Stmt::Include { shell, arg, .. } => {
                format!(
                    "{} {}",
                    if *shell { "include_shell" } else { "include" },
                    show_expr(arg)
                )
            }
            Stmt::Global { body, .. } => format!("global {{ {} }}", show(body)),
            Stmt::Probe(es) => format!(
                "probe {}",
                es.iter().map(show_expr).collect::<Vec<_>>().join(" ")
            ),
            Stmt::Chain(bs) => bs
                .iter()
                .map(|b| match &b.head {
                    Some(h) => format!(
                        "${}[{}] {} {} {{ {} }}",
                        h.obj,
                        show_expr(&h.field),
                        h.op.as_str(),
                        show_expr(&h.rhs),
                        show(&b.body)
                    ),
                    None => format!("else {{ {} }}", show(&b.body)),
                })
                .collect::<Vec<_>>()
                .join(" / "),
        }
    }

    fn show_expr(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Key(k) => k.clone(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Int(d) => d.clone(),
            ExprKind::Plus(ops) => {
                let mut it = ops.iter().map(show_expr);
                let first = it.next().unwrap_or_default();
                it.fold(first, |acc, x| format!("({acc} + {x})"))
            }
            ExprKind::Array(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|el| match &el.key {
                        Some(k) => format!("{} => {}", show_expr(k), show_expr(&el.value)),
                        None => show_expr(&el.value),
                    })
                    .collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }

    #[test]
    fn grammar_table() {
        let cases: &[(&str, &str)] = &[
            ("a = 1", "var.a = 1"),
            ("server.port = 80\n", "server.port = 80"),
            ("a = \"x\" + b + 3", "var.a = ((\"x\" + var.b) + 3)"),
            ("a += (1, 2,)", "var.a += [1, 2]"),
            ("a := ()", "var.a := []"),
            ("a = ( , )", "var.a = []"),
            ("a = (1,,2)", "var.a = [1, 2]"),
            ("a = (\"k\" => (\"n\" => 1), 2 => \"v\")", "var.a = [\"k\" => [\"n\" => 1], 2 => \"v\"]"),
            ("a = (\"x\" + \"y\" => 2)", "var.a = [(\"x\" + \"y\") => 2]"),
            ("var.a = 1 var.b = 2", "var.a = 1; var.b = 2"),
            ("a = 1,2\n", "var.a = 1"),
            ("a = 12 34", "var.a = 12"),
            ("a = \"x\" \"y\"", "var.a = \"x\""),
            ("a = ( \"m\" \"n\" )", "var.a = [\"m\"]"),
            ("a = (\"x\" => 1 \"y\" => 2)", "var.a = [\"x\" => 1]"),
            ("a = = 1", "var.a = 1"),
            ("a = + 5", "var.a = 5"),
            ("a = 1 + + 2", "var.a = (1 + 2)"),
            ("a = [1]", "var.a = 1"),
            ("= 1", ""),
            ("}\n{ a = 1 }", "var.a = 1"),
            ("server.port 80\nserver.name = \"x\"", "server.port = \"x\""),
            ("-x = 3\n.x = 2", "var.-x = 3; .x = 2"),
            ("include \"a.conf\"\ninclude_shell \"echo\" + 1", "include \"a.conf\"; include_shell (\"echo\" + 1)"),
            ("global { a = 1 }", "global { var.a = 1 }"),
            ("$HTTP[\"url\"] =~ \"^/x\" { a = 1 }", "$HTTP[\"url\"] =~ \"^/x\" { var.a = 1 }"),
            ("$HTTP[\"url\"] == \"/x\"\n{\na = 1\n}", "$HTTP[\"url\"] == \"/x\" { var.a = 1 }"),
            ("$REQUEST_HEADER[\"X-\" + \"Foo\"] != \"\" {}", "$REQUEST_HEADER[(\"X-\" + \"Foo\")] != \"\" {  }"),
            ("$HTTP[\"host\"] == \"a\" {} else $HTTP[\"host\"] == \"b\" {} else { x = 1 }",
             "$HTTP[\"host\"] == \"a\" {  } / $HTTP[\"host\"] == \"b\" {  } / else { var.x = 1 }"),
            ("$HTTP[\"host\"] == \"a\" {\n}\n\n# c\nelse {\n}", "$HTTP[\"host\"] == \"a\" {  } / else {  }"),
            ("$HTTP[\"url\"] == \"/a\" { $HTTP[\"host\"] =$ \".b\" { c = 1 } }",
             "$HTTP[\"url\"] == \"/a\" { $HTTP[\"host\"] =$ \".b\" { var.c = 1 } }"),
            ("if $HTTP[\"url\"] == \"/a\" { } elif $HTTP[\"url\"] == \"/b\" { } elsif $HTTP[\"url\"] == \"/c\" { }",
             "$HTTP[\"url\"] == \"/a\" {  } / $HTTP[\"url\"] == \"/b\" {  } / $HTTP[\"url\"] == \"/c\" {  }"),
            ("$HTTP[\"url\"] == \"/a\" { } elseif $HTTP[\"url\"] == \"/b\" { } else if $HTTP[\"url\"] == \"/c\" { }",
             "$HTTP[\"url\"] == \"/a\" {  } / $HTTP[\"url\"] == \"/b\" {  } / $HTTP[\"url\"] == \"/c\" {  }"),
            ("if = 1\nelif = 2", "var.if = 1; var.elif = 2"),
            ("a = 1 # c\nb = \"#x\"#d", "var.a = 1; var.b = \"#x\""),
        ];
        for (src, want) in cases {
            assert_eq!(show(&ok(src)), *want, "source: {src:?}");
        }
    }

    #[test]
    fn condition_operators() {
        for (op, want) in [
            ("==", CondOp::Eq),
            ("!=", CondOp::Ne),
            ("=~", CondOp::Match),
            ("!~", CondOp::NoMatch),
            ("=^", CondOp::Prefix),
            ("=$", CondOp::Suffix),
        ] {
            let s = ok(&format!("$HTTP[\"url\"] {op} \"x\" {{ }}"));
            let Stmt::Chain(b) = &s[0] else {
                panic!("not a chain")
            };
            assert_eq!(b[0].head.as_ref().map(|h| h.op), Some(want));
        }
    }

    #[test]
    fn unfinished_input_fails_at_eof() {
        for src in [
            "var.a 1\n",
            "var.a = \n",
            "var.a = 1 +\n",
            "$HTTP[\"url\"] == \"/\" {\n a = 1\n",
        ] {
            let f = parse(src.as_bytes(), 0);
            assert!(
                matches!(f.failure, Some(ParseFailure::Eof { .. })),
                "{src:?}"
            );
        }
        let f = parse(b"a = 1\nb = ", 0);
        assert_eq!(show(&f.stmts), "var.a = 1");
        let Some(ParseFailure::Eof { at, last_text, .. }) = f.failure else {
            panic!("no eof failure")
        };
        assert_eq!((at, last_text.as_str()), (lh(2, 4), "="));
    }

    #[test]
    fn tokenizer_failure_keeps_earlier_statements() {
        let f = parse(b"a = 1\nb = \"x", 0);
        assert_eq!(show(&f.stmts), "var.a = 1");
        let Some(ParseFailure::Token { message, at, .. }) = f.failure else {
            panic!("no failure")
        };
        assert_eq!((message, at), ("missing closing quote", lh(2, 4)));
    }

    #[test]
    fn follow_is_the_lookahead_token() {
        let s = ok("server.port = 1\nserver.port = 2\n");
        let Stmt::Assign { value, .. } = &s[1] else {
            panic!()
        };
        assert_eq!(
            value.follow,
            Follow {
                at: lh(3, 0),
                text: "(EOL)".into()
            }
        );
        let s = ok("a = b + \"x\"");
        let Stmt::Assign { value, .. } = &s[0] else {
            panic!()
        };
        let ExprKind::Plus(ops) = &value.kind else {
            panic!()
        };
        assert_eq!(ops[0].follow.text, "+");
        // at end of input without newline: the end position, last token text
        assert_eq!(
            value.follow,
            Follow {
                at: lh(1, 11),
                text: "x".into()
            }
        );
    }

    #[test]
    fn deep_nesting_fails_cleanly() {
        let deep = format!("a = {}{}", "(".repeat(100_000), ")".repeat(100_000));
        let f = parse(deep.as_bytes(), 0);
        assert!(
            matches!(f.failure, Some(ParseFailure::Token { message, .. }) if message.contains("nested"))
        );
        let blocks = "$HTTP[\"url\"] == \"/\" {\n".repeat(150);
        let f = parse(blocks.as_bytes(), 0);
        assert!(matches!(f.failure, Some(ParseFailure::Token { .. })));
        let ok_depth = format!("a = {}{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(ok_depth.as_bytes(), 0).failure.is_none());
        let long = format!("a = 1{}", " + 1".repeat(200_000));
        assert!(parse(long.as_bytes(), 0).failure.is_none());
    }

    #[test]
    fn spans_cover_constructs() {
        let s = ok("\nserver.tag = \"x\" + \"y\"\n");
        let Stmt::Assign { key_span, span, .. } = &s[0] else {
            panic!()
        };
        assert_eq!((key_span.start, key_span.end), (1, 11));
        assert_eq!((span.start, span.end), (1, 23));
    }
}
