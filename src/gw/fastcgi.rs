//! The FastCGI record codec (lighttpd src/mod_fastcgi.c, FastCGI 1.0
//! specification): BEGIN_REQUEST + PARAMS (the CGI environment as
//! name-value pairs) + STDIN records towards the backend; STDOUT, STDERR
//! and END_REQUEST records back. Request id is always 1 and connections are
//! never kept (as lighttpd). Decoding is bounded: a record is at most
//! 8 + 65535 + 255 bytes, so at most one partial record is buffered; unknown
//! record types are skipped, hostile lengths cannot make it allocate more.

use super::config::HostConf;
use super::{GwProtocol, Progress};
use crate::chunk::ChunkQueue;
use crate::http::backend_response::Backend;
use crate::request::Request;

const VERSION_1: u8 = 1;
const BEGIN_REQUEST: u8 = 1;
const END_REQUEST: u8 = 3;
const PARAMS: u8 = 4;
const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const STDERR: u8 = 7;
/// Largest record content.
pub const MAX_CONTENT: usize = 65535;
const HEADER_LEN: usize = 8;
/// Largest PARAMS payload lighttpd builds (one record).
const MAX_PARAMS: usize = MAX_CONTENT;
/// FastCGI roles.
pub const ROLE_RESPONDER: u8 = 1;
pub const ROLE_AUTHORIZER: u8 = 2;

/// An 8-byte record header.
pub fn record_header(kind: u8, len: usize, padding: u8) -> [u8; HEADER_LEN] {
    let len = len.min(MAX_CONTENT) as u16;
    let [hi, lo] = len.to_be_bytes();
    [VERSION_1, kind, 0, 1, hi, lo, padding, 0]
}

/// One name-value pair: 1-byte lengths below 128, else 4 bytes with the
/// top bit set.
pub fn encode_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    for len in [name.len(), value.len()] {
        if len > 127 {
            out.extend_from_slice(&((len as u32) | 0x8000_0000).to_be_bytes());
        } else {
            out.push(len as u8);
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

/// BEGIN_REQUEST (role, no keep-conn) plus one PARAMS record with the
/// pairs `env` gives and the empty PARAMS record, encoded in one buffer.
/// Err(400) when the environment does not fit in one record, as lighttpd
/// (it drops pairs that do not fit, then refuses).
pub fn begin_and_params(
    role: u8,
    env: impl FnOnce(&mut dyn FnMut(&str, &str)),
) -> Result<Vec<u8>, u16> {
    let mut out = Vec::with_capacity(2048);
    out.extend_from_slice(&record_header(BEGIN_REQUEST, 8, 0));
    out.extend_from_slice(&[0, role, 0, 0, 0, 0, 0, 0]);
    let params_at = out.len() + HEADER_LEN;
    out.extend_from_slice(&record_header(PARAMS, 0, 0));
    let mut too_big = false;
    env(&mut |k, v| {
        let before = out.len();
        encode_pair(&mut out, k.as_bytes(), v.as_bytes());
        if out.len() - params_at > MAX_PARAMS {
            out.truncate(before);
            too_big = true;
        }
    });
    if too_big {
        return Err(400);
    }
    let params = record_header(PARAMS, out.len() - params_at, 0);
    out[params_at - HEADER_LEN..params_at].copy_from_slice(&params);
    out.extend_from_slice(&record_header(PARAMS, 0, 0));
    Ok(out)
}

/// The decoder state and the request role.
#[derive(Debug, Default)]
pub struct FastCgi {
    /// FastCGI authorizer (role 2) instead of responder.
    pub authorizer: bool,
    /// Bytes of an incomplete record.
    partial: Vec<u8>,
    /// END_REQUEST seen.
    ended: bool,
}

impl FastCgi {
    pub fn new(authorizer: bool) -> FastCgi {
        FastCgi {
            authorizer,
            ..FastCgi::default()
        }
    }

    /// Take one complete record from the front of `buf`: (type, content,
    /// total record length), or None when incomplete.
    fn next_record(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
        let h = buf.get(..HEADER_LEN)?;
        let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
        let total = HEADER_LEN + len + usize::from(h[6]);
        let rec = buf.get(..total)?;
        Some((h[1], &rec[HEADER_LEN..HEADER_LEN + len], total))
    }
}

/// Decode the complete records of `buf`; returns bytes consumed.
fn decode(ended: &mut bool, buf: &[u8], out: &mut Vec<u8>, stderr: &mut Vec<u8>) -> usize {
    let mut used = 0;
    while !*ended {
        let Some((kind, content, total)) = FastCgi::next_record(&buf[used..]) else {
            break;
        };
        match kind {
            STDOUT => out.extend_from_slice(content),
            STDERR => stderr.extend_from_slice(content),
            END_REQUEST => *ended = true,
            _ => {} // lighttpd logs and skips unknown types
        }
        used += total;
    }
    used
}

impl GwProtocol for FastCgi {
    fn backend(&self) -> Backend {
        Backend::FastCgi
    }

    fn create_request(&mut self, r: &Request, host: &HostConf) -> Result<Vec<u8>, u16> {
        let (role, authorizer) = if self.authorizer {
            (ROLE_AUTHORIZER, true)
        } else {
            (ROLE_RESPONDER, false)
        };
        begin_and_params(role, |set| super::env::each(r, host, authorizer, true, set))
    }

    fn feed_body(&mut self, body: &mut ChunkQueue, out: &mut ChunkQueue) {
        while !body.is_empty() {
            let n = body.len().min(MAX_CONTENT as u64);
            out.append_mem(&record_header(STDIN, n as usize, 0));
            body.copy_range(0, n, out);
            body.consume(n);
        }
        out.append_mem(&record_header(STDIN, 0, 0));
    }

    fn process_response(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        let mut stderr = Vec::new();
        if self.partial.is_empty() {
            let used = decode(&mut self.ended, input, out, &mut stderr);
            if !self.ended {
                self.partial.extend_from_slice(&input[used..]);
            }
        } else {
            // a trickled record is appended, never re-copied per read
            self.partial.extend_from_slice(input);
            let used = decode(&mut self.ended, &self.partial, out, &mut stderr);
            if self.ended {
                self.partial.clear();
            } else {
                self.partial.drain(..used);
            }
        }
        if !stderr.is_empty() {
            for line in String::from_utf8_lossy(&stderr).lines() {
                crate::log_error!("FastCGI-stderr:{line}");
            }
        }
        Progress { ended: self.ended }
    }

    fn eof_is_end(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, content: &[u8], padding: u8) -> Vec<u8> {
        let mut v = record_header(kind, content.len(), padding).to_vec();
        v.extend_from_slice(content);
        v.extend(std::iter::repeat(0xAA).take(padding.into()));
        v
    }

    #[test]
    fn pairs_use_short_and_long_lengths() {
        let mut out = Vec::new();
        encode_pair(&mut out, b"A", b"bc");
        assert_eq!(out, b"\x01\x02Abc");
        let long = vec![b'x'; 200];
        let mut out = Vec::new();
        encode_pair(&mut out, b"K", &long);
        assert_eq!(&out[..5], &[1, 0x80, 0, 0, 200]);
        assert_eq!(out.len(), 5 + 1 + 200);
    }

    #[test]
    fn begin_request_layout() {
        let env = [("SCRIPT_NAME", "/x")];
        let req = begin_and_params(ROLE_RESPONDER, |set| {
            env.iter().for_each(|(k, v)| set(k, v))
        })
        .unwrap();
        assert_eq!(
            &req[..16],
            &[1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(&req[16..24], &[1, 4, 0, 1, 0, 15, 0, 0]);
        assert_eq!(&req[req.len() - 8..], &[1, 4, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn oversized_environment_is_400() {
        let big = "v".repeat(70_000);
        let env = [("BIG", big.as_str())];
        assert_eq!(
            begin_and_params(ROLE_RESPONDER, |set| env
                .iter()
                .for_each(|(k, v)| set(k, v))),
            Err(400)
        );
    }

    #[test]
    fn body_is_split_into_stdin_records() {
        let mut body = ChunkQueue::new();
        body.append_mem(&vec![7u8; MAX_CONTENT + 10]);
        let mut out = ChunkQueue::new();
        FastCgi::new(false).feed_body(&mut body, &mut out);
        let mut bytes = Vec::new();
        out.read_into(&mut bytes, usize::MAX).unwrap();
        assert_eq!(&bytes[..8], &[1, STDIN, 0, 1, 0xff, 0xff, 0, 0]);
        let second = 8 + MAX_CONTENT;
        assert_eq!(&bytes[second..second + 8], &[1, STDIN, 0, 1, 0, 10, 0, 0]);
        assert_eq!(&bytes[bytes.len() - 8..], &[1, STDIN, 0, 1, 0, 0, 0, 0]);
        assert!(body.is_empty());
    }

    #[test]
    fn records_decode_across_arbitrary_splits() {
        let mut stream = record(STDOUT, b"Status: 200\r\n\r\nhel", 3);
        stream.extend(record(STDERR, b"warn", 0));
        stream.extend(record(9, b"unknown", 1));
        stream.extend(record(STDOUT, b"lo", 0));
        stream.extend(record(END_REQUEST, &[0; 8], 0));
        stream.extend(b"trailing garbage");
        for split in 0..stream.len() {
            let mut f = FastCgi::new(false);
            let mut out = Vec::new();
            let a = f.process_response(&stream[..split], &mut out);
            let b = f.process_response(&stream[split..], &mut out);
            assert!(b.ended || a.ended, "split {split}");
            assert_eq!(out, b"Status: 200\r\n\r\nhello", "split {split}");
        }
    }

    #[test]
    fn hostile_lengths_buffer_at_most_one_record() {
        let mut f = FastCgi::new(false);
        let mut out = Vec::new();
        // header claims 65535 bytes + 255 padding, then a trickle
        let p = f.process_response(&[1, STDOUT, 0, 1, 0xff, 0xff, 0xff, 0], &mut out);
        assert!(!p.ended);
        for _ in 0..60 {
            f.process_response(&[b'x'; 1000], &mut out);
            assert!(f.partial.len() <= 8 + 65535 + 255);
        }
        assert!(out.is_empty(), "nothing before the record is complete");
        f.process_response(&[b'x'; 5790], &mut out);
        assert_eq!(out.len(), 65535);
        assert!(f.partial.is_empty());
    }

    #[test]
    fn random_input_never_panics_and_stays_bounded() {
        let mut seed = 0x2545_f491_u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for _ in 0..200 {
            let mut f = FastCgi::new(false);
            let mut out = Vec::new();
            for _ in 0..20 {
                let len = next() % 3000;
                let mut chunk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if let Some(b) = chunk.first_mut() {
                    *b = 1; // often a plausible version byte
                }
                if f.process_response(&chunk, &mut out).ended {
                    break;
                }
                assert!(f.partial.len() <= 8 + 65535 + 255);
            }
        }
    }

    #[test]
    fn byte_by_byte_records_decode_in_linear_time() {
        let mut stream = record(STDOUT, &vec![b'q'; 65535], 255);
        stream.extend(record(END_REQUEST, &[0; 8], 0));
        let mut f = FastCgi::new(false);
        let mut out = Vec::new();
        let t = std::time::Instant::now();
        let ended = stream
            .iter()
            .any(|b| f.process_response(std::slice::from_ref(b), &mut out).ended);
        assert!(ended);
        assert_eq!(out.len(), 65535);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn truncated_stream_never_ends() {
        let mut f = FastCgi::new(false);
        let mut out = Vec::new();
        let rec = record(END_REQUEST, &[0; 8], 0);
        assert!(!f.process_response(&rec[..7], &mut out).ended);
        assert!(f.process_response(&rec[7..], &mut out).ended);
    }
}
