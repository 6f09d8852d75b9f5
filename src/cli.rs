//! lighttpd's command line: `-f -m -i -1 -p -t -tt -D -v -V -h`, and `check`.

/// The version string lighttpd prints with `-v`.
pub const VERSION_LINE: &str = "lighttpd/1.4.69 (ssl) - a light and fast webserver";
