//! A minimal blocking WebSocket client for the process tests: handshake, masked text frames
//! out, text frames in (pings answered), close detection.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Ws {
    stream: TcpStream,
    buf: Vec<u8>,
    pub closed: bool,
}

impl Ws {
    pub fn connect(port: u16) -> Ws {
        Self::connect_to("127.0.0.1", port)
    }

    pub fn connect_to(ip: &str, port: u16) -> Ws {
        let mut stream = TcpStream::connect((ip, port)).expect("connect");
        stream.set_nodelay(true).unwrap();
        let req = format!(
            "GET /?room=x HTTP/1.1\r\nHost: {ip}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: c=1\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).unwrap();
        let mut ws = Ws {
            stream,
            buf: Vec::new(),
            closed: false,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(end) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&ws.buf[..end]).into_owned();
                assert!(head.starts_with("HTTP/1.1 101"), "handshake: {head}");
                ws.buf.drain(..end + 4);
                return ws;
            }
            assert!(Instant::now() < deadline, "handshake timed out");
            ws.fill(Duration::from_secs(10));
        }
    }

    fn fill(&mut self, timeout: Duration) -> bool {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .unwrap();
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                false
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(_) => {
                self.closed = true;
                false
            }
        }
    }

    pub fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> bool {
        let mut f = vec![0x80 | opcode];
        let len = payload.len();
        if len < 126 {
            f.push(0x80 | len as u8);
        } else if len < 65536 {
            f.push(0x80 | 126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            f.push(0x80 | 127);
            f.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&f).is_ok()
    }

    pub fn send(&mut self, text: &str) -> bool {
        self.send_frame(0x1, text.as_bytes())
    }

    pub fn send_json(&mut self, v: &Value) -> bool {
        self.send(&v.to_string())
    }

    /// The next text message within `timeout` (pings answered on the way).
    pub fn recv(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((opcode, payload, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                match opcode {
                    0x1 | 0x2 => return Some(String::from_utf8_lossy(&payload).into_owned()),
                    0x8 => {
                        self.closed = true;
                        return None;
                    }
                    0x9 => {
                        self.send_frame(0xA, &payload);
                    }
                    _ => {}
                }
                continue;
            }
            let now = Instant::now();
            if self.closed || now >= deadline {
                return None;
            }
            self.fill(deadline - now);
        }
    }

    /// The next message parsed as JSON; panics on timeout.
    pub fn expect(&mut self, what: &str) -> Value {
        let m = self
            .recv(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no message: {what}"));
        serde_json::from_str(&m).unwrap_or(Value::String(m))
    }

    /// The next message whose `type` is not ping (answering pings with pong).
    pub fn expect_event(&mut self, what: &str) -> Value {
        loop {
            let m = self.expect(what);
            if m["type"] == "ping" {
                self.send(r#"{"type":"pong"}"#);
                continue;
            }
            return m;
        }
    }

    /// Waits until the server closes the connection.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.closed && Instant::now() < deadline {
            let _ = self.recv(deadline - Instant::now());
        }
        self.closed
    }

    /// Nothing but pings arrives for `d`.
    pub fn silent_for(&mut self, d: Duration) -> Option<String> {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if let Some(m) = self.recv(deadline - Instant::now())
                && !m.contains("\"ping\"")
            {
                return Some(m);
            }
        }
        None
    }
}

fn parse(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let (len, mut at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize, 10),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    let masked = buf[1] & 0x80 != 0;
    let mask = if masked {
        if buf.len() < at + 4 {
            return None;
        }
        at += 4;
        Some([buf[at - 4], buf[at - 3], buf[at - 2], buf[at - 1]])
    } else {
        None
    };
    if buf.len() < at + len {
        return None;
    }
    let mut payload = buf[at..at + len].to_vec();
    if let Some(m) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    Some((opcode, payload, at + len))
}

/// A tiny HTTP GET returning the body.
pub fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}
