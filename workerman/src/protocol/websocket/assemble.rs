//! Receiving data messages, one set of rules for the server and the client (RFC 6455 §5.4,
//! §8.1): frame sequencing, UTF-8 checked fragment by fragment (fail fast), and turning the
//! collected payload into a [`Message`].

use super::Message;
use super::frame::OpCode;

/// A data message received in fragments so far.
#[derive(Debug)]
pub(super) struct Partial {
    pub text: bool,
    /// permessage-deflate: the payload is inflated once complete (server side only).
    pub compressed: bool,
    pub data: Vec<u8>,
    /// Bytes of `data` known to be valid UTF-8 (uncompressed text only).
    pub checked: usize,
}

impl Partial {
    /// The first fragment of a text or binary message.
    pub fn new(opcode: OpCode, compressed: bool, data: Vec<u8>) -> Partial {
        Partial {
            text: opcode == OpCode::Text,
            compressed,
            data,
            checked: 0,
        }
    }
}

/// Whether a frame with `opcode` may come now: a continuation needs a message in progress, a
/// new text or binary message needs none. `Err` is the reason for a 1002 close.
pub(super) fn check_sequence(opcode: OpCode, in_progress: bool) -> Result<(), &'static str> {
    match (opcode, in_progress) {
        (OpCode::Continuation, false) => Err("continuation frame without a message"),
        (OpCode::Text | OpCode::Binary, true) => Err("new message before the previous one finished"),
        _ => Ok(()),
    }
}

/// After a fragment was appended: checks the new UTF-8 (a sequence cut at the end of a
/// non-final fragment waits for the next one). `Err` means invalid UTF-8 (close 1007).
pub(super) fn check_utf8(p: &mut Partial, fin: bool) -> Result<(), ()> {
    if !p.text || p.compressed {
        return Ok(());
    }
    match std::str::from_utf8(&p.data[p.checked..]) {
        Ok(_) => p.checked = p.data.len(),
        Err(e) if e.error_len().is_none() && !fin => p.checked += e.valid_up_to(),
        Err(_) => return Err(()),
    }
    Ok(())
}

/// A complete payload as a message. `Err` means a text payload that is not UTF-8 (close 1007).
pub(super) fn message(text: bool, data: Vec<u8>) -> Result<Message, ()> {
    if !text {
        return Ok(Message::Binary(data.into()));
    }
    String::from_utf8(data).map(Message::Text).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencing() {
        assert!(check_sequence(OpCode::Continuation, false).is_err());
        assert!(check_sequence(OpCode::Text, true).is_err());
        assert!(check_sequence(OpCode::Ping, true).is_ok());
        assert!(check_sequence(OpCode::Continuation, true).is_ok());
    }

    #[test]
    fn utf8_split_across_fragments() {
        let euro = "€".as_bytes(); // 3 bytes
        let mut p = Partial::new(OpCode::Text, false, euro[..1].to_vec());
        assert!(check_utf8(&mut p, false).is_ok(), "a cut sequence waits");
        p.data.extend_from_slice(&euro[1..]);
        assert!(check_utf8(&mut p, true).is_ok());
        assert!(matches!(message(true, p.data), Ok(Message::Text(s)) if s == "€"));
        let mut bad = Partial::new(OpCode::Text, false, vec![0xff]);
        assert!(check_utf8(&mut bad, false).is_err(), "fails fast");
        let mut cut = Partial::new(OpCode::Text, false, euro[..2].to_vec());
        assert!(check_utf8(&mut cut, true).is_err(), "cut at the final fragment");
    }
}
