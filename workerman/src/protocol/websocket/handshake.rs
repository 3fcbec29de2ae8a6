//! The opening handshake (RFC 6455 §4.2): the client's HTTP/1.1 `GET` upgrade request, the
//! server's `101 Switching Protocols` answer, and the error replies for bad requests.
//!
//! ```text
//! GET /chat?room=1 HTTP/1.1                 HTTP/1.1 101 Switching Protocols
//! Host: example.com                         Upgrade: websocket
//! Upgrade: websocket               ──►      Connection: Upgrade
//! Connection: Upgrade                       Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
//! Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==   (+ negotiated extension, + headers added by the
//! Sec-WebSocket-Version: 13                     on_websocket_connect hook)
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

use sha1::{Digest, Sha1};

/// Largest accepted handshake request head, in bytes (16 KiB, the HTTP head limit).
pub const MAX_HANDSHAKE_SIZE: usize = 16 * 1024;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The handshake request, as `on_websocket_connect` sees it: path, query, headers, cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    /// The request target as sent (`/chat?room=1`).
    pub fn uri(&self) -> &str {
        &self.target
    }

    /// The path, without the query (`/chat`).
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The raw query string, without `?` (empty when there is none).
    pub fn query_string(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// The first query parameter named `name`, percent-decoded (`+` is a space).
    ///
    /// ```
    /// # let req = workerman::protocol::websocket::Request::parse(
    /// #     b"GET /chat?room=a%20b&x HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    /// assert_eq!(req.query("room").as_deref(), Some("a b"));
    /// assert_eq!(req.query("x").as_deref(), Some(""));
    /// ```
    pub fn query(&self, name: &str) -> Option<String> {
        self.query_string().split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v).into_owned())
        })
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in order, names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The cookie named `name`, from the `Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .find_map(|c| {
                let (k, v) = c.trim().split_once('=')?;
                (k == name).then_some(v)
            })
    }

    /// Parses a complete request head (up to and including the blank line).
    pub fn parse(head: &[u8]) -> Result<Request, Rejection> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(Rejection::bad_request("incomplete handshake request")),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Rejection::new(431, "more than 64 headers in the handshake"));
            }
            Err(e) => return Err(Rejection::bad_request(format!("bad handshake request: {e}"))),
        }
        if req.method != Some("GET") {
            return Err(Rejection::bad_request("the handshake must be a GET"));
        }
        if req.version != Some(1) {
            return Err(Rejection::bad_request("the handshake must be HTTP/1.1"));
        }
        let mut out = Vec::with_capacity(req.headers.len());
        for h in req.headers.iter() {
            let Ok(v) = std::str::from_utf8(h.value) else {
                return Err(Rejection::bad_request("a handshake header value is not UTF-8"));
            };
            out.push((h.name.to_owned(), v.trim().to_owned()));
        }
        Ok(Request {
            target: req.path.unwrap_or("/").to_owned(),
            headers: out,
        })
    }

    /// Checks the upgrade headers (RFC 6455 §4.2.1) and returns the `Sec-WebSocket-Accept` value.
    pub fn validate(&self) -> Result<String, Rejection> {
        let version = self.header("sec-websocket-version");
        match version {
            None => return Err(Rejection::missing_version()),
            Some("13") => {}
            Some(_) => return Err(Rejection::upgrade_required()),
        }
        if !has_token(self.header("upgrade"), "websocket") {
            return Err(Rejection::bad_request("missing `Upgrade: websocket`"));
        }
        if !self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
            .any(|(_, v)| has_token(Some(v), "upgrade"))
        {
            return Err(Rejection::bad_request("missing `Connection: Upgrade`"));
        }
        if self.header("host").is_none() {
            return Err(Rejection::bad_request("missing Host header"));
        }
        let key = self
            .header("sec-websocket-key")
            .ok_or_else(|| Rejection::bad_request("missing Sec-WebSocket-Key"))?;
        if !is_base64_of_16_bytes(key) {
            return Err(Rejection::bad_request("Sec-WebSocket-Key is not 16 bytes in base64"));
        }
        Ok(accept_key(key))
    }
}

/// Whether `key` is the base64 form of exactly 16 bytes: 22 alphabet characters, the last of
/// which carries 2 bits (so its low 4 are zero: `A`, `Q`, `g` or `w`), then `==`.
fn is_base64_of_16_bytes(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b[22..] == *b"=="
        && b[..22]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        && matches!(b[21], b'A' | b'Q' | b'g' | b'w')
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(sha1(key + GUID)).
///
/// ```
/// use workerman::protocol::websocket::accept_key;
/// assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64(&h.finalize())
}

/// Standard base64 with padding.
pub(crate) fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A refused handshake: the HTTP reply to send before closing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status code.
    pub status: u16,
    /// Why, for the log (and the body of a 400).
    pub reason: Cow<'static, str>,
    extra: &'static str,
}

impl Rejection {
    /// A rejection with `status` (e.g. 403 from an `on_websocket_connect` hook).
    pub fn new(status: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        Rejection {
            status,
            reason: reason.into(),
            extra: "",
        }
    }

    fn bad_request(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, reason)
    }

    fn missing_version() -> Self {
        Rejection {
            extra: "Sec-WebSocket-Version: 13\r\n",
            ..Self::bad_request("missing Sec-WebSocket-Version")
        }
    }

    fn upgrade_required() -> Self {
        Rejection {
            extra: "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
            ..Self::new(426, "unsupported Sec-WebSocket-Version (only 13 is)")
        }
    }

    /// The HTTP response bytes.
    pub fn response(&self) -> Vec<u8> {
        let body = if self.status == 400 {
            "<div style=\"text-align:center\"><h1>400 Bad Request</h1><hr>workerman</div>"
        } else {
            ""
        };
        format!(
            "HTTP/1.1 {} {}\r\n{}Content-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.status,
            reason_phrase(self.status),
            self.extra,
            body.len()
        )
        .into_bytes()
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// The 101 reply being prepared: `on_websocket_connect` may add headers, pick a subprotocol, or
/// reject the connection with an HTTP status.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Response {
    headers: Vec<(String, String)>,
    reject: Option<u16>,
}

impl Response {
    /// Adds a response header (`Set-Cookie`, `Sec-WebSocket-Protocol`, ...). Names or values
    /// holding CR or LF are ignored, as in Workerman.
    pub fn header(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let (name, value) = (name.into(), value.into());
        if !name.is_empty() && !name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']) {
            self.headers.push((name, value));
        }
        self
    }

    /// Refuses the connection: the client gets `status` (e.g. 403) and the connection closes.
    pub fn reject(&mut self, status: u16) {
        self.reject = Some(status);
    }

    /// The status the connection was refused with, if it was.
    pub fn rejected(&self) -> Option<u16> {
        self.reject
    }

    /// Writes `HTTP/1.1 101 Switching Protocols` with the accept key, the negotiated extension
    /// (if any) and the added headers.
    pub fn write_101(&self, accept: &str, extension: Option<&str>, out: &mut Vec<u8>) {
        let mut s = String::with_capacity(160);
        s.push_str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        let _ = write!(s, "Sec-WebSocket-Accept: {accept}\r\n");
        if let Some(ext) = extension {
            let _ = write!(s, "Sec-WebSocket-Extensions: {ext}\r\n");
        }
        for (k, v) in &self.headers {
            let _ = write!(s, "{k}: {v}\r\n");
        }
        s.push_str("\r\n");
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"GET /chat?room=a%2Fb&n=1 HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nCookie: a=1; sid=xyz\r\n\r\n";

    #[test]
    fn parses_and_validates() {
        let r = Request::parse(GOOD).unwrap();
        assert_eq!(r.path(), "/chat");
        assert_eq!(r.query_string(), "room=a%2Fb&n=1");
        assert_eq!(r.query("room").as_deref(), Some("a/b"));
        assert_eq!(r.query("n").as_deref(), Some("1"));
        assert_eq!(r.query("zz"), None);
        assert_eq!(r.cookie("sid"), Some("xyz"));
        assert_eq!(r.header("UPGRADE"), Some("WebSocket"));
        assert_eq!(r.validate().unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn rejections() {
        let req = |s: &str| Request::parse(s.as_bytes()).unwrap().validate().unwrap_err();
        let base = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
        assert_eq!(
            req(&format!("{base}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")).status,
            400
        );
        let r = req(&format!(
            "{base}Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        ));
        assert_eq!(r.status, 426);
        assert!(
            String::from_utf8(r.response())
                .unwrap()
                .contains("Sec-WebSocket-Version: 13")
        );
        assert_eq!(req(&format!("{base}Sec-WebSocket-Version: 13\r\n\r\n")).status, 400);
        assert_eq!(
            Request::parse(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn response_skips_unsafe_headers() {
        let mut r = Response::default();
        r.header("X-A", "1")
            .header("X-B", "evil\r\nInjected: 1")
            .header("Bad\nName", "v");
        let mut out = Vec::new();
        r.write_101("acc", Some("permessage-deflate"), &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("X-A: 1\r\n") && !s.contains("Injected") && !s.contains("Bad"));
        assert!(s.starts_with("HTTP/1.1 101 Switching Protocols\r\n") && s.ends_with("\r\n\r\n"));
    }
}

#[cfg(test)]
mod key_tests {
    use super::is_base64_of_16_bytes;

    #[test]
    fn handshake_keys() {
        assert!(is_base64_of_16_bytes("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_base64_of_16_bytes("dGhlIHNhbXBsZSBub25jZR=="), "17th byte bits set");
        assert!(!is_base64_of_16_bytes("dGhlIHNhbXBsZSBub25j*Q=="));
        assert!(!is_base64_of_16_bytes("short=="));
    }
}
