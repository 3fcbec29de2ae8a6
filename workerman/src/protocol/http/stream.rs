//! Streaming responses: chunks (`Transfer-Encoding: chunked`) and Server-Sent Events.
//!
//! ```text
//! chunk:  <hex len>\r\n<data>\r\n        last chunk:  0\r\n\r\n
//! event:  : comment\n event: x\n id: x\n retry: x\n data: line 1\n data: line 2\n \n
//! ```

use bytes::{BufMut, Bytes, BytesMut};

/// One chunk of a chunked response; an empty chunk ends the response.
///
/// ```no_run
/// use workerman::protocol::http::{Chunk, Response};
/// # fn demo(conn: &workerman::TcpConnection<workerman::protocol::Http>) {
/// conn.send(Response::new(200).with_header("Transfer-Encoding", "chunked"));
/// conn.send(Chunk::new("first part"));
/// conn.send(Chunk::new("second part"));
/// conn.send(Chunk::end());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk(pub Bytes);

impl Chunk {
    /// A chunk carrying `data` (empty data ends the response).
    pub fn new(data: impl Into<Bytes>) -> Self {
        Chunk(data.into())
    }

    /// The last chunk (`0\r\n\r\n`).
    pub fn end() -> Self {
        Chunk(Bytes::new())
    }
}

pub(crate) fn put_chunk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 20);
    let mut hex = [0u8; 16];
    let mut i = hex.len();
    let mut n = data.len();
    loop {
        i -= 1;
        hex[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&hex[i..]);
    out.put_slice(b"\r\n");
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// One Server-Sent Event. Send the head first:
/// `Response::new(200).with_header("Content-Type", "text/event-stream")`.
///
/// ```
/// use workerman::protocol::http::ServerSentEvent;
/// let ev = ServerSentEvent::new().data("some thing").event("ping").id("1000").retry(5000);
/// assert_eq!(ev.to_string(), "event: ping\nid: 1000\nretry: 5000\ndata: some thing\n\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerSentEvent {
    comment: Option<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    data: Option<String>,
}

impl ServerSentEvent {
    /// An empty event.
    pub fn new() -> Self {
        Self::default()
    }

    /// `data:` lines (a newline in `data` starts another `data:` line).
    pub fn data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// `event:`.
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(name.into());
        self
    }

    /// `id:`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// `retry:` in milliseconds.
    pub fn retry(mut self, ms: u64) -> Self {
        self.retry = Some(ms);
        self
    }

    /// A `: comment` line (keeps idle connections alive).
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }
}

impl std::fmt::Display for ServerSentEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let one_line = |s: &str| s.replace(['\r', '\n'], " ");
        if let Some(c) = &self.comment {
            writeln!(f, ": {}", one_line(c))?;
        }
        if let Some(e) = &self.event {
            writeln!(f, "event: {}", one_line(e))?;
        }
        if let Some(id) = &self.id {
            writeln!(f, "id: {}", one_line(id))?;
        }
        if let Some(r) = self.retry {
            writeln!(f, "retry: {r}")?;
        }
        if let Some(d) = &self.data {
            // SSE ends a line at CR, LF or CRLF: split on all three, so data cannot add fields.
            for line in d.split("\r\n").flat_map(|l| l.split(['\r', '\n'])) {
                writeln!(f, "data: {line}")?;
            }
        }
        f.write_str("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_wire() {
        let mut out = BytesMut::new();
        put_chunk(&mut out, &[b'x'; 26]);
        assert_eq!(&out[..4], b"1a\r\n");
    }

    #[test]
    fn multi_line_data() {
        let ev = ServerSentEvent::new().data("a\nb").comment("hi");
        assert_eq!(ev.to_string(), ": hi\ndata: a\ndata: b\n\n");
    }
}
