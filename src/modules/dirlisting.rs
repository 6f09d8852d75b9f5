//! mod_dirlisting (lighttpd src/mod_dirlisting.c): an HTML listing for a
//! GET/HEAD directory request (`uri.path` ending in '/') that no index file
//! answered, when `dir-listing.activate` is enabled. This module reads the
//! directory, README/HEADER files and the `dir-listing.*` settings; the page
//! itself is rendered by [`crate::http::dirlist`].
//!
//! Difference: `dir-listing.cache` is accepted but listings are not cached.

use std::collections::HashMap;
use std::io::Read;

use crate::config::diagnostic::Diagnostic;
use crate::http::dirlist::{content_type, render_listing, DirEntry, ListingOptions};
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

/// Entries listed at most (a bound on memory for huge directories).
const MAX_ENTRIES: usize = 100_000;
/// Bytes of README/HEADER included at most.
const MAX_TEXT: u64 = 64 * 1024;

/// The module; `dir-listing.*` is part of the core config (`r.conf`).
pub struct DirListing {
    /// `dir-listing.exclude` patterns, compiled once.
    regexes: HashMap<String, Option<regex::Regex>>,
}

/// Registry constructor: every `dir-listing.exclude` pattern must compile
/// (lighttpd `mod_dirlisting_parse_excludes`).
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let mut regexes = HashMap::new();
    for ctx in &init.tree.contexts {
        let Some(d) = ctx.get("dir-listing.exclude") else {
            continue;
        };
        let patterns = crate::config::validate::get_list(&d.key, &d.value).unwrap_or_default();
        for p in patterns {
            match regex::Regex::new(&p) {
                Ok(re) => regexes.insert(p, Some(re)),
                // (lighttpd names the list element's key, which it has not)
                Err(e) => {
                    let e = crate::config::cond::regex_error_text(&e.to_string());
                    return Err(vec![Diagnostic::error(
                        format!("pcre2_compile: {e}, regex: {p}\npcre_compile failed for (null)"),
                        Some(d.span),
                    )]);
                }
            };
        }
    }
    Ok(Box::new(DirListing { regexes }))
}

impl Module for DirListing {
    fn name(&self) -> &'static str {
        "mod_dirlisting"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::SubrequestStart]
    }

    fn subrequest_start(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if r.handler.is_some() || !r.uri.path.ends_with('/') || !r.method.is_get_or_head() {
            return Flow::GoOn;
        }
        if !r.conf.dir_listing.activate {
            return Flow::GoOn;
        }
        let Ok(entries) = read_entries(&r.physical.path) else {
            return r.finish_with(403);
        };
        let excludes: Vec<regex::Regex> = r
            .conf
            .dir_listing
            .exclude
            .iter()
            .filter_map(|p| {
                self.regexes
                    .entry(p.clone())
                    .or_insert_with(|| regex::Regex::new(p).ok())
                    .clone()
            })
            .collect();
        let page = render(r, entries, &excludes);
        let ctype = content_type(r.conf.dir_listing.encoding.as_deref());
        r.resp.headers.append("Content-Type", &ctype);
        r.resp.body.append_vec(page.into_bytes());
        r.resp.complete = true;
        r.finish_with(200)
    }
}

fn render(r: &Request, entries: Vec<DirEntry>, excludes: &[regex::Regex]) -> String {
    let c = &r.conf.dir_listing;
    let readme = c.show_readme.as_deref();
    let header = c.show_header.as_deref();
    let readme_text = readme.and_then(|n| read_text(&r.physical.path, n));
    let header_text = header.and_then(|n| read_text(&r.physical.path, n));
    let footer = c.set_footer.as_deref().or(r.conf.server_tag.as_deref());
    let o = ListingOptions {
        uri_path: &r.uri.path,
        hide_dotfiles: c.hide_dotfiles,
        show_readme: readme,
        hide_readme_file: c.hide_readme_file,
        show_header: header,
        hide_header_file: c.hide_header_file,
        readme_text: readme_text.as_deref(),
        header_text: header_text.as_deref(),
        encode_readme: c.encode_readme,
        encode_header: c.encode_header,
        external_css: c.external_css.as_deref(),
        external_js: c.external_js.as_deref(),
        encoding: c.encoding.as_deref(),
        auto_layout: c.auto_layout,
        footer,
        mimetypes: &r.conf.mimetype_assign,
    };
    let exclude = |name: &str| excludes.iter().any(|re| re.is_match(name));
    render_listing(&o, entries, &exclude, &crate::sys::localtime)
}

/// The directory's entries that `stat()` (following symlinks).
fn read_entries(dir: &str) -> std::io::Result<Vec<DirEntry>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)?.take(MAX_ENTRIES) {
        let Ok(entry) = entry else { continue };
        let Ok(meta) = std::fs::metadata(entry.path()) else {
            continue;
        };
        out.push(DirEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
            is_dir: meta.is_dir(),
            size: meta.len(),
            mtime: meta.mtime(),
        });
    }
    Ok(out)
}

/// A README/HEADER file's text (bounded), if readable.
fn read_text(dir: &str, name: &str) -> Option<String> {
    let path = format!("{}/{}", dir.trim_end_matches('/'), name);
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_TEXT)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}
