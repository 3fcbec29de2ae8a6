//! The socket under a connection, over real sockets: the peer's address family
//! (`is_ipv4` / `is_ipv6`) and the file descriptor (`raw_fd`, `AsRawFd`) used to read and set
//! socket options, on accepted and outgoing connections.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use workerman::protocol::Text;
use workerman::{AsyncTcpConnection, TcpConnection, Worker};

const TIMEOUT: Duration = Duration::from_secs(10);

/// What the socket behind `fd` says: its local address and its keep-alive idle time (s).
fn probe(fd: RawFd) -> (SocketAddr, u64) {
    // SAFETY: the connection owning `fd` is alive for the duration of this call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let s = socket2::SockRef::from(&fd);
    (
        s.local_addr().unwrap().as_socket().unwrap(),
        s.tcp_keepalive_time().unwrap().as_secs(),
    )
}

/// Replies to every line with the connection's family and what its descriptor shows, after
/// setting the keep-alive idle time through it.
fn describe(c: &TcpConnection<Text>) -> String {
    let fd = c.raw_fd().expect("a connected socket");
    assert_eq!(c.as_raw_fd(), fd);
    let before = probe(fd).1;
    // SAFETY: as in `probe`.
    let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(77));
    socket2::SockRef::from(&unsafe { BorrowedFd::borrow_raw(fd) })
        .set_tcp_keepalive(&keepalive)
        .unwrap();
    let (local, after) = probe(fd);
    format!(
        "v4={} v6={} fd_local_matches={} keepalive idle set to {after} (was 77: {})",
        c.is_ipv4(),
        c.is_ipv6(),
        Some(local) == c.local_address(),
        before == 77
    )
}

#[test]
fn family_and_file_descriptor_of_accepted_and_outgoing_connections() {
    let (tx, rx) = mpsc::channel::<String>();
    let (addr_tx, addr_rx) = mpsc::channel::<(SocketAddr, SocketAddr)>();
    thread::spawn(move || {
        let v4 = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        let v6 = Worker::<Text>::new("text://[::1]:0").unwrap();
        for w in [&v4, &v6] {
            w.on_message(|c, _| {
                c.send(describe(c));
            });
        }
        let probe_worker = Worker::without_listener();
        probe_worker.on_worker_start(move |_| {
            let a4 = v4.local_addrs()[0];
            addr_tx.send((a4, v6.local_addrs()[0])).unwrap();
            // An outgoing connection: no descriptor before it connects, one after.
            let out = AsyncTcpConnection::<Text>::new(&format!("text://{a4}")).unwrap();
            let t = tx.clone();
            t.send(format!("before connect: {:?} {}", out.raw_fd(), out.as_raw_fd()))
                .unwrap();
            let t = tx.clone();
            out.on_connect(move |c| {
                t.send(format!("outgoing {}", describe(c))).unwrap();
                c.close();
            });
            out.connect();
            std::mem::forget(out);
        });
        Worker::run_standalone()
    });
    let (a4, a6) = addr_rx.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "before connect: None -1");
    assert_eq!(
        rx.recv_timeout(TIMEOUT).unwrap(),
        "outgoing v4=true v6=false fd_local_matches=true keepalive idle set to 77 (was 77: false)"
    );
    for (addr, want) in [
        (
            a4,
            "v4=true v6=false fd_local_matches=true keepalive idle set to 77 (was 77: false)\n",
        ),
        (
            a6,
            "v4=false v6=true fd_local_matches=true keepalive idle set to 77 (was 77: false)\n",
        ),
    ] {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        (&s).write_all(b"hi\n").unwrap();
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        assert_eq!(line, want, "{addr}");
    }
}
