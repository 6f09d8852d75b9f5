//! lighttpd's `http_response_prepare` (src/response.c): the hook chain
//! uri_raw → uri_clean → docroot → physical → existence check →
//! subrequest_start, with COMEBACK restarts, `OPTIONS *`, CONNECT, the
//! PATH_INFO search, symlink policy and the directory redirect (301).

use std::io;
use std::os::unix::fs::FileTypeExt;

use super::{ErrorHandlerState, Request, ServerConf};
use crate::http::method::Method;
use crate::plugin::{Ctx, Flow, Hook, Pipeline};

/// Most COMEBACK rounds per request before giving up (rewrite loops).
const MAX_LOOPS: u32 = 32;

/// Run the prepare chain until the request is decided: `Finished` (status
/// or handler set), `WaitForEvent`, or `Error` (close without response).
pub fn prepare(r: &mut Request, p: &mut Pipeline, cx: &mut Ctx, srv: &ServerConf) -> Flow {
    loop {
        let flow = prepare_once(r, p, cx, srv);
        if flow != Flow::Comeback {
            return flow;
        }
        if let Err(flow) = restart(r, srv) {
            return flow;
        }
    }
}

/// Re-parse `r.target` after a rewrite or internal redirect.
pub fn restart(r: &mut Request, srv: &ServerConf) -> Result<(), Flow> {
    r.loops += 1;
    if r.loops > MAX_LOOPS {
        crate::log_error!("ENDLESS LOOP IN rewrite-rule DETECTED ... aborting request");
        return Err(Flow::Error);
    }
    r.handler = None;
    r.handler_module = None;
    r.physical.clear();
    match crate::http::uri::parse_target(&r.target, &srv.parseopts) {
        Ok(t) => {
            r.target = t.target;
            r.uri.path = t.path;
            r.uri.query = t.query.unwrap_or_default();
        }
        Err(status) => {
            r.resp.status = status;
            return Err(Flow::Finished);
        }
    }
    r.invalidate_uri_conds();
    Ok(())
}

fn prepare_once(r: &mut Request, p: &mut Pipeline, cx: &mut Ctx, srv: &ServerConf) -> Flow {
    // A request that failed to parse goes on only into an error handler.
    if r.resp.status > 200 || (r.parse_error && r.error_handler == ErrorHandlerState::None) {
        return Flow::Finished;
    }
    if r.physical.path.is_empty() {
        let flow = prepare_uri(r, p, cx);
        if flow != Flow::GoOn {
            return flow;
        }
    }
    if r.handler.is_some() || r.handler_module.is_some() {
        return Flow::Finished;
    }
    if let Some(status) = check_physical(r, srv) {
        r.resp.status = status;
        return Flow::Finished;
    }
    if r.resp.status != 0 {
        return Flow::Finished;
    }
    let flow = p.run(Hook::SubrequestStart, r, cx);
    if flow != Flow::GoOn {
        return flow;
    }
    if r.handler.is_some() || r.resp.status != 0 {
        return Flow::Finished;
    }
    no_handler(r);
    Flow::Finished
}

/// Steps 2.1–2.10: config, limits, uri hooks, docroot, physical path.
fn prepare_uri(r: &mut Request, p: &mut Pipeline, cx: &mut Ctx) -> Flow {
    r.conf = r.resolve_core();
    match &r.conf.server_name {
        Some(name) => r.server_name.clone_from(name),
        None => r.server_name.clone_from(&r.uri.authority),
    }
    if !r.conf.protocol_http11 && r.version == crate::http::h1::Version::Http11 {
        r.version = crate::http::h1::Version::Http10;
        r.keep_alive = false;
    }
    let limit = u64::from(r.conf.max_request_size) * 1024;
    if limit > 0 && r.content_length.is_some_and(|cl| cl > limit) {
        r.keep_alive = false;
        return r.finish_with(413);
    }
    let flow = p.run(Hook::UriClean, r, cx);
    if flow != Flow::GoOn {
        return flow;
    }
    if r.method == Method::Options && r.target == "*" {
        return options_ok(r);
    }
    if r.method == Method::Connect && r.handler.is_none() {
        r.keep_alive = false;
        return r.finish_with(405);
    }
    r.physical.doc_root.clear();
    let flow = p.run(Hook::Docroot, r, cx);
    if flow != Flow::GoOn {
        return flow;
    }
    build_physical(r);
    p.run(Hook::Physical, r, cx)
}

/// `physical.path = doc_root + rel_path`, joined with exactly one '/'.
fn build_physical(r: &mut Request) {
    let ph = &mut r.physical;
    if r.conf.force_lowercase_filenames {
        ph.rel_path = r.uri.path.to_lowercase();
    } else {
        ph.rel_path.clone_from(&r.uri.path);
    }
    if ph.doc_root.is_empty() {
        if let Some(root) = &r.conf.document_root {
            ph.doc_root.clone_from(root);
        }
    }
    ph.basedir.clone_from(&ph.doc_root);
    ph.path.clear();
    push_joined(&mut ph.path, &ph.doc_root, &ph.rel_path);
}

/// Join a directory and a url path with exactly one '/'.
pub fn join_path(dir: &str, rel: &str) -> String {
    let mut out = String::with_capacity(dir.len() + rel.len() + 1);
    push_joined(&mut out, dir, rel);
    out
}

/// [`join_path`] appending to `out`.
fn push_joined(out: &mut String, dir: &str, rel: &str) {
    out.push_str(dir.trim_end_matches('/'));
    if !rel.starts_with('/') {
        out.push('/');
    }
    out.push_str(rel);
}

fn options_ok(r: &mut Request) -> Flow {
    r.resp.headers.set("Allow", "OPTIONS, GET, HEAD, POST");
    r.resp.complete = true;
    r.finish_with(200)
}

/// Step 6: nobody took the request.
fn no_handler(r: &mut Request) {
    let status = match r.method {
        Method::Options => {
            options_ok(r);
            return;
        }
        Method::Connect => {
            r.keep_alive = false;
            405
        }
        ref m if !m.is_get_head_query_post() => 501,
        _ => 403,
    };
    r.resp.status = status;
}

/// §2.3: stat the path; PATH_INFO, symlinks, directory redirect. Returns a
/// status that ends the request, or None to continue.
fn check_physical(r: &mut Request, srv: &ServerConf) -> Option<u16> {
    if !r.conf.follow_symlink && has_symlink(&r.physical.path) {
        return Some(403);
    }
    match crate::stat_cache::lookup(&r.physical.path) {
        Ok(found) => {
            if found.meta().is_dir() && !r.uri.path.ends_with('/') {
                return Some(dir_redirect(r, srv));
            }
            r.physical.found = Some(found);
            None
        }
        Err(e) => match e.raw_os_error() {
            Some(libc::EACCES) => Some(403),
            Some(libc::ENOENT) | Some(libc::ENAMETOOLONG) => {
                if r.method == Method::Options && r.resp.headers.contains("Allow") {
                    r.resp.complete = true;
                    Some(200)
                } else {
                    Some(404)
                }
            }
            Some(libc::ENOTDIR) => split_path_info(r),
            _ => Some(500),
        },
    }
}

/// Any component of `path` a symlink?
pub(crate) fn has_symlink(path: &str) -> bool {
    let mut prefix = String::with_capacity(path.len());
    for part in path.split('/').filter(|s| !s.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        if std::fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink()) {
            return true;
        }
    }
    false
}

/// ENOTDIR: the longest existing prefix after basedir that is a regular file
/// becomes the file, the rest PATH_INFO.
fn split_path_info(r: &mut Request) -> Option<u16> {
    let path = r.physical.path.clone();
    let start = r.physical.basedir.trim_end_matches('/').len();
    let mut cut = None;
    for (i, _) in path.match_indices('/').filter(|(i, _)| *i > start) {
        match std::fs::metadata(&path[..i]) {
            Ok(m) if m.is_file() => {
                cut = Some(i);
                break;
            }
            Ok(m) if m.is_dir() => continue,
            _ => return Some(404),
        }
    }
    let cut = cut?;
    let info = &path[cut..];
    if r.uri.path.ends_with(info) {
        let keep = r.uri.path.len() - info.len();
        r.uri.path.truncate(keep);
    }
    r.physical.path_info = info.to_string();
    r.physical.path.truncate(cut);
    None
}

/// 301 to `<uri.path>/` (URL-encoded) plus `?query`.
fn dir_redirect(r: &mut Request, srv: &ServerConf) -> u16 {
    let mut loc = String::new();
    if srv.absolute_dir_redirect() {
        loc.push_str(r.uri.scheme);
        loc.push_str("://");
        if r.uri.authority.is_empty() {
            loc.push_str(&local_authority(r));
        } else {
            loc.push_str(&r.uri.authority);
        }
    }
    loc.push_str(&crate::http::uri::url_encode_path(&r.uri.path));
    loc.push('/');
    if !r.uri.query.is_empty() {
        loc.push('?');
        loc.push_str(&r.uri.query);
    }
    r.resp.headers.set("Location", &loc);
    r.resp.complete = true;
    301
}

/// The authority of a redirect for a request without one (HTTP/1.0, no
/// Host), from the listening socket as lighttpd builds it: 127.0.0.1 is
/// `localhost`, else `server.name`, else the address (lighttpd would try a
/// blocking reverse lookup first); then `:port` unless the scheme's default.
fn local_authority(r: &Request) -> String {
    let Some((_, port)) = r.server_socket.rsplit_once(':') else {
        return r.server_name.clone();
    };
    let addr = r.server_addr.as_str();
    let mut out = if addr == "127.0.0.1" {
        "localhost".to_string()
    } else if !r.server_name.is_empty() {
        r.server_name.clone()
    } else if addr.contains(':') {
        format!("[{addr}]")
    } else {
        addr.to_string()
    };
    let default = if r.uri.scheme == "https" { "443" } else { "80" };
    if port != default {
        out.push(':');
        out.push_str(port);
    }
    out
}

/// Errors from opening files for static responses, as statuses.
pub fn open_error_status(e: &io::Error) -> u16 {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ENAMETOOLONG) => 404,
        Some(libc::EACCES) | Some(libc::EPERM) => 403,
        _ => 500,
    }
}

/// Is `meta` something other than a regular file (device, fifo, socket)?
pub fn is_special(meta: &std::fs::Metadata) -> bool {
    let t = meta.file_type();
    t.is_block_device() || t.is_char_device() || t.is_fifo() || t.is_socket()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_uses_one_slash() {
        assert_eq!(join_path("/srv/www/", "/a"), "/srv/www/a");
        assert_eq!(join_path("/srv/www", "/a/"), "/srv/www/a/");
        assert_eq!(join_path("/srv/www", "a"), "/srv/www/a");
    }

    #[test]
    fn symlink_components_are_found() {
        let dir = std::env::temp_dir().join(format!("lrs-prep-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("real")).unwrap();
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(dir.join("real"), &link).unwrap();
        assert!(has_symlink(&format!("{}/x", link.display())));
        assert!(!has_symlink(&format!("{}/x", dir.join("real").display())));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
