//! Base64 as lighttpd reads and writes it (its `li_base64_dec`): the `base64`
//! crate does the coding; this module adds lighttpd's leniency around it.
//! Spaces and control characters are skipped, decoding stops at `=` or at the
//! first other character outside the alphabet, and a lone trailing character
//! (or a stop at NUL) makes the whole input invalid.

use base64::alphabet::{Alphabet, STANDARD, URL_SAFE};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

/// Which of lighttpd's two alphabets: `+/` (BASE64_STANDARD) or `-_` (BASE64_URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Standard,
    Url,
}

fn engine(charset: Charset) -> GeneralPurpose {
    let alphabet: &Alphabet = match charset {
        Charset::Standard => &STANDARD,
        Charset::Url => &URL_SAFE,
    };
    let config = GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true);
    GeneralPurpose::new(alphabet, config)
}

fn in_alphabet(b: u8, charset: Charset) -> bool {
    b.is_ascii_alphanumeric()
        || match charset {
            Charset::Standard => b == b'+' || b == b'/',
            Charset::Url => b == b'-' || b == b'_',
        }
}

/// Decodes `input` as lighttpd does; None when it is invalid.
pub fn decode(input: &[u8], charset: Charset) -> Option<Vec<u8>> {
    let mut sextets = Vec::with_capacity(input.len());
    for &b in input {
        match b {
            _ if in_alphabet(b, charset) => sextets.push(b),
            1..=0x20 => continue,
            0 => return None,
            _ => break,
        }
    }
    engine(charset).decode(&sextets).ok()
}

/// Encodes without padding (lighttpd's `buffer_append_base64_encode_no_padding`).
pub fn encode_no_padding(data: &[u8], charset: Charset) -> String {
    engine(charset).encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std(s: &[u8]) -> Option<Vec<u8>> {
        decode(s, Charset::Standard)
    }

    #[test]
    fn decodes_like_lighttpd() {
        assert_eq!(std(b"Ym9iOnB3").as_deref(), Some(&b"bob:pw"[..]));
        assert_eq!(std(b"Ym9i OnB3\r\n").as_deref(), Some(&b"bob:pw"[..]));
        assert_eq!(std(b"YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(std(b"YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(std(b"Ym9i!garbage").as_deref(), Some(&b"bob"[..]));
        assert_eq!(std(b"Y"), None);
        assert_eq!(std(b"Ym9iY"), None);
        assert_eq!(std(b"Ym9i\0"), None);
        assert_eq!(std(b"!").as_deref(), Some(&b""[..]));
        assert_eq!(std(b"-_8"), Some(Vec::new()));
    }

    #[test]
    fn url_alphabet_round_trips() {
        let data = [0xfbu8, 0xff, 0xbf, 0x00, 0x41];
        let enc = encode_no_padding(&data, Charset::Url);
        assert_eq!(enc, "-_-_AEE");
        assert_eq!(
            decode(enc.as_bytes(), Charset::Url).as_deref(),
            Some(&data[..])
        );
        assert_eq!(decode(b"+/", Charset::Url), Some(Vec::new()));
    }
}
