//! Content-Type by file name from `mimetype.assign` (lighttpd
//! src/stat_cache.c `stat_cache_mimetype_by_ext`). Keys compare
//! case-insensitively. Under 16 entries: the first key that is a suffix of
//! the path, in config order. From 16 entries on: the basename, then each
//! `.ext2.ext1` chain from the longest (each also tried without its dot),
//! then the `""` catch-all.

/// The Content-Type for `path` (a physical path or a plain name), or None
/// (the caller falls back to `application/octet-stream`).
pub fn lookup<'a>(path: &str, assign: &'a [(String, String)]) -> Option<&'a str> {
    if assign.len() < 16 {
        first_suffix_match(path, assign)
    } else {
        longest_extension_match(path, assign)
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

fn get<'a>(assign: &'a [(String, String)], key: &[u8]) -> Option<&'a str> {
    assign
        .iter()
        .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

fn longest_extension_match<'a>(path: &str, assign: &'a [(String, String)]) -> Option<&'a str> {
    let p = path.as_bytes();
    let base = p.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    if let Some(v) = get(assign, &p[base..]) {
        return Some(v);
    }
    // the basename's first character never starts an extension
    let mut s = base + 1;
    while s < p.len() {
        let Some(dot) = p[s..].iter().position(|&c| c == b'.').map(|i| s + i) else {
            break;
        };
        if let Some(v) = get(assign, &p[dot..]) {
            return Some(v);
        }
        match p.get(dot + 1) {
            Some(b'.') => {
                s = dot + 1;
                continue;
            }
            Some(_) => {
                if let Some(v) = get(assign, &p[dot + 1..]) {
                    return Some(v);
                }
            }
            None => {}
        }
        s = dot + 2;
    }
    get(assign, b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
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

    fn big(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut t: Vec<(String, String)> = (0..16)
            .map(|i| (format!(".e{i}"), format!("x/e{i}")))
            .collect();
        t.extend(table(extra));
        t
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
}
