//! HTTP request methods known to lighttpd 1.4.69 (lighttpd src/http_kv.c
//! `http_methods[]`). Method names are case-sensitive; anything else is
//! [`Method::Other`] and the head parser answers it with 501.

/// A request method. Order follows lighttpd's table, so `GET < HEAD < QUERY <
/// POST` comparisons in [`Method::is_get_or_head`] and friends mirror its macros.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Query,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Acl,
    BaselineControl,
    Bind,
    Checkin,
    Checkout,
    Copy,
    Label,
    Link,
    Lock,
    Merge,
    Mkactivity,
    Mkcalendar,
    Mkcol,
    Mkredirectref,
    Mkworkspace,
    Move,
    Orderpatch,
    Patch,
    Propfind,
    Proppatch,
    Rebind,
    Report,
    Search,
    Unbind,
    Uncheckout,
    Unlink,
    Unlock,
    Update,
    Updateredirectref,
    VersionControl,
    /// The HTTP/2 preface method; lighttpd answers it with 501 on HTTP/1.
    Pri,
    /// A method lighttpd does not know (501).
    Other(String),
}

/// Every known method with its wire name, in lighttpd's order.
const KNOWN: [(Method, &str); 40] = [
    (Method::Get, "GET"),
    (Method::Head, "HEAD"),
    (Method::Query, "QUERY"),
    (Method::Post, "POST"),
    (Method::Put, "PUT"),
    (Method::Delete, "DELETE"),
    (Method::Connect, "CONNECT"),
    (Method::Options, "OPTIONS"),
    (Method::Trace, "TRACE"),
    (Method::Acl, "ACL"),
    (Method::BaselineControl, "BASELINE-CONTROL"),
    (Method::Bind, "BIND"),
    (Method::Checkin, "CHECKIN"),
    (Method::Checkout, "CHECKOUT"),
    (Method::Copy, "COPY"),
    (Method::Label, "LABEL"),
    (Method::Link, "LINK"),
    (Method::Lock, "LOCK"),
    (Method::Merge, "MERGE"),
    (Method::Mkactivity, "MKACTIVITY"),
    (Method::Mkcalendar, "MKCALENDAR"),
    (Method::Mkcol, "MKCOL"),
    (Method::Mkredirectref, "MKREDIRECTREF"),
    (Method::Mkworkspace, "MKWORKSPACE"),
    (Method::Move, "MOVE"),
    (Method::Orderpatch, "ORDERPATCH"),
    (Method::Patch, "PATCH"),
    (Method::Propfind, "PROPFIND"),
    (Method::Proppatch, "PROPPATCH"),
    (Method::Rebind, "REBIND"),
    (Method::Report, "REPORT"),
    (Method::Search, "SEARCH"),
    (Method::Unbind, "UNBIND"),
    (Method::Uncheckout, "UNCHECKOUT"),
    (Method::Unlink, "UNLINK"),
    (Method::Unlock, "UNLOCK"),
    (Method::Update, "UPDATE"),
    (Method::Updateredirectref, "UPDATEREDIRECTREF"),
    (Method::VersionControl, "VERSION-CONTROL"),
    (Method::Pri, "PRI"),
];

impl Method {
    /// Case-sensitive lookup; unknown names become [`Method::Other`].
    pub fn from_bytes(name: &[u8]) -> Method {
        match name {
            b"GET" => return Method::Get,
            b"HEAD" => return Method::Head,
            b"POST" => return Method::Post,
            _ => {}
        }
        KNOWN
            .iter()
            .find(|(_, n)| n.as_bytes() == name)
            .map(|(m, _)| m.clone())
            .unwrap_or_else(|| Method::Other(String::from_utf8_lossy(name).into_owned()))
    }

    /// The method as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Other(s) => s,
            m => KNOWN
                .iter()
                .find(|(k, _)| k == m)
                .map(|(_, n)| *n)
                .unwrap_or(""),
        }
    }

    /// True for methods lighttpd accepts on an HTTP/1 request line (not PRI, not unknown).
    pub fn is_known(&self) -> bool {
        !matches!(self, Method::Pri | Method::Other(_))
    }

    /// lighttpd `http_method_get_or_head`.
    pub fn is_get_or_head(&self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }

    /// lighttpd `http_method_get_head_query`.
    pub fn is_get_head_query(&self) -> bool {
        matches!(self, Method::Get | Method::Head | Method::Query)
    }

    /// lighttpd `http_method_get_head_query_post`.
    pub fn is_get_head_query_post(&self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Query | Method::Post
        )
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_round_trip() {
        for (m, n) in KNOWN.iter() {
            assert_eq!(Method::from_bytes(n.as_bytes()), *m);
            assert_eq!(m.as_str(), *n);
        }
    }

    #[test]
    fn lookup_is_case_sensitive() {
        assert_eq!(Method::from_bytes(b"get"), Method::Other("get".into()));
        assert!(!Method::from_bytes(b"get").is_known());
        assert!(!Method::Pri.is_known());
        assert_eq!(Method::from_bytes(b"FOO").as_str(), "FOO");
    }

    #[test]
    fn method_classes() {
        assert!(Method::Head.is_get_or_head() && !Method::Query.is_get_or_head());
        assert!(Method::Query.is_get_head_query() && !Method::Post.is_get_head_query());
        assert!(Method::Post.is_get_head_query_post() && !Method::Put.is_get_head_query_post());
    }
}
