//! The built-in heartbeat: one timer per worker process (not one per connection) walks the
//! worker's connections every interval. A connection that sent a frame since the last tick is
//! alive; one that did not gets a ping, and once silent for the timeout, a close frame (1001) and
//! a close. Per connection this costs a flag and a tick counter in the protocol state.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::protocol::websocket::machine::Phase;
use crate::protocol::websocket::{Outgoing, WebSocket};
use crate::timer::{Timer, TimerId};
use crate::worker::Worker;

/// Starts the heartbeat timer of `worker` in this process.
pub(super) fn start(worker: Worker<WebSocket>, interval: Duration, timeout: Duration) {
    let limit = timeout
        .as_nanos()
        .div_ceil(interval.as_nanos())
        .clamp(1, u16::MAX as u128) as u16;
    let id: Rc<Cell<Option<TimerId>>> = Rc::default();
    let me = id.clone();
    let timer = Timer::repeat(interval, move || {
        if worker.is_stopping() {
            if let Some(id) = me.take() {
                Timer::del(id);
            }
            return;
        }
        for conn in worker.connection_list().iter() {
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
                    conn.send(Outgoing::ping(&b""[..]));
                }
            }
        }
    });
    id.set(Some(timer));
}
