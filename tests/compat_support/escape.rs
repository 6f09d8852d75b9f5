//! The byte escaping shared by case files and recorded answers.
//!
//! Text form: printable ASCII stands for itself; `\r \n \t \0 \\` and `\xHH` stand for
//! the other bytes. A file's own line breaks carry no bytes, so a request or response is
//! written one line per `\n`-terminated piece and long bodies may be wrapped anywhere.

/// Decodes escaped text (one line or many; real newlines are dropped) into bytes.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        match b {
            b'\n' => {}
            b'\\' => {
                let code = *bytes.get(i).ok_or("dangling backslash")?;
                i += 1;
                match code {
                    b'r' => out.push(b'\r'),
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'0' => out.push(0),
                    b'\\' => out.push(b'\\'),
                    b'x' => {
                        let hex = text.get(i..i + 2).ok_or("short \\x escape")?;
                        let value = u8::from_str_radix(hex, 16)
                            .map_err(|_| format!("bad \\x escape: \\x{hex}"))?;
                        out.push(value);
                        i += 2;
                    }
                    other => return Err(format!("unknown escape \\{}", other as char)),
                }
            }
            _ => out.push(b),
        }
    }
    Ok(out)
}

/// Escapes bytes into lines: a line ends after every `\n` byte and otherwise after
/// `wrap` characters (0 = never). A line never starts with `=` (reserved for markers)
/// and never ends with a space (editors strip those).
pub fn escape_lines(bytes: &[u8], wrap: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for &b in bytes {
        let piece = match b {
            b'\r' => "\\r".to_string(),
            b'\n' => "\\n".to_string(),
            b'\t' => "\\t".to_string(),
            b'\\' => "\\\\".to_string(),
            b'=' if line.is_empty() => "\\x3d".to_string(),
            0x20..=0x7e => (b as char).to_string(),
            _ => format!("\\x{b:02x}"),
        };
        line.push_str(&piece);
        if b == b'\n' || (wrap > 0 && line.len() >= wrap) {
            lines.push(finish_line(std::mem::take(&mut line)));
        }
    }
    if !line.is_empty() {
        lines.push(finish_line(line));
    }
    lines
}

fn finish_line(mut line: String) -> String {
    if line.ends_with(' ') {
        line.pop();
        line.push_str("\\x20");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let raw = b"GET / HTTP/1.1\r\n=x \\ \x00\xff \r\n\r\nbody";
        let text = escape_lines(raw, 10).join("\n");
        assert_eq!(unescape(&text).unwrap(), raw.to_vec());
    }

    #[test]
    fn rejects_bad_escapes() {
        assert!(unescape("\\q").is_err());
        assert!(unescape("\\x4").is_err());
        assert!(unescape("\\").is_err());
    }
}
