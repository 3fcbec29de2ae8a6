//! One persistent, authorised connection per gateway address, reused by every call; re-made
//! after an error or when the gateway closed it.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::auth::{self, AuthMode};
use crate::error::{Error, Result};
use crate::frame::{HEADER_LEN, Packet, cmd};

/// Largest query reply accepted, in bytes (a gateway's whole session table): 64 MiB.
pub const MAX_REPLY_SIZE: usize = 64 << 20;

/// How to reach and prove ourselves to gateways.
#[derive(Clone, Debug)]
pub(crate) struct Dial {
    pub secret_key: String,
    pub auth_mode: AuthMode,
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

fn io<'a>(what: &'static str, address: &'a str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        what,
        address: address.to_owned(),
        source,
    }
}

/// Opens and authorises a connection to the gateway at `address`.
pub(crate) async fn open(dial: &Dial, address: &str) -> Result<TcpStream> {
    let stream = tokio::time::timeout(dial.connect_timeout, TcpStream::connect(address))
        .await
        .map_err(|_| Error::Timeout(format!("connect to gateway {address}")))?
        .map_err(io("connect to gateway", address))?;
    let _ = stream.set_nodelay(true);
    let mut stream = stream;
    if dial.secret_key.is_empty() {
        return Ok(stream);
    }
    match dial.auth_mode {
        AuthMode::PhpCompatible => {
            let body = serde_json::json!({ "secret_key": dial.secret_key }).to_string();
            let p = Packet::new(cmd::GATEWAY_CLIENT_CONNECT).with_body(body);
            stream
                .write_all(&p.to_bytes())
                .await
                .map_err(io("write to gateway", address))?;
        }
        AuthMode::Native => {
            stream
                .write_all(&Packet::new(cmd::AUTH_CHALLENGE).to_bytes())
                .await
                .map_err(io("write to gateway", address))?;
            let challenge = tokio::time::timeout(dial.timeout, read_packet(&mut stream, address))
                .await
                .map_err(|_| Error::Timeout(format!("auth challenge from gateway {address}")))??;
            let nonce = String::from_utf8_lossy(&challenge.body).into_owned();
            let body = serde_json::json!({ "hmac": auth::answer(&dial.secret_key, "gateway", &nonce) }).to_string();
            let p = Packet::new(cmd::AUTH_RESPONSE).with_body(body);
            stream
                .write_all(&p.to_bytes())
                .await
                .map_err(io("write to gateway", address))?;
        }
    }
    Ok(stream)
}

/// Reads one GatewayProtocol packet.
pub(crate) async fn read_packet(stream: &mut TcpStream, address: &str) -> Result<Packet> {
    let mut head = [0u8; HEADER_LEN];
    stream
        .read_exact(&mut head)
        .await
        .map_err(io("read from gateway", address))?;
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if !(HEADER_LEN..=MAX_REPLY_SIZE).contains(&len) {
        return Err(Error::BadReply {
            address: address.into(),
            reason: format!("packet length {len}"),
        });
    }
    let mut buf = BytesMut::with_capacity(len);
    buf.extend_from_slice(&head);
    buf.resize(len, 0);
    stream
        .read_exact(&mut buf[HEADER_LEN..])
        .await
        .map_err(io("read from gateway", address))?;
    Packet::parse(&buf.freeze()).map_err(|e| Error::BadReply {
        address: address.into(),
        reason: e.to_string(),
    })
}

/// Reads a query reply: `u32be len` + payload.
pub(crate) async fn read_reply(stream: &mut TcpStream, address: &str) -> Result<Bytes> {
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .await
        .map_err(io("read from gateway", address))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_REPLY_SIZE {
        return Err(Error::BadReply {
            address: address.into(),
            reason: format!("reply of {len} bytes"),
        });
    }
    let mut buf = vec![0u8; len];
    stream
        .read_exact(&mut buf)
        .await
        .map_err(io("read from gateway", address))?;
    Ok(Bytes::from(buf))
}

/// Whether the peer has closed the connection (or it failed), without blocking.
pub(crate) fn is_closed(stream: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    match stream.try_read(&mut b) {
        Ok(0) => true,
        // Unsolicited bytes mean we are out of step with the gateway: start afresh.
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}
