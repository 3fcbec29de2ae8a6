//! Request framing, strict (RFC 9112): the head, its validation, and the body's length.
//!
//! ```text
//!  GET /path?q=1 HTTP/1.1\r\n          request line: one of 7 methods, origin-form target, HTTP/1.0|1.1
//!  Host: example.com\r\n               exactly one Host (required with 1.1), no userinfo, one port
//!  Content-Length: 5\r\n               one, all digits  ─┐ never both; Transfer-Encoding only
//!  Transfer-Encoding: chunked\r\n      exactly `chunked` ─┘ as a single header
//!  \r\n                                CRLF line ends only (a bare LF is refused), no obs-fold
//!  <body>                              Content-Length bytes, or chunks: hex-size[;ext]\r\n data \r\n … 0\r\n trailers \r\n
//! ```
//!
//! Any violation is a [`Reject`]: 400, 413 (body over `max_package_size`) or 431 (head over the
//! head limit). The head is parsed once per request with `httparse`; the checks `httparse` does
//! not make (methods, target form, Host, framing headers, bare LF) are done here.

use super::request::{Method, Span};

/// Most header lines a request may have; more is a 431.
pub(crate) const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (size + extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// Why a request is refused, and with which status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// 400 Bad Request, with the reason for the log.
    BadRequest(&'static str),
    /// 413 Payload Too Large.
    TooLarge,
    /// 431 Request Header Fields Too Large.
    HeadTooLarge,
}

impl Reject {
    /// The complete response sent before closing.
    pub fn response(self) -> &'static [u8] {
        match self {
            Reject::BadRequest(_) => b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            Reject::TooLarge => b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            Reject::HeadTooLarge => {
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            }
        }
    }

    /// Text for the log line.
    pub fn reason(self) -> String {
        match self {
            Reject::BadRequest(why) => format!("HTTP 400 bad request: {why}"),
            Reject::TooLarge => "HTTP 413: request larger than max_package_size".into(),
            Reject::HeadTooLarge => "HTTP 431: request head too large".into(),
        }
    }
}

/// How the body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length` bytes (0 without the header).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A validated request head, as offsets into the packet.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub method: Method,
    pub target: Span,
    pub minor: u8,
    /// (name, value) spans; values trimmed of SP/HT.
    pub headers: Vec<(Span, Span)>,
    /// Bytes of the head, blank line included.
    pub len: usize,
    pub framing: Framing,
    /// Whether the client keeps the connection open after this request.
    pub keep_alive: bool,
}

fn span(buf: &[u8], part: &[u8]) -> Span {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    Span::new(start, part.len())
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Parses and validates the head at the start of `buf`; `Ok(None)` until it is complete.
/// `max_head` bounds the head (431 past it).
pub(crate) fn parse_head(buf: &[u8], max_head: usize) -> Result<Option<Head>, Reject> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n > max_head => return Err(Reject::HeadTooLarge),
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= max_head => return Err(Reject::HeadTooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Reject::HeadTooLarge),
        Err(e) => return Err(Reject::BadRequest(bad(e))),
    };
    // httparse tolerates bare LF line ends; RFC 9112 lets a server refuse them, and we do (a proxy
    // in front may split lines differently).
    for i in memchr::memchr_iter(b'\n', &buf[..len]) {
        if i == 0 || buf[i - 1] != b'\r' {
            return Err(Reject::BadRequest("bare LF in the head"));
        }
    }
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes())
        .ok_or(Reject::BadRequest("unsupported method"))?;
    let path = req.path.unwrap_or_default();
    if !path.starts_with('/') {
        return Err(Reject::BadRequest("request target is not origin-form"));
    }
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(Reject::BadRequest("control byte or space in the request target"));
    }
    let minor = req.version.unwrap_or(0);
    let mut headers = Vec::with_capacity(req.headers.len());
    let (mut hosts, mut lengths, mut encodings) = (0, 0, 0);
    let mut length = 0u64;
    let mut chunked = false;
    let (mut close, mut keep) = (false, false);
    for h in req.headers.iter() {
        let value = trim(h.value);
        let name = h.name.as_bytes();
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                hosts += 1;
                if hosts > 1 {
                    return Err(Reject::BadRequest("more than one Host header"));
                }
                if !valid_host(value) {
                    return Err(Reject::BadRequest("invalid Host header"));
                }
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in value.split(|&b| b == b',') {
                    let token = trim(token);
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                lengths += 1;
                if lengths > 1 {
                    return Err(Reject::BadRequest("more than one Content-Length header"));
                }
                length = parse_length(value).ok_or(Reject::BadRequest("invalid Content-Length"))?;
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                encodings += 1;
                if encodings > 1 {
                    return Err(Reject::BadRequest("more than one Transfer-Encoding header"));
                }
                if !value.eq_ignore_ascii_case(b"chunked") {
                    return Err(Reject::BadRequest("Transfer-Encoding other than `chunked`"));
                }
                chunked = true;
            }
            _ => {}
        }
        headers.push((span(buf, name), span(buf, value)));
    }
    if hosts == 0 && minor == 1 {
        return Err(Reject::BadRequest("HTTP/1.1 request without Host"));
    }
    if chunked && lengths > 0 {
        return Err(Reject::BadRequest("both Content-Length and Transfer-Encoding"));
    }
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing (a 1.0 hop
    // would ignore it and read the chunks as another request).
    if chunked && minor == 0 {
        return Err(Reject::BadRequest("Transfer-Encoding in an HTTP/1.0 request"));
    }
    let keep_alive = if minor == 1 { !close } else { keep && !close };
    Ok(Some(Head {
        method,
        target: span(buf, path.as_bytes()),
        minor,
        headers,
        len,
        framing: if chunked {
            Framing::Chunked
        } else {
            Framing::Length(length)
        },
        keep_alive,
    }))
}

fn bad(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid request line",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "unsupported HTTP version",
    }
}

/// `1*DIGIT`, fitting in a u64.
fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter()
        .try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// `^(\[[^\]\r\n]+\]|[^\s:/\[\]\r\n]+)(:[0-9]+)?$`: a host (or bracketed IPv6) and one optional
/// numeric port; no userinfo, spaces or lists.
fn valid_host(v: &[u8]) -> bool {
    let (host, rest) = if let Some(inner) = v.strip_prefix(b"[") {
        let Some(end) = inner.iter().position(|&b| b == b']') else {
            return false;
        };
        if end == 0 || inner[..end].iter().any(|&b| matches!(b, b'\r' | b'\n')) {
            return false;
        }
        (&inner[..end], &inner[end + 1..])
    } else {
        let end = v.iter().position(|&b| b == b':').unwrap_or(v.len());
        let host = &v[..end];
        if host.is_empty()
            || host
                .iter()
                .any(|&b| b.is_ascii_whitespace() || matches!(b, b'/' | b'[' | b']' | b'@' | b',' | 0x0b))
        {
            return false;
        }
        (host, &v[end..])
    };
    let _ = host;
    match rest {
        [] => true,
        [b':', port @ ..] => !port.is_empty() && port.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Progress through a chunked body, kept between reads so each byte is examined once.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChunkScan {
    /// Offset of the next chunk-size line (or trailer line).
    pos: usize,
    /// In the trailer section (after the last chunk).
    trailers: bool,
    /// Trailer fields so far (capped like header fields).
    trailer_count: usize,
    /// Body bytes so far.
    pub body_len: u64,
}

impl ChunkScan {
    pub fn new(head_len: usize) -> Self {
        ChunkScan {
            pos: head_len,
            trailers: false,
            body_len: 0,
            trailer_count: 0,
        }
    }
}

/// Finds the end of the line starting at `from`: the offset of its `\r\n`, `Ok(None)` if not
/// there yet. A bare LF or CR is refused.
fn line_end(buf: &[u8], from: usize, limit: usize) -> Result<Option<usize>, Reject> {
    let window = &buf[from..buf.len().min(from + limit + 2)];
    match memchr::memchr(b'\n', window) {
        Some(i) if i >= 1 && window[i - 1] == b'\r' => {
            if memchr::memchr(b'\r', &window[..i - 1]).is_some() {
                return Err(Reject::BadRequest("bare CR in chunked framing"));
            }
            Ok(Some(from + i - 1))
        }
        Some(_) => Err(Reject::BadRequest("bare LF in chunked framing")),
        None if window.len() > limit => Err(Reject::BadRequest("chunk line too long")),
        None => Ok(None),
    }
}

/// Parses a chunk-size line (without its CRLF): `1*16HEXDIG [BWS ; ext]`.
fn chunk_size(line: &[u8]) -> Result<u64, Reject> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(Reject::BadRequest("invalid chunk size"));
    }
    let ext = trim(&line[digits..]);
    if !ext.is_empty() && (ext[0] != b';' || ext.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f)) {
        return Err(Reject::BadRequest("invalid chunk extension"));
    }
    let mut n = 0u64;
    for &d in &line[..digits] {
        let v = (d as char).to_digit(16).unwrap_or(0) as u64;
        n = n
            .checked_mul(16)
            .and_then(|n| n.checked_add(v))
            .ok_or(Reject::BadRequest("chunk size overflows"))?;
    }
    Ok(n)
}

/// Whether a trailer line is `token ":" value` with a valid value.
fn valid_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0
        && line[..colon].iter().all(|&b| is_tchar(b))
        && line[colon + 1..]
            .iter()
            .all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f))
}

pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Advances through the chunked body in `buf` (the whole packet so far); `Ok(Some(n))` when the
/// request is complete and `n` bytes long. `max` is `max_package_size` (413 past it).
pub(crate) fn scan_chunks(buf: &[u8], scan: &mut ChunkScan, max: usize) -> Result<Option<usize>, Reject> {
    loop {
        let Some(end) = line_end(buf, scan.pos, MAX_CHUNK_LINE)? else {
            return if buf.len() >= max {
                Err(Reject::TooLarge)
            } else {
                Ok(None)
            };
        };
        let line = &buf[scan.pos..end];
        if scan.trailers {
            if line.is_empty() {
                let total = end + 2;
                return if total > max {
                    Err(Reject::TooLarge)
                } else {
                    Ok(Some(total))
                };
            }
            if !valid_field(line) {
                return Err(Reject::BadRequest("invalid trailer field"));
            }
            scan.trailer_count += 1;
            if scan.trailer_count > MAX_HEADERS {
                return Err(Reject::HeadTooLarge);
            }
            scan.pos = end + 2;
            continue;
        }
        let size = chunk_size(line)?;
        if size == 0 {
            scan.trailers = true;
            scan.pos = end + 2;
            continue;
        }
        let data = end + 2;
        let after = (data as u64).saturating_add(size).saturating_add(2);
        if after > max as u64 {
            return Err(Reject::TooLarge);
        }
        let after = after as usize;
        if buf.len() < after {
            return Ok(None);
        }
        if &buf[after - 2..after] != b"\r\n" {
            return Err(Reject::BadRequest("chunk data not followed by CRLF"));
        }
        scan.body_len += size;
        scan.pos = after;
    }
}

/// The body and trailers of a complete, validated chunked request.
pub(crate) fn dechunk(packet: &[u8], head_len: usize, body_len: u64) -> (Vec<u8>, Vec<(String, String)>) {
    let mut body = Vec::with_capacity(body_len as usize);
    let mut trailers = Vec::new();
    let mut pos = head_len;
    loop {
        let end = pos + memchr::memmem::find(&packet[pos..], b"\r\n").unwrap_or(packet.len() - pos);
        let size = chunk_size(&packet[pos..end]).unwrap_or(0) as usize;
        if size == 0 {
            pos = end + 2;
            break;
        }
        body.extend_from_slice(&packet[end + 2..end + 2 + size]);
        pos = end + 2 + size + 2;
    }
    while pos + 2 <= packet.len() {
        let end = pos + memchr::memmem::find(&packet[pos..], b"\r\n").unwrap_or(packet.len() - pos);
        let line = &packet[pos..end];
        if line.is_empty() {
            break;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
            let value = String::from_utf8_lossy(trim(&line[colon + 1..])).into_owned();
            trailers.push((name, value));
        }
        pos = end + 2;
    }
    (body, trailers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<Option<Head>, Reject> {
        parse_head(s.as_bytes(), 16384)
    }

    #[test]
    fn good_heads() {
        let h = head("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.method, Method::Get);
        assert_eq!(h.framing, Framing::Length(0));
        assert!(h.keep_alive);
        let h = head("POST / HTTP/1.0\r\nContent-Length: 12\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.framing, Framing::Length(12));
        assert!(!h.keep_alive);
        let h = head("POST / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive);
        let h = head("GET / HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let h = head("PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Chunked);
        assert!(head("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
    }

    #[test]
    fn bad_heads() {
        for bad in [
            "BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
            "get / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a:x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n",
            "GET / HTTP/1.1\nHost: x\n\n",
            "GET / HTTP/1.1\r\nHost: x\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nA b: c\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nA : c\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nA\x01: c\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1,1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(
                matches!(head(bad), Err(Reject::BadRequest(_))),
                "{bad:?} -> {:?}",
                head(bad)
            );
        }
    }

    #[test]
    fn head_limits() {
        let long = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n", "a".repeat(20000));
        assert_eq!(head(&long).unwrap_err(), Reject::HeadTooLarge);
        assert_eq!(head(&long[..17000]).unwrap_err(), Reject::HeadTooLarge);
        let many: String = (0..150).map(|i| format!("H{i}: v\r\n")).collect();
        let req = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        assert_eq!(head(&req).unwrap_err(), Reject::HeadTooLarge);
    }

    #[test]
    fn chunks() {
        let req = b"P\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nT: v\r\n\r\nNEXT";
        let mut scan = ChunkScan::new(3);
        assert_eq!(scan_chunks(req, &mut scan, 1 << 20), Ok(Some(req.len() - 4)));
        assert_eq!(scan.body_len, 9);
        let (body, trailers) = dechunk(&req[..req.len() - 4], 3, 9);
        assert_eq!(body, b"Wikipedia");
        assert_eq!(trailers, vec![("t".to_string(), "v".to_string())]);
        for bad in [
            &b"P\r\nx\r\n"[..],
            b"P\r\n4\r\nWikiXX0\r\n\r\n",
            b"P\r\n4\nWiki\r\n0\r\n\r\n",
            b"P\r\n11111111111111111\r\n",
            b"P\r\n-1\r\n",
            b"P\r\n 1\r\n",
            b"P\r\n0\r\nbad trailer\r\n\r\n",
            b"P\r\n1;\x01\r\n",
        ] {
            let mut scan = ChunkScan::new(3);
            assert!(
                matches!(scan_chunks(bad, &mut scan, 1 << 20), Err(Reject::BadRequest(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut scan = ChunkScan::new(3);
        assert_eq!(scan_chunks(b"P\r\nffff\r\n", &mut scan, 1000), Err(Reject::TooLarge));
    }
}
