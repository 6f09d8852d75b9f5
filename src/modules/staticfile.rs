//! mod_staticfile (lighttpd src/mod_staticfile.c, http-header-glue.c): serve
//! the file at `physical.path` for GET, HEAD, QUERY and POST — Content-Type
//! from `mimetype.assign`, ETag and Last-Modified, conditional requests
//! (304/412), Content-Length; small files are read into memory (one `pread`
//! on the fd kept by the stat cache) so head and body leave in one
//! `writev`, larger ones go out with `sendfile`.
//! Range requests are applied later, by the core, to any complete 200.

use std::cell::RefCell;
use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::rc::Rc;

use crate::config::diagnostic::Diagnostic;
use crate::http::etag::{make_etag_ns, EtagFlags};
use crate::http::headers::Headers;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::prepare::open_error_status;
use crate::request::{CoreConf, Request};
use crate::stat_cache::Entry;

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
    let (file, entry) = match r.physical.stat().and_then(|e| e.open()) {
        Ok((_, e)) if !e.meta().is_file() => return r.finish_with(403),
        Ok(opened) => opened,
        Err(e) => return r.finish_with(open_error_status(&e)),
    };
    let meta = entry.meta();
    let conditional = if r.resp.headers.is_empty() {
        memoised_fields(r, meta, etags)
    } else {
        content_fields(r, meta, etags).or_else(|| {
            r.resp.headers.set_u64("Content-Length", meta.len());
            None
        })
    };
    if let Some(status) = conditional {
        r.resp.complete = true;
        return r.finish_with(status);
    }
    queue_body(r, file, &entry);
    r.resp.complete = true;
    r.finish_with(200)
}

/// Content-Type; with a type from `mimetype.assign` also ETag and
/// Last-Modified, and then the status of a conditional request (304/412)
/// if it is one.
fn content_fields(r: &mut Request, meta: &Metadata, etags: bool) -> Option<u16> {
    let found = with_content_type(r, |r, ct| {
        set_if_absent(r, "Content-Type", ct.unwrap_or("application/octet-stream"));
        ct.is_some()
    });
    if found {
        validators(r, meta, etags)
    } else {
        None
    }
}

/// The fields [`content_fields`] gives a file's response, kept for the
/// last file: the same file served again copies them in one go.
struct FieldsMemo {
    /// The config they came from (held: its address is not reused).
    conf: Rc<CoreConf>,
    path: String,
    etags: bool,
    /// What the file's validators depend on (inode, length, mtime).
    file: (u64, u64, i64, i64),
    fields: Headers,
    /// `fields` and Content-Length (a response that is not a 304/412).
    with_length: Headers,
    /// ETag and Last-Modified, when the file has validators.
    validators: Option<(Option<String>, String)>,
}

thread_local! {
    static LAST_FIELDS: RefCell<Option<FieldsMemo>> = const { RefCell::new(None) };
}

/// [`content_fields`] into an empty response head, from the memo when
/// it is the last file's, and Content-Length unless the request is
/// answered with a conditional status.
fn memoised_fields(r: &mut Request, meta: &Metadata, etags: bool) -> Option<u16> {
    let file = (meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec());
    LAST_FIELDS.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(m) = last.as_ref().filter(|m| {
            Rc::ptr_eq(&m.conf, &r.conf)
                && m.file == file
                && m.etags == etags
                && m.path == r.physical.path
        }) {
            let status = m.validators.as_ref().and_then(|(etag, lm)| {
                crate::http::conditional::check(&r.method, &r.headers, etag.as_deref(), lm)
            });
            let fields = if status.is_some() {
                &m.fields
            } else {
                &m.with_length
            };
            r.resp.headers.copy_from(fields);
            return status;
        }
        let status = content_fields(r, meta, etags);
        let h = &r.resp.headers;
        let validators = h
            .get("Last-Modified")
            .map(|lm| (h.get("ETag").map(str::to_string), lm.to_string()));
        let (mut fields, mut with_length) = last
            .take()
            .map(|m| (m.fields, m.with_length))
            .unwrap_or_default();
        fields.copy_from(h);
        with_length.copy_from(h);
        with_length.append_u64("Content-Length", meta.len());
        if status.is_none() {
            r.resp.headers.copy_from(&with_length);
        }
        *last = Some(FieldsMemo {
            conf: Rc::clone(&r.conf),
            path: r.physical.path.clone(),
            etags,
            file,
            fields,
            with_length,
            validators,
        });
        status
    })
}

/// A `mimetype.assign` result: the config it came from (held, so that
/// its address cannot be reused by another), the path, the type.
type TypeMemo = (Rc<CoreConf>, String, Option<String>);

thread_local! {
    /// The last file's `mimetype.assign` result.
    static LAST_TYPE: RefCell<Option<TypeMemo>> = const { RefCell::new(None) };
}

/// Calls `use_it` with the Content-Type `mimetype.assign` gives
/// `r.physical.path`, memoised for the last path and config.
fn with_content_type<T>(
    r: &mut Request,
    use_it: impl FnOnce(&mut Request, Option<&str>) -> T,
) -> T {
    LAST_TYPE.with(|last| {
        let mut last = last.borrow_mut();
        let hit = last
            .as_ref()
            .is_some_and(|(conf, path, _)| Rc::ptr_eq(conf, &r.conf) && *path == r.physical.path);
        if !hit {
            let ct = crate::http::mime::lookup(&r.physical.path, &r.conf.mimetype_assign);
            let ct = ct.map(str::to_string);
            *last = Some((Rc::clone(&r.conf), r.physical.path.clone(), ct));
        }
        let ct = last.as_ref().and_then(|(_, _, ct)| ct.as_deref());
        use_it(r, ct)
    })
}

fn set_if_absent(r: &mut Request, name: &str, value: &str) {
    if !r.resp.headers.contains(name) {
        r.resp.headers.append(name, value);
    }
}

/// ETag and Last-Modified, then If-None-Match / If-Modified-Since: the
/// status of a conditional request, if it is one.
fn validators(r: &mut Request, meta: &Metadata, etags: bool) -> Option<u16> {
    let flags = EtagFlags {
        inode: r.conf.etag_use_inode,
        size: r.conf.etag_use_size,
        mtime: r.conf.etag_use_mtime,
    };
    let with_etag = etags && flags.any();
    with_validator_strings(meta, with_etag, flags, |etag, lm| {
        if let Some(tag) = etag {
            r.resp.headers.set("ETag", tag);
        }
        r.resp.headers.set("Last-Modified", lm);
        crate::http::conditional::check(&r.method, &r.headers, etag, lm)
    })
}

/// What the validators of a file are computed from.
type ValidatorKey = (u64, u64, i64, i64, bool, [bool; 3]);

thread_local! {
    /// The last file's ETag and Last-Modified (a file served again skips
    /// the hashing and date formatting).
    static LAST_VALIDATORS: RefCell<Option<(ValidatorKey, Option<String>, String)>> =
        const { RefCell::new(None) };
}

/// Calls `use_them` with the ETag (if wanted) and Last-Modified of a file,
/// memoised for the last file.
fn with_validator_strings<T>(
    meta: &Metadata,
    with_etag: bool,
    f: EtagFlags,
    use_them: impl FnOnce(Option<&str>, &str) -> T,
) -> T {
    let key = (
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        with_etag,
        [f.inode, f.size, f.mtime],
    );
    LAST_VALIDATORS.with(|last| {
        let mut last = last.borrow_mut();
        let entry = match &mut *last {
            Some(entry) if entry.0 == key => entry,
            slot => slot.insert((
                key,
                with_etag.then(|| {
                    make_etag_ns(meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec(), f)
                }),
                crate::http::date::http_date_secs(meta.mtime()),
            )),
        };
        use_them(entry.1.as_deref(), &entry.2)
    })
}

/// The file as the body, by reference: a small one is copied (from the
/// stat cache's copy of its bytes, or read) straight behind the response
/// head when it is queued (ChunkQueue::append_queue_small_copied), a
/// large one goes out with sendfile. HEAD keeps the length, sends no body.
fn queue_body(r: &mut Request, file: Rc<File>, entry: &Entry) {
    let cached = if r.is_head() {
        None
    } else {
        crate::stat_cache::contents(entry)
    };
    r.resp
        .body
        .append_file_cached(file, 0, entry.meta().len(), cached);
}
