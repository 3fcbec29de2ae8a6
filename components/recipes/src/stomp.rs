//! A small STOMP 1.2 client of our own (manual 1.15.7): frames, a streaming frame decoder, and
//! an async client for the broker side of a work queue — `SEND` with a receipt, `SUBSCRIBE`
//! (auto or client-individual acks), `ACK`/`NACK`, `DISCONNECT`.
//!
//! One TCP connection per [`Client`]; a reader task (`tokio::spawn`) hands `MESSAGE` frames to
//! each subscription's channel and `RECEIPT` frames to the call waiting for them. When the
//! connection ends — EOF, an I/O error, an `ERROR` frame, or a frame we cannot parse — every
//! waiting call fails with [`Error::Closed`] and every [`Subscription`] ends (`next()` gives
//! `None`): that is the signal to connect again.
//!
//! ```no_run
//! # async fn demo() -> Result<(), workerman_recipes::stomp::Error> {
//! use workerman_recipes::stomp::{Ack, Client};
//! let client = Client::connect("127.0.0.1:61613", Some(("guest", "guest")), "/").await?;
//! let mut tasks = client.subscribe("/queue/tasks", Ack::ClientIndividual, &[("prefetch-count", "1")]).await?;
//! client.send("/queue/tasks", b"hello", &[("persistent", "true")]).await?;
//! while let Some(msg) = tasks.next().await {
//!     println!("{}", String::from_utf8_lossy(&msg.body));
//!     client.ack(&msg).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! The wire format (STOMP 1.2): `COMMAND\n` + `name:value\n` lines + `\n` + body + `NUL`; lines
//! may end in `\r\n`; header values escape `\\`, `\n`, `\r` and `:` as `\\\\`, `\\n`, `\\r`,
//! `\\c` (not in `CONNECT`/`CONNECTED`); a `content-length` header gives the body's size
//! (otherwise it ends at the first NUL); a repeated header keeps its first value; bare end-of-line
//! bytes between frames are heart-beats.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};

/// The most bytes a frame's command and headers may take.
pub const MAX_HEADERS: usize = 64 * 1024;
/// The largest body accepted.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// How long [`Client::connect`] waits for TCP and for `CONNECTED`, and each call for its receipt.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// One STOMP frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// `CONNECT`, `SEND`, `MESSAGE`, ...
    pub command: String,
    /// Headers in wire order (decoded; repeats kept, [`Frame::header`] returns the first).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Frame {
    /// A frame with no headers and no body.
    pub fn new(command: &str) -> Frame {
        Frame {
            command: command.to_string(),
            ..Frame::default()
        }
    }

    /// Adds a header.
    pub fn with(mut self, name: &str, value: &str) -> Frame {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: &[u8]) -> Frame {
        self.body = body.to_vec();
        self
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The frame on the wire: escaped headers (none for `CONNECT`/`CONNECTED`), a
    /// `content-length` when there is a body (unless given), the body, `NUL`.
    pub fn encode(&self) -> Vec<u8> {
        let escape = !matches!(self.command.as_str(), "CONNECT" | "CONNECTED");
        let mut out = Vec::with_capacity(self.command.len() + 64 + self.body.len());
        out.extend_from_slice(self.command.as_bytes());
        out.push(b'\n');
        for (k, v) in &self.headers {
            put_header_part(&mut out, k, escape);
            out.push(b':');
            put_header_part(&mut out, v, escape);
            out.push(b'\n');
        }
        if !self.body.is_empty() && self.header("content-length").is_none() {
            out.extend_from_slice(format!("content-length:{}\n", self.body.len()).as_bytes());
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out.push(0);
        out
    }
}

fn put_header_part(out: &mut Vec<u8>, s: &str, escape: bool) {
    if !escape {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b':' => out.extend_from_slice(b"\\c"),
            _ => out.push(b),
        }
    }
}

/// Why bytes are not a STOMP frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The command line is empty or not ASCII letters.
    BadCommand,
    /// A header line without `:`.
    BadHeader,
    /// An escape other than `\\`, `\n`, `\r`, `\c`.
    BadEscape,
    /// Command or headers not UTF-8.
    NotUtf8,
    /// `content-length` is not a number.
    BadContentLength,
    /// The body (per `content-length`) is not followed by `NUL`.
    MissingNul,
    /// Headers longer than [`MAX_HEADERS`] or a body longer than [`MAX_BODY`].
    TooLarge,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameError::BadCommand => "bad command line",
            FrameError::BadHeader => "header line without ':'",
            FrameError::BadEscape => "undefined escape in a header",
            FrameError::NotUtf8 => "headers are not UTF-8",
            FrameError::BadContentLength => "bad content-length",
            FrameError::MissingNul => "no NUL after the body",
            FrameError::TooLarge => "frame too large",
        })
    }
}

impl std::error::Error for FrameError {}

/// Decodes one frame from the start of `buf`: `Ok(None)` until a whole frame is there, else the
/// frame and how many bytes it took (leading heart-beat EOLs included). Only leading EOLs:
/// `Ok(None)` — call [`skip_heartbeats`] to drop them.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let start = skip_heartbeats(buf);
    let buf_all = buf;
    let buf = &buf[start..];
    if buf.is_empty() {
        return Ok(None);
    }
    // The head ends at the first empty line.
    let mut lines = Vec::new();
    let mut at = 0;
    let head_end = loop {
        let Some(nl) = buf[at..].iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_HEADERS {
                return Err(FrameError::TooLarge);
            }
            return Ok(None);
        };
        let mut line = &buf[at..at + nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        at += nl + 1;
        if at > MAX_HEADERS {
            return Err(FrameError::TooLarge);
        }
        if line.is_empty() {
            break at;
        }
        lines.push(line);
    };
    let Some(first) = lines.first() else {
        return Err(FrameError::BadCommand);
    };
    let command = std::str::from_utf8(first).map_err(|_| FrameError::NotUtf8)?;
    if command.is_empty() || !command.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(FrameError::BadCommand);
    }
    let escape = !matches!(command, "CONNECT" | "CONNECTED");
    let mut headers = Vec::with_capacity(lines.len() - 1);
    for line in &lines[1..] {
        let colon = line.iter().position(|&b| b == b':').ok_or(FrameError::BadHeader)?;
        let name = unescape(&line[..colon], escape)?;
        let value = unescape(&line[colon + 1..], escape)?;
        headers.push((name, value));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.trim().parse::<usize>().map_err(|_| FrameError::BadContentLength))
        .transpose()?;
    let rest = &buf[head_end..];
    let body_len = match length {
        Some(n) if n > MAX_BODY => return Err(FrameError::TooLarge),
        Some(n) => {
            if rest.len() <= n {
                return Ok(None);
            }
            if rest[n] != 0 {
                return Err(FrameError::MissingNul);
            }
            n
        }
        None => match rest.iter().position(|&b| b == 0) {
            Some(n) => n,
            None if rest.len() > MAX_BODY => return Err(FrameError::TooLarge),
            None => return Ok(None),
        },
    };
    let frame = Frame {
        command: command.to_string(),
        headers,
        body: rest[..body_len].to_vec(),
    };
    let used = start + head_end + body_len + 1;
    debug_assert!(used <= buf_all.len());
    Ok(Some((frame, used)))
}

/// How many heart-beat EOL bytes (`\n`, `\r\n`) start `buf`.
pub fn skip_heartbeats(buf: &[u8]) -> usize {
    let mut i = 0;
    while i < buf.len() {
        match buf[i] {
            b'\n' => i += 1,
            b'\r' if buf.get(i + 1) == Some(&b'\n') => i += 2,
            _ => break,
        }
    }
    i
}

fn unescape(raw: &[u8], escape: bool) -> Result<String, FrameError> {
    let s = std::str::from_utf8(raw).map_err(|_| FrameError::NotUtf8)?;
    if !escape || !s.contains('\\') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('\\') => '\\',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('c') => ':',
            _ => return Err(FrameError::BadEscape),
        });
    }
    Ok(out)
}

/// What went wrong talking to the broker.
#[derive(Debug)]
pub enum Error {
    /// Connecting or writing failed.
    Io(std::io::Error),
    /// The broker sent bytes that are not a frame.
    Frame(FrameError),
    /// The broker answered `ERROR` (its `message` header and body).
    Broker(String),
    /// The connection is gone (why).
    Closed(String),
    /// No answer within [`TIMEOUT`].
    Timeout,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Frame(e) => write!(f, "bad frame from the broker: {e}"),
            Error::Broker(m) => write!(f, "broker error: {m}"),
            Error::Closed(why) => write!(f, "connection closed: {why}"),
            Error::Timeout => write!(f, "no answer within {TIMEOUT:?}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

/// How a subscription's messages are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// The broker considers a message delivered once sent.
    Auto,
    /// Each message is acknowledged by [`Client::ack`] (or returned by [`Client::nack`]).
    ClientIndividual,
}

#[derive(Default)]
struct State {
    receipts: HashMap<String, oneshot::Sender<Result<(), String>>>,
    subscriptions: HashMap<String, mpsc::UnboundedSender<Frame>>,
    closed: Option<String>,
}

/// A connection to a STOMP 1.2 broker. Cheap to share: calls take `&self`.
pub struct Client {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    state: Arc<Mutex<State>>,
    next_id: AtomicU64,
    server: String,
}

/// Messages of one subscription, in order; `None` once the connection is gone.
pub struct Subscription {
    /// The subscription's id (the `subscription` header of its messages).
    pub id: String,
    rx: mpsc::UnboundedReceiver<Frame>,
}

impl Subscription {
    /// The next `MESSAGE` frame; `None` when the connection ended.
    pub async fn next(&mut self) -> Option<Frame> {
        self.rx.recv().await
    }
}

impl Client {
    /// Connects to `addr` (`host:port`) and logs in (`login`, `passcode`) to virtual host `vhost`
    /// (RabbitMQ: `/`); waits for `CONNECTED`. Heart-beats are off (`0,0`): a broker that goes away
    /// is noticed when TCP says so, or when a call gets no receipt within [`TIMEOUT`].
    pub async fn connect(addr: &str, login: Option<(&str, &str)>, vhost: &str) -> Result<Client, Error> {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::Timeout)??;
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        let mut connect = Frame::new("CONNECT")
            .with("accept-version", "1.2")
            .with("host", vhost)
            .with("heart-beat", "0,0");
        if let Some((user, pass)) = login {
            connect = connect.with("login", user).with("passcode", pass);
        }
        write.write_all(&connect.encode()).await?;
        let mut buf = Vec::new();
        let connected = tokio::time::timeout(TIMEOUT, async {
            loop {
                if let Some((frame, used)) = decode(&buf).map_err(Error::Frame)? {
                    buf.drain(..used);
                    return Ok::<Frame, Error>(frame);
                }
                let mut chunk = [0u8; 4096];
                let n = read.read(&mut chunk).await?;
                if n == 0 {
                    return Err(Error::Closed("EOF before CONNECTED".into()));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        })
        .await
        .map_err(|_| Error::Timeout)??;
        match connected.command.as_str() {
            "CONNECTED" => {}
            "ERROR" => return Err(Error::Broker(error_text(&connected))),
            other => return Err(Error::Closed(format!("{other} instead of CONNECTED"))),
        }
        let state = Arc::new(Mutex::new(State::default()));
        tokio::spawn(read_loop(read, buf, state.clone()));
        Ok(Client {
            writer: tokio::sync::Mutex::new(write),
            state,
            next_id: AtomicU64::new(1),
            server: connected.header("server").unwrap_or("").to_string(),
        })
    }

    /// The broker's `server` header from `CONNECTED` (say, `RabbitMQ/3.10.8`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.state.lock().unwrap().closed.is_some()
    }

    fn id(&self) -> String {
        self.next_id.fetch_add(1, Ordering::Relaxed).to_string()
    }

    async fn write(&self, frame: &Frame) -> Result<(), Error> {
        if let Some(why) = &self.state.lock().unwrap().closed {
            return Err(Error::Closed(why.clone()));
        }
        let bytes = frame.encode();
        let mut w = self.writer.lock().await;
        tokio::time::timeout(TIMEOUT, w.write_all(&bytes))
            .await
            .map_err(|_| Error::Timeout)??;
        Ok(())
    }

    /// Sends `frame` with a `receipt` header and waits for the broker's `RECEIPT`.
    pub async fn request(&self, frame: Frame) -> Result<(), Error> {
        let receipt = format!("r{}", self.id());
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state.lock().unwrap();
            if let Some(why) = &state.closed {
                return Err(Error::Closed(why.clone()));
            }
            state.receipts.insert(receipt.clone(), tx);
        }
        let result = async {
            self.write(&frame.with("receipt", &receipt)).await?;
            match tokio::time::timeout(TIMEOUT, rx).await {
                Err(_) => Err(Error::Timeout),
                Ok(Err(_)) => Err(Error::Closed(self.closed_reason())),
                Ok(Ok(Err(message))) => Err(Error::Broker(message)),
                Ok(Ok(Ok(()))) => Ok(()),
            }
        }
        .await;
        self.state.lock().unwrap().receipts.remove(&receipt);
        result
    }

    fn closed_reason(&self) -> String {
        self.state
            .lock()
            .unwrap()
            .closed
            .clone()
            .unwrap_or_else(|| "closed".into())
    }

    /// `SEND`s `body` to `destination` with extra `headers`; returns once the broker's receipt
    /// says it has the message.
    pub async fn send(&self, destination: &str, body: &[u8], headers: &[(&str, &str)]) -> Result<(), Error> {
        let mut frame = Frame::new("SEND").with("destination", destination);
        for (k, v) in headers {
            frame = frame.with(k, v);
        }
        self.request(frame.with_body(body)).await
    }

    /// `SUBSCRIBE`s to `destination` with extra `headers` (RabbitMQ: `prefetch-count`,
    /// `durable`, ...); returns once the broker confirmed it.
    pub async fn subscribe(
        &self,
        destination: &str,
        ack: Ack,
        headers: &[(&str, &str)],
    ) -> Result<Subscription, Error> {
        let id = format!("s{}", self.id());
        let (tx, rx) = mpsc::unbounded_channel();
        self.state.lock().unwrap().subscriptions.insert(id.clone(), tx);
        let mut frame = Frame::new("SUBSCRIBE")
            .with("id", &id)
            .with("destination", destination)
            .with(
                "ack",
                match ack {
                    Ack::Auto => "auto",
                    Ack::ClientIndividual => "client-individual",
                },
            );
        for (k, v) in headers {
            frame = frame.with(k, v);
        }
        if let Err(e) = self.request(frame).await {
            self.state.lock().unwrap().subscriptions.remove(&id);
            return Err(e);
        }
        Ok(Subscription { id, rx })
    }

    /// Acknowledges `message` (from a [`Ack::ClientIndividual`] subscription).
    pub async fn ack(&self, message: &Frame) -> Result<(), Error> {
        let id = message.header("ack").unwrap_or("");
        self.write(&Frame::new("ACK").with("id", id)).await
    }

    /// Hands `message` back to the broker (redelivered, to this or another consumer).
    pub async fn nack(&self, message: &Frame) -> Result<(), Error> {
        let id = message.header("ack").unwrap_or("");
        self.write(&Frame::new("NACK").with("id", id)).await
    }

    /// `DISCONNECT`s politely (waits for the receipt, so everything sent before is processed).
    pub async fn disconnect(&self) -> Result<(), Error> {
        self.request(Frame::new("DISCONNECT")).await
    }
}

fn error_text(frame: &Frame) -> String {
    let message = frame.header("message").unwrap_or("ERROR");
    let body = String::from_utf8_lossy(&frame.body);
    let body = body.trim();
    if body.is_empty() {
        message.to_string()
    } else {
        format!("{message}: {body}")
    }
}

async fn read_loop(mut read: tokio::net::tcp::OwnedReadHalf, mut buf: Vec<u8>, state: Arc<Mutex<State>>) {
    let why = 'outer: loop {
        loop {
            match decode(&buf) {
                Ok(Some((frame, used))) => {
                    buf.drain(..used);
                    if let Some(why) = dispatch(frame, &state) {
                        break 'outer why;
                    }
                }
                Ok(None) => {
                    let beats = skip_heartbeats(&buf);
                    buf.drain(..beats);
                    break;
                }
                Err(e) => break 'outer format!("bad frame from the broker: {e}"),
            }
        }
        let mut chunk = [0u8; 16 * 1024];
        match read.read(&mut chunk).await {
            Ok(0) => break "the broker closed the connection".to_string(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => break e.to_string(),
        }
    };
    let mut s = state.lock().unwrap();
    s.closed = Some(why.clone());
    // Dropping the senders: waiting calls see the close, subscriptions end.
    s.subscriptions.clear();
    for (_, tx) in s.receipts.drain() {
        let _ = tx.send(Err(format!("connection closed: {why}")));
    }
}

/// Hands one frame to its receiver; `Some(reason)` when the connection must end.
fn dispatch(frame: Frame, state: &Mutex<State>) -> Option<String> {
    let mut s = state.lock().unwrap();
    match frame.command.as_str() {
        "MESSAGE" => {
            let sub = frame.header("subscription").unwrap_or("").to_string();
            if let Some(tx) = s.subscriptions.get(&sub) {
                let _ = tx.send(frame);
            }
            None
        }
        "RECEIPT" => {
            let id = frame.header("receipt-id").unwrap_or("");
            if let Some(tx) = s.receipts.remove(id) {
                let _ = tx.send(Ok(()));
            }
            None
        }
        // The broker closes after ERROR; the waiting call learns why.
        "ERROR" => {
            let text = error_text(&frame);
            if let Some(tx) = frame.header("receipt-id").and_then(|id| s.receipts.remove(id)) {
                let _ = tx.send(Err(text.clone()));
            }
            Some(format!("broker error: {text}"))
        }
        other => Some(format!("unexpected {other} frame")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_escapes_and_decode_round_trips() {
        let f = Frame::new("SEND")
            .with("destination", "/queue/a:b")
            .with("note", "line1\nline2\r\\end")
            .with_body(b"body with \0 inside");
        let wire = f.encode();
        assert!(wire.starts_with(b"SEND\ndestination:/queue/a\\cb\nnote:line1\\nline2\\r\\\\end\n"));
        let (back, used) = decode(&wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(back.header("destination"), Some("/queue/a:b"));
        assert_eq!(back.header("note"), Some("line1\nline2\r\\end"));
        assert_eq!(back.body, b"body with \0 inside");
    }

    #[test]
    fn every_split_point_is_incomplete_until_the_end() {
        let wire = [
            b"\n\r\n".as_slice(),
            &Frame::new("MESSAGE")
                .with("subscription", "s1")
                .with_body(b"abc")
                .encode(),
            b"\n",
            b"RECEIPT\r\nreceipt-id:r7\r\n\r\n\0",
        ]
        .concat();
        let first_end = 3 + Frame::new("MESSAGE")
            .with("subscription", "s1")
            .with_body(b"abc")
            .encode()
            .len();
        for cut in 0..first_end {
            assert_eq!(decode(&wire[..cut]), Ok(None), "cut at {cut}");
        }
        let (m, used) = decode(&wire).unwrap().unwrap();
        assert_eq!(
            (m.command.as_str(), m.body.as_slice(), used),
            ("MESSAGE", b"abc".as_slice(), first_end)
        );
        let (r, used2) = decode(&wire[used..]).unwrap().unwrap();
        assert_eq!(r.command, "RECEIPT");
        assert_eq!(r.header("receipt-id"), Some("r7"));
        assert_eq!(used + used2, wire.len());
    }

    #[test]
    fn body_without_content_length_ends_at_nul_and_first_header_wins() {
        let (f, used) = decode(b"MESSAGE\nfoo:1\nfoo:2\n\nhello\0MORE").unwrap().unwrap();
        assert_eq!(
            (f.header("foo"), f.body.as_slice(), used),
            (Some("1"), b"hello".as_slice(), 27)
        );
    }

    #[test]
    fn connect_frames_are_not_escaped() {
        let wire = Frame::new("CONNECT").with("passcode", "a\\b:c").encode();
        assert_eq!(wire, b"CONNECT\npasscode:a\\b:c\n\n\0");
        let (f, _) = decode(b"CONNECTED\nserver:x\\y\n\n\0").unwrap().unwrap();
        assert_eq!(f.header("server"), Some("x\\y"));
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(decode(b"SEND\nnocolon\n\n\0"), Err(FrameError::BadHeader));
        assert_eq!(decode(b"SEND\na:\\t\n\n\0"), Err(FrameError::BadEscape));
        assert_eq!(decode(b"S3ND\n\n\0"), Err(FrameError::BadCommand));
        assert_eq!(decode(b"\n\nX\n\n\0").unwrap().unwrap().1, 6);
        assert_eq!(
            decode(b"SEND\ncontent-length:x\n\n\0"),
            Err(FrameError::BadContentLength)
        );
        assert_eq!(decode(b"SEND\ncontent-length:2\n\nabc\0"), Err(FrameError::MissingNul));
        assert_eq!(
            decode(b"SEND\ncontent-length:99999999999\n\n"),
            Err(FrameError::TooLarge)
        );
        let long = vec![b'A'; MAX_HEADERS + 2];
        assert_eq!(decode(&long), Err(FrameError::TooLarge));
        assert_eq!(decode(b"SEND\na:\xff\n\n\0"), Err(FrameError::NotUtf8));
    }
}
