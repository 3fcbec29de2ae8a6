//! The Channel server under a publisher faster than a subscriber, over real sockets: it stops
//! reading instead of dropping events (every event arrives, in order, once the subscriber reads),
//! and a subscriber that never reads is closed after the slow-subscriber timeout while the others
//! get everything.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use workerman::Worker;
use workerman::protocol::Frame;
use workerman_channel::ChannelServer;
use workerman_testkit::{Served, serve};

const EVENTS: usize = 20_000;
const PAYLOAD: usize = 1000;

fn frame(body: &str) -> Vec<u8> {
    let mut f = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body.as_bytes());
    f
}

fn subscribe(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&frame(
        r#"a:2:{s:4:"type";s:9:"subscribe";s:8:"channels";a:1:{i:0;s:4:"news";}}"#,
    ))
    .unwrap();
    s
}

/// `seq` padded to PAYLOAD bytes.
fn payload(seq: usize) -> String {
    format!("{seq:0width$}", width = PAYLOAD)
}

fn publish_frame(data: &str) -> Vec<u8> {
    frame(&format!(
        r#"a:3:{{s:4:"type";s:7:"publish";s:8:"channels";a:1:{{i:0;s:4:"news";}}s:4:"data";s:{}:"{data}";}}"#,
        data.len()
    ))
}

/// Reads one event frame and returns its data string.
fn read_event(s: &mut TcpStream) -> String {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
    s.read_exact(&mut body).unwrap();
    let body = String::from_utf8(body).unwrap();
    let start = body.find(r#"s:4:"data";s:"#).expect("an event") + 13;
    let rest = &body[start..];
    let colon = rest.find(':').unwrap();
    let n: usize = rest[..colon].parse().unwrap();
    rest[colon + 2..colon + 2 + n].to_owned()
}

/// Subscribes `subs`, makes sure the server saw every subscription (a marker event reaches each),
/// then publishes EVENTS events of PAYLOAD bytes from another thread, which blocks whenever the
/// server stops reading.
fn flood(addr: SocketAddr, subs: &mut [&mut TcpStream]) -> thread::JoinHandle<()> {
    let mut p = TcpStream::connect(addr).unwrap();
    p.write_all(&publish_frame("ready")).unwrap();
    for s in subs.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(read_event(s), "ready");
    }
    thread::spawn(move || {
        for seq in 0..EVENTS {
            p.write_all(&publish_frame(&payload(seq))).unwrap();
        }
    })
}

fn server(max_send_buffer: usize, slow: Duration) -> Served<()> {
    serve(move |_: mpsc::Sender<()>| -> Worker<Frame> {
        let server = ChannelServer::new("frame://127.0.0.1:0").unwrap();
        server.set_max_send_buffer_size(max_send_buffer);
        server.set_slow_subscriber_timeout(slow);
        server.worker().clone()
    })
}

#[test]
fn a_slow_subscriber_pauses_publishers_instead_of_losing_events() {
    let served = server(64 * 1024, Duration::from_secs(60));
    let mut sub = subscribe(served.addr);
    let publisher = flood(served.addr, &mut [&mut sub]);
    // Several megabytes are published; the subscriber reads nothing for a while, far beyond
    // the 64 KiB send buffer and the kernel's socket buffers.
    thread::sleep(Duration::from_millis(800));
    assert!(!publisher.is_finished(), "the publisher was not held back");
    for seq in 0..EVENTS {
        assert_eq!(read_event(&mut sub), payload(seq), "event {seq}");
    }
    publisher.join().unwrap();
}

#[test]
fn a_subscriber_that_never_reads_is_closed_and_the_others_get_everything() {
    let served = server(64 * 1024, Duration::from_millis(300));
    let mut stuck = subscribe(served.addr);
    let mut reader = subscribe(served.addr);
    let publisher = flood(served.addr, &mut [&mut stuck, &mut reader]);
    let started = Instant::now();
    for seq in 0..EVENTS {
        assert_eq!(read_event(&mut reader), payload(seq), "event {seq}");
    }
    publisher.join().unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the stuck one held the others back first"
    );
    // The stuck subscriber was closed: after what was queued for it, end of stream or a reset.
    let mut buf = vec![0u8; 1 << 16];
    let closed = loop {
        match stuck.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break true,
            Err(e) => panic!("the stuck subscriber was not closed: {e}"),
        }
    };
    assert!(closed);
}
