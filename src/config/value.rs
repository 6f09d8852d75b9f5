//! Config values as lighttpd's parser produces them: strings, 32-bit
//! integers and ordered arrays whose elements may carry keys.
//!
//! There is no boolean type; directives interpret strings and integers
//! (see [`Value::as_bool`]).

/// A parsed config value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Int(i32),
    Array(Array),
}

/// An ordered array; each element may have a key (`"k" => v`).
/// Keys are unique ASCII-case-insensitively within one array.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Array {
    pub items: Vec<(Option<String>, Value)>,
}

impl Array {
    /// Look up a keyed element, ASCII case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.items
            .iter()
            .find(|(k, _)| k.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(key)))
            .map(|(_, v)| v)
    }
}

impl Value {
    /// Name of the type, as lighttpd prints it in type errors.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "integer",
            Value::Array(_) => "array",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// lighttpd's boolean reading: `enable`/`enabled`/`true`/`1` and
    /// `disable`/`disabled`/`false`/`0` (case-insensitive), or an integer.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Int(i) => Some(*i != 0),
            Value::Str(s) => {
                let s = s.to_ascii_lowercase();
                match s.as_str() {
                    "enable" | "enabled" | "true" | "1" => Some(true),
                    "disable" | "disabled" | "false" | "0" => Some(false),
                    _ => None,
                }
            }
            Value::Array(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_follow_lighttpd() {
        assert_eq!(Value::Str("Enable".into()).as_bool(), Some(true));
        assert_eq!(Value::Str("disabled".into()).as_bool(), Some(false));
        assert_eq!(Value::Str("yes".into()).as_bool(), None);
        assert_eq!(Value::Int(5).as_bool(), Some(true));
    }
}
