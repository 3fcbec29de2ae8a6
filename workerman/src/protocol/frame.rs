//! `frame`: a 4-byte big-endian length, counting itself, then the body.
//!
//! ```text
//! +--------+--------+--------+--------+---------------------+
//! |   total length (u32 BE), incl. 4  |  body (length - 4)  |
//! +--------+--------+--------+--------+---------------------+
//! 00 00 00 09 6a 68 64 78 72   = "jhdxr"
//! ```
//! A length below 4 cannot frame anything and closes the connection (Workerman would stall).

use bytes::{BufMut, Bytes, BytesMut};

use super::{Context, Payload, Protocol, ProtocolError};

/// Length-prefixed binary frames.
#[derive(Debug, Default, Clone, Copy)]
pub struct Frame;

const HEADER: usize = 4;

impl Protocol for Frame {
    const SCHEME: &'static str = "frame";
    type Message = Bytes;
    type Outgoing<'a> = Payload<'a>;
    type State = ();

    fn input(&self, buf: &[u8], _cx: &mut Context<'_, ()>) -> Result<Option<usize>, ProtocolError> {
        let Some(header) = buf.get(..HEADER) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(header.try_into().expect("4 bytes")) as usize;
        if len < HEADER {
            return Err(ProtocolError::new(format!(
                "frame length {len} is smaller than its 4-byte header"
            )));
        }
        Ok(Some(len))
    }

    fn decode(&self, mut packet: Bytes, _cx: &mut Context<'_, ()>) -> Result<Option<Bytes>, ProtocolError> {
        Ok(Some(packet.split_off(HEADER)))
    }

    fn encode(&self, msg: Payload<'_>, cx: &mut Context<'_, ()>) {
        let out = cx.out();
        let body = msg.as_bytes();
        out.reserve(HEADER + body.len());
        out.put_u32((HEADER + body.len()) as u32);
        out.put_slice(body);
    }

    fn share_key(&self, _state: &()) -> Option<u32> {
        Some(0)
    }

    fn encode_shared(&self, msg: Payload<'_>, _key: u32, out: &mut BytesMut) -> bool {
        let body = msg.as_bytes();
        out.reserve(HEADER + body.len());
        out.put_u32((HEADER + body.len()) as u32);
        out.put_slice(body);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_splits, feed};
    use bytes::BytesMut;

    #[test]
    fn manual_vectors() {
        assert!(feed(&Frame, &[b"foo"], 1 << 20).unwrap().is_empty());
        let mut out = BytesMut::new();
        Frame.encode("jhdxr".into(), &mut Context::new(&mut (), &mut out, 100));
        assert_eq!(&out[..], b"\x00\x00\x00\x09jhdxr");
        assert_eq!(
            feed(&Frame, &[b"\x00\x00\x00\x09jhdxr"], 1 << 20).unwrap(),
            vec![Bytes::from_static(b"jhdxr")]
        );
        let mut st = ();
        let mut o = BytesMut::new();
        let mut cx = Context::new(&mut st, &mut o, 1 << 20);
        assert_eq!(Frame.input(b"\0\0\0*foobar", &mut cx).unwrap(), Some(42));
    }

    #[test]
    fn frames_whole_split_and_pipelined() {
        let wire = b"\x00\x00\x00\x05a\x00\x00\x00\x04\x00\x00\x00\x07xyz";
        check_splits(
            &Frame,
            wire,
            &[Bytes::from_static(b"a"), Bytes::new(), Bytes::from_static(b"xyz")],
        );
    }

    #[test]
    fn short_length_is_an_error() {
        for len in 0u8..4 {
            assert!(feed(&Frame, &[&[0, 0, 0, len]], 1 << 20).is_err());
        }
    }

    #[test]
    fn oversized_frame_is_an_error() {
        assert!(feed(&Frame, &[&[0, 0, 1, 0]], 255).is_err());
        assert!(feed(&Frame, &[&[0, 0, 0, 255]], 255).is_ok());
    }
}
