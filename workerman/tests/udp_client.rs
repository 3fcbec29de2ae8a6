//! AsyncUdpConnection over a real UDP socket: `send` before `connect()` connects, as in
//! Workerman, each send one datagram, in order; the peer's replies reach `on_message`.

use std::net::UdpSocket;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use workerman::protocol::Tcp;
use workerman::{AsyncUdpConnection, Worker};

const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn send_before_connect_connects_and_each_send_is_one_datagram() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    let port = peer.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel::<String>();
    thread::spawn(move || {
        let w = Worker::without_listener();
        w.on_worker_start(move |_| {
            let conn = AsyncUdpConnection::<Tcp>::new(&format!("udp://127.0.0.1:{port}")).unwrap();
            let t = tx.clone();
            conn.on_connect(move |_| t.send("on_connect".into()).unwrap());
            let t = tx.clone();
            conn.on_message(move |_, d| t.send(format!("reply {}", String::from_utf8_lossy(&d))).unwrap());
            // No connect() call: the first send connects.
            conn.send("one");
            conn.send("two");
            std::mem::forget(conn);
        });
        Worker::run_standalone()
    });
    let mut buf = [0u8; 64];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"one");
    let (n, from2) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"two", "a datagram per send");
    assert_eq!(from, from2);
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "on_connect");
    peer.send_to(b"pong", from).unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "reply pong");
}

#[test]
fn send_bytes_on_a_udp_connection_is_one_datagram_each() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    let port = peer.local_addr().unwrap().port();
    thread::spawn(move || {
        let w = Worker::without_listener();
        w.on_worker_start(move |_| {
            let conn = AsyncUdpConnection::<Tcp>::new(&format!("udp://127.0.0.1:{port}")).unwrap();
            // Shared bytes (what a broadcast queues) on a datagram socket: one datagram per
            // call, never coalesced like a stream's sends of one loop tick.
            conn.on_connect(|c| {
                c.send_bytes(bytes::Bytes::from_static(b"first"));
                c.send_bytes(bytes::Bytes::from_static(b"second"));
            });
            conn.connect();
            std::mem::forget(conn);
        });
        Worker::run_standalone()
    });
    let mut buf = [0u8; 64];
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"first");
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"second", "a datagram per send_bytes");
}
