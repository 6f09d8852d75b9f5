//! The directive registry: every configuration key lighttpd 1.4.69 and its
//! modules know, with its value type, default, scope and owning module.
//!
//! Built from the `config_plugin_keys_t` tables of lighttpd 1.4.69
//! (`configfile.c`, `network.c` and every `mod_*.c`). Keys of the TLS modules
//! (mod_gnutls, mod_mbedtls, mod_nss, mod_wolfssl) are the same as
//! mod_openssl's and are listed once, owned by `mod_openssl`. Backend host
//! keys (`host`, `bin-path`, …) live inside `*.server` arrays and are not
//! directives.

/// How a directive's value is validated (lighttpd's `T_CONFIG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// A string.
    Str,
    /// 0..65535: an integer (truncated mod 65536) or a decimal string.
    Short,
    /// 0..4294967295: an integer or a decimal string.
    Int,
    /// `enable`/`disable` and friends, or an integer.
    Bool,
    /// An array of unkeyed strings.
    List,
    /// An array of `key => string`.
    KvString,
    /// An array of `key => anything`.
    KvAny,
    /// An array of `key => array`.
    KvArray,
    /// Any array.
    Array,
}

impl ValueType {
    /// The name used in docs and `check` output.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Str => "string",
            ValueType::Short => "short",
            ValueType::Int => "integer",
            ValueType::Bool => "boolean",
            ValueType::List => "list of strings",
            ValueType::KvString => "list of key => string",
            ValueType::KvAny => "list of key => value",
            ValueType::KvArray => "list of key => list",
            ValueType::Array => "list",
        }
    }
}

/// Where a directive takes effect (lighttpd's `T_CONFIG_SCOPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Global block only; ignored (with a DEPRECATED warning) in conditions.
    Server,
    /// Global block or a `$SERVER["socket"] == "..."` block.
    Socket,
    /// Anywhere; resolved per request.
    Connection,
}

/// One known configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectiveInfo {
    /// The key as lighttpd spells it.
    pub name: &'static str,
    pub ty: ValueType,
    /// The effective default, as text (`""` = unset).
    pub default: &'static str,
    pub scope: Scope,
    /// `core`, or the module that reads it (`mod_rewrite`, …).
    pub module: &'static str,
    /// For an old/alternative name: the key it stands for.
    pub alias_of: Option<&'static str>,
}

const fn d(
    name: &'static str,
    ty: ValueType,
    default: &'static str,
    scope: Scope,
    module: &'static str,
    alias_of: Option<&'static str>,
) -> DirectiveInfo {
    DirectiveInfo {
        name,
        ty,
        default,
        scope,
        module,
        alias_of,
    }
}

use Scope::{Connection, Server, Socket};
use ValueType::{Array, Bool, Int, KvAny, KvArray, KvString, List, Short, Str};

mod packed;
use packed::text_len;
pub use packed::Registry;

/// Every directive lighttpd 1.4.69 knows (`LIST`), stored without pointers
/// (see `packed`).
pub static DIRECTIVES: Registry<{ text_len(LIST) }, { LIST.len() }> = Registry::pack(LIST);

/// Every directive lighttpd 1.4.69 knows, core first, then by module. Only
/// read at compile time, by `DIRECTIVES`.
#[rustfmt::skip]
const LIST: &[DirectiveInfo] = &[
    d("server.modules", List, "()", Server, "core", None),
    d("server.compat-module-load", Bool, "enable", Server, "core", None),
    d("server.systemd-socket-activation", Bool, "disable", Server, "core", None),
    d("server.port", Short, "80 (443 with ssl.engine)", Server, "core", None),
    d("server.bind", Str, "0.0.0.0", Server, "core", None),
    d("server.network-backend", Str, "sendfile", Server, "core", None),
    d("server.chroot", Str, "", Server, "core", None),
    d("server.username", Str, "", Server, "core", None),
    d("server.groupname", Str, "", Server, "core", None),
    d("server.errorlog-placeholder-moved-to-config-insert", Str, "", Server, "core", None),
    d("server.breakagelog-placeholder-moved-to-config-insert", Str, "", Server, "core", None),
    d("server.errorlog-use-syslog", Bool, "disable", Server, "core", None),
    d("server.syslog-facility", Str, "daemon", Server, "core", None),
    d("server.core-files", Bool, "disable", Server, "core", None),
    d("server.event-handler", Str, "linux-sysepoll", Server, "core", None),
    d("server.pid-file", Str, "", Server, "core", None),
    d("server.max-worker", Short, "0", Server, "core", None),
    d("server.max-fds", Short, "0 (min(RLIMIT_NOFILE, 4096))", Server, "core", None),
    d("server.max-connections", Short, "0 (max-fds / 3)", Server, "core", None),
    d("server.max-request-field-size", Int, "8192", Server, "core", None),
    d("server.chunkqueue-chunk-sz", Int, "8192", Server, "core", None),
    d("server.upload-temp-file-size", Int, "1048576", Server, "core", None),
    d("server.upload-dirs", List, "() ($TMPDIR or /var/tmp)", Server, "core", None),
    d("server.http-parseopts", KvString, "()", Server, "core", None),
    d("server.http-parseopt-header-strict", Bool, "enable", Server, "core", Some("server.http-parseopts")),
    d("server.http-parseopt-host-strict", Bool, "enable", Server, "core", Some("server.http-parseopts")),
    d("server.http-parseopt-host-normalize", Bool, "disable", Server, "core", Some("server.http-parseopts")),
    d("server.reject-expect-100-with-417", Bool, "", Server, "core", None),
    d("server.stat-cache-engine", Str, "simple", Server, "core", None),
    d("mimetype.xattr-name", Str, "Content-Type", Server, "core", None),
    d("ssl.engine", Bool, "disable", Socket, "core", None),
    d("debug.log-request-header-on-error", Bool, "disable", Server, "core", None),
    d("server.feature-flags", KvAny, "()", Server, "core", None),
    d("server.document-root", Str, "", Connection, "core", None),
    d("server.name", Str, "", Connection, "core", None),
    d("server.tag", Str, "lighttpd/1.4.69", Connection, "core", None),
    d("server.max-request-size", Int, "0", Connection, "core", None),
    d("server.max-keep-alive-requests", Short, "1000", Connection, "core", None),
    d("server.max-keep-alive-idle", Short, "5", Connection, "core", None),
    d("server.max-read-idle", Short, "60", Connection, "core", None),
    d("server.max-write-idle", Short, "360", Connection, "core", None),
    d("server.errorfile-prefix", Str, "", Connection, "core", None),
    d("server.error-handler", Str, "", Connection, "core", None),
    d("server.error-handler-404", Str, "", Connection, "core", None),
    d("server.error-intercept", Bool, "disable", Connection, "core", None),
    d("server.force-lowercase-filenames", Bool, "disable", Connection, "core", None),
    d("server.follow-symlink", Bool, "enable", Connection, "core", None),
    d("server.protocol-http11", Bool, "enable", Connection, "core", None),
    d("server.range-requests", Bool, "enable", Connection, "core", None),
    d("server.stream-request-body", Short, "0", Connection, "core", None),
    d("server.stream-response-body", Short, "0", Connection, "core", None),
    d("server.kbytes-per-second", Short, "0", Connection, "core", None),
    d("connection.kbytes-per-second", Short, "0", Connection, "core", None),
    d("mimetype.assign", KvString, "()", Connection, "core", None),
    d("mimetype.use-xattr", Bool, "disable", Connection, "core", None),
    d("etag.use-inode", Bool, "enable", Connection, "core", None),
    d("etag.use-mtime", Bool, "enable", Connection, "core", None),
    d("etag.use-size", Bool, "enable", Connection, "core", None),
    d("debug.log-condition-handling", Bool, "disable", Connection, "core", None),
    d("debug.log-file-not-found", Bool, "disable", Connection, "core", None),
    d("debug.log-request-handling", Bool, "disable", Connection, "core", None),
    d("debug.log-request-header", Bool, "disable", Connection, "core", None),
    d("debug.log-response-header", Bool, "disable", Connection, "core", None),
    d("debug.log-timeouts", Bool, "disable", Connection, "core", None),
    d("debug.log-state-handling", Bool, "disable", Connection, "core", None),
    d("server.errorlog", Str, "", Connection, "core", None),
    d("server.breakagelog", Str, "", Connection, "core", None),
    d("url.access-deny", List, "", Connection, "mod_access", None),
    d("url.access-allow", List, "", Connection, "mod_access", None),
    d("accesslog.filename", Str, "", Connection, "mod_accesslog", None),
    d("accesslog.format", Str, "%h %V %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"", Connection, "mod_accesslog", None),
    d("accesslog.use-syslog", Bool, "disable", Connection, "mod_accesslog", None),
    d("accesslog.syslog-level", Short, "6", Connection, "mod_accesslog", None),
    d("accesslog.escaping", Str, "default", Connection, "mod_accesslog", None),
    d("ajp13.server", KvArray, "", Connection, "mod_ajp13", None),
    d("ajp13.balance", Str, "fair", Connection, "mod_ajp13", None),
    d("ajp13.debug", Int, "0", Connection, "mod_ajp13", None),
    d("ajp13.map-extensions", KvString, "()", Connection, "mod_ajp13", None),
    d("alias.url", KvString, "", Connection, "mod_alias", None),
    d("auth.backend", Str, "", Connection, "mod_auth", None),
    d("auth.require", KvArray, "", Connection, "mod_auth", None),
    d("auth.extern-authn", Bool, "disable", Connection, "mod_auth", None),
    d("auth.cache", Array, "", Connection, "mod_auth", None),
    d("auth.backend.dbi", KvAny, "", Connection, "mod_authn_dbi", None),
    d("auth.backend.plain.groupfile", Str, "", Connection, "mod_authn_file", None),
    d("auth.backend.plain.userfile", Str, "", Connection, "mod_authn_file", None),
    d("auth.backend.htdigest.userfile", Str, "", Connection, "mod_authn_file", None),
    d("auth.backend.htpasswd.userfile", Str, "", Connection, "mod_authn_file", None),
    d("auth.backend.gssapi.keytab", Str, "", Connection, "mod_authn_gssapi", None),
    d("auth.backend.gssapi.principal", Str, "", Connection, "mod_authn_gssapi", None),
    d("auth.backend.gssapi.store-creds", Bool, "enable", Connection, "mod_authn_gssapi", None),
    d("auth.backend.ldap.hostname", Str, "", Connection, "mod_authn_ldap", None),
    d("auth.backend.ldap.base-dn", Str, "", Connection, "mod_authn_ldap", None),
    d("auth.backend.ldap.filter", Str, "", Connection, "mod_authn_ldap", None),
    d("auth.backend.ldap.ca-file", Str, "", Connection, "mod_authn_ldap", None),
    d("auth.backend.ldap.starttls", Bool, "disable", Connection, "mod_authn_ldap", None),
    d("auth.backend.ldap.bind-dn", Str, "", Connection, "mod_authn_ldap", None),
    d("auth.backend.ldap.bind-pw", Str, "", Connection, "mod_authn_ldap", None),
    d("auth.backend.ldap.allow-empty-pw", Bool, "disable", Connection, "mod_authn_ldap", None),
    d("auth.backend.ldap.groupmember", Str, "memberUid", Connection, "mod_authn_ldap", None),
    d("auth.backend.ldap.timeout", Str, "2000000", Connection, "mod_authn_ldap", None),
    d("auth.backend.pam.opts", KvString, "", Connection, "mod_authn_pam", None),
    d("auth.backend.sasl.opts", KvString, "", Connection, "mod_authn_sasl", None),
    d("cgi.assign", KvString, "", Connection, "mod_cgi", None),
    d("cgi.execute-x-only", Bool, "disable", Connection, "mod_cgi", None),
    d("cgi.x-sendfile", Bool, "disable", Connection, "mod_cgi", None),
    d("cgi.x-sendfile-docroot", List, "", Connection, "mod_cgi", None),
    d("cgi.local-redir", Bool, "disable", Connection, "mod_cgi", None),
    d("cgi.upgrade", Bool, "disable", Connection, "mod_cgi", None),
    d("cgi.limits", KvAny, "", Connection, "mod_cgi", None),
    d("deflate.mimetypes", List, "", Connection, "mod_deflate", None),
    d("deflate.allowed-encodings", List, "", Connection, "mod_deflate", None),
    d("deflate.max-compress-size", Int, "131072", Connection, "mod_deflate", None),
    d("deflate.min-compress-size", Short, "256", Connection, "mod_deflate", None),
    d("deflate.compression-level", Short, "-1", Connection, "mod_deflate", None),
    d("deflate.output-buffer-size", Short, "0", Connection, "mod_deflate", None),
    d("deflate.work-block-size", Short, "2048", Connection, "mod_deflate", None),
    d("deflate.max-loadavg", Str, "", Connection, "mod_deflate", None),
    d("deflate.cache-dir", Str, "", Connection, "mod_deflate", None),
    d("compress.filetype", List, "", Connection, "mod_deflate", Some("deflate.mimetypes")),
    d("compress.allowed-encodings", List, "", Connection, "mod_deflate", Some("deflate.allowed-encodings")),
    d("compress.cache-dir", Str, "", Connection, "mod_deflate", Some("deflate.cache-dir")),
    d("compress.max-filesize", Int, "0", Connection, "mod_deflate", Some("deflate.max-compress-size")),
    d("compress.max-loadavg", Str, "", Connection, "mod_deflate", Some("deflate.max-loadavg")),
    d("deflate.params", KvAny, "", Connection, "mod_deflate", None),
    d("dir-listing.activate", Bool, "disable", Connection, "mod_dirlisting", None),
    d("server.dir-listing", Bool, "disable", Connection, "mod_dirlisting", Some("dir-listing.activate")),
    d("dir-listing.exclude", List, "", Connection, "mod_dirlisting", None),
    d("dir-listing.hide-dotfiles", Bool, "enable", Connection, "mod_dirlisting", None),
    d("dir-listing.external-css", Str, "", Connection, "mod_dirlisting", None),
    d("dir-listing.external-js", Str, "", Connection, "mod_dirlisting", None),
    d("dir-listing.encoding", Str, "", Connection, "mod_dirlisting", None),
    d("dir-listing.show-readme", Str, "", Connection, "mod_dirlisting", None),
    d("dir-listing.hide-readme-file", Bool, "disable", Connection, "mod_dirlisting", None),
    d("dir-listing.show-header", Str, "", Connection, "mod_dirlisting", None),
    d("dir-listing.hide-header-file", Bool, "disable", Connection, "mod_dirlisting", None),
    d("dir-listing.set-footer", Str, "", Connection, "mod_dirlisting", None),
    d("dir-listing.encode-readme", Bool, "enable", Connection, "mod_dirlisting", None),
    d("dir-listing.encode-header", Bool, "enable", Connection, "mod_dirlisting", None),
    d("dir-listing.auto-layout", Bool, "enable", Connection, "mod_dirlisting", None),
    d("dir-listing.cache", KvAny, "", Connection, "mod_dirlisting", None),
    d("evhost.path-pattern", Str, "", Connection, "mod_evhost", None),
    d("expire.url", KvString, "", Connection, "mod_expire", None),
    d("expire.mimetypes", KvString, "", Connection, "mod_expire", None),
    d("extforward.forwarder", KvString, "", Connection, "mod_extforward", None),
    d("extforward.headers", List, "(\"X-Forwarded-For\", \"Forwarded-For\")", Connection, "mod_extforward", None),
    d("extforward.params", KvAny, "", Connection, "mod_extforward", None),
    d("extforward.hap-PROXY", Bool, "disable", Connection, "mod_extforward", None),
    d("extforward.hap-PROXY-ssl-client-verify", Bool, "disable", Connection, "mod_extforward", None),
    d("fastcgi.server", KvArray, "", Connection, "mod_fastcgi", None),
    d("fastcgi.balance", Str, "fair", Connection, "mod_fastcgi", None),
    d("fastcgi.debug", Int, "0", Connection, "mod_fastcgi", None),
    d("fastcgi.map-extensions", KvString, "", Connection, "mod_fastcgi", None),
    d("ssl.cipher-list", Str, "EECDH+AESGCM:AES256+EECDH:CHACHA20:!SHA1:!SHA256:!SHA384", Socket, "mod_openssl", None),
    d("ssl.openssl.ssl-conf-cmd", KvString, "", Socket, "mod_openssl", None),
    d("ssl.pemfile", Str, "", Connection, "mod_openssl", None),
    d("ssl.stek-file", Str, "", Server, "mod_openssl", None),
    d("ssl.privkey", Str, "", Connection, "mod_openssl", None),
    d("ssl.ca-file", Str, "", Connection, "mod_openssl", None),
    d("ssl.ca-dn-file", Str, "", Connection, "mod_openssl", None),
    d("ssl.ca-crl-file", Str, "", Connection, "mod_openssl", None),
    d("ssl.read-ahead", Bool, "disable", Connection, "mod_openssl", None),
    d("ssl.disable-client-renegotiation", Bool, "", Connection, "mod_openssl", None),
    d("ssl.verifyclient.activate", Bool, "disable", Connection, "mod_openssl", None),
    d("ssl.verifyclient.enforce", Bool, "enable", Connection, "mod_openssl", None),
    d("ssl.verifyclient.depth", Short, "9", Connection, "mod_openssl", None),
    d("ssl.verifyclient.username", Str, "", Connection, "mod_openssl", None),
    d("ssl.verifyclient.exportcert", Bool, "disable", Connection, "mod_openssl", None),
    d("ssl.acme-tls-1", Str, "", Connection, "mod_openssl", None),
    d("ssl.stapling-file", Str, "", Connection, "mod_openssl", None),
    d("debug.log-ssl-noise", Bool, "disable", Connection, "mod_openssl", None),
    d("ssl.verifyclient.ca-file", Str, "", Connection, "mod_openssl", Some("ssl.ca-file")),
    d("ssl.verifyclient.ca-dn-file", Str, "", Connection, "mod_openssl", Some("ssl.ca-dn-file")),
    d("ssl.verifyclient.ca-crl-file", Str, "", Connection, "mod_openssl", Some("ssl.ca-crl-file")),
    d("index-file.names", List, "", Connection, "mod_indexfile", None),
    d("server.indexfiles", List, "", Connection, "mod_indexfile", Some("index-file.names")),
    d("magnet.attract-raw-url-to", List, "", Connection, "mod_magnet", None),
    d("magnet.attract-physical-path-to", List, "", Connection, "mod_magnet", None),
    d("magnet.attract-response-start-to", List, "", Connection, "mod_magnet", None),
    d("maxminddb.activate", Bool, "disable", Connection, "mod_maxminddb", None),
    d("maxminddb.db", Str, "", Connection, "mod_maxminddb", None),
    d("maxminddb.env", KvString, "", Connection, "mod_maxminddb", None),
    d("proxy.server", KvArray, "", Connection, "mod_proxy", None),
    d("proxy.balance", Str, "fair", Connection, "mod_proxy", None),
    d("proxy.debug", Int, "0", Connection, "mod_proxy", None),
    d("proxy.map-extensions", KvString, "", Connection, "mod_proxy", None),
    d("proxy.forwarded", KvAny, "", Connection, "mod_proxy", None),
    d("proxy.header", KvAny, "", Connection, "mod_proxy", None),
    d("proxy.replace-http-host", Bool, "disable", Connection, "mod_proxy", None),
    d("url.redirect", KvString, "", Connection, "mod_redirect", None),
    d("url.redirect-code", Short, "301", Connection, "mod_redirect", None),
    d("url.rewrite-once", KvString, "", Connection, "mod_rewrite", None),
    d("url.rewrite-final", KvString, "", Connection, "mod_rewrite", Some("url.rewrite-once")),
    d("url.rewrite", KvString, "", Connection, "mod_rewrite", Some("url.rewrite-once")),
    d("url.rewrite-repeat", KvString, "", Connection, "mod_rewrite", None),
    d("url.rewrite-if-not-file", KvString, "", Connection, "mod_rewrite", None),
    d("url.rewrite-repeat-if-not-file", KvString, "", Connection, "mod_rewrite", None),
    d("rrdtool.db-name", Str, "", Connection, "mod_rrdtool", None),
    d("rrdtool.binary", Str, "", Server, "mod_rrdtool", None),
    d("scgi.server", KvArray, "", Connection, "mod_scgi", None),
    d("scgi.balance", Str, "fair", Connection, "mod_scgi", None),
    d("scgi.debug", Int, "0", Connection, "mod_scgi", None),
    d("scgi.map-extensions", KvString, "", Connection, "mod_scgi", None),
    d("scgi.protocol", Str, "scgi", Connection, "mod_scgi", None),
    d("setenv.add-request-header", KvString, "", Connection, "mod_setenv", None),
    d("setenv.add-response-header", KvString, "", Connection, "mod_setenv", None),
    d("setenv.add-environment", KvString, "", Connection, "mod_setenv", None),
    d("setenv.set-request-header", KvString, "", Connection, "mod_setenv", None),
    d("setenv.set-response-header", KvString, "", Connection, "mod_setenv", None),
    d("setenv.set-environment", KvString, "", Connection, "mod_setenv", None),
    d("simple-vhost.server-root", Str, "", Connection, "mod_simple_vhost", None),
    d("simple-vhost.default-host", Str, "", Connection, "mod_simple_vhost", None),
    d("simple-vhost.document-root", Str, "", Connection, "mod_simple_vhost", None),
    d("simple-vhost.debug", Short, "0", Connection, "mod_simple_vhost", None),
    d("sockproxy.server", KvArray, "", Connection, "mod_sockproxy", None),
    d("sockproxy.balance", Str, "fair", Connection, "mod_sockproxy", None),
    d("sockproxy.debug", Int, "0", Connection, "mod_sockproxy", None),
    d("ssi.extension", List, "()", Connection, "mod_ssi", None),
    d("ssi.content-type", Str, "text/html", Connection, "mod_ssi", None),
    d("ssi.conditional-requests", Bool, "disable", Connection, "mod_ssi", None),
    d("ssi.exec", Bool, "enable", Connection, "mod_ssi", None),
    d("ssi.recursion-max", Short, "0", Connection, "mod_ssi", None),
    d("static-file.exclude-extensions", List, "()", Connection, "mod_staticfile", None),
    d("static-file.etags", Bool, "enable", Connection, "mod_staticfile", None),
    d("static-file.disable-pathinfo", Bool, "disable", Connection, "mod_staticfile", None),
    d("status.status-url", Str, "", Connection, "mod_status", None),
    d("status.config-url", Str, "", Connection, "mod_status", None),
    d("status.statistics-url", Str, "", Connection, "mod_status", None),
    d("status.enable-sort", Bool, "enable", Connection, "mod_status", None),
    d("userdir.path", Str, "", Connection, "mod_userdir", None),
    d("userdir.exclude-user", List, "", Connection, "mod_userdir", None),
    d("userdir.include-user", List, "", Connection, "mod_userdir", None),
    d("userdir.basepath", Str, "", Connection, "mod_userdir", None),
    d("userdir.letterhomes", Bool, "disable", Connection, "mod_userdir", None),
    d("userdir.active", Bool, "enable", Connection, "mod_userdir", None),
    d("vhostdb.backend", Str, "", Connection, "mod_vhostdb", None),
    d("vhostdb.cache", Array, "", Connection, "mod_vhostdb", None),
    d("vhostdb.dbi", KvAny, "", Connection, "mod_vhostdb_dbi", None),
    d("vhostdb.ldap", KvString, "", Connection, "mod_vhostdb_ldap", None),
    d("vhostdb.mysql", KvString, "", Connection, "mod_vhostdb_mysql", None),
    d("vhostdb.pgsql", KvString, "", Connection, "mod_vhostdb_pgsql", None),
    d("webdav.sqlite-db-name", Str, "", Connection, "mod_webdav", None),
    d("webdav.activate", Bool, "disable", Connection, "mod_webdav", None),
    d("webdav.is-readonly", Bool, "disable", Connection, "mod_webdav", None),
    d("webdav.log-xml", Bool, "disable", Connection, "mod_webdav", None),
    d("webdav.opts", KvAny, "", Connection, "mod_webdav", None),
    d("wstunnel.server", KvArray, "", Connection, "mod_wstunnel", None),
    d("wstunnel.balance", Str, "fair", Connection, "mod_wstunnel", None),
    d("wstunnel.debug", Int, "0", Connection, "mod_wstunnel", None),
    d("wstunnel.map-extensions", KvString, "", Connection, "mod_wstunnel", None),
    d("wstunnel.frame-type", Str, "text", Connection, "mod_wstunnel", None),
    d("wstunnel.origins", List, "", Connection, "mod_wstunnel", None),
    d("wstunnel.ping-interval", Short, "0", Connection, "mod_wstunnel", None),
    d("server.listen-backlog", Int, "1024", Socket, "core", None),
    d("server.socket-perms", Str, "", Socket, "core", None),
    d("server.bsd-accept-filter", Str, "", Socket, "core", None),
    d("server.defer-accept", Bool, "disable", Socket, "core", None),
    d("server.use-ipv6", Bool, "disable", Socket, "core", None),
    d("server.set-v6only", Bool, "enable", Socket, "core", None),
    d("server.v4mapped", Bool, "", Socket, "core", None),
];

/// Every module name lighttpd 1.4.69 can load (`server.modules` entries).
pub static MODULES: &[&str] = &[
    "mod_access",
    "mod_accesslog",
    "mod_ajp13",
    "mod_alias",
    "mod_auth",
    "mod_authn_dbi",
    "mod_authn_file",
    "mod_authn_gssapi",
    "mod_authn_ldap",
    "mod_authn_pam",
    "mod_authn_sasl",
    "mod_cgi",
    "mod_deflate",
    "mod_dirlisting",
    "mod_evhost",
    "mod_expire",
    "mod_extforward",
    "mod_fastcgi",
    "mod_gnutls",
    "mod_indexfile",
    "mod_magnet",
    "mod_maxminddb",
    "mod_mbedtls",
    "mod_nss",
    "mod_openssl",
    "mod_proxy",
    "mod_redirect",
    "mod_rewrite",
    "mod_rrdtool",
    "mod_scgi",
    "mod_setenv",
    "mod_simple_vhost",
    "mod_sockproxy",
    "mod_ssi",
    "mod_staticfile",
    "mod_status",
    "mod_userdir",
    "mod_vhostdb",
    "mod_vhostdb_dbi",
    "mod_vhostdb_ldap",
    "mod_vhostdb_mysql",
    "mod_vhostdb_pgsql",
    "mod_webdav",
    "mod_wolfssl",
    "mod_wstunnel",
];

/// Modules of older lighttpd releases that 1.4.69 no longer has, with the
/// prefix of their keys (for help texts).
pub static REMOVED_MODULES: &[(&str, &str)] = &[
    ("mod_secdownload", "secdownload."),
    ("mod_evasive", "evasive."),
    ("mod_uploadprogress", "upload-progress."),
    ("mod_usertrack", "usertrack."),
    ("mod_trigger_b4_dl", "trigger-before-download."),
    ("mod_geoip", "geoip."),
    ("mod_cml", "cml."),
    ("mod_mysql_vhost", "mysql-vhost."),
    ("mod_flv_streaming", "flv-streaming."),
];

/// The removed module a key belonged to, if any.
pub fn removed_module_of_key(key: &str) -> Option<&'static str> {
    REMOVED_MODULES
        .iter()
        .find(|(_, prefix)| key.starts_with(prefix))
        .map(|(m, _)| *m)
}

/// The TLS modules; any of them knows the `ssl.*` keys.
pub static TLS_MODULES: &[&str] = &[
    "mod_openssl",
    "mod_gnutls",
    "mod_mbedtls",
    "mod_nss",
    "mod_wolfssl",
];

/// The directive named `key`, ASCII case-insensitively.
pub fn lookup(key: &str) -> Option<DirectiveInfo> {
    DIRECTIVES.find(|name| name.eq_ignore_ascii_case(key))
}

/// Is `name` a module lighttpd 1.4.69 can load?
pub fn is_module(name: &str) -> bool {
    MODULES.contains(&name)
}

/// Whether a directive owned by `module` is read when `loaded` modules run.
pub fn owner_loaded(module: &str, loaded: &[String]) -> bool {
    if module == "core" {
        return true;
    }
    if module == "mod_openssl" {
        return loaded.iter().any(|m| TLS_MODULES.contains(&m.as_str()));
    }
    loaded.iter().any(|m| m == module)
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `candidates` to `word`, if it is close enough to be a
/// plausible typo (distance ≤ 1/3 of the length, at most 3).
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lc = word.to_ascii_lowercase();
    let limit = (word.len() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word_lc, &c.to_ascii_lowercase()), c))
        .filter(|(dist, _)| *dist <= limit)
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, c)| c)
}

/// The closest known directive name to a misspelled `key`.
pub fn suggest_key(key: &str) -> Option<&'static str> {
    suggest(key, DIRECTIVES.iter().map(|d| d.name))
}

/// The closest known module name to a misspelled `name`.
pub fn suggest_module(name: &str) -> Option<&'static str> {
    suggest(name, MODULES.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        let d = lookup("Server.Document-Root").expect("known");
        assert_eq!(d.name, "server.document-root");
        assert_eq!(d.ty, ValueType::Str);
        assert_eq!(d.scope, Scope::Connection);
        assert!(lookup("server.nonsense").is_none());
    }

    #[test]
    fn table_has_core_and_module_keys_with_lighttpd_types() {
        let t = |k: &str| lookup(k).map(|d| (d.ty, d.scope, d.module));
        assert_eq!(t("server.port"), Some((Short, Server, "core")));
        assert_eq!(
            t("server.max-request-field-size"),
            Some((Int, Server, "core"))
        );
        assert_eq!(t("server.use-ipv6"), Some((Bool, Socket, "core")));
        assert_eq!(t("ssl.engine"), Some((Bool, Socket, "core")));
        assert_eq!(t("ssl.pemfile"), Some((Str, Connection, "mod_openssl")));
        assert_eq!(t("ssl.stek-file"), Some((Str, Server, "mod_openssl")));
        assert_eq!(
            t("url.rewrite-if-not-file"),
            Some((KvString, Connection, "mod_rewrite"))
        );
        assert_eq!(
            t("fastcgi.server"),
            Some((KvArray, Connection, "mod_fastcgi"))
        );
        assert_eq!(t("rrdtool.binary"), Some((Str, Server, "mod_rrdtool")));
        assert_eq!(t("auth.cache"), Some((Array, Connection, "mod_auth")));
        assert_eq!(t("cgi.limits"), Some((KvAny, Connection, "mod_cgi")));
        assert_eq!(
            t("index-file.names"),
            Some((List, Connection, "mod_indexfile"))
        );
        assert!(
            lookup("host").is_none(),
            "backend host keys are not directives"
        );
        assert!(lookup("skeleton.array").is_none());
    }

    #[test]
    fn names_are_unique_and_aliases_resolve() {
        for (i, a) in DIRECTIVES.iter().enumerate() {
            for b in DIRECTIVES.iter().skip(i + 1) {
                assert!(!a.name.eq_ignore_ascii_case(b.name), "duplicate {}", a.name);
            }
            if let Some(target) = a.alias_of {
                assert!(lookup(target).is_some(), "{} → {target}", a.name);
            }
            assert!(a.module == "core" || is_module(a.module), "{}", a.module);
        }
        assert!(DIRECTIVES.iter().eq(LIST.iter().copied()));
        assert_eq!(
            lookup("url.rewrite").and_then(|d| d.alias_of),
            Some("url.rewrite-once")
        );
        assert_eq!(
            lookup("server.indexfiles").and_then(|d| d.alias_of),
            Some("index-file.names")
        );
    }

    #[test]
    fn modules_list_has_1_4_69_modules_only() {
        assert!(is_module("mod_rewrite") && is_module("mod_openssl") && is_module("mod_wstunnel"));
        assert!(!is_module("mod_secdownload"), "removed in 1.4.68");
        assert!(
            !is_module("mod_compress"),
            "renamed to mod_deflate by module_list"
        );
        assert!(!is_module("mod_skeleton"));
    }

    #[test]
    fn owner_loaded_knows_tls_alternatives() {
        let loaded = vec!["mod_gnutls".to_string()];
        assert!(owner_loaded("mod_openssl", &loaded));
        assert!(owner_loaded("core", &loaded));
        assert!(!owner_loaded("mod_rewrite", &loaded));
    }

    #[test]
    fn suggestions_find_typos_only() {
        assert_eq!(
            suggest_key("server.documentroot"),
            Some("server.document-root")
        );
        assert_eq!(suggest_key("server.prot"), Some("server.port"));
        assert_eq!(suggest_key("completely.different"), None);
        assert_eq!(suggest_module("mod_rewrit"), Some("mod_rewrite"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
