//! Broadcast over real sockets on 127.0.0.1:0: one message to many WebSocket clients, encoded
//! once; every client gets every message in order; a burst from one callback is coalesced
//! (queued, then written once at the end of the tick); a slow client still gets backpressure
//! (`on_buffer_full`, `on_error(SendBufferFull)`, `on_buffer_drain`) while the others carry on.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use std::io::Write;
use workerman::protocol::Text;
use workerman::protocol::websocket::{MessageType, WebSocket};

use workerman::{ConnectionError, TcpConnection, Timer, Worker};
use workerman_testkit::ws::{Client, KEY};
use workerman_testkit::{Served, TIMEOUT, connect_addr, serve};

/// Clients connect; one client sends "go N" and the worker broadcasts N numbered messages
/// from one timer callback (a burst), reporting the bytes the trigger connection held at the
/// end of the burst.
fn burst_worker(tx: mpsc::Sender<usize>) -> Worker<WebSocket> {
    let w = Worker::<WebSocket>::new("websocket://127.0.0.1:0").unwrap();
    w.on_message(move |conn, msg| {
        let text = msg.as_text().unwrap_or_default().to_owned();
        if text == "binary" {
            conn.set_message_type(MessageType::Binary);
            conn.send("ok");
            return;
        }
        let Some(n) = text.strip_prefix("go ").and_then(|n| n.parse::<usize>().ok()) else {
            return;
        };
        let worker = conn.worker().clone();
        let me = conn.clone();
        let tx = tx.clone();
        Timer::delay(Duration::ZERO, move || {
            for i in 0..n {
                assert_eq!(worker.broadcast(format!("m{i}")), worker.connection_count());
            }
            // Measured inside the burst: none of it has been written yet.
            tx.send(me.send_buffer_len()).unwrap();
        });
    });
    w
}

fn frame_len(payload: usize) -> usize {
    2 + payload + if payload >= 126 { 2 } else { 0 }
}

#[test]
fn broadcast_delivers_every_message_in_order_to_every_client() {
    let Served { addr, rx, thread: _s } = serve(burst_worker);
    // Accepted first, its handshake not done during the burst: it encodes on its own (frames
    // queued until its handshake) and still gets everything.
    let mut pending = Client::raw(addr);
    let mut clients: Vec<Client> = (0..20).map(|_| Client::connect(addr, "/")).collect();
    // Two of them get binary frames: another shared encoding, in the same broadcast.
    for c in clients.iter_mut().take(2) {
        c.send(0x1, b"binary");
        assert_eq!(c.frame(), Some((0x82, b"ok".to_vec())));
    }
    // One negotiated permessage-deflate: a third shared encoding (compressed once).
    let mut s = Client::raw(addr);
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    )
    .unwrap();
    let mut deflated = Client { s, buf: Vec::new() };
    assert!(deflated.read_head().contains("permessage-deflate"));
    let n = 300;
    clients[5].send(0x1, format!("go {n}").as_bytes());
    let buffered = rx.recv_timeout(TIMEOUT).unwrap();
    // Coalesced: the trigger connection (one of the recipients) held the whole burst when it
    // ended, so its socket gets it in one write at the end of the tick, not one per message.
    let total: usize = (0..n).map(|i| frame_len(format!("m{i}").len())).sum();
    assert_eq!(buffered, total, "the whole burst waited for the end of the tick");
    for (k, c) in clients.iter_mut().enumerate() {
        let op = if k < 2 { 0x82 } else { 0x81 };
        for i in 0..n {
            assert_eq!(
                c.frame(),
                Some((op, format!("m{i}").into_bytes())),
                "client {k}, message {i}"
            );
        }
    }
    for i in 0..n {
        let mut z = Vec::new();
        workerman::protocol::websocket::deflate::compress(format!("m{i}").as_bytes(), 15, &mut z);
        assert_eq!(deflated.frame(), Some((0xC1, z)), "compressed message {i}");
    }
    clients.push(deflated);
    write!(
        pending,
        "GET / HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut pending = Client {
        s: pending,
        buf: Vec::new(),
    };
    assert!(pending.read_head().starts_with("HTTP/1.1 101 "));
    for i in 0..n {
        assert_eq!(
            pending.frame(),
            Some((0x81, format!("m{i}").into_bytes())),
            "message {i}"
        );
    }
    clients.push(pending);
    // And the connections still work normally after it.
    clients[7].send(0x1, b"go 1");
    let _ = rx.recv_timeout(TIMEOUT).unwrap();
    let mut z = Vec::new();
    workerman::protocol::websocket::deflate::compress(b"m0", 15, &mut z);
    for c in &mut clients {
        match c.frame() {
            Some((0xC1, p)) => assert_eq!(p, z),
            f => assert_eq!(f.map(|f| f.1), Some(b"m0".to_vec())),
        }
    }
}

#[test]
fn broadcast_to_a_group_mixes_text_and_websocket_encodings_per_protocol() {
    // `workerman::broadcast` over any set of connections: here a group of text clients kept by
    // the application; a message is framed once for all of them.
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<usize>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        let group: Rc<RefCell<Vec<TcpConnection<Text>>>> = Rc::default();
        w.on_message(move |conn, line| {
            if line == "join" {
                group.borrow_mut().push(conn.clone());
                conn.send("joined");
                return;
            }
            let sent = workerman::broadcast(group.borrow().iter(), line.as_str());
            tx.send(sent).unwrap();
        });
        w
    });
    use std::io::{BufRead, BufReader};
    let mut members: Vec<BufReader<std::net::TcpStream>> = (0..5)
        .map(|_| {
            let s = connect_addr(addr);
            (&s).write_all(b"join\n").unwrap();
            let mut r = BufReader::new(s);
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            assert_eq!(l, "joined\n");
            r
        })
        .collect();
    let outsider = connect_addr(addr);
    for i in 0..50 {
        (&outsider).write_all(format!("hello {i}\n").as_bytes()).unwrap();
        assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), 5);
    }
    for m in &mut members {
        for i in 0..50 {
            let mut l = String::new();
            m.read_line(&mut l).unwrap();
            assert_eq!(l, format!("hello {i}\n"));
        }
    }
}

#[derive(Debug)]
enum Bp {
    Full(u64),
    Drain(u64),
    Error(u64, ConnectionError),
    Stopped(usize),
}

#[test]
fn slow_client_gets_backpressure_while_the_others_get_everything() {
    const SIZE: usize = 16 * 1024;
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<Bp>| {
        let w = Worker::<WebSocket>::new("websocket://127.0.0.1:0").unwrap();
        w.set_max_send_buffer_size(256 * 1024);
        let t = tx.clone();
        w.on_buffer_full(move |c| t.send(Bp::Full(c.id())).unwrap());
        // After the broadcast stopped, a drain is announced to the client itself.
        let stop = Rc::new(std::cell::Cell::new(false));
        let t = tx.clone();
        let st = stop.clone();
        w.on_buffer_drain(move |c| {
            t.send(Bp::Drain(c.id())).unwrap();
            if st.get() {
                c.send("drained");
            }
        });
        let errored = Rc::new(RefCell::new(false));
        let e = errored.clone();
        let t = tx.clone();
        w.on_error(move |c, err| {
            *e.borrow_mut() = true;
            t.send(Bp::Error(c.id(), err.clone())).unwrap();
        });
        w.on_message(move |conn, msg| {
            if msg.as_text() != Some("start") {
                return;
            }
            // The fast client started it: broadcast bursts while its buffer is empty (it
            // reads), until the slow client (never reading) made a send fail.
            let worker = conn.worker().clone();
            let fast = conn.clone();
            let errored = errored.clone();
            let stop = stop.clone();
            let tx = tx.clone();
            let seq = Rc::new(RefCell::new(0usize));
            let id = Rc::new(RefCell::new(None));
            let timer_id = id.clone();
            *id.borrow_mut() = Some(Timer::repeat(Duration::from_millis(1), move || {
                if fast.send_buffer_len() > 0 {
                    return;
                }
                let mut n = seq.borrow_mut();
                if *errored.borrow() {
                    if let Some(t) = timer_id.borrow_mut().take() {
                        Timer::del(t);
                        stop.set(true);
                        // The end marker, to everyone (the slow client's buffer is still full).
                        worker.broadcast("end");
                        tx.send(Bp::Stopped(*n)).unwrap();
                    }
                    return;
                }
                for _ in 0..8 {
                    let mut m = format!("{:08}", *n).into_bytes();
                    m.resize(SIZE, b'.');
                    worker.broadcast(&m[..]);
                    *n += 1;
                }
            }));
        });
        w
    });
    // The slow client never reads (until the end); the fast one reads everything.
    let mut slow = Client::connect(addr, "/");
    let mut fast = Client::connect(addr, "/");
    fast.send(0x1, b"start");
    let reader = std::thread::spawn(move || {
        let mut got = 0usize;
        loop {
            let (_, p) = fast.frame().expect("a frame");
            if p == b"end" {
                return got;
            }
            if p == b"drained" {
                continue;
            }
            assert_eq!(&p[..8], format!("{got:08}").as_bytes(), "in order, none missing");
            assert_eq!(p.len(), SIZE);
            got += 1;
        }
    });
    let (mut full, mut errors, mut stopped) = (Vec::new(), Vec::new(), None);
    while stopped.is_none() {
        match rx
            .recv_timeout(TIMEOUT * 2)
            .expect("the broadcast goes on until the slow client fails")
        {
            Bp::Full(id) => full.push(id),
            Bp::Error(id, e) => errors.push((id, e)),
            Bp::Stopped(n) => stopped = Some(n),
            Bp::Drain(_) => {}
        }
    }
    let sent = stopped.unwrap();
    assert_eq!(reader.join().unwrap(), sent, "the fast client got every message");
    assert!(!full.is_empty(), "on_buffer_full fired for the slow client");
    let slow_id = full[0];
    assert!(
        full.iter().all(|id| *id == slow_id),
        "only the slow client filled up: {full:?}"
    );
    assert!(
        errors
            .iter()
            .all(|(id, e)| *id == slow_id && *e == ConnectionError::SendBufferFull),
        "{errors:?}"
    );
    // The slow client now reads: a prefix of the messages, in order, then its buffer drains
    // (`on_buffer_drain`, which answers "drained").
    let mut got = 0usize;
    loop {
        let (_, p) = slow.frame().expect("a frame");
        if p == b"drained" {
            break;
        }
        assert_eq!(&p[..8], format!("{got:08}").as_bytes(), "in order");
        got += 1;
    }
    assert!(
        got > 0 && got < sent,
        "the slow client lost the sends that failed ({got} of {sent})"
    );
    loop {
        match rx
            .recv_timeout(TIMEOUT)
            .expect("on_buffer_drain after the slow client read")
        {
            Bp::Drain(id) if id == slow_id => break,
            Bp::Full(_) | Bp::Error(..) | Bp::Drain(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// `Worker::broadcast` reaches exactly the connections live at the call, however they came and
/// went since the last broadcast (the worker keeps its list between broadcasts and makes it anew
/// when a connection comes or goes).
#[test]
fn broadcast_reaches_exactly_the_connections_live_now() {
    use std::io::{BufRead, BufReader};
    let Served { addr, rx, thread: _s } = serve(|tx: mpsc::Sender<(usize, usize)>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.on_message(move |conn, line| match line.as_str() {
            "count" => {
                conn.send(conn.worker().connection_count().to_string());
            }
            say => {
                let sent = conn.worker().broadcast(say);
                let _ = tx.send((sent, conn.worker().connection_count()));
            }
        });
        w
    });
    let open = || BufReader::new(connect_addr(addr));
    let line = |c: &mut BufReader<std::net::TcpStream>| {
        let mut l = String::new();
        c.read_line(&mut l).unwrap();
        l.trim_end().to_owned()
    };
    let say =
        |c: &mut BufReader<std::net::TcpStream>, s: &str| c.get_mut().write_all(format!("{s}\n").as_bytes()).unwrap();
    // Waits until the worker counts `n` connections.
    let settle = |c: &mut BufReader<std::net::TcpStream>, n: usize| {
        for _ in 0..500 {
            say(c, "count");
            if line(c) == n.to_string() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the worker never counted {n} connections");
    };
    let mut a = open();
    let mut b = open();
    settle(&mut a, 2);
    say(&mut a, "one");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), (2, 2));
    assert_eq!(line(&mut a), "one");
    assert_eq!(line(&mut b), "one");
    // Twice in a row with nothing changed: the same list.
    say(&mut b, "two");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), (2, 2));
    assert_eq!(line(&mut a), "two");
    assert_eq!(line(&mut b), "two");
    // One goes, two come.
    drop(b);
    let mut c = open();
    let mut d = open();
    settle(&mut a, 3);
    say(&mut c, "three");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), (3, 3));
    for k in [&mut a, &mut c, &mut d] {
        assert_eq!(line(k), "three");
    }
    // All but one go.
    drop(c);
    drop(a);
    settle(&mut d, 1);
    say(&mut d, "four");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), (1, 1));
    assert_eq!(line(&mut d), "four");
}
