//! Process-wide connection limits (Workerman's `TcpConnection::$defaultMaxPackageSize` and
//! `$defaultMaxSendBufferSize`) over real sockets: they reach accepted connections of workers
//! without limits of their own, and outgoing connections; a worker's own limit wins. A test
//! binary of its own: the defaults are process-wide.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use workerman::protocol::{Tcp, Text};
use workerman::{AsyncTcpConnection, TcpConnection, Worker};

const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn defaults_apply_to_accepted_and_outgoing_connections_unless_a_worker_sets_its_own() {
    // A peer for the outgoing connection: sends one 100-byte line.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = upstream.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = upstream.accept().unwrap();
        let _ = s.write_all(&[b'x'; 100]);
        let _ = s.write_all(b"\n");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    });
    let (tx, rx) = mpsc::channel::<String>();
    let (addr_tx, addr_rx) = mpsc::channel::<(SocketAddr, SocketAddr)>();
    thread::spawn(move || {
        // Created before the defaults change: it has no limits of its own, so it follows them.
        let plain = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        let own = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        own.set_max_package_size(1000);
        for w in [&plain, &own] {
            w.on_message(|c, line| {
                c.send(format!("{} bytes, limit {}", line.len(), c.max_package_size()));
            });
        }
        TcpConnection::<Tcp>::set_default_max_package_size(64);
        TcpConnection::<Tcp>::set_default_max_send_buffer_size(4096);
        let probe = Worker::without_listener();
        probe.on_worker_start(move |_| {
            addr_tx.send((plain.local_addrs()[0], own.local_addrs()[0])).unwrap();
            let out = AsyncTcpConnection::<Text>::new(&format!("text://{up}")).unwrap();
            tx.send(format!(
                "outgoing limits {} {}",
                out.max_package_size(),
                out.max_send_buffer_size()
            ))
            .unwrap();
            let t = tx.clone();
            out.on_message(move |_, line| t.send(format!("outgoing got {}", line.len())).unwrap());
            let t = tx.clone();
            out.on_close(move |_| t.send("outgoing closed".into()).unwrap());
            out.connect();
            std::mem::forget(out);
        });
        Worker::run_standalone()
    });
    let (plain, own) = addr_rx.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "outgoing limits 64 4096");
    // The 100-byte line is over the 64-byte default: the outgoing connection is closed.
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "outgoing closed");

    let line = [vec![b'y'; 100], b"\n".to_vec()].concat();
    let mut s = TcpStream::connect(plain).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(&line).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "over the default limit: closed without a reply");
    let mut small = TcpStream::connect(plain).unwrap();
    small.set_read_timeout(Some(TIMEOUT)).unwrap();
    small.write_all(b"short\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&small).read_line(&mut reply).unwrap();
    assert_eq!(reply, "5 bytes, limit 64\n");

    let s = TcpStream::connect(own).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    (&s).write_all(&line).unwrap();
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply).unwrap();
    assert_eq!(reply, "100 bytes, limit 1000\n");
}
