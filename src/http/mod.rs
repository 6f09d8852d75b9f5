//! HTTP protocol pieces with no socket and no config-tree knowledge: plain
//! functions over bytes and strings, table-tested, mirroring lighttpd 1.4.69.
//!
//! - [`h1`]: request head framing and lighttpd's strictness checks
//! - [`headers`], [`method`]: header list and request methods
//! - [`host`]: Host validation/normalisation (`host-strict`, `host-normalize`)
//! - [`uri`]: URL normalisation (`server.http-parseopts`, burl.c)
//! - [`date`]: HTTP dates (format, cache, parse)
//! - [`mime`]: Content-Type from `mimetype.assign`
//! - [`etag`], [`conditional`]: ETags and 304/412 decisions
//! - [`range`]: Range / If-Range / multipart byteranges
//! - [`chunked`]: incremental chunked request-body decoder
//! - [`dirlist`]: mod_dirlisting page rendering
//! - [`backend_response`]: CGI/FastCGI/SCGI/proxy response heads
//! - [`cgi_env`]: CGI/FastCGI/SCGI environment, local redirects
//! - [`status`]: reason phrases and the default error page

pub mod backend_response;
pub mod cgi_env;
pub mod chunked;
pub mod conditional;
pub mod date;
pub mod dirlist;
pub mod etag;
pub mod h1;
pub mod headers;
pub mod host;
pub mod method;
pub mod mime;
pub mod range;
pub mod status;
pub mod uri;

#[cfg(test)]
mod robust_tests;
