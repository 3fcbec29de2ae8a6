//! The GatewayProtocol frame: every packet between gateways, business workers and API clients.
//!
//! ```text
//!  0        4    5        9     11       15    17       21   22    24       28
//!  ┌────────┬────┬────────┬─────┬────────┬─────┬────────┬────┬─────┬────────┬──────────┬──────┐
//!  │pack_len│cmd │local_ip│lport│client_ip│cport│conn_id │flag│gport│ext_len │ ext_data │ body │
//!  │ u32be  │ u8 │ u32be  │u16be│ u32be  │u16be│ u32be  │ u8 │u16be│ u32be  │ ext_len  │ rest │
//!  └────────┴────┴────────┴─────┴────────┴─────┴────────┴────┴─────┴────────┴──────────┴──────┘
//!  pack_len counts the whole packet, header included (GatewayWorker 4's GatewayProtocol).
//! ```
//!
//! Query replies are not frames: `u32be len` + `len` bytes of PHP `serialize()` output (see
//! [`crate::GatewayClient`]).

use bytes::{BufMut, Bytes, BytesMut};
use workerman::protocol::{Context, Protocol, ProtocolError};

/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 28;

/// Command numbers (GatewayWorker's `GatewayProtocol::CMD_*`).
pub mod cmd {
    /// G → W: a client connected.
    pub const ON_CONNECT: u8 = 1;
    /// G → W: a client message.
    pub const ON_MESSAGE: u8 = 3;
    /// G → W: a client closed.
    pub const ON_CLOSE: u8 = 4;
    /// → G: send to one client.
    pub const SEND_TO_ONE: u8 = 5;
    /// → G: send to all (or listed, or all but excluded) clients.
    pub const SEND_TO_ALL: u8 = 6;
    /// → G: flush and close a client.
    pub const KICK: u8 = 7;
    /// → G: close a client at once.
    pub const DESTROY: u8 = 8;
    /// → G: merge into a client's session.
    pub const UPDATE_SESSION: u8 = 9;
    /// Query: every client's session.
    pub const GET_ALL_CLIENT_SESSIONS: u8 = 10;
    /// Query: is a client online.
    pub const IS_ONLINE: u8 = 11;
    /// → G: bind a uid.
    pub const BIND_UID: u8 = 12;
    /// → G: unbind the uid.
    pub const UNBIND_UID: u8 = 13;
    /// → G: send to uids.
    pub const SEND_TO_UID: u8 = 14;
    /// Query: client ids of a uid.
    pub const GET_CLIENT_ID_BY_UID: u8 = 15;
    /// Query: client ids of several uids.
    pub const BATCH_GET_CLIENT_ID_BY_UID: u8 = 16;
    /// → G: join a group.
    pub const JOIN_GROUP: u8 = 20;
    /// → G: leave a group.
    pub const LEAVE_GROUP: u8 = 21;
    /// → G: send to groups.
    pub const SEND_TO_GROUP: u8 = 22;
    /// Query: sessions of a group's members.
    pub const GET_CLIENT_SESSIONS_BY_GROUP: u8 = 23;
    /// Query: member count of a group (or of all clients).
    pub const GET_CLIENT_COUNT_BY_GROUP: u8 = 24;
    /// Query: select fields of clients.
    pub const SELECT: u8 = 25;
    /// Query: every group id.
    pub const GET_GROUP_ID_LIST: u8 = 26;
    /// → G: dissolve a group.
    pub const UNGROUP: u8 = 27;
    /// Query: member counts of several groups.
    pub const BATCH_GET_CLIENT_COUNT_BY_GROUP: u8 = 28;
    /// W → G: a business worker connects (JSON body with `worker_key`, `secret_key`).
    pub const WORKER_CONNECT: u8 = 200;
    /// G → W: keep-alive, ignored.
    pub const PING: u8 = 201;
    /// C → G: an API client authorises (JSON body with `secret_key`).
    pub const GATEWAY_CLIENT_CONNECT: u8 = 202;
    /// Query: one client's session.
    pub const GET_SESSION_BY_CLIENT_ID: u8 = 203;
    /// → G: replace a client's session.
    pub const SET_SESSION: u8 = 204;
    /// G → W: a WebSocket client finished its handshake.
    pub const ON_WEBSOCKET_CONNECT: u8 = 205;
    /// Native, W → G: this worker is leaving (reload); route nothing more to it and answer
    /// [`WORKER_LEAVE_ACK`]. A PHP gateway ignores it.
    pub const WORKER_LEAVE: u8 = 230;
    /// Native, G → W: every event for the leaving worker was sent before this packet.
    pub const WORKER_LEAVE_ACK: u8 = 231;
    /// Native, G → C: the challenge of the HMAC authorisation (body: nonce).
    pub const AUTH_CHALLENGE: u8 = 232;
    /// Native, C → G: the HMAC answer (body: JSON with `hmac`, and `worker_key` for workers).
    pub const AUTH_RESPONSE: u8 = 233;
    /// Native, G → W: the uids and groups this gateway holds (body: an index line, see the
    /// routing index); a snapshot when the worker connects, then each change. Sent only to
    /// workers that asked with `"index":true` in their hello.
    pub const INDEX: u8 = 234;
}

/// Flag bit 0: the body is a string (not `serialize()`d).
pub const FLAG_BODY_IS_SCALAR: u8 = 0x01;
/// Flag bit 1: send the body to the client as is, without the client protocol's encoding.
pub const FLAG_NOT_CALL_ENCODE: u8 = 0x02;

/// One GatewayProtocol packet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packet {
    /// Command, see [`cmd`].
    pub cmd: u8,
    /// The gateway's inner IPv4 address, as a big-endian number.
    pub local_ip: u32,
    /// The gateway's inner port.
    pub local_port: u16,
    /// The client's IPv4 address (0 for IPv6).
    pub client_ip: u32,
    /// The client's port.
    pub client_port: u16,
    /// The client's connection id within its gateway process.
    pub connection_id: u32,
    /// Flags: [`FLAG_BODY_IS_SCALAR`], [`FLAG_NOT_CALL_ENCODE`].
    pub flag: u8,
    /// The gateway's client-facing port.
    pub gateway_port: u16,
    /// Session string, uid, group or JSON, depending on `cmd`.
    pub ext_data: Bytes,
    /// The message.
    pub body: Bytes,
}

impl Packet {
    /// A packet with every field zero but `cmd`, and a string body (flag [`FLAG_BODY_IS_SCALAR`]).
    pub fn new(cmd: u8) -> Packet {
        Packet {
            cmd,
            flag: FLAG_BODY_IS_SCALAR,
            ..Packet::default()
        }
    }

    /// Sets the connection id.
    pub fn with_id(mut self, connection_id: u32) -> Packet {
        self.connection_id = connection_id;
        self
    }

    /// Sets `ext_data`.
    pub fn with_ext(mut self, ext: impl Into<Bytes>) -> Packet {
        self.ext_data = ext.into();
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Packet {
        self.body = body.into();
        self
    }

    /// The encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.ext_data.len() + self.body.len()
    }

    /// Appends the wire form to `out`.
    pub fn encode_into(&self, out: &mut impl BufMut) {
        out.put_u32(self.encoded_len() as u32);
        out.put_u8(self.cmd);
        out.put_u32(self.local_ip);
        out.put_u16(self.local_port);
        out.put_u32(self.client_ip);
        out.put_u16(self.client_port);
        out.put_u32(self.connection_id);
        out.put_u8(self.flag);
        out.put_u16(self.gateway_port);
        out.put_u32(self.ext_data.len() as u32);
        out.put_slice(&self.ext_data);
        out.put_slice(&self.body);
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out.freeze()
    }

    /// Parses one whole packet (as cut by [`GatewayProtocol::input`]).
    pub fn parse(packet: &Bytes) -> Result<Packet, ProtocolError> {
        let len = check_header(packet)?.ok_or_else(|| ProtocolError::new("gateway packet shorter than its header"))?;
        if len != packet.len() {
            return Err(ProtocolError::new("gateway packet length does not match its header"));
        }
        let be32 = |at: usize| u32::from_be_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]]);
        let be16 = |at: usize| u16::from_be_bytes([packet[at], packet[at + 1]]);
        let ext_len = be32(24) as usize;
        Ok(Packet {
            cmd: packet[4],
            local_ip: be32(5),
            local_port: be16(9),
            client_ip: be32(11),
            client_port: be16(15),
            connection_id: be32(17),
            flag: packet[21],
            gateway_port: be16(22),
            ext_data: packet.slice(HEADER_LEN..HEADER_LEN + ext_len),
            body: packet.slice(HEADER_LEN + ext_len..),
        })
    }
}

/// Validates a header: `Ok(None)` if fewer than 28 bytes, else the packet length.
fn check_header(buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let ext_len = u32::from_be_bytes([buf[24], buf[25], buf[26], buf[27]]) as usize;
    if len < HEADER_LEN {
        return Err(ProtocolError::new(format!(
            "gateway packet length {len} is below the 28-byte header"
        )));
    }
    if ext_len > len - HEADER_LEN {
        return Err(ProtocolError::new(format!(
            "gateway packet ext_len {ext_len} exceeds its length {len}"
        )));
    }
    Ok(Some(len))
}

/// The `gateway://` protocol: GatewayProtocol frames, each decoded to a [`Packet`].
///
/// ```
/// use workerman::protocol::testing;
/// use workerman_gateway::frame::{cmd, GatewayProtocol, Packet};
/// let p = Packet::new(cmd::SEND_TO_ONE).with_id(1).with_body("hello");
/// assert_eq!(p.to_bytes().len(), 33);
/// testing::check_splits(&GatewayProtocol, &p.to_bytes(), &[p.clone()]);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct GatewayProtocol;

impl Protocol for GatewayProtocol {
    const SCHEME: &'static str = "gateway";
    type Message = Packet;
    type Outgoing<'a> = &'a Packet;
    type State = ();

    fn input(&self, buf: &[u8], _cx: &mut Context<'_, ()>) -> Result<Option<usize>, ProtocolError> {
        check_header(buf)
    }

    fn decode(&self, packet: Bytes, _cx: &mut Context<'_, ()>) -> Result<Option<Packet>, ProtocolError> {
        Packet::parse(&packet).map(Some)
    }

    fn encode(&self, msg: &Packet, cx: &mut Context<'_, ()>) {
        msg.encode_into(cx.out());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workerman::protocol::testing::{check_splits, feed};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The example packets of COMPONENTS-WIRE §4.4, made by PHP's GatewayProtocol::encode.
    #[test]
    fn php_example_packets() {
        let on_message = Packet {
            cmd: cmd::ON_MESSAGE,
            local_ip: 0x7f00_0001,
            local_port: 2300,
            client_ip: 0xcb00_7105,
            client_port: 51234,
            connection_id: 1,
            flag: FLAG_BODY_IS_SCALAR,
            gateway_port: 7272,
            ext_data: Bytes::from_static(br#"a:1:{s:7:"room_id";i:1;}"#),
            body: Bytes::from_static(br#"{"type":"pong"}"#),
        };
        let mut wire = hex("00000043 03 7f000001 08fc cb007105 c822 00000001 01 1c68 00000018");
        wire.extend_from_slice(br#"a:1:{s:7:"room_id";i:1;}{"type":"pong"}"#);
        assert_eq!(on_message.to_bytes().as_ref(), &wire[..]);
        check_splits(&GatewayProtocol, &wire, &[on_message]);

        let kick = Packet {
            flag: 0,
            ..Packet::new(cmd::KICK).with_id(1).with_body(&b"N;"[..])
        };
        let mut wire = hex("0000001e 07 00000000 0000 00000000 0000 00000001 00 0000 00000000");
        wire.extend_from_slice(b"N;");
        assert_eq!(kick.to_bytes().as_ref(), &wire[..]);

        let grp = Packet::new(cmd::SEND_TO_GROUP)
            .with_ext(r#"{"group":["1"],"exclude":null}"#)
            .with_body("hi");
        let mut wire = hex("0000003c 16 00000000 0000 00000000 0000 00000000 01 0000 0000001e");
        wire.extend_from_slice(br#"{"group":["1"],"exclude":null}hi"#);
        assert_eq!(grp.to_bytes().as_ref(), &wire[..]);
    }

    #[test]
    fn pipelined_and_bad_lengths() {
        let a = Packet::new(cmd::SEND_TO_ONE).with_id(7).with_body("x");
        let b = Packet::new(cmd::PING);
        let mut wire = a.to_bytes().to_vec();
        wire.extend_from_slice(&b.to_bytes());
        check_splits(&GatewayProtocol, &wire, &[a, b]);
        // pack_len below the header, and ext_len past the end: the connection is closed.
        let mut short = Packet::new(cmd::PING).to_bytes().to_vec();
        short[3] = 27;
        assert!(feed(&GatewayProtocol, &[&short], 1 << 20).is_err());
        let mut ext = Packet::new(cmd::PING).to_bytes().to_vec();
        ext[27] = 1;
        assert!(feed(&GatewayProtocol, &[&ext], 1 << 20).is_err());
        // Over max_package_size.
        let big = Packet::new(cmd::SEND_TO_ONE).with_body(vec![b'x'; 100]);
        assert!(feed(&GatewayProtocol, &[&big.to_bytes()], 64).is_err());
    }
}
