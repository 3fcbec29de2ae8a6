//! Timeouts: one deadline per connection, kept in one per-process queue served by one task.
//!
//! Where a connection stands is its protocol's [`Phase`] (an HTTP request head in progress, a
//! keep-alive wait, a WebSocket handshake...); its deadline follows from the phase, when the phase
//! began, when bytes last arrived, and its worker's [`Timeouts`]. The connection recomputes it
//! in its own state after each read, dispatch or phase-changing send: a few comparisons, no
//! timer. It has at most one entry in the queue (a B-tree ordered by time), moved only when the
//! deadline comes earlier than the entry; when the entry falls due, the queue asks the
//! connection: if its deadline moved later meanwhile (it received bytes, its request was
//! answered), the entry is put back for the new time; if the deadline passed, its timeout fires.
//! A closing connection takes its entry out. So an idle connection costs one entry (~40 bytes)
//! and one check per timeout period, never a task or a timer of its own, and a busy one costs
//! nothing per read beyond reading the clock.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

use super::{State, Status, TcpConnection};
use crate::protocol::{Phase, Protocol};

/// Default [`Timeouts::handshake`]: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Timeouts::request_head`]: 60 s (nginx's `client_header_timeout`).
pub const DEFAULT_REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`Timeouts::request_body`]: 60 s (nginx's `client_body_timeout`).
pub const DEFAULT_REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`Timeouts::keep_alive`]: 75 s (nginx's `keepalive_timeout`).
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a connection closed by a timeout may take to take its last reply (a 408) before
/// it is dropped without it (nginx's `lingering_timeout`).
const CLOSE_LINGER: Duration = Duration::from_secs(5);

/// The timeouts of a worker's connections, each `None` when off. Set them with
/// [`Worker::set_request_head_timeout`](crate::Worker::set_request_head_timeout) and its
/// siblings; read them with [`Worker::timeouts`](crate::Worker::timeouts).
///
/// Which one applies depends on where a connection stands, as its protocol tells
/// ([`Protocol::phase`]); [`idle`](Self::idle) applies in every phase.
///
/// | timeout | applies while | default | on expiry |
/// |---|---|---|---|
/// | `handshake` | the WebSocket opening handshake is not done (from the connection's start) | 10 s | close |
/// | `request_head` | an HTTP request head is incomplete (from its first byte; for the first request, from the connection's start) | 60 s | `408 Request Timeout`, close |
/// | `request_body` | an HTTP request body is incomplete (between two reads) | 60 s | `408 Request Timeout`, close |
/// | `keep_alive` | an HTTP connection waits for its next request (from the last response) | 75 s | close |
/// | `idle` | nothing was received for that long, any protocol, any phase | off | close |
///
/// A connection whose reading the application paused (`pause_recv`) has no timeout meanwhile,
/// and one waiting for the application (an HTTP request not answered yet, a response being
/// streamed) only the `idle` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The WebSocket opening handshake must be done within this time of the connection's start.
    pub handshake: Option<Duration>,
    /// An HTTP request head must be complete within this time of its first byte.
    pub request_head: Option<Duration>,
    /// An HTTP request body in progress must receive bytes at least this often.
    pub request_body: Option<Duration>,
    /// An HTTP connection is closed after waiting this long for its next request.
    pub keep_alive: Option<Duration>,
    /// A connection is closed after receiving nothing for this long, in any phase.
    pub idle: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            handshake: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            request_head: Some(DEFAULT_REQUEST_HEAD_TIMEOUT),
            request_body: Some(DEFAULT_REQUEST_BODY_TIMEOUT),
            keep_alive: Some(DEFAULT_KEEP_ALIVE_TIMEOUT),
            idle: None,
        }
    }
}

impl Timeouts {
    /// Every timeout off.
    pub const NONE: Timeouts = Timeouts {
        handshake: None,
        request_head: None,
        request_body: None,
        keep_alive: None,
        idle: None,
    };

    /// The timeout of `phase` (not counting `idle`).
    pub fn for_phase(&self, phase: Phase) -> Option<Duration> {
        match phase {
            Phase::Open => None,
            Phase::Handshake => self.handshake,
            Phase::Head => self.request_head,
            Phase::Body => self.request_body,
            Phase::KeepAlive => self.keep_alive,
        }
    }
}

/// A connection's clock: where it stands and since when, when it last received bytes, and its
/// earliest entry in the queue.
#[derive(Debug)]
pub(super) struct Clock {
    /// Whether any timeout applies to this connection (an accepted one whose worker has some).
    pub armed: bool,
    /// The phase when last looked at.
    pub phase: Phase,
    /// When `phase` began (or restarted: a request was delivered).
    pub since: Instant,
    /// When bytes last arrived (or the connection was made).
    pub last_read: Instant,
    /// The time of this connection's entry in the queue, if it has one.
    pub queued: Option<Instant>,
    /// A timeout fired and the connection is closing: it is dropped at `since + CLOSE_LINGER`.
    pub lingering: bool,
}

impl Clock {
    pub fn new(armed: bool) -> Clock {
        let now = Instant::now();
        Clock {
            armed,
            phase: Phase::Open,
            since: now,
            last_read: now,
            queued: None,
            lingering: false,
        }
    }

    /// When the connection times out, with what it is now.
    fn deadline(&self, t: &Timeouts) -> Option<Instant> {
        if self.lingering {
            return Some(self.since + CLOSE_LINGER);
        }
        let phase = match self.phase {
            // Between two reads: the body timer restarts with every read.
            Phase::Body => t.request_body.map(|d| self.since.max(self.last_read) + d),
            p => t.for_phase(p).map(|d| self.since + d),
        };
        let idle = t.idle.map(|d| self.last_read + d);
        match (phase, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Records `deadline` as the entry's time unless the entry is due earlier already (it is
    /// then looked at again when due); the move to make in the queue, if any.
    fn want_queue(&mut self, deadline: Option<Instant>) -> Option<Move> {
        let to = deadline?;
        if self.queued.is_some_and(|q| q <= to) {
            return None;
        }
        let from = self.queued.replace(to);
        Some(Move { from, to })
    }
}

/// A connection's queue entry goes from `from` (none: it had none) to `to`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Move {
    from: Option<Instant>,
    to: Instant,
}

/// What the queue calls when an entry of a connection falls due.
pub(super) trait Expire {
    /// The entry for `at` fell due at `now`: fire the timeout, or queue the later deadline.
    fn expire(self: Rc<Self>, at: Instant, now: Instant);
}

#[derive(Default)]
struct Queue {
    /// (due time, connection id) → the connection.
    entries: BTreeMap<(Instant, u64), Weak<dyn Expire>>,
    /// The queue's task exists (in this thread's event loop).
    running: bool,
    /// When the task wakes up on its own (`None`: only when woken).
    wake_at: Option<Instant>,
    waker: Option<Waker>,
}

thread_local! {
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::default());
}

/// Moves the entry of connection `id`, starting the queue's task if needed.
fn schedule(id: u64, m: Move, conn: Weak<dyn Expire>) {
    let start = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        if let Some(from) = m.from {
            q.entries.remove(&(from, id));
        }
        q.entries.insert((m.to, id), conn);
        if !q.running {
            q.running = true;
            return true;
        }
        if q.wake_at.is_none_or(|w| m.to < w)
            && let Some(w) = q.waker.take()
        {
            w.wake();
        }
        false
    });
    if start {
        tokio::task::spawn_local(serve());
    }
}

/// Takes out the entry of connection `id` (it closed).
pub(super) fn unqueue(id: u64, at: Option<Instant>) {
    if let Some(at) = at {
        let _ = QUEUE.try_with(|q| {
            if let Ok(mut q) = q.try_borrow_mut() {
                q.entries.remove(&(at, id));
            }
        });
    }
}

/// Marks the queue's task gone (its event loop ended) and forgets its entries.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        let _ = QUEUE.try_with(|q| {
            if let Ok(mut q) = q.try_borrow_mut() {
                *q = Queue::default();
            }
        });
    }
}

/// The queue's task: sleeps until the earliest entry is due (or an earlier one arrives), then
/// hands every due entry to its connection.
async fn serve() {
    let _running = Running;
    let mut sleep = Box::pin(tokio::time::sleep_until(Instant::now()));
    loop {
        std::future::poll_fn(|cx| {
            QUEUE.with(|q| {
                let mut q = q.borrow_mut();
                let Some(&(at, _)) = q.entries.keys().next() else {
                    q.wake_at = None;
                    q.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                };
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
                q.wake_at = Some(at);
                q.waker = Some(cx.waker().clone());
                sleep.as_mut().poll(cx)
            })
        })
        .await;
        let now = Instant::now();
        let due: Vec<(Instant, Weak<dyn Expire>)> = QUEUE.with(|q| {
            let mut q = q.borrow_mut();
            let mut due = Vec::new();
            while q.entries.first_key_value().is_some_and(|(k, _)| k.0 <= now) {
                if let Some(((at, _), conn)) = q.entries.pop_first() {
                    due.push((at, conn));
                }
            }
            due
        });
        // Outside the queue's borrow: firing closes connections, which runs user code.
        for (at, conn) in due {
            if let Some(conn) = conn.upgrade() {
                conn.expire(at, now);
            }
        }
    }
}

impl<P: Protocol> TcpConnection<P> {
    /// The worker's timeouts, for an accepted connection.
    fn timeouts(&self) -> Option<Timeouts> {
        self.inner.mode.worker().map(|w| w.timeouts())
    }

    /// Looks at where the connection stands again and moves its deadline: after a read (`read`:
    /// bytes arrived; `delivered`: a message was cut, so a new phase begins even if it has the
    /// same name), and after a send that may have ended a phase (an answered request).
    pub(super) fn rearm(&self, read: bool, delivered: bool) {
        let queue = {
            let mut st = self.inner.st.borrow_mut();
            if !st.clock.armed || st.status != Status::Established || st.clock.lingering {
                return;
            }
            let phase = self.phase_of(&st);
            if !read && !delivered && phase == st.clock.phase {
                return;
            }
            let Some(t) = self.timeouts() else { return };
            if t.idle.is_none() && t.for_phase(phase).is_none() {
                // Nothing to time (a `text://` connection without an idle timeout): no clock.
                st.clock.phase = phase;
                return;
            }
            let now = Instant::now();
            let clock = &mut st.clock;
            if read {
                clock.last_read = now;
            }
            if delivered || phase != clock.phase {
                clock.phase = phase;
                clock.since = now;
            }
            let deadline = clock.deadline(&t);
            clock.want_queue(deadline)
        };
        if let Some(m) = queue {
            self.queue(m);
        }
    }

    fn phase_of(&self, st: &State<P>) -> Phase {
        if st.paused {
            // The application holds the reading: nothing to blame the peer for.
            return Phase::Open;
        }
        match self.inner.protocol.phase(&st.proto, st.recv.len()) {
            // The last response is still being written (a slow reader, a big body): the
            // keep-alive wait starts once it is out.
            Phase::KeepAlive if !st.send.is_empty() || st.unflushed => Phase::Open,
            p => p,
        }
    }

    /// A timeout fired in `phase`: the protocol's last word (HTTP: 408), then close; dropped
    /// for good after [`CLOSE_LINGER`] if the peer does not take it.
    fn fire(&self, phase: Phase) {
        self.send_with(|p, cx| p.timed_out(phase, cx));
        self.close();
        let queue = {
            let mut st = self.inner.st.borrow_mut();
            if st.status != Status::Closing {
                return;
            }
            let now = Instant::now();
            st.clock.lingering = true;
            st.clock.since = now;
            st.clock.want_queue(Some(now + CLOSE_LINGER))
        };
        if let Some(m) = queue {
            self.queue(m);
        }
    }

    fn queue(&self, m: Move) {
        schedule(self.inner.id, m, Rc::downgrade(&self.inner) as Weak<dyn Expire>);
    }
}

impl<P: Protocol> Expire for super::Inner<P> {
    fn expire(self: Rc<Self>, at: Instant, now: Instant) {
        let conn = TcpConnection { inner: self };
        let Some(t) = conn.timeouts() else { return };
        enum Then {
            Nothing,
            Queue(Move),
            Fire(Phase),
            Drop,
        }
        let then = {
            let mut st = conn.inner.st.borrow_mut();
            if st.clock.queued == Some(at) {
                st.clock.queued = None;
            }
            let lingering = st.clock.lingering;
            match st.status {
                Status::Closed => return,
                Status::Closing if !lingering => return,
                _ => {}
            }
            if !lingering {
                // A change nobody reported (pause_recv) counts from now.
                let phase = conn.phase_of(&st);
                if phase != st.clock.phase {
                    st.clock.phase = phase;
                    st.clock.since = now;
                }
            }
            match st.clock.deadline(&t) {
                None => Then::Nothing,
                Some(d) if d > now => st.clock.want_queue(Some(d)).map_or(Then::Nothing, Then::Queue),
                Some(_) if lingering => Then::Drop,
                Some(_) => Then::Fire(st.clock.phase),
            }
        };
        match then {
            Then::Nothing => {}
            Then::Queue(m) => conn.queue(m),
            Then::Fire(phase) => conn.fire(phase),
            Then::Drop => conn.destroy(),
        }
    }
}
