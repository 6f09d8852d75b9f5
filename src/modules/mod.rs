//! The built-in lighttpd modules, one file per `mod_*` (named without the
//! `mod_` prefix), plus `keyvalue` (the regex substitution engine shared
//! by mod_rewrite and mod_redirect). Register a module's constructor in
//! [`crate::plugin::registry::BUILTIN`].

pub mod access;
pub mod accesslog;
pub mod alias;
pub mod auth;
pub mod authn_file;
pub mod cgi;
pub mod deflate;
pub mod dirlisting;
pub mod evhost;
pub mod expire;
pub mod extforward;
pub mod fastcgi;
pub mod indexfile;
pub mod keyvalue;
pub mod openssl;
pub mod proxy;
pub mod redirect;
pub mod rewrite;
pub mod rrdtool;
pub mod scgi;
pub mod setenv;
pub mod simple_vhost;
pub mod sockproxy;
pub mod ssi;
pub mod ssi_exec;
pub mod ssi_expr;
pub mod ssi_parse;
pub mod staticfile;
pub mod status;
pub mod userdir;
