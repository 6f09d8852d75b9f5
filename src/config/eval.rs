//! Document-order evaluation of parsed sources into a [`ConfigTree`], as
//! lighttpd's grammar actions do it (src/configparser.y): expressions and
//! variables at parse time, lexical lookup through enclosing blocks, `=` /
//! `:=` / `+=` with their quirks, array merges, block identity by key
//! string, else chains, `global { }`, `include` (globs) and `include_shell`.
//!
//! Every failure yields lighttpd's own stderr lines ([`LhLine`]) and a
//! [`Diagnostic`] with the span. Deliberate differences: includes nest at
//! most [`MAX_INCLUDE_DEPTH`] deep (lighttpd crashes on recursion) and
//! `include_shell` commands are bounded in time and output.

use super::ast::{AssignOp, Branch, Expr, ExprKind, File, Follow, ParseFailure, Stmt};
use super::cond::{self, CondError, CondField};
use super::diagnostic::{Diagnostic, LhLine};
use super::include::{self, ShellError};
use super::parse::parse;
use super::source::{FileId, Origin, Source, SourceMap, Span};
use super::tree::{ConfigTree, Context, CtxId, Directive};
use super::value::{Array, Value};
use std::collections::HashMap;

/// Deepest include/include_shell nesting accepted.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Deepest array nesting a value may reach (also through variables).
pub const MAX_VALUE_DEPTH: usize = 100;
/// Largest value (string bytes + array elements, all levels) accepted;
/// doubling a variable with `+=` would otherwise exhaust memory.
pub const MAX_VALUE_WEIGHT: usize = 16 * 1024 * 1024;

/// Depth and weight of a value, or None when beyond the limits.
fn measure(v: &Value) -> Option<(usize, usize)> {
    match v {
        Value::Str(s) => (s.len() <= MAX_VALUE_WEIGHT).then_some((0, s.len())),
        Value::Int(_) => Some((0, 1)),
        Value::Array(a) => {
            let (mut depth, mut weight) = (0, 1);
            for (k, item) in &a.items {
                let (d, w) = measure(item)?;
                depth = depth.max(d + 1);
                weight += w + k.as_ref().map_or(1, |k| k.len());
                if depth > MAX_VALUE_DEPTH || weight > MAX_VALUE_WEIGHT {
                    return None;
                }
            }
            Some((depth, weight))
        }
    }
}

const TOO_LARGE: &str = "value too large or arrays nested too deep";

/// Why loading failed: lighttpd's stderr lines and our diagnostics.
#[derive(Debug, Default)]
pub struct Failure {
    pub lines: Vec<LhLine>,
    pub diagnostics: Vec<Diagnostic>,
    /// lighttpd exits on the spot (no `parser failed` lines follow).
    pub abort: bool,
}

impl Failure {
    fn new(lines: Vec<LhLine>, diag: Diagnostic) -> Failure {
        Failure {
            lines,
            diagnostics: vec![diag],
            abort: false,
        }
    }
}

type EResult<T> = Result<T, Failure>;

/// The evaluator's state while loading one configuration.
pub struct Evaluator {
    pub sources: SourceMap,
    contexts: Vec<Context>,
    current: CtxId,
    stack: Vec<CtxId>,
    basedir: String,
    depth: usize,
    regex_errors: Vec<(CtxId, String)>,
    warnings: Vec<Diagnostic>,
    warning_lines: Vec<LhLine>,
    /// False for fuzzing: `include` / `include_shell` are refused.
    external: bool,
    /// Block key (lowercase) → context: lighttpd's block identity.
    blocks: HashMap<String, CtxId>,
    /// (context, lowercase key) → directive position.
    index: KeyIndex,
}

/// Directive positions by (context, ASCII-lowercased key), so lookups and
/// duplicate checks stay O(1) on configs with thousands of keys.
#[derive(Default)]
struct KeyIndex {
    map: HashMap<(CtxId, String), usize>,
}

impl KeyIndex {
    fn find(&self, ctx: CtxId, key: &str) -> Option<usize> {
        self.map.get(&(ctx, key.to_ascii_lowercase())).copied()
    }

    fn insert(&mut self, ctx: CtxId, key: &str, i: usize) {
        self.map.insert((ctx, key.to_ascii_lowercase()), i);
    }

    fn remove(&mut self, ctx: CtxId, key: &str) {
        self.map.remove(&(ctx, key.to_ascii_lowercase()));
    }
}

impl Evaluator {
    /// Refuse `include` and `include_shell` (fuzzing untrusted input).
    pub fn sandbox(&mut self) {
        self.external = false;
    }

    /// A fresh evaluator with the global context and `var.CWD`/`var.PID`;
    /// `main_path` is the `-f` argument (it decides the include basedir).
    pub fn new(main_path: &str) -> Evaluator {
        let basedir = match main_path.rfind('/') {
            Some(i) if main_path != "-" => main_path[..=i].to_string(),
            _ => String::new(),
        };
        let mut global = Context {
            parent: None,
            prev: None,
            next: None,
            cond: None,
            is_else: false,
            children: Vec::new(),
            directives: Vec::new(),
            span: Span::default(),
            key: "global".to_string(),
        };
        if let Ok(cwd) = std::env::current_dir() {
            let value = Value::Str(cwd.to_string_lossy().into_owned());
            global.directives.push(Directive {
                key: "var.CWD".into(),
                value,
                span: Span::default(),
            });
        }
        let pid = Value::Int(std::process::id() as i32);
        global.directives.push(Directive {
            key: "var.PID".into(),
            value: pid,
            span: Span::default(),
        });
        Evaluator {
            sources: SourceMap::default(),
            contexts: vec![global],
            current: 0,
            stack: Vec::new(),
            basedir,
            depth: 0,
            regex_errors: Vec::new(),
            warnings: Vec::new(),
            warning_lines: Vec::new(),
            external: true,
            blocks: HashMap::from([("global".to_string(), 0)]),
            index: KeyIndex::default(),
        }
        .with_global_index()
    }

    fn with_global_index(mut self) -> Evaluator {
        for (i, d) in self.contexts[0].directives.iter().enumerate() {
            self.index.insert(0, &d.key, i);
        }
        self
    }

    /// Evaluate one source's text into the current block.
    pub fn eval_source(&mut self, origin: Origin, text: Vec<u8>) -> EResult<()> {
        let file = parse(&text, self.sources.sources.len());
        let id = self.sources.add(Source::new(origin, text));
        self.eval_file(id, &file)
    }

    /// lighttpd normalises `$HTTP["querystring"]` values unless
    /// `server.http-parseopts` turns "url-normalize" off.
    fn normalize_querystrings(&mut self) {
        let opts = self.contexts[0]
            .get("server.http-parseopts")
            .map(|d| d.value.clone());
        let enabled = match opts.as_ref().and_then(|v| v.as_array()) {
            Some(a) => a
                .get("url-normalize")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            None => true,
        };
        if !enabled {
            return;
        }
        for ctx in 1..self.contexts.len() {
            let err = self.contexts[ctx]
                .cond
                .as_mut()
                .and_then(|c| c.normalize_querystring());
            if let Some(e) = err {
                self.regex_errors.push((ctx, e));
            }
        }
    }

    /// Finish: report deferred regex errors, then hand out the tree.
    pub fn finish(mut self) -> Result<ConfigTree, (Failure, SourceMap)> {
        self.normalize_querystrings();
        let mut errors = self.regex_errors.clone();
        errors.sort_by_key(|(ctx, _)| *ctx);
        if let Some((ctx, msg)) = errors.into_iter().next() {
            let origin = if msg.starts_with("Too many") {
                "data_config.c.116"
            } else {
                "data_config.c.90"
            };
            let span = self.contexts.get(ctx).map(|c| c.span);
            let f = Failure::new(
                vec![LhLine::log(origin, msg.clone())],
                Diagnostic::error(msg, span),
            );
            return Err((f, self.sources));
        }
        Ok(ConfigTree {
            contexts: self.contexts,
            sources: self.sources,
            warnings: self.warnings,
            warning_lines: self.warning_lines,
        })
    }

    fn eval_file(&mut self, id: FileId, file: &File) -> EResult<()> {
        if let Some((at, span)) = file.stray_nul {
            let msg = format!(
                "source: {} line: {} pos: {} stray NUL",
                self.name(id),
                at.line,
                at.pos
            );
            self.warning_lines
                .push(LhLine::log("configfile.c.2056", msg.clone()));
            self.warnings.push(Diagnostic::warning(
                "stray NUL: the rest of the file is ignored",
                Some(span),
            ));
        }
        self.block(id, &file.stmts)?;
        match &file.failure {
            None => Ok(()),
            Some(ParseFailure::Token {
                message,
                at,
                last_text,
                span,
            }) => {
                let lines = vec![
                    LhLine::log(
                        tokenizer_origin(message),
                        format!(
                            "source: {} line: {} pos: {} {message}",
                            self.name(id),
                            at.line,
                            at.pos
                        ),
                    ),
                    LhLine::log(
                        "configfile.c.2161",
                        format!("configfile parser failed at: {last_text}"),
                    ),
                ];
                Err(Failure::new(
                    lines,
                    Diagnostic::error(*message, Some(*span)),
                ))
            }
            Some(ParseFailure::Eof {
                at,
                last_text,
                span,
            }) => {
                let line = LhLine::log(
                    "configfile.c.2164",
                    format!(
                        "source: {} line: {} pos: {} parser failed somehow near here: {last_text}",
                        self.name(id),
                        at.line,
                        at.pos
                    ),
                );
                let diag = Diagnostic::error(
                    "unexpected end of input (unfinished statement or block)",
                    Some(*span),
                )
                .with_help("is a closing `}` or `)` or a value missing?");
                Err(Failure::new(vec![line], diag))
            }
        }
    }

    fn name(&self, id: FileId) -> String {
        self.sources.get(id).map(|s| s.name()).unwrap_or_default()
    }

    /// A grammar-action failure: the action's message, then lighttpd's
    /// `parser failed somehow near here` line at the lookahead.
    fn fail(&self, id: FileId, msg: &str, newline: bool, follow: &Follow, span: Span) -> Failure {
        let plain = if newline {
            format!("{msg}\n")
        } else {
            msg.to_string()
        };
        let mut f = Failure::new(
            vec![LhLine::Plain(plain)],
            Diagnostic::error(msg, Some(span)),
        );
        self.add_near_here(&mut f, id, follow);
        f
    }

    fn add_near_here(&self, f: &mut Failure, id: FileId, follow: &Follow) {
        if f.abort {
            return;
        }
        f.lines.push(LhLine::log(
            "configfile.c.2164",
            format!(
                "source: {} line: {} pos: {} parser failed somehow near here: {}",
                self.name(id),
                follow.at.line,
                follow.at.pos,
                follow.text
            ),
        ));
    }

    fn block(&mut self, id: FileId, stmts: &[Stmt]) -> EResult<()> {
        for s in stmts {
            self.stmt(id, s)?;
        }
        Ok(())
    }

    fn stmt(&mut self, id: FileId, s: &Stmt) -> EResult<()> {
        match s {
            Stmt::Assign {
                key,
                key_span,
                op,
                value,
                span,
            } => {
                let v = self.expr(id, value)?;
                self.assign(id, key, *key_span, *op, v, &value.follow, *span)
            }
            Stmt::Include { shell, arg, span } => {
                let target = self.stringop(id, arg)?;
                let res = if *shell {
                    self.include_shell(&target, *span)
                } else {
                    self.include(&target, *span)
                };
                res.map_err(|mut f| {
                    self.add_near_here(&mut f, id, &arg.follow);
                    f
                })
            }
            Stmt::Global { body, span, .. } => {
                self.push(0, *span)?;
                let res = self.block(id, body);
                self.pop();
                res
            }
            Stmt::Chain(branches) => self.chain(id, branches),
            Stmt::Probe(exprs) => {
                for e in exprs {
                    self.expr(id, e)?;
                }
                Ok(())
            }
        }
    }

    // ----- values -------------------------------------------------------

    fn expr(&mut self, id: FileId, e: &Expr) -> EResult<Value> {
        match &e.kind {
            ExprKind::Str(s) => Ok(Value::Str(s.clone())),
            ExprKind::Int(digits) => match digits.parse::<i64>() {
                Ok(n) => Ok(Value::Int(n as i32)), // lighttpd stores a long in an int
                Err(_) => Err(self.fail(
                    id,
                    &format!("error parsing number: '{digits}'"),
                    true,
                    &e.follow,
                    e.span,
                )),
            },
            ExprKind::Key(k) => self.variable(id, k, e),
            ExprKind::Plus(operands) => {
                let Some((first, rest)) = operands.split_first() else {
                    return Ok(Value::Str(String::new()));
                };
                let mut acc = self.expr(id, first)?;
                for b in rest {
                    let right = self.expr(id, b)?;
                    acc = self
                        .merge(acc, &right)
                        .map_err(|lines| self.merge_failure(id, lines, &b.follow, e.span))?;
                }
                Ok(acc)
            }
            ExprKind::Array(elements) => {
                let mut arr = Array::default();
                for el in elements {
                    let key = match &el.key {
                        Some(k) => Some(self.stringop(id, k)?),
                        None => None,
                    };
                    let value = self.expr(id, &el.value)?;
                    if let Some(k) = &key {
                        if arr.get(k).is_some() {
                            let msg = format!("Error: duplicate array-key: {k}. Please get rid of the duplicate entry.");
                            return Err(self.fail(id, &msg, true, &el.value.follow, el.span));
                        }
                    }
                    arr.items.push((key, value));
                }
                let v = Value::Array(arr);
                match measure(&v) {
                    Some(_) => Ok(v),
                    None => Err(self.fail(id, TOO_LARGE, true, &e.follow, e.span)),
                }
            }
        }
    }

    fn variable(&mut self, id: FileId, key: &str, e: &Expr) -> EResult<Value> {
        if let Some(name) = key.strip_prefix("env.") {
            return match std::env::var_os(name) {
                Some(v) => Ok(Value::Str(v.to_string_lossy().into_owned())),
                None => Err(self.fail(
                    id,
                    &format!("Undefined env variable: {name}"),
                    true,
                    &e.follow,
                    e.span,
                )),
            };
        }
        match self.lookup(self.current, key) {
            Some(v) => Ok(v.clone()),
            None => {
                let mut f = self.fail(
                    id,
                    &format!("Undefined config variable: {key}"),
                    true,
                    &e.follow,
                    e.span,
                );
                f.diagnostics[0].help = Some(
                    "variables must be assigned earlier, in this block or an enclosing one".into(),
                );
                Err(f)
            }
        }
    }

    /// Lexical lookup: `ctx`, then its enclosing blocks.
    fn lookup(&self, mut ctx: CtxId, key: &str) -> Option<&Value> {
        loop {
            let c = &self.contexts[ctx];
            if let Some(i) = self.index.find(ctx, key) {
                return c.directives.get(i).map(|d| &d.value);
            }
            ctx = c.parent?;
        }
    }

    /// `stringop`: an expression that must be a string or an integer.
    fn stringop(&mut self, id: FileId, e: &Expr) -> EResult<String> {
        match self.expr(id, e)? {
            Value::Str(s) => Ok(s),
            Value::Int(n) => Ok(n.to_string()),
            Value::Array(_) => {
                Err(self.fail(id, "operand must be string", false, &e.follow, e.span))
            }
        }
    }

    /// lighttpd's `configparser_merge_data` (`+` and `+=`), bounded in
    /// size. On failure returns the lines printed so far (the messages).
    fn merge(&mut self, left: Value, right: &Value) -> Result<Value, Vec<LhLine>> {
        let merged = self.merge_unbounded(left, right)?;
        match measure(&merged) {
            Some(_) => Ok(merged),
            None => Err(vec![LhLine::Plain(format!("{TOO_LARGE}\n"))]),
        }
    }

    fn merge_unbounded(&mut self, left: Value, right: &Value) -> Result<Value, Vec<LhLine>> {
        match (left, right) {
            (Value::Str(a), Value::Str(b)) => Ok(Value::Str(a + b)),
            (Value::Str(a), Value::Int(b)) => Ok(Value::Str(format!("{a}{b}"))),
            (Value::Int(a), Value::Str(b)) => Ok(Value::Str(format!("{a}{b}"))),
            (Value::Int(a), Value::Int(b)) => Ok(Value::Int(a.wrapping_add(*b))),
            (Value::Array(mut dst), Value::Array(src)) => {
                for (k, v) in &src.items {
                    let Some(k) = k else {
                        dst.items.push((None, v.clone()));
                        continue;
                    };
                    let Some(existing) = dst.get(k) else {
                        dst.items.push((Some(k.clone()), v.clone()));
                        continue;
                    };
                    let line = LhLine::Plain(format!("Duplicate array-key '{k}'\n"));
                    let same = matches!(
                        (existing, v),
                        (Value::Str(_), Value::Str(_)) | (Value::Int(_), Value::Int(_))
                    ) && existing == v;
                    if !same {
                        return Err(vec![line]);
                    }
                    self.warning_lines.push(line);
                    self.warnings.push(Diagnostic::warning(
                        format!("Duplicate array-key '{k}'"),
                        None,
                    ));
                }
                Ok(Value::Array(dst))
            }
            _ => Err(vec![LhLine::Plain(
                "data type mismatch, cannot merge\n".into(),
            )]),
        }
    }

    fn merge_failure(
        &self,
        id: FileId,
        lines: Vec<LhLine>,
        follow: &Follow,
        span: Span,
    ) -> Failure {
        let msg = match lines.first() {
            Some(LhLine::Plain(s)) => s.trim_end().to_string(),
            _ => "cannot merge".to_string(),
        };
        let mut f = Failure::new(lines, Diagnostic::error(msg, Some(span)));
        self.add_near_here(&mut f, id, follow);
        f
    }

    // ----- statements ---------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn assign(
        &mut self,
        id: FileId,
        key: &str,
        key_span: Span,
        op: AssignOp,
        value: Value,
        follow: &Follow,
        span: Span,
    ) -> EResult<()> {
        let (ndx, ctx_key) = (self.current, self.contexts[self.current].key.clone());
        if key.starts_with("env.") {
            let verb = if op == AssignOp::Append {
                "Appending"
            } else {
                "Setting"
            };
            let msg = format!(
                "{verb} env variable is not supported in conditional {ndx} {ctx_key}: {key}"
            );
            return Err(self.fail(id, &msg, true, follow, key_span));
        }
        let pos = self.index.find(ndx, key);
        let directive = |value| Directive {
            key: key.to_string(),
            value,
            span,
        };
        match (op, pos) {
            (AssignOp::Assign, Some(_)) => {
                let msg =
                    format!("Duplicate config variable in conditional {ndx} {ctx_key}: {key}");
                let mut f = self.fail(id, &msg, true, follow, key_span);
                f.diagnostics[0].help =
                    Some("use `:=` to replace a value or `+=` to append to it".to_string());
                Err(f)
            }
            (AssignOp::Force, Some(i)) => {
                self.contexts[ndx].directives[i] = directive(value);
                Ok(())
            }
            (AssignOp::Append, Some(i)) => {
                let old = self.take_directive(ndx, i);
                let merged = self
                    .merge(old.value, &value)
                    .map_err(|lines| self.merge_failure(id, lines, follow, span))?;
                self.push_directive(ndx, directive(merged));
                Ok(())
            }
            (AssignOp::Append, None) => {
                let inherited = self.contexts[ndx]
                    .parent
                    .and_then(|p| self.lookup(p, key))
                    .cloned();
                let stored = match inherited {
                    Some(old) => self
                        .merge(old, &value)
                        .map_err(|lines| self.merge_failure(id, lines, follow, span))?,
                    None => value,
                };
                self.push_directive(ndx, directive(stored));
                Ok(())
            }
            (_, None) => {
                self.push_directive(ndx, directive(value));
                Ok(())
            }
        }
    }

    /// Enter a block; lighttpd aborts on any block opened inside `global { }`.
    fn push(&mut self, ctx: CtxId, span: Span) -> EResult<()> {
        if !self.stack.is_empty() && self.current == 0 {
            let msg = "Cannot use conditionals inside a global { ... } block";
            let mut f = Failure::new(
                vec![LhLine::Plain(format!("{msg}\n"))],
                Diagnostic::error(msg, Some(span)),
            );
            f.abort = true;
            return Err(f);
        }
        self.stack.push(self.current);
        self.current = ctx;
        Ok(())
    }

    fn pop(&mut self) {
        if let Some(c) = self.stack.pop() {
            self.current = c;
        }
    }

    fn find_block(&self, key: &str) -> Option<CtxId> {
        self.blocks.get(&key.to_ascii_lowercase()).copied()
    }

    /// Append a directive to a context, keeping the key index.
    fn push_directive(&mut self, ctx: CtxId, d: Directive) {
        let dirs = &mut self.contexts[ctx].directives;
        self.index.insert(ctx, &d.key, dirs.len());
        dirs.push(d);
    }

    /// lighttpd's `array_extract_element_klen`: remove directive `i`,
    /// moving the last one into its slot.
    fn take_directive(&mut self, ctx: CtxId, i: usize) -> Directive {
        let dirs = &mut self.contexts[ctx].directives;
        let d = dirs.swap_remove(i);
        self.index.remove(ctx, &d.key);
        if let Some(moved) = dirs.get(i) {
            self.index.insert(ctx, &moved.key, i);
        }
        d
    }

    fn new_block(
        &mut self,
        key: String,
        cond: Option<cond::Condition>,
        is_else: bool,
        span: Span,
    ) -> CtxId {
        let id = self.contexts.len();
        self.contexts.push(Context {
            parent: Some(self.current),
            prev: None,
            next: None,
            cond,
            is_else,
            children: Vec::new(),
            directives: Vec::new(),
            span,
            key,
        });
        self.blocks
            .entry(self.contexts[id].key.to_ascii_lowercase())
            .or_insert(id);
        self.contexts[self.current].children.push(id);
        id
    }

    fn chain(&mut self, id: FileId, branches: &[Branch]) -> EResult<()> {
        let mut prev: Option<CtxId> = None;
        for b in branches {
            let this = match &b.head {
                Some(_) => self.cond_branch(id, b)?,
                None => self.else_branch(id, b)?,
            };
            if !b.complete {
                return Ok(()); // input ended inside: never linked
            }
            let Some(p) = prev else {
                prev = Some(this);
                continue;
            };
            let this = self.link(id, p, this, b)?;
            prev = Some(this);
        }
        Ok(())
    }

    /// Open (or re-open) the block of `$COND { ... }` and evaluate its body.
    fn cond_branch(&mut self, id: FileId, b: &Branch) -> EResult<CtxId> {
        let Some(head) = &b.head else {
            return Err(Failure::default());
        };
        if b.newer_keyword {
            let msg = "`if`/`elif`/`elsif`/`elseif`/`else if` are read as in lighttpd 1.4.74+; lighttpd 1.4.69 misreads them";
            let help = "for 1.4.69, write `else $HTTP[...] ... {` (and no `if`)";
            self.warnings
                .push(Diagnostic::warning(msg, Some(b.span)).with_help(help));
        }
        let field = self.stringop(id, &head.field)?;
        let rhs = match self.expr(id, &head.rhs)? {
            Value::Str(s) => s,
            _ => {
                return Err(self.fail(
                    id,
                    "rvalue must be string",
                    false,
                    &head.rhs.follow,
                    head.rhs.span,
                ))
            }
        };
        let comp = CondField::from_names(&head.obj, &field);
        let (op, value) = cond::simplified(comp.as_ref(), head.op, &rhs);
        let comp_key = format!("${}[\"{field}\"] {} \"{value}\"", head.obj, op.as_str());
        let key = format!("{} / {comp_key}", self.contexts[self.current].key);
        let ctx = match self.find_block(&key) {
            Some(existing) => {
                if self.contexts[existing].key != key {
                    let msg = format!(
                        "condition `{comp_key}` shares the block of an earlier condition that differs only in letter case: `{}`",
                        self.contexts[existing].cond.as_ref().map(|c| c.text()).unwrap_or_default()
                    );
                    let help =
                        "lighttpd 1.4.69 merges them into one block; write both the same way";
                    self.warnings
                        .push(Diagnostic::warning(msg, Some(head.span)).with_help(help));
                }
                existing
            }
            None => {
                let built = cond::build(&head.obj, &field, op, &value).map_err(|e| match e {
                    CondError::UnknownField => {
                        let mut f = self.fail(id, &format!("error comp_key {comp_key}"), false, &b.open, head.span);
                        f.diagnostics[0].help = Some(
                            "known fields: $HTTP[\"host\"|\"url\"|\"querystring\"|\"remoteip\"|\"scheme\"|\"request-method\"|\"referer\"|\"useragent\"|\"language\"|\"cookie\"], $REQUEST_HEADER[\"Name\"], $SERVER[\"socket\"]".into(),
                        );
                        f
                    }
                    CondError::InvalidAddr => {
                        self.fail(id, &format!("invalid IP addr: {value}"), true, &b.open, head.rhs.span)
                    }
                })?;
                let ctx = self.new_block(key, Some(built.cond), false, head.span);
                if let Some(e) = built.regex_error {
                    self.regex_errors.push((ctx, e));
                }
                ctx
            }
        };
        self.push(ctx, head.span)?;
        let res = self.block(id, &b.body);
        self.pop();
        res.map(|_| ctx)
    }

    fn else_branch(&mut self, id: FileId, b: &Branch) -> EResult<CtxId> {
        let key = format!("{} / else_tmp_token", self.contexts[self.current].key);
        let ctx = self.new_block(key, None, true, b.span);
        self.push(ctx, b.span)?;
        let res = self.block(id, &b.body);
        self.pop();
        res.map(|_| ctx)
    }

    /// Link `this` after `prev` in an else chain, with lighttpd's checks.
    fn link(&mut self, id: FileId, prev: CtxId, this: CtxId, b: &Branch) -> EResult<CtxId> {
        let mut msgs = Vec::new();
        if prev >= this {
            msgs.push("unreachable else condition");
        }
        if self.contexts[prev].is_else {
            msgs.push("unreachable condition following else catch-all");
        }
        if msgs.is_empty() && self.contexts[this].is_else {
            let parent_key = self.contexts[self.contexts[this].parent.unwrap_or(0)]
                .key
                .clone();
            match self.contexts[prev].cond.as_ref().map(|c| c.negated()) {
                Some(neg) => {
                    let key = format!("{parent_key} / {}", neg.text());
                    if self.find_block(&key).is_some() {
                        msgs.push("unreachable else condition");
                    } else {
                        let old = std::mem::replace(&mut self.contexts[this].key, key.clone());
                        if self.find_block(&old) == Some(this) {
                            self.blocks.remove(&old.to_ascii_lowercase());
                        }
                        self.blocks.insert(key.to_ascii_lowercase(), this);
                        self.contexts[this].cond = Some(neg);
                    }
                }
                None => msgs.push("unreachable condition following else catch-all"),
            }
        }
        if !msgs.is_empty() {
            let lines = msgs
                .iter()
                .map(|m| LhLine::Plain(format!("{m}\n")))
                .collect();
            let mut f = Failure::new(lines, Diagnostic::error(msgs[0], Some(b.span)));
            self.add_near_here(&mut f, id, &b.close);
            return Err(f);
        }
        self.contexts[this].prev = Some(prev);
        self.contexts[prev].next = Some(this);
        Ok(this)
    }

    // ----- includes -----------------------------------------------------

    fn enter_include(&mut self, what: &str, span: Span) -> EResult<()> {
        if !self.external {
            let msg = format!("include refused in sandbox: {what}");
            return Err(Failure::new(
                vec![LhLine::Plain(msg.clone() + "\n")],
                Diagnostic::error(msg, Some(span)),
            ));
        }
        if self.depth >= MAX_INCLUDE_DEPTH {
            let msg = format!(
                "includes nested more than {MAX_INCLUDE_DEPTH} deep (recursive include?): {what}"
            );
            return Err(Failure::new(
                vec![LhLine::log("configfile.c.2259", msg.clone())],
                Diagnostic::error(msg, Some(span)),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn include(&mut self, target: &str, span: Span) -> EResult<()> {
        if !self.external {
            return self.enter_include(target, span);
        }
        let path = include::resolve(&self.basedir, target);
        let files = include::glob(&path);
        if files.is_empty() {
            if include::has_glob_chars(&path) {
                return Ok(());
            }
            let msg = format!("include file not found: {path}");
            return Err(Failure::new(
                vec![LhLine::log("configfile.c.2259", msg.clone())],
                Diagnostic::error(msg, Some(span)),
            ));
        }
        for file in files {
            self.enter_include(&file, span)?;
            let res = self.include_file(&file, span);
            self.depth -= 1;
            res?;
        }
        Ok(())
    }

    fn include_file(&mut self, path: &str, span: Span) -> EResult<()> {
        let text = include::read_file(path).map_err(|e| {
            let msg = format!("opening configfile {path} failed: {e}");
            Failure::new(
                vec![LhLine::log("configfile.c.2211", msg.clone())],
                Diagnostic::error(msg, Some(span)),
            )
        })?;
        if text.is_empty() {
            return Ok(());
        }
        self.eval_source(Origin::File(path.into()), text)
    }

    fn include_shell(&mut self, cmd: &str, span: Span) -> EResult<()> {
        if !self.external {
            return self.enter_include(cmd, span);
        }
        let out = include::run_shell(cmd, &self.basedir).map_err(|e| {
            let msg = match e {
                ShellError::Status(n) => format!("command \"{cmd}\" exited non-zero: {n}"),
                ShellError::Spawn(err) => format!("fork/exec({cmd}): {err}"),
                ShellError::Timeout => {
                    format!(
                        "command \"{cmd}\" killed after {} s",
                        include::SHELL_TIMEOUT.as_secs()
                    )
                }
                ShellError::TooLarge => format!(
                    "command \"{cmd}\" output exceeds {} bytes",
                    include::MAX_SOURCE
                ),
            };
            Failure::new(
                vec![LhLine::log("configfile.c.2348", msg.clone())],
                Diagnostic::error(msg, Some(span)),
            )
        })?;
        self.enter_include(cmd, span)?;
        let res = self.eval_source(Origin::Shell(cmd.to_string()), out);
        self.depth -= 1;
        res
    }
}

/// lighttpd's source line for each tokenizer message (its log prefix).
fn tokenizer_origin(message: &str) -> &'static str {
    match message {
        "use => for assignments in arrays" => "configfile.c.1878",
        "only == =~ =^ =$ are allowed in the condition" => "configfile.c.1892",
        "unexpected equal-sign: =" => "configfile.c.1907",
        "only !~ and != are allowed in the condition" => "configfile.c.1916",
        "unexpected exclamation-marks: !" => "configfile.c.1926",
        "missing closing quote" => "configfile.c.1978",
        "close-parens seen open-parens" => "configfile.c.1993",
        "unexpected character ':'" => "configfile.c.2018",
        "invalid character in condition" => "configfile.c.2068",
        "invalid character in variable name" => "configfile.c.2109",
        _ => "configfile.c.0",
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
