//! Core (`server.*`) configuration types shared by the registry and the HTTP layer.
//!
//! For now this holds [`ParseOpts`], the typed form of `server.http-parseopts`
//! (lighttpd src/configfile.c `config_http_parseopts`, defaults in `config_init`).

/// One flag per `server.http-parseopts` key (`-` written `_`).
///
/// `Default` gives lighttpd 1.4.69's effective defaults. `host_strict` implies
/// `host_normalize` at request time, as in lighttpd (configfile.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOpts {
    pub header_strict: bool,
    pub host_strict: bool,
    pub host_normalize: bool,
    pub method_get_body: bool,
    pub url_normalize: bool,
    pub url_normalize_unreserved: bool,
    pub url_normalize_required: bool,
    pub url_ctrls_reject: bool,
    pub url_path_backslash_trans: bool,
    pub url_path_2f_decode: bool,
    pub url_path_2f_reject: bool,
    pub url_path_dotseg_remove: bool,
    pub url_path_dotseg_reject: bool,
    pub url_query_20_plus: bool,
    pub url_invalid_utf8_reject: bool,
}

impl Default for ParseOpts {
    fn default() -> Self {
        ParseOpts {
            header_strict: true,
            host_strict: true,
            host_normalize: false,
            method_get_body: false,
            url_normalize: true,
            url_normalize_unreserved: true,
            url_normalize_required: false,
            url_ctrls_reject: true,
            url_path_backslash_trans: false,
            url_path_2f_decode: true,
            url_path_2f_reject: false,
            url_path_dotseg_remove: true,
            url_path_dotseg_reject: false,
            url_query_20_plus: false,
            url_invalid_utf8_reject: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_lighttpd_config_init() {
        let o = ParseOpts::default();
        assert!(o.header_strict && o.host_strict && !o.host_normalize);
        assert!(o.url_normalize && o.url_normalize_unreserved && o.url_ctrls_reject);
        assert!(o.url_path_2f_decode && o.url_path_dotseg_remove && o.url_invalid_utf8_reject);
        assert!(!o.url_path_2f_reject && !o.url_path_dotseg_reject && !o.url_query_20_plus);
        assert!(!o.method_get_body && !o.url_normalize_required && !o.url_path_backslash_trans);
    }
}
