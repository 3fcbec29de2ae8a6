//! The connection's task and its I/O: reading, cutting packets, delivering them, and writing
//! what is queued. One task per connection, on the worker's event loop.

use std::io;
use std::task::Poll;

use super::{Io, State, Status, TcpConnection, pool};
use crate::panic::guard;
use crate::protocol::{Context, Cut, Protocol, cut_packet};
use crate::stats;

impl<P: Protocol> TcpConnection<P> {
    /// The connection's task: waits for readability, writability or a wake-up, until closed.
    ///
    /// One hand-written poll per wake-up (no per-iteration futures): checks the wake flag, then
    /// writability when output is queued, then reads when reading is wanted.
    pub(crate) async fn drive(self) {
        enum Event {
            Woken,
            /// Progress writing; `true` once everything is written and flushed.
            Wrote(io::Result<bool>),
            Read(io::Result<usize>),
        }
        if let Some(service) = self.service() {
            guard(|| service.opened(&self));
        }
        let on_connect = self.inner.st.borrow().cb.on_connect.clone();
        if let Some(cb) = on_connect {
            guard(|| cb(&self));
        }
        self.rearm(false, true);
        loop {
            // Sends queued outside a read since the last wake-up (timers, other connections,
            // broadcasts): one write for all of them, now that the tick that queued them is over.
            if self.inner.st.borrow().deferred {
                self.flush();
                // A late answer written now starts the keep-alive wait.
                self.rearm(false, false);
            }
            let Some(io) = self.inner.io.borrow().clone() else {
                break;
            };
            let (want_read, want_write) = {
                let st = self.inner.st.borrow();
                match st.status {
                    Status::Closed => break,
                    // Done only when the transport holds nothing either (TLS keeps records of its own).
                    Status::Closing if st.send.is_empty() && !st.unflushed => {
                        drop(st);
                        self.destroy();
                        break;
                    }
                    _ => {}
                }
                (
                    // A peer that does not read our replies (pongs, echoes) is not read either: its
                    // input waits in the kernel until our send buffer is back under the limit.
                    st.status == Status::Established && !st.paused && st.send.len() < st.limits.max_send_buffer_size,
                    !st.send.is_empty() || st.unflushed,
                )
            };
            let event = std::future::poll_fn(|cx| {
                if self.inner.woken.replace(false) {
                    return Poll::Ready(Event::Woken);
                }
                if want_write && let Poll::Ready(r) = self.poll_write_queued(&io, cx) {
                    return Poll::Ready(Event::Wrote(r));
                }
                if want_read && let Poll::Ready(r) = self.poll_read(&io, cx) {
                    return Poll::Ready(Event::Read(r));
                }
                let waker = match self.inner.waker.take() {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                self.inner.waker.set(Some(waker));
                Poll::Pending
            })
            .await;
            match event {
                // Woken: paused, resumed or sent to from elsewhere; the phase may have changed.
                Event::Woken => self.rearm(false, false),
                Event::Wrote(Ok(false)) => {}
                Event::Wrote(Ok(true)) => {
                    self.drained_by_task();
                    // A response fully written starts the keep-alive wait.
                    self.rearm(false, false);
                }
                Event::Wrote(Err(_)) => {
                    stats::send_fail();
                    self.destroy();
                }
                Event::Read(Err(e)) if super::write::interrupted(&e) => {}
                Event::Read(Err(_)) => self.destroy(),
                Event::Read(Ok(0)) => self.destroy(),
                Event::Read(Ok(n)) => {
                    self.inner.st.borrow_mut().bytes_read += n as u64;
                    let delivered = self.dispatch();
                    self.rearm(true, delivered);
                }
            }
        }
    }

    /// Reads into the receive buffer (borrowing a pooled one when the connection has none, or
    /// holds only a small partial packet). When the socket has nothing more, the buffer goes back
    /// to the pool, or shrinks to the partial packet it holds (`pool::release_read`).
    fn poll_read(&self, io: &Io, cx: &mut std::task::Context<'_>) -> Poll<io::Result<usize>> {
        let mut st = self.inner.st.borrow_mut();
        pool::prepare_read(&mut st.recv);
        let r = io.poll_read_buf(cx, &mut st.recv);
        if r.is_pending() {
            pool::release_read(&mut st.recv);
        }
        r
    }

    pub(super) fn release_empty_recv(&self) {
        let mut st = self.inner.st.borrow_mut();
        if st.recv.is_empty() && st.recv.capacity() > 0 {
            pool::give_read(std::mem::take(&mut st.recv));
        }
    }

    /// Cuts and delivers every complete packet in the receive buffer, then writes the replies;
    /// `true` if a packet was cut.
    pub(super) fn dispatch(&self) -> bool {
        self.inner.st.borrow_mut().in_dispatch = true;
        let mut delivered = false;
        // Each message is decoded into this slot and handed to `on_message` from it (see
        // `cut_packet`: no moves of a large message through the calls in between).
        let mut slot: Option<P::Message> = None;
        loop {
            let (cut, cb, close, event) = {
                let mut st = self.inner.st.borrow_mut();
                if st.paused || st.status != Status::Established || st.recv.is_empty() {
                    break;
                }
                let (cut, close, event) = guard(|| self.next_packet(&mut st, &mut slot))
                    .unwrap_or_else(|| (Cut::Fail("the protocol panicked".into()), false, false));
                (cut, st.cb.on_message.clone(), close, event)
            };
            if close {
                self.close();
            }
            if event && !matches!(cut, Cut::Fail(_)) {
                // Handshake replies, pongs and hooks run before the next packet is cut.
                self.service_event();
            }
            match cut {
                Cut::Delivered => {
                    delivered = true;
                    stats::request();
                    if let Some(msg) = slot.take()
                        && let Some(cb) = cb
                    {
                        guard(|| cb(self, msg));
                    }
                }
                Cut::Wait => break,
                Cut::Fail(why) => {
                    stats::protocol_error();
                    let worker = self.inner.mode.worker().map(|w| w.name()).unwrap_or_default();
                    crate::settings::log(&format!(
                        "worker[{worker}:{}] connection {} from {} closed: {why}",
                        std::process::id(),
                        self.id(),
                        self.remote_address().map(|a| a.to_string()).unwrap_or_default()
                    ));
                    // Replies the protocol queued (e.g. an HTTP 400) still go out.
                    self.inner.st.borrow_mut().recv.clear();
                    self.close();
                    break;
                }
            }
        }
        {
            let datagram = self.inner.mode.is_datagram();
            let mut st = self.inner.st.borrow_mut();
            st.in_dispatch = false;
            if datagram {
                // A datagram is framed on its own: an incomplete packet at its end is dropped.
                st.recv.clear();
                st.want = None;
            }
        }
        self.release_empty_recv();
        self.flush();
        let done = {
            let st = self.inner.st.borrow();
            st.status == Status::Closing && st.send.is_empty() && !st.unflushed
        };
        if done {
            self.destroy();
        }
        delivered
    }

    fn next_packet(&self, st: &mut State<P>, slot: &mut Option<P::Message>) -> (Cut, bool, bool) {
        let max = st.limits.max_package_size;
        let State {
            recv,
            send,
            proto,
            want,
            ..
        } = st;
        let mut cx = Context::new(proto, send.tail_raw(), max)
            .with_peer(self.inner.peer.get())
            .with_stopping(stats::stopping());
        let cut = cut_packet(&*self.inner.protocol, recv, want, &mut cx, slot);
        let close = !matches!(cut, Cut::Fail(_)) && cx.close_requested();
        (cut, close, cx.event_raised())
    }
}
