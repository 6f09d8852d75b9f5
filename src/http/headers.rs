//! An ordered list of header fields with lighttpd's lookup rules: names are
//! compared case-insensitively, and repeated request headers are combined the
//! way lighttpd does when it stores them (lighttpd src/http_header.c
//! `http_header_request_append`: values joined with ", ", or "; " for Cookie).

use std::ops::Range;

/// Header fields in arrival (or insertion) order.
///
/// Every field is kept as the line it is sent as, `Name: value\r\n`, in
/// one text buffer, so adding a field copies its name and value once and a
/// response head copies all its fields with one copy when nothing needs
/// filtering ([`Headers::wire`]). A value that is replaced or extended
/// moves its field to the end of the buffer; the bytes left behind are
/// reclaimed when they make up half of it.
///
/// Values are UTF-8 `String`s; bytes that are not valid UTF-8 were replaced
/// (U+FFFD) when the head was parsed. [`Headers::clear`] keeps the buffers,
/// so a request object recycled across keep-alive requests stores its
/// headers without allocating.
#[derive(Default, Clone)]
pub struct Headers {
    text: String,
    /// The live fields in order.
    fields: Vec<Span>,
    /// One bit per [`bucket`] holding a live field's name: most lookups
    /// are for names a request or response does not have, and this
    /// answers them without a scan.
    present: u64,
    /// `text` is not just the fields' lines in order (a field was moved
    /// or removed).
    out_of_order: bool,
    /// A field was added that may be one a response head drops or notes
    /// ([`maybe_special`]), or a value became empty: [`Headers::wire`]
    /// then checks the fields. Stays set until [`Headers::clear`].
    special: bool,
    /// Bytes of `text` no field uses any more.
    unused: usize,
    /// Fields added by [`Headers::add_repeat`] wait for
    /// [`Headers::join_repeats`].
    repeats: bool,
}

/// Where a field's line is in [`Headers::text`].
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    name_len: u32,
    /// After the line's `\r\n`.
    end: u32,
}

impl Span {
    fn name(self) -> Range<usize> {
        self.start as usize..(self.start + self.name_len) as usize
    }

    fn value(self) -> Range<usize> {
        (self.start + self.name_len + 2) as usize..(self.end - 2) as usize
    }

    fn line(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A name's bit in [`Headers::present`], from its length and its first
/// and last letters (case folded). The factors keep the names looked up
/// most (Expect, If-None-Match, If-Modified-Since, Range, ...) apart
/// from the fields browsers send, and the usual response fields apart.
#[inline]
fn bucket(name: &str) -> u64 {
    let b = name.as_bytes();
    let first = b.first().map_or(0, |&c| usize::from(c | 0x20));
    let last = b.last().map_or(0, |&c| usize::from(c | 0x20));
    1 << ((b.len() + first * 11 + last * 24) & 63)
}

/// Could a response head have to drop or note this field: an empty value,
/// Date, Server, Connection, X-Sendfile, Content-Encoding or an
/// X-LIGHTTPD- name? The length decides whether a name is compared.
#[inline]
fn is_special(n: &[u8], empty_value: bool) -> bool {
    empty_value
        || match n.len() {
            4 | 6 | 10 | 16 => special_name(n),
            len => len >= 11 && n[0] | 0x20 == b'x' && special_name(n),
        }
}

/// Could [`is_special`] be true for this field? Length and first letter
/// only (cheap enough for every added field).
#[inline]
fn maybe_special(n: &[u8], empty_value: bool) -> bool {
    let first = n.first().map_or(0, |&c| c | 0x20);
    empty_value
        || match n.len() {
            4 => first == b'd',
            6 => first == b's',
            10 => first == b'c' || first == b'x',
            16 => first == b'c',
            len => len >= 11 && first == b'x',
        }
}

#[inline(never)]
fn special_name(n: &[u8]) -> bool {
    let is = |other: &str| n.eq_ignore_ascii_case(other.as_bytes());
    match n.len() {
        4 => is("Date"),
        6 => is("Server"),
        10 => is("Connection") || is("X-Sendfile"),
        16 => is("Content-Encoding"),
        _ => n[..11].eq_ignore_ascii_case(b"X-LIGHTTPD-"),
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Headers {
    /// Text buffer kept by [`Headers::clear`] (a larger one is dropped).
    const MAX_KEPT_TEXT: usize = 4096;
    /// Field slots kept by [`Headers::clear`].
    const MAX_KEPT_FIELDS: usize = 64;

    pub fn new() -> Headers {
        Headers::default()
    }

    /// Removes every field, keeping (bounded) buffers for the next appends.
    pub fn clear(&mut self) {
        self.text.clear();
        if self.text.capacity() > Self::MAX_KEPT_TEXT {
            self.text = String::new();
        }
        self.fields.clear();
        if self.fields.capacity() > Self::MAX_KEPT_FIELDS {
            self.fields = Vec::new();
        }
        self.present = 0;
        self.unused = 0;
        self.repeats = false;
        self.out_of_order = false;
        self.special = false;
    }

    /// Becomes a copy of `other`, keeping this one's buffers (two copies,
    /// no allocation once they are large enough).
    pub fn copy_from(&mut self, other: &Headers) {
        self.text.clear();
        self.text.push_str(&other.text);
        self.fields.clear();
        self.fields.extend_from_slice(&other.fields);
        self.present = other.present;
        self.out_of_order = other.out_of_order;
        self.special = other.special;
        self.unused = other.unused;
        self.repeats = other.repeats;
    }

    fn name_at(&self, span: Span) -> &str {
        &self.text[span.name()]
    }

    fn value_at(&self, span: Span) -> &str {
        &self.text[span.value()]
    }

    /// Is the field at `span` named `name`? Lengths first: most fields a
    /// lookup passes differ in length; then the same spelling (lookups use
    /// the usual spelling) before the case-insensitive compare.
    #[inline]
    fn is(&self, span: Span, name: &str) -> bool {
        span.name_len as usize == name.len() && self.same_name(span, name)
    }

    /// [`Headers::is`] for a name of the field's length.
    fn same_name(&self, span: Span, name: &str) -> bool {
        let mine = self.text.as_bytes().get(span.name()).unwrap_or_default();
        mine == name.as_bytes() || mine.eq_ignore_ascii_case(name.as_bytes())
    }

    /// Writes `name: value<sep>more\r\n` at the end of the text.
    /// Writes the field at `span` anew at the end of the text with
    /// `value`, after its old value and `sep` when extending (and the old
    /// value is not empty).
    fn rewrite_at_end(&mut self, span: Span, value: &str, extend: Option<&str>) -> Span {
        let mut bytes = std::mem::take(&mut self.text).into_bytes();
        let start = bytes.len();
        bytes.extend_from_within(span.name());
        bytes.extend_from_slice(b": ");
        if let Some(sep) = extend.filter(|_| !span.value().is_empty()) {
            bytes.extend_from_within(span.value());
            bytes.extend_from_slice(sep.as_bytes());
        }
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let end = bytes.len();
        // copies of whole UTF-8 strings: the check cannot fail
        self.text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Span {
            start: start as u32,
            name_len: span.name_len,
            end: end as u32,
        }
    }

    /// When the bytes no field uses are over half the text (and more than
    /// a little), rewrite the text with the live lines only, in order.
    #[inline]
    fn compact_if_sparse(&mut self) {
        if self.unused > 256 {
            self.compact();
        }
    }

    #[inline(never)]
    fn compact(&mut self) {
        if self.fields.is_empty() {
            self.text.clear();
            self.unused = 0;
            self.out_of_order = false;
            return;
        }
        if self.unused <= 256 || self.unused * 2 < self.text.len() {
            return;
        }
        let mut text = String::with_capacity(self.text.len() - self.unused);
        for span in &mut self.fields {
            let start = text.len() as u32;
            text.push_str(&self.text[span.line()]);
            span.end = span.end - span.start + start;
            span.start = start;
        }
        self.text = text;
        self.unused = 0;
        self.out_of_order = false;
    }

    /// A new field at the end.
    fn push_field(&mut self, name: &str, value: &str) {
        self.compact_if_sparse();
        let t = &mut self.text;
        let start = t.len();
        t.reserve(name.len() + value.len() + 4);
        t.push_str(name);
        t.push_str(": ");
        t.push_str(value);
        t.push_str("\r\n");
        self.fields.push(Span {
            start: start as u32,
            name_len: name.len() as u32,
            end: t.len() as u32,
        });
        self.present |= bucket(name);
        if !self.special {
            self.special = maybe_special(name.as_bytes(), value.is_empty());
        }
    }

    /// The field at index `i` gets `value` (or its value extended by
    /// `sep` + `value` when `extend`): rewritten in place when it is the
    /// last line of the text, else written anew at the end.
    fn rewrite(&mut self, i: usize, value: &str, extend: Option<&str>) {
        self.compact_if_sparse();
        let span = self.fields[i];
        let last = span.end as usize == self.text.len();
        let new = if last {
            match extend {
                Some(sep) => {
                    self.text.truncate(span.end as usize - 2);
                    if !span.value().is_empty() {
                        self.text.push_str(sep);
                    }
                }
                None => self.text.truncate(span.value().start),
            }
            self.text.push_str(value);
            self.text.push_str("\r\n");
            Span {
                end: self.text.len() as u32,
                ..span
            }
        } else {
            let new = self.rewrite_at_end(span, value, extend);
            self.unused += span.line().len();
            self.out_of_order = true;
            new
        };
        self.special |= new.value().is_empty();
        self.fields[i] = new;
    }

    /// Keeps the fields `keep` accepts, in order.
    fn retain_fields(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let mut fields = std::mem::take(&mut self.fields);
        let before = fields.len();
        let mut dropped = 0;
        fields.retain(|&span| {
            let kept = keep(self.name_at(span));
            dropped += if kept { 0 } else { span.line().len() };
            kept
        });
        self.unused += dropped;
        if fields.is_empty() {
            self.text.clear();
            self.unused = 0;
            self.out_of_order = false;
        } else if fields.len() != before {
            self.out_of_order = true;
            self.present = fields.iter().fold(0, |p, &s| p | bucket(self.name_at(s)));
        }
        self.fields = fields;
    }

    /// Adds a separate field (e.g. repeated `Set-Cookie` response headers).
    pub fn append(&mut self, name: &str, value: &str) {
        self.push_field(name, value);
    }

    /// Adds a field with a decimal number as its value.
    pub fn append_u64(&mut self, name: &str, n: u64) {
        self.append(name, itoa::Buffer::new().format(n));
    }

    /// Replaces every field of that name with one holding a decimal number.
    pub fn set_u64(&mut self, name: &str, n: u64) {
        self.set(name, itoa::Buffer::new().format(n));
    }

    /// Adds a value the way lighttpd stores request headers: an empty value is
    /// dropped; a repeated name extends the first field's value with ", "
    /// ("; " for Cookie) and keeps the first field's spelling and position.
    pub fn add_joined(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        match self.position(name) {
            Some(i) => self.rewrite(i, value, Some(joiner(name))),
            None => self.append(name, value),
        }
    }

    /// [`Headers::add_joined`] for a whole head of fields: a repeat of an
    /// earlier field that is not the last one is kept as its own field
    /// until [`Headers::join_repeats`], so joining many interleaved
    /// repeats costs one pass, not a move each. Until then `get` sees the
    /// first value only.
    pub fn add_repeat(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        // request heads (never sent as they are): not worth noting each
        // field's kind for [`Headers::wire`]
        self.special = true;
        match self.position(name) {
            Some(i) if i + 1 == self.fields.len() => self.rewrite(i, value, Some(joiner(name))),
            Some(_) => {
                self.push_field(name, value);
                self.repeats = true;
            }
            None => self.append(name, value),
        }
    }

    /// Joins the fields [`Headers::add_repeat`] kept apart into the first
    /// of each name, as [`Headers::add_joined`] would have.
    pub fn join_repeats(&mut self) {
        if !std::mem::take(&mut self.repeats) {
            return;
        }
        let fields = std::mem::take(&mut self.fields);
        let old = std::mem::take(&mut self.text);
        let mut joined = vec![false; fields.len()];
        for (i, &first) in fields.iter().enumerate() {
            if joined[i] {
                continue;
            }
            let name = &old[first.name()];
            let start = self.text.len();
            self.text
                .push_str(&old[first.line().start..first.value().end]);
            for (j, &later) in fields.iter().enumerate().skip(i + 1) {
                let other = &old[later.name()];
                if other.len() == name.len() && other.eq_ignore_ascii_case(name) {
                    joined[j] = true;
                    self.text.push_str(joiner(name));
                    self.text.push_str(&old[later.value()]);
                }
            }
            self.text.push_str("\r\n");
            self.fields.push(Span {
                start: start as u32,
                name_len: first.name_len,
                end: self.text.len() as u32,
            });
        }
        self.unused = 0;
        self.out_of_order = false;
    }

    /// Adds a field right after the last field of the same name (or at the
    /// end): lighttpd keeps repeated response headers together with the
    /// first one when it serialises them.
    pub fn insert_grouped(&mut self, name: &str, value: &str) {
        let at = self
            .fields
            .iter()
            .rposition(|&s| self.is(s, name))
            .map_or(self.fields.len(), |i| i + 1);
        self.push_field(name, value);
        if at + 1 != self.fields.len() {
            self.fields[at..].rotate_right(1);
            self.out_of_order = true;
        }
    }

    /// Replaces every field of that name with one field (or appends it).
    pub fn set(&mut self, name: &str, value: &str) {
        match self.position(name) {
            Some(i) => {
                self.rewrite(i, value, None);
                let later = self.fields[i + 1..].iter().any(|&s| self.is(s, name));
                if later {
                    let mut seen = 0;
                    self.retain_fields(|n| {
                        let same = n.len() == name.len() && n.eq_ignore_ascii_case(name);
                        seen += usize::from(same);
                        !same || seen == 1
                    });
                }
            }
            None => self.append(name, value),
        }
    }

    /// Removes every field of that name.
    pub fn remove(&mut self, name: &str) {
        if self.position(name).is_some() {
            self.retain_fields(|n| !(n.len() == name.len() && n.eq_ignore_ascii_case(name)));
        }
    }

    /// The first field's value.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).map(|i| self.value_at(self.fields[i]))
    }

    #[inline]
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// All values of that name joined with ", " ("; " for Cookie), as lighttpd
    /// presents a header to `$REQUEST_HEADER[...]` conditions and backends.
    pub fn get_all_joined(&self, name: &str) -> Option<String> {
        let mut values = self
            .fields
            .iter()
            .filter(|&&s| self.is(s, name))
            .map(|&s| self.value_at(s))
            .peekable();
        values.peek()?;
        Some(values.collect::<Vec<_>>().join(joiner(name)))
    }

    /// Fields in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|&s| (self.name_at(s), self.value_at(s)))
    }

    /// Fields in order, as (name, value, the line `name: value\r\n`).
    pub fn lines(&self) -> impl Iterator<Item = (&str, &str, &[u8])> {
        self.fields.iter().map(|&s| {
            (
                self.name_at(s),
                self.value_at(s),
                self.text[s.line()].as_bytes(),
            )
        })
    }

    /// Every field's line in order as one block, when no field is one a
    /// response head would drop or note (see [`is_special`]; checked only
    /// when one may have been added); else None and the caller goes field
    /// by field with [`Headers::lines`].
    pub fn wire(&self) -> Option<&[u8]> {
        if self.out_of_order {
            return None;
        }
        let special = self.special
            && self.fields.iter().any(|&s| {
                let n = self.text.as_bytes();
                is_special(&n[s.name()], s.value().is_empty())
            });
        (!special).then_some(self.text.as_bytes())
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Inline: for a constant name the bucket test folds to one mask
    /// test, and most lookups end there.
    #[inline]
    fn position(&self, name: &str) -> Option<usize> {
        if self.present & bucket(name) == 0 {
            return None;
        }
        self.scan(name)
    }

    #[inline(never)]
    fn scan(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|&s| self.is(s, name))
    }
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
    let token = token.as_bytes();
    value.as_bytes().split(|&c| c == b',').any(|item| {
        let blanks = item
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        let item = &item[blanks..];
        item.len() >= token.len()
            && item[..token.len()].eq_ignore_ascii_case(token)
            && matches!(item.get(token.len()), None | Some(b' ' | b'\t' | b';'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn repeats_joined_in_one_pass_match_add_joined() {
        let lines = [
            ("Accept", "a"),
            ("X", "1"),
            ("accept", "b"),
            ("Cookie", "x=1"),
            ("X", "2"),
            ("cookie", "y=2"),
            ("X", "3"),
            ("Empty", ""),
            ("ACCEPT", "c"),
        ];
        let mut one = Headers::new();
        let mut other = Headers::new();
        for (n, v) in lines {
            one.add_joined(n, v);
            other.add_repeat(n, v);
        }
        other.join_repeats();
        assert_eq!(one, other);
        assert_eq!(other.get("accept"), Some("a, b, c"));
        assert_eq!(
            other.wire(),
            Some(&b"Accept: a, b, c\r\nX: 1, 2, 3\r\nCookie: x=1; y=2\r\n"[..])
        );
    }

    /// Random operations on `Headers` and on a plain list with the same
    /// rules (first match, case-insensitive names) give the same fields.
    #[test]
    fn random_operations_match_a_plain_list() {
        let names = [
            "A",
            "a",
            "Bb",
            "CONTENT-LENGTH",
            "Content-Length",
            "X-Long-Name",
            "Cookie",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        for _ in 0..300 {
            let mut h = Headers::new();
            let mut model: Vec<(String, String)> = Vec::new();
            for step in 0..60 {
                let name = names[next(names.len())];
                let value = "v".repeat(next(40)) + &step.to_string();
                match next(6) {
                    0 => {
                        h.append(name, &value);
                        model.push((name.into(), value));
                    }
                    1 => {
                        h.set(name, &value);
                        match model.iter().position(|(n, _)| same(n, name)) {
                            Some(i) => {
                                model[i].1 = value;
                                let mut seen = 0;
                                model.retain(|(n, _)| {
                                    seen += usize::from(same(n, name));
                                    !same(n, name) || seen == 1
                                });
                            }
                            None => model.push((name.into(), value)),
                        }
                    }
                    2 => {
                        h.remove(name);
                        model.retain(|(n, _)| !same(n, name));
                    }
                    3 => {
                        h.add_joined(name, &value);
                        match model.iter_mut().find(|(n, _)| same(n, name)) {
                            Some((_, v)) if !v.is_empty() => {
                                v.push_str(joiner(name));
                                v.push_str(&value);
                            }
                            Some((_, v)) => *v = value,
                            None => model.push((name.into(), value)),
                        }
                    }
                    4 => {
                        let at = model
                            .iter()
                            .rposition(|(n, _)| same(n, name))
                            .map_or(model.len(), |i| i + 1);
                        h.insert_grouped(name, &value);
                        model.insert(at, (name.into(), value));
                    }
                    _ => {
                        let want = model
                            .iter()
                            .find(|(n, _)| same(n, name))
                            .map(|(_, v)| v.as_str());
                        assert_eq!(h.get(name), want);
                    }
                }
                let got: Vec<_> = h
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                assert_eq!(got, model);
                for (n, v, line) in h.lines() {
                    assert_eq!(line, format!("{n}: {v}\r\n").as_bytes());
                }
                if let Some(block) = h.wire() {
                    let lines: Vec<u8> = h.lines().flat_map(|(_, _, l)| l.to_vec()).collect();
                    assert_eq!(block, &lines[..]);
                }
            }
        }
    }

    #[test]
    fn interleaved_repeats_cost_one_pass() {
        let mut h = Headers::new();
        for i in 0..5000 {
            h.add_repeat(if i % 2 == 0 { "A" } else { "B" }, "xxxxxxxx");
        }
        h.join_repeats();
        assert_eq!(h.len(), 2);
        assert_eq!(h.get("a").map(str::len), Some(2500 * 10 - 2));
        assert!(h.text.len() < 2 * 2500 * 10 + 32);
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
    fn lookups_after_every_kind_of_change() {
        let names = [
            "Host",
            "host",
            "ETag",
            "Range",
            "If-Range",
            "X-A",
            "x-b",
            "Content-Length",
        ];
        let mut h = Headers::new();
        for (i, n) in names.iter().enumerate() {
            h.append(n, &i.to_string());
            assert!(names[..=i].iter().all(|m| h.contains(m)), "{n}");
            assert!(!h.contains("If-None-Match") && !h.contains("Hos"));
        }
        h.remove("HOST");
        assert!(!h.contains("host") && h.contains("etag") && h.contains("x-B"));
        h.set("range", "bytes=0-1");
        assert_eq!(h.get("Range"), Some("bytes=0-1"));
        h.clear();
        assert!(names.iter().all(|n| !h.contains(n)));
        h.add_joined("Accept", "a");
        assert_eq!(h.get("ACCEPT"), Some("a"));
        assert!(!h.contains("Range"));
        let copy = h.clone();
        assert_eq!(copy.get("accept"), Some("a"));
    }

    #[test]
    fn large_buffers_are_not_kept_and_moved_values_are_reclaimed() {
        let mut h = Headers::new();
        h.append("Big", &"x".repeat(8192));
        h.clear();
        assert!(h.text.capacity() <= Headers::MAX_KEPT_TEXT);
        h.append("A", "1");
        h.append("B", "2");
        for i in 0..1000 {
            h.set("A", &format!("value {i}"));
            h.set("B", &format!("value {i}"));
        }
        assert!(h.text.len() < 1024, "{}", h.text.len());
        assert_eq!(h.get("a"), Some("value 999"));
        assert_eq!(h.iter().count(), 2);
    }

    #[test]
    fn wire_is_the_head_block_only_when_nothing_needs_filtering() {
        let mut h = Headers::new();
        h.append("Content-Type", "text/html");
        h.set("ETag", "\"1\"");
        h.set_u64("Content-Length", 12);
        assert_eq!(
            h.wire(),
            Some(&b"Content-Type: text/html\r\nETag: \"1\"\r\nContent-Length: 12\r\n"[..])
        );
        h.set("Content-Type", "text/plain");
        assert_eq!(h.wire(), None, "moved: out of order");
        let expect: Vec<u8> = h.lines().flat_map(|(_, _, l)| l.to_vec()).collect();
        assert_eq!(
            expect,
            b"Content-Type: text/plain\r\nETag: \"1\"\r\nContent-Length: 12\r\n"
        );
        h.clear();
        h.append("Date", "x");
        assert_eq!(h.wire(), None, "Date is noted by the head writer");
        h.clear();
        h.append("X-A", "1");
        h.insert_grouped("Set-Cookie", "a");
        h.insert_grouped("X-A", "2");
        assert_eq!(h.wire(), None);
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            vec![("X-A", "1"), ("X-A", "2"), ("Set-Cookie", "a")]
        );
    }

    #[test]
    fn common_lookups_miss_a_browser_head_without_a_scan() {
        let mut h = Headers::new();
        for name in [
            "Host",
            "User-Agent",
            "Accept",
            "Accept-Language",
            "Accept-Encoding",
            "Connection",
            "Referer",
            "Cookie",
            "Upgrade-Insecure-Requests",
            "Sec-Fetch-Dest",
            "Sec-Fetch-Mode",
            "Priority",
        ] {
            h.append(name, "x");
        }
        for name in [
            "Expect",
            "If-None-Match",
            "If-Modified-Since",
            "Range",
            "If-Range",
        ] {
            assert_eq!(h.present & bucket(name), 0, "{name}");
            assert_eq!(h.get(name), None);
        }
        assert_eq!(h.get("accept"), Some("x"));
        let mut resp = Headers::new();
        for name in [
            "Content-Type",
            "ETag",
            "Last-Modified",
            "Content-Length",
            "Accept-Ranges",
        ] {
            resp.append(name, "x");
        }
        for name in [
            "X-LIGHTTPD-KBytes-per-second",
            "Transfer-Encoding",
            "Upgrade",
            "Content-Encoding",
            "Vary",
            "Location",
            "Set-Cookie",
            "Date",
            "Server",
        ] {
            assert_eq!(resp.present & bucket(name), 0, "{name}");
        }
    }

    #[test]
    fn wire_notes_special_fields_as_they_are_added() {
        let mut h = Headers::new();
        h.append("X-Lighttpd-Foo", "1");
        assert_eq!(h.wire(), None);
        let mut copy = Headers::new();
        copy.copy_from(&h);
        assert_eq!(copy.wire(), None, "the note is copied");
        h.clear();
        h.append("A", "1");
        assert!(h.wire().is_some());
        h.set("A", "");
        assert_eq!(h.wire(), None, "an empty value is dropped from the head");
        h.clear();
        for name in ["Server", "Connection", "X-Sendfile", "Content-Encoding"] {
            h.append(name, "v");
            assert_eq!(h.wire(), None, "{name}");
            h.clear();
        }
        h.append("Content-Length", "1");
        assert_eq!(h.wire(), Some(&b"Content-Length: 1\r\n"[..]));
    }

    #[test]
    fn lines_are_the_fields_as_sent() {
        let mut h = Headers::new();
        h.append("A", "1");
        h.add_joined("a", "2");
        h.append("Empty", "");
        h.add_joined("Empty", "x");
        h.set("B", "long value");
        h.set("b", "v");
        let lines: Vec<_> = h.lines().map(|(n, v, l)| (n, v, l.to_vec())).collect();
        assert_eq!(
            lines,
            vec![
                ("A", "1, 2", b"A: 1, 2\r\n".to_vec()),
                ("Empty", "x", b"Empty: x\r\n".to_vec()),
                ("B", "v", b"B: v\r\n".to_vec()),
            ]
        );
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
