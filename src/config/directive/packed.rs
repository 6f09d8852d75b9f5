//! The directive table as it is stored in the binary: every string of the
//! registry in one byte array, each entry naming its strings by offset and
//! length. Built at compile time from the readable `&str` list in
//! `directive.rs`, which itself is never emitted.
//!
//! Why: in a position-independent executable every pointer stored in a
//! static (each `&str` of a table) needs a relocation, so a table of
//! `&str`s lands in `.data.rel.ro`, which the dynamic linker writes at
//! startup: private memory in every process, whether the table is used or
//! not. Offsets need no relocation, so this table stays in `.rodata` (clean
//! file pages that are dropped after startup). 260 entries of four `&str`s
//! were 18.7 KiB of RELRO.

use super::{DirectiveInfo, Scope, ValueType};

/// Where one string lies in `Registry::text`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u16,
    len: u16,
}

/// One directive: `DirectiveInfo` with offsets for its strings (an empty
/// `alias` stands for no alias: no directive aliases the empty name).
#[derive(Debug, Clone, Copy)]
struct Entry {
    name: Span,
    default: Span,
    module: Span,
    alias: Span,
    ty: ValueType,
    scope: Scope,
}

/// The directive registry: `N` entries whose strings take `TEXT` bytes.
#[derive(Debug)]
pub struct Registry<const TEXT: usize, const N: usize> {
    text: [u8; TEXT],
    entries: [Entry; N],
}

/// The strings of an entry in the order they are laid out. A module equal
/// to the previous entry's (entries are grouped by module) is not stored
/// again.
const fn fields(list: &[DirectiveInfo], i: usize) -> [&'static str; 4] {
    let d = &list[i];
    let module = if i > 0 && str_eq(d.module, list[i - 1].module) {
        ""
    } else {
        d.module
    };
    let alias = match d.alias_of {
        Some(a) => a,
        None => "",
    };
    [d.name, d.default, module, alias]
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// How many bytes of text `pack` needs for `list`.
pub const fn text_len(list: &[DirectiveInfo]) -> usize {
    let mut total = 0;
    let mut i = 0;
    while i < list.len() {
        let f = fields(list, i);
        total += f[0].len() + f[1].len() + f[2].len() + f[3].len();
        i += 1;
    }
    assert!(
        total <= u16::MAX as usize,
        "directive text needs wider offsets"
    );
    total
}

impl<const TEXT: usize, const N: usize> Registry<TEXT, N> {
    /// The packed form of `list` (`TEXT` = `text_len(list)`, `N` = its length).
    pub const fn pack(list: &[DirectiveInfo]) -> Self {
        assert!(list.len() == N && text_len(list) == TEXT);
        const NONE: Span = Span { start: 0, len: 0 };
        let mut text = [0u8; TEXT];
        let mut entries = [Entry {
            name: NONE,
            default: NONE,
            module: NONE,
            alias: NONE,
            ty: ValueType::Str,
            scope: Scope::Server,
        }; N];
        let mut at = 0;
        let mut i = 0;
        while i < N {
            let strings = fields(list, i);
            let mut spans = [NONE; 4];
            let mut f = 0;
            while f < 4 {
                let bytes = strings[f].as_bytes();
                spans[f] = Span {
                    start: at as u16,
                    len: bytes.len() as u16,
                };
                let mut b = 0;
                while b < bytes.len() {
                    text[at] = bytes[b];
                    at += 1;
                    b += 1;
                }
                f += 1;
            }
            let module = if strings[2].is_empty() && i > 0 {
                entries[i - 1].module
            } else {
                spans[2]
            };
            entries[i] = Entry {
                name: spans[0],
                default: spans[1],
                module,
                alias: spans[3],
                ty: list[i].ty,
                scope: list[i].scope,
            };
            i += 1;
        }
        Registry { text, entries }
    }

    /// Every directive, in the order of the list.
    pub fn iter(&'static self) -> impl ExactSizeIterator<Item = DirectiveInfo> + Clone {
        self.entries.iter().map(|e| self.unpack(e))
    }

    /// The first directive whose name satisfies `pred`.
    pub fn find(&'static self, pred: impl Fn(&str) -> bool) -> Option<DirectiveInfo> {
        let entry = self.entries.iter().find(|e| pred(self.str(e.name)))?;
        Some(self.unpack(entry))
    }

    fn unpack(&'static self, e: &Entry) -> DirectiveInfo {
        let alias = self.str(e.alias);
        DirectiveInfo {
            name: self.str(e.name),
            ty: e.ty,
            default: self.str(e.default),
            scope: e.scope,
            module: self.str(e.module),
            alias_of: (!alias.is_empty()).then_some(alias),
        }
    }

    fn str(&'static self, s: Span) -> &'static str {
        let start = usize::from(s.start);
        self.text
            .get(start..start + usize::from(s.len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &[DirectiveInfo] = &[
        DirectiveInfo {
            name: "a.one",
            ty: ValueType::Int,
            default: "1",
            scope: Scope::Server,
            module: "mod_a",
            alias_of: None,
        },
        DirectiveInfo {
            name: "a.two",
            ty: ValueType::List,
            default: "",
            scope: Scope::Connection,
            module: "mod_a",
            alias_of: Some("a.one"),
        },
        DirectiveInfo {
            name: "b.three",
            ty: ValueType::Bool,
            default: "disable",
            scope: Scope::Socket,
            module: "mod_b",
            alias_of: None,
        },
    ];
    static PACKED: Registry<{ text_len(LIST) }, { LIST.len() }> = Registry::pack(LIST);

    #[test]
    fn unpacks_to_the_list_it_was_built_from() {
        assert!(PACKED.iter().eq(LIST.iter().copied()));
        // "mod_a" is stored once.
        assert_eq!(
            text_len(LIST),
            "a.one1mod_aa.twoa.oneb.threedisablemod_b".len()
        );
    }

    #[test]
    fn find_matches_names() {
        assert_eq!(PACKED.find(|n| n == "a.two"), Some(LIST[1]));
        assert_eq!(PACKED.find(|n| n == "a.on"), None);
    }
}
