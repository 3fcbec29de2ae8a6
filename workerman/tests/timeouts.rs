//! The worker's timeouts and `max_connections`, over real sockets on 127.0.0.1:0, with short
//! timeouts set in each test. Where a test needs "the timeout has passed" it uses a witness: a
//! second connection that the same timeout closes, so nothing sleeps for a fixed time.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use workerman::connection::{
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_REQUEST_BODY_TIMEOUT, DEFAULT_REQUEST_HEAD_TIMEOUT,
    Timeouts,
};
use workerman::protocol::websocket::WebSocket;
use workerman::protocol::{Http, Text};
use workerman::{Timer, Worker};
use workerman_testkit::{connect_addr, serve, ws};

const SHORT: Duration = Duration::from_millis(300);
/// Timers may fire a little early relative to the client's clock (the server's read happened
/// before the client's `Instant::now()`): allowed slack for "not before the timeout".
const SLACK: Duration = Duration::from_millis(50);

/// Reads until the server closes; returns what came and when the close was seen.
fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, Instant::now()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (out, Instant::now()),
            Err(e) => panic!("the server did not close the connection: {e} (got {out:?})"),
        }
    }
}

/// Reads one HTTP response with a `Content-Length` body; returns it as text.
fn read_response(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).expect("a response head");
        out.push(b[0]);
    }
    let head = String::from_utf8_lossy(&out).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("the response body");
    head + &String::from_utf8_lossy(&body)
}

/// An HTTP server answering `body:<the request body>`, set up by `configure`.
fn http_server(configure: impl FnOnce(&Worker<Http>) + Send + 'static) -> SocketAddr {
    serve(move |_: mpsc::Sender<()>| {
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        configure(&w);
        w.on_message(|c, req| {
            c.send(format!("body:{}", String::from_utf8_lossy(req.raw_body())));
        });
        w
    })
    .addr
}

#[test]
fn the_defaults_are_nginx_like() {
    let t = Timeouts::default();
    assert_eq!(t.request_head, Some(Duration::from_secs(60)));
    assert_eq!(t.request_body, Some(Duration::from_secs(60)));
    assert_eq!(t.keep_alive, Some(Duration::from_secs(75)));
    assert_eq!(t.handshake, Some(Duration::from_secs(10)));
    assert_eq!(t.idle, None);
    assert_eq!(t.request_head, Some(DEFAULT_REQUEST_HEAD_TIMEOUT));
    assert_eq!(t.request_body, Some(DEFAULT_REQUEST_BODY_TIMEOUT));
    assert_eq!(t.keep_alive, Some(DEFAULT_KEEP_ALIVE_TIMEOUT));
    assert_eq!(t.handshake, Some(DEFAULT_HANDSHAKE_TIMEOUT));
    let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
    assert_eq!(w.timeouts(), t);
    w.set_keep_alive_timeout(None);
    assert_eq!(w.timeouts().keep_alive, None);
    w.set_timeouts(Timeouts::NONE);
    assert_eq!(w.timeouts(), Timeouts::NONE);
}

#[test]
fn an_incomplete_request_head_gets_408_and_a_close_after_the_head_timeout() {
    let addr = http_server(|w| w.set_request_head_timeout(SHORT));
    // Half a head: 408 and a close, not before the timeout.
    let mut slow = connect_addr(addr);
    let start = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Meanwhile a head completed in two parts well within the timeout is served.
    let mut quick = connect_addr(addr);
    quick.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    quick.write_all(b"Host: x\r\n\r\n").unwrap();
    assert!(read_response(&mut quick).starts_with("HTTP/1.1 200 OK"));
    let (got, closed) = read_until_closed(&mut slow);
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got:?}");
    assert!(got.contains("Connection: close"), "{got:?}");
    assert!(closed - start >= SHORT - SLACK, "closed after {:?}", closed - start);
    // A connection that never sends a byte: the first request's head timeout applies too.
    let mut silent = connect_addr(addr);
    let start = Instant::now();
    let (got, closed) = read_until_closed(&mut silent);
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"), "{got:?}");
    assert!(closed - start >= SHORT - SLACK);
}

#[test]
fn a_request_body_that_stops_gets_408_and_one_that_keeps_coming_is_served() {
    let addr = http_server(|w| w.set_request_body_timeout(SHORT));
    let head = b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 64\r\n\r\n";
    // Stalled: two bytes of 64, then nothing.
    let mut stalled = connect_addr(addr);
    stalled.write_all(head).unwrap();
    stalled.write_all(b"ab").unwrap();
    let start = Instant::now();
    // Trickling: a byte at a time, each well within the timeout, for longer than the timeout
    // in all (until the stalled one is closed).
    let mut trickle = connect_addr(addr);
    trickle.write_all(head).unwrap();
    stalled.set_read_timeout(Some(SHORT / 3)).unwrap();
    let mut sent = 0;
    let mut got = Vec::new();
    let closed = loop {
        trickle.write_all(b"x").unwrap();
        sent += 1;
        let mut buf = [0u8; 1024];
        match stalled.read(&mut buf) {
            Ok(0) => break Instant::now(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "the stalled body was never timed out"
                );
            }
            Err(e) => panic!("{e}"),
        }
    };
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got:?}");
    assert!(closed - start >= SHORT - SLACK, "closed after {:?}", closed - start);
    assert!((3..64).contains(&sent), "{sent}");
    trickle.write_all(&vec![b'y'; 64 - sent]).unwrap();
    let resp = read_response(&mut trickle);
    let want = format!("body:{}{}", "x".repeat(sent), "y".repeat(64 - sent));
    assert!(resp.starts_with("HTTP/1.1 200 OK") && resp.ends_with(&want), "{resp:?}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_silently_after_the_keep_alive_timeout() {
    let addr = http_server(|w| w.set_keep_alive_timeout(SHORT));
    let mut idle = connect_addr(addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(read_response(&mut idle).starts_with("HTTP/1.1 200 OK"));
    let answered = Instant::now();
    // A busy connection: each response restarts its keep-alive wait, so it outlives the idle one.
    let mut busy = connect_addr(addr);
    idle.set_read_timeout(Some(SHORT / 3)).unwrap();
    let mut requests = 0;
    let (got, closed) = loop {
        busy.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert!(read_response(&mut busy).starts_with("HTTP/1.1 200 OK"));
        requests += 1;
        let mut buf = [0u8; 256];
        match idle.read(&mut buf) {
            Ok(0) => break (Vec::new(), Instant::now()),
            Ok(n) => break (buf[..n].to_vec(), Instant::now()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(answered.elapsed() < Duration::from_secs(10), "never closed");
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(got.is_empty(), "a keep-alive timeout sends nothing: {got:?}");
    assert!(
        closed - answered >= SHORT - SLACK,
        "closed after {:?}",
        closed - answered
    );
    assert!(requests >= 3, "{requests}");
    busy.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(read_response(&mut busy).starts_with("HTTP/1.1 200 OK"));
}

#[test]
fn a_request_answered_late_is_not_cut_and_the_keep_alive_wait_starts_after_the_answer() {
    let late = SHORT * 2;
    let addr = serve(move |_: mpsc::Sender<()>| {
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.set_keep_alive_timeout(SHORT);
        w.set_request_head_timeout(SHORT);
        w.on_message(move |c, _req| {
            let c = c.clone();
            Timer::delay(late, move || {
                c.send("late");
            });
        });
        w
    })
    .addr;
    let mut s = connect_addr(addr);
    let start = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let resp = read_response(&mut s);
    assert!(
        resp.starts_with("HTTP/1.1 200 OK") && resp.ends_with("late"),
        "{resp:?}"
    );
    let answered = Instant::now();
    assert!(answered - start >= late - SLACK);
    let (got, closed) = read_until_closed(&mut s);
    assert!(got.is_empty(), "{got:?}");
    assert!(
        closed - answered >= SHORT - SLACK,
        "closed {:?} after the answer",
        closed - answered
    );
}

#[test]
fn an_unfinished_websocket_handshake_is_closed_after_the_handshake_timeout() {
    let addr = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<WebSocket>::new("websocket://127.0.0.1:0").unwrap();
        w.set_handshake_timeout(SHORT);
        w.on_message(|c, msg| {
            c.send(msg);
        });
        w
    })
    .addr;
    let mut half = connect_addr(addr);
    let start = Instant::now();
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .unwrap();
    let mut done = ws::Client::connect(addr, "/");
    let (got, closed) = read_until_closed(&mut half);
    assert!(got.is_empty(), "{got:?}");
    assert!(closed - start >= SHORT - SLACK, "closed after {:?}", closed - start);
    // The connection that finished its handshake outlived the timeout and still echoes.
    done.send(0x1, b"still here");
    assert_eq!(done.frame(), Some((0x81, b"still here".to_vec())));
}

#[test]
fn the_idle_timeout_closes_a_silent_connection_of_any_protocol_and_spares_a_talking_one() {
    let addr = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.set_idle_timeout(SHORT);
        w.on_message(|c, line| {
            c.send(line);
        });
        w
    })
    .addr;
    let mut silent = connect_addr(addr);
    let start = Instant::now();
    let mut talking = connect_addr(addr);
    silent.set_read_timeout(Some(SHORT / 3)).unwrap();
    let mut lines = 0;
    let closed = loop {
        talking.write_all(format!("line {lines}\n").as_bytes()).unwrap();
        let mut buf = [0u8; 64];
        let n = talking.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], format!("line {lines}\n").as_bytes());
        lines += 1;
        match silent.read(&mut buf) {
            Ok(0) => break Instant::now(),
            Ok(n) => panic!("unexpected {:?}", &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(start.elapsed() < Duration::from_secs(10), "never closed");
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break Instant::now(),
            Err(e) => panic!("{e}"),
        }
    };
    assert!(closed - start >= SHORT - SLACK, "closed after {:?}", closed - start);
    assert!(lines >= 3, "{lines}");
    talking.write_all(b"after\n").unwrap();
    let mut buf = [0u8; 64];
    let n = talking.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"after\n");
}

#[test]
fn max_connections_pauses_accepting_until_a_connection_closes() {
    let addr = serve(|_: mpsc::Sender<()>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.set_max_connections(2);
        w.on_message(|c, line| {
            c.send(line);
        });
        w
    })
    .addr;
    let echo = |s: &mut TcpStream, line: &str| {
        s.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], format!("{line}\n").as_bytes());
    };
    let mut first = connect_addr(addr);
    echo(&mut first, "one");
    let mut second = connect_addr(addr);
    echo(&mut second, "two");
    // The third completes its TCP handshake (the kernel's backlog) but is not served.
    let mut third = connect_addr(addr);
    third.write_all(b"three\n").unwrap();
    third.set_read_timeout(Some(SHORT)).unwrap();
    let mut buf = [0u8; 64];
    match third.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the third connection was served past max_connections: {other:?}"),
    }
    echo(&mut second, "two again");
    // One closes: the third is accepted and answered.
    drop(first);
    third.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = third.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"three\n");
    // And the cap holds again: a fourth waits.
    let mut fourth = connect_addr(addr);
    fourth.write_all(b"four\n").unwrap();
    fourth.set_read_timeout(Some(SHORT)).unwrap();
    match fourth.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the fourth connection was served past max_connections: {other:?}"),
    }
    drop(second);
    fourth.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = fourth.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"four\n");
}

#[test]
fn the_keep_alive_wait_starts_only_once_a_slowly_read_response_is_written() {
    const BODY: usize = 16 << 20;
    let served = serve(|drained: mpsc::Sender<Instant>| {
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.set_keep_alive_timeout(SHORT);
        w.on_message(|c, _req| {
            c.send(vec![b'z'; BODY]);
        });
        // When the server has handed the last byte to the kernel.
        w.on_buffer_drain(move |_| {
            let _ = drained.send(Instant::now());
        });
        w
    });
    // A small receive buffer: the kernel holds at most a few MiB of the body, the server the
    // rest, until the client has read most of it.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(64 * 1024).unwrap();
    sock.connect(&served.addr.into()).unwrap();
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let start = Instant::now();
    // Read the 16 MiB slowly (paced), for well over the keep-alive timeout.
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = None;
    while head.is_none_or(|h: usize| got < h + BODY) {
        let n = s.read(&mut buf).expect("the response was cut");
        assert!(n > 0, "closed after {got} bytes, {:?} in", start.elapsed());
        if head.is_none() {
            let i = buf[..n]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("a head first")
                + 4;
            assert!(buf.starts_with(b"HTTP/1.1 200 OK"));
            head = Some(i);
        }
        got += n;
        std::thread::sleep(Duration::from_millis(5));
    }
    let (rest, closed) = read_until_closed(&mut s);
    assert!(rest.is_empty());
    let drained = served
        .rx
        .recv_timeout(Duration::from_secs(10))
        .expect("on_buffer_drain");
    assert!(
        drained - start > SHORT,
        "written too fast to test anything: {:?}",
        drained - start
    );
    assert!(
        closed - drained >= SHORT - SLACK,
        "closed {:?} after the last byte left",
        closed - drained
    );
}
