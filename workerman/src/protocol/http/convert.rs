//! Conversions to and from the `http` crate's types, so code written for the ecosystem
//! (tower-style middleware, routers, test helpers) can work on workerman requests and responses.
//!
//! ```
//! use workerman::protocol::http::Response;
//! let ours: Response = http::Response::builder().status(201).header("x-a", "1").body("made").unwrap().into();
//! assert_eq!((ours.status(), ours.header("x-a"), ours.body()), (201, Some("1"), &b"made"[..]));
//! let theirs: http::Response<bytes::Bytes> = ours.into();
//! assert_eq!(theirs.status(), 201);
//! ```

use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};

use super::parse::{self, Framing};
use super::{HttpConfig, Request, Response};
use crate::protocol::ProtocolError;

impl<B: Into<Bytes>> From<http::Response<B>> for Response {
    fn from(r: http::Response<B>) -> Self {
        let (parts, body) = r.into_parts();
        let mut resp = Response::new(parts.status.as_u16());
        if parts.version == http::Version::HTTP_10 {
            resp = resp.with_protocol_version("1.0");
        }
        for (name, value) in &parts.headers {
            if let Ok(v) = value.to_str() {
                resp = resp.add_header(name.as_str().to_string(), v.to_string());
            }
        }
        resp.with_body(body.into())
    }
}

impl From<Response> for http::Response<Bytes> {
    /// A file body becomes an empty body (its headers are kept); read the file yourself if needed.
    fn from(r: Response) -> Self {
        let mut b = http::Response::builder().status(r.status());
        for (n, v) in r.headers() {
            b = b.header(n, v);
        }
        let body = match r.into_body() {
            super::response::Body::Bytes(b) => b,
            super::response::Body::File(_) => Bytes::new(),
        };
        b.body(body).unwrap_or_else(|_| http::Response::new(Bytes::new()))
    }
}

impl From<&Request> for http::Request<Bytes> {
    /// The remote address, when known, is in the extensions as a `SocketAddr`.
    fn from(r: &Request) -> Self {
        let mut b = http::Request::builder()
            .method(r.method().as_str())
            .uri(r.uri())
            .version(if r.protocol_version() == "1.1" {
                http::Version::HTTP_11
            } else {
                http::Version::HTTP_10
            });
        for (n, v) in r.headers() {
            b = b.header(n, v);
        }
        if let Some(addr) = r.remote_address() {
            b = b.extension(addr);
        }
        b.body(r.body().clone())
            .unwrap_or_else(|_| http::Request::new(r.body().clone()))
    }
}

impl From<Request> for http::Request<Bytes> {
    fn from(r: Request) -> Self {
        (&r).into()
    }
}

impl<B: AsRef<[u8]>> TryFrom<http::Request<B>> for Request {
    type Error = ProtocolError;

    /// Serialises the request and parses it with the same strict rules as the wire.
    fn try_from(r: http::Request<B>) -> Result<Self, ProtocolError> {
        let (parts, body) = r.into_parts();
        let body = body.as_ref();
        let mut buf = BytesMut::with_capacity(256 + body.len());
        buf.put_slice(parts.method.as_str().as_bytes());
        buf.put_u8(b' ');
        buf.put_slice(parts.uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes());
        buf.put_slice(if parts.version == http::Version::HTTP_10 {
            b" HTTP/1.0\r\n"
        } else {
            b" HTTP/1.1\r\n"
        });
        if !parts.headers.contains_key(http::header::HOST) {
            let host = parts.uri.authority().map_or("localhost", |a| a.as_str());
            buf.put_slice(format!("Host: {host}\r\n").as_bytes());
        }
        for (n, v) in &parts.headers {
            if n == http::header::CONTENT_LENGTH || n == http::header::TRANSFER_ENCODING {
                continue;
            }
            buf.put_slice(n.as_str().as_bytes());
            buf.put_slice(b": ");
            buf.put_slice(v.as_bytes());
            buf.put_slice(b"\r\n");
        }
        if !body.is_empty() {
            buf.put_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        buf.put_slice(b"\r\n");
        buf.put_slice(body);
        let buf = buf.freeze();
        let head = match parse::parse_head(&buf, usize::MAX) {
            Ok(Some(h)) => h,
            Ok(None) => return Err(ProtocolError::new("incomplete request")),
            Err(why) => return Err(ProtocolError::new(why.reason())),
        };
        debug_assert_eq!(head.framing, Framing::Length(body.len() as u64));
        let body = buf.slice(head.len..);
        let peer = parts.extensions.get::<std::net::SocketAddr>().copied();
        Ok(Request::new(
            buf,
            head,
            body,
            Vec::new(),
            peer,
            Rc::new(HttpConfig::default()),
            // Not from a connection: nowhere to queue response headers.
            None,
        ))
    }
}
