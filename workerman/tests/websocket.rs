//! `websocket://` over real sockets on 127.0.0.1:0: handshakes, hooks, frames, close handshake,
//! protocol errors and the heartbeat, with a raw-frame client so malformed input can be sent.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use workerman::Worker;
use workerman::protocol::websocket::{Message, MessageType, Outgoing, WebSocket};
use workerman_testkit::ws::{Client, KEY};
use workerman_testkit::{Served, TIMEOUT, serve};

type Server = thread::JoinHandle<workerman::Result<()>>;

fn stop(server: Server, addr: SocketAddr) {
    // A plain text frame "__stop__" makes the echo workers call stop_all.
    let mut c = Client::connect(addr, "/?token=ok");
    c.send(0x1, b"__stop__");
    server.join().unwrap().unwrap();
}

fn echo_worker(ws: WebSocket) -> Worker<WebSocket> {
    let w = Worker::with_protocol("websocket://127.0.0.1:0", ws).unwrap();
    w.on_message(|conn, msg| {
        if msg.as_text() == Some("__stop__") {
            Worker::stop_all();
            return;
        }
        conn.send(msg);
    });
    w
}

#[test]
fn echo_text_binary_fragments_ping_and_close() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| echo_worker(WebSocket::new()));
    let mut c = Client::connect(addr, "/");
    c.send(0x1, "héllo".as_bytes());
    assert_eq!(c.frame(), Some((0x81, "héllo".as_bytes().to_vec())));
    c.send(0x2, &[0, 255]);
    assert_eq!(c.frame(), Some((0x82, vec![0, 255])));
    let big = vec![b'x'; 100_000];
    c.send(0x1, &big);
    assert_eq!(c.frame(), Some((0x81, big)));
    c.send_frame(0x01, b"frag");
    c.send(0x9, b"mid");
    c.send_frame(0x00, b"men");
    c.send(0x0, b"ts");
    assert_eq!(c.frame(), Some((0x8A, b"mid".to_vec())), "pong first");
    assert_eq!(c.frame(), Some((0x81, b"fragments".to_vec())));
    c.send(0x8, b"\x0b\xb8done");
    c.expect_close(3000);
    stop(server, addr);
}

#[test]
fn bad_handshakes_get_an_http_error_and_a_close() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| echo_worker(WebSocket::new()));
    let cases: [(&str, &str); 4] = [
        ("POST / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\n",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            "HTTP/1.1 426 Upgrade Required\r\n",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\n",
        ),
    ];
    for (req, want) in cases {
        let mut s = Client::raw(addr);
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = Vec::new();
        let _ = s.read_to_end(&mut resp);
        let resp = String::from_utf8_lossy(&resp);
        assert!(resp.starts_with(want), "{req:?} got {resp:?}");
    }
    stop(server, addr);
}

#[test]
fn protocol_errors_send_the_right_close_code() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| echo_worker(WebSocket::new().max_frame_size(1000)));
    let cases: [(u8, &[u8], u16); 6] = [
        (0xC1, b"rsv1", 1002),
        (0x83, b"", 1002),
        (0x81, b"\xff\xfe", 1007),
        (0x80, b"lone continuation", 1002),
        (0x88, b"\x03\xed", 1002),
        (0x82, &[0u8; 1001], 1009),
    ];
    for (b0, payload, code) in cases {
        let mut c = Client::connect(addr, "/");
        c.send_frame(b0, payload);
        c.expect_close(code);
    }
    // An unmasked frame.
    let mut c = Client::connect(addr, "/");
    c.s.write_all(b"\x81\x02hi").unwrap();
    c.expect_close(1002);
    stop(server, addr);
}

#[test]
fn on_websocket_connect_reads_the_request_adds_headers_and_rejects() {
    let Served {
        addr,
        rx,
        thread: server,
    } = serve(|tx: mpsc::Sender<String>| {
        let w = echo_worker(WebSocket::new());
        w.on_websocket_connect(move |conn, req, resp| {
            tx.send(format!(
                "{} {:?} {:?} {:?}",
                req.path(),
                req.query("room"),
                req.cookie("sid"),
                req.header("x-custom")
            ))
            .unwrap();
            if req.query("token").as_deref() != Some("ok") {
                resp.reject(403);
                return;
            }
            resp.header("X-Room", req.query("room").unwrap_or_default());
            // Sent right after the 101, before any echo.
            conn.send("welcome");
        });
        w
    });
    let err = Client::connect_with(addr, "/chat?room=r%201", "Cookie: a=1; sid=s9\r\nX-Custom: v\r\n")
        .err()
        .expect("rejected without a token");
    assert!(err.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{err}");
    assert_eq!(rx.recv().unwrap(), "/chat Some(\"r 1\") Some(\"s9\") Some(\"v\")");
    let mut c = Client::connect_with(addr, "/chat?room=blue&token=ok", "").unwrap();
    rx.recv().unwrap();
    assert_eq!(c.frame(), Some((0x81, b"welcome".to_vec())));
    stop(server, addr);
}

#[test]
fn added_headers_are_in_the_101() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| {
        let w = echo_worker(WebSocket::new());
        w.on_websocket_connect(|_, _, resp| {
            resp.header("Sec-WebSocket-Protocol", "chat");
        });
        w
    });
    let mut s = Client::raw(addr);
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    )
    .unwrap();
    let mut c = Client { s, buf: Vec::new() };
    let head = c.read_head();
    assert!(head.contains("Sec-WebSocket-Protocol: chat\r\n"), "{head}");
    stop(server, addr);
}

#[test]
fn message_type_ping_pong_and_close_hooks() {
    let Served {
        addr,
        rx,
        thread: server,
    } = serve(|tx: mpsc::Sender<String>| {
        let w = echo_worker(WebSocket::new());
        let t = tx.clone();
        w.on_connect(|conn| conn.set_message_type(MessageType::Binary));
        w.on_websocket_ping(move |conn, p| {
            t.send(format!("ping {}", String::from_utf8_lossy(&p))).unwrap();
            conn.send(Outgoing::pong(&b"custom"[..]));
        });
        let t = tx.clone();
        w.on_websocket_pong(move |_, p| t.send(format!("pong {}", String::from_utf8_lossy(&p))).unwrap());
        w.on_websocket_close(move |_, code, reason| tx.send(format!("close {code:?} {reason}")).unwrap());
        w
    });
    let mut c = Client::connect(addr, "/");
    c.send(0x9, b"p1");
    assert_eq!(c.frame(), Some((0x8A, b"custom".to_vec())));
    assert_eq!(rx.recv().unwrap(), "ping p1");
    c.send(0xA, b"p2");
    assert_eq!(rx.recv().unwrap(), "pong p2");
    c.send(0x1, b"text");
    assert_eq!(c.frame(), Some((0x81, b"text".to_vec())), "a Message keeps its type");
    c.send(0x8, b"\x03\xe9away");
    c.expect_close(1001);
    assert_eq!(rx.recv().unwrap(), "close Some(1001) away");
    stop(server, addr);
}

#[test]
fn strings_follow_the_connection_message_type() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| {
        let w = echo_worker(WebSocket::new());
        w.on_message(|conn, msg| {
            if msg.as_text() == Some("__stop__") {
                Worker::stop_all();
                return;
            }
            conn.set_message_type(MessageType::Binary);
            conn.send(format!("got {}", msg.len()));
            conn.set_message_type(MessageType::Text);
            conn.send(String::from("as text"));
            conn.send(Outgoing::binary("forced binary"));
        });
        w
    });
    let mut c = Client::connect(addr, "/");
    c.send(0x1, b"abc");
    assert_eq!(c.frame(), Some((0x82, b"got 3".to_vec())));
    assert_eq!(c.frame(), Some((0x81, b"as text".to_vec())));
    assert_eq!(c.frame(), Some((0x82, b"forced binary".to_vec())));
    stop(server, addr);
}

#[test]
fn server_close_with_a_code() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| {
        let w = echo_worker(WebSocket::new());
        w.on_message(|conn, msg| {
            if msg.as_text() == Some("__stop__") {
                Worker::stop_all();
            } else {
                conn.close_websocket(4000, "bye");
            }
        });
        w
    });
    let mut c = Client::connect(addr, "/");
    c.send(0x1, b"x");
    let (b0, p) = c.frame().unwrap();
    assert_eq!((b0, &p[..]), (0x88, &b"\x0f\xa0bye"[..]));
    assert!(c.frame().is_none());
    stop(server, addr);
}

#[test]
fn heartbeat_pings_silent_connections_and_closes_dead_ones() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| {
        echo_worker(WebSocket::new().heartbeat(Duration::from_millis(100), Duration::from_millis(350)))
    });
    let mut alive = Client::connect(addr, "/");
    // The live client answers every ping, in its own thread, while the silent one is watched.
    let live = thread::spawn(move || {
        for _ in 0..6 {
            let (b0, p) = alive.frame().unwrap();
            assert_eq!(b0, 0x89, "only pings for a live connection");
            alive.send(0xA, &p);
        }
        alive.send(0x1, b"still here");
        loop {
            let (b0, p) = alive.frame().unwrap();
            if b0 == 0x81 {
                assert_eq!(p, b"still here");
                break;
            }
        }
    });
    let mut silent = Client::connect(addr, "/");
    let mut pings = 0;
    loop {
        let (b0, _) = silent.frame().expect("a frame before the close");
        match b0 {
            0x89 => pings += 1,
            0x88 => break,
            other => panic!("unexpected frame {other:#x}"),
        }
    }
    assert!((2..=4).contains(&pings), "{pings} pings before the timeout");
    assert!(silent.frame().is_none());
    live.join().unwrap();
    stop(server, addr);
}

/// More connections than one slice of the heartbeat's walk (it yields to the event loop every
/// 256): every one of them is pinged, and closed once silent for the timeout.
#[test]
fn heartbeat_reaches_every_connection_of_a_large_worker() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| {
        echo_worker(WebSocket::new().heartbeat(Duration::from_millis(200), Duration::from_millis(500)))
    });
    let mut clients: Vec<Client> = (0..600).map(|_| Client::connect(addr, "/")).collect();
    for (k, c) in clients.iter_mut().enumerate() {
        let mut pings = 0;
        loop {
            match c.frame() {
                Some((0x89, _)) => pings += 1,
                Some((0x88, p)) => {
                    assert_eq!(&p[..2], &1001u16.to_be_bytes(), "client {k}: going away");
                    break;
                }
                other => panic!("client {k}: unexpected {other:?}"),
            }
        }
        assert!(pings >= 1, "client {k} was never pinged");
        assert!(c.frame().is_none(), "client {k}: closed after the close frame");
    }
    stop(server, addr);
}

#[test]
fn deflate_is_negotiated_and_used_both_ways() {
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| echo_worker(WebSocket::new()));
    let mut s = Client::raw(addr);
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    )
    .unwrap();
    let mut c = Client { s, buf: Vec::new() };
    let head = c.read_head();
    assert!(
        head.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"),
        "{head}"
    );
    let text = "a fairly compressible message. ".repeat(20);
    c.send(0x1, text.as_bytes()); // uncompressed messages stay allowed
    let (b0, p) = c.frame().unwrap();
    assert_eq!(b0, 0xC1, "echo compressed (RSV1)");
    assert!(p.len() < text.len() / 4);
    // Compressed by us with the server's own codec, echoed back.
    let mut out = Vec::new();
    workerman::protocol::websocket::deflate::compress(text.as_bytes(), 15, &mut out);
    c.send_frame(0xC1, &out);
    assert_eq!(c.frame().unwrap(), (0xC1, p));
    stop(server, addr);
}

#[test]
fn message_enum_helpers() {
    let m = Message::Text("hi".into());
    assert!(m.is_text() && m.len() == 2 && m.as_bytes() == b"hi");
    assert_eq!(m.message_type(), MessageType::Text);
    assert_eq!(Message::Binary(vec![1].into()).into_bytes(), vec![1u8]);
}

#[test]
fn on_websocket_connected_runs_after_the_101_is_written() {
    let Served {
        addr,
        rx,
        thread: server,
    } = serve(|tx: mpsc::Sender<String>| {
        let w = echo_worker(WebSocket::new());
        let t = tx.clone();
        w.on_websocket_connect(move |conn, _, _| {
            t.send(format!("connect: written {}", conn.bytes_written())).unwrap();
        });
        w.on_websocket_connected(move |conn, req| {
            // The 101 is on the wire already; frames sent here follow it.
            tx.send(format!(
                "connected: {} written>0={}",
                req.path(),
                conn.bytes_written() > 0
            ))
            .unwrap();
            conn.send(format!("hello {}", req.query("name").unwrap_or_default()));
        });
        w
    });
    let mut c = Client::connect_with(addr, "/room?name=ann&token=ok", "").unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "connect: written 0");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "connected: /room written>0=true");
    assert_eq!(c.frame(), Some((0x81, b"hello ann".to_vec())));
    drop(c);
    stop(server, addr);
}

#[test]
fn frames_sent_from_on_connect_wait_for_the_handshake() {
    // Workerman buffers what onConnect sends on a websocket connection until the handshake is
    // done; here too: the frames follow the 101, in order, before the reply to the first message.
    let Served {
        addr,
        rx: _rx,
        thread: server,
    } = serve(|_: mpsc::Sender<()>| {
        let w = echo_worker(WebSocket::new());
        w.on_connect(|conn| {
            conn.send("first");
            conn.send(Message::Binary(vec![1, 2].into()));
        });
        w.on_websocket_connect(|conn, _, _| {
            conn.send("from the handshake hook");
        });
        w
    });
    let mut c = Client::connect(addr, "/?token=ok");
    assert_eq!(c.frame(), Some((0x81, b"first".to_vec())));
    assert_eq!(c.frame(), Some((0x82, vec![1, 2])));
    assert_eq!(c.frame(), Some((0x81, b"from the handshake hook".to_vec())));
    c.send(0x1, b"echo");
    assert_eq!(c.frame(), Some((0x81, b"echo".to_vec())));
    drop(c);
    stop(server, addr);
}
