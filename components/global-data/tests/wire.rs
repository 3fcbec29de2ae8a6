//! The server's wire against hand-built PHP frames (COMPONENTS-WIRE.md §3.5) over real sockets:
//! replies byte for byte as PHP's GlobalData server gives them, ping unanswered, and bad
//! requests closing only their own connection.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads one frame (header included).
fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).unwrap();
    let len = u32::from_be_bytes(head) as usize;
    let mut body = vec![0u8; len - 4];
    s.read_exact(&mut body).unwrap();
    [&head[..], &body].concat()
}

fn roundtrip(s: &mut TcpStream, frame: &[u8]) -> Vec<u8> {
    s.write_all(frame).unwrap();
    read_frame(s)
}

/// Asserts the server closes `s` (EOF or reset), after `expect` if given.
fn assert_closed(s: &mut TcpStream) {
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "unexpected bytes before close: {rest:?}");
}

const SET: &[u8] = b"\x00\x00\x00\x47a:3:{s:3:\"cmd\";s:3:\"set\";s:3:\"key\";s:7:\"counter\";s:5:\"value\";i:10;}";
const INCREMENT: &[u8] =
    b"\x00\x00\x00\x4ba:3:{s:3:\"cmd\";s:9:\"increment\";s:3:\"key\";s:7:\"counter\";s:4:\"step\";i:1;}";
const CAS: &[u8] = b"\x00\x00\x00\x8ea:4:{s:3:\"cmd\";s:3:\"cas\";s:3:\"md5\";s:32:\"262bbc0aa0dc62a93e350f1f7df792b9\";s:3:\"key\";s:3:\"abc\";s:5:\"value\";a:3:{i:0;i:5;i:1;i:6;i:2;i:7;}}";
const PING: &[u8] = b"\x00\x00\x00\x08ping";

fn frame(body: &[u8]) -> Vec<u8> {
    workerman_global_data::protocol::frame(body)
}

#[test]
fn php_frames_of_section_3_5() {
    let addr = support::start_server();
    let mut s = connect(addr);
    assert_eq!(roundtrip(&mut s, SET), b"\x00\x00\x00\x08b:1;");
    assert_eq!(roundtrip(&mut s, INCREMENT), b"\x00\x00\x00\x09i:11;");
    // cas abc [1,2,3] -> [5,6,7]: abc is missing, so md5 is not md5("N;") of null: b:0;
    assert_eq!(roundtrip(&mut s, CAS), b"\x00\x00\x00\x08b:0;");
    let set_abc =
        frame(b"a:3:{s:3:\"cmd\";s:3:\"set\";s:3:\"key\";s:3:\"abc\";s:5:\"value\";a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}}");
    assert_eq!(roundtrip(&mut s, &set_abc), b"\x00\x00\x00\x08b:1;");
    assert_eq!(roundtrip(&mut s, CAS), b"\x00\x00\x00\x08b:1;");
    let get_abc = frame(b"a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";s:3:\"abc\";}");
    assert_eq!(roundtrip(&mut s, &get_abc), frame(b"a:3:{i:0;i:5;i:1;i:6;i:2;i:7;}"));
    // get missing: N;
    let get_missing = frame(b"a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";s:7:\"missing\";}");
    assert_eq!(roundtrip(&mut s, &get_missing), b"\x00\x00\x00\x06N;");
    // ping gets no reply: the next reply is the next request's.
    s.write_all(PING).unwrap();
    assert_eq!(roundtrip(&mut s, INCREMENT), b"\x00\x00\x00\x09i:12;");
    // Pipelined requests in one write are answered in order.
    let mut both = INCREMENT.to_vec();
    both.extend_from_slice(&get_missing);
    s.write_all(&both).unwrap();
    assert_eq!(read_frame(&mut s), b"\x00\x00\x00\x09i:13;");
    assert_eq!(read_frame(&mut s), b"\x00\x00\x00\x06N;");
    // "counter" given as the int-like string and as an int is the same key: md5 cas on i:13;.
    let md5 = workerman_global_data::md5_hex(b"i:13;");
    let cas = frame(
        format!(
            "a:4:{{s:3:\"cmd\";s:3:\"cas\";s:3:\"md5\";s:32:\"{md5}\";s:3:\"key\";s:7:\"counter\";s:5:\"value\";d:0.1;}}"
        )
        .as_bytes(),
    );
    assert_eq!(roundtrip(&mut s, &cas), b"\x00\x00\x00\x08b:1;");
    let set5 = frame(b"a:3:{s:3:\"cmd\";s:3:\"set\";s:3:\"key\";s:1:\"5\";s:5:\"value\";s:1:\"x\";}");
    assert_eq!(roundtrip(&mut s, &set5), b"\x00\x00\x00\x08b:1;");
    let get5 = frame(b"a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";i:5;}");
    assert_eq!(roundtrip(&mut s, &get5), frame(b"s:1:\"x\";"));
    // delete, then add over nothing.
    let del = frame(b"a:2:{s:3:\"cmd\";s:6:\"delete\";s:3:\"key\";i:5;}");
    assert_eq!(roundtrip(&mut s, &del), b"\x00\x00\x00\x08b:1;");
    let add = frame(b"a:3:{s:3:\"cmd\";s:3:\"add\";s:3:\"key\";s:1:\"5\";s:5:\"value\";b:1;}");
    assert_eq!(roundtrip(&mut s, &add), b"\x00\x00\x00\x08b:1;");
    assert_eq!(roundtrip(&mut s, &add), b"\x00\x00\x00\x08b:0;");
}

#[test]
fn bad_requests_close_only_that_connection() {
    let addr = support::start_server();
    let mut good = connect(addr);
    assert_eq!(roundtrip(&mut good, SET), b"\x00\x00\x00\x08b:1;");
    let bad_request = b"\x00\x00\x00\x17s:11:\"bad request\";".to_vec();
    for body in [
        &b""[..],
        b"0",
        b"not serialized",
        b"O:8:\"stdClass\":0:{}",
        b"a:1:{s:3:\"cmd\";O:8:\"stdClass\":0:{}}",
        b"a:1:{s:3:\"key\";s:1:\"k\";}",
        b"a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";a:0:{}}",
        b"a:3:{s:3:\"cmd\";s:9:\"increment\";s:3:\"key\";s:7:\"counter\";s:4:\"step\";s:3:\"abc\";}",
    ] {
        let mut s = connect(addr);
        assert_eq!(roundtrip(&mut s, &frame(body)), bad_request, "{body:?}");
        assert_closed(&mut s);
    }
    let mut s = connect(addr);
    let frob = frame(b"a:2:{s:3:\"cmd\";s:4:\"frob\";s:3:\"key\";s:1:\"k\";}");
    assert_eq!(roundtrip(&mut s, &frob), b"\x00\x00\x00\x18s:12:\"bad cmd frob\";");
    assert_closed(&mut s);
    // A frame over 10 MiB, and a length below 4: closed without a reply.
    for head in [&b"\x00\xa0\x00\x01"[..], b"\x00\x00\x00\x02"] {
        let mut s = connect(addr);
        s.write_all(head).unwrap();
        assert_closed(&mut s);
    }
    // The first connection and the data are untouched.
    assert_eq!(roundtrip(&mut good, INCREMENT), b"\x00\x00\x00\x09i:11;");
}
