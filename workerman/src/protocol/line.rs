//! `line`: one message per line, as bytes: Workerman's `Text` protocol, which passes any bytes.
//!
//! ```text
//! c4 e3 ba c3 \r \n 6f 6b \n
//! └──── [c4 e3 ba c3] ──┘└[6f 6b]┘   (GBK "你好", then "ok"; trailing \r and \n stripped;
//!                                      send appends \n)
//! ```
//! The same framing as [`Text`](super::Text), without the UTF-8 check: for devices that send
//! GBK, Latin-1 or binary-ish lines. A line that reaches `max_package_size` without a `\n` closes
//! the connection.

use bytes::{BufMut, Bytes};

use super::{Context, Payload, Protocol, ProtocolError};

/// Newline-delimited lines of any bytes; `on_message` gets [`Bytes`] without the line ending.
///
/// ```no_run
/// use workerman::{Worker, protocol::Line};
///
/// fn main() -> workerman::Result<()> {
///     let worker = Worker::<Line>::new("line://0.0.0.0:2360")?;
///     worker.on_message(|conn, line| {
///         // GBK, Latin-1, binary: whatever the device sent, up to its `\n`.
///         let mut reply = b"ack:".to_vec();
///         reply.extend_from_slice(&line);
///         conn.send(reply);
///     });
///     Worker::run_all()
/// }
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Line;

/// The size of the line at the front of `buf`, its `\n` included; `None` until a `\n` arrives.
pub(super) fn line_len(buf: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', buf).map(|i| i + 1)
}

/// `packet` without its trailing `\r` and `\n` bytes.
pub(super) fn trim_line_end(packet: &[u8]) -> usize {
    let mut end = packet.len();
    while end > 0 && matches!(packet[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    end
}

/// Appends `msg` and a `\n`.
pub(super) fn encode_line(msg: &[u8], out: &mut bytes::BytesMut) {
    out.reserve(msg.len() + 1);
    out.put_slice(msg);
    out.put_u8(b'\n');
}

impl Protocol for Line {
    const SCHEME: &'static str = "line";
    type Message = Bytes;
    type Outgoing<'a> = Payload<'a>;
    type State = ();

    fn input(&self, buf: &[u8], _cx: &mut Context<'_, ()>) -> Result<Option<usize>, ProtocolError> {
        Ok(line_len(buf))
    }

    fn decode(&self, packet: Bytes, _cx: &mut Context<'_, ()>) -> Result<Option<Bytes>, ProtocolError> {
        let end = trim_line_end(&packet);
        Ok(Some(packet.slice(..end)))
    }

    fn encode(&self, msg: Payload<'_>, cx: &mut Context<'_, ()>) {
        encode_line(msg.as_bytes(), cx.out());
    }

    fn share_key(&self, _state: &()) -> Option<u32> {
        Some(0)
    }

    fn encode_shared(&self, msg: Payload<'_>, _key: u32, out: &mut bytes::BytesMut) -> bool {
        encode_line(msg.as_bytes(), out);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_splits, feed};
    use bytes::BytesMut;

    #[test]
    fn lines_of_any_bytes_whole_split_and_pipelined() {
        check_splits(
            &Line,
            b"\xc4\xe3\xba\xc3\r\n\xff\x00ok\n\n",
            &[
                Bytes::from_static(b"\xc4\xe3\xba\xc3"),
                Bytes::from_static(b"\xff\x00ok"),
                Bytes::new(),
            ],
        );
    }

    #[test]
    fn oversized_line_is_an_error() {
        assert!(feed(&Line, &[&[0xff; 100]], 100).is_err());
        assert!(feed(&Line, &[&[0xff; 99]], 100).is_ok());
    }

    #[test]
    fn encode_appends_newline() {
        let mut out = BytesMut::new();
        Line.encode((&b"\xc4\xe3"[..]).into(), &mut Context::new(&mut (), &mut out, 100));
        assert_eq!(&out[..], b"\xc4\xe3\n");
    }
}
