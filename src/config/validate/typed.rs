//! Typed getters: read a directive's value as lighttpd's
//! `config_plugin_values_init_block` does (configfile-glue.c), with its
//! exact error texts. Modules use these to build their `Conf`.

use crate::config::directive::{DirectiveInfo, ValueType};
use crate::config::value::{Array, Value};

/// lighttpd's internal type number, printed in "unexpected type" errors.
fn type_number(v: &Value) -> u8 {
    match v {
        Value::Str(_) => 0,
        Value::Array(_) => 1,
        Value::Int(_) => 2,
    }
}

/// `strtol(s, &e, 10)` accepted as a whole: leading whitespace, a sign,
/// digits, nothing after. Saturates like strtol.
fn parse_c_long(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: i64 = 0;
    for b in digits.bytes() {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Some(if neg { -n } else { n })
}

/// A string directive.
pub fn get_str<'a>(key: &str, v: &'a Value) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{key} should have been a string like ... = \"...\""))
}

/// A short (0..65535) directive; integers are truncated mod 65536.
pub fn get_short(key: &str, v: &Value) -> Result<u16, String> {
    match v {
        Value::Int(i) => Ok(*i as u16),
        Value::Str(s) => match parse_c_long(s) {
            Some(l) if (0..=65535).contains(&l) && !s.is_empty() => Ok(l as u16),
            _ => Err(format!("got a string but expected a short: {key} {s}")),
        },
        Value::Array(_) => Err(format!(
            "unexpected type for key: {key} {} expected a short integer, range 0 ... 65535",
            type_number(v)
        )),
    }
}

/// An unsigned 32-bit directive.
pub fn get_int(key: &str, v: &Value) -> Result<u32, String> {
    match v {
        Value::Int(i) => Ok(*i as u32),
        Value::Str(s) => match parse_c_long(s) {
            Some(l) if l >= 0 => Ok(l as u32),
            _ => Err(format!("got a string but expected an integer: {key} {s}")),
        },
        Value::Array(_) => Err(format!(
            "unexpected type for key: {key} {} expected an integer, range 0 ... 4294967295",
            type_number(v)
        )),
    }
}

/// A boolean directive (`enable`/`disable`/… or an integer).
pub fn get_bool(key: &str, v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| {
        format!("ERROR: unexpected type for key: {key} (string) \"(enable|disable)\"")
    })
}

/// lighttpd `config_plugin_value_tobool`, for booleans inside module
/// option lists: `enable`/`enabled`/`true`/`1` and `disable`/`disabled`/
/// `false`/`0` (any case), or an integer; None for anything else.
pub fn value_tobool(v: &Value) -> Option<bool> {
    match v {
        Value::Int(i) => Some(*i != 0),
        Value::Str(s) => {
            let is = |words: [&str; 4]| words.iter().any(|w| s.eq_ignore_ascii_case(w));
            if is(["enable", "enabled", "true", "1"]) {
                Some(true)
            } else if is(["disable", "disabled", "false", "0"]) {
                Some(false)
            } else {
                None
            }
        }
        Value::Array(_) => None,
    }
}

/// Any array.
pub fn get_array<'a>(key: &str, v: &'a Value) -> Result<&'a Array, String> {
    v.as_array()
        .ok_or_else(|| format!("{key} should have been a list like {key} = ( \"...\" )"))
}

/// A list of unkeyed strings.
pub fn get_list(key: &str, v: &Value) -> Result<Vec<String>, String> {
    let arr = get_array(key, v)?;
    arr.items
        .iter()
        .map(|(k, v)| match (k, v) {
            (None, Value::Str(s)) => Some(s.clone()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            format!(
                "{key} should have been a list of string values like {key} = ( \"...\", \"...\" )"
            )
        })
}

/// A list of `key => string`.
pub fn get_kvstring(key: &str, v: &Value) -> Result<Vec<(String, String)>, String> {
    let arr = get_array(key, v)?;
    arr.items
        .iter()
        .map(|(k, v)| match (k, v) {
            (Some(k), Value::Str(s)) => Some((k.clone(), s.clone())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            format!(
                "{key} should have been a list of key => string values like {key} = ( \"...\" => \"...\", \"...\" => \"...\" )"
            )
        })
}

/// A list of `key => anything`.
pub fn get_kvany<'a>(key: &str, v: &'a Value) -> Result<&'a Array, String> {
    let arr = get_array(key, v)?;
    if arr.items.iter().all(|(k, _)| k.is_some()) {
        Ok(arr)
    } else {
        Err(format!(
            "{key} should have been a list of key => values like {key} = ( \"...\" => \"...\", \"...\" => \"...\" )"
        ))
    }
}

/// A list of `key => list`.
pub fn get_kvarray<'a>(key: &str, v: &'a Value) -> Result<&'a Array, String> {
    let arr = get_array(key, v)?;
    if arr
        .items
        .iter()
        .all(|(k, v)| k.is_some() && matches!(v, Value::Array(_)))
    {
        Ok(arr)
    } else {
        Err(format!(
            "{key} should have been a list of key => list like {key} = ( \"...\" => ( \"...\" => \"...\" ) )"
        ))
    }
}

/// Check a value against a directive's type; the error is lighttpd's text.
pub fn check_type(info: &DirectiveInfo, v: &Value) -> Result<(), String> {
    let key = info.name;
    match info.ty {
        ValueType::Str => get_str(key, v).map(drop),
        ValueType::Short => get_short(key, v).map(drop),
        ValueType::Int => get_int(key, v).map(drop),
        ValueType::Bool => get_bool(key, v).map(drop),
        ValueType::List => get_list(key, v).map(drop),
        ValueType::KvString => get_kvstring(key, v).map(drop),
        ValueType::KvAny => get_kvany(key, v).map(drop),
        ValueType::KvArray => get_kvarray(key, v).map(drop),
        ValueType::Array => get_array(key, v).map(drop),
    }
}
