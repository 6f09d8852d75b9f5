//! `-tt` parity: lighttpd-rs prints what lighttpd 1.4.69 prints (messages
//! without timestamp and source location) and exits the same way, for
//! configs exercising the directive registry, scopes, the module list and
//! the preflight checks. Expected answers were recorded from
//! `/usr/sbin/lighttpd -tt` 1.4.69 (with every module installed). Paths
//! that must not exist are below /nonexistent, which other tests' programs
//! may create (the home of `nobody`). Cases loading a module lighttpd-rs
//! does not build in (whose `-tt` stops at loading it) check the same
//! phases through the library, with lighttpd's module set
//! ([`validate::Lighttpd1469`]).

use lighttpd::config::{self, validate};
use lighttpd::plugin::registry::BUILTIN;
use std::process::Command;

/// Every case starts with this (document root, address).
const HEADER: &str =
    "server.document-root=\"/tmp\"\nserver.bind=\"127.0.0.1\"\nserver.port=18995\n";

/// (config after HEADER, lighttpd's messages, exit status)
const CASES: &[(&str, &[&str], i32)] = &[
    (
        r#"server.modules=("mod_access")
url.access-deny="x"
"#,
        &[
            r#"url.access-deny should have been a list like url.access-deny = ( "..." )"#,
            r#"Configuration of plugins failed. Going down."#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_access","mod_foo")
"#,
        &[
            r#"dlopen() failed for: /usr/lib/lighttpd/mod_foo.so /usr/lib/lighttpd/mod_foo.so: cannot open shared object file: No such file or directory"#,
            r#"loading plugins finally failed"#,
        ],
        255,
    ),
    (
        r#"server.tag=5
"#,
        &[r#"server.tag should have been a string like ... = "...""#],
        255,
    ),
    (
        r#"mimetype.assign=("a","b")
"#,
        &[
            r#"mimetype.assign should have been a list of key => string values like mimetype.assign = ( "..." => "...", "..." => "..." )"#,
        ],
        255,
    ),
    (
        r#"server.modules="mod_access"
"#,
        &[r#"server.modules should have been a list like server.modules = ( "..." )"#],
        255,
    ),
    (
        r#"server.follow-symlink="yes"
"#,
        &[r#"ERROR: unexpected type for key: server.follow-symlink (string) "(enable|disable)""#],
        255,
    ),
    (
        r#"server.max-request-field-size="-5"
"#,
        &[r#"got a string but expected an integer: server.max-request-field-size -5"#],
        255,
    ),
    (
        r#"server.max-keep-alive-idle=("a")
"#,
        &[
            r#"unexpected type for key: server.max-keep-alive-idle 1 expected a short integer, range 0 ... 65535"#,
        ],
        255,
    ),
    (
        r#"server.http-parseopts=("url-normalize"=>"maybe")
"#,
        &[
            r#"unrecognized value for server.http-parseopts: url-normalize => maybe (expect "[enable|disable]")"#,
        ],
        255,
    ),
    (
        r#"server.stat-cache-engine="bogus"
"#,
        &[
            r#"server.stat-cache-engine can be one of "disable", "simple", "inotify", "fam", but not: bogus"#,
        ],
        255,
    ),
    (
        r#"server.event-handler="bogus"
"#,
        &[
            r#"the selected event-handler in unknown or not supported: bogus"#,
            r#"setting default values failed"#,
        ],
        255,
    ),
    (
        r#"server.network-backend="bogus"
"#,
        &[r#"server.network-backend has an unknown value: bogus"#],
        255,
    ),
    (
        r#"$HTTP["host"]=="x" { server.port=81 }
"#,
        &[r#"DEPRECATED: do not set server options in conditionals, variable: server.port"#],
        0,
    ),
    (
        r#"$HTTP["host"]=="x" { server.use-ipv6="enable" }
"#,
        &[
            r#"WARNING: server.use-ipv6 must be in global scope or $SERVER["socket"] with '==', or else is ignored"#,
        ],
        0,
    ),
    (
        r#"$SERVER["socket"]=="127.0.0.1:18994" { server.use-ipv6="disable" ssl.engine="disable" }
"#,
        &[
            r#"Warning: please add "mod_openssl" to server.modules list in lighttpd.conf.  A future release of lighttpd 1.4.x *will not* automatically load mod_openssl and lighttpd *will not* use SSL/TLS where your lighttpd.conf contains ssl.* directives"#,
        ],
        0,
    ),
    (
        r#"foo.bar=1
$HTTP["url"]=~"x" { bar.baz=2 }
var.x=1
dir-listing.foo=1
"#,
        &[
            r#"WARNING: unknown config-key: foo.bar (ignored)"#,
            r#"WARNING: unknown config-key: bar.baz (ignored)"#,
        ],
        0,
    ),
    (
        r#"server.modules=("mod_rewrite")
url.rewrite=("a"=>"b")
url.redirect=("a"=>"b")
"#,
        &[r#"WARNING: unknown config-key: url.redirect (ignored)"#],
        0,
    ),
    (
        r#"server.modules=("mod_status","mod_authn_file","mod_access","mod_status","mod_dirlisting")
dir-listing.activate="enable"
index-file.names=("i")
"#,
        &[],
        0,
    ),
    (
        r#"server.upload-dirs=("/nonexistent/lighttpd-rs-vparity")
"#,
        &[r#"server.upload-dirs doesn't exist: /nonexistent/lighttpd-rs-vparity"#],
        0,
    ),
    (
        r#"server.chroot="/nonexistent/lighttpd-rs-vparity"
"#,
        &[
            r#"server.chroot doesn't exist: /nonexistent/lighttpd-rs-vparity"#,
            r#"setting default values failed"#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_cgi")
cgi.assign=("a")
"#,
        &[
            r#"cgi.assign should have been a list of key => string values like cgi.assign = ( "..." => "...", "..." => "..." )"#,
            r#"Configuration of plugins failed. Going down."#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_setenv","mod_expire")
setenv.add-response-header=("a"=>"b")
expire.url=("/"=>"access plus 1 days")
$HTTP["host"]=="x" { expire.url = 5 }
"#,
        &[
            r#"expire.url should have been a list like expire.url = ( "..." )"#,
            r#"Configuration of plugins failed. Going down."#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_fastcgi")
fastcgi.server=("x"=>"y")
"#,
        &[
            r#"fastcgi.server should have been a list of key => list like fastcgi.server = ( "..." => ( "..." => "..." ) )"#,
            r#"Configuration of plugins failed. Going down."#,
        ],
        255,
    ),
    (
        r#"index-file.names="index.html"
"#,
        &[r#"WARNING: unknown config-key: index-file.names (ignored)"#],
        0,
    ),
    (
        r#"server.http-parseopt-header-strict="maybe"
"#,
        &[
            r#"ERROR: unexpected type for key: server.http-parseopt-header-strict (string) "(enable|disable)""#,
        ],
        255,
    ),
    (
        r#"server.feature-flags=("a")
"#,
        &[
            r#"server.feature-flags should have been a list of key => values like server.feature-flags = ( "..." => "...", "..." => "..." )"#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_rrdtool")
$HTTP["host"]=="x" { rrdtool.binary="/x" }
rrdtool.db-name=1
"#,
        &[
            r#"DEPRECATED: do not set server options in conditionals, variable: rrdtool.binary"#,
            r#"rrdtool.db-name should have been a string like ... = "...""#,
            r#"Configuration of plugins failed. Going down."#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_userdir","mod_alias")
userdir.path=5
alias.url=("a")
"#,
        &[
            r#"userdir.path should have been a string like ... = "...""#,
            r#"Configuration of plugins failed. Going down."#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_deflate")
deflate.mimetypes="x"
"#,
        &[
            r#"deflate.mimetypes should have been a list like deflate.mimetypes = ( "..." )"#,
            r#"Configuration of plugins failed. Going down."#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_proxy")
proxy.server=("/"=>(("host"=>"127.0.0.1")))
proxy.debug="x"
"#,
        &[
            r#"got a string but expected an integer: proxy.debug x"#,
            r#"Configuration of plugins failed. Going down."#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_auth")
auth.backend="plain"
auth.require=("/"=>("method"=>"basic","realm"=>"r","require"=>"valid-user"))
auth.backend.plain.userfile="/etc/passwd"
"#,
        &[
            r#"Warning: please add "mod_authn_file" to server.modules list in lighttpd.conf.  A future release of lighttpd 1.4.x will not automatically load mod_authn_file and lighttpd will fail to start up since your lighttpd.conf uses auth.backend = "plain"."#,
        ],
        0,
    ),
    (
        r#"server.modules=("mod_compress")
compress.cache-dir="/tmp"
"#,
        &[
            r#"Warning: "mod_compress" is DEPRECATED and has been replaced with "mod_deflate".  A future release of lighttpd 1.4.x will not contain mod_compress and lighttpd may fail to start up"#,
            r#"DEPRECATED: compress.cache-dir replaced with deflate.cache-dir"#,
        ],
        0,
    ),
    (
        r#"server.modules=("mod_authn_file")
"#,
        &[],
        0,
    ),
    (
        r#"$SERVER["socket"]==":18993" { server.max-worker=3 }
"#,
        &[r#"DEPRECATED: do not set server options in conditionals, variable: server.max-worker"#],
        0,
    ),
    (
        r#"server.compat-module-load="disable"
server.modules=("mod_staticfile")
server.dir-listing="enable"
"#,
        &[r#"WARNING: unknown config-key: server.dir-listing (ignored)"#],
        0,
    ),
    (
        r#"server.syslog-facility=5
server.errorlog-use-syslog="maybe"
"#,
        &[
            r#"ERROR: unexpected type for key: server.errorlog-use-syslog (string) "(enable|disable)""#,
            r#"server.syslog-facility should have been a string like ... = "...""#,
        ],
        255,
    ),
    (
        r#"server.modules=("mod_openssl")
ssl.pemfile="/tmp/both.pem"
$HTTP["host"]=="x" { ssl.engine="enable"
server.use-ipv6="enable"
ssl.cipher-list="x" }
"#,
        &[
            r#"WARNING: ssl.engine must be in global scope or $SERVER["socket"] with '==', or else is ignored"#,
            r#"WARNING: ssl.engine must be in global scope or $SERVER["socket"] with '==', or else is ignored"#,
            r#"WARNING: ssl.cipher-list must be in global scope or $SERVER["socket"] with '==', or else is ignored"#,
            r#"ssl.engine is valid only in global scope or $SERVER["socket"] condition"#,
            r#"ssl.cipher-list is valid only in global scope or $SERVER["socket"] condition"#,
            r#"WARNING: ssl.engine must be in global scope or $SERVER["socket"] with '==', or else is ignored"#,
            r#"WARNING: server.use-ipv6 must be in global scope or $SERVER["socket"] with '==', or else is ignored"#,
        ],
        0,
    ),
    (
        r#"server.modules=("mod_openssl","mod_accesslog")
ssl.pemfile="/tmp/both.pem"
accesslog.filename=5
$HTTP["host"]=="x" { server.use-ipv6="enable"
 ssl.stek-file="/x" }
"#,
        &[
            r#"DEPRECATED: do not set server options in conditionals, variable: ssl.stek-file"#,
            r#"ssl.stek-file is valid only in global scope or $SERVER["socket"] condition"#,
            r#"WARNING: server.use-ipv6 must be in global scope or $SERVER["socket"] with '==', or else is ignored"#,
            r#"accesslog.filename should have been a string like ... = "...""#,
            r#"Configuration of plugins failed. Going down."#,
        ],
        255,
    ),
];

/// Strip `YYYY-MM-DD HH:MM:SS: (file.c.N) ` from a log line.
fn strip_log_prefix(line: &str) -> &str {
    match line.find(") ") {
        Some(i)
            if line
                .get(..4)
                .is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit())) =>
        {
            &line[i + 2..]
        }
        _ => line,
    }
}

/// For a config loading a module we do not build in: lighttpd's `-tt`
/// messages and status with all of its modules present.
fn with_lighttpds_modules(path: &str) -> Option<(String, i32)> {
    let tree = config::load(path).ok()?;
    let built_in = |m: &String| BUILTIN.iter().any(|(n, _)| n == m);
    if validate::module_list(&tree).iter().all(built_in) {
        return None;
    }
    let diags = validate::lighttpd_messages(&tree, true);
    let mut text = config::lighttpd_warnings(&tree);
    for d in &diags {
        text += &d.message;
        text.push('\n');
    }
    let failed = diags.iter().any(|d| d.is_error());
    Some((text, if failed { 255 } else { 0 }))
}

#[test]
fn preflight_messages_match_lighttpd() {
    let dir = std::env::temp_dir().join(format!("lighttpd-rs-vparity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut mismatches = Vec::new();
    for (i, (body, expected, status)) in CASES.iter().enumerate() {
        let path = dir.join(format!("case{i}.conf"));
        std::fs::write(&path, format!("{HEADER}{body}")).expect("write config");
        let out = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
            .arg("-tt")
            .arg("-f")
            .arg(&path)
            .output()
            .expect("run lighttpd -tt");
        let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut code = out.status.code().unwrap_or(-1);
        if let Some((text, rc)) = with_lighttpds_modules(&path.display().to_string()) {
            (stderr, code) = (text, rc);
        }
        let got: Vec<&str> = stderr.lines().map(strip_log_prefix).collect();
        if got != *expected || code != *status {
            mismatches.push(format!(
                "case {i}:\n{body}\nexpected ({status}): {expected:#?}\ngot ({code}): {got:#?}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
