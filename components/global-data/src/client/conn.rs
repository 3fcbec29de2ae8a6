//! One connection to one built-in GlobalData server: a background task that owns the socket,
//! writes requests in order and matches replies to them first-in first-out (the server answers
//! strictly in order), connecting on demand.
//!
//! Keepalive: after `interval` without traffic the task sends a probe (a `get` of
//! [`PROBE_KEY`], which every server answers, PHP's too: its own `ping` gets no reply and so
//! cannot tell a live server from a dead one). A connection whose oldest request or probe has
//! had no reply for `dead_after` is declared dead: closed, its waiting requests failed with
//! [`Error::ConnectionLost`], and the next request connects afresh. Without this, a server host
//! that vanished without a FIN/RST (power loss, a frozen process, a dropped route) would leave
//! every later request writing into the dead socket and timing out, forever.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::protocol::{frame, is_refusal, request};

/// The key the keepalive probe reads (`get`, no side effect on any server).
pub(crate) const PROBE_KEY: &str = "workerman:keepalive-probe";

/// Replies larger than this close the connection (the server's own limit is 10 MiB).
const MAX_REPLY: usize = 10 * 1024 * 1024;
/// How long a connect may take (PHP's client uses 5 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {
    /// Whether the peer has closed, asked of the kernel now (`recv(MSG_PEEK)` on the
    /// non-blocking socket), not of the runtime's readiness cache, which may not have seen the
    /// close yet after the runtime sat idle.
    fn peer_closed(&self) -> bool;
}

fn peek_closed(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match socket2::SockRef::from(&fd).peek(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

impl Stream for tokio::net::TcpStream {
    fn peer_closed(&self) -> bool {
        use std::os::fd::AsFd;
        peek_closed(self.as_fd())
    }
}

impl Stream for tokio::net::UnixStream {
    fn peer_closed(&self) -> bool {
        use std::os::fd::AsFd;
        peek_closed(self.as_fd())
    }
}

type Reply = oneshot::Sender<Result<Vec<u8>>>;

/// A request written and not answered yet: a caller's (`reply`) or a keepalive probe (`None`).
struct Waiter {
    reply: Option<Reply>,
    sent: Instant,
}

/// Keepalive settings of a connection task (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keepalive {
    /// Idle time before a probe; `None`: no probes (a stuck request still kills the connection).
    pub(crate) interval: Option<Duration>,
    /// No reply for this long: the connection is dead.
    pub(crate) dead_after: Duration,
}

struct Job {
    frame: Vec<u8>,
    reply: Reply,
}

/// A server address: TCP `host:port` or a unix socket path.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Tcp(String),
    Unix(String),
}

impl Target {
    fn name(&self) -> String {
        match self {
            Target::Tcp(a) => a.clone(),
            Target::Unix(p) => format!("unix://{p}"),
        }
    }

    async fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        let fut = async {
            Ok::<Box<dyn Stream>, std::io::Error>(match self {
                Target::Tcp(a) => {
                    let s = tokio::net::TcpStream::connect(a.as_str()).await?;
                    s.set_nodelay(true)?;
                    Box::new(s)
                }
                Target::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
            })
        };
        tokio::time::timeout(CONNECT_TIMEOUT, fut)
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    }
}

/// The handle to one server's connection task (started on first use, in the caller's runtime;
/// restarted if that runtime went away).
pub(crate) struct ServerConn {
    target: Target,
    tx: Mutex<Option<mpsc::UnboundedSender<Job>>>,
}

impl ServerConn {
    pub(crate) fn new(target: Target) -> ServerConn {
        ServerConn {
            target,
            tx: Mutex::new(None),
        }
    }

    pub(crate) fn address(&self) -> String {
        self.target.name()
    }

    /// Sends one request body, returns the reply body. `keepalive` applies to the connection
    /// task this call starts, if it starts one.
    pub(crate) async fn call(&self, body: &[u8], timeout: Duration, keepalive: Keepalive) -> Result<Vec<u8>> {
        let (reply, rx) = oneshot::channel();
        let mut job = Job {
            frame: frame(body),
            reply,
        };
        for _ in 0..2 {
            let tx = {
                let mut guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
                match guard.as_ref().filter(|tx| !tx.is_closed()) {
                    Some(tx) => tx.clone(),
                    None => {
                        let (tx, rx) = mpsc::unbounded_channel();
                        tokio::spawn(run(self.target.clone(), rx, keepalive));
                        *guard = Some(tx.clone());
                        tx
                    }
                }
            };
            match tx.send(job) {
                Ok(()) => break,
                // The task ended (its runtime is gone): start another.
                Err(mpsc::error::SendError(j)) => job = j,
            }
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::ConnectionLost {
                address: self.address(),
                reason: "connection task ended".into(),
            }),
            Err(_) => Err(Error::Timeout(timeout)),
        }
    }
}

/// Fails every waiting request.
fn fail_all(pending: &mut VecDeque<Waiter>, address: &str, reason: &str) {
    for r in pending.drain(..).filter_map(|w| w.reply) {
        let _ = r.send(Err(Error::ConnectionLost {
            address: address.into(),
            reason: reason.into(),
        }));
    }
}

/// When the keepalive must look at the connection next: the oldest waiter's deadline, or the
/// end of the idle interval; `None` when not connected or nothing to watch.
fn next_check(connected: bool, pending: &VecDeque<Waiter>, last_io: Instant, ka: Keepalive) -> Option<Instant> {
    if !connected {
        return None;
    }
    match pending.front() {
        Some(w) => Some(w.sent + ka.dead_after),
        None => ka.interval.map(|i| last_io + i),
    }
}

/// `write_all`, failing once it has been blocked for `limit` (a dead peer's full socket buffer).
async fn write_within<W: AsyncWrite + Unpin + ?Sized>(s: &mut W, bytes: &[u8], limit: Duration) -> std::io::Result<()> {
    tokio::time::timeout(limit, s.write_all(bytes))
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "write blocked (server dead or stuck)",
            ))
        })
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Takes complete frames off `buf`; `Err` on a frame that cannot be valid.
fn next_frame(buf: &mut BytesMut) -> std::result::Result<Option<Vec<u8>>, String> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if !(4..=MAX_REPLY).contains(&len) {
        return Err(format!("bad reply frame length {len}"));
    }
    if buf.len() < len {
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len - 4).to_vec()))
}

async fn read_some(stream: &mut Option<Box<dyn Stream>>, buf: &mut BytesMut) -> std::io::Result<usize> {
    match stream {
        Some(s) => s.read_buf(buf).await,
        None => std::future::pending().await,
    }
}

async fn run(target: Target, mut rx: mpsc::UnboundedReceiver<Job>, ka: Keepalive) {
    let address = target.name();
    let mut stream: Option<Box<dyn Stream>> = None;
    let mut pending: VecDeque<Waiter> = VecDeque::new();
    let mut buf = BytesMut::with_capacity(4096);
    let mut last_io = Instant::now();
    let probe = frame(&request("get", &PROBE_KEY.into(), &[]));
    loop {
        let check = next_check(stream.is_some(), &pending, last_io, ka);
        tokio::select! {
            // Biased, reads first: a connection the server closed while we were idle is seen
            // (and dropped) before the next request is written to it.
            biased;
            read = read_some(&mut stream, &mut buf) => {
                last_io = Instant::now();
                let reason = match read {
                    Ok(0) => Some("closed by the server".to_string()),
                    Err(e) => Some(e.to_string()),
                    Ok(_) => loop {
                        match next_frame(&mut buf) {
                            Ok(Some(body)) => {
                                // The server closes right after a refusal; its FIN may not be
                                // here yet, so drop the connection now rather than write the
                                // next request into a socket about to be reset.
                                let refused = is_refusal(&body);
                                match pending.pop_front() {
                                    // A caller that timed out has gone: its reply is dropped,
                                    // and the next reply still goes to the next request.
                                    Some(Waiter { reply: Some(r), .. }) => { let _ = r.send(Ok(body)); }
                                    // A keepalive probe's answer.
                                    Some(Waiter { reply: None, .. }) => {}
                                    None => break Some("a reply nobody asked for".to_string()),
                                }
                                if refused {
                                    break Some("closed by the server after refusing a request".to_string());
                                }
                            }
                            Ok(None) => break None,
                            Err(e) => break Some(e),
                        }
                    },
                };
                if let Some(reason) = reason {
                    stream = None;
                    buf.clear();
                    fail_all(&mut pending, &address, &reason);
                }
            }
            _ = sleep_until_opt(check) => {
                if pending.is_empty() {
                    // Idle for the whole interval: probe.
                    let s = stream.as_mut().expect("checks only run while connected");
                    pending.push_back(Waiter { reply: None, sent: Instant::now() });
                    last_io = Instant::now();
                    if let Err(e) = write_within(s, &probe, ka.dead_after).await {
                        stream = None;
                        fail_all(&mut pending, &address, &e.to_string());
                    }
                } else {
                    // The oldest request or probe got no reply in time: the server is gone
                    // (or hopelessly stuck). Whatever is in flight is lost with it.
                    stream = None;
                    buf.clear();
                    let reason = format!("no reply within {:?} (server dead or stuck)", ka.dead_after);
                    fail_all(&mut pending, &address, &reason);
                }
            }
            job = rx.recv() => {
                let Some(job) = job else { break };
                // Coalesce whatever else is queued into one write.
                let mut jobs = vec![job];
                while let Ok(j) = rx.try_recv() {
                    jobs.push(j);
                }
                // An idle connection the server has closed (restart, stop): drop it now, so
                // this request goes to a fresh connection instead of failing.
                if pending.is_empty() && stream.as_ref().is_some_and(|s| s.peer_closed()) {
                    stream = None;
                }
                if stream.is_none() {
                    match target.connect().await {
                        Ok(s) => {
                            stream = Some(s);
                            buf.clear();
                        }
                        Err(source) => {
                            for j in jobs {
                                let _ = j.reply.send(Err(Error::Connect {
                                    address: address.clone(),
                                    source: std::io::Error::new(source.kind(), source.to_string()),
                                }));
                            }
                            continue;
                        }
                    }
                }
                let mut out = Vec::with_capacity(jobs.iter().map(|j| j.frame.len()).sum());
                let now = Instant::now();
                for j in jobs {
                    out.extend_from_slice(&j.frame);
                    pending.push_back(Waiter { reply: Some(j.reply), sent: now });
                }
                last_io = now;
                let s = stream.as_mut().expect("connected above");
                if let Err(e) = write_within(s, &out, ka.dead_after).await {
                    stream = None;
                    fail_all(&mut pending, &address, &e.to_string());
                }
            }
        }
    }
}
