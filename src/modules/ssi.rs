//! mod_ssi (lighttpd src/mod_ssi.c): server-side includes for files whose
//! physical path ends with an `ssi.extension` suffix. The page is built in
//! one go when the handler first runs (like lighttpd):
//! text is copied, `<!--#...-->` statements ([`super::ssi_parse`]) are
//! executed — echo, include/fsize/flastmod (file= / virtual=), config,
//! printenv, set, if/elif/else/endif ([`super::ssi_expr`]), exec
//! (collected as placeholders; the commands then run one at a time on the
//! event loop, [`super::ssi_exec`]). Content-Type is `ssi.content-type`; ETag and
//! Last-Modified (newest of the page and its includes) and 304s only with
//! `ssi.conditional-requests`. Work per request is bounded: at most
//! [`MAX_INCLUDES`] includes and [`MAX_OUTPUT`] bytes of output; the
//! output goes to temp files past 1 MiB.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::rc::Rc;

use super::ssi_exec::Running;
use super::ssi_parse::{self, Directive, Piece};
use crate::chunk::{ChunkQueue, SpillConf};
use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_bool, get_list, get_short, get_str};
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Handler, Hook, Module};
use crate::request::Request;

const NAME: &str = "mod_ssi";
/// Most include/fsize/flastmod statements executed for one request.
pub const MAX_INCLUDES: usize = 4096;
/// Nested SSI pages are processed by native recursion: at most this deep,
/// whatever `ssi.recursion-max` says (the stack is not unbounded).
pub const MAX_DEPTH: u16 = 64;
/// Most response bytes one page may produce; the rest is dropped.
pub const MAX_OUTPUT: u64 = 256 << 20;

/// The per-scope settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsiConf {
    pub extensions: Vec<String>,
    pub content_type: Option<String>,
    pub conditional_requests: bool,
    pub exec: bool,
    pub recursion_max: u16,
}

impl Default for SsiConf {
    /// lighttpd's defaults: exec on, recursion-max 0 (virtual includes of
    /// SSI pages are inserted unprocessed).
    fn default() -> SsiConf {
        SsiConf {
            extensions: Vec::new(),
            content_type: None,
            conditional_requests: false,
            exec: true,
            recursion_max: 0,
        }
    }
}

/// One config setting.
#[derive(Debug, Clone)]
pub enum Item {
    Extensions(Vec<String>),
    ContentType(Option<String>),
    Conditional(bool),
    Exec(bool),
    RecursionMax(u16),
}

impl Patch for SsiConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Extensions(v) => self.extensions = v.clone(),
            Item::ContentType(v) => self.content_type = v.clone(),
            Item::Conditional(v) => self.conditional_requests = *v,
            Item::Exec(v) => self.exec = *v,
            Item::RecursionMax(v) => self.recursion_max = *v,
        }
    }
}

fn compile(tree: &ConfigTree) -> Result<Scoped<SsiConf>, Vec<Diagnostic>> {
    let keys = [
        "ssi.extension",
        "ssi.content-type",
        "ssi.conditional-requests",
        "ssi.exec",
        "ssi.recursion-max",
    ];
    Scoped::build(tree, SsiConf::default(), &keys, |key, d| {
        let v = &d.value;
        Ok(match key {
            "ssi.extension" => Item::Extensions(get_list(key, v)?),
            "ssi.content-type" => {
                let s = get_str(key, v)?;
                Item::ContentType((!s.is_empty()).then(|| s.to_string()))
            }
            "ssi.conditional-requests" => Item::Conditional(get_bool(key, v)?),
            "ssi.exec" => Item::Exec(get_bool(key, v)?),
            _ => Item::RecursionMax(get_short(key, v)?),
        })
    })
}

/// The module.
pub struct ModSsi {
    conf: Scoped<SsiConf>,
    spill: Rc<SpillConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let mut spill = crate::gw::module::spill_conf(init.tree);
    spill.mem_limit = 1 << 20;
    Ok(Box::new(ModSsi {
        conf: compile(init.tree)?,
        spill: Rc::new(spill),
    }))
}

impl Module for ModSsi {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::SubrequestStart]
    }

    fn subrequest_start(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if r.handler.is_some() || r.handler_module.is_some() || r.physical.path.is_empty() {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        let path = &r.physical.path;
        if !conf.extensions.iter().any(|e| path.ends_with(e.as_str())) {
            return Flow::GoOn;
        }
        r.handler_module = Some(NAME);
        r.handler = Some(Box::new(SsiHandler {
            conf,
            spill: self.spill.clone(),
            pending: None,
        }));
        Flow::Finished
    }
}

/// Builds one SSI response.
struct SsiHandler {
    conf: SsiConf,
    spill: Rc<SpillConf>,
    pending: Option<Pending>,
}

/// A processed page waiting for its `#exec` commands, run one at a time.
struct Pending {
    parts: Vec<Part>,
    meta: Metadata,
    newest_include: i64,
    /// The part being (or to be) run next.
    next: usize,
    running: Option<Running>,
}

impl Handler for SsiHandler {
    fn handle(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        if self.pending.is_none() {
            let mut page = Page::new(r, &self.conf, &self.spill, cx.now);
            let Some(meta) = page.process_current() else {
                r.handler_module = None;
                r.resp.complete = true;
                return r.finish_with(500);
            };
            let newest_include = page.newest_include;
            self.pending = Some(Pending {
                parts: page.out.into_parts(),
                meta,
                newest_include,
                next: 0,
                running: None,
            });
        }
        self.drive(r, cx)
    }

    fn tick(&mut self, _r: &mut Request, _cx: &mut Ctx) -> Flow {
        match self.pending.as_ref().and_then(|p| p.running.as_ref()) {
            Some(run) if run.expired() => Flow::GoOn,
            _ => Flow::WaitForEvent,
        }
    }

    fn reset(&mut self, cx: &mut Ctx) {
        if let Some(run) = self.pending.as_mut().and_then(|p| p.running.take()) {
            run.abandon(cx);
        }
    }
}

impl SsiHandler {
    /// Run the pending commands in order; then build the response.
    fn drive(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        let Some(p) = self.pending.as_mut() else {
            return Flow::Error;
        };
        loop {
            if let Some(run) = p.running.as_mut() {
                if !run.read() {
                    return Flow::WaitForEvent;
                }
                let out = p
                    .running
                    .take()
                    .map(|run| run.finish(cx))
                    .unwrap_or_default();
                let mut q = ChunkQueue::new();
                if q.append_spilling(&out, &self.spill).is_err() {
                    crate::log_error!("ssi: writing a temp file failed");
                }
                p.parts[p.next] = Part::Data(q);
                p.next += 1;
            }
            let Some(i) = (p.next..p.parts.len()).find(|&i| matches!(p.parts[i], Part::Exec(_)))
            else {
                break;
            };
            p.next = i;
            let Part::Exec(cmd) = &p.parts[i] else { break };
            match Running::spawn(cmd, cx) {
                Ok(run) => p.running = Some(run),
                Err(e) => {
                    crate::log_error!("spawning exec failed: {cmd} {e}");
                    p.parts[i] = Part::Data(ChunkQueue::new());
                    p.next += 1;
                }
            }
        }
        let Some(p) = self.pending.take() else {
            return Flow::Error;
        };
        self.respond(r, p)
    }

    fn respond(&self, r: &mut Request, p: Pending) -> Flow {
        let ct = self.conf.content_type.as_deref().unwrap_or("text/html");
        r.resp.headers.set("Content-Type", ct);
        for part in p.parts {
            if let Part::Data(mut q) = part {
                r.resp.body.append_queue(&mut q);
            }
        }
        r.resp.complete = true;
        if self.conf.conditional_requests {
            if let Some(status) = validators(r, &p.meta, p.newest_include) {
                r.resp.body.reset();
                return r.finish_with(status);
            }
        }
        r.finish_with(200)
    }
}

/// ETag and Last-Modified from the page (mtime raised to the newest
/// include's), then If-None-Match / If-Modified-Since.
fn validators(r: &mut Request, meta: &Metadata, newest_include: i64) -> Option<u16> {
    let mtime = meta.mtime().max(newest_include);
    let flags = crate::http::etag::EtagFlags {
        inode: r.conf.etag_use_inode,
        size: r.conf.etag_use_size,
        mtime: r.conf.etag_use_mtime,
    };
    let etag = flags
        .any()
        .then(|| crate::http::etag::make_etag(meta.ino(), meta.len(), mtime, flags));
    if let Some(tag) = &etag {
        r.resp.headers.set("ETag", tag);
    }
    let lm = crate::http::date::http_date_secs(mtime);
    r.resp.headers.set("Last-Modified", &lm);
    crate::http::conditional::check(&r.method, &r.headers, etag.as_deref(), &lm)
}

/// A stretch of the response: data, or an `#exec` command to run.
enum Part {
    Data(ChunkQueue),
    Exec(String),
}

/// The response body being built, bounded and spilling to temp files.
struct Out {
    /// Finished parts; `current` is the data after the last exec.
    parts: Vec<Part>,
    current: ChunkQueue,
    spill: Rc<SpillConf>,
    total: u64,
    truncated: bool,
}

impl Out {
    fn room(&mut self, n: u64) -> bool {
        if self.total + n > MAX_OUTPUT {
            if !self.truncated {
                crate::log_error!("ssi: output exceeds {MAX_OUTPUT} bytes; the rest is dropped");
            }
            self.truncated = true;
        }
        if !self.truncated {
            self.total += n;
        }
        !self.truncated
    }

    fn mem(&mut self, data: &[u8]) {
        if data.is_empty() || !self.room(data.len() as u64) {
            return;
        }
        if self.current.append_spilling(data, &self.spill).is_err() && !self.truncated {
            crate::log_error!("ssi: writing a temp file failed");
            self.truncated = true;
        }
    }

    fn file(&mut self, file: Rc<std::fs::File>, len: u64) {
        if len > 0 && self.room(len) {
            self.current.append_file(file, 0, len);
        }
    }

    fn exec(&mut self, cmd: &str) {
        if !self.truncated {
            let data = std::mem::take(&mut self.current);
            self.parts.push(Part::Data(data));
            self.parts.push(Part::Exec(cmd.to_string()));
        }
    }

    /// All parts, in order.
    fn into_parts(mut self) -> Vec<Part> {
        let data = std::mem::take(&mut self.current);
        self.parts.push(Part::Data(data));
        self.parts
    }
}

/// `#if` nesting state (lighttpd's if_level / if_is_false* fields).
#[derive(Debug, Default, Clone, Copy)]
struct IfState {
    level: i32,
    false_level: i32,
    is_false: bool,
    false_endif: bool,
}

/// The document being processed (changes for nested virtual includes).
#[derive(Debug, Clone)]
struct Current {
    physical: String,
    uri_path: String,
    rel_path: String,
}

/// One request's SSI run.
struct Page<'a> {
    conf: &'a SsiConf,
    out: Out,
    now: i64,
    cur: Current,
    doc_root: String,
    follow_symlink: bool,
    lowercase: bool,
    target: String,
    query: String,
    scheme: &'static str,
    authority: String,
    cgi_env: Vec<(String, String)>,
    vars: Vec<(String, String)>,
    timefmt: String,
    sizefmt_abbrev: bool,
    ifs: IfState,
    depth: u16,
    includes: usize,
    newest_include: i64,
}

impl<'a> Page<'a> {
    fn new(r: &Request, conf: &'a SsiConf, spill: &Rc<SpillConf>, now: i64) -> Page<'a> {
        let opts = crate::modules::cgi::env::EnvOpts::default();
        let mut cgi_env = crate::modules::cgi::env::build(r, &opts);
        cgi_env.retain(|(k, _)| k != "HTTP_AUTHORIZATION");
        Page {
            conf,
            out: Out {
                parts: Vec::new(),
                current: ChunkQueue::new(),
                spill: spill.clone(),
                total: 0,
                truncated: false,
            },
            now,
            cur: Current {
                physical: r.physical.path.clone(),
                uri_path: r.uri.path.clone(),
                rel_path: r.physical.rel_path.clone(),
            },
            doc_root: r.physical.doc_root.clone(),
            follow_symlink: r.conf.follow_symlink,
            lowercase: r.conf.force_lowercase_filenames,
            target: r.target.clone(),
            query: r.uri.query.clone(),
            scheme: r.uri.scheme,
            authority: r.uri.authority.clone(),
            cgi_env,
            vars: Vec::new(),
            timefmt: String::new(),
            sizefmt_abbrev: false,
            ifs: IfState::default(),
            depth: 0,
            includes: 0,
            newest_include: 0,
        }
    }

    /// Process the current document; its metadata, None if it cannot be
    /// opened.
    fn process_current(&mut self) -> Option<Metadata> {
        let file = match crate::stat_cache::open_nonblocking(&self.cur.physical) {
            Ok(f) => f,
            Err(e) => {
                crate::log_error!("open(): {} {e}", self.cur.physical);
                return None;
            }
        };
        let meta = file.metadata().ok().filter(Metadata::is_file)?;
        let result = ssi_parse::scan(&file, |piece| self.piece(piece, &meta));
        if let Err(e) = result {
            crate::log_error!("read(): {} {e}", self.cur.physical);
        }
        Some(meta)
    }

    fn piece(&mut self, piece: Piece, meta: &Metadata) {
        match piece {
            Piece::Text(t) if !self.ifs.is_false => self.out.mem(t),
            Piece::Text(_) => {}
            Piece::Raw(t) => self.out.mem(t),
            Piece::Stmt(s) => match ssi_parse::parse_stmt(s) {
                Some(d) => self.statement(&d, meta),
                None if ssi_parse::is_ignored_comment(s) => {}
                None => self.out.mem(s),
            },
        }
    }
}

/// Which of include / fsize / flastmod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileCmd {
    Include,
    Fsize,
    Flastmod,
}

impl Page<'_> {
    fn statement(&mut self, d: &Directive, meta: &Metadata) {
        match d.cmd.as_str() {
            "echo" => self.echo(d, meta),
            "include" => self.file_cmd(d, FileCmd::Include),
            "fsize" => self.file_cmd(d, FileCmd::Fsize),
            "flastmod" => self.file_cmd(d, FileCmd::Flastmod),
            "config" => self.config(d),
            "printenv" => self.printenv(),
            "set" => self.set(d),
            "if" => self.if_(d),
            "elif" => self.elif(d),
            "else" => self.else_(),
            "endif" => self.endif(),
            "exec" => self.exec(d),
            "comment" => {}
            other => crate::log_error!("ssi: unknown ssi-command: {other}"),
        }
    }

    /// Log attributes other than `known` (lighttpd checks them even in a
    /// false branch).
    fn check_attrs(&self, d: &Directive, known: &[&str]) {
        for (k, _) in &d.params {
            if !known.contains(&k.as_str()) {
                crate::log_error!("ssi: unknown attribute for {} {k}", d.cmd);
            }
        }
    }

    /// A variable: CGI environment first, then `#set` variables.
    fn lookup(&self, name: &str) -> Option<&str> {
        self.cgi_env
            .iter()
            .chain(self.vars.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn echo(&mut self, d: &Directive, meta: &Metadata) {
        self.check_attrs(d, &["var", "encoding"]);
        if self.ifs.is_false {
            return;
        }
        let Some(var) = d
            .params
            .iter()
            .rev()
            .find(|(k, _)| k == "var")
            .map(|(_, v)| v)
        else {
            crate::log_error!("ssi: {} var is missing", d.cmd);
            return;
        };
        let text = match var.as_str() {
            "DATE_GMT" => self.timefmt(self.now, false),
            "DATE_LOCAL" => self.timefmt(self.now, true),
            "LAST_MODIFIED" => self.timefmt(meta.mtime(), true),
            "USER_NAME" => user_name(meta.uid()),
            "DOCUMENT_NAME" => {
                let p = &self.cur.physical;
                p.rsplit('/').next().unwrap_or(p).to_string()
            }
            "DOCUMENT_URI" => self.cur.uri_path.clone(),
            "SCRIPT_URI" if self.authority.is_empty() => String::new(),
            "SCRIPT_URI" => format!("{}://{}{}", self.scheme, self.authority, self.script_url()),
            "SCRIPT_URL" => self.script_url(),
            name => self.lookup(name).unwrap_or("(none)").to_string(),
        };
        self.out.mem(text.as_bytes());
    }

    fn script_url(&self) -> String {
        if self.query.is_empty() {
            self.target.clone()
        } else {
            format!("{}?{}", self.target, self.query)
        }
    }

    /// strftime with `config timefmt` (default `%a, %d %b %Y %T %Z`);
    /// `(none)` if that gives nothing.
    fn timefmt(&self, secs: i64, local: bool) -> String {
        let fmt = if self.timefmt.is_empty() {
            "%a, %d %b %Y %T %Z"
        } else {
            &self.timefmt
        };
        let s = crate::sys::strftime(fmt, secs, local);
        if s.is_empty() {
            "(none)".to_string()
        } else {
            s
        }
    }

    fn config(&mut self, d: &Directive) {
        if self.ifs.is_false {
            return;
        }
        for (k, v) in &d.params {
            match (k.as_str(), v.as_str()) {
                ("timefmt", v) => self.timefmt = v.to_string(),
                ("sizefmt", "abbrev") => self.sizefmt_abbrev = true,
                ("sizefmt", "bytes") => self.sizefmt_abbrev = false,
                ("sizefmt", v) => {
                    crate::log_error!("ssi: unknown value for attribute '{k}' for {} {v}", d.cmd)
                }
                _ => crate::log_error!("ssi: unknown attribute for {} {k}", d.cmd),
            }
        }
    }

    fn printenv(&mut self) {
        if self.ifs.is_false {
            return;
        }
        let mut text = String::new();
        for list in [&self.vars, &self.cgi_env] {
            let mut sorted: Vec<&(String, String)> = list.iter().collect();
            sorted.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
            for (k, v) in sorted {
                text.push_str(k);
                text.push('=');
                text.push_str(&crate::http::dirlist::xml_escape(v));
                text.push('\n');
            }
        }
        self.out.mem(text.as_bytes());
    }

    fn set(&mut self, d: &Directive) {
        self.check_attrs(d, &["var", "value"]);
        if self.ifs.is_false {
            return;
        }
        match (d.get("var"), d.get("value")) {
            (Some(k), Some(v)) => {
                let (k, v) = (k.to_string(), v.to_string());
                match self.vars.iter_mut().find(|(name, _)| *name == k) {
                    Some(slot) => slot.1 = v,
                    None => self.vars.push((k, v)),
                }
            }
            (None, None) => crate::log_error!(
                "ssi: var and value have to be set in <!--#set var=... value=... -->"
            ),
            _ => {
                let (k, v) = d.params.first().cloned().unwrap_or_default();
                crate::log_error!("ssi: var and value have to be set in <!--#set {k}={v} -->");
            }
        }
    }

    /// The `expr` of an if/elif, evaluated (errors are false).
    fn eval(&self, expr: &str) -> bool {
        match super::ssi_expr::eval(expr, |name| self.lookup(name).map(str::to_string)) {
            Ok(b) => b,
            Err(e) => {
                crate::log_error!("ssi: {}", e.0);
                false
            }
        }
    }

    fn expr<'d>(&self, d: &'d Directive) -> Option<&'d str> {
        self.check_attrs(d, &["expr"]);
        let e = d.get("expr");
        if e.is_none() {
            crate::log_error!("ssi: {} expr missing", d.cmd);
        }
        e
    }

    fn if_(&mut self, d: &Directive) {
        let Some(expr) = self.expr(d) else { return };
        let s = self.ifs;
        if !s.is_false && (s.false_level == 0 || s.level < s.false_level) {
            if self.eval(expr) {
                self.ifs.is_false = false;
            } else {
                self.ifs.is_false = true;
                self.ifs.false_level = s.level;
            }
        }
        self.ifs.level = self.ifs.level.saturating_add(1);
    }

    fn elif(&mut self, d: &Directive) {
        let Some(expr) = self.expr(d) else { return };
        self.ifs.level = self.ifs.level.saturating_sub(1);
        if self.ifs.level == self.ifs.false_level {
            if self.ifs.is_false && !self.ifs.false_endif {
                self.ifs.is_false = !self.eval(expr);
                if self.ifs.is_false {
                    self.ifs.false_level = self.ifs.level;
                }
            } else {
                self.ifs.is_false = true;
                self.ifs.false_level = self.ifs.level;
                self.ifs.false_endif = true;
            }
        }
        self.ifs.level = self.ifs.level.saturating_add(1);
    }

    fn else_(&mut self) {
        self.ifs.level = self.ifs.level.saturating_sub(1);
        if self.ifs.is_false {
            if self.ifs.level == self.ifs.false_level && !self.ifs.false_endif {
                self.ifs.is_false = false;
            }
        } else {
            self.ifs.is_false = true;
            self.ifs.false_level = self.ifs.level;
        }
        self.ifs.level = self.ifs.level.saturating_add(1);
    }

    fn endif(&mut self) {
        self.ifs.level = self.ifs.level.saturating_sub(1);
        if self.ifs.level == self.ifs.false_level {
            self.ifs.is_false = false;
            self.ifs.false_endif = false;
        }
    }

    fn exec(&mut self, d: &Directive) {
        if !self.conf.exec {
            return;
        }
        self.check_attrs(d, &["cmd"]);
        if self.ifs.is_false {
            return;
        }
        let Some(cmd) = d.get("cmd") else { return };
        if self.includes >= MAX_INCLUDES {
            crate::log_error!("ssi: more than {MAX_INCLUDES} include/exec statements; ignored");
            return;
        }
        self.includes += 1;
        self.out.exec(cmd);
    }

    fn file_cmd(&mut self, d: &Directive, what: FileCmd) {
        self.check_attrs(d, &["file", "virtual"]);
        let (file, virt) = (d.get("file"), d.get("virtual"));
        if file.is_none() && virt.is_none() {
            crate::log_error!("ssi: {} file or virtual is missing", d.cmd);
            return;
        }
        if file.is_some() && virt.is_some() {
            crate::log_error!(
                "ssi: {} only one of file and virtual is allowed here",
                d.cmd
            );
            return;
        }
        if self.ifs.is_false {
            return;
        }
        if self.includes >= MAX_INCLUDES {
            crate::log_error!("ssi: more than {MAX_INCLUDES} includes; ignored");
            return;
        }
        self.includes += 1;
        let target = match (file, virt) {
            (Some(f), _) => self.file_path(f),
            (_, Some(v)) => self.virtual_path(v),
            _ => None,
        };
        let Some((path, uri)) = target else { return };
        if !self.follow_symlink && crate::request::prepare::has_symlink(&path) {
            return;
        }
        let (fd, entry) = match crate::stat_cache::open(&path) {
            Ok(opened) => opened,
            Err(e) => {
                crate::log_error!("ssi: stating {path} failed: {e}");
                return;
            }
        };
        let meta = entry.meta();
        match what {
            FileCmd::Fsize => {
                let text = size_text(meta.len(), self.sizefmt_abbrev);
                self.out.mem(text.as_bytes());
            }
            FileCmd::Flastmod => {
                let text = self.timefmt(meta.mtime(), true);
                self.out.mem(text.as_bytes());
            }
            FileCmd::Include => {
                self.newest_include = self.newest_include.max(meta.mtime());
                if file.is_some() || self.conf.recursion_max == 0 {
                    if meta.is_file() {
                        self.out.file(fd, meta.len());
                    }
                } else {
                    self.include_nested(path, uri);
                }
            }
        }
    }

    /// `#include virtual` of a document processed as SSI itself.
    fn include_nested(&mut self, path: String, uri: String) {
        if self.depth >= self.conf.recursion_max.min(MAX_DEPTH) {
            self.out.mem(
                b"(error: include directives recurse deeper than pre-defined ssi.recursion-max)",
            );
            return;
        }
        if path == self.cur.physical {
            self.out
                .mem(b"(error: include directives create an infinite loop)");
            return;
        }
        let saved = std::mem::replace(
            &mut self.cur,
            Current {
                physical: path,
                uri_path: uri.clone(),
                rel_path: uri,
            },
        );
        self.depth += 1;
        let _ = self.process_current();
        self.depth -= 1;
        self.cur = saved;
    }

    /// `file=`: relative to the current document's directory.
    fn file_path(&self, file: &str) -> Option<(String, String)> {
        let rel = decoded_simplified(file)?;
        let dir_end = self.cur.physical.rfind('/')?;
        let dir = &self.cur.physical[..=dir_end];
        Some((crate::request::prepare::join_path(dir, &rel), rel))
    }

    /// `virtual=`: a URL path (relative ones to the current URI's
    /// directory), mapped to a file like lighttpd: through the current
    /// physical path when it shares the URI's directory, else under the
    /// document root.
    fn virtual_path(&self, virt: &str) -> Option<(String, String)> {
        let uri = &self.cur.uri_path;
        let mut joined = String::new();
        if !virt.starts_with('/') {
            let sl = uri.rfind('/').map_or(0, |i| i + 1);
            joined.push_str(&uri[..sl]);
        }
        joined.push_str(virt);
        let mut tb = decoded_simplified(&joined)?;
        let (a, b) = (uri.as_bytes(), tb.as_bytes());
        let mut i = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        while i != 0 {
            i -= 1;
            if a[i] == b'/' {
                break;
            }
        }
        if self.lowercase {
            tb = tb.to_lowercase();
        }
        let remain = uri.len() - i;
        let phys = &self.cur.physical;
        let tail_matches = phys.len() >= remain
            && match (
                phys.get(phys.len() - remain..),
                self.cur.rel_path.get(i..i + remain),
            ) {
                (Some(p), Some(r)) if self.lowercase => p.eq_ignore_ascii_case(r),
                (Some(p), Some(r)) => p == r,
                _ => false,
            };
        let path = match tb.get(i..) {
            Some(rest) if tail_matches => {
                crate::request::prepare::join_path(&phys[..phys.len() - remain], rest)
            }
            _ => crate::request::prepare::join_path(&self.doc_root, &tb),
        };
        Some((path, tb))
    }
}

/// URL-decoded (control characters as `_`) and simplified; None (logged)
/// if not valid UTF-8.
fn decoded_simplified(s: &str) -> Option<String> {
    let decoded = crate::http::uri::urldecode_path(s.as_bytes());
    let Ok(decoded) = String::from_utf8(decoded) else {
        crate::log_error!("SSI invalid UTF-8 after url-decode: {s}");
        return None;
    };
    let simple = crate::http::uri::path_simplify(decoded.as_bytes());
    String::from_utf8(simple).ok()
}

/// `#fsize`: bytes, or with `sizefmt=abbrev` divided by 1024 while above
/// 1024 with the unit (` B`, ` kB`, ` MB`, ` GB`, ` TB`).
fn size_text(size: u64, abbrev: bool) -> String {
    if !abbrev {
        return size.to_string();
    }
    const UNITS: [&str; 5] = [" B", " kB", " MB", " GB", " TB"];
    let (mut s, mut j) = (size, 0);
    while s > 1024 && j + 1 < UNITS.len() {
        s /= 1024;
        j += 1;
    }
    format!("{s}{}", UNITS[j])
}

/// The owner's login name, or the uid.
fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_format_like_lighttpd() {
        let table = [
            (0, false, "0"),
            (5000, false, "5000"),
            (1024, true, "1024 B"),
            (1025, true, "1 kB"),
            (5000, true, "4 kB"),
            (3 << 20, true, "3 MB"),
            (u64::MAX, true, "16777215 TB"),
        ];
        for (n, abbrev, want) in table {
            assert_eq!(size_text(n, abbrev), want, "{n} {abbrev}");
        }
    }
}
