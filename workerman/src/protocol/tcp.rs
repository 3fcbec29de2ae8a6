//! `tcp`: no framing. Each read from the socket is one message (TCP has no message boundaries).

use bytes::Bytes;

use super::{Context, Payload, Protocol, ProtocolError};

/// Raw bytes: every chunk read (up to 64 KiB) is delivered as it came; sends are written as given.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tcp;

impl Protocol for Tcp {
    const SCHEME: &'static str = "tcp";
    type Message = Bytes;
    type Outgoing<'a> = Payload<'a>;
    type State = ();

    fn input(&self, buf: &[u8], _cx: &mut Context<'_, ()>) -> Result<Option<usize>, ProtocolError> {
        Ok(if buf.is_empty() { None } else { Some(buf.len()) })
    }

    fn decode(&self, packet: Bytes, _cx: &mut Context<'_, ()>) -> Result<Option<Bytes>, ProtocolError> {
        Ok(Some(packet))
    }

    fn encode(&self, msg: Payload<'_>, cx: &mut Context<'_, ()>) {
        let out = cx.out();
        out.extend_from_slice(msg.as_bytes());
    }

    fn share_key(&self, _state: &()) -> Option<u32> {
        Some(0)
    }

    fn encode_shared(&self, msg: Payload<'_>, _key: u32, out: &mut bytes::BytesMut) -> bool {
        out.extend_from_slice(msg.as_bytes());
        true
    }
}
