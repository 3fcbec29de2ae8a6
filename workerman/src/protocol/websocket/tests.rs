//! Codec tests: the protocol driven like a connection drives it (`testing::feed`), whole, split
//! at every byte and pipelined.

use bytes::BytesMut;

use super::frame::write_frame;
use super::machine::{Core, Phase};
use super::*;
use crate::protocol::testing::{check_splits, feed};
use crate::protocol::{Context, Protocol, ProtocolError};

const HANDSHAKE: &[u8] = b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn client_frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let opcode = OpCode::from_bits(op).unwrap();
    write_frame(&mut out, fin, false, opcode, Some([0x11, 0x22, 0x33, 0x44]), payload);
    out.to_vec()
}

fn raw(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = client_frame(true, 2, payload);
    f[0] = b0;
    f
}

fn wire(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut w = HANDSHAKE.to_vec();
    for f in frames {
        w.extend_from_slice(f);
    }
    w
}

fn run(frames: &[Vec<u8>]) -> Result<Vec<Message>, ProtocolError> {
    feed(&WebSocket::new(), &[&wire(frames)], 1 << 20)
}

#[test]
fn text_binary_fragments_and_control_frames() {
    let w = wire(&[
        client_frame(true, 1, "héllo".as_bytes()),
        client_frame(true, 2, &[0, 1, 2]),
        client_frame(false, 1, "fr".as_bytes()),
        client_frame(true, 9, b"ping in the middle"),
        client_frame(false, 0, &"é".as_bytes()[..1]),
        client_frame(true, 0, &"é".as_bytes()[1..]),
        client_frame(true, 1, b""),
        client_frame(true, 10, b"unsolicited pong"),
        client_frame(true, 2, &vec![7u8; 300]),
    ]);
    check_splits(
        &WebSocket::new(),
        &w,
        &[
            Message::Text("héllo".into()),
            Message::Binary(Bytes::from_static(&[0, 1, 2])),
            Message::Text("fré".into()),
            Message::Text(String::new()),
            Message::Binary(vec![7u8; 300].into()),
        ],
    );
}

#[test]
fn strict_rules_fail_the_connection() {
    let bad: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("unmasked", vec![b"\x81\x02hi".to_vec()]),
        ("rsv1 without deflate", vec![raw(0xC1, b"x")]),
        ("rsv2", vec![raw(0xA2, b"x")]),
        ("reserved opcode", vec![raw(0x83, b"")]),
        ("reserved control opcode", vec![raw(0x8B, b"")]),
        ("fragmented ping", vec![raw(0x09, b"")]),
        ("long ping", vec![client_frame(true, 9, &[0u8; 126])]),
        ("lone continuation", vec![client_frame(true, 0, b"x")]),
        (
            "text inside fragments",
            vec![client_frame(false, 1, b"a"), client_frame(true, 1, b"b")],
        ),
        ("invalid utf-8", vec![client_frame(true, 1, b"\xff")]),
        (
            "invalid utf-8 in a fragment",
            vec![client_frame(
                false,
                1,
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
            )],
        ),
        ("truncated utf-8 at fin", vec![client_frame(true, 1, b"\xce")]),
        ("close 1 byte", vec![client_frame(true, 8, b"\x03")]),
        ("close code 1005", vec![client_frame(true, 8, b"\x03\xed")]),
        ("close code 999", vec![client_frame(true, 8, b"\x03\xe7")]),
        ("close bad reason", vec![client_frame(true, 8, b"\x03\xe8\xff")]),
    ];
    for (what, frames) in bad {
        assert!(run(&frames).is_err(), "{what} must fail");
    }
}

#[test]
fn fragments_keep_incomplete_utf8_until_fin() {
    // "κ" split across frames is fine; the incomplete tail is only an error at FIN.
    let k = "κ".as_bytes();
    let msgs = run(&[client_frame(false, 1, &k[..1]), client_frame(true, 0, &k[1..])]).unwrap();
    assert_eq!(msgs, vec![Message::Text("κ".into())]);
}

#[test]
fn close_is_answered_and_nothing_is_read_after() {
    let msgs = run(&[client_frame(true, 8, b"\x03\xe8bye"), client_frame(true, 1, b"late")]);
    // The connection stops reading after a close; feed reports the data after it as an error.
    assert!(msgs.is_err());
    assert_eq!(run(&[client_frame(true, 8, b"\x0b\xb8")]).unwrap(), vec![]);
}

#[test]
fn size_limits() {
    let ws = WebSocket::new().max_frame_size(10).max_message_size(15);
    let ok = wire(&[client_frame(false, 2, &[1; 10]), client_frame(true, 0, &[2; 5])]);
    assert_eq!(feed(&ws, &[&ok], 1 << 20).unwrap().len(), 1);
    let big_frame = wire(&[client_frame(true, 2, &[1; 11])]);
    assert!(feed(&ws, &[&big_frame], 1 << 20).is_err());
    let big_msg = wire(&[client_frame(false, 2, &[1; 10]), client_frame(true, 0, &[2; 6])]);
    assert!(feed(&ws, &[&big_msg], 1 << 20).is_err());
}

#[test]
fn bad_handshakes_are_refused() {
    for head in [
        &b"POST / HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01 tls hello",
    ] {
        assert!(feed(&WebSocket::new(), &[head], 1 << 20).is_err());
    }
    let huge = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HANDSHAKE_SIZE]].concat();
    assert!(feed(&WebSocket::new(), &[&huge], 1 << 20).is_err());
}

#[test]
fn encode_frames() {
    let ws = WebSocket::new();
    let mut st = State {
        core: Core::new(Phase::Open),
    };
    st.core.finish_handshake();
    let mut out = BytesMut::new();
    let mut cx = Context::new(&mut st, &mut out, 1 << 20);
    ws.encode("hi".into(), &mut cx);
    ws.encode(vec![1u8].into(), &mut cx);
    cx.state.core.send_type = MessageType::Binary;
    ws.encode("b".into(), &mut cx);
    ws.encode(Outgoing::text("t"), &mut cx);
    ws.encode(Outgoing::close(1000, "bye"), &mut cx);
    assert!(cx.close_requested());
    ws.encode("after close".into(), &mut cx);
    assert_eq!(&out[..], b"\x81\x02hi\x82\x01\x01\x82\x01b\x81\x01t\x88\x05\x03\xe8bye");
}

#[test]
fn deflate_messages() {
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    let text = "compress me, compress me, compress me, compress me".repeat(10);
    let mut c = Vec::new();
    deflate::compress(text.as_bytes(), 15, &mut c);
    let mut f = BytesMut::new();
    write_frame(&mut f, true, true, OpCode::Text, Some([1, 2, 3, 4]), &c);
    // Fragmented: RSV1 on the first frame only.
    let (a, b) = c.split_at(c.len() / 2);
    write_frame(&mut f, false, true, OpCode::Text, Some([1, 2, 3, 4]), a);
    write_frame(&mut f, true, false, OpCode::Continuation, Some([1, 2, 3, 4]), b);
    let w = [&head[..], &f].concat();
    check_splits(
        &WebSocket::new(),
        &w,
        &[Message::Text(text.clone()), Message::Text(text.clone())],
    );
    // Without the extension negotiated, RSV1 is a protocol error.
    assert!(feed(&WebSocket::new().permessage_deflate(false), &[&w], 1 << 20).is_err());
}

#[test]
fn idle_state_is_small() {
    assert!(std::mem::size_of::<State>() <= 32, "{}", std::mem::size_of::<State>());
}
