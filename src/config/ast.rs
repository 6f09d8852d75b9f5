//! Syntax tree of one config source, as `parse.rs` produces it: every node
//! carries its [`Span`], and the spots where lighttpd's grammar actions can
//! fail carry a [`Follow`] — the token lighttpd's parser was looking at when
//! it ran the action — so errors can be reported in lighttpd's own
//! `source: F line: L pos: P parser failed somehow near here: T` form.

use super::cond::CondOp;
use super::lex::LhPos;
use super::source::Span;

/// The lookahead token after a construct: where lighttpd reports failures
/// of the construct's grammar action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Follow {
    pub at: LhPos,
    pub text: String,
}

/// An expression: `value { "+" value }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    pub follow: Follow,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A variable reference; `var.` already prepended when the key has no dot.
    Key(String),
    Str(String),
    /// The digits as written (converted, with lighttpd's wrap-around, by eval).
    Int(String),
    Array(Vec<Element>),
    /// `a + b + c`: the operands (two or more), merged left to right.
    /// Flat, so long chains cannot exhaust the stack.
    Plus(Vec<Expr>),
}

/// One array element: `value` or `key => value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub key: Option<Expr>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Assign,
    /// `+=`
    Append,
    /// `:=`
    Force,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Assign {
        /// The key as written, `var.` prepended when it has no dot.
        key: String,
        key_span: Span,
        op: AssignOp,
        value: Expr,
        span: Span,
    },
    Include {
        shell: bool,
        arg: Expr,
        span: Span,
    },
    Global {
        body: Vec<Stmt>,
        span: Span,
        /// Token after `global` (where the context is pushed).
        open: Follow,
    },
    /// `$COND { } else $COND { } else { }`
    Chain(Vec<Branch>),
    /// Input failed inside an unfinished statement: the expressions lighttpd
    /// had already evaluated (each had its lookahead token), whose errors
    /// (undefined variable, bad merge) it reports first.
    Probe(Vec<Expr>),
}

/// One branch of an if/else chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    /// None for a catch-all `else { }`.
    pub head: Option<CondHead>,
    pub body: Vec<Stmt>,
    /// The head (or the `else` keyword) — where the block is "written".
    pub span: Span,
    /// Token after the head, normally `{` (where lighttpd opens the block).
    pub open: Follow,
    /// Token after the closing `}` (where lighttpd links else branches).
    pub close: Follow,
    /// Written with a 1.4.74+ keyword (`if`, `elif`, `elsif`, `elseif`, `else if`).
    pub newer_keyword: bool,
    /// False when input failed inside the block: lighttpd has opened the
    /// block and run its statements so far, but never closes or links it.
    pub complete: bool,
}

/// `$OBJ[field] op rhs`
#[derive(Debug, Clone, PartialEq)]
pub struct CondHead {
    pub obj: String,
    pub field: Expr,
    pub op: CondOp,
    pub rhs: Expr,
    pub span: Span,
}

/// Why parsing one source stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseFailure {
    /// A tokenizer error (`source: F line: L pos: P <message>` +
    /// `configfile parser failed at: <last>`).
    Token {
        message: &'static str,
        at: LhPos,
        last_text: String,
        span: Span,
    },
    /// Input ended inside a statement or block (`parser failed somehow
    /// near here: <last>`).
    Eof {
        at: LhPos,
        last_text: String,
        span: Span,
    },
}

/// A parsed source: the statements completed before any failure, then the
/// failure itself (lighttpd runs the statements before reporting it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    pub stmts: Vec<Stmt>,
    pub failure: Option<ParseFailure>,
    /// A NUL byte cut the input short (lighttpd's `stray NUL`).
    pub stray_nul: Option<(LhPos, Span)>,
}
