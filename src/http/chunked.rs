//! Incremental decoder for `Transfer-Encoding: chunked` request bodies, with
//! lighttpd's limits and statuses (lighttpd src/connections.c
//! `connection_handle_read_post_chunked`): hex size (both cases, at most
//! 2^59), optional blanks then `\r` or `;ext` up to LF, size line under 1024
//! bytes, CRLF after each chunk's data, trailers read up to the blank line and
//! discarded. Every error is 400, except a body over the size limit (413).
//! Backends' own chunked response bodies use the same decoder through
//! [`ChunkedDecoder::feed_response`] (errors there are 502).

/// Longest chunk-size line lighttpd accepts (including its LF).
const MAX_SIZE_LINE: usize = 1024;
/// lighttpd refuses sizes above 2^59 - 3 before the next hex digit.
const MAX_CHUNK: u64 = (1 << 59) - 3;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size line.
    Size(Vec<u8>),
    /// Copying chunk data.
    Data(u64),
    /// Expecting the CRLF after chunk data; true once the CR was seen.
    DataEnd(bool),
    /// After the last chunk: the size line's last two bytes plus trailers,
    /// until `\r\n\r\n`.
    Trailers(Vec<u8>),
    /// The blank line after the trailers was read; they are kept (from
    /// the CRLF ending the last chunk's size line).
    Done(Vec<u8>),
}

/// See [`ChunkedDecoder::resume_point`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Inside a chunk: `left` data bytes, then its CRLF (only the LF once
    /// `cr_seen`), are still to come.
    Chunk { left: u64, cr_seen: bool },
    /// Between chunks: the start of the next size line (or of the last
    /// chunk and its trailers) that arrived.
    Line(Vec<u8>),
}

/// Decodes one chunked body; feed it bytes as they arrive.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// 0 = unlimited (`server.max-request-size` in bytes).
    max_body: u64,
    /// Size line of the last chunk plus trailers (`server.max-request-field-size`).
    max_trailers: usize,
    last_line_len: usize,
    decoded: u64,
    trailers_cut: bool,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    /// No body limit; trailers limited to 8192 bytes as by default in lighttpd.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder::with_limits(0, 8192)
    }

    /// `max_body`: 413 once the decoded body would exceed it (0 = no limit).
    /// `max_trailers`: beyond this the trailers are dropped, the body ends and
    /// the connection must not be kept alive ([`Self::trailers_cut`]).
    pub fn with_limits(max_body: u64, max_trailers: usize) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size(Vec::new()),
            max_body,
            max_trailers,
            last_line_len: 0,
            decoded: 0,
            trailers_cut: false,
        }
    }

    /// Decodes from `input` into `out`; returns how many input bytes were
    /// used. After [`Self::is_done`] the unused rest belongs to the next request.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, u16> {
        let mut used = 0;
        while used < input.len() && !self.is_done() {
            used += self.step(&input[used..], out)?;
        }
        Ok(used)
    }

    /// The terminating chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done(_))
    }

    /// After [`Self::is_done`]: the trailer lines, each with its line end
    /// (empty when there were none, or when they were cut off).
    pub fn trailers(&self) -> &[u8] {
        match &self.state {
            State::Done(t) => t.get(2..t.len().saturating_sub(2)).unwrap_or(b""),
            _ => b"",
        }
    }

    /// Where the coding stands, for re-framing the bytes decoded so far as
    /// the start of a pass-through of the rest.
    pub fn resume_point(&self) -> Resume {
        match &self.state {
            State::Data(left) => Resume::Chunk {
                left: *left,
                cr_seen: false,
            },
            State::DataEnd(cr_seen) => Resume::Chunk {
                left: 0,
                cr_seen: *cr_seen,
            },
            State::Size(line) => Resume::Line(line.clone()),
            // the last chunk's size line is "0" plus (at least) its CRLF
            State::Trailers(buf) => Resume::Line([b"0".as_slice(), buf].concat()),
            State::Done(_) => Resume::Line(Vec::new()),
        }
    }

    /// lighttpd `http_response_write_prepare` ("reconstitute initial
    /// partially-decoded chunk"): `decoded` bytes, already decoded, start
    /// a body whose rest passes on still chunked. Returns the chunk size
    /// line to put before them (None: no line) and the bytes after them.
    pub fn reframe(decoded: u64, resume: &Resume) -> (Option<u64>, Vec<u8>) {
        let (size, tail) = match resume {
            Resume::Chunk { left, cr_seen } => (
                decoded + left,
                if *cr_seen { b"\r".to_vec() } else { Vec::new() },
            ),
            Resume::Line(line) if decoded > 0 => (decoded, [b"\r\n".as_slice(), line].concat()),
            Resume::Line(line) => (0, line.clone()),
        };
        ((size > 0).then_some(size), tail)
    }

    /// A backend's own chunked response body (lighttpd
    /// `http_chunk_decode_append_data`): bytes after the last chunk are an
    /// error ("excess data"), as is any malformed framing. Without `raw` the
    /// decoded bytes go to `out`, including those before an error in this
    /// input; with `raw` (passed on still chunked) `out` gets `input` itself,
    /// and nothing of an input that fails.
    pub fn feed_response(&mut self, input: &[u8], raw: bool, out: &mut Vec<u8>) -> Result<(), u16> {
        if raw {
            let mut scratch = Vec::new();
            self.feed_response(input, false, &mut scratch)?;
            out.extend_from_slice(input);
            return Ok(());
        }
        if self.is_done() && !input.is_empty() {
            return Err(502);
        }
        let used = self.decode(input, out).map_err(|_| 502u16)?;
        if used < input.len() {
            return Err(502);
        }
        Ok(())
    }

    /// Decoded body bytes so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Trailers were too long and cut off (lighttpd then disables keep-alive).
    pub fn trailers_cut(&self) -> bool {
        self.trailers_cut
    }

    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, u16> {
        match &mut self.state {
            State::Size(line) => {
                let (n, complete) = match input.iter().position(|&c| c == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (input.len(), false),
                };
                line.extend_from_slice(&input[..n]);
                if line.len() >= MAX_SIZE_LINE {
                    return Err(400);
                }
                if complete {
                    let line = std::mem::take(line);
                    self.size_line(&line)?;
                }
                Ok(n)
            }
            State::Data(left) => {
                let n = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                out.extend_from_slice(&input[..n]);
                *left -= n as u64;
                if *left == 0 {
                    self.state = State::DataEnd(false);
                }
                Ok(n)
            }
            State::DataEnd(seen_cr) => match (*seen_cr, input[0]) {
                (false, b'\r') => {
                    *seen_cr = true;
                    Ok(1)
                }
                (true, b'\n') => {
                    self.state = State::Size(Vec::new());
                    Ok(1)
                }
                _ => Err(400),
            },
            State::Trailers(buf) => {
                for (i, &c) in input.iter().enumerate() {
                    buf.push(c);
                    if buf.ends_with(b"\r\n\r\n") {
                        self.state = State::Done(std::mem::take(buf));
                        return Ok(i + 1);
                    }
                    if self.last_line_len - 2 + buf.len() >= self.max_trailers {
                        self.trailers_cut = true;
                        self.state = State::Done(Vec::new());
                        return Ok(input.len());
                    }
                }
                Ok(input.len())
            }
            State::Done(_) => Ok(0),
        }
    }

    /// Parses a complete chunk-size line (with its LF).
    fn size_line(&mut self, line: &[u8]) -> Result<(), u16> {
        let mut size: u64 = 0;
        let mut i = 0;
        while let Some(d) = line.get(i).and_then(|&c| (c as char).to_digit(16)) {
            if size > MAX_CHUNK {
                return Err(400);
            }
            size = (size << 4) | u64::from(d);
            i += 1;
        }
        if i == 0 {
            return Err(400);
        }
        while matches!(line.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if !matches!(line.get(i), Some(b'\r' | b';')) || line.contains(&0) {
            return Err(400);
        }
        if size == 0 {
            self.last_line_len = line.len();
            self.state = State::Trailers(line[line.len() - 2..].to_vec());
            return Ok(());
        }
        if self.max_body != 0 && (size > self.max_body || self.max_body - size < self.decoded) {
            return Err(413);
        }
        self.decoded += size;
        self.state = State::Data(size);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Result<(Vec<u8>, usize), u16> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let n = d.decode(input, &mut out)?;
        assert!(d.is_done(), "not done: {input:?}");
        Ok((out, n))
    }

    fn bytewise(input: &[u8]) -> Result<(Vec<u8>, usize), u16> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut used = 0;
        for i in 0..input.len() {
            if d.is_done() {
                break;
            }
            used += d.decode(&input[i..=i], &mut out)?;
        }
        Ok((out, used))
    }

    #[test]
    fn decodes_whole_or_byte_by_byte() {
        let body = b"5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\n\r\nNEXT";
        for f in [all, bytewise] {
            let (out, n) = f(body).unwrap();
            assert_eq!(out, b"hello0123456789");
            assert_eq!(&body[n..], b"NEXT");
        }
        let (out, _) = all(b"a \t\r\n0123456789\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n").unwrap();
        assert_eq!(out.len(), 10);
        assert_eq!(all(b"0\r\n\r\n").unwrap(), (vec![], 5));
        assert_eq!(all(b"3\r\nabc\r\n0;x\r\n\r\n").unwrap().0, b"abc");
        // as lighttpd: after ';' the size line may end in a bare LF
        assert_eq!(all(b"5;e=1\nhello\r\n0\r\n\r\n").unwrap().0, b"hello");
        // ... but then the last chunk's blank line is never recognised (lighttpd waits)
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.decode(b"0;x\n\r\n", &mut Vec::new()), Ok(6));
        assert!(!d.is_done());
    }

    #[test]
    fn incomplete_input_waits() {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        assert_eq!(d.decode(b"5\r\nhel", &mut out), Ok(6));
        assert!(!d.is_done());
        assert_eq!(d.decode(b"lo\r", &mut out), Ok(3));
        assert_eq!(d.decode(b"\n0\r\n\r", &mut out), Ok(5));
        assert!(!d.is_done());
        assert_eq!(d.decode(b"\n", &mut out), Ok(1));
        assert!(d.is_done());
        assert_eq!(out, b"hello");
        assert_eq!(d.decoded_len(), 5);
    }

    #[test]
    fn errors() {
        for bad in [
            &b"Z\r\n"[..],
            b"0x1\r\nx\r\n0\r\n\r\n",
            b"\r\n",
            b"5\n",
            b"5 x\r\n",
            b"-1\r\n",
            b"5\r\nhelloXX",
            b"5\r\nhello\rX",
            b"5\r\nhello\n",
            b"10000000000000000\r\n",
            b"5;a\0b\r\n",
        ] {
            let mut d = ChunkedDecoder::new();
            assert_eq!(d.decode(bad, &mut Vec::new()), Err(400), "{bad:?}");
        }
        let long = [b"5;".as_slice(), &[b'x'; 1100]].concat();
        assert_eq!(
            ChunkedDecoder::new().decode(&long, &mut Vec::new()),
            Err(400)
        );
        // 2^59 - 1 is still fine as a size; one more digit is not
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.decode(b"7ffffffffffffff\r\n", &mut Vec::new()), Ok(17));
    }

    #[test]
    fn response_bodies_decode_or_pass_raw_and_refuse_excess() {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        assert_eq!(d.feed_response(b"5;x=1\r\nhel", false, &mut out), Ok(()));
        assert_eq!(d.feed_response(b"lo\r\n0\r\n", true, &mut out), Ok(()));
        assert_eq!(out, b"hello\r\n0\r\n");
        assert_eq!(d.feed_response(b"T: 1\r\n\r\n", true, &mut out), Ok(()));
        assert!(d.is_done());
        assert_eq!(d.feed_response(b"x", false, &mut out), Err(502));
        // excess data in the same input as the last chunk
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        assert_eq!(
            d.feed_response(b"2\r\nab\r\n0\r\n\r\nX", false, &mut out),
            Err(502)
        );
        assert_eq!(out, b"ab");
        // decoded bytes before an error are kept; raw input that fails is not
        for (raw, kept) in [(false, &b"hello"[..]), (true, b"")] {
            let mut d = ChunkedDecoder::new();
            let mut out = Vec::new();
            let r = d.feed_response(b"5\r\nhello\r\nZZ\r\n", raw, &mut out);
            assert_eq!((r, &out[..]), (Err(502), kept));
        }
        // an endless extension or a huge size fails within bounded input
        let ext = [b"3;".as_slice(), &[b'x'; 2000]].concat();
        assert_eq!(
            ChunkedDecoder::new().feed_response(&ext, false, &mut Vec::new()),
            Err(502)
        );
        let huge = b"fffffffffffffffffff\r\nabc";
        assert_eq!(
            ChunkedDecoder::new().feed_response(huge, false, &mut Vec::new()),
            Err(502)
        );
    }

    #[test]
    fn resume_points_and_trailers() {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut at = |input: &[u8]| {
            d.decode(input, &mut out).unwrap();
            d.resume_point()
        };
        assert_eq!(
            at(b"5\r\nhel"),
            Resume::Chunk {
                left: 2,
                cr_seen: false
            }
        );
        assert_eq!(
            at(b"lo"),
            Resume::Chunk {
                left: 0,
                cr_seen: false
            }
        );
        assert_eq!(
            at(b"\r"),
            Resume::Chunk {
                left: 0,
                cr_seen: true
            }
        );
        assert_eq!(at(b"\n1"), Resume::Line(b"1".to_vec()));
        assert_eq!(at(b"\r\n!\r\n0\r\nX"), Resume::Line(b"0\r\nX".to_vec()));
        at(b": 1\r\n\r\n");
        assert!(d.is_done());
        assert_eq!(d.trailers(), b"X: 1\r\n");
        assert_eq!(
            ChunkedDecoder::reframe(0, &Resume::Line(b"1".to_vec())),
            (None, b"1".to_vec())
        );
    }

    #[test]
    fn limits() {
        let mut d = ChunkedDecoder::with_limits(8, 8192);
        let mut out = Vec::new();
        assert_eq!(d.decode(b"5\r\nhello\r\n", &mut out), Ok(10));
        assert_eq!(d.decode(b"4\r\n", &mut out), Err(413));
        let mut d = ChunkedDecoder::with_limits(0, 32);
        let input = [b"0\r\n".as_slice(), &[b'x'; 64]].concat();
        assert_eq!(d.decode(&input, &mut Vec::new()), Ok(input.len()));
        assert!(d.is_done() && d.trailers_cut());
    }
}
