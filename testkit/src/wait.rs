//! Readiness is polled, never slept.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long any wait for a process, a port or a log line may take.
pub const WAIT: Duration = Duration::from_secs(20);
/// Read timeout of the clients these helpers return: a silent server fails the test, never hangs it.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Polls `f` every 20 ms until it returns `Some`; panics with `what` after [`WAIT`].
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out after {WAIT:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Connects to `127.0.0.1:port`, waiting for it to listen; read timeout [`TIMEOUT`].
pub fn connect(port: u16) -> TcpStream {
    let s = wait_for(&format!("port {port}"), || TcpStream::connect(("127.0.0.1", port)).ok());
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Connects to `addr` (already listening: an in-process server); read timeout [`TIMEOUT`].
pub fn connect_addr(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Writes `request`, then reads once (up to 64 KiB): the reply as text. `Err` on EOF (the server
/// closed) or any I/O error, so callers can count dropped requests.
pub fn exchange(s: &mut TcpStream, request: &[u8]) -> std::io::Result<String> {
    use std::io::{Read, Write};
    s.write_all(request)?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = s.read(&mut buf)?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}
