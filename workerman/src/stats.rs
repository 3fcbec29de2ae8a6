//! Per-process counters shown by `status`.

use std::cell::Cell;

use tokio::sync::Notify;

thread_local! {
    static CONNECTIONS: Cell<u64> = const { Cell::new(0) };
    static TOTAL_REQUEST: Cell<u64> = const { Cell::new(0) };
    static SEND_FAIL: Cell<u64> = const { Cell::new(0) };
    static PROTOCOL_ERRORS: Cell<u64> = const { Cell::new(0) };
    static STOPPING: Cell<bool> = const { Cell::new(false) };
    static HOLDS: Cell<u64> = const { Cell::new(0) };
    // Leaked once per thread so waiters can hold a `'static` reference across awaits.
    static CLOSED: &'static Notify = Box::leak(Box::new(Notify::new()));
}

/// A snapshot of this process's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live connections (accepted and outgoing).
    pub connections: u64,
    /// Packets delivered to `on_message` since start.
    pub total_request: u64,
    /// Sends that failed: buffer full, or peer gone.
    pub send_fail: u64,
    /// Connections closed because they sent bad input.
    pub protocol_errors: u64,
    /// Live timers.
    pub timers: u64,
}

/// This process's counters now.
pub fn snapshot() -> Stats {
    Stats {
        connections: CONNECTIONS.with(Cell::get),
        total_request: TOTAL_REQUEST.with(Cell::get),
        send_fail: SEND_FAIL.with(Cell::get),
        protocol_errors: PROTOCOL_ERRORS.with(Cell::get),
        timers: crate::timer::Timer::count() as u64,
    }
}

fn bump(c: &'static std::thread::LocalKey<Cell<u64>>) {
    c.with(|c| c.set(c.get() + 1));
}

pub(crate) fn connection_opened() {
    bump(&CONNECTIONS);
}

pub(crate) fn connection_closed() {
    // `try_with`: a connection may be dropped while the thread's locals are being destroyed.
    let _ = CONNECTIONS.try_with(|c| c.set(c.get().saturating_sub(1)));
    let _ = CLOSED.try_with(|n| n.notify_waiters());
}

pub(crate) fn request() {
    bump(&TOTAL_REQUEST);
}

pub(crate) fn send_fail() {
    bump(&SEND_FAIL);
}

pub(crate) fn protocol_error() {
    bump(&PROTOCOL_ERRORS);
}

/// Waits until no connection is left in this process and no [`crate::StopHold`] is held.
pub(crate) async fn all_closed() {
    let closed: &'static Notify = CLOSED.with(|n| *n);
    loop {
        let notified = closed.notified();
        if CONNECTIONS.with(Cell::get) == 0 && HOLDS.with(Cell::get) == 0 {
            return;
        }
        notified.await;
    }
}

pub(crate) fn hold_taken() {
    bump(&HOLDS);
}

pub(crate) fn hold_released() {
    let _ = HOLDS.try_with(|c| c.set(c.get().saturating_sub(1)));
    let _ = CLOSED.try_with(|n| n.notify_waiters());
}

/// Marks this process as stopping gracefully (see `Context::stopping`).
pub(crate) fn set_stopping() {
    STOPPING.with(|s| s.set(true));
}

pub(crate) fn stopping() -> bool {
    STOPPING.with(Cell::get)
}

/// Standalone runs may follow each other in one thread.
pub(crate) fn clear_stopping() {
    STOPPING.with(|s| s.set(false));
}
