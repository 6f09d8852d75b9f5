//! lighttpd-rs: a configuration-compatible, drop-in replacement for lighttpd 1.4.
//!
//! Reading order, following a config from text to served bytes:
//! 1. [`config`]: `lighttpd.conf` text → AST (nom) → `ConfigTree` (includes,
//!    variables, merges) → checked, typed per-module configuration.
//! 2. [`cli`]: lighttpd's command line (`-f -t -tt -p -D -v -V …`) and `check`.
//! 3. [`server`]: the mio event loop, listeners, connections, signals.
//! 4. [`http`]: protocol pieces with no config knowledge (head parsing, URL
//!    normalisation, ranges, ETags, dates, chunked coding).
//! 5. [`request`], [`plugin`], [`modules`]: one request's life through
//!    lighttpd's module pipeline and the built-in `mod_*` implementations.
//!
//! `sys` holds the only `unsafe` code: a few syscalls without safe wrappers.

pub mod b64;
pub mod chunk;
pub mod cli;
pub mod config;
pub mod connection;
pub mod daemon;
pub mod gw;
pub mod http;
pub mod log;
pub mod modules;
pub mod oneshot;
pub mod plugin;
pub mod read_ahead;
pub mod request;
pub mod server;
pub mod signals;
pub mod sockets;
pub mod stat_cache;
pub mod sys;
pub mod throttle;
pub mod tls;
