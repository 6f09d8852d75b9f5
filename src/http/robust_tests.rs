//! Deterministic mini-fuzzing run by `cargo test`: the same properties as
//! the cargo-fuzz targets in fuzz/, over mutations of seed inputs, so no
//! nightly toolchain is needed to catch panics and inconsistencies.

use crate::config::core::ParseOpts;
use crate::http::chunked::ChunkedDecoder;
use crate::http::h1::parse_head;
use crate::http::range::{parse_range, RangeSpec};
use crate::http::uri::{parse_target_bytes, path_simplify};

/// xorshift64*: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const ALPHABET: &[u8] = b"\r\n :;,/.?#%2Ff0-9aAzZ\t\x00\x7f\xff\xc3\xa9*\"=W";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 if !v.is_empty() => {
                v.remove(at.min(v.len() - 1));
            }
            1 => v.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            2 if at < v.len() => v[at] = ALPHABET[rng.below(ALPHABET.len())],
            _ => {
                let from = rng.below(v.len() + 1);
                let len = rng.below(8).min(v.len() - from);
                let piece: Vec<u8> = v[from..from + len].to_vec();
                v.splice(at..at, piece);
            }
        }
    }
    v
}

fn for_mutations(seeds: &[&[u8]], rounds: usize, mut check: impl FnMut(&[u8], &mut Rng)) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..rounds {
        let seed = seeds[round % seeds.len()];
        let input = mutate(&mut rng, seed);
        check(&input, &mut rng);
    }
}

#[test]
fn head_parser_survives_mutations() {
    let seeds: &[&[u8]] = &[
        b"GET /a%20b/../c?x=1#f HTTP/1.1\r\nHost: Example.com:80\r\nConnection: close\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: [::1]:8080\r\nTransfer-Encoding: chunked\r\nX: a\r\n b\r\n\r\n",
        b"OPTIONS * HTTP/1.0\r\nContent-Length: 12\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
        b"GET http://h.example/p HTTP/1.1\r\nHost: h.example\r\nIf-None-Match: \"1\"\r\n\r\n",
    ];
    for_mutations(seeds, 20_000, |input, rng| {
        let opts = ParseOpts {
            header_strict: rng.below(2) == 0,
            host_strict: rng.below(2) == 0,
            url_normalize: rng.below(4) != 0,
            ..ParseOpts::default()
        };
        match parse_head(input, &opts, 8192) {
            Ok(Some((head, n))) => {
                assert!(n <= input.len() && input[..n].ends_with(b"\n"), "{input:?}");
                assert!(
                    !(head.chunked && head.content_length.is_some()),
                    "{input:?}"
                );
            }
            Ok(None) => assert!(!input.windows(2).any(|w| w == b"\n\n"), "{input:?}"),
            Err(e) => assert!(
                matches!(e.status, 400 | 411 | 431 | 501 | 505),
                "{input:?} {e:?}"
            ),
        }
    });
}

#[test]
fn normalised_targets_are_stable() {
    let seeds: &[&[u8]] = &[
        b"/a/./b/../%2e%2E/c%2fd?q=%7e%20x#frag",
        b"//x/y/../../..?a?b",
        b"/%c3%a9t%C3%A9/%41%2F%25",
        b"/dir/sub/./../f.txt",
    ];
    let opts = ParseOpts::default();
    for_mutations(seeds, 20_000, |input, _| {
        if let Ok(t) = parse_target_bytes(input, &opts) {
            assert!(t.path.starts_with('/'), "{input:?}");
            let again = parse_target_bytes(t.target.as_bytes(), &opts);
            assert_eq!(again.map(|a| a.target), Ok(t.target.clone()), "{input:?}");
        }
        assert!(path_simplify(input).len() <= input.len() + 1);
    });
}

#[test]
fn chunked_outcome_independent_of_split() {
    let seeds: &[&[u8]] = &[
        b"5\r\nhello\r\nA;x=y\r\n0123456789\r\n0\r\nT: 1\r\n\r\nNEXT",
        b"1\r\nx\r\n0\r\n\r\n",
        b"fF \t\r\n",
    ];
    let run = |parts: &[&[u8]]| -> Result<(Vec<u8>, usize, bool), u16> {
        let mut d = ChunkedDecoder::with_limits(1 << 20, 64);
        let mut out = Vec::new();
        let mut used = 0;
        for p in parts {
            if d.is_done() {
                break;
            }
            used += d.decode(p, &mut out)?;
        }
        Ok((out, used, d.is_done()))
    };
    for_mutations(seeds, 20_000, |input, rng| {
        let at = rng.below(input.len() + 1);
        let whole = run(&[input]);
        assert_eq!(
            whole,
            run(&[&input[..at], &input[at..]]),
            "{input:?} at {at}"
        );
    });
}

#[test]
fn ranges_stay_inside_the_body() {
    let seeds: &[&[u8]] = &[b"bytes=0-1,5-,-3,100-200", b"bytes= 7 - 9 ,x,-0"];
    for_mutations(seeds, 20_000, |input, rng| {
        let size = rng.below(300) as u64;
        if let RangeSpec::Ranges(v) = parse_range(&String::from_utf8_lossy(input), size) {
            assert!(!v.is_empty() && v.len() <= 10);
            assert!(
                v.iter().all(|&(a, b)| a <= b && b < size),
                "{input:?} {size} {v:?}"
            );
        }
    });
}

/// A `RequestHead` reused across heads (as connections do) parses every
/// input exactly like a fresh one.
#[test]
fn reused_head_parses_like_a_fresh_one() {
    use crate::http::h1::{parse_head_into, parse_head_with_port, HeadScratch, RequestHead};
    let seeds: &[&[u8]] = &[
        b"GET /a%20b/../c?x=1#f HTTP/1.1\r\nHost: Example.com:80\r\nConnection: close\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: [::1]:8080\r\nTransfer-Encoding: chunked\r\nX: a\r\n b\r\n\r\n",
        b"OPTIONS * HTTP/1.0\r\nContent-Length: 12\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
        b"GET http://h.example/p HTTP/1.1\r\nHost: h.example\r\nIf-None-Match: \"1\"\r\n\r\n",
        b"GET /%2F%2e%2E/x%20y?a%20b HTTP/1.1\r\nHost: 127.0.0.1:0100\r\nX:\r\n  \r\n z \r\n\r\n",
        b"GET //a/./b/%c3%a9?%7e HTTP/1.0\nHost: ex.com.:80\nX: a\n\tb\n\n",
        b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: h:0x50\r\nExpect: 100-continue\r\n\r\n",
    ];
    let mut reused = RequestHead::default();
    let mut scratch = HeadScratch::default();
    for_mutations(seeds, 20_000, |input, rng| {
        let opts = ParseOpts {
            header_strict: rng.below(2) == 0,
            host_strict: rng.below(2) == 0,
            host_normalize: rng.below(2) == 0,
            url_normalize: rng.below(4) != 0,
            url_path_2f_decode: rng.below(2) == 0,
            url_query_20_plus: rng.below(2) == 0,
            url_path_dotseg_remove: rng.below(3) != 0,
            ..ParseOpts::default()
        };
        let port = if rng.below(2) == 0 { 80 } else { 443 };
        let fresh = parse_head_with_port(input, &opts, 8192, port);
        let again = parse_head_into(input, &opts, 8192, port, &mut reused, &mut scratch);
        match (fresh, again) {
            (Ok(Some((h, n))), Ok(Some(m))) => assert!(h == reused && n == m, "{input:?}"),
            (Ok(None), Ok(None)) => {}
            (Err(e), Err(f)) => assert_eq!(e, f, "{input:?}"),
            (a, b) => panic!("{input:?}: {a:?} vs {b:?}"),
        }
    });
}
