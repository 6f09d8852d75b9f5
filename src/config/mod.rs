//! Configuration: `lighttpd.conf` text → AST → [`tree::ConfigTree`] → checked,
//! typed configuration for the core and every module.

pub mod check;
pub mod cond;
pub mod core;
pub mod diagnostic;
pub mod directive;
pub mod explain;
pub mod scoped;
pub mod source;
pub mod tree;
pub mod validate;
pub mod value;
