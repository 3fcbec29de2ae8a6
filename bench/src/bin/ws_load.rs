//! WebSocket load generator: echo ping-pong for CPU per message, or many idle connections for
//! memory per connection.
//!
//! ```text
//! ws_load echo --addr 127.0.0.1:2470 [--conns 50] [--threads 2] [--duration 5] [--size 32]
//! ws_load idle --addr 127.0.0.1:2470 [--conns 10000] [--sources 4] [--hold 60]
//! ```
//!
//! `echo`: every connection sends one masked text frame of `--size` bytes (unique per message),
//! waits for the same text frame to come back, and repeats until `--duration` seconds have passed;
//! connections are spread over `--threads` OS threads, each driving its connections in rounds
//! (one message in flight per connection). Prints `RESULT msgs=N secs=S rate=R errors=E`; exits 1
//! if any echo was wrong or missing.
//!
//! `idle`: opens `--conns` WebSocket connections (handshake done, then silent), from source
//! addresses 127.0.0.2 .. 127.0.0.(1+`--sources`) in turn, prints `READY n`, holds them
//! `--hold` seconds (or until killed), then closes them.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const READ_TIMEOUT: Duration = Duration::from_secs(5);
const USAGE: &str = "usage: ws_load echo|idle --addr HOST:PORT [--conns N] [--threads N] [--duration S] \
[--size BYTES] [--sources N] [--hold S]";

#[derive(Debug, Clone)]
struct Args {
    mode: String,
    addr: SocketAddr,
    conns: usize,
    threads: usize,
    duration: Duration,
    size: usize,
    sources: u8,
    hold: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or(USAGE)?;
    if mode != "echo" && mode != "idle" {
        return Err(USAGE.into());
    }
    let mut addr = None;
    let (mut conns, mut threads, mut duration, mut size) = (None, 2usize, 5.0f64, 32usize);
    let (mut sources, mut hold) = (4u8, 60.0f64);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |what: &str| format!("bad {what} `{value}`\n{USAGE}");
        match flag.as_str() {
            "--addr" => addr = value.to_socket_addrs().ok().and_then(|mut a| a.next()),
            "--conns" => conns = Some(value.parse().map_err(|_| bad("--conns"))?),
            "--threads" => threads = value.parse().map_err(|_| bad("--threads"))?,
            "--duration" => duration = value.parse().map_err(|_| bad("--duration"))?,
            "--size" => size = value.parse().map_err(|_| bad("--size"))?,
            "--sources" => sources = value.parse().map_err(|_| bad("--sources"))?,
            "--hold" => hold = value.parse().map_err(|_| bad("--hold"))?,
            _ => return Err(format!("unknown argument `{flag}`\n{USAGE}")),
        }
    }
    let addr = addr.ok_or_else(|| format!("--addr HOST:PORT is required\n{USAGE}"))?;
    let conns = conns.unwrap_or(if mode == "echo" { 50 } else { 10_000 });
    if conns == 0 || threads == 0 || !(24..=65535).contains(&size) || !(1..=250).contains(&sources) {
        return Err(format!(
            "need conns >= 1, threads >= 1, 24 <= size <= 65535, 1 <= sources <= 250\n{USAGE}"
        ));
    }
    Ok(Args {
        mode,
        addr,
        conns,
        threads: threads.min(conns),
        duration: Duration::from_secs_f64(duration),
        size,
        sources,
        hold: Duration::from_secs_f64(hold),
    })
}

/// Connects (from `source` if given) and performs the opening handshake.
fn open(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let s = match source {
        None => TcpStream::connect(addr)?,
        Some(ip) => {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            sock.bind(&SocketAddr::new(ip, 0).into())?;
            sock.connect(&addr.into())?;
            sock.into()
        }
    };
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(READ_TIMEOUT))?;
    (&s).write_all(
        format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )?;
    let mut head = Vec::with_capacity(256);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        (&s).read_exact(&mut b)?;
        head.push(b[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other("handshake refused"));
    }
    Ok(s)
}

/// A masked text frame carrying `payload` (the mask is fixed: this measures the server).
fn frame(payload: &[u8], out: &mut Vec<u8>) {
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    out.clear();
    out.push(0x81);
    if payload.len() < 126 {
        out.push(0x80 | payload.len() as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
}

/// Reads one unmasked text frame into `buf`; its payload must equal `want`.
fn read_echo(s: &mut TcpStream, want: &[u8], buf: &mut Vec<u8>) -> io::Result<bool> {
    let hl = if want.len() < 126 { 2 } else { 4 };
    buf.resize(hl + want.len(), 0);
    s.read_exact(buf)?;
    let len_ok = if hl == 2 {
        buf[1] as usize == want.len()
    } else {
        buf[1] == 126 && u16::from_be_bytes([buf[2], buf[3]]) as usize == want.len()
    };
    Ok(buf[0] == 0x81 && len_ok && &buf[hl..] == want)
}

fn echo(args: &Args) -> ExitCode {
    let start = Instant::now();
    let deadline = start + args.duration;
    let per = args.conns.div_ceil(args.threads);
    let mut handles = Vec::new();
    for t in 0..args.threads {
        let n = per.min(args.conns - (t * per).min(args.conns));
        let (addr, size) = (args.addr, args.size);
        handles.push(std::thread::spawn(move || -> (u64, u64) {
            let mut conns: Vec<TcpStream> = match (0..n).map(|_| open(addr, None)).collect() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("connect: {e}");
                    return (0, 1);
                }
            };
            let (mut msgs, mut errors) = (0u64, 0u64);
            let (mut out, mut inb) = (Vec::new(), Vec::new());
            let mut payload = vec![b'x'; size];
            let mut seq = 0u64;
            while Instant::now() < deadline && !conns.is_empty() {
                let mut sent = Vec::with_capacity(conns.len());
                for (i, c) in conns.iter_mut().enumerate() {
                    seq += 1;
                    let tag = format!("{t:04}-{i:06}-{seq:012}");
                    payload[..tag.len()].copy_from_slice(tag.as_bytes());
                    frame(&payload, &mut out);
                    sent.push(payload.clone());
                    if c.write_all(&out).is_err() {
                        errors += 1;
                    }
                }
                for (c, want) in conns.iter_mut().zip(&sent) {
                    match read_echo(c, want, &mut inb) {
                        Ok(true) => msgs += 1,
                        _ => errors += 1,
                    }
                }
                if errors > 0 {
                    break;
                }
            }
            (msgs, errors)
        }));
    }
    let (mut msgs, mut errors) = (0, 0);
    for h in handles {
        let (m, e) = h.join().unwrap_or((0, 1));
        msgs += m;
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} conns, {} threads, {}-byte messages: {msgs} echoes in {secs:.2}s ({:.0}/s), {errors} errors",
        args.conns,
        args.threads,
        args.size,
        msgs as f64 / secs
    );
    println!(
        "RESULT msgs={msgs} secs={secs:.3} rate={:.1} errors={errors}",
        msgs as f64 / secs
    );
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn idle(args: &Args) -> ExitCode {
    let mut conns = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % args.sources as usize) as u8));
        match open(args.addr, Some(source)) {
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

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.mode == "echo" { echo(&args) } else { idle(&args) }
}
