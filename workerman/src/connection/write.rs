//! Sending: `send` encodes into the send buffer, and one routine, [`write_now`], hands the buffer
//! to the socket — for `send` itself (nothing queued: write at once), for `flush` (the replies of
//! one read, coalesced) and for the connection's task (what the socket could not take before).
//!
//! `WouldBlock` and `Interrupted` are flow control, never errors: an interrupted write is retried
//! at once, a blocked one waits for the task to see the socket writable.

use std::io;
use std::task::{Context as TaskContext, Poll};

use std::io::IoSlice;

use bytes::Bytes;

use super::sendbuf::{MAX_SLICES, Shared};
use super::{ConnectionError, Io, SendResult, State, Status, TcpConnection};
use crate::panic::guard;
use crate::protocol::{Context, Protocol};
use crate::stats;

/// The socket cannot take more now.
pub(super) fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// A signal interrupted the call: try again.
pub(super) fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

/// How far [`write_now`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// The send buffer is empty.
    Done,
    /// Some bytes went out, the rest waits.
    Partial,
    /// Nothing went out.
    Blocked,
}

/// Writes as much of `st.send` as the socket takes right now, in one system call per attempt
/// (`writev` when shared chunks are queued). With `cx` (the connection's task) the socket
/// registers for writability when full, and the bytes count as unflushed until the task flushes
/// the transport; without (`send`, `flush`), it is one non-blocking attempt, which a TLS socket
/// always refuses.
pub(super) fn write_now<P: Protocol>(
    io: &Io,
    st: &mut State<P>,
    mut cx: Option<&mut TaskContext<'_>>,
) -> io::Result<Progress> {
    let mut progressed = false;
    while !st.send.is_empty() {
        let written = if let Some(one) = st.send.contiguous() {
            match cx.as_deref_mut() {
                Some(cx) => match io.poll_write(cx, one) {
                    Poll::Ready(r) => r,
                    Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
                },
                None => io.try_write(one),
            }
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = st.send.slices(&mut slices);
            match cx.as_deref_mut() {
                Some(cx) => match io.poll_write_vectored(cx, &slices[..n]) {
                    Poll::Ready(r) => r,
                    Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
                },
                None => io.try_write_vectored(&slices[..n]),
            }
        };
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                st.send.advance(n);
                st.bytes_written += n as u64;
                st.unflushed |= cx.is_some();
                progressed = true;
            }
            Err(e) if interrupted(&e) => {}
            Err(e) if would_block(&e) => {
                return Ok(if progressed {
                    Progress::Partial
                } else {
                    Progress::Blocked
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Progress::Done)
}

/// Bytes queued outside a read's dispatch are written at the end of the loop tick, unless they
/// reach this much (64 KiB): then at once.
pub(super) const COALESCE_MAX: usize = 64 * 1024;

/// When a send outside a read's dispatch reaches the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// At the end of the loop tick, with whatever else the tick queued (or at once from
    /// [`COALESCE_MAX`] bytes).
    EndOfTick,
    /// At once, if nothing else is queued.
    Now,
}

/// Sends one datagram (retried if interrupted): never coalesced, never queued.
fn write_datagram(io: &Io, datagram: &[u8]) -> io::Result<usize> {
    loop {
        match io.try_write(datagram) {
            Err(e) if interrupted(&e) => {}
            r => return r,
        }
    }
}

impl<P: Protocol> TcpConnection<P> {
    /// Encodes `msg` with the connection's protocol and sends it.
    ///
    /// A send is accepted while the send buffer is below `max_send_buffer_size` (one send may push
    /// it past the limit; `on_buffer_full` then fires); the next one fails with
    /// `on_error(SendBufferFull)` until the buffer drains.
    pub fn send<'a>(&self, msg: impl Into<P::Outgoing<'a>>) -> SendResult {
        let msg = msg.into();
        self.send_with(|p, cx| p.encode(msg, cx))
    }

    /// Sends bytes as they are, without the protocol's encoding.
    pub fn send_raw(&self, bytes: &[u8]) -> SendResult {
        self.send_with(|_, cx| cx.out().extend_from_slice(bytes))
    }

    /// Sends bytes as they are (already encoded), sharing them instead of copying: the same
    /// `Bytes` can be queued on many connections, as a broadcast does (see
    /// [`broadcast`](crate::broadcast)). Backpressure, `on_buffer_full` and `on_buffer_drain`
    /// work as for [`send`](Self::send).
    pub fn send_bytes(&self, bytes: Bytes) -> SendResult {
        self.send_shared(Shared::Owned(bytes))
    }

    /// [`send_bytes`](Self::send_bytes) of bytes the caller keeps for other connections (a
    /// broadcast): the reference count is taken only if the bytes are queued as they are, not
    /// when they are copied (see [`SendBuf::push`](super::sendbuf::SendBuf::push)).
    pub(crate) fn send_bytes_ref(&self, bytes: &Bytes) -> SendResult {
        self.send_shared(Shared::Kept(bytes))
    }

    fn send_shared(&self, bytes: Shared<'_>) -> SendResult {
        if self.inner.mode.is_datagram() {
            // One send, one datagram: through the encoding buffer.
            return self.send_raw(bytes.as_ref());
        }
        let mut st = self.inner.st.borrow_mut();
        if matches!(st.status, Status::Closing | Status::Closed) {
            return SendResult::Failed;
        }
        let was_empty = st.send.is_empty();
        if !was_empty && st.send.len() >= st.limits.max_send_buffer_size {
            drop(st);
            stats::send_fail();
            self.emit_error(&ConnectionError::SendBufferFull);
            return SendResult::Failed;
        }
        if bytes.as_ref().is_empty() {
            return SendResult::Queued;
        }
        st.send.push(bytes);
        self.write_or_queue(st, was_empty, When::EndOfTick)
    }

    /// [`send`](Self::send), written to the socket at once when nothing else is queued, instead
    /// of at the end of the loop tick: for a message that is the only one its connection gets
    /// now (the heartbeat's ping to each silent connection), where waking the connection's task
    /// to write it would cost more than the write. Queued as `send` does otherwise.
    pub(crate) fn send_now<'a>(&self, msg: impl Into<P::Outgoing<'a>>) -> SendResult {
        let msg = msg.into();
        self.send_with_when(|p, cx| p.encode(msg, cx), When::Now)
    }

    pub(super) fn send_with(&self, encode: impl FnOnce(&P, &mut Context<'_, P::State>)) -> SendResult {
        self.send_with_when(encode, When::EndOfTick)
    }

    fn send_with_when(&self, encode: impl FnOnce(&P, &mut Context<'_, P::State>), when: When) -> SendResult {
        let mut event = false;
        let r = self.send_encoded(encode, &mut event, when);
        if event {
            self.service_event();
        }
        // A reply sent outside a read (an HTTP request answered later) may end a phase; inside
        // one, the task looks after the read.
        if !self.inner.st.borrow().in_dispatch {
            self.rearm(false, false);
        }
        r
    }

    fn send_encoded(
        &self,
        encode: impl FnOnce(&P, &mut Context<'_, P::State>),
        event: &mut bool,
        when: When,
    ) -> SendResult {
        let inner = &*self.inner;
        let mut st = inner.st.borrow_mut();
        if matches!(st.status, Status::Closing | Status::Closed) {
            return SendResult::Failed;
        }
        let was_empty = st.send.is_empty();
        if !was_empty && st.send.len() >= st.limits.max_send_buffer_size {
            drop(st);
            stats::send_fail();
            self.emit_error(&ConnectionError::SendBufferFull);
            return SendResult::Failed;
        }
        let max = st.limits.max_package_size;
        let State { send, proto, .. } = &mut *st;
        let mut cx = Context::new(proto, send.tail(), max).with_stopping(stats::stopping());
        encode(&inner.protocol, &mut cx);
        *event = cx.event_raised();
        if cx.refused() {
            stats::send_fail();
        }
        if cx.close_requested() {
            // Written first, then closed (e.g. `Connection: close`).
            drop(st);
            self.close();
            return SendResult::Queued;
        }
        if st.send.is_empty() {
            return SendResult::Queued;
        }
        if st.status == Status::Connecting && inner.mode.client().is_some_and(|c| c.is_udp()) {
            let datagram = st.send.take_tail();
            st.pending_datagrams.push(datagram);
            // As in Workerman, a send before `connect()` connects (once: a connect under way
            // already holds the connection live).
            let connecting = inner.live.borrow().is_some();
            drop(st);
            if !connecting {
                self.connect();
            }
            return SendResult::Queued;
        }
        let datagram = if inner.mode.is_datagram() {
            inner.io.borrow().clone()
        } else {
            None
        };
        if let Some(io) = datagram {
            // One send, one datagram (UDP drops when the socket buffer is full).
            let result = write_datagram(&io, st.send.contiguous().unwrap_or_default());
            st.send.clear();
            return match result {
                Ok(n) => {
                    st.bytes_written += n as u64;
                    SendResult::Written
                }
                Err(_) => {
                    drop(st);
                    stats::send_fail();
                    SendResult::Failed
                }
            };
        }
        self.write_or_queue(st, was_empty, when)
    }

    /// Bytes were just queued on a stream: they wait for the dispatcher (inside a read's
    /// dispatch), for the task (connecting, or the socket was full), or for the end of this loop
    /// tick, so that a burst of sends to this connection (broadcasts, a timer's messages) costs
    /// one write, not one per send. A burst of [`COALESCE_MAX`] bytes or more, and a
    /// [`When::Now`] send, are written at once (what the socket does not take waits for the task).
    fn write_or_queue(&self, mut st: std::cell::RefMut<'_, State<P>>, was_empty: bool, when: When) -> SendResult {
        let inner = &*self.inner;
        if st.in_dispatch || st.status == Status::Connecting || (!was_empty && !st.deferred) {
            // Written by the dispatcher after this read, or by the task once connected/writable.
            return self.queued(st);
        }
        if inner.io.borrow().is_none() {
            return self.queued(st);
        }
        if when == When::EndOfTick && st.send.len() < COALESCE_MAX {
            if !st.deferred {
                st.deferred = true;
                inner.wake();
            }
            return self.queued(st);
        }
        let Some(io) = inner.io.borrow().clone() else {
            return self.queued(st);
        };
        st.deferred = false;
        match write_now(&io, &mut st, None) {
            Ok(Progress::Done) => {
                st.send.release();
                SendResult::Written
            }
            Ok(Progress::Partial | Progress::Blocked) => {
                inner.wake();
                self.queued(st)
            }
            Err(_) => {
                drop(st);
                stats::send_fail();
                self.emit_error(&ConnectionError::ClientClosed);
                // Unless on_error already replaced this session (reconnect) or closed it.
                let same = self
                    .inner
                    .io
                    .borrow()
                    .as_ref()
                    .is_some_and(|now| std::rc::Rc::ptr_eq(now, &io));
                if same {
                    self.destroy();
                }
                SendResult::Failed
            }
        }
    }

    fn queued(&self, mut st: std::cell::RefMut<'_, State<P>>) -> SendResult {
        let full = st.send.len() >= st.limits.max_send_buffer_size;
        let cb = if full { st.cb.on_buffer_full.clone() } else { None };
        if full {
            st.full_signalled = true;
        }
        drop(st);
        if let Some(cb) = cb {
            guard(|| cb(self));
        }
        SendResult::Queued
    }

    /// Writes as much of the send buffer as the socket takes right now (after a read's replies
    /// were queued, or at the end of the tick in which sends were deferred); the task writes the
    /// rest when the socket is writable.
    pub(super) fn flush(&self) {
        let Some(io) = self.inner.io.borrow().clone() else {
            return;
        };
        let mut st = self.inner.st.borrow_mut();
        st.deferred = false;
        if st.send.is_empty() {
            return;
        }
        match write_now(&io, &mut st, None) {
            Ok(Progress::Done) => {
                drop(st);
                // Whoever paused on `on_buffer_full` waits for `on_buffer_drain`.
                self.send_buffer_emptied(false);
            }
            Ok(Progress::Partial | Progress::Blocked) => {}
            Err(_) => {
                drop(st);
                stats::send_fail();
                self.destroy();
            }
        }
    }

    /// Writes queued bytes through the socket from the connection's task. `Ready(Ok(true))` once
    /// everything is written and flushed, `Ready(Ok(false))` after partial progress.
    pub(super) fn poll_write_queued(&self, io: &Io, cx: &mut TaskContext<'_>) -> Poll<io::Result<bool>> {
        let mut st = self.inner.st.borrow_mut();
        let before = st.bytes_written;
        match write_now(io, &mut st, Some(cx)) {
            Err(e) => return Poll::Ready(Err(e)),
            Ok(Progress::Partial) => return Poll::Ready(Ok(false)),
            Ok(Progress::Blocked) => return Poll::Pending,
            Ok(Progress::Done) => {}
        }
        match io.poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                st.unflushed = false;
                Poll::Ready(Ok(true))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if st.bytes_written != before => Poll::Ready(Ok(false)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The task emptied the send buffer: `on_buffer_drain` (Workerman fires it only here), then
    /// a pending close completes.
    pub(super) fn drained_by_task(&self) {
        self.send_buffer_emptied(true);
    }

    /// The send buffer is empty: wake `drained()` callers, run `on_buffer_drain` (always, or only
    /// if `on_buffer_full` fired), then complete a pending close.
    fn send_buffer_emptied(&self, always_drain: bool) {
        let mut st = self.inner.st.borrow_mut();
        st.send.release();
        if self.inner.drain_waiters.get() > 0 {
            self.inner.drain.notify_waiters();
        }
        let closing = st.status == Status::Closing;
        let signalled = std::mem::take(&mut st.full_signalled);
        let drain = if always_drain || signalled {
            st.cb.on_buffer_drain.clone()
        } else {
            None
        };
        drop(st);
        if let Some(cb) = drain {
            guard(|| cb(self));
        }
        if closing {
            self.destroy();
        }
    }
}
