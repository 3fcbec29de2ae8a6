//! Helpers of the Channel process tests: a small blocking WebSocket client, HTTP GET, and the
//! warm-up loop that waits until asynchronous subscriptions are in place.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub use super::common::*;

/// A blocking WebSocket client (text frames only).
pub struct Ws {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Ws {
    pub fn connect(port: u16) -> Ws {
        let mut s = connect(port);
        s.write_all(
            format!(
                "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let mut ws = Ws { s, buf: Vec::new() };
        let end = loop {
            if let Some(i) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(ws.fill(), "closed during the handshake");
        };
        let head = String::from_utf8_lossy(&ws.buf[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        ws.buf.drain(..end);
        ws
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.s.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => false,
            Err(e) => panic!("read: {e}"),
        }
    }

    /// The next text message, or None when none comes within `timeout`.
    pub fn recv_within(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(msg) = self.parse() {
                return Some(msg);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.s
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            if !self.fill() && Instant::now() >= deadline {
                return None;
            }
        }
    }

    /// The next text message (waits up to the harness's WAIT).
    pub fn recv(&mut self) -> String {
        self.recv_within(WAIT).expect("a WebSocket message in time")
    }

    /// The next message that is not a warm-up message.
    pub fn recv_skipping_warmup(&mut self) -> String {
        loop {
            let m = self.recv();
            if !m.starts_with("warmup") {
                return m;
            }
        }
    }

    fn parse(&mut self) -> Option<String> {
        loop {
            if self.buf.len() < 2 {
                return None;
            }
            let op = self.buf[0] & 0x0f;
            let (len, off) = match self.buf[1] & 0x7f {
                126 if self.buf.len() >= 4 => (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4),
                127 if self.buf.len() >= 10 => (u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize, 10),
                126 | 127 => return None,
                n => (n as usize, 2),
            };
            if self.buf.len() < off + len {
                return None;
            }
            let payload = self.buf[off..off + len].to_vec();
            self.buf.drain(..off + len);
            if op == 1 {
                return Some(String::from_utf8(payload).unwrap());
            }
        }
    }

    pub fn send(&mut self, text: &str) {
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![0x81];
        assert!(text.len() < 126);
        f.push(0x80 | text.len() as u8);
        f.extend_from_slice(&mask);
        f.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.s.write_all(&f).unwrap();
    }
}

/// `GET path` on 127.0.0.1:port; returns (status, body).
pub fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = connect(port);
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Repeats `send(n)` (which must deliver a message starting with `warmup`) until every client
/// got one: subscriptions are made asynchronously, so the first sends may reach nobody.
pub fn warm_up(clients: &mut [Ws], mut send: impl FnMut(usize)) {
    let mut got = vec![false; clients.len()];
    let start = Instant::now();
    let mut n = 0;
    while got.iter().any(|g| !g) {
        assert!(start.elapsed() < WAIT, "subscriptions never became ready");
        send(n);
        n += 1;
        for (i, c) in clients.iter_mut().enumerate() {
            if !got[i]
                && let Some(m) = c.recv_within(Duration::from_millis(150))
            {
                assert!(m.starts_with("warmup"), "unexpected message during warm-up: {m}");
                got[i] = true;
            }
        }
    }
}

/// The pid of the worker process `index:id` (index = creation order of the Worker in the start
/// file) among the master's children.
pub fn worker_pid(app: &App, role: &str) -> i32 {
    let want = format!("WORKERMAN_WORKER={role}");
    wait_for(&format!("the {role} process"), || {
        children(app.master()).into_iter().find(|&p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|kv| kv == want.as_bytes()))
                .unwrap_or(false)
        })
    })
}
