//! The built-in backend: one `frame` connection to a Channel server (ours or PHP's).
//!
//! Writes gather in one buffer that a writer drains with one `write` per wake-up. While
//! disconnected only publishes and enqueues are kept (bounded); subscriptions and watches are
//! state, re-sent as one `subscribe` and one `watch` (plus `reserve`) after each connect.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

use php_serialize::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::{Backoff, Core, Options, log};
use crate::error::ChannelError;
use crate::wire::{self, Delivery, HEADER, Name};

enum Target {
    Tcp(String),
    Unix(String),
}

pub(crate) struct FrameLink {
    target: Target,
    options: Options,
    core: Rc<Core>,
    connected: Cell<bool>,
    /// Bytes for the server: control frames (only while connected) and data frames.
    out: RefCell<Vec<u8>>,
    /// Data bytes in `out` (what the bound applies to).
    data_bytes: Cell<usize>,
    writing: Cell<bool>,
    wake: Notify,
    drained: Notify,
    overflow_logged: Cell<bool>,
}

fn parse_target(url: &str) -> Result<Target, ChannelError> {
    if let Some(path) = url.strip_prefix("unix://") {
        return Ok(Target::Unix(path.to_string()));
    }
    let rest = ["channel://", "frame://", "tcp://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .unwrap_or(url);
    let rest = rest.trim_end_matches('/');
    if rest.contains("://") || !rest.contains(':') {
        return Err(ChannelError::Url(format!(
            "{url}: expected channel://host:port or unix:///path"
        )));
    }
    Ok(Target::Tcp(rest.to_string()))
}

impl FrameLink {
    pub(crate) fn start(url: &str, options: Options, core: Rc<Core>) -> Result<Rc<FrameLink>, ChannelError> {
        let link = Rc::new(FrameLink {
            target: parse_target(url)?,
            options,
            core,
            connected: Cell::new(false),
            out: RefCell::new(Vec::new()),
            data_bytes: Cell::new(0),
            writing: Cell::new(false),
            wake: Notify::new(),
            drained: Notify::new(),
            overflow_logged: Cell::new(false),
        });
        workerman::spawn(link.clone().run());
        Ok(link)
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.get()
    }

    /// A state command (`subscribe`, `watch`, ...): sent now if connected, else restored later.
    pub(crate) fn command(&self, ty: &str, names: &[Name], data: Option<&Value>) {
        if !self.connected.get() {
            return;
        }
        let values: Vec<&Value> = names.iter().map(|n| &n.value).collect();
        wire::command_frame(&mut self.out.borrow_mut(), ty, &values, data);
        self.wake.notify_one();
    }

    pub(crate) fn reserve(&self) {
        if self.connected.get() {
            wire::reserve_frame(&mut self.out.borrow_mut());
            self.wake.notify_one();
        }
    }

    /// `publish`, `publishLoop`, `enqueue`: kept while disconnected, up to the bound.
    pub(crate) fn data(&self, ty: &str, names: &[Name], data: &Value) -> Result<(), ChannelError> {
        if self.core.closed() {
            return Err(ChannelError::Closed);
        }
        let limit = self.options.max_pending_bytes;
        let pending = self.data_bytes.get();
        if pending >= limit {
            if !self.overflow_logged.replace(true) {
                log(&format!(
                    "backlog full ({pending} bytes, server {}); publishes fail until it drains",
                    if self.connected.get() { "slow" } else { "unreachable" }
                ));
            }
            return Err(ChannelError::Backlog { pending, limit });
        }
        let values: Vec<&Value> = names.iter().map(|n| &n.value).collect();
        let mut out = self.out.borrow_mut();
        let before = out.len();
        wire::command_frame(&mut out, ty, &values, Some(data));
        self.data_bytes.set(pending + out.len() - before);
        drop(out);
        self.wake.notify_one();
        Ok(())
    }

    pub(crate) async fn flush(&self) {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.core.closed() || self.connected.get() && !self.writing.get() && self.out.borrow().is_empty() {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn close(&self) {
        self.wake.notify_one();
        self.drained.notify_waiters();
    }

    async fn run(self: Rc<Self>) {
        let mut backoff = Backoff::default();
        let mut failures = 0u32;
        while !self.core.closed() {
            let result = match &self.target {
                Target::Tcp(addr) => match tokio::net::TcpStream::connect(addr.as_str()).await {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        let (r, w) = s.into_split();
                        self.session(r, w, &mut backoff).await
                    }
                    Err(e) => Err(e),
                },
                Target::Unix(path) => match tokio::net::UnixStream::connect(path.as_str()).await {
                    Ok(s) => {
                        let (r, w) = s.into_split();
                        self.session(r, w, &mut backoff).await
                    }
                    Err(e) => Err(e),
                },
            };
            self.connected.set(false);
            self.writing.set(false);
            if self.core.closed() {
                break;
            }
            match result {
                Ok(()) => {
                    failures = 0;
                    log("connection closed by the server; reconnecting");
                }
                Err(e) => {
                    failures += 1;
                    // One line per outage, not one per attempt.
                    if failures == 1 {
                        log(&format!("connection failed: {e}; retrying with back-off"));
                    }
                }
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
        self.drained.notify_waiters();
    }

    /// Everything to send first on a fresh connection.
    fn restore_frames(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(secret) = &self.options.secret {
            wire::auth_frame(&mut out, secret);
        }
        let subs = self.core.subscribed();
        if !subs.is_empty() {
            let v: Vec<&Value> = subs.iter().map(|n| &n.value).collect();
            wire::command_frame(&mut out, "subscribe", &v, None);
        }
        let (watches, auto) = self.core.watched();
        if !watches.is_empty() {
            let v: Vec<&Value> = watches.iter().map(|n| &n.value).collect();
            wire::command_frame(&mut out, "watch", &v, None);
            if auto {
                wire::reserve_frame(&mut out);
            }
        }
        out
    }

    async fn session<R, W>(&self, mut r: R, mut w: W, backoff: &mut Backoff) -> io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        backoff.reset();
        {
            let mut out = self.out.borrow_mut();
            let mut fresh = self.restore_frames();
            fresh.extend_from_slice(&out);
            *out = fresh;
        }
        self.connected.set(true);
        self.overflow_logged.set(false);
        self.wake.notify_one();
        self.core.connected();
        let reader = async {
            let mut buf = bytes::BytesMut::with_capacity(4096);
            loop {
                if r.read_buf(&mut buf).await? == 0 {
                    return Ok::<(), io::Error>(());
                }
                while buf.len() >= HEADER {
                    let len = u32::from_be_bytes(buf[..HEADER].try_into().expect("4")) as usize;
                    if len < HEADER || len > self.options.max_package_size {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("bad frame length {len}"),
                        ));
                    }
                    if buf.len() < len {
                        buf.reserve(len - buf.len());
                        break;
                    }
                    let frame = buf.split_to(len);
                    match Delivery::parse(&frame[HEADER..]) {
                        Ok(None) => {}
                        Ok(Some(d)) => self.deliver(d),
                        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.0)),
                    }
                }
            }
        };
        let writer = async {
            let mut ping = tokio::time::interval(self.options.ping_interval);
            ping.tick().await;
            loop {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = ping.tick() => wire::ping_frame(&mut self.out.borrow_mut()),
                }
                if self.core.closed() {
                    let _ = w.shutdown().await;
                    return Ok::<(), io::Error>(());
                }
                loop {
                    let chunk = std::mem::take(&mut *self.out.borrow_mut());
                    if chunk.is_empty() {
                        break;
                    }
                    self.writing.set(true);
                    let sent_data = self.data_bytes.replace(0);
                    let result = w.write_all(&chunk).await;
                    self.writing.set(false);
                    if let Err(e) = result {
                        // Not written: put the data back in front (control frames are re-sent anyway).
                        let mut out = self.out.borrow_mut();
                        let mut back = chunk;
                        back.extend_from_slice(&out);
                        *out = back;
                        self.data_bytes.set(self.data_bytes.get() + sent_data);
                        return Err(e);
                    }
                }
                self.drained.notify_waiters();
            }
        };
        tokio::select! {
            r = reader => r,
            w = writer => w,
        }
    }

    fn deliver(&self, d: Delivery) {
        if d.is_event {
            self.core.deliver_event(&d.channel, d.data);
        } else if self.core.deliver_queue(&d.channel, d.data) == Some(true) {
            self.reserve();
        }
    }
}
