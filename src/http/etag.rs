//! ETag creation and matching (lighttpd src/http_etag.c): the tag is
//! `"<decimal u32>"`, a DEK hash over the chosen stat fields laid out as
//! native-endian u64 words (inode, size, mtime seconds, mtime nanoseconds).

/// Which stat fields go into the ETag (`etag.use-inode`, `etag.use-size`,
/// `etag.use-mtime`); all off means no ETag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtagFlags {
    pub inode: bool,
    pub size: bool,
    pub mtime: bool,
}

impl Default for EtagFlags {
    fn default() -> Self {
        EtagFlags {
            inode: true,
            size: true,
            mtime: true,
        }
    }
}

impl EtagFlags {
    pub fn any(&self) -> bool {
        self.inode || self.size || self.mtime
    }
}

/// The ETag for a file, without nanoseconds (see [`make_etag_ns`]).
pub fn make_etag(ino: u64, size: u64, mtime_secs: i64, flags: EtagFlags) -> String {
    make_etag_ns(ino, size, mtime_secs, 0, flags)
}

/// The ETag lighttpd sends for a file with these stat fields (`st_mtim.tv_nsec`
/// included, as on Linux); "" when every flag is off.
pub fn make_etag_ns(
    ino: u64,
    size: u64,
    mtime_secs: i64,
    mtime_nsec: i64,
    flags: EtagFlags,
) -> String {
    let mut words = Vec::with_capacity(4);
    if flags.inode {
        words.push(ino);
    }
    if flags.size {
        words.push(size);
    }
    if flags.mtime {
        words.push(mtime_secs as u64);
        words.push(mtime_nsec as u64);
    }
    if words.is_empty() {
        return String::new();
    }
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    format!("\"{}\"", dekhash(&bytes, bytes.len() as u32))
}

/// lighttpd algo_md.h `dekhash`, seeded with the input length.
fn dekhash(s: &[u8], seed: u32) -> u32 {
    s.iter()
        .fold(seed, |h, &c| (h << 5) ^ (h >> 27) ^ u32::from(c))
}

/// Does an `If-None-Match` (or `If-Match`) value match `etag`? `*` alone
/// matches anything; list items may be `W/`-prefixed, which (like a weak
/// `etag`) only counts when `weak_ok` (false for Range requests).
pub fn etag_matches(if_none_match: &str, etag: &str, weak_ok: bool) -> bool {
    if if_none_match == "*" {
        return true;
    }
    if etag.is_empty() {
        return false;
    }
    let etag = match etag.strip_prefix("W/") {
        Some(_) if !weak_ok => return false,
        Some(strong) => strong,
        None => etag,
    };
    let mut s = if_none_match.as_bytes();
    let boundary = |r: &[u8]| matches!(r.first(), None | Some(b' ' | b'\t' | b','));
    loop {
        while let Some(b' ' | b'\t' | b',') = s.first() {
            s = &s[1..];
        }
        if s.is_empty() {
            return false;
        }
        let (item, usable) = match s.strip_prefix(b"W/") {
            Some(rest) => (rest, weak_ok),
            None => (s, true),
        };
        if usable {
            if let Some(rest) = item.strip_prefix(etag.as_bytes()) {
                if boundary(rest) {
                    return true;
                }
            } else if let Some(rest) = item.strip_prefix(b"*") {
                if boundary(rest) {
                    return true;
                }
            }
        }
        s = &item[item.iter().position(|&c| c == b',').unwrap_or(item.len())..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_format_and_flags() {
        let e = make_etag_ns(1234, 6, 1_700_000_000, 5, EtagFlags::default());
        assert!(e.starts_with('"') && e.ends_with('"'));
        assert!(e[1..e.len() - 1].parse::<u32>().is_ok());
        assert_ne!(
            e,
            make_etag_ns(1234, 7, 1_700_000_000, 5, EtagFlags::default())
        );
        let no_size = EtagFlags {
            size: false,
            ..EtagFlags::default()
        };
        assert_eq!(
            make_etag_ns(1234, 6, 9, 5, no_size),
            make_etag_ns(1234, 7, 9, 5, no_size)
        );
        let none = EtagFlags {
            inode: false,
            size: false,
            mtime: false,
        };
        assert!(!none.any());
        assert_eq!(make_etag(1, 2, 3, none), "");
        assert_eq!(dekhash(b"", 0), 0);
        assert_eq!(dekhash(b"\x01", 1), (1 << 5) ^ 1);
    }

    #[test]
    fn same_value_as_lighttpd() {
        // recorded: lighttpd 1.4.69 served a file with ino 10010798, size 6,
        // mtime 1795639962.108923564 with ETag "2372192207"
        let e = make_etag_ns(
            10_010_798,
            6,
            1_795_639_962,
            108_923_564,
            EtagFlags::default(),
        );
        assert_eq!(e, "\"2372192207\"");
    }

    #[test]
    fn matching_rules() {
        let e = "\"123\"";
        assert!(etag_matches("*", e, true));
        assert!(etag_matches("*", "", true));
        assert!(etag_matches("\"123\"", e, true));
        assert!(etag_matches("\"1\", \"123\"", e, false));
        assert!(etag_matches("W/\"123\"", e, true));
        assert!(!etag_matches("W/\"123\"", e, false));
        assert!(!etag_matches("\"1234\"", e, true));
        assert!(!etag_matches("\"12\"", e, true));
        assert!(!etag_matches("\"123\"", "", true));
        assert!(etag_matches("\"123\"", "W/\"123\"", true));
        assert!(!etag_matches("\"123\"", "W/\"123\"", false));
        assert!(etag_matches("\"x\", *", e, true));
        assert!(etag_matches("\"123\" ", e, true));
        assert!(!etag_matches("\"123\"x", e, true));
        assert!(etag_matches("\"a,b\"", "\"a,b\"", true));
    }
}
