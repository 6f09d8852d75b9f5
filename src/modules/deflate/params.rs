//! `deflate.params` (lighttpd src/mod_deflate.c `mod_deflate_parse_params`):
//! per-encoder tuning that, when set, replaces what
//! `deflate.compression-level` would choose. Keys are compared
//! case-insensitively; a value out of range is logged ("invalid value for
//! KEY") and the default kept; an unknown key is logged ("unrecognized
//! param: KEY"). zlib's `gzip.memLevel` and `gzip.strategy` are checked but
//! not applied (the zlib binding used here does not expose them).

use crate::config::value::{Array, Value};

/// Encoder settings from `deflate.params`, with lighttpd's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// zlib level 1..9; None = zlib's default.
    pub gzip_level: Option<u32>,
    pub gzip_window_bits: u8,
    pub gzip_mem_level: u8,
    pub gzip_strategy: u8,
    pub brotli_quality: u32,
    pub brotli_window: u32,
    /// 0 generic (then chosen by Content-Type), 1 text, 2 font.
    pub brotli_mode: u32,
    pub zstd_level: i32,
    /// 0 = zstd's default.
    pub zstd_strategy: u32,
    /// 0 = zstd's default.
    pub zstd_window_log: u32,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            gzip_level: None,
            gzip_window_bits: 15,
            gzip_mem_level: 8,
            gzip_strategy: 0,
            brotli_quality: 5,
            brotli_window: 22,
            brotli_mode: 0,
            zstd_level: 3,
            zstd_strategy: 0,
            zstd_window_log: 0,
        }
    }
}

/// lighttpd `config_plugin_value_to_int32(du, -1)`.
fn int_value(v: &Value) -> i64 {
    match v {
        Value::Int(i) => i64::from(*i),
        Value::Str(s) => s.trim().parse().unwrap_or(-1),
        _ => -1,
    }
}

/// Parse the array; the returned messages are lighttpd's log lines.
pub fn parse(arr: &Array) -> (Params, Vec<String>) {
    let mut p = Params::default();
    let mut log = Vec::new();
    for (key, value) in &arr.items {
        let Some(key) = key.as_deref() else { continue };
        let v = int_value(value);
        let within = |lo: i64, hi: i64| (lo..=hi).contains(&v);
        let ok = match key.to_ascii_lowercase().as_str() {
            "brotli_param_quality" => set(&mut p.brotli_quality, within(0, 11), v),
            "brotli_param_lgwin" => set(&mut p.brotli_window, within(10, 24), v),
            "brotli_param_mode" => set(&mut p.brotli_mode, within(0, 2), v),
            "zstd_c_compressionlevel" => {
                p.zstd_level = v as i32;
                true
            }
            "zstd_c_strategy" => set(&mut p.zstd_strategy, within(1, 9), v),
            "zstd_c_windowlog" => set(&mut p.zstd_window_log, within(10, 31), v),
            "gzip.level" => {
                let ok = within(1, 9);
                if ok {
                    p.gzip_level = Some(v as u32);
                }
                ok
            }
            "gzip.windowbits" => set(&mut p.gzip_window_bits, within(9, 15), v),
            "gzip.memlevel" => set(&mut p.gzip_mem_level, within(1, 9), v),
            "gzip.strategy" => set(&mut p.gzip_strategy, within(0, 4), v),
            _ => {
                log.push(format!("unrecognized param: {key}"));
                continue;
            }
        };
        if !ok {
            log.push(format!("invalid value for {key}"));
        }
    }
    (p, log)
}

fn set<T: TryFrom<i64>>(field: &mut T, ok: bool, v: i64) -> bool {
    if ok {
        if let Ok(x) = T::try_from(v) {
            *field = x;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(items: &[(&str, Value)]) -> Array {
        Array {
            items: items
                .iter()
                .map(|(k, v)| (Some(k.to_string()), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn values_ranges_and_unknown_keys() {
        let (p, log) = parse(&arr(&[
            ("BROTLI_PARAM_QUALITY", Value::Int(9)),
            ("brotli_param_lgwin", Value::Str("18".into())),
            ("ZSTD_c_compressionLevel", Value::Int(19)),
            ("gzip.level", Value::Int(12)),
            ("gzip.windowBits", Value::Int(10)),
            ("zstd_c_strategy", Value::Int(0)),
            ("bogus", Value::Int(1)),
        ]));
        assert_eq!(p.brotli_quality, 9);
        assert_eq!(p.brotli_window, 18);
        assert_eq!(p.zstd_level, 19);
        assert_eq!(p.gzip_level, None);
        assert_eq!(p.gzip_window_bits, 10);
        assert_eq!(p.zstd_strategy, 0);
        assert_eq!(
            log,
            [
                "invalid value for gzip.level",
                "invalid value for zstd_c_strategy",
                "unrecognized param: bogus"
            ]
        );
        assert_eq!(parse(&arr(&[])).0, Params::default());
    }
}
