//! `Request`: one HTTP request, parsed lazily.
//!
//! The head is validated and indexed when the request is framed; the query string, cookies and
//! body (form, JSON, multipart) are parsed on first access, so a handler that only looks at the
//! path pays for nothing else.

use std::cell::OnceCell;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;

use super::multipart::{self, UploadedFile};
use super::parse::Head;
use super::{HttpConfig, PendingHeaders};

/// A byte range inside the request's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    pub fn new(start: usize, len: usize) -> Self {
        Span {
            start: start as u32,
            len: len as u32,
        }
    }

    pub fn of(self, buf: &[u8]) -> &[u8] {
        &buf[self.start as usize..(self.start + self.len) as usize]
    }
}

/// The request methods accepted (others are refused with 400, as in Workerman).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `OPTIONS`
    Options,
    /// `HEAD`
    Head,
    /// `DELETE`
    Delete,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
}

impl Method {
    /// The method as sent (`"GET"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Options => "OPTIONS",
            Method::Head => "HEAD",
            Method::Delete => "DELETE",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }

    pub(crate) fn from_bytes(b: &[u8]) -> Option<Method> {
        Some(match b {
            b"GET" => Method::Get,
            b"POST" => Method::Post,
            b"OPTIONS" => Method::Options,
            b"HEAD" => Method::Head,
            b"DELETE" => Method::Delete,
            b"PUT" => Method::Put,
            b"PATCH" => Method::Patch,
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Form fields and uploads of the body, parsed together on first access.
#[derive(Default)]
pub(crate) struct Form {
    pub fields: Vec<(String, String)>,
    pub files: Vec<UploadedFile>,
}

/// One HTTP request, as `on_message` receives it.
///
/// ```no_run
/// use workerman::{Worker, protocol::Http};
///
/// let worker = Worker::<Http>::new("http://0.0.0.0:2345").unwrap();
/// worker.on_message(|conn, req| {
///     let name = req.get("name").unwrap_or("world");
///     conn.send(format!("hello {name} from {} {}", req.method(), req.path()));
/// });
/// ```
pub struct Request {
    buf: Bytes,
    head: Head,
    body: Bytes,
    trailers: Vec<(String, String)>,
    peer: Option<SocketAddr>,
    config: Rc<HttpConfig>,
    /// The headers its connection's next response will carry.
    reply: Option<Rc<PendingHeaders>>,
    query: OnceCell<Vec<(String, String)>>,
    cookies: OnceCell<Vec<(String, String)>>,
    form: OnceCell<Form>,
    #[cfg(feature = "json")]
    json: OnceCell<Option<serde_json::Value>>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("uri", &self.uri())
            .field("version", &self.protocol_version())
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Request {
    pub(crate) fn new(
        buf: Bytes,
        head: Head,
        body: Bytes,
        trailers: Vec<(String, String)>,
        peer: Option<SocketAddr>,
        config: Rc<HttpConfig>,
        reply: Option<Rc<PendingHeaders>>,
    ) -> Self {
        Request {
            buf,
            head,
            body,
            trailers,
            peer,
            config,
            reply,
            query: OnceCell::new(),
            cookies: OnceCell::new(),
            form: OnceCell::new(),
            #[cfg(feature = "json")]
            json: OnceCell::new(),
        }
    }

    fn text(&self, span: Span) -> &str {
        // The head was validated: the request line is ASCII; header values may hold obs-text.
        std::str::from_utf8(span.of(&self.buf)).unwrap_or("")
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.head.method
    }

    /// The request target as sent: path and query (`/a/b?x=1`).
    pub fn uri(&self) -> &str {
        self.text(self.head.target)
    }

    /// The path part of the target, not percent-decoded (`/a/b`).
    pub fn path(&self) -> &str {
        let uri = self.uri();
        uri.split_once('?').map_or(uri, |(p, _)| p)
    }

    /// The query string without `?` (`x=1`), empty when there is none.
    pub fn query_string(&self) -> &str {
        self.uri().split_once('?').map_or("", |(_, q)| q)
    }

    /// `"1.1"` or `"1.0"`.
    pub fn protocol_version(&self) -> &'static str {
        if self.head.minor == 1 { "1.1" } else { "1.0" }
    }

    /// Whether the client keeps the connection open after this request (HTTP/1.1 without
    /// `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`).
    pub fn keep_alive(&self) -> bool {
        self.head.keep_alive
    }

    /// The first value of the header `name` (case-insensitive), trimmed. Values that are not
    /// UTF-8 read as absent; see [`Request::header_bytes`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of the header `name` as bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.head
            .headers
            .iter()
            .find(|(n, _)| n.of(&self.buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.of(&self.buf))
    }

    /// Every value of the header `name`, in order (Workerman joins them with `,`).
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.header_spans(name).filter_map(|v| std::str::from_utf8(v).ok())
    }

    fn header_spans<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.head
            .headers
            .iter()
            .filter(move |(n, _)| n.of(&self.buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.of(&self.buf))
    }

    /// Every header as `(name, value)`, names as sent, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.head.headers.iter().map(|(n, v)| (self.text(*n), self.text(*v)))
    }

    /// The `Host` header; with `without_port`, the host alone (`[::1]` keeps its brackets).
    pub fn host(&self, without_port: bool) -> Option<&str> {
        let host = self.header("host")?;
        if !without_port {
            return Some(host);
        }
        if host.starts_with('[') {
            return Some(host.split_once(']').map_or(host, |(h, _)| &host[..h.len() + 1]));
        }
        Some(host.split_once(':').map_or(host, |(h, _)| h))
    }

    /// The query string as decoded `(name, value)` pairs, in order (`+` and `%XX` decoded;
    /// `a[]=1&a[]=2` gives two pairs named `a[]`).
    pub fn query(&self) -> &[(String, String)] {
        self.query.get_or_init(|| decode_pairs(self.query_string().as_bytes()))
    }

    /// The last value of the query parameter `name` (PHP's `$_GET` keeps the last one).
    pub fn get(&self, name: &str) -> Option<&str> {
        last(self.query(), name)
    }

    /// Every value of the query parameter `name`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        all(self.query(), name)
    }

    /// Body fields: `application/x-www-form-urlencoded`, `multipart/form-data` (non-file parts) or,
    /// with the `json` feature, a JSON object's top-level values (strings as they are, other
    /// values as JSON text).
    pub fn post_fields(&self) -> &[(String, String)] {
        &self.form().fields
    }

    /// The last value of the body field `name`.
    pub fn post(&self, name: &str) -> Option<&str> {
        last(self.post_fields(), name)
    }

    /// Every value of the body field `name`.
    pub fn post_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        all(self.post_fields(), name)
    }

    /// Uploaded files of a `multipart/form-data` body, in order. Large ones live in temporary
    /// files, removed when the request is dropped.
    pub fn files(&self) -> &[UploadedFile] {
        &self.form().files
    }

    /// The first uploaded file of the form field `name`.
    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files().iter().find(|f| f.field() == name)
    }

    /// The body parsed as JSON (`None` when it is not JSON).
    #[cfg(feature = "json")]
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(&self.body).ok())
            .as_ref()
    }

    fn form(&self) -> &Form {
        self.form.get_or_init(|| {
            let ct = self.header("content-type").unwrap_or("");
            if let Some(boundary) = multipart::boundary(ct) {
                return multipart::parse(&self.body, boundary, &self.config);
            }
            #[cfg(feature = "json")]
            if ct.to_ascii_lowercase().contains("json") {
                let fields = match self.json() {
                    Some(serde_json::Value::Object(map)) => map
                        .iter()
                        .map(|(k, v)| match v {
                            serde_json::Value::String(s) => (k.clone(), s.clone()),
                            other => (k.clone(), other.to_string()),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                return Form {
                    fields,
                    files: Vec::new(),
                };
            }
            Form {
                fields: decode_pairs(&self.body),
                files: Vec::new(),
            }
        })
    }

    /// Cookies as `(name, value)`: the `Cookie` header split on `;` then on the first `=`; names
    /// trimmed, values as sent (not decoded).
    pub fn cookies(&self) -> &[(String, String)] {
        self.cookies.get_or_init(|| {
            let mut out = Vec::new();
            for header in self.header_all("cookie") {
                for pair in header.split(';') {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    let k = k.trim();
                    if !k.is_empty() {
                        out.push((k.to_string(), v.to_string()));
                    }
                }
            }
            out
        })
    }

    /// The cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies().iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A trailer of a chunked request (names lower-cased).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.trailers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// The head as received (request line and headers, blank line included).
    pub fn raw_head(&self) -> &[u8] {
        &self.buf[..self.head.len]
    }

    /// The body, de-chunked for chunked requests.
    pub fn raw_body(&self) -> &[u8] {
        &self.body
    }

    /// The body as a shared buffer (no copy).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The whole request as received.
    pub fn raw_buffer(&self) -> &Bytes {
        &self.buf
    }

    /// The client's address.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The client's IP as text, empty when unknown.
    pub fn remote_ip(&self) -> String {
        self.peer.map(|a| a.ip().to_string()).unwrap_or_default()
    }

    /// The client's port, 0 when unknown.
    pub fn remote_port(&self) -> u16 {
        self.peer.map_or(0, |a| a.port())
    }

    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    pub(crate) fn reply_handle(&self) -> Option<Rc<PendingHeaders>> {
        self.reply.clone()
    }

    /// Queues a header for the next response sent on this request's connection (how sessions
    /// set their cookie, as Workerman queues headers on the connection). A header with the same
    /// name queued earlier is replaced. Does nothing for a request that did not come from a
    /// connection (built from an `http::Request`).
    pub fn queue_response_header(&self, name: &'static str, value: String) {
        if let Some(r) = &self.reply {
            r.queue(name, value);
        }
    }
}

/// Most fields taken from a query string or form body (PHP's `max_input_vars`): a body of
/// `a&a&a...` must not become millions of pairs.
pub const MAX_FORM_FIELDS: usize = 1000;

fn decode_pairs(s: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(s)
        .filter(|(k, _)| !k.is_empty())
        .take(MAX_FORM_FIELDS)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn all<'a>(pairs: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
}
