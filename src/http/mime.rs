//! Content-Type by file name from `mimetype.assign` (lighttpd
//! src/stat_cache.c `stat_cache_mimetype_by_ext`). Keys compare
//! case-insensitively. Under 16 entries: the first key that is a suffix of
//! the path, in config order. From 16 entries on: the basename, then each
//! `.ext2.ext1` chain from the longest (each also tried without its dot),
//! then the `""` catch-all. Those lists are indexed once per configuration
//! ([`MimeTypes`]) so a lookup costs a few hash probes, not a scan of
//! Debian's ~1500 entries per candidate.

use rustc_hash::FxHashMap;

/// Lists this long use the basename/extension-chain lookup.
const INDEXED_FROM: usize = 16;
/// Candidates up to this long are lowercased on the stack and looked up in
/// the index; longer ones (longer than any sane key) scan the list.
const KEY_BUF: usize = 64;

/// `mimetype.assign` compiled once per configuration: the entries in config
/// order and, from [`INDEXED_FROM`] entries on, a map from each lowercased
/// key to its first entry (the one a linear case-insensitive scan finds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MimeTypes {
    entries: Vec<(String, String)>,
    index: FxHashMap<Box<[u8]>, usize>,
    /// Length of the longest key: longer candidates cannot match.
    longest_key: usize,
}

impl MimeTypes {
    pub fn new(entries: Vec<(String, String)>) -> MimeTypes {
        let mut index = FxHashMap::default();
        if entries.len() >= INDEXED_FROM {
            for (i, (k, _)) in entries.iter().enumerate() {
                let key = k.to_ascii_lowercase().into_bytes().into_boxed_slice();
                index.entry(key).or_insert(i);
            }
        }
        let longest_key = entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        MimeTypes {
            entries,
            index,
            longest_key,
        }
    }

    /// The (suffix, Content-Type) pairs in config order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The value of the first entry whose key equals `key` ignoring ASCII
    /// case. Does not allocate.
    fn get(&self, key: &[u8]) -> Option<&str> {
        if key.len() > self.longest_key {
            return None;
        }
        let mut buf = [0u8; KEY_BUF];
        let i = match buf.get_mut(..key.len()) {
            Some(lower) => {
                lower.copy_from_slice(key);
                lower.make_ascii_lowercase();
                self.index.get(&*lower).copied()
            }
            None => self
                .entries
                .iter()
                .position(|(k, _)| k.as_bytes().eq_ignore_ascii_case(key)),
        }?;
        self.entries.get(i).map(|(_, v)| v.as_str())
    }
}

/// The Content-Type for `path` (a physical path or a plain name), or None
/// (the caller falls back to `application/octet-stream`).
pub fn lookup<'a>(path: &str, assign: &'a MimeTypes) -> Option<&'a str> {
    if assign.entries.len() < INDEXED_FROM {
        first_suffix_match(path, &assign.entries)
    } else {
        extension_walk(path, |key| assign.get(key))
    }
}

fn first_suffix_match<'a>(path: &str, assign: &'a [(String, String)]) -> Option<&'a str> {
    let p = path.as_bytes();
    assign
        .iter()
        .find(|(k, _)| {
            k.len() <= p.len() && p[p.len() - k.len()..].eq_ignore_ascii_case(k.as_bytes())
        })
        .map(|(_, v)| v.as_str())
}

/// lighttpd's order for long lists: the basename, then each `.ext2.ext1`
/// chain from the longest (each also without its dot), then `""`; the
/// first candidate `get` knows wins.
fn extension_walk<'a>(path: &str, get: impl Fn(&[u8]) -> Option<&'a str>) -> Option<&'a str> {
    let p = path.as_bytes();
    let base = p.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    if let Some(v) = get(&p[base..]) {
        return Some(v);
    }
    // the basename's first character never starts an extension
    let mut s = base + 1;
    while s < p.len() {
        let Some(dot) = p[s..].iter().position(|&c| c == b'.').map(|i| s + i) else {
            break;
        };
        if let Some(v) = get(&p[dot..]) {
            return Some(v);
        }
        match p.get(dot + 1) {
            Some(b'.') => {
                s = dot + 1;
                continue;
            }
            Some(_) => {
                if let Some(v) = get(&p[dot + 1..]) {
                    return Some(v);
                }
            }
            None => {}
        }
        s = dot + 2;
    }
    get(b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> MimeTypes {
        MimeTypes::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn small_tables_take_first_suffix_in_order() {
        let t = table(&[
            (".gz", "application/gzip"),
            (".tar.gz", "application/x-tgz"),
            ("", "x/default"),
        ]);
        assert_eq!(lookup("/a/b.tar.gz", &t), Some("application/gzip"));
        assert_eq!(lookup("/a/B.GZ", &t), Some("application/gzip"));
        assert_eq!(lookup("/a/b.txt", &t), Some("x/default"));
        let t = table(&[(".html", "text/html")]);
        assert_eq!(lookup("/x.htm", &t), None);
        assert_eq!(
            lookup("/README", &table(&[("README", "text/plain")])),
            Some("text/plain")
        );
        assert_eq!(lookup("/xhtml", &t), None);
        assert_eq!(lookup("/x.html", &table(&[("html", "t/h")])), Some("t/h"));
    }

    fn big(extra: &[(&str, &str)]) -> MimeTypes {
        let mut t: Vec<(String, String)> = (0..16)
            .map(|i| (format!(".e{i}"), format!("x/e{i}")))
            .collect();
        t.extend(table(extra).entries);
        MimeTypes::new(t)
    }

    #[test]
    fn large_tables_prefer_basename_then_longest_chain() {
        let t = big(&[
            (".gz", "application/gzip"),
            (".tar.gz", "application/x-tgz"),
            ("Makefile", "text/x-makefile"),
            ("txt", "text/plain"),
        ]);
        assert_eq!(lookup("/src/Makefile", &t), Some("text/x-makefile"));
        assert_eq!(lookup("/a/b.tar.gz", &t), Some("application/x-tgz"));
        assert_eq!(lookup("/a/b.x.gz", &t), Some("application/gzip"));
        assert_eq!(lookup("/a/B.TXT", &t), Some("text/plain"));
        assert_eq!(lookup("/a/b", &t), None);
        assert_eq!(lookup("/a.gz/b", &t), None);
        let t = big(&[(".gz", "g"), ("", "fallback")]);
        assert_eq!(lookup("/a/b", &t), Some("fallback"));
        assert_eq!(lookup("/a/b..gz", &t), Some("g"));
    }

    #[test]
    fn dotfiles_match_only_as_whole_basename() {
        let t = big(&[(".htaccess", "text/x-ht")]);
        assert_eq!(lookup("/d/.htaccess", &t), Some("text/x-ht"));
        let t = big(&[(".bashrc", "x/rc"), ("bashrc", "x/rc2")]);
        assert_eq!(lookup("/d/x.bashrc", &t), Some("x/rc"));
        assert_eq!(lookup("/d/.bashrc", &t), Some("x/rc"));
        let t = big(&[("bashrc", "x/rc2")]);
        assert_eq!(lookup("/d/.bashrc", &t), None);
    }

    /// A deterministic ~1000-entry list with what real configs contain:
    /// duplicate keys differing in case, multi-dot keys, keys without a
    /// dot, keys longer than the stack buffer and the `""` catch-all.
    fn generated() -> Vec<(String, String)> {
        let mut rng = 0x2545_f491_u32;
        let mut next = move |n: u32| {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng % n
        };
        let words = [
            "gz", "tar", "Html", "TXT", "js", "bz2", "conf", "md", "x", "a",
        ];
        let mut t = Vec::new();
        for i in 0..1000 {
            let w = words[next(words.len() as u32) as usize];
            let key = match next(8) {
                0 => format!(".{w}{}", next(40)),
                1 => format!(".tar.{w}"),
                2 => format!("{w}{}", next(20)),
                3 => format!(".{}", w.to_ascii_uppercase()),
                4 => format!(".{w}.{}", words[next(10) as usize]),
                5 => "Makefile".to_string(),
                6 => format!(".{}{w}", "long".repeat(next(3) as usize * 10)),
                _ => format!(".{w}"),
            };
            t.push((key, format!("t/{i}")));
            if i == 500 || i == 900 {
                t.push((String::new(), format!("catch/{i}")));
            }
        }
        t
    }

    fn linear_get<'a>(t: &'a [(String, String)], key: &[u8]) -> Option<&'a str> {
        t.iter()
            .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn index_finds_what_a_linear_scan_finds() {
        let list = generated();
        let m = MimeTypes::new(list.clone());
        assert!(m.longest_key > KEY_BUF, "covers the fallback scan");
        let dirs = ["", "/", "/srv/www/", "/a.tar/", "/d/..", "/x."];
        let names = ["f", ".hidden", "Makefile", "README", "a.b.c", "x..", "q."];
        let mut paths: Vec<String> = Vec::new();
        for (i, (k, _)) in list.iter().enumerate() {
            let k = if i % 3 == 0 {
                k.to_ascii_uppercase()
            } else {
                k.clone()
            };
            paths.push(format!(
                "{}{}{k}",
                dirs[i % dirs.len()],
                names[i % names.len()]
            ));
            paths.push(format!("{}{k}", dirs[i % dirs.len()]));
            paths.push(format!("/p/{k}.zz"));
        }
        let mut misses = 0;
        for p in &paths {
            let want = extension_walk(p, |key| linear_get(&list, key));
            assert_eq!(lookup(p, &m), want, "{p}");
            misses += usize::from(want.is_none_or(|v| v.starts_with("catch/")));
        }
        assert!(misses > 0 && misses < paths.len() / 2);
        for (k, _) in &list {
            let upper = k.to_ascii_uppercase();
            assert_eq!(m.get(upper.as_bytes()), linear_get(&list, k.as_bytes()));
        }
        let no_catch_all: Vec<_> = list
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .cloned()
            .collect();
        assert_eq!(lookup("/none.zz", &MimeTypes::new(no_catch_all)), None);
    }
}
