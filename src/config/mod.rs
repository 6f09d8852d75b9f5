//! Configuration: `lighttpd.conf` text → AST → [`tree::ConfigTree`] → checked,
//! typed configuration for the core and every module.
//!
//! Reading order: `lex` (tokens) → `parse` (AST, `ast`) → `eval` (the
//! tree, with `include` and `cond`) → `print` (`-p`). [`load`] runs it all.

pub mod ast;
pub mod check;
pub mod cond;
pub mod core;
pub mod diagnostic;
pub mod directive;
pub mod eval;
pub mod explain;
pub mod include;
pub mod lex;
pub mod parse;
pub mod print;
pub mod scoped;
pub mod source;
pub mod tree;
pub mod validate;
pub mod value;

use diagnostic::{lh_timestamp, Diagnostic, LhLine};
use source::{Origin, SourceMap};
use tree::ConfigTree;

/// A configuration that could not be loaded.
#[derive(Debug)]
pub struct LoadError {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
    /// What lighttpd itself would have written to stderr.
    pub lighttpd_lines: Vec<LhLine>,
}

/// Load the configuration `path` (`-` = stdin) the way lighttpd's
/// `config_read` does (parse steps 1–2: text → tree).
pub fn load(path: &str) -> Result<ConfigTree, LoadError> {
    let ev = eval::Evaluator::new(path);
    let (origin, read) = if path == "-" {
        (Origin::Stdin, include::read_stdin())
    } else {
        (Origin::File(path.into()), include::read_file(path))
    };
    let text = match read {
        Ok(t) => t,
        Err(e) => {
            let msg = format!("opening configfile {path} failed: {e}");
            return Err(LoadError {
                diagnostics: vec![Diagnostic::error(msg.clone(), None)],
                sources: ev.sources,
                lighttpd_lines: vec![LhLine::log("configfile.c.2211", msg)],
            });
        }
    };
    evaluate(ev, origin, text)
}

/// Load configuration text directly (tests, fuzzing); `name` is the
/// `-f` argument it pretends to come from.
pub fn load_str(name: &str, text: &[u8]) -> Result<ConfigTree, LoadError> {
    let ev = eval::Evaluator::new(name);
    let origin = if name == "-" {
        Origin::Stdin
    } else {
        Origin::File(name.into())
    };
    evaluate(ev, origin, text.to_vec())
}

/// Evaluate the main source and finish the tree (shared by `load` and `load_str`).
fn evaluate(
    mut ev: eval::Evaluator,
    origin: Origin,
    text: Vec<u8>,
) -> Result<ConfigTree, LoadError> {
    if let Err(f) = ev.eval_source(origin, text) {
        return Err(LoadError {
            diagnostics: f.diagnostics,
            sources: ev.sources,
            lighttpd_lines: f.lines,
        });
    }
    ev.finish().map_err(|(f, sources)| LoadError {
        diagnostics: f.diagnostics,
        sources,
        lighttpd_lines: f.lines,
    })
}

/// lighttpd's own stderr text for a load failure (`-t`, `-p`, startup).
pub fn lighttpd_stderr(err: &LoadError) -> String {
    render_lines(&err.lighttpd_lines)
}

/// lighttpd's stderr text for the warnings of a loaded tree.
pub fn lighttpd_warnings(tree: &ConfigTree) -> String {
    render_lines(&tree.warning_lines)
}

fn render_lines(lines: &[LhLine]) -> String {
    let ts = lh_timestamp();
    lines.iter().map(|l| l.render(&ts)).collect()
}

/// Compiler-style rendering of every diagnostic (`lighttpd check`).
pub fn render_diagnostics(err: &LoadError) -> String {
    err.diagnostics
        .iter()
        .map(|d| d.render(&err.sources))
        .collect::<Vec<_>>()
        .join("\n")
}
