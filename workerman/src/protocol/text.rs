//! `text`: one message per line.
//!
//! ```text
//! h e l l o \r \n w o r l d \n
//! └──── "hello" ────┘└─"world"─┘   (trailing \r and \n stripped on receive; send appends \n)
//! ```
//! Telnet-friendly. A line that reaches `max_package_size` without a `\n` closes the connection,
//! and so does a line that is not UTF-8: use [`Line`](super::Line) for lines of any bytes.

use bytes::Bytes;

use super::line::{encode_line, line_len, trim_line_end};
use super::{Context, Payload, Protocol, ProtocolError};

/// Newline-delimited UTF-8 text.
#[derive(Debug, Default, Clone, Copy)]
pub struct Text;

impl Protocol for Text {
    const SCHEME: &'static str = "text";
    type Message = String;
    type Outgoing<'a> = Payload<'a>;
    type State = ();

    fn input(&self, buf: &[u8], _cx: &mut Context<'_, ()>) -> Result<Option<usize>, ProtocolError> {
        Ok(line_len(buf))
    }

    fn decode(&self, packet: Bytes, _cx: &mut Context<'_, ()>) -> Result<Option<String>, ProtocolError> {
        let end = trim_line_end(&packet);
        match std::str::from_utf8(&packet[..end]) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(e) => Err(ProtocolError::new(format!(
                "text line is not valid UTF-8 ({e}); the `line` protocol takes any bytes"
            ))),
        }
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
    fn lines_whole_split_and_pipelined() {
        check_splits(
            &Text,
            b"hello\r\nworld\n\n",
            &["hello".to_string(), "world".into(), "".into()],
        );
    }

    #[test]
    fn strips_all_trailing_cr_lf() {
        assert_eq!(feed(&Text, &[b"a\r\r\n"], 100).unwrap(), vec!["a".to_string()]);
    }

    #[test]
    fn waits_for_newline() {
        assert!(feed(&Text, &[b"no newline yet"], 100).unwrap().is_empty());
    }

    #[test]
    fn oversized_line_is_an_error() {
        assert!(feed(&Text, &[&[b'x'; 100]], 100).is_err());
        assert!(feed(&Text, &[&[b'x'; 99]], 100).is_ok());
    }

    #[test]
    fn bad_utf8_is_an_error() {
        assert!(feed(&Text, &[b"\xff\xfe\n"], 100).is_err());
    }

    #[test]
    fn encode_appends_newline() {
        let mut out = BytesMut::new();
        Text.encode("hi".into(), &mut Context::new(&mut (), &mut out, 100));
        assert_eq!(&out[..], b"hi\n");
    }
}
