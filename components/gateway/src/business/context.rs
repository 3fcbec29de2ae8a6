//! What an event handler sees: the client, its session, where it came from, and the API.

use std::net::Ipv4Addr;

use php_serialize::{Array, Value};

use crate::client::GatewayClient;
use crate::error::Result;
use crate::frame::Packet;

/// One event's context (PHP's `Context` plus `$_SESSION` and `$_SERVER`).
///
/// The session is loaded from the event and saved back after the handler when it changed
/// (except in `on_close`).
#[derive(Debug)]
pub struct Context {
    client_id: String,
    gateway: GatewayClient,
    session: Option<Array>,
    remote_ip: Ipv4Addr,
    remote_port: u16,
    gateway_ip: Ipv4Addr,
    gateway_port: u16,
}

impl Context {
    pub(crate) fn new(client_id: String, gateway: GatewayClient, p: &Packet, session: Option<Array>) -> Context {
        Context {
            client_id,
            gateway,
            session,
            remote_ip: Ipv4Addr::from(p.client_ip),
            remote_port: p.client_port,
            gateway_ip: Ipv4Addr::from(p.local_ip),
            gateway_port: p.gateway_port,
        }
    }

    /// The current client's id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The Gateway API.
    pub fn gateway(&self) -> &GatewayClient {
        &self.gateway
    }

    /// The session, if it has one.
    pub fn session(&self) -> Option<&Array> {
        self.session.as_ref()
    }

    /// The session, created empty if there is none.
    pub fn session_mut(&mut self) -> &mut Array {
        self.session.get_or_insert_with(Array::new)
    }

    /// A string field of the session.
    pub fn session_str(&self, key: &str) -> Option<String> {
        let v = self.session.as_ref()?.get_str(key)?;
        crate::php::scalar_bytes(v).map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Replaces (or with `None`, clears) the session.
    pub fn set_session(&mut self, session: Option<Array>) {
        self.session = session;
    }

    pub(crate) fn take_session(&mut self) -> Option<Array> {
        self.session.take()
    }

    /// The client's IPv4 address (`0.0.0.0` for IPv6 clients, as in GatewayWorker).
    pub fn remote_ip(&self) -> Ipv4Addr {
        self.remote_ip
    }

    /// The client's port.
    pub fn remote_port(&self) -> u16 {
        self.remote_port
    }

    /// The inner address of the gateway holding the client.
    pub fn gateway_ip(&self) -> Ipv4Addr {
        self.gateway_ip
    }

    /// The client-facing port of that gateway.
    pub fn gateway_port(&self) -> u16 {
        self.gateway_port
    }

    /// Sends `message` to the current client.
    pub async fn send_to_current_client(&self, message: impl AsRef<[u8]>) -> Result<()> {
        self.gateway.send_to_client(&self.client_id, message).await
    }
}

/// The request data of a WebSocket handshake (GatewayWorker's `['get', 'server', 'cookie']`).
#[derive(Debug, Clone, Default)]
pub struct RequestData {
    raw: Array,
}

impl RequestData {
    pub(crate) fn parse(body: &[u8]) -> RequestData {
        match php_serialize::unserialize(body) {
            Ok(Value::Array(raw)) => RequestData { raw },
            _ => RequestData::default(),
        }
    }

    fn field(&self, part: &str, name: &str) -> Option<String> {
        let v = self.raw.get_str(part)?.as_array()?.get_str(name)?;
        crate::php::scalar_bytes(v).map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A query-string parameter (`$_GET[name]`).
    pub fn get(&self, name: &str) -> Option<String> {
        self.field("get", name)
    }

    /// A server variable (`$_SERVER[name]`: `REQUEST_URI`, `HTTP_USER_AGENT`, `REMOTE_ADDR`...).
    pub fn server(&self, name: &str) -> Option<String> {
        self.field("server", name)
    }

    /// A cookie.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.field("cookie", name)
    }

    /// The whole array as received.
    pub fn raw(&self) -> &Array {
        &self.raw
    }
}
