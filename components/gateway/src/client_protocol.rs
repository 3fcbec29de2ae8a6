//! What a gateway needs from its client protocol: the bytes of a message, how to send bytes,
//! and (WebSocket) the handshake's request data.

use std::rc::Rc;

use bytes::Bytes;
use php_serialize::{Array, Value};
use workerman::protocol::websocket::{Request, WebSocket};
use workerman::protocol::{Frame, Protocol, Tcp, Text};
use workerman::{SendResult, TcpConnection, Worker};

/// Called once a client's protocol handshake is done, with its request data.
pub type HandshakeHook<P> = Rc<dyn Fn(&TcpConnection<P>, Value)>;

/// A protocol a [`crate::Gateway`] can speak with its clients. Implemented for `websocket`,
/// `text`, `frame` and `tcp`; implement it for a custom protocol to put that behind a gateway.
pub trait ClientProtocol: Protocol {
    /// The bytes of a received message, as they travel to business workers.
    fn message_body(msg: Self::Message) -> Bytes;

    /// Sends `body` to the client, encoded by this protocol.
    fn send_body(conn: &TcpConnection<Self>, body: &[u8]) -> SendResult;

    /// Sends `body` to every client of `targets` (a group, a uid's clients, everyone): encoded
    /// once and shared where the protocol allows ([`workerman::broadcast`]). The default sends
    /// to each with [`send_body`](Self::send_body).
    fn broadcast_body(targets: &[TcpConnection<Self>], body: &[u8]) {
        for t in targets {
            Self::send_body(t, body);
        }
    }

    /// Installs the handshake hook (WebSocket: `on_websocket_connect`). The default has no
    /// handshake and does nothing.
    fn hook_handshake(worker: &Worker<Self>, hook: HandshakeHook<Self>) {
        let _ = (worker, hook);
    }
}

impl ClientProtocol for WebSocket {
    fn message_body(msg: Self::Message) -> Bytes {
        msg.into_bytes()
    }

    fn send_body(conn: &TcpConnection<Self>, body: &[u8]) -> SendResult {
        match std::str::from_utf8(body) {
            // The connection's message type (text unless changed), as GatewayWorker does.
            Ok(s) => conn.send(s),
            Err(_) => conn.send(body),
        }
    }

    fn broadcast_body(targets: &[TcpConnection<Self>], body: &[u8]) {
        match std::str::from_utf8(body) {
            Ok(s) => workerman::broadcast(targets, s),
            Err(_) => workerman::broadcast(targets, body),
        };
    }

    fn hook_handshake(worker: &Worker<Self>, hook: HandshakeHook<Self>) {
        worker.on_websocket_connect(move |conn, req, _resp| {
            let data = request_data(req, conn);
            hook(conn, data);
        });
    }
}

impl ClientProtocol for Text {
    fn message_body(msg: String) -> Bytes {
        Bytes::from(msg)
    }

    fn send_body(conn: &TcpConnection<Self>, body: &[u8]) -> SendResult {
        conn.send(body)
    }

    fn broadcast_body(targets: &[TcpConnection<Self>], body: &[u8]) {
        workerman::broadcast(targets, body);
    }
}

impl ClientProtocol for Frame {
    fn message_body(msg: Self::Message) -> Bytes {
        msg
    }

    fn send_body(conn: &TcpConnection<Self>, body: &[u8]) -> SendResult {
        conn.send(body)
    }

    fn broadcast_body(targets: &[TcpConnection<Self>], body: &[u8]) {
        workerman::broadcast(targets, body);
    }
}

impl ClientProtocol for Tcp {
    fn message_body(msg: Bytes) -> Bytes {
        msg
    }

    fn send_body(conn: &TcpConnection<Self>, body: &[u8]) -> SendResult {
        conn.send(body)
    }

    fn broadcast_body(targets: &[TcpConnection<Self>], body: &[u8]) {
        workerman::broadcast(targets, body);
    }
}

/// GatewayWorker's ON_WEBSOCKET_CONNECT data: `['get' => query, 'server' => [...], 'cookie' => [...]]`.
pub(crate) fn request_data(req: &Request, conn: &TcpConnection<WebSocket>) -> Value {
    let mut get = Array::new();
    for (k, v) in form_urlencoded::parse(req.query_string().as_bytes()) {
        get.insert(k.as_bytes().to_vec(), v.as_bytes().to_vec());
    }
    let mut cookie = Array::new();
    if let Some(c) = req.header("cookie") {
        for part in c.split(';') {
            if let Some((k, v)) = part.trim().split_once('=') {
                cookie.insert(k.as_bytes().to_vec(), v.as_bytes().to_vec());
            }
        }
    }
    let mut server = Array::new();
    server.insert("QUERY_STRING", req.query_string());
    server.insert("REQUEST_METHOD", "GET");
    server.insert("REQUEST_URI", req.uri());
    server.insert("SERVER_PROTOCOL", "HTTP/1.1");
    server.insert("SERVER_NAME", req.header("host").unwrap_or(""));
    server.insert(
        "CONTENT_TYPE",
        req.header("content-type").map(Value::from).unwrap_or(Value::Null),
    );
    server.insert("REMOTE_ADDR", conn.remote_ip());
    server.insert("REMOTE_PORT", i64::from(conn.remote_port()));
    server.insert("SERVER_PORT", i64::from(conn.local_port()));
    for (name, value) in req.headers() {
        server.insert(format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_")), value);
    }
    let mut data = Array::new();
    data.insert("get", get);
    data.insert("server", server);
    data.insert("cookie", cookie);
    Value::Array(data)
}
