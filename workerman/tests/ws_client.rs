//! The `ws://` / `wss://` client (`AsyncTcpConnection<Ws>`) over real sockets on 127.0.0.1:0:
//! against a raw server that checks every byte (masks, handshake request) and sends what the
//! `websocket://` server never does (fragments, pings), against our own `websocket://` server
//! (hooks, close codes, TLS), bad handshakes and reconnects.

use std::collections::HashSet;
use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use workerman::protocol::Ws;
use workerman::protocol::websocket::{Message, Outgoing, WebSocket};
use workerman::{AsyncTcpConnection, ConnectionError, Transport, Worker};
use workerman_testkit::ws::{Peer, header};
use workerman_testkit::{TIMEOUT, run, scratch_dir, test_cert};

/// One client worker: `f` runs in `on_worker_start`.
fn client(f: impl Fn() + 'static) {
    let w = Worker::without_listener();
    w.on_worker_start(move |_| f());
}

#[test]
fn handshake_masks_fragments_ping_and_close_against_a_raw_server() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let mut p = Peer::accept(&l);
        let head = p.read_head();
        assert!(head.starts_with("GET /chat?room=1 HTTP/1.1\r\n"), "{head}");
        assert_eq!(header(&head, "host").unwrap(), format!("127.0.0.1:{port}"));
        assert_eq!(header(&head, "upgrade").unwrap(), "websocket");
        assert_eq!(header(&head, "connection").unwrap(), "Upgrade");
        assert_eq!(header(&head, "sec-websocket-version").unwrap(), "13");
        assert_eq!(header(&head, "x-token").unwrap(), "abc");
        assert_eq!(header(&head, "origin").unwrap(), "http://example.com");
        assert_eq!(header(&head, "sec-websocket-protocol").unwrap(), "chat, superchat");
        // Offered by default; this server does not accept it, so frames stay uncompressed.
        assert_eq!(
            header(&head, "sec-websocket-extensions").as_deref(),
            Some("permessage-deflate; client_max_window_bits; client_no_context_takeover"),
            "offered by default"
        );
        assert!(header(&head, "bad header").is_none());
        let key = header(&head, "sec-websocket-key").unwrap();
        assert_eq!(key.len(), 24, "base64 of 16 bytes");
        p.upgrade(&head, "Sec-WebSocket-Protocol: chat\r\n");
        // Queued before the 101, then sent from on_websocket_connect.
        assert_eq!(p.frame().unwrap(), (0x81, b"early".to_vec()));
        assert_eq!(p.frame().unwrap(), (0x81, b"hello chat".to_vec()));
        // A fragmented text message with a ping in the middle.
        p.send(0x01, b"fr");
        p.send(0x89, b"p1");
        p.send(0x80, "ag ü".as_bytes());
        assert_eq!(p.frame().unwrap(), (0x8A, b"p1".to_vec()), "automatic pong");
        assert_eq!(p.frame().unwrap(), (0x81, "echo:frag ü".as_bytes().to_vec()));
        p.send(0x82, &[1, 2, 3]);
        assert_eq!(p.frame().unwrap(), (0x82, vec![1, 2, 3]));
        // A long message, masked as a whole.
        let long = vec![b'x'; 70_000];
        let mut f = vec![0x82, 127];
        f.extend_from_slice(&(long.len() as u64).to_be_bytes());
        f.extend_from_slice(&long);
        p.s.write_all(&f).unwrap();
        assert_eq!(p.frame().unwrap(), (0x82, long));
        // The server closes: the client answers with the same code, and waits for TCP close.
        let mut close = 1001u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"bye");
        p.send(0x88, &close);
        let (b0, payload) = p.frame().unwrap();
        assert_eq!((b0, &payload[..2]), (0x88, &1001u16.to_be_bytes()[..]));
        let masks: HashSet<[u8; 4]> = p.masks.iter().copied().collect();
        assert!(
            masks.len() >= p.masks.len() - 1,
            "a fresh mask per frame: {:?}",
            p.masks
        );
        assert!(p.masks.iter().any(|m| m != &[0; 4]), "random masks, not all-zero");
        thread::sleep(Duration::from_millis(100));
        drop(p); // the server closes TCP first
    });
    let rx = run(move |tx: mpsc::Sender<String>| {
        client(move || {
            let conn = AsyncTcpConnection::<Ws>::new(&format!("ws://127.0.0.1:{port}/chat?room=1#frag")).unwrap();
            conn.set_websocket_header("X-Token", "abc");
            conn.set_websocket_header("Bad Header", "x");
            conn.set_websocket_header("X-Evil", "a\r\nb: c");
            conn.set_websocket_origin("http://example.com");
            conn.set_websocket_protocol("chat");
            conn.set_websocket_protocol("superchat");
            conn.on_connect(|c| {
                c.send("early");
            });
            let t = tx.clone();
            conn.on_websocket_connect(move |c, resp| {
                t.send(format!("connected {} {:?}", resp.status(), resp.protocol()))
                    .unwrap();
                c.send(format!("hello {}", resp.protocol().unwrap_or("")));
            });
            conn.on_message(|c, msg| match msg {
                Message::Text(t) => {
                    c.send(format!("echo:{t}"));
                }
                Message::Binary(b) => {
                    c.send(b);
                }
            });
            let t = tx.clone();
            conn.on_websocket_close(move |_, code, reason| t.send(format!("close {code:?} {reason}")).unwrap());
            let t = tx.clone();
            conn.on_close(move |_| {
                t.send("tcp closed".into()).unwrap();
                Worker::stop_all();
            });
            conn.connect();
        });
    });
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "connected 101 Some(\"chat\")");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "close Some(1001) bye");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "tcp closed");
    server.join().unwrap();
}

#[test]
fn server_protocol_errors_close_with_the_right_code() {
    // (bytes the server sends after the 101, close code expected from the client)
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (vec![0x81, 0x81, 0, 0, 0, 0, b'a'], 1002), // masked server frame
        (vec![0xC1, 0x01, b'a'], 1002),             // RSV1 without an extension
        (vec![0x83, 0x00], 1002),                   // reserved opcode
        (vec![0x80, 0x01, b'a'], 1002),             // continuation without a message
        (vec![0x81, 0x02, 0xC3, 0x28], 1007),       // invalid UTF-8
        (vec![0x88, 0x02, 0x03, 0xED], 1002),       // close code 1005 on the wire
        (vec![0x09, 0x00], 1002),                   // fragmented ping
    ];
    for (bytes, code) in cases {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let mut p = Peer::accept(&l);
            let head = p.read_head();
            p.upgrade(&head, "");
            p.s.write_all(&bytes).unwrap();
            let (b0, payload) = p.frame().expect("a close frame");
            assert_eq!(b0, 0x88, "{bytes:?}");
            assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code, "{bytes:?}");
            assert!(p.frame().is_none(), "then TCP closes");
        });
        let rx = run(move |tx: mpsc::Sender<()>| {
            client(move || {
                let conn = AsyncTcpConnection::<Ws>::new(&format!("ws://127.0.0.1:{port}/")).unwrap();
                let t = tx.clone();
                conn.on_close(move |_| {
                    t.send(()).unwrap();
                    Worker::stop_all();
                });
                conn.connect();
            });
        });
        rx.recv_timeout(TIMEOUT).unwrap();
        server.join().unwrap();
    }
}

#[test]
fn bad_handshake_replies_report_on_error_then_close() {
    let replies = [
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".to_string(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n".to_string(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_string(),
        "KEY\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n".to_string(),
        "KEY\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n".to_string(),
        "KEY\r\nSec-WebSocket-Protocol: never-offered\r\n\r\n".to_string(),
    ];
    for reply in replies {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let r = reply.clone();
        let server = thread::spawn(move || {
            let mut p = Peer::accept(&l);
            let head = p.read_head();
            if let Some(extra) = r.strip_prefix("KEY\r\n") {
                p.upgrade(&head, extra.trim_end_matches("\r\n"));
                p.s.write_all(b"\r\n").unwrap();
            } else {
                p.s.write_all(r.as_bytes()).unwrap();
            }
            assert!(p.frame().is_none(), "no frame after a failed handshake");
        });
        let rx = run(move |tx: mpsc::Sender<String>| {
            client(move || {
                let conn = AsyncTcpConnection::<Ws>::new(&format!("ws://127.0.0.1:{port}/")).unwrap();
                // Not offered here: any extension in the reply is one that was not offered.
                conn.set_websocket_permessage_deflate(false);
                conn.on_connect(|c| {
                    c.send("queued, never sent");
                });
                let t = tx.clone();
                conn.on_websocket_connect(move |_, _| t.send("connected?!".into()).unwrap());
                let t = tx.clone();
                conn.on_error(move |_, e| {
                    assert!(matches!(e, ConnectionError::ConnectFailed(_)));
                    t.send(format!("error {e}")).unwrap()
                });
                let t = tx.clone();
                conn.on_close(move |_| {
                    t.send("closed".into()).unwrap();
                    Worker::stop_all();
                });
                conn.connect();
            });
        });
        let err = rx.recv_timeout(TIMEOUT).unwrap();
        assert!(err.starts_with("error websocket handshake with"), "{reply}: {err}");
        assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "closed", "{reply}");
        server.join().unwrap();
    }
}

#[test]
fn reconnect_performs_a_fresh_handshake() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let mut keys = Vec::new();
        for round in 0..2 {
            let mut p = Peer::accept(&l);
            let head = p.read_head();
            keys.push(header(&head, "sec-websocket-key").unwrap());
            p.upgrade(&head, "");
            p.send(0x81, format!("round {round}").as_bytes());
            assert_eq!(p.frame().unwrap().1, format!("ack {round}").into_bytes());
            // Round 0: the server goes away abruptly; round 1: closes cleanly.
            if round == 1 {
                p.send(0x88, &1000u16.to_be_bytes());
                assert_eq!(p.frame().unwrap().0, 0x88);
            }
        }
        assert_ne!(keys[0], keys[1], "a new key per handshake");
    });
    let rx = run(move |tx: mpsc::Sender<String>| {
        client(move || {
            let conn = AsyncTcpConnection::<Ws>::new(&format!("ws://127.0.0.1:{port}")).unwrap();
            let t = tx.clone();
            conn.on_message(move |c, msg| {
                let text = msg.as_text().unwrap().to_string();
                c.send(text.replace("round", "ack"));
                t.send(text).unwrap();
            });
            let t = tx.clone();
            conn.on_websocket_close(move |_, code, _| t.send(format!("close {code:?}")).unwrap());
            conn.on_close(move |c| {
                if c.with_data(|n: &mut u32| *n).is_some() {
                    Worker::stop_all();
                } else {
                    c.set_data(1u32);
                    c.reconnect(Duration::from_millis(50));
                }
            });
            conn.connect();
        });
    });
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "round 0");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "round 1");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "close Some(1000)");
    server.join().unwrap();
}

#[test]
fn pings_are_sent_on_the_interval_and_pongs_hooked() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let mut p = Peer::accept(&l);
        let head = p.read_head();
        p.upgrade(&head, "");
        for _ in 0..2 {
            let (b0, payload) = p.frame().unwrap();
            assert_eq!(b0, 0x89, "a ping");
            p.send(0x8A, &payload);
        }
        // A ping from the server reaches the hook, which answers itself.
        p.send(0x89, b"hooked");
        assert_eq!(p.frame_skipping_pings().unwrap(), (0x8A, b"custom".to_vec()));
        p.send(0x88, &[]);
        assert_eq!(p.frame_skipping_pings().unwrap(), (0x88, vec![]));
    });
    let rx = run(move |tx: mpsc::Sender<String>| {
        client(move || {
            let conn = AsyncTcpConnection::<Ws>::new(&format!("ws://127.0.0.1:{port}/")).unwrap();
            conn.set_websocket_ping_interval(Duration::from_millis(30));
            let t = tx.clone();
            conn.on_websocket_pong(move |_, _| t.send("pong".into()).unwrap());
            let t = tx.clone();
            conn.on_websocket_ping(move |c, p| {
                t.send(format!("ping {}", String::from_utf8_lossy(&p))).unwrap();
                c.send(Outgoing::pong(&b"custom"[..]));
            });
            conn.on_close(|_| Worker::stop_all());
            conn.connect();
        });
    });
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "pong");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "pong");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "ping hooked");
    server.join().unwrap();
}

/// Our `websocket://` server and the client in one process: headers seen by the server's
/// hook, text and binary echo, a close code each way.
#[test]
fn client_and_server_talk_with_hooks_and_close_codes() {
    let rx = run(|tx: mpsc::Sender<String>| {
        let server = Worker::<WebSocket>::new("websocket://127.0.0.1:0").unwrap();
        let t = tx.clone();
        server.on_websocket_connect(move |_, req, resp| {
            t.send(format!(
                "server saw {} token={:?} x-app={:?}",
                req.uri(),
                req.query("token"),
                req.header("x-app")
            ))
            .unwrap();
            resp.header("X-Server", "yes");
        });
        server.on_message(|c, msg| {
            c.send(msg);
        });
        let t = tx.clone();
        server
            .on_websocket_close(move |_, code, reason| t.send(format!("server got close {code:?} {reason}")).unwrap());
        let s = server.clone();
        let t = tx.clone();
        client(move || {
            let port = s.local_addrs()[0].port();
            let conn = AsyncTcpConnection::<Ws>::new(&format!("ws://127.0.0.1:{port}/app?token=t1")).unwrap();
            conn.set_websocket_header("X-App", "demo");
            let t2 = t.clone();
            conn.on_websocket_connect(move |c, resp| {
                t2.send(format!("client saw X-Server={:?}", resp.header("x-server")))
                    .unwrap();
                c.send("text");
                c.send(vec![0u8, 255]);
            });
            let t2 = t.clone();
            conn.on_message(move |c, msg| {
                t2.send(format!("client got {msg:?}")).unwrap();
                if !msg.is_text() {
                    c.close_websocket(4000, "done");
                }
            });
            let t2 = t.clone();
            conn.on_close(move |_| {
                t2.send("client closed".into()).unwrap();
                Worker::stop_all();
            });
            conn.connect();
        });
    });
    let want = [
        "server saw /app?token=t1 token=Some(\"t1\") x-app=Some(\"demo\")",
        "client saw X-Server=Some(\"yes\")",
        "client got Text(\"text\")",
        "client got Binary(b\"\\0\\xff\")",
        "server got close Some(4000) done",
        "client closed",
    ];
    for w in want {
        assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), w);
    }
}

#[test]
fn wss_client_against_a_tls_websocket_server() {
    let (cert, key) = test_cert(&scratch_dir("wss"));
    let ca = cert.clone();
    let rx = run(move |tx: mpsc::Sender<String>| {
        let server = Worker::<WebSocket>::new("websocket://127.0.0.1:0").unwrap();
        server.set_transport(Transport::Ssl);
        server.set_tls(&cert, &key);
        let t = tx.clone();
        server.on_websocket_connect(move |_, req, _| t.send(format!("host {:?}", req.header("host"))).unwrap());
        server.on_message(|c, msg| {
            c.send(msg);
        });
        let s = server.clone();
        client(move || {
            let port = s.local_addrs()[0].port();
            let conn = AsyncTcpConnection::<Ws>::new(&format!("wss://localhost:{port}/secure")).unwrap();
            assert_eq!(conn.remote_uri(), Some("/secure"));
            assert!(conn.is_tls_client());
            conn.set_tls_ca(&ca);
            conn.on_connect(|c| {
                c.send("over tls");
            });
            let t = tx.clone();
            conn.on_message(move |c, msg| {
                t.send(format!("got {}", msg.as_text().unwrap())).unwrap();
                c.close_websocket(1000, "");
            });
            let t = tx.clone();
            conn.on_error(move |_, e| t.send(format!("error {e}")).unwrap());
            conn.on_close(|_| Worker::stop_all());
            conn.connect();
        });
    });
    assert!(rx.recv_timeout(TIMEOUT).unwrap().starts_with("host Some(\"localhost:"));
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "got over tls");
}

/// The server heartbeat over TLS: the heartbeat writes its pings at once on plain sockets; a TLS
/// socket takes them through the connection's task, and they arrive all the same.
#[test]
fn heartbeat_pings_reach_a_wss_client() {
    let (cert, key) = test_cert(&scratch_dir("wss-heartbeat"));
    let ca = cert.clone();
    let rx = run(move |tx: mpsc::Sender<String>| {
        let ws = WebSocket::new().heartbeat(Duration::from_millis(50), Duration::from_secs(5));
        let server = Worker::with_protocol("websocket://127.0.0.1:0", ws).unwrap();
        server.set_transport(Transport::Ssl);
        server.set_tls(&cert, &key);
        let s = server.clone();
        client(move || {
            let port = s.local_addrs()[0].port();
            let conn = AsyncTcpConnection::<Ws>::new(&format!("wss://localhost:{port}/")).unwrap();
            conn.set_tls_ca(&ca);
            let pings = std::rc::Rc::new(std::cell::Cell::new(0));
            let t = tx.clone();
            conn.on_websocket_ping(move |c, _| {
                pings.set(pings.get() + 1);
                if pings.get() == 3 {
                    t.send("three pings".into()).unwrap();
                    c.close_websocket(1000, "");
                }
            });
            let t = tx.clone();
            conn.on_error(move |_, e| t.send(format!("error {e}")).unwrap());
            conn.on_close(|_| Worker::stop_all());
            conn.connect();
        });
    });
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "three pings");
}

#[test]
fn client_urls_and_schemes() {
    let c = AsyncTcpConnection::<Ws>::new("ws://example.com/a/b?c=d").unwrap();
    assert_eq!(c.remote_uri(), Some("/a/b?c=d"));
    assert_eq!(c.remote_host(), Some("example.com"));
    assert_eq!(c.remote_url_port(), Some(80));
    assert!(!c.is_tls_client());
    let c = AsyncTcpConnection::<Ws>::new("wss://example.com").unwrap();
    assert_eq!(
        (c.remote_uri(), c.remote_url_port(), c.is_tls_client()),
        (Some("/"), Some(443), true)
    );
    let c = AsyncTcpConnection::<Ws>::new("ws://[::1]:2346/x").unwrap();
    assert_eq!((c.remote_host(), c.remote_url_port()), (Some("::1"), Some(2346)));
    assert!(AsyncTcpConnection::<Ws>::new("websocket://example.com:1").is_err());
    assert!(AsyncTcpConnection::<Ws>::new("text://example.com:1").is_err());
    assert!(AsyncTcpConnection::<Ws>::new("ws://:80/").is_err());
    // Other protocols are unchanged: a port is still required, a path is now accepted.
    assert!(AsyncTcpConnection::<workerman::protocol::Text>::new("text://example.com").is_err());
    let t = AsyncTcpConnection::<workerman::protocol::Text>::new("text://example.com:1").unwrap();
    assert_eq!(t.remote_uri(), Some("/"));
}

#[test]
fn permessage_deflate_is_offered_by_default_and_used_both_ways_with_our_server() {
    let rx = run(|tx: mpsc::Sender<String>| {
        let server = Worker::<WebSocket>::new("websocket://127.0.0.1:0").unwrap();
        let t = tx.clone();
        server.on_message(move |c, msg| {
            // The 20000-byte message arrived in far fewer bytes: compressed by the client.
            t.send(format!(
                "server deflate={} read<5000={}",
                c.is_deflate(),
                c.bytes_read() < 5000
            ))
            .unwrap();
            c.send(msg);
        });
        let s = server.clone();
        client(move || {
            let port = s.local_addrs()[0].port();
            for deflate in [true, false] {
                // On by default; off through the connection (or `Ws::new().permessage_deflate`).
                let conn = AsyncTcpConnection::<Ws>::new(&format!("ws://127.0.0.1:{port}/")).unwrap();
                if !deflate {
                    conn.set_websocket_permessage_deflate(false);
                }
                let t = tx.clone();
                conn.on_websocket_connect(move |c, resp| {
                    t.send(format!(
                        "client deflate={} ext={:?}",
                        c.is_deflate(),
                        resp.header("sec-websocket-extensions")
                    ))
                    .unwrap();
                    if deflate {
                        c.send("abcdefghij".repeat(2000));
                    }
                });
                let t = tx.clone();
                conn.on_message(move |c, msg| {
                    let text = msg.as_text().unwrap();
                    t.send(format!(
                        "echo {} bytes, read<5000={}",
                        text.len(),
                        c.bytes_read() < 5000
                    ))
                    .unwrap();
                    c.close_websocket(1000, "");
                });
                conn.connect();
                std::mem::forget(conn);
            }
        });
    });
    let mut got: Vec<String> = (0..4).map(|_| rx.recv_timeout(TIMEOUT).unwrap()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "client deflate=false ext=None",
            // Our client says it resets its compressor per message; our server takes the hint
            // (no per-connection inflater for it).
            "client deflate=true ext=Some(\"permessage-deflate; server_no_context_takeover; client_no_context_takeover\")",
            // The echo came back compressed too: 20000 bytes in fewer than 5000.
            "echo 20000 bytes, read<5000=true",
            "server deflate=true read<5000=true",
        ]
    );
}
