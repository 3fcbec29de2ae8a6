//! A raw WebSocket (RFC 6455) frame codec and the two ends of a connection over std sockets:
//! [`Client`] (masks what it sends, checks the server does not) and [`Peer`] (the server side of
//! one accepted connection: checks and records the client's masks). Raw, so tests can send what a
//! real implementation never would (bad opcodes, unmasked frames, fragments, pings).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use crate::wait::{TIMEOUT, connect};

/// The `Sec-WebSocket-Key` [`Client`] sends (RFC 6455's example).
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The `Sec-WebSocket-Accept` that answers [`KEY`].
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The first byte: FIN, RSV bits and opcode.
    pub b0: u8,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
    /// The masking key, when the frame was masked.
    pub mask: Option<[u8; 4]>,
    /// How many bytes of the input the frame took.
    pub len: usize,
}

/// Encodes one frame with first byte `b0`, masked with `mask` when given.
pub fn encode(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let masked = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    let mut f = vec![b0];
    if n < 126 {
        f.push(masked | n as u8);
    } else if n <= 0xFFFF {
        f.push(masked | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(masked | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// Decodes the frame at the start of `buf`; `None` until all of it is there.
pub fn decode(buf: &[u8]) -> Option<Frame> {
    if buf.len() < 2 {
        return None;
    }
    let (len, mut at) = match buf[1] & 0x7F {
        126 => (u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize, 4),
        127 => (
            usize::try_from(u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)).ok()?,
            10,
        ),
        n => (n as usize, 2),
    };
    let mask = if buf[1] & 0x80 != 0 {
        let key: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    let data = buf.get(at..at.checked_add(len)?)?;
    let payload = match mask {
        Some(key) => data.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect(),
        None => data.to_vec(),
    };
    Some(Frame {
        b0: buf[0],
        payload,
        mask,
        len: at + len,
    })
}

/// The value of header `name` (any case) in an HTTP head.
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// Reads more bytes into `buf`; false on EOF or reset, and on any error unless `strict` (then
/// a timeout panics).
fn fill(s: &mut TcpStream, buf: &mut Vec<u8>, strict: bool) -> bool {
    let mut tmp = [0u8; 65536];
    match s.read(&mut tmp) {
        Ok(0) => false,
        Ok(n) => {
            buf.extend_from_slice(&tmp[..n]);
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset || !strict => false,
        Err(e) => panic!("read: {e}"),
    }
}

/// Takes an HTTP head (through the blank line) off the front of `buf`, reading as needed.
fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> String {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buf.drain(..i + 4).collect();
            return String::from_utf8(head).unwrap();
        }
        assert!(fill(s, buf, true), "closed before the end of the HTTP head");
    }
}

/// Takes the next frame off the front of `buf`, reading as needed; `None` on EOF (which, when
/// `strict`, must not fall inside a frame).
fn next_frame(s: &mut TcpStream, buf: &mut Vec<u8>, strict: bool) -> Option<Frame> {
    loop {
        if let Some(f) = decode(buf) {
            buf.drain(..f.len);
            return Some(f);
        }
        if !fill(s, buf, strict) {
            assert!(!strict || buf.is_empty(), "EOF inside a frame");
            return None;
        }
    }
}

/// The client end: sends masked frames, expects unmasked ones.
pub struct Client {
    /// The socket, for writing raw bytes.
    pub s: TcpStream,
    /// Bytes read and not consumed yet.
    pub buf: Vec<u8>,
}

impl Client {
    /// A plain TCP connection to `addr` (read timeout [`TIMEOUT`]), for raw handshakes.
    pub fn raw(addr: SocketAddr) -> TcpStream {
        crate::wait::connect_addr(addr)
    }

    /// Handshakes on `addr` for `path`; panics unless the answer is a 101.
    pub fn connect(addr: SocketAddr, path: &str) -> Client {
        Self::connect_with(addr, path, "").unwrap_or_else(|head| panic!("handshake refused: {head}"))
    }

    /// Handshakes on `127.0.0.1:port` (waiting for it to listen, as for an example process).
    pub fn connect_port(port: u16, path: &str) -> Client {
        Self::handshake(connect(port), path, "").unwrap_or_else(|head| panic!("handshake refused: {head}"))
    }

    /// Handshakes with extra header lines (each ending in `\r\n`); `Err(response head)` when
    /// the answer is not a 101. A 101 must carry the right `Sec-WebSocket-Accept`.
    pub fn connect_with(addr: SocketAddr, path: &str, extra: &str) -> Result<Client, String> {
        Self::handshake(Self::raw(addr), path, extra)
    }

    fn handshake(mut s: TcpStream, path: &str, extra: &str) -> Result<Client, String> {
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
        .unwrap();
        let mut c = Client { s, buf: Vec::new() };
        let head = c.read_head();
        if head.starts_with("HTTP/1.1 101 ") {
            assert!(head.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")), "{head}");
            Ok(c)
        } else {
            Err(head)
        }
    }

    /// Reads more bytes; false on EOF or reset (a read timeout panics).
    pub fn fill(&mut self) -> bool {
        fill(&mut self.s, &mut self.buf, true)
    }

    /// Reads an HTTP head.
    pub fn read_head(&mut self) -> String {
        read_head(&mut self.s, &mut self.buf)
    }

    /// Sends one masked frame with first byte `b0` (any flags, any opcode).
    pub fn send_frame(&mut self, b0: u8, payload: &[u8]) {
        self.s
            .write_all(&encode(b0, payload, Some([0xA1, 0xB2, 0xC3, 0xD4])))
            .unwrap();
    }

    /// Sends one final (FIN) masked frame of `opcode`.
    pub fn send(&mut self, opcode: u8, payload: &[u8]) {
        self.send_frame(0x80 | opcode, payload);
    }

    /// The next frame: (first byte, payload); `None` on EOF. Panics on a masked frame.
    pub fn frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let f = next_frame(&mut self.s, &mut self.buf, true)?;
        assert!(f.mask.is_none(), "server frames are not masked");
        Some((f.b0, f.payload))
    }

    /// The next frame must be a close with `code`, then TCP must close.
    pub fn expect_close(&mut self, code: u16) {
        let (b0, p) = self.frame().expect("a close frame");
        assert_eq!(b0, 0x88, "expected a close frame");
        assert_eq!(u16::from_be_bytes([p[0], p[1]]), code);
        assert!(self.frame().is_none(), "the server closes TCP after the close frame");
    }
}

/// The server end of one accepted connection: expects masked frames, sends unmasked ones.
pub struct Peer {
    /// The socket.
    pub s: TcpStream,
    /// Bytes read and not consumed yet.
    pub buf: Vec<u8>,
    /// The masking key of every frame received, in order.
    pub masks: Vec<[u8; 4]>,
}

impl Peer {
    /// Accepts one connection on `l` (read timeout [`TIMEOUT`]).
    pub fn accept(l: &TcpListener) -> Peer {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        Peer {
            s,
            buf: Vec::new(),
            masks: Vec::new(),
        }
    }

    /// Reads more bytes; false on EOF or any read error (a timeout included).
    pub fn fill(&mut self) -> bool {
        fill(&mut self.s, &mut self.buf, false)
    }

    /// Reads the request head.
    pub fn read_head(&mut self) -> String {
        read_head(&mut self.s, &mut self.buf)
    }

    /// Answers the handshake request `head` with a 101 (plus `extra` header lines).
    pub fn upgrade(&mut self, head: &str, extra: &str) {
        let key = header(head, "sec-websocket-key").expect("a key");
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{extra}\r\n",
            workerman::protocol::websocket::accept_key(&key)
        );
        self.s.write_all(resp.as_bytes()).unwrap();
    }

    /// Reads one client frame, checking it is masked; (first byte, unmasked payload), `None` on
    /// EOF or a read error.
    pub fn frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let f = next_frame(&mut self.s, &mut self.buf, false)?;
        let mask = f.mask.expect("client frames must be masked");
        self.masks.push(mask);
        Some((f.b0, f.payload))
    }

    /// The next frame that is not a ping.
    pub fn frame_skipping_pings(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            match self.frame()? {
                (0x89, _) => {}
                f => return Some(f),
            }
        }
    }

    /// Sends one unmasked frame with first byte `b0`.
    pub fn send(&mut self, b0: u8, payload: &[u8]) {
        self.s.write_all(&encode(b0, payload, None)).unwrap();
    }
}
