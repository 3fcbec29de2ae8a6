//! [`ChannelServer`]: the Channel server as an ordinary [`Worker`] (`frame://0.0.0.0:2206`).
//!
//! Each frame is parsed into a [`Command`](crate::wire::Command) and applied to the process's
//! [`State`]. Deliveries are not written one by one: they gather in a per-subscriber buffer and a
//! flush task, spawned once per loop tick, hands each subscriber everything it got in one write.
//!
//! Backpressure instead of loss: while any connection's send buffer is over its limit (a
//! subscriber slower than the publishers), the server stops reading from every connection, so
//! publishers wait (their clients queue, bounded) and no event is dropped. A connection that stays
//! over the limit for [`DEFAULT_SLOW_SUBSCRIBER_TIMEOUT`] (it does not read) is closed with a log
//! line and everyone else carries on. PHP's server instead drops what does not fit a full buffer.

mod state;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use workerman::protocol::Frame;
use workerman::{TcpConnection, Worker};

pub use state::{ConnId, Counters, Outcome, State};

use crate::wire::Command;

/// The default address, as PHP's `new Channel\Server()`.
pub const DEFAULT_ADDRESS: &str = "frame://0.0.0.0:2206";

/// The largest frame accepted by default (PHP's `TcpConnection::$defaultMaxPackageSize`).
pub const DEFAULT_MAX_PACKAGE_SIZE: usize = 10 * 1024 * 1024;

/// How long a connection may stay over its send-buffer limit before it is closed (see
/// [`ChannelServer::set_slow_subscriber_timeout`]).
pub const DEFAULT_SLOW_SUBSCRIBER_TIMEOUT: Duration = Duration::from_secs(10);

/// A Channel server: a [`Worker`] named `ChannelServer`, one process, not reloadable (a reload
/// would lose every subscription and queued item), byte-compatible with PHP's `Channel\Server`.
///
/// ```no_run
/// use workerman::Worker;
/// use workerman_channel::ChannelServer;
///
/// fn main() -> workerman::Result<()> {
///     let _server = ChannelServer::new("frame://0.0.0.0:2206")?;
///     Worker::run_all()
/// }
/// ```
#[derive(Clone)]
pub struct ChannelServer {
    worker: Worker<Frame>,
    shared: Rc<Shared>,
}

struct Shared {
    state: RefCell<State>,
    conns: RefCell<HashMap<ConnId, TcpConnection<Frame>>>,
    flush_scheduled: Cell<bool>,
    /// Connections over their send-buffer limit, with when they went over it.
    full: RefCell<HashMap<ConnId, Instant>>,
    /// Connections with an eviction watch running (at most one each, see `over_limit`).
    watched: RefCell<std::collections::HashSet<ConnId>>,
    slow_timeout: Cell<Duration>,
}

impl ChannelServer {
    /// A server listening on `address`: `frame://ip:port` (or `ip:port`, `tcp://ip:port`), or
    /// `unix:///path/to/socket`.
    pub fn new(address: &str) -> workerman::Result<ChannelServer> {
        let address = normalize_address(address);
        let worker = Worker::<Frame>::new(&address)?;
        worker.set_name("ChannelServer");
        worker.set_count(1);
        worker.set_reloadable(false);
        worker.set_max_package_size(DEFAULT_MAX_PACKAGE_SIZE);
        let shared = Rc::new(Shared {
            state: RefCell::new(State::new(None)),
            conns: RefCell::new(Default::default()),
            flush_scheduled: Cell::new(false),
            full: RefCell::new(HashMap::new()),
            watched: RefCell::new(Default::default()),
            slow_timeout: Cell::new(DEFAULT_SLOW_SUBSCRIBER_TIMEOUT),
        });
        let s = shared.clone();
        worker.on_connect(move |conn| {
            s.state.borrow_mut().open(conn.id());
            s.conns.borrow_mut().insert(conn.id(), conn.clone());
            if !s.full.borrow().is_empty() {
                conn.pause_recv();
            }
        });
        let s = shared.clone();
        worker.on_close(move |conn| {
            s.state.borrow_mut().close(conn.id());
            s.conns.borrow_mut().remove(&conn.id());
            s.drained(conn.id());
        });
        let s = shared.clone();
        worker.on_buffer_full(move |conn| s.over_limit(conn));
        let s = shared.clone();
        worker.on_buffer_drain(move |conn| s.drained(conn.id()));
        let s = shared.clone();
        worker.on_message(move |conn, body| s.on_frame(conn, &body));
        Ok(ChannelServer { worker, shared })
    }

    /// Requires every client to send `auth` with this secret before anything else (our
    /// extension; off by default, as PHP clients cannot send it). A wrong secret, or any other
    /// command first, closes the connection with a log line.
    pub fn set_secret(&self, secret: impl Into<Vec<u8>>) {
        let secret = secret.into();
        *self.shared.state.borrow_mut() = State::new((!secret.is_empty()).then_some(secret));
    }

    /// The largest frame accepted, in bytes (default 10 MiB); a bigger one closes its connection.
    pub fn set_max_package_size(&self, bytes: usize) {
        self.worker.set_max_package_size(bytes);
    }

    /// How long a connection may stay over its send-buffer limit (a subscriber that does not
    /// read) before it is closed (default [`DEFAULT_SLOW_SUBSCRIBER_TIMEOUT`], 10 s). Meanwhile the
    /// server reads from nobody, so nothing is lost; after it, the others carry on.
    pub fn set_slow_subscriber_timeout(&self, timeout: Duration) {
        self.shared.slow_timeout.set(timeout);
    }

    /// The send-buffer limit of each connection (the worker's `max_send_buffer_size`, 1 MiB by
    /// default): above it the server stops reading until the connection drains.
    pub fn set_max_send_buffer_size(&self, bytes: usize) {
        self.worker.set_max_send_buffer_size(bytes);
    }

    /// The underlying worker (name, user, transport, ...). Its `on_connect`, `on_close`,
    /// `on_message`, `on_buffer_full` and `on_buffer_drain` are the server's own: setting them
    /// replaces the server's behaviour.
    pub fn worker(&self) -> &Worker<Frame> {
        &self.worker
    }

    /// Delivery counters of this process.
    pub fn counters(&self) -> Counters {
        self.shared.state.borrow().counters()
    }
}

/// `unix://` with the Frame protocol, as PHP does when the ip contains `unix:`; a bare
/// `host:port` or `tcp://` becomes `frame://`.
fn normalize_address(address: &str) -> String {
    if address.starts_with("unix://") || address.contains("://") && !address.starts_with("tcp://") {
        address.to_string()
    } else {
        format!("frame://{}", address.trim_start_matches("tcp://"))
    }
}

impl Shared {
    /// A connection's send buffer went over its limit: the first one stops all reading. A
    /// connection that drains and fills again many times a second is re-entered each time, but
    /// keeps one watch: it wakes at the deadline of the current episode and closes the
    /// connection only if that episode is still going.
    fn over_limit(self: &Rc<Self>, conn: &TcpConnection<Frame>) {
        let first = {
            let mut full = self.full.borrow_mut();
            let first = full.is_empty();
            // A repeated signal within one episode keeps the episode's start.
            full.entry(conn.id()).or_insert_with(Instant::now);
            first
        };
        if first {
            for c in self.conns.borrow().values() {
                c.pause_recv();
            }
        }
        if !self.watched.borrow_mut().insert(conn.id()) {
            return; // its watch is sleeping and will see this episode
        }
        let me = self.clone();
        let conn = conn.clone();
        workerman::spawn(async move {
            loop {
                let Some(since) = me.full.borrow().get(&conn.id()).copied() else {
                    me.watched.borrow_mut().remove(&conn.id()); // drained or closed
                    return;
                };
                let timeout = me.slow_timeout.get();
                if since.elapsed() < timeout {
                    tokio::time::sleep_until((since + timeout).into()).await;
                    continue;
                }
                Worker::log(&format!(
                    "ChannelServer: connection {} from {} closed: its send buffer stayed full for {:?} \
                     (a subscriber that does not read)",
                    conn.id(),
                    peer(&conn),
                    timeout
                ));
                me.watched.borrow_mut().remove(&conn.id());
                conn.destroy();
                return;
            }
        });
    }

    /// A connection drained (or closed): when none is over its limit any more, reading resumes.
    fn drained(&self, id: ConnId) {
        let last = {
            let mut full = self.full.borrow_mut();
            full.remove(&id).is_some() && full.is_empty()
        };
        if last {
            for c in self.conns.borrow().values() {
                c.resume_recv();
            }
        }
    }

    fn on_frame(self: &Rc<Self>, conn: &TcpConnection<Frame>, body: &[u8]) {
        let outcome = match Command::parse(body) {
            Ok(cmd) => self.state.borrow_mut().handle(conn.id(), cmd),
            Err(bad) => Outcome::Close(bad.0),
        };
        if let Outcome::Close(why) = outcome {
            Worker::log(&format!(
                "ChannelServer: connection {} from {} closed: {why}",
                conn.id(),
                peer(conn)
            ));
            conn.destroy();
        }
        self.schedule_flush();
    }

    /// Writes gathered output once the current batch of reads is handled: one write per
    /// subscriber per loop tick, however many events it got.
    fn schedule_flush(self: &Rc<Self>) {
        if self.flush_scheduled.get() || !self.state.borrow().has_output() {
            return;
        }
        self.flush_scheduled.set(true);
        let me = self.clone();
        workerman::spawn(async move {
            me.flush_scheduled.set(false);
            let out = me.state.borrow_mut().take_output();
            for (id, bytes) in out {
                let conn = me.conns.borrow().get(&id).cloned();
                if let Some(conn) = conn {
                    // One send may take a buffer past its limit (then reading stops until it
                    // drains), so what was gathered before the pause is never refused.
                    conn.send_raw(&bytes);
                }
            }
        });
    }
}

fn peer(conn: &TcpConnection<Frame>) -> String {
    conn.remote_address()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "unix socket".into())
}

#[cfg(test)]
mod tests {
    use super::normalize_address;

    #[test]
    fn addresses() {
        assert_eq!(normalize_address("0.0.0.0:2206"), "frame://0.0.0.0:2206");
        assert_eq!(normalize_address("tcp://0.0.0.0:2206"), "frame://0.0.0.0:2206");
        assert_eq!(normalize_address("frame://0.0.0.0:2206"), "frame://0.0.0.0:2206");
        assert_eq!(normalize_address("unix:///tmp/ch.sock"), "unix:///tmp/ch.sock");
    }
}
