//! The raw-socket client: sends each case's bytes and collects what comes back, with
//! every wait bounded. When recording, a send's answer ends when the server falls silent;
//! when replaying, it ends once the recorded number of responses has arrived, and the
//! connection's end state (closed / still open) is then checked against the recording.
//! A TLS connection first does its handshake (tls.rs), whose result is recorded too.

use super::framing::{frame_response, request_methods, Frame, Response};
use super::tls::{handshake, Stream, TlsClient};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Largest answer kept per connection; anything beyond is not read.
const MAX_RECEIVED: usize = 16 << 20;

/// What came back for one send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendOutcome {
    pub responses: Vec<Response>,
    /// Bytes that did not form a complete response.
    pub leftover: Vec<u8>,
    /// The server closed the connection (EOF or reset) after this send.
    pub closed: bool,
}

/// What came back on one connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionOutcome {
    /// TLS connections: the handshake's description (`TLSv1.3 alpn=http/1.1
    /// cert=@TLSPEM@`) or `handshake failed` (then no send was made).
    pub tls: Option<String>,
    /// One entry per send actually made.
    pub sends: Vec<SendOutcome>,
}

/// What to expect for one send when replaying.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    pub responses: usize,
    pub leftover: bool,
    pub closed: bool,
}

/// How long to wait for answers.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Recording: a send's answer is over after this much silence.
    pub idle: Duration,
    /// Replaying: the most to wait for the recorded responses.
    pub patience: Duration,
    /// Replaying: the most to wait for a recorded close.
    pub close_wait: Duration,
    /// Replaying: how long an open connection must stay quiet at the end.
    pub quiet: Duration,
}

struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    received: usize,
    eof: bool,
    methods: VecDeque<String>,
}

enum Read1 {
    Data,
    Eof,
    Timeout,
}

impl Conn {
    fn read_some(&mut self, timeout: Duration) -> Read1 {
        if self.eof || self.received >= MAX_RECEIVED {
            return Read1::Eof;
        }
        let timeout = timeout.max(Duration::from_millis(1));
        if self
            .stream
            .socket()
            .set_read_timeout(Some(timeout))
            .is_err()
        {
            self.eof = true;
            return Read1::Eof;
        }
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.eof = true;
                Read1::Eof
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                self.received += n;
                Read1::Data
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Read1::Timeout
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Read1::Data,
            Err(_) => {
                self.eof = true;
                Read1::Eof
            }
        }
    }

    /// Moves every complete response at the front of the buffer into `out`.
    fn take_responses(&mut self, out: &mut Vec<Response>) {
        loop {
            let head_request = self.methods.front().is_some_and(|m| m == "HEAD");
            match frame_response(&self.buf, head_request, self.eof) {
                Frame::Complete(response, used) => {
                    if response.status() >= 200 {
                        self.methods.pop_front();
                    }
                    self.buf.drain(..used);
                    out.push(response);
                }
                Frame::Incomplete | Frame::Garbage => return,
            }
        }
    }

    /// Reads until EOF or `limit` passes.
    fn wait_for_eof(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Read1::Eof = self.read_some(left) {
                return;
            }
        }
    }
}

/// Runs one connection: connects (with a TLS handshake when `tls` is given), performs
/// each send (already expanded to bytes), and stops after the send at which the server
/// closed. `expect` is `None` when recording.
pub fn run_connection(
    port: u16,
    tls: Option<&TlsClient>,
    sends: &[Vec<u8>],
    expect: Option<&[Expect]>,
    timing: Timing,
) -> Result<ConnectionOutcome, String> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let tcp = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let (stream, summary) = match tls {
        None => (Some(Stream::Plain(tcp)), None),
        Some(client) => {
            let (stream, summary) = handshake(tcp, client, timing.patience);
            (stream, Some(summary))
        }
    };
    let Some(stream) = stream else {
        return Ok(ConnectionOutcome {
            tls: summary,
            sends: Vec::new(),
        });
    };
    let _ = stream
        .socket()
        .set_write_timeout(Some(Duration::from_secs(5)));
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        received: 0,
        eof: false,
        methods: VecDeque::new(),
    };
    let mut outcomes = Vec::new();
    for (index, bytes) in sends.iter().enumerate() {
        conn.methods.extend(request_methods(bytes));
        if conn.stream.write_all(bytes).is_err() {
            // The server is gone; whatever it sent before is still readable.
            let _ = conn.read_some(Duration::from_millis(100));
        }
        let last = index + 1 == sends.len();
        let outcome = match expect.and_then(|e| e.get(index)) {
            Some(e) => replay_send(&mut conn, *e, last, timing),
            None if expect.is_some() => replay_send(
                &mut conn,
                Expect {
                    responses: 0,
                    leftover: false,
                    closed: false,
                },
                last,
                timing,
            ),
            None => record_send(&mut conn, timing),
        };
        let closed = outcome.closed;
        outcomes.push(outcome);
        if closed {
            break;
        }
    }
    Ok(ConnectionOutcome {
        tls: summary,
        sends: outcomes,
    })
}

fn record_send(conn: &mut Conn, timing: Timing) -> SendOutcome {
    let hard_deadline = Instant::now() + timing.patience * 2;
    let mut responses = Vec::new();
    loop {
        conn.take_responses(&mut responses);
        if conn.eof || Instant::now() >= hard_deadline {
            break;
        }
        if let Read1::Timeout = conn.read_some(timing.idle) {
            break;
        }
    }
    conn.take_responses(&mut responses);
    SendOutcome {
        responses,
        leftover: std::mem::take(&mut conn.buf),
        closed: conn.eof,
    }
}

fn replay_send(conn: &mut Conn, expect: Expect, last: bool, timing: Timing) -> SendOutcome {
    let deadline = Instant::now() + timing.patience;
    let mut responses = Vec::new();
    loop {
        conn.take_responses(&mut responses);
        if conn.eof || responses.len() >= expect.responses {
            break;
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        let _ = conn.read_some(left);
    }
    if expect.leftover && !conn.eof {
        while let Read1::Data = conn.read_some(timing.idle) {}
    }
    if expect.closed {
        conn.wait_for_eof(timing.close_wait);
    } else if last {
        conn.wait_for_eof(timing.quiet);
    }
    conn.take_responses(&mut responses);
    SendOutcome {
        responses,
        leftover: std::mem::take(&mut conn.buf),
        closed: conn.eof,
    }
}

/// Fetches one response header of `path` with a separate HEAD request (for `@ETAG:…@`).
pub fn fetch_header(port: u16, path: &str, header: &str) -> Result<String, String> {
    let request = format!("HEAD {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let timing = Timing {
        idle: Duration::from_millis(500),
        patience: Duration::from_secs(15),
        close_wait: Duration::from_secs(10),
        quiet: Duration::from_millis(1),
    };
    let expect = [Expect {
        responses: 1,
        leftover: false,
        closed: true,
    }];
    let outcome = run_connection(port, None, &[request.into_bytes()], Some(&expect), timing)?;
    let response = outcome
        .sends
        .first()
        .and_then(|o| o.responses.first())
        .ok_or_else(|| format!("no response to HEAD {path}"))?;
    super::framing::header_value(&response.head, &header.to_ascii_lowercase())
        .ok_or_else(|| format!("HEAD {path} has no {header} header"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-connection fake server: reads once, answers `reply`, then closes or idles.
    fn fake_server(reply: &'static [u8], close: bool) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(reply);
            if !close {
                std::thread::sleep(Duration::from_secs(5));
            }
        });
        port
    }

    fn timing() -> Timing {
        Timing {
            idle: Duration::from_millis(200),
            patience: Duration::from_secs(2),
            close_wait: Duration::from_secs(1),
            quiet: Duration::from_millis(100),
        }
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    #[test]
    fn records_close_and_keep_alive() {
        let send = vec![b"GET / HTTP/1.1\r\n\r\n".to_vec()];
        let closed = run_connection(fake_server(OK, true), None, &send, None, timing())
            .unwrap()
            .sends;
        assert_eq!(closed[0].responses.len(), 1);
        assert!(closed[0].closed);
        let open = run_connection(fake_server(OK, false), None, &send, None, timing())
            .unwrap()
            .sends;
        assert_eq!(open[0].responses[0].body, b"ok");
        assert!(!open[0].closed);
    }

    #[test]
    fn replay_sees_missing_close_and_extra_bytes() {
        let send = vec![b"GET / HTTP/1.1\r\n\r\n".to_vec()];
        let expect = [Expect {
            responses: 1,
            leftover: false,
            closed: true,
        }];
        let got = run_connection(fake_server(OK, false), None, &send, Some(&expect), timing())
            .unwrap()
            .sends;
        assert!(
            !got[0].closed,
            "a server that keeps the connection open must be seen as open"
        );
        let extra: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 4";
        let expect = [Expect {
            responses: 1,
            leftover: false,
            closed: false,
        }];
        let got = run_connection(
            fake_server(extra, false),
            None,
            &send,
            Some(&expect),
            timing(),
        )
        .unwrap()
        .sends;
        assert_eq!(got[0].leftover, b"HTTP/1.1 4");
    }
}
