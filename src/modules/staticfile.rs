//! mod_staticfile (lighttpd src/mod_staticfile.c, http-header-glue.c): serve
//! the file at `physical.path` for GET, HEAD, QUERY and POST — Content-Type
//! from `mimetype.assign`, ETag and Last-Modified, conditional requests
//! (304/412), Content-Length; small files are read into memory so head and
//! body leave in one `writev`, larger ones go out with `sendfile`.
//! Range requests are applied later, by the core, to any complete 200.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::rc::Rc;

use crate::config::diagnostic::Diagnostic;
use crate::http::etag::{make_etag_ns, EtagFlags};
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::prepare::open_error_status;
use crate::request::Request;

/// Files up to this size are read into memory (one writev with the head).
const SMALL_FILE: u64 = 16 * 1024;

/// The module; `static-file.*` is part of the core config (`r.conf`).
pub struct StaticFile;

/// Registry constructor.
pub fn new(_init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(StaticFile))
}

impl Module for StaticFile {
    fn name(&self) -> &'static str {
        "mod_staticfile"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::SubrequestStart]
    }

    fn subrequest_start(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if r.handler.is_some() || !r.method.is_get_head_query_post() {
            return Flow::GoOn;
        }
        if r.conf.static_file_disable_pathinfo && !r.physical.path_info.is_empty() {
            return Flow::GoOn;
        }
        let path = &r.physical.path;
        let excluded = &r.conf.static_file_exclude_extensions;
        if excluded.iter().any(|e| path.ends_with(e.as_str())) {
            return Flow::GoOn;
        }
        serve_file(r, r.conf.static_file_etags)
    }
}

/// Fill the response with the file at `r.physical.path` (also used for
/// X-Sendfile by backends).
pub fn serve_file(r: &mut Request, etags: bool) -> Flow {
    let file = match File::open(&r.physical.path) {
        Ok(f) => f,
        Err(e) => return r.finish_with(open_error_status(&e)),
    };
    let meta = match file.metadata() {
        Ok(m) if m.is_file() => m,
        Ok(_) => return r.finish_with(403),
        Err(e) => return r.finish_with(open_error_status(&e)),
    };
    let ctype = crate::http::mime::lookup(&r.physical.path, &r.conf.mimetype_assign);
    match ctype {
        Some(ct) => {
            let ct = ct.to_string();
            set_if_absent(r, "Content-Type", &ct);
            if let Some(flow) = validators(r, &meta, etags) {
                return flow;
            }
        }
        None => set_if_absent(r, "Content-Type", "application/octet-stream"),
    }
    r.resp
        .headers
        .set("Content-Length", &meta.len().to_string());
    queue_body(r, file, meta.len());
    r.resp.complete = true;
    r.finish_with(200)
}

fn set_if_absent(r: &mut Request, name: &str, value: &str) {
    if !r.resp.headers.contains(name) {
        r.resp.headers.append(name, value);
    }
}

/// ETag and Last-Modified, then If-None-Match / If-Modified-Since.
fn validators(r: &mut Request, meta: &Metadata, etags: bool) -> Option<Flow> {
    let flags = EtagFlags {
        inode: r.conf.etag_use_inode,
        size: r.conf.etag_use_size,
        mtime: r.conf.etag_use_mtime,
    };
    let etag = if etags && flags.any() {
        let tag = make_etag_ns(
            meta.ino(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec(),
            flags,
        );
        r.resp.headers.set("ETag", &tag);
        Some(tag)
    } else {
        None
    };
    let lm = crate::http::date::http_date_secs(meta.mtime());
    r.resp.headers.set("Last-Modified", &lm);
    let status = crate::http::conditional::check(&r.method, &r.headers, etag.as_deref(), &lm)?;
    r.resp.complete = true;
    Some(r.finish_with(status))
}

/// The file as the body: in memory when small, else a sendfile chunk.
fn queue_body(r: &mut Request, mut file: File, len: u64) {
    if r.is_head() || len == 0 {
        // HEAD: the head is written, the body dropped; keep the length.
        r.resp.body.append_file(Rc::new(file), 0, len);
        return;
    }
    if len <= SMALL_FILE {
        let mut buf = vec![0u8; len as usize];
        if file.read_exact(&mut buf).is_ok() {
            r.resp.body.append_vec(buf);
            return;
        }
    }
    r.resp.body.append_file(Rc::new(file), 0, len);
}
