//! `TcpConnection::end()` over real sockets: what is queued arrives, then the half-close (the
//! client reads end of stream while it can still send), then the close once the client closes —
//! or once the linger runs out.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use workerman::Worker;
use workerman::protocol::Text;
use workerman_testkit::{TIMEOUT, connect_addr, serve};

#[derive(Debug, PartialEq)]
enum Seen {
    Message(String),
    Closed,
}

/// A text worker: `bye` queues three lines and ends the connection with `linger`.
fn server(linger: Duration) -> workerman_testkit::Served<Seen> {
    serve(move |tx: mpsc::Sender<Seen>| {
        let worker = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        let on_close = tx.clone();
        worker.on_message(move |conn, line| {
            let _ = tx.send(Seen::Message(line.clone()));
            if line == "bye" {
                conn.send("one");
                conn.send("two");
                conn.send("x".repeat(200_000));
                conn.end_with_linger(linger);
            }
        });
        worker.on_close(move |_| {
            let _ = on_close.send(Seen::Closed);
        });
        worker
    })
}

/// Reads lines until end of stream (the half-close); panics on a reset or a timeout.
fn read_until_eof(s: &TcpStream) -> Vec<String> {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) => return lines,
            Ok(_) => lines.push(line.trim_end().to_string()),
            Err(e) => panic!("expected data then end of stream: {e}"),
        }
    }
}

#[test]
fn end_sends_what_is_queued_half_closes_and_waits_for_the_peer() {
    // A linger far longer than the test's waits: the close can only come from the client.
    let served = server(Duration::from_secs(60));
    let mut s = connect_addr(served.addr);
    s.write_all(b"bye\n").unwrap();
    let lines = read_until_eof(&s);
    assert_eq!(lines.len(), 3, "everything queued arrives before the end of stream");
    assert_eq!(
        (lines[0].as_str(), lines[1].as_str(), lines[2].len()),
        ("one", "two", 200_000)
    );
    assert_eq!(served.rx.recv_timeout(TIMEOUT).unwrap(), Seen::Message("bye".into()));

    // Half-closed, not closed: the server still reads what the client sends.
    s.write_all(b"still here\n").unwrap();
    assert_eq!(
        served.rx.recv_timeout(TIMEOUT).unwrap(),
        Seen::Message("still here".into())
    );
    assert!(served.rx.try_recv().is_err(), "not closed while the client is there");

    // The client closes its side: the server closes at once (not after the 60 s linger).
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(served.rx.recv_timeout(TIMEOUT).unwrap(), Seen::Closed);
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).unwrap(), 0);
}

#[test]
fn end_closes_after_the_linger_when_the_peer_stays() {
    let served = server(Duration::from_millis(200));
    let mut s = connect_addr(served.addr);
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(b"bye\n").unwrap();
    assert_eq!(read_until_eof(&s).len(), 3);
    assert_eq!(served.rx.recv_timeout(TIMEOUT).unwrap(), Seen::Message("bye".into()));
    // The client keeps its side open and silent: the linger runs out and the server closes.
    assert_eq!(served.rx.recv_timeout(TIMEOUT).unwrap(), Seen::Closed);
    // The server's socket is gone: a write now is answered with a reset, or a later one fails.
    let failed = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        s.write_all(b"anyone?\n").is_err()
    });
    assert!(failed, "the server closed its socket");
}
