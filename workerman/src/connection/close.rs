//! The close lifecycle: `close` (after flushing), `destroy` (now; `on_close` once), `drained`,
//! and [`Live`], the guard that keeps a connection counted and listed exactly while it is open.

use std::rc::Rc;
use std::time::Duration;

use super::registry::{self, Entry};
use super::{Mode, Status, TcpConnection, pool};
use crate::panic::guard;
use crate::protocol::Protocol;
use crate::stats;

/// How long [`TcpConnection::end`] waits for the peer to close after the half-close: 2 s.
pub const DEFAULT_END_LINGER: Duration = Duration::from_secs(2);

/// A live connection: counted in `status` and listed by `connections` from creation to drop,
/// so the counter and the registry can never disagree with each other.
pub(super) struct Live {
    id: u64,
}

impl Live {
    fn new<P: Protocol>(conn: &TcpConnection<P>) -> Live {
        stats::connection_opened();
        registry::register(conn.inner.id, Rc::new(Entry(Rc::downgrade(&conn.inner))));
        Live { id: conn.inner.id }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        stats::connection_closed();
        registry::unregister(self.id);
    }
}

impl<P: Protocol> TcpConnection<P> {
    /// Counts the connection as live (stats, `connections`), once.
    pub(crate) fn count_in(&self) {
        let mut live = self.inner.live.borrow_mut();
        if live.is_none() {
            *live = Some(Live::new(self));
        }
    }

    /// Closes after everything queued is written (Workerman's `close()`); no more reads.
    pub fn close(&self) {
        let mut st = self.inner.st.borrow_mut();
        match st.status {
            Status::Closing | Status::Closed => return,
            Status::Connecting => {
                drop(st);
                return self.destroy();
            }
            Status::Established => {}
        }
        st.status = Status::Closing;
        let flush_later = !st.send.is_empty() || st.unflushed || st.in_dispatch;
        drop(st);
        if flush_later {
            self.inner.wake();
        } else {
            self.destroy();
        }
    }

    /// Ends the connection politely: sends what is queued, then half-closes (the peer reads end
    /// of stream), then waits up to [`DEFAULT_END_LINGER`] (2 s) for the peer to close its side,
    /// and closes. Messages the peer sends meanwhile still reach `on_message`; do not send after
    /// `end()` (the socket no longer writes). `on_close` runs once, when the peer closed or the
    /// linger ran out. Use it where a peer must read everything before seeing the close (a
    /// `close()` right after a large reply can turn into a reset when the peer still sends).
    /// Over TLS (no plain half-close), and before the connection is established, it is
    /// [`close`](Self::close).
    ///
    /// ```no_run
    /// # use workerman::{TcpConnection, protocol::Text};
    /// fn bye(conn: &TcpConnection<Text>) {
    ///     conn.send("bye");
    ///     conn.end();
    /// }
    /// ```
    pub fn end(&self) {
        self.end_with_linger(DEFAULT_END_LINGER);
    }

    /// [`end`](Self::end) with another linger: how long to wait for the peer to close after the
    /// half-close.
    pub fn end_with_linger(&self, linger: Duration) {
        if self.inner.st.borrow().status != Status::Established {
            return self.close();
        }
        let conn = self.clone();
        crate::task::spawn(async move {
            conn.drained().await;
            if conn.status() != Status::Established {
                return;
            }
            let half_closed = {
                let io = conn.inner.io.borrow();
                io.as_ref().map(|io| io.shutdown_write())
            };
            match half_closed {
                Some(Ok(true)) => {}
                // TLS, or the socket is gone: an ordinary close.
                _ => return conn.close(),
            }
            // The driver destroys the connection when it reads the peer's end of stream.
            let peer_closed = async {
                let _waiting = DrainWaiter::new(&conn.inner.drain_waiters);
                loop {
                    let notified = conn.inner.drain.notified();
                    if conn.inner.st.borrow().status == Status::Closed {
                        return;
                    }
                    notified.await;
                }
            };
            let _ = tokio::time::timeout(linger, peer_closed).await;
            conn.destroy();
        });
    }

    /// Closes because the process stops or reloads: the protocol's service says goodbye first
    /// (WebSocket: `1001 Going Away`), then [`close`](Self::close).
    pub(crate) fn going_away(&self) {
        if self.inner.st.borrow().status == Status::Established
            && let Some(service) = self.service()
        {
            guard(|| service.going_away(self));
        }
        self.close();
    }

    /// Sends `msg`, then closes once it is written.
    pub fn close_with<'a>(&self, msg: impl Into<P::Outgoing<'a>>) {
        self.send(msg);
        self.close();
    }

    /// Closes now, dropping anything queued; `on_close` runs (once per connection).
    pub fn destroy(&self) {
        let on_close = {
            let mut st = self.inner.st.borrow_mut();
            if st.status == Status::Closed {
                return;
            }
            if std::mem::take(&mut st.deferred)
                && let Some(io) = self.inner.io.borrow().clone()
            {
                // Sends of this tick were waiting for its end: a send written at once before
                // `destroy` in Workerman still is (best effort, never waiting).
                let _ = super::write::write_now(&io, &mut st, None);
            }
            st.status = Status::Closed;
            st.want = None;
            super::timeout::unqueue(self.inner.id, st.clock.queued.take());
            pool::give_read(std::mem::take(&mut st.recv));
            st.send = super::sendbuf::SendBuf::default();
            st.cb.on_close.clone()
        };
        self.inner.io.borrow_mut().take();
        self.inner.wake();
        self.inner.drain.notify_waiters();
        if let Mode::Accepted(w) = &self.inner.mode {
            w.forget_connection(self.inner.id);
        }
        let live = self.inner.live.borrow_mut().take();
        drop(live);
        if let Some(cb) = on_close {
            guard(|| cb(self));
        }
        // Drop the callbacks and user data (they often hold connections: this breaks the
        // cycles), outside the borrow: their destructors are user code.
        let (cb, data) = {
            let mut st = self.inner.st.borrow_mut();
            if st.status != Status::Closed {
                return; // revived by on_close (reconnect)
            }
            (std::mem::take(&mut st.cb), std::mem::take(&mut st.data))
        };
        drop(cb);
        drop(data);
    }

    /// Waits until everything queued has been handed to the kernel (or the connection closed).
    /// For producers that stream large bodies with backpressure:
    ///
    /// ```no_run
    /// # use workerman::{TcpConnection, protocol::Tcp};
    /// async fn stream(conn: TcpConnection<Tcp>, chunks: Vec<Vec<u8>>) {
    ///     for chunk in chunks {
    ///         if conn.send_buffer_len() >= conn.max_send_buffer_size() {
    ///             conn.drained().await;
    ///         }
    ///         conn.send(chunk);
    ///     }
    /// }
    /// ```
    pub async fn drained(&self) {
        let _waiting = DrainWaiter::new(&self.inner.drain_waiters);
        loop {
            let notified = self.inner.drain.notified();
            {
                let st = self.inner.st.borrow();
                if st.send.is_empty() || st.status == Status::Closed {
                    return;
                }
            }
            notified.await;
        }
    }
}

/// Counts one waiter on a connection's `drain` while it lives.
struct DrainWaiter<'a>(&'a std::cell::Cell<usize>);

impl<'a> DrainWaiter<'a> {
    fn new(count: &'a std::cell::Cell<usize>) -> Self {
        count.set(count.get() + 1);
        DrainWaiter(count)
    }
}

impl Drop for DrainWaiter<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}
