//! The built-in lighttpd modules, one file per `mod_*` (named without the
//! `mod_` prefix), plus `keyvalue` (the regex substitution engine shared
//! by mod_rewrite and mod_redirect).

pub mod access;
pub mod alias;
pub mod keyvalue;
pub mod redirect;
pub mod rewrite;
