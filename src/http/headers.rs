//! An ordered list of header fields with lighttpd's lookup rules: names are
//! compared case-insensitively, and repeated request headers are combined the
//! way lighttpd does when it stores them (lighttpd src/http_header.c
//! `http_header_request_append`: values joined with ", ", or "; " for Cookie).

/// Header fields in arrival (or insertion) order.
///
/// Values are UTF-8 `String`s; bytes that are not valid UTF-8 were replaced
/// (U+FFFD) when the head was parsed.
///
/// [`Headers::clear`] keeps the fields' heap blocks: `entries[live..]` are
/// spare fields whose strings the next appends reuse, so a request object
/// recycled across keep-alive requests stores its headers without
/// allocating.
#[derive(Default)]
pub struct Headers {
    entries: Vec<Field>,
    /// Fields in use: `entries[..live]`.
    live: usize,
}

/// One field in one allocation: the name followed by the value (a field
/// costs one heap block, and a replaced or extended value reuses it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    text: String,
    name_len: usize,
}

impl Field {
    fn fill(&mut self, name: &str, value: &str) {
        self.text.clear();
        self.text.push_str(name);
        self.text.push_str(value);
        self.name_len = name.len();
    }

    fn name(&self) -> &str {
        &self.text[..self.name_len]
    }

    fn value(&self) -> &str {
        &self.text[self.name_len..]
    }

    /// Lengths first: most fields a lookup passes differ in length; then
    /// the same spelling (one `memcmp`; lookups use the usual spelling)
    /// before the byte-by-byte case-insensitive compare.
    fn is(&self, name: &str) -> bool {
        if self.name_len != name.len() {
            return false;
        }
        let mine = &self.text.as_bytes()[..self.name_len];
        mine == name.as_bytes() || mine.eq_ignore_ascii_case(name.as_bytes())
    }

    fn set_value(&mut self, value: &str) {
        self.text.truncate(self.name_len);
        self.text.push_str(value);
    }
}

impl Clone for Headers {
    /// Clones the live fields only.
    fn clone(&self) -> Headers {
        Headers {
            entries: self.fields().to_vec(),
            live: self.live,
        }
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.fields() == other.fields()
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Headers {
    /// Spare fields kept by [`Headers::clear`] (more are dropped).
    const MAX_SPARE: usize = 32;
    /// A spare field larger than this is dropped rather than kept.
    const MAX_SPARE_FIELD: usize = 512;

    pub fn new() -> Headers {
        Headers::default()
    }

    /// Removes every field, keeping (a bounded number of) their heap
    /// blocks for the next appends.
    pub fn clear(&mut self) {
        self.live = 0;
        self.entries
            .retain(|f| f.text.capacity() <= Self::MAX_SPARE_FIELD);
        self.entries.truncate(Self::MAX_SPARE);
    }

    fn fields(&self) -> &[Field] {
        &self.entries[..self.live]
    }

    /// A new field at the end of the live ones (a spare one if any).
    fn push_field(&mut self, name: &str, value: &str) {
        if self.live == self.entries.len() {
            self.entries.push(Field {
                text: String::with_capacity(name.len() + value.len()),
                name_len: 0,
            });
        }
        self.entries[self.live].fill(name, value);
        self.live += 1;
    }

    /// Keeps the live fields `keep` accepts, in order; the others become
    /// spare.
    fn retain_fields(&mut self, mut keep: impl FnMut(&Field) -> bool) {
        let mut kept = 0;
        for i in 0..self.live {
            if keep(&self.entries[i]) {
                self.entries.swap(kept, i);
                kept += 1;
            }
        }
        self.live = kept;
    }

    /// Adds a separate field (e.g. repeated `Set-Cookie` response headers).
    pub fn append(&mut self, name: &str, value: &str) {
        self.push_field(name, value);
    }

    /// Adds a field with a decimal number as its value.
    pub fn append_u64(&mut self, name: &str, n: u64) {
        let mut digits = [0u8; 20];
        self.append(name, decimal(n, &mut digits));
    }

    /// Replaces every field of that name with one holding a decimal number.
    pub fn set_u64(&mut self, name: &str, n: u64) {
        let mut digits = [0u8; 20];
        self.set(name, decimal(n, &mut digits));
    }

    /// Adds a value the way lighttpd stores request headers: an empty value is
    /// dropped; a repeated name extends the first field's value with ", "
    /// ("; " for Cookie) and keeps the first field's spelling and position.
    pub fn add_joined(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        match self.position(name) {
            Some(i) => {
                let sep = joiner(name);
                let f = &mut self.entries[i];
                if !f.value().is_empty() {
                    f.text.push_str(sep);
                }
                f.text.push_str(value);
            }
            None => self.append(name, value),
        }
    }

    /// Adds a field right after the last field of the same name (or at the
    /// end): lighttpd keeps repeated response headers together with the
    /// first one when it serialises them.
    pub fn insert_grouped(&mut self, name: &str, value: &str) {
        let at = self
            .fields()
            .iter()
            .rposition(|f| f.is(name))
            .map_or(self.live, |i| i + 1);
        self.push_field(name, value);
        self.entries[at..self.live].rotate_right(1);
    }

    /// Replaces every field of that name with one field (or appends it).
    pub fn set(&mut self, name: &str, value: &str) {
        match self.position(name) {
            Some(i) => {
                self.entries[i].set_value(value);
                if !self.fields()[i + 1..].iter().any(|f| f.is(name)) {
                    return;
                }
                let mut seen = 0;
                self.retain_fields(|f| {
                    let same = f.is(name);
                    seen += usize::from(same);
                    !same || seen == 1
                });
            }
            None => self.append(name, value),
        }
    }

    /// Removes every field of that name.
    pub fn remove(&mut self, name: &str) {
        self.retain_fields(|f| !f.is(name));
    }

    /// The first field's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).map(|i| self.entries[i].value())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// All values of that name joined with ", " ("; " for Cookie), as lighttpd
    /// presents a header to `$REQUEST_HEADER[...]` conditions and backends.
    pub fn get_all_joined(&self, name: &str) -> Option<String> {
        let mut values = self
            .fields()
            .iter()
            .filter(|f| f.is(name))
            .map(Field::value)
            .peekable();
        values.peek()?;
        Some(values.collect::<Vec<_>>().join(joiner(name)))
    }

    /// Fields in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields().iter().map(|f| (f.name(), f.value()))
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields().iter().position(|f| f.is(name))
    }
}

/// `n` in decimal, written into `buf` (no formatting machinery).
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("0")
}

fn joiner(name: &str) -> &'static str {
    if name.eq_ignore_ascii_case("cookie") {
        "; "
    } else {
        ", "
    }
}

/// lighttpd `http_header_str_contains_token`: is `token` one of the
/// comma-separated items of `value` (case-insensitive, no quoted strings;
/// an item may carry `;params`)?
pub fn contains_token(value: &str, token: &str) -> bool {
    value.split(',').any(|item| {
        let item = item.trim_start_matches([' ', '\t']);
        item.len() >= token.len()
            && item.as_bytes()[..token.len()].eq_ignore_ascii_case(token.as_bytes())
            && matches!(
                item.as_bytes().get(token.len()),
                None | Some(b' ' | b'\t' | b';')
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), "0");
        assert_eq!(decimal(8080, &mut buf), "8080");
        assert_eq!(decimal(u64::MAX, &mut buf), u64::MAX.to_string());
    }

    #[test]
    fn lookup_is_case_insensitive() {
        let mut h = Headers::new();
        h.append("Content-Type", "text/plain");
        assert_eq!(h.get("content-type"), Some("text/plain"));
        assert_eq!(h.get("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(h.get("content-length"), None);
    }

    #[test]
    fn add_joined_combines_like_lighttpd() {
        let mut h = Headers::new();
        h.add_joined("Accept", "a");
        h.add_joined("X", "1");
        h.add_joined("accept", "b");
        h.add_joined("Cookie", "x=1");
        h.add_joined("cookie", "y=2");
        h.add_joined("Empty", "");
        let v: Vec<_> = h.iter().collect();
        assert_eq!(
            v,
            vec![("Accept", "a, b"), ("X", "1"), ("Cookie", "x=1; y=2")]
        );
    }

    #[test]
    fn get_all_joined_over_separate_fields() {
        let mut h = Headers::new();
        h.append("Set-Cookie", "a");
        h.append("Other", "z");
        h.append("set-cookie", "b");
        h.append("Cookie", "c=1");
        h.append("Cookie", "d=2");
        assert_eq!(h.get_all_joined("SET-COOKIE").as_deref(), Some("a, b"));
        assert_eq!(h.get_all_joined("cookie").as_deref(), Some("c=1; d=2"));
        assert_eq!(h.get_all_joined("none"), None);
        assert_eq!(h.len(), 5);
    }

    #[test]
    fn insert_grouped_keeps_repeats_together() {
        let mut h = Headers::new();
        h.insert_grouped("Set-Cookie", "a");
        h.insert_grouped("X", "1");
        h.insert_grouped("set-cookie", "b");
        h.insert_grouped("Y", "2");
        let names: Vec<_> = h.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(names, ["Set-Cookie=a", "set-cookie=b", "X=1", "Y=2"]);
    }

    #[test]
    fn set_and_remove() {
        let mut h = Headers::new();
        h.append("A", "1");
        h.append("B", "2");
        h.append("a", "3");
        h.set("A", "9");
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![("A", "9"), ("B", "2")]);
        h.remove("b");
        assert_eq!(h.len(), 1);
        h.set("C", "x");
        assert_eq!(h.get("c"), Some("x"));
    }

    #[test]
    fn clear_keeps_blocks_and_forgets_fields() {
        let mut h = Headers::new();
        h.append("A", "1");
        h.append("B", "2");
        h.clear();
        assert!(h.is_empty());
        assert_eq!(h.get("a"), None);
        h.append("C", "3");
        h.insert_grouped("D", "4");
        h.insert_grouped("c", "5");
        let v: Vec<_> = h.iter().collect();
        assert_eq!(v, vec![("C", "3"), ("c", "5"), ("D", "4")]);
        h.remove("c");
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![("D", "4")]);
        h.append("E", "6");
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![("D", "4"), ("E", "6")]);
        let mut other = Headers::new();
        other.append("D", "4");
        other.append("E", "6");
        assert_eq!(h, other);
    }

    #[test]
    fn numbers() {
        let mut h = Headers::new();
        h.append_u64("A", 0);
        h.append_u64("B", 1234567890);
        h.set_u64("A", u64::MAX);
        assert_eq!(h.get("a"), Some("18446744073709551615"));
        assert_eq!(h.get("b"), Some("1234567890"));
    }

    #[test]
    fn tokens() {
        assert!(contains_token("close", "close"));
        assert!(contains_token("Keep-Alive, Upgrade", "upgrade"));
        assert!(contains_token(" foo;q=1", "foo"));
        assert!(!contains_token("closed", "close"));
        assert!(!contains_token("x-close", "close"));
        assert!(!contains_token("", "close"));
    }
}
