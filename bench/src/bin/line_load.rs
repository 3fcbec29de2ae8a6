//! Load generator for line-echo servers: connections doing ping-pong, each echo checked.
//!
//! Every connection sends one line (`--size` bytes plus `\n`, unique per message), waits for the
//! same bytes to come back, and repeats, until `--duration` seconds have passed. Connections are
//! spread over `--threads` OS threads; each thread drives its connections in rounds (send on all,
//! then read every reply), so exactly one message per connection is in flight.
//!
//! ```text
//! line_load --addr 127.0.0.1:2450 [--conns 50] [--threads 2] [--duration 5] [--size 32]
//! ```
//!
//! Prints a human summary, then one machine-readable line:
//! `RESULT msgs=N secs=S rate=R errors=E`. Exits with status 1 if any echo was wrong or missing.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long a reply may take before the connection counts as failed.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Command-line settings.
#[derive(Debug, Clone)]
struct Args {
    addr: SocketAddr,
    conns: usize,
    threads: usize,
    duration: Duration,
    size: usize,
}

const USAGE: &str = "usage: line_load --addr HOST:PORT [--conns 50] [--threads 2] [--duration 5] [--size 32]";

fn parse_args() -> Result<Args, String> {
    let mut addr = None;
    let (mut conns, mut threads, mut duration, mut size) = (50usize, 2usize, 5.0f64, 32usize);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |what: &str| format!("bad {what} `{value}`\n{USAGE}");
        match flag.as_str() {
            "--addr" => {
                addr = Some(
                    value
                        .to_socket_addrs()
                        .map_err(|_| bad("address"))?
                        .next()
                        .ok_or_else(|| bad("address"))?,
                )
            }
            "--conns" => conns = value.parse().map_err(|_| bad("--conns"))?,
            "--threads" => threads = value.parse().map_err(|_| bad("--threads"))?,
            "--duration" => duration = value.parse().map_err(|_| bad("--duration"))?,
            "--size" => size = value.parse().map_err(|_| bad("--size"))?,
            _ => return Err(format!("unknown argument `{flag}`\n{USAGE}")),
        }
    }
    let addr = addr.ok_or_else(|| format!("--addr is required\n{USAGE}"))?;
    if conns == 0 || threads == 0 || size < 25 || !(duration > 0.0 && duration <= 3600.0) {
        return Err(format!(
            "need conns >= 1, threads >= 1, size >= 25, 0 < duration <= 3600\n{USAGE}"
        ));
    }
    Ok(Args {
        addr,
        conns,
        threads: threads.min(conns),
        duration: Duration::from_secs_f64(duration),
        size,
    })
}

/// What one thread did.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    msgs: u64,
    errors: u64,
}

/// One connection and its reply buffer.
struct Conn {
    id: usize,
    stream: TcpStream,
    seq: u64,
    buf: Vec<u8>,
    sent: Vec<u8>,
    dead: bool,
}

impl Conn {
    fn open(id: usize, addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(Conn {
            id,
            stream,
            seq: 0,
            buf: Vec::with_capacity(4096),
            sent: Vec::new(),
            dead: false,
        })
    }

    /// Writes the next line: `c<conn>:<seq>:` then filler, then `\n`; `size` bytes before `\n`.
    fn send(&mut self, size: usize) -> io::Result<()> {
        self.seq += 1;
        self.sent.clear();
        write!(self.sent, "c{:06}:{:016x}:", self.id, self.seq)?;
        let fill = size.saturating_sub(self.sent.len());
        self.sent
            .extend((0..fill).map(|i| b'a' + ((self.seq as usize + i) % 26) as u8));
        self.sent.push(b'\n');
        self.stream.write_all(&self.sent)
    }

    /// Reads until a whole line is in; `Ok(true)` when it is exactly the line sent.
    fn recv(&mut self) -> io::Result<bool> {
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if chunk[..n].contains(&b'\n') {
                // In ping-pong nothing may follow the reply's newline.
                return Ok(self.buf == self.sent);
            }
            if self.buf.len() > self.sent.len() {
                return Ok(false);
            }
        }
    }
}

fn run_thread(args: &Args, ids: Vec<usize>, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut conns = Vec::with_capacity(ids.len());
    for id in ids {
        match Conn::open(id, args.addr) {
            Ok(c) => conns.push(c),
            Err(e) => {
                eprintln!("connection {id}: connect failed: {e}");
                tally.errors += 1;
            }
        }
    }
    while Instant::now() < deadline {
        let mut alive = 0;
        for c in conns.iter_mut().filter(|c| !c.dead) {
            if let Err(e) = c.send(args.size) {
                eprintln!("connection {}: send failed: {e}", c.id);
                c.dead = true;
                tally.errors += 1;
            }
        }
        for c in conns.iter_mut().filter(|c| !c.dead) {
            match c.recv() {
                Ok(true) => {
                    tally.msgs += 1;
                    alive += 1;
                }
                Ok(false) => {
                    tally.errors += 1;
                    if tally.errors <= 5 {
                        eprintln!(
                            "connection {}: wrong echo: sent {:?}, got {:?}",
                            c.id,
                            String::from_utf8_lossy(&c.sent),
                            String::from_utf8_lossy(&c.buf)
                        );
                    }
                    // The stream may be out of step now: stop using this connection.
                    c.dead = true;
                }
                Err(e) => {
                    eprintln!("connection {}: receive failed: {e}", c.id);
                    c.dead = true;
                    tally.errors += 1;
                }
            }
        }
        if alive == 0 {
            break;
        }
    }
    tally
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let deadline = start + args.duration;
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.threads)
            .map(|t| {
                let ids: Vec<usize> = (0..args.conns).filter(|i| i % args.threads == t).collect();
                let args = &args;
                s.spawn(move || run_thread(args, ids, deadline))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Tally { msgs: 0, errors: 1 }))
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let msgs: u64 = tallies.iter().map(|t| t.msgs).sum();
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    let rate = msgs as f64 / secs;
    // Not println!: a closed stdout (`| head -1`) must not turn into a panic.
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "line_load {}: {} conns, {} threads, {}-byte lines: {msgs} msgs in {secs:.2} s = {rate:.0} msg/s, {errors} errors",
        args.addr, args.conns, args.threads, args.size
    );
    let _ = writeln!(out, "RESULT msgs={msgs} secs={secs:.4} rate={rate:.1} errors={errors}");
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
