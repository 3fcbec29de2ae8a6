//! Whether a worker process has room for another connection: below its `max_connections`
//! (counting TLS handshakes under way). The accept loops wait on it before each `accept`, after
//! the `pause_accept` switch; a closing connection, a finished handshake or a changed setting
//! re-opens it.

use std::cell::Cell;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How often "max_connections reached" is logged at most, while a process stays at its cap.
const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct AcceptGate {
    max: Cell<Option<usize>>,
    /// Sockets accepted that are not connections yet (TLS handshakes under way).
    pending: Cell<usize>,
    changed: Notify,
    logged: Cell<Option<Instant>>,
}

impl AcceptGate {
    pub fn max(&self) -> Option<usize> {
        self.max.get()
    }

    pub fn set_max(&self, max: Option<usize>) {
        self.max.set(max);
        self.changed.notify_waiters();
    }

    /// Whether an `accept` may run now, with `connections` open.
    pub fn is_open(&self, connections: usize) -> bool {
        self.max.get().is_none_or(|max| connections + self.pending.get() < max)
    }

    /// Returns once an `accept` may run; `connections` counts the open ones. `full` is called
    /// when it has to wait (for the log line, at most once a minute).
    pub async fn wait_open(&self, connections: impl Fn() -> usize, full: impl Fn(usize)) {
        loop {
            let changed = self.changed.notified();
            if self.is_open(connections()) {
                return;
            }
            let now = Instant::now();
            if self.logged.get().is_none_or(|at| now.duration_since(at) >= LOG_EVERY) {
                self.logged.set(Some(now));
                full(self.max.get().unwrap_or(0));
            }
            changed.await;
        }
    }

    /// A connection closed (or a handshake ended): an accept waiting for room may go on.
    pub fn room_made(&self) {
        if self.max.get().is_some() {
            self.changed.notify_waiters();
        }
    }

    /// An accepted socket is on its way to becoming a connection (a TLS handshake).
    pub fn pending_started(&self) {
        self.pending.set(self.pending.get() + 1);
    }

    /// It became a connection, or failed.
    pub fn pending_ended(&self) {
        self.pending.set(self.pending.get().saturating_sub(1));
        self.room_made();
    }
}
