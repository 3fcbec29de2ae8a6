//! The `line` protocol over a real socket: lines of any bytes (GBK here) reach `on_message` as
//! they were sent, where `text` closes the connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use workerman::Worker;
use workerman::protocol::{Line, Text};

const TIMEOUT: Duration = Duration::from_secs(10);

/// "你好" in GBK: not UTF-8.
const GBK_HELLO: &[u8] = b"\xc4\xe3\xba\xc3";

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

#[test]
fn a_non_utf8_line_from_a_raw_socket_reaches_on_message_as_bytes() {
    let (tx, rx) = mpsc::channel::<(SocketAddr, SocketAddr)>();
    let (msg_tx, msg_rx) = mpsc::channel::<Bytes>();
    thread::spawn(move || {
        let line = Worker::<Line>::new("line://127.0.0.1:0").unwrap();
        line.on_message(move |c, bytes: Bytes| {
            msg_tx.send(bytes.clone()).unwrap();
            let mut reply = b"got:".to_vec();
            reply.extend_from_slice(&bytes);
            c.send(reply);
        });
        let text = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        text.on_message(|c, s: String| {
            c.send(s);
        });
        let probe = Worker::without_listener();
        probe.on_worker_start(move |_| {
            tx.send((line.local_addrs()[0], text.local_addrs()[0])).unwrap();
        });
        Worker::run_standalone()
    });
    let (line_addr, text_addr) = rx.recv_timeout(TIMEOUT).unwrap();

    let s = connect(line_addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut wire = GBK_HELLO.to_vec();
    wire.extend_from_slice(b"\r\n\xff\x00\x80 raw\n");
    (&s).write_all(&wire).unwrap();
    assert_eq!(msg_rx.recv_timeout(TIMEOUT).unwrap(), Bytes::from_static(GBK_HELLO));
    assert_eq!(
        msg_rx.recv_timeout(TIMEOUT).unwrap(),
        Bytes::from_static(b"\xff\x00\x80 raw")
    );
    let mut got = Vec::new();
    r.read_until(b'\n', &mut got).unwrap();
    assert_eq!(got, [b"got:".as_slice(), GBK_HELLO, b"\n"].concat());
    got.clear();
    r.read_until(b'\n', &mut got).unwrap();
    assert_eq!(got, b"got:\xff\x00\x80 raw\n");

    // The same line closes a `text` connection (and only that one).
    let mut t = connect(text_addr);
    t.write_all(&[GBK_HELLO, b"\n"].concat()).unwrap();
    let mut rest = Vec::new();
    let _ = t.read_to_end(&mut rest);
    assert!(rest.is_empty(), "text echoed a non-UTF-8 line: {rest:?}");
    (&s).write_all(b"still here\n").unwrap();
    got.clear();
    r.read_until(b'\n', &mut got).unwrap();
    assert_eq!(got, b"got:still here\n");
}
