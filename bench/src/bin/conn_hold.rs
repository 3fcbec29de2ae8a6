//! Opens many connections to a server and leaves each in one state, for measuring the server's
//! memory per connection (`bench/run_conn_memory.sh`).
//!
//! ```text
//! conn_hold STATE --addr 127.0.0.1:2480 [--conns 5000] [--sources 4] [--hold 120]
//! ```
//!
//! States:
//!
//! * `http-idle`: one complete keep-alive `GET /` answered, then silent (an idle keep-alive
//!   connection);
//! * `http-partial`: `GET / HTTP/1.1\r\nHost: x\r\n` and nothing more (a request head in
//!   progress: the slow-client case);
//! * `ws-idle`: the WebSocket opening handshake done, then silent;
//! * `ws-partial`: the handshake done, then the first 600 bytes (header + 594 payload bytes) of a
//!   masked 1000-byte text frame.
//!
//! Connections come from source addresses 127.0.0.2 .. 127.0.0.(1+`--sources`) in turn. Once all
//! are open (and each answered what it had to), it prints `READY n` and holds them for `--hold`
//! seconds or until killed.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: conn_hold http-idle|http-partial|ws-idle|ws-partial --addr HOST:PORT \
[--conns N] [--sources N] [--hold S]";
const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    HttpIdle,
    HttpPartial,
    WsIdle,
    WsPartial,
}

struct Args {
    state: State,
    addr: SocketAddr,
    conns: usize,
    sources: u8,
    hold: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let state = match it.next().as_deref() {
        Some("http-idle") => State::HttpIdle,
        Some("http-partial") => State::HttpPartial,
        Some("ws-idle") => State::WsIdle,
        Some("ws-partial") => State::WsPartial,
        _ => return Err(USAGE.into()),
    };
    let (mut addr, mut conns, mut sources, mut hold) = (None, 5000usize, 4u8, 120.0f64);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |what: &str| format!("bad {what} `{value}`\n{USAGE}");
        match flag.as_str() {
            "--addr" => addr = value.to_socket_addrs().ok().and_then(|mut a| a.next()),
            "--conns" => conns = value.parse().map_err(|_| bad("--conns"))?,
            "--sources" => sources = value.parse().map_err(|_| bad("--sources"))?,
            "--hold" => hold = value.parse().map_err(|_| bad("--hold"))?,
            _ => return Err(format!("unknown argument `{flag}`\n{USAGE}")),
        }
    }
    let addr = addr.ok_or_else(|| format!("--addr HOST:PORT is required\n{USAGE}"))?;
    if conns == 0 || !(1..=250).contains(&sources) {
        return Err(format!("need conns >= 1 and 1 <= sources <= 250\n{USAGE}"));
    }
    Ok(Args {
        state,
        addr,
        conns,
        sources,
        hold: Duration::from_secs_f64(hold),
    })
}

fn connect(addr: SocketAddr, source: IpAddr) -> io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&SocketAddr::new(source, 0).into())?;
    sock.connect(&addr.into())?;
    let s: TcpStream = sock.into();
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(READ_TIMEOUT))?;
    Ok(s)
}

/// Reads a response head (up to the blank line); returns it.
fn read_head(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(256);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b)?;
        head.push(b[0]);
    }
    Ok(head)
}

fn header(head: &[u8], name: &str) -> Option<usize> {
    let text = std::str::from_utf8(head).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().parse().ok())?
    })
}

fn open(state: State, addr: SocketAddr, source: IpAddr) -> io::Result<TcpStream> {
    let mut s = connect(addr, source)?;
    match state {
        State::HttpIdle => {
            s.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())?;
            let head = read_head(&mut s)?;
            if !head.starts_with(b"HTTP/1.1 200") {
                return Err(io::Error::other("the request was not answered with 200"));
            }
            let mut body = vec![0u8; header(&head, "content-length").unwrap_or(0)];
            s.read_exact(&mut body)?;
        }
        State::HttpPartial => s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")?,
        State::WsIdle | State::WsPartial => {
            s.write_all(
                format!(
                    "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                )
                .as_bytes(),
            )?;
            if !read_head(&mut s)?.starts_with(b"HTTP/1.1 101") {
                return Err(io::Error::other("handshake refused"));
            }
            if state == State::WsPartial {
                const LEN: usize = 1000;
                let mut frame = vec![0x81, 0x80 | 126];
                frame.extend_from_slice(&(LEN as u16).to_be_bytes());
                frame.extend_from_slice(&[0x37, 0xfa, 0x21, 0x3d]);
                frame.resize(600, b'x');
                s.write_all(&frame)?;
            }
        }
    }
    Ok(s)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut conns = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % args.sources as usize) as u8));
        match open(args.state, args.addr, source) {
            Ok(s) => conns.push(s),
            Err(e) => {
                eprintln!("connection {i} from {source}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("READY {}", conns.len());
    let _ = io::stdout().flush();
    std::thread::sleep(args.hold);
    ExitCode::SUCCESS
}
