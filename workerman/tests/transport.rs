//! Transports and clients over real sockets, in-process: UDP workers and AsyncUdpConnection,
//! unix sockets, AsyncTcpConnection (queued sends, failures, reconnect, local bind), TLS with a
//! certificate made at test time, IPv6.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use workerman::protocol::Text;
use workerman::{AsyncTcpConnection, AsyncUdpConnection, ConnectionError, Transport, Worker};
use workerman_testkit::{TIMEOUT, run, scratch_dir, test_cert};

fn text_echo(addr: &str) -> Worker<Text> {
    let w = Worker::<Text>::new(addr).unwrap();
    w.on_message(|c, line| {
        c.send(format!("echo:{line}"));
    });
    w
}

fn udp_text_echo(addr: &str) -> Worker<Text> {
    let w = Worker::<Text>::new(addr).unwrap();
    w.on_udp_message(|peer, line| {
        peer.send(format!("echo:{line}"));
    });
    w
}

/// Reports a worker's first address once it listens.
fn report_addr<T: Send + 'static>(w: &Worker<Text>, tx: mpsc::Sender<T>, wrap: fn(SocketAddr) -> T) {
    w.on_worker_start(move |w| tx.send(wrap(w.local_addrs()[0])).unwrap());
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wm-{name}-{}.sock", std::process::id()))
}

#[test]
fn udp_worker_frames_each_datagram_and_replies_per_send() {
    let rx = run(|tx: mpsc::Sender<SocketAddr>| {
        let w = udp_text_echo("udp://127.0.0.1:0");
        report_addr(&w, tx, |a| a);
    });
    let server = rx.recv_timeout(TIMEOUT).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(TIMEOUT)).unwrap();
    // Two lines and an incomplete one in one datagram: two replies, the rest dropped.
    client.send_to(b"a\nb\nincomplete", server).unwrap();
    let mut buf = [0u8; 1024];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"echo:a\n"[..], server));
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"echo:b\n");
    client.send_to(b"c\n", server).unwrap();
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        b"echo:c\n",
        "the incomplete line did not leak into the next datagram"
    );
}

#[test]
fn udp_worker_with_only_on_message_is_refused_with_the_fix() {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let w = Worker::<Text>::new("udp://127.0.0.1:0").unwrap();
        w.on_message(|c, line| {
            c.send(line);
        });
        tx.send(Worker::run_standalone().map_err(|e| e.to_string())).unwrap();
    });
    let err = rx.recv_timeout(TIMEOUT).unwrap().unwrap_err();
    assert!(err.contains("on_udp_message"), "{err}");
}

#[test]
fn async_udp_connection_talks_to_a_udp_worker() {
    let rx = run(|tx: mpsc::Sender<String>| {
        let w = udp_text_echo("udp://127.0.0.1:0");
        w.on_worker_start(move |w| {
            let addr = w.local_addrs()[0];
            let conn = AsyncUdpConnection::<Text>::new(&format!("text://{addr}")).unwrap();
            let tx = tx.clone();
            conn.on_message(move |_, line| tx.send(line).unwrap());
            // Sent before the socket exists: still one datagram per send.
            conn.send("zero");
            conn.on_connect(|c| {
                c.send("first");
                c.send("second");
            });
            conn.connect();
            // Keep the handle alive for the process.
            std::mem::forget(conn);
        });
    });
    let mut got: Vec<String> = (0..3).map(|_| rx.recv_timeout(TIMEOUT).unwrap()).collect();
    got.sort();
    assert_eq!(got, ["echo:first", "echo:second", "echo:zero"]);
}

#[test]
fn unix_worker_replaces_a_stale_socket_and_serves() {
    let path = temp_path("unix-echo");
    let _ = std::fs::remove_file(&path);
    drop(UnixListener::bind(&path).unwrap()); // leaves a stale socket file behind
    assert!(path.exists());
    let p = path.clone();
    let rx = run(move |tx: mpsc::Sender<()>| {
        let w = text_echo(&format!("unix://{}", p.display()));
        w.on_worker_start(move |_| tx.send(()).unwrap());
    });
    rx.recv_timeout(TIMEOUT).unwrap();
    let s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"over unix\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "echo:over unix\n");
}

#[test]
fn async_tcp_connection_queues_before_connect_and_talks() {
    let rx = run(|tx: mpsc::Sender<String>| {
        let w = text_echo("text://127.0.0.1:0");
        w.on_worker_start(move |w| {
            let addr = w.local_addrs()[0];
            let conn = AsyncTcpConnection::<Text>::new(&format!("text://{addr}")).unwrap();
            // Sent before connect(): queued, written once connected.
            assert_eq!(conn.send("early"), workerman::SendResult::Queued);
            let t = tx.clone();
            conn.on_connect(move |c| {
                t.send(format!("connected {}", c.remote_address().unwrap() == addr))
                    .unwrap();
                c.send("late");
            });
            let t = tx.clone();
            conn.on_message(move |_, line| t.send(line).unwrap());
            conn.connect();
            std::mem::forget(conn);
        });
    });
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "connected true");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "echo:early");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "echo:late");
}

#[test]
fn connect_failure_reports_then_reconnects_until_the_server_appears() {
    // A port with nobody listening (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rx = run(move |tx: mpsc::Sender<String>| {
        let w = Worker::without_listener();
        w.on_worker_start(move |_| {
            let conn = AsyncTcpConnection::<Text>::new(&format!("text://127.0.0.1:{port}")).unwrap();
            let t = tx.clone();
            conn.on_error(move |_, e| {
                assert_eq!(e.code(), 1);
                assert!(matches!(e, ConnectionError::ConnectFailed(_)));
                t.send(format!("error: {e}")).unwrap();
            });
            let t = tx.clone();
            conn.on_close(move |c| {
                t.send("closed".into()).unwrap();
                c.reconnect(Duration::from_millis(100));
            });
            let t = tx.clone();
            conn.on_connect(move |c| {
                t.send("connected".into()).unwrap();
                c.send("hi");
            });
            let t = tx.clone();
            conn.on_message(move |_, line| t.send(line).unwrap());
            conn.connect();
            std::mem::forget(conn);
        });
    });
    let first = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(
        first.starts_with(&format!("error: connect text://127.0.0.1:{port} fail")),
        "{first}"
    );
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "closed");
    // A second failed attempt proves the reconnect loop runs.
    assert!(rx.recv_timeout(TIMEOUT).unwrap().starts_with("error:"));
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "closed");
    // Now a server appears on that port: the next attempt connects.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    loop {
        let m = rx.recv_timeout(TIMEOUT).unwrap();
        if m == "connected" {
            break;
        }
    }
    let mut buf = [0u8; 3];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi\n");
    s.write_all(b"welcome\n").unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "welcome");
}

#[test]
fn local_bind_address_is_used() {
    let rx = run(|tx: mpsc::Sender<String>| {
        let w = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        w.on_message(|c, _| {
            c.send(c.remote_ip());
        });
        w.on_worker_start(move |w| {
            let addr = w.local_addrs()[0];
            let conn = AsyncTcpConnection::<Text>::new(&format!("text://{addr}")).unwrap();
            conn.set_local_address("127.0.0.2:0".parse().unwrap());
            conn.on_connect(|c| {
                c.send("who am i");
            });
            let t = tx.clone();
            conn.on_message(move |_, ip| t.send(ip).unwrap());
            conn.connect();
            std::mem::forget(conn);
        });
    });
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "127.0.0.2");
}

#[test]
fn ipv6_listen_and_connect() {
    let rx = run(|tx: mpsc::Sender<String>| {
        let w = text_echo("text://[::1]:0");
        w.on_worker_start(move |w| {
            let addr = w.local_addrs()[0];
            assert!(addr.is_ipv6());
            tx.send(addr.to_string()).unwrap();
            let conn = AsyncTcpConnection::<Text>::new(&format!("text://{addr}")).unwrap();
            conn.on_connect(|c| {
                c.send("v6");
            });
            let t = tx.clone();
            conn.on_message(move |_, line| t.send(line).unwrap());
            conn.connect();
            std::mem::forget(conn);
        });
    });
    let addr: SocketAddr = rx.recv_timeout(TIMEOUT).unwrap().parse().unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "echo:v6");
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"std\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "echo:std\n");
}

#[test]
fn tls_server_and_client_with_a_test_ca() {
    let (cert, key) = test_cert(&scratch_dir("pair"));
    let ca = cert.clone();
    let rx = run(move |tx: mpsc::Sender<String>| {
        let w = text_echo("text://127.0.0.1:0");
        w.set_transport(Transport::Ssl);
        w.set_tls(&cert, &key);
        w.on_worker_start(move |w| {
            let addr = w.local_addrs()[0];
            tx.send(addr.to_string()).unwrap();
            let conn = AsyncTcpConnection::<Text>::new(&format!("text://localhost:{}", addr.port())).unwrap();
            conn.set_transport(Transport::Ssl);
            conn.set_tls_ca(&ca);
            conn.on_connect(|c| {
                c.send("secret");
            });
            let t = tx.clone();
            conn.on_message(move |_, line| t.send(line).unwrap());
            let t = tx.clone();
            conn.on_error(move |_, e| t.send(format!("error {e}")).unwrap());
            conn.connect();
            std::mem::forget(conn);
        });
    });
    let addr: SocketAddr = rx.recv_timeout(TIMEOUT).unwrap().parse().unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "echo:secret");
    // A plaintext client on the TLS port is closed; the server carries on.
    let mut plain = TcpStream::connect(addr).unwrap();
    plain.set_read_timeout(Some(TIMEOUT)).unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = plain.read_to_end(&mut rest);
    assert!(!rest.starts_with(b"echo"), "no application data over plaintext");
}

#[test]
fn tls_client_rejects_an_untrusted_certificate() {
    let (cert, key) = test_cert(&scratch_dir("untrusted"));
    let rx = run(move |tx: mpsc::Sender<String>| {
        let w = text_echo("text://127.0.0.1:0");
        w.set_transport(Transport::Ssl);
        w.set_tls(&cert, &key);
        w.on_worker_start(move |w| {
            let addr = w.local_addrs()[0];
            // No CA given: the system roots do not know this self-signed certificate.
            let conn = AsyncTcpConnection::<Text>::new(&format!("ssl://localhost:{}", addr.port())).unwrap();
            let t = tx.clone();
            conn.on_error(move |_, e| t.send(e.to_string()).unwrap());
            conn.connect();
            std::mem::forget(conn);
        });
    });
    let err = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(
        err.contains("TLS handshake") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[test]
fn bad_tls_files_are_a_clear_error() {
    let rx = run(|tx: mpsc::Sender<String>| {
        let w = text_echo("text://127.0.0.1:0");
        w.set_transport(Transport::Ssl);
        w.set_tls("/nonexistent/cert.pem", "/nonexistent/key.pem");
        // run_standalone returns the error; report it from a thread-local-free path.
        std::thread::spawn(move || {
            let _ = tx;
        });
    });
    drop(rx);
    let result = thread::spawn(|| {
        let w = text_echo("text://127.0.0.1:0");
        w.set_transport(Transport::Ssl);
        w.set_tls("/nonexistent/cert.pem", "/nonexistent/key.pem");
        Worker::run_standalone()
    })
    .join()
    .unwrap();
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("cannot read the TLS certificate /nonexistent/cert.pem"),
        "{err}"
    );
}

#[test]
fn an_unconnected_client_is_not_a_live_connection() {
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let w = Worker::without_listener();
        w.on_worker_start(move |_| {
            let conn = AsyncTcpConnection::<Text>::new("text://127.0.0.1:9").unwrap();
            tx.send(workerman::stats::snapshot().connections).unwrap();
            drop(conn);
            Worker::stop_all();
        });
        Worker::run_standalone()
    });
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), 0);
    // And stopping does not wait for it.
    server.join().unwrap().unwrap();
}

#[test]
fn tls_close_after_a_large_reply_delivers_every_byte_to_a_slow_reader() {
    const SIZE: usize = 8 << 20;
    let (cert, key) = test_cert(&scratch_dir("bigclose"));
    let ca = cert.clone();
    let rx = run(move |tx: mpsc::Sender<SocketAddr>| {
        let w = Worker::<workerman::protocol::Tcp>::new("tcp://127.0.0.1:0").unwrap();
        w.set_transport(Transport::Ssl);
        w.set_tls(&cert, &key);
        w.on_message(|c, _| {
            c.send(vec![b'z'; SIZE]);
            c.close();
        });
        w.on_worker_start(move |w| tx.send(w.local_addrs()[0]).unwrap());
    });
    let addr = rx.recv_timeout(TIMEOUT).unwrap();
    // A reader with a small receive buffer that takes its time: rustls holds the tail.
    let py = format!(
        "import socket, ssl, time\nctx = ssl.create_default_context(cafile={ca:?})\nraw = socket.socket()\nraw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\nraw.connect(('127.0.0.1', {port}))\ns = ctx.wrap_socket(raw, server_hostname='localhost')\ns.sendall(b'go')\nn = 0\nwhile True:\n    d = s.recv(65536)\n    if not d:\n        break\n    n += len(d)\n    if n < 1 << 20:\n        time.sleep(0.001)\nprint(n)\n",
        ca = ca.display().to_string(),
        port = addr.port()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(&py)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), SIZE.to_string());
}

#[test]
fn async_tcp_connection_to_a_unix_socket() {
    let path = temp_path("unix-client");
    let _ = std::fs::remove_file(&path);
    let p = path.clone();
    let rx = run(move |tx: mpsc::Sender<String>| {
        let w = text_echo(&format!("unix://{}", p.display()));
        w.on_worker_start(move |_| {
            let conn = AsyncTcpConnection::<Text>::new(&format!("unix://{}", p.display())).unwrap();
            conn.on_connect(|c| {
                c.send("over a unix client");
            });
            let t = tx.clone();
            conn.on_message(move |c, line| {
                t.send(format!("{line} (transport reported: {:?})", c.remote_address()))
                    .unwrap();
            });
            conn.connect();
            std::mem::forget(conn);
        });
    });
    assert_eq!(
        rx.recv_timeout(TIMEOUT).unwrap(),
        "echo:over a unix client (transport reported: None)"
    );
    let _ = std::fs::remove_file(&path);
}
