//! [`CoreConf`]: the connection-scope core directives (lighttpd
//! `config_insert`, section 11.3) and those of the implicitly loaded
//! modules mod_indexfile, mod_staticfile and mod_dirlisting (11.4),
//! resolved per request through [`Scoped`].

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::source::Span;
use crate::config::tree::{ConfigTree, Directive};
use crate::config::validate::{
    get_bool, get_int, get_kvany, get_kvstring, get_list, get_short, get_str,
};
use crate::config::value::Value;
use crate::http::mime::MimeTypes;
use std::rc::Rc;

/// The default `Server:` header value.
pub const DEFAULT_SERVER_TAG: &str = "lighttpd/1.4.69";

/// `debug.*` switches of the connection scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DebugFlags {
    pub log_condition_handling: bool,
    pub log_file_not_found: bool,
    pub log_request_handling: bool,
    pub log_request_header: bool,
    pub log_response_header: bool,
    pub log_timeouts: bool,
    pub log_state_handling: bool,
}

/// `dir-listing.*` (mod_dirlisting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirListingConf {
    pub activate: bool,
    /// Regexes matched against entry names.
    pub exclude: Vec<String>,
    pub hide_dotfiles: bool,
    pub external_css: Option<String>,
    pub external_js: Option<String>,
    pub encoding: Option<String>,
    /// File shown below the listing (`enable` = README.txt).
    pub show_readme: Option<String>,
    pub hide_readme_file: bool,
    /// File shown above the listing (`enable` = HEADER.txt).
    pub show_header: Option<String>,
    pub hide_header_file: bool,
    pub set_footer: Option<String>,
    pub encode_readme: bool,
    pub encode_header: bool,
    pub auto_layout: bool,
    /// `dir-listing.cache`: (max-age seconds, path).
    pub cache: Option<(i32, Option<String>)>,
}

impl Default for DirListingConf {
    fn default() -> Self {
        DirListingConf {
            activate: false,
            exclude: Vec::new(),
            hide_dotfiles: true,
            external_css: None,
            external_js: None,
            encoding: None,
            show_readme: None,
            hide_readme_file: false,
            show_header: None,
            hide_header_file: false,
            set_footer: None,
            encode_readme: true,
            encode_header: true,
            auto_layout: true,
            cache: None,
        }
    }
}

/// The connection-scope core configuration of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreConf {
    pub document_root: Option<String>,
    /// None = use the request authority.
    pub server_name: Option<String>,
    /// None = no `Server:` header.
    pub server_tag: Option<String>,
    /// Max request body in KiB; 0 = unlimited.
    pub max_request_size: u32,
    pub max_keep_alive_requests: u16,
    pub max_keep_alive_idle: u16,
    pub max_read_idle: u16,
    pub max_write_idle: u16,
    pub errorfile_prefix: Option<String>,
    pub error_handler: Option<String>,
    pub error_handler_404: Option<String>,
    pub error_intercept: bool,
    pub force_lowercase_filenames: bool,
    pub follow_symlink: bool,
    pub protocol_http11: bool,
    pub range_requests: bool,
    /// 0 buffer, bit 1 stream, bit 2 stream with minimal buffering.
    pub stream_request_body: u16,
    pub stream_response_body: u16,
    pub kbytes_per_second: u16,
    /// Which `server.kbytes-per-second` assignment set the limit: each one
    /// has its own per-second byte counter (lighttpd shares it by scope).
    pub kbytes_per_second_scope: Span,
    pub connection_kbytes_per_second: u16,
    /// Suffix → Content-Type, indexed once when the config is compiled
    /// and shared by every resolved config.
    pub mimetype_assign: Rc<MimeTypes>,
    pub mimetype_use_xattr: bool,
    pub etag_use_inode: bool,
    pub etag_use_mtime: bool,
    pub etag_use_size: bool,
    pub debug: DebugFlags,
    /// `server.errorlog`: None = stderr / the global log.
    pub errorlog: Option<String>,
    pub breakagelog: Option<String>,
    /// `index-file.names` (or `server.indexfiles`).
    pub index_file_names: Vec<String>,
    pub static_file_exclude_extensions: Vec<String>,
    pub static_file_etags: bool,
    pub static_file_disable_pathinfo: bool,
    pub dir_listing: DirListingConf,
}

impl Default for CoreConf {
    fn default() -> Self {
        CoreConf {
            document_root: None,
            server_name: None,
            server_tag: Some(DEFAULT_SERVER_TAG.to_string()),
            max_request_size: 0,
            max_keep_alive_requests: 1000,
            max_keep_alive_idle: 5,
            max_read_idle: 60,
            max_write_idle: 360,
            errorfile_prefix: None,
            error_handler: None,
            error_handler_404: None,
            error_intercept: false,
            force_lowercase_filenames: false,
            follow_symlink: true,
            protocol_http11: true,
            range_requests: true,
            stream_request_body: 0,
            stream_response_body: 0,
            kbytes_per_second: 0,
            kbytes_per_second_scope: Span::default(),
            connection_kbytes_per_second: 0,
            mimetype_assign: Rc::default(),
            mimetype_use_xattr: false,
            etag_use_inode: true,
            etag_use_mtime: true,
            etag_use_size: true,
            debug: DebugFlags::default(),
            errorlog: None,
            breakagelog: None,
            index_file_names: Vec::new(),
            static_file_exclude_extensions: Vec::new(),
            static_file_etags: true,
            static_file_disable_pathinfo: false,
            dir_listing: DirListingConf::default(),
        }
    }
}

/// One connection-scope directive, typed.
#[derive(Debug, Clone)]
pub enum CoreItem {
    Str(StrKey, Option<String>),
    Bool(BoolKey, bool),
    Num(NumKey, u32),
    /// `server.kbytes-per-second` with the span of its assignment.
    ServerKbytes(u16, Span),
    List(ListKey, Vec<String>),
    MimetypeAssign(Rc<MimeTypes>),
    DirListingCache(Option<(i32, Option<String>)>),
}

/// Optional-string keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrKey {
    DocumentRoot,
    ServerName,
    ServerTag,
    ErrorfilePrefix,
    ErrorHandler,
    ErrorHandler404,
    Errorlog,
    Breakagelog,
    DirExternalCss,
    DirExternalJs,
    DirEncoding,
    DirShowReadme,
    DirShowHeader,
    DirSetFooter,
}

/// Boolean keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolKey {
    ErrorIntercept,
    ForceLowercase,
    FollowSymlink,
    ProtocolHttp11,
    RangeRequests,
    MimetypeUseXattr,
    EtagInode,
    EtagMtime,
    EtagSize,
    LogConditionHandling,
    LogFileNotFound,
    LogRequestHandling,
    LogRequestHeader,
    LogResponseHeader,
    LogTimeouts,
    LogStateHandling,
    StaticEtags,
    StaticDisablePathinfo,
    DirActivate,
    DirHideDotfiles,
    DirHideReadme,
    DirHideHeader,
    DirEncodeReadme,
    DirEncodeHeader,
    DirAutoLayout,
}

/// Numeric keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumKey {
    MaxRequestSize,
    KeepAliveRequests,
    KeepAliveIdle,
    ReadIdle,
    WriteIdle,
    StreamRequestBody,
    StreamResponseBody,
    KbytesPerSecond,
    ConnKbytesPerSecond,
}

/// List keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKey {
    IndexFileNames,
    StaticExclude,
    DirExclude,
}

impl CoreConf {
    fn str_slot(&mut self, k: StrKey) -> &mut Option<String> {
        let dl = &mut self.dir_listing;
        match k {
            StrKey::DocumentRoot => &mut self.document_root,
            StrKey::ServerName => &mut self.server_name,
            StrKey::ServerTag => &mut self.server_tag,
            StrKey::ErrorfilePrefix => &mut self.errorfile_prefix,
            StrKey::ErrorHandler => &mut self.error_handler,
            StrKey::ErrorHandler404 => &mut self.error_handler_404,
            StrKey::Errorlog => &mut self.errorlog,
            StrKey::Breakagelog => &mut self.breakagelog,
            StrKey::DirExternalCss => &mut dl.external_css,
            StrKey::DirExternalJs => &mut dl.external_js,
            StrKey::DirEncoding => &mut dl.encoding,
            StrKey::DirShowReadme => &mut dl.show_readme,
            StrKey::DirShowHeader => &mut dl.show_header,
            StrKey::DirSetFooter => &mut dl.set_footer,
        }
    }

    fn bool_slot(&mut self, k: BoolKey) -> &mut bool {
        let (d, dl) = (&mut self.debug, &mut self.dir_listing);
        match k {
            BoolKey::ErrorIntercept => &mut self.error_intercept,
            BoolKey::ForceLowercase => &mut self.force_lowercase_filenames,
            BoolKey::FollowSymlink => &mut self.follow_symlink,
            BoolKey::ProtocolHttp11 => &mut self.protocol_http11,
            BoolKey::RangeRequests => &mut self.range_requests,
            BoolKey::MimetypeUseXattr => &mut self.mimetype_use_xattr,
            BoolKey::EtagInode => &mut self.etag_use_inode,
            BoolKey::EtagMtime => &mut self.etag_use_mtime,
            BoolKey::EtagSize => &mut self.etag_use_size,
            BoolKey::LogConditionHandling => &mut d.log_condition_handling,
            BoolKey::LogFileNotFound => &mut d.log_file_not_found,
            BoolKey::LogRequestHandling => &mut d.log_request_handling,
            BoolKey::LogRequestHeader => &mut d.log_request_header,
            BoolKey::LogResponseHeader => &mut d.log_response_header,
            BoolKey::LogTimeouts => &mut d.log_timeouts,
            BoolKey::LogStateHandling => &mut d.log_state_handling,
            BoolKey::StaticEtags => &mut self.static_file_etags,
            BoolKey::StaticDisablePathinfo => &mut self.static_file_disable_pathinfo,
            BoolKey::DirActivate => &mut dl.activate,
            BoolKey::DirHideDotfiles => &mut dl.hide_dotfiles,
            BoolKey::DirHideReadme => &mut dl.hide_readme_file,
            BoolKey::DirHideHeader => &mut dl.hide_header_file,
            BoolKey::DirEncodeReadme => &mut dl.encode_readme,
            BoolKey::DirEncodeHeader => &mut dl.encode_header,
            BoolKey::DirAutoLayout => &mut dl.auto_layout,
        }
    }

    fn set_num(&mut self, k: NumKey, v: u32) {
        let short = v as u16;
        match k {
            NumKey::MaxRequestSize => self.max_request_size = v,
            NumKey::KeepAliveRequests => self.max_keep_alive_requests = short,
            NumKey::KeepAliveIdle => self.max_keep_alive_idle = short,
            NumKey::ReadIdle => self.max_read_idle = short,
            NumKey::WriteIdle => self.max_write_idle = short,
            NumKey::StreamRequestBody => self.stream_request_body = short,
            NumKey::StreamResponseBody => self.stream_response_body = short,
            NumKey::KbytesPerSecond => self.kbytes_per_second = short,
            NumKey::ConnKbytesPerSecond => self.connection_kbytes_per_second = short,
        }
    }
}

impl Patch for CoreConf {
    type Item = CoreItem;

    fn apply(&mut self, item: &CoreItem) {
        match item {
            CoreItem::Str(k, v) => *self.str_slot(*k) = v.clone(),
            CoreItem::Bool(k, v) => *self.bool_slot(*k) = *v,
            CoreItem::Num(k, v) => self.set_num(*k, *v),
            CoreItem::ServerKbytes(limit, scope) => {
                self.kbytes_per_second = *limit;
                self.kbytes_per_second_scope = *scope;
            }
            CoreItem::List(ListKey::IndexFileNames, v) => self.index_file_names = v.clone(),
            CoreItem::List(ListKey::StaticExclude, v) => {
                self.static_file_exclude_extensions = v.clone()
            }
            CoreItem::List(ListKey::DirExclude, v) => self.dir_listing.exclude = v.clone(),
            CoreItem::MimetypeAssign(v) => self.mimetype_assign = Rc::clone(v),
            CoreItem::DirListingCache(v) => self.dir_listing.cache = v.clone(),
        }
    }
}

/// How a key becomes a [`CoreItem`].
#[derive(Clone, Copy)]
enum Kind {
    Str(StrKey),
    Bool(BoolKey),
    Short(NumKey),
    Int(NumKey),
    List(ListKey),
    Mimetypes,
    DirCache,
}

/// The keys, in lighttpd's key-table order (which decides the winner when
/// one block sets two keys for the same setting).
const KEYS: &[(&str, Kind)] = &[
    ("server.document-root", Kind::Str(StrKey::DocumentRoot)),
    ("server.name", Kind::Str(StrKey::ServerName)),
    ("server.tag", Kind::Str(StrKey::ServerTag)),
    ("server.max-request-size", Kind::Int(NumKey::MaxRequestSize)),
    (
        "server.max-keep-alive-requests",
        Kind::Short(NumKey::KeepAliveRequests),
    ),
    (
        "server.max-keep-alive-idle",
        Kind::Short(NumKey::KeepAliveIdle),
    ),
    ("server.max-read-idle", Kind::Short(NumKey::ReadIdle)),
    ("server.max-write-idle", Kind::Short(NumKey::WriteIdle)),
    (
        "server.errorfile-prefix",
        Kind::Str(StrKey::ErrorfilePrefix),
    ),
    ("server.error-handler", Kind::Str(StrKey::ErrorHandler)),
    (
        "server.error-handler-404",
        Kind::Str(StrKey::ErrorHandler404),
    ),
    (
        "server.error-intercept",
        Kind::Bool(BoolKey::ErrorIntercept),
    ),
    (
        "server.force-lowercase-filenames",
        Kind::Bool(BoolKey::ForceLowercase),
    ),
    ("server.follow-symlink", Kind::Bool(BoolKey::FollowSymlink)),
    (
        "server.protocol-http11",
        Kind::Bool(BoolKey::ProtocolHttp11),
    ),
    ("server.range-requests", Kind::Bool(BoolKey::RangeRequests)),
    (
        "server.stream-request-body",
        Kind::Short(NumKey::StreamRequestBody),
    ),
    (
        "server.stream-response-body",
        Kind::Short(NumKey::StreamResponseBody),
    ),
    (
        "server.kbytes-per-second",
        Kind::Short(NumKey::KbytesPerSecond),
    ),
    (
        "connection.kbytes-per-second",
        Kind::Short(NumKey::ConnKbytesPerSecond),
    ),
    ("mimetype.assign", Kind::Mimetypes),
    ("mimetype.use-xattr", Kind::Bool(BoolKey::MimetypeUseXattr)),
    ("etag.use-inode", Kind::Bool(BoolKey::EtagInode)),
    ("etag.use-mtime", Kind::Bool(BoolKey::EtagMtime)),
    ("etag.use-size", Kind::Bool(BoolKey::EtagSize)),
    (
        "debug.log-condition-handling",
        Kind::Bool(BoolKey::LogConditionHandling),
    ),
    (
        "debug.log-file-not-found",
        Kind::Bool(BoolKey::LogFileNotFound),
    ),
    (
        "debug.log-request-handling",
        Kind::Bool(BoolKey::LogRequestHandling),
    ),
    (
        "debug.log-request-header",
        Kind::Bool(BoolKey::LogRequestHeader),
    ),
    (
        "debug.log-response-header",
        Kind::Bool(BoolKey::LogResponseHeader),
    ),
    ("debug.log-timeouts", Kind::Bool(BoolKey::LogTimeouts)),
    (
        "debug.log-state-handling",
        Kind::Bool(BoolKey::LogStateHandling),
    ),
    ("server.errorlog", Kind::Str(StrKey::Errorlog)),
    ("server.breakagelog", Kind::Str(StrKey::Breakagelog)),
    ("index-file.names", Kind::List(ListKey::IndexFileNames)),
    ("server.indexfiles", Kind::List(ListKey::IndexFileNames)),
    (
        "static-file.exclude-extensions",
        Kind::List(ListKey::StaticExclude),
    ),
    ("static-file.etags", Kind::Bool(BoolKey::StaticEtags)),
    (
        "static-file.disable-pathinfo",
        Kind::Bool(BoolKey::StaticDisablePathinfo),
    ),
    ("dir-listing.activate", Kind::Bool(BoolKey::DirActivate)),
    ("server.dir-listing", Kind::Bool(BoolKey::DirActivate)),
    ("dir-listing.exclude", Kind::List(ListKey::DirExclude)),
    (
        "dir-listing.hide-dotfiles",
        Kind::Bool(BoolKey::DirHideDotfiles),
    ),
    (
        "dir-listing.external-css",
        Kind::Str(StrKey::DirExternalCss),
    ),
    ("dir-listing.external-js", Kind::Str(StrKey::DirExternalJs)),
    ("dir-listing.encoding", Kind::Str(StrKey::DirEncoding)),
    ("dir-listing.show-readme", Kind::Str(StrKey::DirShowReadme)),
    (
        "dir-listing.hide-readme-file",
        Kind::Bool(BoolKey::DirHideReadme),
    ),
    ("dir-listing.show-header", Kind::Str(StrKey::DirShowHeader)),
    (
        "dir-listing.hide-header-file",
        Kind::Bool(BoolKey::DirHideHeader),
    ),
    ("dir-listing.set-footer", Kind::Str(StrKey::DirSetFooter)),
    (
        "dir-listing.encode-readme",
        Kind::Bool(BoolKey::DirEncodeReadme),
    ),
    (
        "dir-listing.encode-header",
        Kind::Bool(BoolKey::DirEncodeHeader),
    ),
    (
        "dir-listing.auto-layout",
        Kind::Bool(BoolKey::DirAutoLayout),
    ),
    ("dir-listing.cache", Kind::DirCache),
];

/// lighttpd's `server.tag` clean-up: continuation lines get a leading
/// space; whitespace-only means "no header".
fn server_tag(tag: &str) -> Option<String> {
    if tag.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
        return None;
    }
    let mut out = String::with_capacity(tag.len());
    let mut chars = tag.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\n' && !matches!(chars.peek(), Some(' ' | '\t')) {
            out.push(' ');
        }
    }
    Some(out)
}

fn non_blank(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `dir-listing.show-readme` / `show-header`: `enable` = the default file.
fn show_file(v: &str, default_file: &str) -> Option<String> {
    match v {
        "" | "disable" => None,
        "enable" => Some(default_file.to_string()),
        other => Some(other.to_string()),
    }
}

fn str_item(k: StrKey, v: &str) -> CoreItem {
    let v = match k {
        StrKey::ServerTag => server_tag(v),
        StrKey::DocumentRoot => Some(v.to_string()),
        StrKey::DirShowReadme => show_file(v, "README.txt"),
        StrKey::DirShowHeader => show_file(v, "HEADER.txt"),
        _ => non_blank(v),
    };
    CoreItem::Str(k, v)
}

fn mimetypes(key: &str, v: &Value) -> Result<CoreItem, String> {
    let mut pairs = get_kvstring(key, v)?;
    for (ext, ty) in &mut pairs {
        if ext.eq_ignore_ascii_case(".js") && ty == "application/javascript" {
            *ty = "text/javascript".to_string();
        }
    }
    Ok(CoreItem::MimetypeAssign(Rc::new(MimeTypes::new(pairs))))
}

fn dir_cache(key: &str, v: &Value) -> Result<CoreItem, String> {
    let arr = get_kvany(key, v)?;
    let max_age = match arr.get("max-age") {
        None => 15,
        Some(Value::Int(i)) => *i,
        Some(Value::Str(s)) => s.trim().parse().unwrap_or(15),
        Some(Value::Array(_)) => 15,
    };
    let path = match arr.get("path") {
        None if max_age != 0 => return Err("dir-listing.cache must include \"path\"".to_string()),
        None => None,
        Some(Value::Str(p)) => Some(p.clone()),
        Some(_) => return Err("dir-listing.cache \"path\" must have string value".to_string()),
    };
    Ok(CoreItem::DirListingCache(Some((max_age, path))))
}

fn item(kind: Kind, key: &str, d: &Directive) -> Result<CoreItem, String> {
    let v = &d.value;
    Ok(match kind {
        Kind::Str(k) => str_item(k, get_str(key, v)?),
        Kind::Bool(k) => CoreItem::Bool(k, get_bool(key, v)?),
        Kind::Short(k) => {
            let mut n = get_short(key, v)?;
            if matches!(k, NumKey::StreamRequestBody | NumKey::StreamResponseBody) && n & 2 != 0 {
                n |= 1;
            }
            if k == NumKey::KbytesPerSecond {
                return Ok(CoreItem::ServerKbytes(n, d.span));
            }
            CoreItem::Num(k, u32::from(n))
        }
        Kind::Int(k) => CoreItem::Num(k, get_int(key, v)?),
        Kind::List(k) => CoreItem::List(k, get_list(key, v)?),
        Kind::Mimetypes => mimetypes(key, v)?,
        Kind::DirCache => dir_cache(key, v)?,
    })
}

/// Build the per-request core configuration of a tree.
pub fn compile_core(tree: &ConfigTree) -> Result<Scoped<CoreConf>, Vec<Diagnostic>> {
    let names: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
    let defaults = CoreConf {
        force_lowercase_filenames: lowercase_by_default(tree),
        ..CoreConf::default()
    };
    Scoped::build(tree, defaults, &names, |key, d| {
        let kind = KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| format!("internal: no core key {key}"))?;
        item(kind, key, d)
    })
}

/// lighttpd `config_set_defaults`: unless the global block sets
/// `server.force-lowercase-filenames`, it is on when the document root's
/// all-lower-case and all-upper-case spellings are the same directory
/// (same inode: a case-insensitive filesystem).
fn lowercase_by_default(tree: &ConfigTree) -> bool {
    use std::os::unix::fs::MetadataExt;
    let global = tree.global();
    if global.get("server.force-lowercase-filenames").is_some() {
        return false;
    }
    let Some(root) = global
        .get("server.document-root")
        .and_then(|d| d.value.as_str())
    else {
        return false;
    };
    let (lower, upper) = (root.to_ascii_lowercase(), root.to_ascii_uppercase());
    if lower == upper {
        return false; // "/" or "/12345/": nothing to compare
    }
    match (std::fs::metadata(&lower), std::fs::metadata(&upper)) {
        (Ok(l), Ok(u)) => l.ino() == u.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cond::{CondField, CondOp};
    use crate::config::scoped::{CondCache, CondTree, RequestFacts};
    use crate::config::validate::testing::{cond, kv, list, s, TreeBuilder};

    fn resolve(tree: &ConfigTree, host: &str) -> CoreConf {
        let scoped = compile_core(tree).expect("valid");
        let mut cache = CondCache::new(Rc::new(CondTree::new(tree)));
        let facts = RequestFacts {
            fields: vec![(CondField::Host, host.to_string())],
            headers: Some(Vec::new()),
        };
        scoped.resolve(&mut cache, &facts)
    }

    #[test]
    fn defaults_match_lighttpd() {
        let c = CoreConf::default();
        assert_eq!(c.server_tag.as_deref(), Some("lighttpd/1.4.69"));
        assert_eq!(
            (c.max_keep_alive_requests, c.max_keep_alive_idle),
            (1000, 5)
        );
        assert_eq!((c.max_read_idle, c.max_write_idle), (60, 360));
        assert!(c.follow_symlink && c.range_requests && c.etag_use_inode && c.static_file_etags);
        assert!(!c.dir_listing.activate && c.dir_listing.hide_dotfiles);
    }

    #[test]
    fn values_are_typed_and_cleaned_like_lighttpd() {
        let mut b = TreeBuilder::new();
        b.set(0, "server.document-root", s("/srv"))
            .set(0, "server.name", s(""))
            .set(0, "server.tag", s("a\nb"))
            .set(0, "server.stream-request-body", Value::Int(2))
            .set(0, "server.error-handler", s(""))
            .set(
                0,
                "mimetype.assign",
                kv(&[(".js", "application/javascript"), (".html", "text/html")]),
            )
            .set(0, "dir-listing.show-readme", s("enable"))
            .set(0, "server.max-keep-alive-idle", s("30"));
        let c = resolve(&b.build(), "x");
        assert_eq!(c.document_root.as_deref(), Some("/srv"));
        assert_eq!(c.server_name, None);
        assert_eq!(c.server_tag.as_deref(), Some("a\n b"));
        assert_eq!(c.stream_request_body, 3);
        assert_eq!(c.error_handler, None);
        assert_eq!(
            c.mimetype_assign.entries()[0],
            (".js".to_string(), "text/javascript".to_string())
        );
        assert_eq!(c.dir_listing.show_readme.as_deref(), Some("README.txt"));
        assert_eq!(c.max_keep_alive_idle, 30);
        let mut b = TreeBuilder::new();
        b.set(0, "server.tag", s("  "));
        assert_eq!(resolve(&b.build(), "x").server_tag, None);
    }

    #[test]
    fn mimetype_index_is_built_once_and_shared() {
        let mut b = TreeBuilder::new();
        b.set(0, "mimetype.assign", kv(&[(".html", "text/html")]));
        let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
        b.set(h, "server.document-root", s("/a"));
        let h = b.block(0, cond(CondField::Host, CondOp::Eq, "b"));
        b.set(h, "mimetype.assign", kv(&[(".txt", "text/plain")]));
        let tree = b.build();
        let scoped = compile_core(&tree).expect("valid");
        let resolve = |host: &str| {
            let mut cache = CondCache::new(Rc::new(CondTree::new(&tree)));
            let facts = RequestFacts {
                fields: vec![(CondField::Host, host.to_string())],
                headers: Some(Vec::new()),
            };
            scoped.resolve(&mut cache, &facts).mimetype_assign
        };
        let (x, a, b1, b2) = (resolve("x"), resolve("a"), resolve("b"), resolve("b"));
        assert!(Rc::ptr_eq(&x, &scoped.defaults.mimetype_assign));
        assert!(Rc::ptr_eq(&x, &a), "another block keeps the global list");
        assert!(Rc::ptr_eq(&b1, &b2), "a block's list is compiled once");
        assert_eq!(b1.entries()[0].0, ".txt");
    }

    #[test]
    fn blocks_patch_the_global_value() {
        let mut b = TreeBuilder::new();
        b.set(0, "server.document-root", s("/srv")).set(
            0,
            "index-file.names",
            list(&["index.html"]),
        );
        let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
        b.set(h, "server.document-root", s("/a"))
            .set(h, "index-file.names", list(&["a.html"]))
            .set(h, "server.indexfiles", list(&["legacy.html"]));
        let tree = b.build();
        assert_eq!(resolve(&tree, "b").document_root.as_deref(), Some("/srv"));
        let a = resolve(&tree, "a");
        assert_eq!(a.document_root.as_deref(), Some("/a"));
        assert_eq!(
            a.index_file_names,
            ["legacy.html"],
            "server.indexfiles wins in one block"
        );
    }

    #[test]
    fn type_errors_are_reported_with_spans() {
        let mut b = TreeBuilder::new();
        b.set(0, "server.range-requests", s("yes")).set(
            0,
            "dir-listing.cache",
            kv(&[("max-age", "5")]),
        );
        let errs = compile_core(&b.build()).expect_err("invalid");
        assert_eq!(errs.len(), 2);
        assert_eq!(
            errs[0].message,
            "ERROR: unexpected type for key: server.range-requests (string) \"(enable|disable)\""
        );
        assert_eq!(errs[1].message, "dir-listing.cache must include \"path\"");
    }
}
