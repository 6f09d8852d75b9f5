//! mod_authn_file (lighttpd src/mod_authn_file.c): the `plain`,
//! `htpasswd` and `htdigest` user files behind mod_auth.
//!
//! Files are re-read for every authentication (bounded to 64 MiB); blank
//! lines, `#` comments and lines over 1024 bytes are skipped, CRLF is
//! tolerated. htpasswd hashes: `{SHA}`, `$apr1$`, `$1$` (MD5-crypt),
//! `$5$`/`$6$` (SHA-crypt) and bcrypt `$2a$/$2b$/$2y$`; traditional DES
//! crypt goes to the system `crypt(3)` as in lighttpd.

use std::io::Read;

use md5::{Digest as _, Md5};
use sha1::Sha1;

use crate::config::diagnostic::Diagnostic;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Hook, Module};

/// lighttpd's limit on a user file.
const MAX_FILE: u64 = 64 * 1024 * 1024;
const MAX_LINE: usize = 1024;

/// The module itself has no hooks; mod_auth reads its keys.
pub struct ModAuthnFile;

/// Registry constructor.
pub fn new(_init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModAuthnFile))
}

impl Module for ModAuthnFile {
    fn name(&self) -> &'static str {
        "mod_authn_file"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[]
    }
}

/// Read a user file (None if it cannot be read).
pub fn load(path: &str) -> Option<Vec<u8>> {
    let f = std::fs::File::open(path).ok()?;
    let mut data = Vec::new();
    f.take(MAX_FILE).read_to_end(&mut data).ok()?;
    Some(data)
}

/// The usable lines of a user file, CR stripped.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n').filter_map(|l| {
        if l.is_empty() || l[0] == b'#' || l[0] == b'\r' || l.len() > MAX_LINE {
            return None;
        }
        Some(l.strip_suffix(b"\r").unwrap_or(l))
    })
}

/// `user:password` lookup (plain and htpasswd files): the second field.
pub fn find_password(data: &[u8], user: &str) -> Option<String> {
    lines(data).find_map(|l| {
        let colon = l.iter().position(|&b| b == b':')?;
        (&l[..colon] == user.as_bytes())
            .then(|| String::from_utf8_lossy(&l[colon + 1..]).into_owned())
    })
}

/// An htdigest entry: `user:realm:hexdigest[:userhash]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestEntry {
    pub user: String,
    pub digest: Vec<u8>,
}

/// Find the htdigest entry of `user` (or, with `by_userhash`, of the entry
/// whose 4th field equals `user`) in `realm` whose digest has `dlen` bytes.
pub fn find_htdigest(
    data: &[u8],
    user: &str,
    realm: &str,
    dlen: usize,
    by_userhash: bool,
) -> Option<DigestEntry> {
    lines(data).find_map(|l| {
        let mut f = l.splitn(4, |&b| b == b':');
        let (u, r, d) = (f.next()?, f.next()?, f.next()?);
        let uh = f.next();
        let user_ok = if by_userhash {
            uh.is_some_and(|uh| constant_eq(uh, user.as_bytes()))
        } else {
            u == user.as_bytes()
        };
        if !user_ok || r != realm.as_bytes() || d.len() != dlen * 2 {
            return None;
        }
        Some(DigestEntry {
            user: String::from_utf8_lossy(u).into_owned(),
            digest: from_hex(d)?,
        })
    })
}

/// Decode lowercase/uppercase hex.
pub fn from_hex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks(2)
        .map(|p| {
            let h = (p[0] as char).to_digit(16)?;
            let l = (p[1] as char).to_digit(16)?;
            Some((h * 16 + l) as u8)
        })
        .collect()
}

/// Constant-time byte comparison (length is not secret).
pub fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verify a password against an htpasswd hash.
pub fn verify_htpasswd(hash: &str, pw: &str) -> bool {
    if let Some(b64) = hash.strip_prefix("{SHA}") {
        let digest = Sha1::digest(pw.as_bytes());
        return base64_decode(b64.as_bytes()).is_some_and(|d| constant_eq(&d, &digest));
    }
    if let Some(rest) = hash.strip_prefix("$apr1$") {
        return constant_eq(
            md5_crypt(pw.as_bytes(), rest.as_bytes(), "$apr1$").as_bytes(),
            hash.as_bytes(),
        );
    }
    if hash.len() < 13 {
        return false;
    }
    if let Some(rest) = hash.strip_prefix("$1$") {
        return constant_eq(
            md5_crypt(pw.as_bytes(), rest.as_bytes(), "$1$").as_bytes(),
            hash.as_bytes(),
        );
    }
    if hash.starts_with("$5$") || hash.starts_with("$6$") {
        return sha_crypt_matches(hash, pw);
    }
    if ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| hash.starts_with(p))
    {
        return bcrypt::verify(pw, hash).unwrap_or(false);
    }
    // Anything else (traditional DES, …) as lighttpd: the system crypt(3).
    crate::sys::crypt(pw, hash).is_some_and(|c| constant_eq(c.as_bytes(), hash.as_bytes()))
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn to64(out: &mut String, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(char::from(ITOA64[(v & 0x3f) as usize]));
        v >>= 6;
    }
}

/// MD5-crypt (`$1$`) and Apache's `$apr1$` variant: `salt` is the text
/// after the magic (up to 8 chars before `$`).
pub fn md5_crypt(pw: &[u8], salt: &[u8], magic: &str) -> String {
    let sl = salt
        .iter()
        .take(8)
        .position(|&b| b == b'$')
        .unwrap_or(salt.len().min(8));
    let salt = &salt[..sl];
    let alt = Md5::new()
        .chain_update(pw)
        .chain_update(salt)
        .chain_update(pw)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(pw)
        .chain_update(magic.as_bytes())
        .chain_update(salt);
    let mut pl = pw.len();
    while pl > 0 {
        let n = pl.min(16);
        ctx.update(&alt[..n]);
        pl -= n;
    }
    let mut i = pw.len();
    while i != 0 {
        ctx.update(if i & 1 == 1 { &[0u8][..] } else { &pw[..1] });
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for i in 0..1000 {
        let mut c = Md5::new();
        if i & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(pw);
        }
        if i & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }
    let f = |i: usize| u32::from(fin[i]);
    let mut out = format!("{magic}{}$", String::from_utf8_lossy(salt));
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64(&mut out, (f(a) << 16) | (f(b) << 8) | f(c), 4);
    }
    to64(&mut out, f(11), 2);
    out
}

/// `$5$[rounds=N$]salt$hash` / `$6$...` (glibc SHA-crypt).
fn sha_crypt_matches(hash: &str, pw: &str) -> bool {
    let sha512 = hash.starts_with("$6$");
    let mut parts = hash[3..].splitn(3, '$');
    let (Some(first), Some(second)) = (parts.next(), parts.next()) else {
        return false;
    };
    let (rounds, salt, expected) = match first.strip_prefix("rounds=") {
        Some(n) => match (n.parse::<usize>(), parts.next()) {
            (Ok(n), Some(h)) => (n.clamp(1000, 999_999_999), second, h),
            _ => return false,
        },
        None => (5000, first, second),
    };
    let salt = &salt.as_bytes()[..salt.len().min(16)];
    let computed = if sha512 {
        sha_crypt::Sha512Params::new(rounds)
            .ok()
            .and_then(|p| sha_crypt::sha512_crypt_b64(pw.as_bytes(), salt, &p).ok())
    } else {
        sha_crypt::Sha256Params::new(rounds)
            .ok()
            .and_then(|p| sha_crypt::sha256_crypt_b64(pw.as_bytes(), salt, &p).ok())
    };
    computed.is_some_and(|c| constant_eq(c.as_bytes(), expected.as_bytes()))
}

/// Standard base64 as lighttpd decodes it; None if invalid or empty.
pub fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    crate::b64::decode(s, crate::b64::Charset::Standard).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htpasswd_hash_kinds() {
        // Made with `openssl passwd -apr1/-1/-5/-6`; {SHA} is base64(sha1);
        // the bcrypt one is OpenBSD's test vector.
        let table = [
            ("$apr1$dtVlxNQL$K7/qYoyFLO/5z1AXnJ1Kk0", "secret"),
            ("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret"),
            ("$1$saltsalt$9xy1btjgzLYfb7hivXtC//", "secret"),
            ("$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA", "secret"),
            ("$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1", "secret"),
            ("$5$rounds=1000$abc$Mz4DiYKTnNKbZLo/mIp3d8Y4aQBhv3uhSwxLDy55/Y8", "secret"),
            ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
            // Traditional DES (perl crypt("test", "ab")), via crypt(3).
            ("abgOeLfPimXQo", "test"),
        ];
        for (hash, pw) in table {
            assert!(verify_htpasswd(hash, pw), "{hash}");
            assert!(!verify_htpasswd(hash, "wrong"), "{hash}");
        }
        assert!(
            !verify_htpasswd("secret", "secret"),
            "plain text is not accepted"
        );
        assert!(!verify_htpasswd("$6$x", "x"));
        assert!(!verify_htpasswd("{SHA}!!!", "x"));
    }

    #[test]
    fn md5_crypt_known_vectors() {
        // Well-known vector of FreeBSD MD5-crypt.
        assert_eq!(
            md5_crypt(b"password", b"saltsalt", "$1$"),
            "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"
        );
        assert_eq!(
            md5_crypt(b"", b"x$y", "$apr1$").len(),
            "$apr1$x$".len() + 22
        );
    }

    #[test]
    fn file_lines() {
        let data = b"# comment\n\nbob:pw1\r\nalice:a:b\n".to_vec();
        assert_eq!(find_password(&data, "bob").as_deref(), Some("pw1"));
        assert_eq!(find_password(&data, "alice").as_deref(), Some("a:b"));
        assert_eq!(find_password(&data, "# comment"), None);
        let long = [b"carol:".to_vec(), vec![b'x'; 1100]].concat();
        assert_eq!(find_password(&long, "carol"), None);
        let hd = b"bob:realm:0123456789abcdef0123456789abcdef:feedface\r\n";
        let e = find_htdigest(hd, "bob", "realm", 16, false).expect("found");
        assert_eq!(e.digest[..2], [0x01, 0x23]);
        assert!(find_htdigest(hd, "bob", "other", 16, false).is_none());
        assert!(find_htdigest(hd, "bob", "realm", 32, false).is_none());
        assert_eq!(
            find_htdigest(hd, "feedface", "realm", 16, true).map(|e| e.user),
            Some("bob".into())
        );
    }

    #[test]
    fn base64_like_lighttpd() {
        assert_eq!(base64_decode(b"Ym9iOnB3").as_deref(), Some(&b"bob:pw"[..]));
        assert_eq!(
            base64_decode(b"Ym9i OnB3\r\n").as_deref(),
            Some(&b"bob:pw"[..])
        );
        assert_eq!(base64_decode(b"YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode(b"Ym9i!garbage").as_deref(), Some(&b"bob"[..]));
        assert_eq!(base64_decode(b"Y"), None);
        assert_eq!(base64_decode(b"!"), None);
    }
}
