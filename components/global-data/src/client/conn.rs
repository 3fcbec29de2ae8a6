//! One connection to one built-in GlobalData server: a background task that owns the socket,
//! writes requests in order and matches replies to them first-in first-out (the server answers
//! strictly in order), connecting on demand.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::protocol::{frame, is_refusal};

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

    /// Sends one request body, returns the reply body.
    pub(crate) async fn call(&self, body: &[u8], timeout: Duration) -> Result<Vec<u8>> {
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
                        tokio::spawn(run(self.target.clone(), rx));
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
fn fail_all(pending: &mut VecDeque<Reply>, address: &str, reason: &str) {
    for r in pending.drain(..) {
        let _ = r.send(Err(Error::ConnectionLost {
            address: address.into(),
            reason: reason.into(),
        }));
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

async fn run(target: Target, mut rx: mpsc::UnboundedReceiver<Job>) {
    let address = target.name();
    let mut stream: Option<Box<dyn Stream>> = None;
    let mut pending: VecDeque<Reply> = VecDeque::new();
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        tokio::select! {
            // Biased, reads first: a connection the server closed while we were idle is seen
            // (and dropped) before the next request is written to it.
            biased;
            read = read_some(&mut stream, &mut buf) => {
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
                                    Some(r) => { let _ = r.send(Ok(body)); }
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
                for j in jobs {
                    out.extend_from_slice(&j.frame);
                    pending.push_back(j.reply);
                }
                let s = stream.as_mut().expect("connected above");
                if let Err(e) = s.write_all(&out).await {
                    stream = None;
                    fail_all(&mut pending, &address, &e.to_string());
                }
            }
        }
    }
}
