//! `http`: HTTP/1.1 and 1.0 servers — Workerman's `http://` protocol.
//!
//! ```text
//!  bytes ──input()──► strict head parse (RFC 9112) ──► body length (Content-Length | chunked)
//!                       │                                 │
//!                       └─ 400 / 413 / 431 + close        └─ decode() ──► Request ──► on_message
//!
//!  conn.send("hi") / conn.send(Response) ──encode()──► status line + headers + body
//!                                                      (Connection: close when the request asked
//!                                                       for it or the worker is stopping)
//! ```
//!
//! ```no_run
//! use workerman::{Worker, protocol::Http};
//!
//! fn main() -> workerman::Result<()> {
//!     let worker = Worker::<Http>::new("http://0.0.0.0:2345")?;
//!     worker.set_count(4);
//!     worker.on_message(|conn, _req| {
//!         conn.send("hello world"); // 200, text/html, keep-alive
//!     });
//!     Worker::run_all()
//! }
//! ```
//!
//! Keep-alive is the default; `Connection: close` (or HTTP/1.0 without `keep-alive`) is honoured
//! by answering with `Connection: close` and closing after the response. Pipelined requests are
//! answered in order. File bodies are read by the connection side, never by `encode`: the codec
//! writes the head and leaves the file to the HTTP service (small files are read at once, large
//! ones stream from disk with backpressure; see [`HttpConnectionExt::respond`]); chunked
//! responses and Server-Sent Events are sent as [`Chunk`]s and [`ServerSentEvent`]s after their
//! head. Sessions live in [`session`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};

use super::{Context, Payload, Protocol, ProtocolError};

mod convert;
mod file;
mod form_value;
mod multipart;
mod parse;
mod request;
mod response;
mod stream;

/// `conn.respond(..)` and `conn.respond_with(..)` (connection-side: they stream files).
pub use crate::service::http::HttpConnectionExt;
/// Sessions (connection-side: they read and write their store).
#[cfg(feature = "json")]
pub use crate::service::http::session;
pub use file::{STREAM_CHUNK, StaticFiles, file_response, mime_type};
pub use form_value::{FormValue, MAX_FORM_DEPTH};
pub use multipart::{UploadedFile, upload_error};
pub use request::{Method, Request};
pub use response::{INLINE_FILE_MAX, Response, SetCookie, reason_phrase};
pub use stream::{Chunk, ServerSentEvent};

use parse::{ChunkScan, Framing, Head, Reject};
use response::After;
pub(crate) use response::FileBody;

/// Default for [`HttpConfig::max_head_size`]: 16 KiB.
pub const DEFAULT_MAX_HEAD_SIZE: usize = 16 * 1024;
/// Default for [`HttpConfig::upload_spill_size`]: 1 MiB.
pub const DEFAULT_UPLOAD_SPILL_SIZE: usize = 1024 * 1024;
/// Default for [`HttpConfig::max_file_uploads`]: 1024.
pub const DEFAULT_MAX_FILE_UPLOADS: usize = 1024;

/// Limits and places of the HTTP protocol (the body limit is the worker's `max_package_size`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request head (request line + headers), in bytes; larger → 431. Default 16 KiB.
    pub max_head_size: usize,
    /// Uploaded files larger than this many bytes are written to temporary files. Default 1 MiB.
    pub upload_spill_size: usize,
    /// Where temporary upload files go (default: the system temp directory).
    pub upload_tmp_dir: Option<PathBuf>,
    /// Most multipart parts read from one body. Default 1024.
    pub max_file_uploads: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_head_size: DEFAULT_MAX_HEAD_SIZE,
            upload_spill_size: DEFAULT_UPLOAD_SPILL_SIZE,
            upload_tmp_dir: None,
            max_file_uploads: DEFAULT_MAX_FILE_UPLOADS,
        }
    }
}

/// The `http://` protocol. `Worker::<Http>::new("http://0.0.0.0:80")` uses the defaults;
/// `Worker::with_protocol(addr, Http::with_config(cfg))` sets limits.
#[derive(Debug, Clone, Default)]
pub struct Http {
    config: HttpConfig,
}

impl Http {
    /// The protocol with `config`.
    pub fn with_config(config: HttpConfig) -> Self {
        Http { config }
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }
}

/// Headers queued for a connection's next response (a session's `Set-Cookie`): shared by the
/// connection's codec state, which writes them into the next response, and every request decoded
/// from it (`queue_response_header`). Made on the connection's first request.
#[derive(Debug, Default)]
pub(crate) struct PendingHeaders(std::cell::RefCell<Vec<(&'static str, String)>>);

impl PendingHeaders {
    /// Queues `name: value` for the next response, replacing an earlier one with that name.
    pub(crate) fn queue(&self, name: &'static str, value: String) {
        let mut v = self.0.borrow_mut();
        v.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        v.push((name, value));
    }

    fn take(&self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

/// A response whose file body the connection side reads: its head (written once the file
/// opened), the file range, and whether the connection closes after it.
#[derive(Debug)]
pub(crate) struct PendingFile {
    pub head: BytesMut,
    pub body: FileBody,
    pub close: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    close: bool,
    head: bool,
}

/// Per-connection HTTP state: the request being framed, and what each awaited response must do.
#[derive(Debug, Default)]
pub struct HttpState {
    head: Option<Head>,
    scan: ChunkScan,
    /// One entry per request delivered and not answered yet, in order.
    flags: VecDeque<Flags>,
    /// A request asked to close: later bytes are not read as requests.
    closing: bool,
    /// Close when the streamed response in progress ends.
    stream_close: bool,
    /// The streamed response in progress answers a HEAD request: its chunks and events are
    /// not written (they would be read as the next response).
    discard_stream: bool,
    /// The configuration, shared with the requests (multipart limits).
    config: Option<Rc<HttpConfig>>,
    /// Headers for the next response (a session's Set-Cookie), shared with the requests.
    pending: Option<Rc<PendingHeaders>>,
    /// A response whose file body the service reads (an event was raised).
    file: Option<Box<PendingFile>>,
    /// A file body is being streamed by the service: reading waits.
    pub(crate) streaming: bool,
    /// A chunked or event-stream response is in progress (until its empty chunk).
    in_stream: bool,
    /// A request was delivered on this connection (waits after it are keep-alive waits).
    served: bool,
}

impl HttpState {
    /// Queues `name: value` for the next response, replacing an earlier one with that name.
    pub fn queue_header(&mut self, name: &'static str, value: String) {
        self.pending.get_or_insert_with(Default::default).queue(name, value);
    }

    /// The response whose file body waits to be read, if any.
    pub(crate) fn take_file(&mut self) -> Option<Box<PendingFile>> {
        self.file.take()
    }
}

/// What `conn.send` accepts on an HTTP connection: a [`Response`], a plain body (`&str`,
/// `String`, bytes — a 200 `text/html` response), a [`Chunk`] or a [`ServerSentEvent`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Reply<'a> {
    /// A full response.
    Response(Response),
    /// A 200 response with default headers and this body (no allocation for `&str`).
    Body(Payload<'a>),
    /// A chunk of a chunked response; empty ends it.
    Chunk(Chunk),
    /// One Server-Sent Event.
    Event(ServerSentEvent),
}

macro_rules! reply_from_payload {
    ($($t:ty),*) => {$(
        impl<'a> From<$t> for Reply<'a> {
            fn from(v: $t) -> Self {
                Reply::Body(v.into())
            }
        }
    )*};
}
reply_from_payload!(
    &'a str,
    &'a String,
    String,
    &'a [u8],
    Vec<u8>,
    &'a Vec<u8>,
    Bytes,
    &'a Bytes
);

impl<'a> From<Payload<'a>> for Reply<'a> {
    fn from(v: Payload<'a>) -> Self {
        Reply::Body(v)
    }
}

impl From<Response> for Reply<'_> {
    fn from(v: Response) -> Self {
        Reply::Response(v)
    }
}

impl From<Chunk> for Reply<'_> {
    fn from(v: Chunk) -> Self {
        Reply::Chunk(v)
    }
}

impl From<ServerSentEvent> for Reply<'_> {
    fn from(v: ServerSentEvent) -> Self {
        Reply::Event(v)
    }
}

impl<B: Into<Bytes>> From<http::Response<B>> for Reply<'_> {
    fn from(v: http::Response<B>) -> Self {
        Reply::Response(v.into())
    }
}

impl Http {
    fn reject(&self, why: Reject, cx: &mut Context<'_, HttpState>) -> ProtocolError {
        cx.state.closing = true;
        cx.state.head = None;
        cx.out().extend_from_slice(why.response());
        ProtocolError::new(why.reason())
    }

    /// Takes the flags of the response being written: whether it closes the connection, and
    /// whether its request was HEAD.
    fn next_response(cx: &mut Context<'_, HttpState>) -> Flags {
        let mut f = cx.state.flags.pop_front().unwrap_or_default();
        f.close |= cx.stopping();
        f
    }

    fn queued(cx: &mut Context<'_, HttpState>) -> Vec<(&'static str, String)> {
        cx.state.pending.as_ref().map(|p| p.take()).unwrap_or_default()
    }

    fn finish(after: After, close: bool, cx: &mut Context<'_, HttpState>) {
        match after {
            After::Done if close => cx.close(),
            After::Done | After::File => {}
            After::Stream => cx.state.stream_close |= close,
        }
    }

    fn end_stream(cx: &mut Context<'_, HttpState>) {
        cx.state.in_stream = false;
        if std::mem::take(&mut cx.state.stream_close) {
            cx.close();
        }
    }
}

impl Protocol for Http {
    const SCHEME: &'static str = "http";
    type Message = Request;
    type Outgoing<'a> = Reply<'a>;
    type State = HttpState;

    fn input(&self, buf: &[u8], cx: &mut Context<'_, HttpState>) -> Result<Option<usize>, ProtocolError> {
        if cx.state.closing {
            // After `Connection: close`, nothing more is read as a request.
            return Ok(None);
        }
        let max = cx.max_package_size();
        if cx.state.head.is_none() {
            let limit = self.config.max_head_size.min(max);
            let head = match parse::parse_head(buf, limit) {
                Ok(Some(head)) => head,
                Ok(None) => return Ok(None),
                Err(Reject::HeadTooLarge) if limit < self.config.max_head_size => {
                    return Err(self.reject(Reject::TooLarge, cx));
                }
                Err(why) => return Err(self.reject(why, cx)),
            };
            match head.framing {
                Framing::Length(n) => {
                    let total = (head.len as u64).saturating_add(n);
                    if total > max as u64 {
                        return Err(self.reject(Reject::TooLarge, cx));
                    }
                    cx.state.head = Some(head);
                    return Ok(Some(total as usize));
                }
                Framing::Chunked => {
                    cx.state.scan = ChunkScan::new(head.len);
                    cx.state.head = Some(head);
                }
            }
        }
        let mut scan = cx.state.scan;
        let r = parse::scan_chunks(buf, &mut scan, max);
        cx.state.scan = scan;
        r.map_err(|why| self.reject(why, cx))
    }

    fn decode(&self, packet: Bytes, cx: &mut Context<'_, HttpState>) -> Result<Option<Request>, ProtocolError> {
        let Some(head) = cx.state.head.take() else {
            return Err(ProtocolError::new("http: packet without a parsed head"));
        };
        let (body, trailers) = match head.framing {
            Framing::Length(_) => (packet.slice(head.len..), Vec::new()),
            Framing::Chunked => {
                let (body, trailers) = parse::dechunk(&packet, head.len, cx.state.scan.body_len);
                (Bytes::from(body), trailers)
            }
        };
        if !head.keep_alive {
            cx.state.closing = true;
        }
        cx.state.served = true;
        cx.state.flags.push_back(Flags {
            close: !head.keep_alive,
            head: head.method == Method::Head,
        });
        let config = &self.config;
        let config = cx.state.config.get_or_insert_with(|| Rc::new(config.clone())).clone();
        let pending = cx.state.pending.get_or_insert_with(Default::default).clone();
        Ok(Some(Request::new(
            packet,
            head,
            body,
            trailers,
            cx.peer(),
            config,
            Some(pending),
        )))
    }

    /// `Open` while the application has the next move (a request not answered yet, a response
    /// streaming, a file being sent) or the connection is closing; `Body` while a body arrives;
    /// `Head` while a head arrives (and before the first request); `KeepAlive` in between.
    fn phase(&self, s: &HttpState, buffered: usize) -> super::Phase {
        use super::Phase;
        if s.closing || !s.flags.is_empty() || s.streaming || s.in_stream || s.file.is_some() {
            Phase::Open
        } else if s.head.is_some() {
            Phase::Body
        } else if buffered > 0 || !s.served {
            Phase::Head
        } else {
            Phase::KeepAlive
        }
    }

    /// A late head or body is answered `408 Request Timeout` (a keep-alive wait ends silently).
    fn timed_out(&self, phase: super::Phase, cx: &mut Context<'_, HttpState>) {
        if matches!(phase, super::Phase::Head | super::Phase::Body) {
            cx.state.closing = true;
            cx.state.head = None;
            cx.out()
                .extend_from_slice(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        }
    }

    fn encode(&self, msg: Reply<'_>, cx: &mut Context<'_, HttpState>) {
        match msg {
            Reply::Body(body) => {
                let f = Self::next_response(cx);
                let queued = Self::queued(cx);
                response::write_plain(cx.out(), body.as_bytes(), f.close, f.head, &queued);
                if f.close {
                    cx.close();
                }
            }
            Reply::Response(resp) => {
                let f = Self::next_response(cx);
                let queued = Self::queued(cx);
                if let Some(body) = resp.file_body().filter(|_| !f.head) {
                    // The file is the connection side's to open and read: the head waits for it.
                    let mut head = BytesMut::new();
                    response::write_response(&mut head, &resp, f.close, false, &queued);
                    cx.state.file = Some(Box::new(PendingFile {
                        head,
                        body: body.clone(),
                        close: f.close,
                    }));
                    cx.raise_event();
                    return;
                }
                let after = response::write_response(cx.out(), &resp, f.close, f.head, &queued);
                cx.state.discard_stream = f.head && after == After::Stream;
                cx.state.in_stream = after == After::Stream;
                Self::finish(after, f.close, cx);
            }
            Reply::Chunk(chunk) if cx.state.discard_stream => {
                if chunk.0.is_empty() {
                    cx.state.discard_stream = false;
                    Self::end_stream(cx);
                }
            }
            Reply::Event(_) if cx.state.discard_stream => {}
            Reply::Chunk(chunk) => {
                if chunk.0.is_empty() {
                    cx.out().extend_from_slice(b"0\r\n\r\n");
                    Self::end_stream(cx);
                } else {
                    stream::put_chunk(cx.out(), &chunk.0);
                }
            }
            Reply::Event(ev) => {
                use std::fmt::Write;
                let mut s = String::new();
                let _ = write!(s, "{ev}");
                cx.out().extend_from_slice(s.as_bytes());
            }
        }
    }
}

/// Writes `resp` as the wire form of a response to a `GET` on a keep-alive connection (for
/// tests and tools); of a file body, only the head (the file is read by the connection).
pub fn to_bytes(resp: &Response) -> BytesMut {
    let mut out = BytesMut::new();
    response::write_response(&mut out, resp, false, false, &[]);
    out
}

#[cfg(test)]
mod tests;
