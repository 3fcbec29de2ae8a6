//! The built-in heartbeat: one timer per worker process (not one per connection) walks the
//! worker's connections every interval. A connection that sent a frame since the last tick is
//! alive; one that did not gets a ping, and once silent for the timeout, a close frame (1001) and
//! a close. Per connection this costs a flag and a tick counter in the protocol state.
//!
//! The walk writes each ping at once ([`TcpConnection::send_now`]): a ping is the only thing its
//! silent connection gets, and waking the connection's task to write it cost more than the write
//! (measured: 100,000 idle connections, where the heartbeat is all the work there is). So that
//! tens of thousands of pings do not hold the event loop in one go, the walk yields to it every
//! [`WALK_SLICE`] connections.
//!
//! [`TcpConnection::send_now`]: crate::TcpConnection

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::protocol::websocket::machine::Phase;
use crate::protocol::websocket::{Outgoing, WebSocket};
use crate::timer::{Timer, TimerId};
use crate::worker::Worker;

/// Connections visited between two yields to the event loop.
const WALK_SLICE: usize = 256;

/// Starts the heartbeat timer of `worker` in this process.
pub(super) fn start(worker: Worker<WebSocket>, interval: Duration, timeout: Duration) {
    let limit = timeout
        .as_nanos()
        .div_ceil(interval.as_nanos())
        .clamp(1, u16::MAX as u128) as u16;
    let id: Rc<Cell<Option<TimerId>>> = Rc::default();
    let me = id.clone();
    // A walk still under way when the next tick comes (a huge worker, a very short interval)
    // is not doubled: that tick is skipped.
    let walking = Rc::new(Cell::new(false));
    let timer = Timer::repeat(interval, move || {
        if worker.is_stopping() {
            if let Some(id) = me.take() {
                Timer::del(id);
            }
            return;
        }
        if walking.replace(true) {
            return;
        }
        let worker = worker.clone();
        let walking = walking.clone();
        tokio::task::spawn_local(async move {
            // Cleared however the walk ends (a panic in a callback, the task dropped at exit).
            let _done = Done(walking);
            let conns = worker.connection_list();
            for (i, conn) in conns.iter().enumerate() {
                if i > 0 && i % WALK_SLICE == 0 {
                    tokio::task::yield_now().await;
                    if worker.is_stopping() {
                        break;
                    }
                }
                let silent = conn.with_protocol_state(|s| {
                    if s.core.phase != Phase::Open || !s.core.open {
                        return None;
                    }
                    if std::mem::take(&mut s.core.seen) {
                        s.core.silent_ticks = 0;
                    } else {
                        s.core.silent_ticks = s.core.silent_ticks.saturating_add(1);
                    }
                    Some(s.core.silent_ticks)
                });
                match silent {
                    Some(0) | None => {}
                    Some(n) if n >= limit => {
                        conn.send(Outgoing::close(1001, "heartbeat timeout"));
                        conn.close();
                    }
                    Some(_) => {
                        conn.send_now(Outgoing::ping(&b""[..]));
                    }
                }
            }
        });
    });
    id.set(Some(timer));
}

/// Marks the walk over when dropped.
struct Done(Rc<Cell<bool>>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.set(false);
    }
}
