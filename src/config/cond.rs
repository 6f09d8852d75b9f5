//! Conditions of `$HTTP[...]`, `$SERVER[...]`, `$REQUEST_HEADER[...]`,
//! `$PHYSICAL[...]` blocks: field, operator and the compiled right side.
//!
//! Patterns are compiled once, at config load: literals, regexes (`regex`,
//! falling back to `fancy-regex` for look-around/back-references), and
//! addresses with optional CIDR mask for `remoteip`.

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CondField {
    /// `$SERVER["socket"]`
    ServerSocket,
    /// `$HTTP["host"]`
    Host,
    /// `$HTTP["url"]`
    Url,
    /// `$HTTP["querystring"]` / `$HTTP["query-string"]`
    QueryString,
    /// `$HTTP["remoteip"]` / `$HTTP["remote-ip"]`
    RemoteIp,
    /// `$HTTP["scheme"]`
    Scheme,
    /// `$HTTP["request-method"]`
    RequestMethod,
    /// `$REQUEST_HEADER["Name"]`, and `$HTTP["referer"|"useragent"|"user-agent"|"language"|"cookie"]`
    /// which lighttpd rewrites to header lookups (name kept as written for printing).
    RequestHeader(String),
    /// `$PHYSICAL["path"]` (lighttpd 1.4.74+)
    PhysicalPath,
    /// `$PHYSICAL["existing-path"]` (lighttpd 1.4.74+)
    PhysicalExistingPath,
}

/// Condition operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CondOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Match,
    /// `!~`
    NoMatch,
    /// `=^`
    Prefix,
    /// `=$`
    Suffix,
    /// `!^` — only reachable as the negation of `=^` in an `else` (cannot be written).
    NotPrefix,
    /// `!$` — only reachable as the negation of `=$` in an `else`.
    NotSuffix,
}

impl CondOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CondOp::Eq => "==",
            CondOp::Ne => "!=",
            CondOp::Match => "=~",
            CondOp::NoMatch => "!~",
            CondOp::Prefix => "=^",
            CondOp::Suffix => "=$",
            CondOp::NotPrefix => "!^",
            CondOp::NotSuffix => "!$",
        }
    }

    /// The operator of an `else` branch's implied condition.
    pub fn negate(self) -> CondOp {
        match self {
            CondOp::Eq => CondOp::Ne,
            CondOp::Ne => CondOp::Eq,
            CondOp::Match => CondOp::NoMatch,
            CondOp::NoMatch => CondOp::Match,
            CondOp::Prefix => CondOp::NotPrefix,
            CondOp::NotPrefix => CondOp::Prefix,
            CondOp::Suffix => CondOp::NotSuffix,
            CondOp::NotSuffix => CondOp::Suffix,
        }
    }
}

/// One condition, as written (after lighttpd's regex simplification) and compiled.
#[derive(Debug, Clone)]
pub struct Condition {
    pub field: CondField,
    /// The left side as lighttpd prints it, e.g. `$HTTP["url"]`.
    pub field_text: String,
    pub op: CondOp,
    /// The right side as `-p` prints it.
    pub value: String,
    /// The right side compiled for matching.
    pub pattern: Pattern,
}

/// A compiled right side.
#[derive(Debug, Clone)]
pub enum Pattern {
    Literal(String),
}
