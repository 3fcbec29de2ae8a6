//! `Response`: status, headers, cookies and a body (bytes or a file), and its wire form.
//!
//! ```text
//! HTTP/1.1 200 OK\r\n
//! <queued headers, e.g. the session's Set-Cookie>\r\n
//! <your headers, in insertion order>\r\n
//! Connection: keep-alive\r\n                 (close when the request asked, or the worker is stopping)
//! Content-Type: text/html;charset=utf-8\r\n  (unless you set one)
//! Content-Length: 5\r\n                      (not with Transfer-Encoding or text/event-stream)
//! \r\n
//! hello
//! ```

use std::borrow::Cow;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::{BufMut, Bytes, BytesMut};

/// Files up to this size are read into the response at once; larger ones are streamed.
pub const INLINE_FILE_MAX: u64 = 2 * 1024 * 1024;

type Text = Cow<'static, str>;

/// An HTTP response. Build it with the `with_*` methods and send it with `conn.send(resp)`.
///
/// ```
/// use workerman::protocol::http::{Response, SetCookie};
/// let resp = Response::new(201)
///     .with_header("Content-Type", "application/json")
///     .with_cookie(SetCookie::new("theme", "dark").path("/").http_only(true))
///     .with_body(r#"{"ok":true}"#);
/// assert_eq!(resp.status(), 201);
/// assert_eq!(resp.header("content-type"), Some("application/json"));
/// ```
#[derive(Clone)]
pub struct Response {
    status: u16,
    reason: Option<Text>,
    minor: u8,
    headers: Vec<(Text, Text)>,
    body: Body,
}

#[derive(Clone)]
pub(crate) enum Body {
    Bytes(Bytes),
    File(FileBody),
}

/// A byte range of a file on disk, sent as the body.
#[derive(Clone, Debug)]
pub(crate) struct FileBody {
    pub path: PathBuf,
    pub offset: u64,
    pub len: u64,
}

impl Default for Response {
    fn default() -> Self {
        Response::new(200)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body_len())
            .finish()
    }
}

impl From<&str> for Response {
    fn from(s: &str) -> Self {
        Response::new(200).with_body(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Response {
    fn from(s: String) -> Self {
        Response::new(200).with_body(s)
    }
}

impl From<Vec<u8>> for Response {
    fn from(s: Vec<u8>) -> Self {
        Response::new(200).with_body(s)
    }
}

impl From<Bytes> for Response {
    fn from(s: Bytes) -> Self {
        Response::new(200).with_body(s)
    }
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            reason: None,
            minor: 1,
            headers: Vec::new(),
            body: Body::Bytes(Bytes::new()),
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Sets the status code (and optionally a custom reason phrase).
    pub fn with_status(mut self, status: u16, reason: Option<&str>) -> Self {
        self.status = status;
        self.reason = reason.map(|r| Cow::Owned(r.to_string()));
        self
    }

    /// The reason phrase: the custom one, else the standard one, else empty.
    pub fn reason(&self) -> &str {
        match &self.reason {
            Some(r) => r,
            None => reason_phrase(self.status),
        }
    }

    /// Sets the protocol version of the status line (`"1.0"` or `"1.1"`, the default).
    pub fn with_protocol_version(mut self, version: &str) -> Self {
        self.minor = if version == "1.0" { 0 } else { 1 };
        self
    }

    /// Sets the header `name`, replacing any with the same name (case-insensitive).
    pub fn with_header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Self {
        self.set_header(name, value);
        self
    }

    /// Sets the header `name` in place, replacing any with the same name.
    pub fn set_header(&mut self, name: impl Into<Text>, value: impl Into<Text>) {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
    }

    /// Adds a header line, keeping any with the same name (for `Set-Cookie`, `Link`...).
    pub fn add_header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets several headers (each replacing its name).
    pub fn with_headers<N: Into<Text>, V: Into<Text>>(mut self, headers: impl IntoIterator<Item = (N, V)>) -> Self {
        for (n, v) in headers {
            self.set_header(n, v);
        }
        self
    }

    /// Removes every header `name`.
    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// The first value of the header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// Every header, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// Adds a `Set-Cookie` header.
    pub fn with_cookie(self, cookie: SetCookie) -> Self {
        self.add_header("Set-Cookie", cookie.to_string())
    }

    /// Sets the body (`&'static str`, `String`, `Vec<u8>`, `Bytes`).
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::Bytes(body.into());
        self
    }

    /// The body bytes (empty for a file body).
    pub fn body(&self) -> &[u8] {
        match &self.body {
            Body::Bytes(b) => b,
            Body::File(_) => &[],
        }
    }

    /// Body length in bytes (a file body's range length).
    pub fn body_len(&self) -> u64 {
        match &self.body {
            Body::Bytes(b) => b.len() as u64,
            Body::File(f) => f.len,
        }
    }

    /// The file sent as the body, if any.
    pub fn file(&self) -> Option<&Path> {
        match &self.body {
            Body::File(f) => Some(&f.path),
            Body::Bytes(_) => None,
        }
    }

    pub(crate) fn into_body(self) -> Body {
        self.body
    }

    pub(crate) fn file_body(&self) -> Option<&FileBody> {
        match &self.body {
            Body::File(f) => Some(f),
            Body::Bytes(_) => None,
        }
    }

    /// A response sending the file at `path` (Workerman's `withFile`): Content-Type from the
    /// extension, `Last-Modified`, `Accept-Ranges: bytes`. A missing or unreadable file gives
    /// `404` with `<h3>404 Not Found</h3>`. Files up to 2 MiB are read at once; send larger ones
    /// with [`HttpConnectionExt::respond`](super::HttpConnectionExt::respond) to stream them from
    /// disk with backpressure.
    pub fn with_file(self, path: impl AsRef<Path>) -> Self {
        self.with_file_range(path, 0, 0)
    }

    /// Like [`with_file`](Self::with_file) for `length` bytes from `offset` (`length` 0: to the
    /// end). A range other than the whole file gives `206` with `Content-Range`; a range past the
    /// end gives `416`.
    pub fn with_file_range(mut self, path: impl AsRef<Path>, offset: u64, length: u64) -> Self {
        let path = path.as_ref();
        let meta = match fs::metadata(path) {
            Ok(m) if m.is_file() => m,
            _ => return not_found(),
        };
        let size = meta.len();
        if offset > 0 && offset >= size {
            return Response::new(416).with_header("Content-Range", format!("bytes */{size}"));
        }
        let len = if length == 0 {
            size - offset
        } else {
            length.min(size - offset)
        };
        let ct = super::file::mime_type(path);
        self.set_header("Content-Type", ct);
        if ct == "application/octet-stream" {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().replace('"', ""))
                .unwrap_or_default();
            self.set_header("Content-Disposition", format!("attachment; filename=\"{name}\""));
        }
        self.set_header("Accept-Ranges", "bytes");
        if let Ok(mtime) = meta.modified() {
            self.set_header("Last-Modified", httpdate::fmt_http_date(mtime));
        }
        if offset > 0 || len < size {
            self.status = 206;
            self.set_header("Content-Range", format!("bytes {offset}-{}/{size}", offset + len - 1));
        }
        self.body = Body::File(FileBody {
            path: path.to_path_buf(),
            offset,
            len,
        });
        self
    }

    /// The file's modification time, for a file body.
    pub fn last_modified(&self) -> Option<SystemTime> {
        self.header("last-modified")
            .and_then(|d| httpdate::parse_http_date(d).ok())
    }
}

pub(crate) fn not_found() -> Response {
    Response::new(404).with_body("<h3>404 Not Found</h3>")
}

/// A `Set-Cookie` header value (Workerman's `cookie(name, value, maxAge, path, domain, secure,
/// httpOnly, sameSite)`). The value is percent-encoded like PHP's `rawurlencode`.
///
/// ```
/// use workerman::protocol::http::SetCookie;
/// let c = SetCookie::new("sid", "a b").max_age(3600).path("/").secure(true).same_site("Lax");
/// assert_eq!(c.to_string(), "sid=a%20b; Max-Age=3600; Path=/; Secure; SameSite=Lax");
/// ```
#[derive(Debug, Clone, Default)]
pub struct SetCookie {
    name: String,
    value: String,
    raw: bool,
    max_age: Option<i64>,
    path: String,
    domain: String,
    secure: bool,
    http_only: bool,
    same_site: String,
}

impl SetCookie {
    /// A session cookie `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        SetCookie {
            name: name.into(),
            value: value.into(),
            ..Default::default()
        }
    }

    /// Sends the value as it is, without percent-encoding.
    pub fn raw(mut self) -> Self {
        self.raw = true;
        self
    }

    /// `Max-Age` in seconds.
    pub fn max_age(mut self, secs: i64) -> Self {
        self.max_age = Some(secs);
        self
    }

    /// `Path`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// `Domain`.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = domain.into();
        self
    }

    /// `Secure`.
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// `HttpOnly`.
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// `SameSite` (`Strict`, `Lax`, `None`; empty: not sent).
    pub fn same_site(mut self, v: impl Into<String>) -> Self {
        self.same_site = v.into();
        self
    }
}

impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        f.write_str("=")?;
        if self.raw {
            f.write_str(&self.value)?;
        } else {
            const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
                .remove(b'-')
                .remove(b'_')
                .remove(b'.')
                .remove(b'~');
            write!(f, "{}", percent_encoding::utf8_percent_encode(&self.value, SET))?;
        }
        if !self.domain.is_empty() {
            write!(f, "; Domain={}", self.domain)?;
        }
        if let Some(age) = self.max_age {
            write!(f, "; Max-Age={age}")?;
        }
        if !self.path.is_empty() {
            write!(f, "; Path={}", self.path)?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        if !self.same_site.is_empty() {
            write!(f, "; SameSite={}", self.same_site)?;
        }
        Ok(())
    }
}

/// The standard reason phrase of `status`, empty when unknown.
pub fn reason_phrase(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// Appends the decimal form of `n`.
pub(crate) fn put_u64(out: &mut BytesMut, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&buf[i..]);
}

fn status_line(out: &mut BytesMut, minor: u8, status: u16, reason: &str) {
    if minor == 1 && status == 200 && reason == "OK" {
        out.put_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.put_slice(if minor == 1 { b"HTTP/1.1 " } else { b"HTTP/1.0 " });
    put_u64(out, u64::from(status.clamp(100, 999)));
    out.put_u8(b' ');
    // A reason phrase is text: control characters (CR, LF...) would inject header lines.
    for &b in reason.as_bytes() {
        out.put_u8(if b.is_ascii_control() && b != b'\t' { b' ' } else { b });
    }
    out.put_slice(b"\r\n");
}

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(super::parse::is_tchar)
}

fn valid_value(v: &str) -> bool {
    !v.bytes().any(|b| b == b'\r' || b == b'\n')
}

/// How a response's body continues after its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// The response is complete.
    Done,
    /// Chunks or events follow.
    Stream,
    /// The head of a file body was written; the file follows (read by the connection side).
    File,
}

/// Writes the fast-path response: 200, default headers, `body`.
pub(crate) fn write_plain(
    out: &mut BytesMut,
    body: &[u8],
    close: bool,
    head_only: bool,
    queued: &[(&'static str, String)],
) {
    out.reserve(128 + body.len());
    out.put_slice(b"HTTP/1.1 200 OK\r\n");
    for (n, v) in queued {
        put_header(out, n, v);
    }
    out.put_slice(if close {
        b"Connection: close\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: "
    } else {
        b"Connection: keep-alive\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: "
    });
    put_u64(out, body.len() as u64);
    out.put_slice(b"\r\n\r\n");
    if !head_only {
        out.put_slice(body);
    }
}

fn put_header(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}

/// Writes `resp`; of a file body only the head ([`After::File`]: the caller sends the file).
pub(crate) fn write_response(
    out: &mut BytesMut,
    resp: &Response,
    close: bool,
    head_only: bool,
    queued: &[(&'static str, String)],
) -> After {
    out.reserve(256 + resp.body().len());
    status_line(out, resp.minor, resp.status, resp.reason());
    for (n, v) in queued {
        if !resp
            .headers
            .iter()
            .any(|(rn, _)| rn.eq_ignore_ascii_case(n) && !n.eq_ignore_ascii_case("set-cookie"))
        {
            put_header(out, n, v);
        }
    }
    let (mut has_conn, mut has_ct, mut chunked, mut sse) = (false, false, false, false);
    for (n, v) in &resp.headers {
        if !valid_name(n) || !valid_value(v) {
            continue;
        }
        if n.eq_ignore_ascii_case("connection") {
            has_conn = true;
            if close {
                continue;
            }
        } else if n.eq_ignore_ascii_case("content-type") {
            has_ct = true;
            sse = v.trim().eq_ignore_ascii_case("text/event-stream");
        } else if n.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        } else if n.eq_ignore_ascii_case("content-length") {
            continue;
        }
        put_header(out, n, v);
    }
    if close {
        out.put_slice(b"Connection: close\r\n");
    } else if !has_conn {
        out.put_slice(b"Connection: keep-alive\r\n");
    }
    // 1xx, 204 and 304 have no body by definition (RFC 9110 §6.4.1): no Content-Length, no
    // default Content-Type, nothing after the head.
    if resp.status < 200 || resp.status == 204 || resp.status == 304 {
        out.put_slice(b"\r\n");
        return After::Done;
    }
    if !has_ct {
        out.put_slice(b"Content-Type: text/html;charset=utf-8\r\n");
    }
    if sse || chunked {
        out.put_slice(b"\r\n");
        let body = resp.body();
        if !head_only && !body.is_empty() {
            if chunked {
                super::stream::put_chunk(out, body);
            } else {
                out.put_slice(body);
            }
        }
        return After::Stream;
    }
    out.put_slice(b"Content-Length: ");
    put_u64(out, resp.body_len());
    out.put_slice(b"\r\n\r\n");
    if head_only {
        return After::Done;
    }
    match &resp.body {
        Body::Bytes(b) => out.put_slice(b),
        Body::File(_) => return After::File,
    }
    After::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(resp: &Response, close: bool) -> String {
        let mut out = BytesMut::new();
        write_response(&mut out, resp, close, false, &[]);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn defaults_and_order() {
        assert_eq!(
            wire(&Response::from("hi"), false),
            "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: 2\r\n\r\nhi"
        );
        let r = Response::new(404)
            .with_header("X-A", "1")
            .with_header("Content-Type", "text/plain")
            .with_header("Bad\r\nName", "x")
            .with_header("X-B", "bad\r\nvalue")
            .with_body("no");
        assert_eq!(
            wire(&r, true),
            "HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"
        );
        let r = Response::new(299).with_status(299, Some("Fine"));
        assert!(wire(&r, false).starts_with("HTTP/1.1 299 Fine\r\n"));
        let r = Response::new(299);
        assert!(wire(&r, false).starts_with("HTTP/1.1 299 \r\n"));
    }

    #[test]
    fn chunked_and_sse_heads() {
        let r = Response::new(200)
            .with_header("Transfer-Encoding", "chunked")
            .with_body("abc");
        assert!(wire(&r, false).ends_with("\r\n\r\n3\r\nabc\r\n"));
        let r = Response::new(200).with_header("Content-Type", "text/event-stream");
        let w = wire(&r, false);
        assert!(
            w.ends_with("Content-Type: text/event-stream\r\nConnection: keep-alive\r\n\r\n"),
            "{w}"
        );
    }

    #[test]
    fn plain_fast_path_matches_the_general_one() {
        let mut a = BytesMut::new();
        write_plain(&mut a, b"hello world", false, false, &[]);
        assert_eq!(&a[..], wire(&Response::from("hello world"), false).as_bytes());
    }
}
