//! mod_indexfile (lighttpd src/mod_indexfile.c): for a request whose
//! `uri.path` ends in '/', the first existing `index-file.names` entry
//! becomes the file to serve. Names starting with '/' are taken from the
//! document root (and `PATH_TRANSLATED_DIRINDEX` is set).

use crate::config::diagnostic::Diagnostic;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

/// The module; `index-file.names` is part of the core config (`r.conf`).
pub struct IndexFile;

/// Registry constructor.
pub fn new(_init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(IndexFile))
}

impl Module for IndexFile {
    fn name(&self) -> &'static str {
        "mod_indexfile"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::SubrequestStart]
    }

    fn subrequest_start(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if r.handler.is_some() || !r.uri.path.ends_with('/') {
            return Flow::GoOn;
        }
        let names = r.conf.index_file_names.clone();
        for name in &names {
            if name.is_empty() {
                continue;
            }
            let candidate = if name.starts_with('/') {
                crate::request::prepare::join_path(&r.physical.doc_root, name)
            } else {
                format!("{}{}", r.physical.path, name)
            };
            match crate::stat_cache::lookup(&candidate) {
                Ok(found) => {
                    if name.starts_with('/') {
                        let dir = std::mem::take(&mut r.physical.path);
                        r.env.push(("PATH_TRANSLATED_DIRINDEX".into(), dir));
                        r.uri.path = name.clone();
                    } else {
                        r.uri.path.push_str(name);
                    }
                    r.physical.path = candidate;
                    r.physical.found = Some(found);
                    return Flow::GoOn;
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::ENOTDIR) => continue,
                    Some(libc::EACCES) => return r.finish_with(403),
                    _ => return r.finish_with(500),
                },
            }
        }
        Flow::GoOn
    }
}
