//! WebSocket client load for the room benchmarks: many connections on one thread (a tokio task
//! each), answering pings.
//!
//! ```text
//! ws_room room --addr 127.0.0.1:2472 --conns 10000 [--sources 4] [--messages 100] [--burst 1]
//!              [--size 32] [--pids 123,456] [--hz 100]
//! ws_room idle --addr 127.0.0.1:2472 --conns 100000 [--sources 8] [--hold 600]
//! ws_room chat --addr 127.0.0.1:2481 --conns 50 [--interval-ms 200] [--hold 600]
//! ```
//!
//! `room`: opens `--conns` receivers (from 127.0.0.2 .. 127.0.0.(1+`--sources`) in turn) and one
//! publisher, then publishes `--messages` text messages of `--size` bytes in bursts of
//! `--burst` (one write each), waiting after each burst until every connection (publisher
//! included: the server broadcasts to everyone) received all of it. Every receiver checks that
//! messages arrive complete and in order. Server CPU (utime + stime of `--pids`, from
//! /proc/PID/stat, in ticks of `--hz`) is read just before the first message and after the last
//! delivery. Prints
//! `RESULT delivered=N secs=S user_us=U sys_us=Y us_per_msg=T errors=E`; exits 1 on any error.
//!
//! `idle`: opens `--conns` connections the same way, prints `READY n`, answers pings, and
//! holds them `--hold` seconds (or until killed); then prints `PONGS n CLOSED n`.
//!
//! `chat`: for `--hold` seconds, `--conns` connections each send a text message every
//! `--interval-ms` and read what the server broadcasts; a connection the server closes (a
//! reload, a killed worker) reconnects. Prints `RESULT sent= received= connects= disconnects=
//! connect_failures= bad_frames=`; exits 1 on a bad frame.

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

const USAGE: &str = "usage: ws_room room|idle --addr HOST:PORT [--conns N] [--sources N] [--messages N] \
[--burst N] [--size BYTES] [--pids P,P] [--hz N] [--hold S] [--interval-ms N]";
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// Connections being opened at once.
const OPENING: usize = 256;

#[derive(Debug, Clone)]
struct Args {
    mode: String,
    addr: SocketAddr,
    conns: usize,
    sources: u8,
    messages: usize,
    burst: usize,
    size: usize,
    pids: Vec<u32>,
    hz: f64,
    hold: Duration,
    interval: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or(USAGE)?;
    if !["room", "idle", "chat"].contains(&mode.as_str()) {
        return Err(USAGE.into());
    }
    let mut a = Args {
        mode,
        addr: "127.0.0.1:2472".parse().unwrap(),
        conns: 10_000,
        sources: 4,
        messages: 100,
        burst: 1,
        size: 32,
        pids: Vec::new(),
        hz: 100.0,
        hold: Duration::from_secs(600),
        interval: Duration::from_millis(200),
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |what: &str| format!("bad {what} `{value}`\n{USAGE}");
        match flag.as_str() {
            "--addr" => {
                a.addr = value
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| bad("--addr"))?
            }
            "--conns" => a.conns = value.parse().map_err(|_| bad("--conns"))?,
            "--sources" => a.sources = value.parse().map_err(|_| bad("--sources"))?,
            "--messages" => a.messages = value.parse().map_err(|_| bad("--messages"))?,
            "--burst" => a.burst = value.parse().map_err(|_| bad("--burst"))?,
            "--size" => a.size = value.parse().map_err(|_| bad("--size"))?,
            "--hz" => a.hz = value.parse().map_err(|_| bad("--hz"))?,
            "--interval-ms" => a.interval = Duration::from_millis(value.parse().map_err(|_| bad("--interval-ms"))?),
            "--hold" => a.hold = Duration::from_secs_f64(value.parse().map_err(|_| bad("--hold"))?),
            "--pids" => {
                a.pids = value
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse().map_err(|_| bad("--pids")))
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(format!("unknown argument `{flag}`\n{USAGE}")),
        }
    }
    if a.conns == 0 || a.burst == 0 || !(8..=65535).contains(&a.size) || !(1..=250).contains(&a.sources) {
        return Err(format!(
            "need conns, burst >= 1, 8 <= size <= 65535, 1 <= sources <= 250\n{USAGE}"
        ));
    }
    Ok(a)
}

/// Connects from `source` and performs the opening handshake.
async fn open(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    if let Some(ip) = source {
        sock.bind(SocketAddr::new(ip, 0))?;
    }
    let mut s = sock.connect(addr).await?;
    s.set_nodelay(true)?;
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut head = Vec::with_capacity(256);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).await? == 0 {
            return Err(io::Error::other("closed during the handshake"));
        }
        head.push(b[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other("handshake refused"));
    }
    Ok(s)
}

/// Opens `n` connections, `OPENING` at a time, from the source addresses in turn.
async fn open_all(a: &Args, n: usize) -> io::Result<Vec<TcpStream>> {
    let mut conns = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let batch = OPENING.min(n - i);
        let mut handles = Vec::with_capacity(batch);
        for k in i..i + batch {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (k % a.sources as usize) as u8));
            handles.push(tokio::task::spawn_local(open(a.addr, Some(source))));
        }
        for h in handles {
            conns.push(h.await.map_err(io::Error::other)??);
        }
        i += batch;
    }
    Ok(conns)
}

/// A masked frame (`b0` = FIN + opcode).
fn frame(b0: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(b0);
    if payload.len() < 126 {
        out.push(0x80 | payload.len() as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
}

#[derive(Default)]
struct Counters {
    delivered: Cell<u64>,
    errors: Cell<u64>,
    pongs: Cell<u64>,
    closed: Cell<u64>,
    progress: Notify,
}

/// Reads frames until the connection ends: text frames must carry the next sequence number in
/// their first 8 bytes; pings are answered.
async fn receive(mut rd: tokio::net::tcp::OwnedReadHalf, mut wr: Option<OwnedWriteHalf>, size: usize, c: Rc<Counters>) {
    let mut buf = BytesMut::with_capacity(1024);
    let mut next = 0u64;
    let mut out = Vec::new();
    loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                c.closed.set(c.closed.get() + 1);
                c.progress.notify_one();
                return;
            }
            Ok(_) => {}
        }
        let mut delivered = 0;
        loop {
            if buf.len() < 2 {
                break;
            }
            let (b0, l) = (buf[0], (buf[1] & 0x7f) as usize);
            let (hl, len) = match l {
                126 if buf.len() >= 4 => (4, u16::from_be_bytes([buf[2], buf[3]]) as usize),
                126 => break,
                127 => {
                    c.errors.set(c.errors.get() + 1);
                    return;
                }
                l => (2, l),
            };
            if buf.len() < hl + len {
                break;
            }
            let payload = &buf[hl..hl + len];
            match b0 {
                0x81 => {
                    let ok = len == size
                        && std::str::from_utf8(&payload[..8])
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                            == Some(next);
                    if !ok {
                        c.errors.set(c.errors.get() + 1);
                    }
                    next += 1;
                    delivered += 1;
                }
                0x89 => {
                    out.clear();
                    frame(0x8A, payload, &mut out);
                    if let Some(wr) = wr.as_mut()
                        && wr.write_all(&out).await.is_err()
                    {
                        return;
                    }
                    c.pongs.set(c.pongs.get() + 1);
                }
                _ => {}
            }
            buf.advance(hl + len);
        }
        if delivered > 0 {
            c.delivered.set(c.delivered.get() + delivered);
            c.progress.notify_one();
        }
        if buf.capacity() > 4096 && buf.is_empty() {
            buf = BytesMut::with_capacity(1024);
        }
    }
}

/// utime + stime of `pids`, in ticks.
fn cpu_ticks(pids: &[u32]) -> (u64, u64) {
    let (mut u, mut s) = (0, 0);
    for pid in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let rest = stat.rsplit_once(") ").map_or("", |r| r.1);
        let f: Vec<&str> = rest.split_whitespace().collect();
        u += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        s += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    (u, s)
}

async fn room(a: Args) -> ExitCode {
    let conns = match open_all(&a, a.conns).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("connect: {e}");
            return ExitCode::FAILURE;
        }
    };
    let publisher = match open(a.addr, None).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("connect the publisher: {e}");
            return ExitCode::FAILURE;
        }
    };
    let c = Rc::new(Counters::default());
    for s in conns {
        let (rd, wr) = s.into_split();
        tokio::task::spawn_local(receive(rd, Some(wr), a.size, c.clone()));
    }
    let (rd, mut publish) = publisher.into_split();
    // The publisher's own copies (the server broadcasts to everyone) are read by a task too.
    tokio::task::spawn_local(receive(rd, None, a.size, c.clone()));
    let recipients = a.conns as u64 + 1;
    let before = cpu_ticks(&a.pids);
    let start = Instant::now();
    let mut sent = 0usize;
    let mut out = Vec::new();
    let mut payload = vec![b'x'; a.size];
    while sent < a.messages {
        out.clear();
        let n = a.burst.min(a.messages - sent);
        for k in 0..n {
            payload[..8].copy_from_slice(format!("{:08}", sent + k).as_bytes());
            frame(0x81, &payload, &mut out);
        }
        if publish.write_all(&out).await.is_err() {
            eprintln!("the publisher's connection closed");
            return ExitCode::FAILURE;
        }
        sent += n;
        let want = recipients * sent as u64;
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.delivered.get() < want {
            if c.errors.get() > 0 || c.closed.get() > 0 || Instant::now() > deadline {
                eprintln!(
                    "stuck: delivered {} of {want}, errors {}, closed {}",
                    c.delivered.get(),
                    c.errors.get(),
                    c.closed.get()
                );
                return ExitCode::FAILURE;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), c.progress.notified()).await;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let after = cpu_ticks(&a.pids);
    let delivered = c.delivered.get();
    let tick_us = 1e6 / a.hz;
    let user_us = (after.0 - before.0) as f64 * tick_us;
    let sys_us = (after.1 - before.1) as f64 * tick_us;
    println!(
        "{} receivers + publisher, {} messages of {} bytes in bursts of {}: {delivered} delivered in {secs:.2}s",
        a.conns, a.messages, a.size, a.burst
    );
    println!(
        "RESULT delivered={delivered} secs={secs:.3} user_us={user_us:.0} sys_us={sys_us:.0} us_per_msg={:.3} errors={}",
        (user_us + sys_us) / delivered as f64,
        c.errors.get()
    );
    if c.errors.get() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn idle(a: Args) -> ExitCode {
    let start = Instant::now();
    let conns = match open_all(&a, a.conns).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("connect: {e}");
            return ExitCode::FAILURE;
        }
    };
    let c = Rc::new(Counters::default());
    for s in conns {
        let (rd, wr) = s.into_split();
        tokio::task::spawn_local(receive(rd, Some(wr), a.size, c.clone()));
    }
    println!("READY {} in {:.1}s", a.conns, start.elapsed().as_secs_f64());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    tokio::time::sleep(a.hold).await;
    println!("PONGS {} CLOSED {}", c.pongs.get(), c.closed.get());
    ExitCode::SUCCESS
}

#[derive(Default)]
struct Chat {
    sent: Cell<u64>,
    received: Cell<u64>,
    connects: Cell<u64>,
    disconnects: Cell<u64>,
    connect_failures: Cell<u64>,
    bad_frames: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// One chat member until `end`: sends every `interval`, reads broadcasts, answers pings, and
/// reconnects when the server closes the connection.
async fn chat_member(addr: SocketAddr, source: IpAddr, id: usize, interval: Duration, end: Instant, c: Rc<Chat>) {
    let mut seq = 0u64;
    let mut out = Vec::new();
    while Instant::now() < end {
        let s = match open(addr, Some(source)).await {
            Ok(s) => s,
            Err(_) => {
                bump(&c.connect_failures);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        bump(&c.connects);
        let (mut rd, mut wr) = s.into_split();
        let mut tick = tokio::time::interval(interval);
        let mut buf = BytesMut::with_capacity(1024);
        'conn: loop {
            tokio::select! {
                _ = tick.tick() => {
                    if Instant::now() >= end {
                        return;
                    }
                    seq += 1;
                    out.clear();
                    frame(0x81, format!("chat {id} {seq}").as_bytes(), &mut out);
                    if wr.write_all(&out).await.is_err() {
                        break 'conn;
                    }
                    bump(&c.sent);
                }
                r = rd.read_buf(&mut buf) => {
                    if !matches!(r, Ok(n) if n > 0) {
                        break 'conn;
                    }
                    while buf.len() >= 2 {
                        let (b0, l) = (buf[0], (buf[1] & 0x7f) as usize);
                        let (hl, len) = match l {
                            126 if buf.len() >= 4 => (4, u16::from_be_bytes([buf[2], buf[3]]) as usize),
                            126 => break,
                            127 => (usize::MAX / 2, 0),
                            l => (2, l),
                        };
                        if hl > 4 || buf[1] & 0x80 != 0 {
                            bump(&c.bad_frames);
                            break 'conn;
                        }
                        if buf.len() < hl + len {
                            break;
                        }
                        let payload = buf[hl..hl + len].to_vec();
                        buf.advance(hl + len);
                        match b0 {
                            0x81 if payload.starts_with(b"chat ") => bump(&c.received),
                            0x89 => {
                                out.clear();
                                frame(0x8A, &payload, &mut out);
                                if wr.write_all(&out).await.is_err() {
                                    break 'conn;
                                }
                            }
                            0x88 => break 'conn,
                            _ => {
                                bump(&c.bad_frames);
                                break 'conn;
                            }
                        }
                    }
                }
            }
        }
        bump(&c.disconnects);
    }
}

async fn chat(a: Args) -> ExitCode {
    let c = Rc::new(Chat::default());
    let end = Instant::now() + a.hold;
    let members: Vec<_> = (0..a.conns)
        .map(|i| {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % a.sources as usize) as u8));
            tokio::task::spawn_local(chat_member(a.addr, source, i, a.interval, end, c.clone()))
        })
        .collect();
    for m in members {
        let _ = m.await;
    }
    println!(
        "RESULT sent={} received={} connects={} disconnects={} connect_failures={} bad_frames={}",
        c.sent.get(),
        c.received.get(),
        c.connects.get(),
        c.disconnects.get(),
        c.connect_failures.get(),
        c.bad_frames.get()
    );
    if c.bad_frames.get() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        match args.mode.as_str() {
            "room" => room(args).await,
            "chat" => chat(args).await,
            _ => idle(args).await,
        }
    })
}
