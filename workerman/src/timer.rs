//! Timers on the worker's event loop (Workerman's `Timer::add` / `del` / `delAll`).
//!
//! Timers live in the process that created them: with `count = 4`, a timer added in
//! `on_worker_start` runs four times per tick, once per process (use `worker.id() == 0` to run
//! it once). A late callback delays the next tick instead of firing a burst of missed ones, and
//! a zero interval yields to I/O between calls, so timers never starve connections or signals.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// Identifies a timer for [`Timer::del`]; ids are per process, from 1.
pub type TimerId = u64;

thread_local! {
    static TIMERS: RefCell<HashMap<TimerId, AbortHandle>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<TimerId> = const { Cell::new(1) };
}

/// Per-process timers.
#[derive(Debug, Clone, Copy)]
pub struct Timer;

impl Timer {
    /// Runs `f` every `interval` (`persistent = true`) or once after it; returns the timer's id.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use workerman::Timer;
    /// let id = Timer::add(Duration::from_secs(1), true, || println!("tick"));
    /// Timer::del(id);
    /// ```
    ///
    /// # Panics
    /// Outside a worker process (before `run_all` or in the master): timers need the worker's
    /// event loop, so add them in `on_worker_start` or another callback.
    pub fn add(interval: Duration, persistent: bool, f: impl FnMut() + 'static) -> TimerId {
        if tokio::runtime::Handle::try_current().is_err() {
            panic!("{}", crate::Error::NotInWorker("Timer::add"));
        }
        let id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id + 1);
            id
        });
        let handle = tokio::task::spawn_local(run(id, interval, persistent, f));
        TIMERS.with(|t| t.borrow_mut().insert(id, handle.abort_handle()));
        id
    }

    /// Runs `f` every `interval`: `Timer::add(interval, true, f)`.
    pub fn repeat(interval: Duration, f: impl FnMut() + 'static) -> TimerId {
        Timer::add(interval, true, f)
    }

    /// Runs `f` once after `delay`: `Timer::add(delay, false, f)`.
    pub fn delay(delay: Duration, f: impl FnMut() + 'static) -> TimerId {
        Timer::add(delay, false, f)
    }

    /// Deletes a timer; true if it existed. A timer may delete itself from its own callback.
    pub fn del(id: TimerId) -> bool {
        match TIMERS.with(|t| t.borrow_mut().remove(&id)) {
            Some(h) => {
                h.abort();
                true
            }
            None => false,
        }
    }

    /// Deletes every timer of this process.
    pub fn del_all() {
        let all: Vec<AbortHandle> = TIMERS.with(|t| t.borrow_mut().drain().map(|(_, h)| h).collect());
        for h in all {
            h.abort();
        }
    }

    /// Live timers in this process (one-shot timers leave once fired).
    pub fn count() -> usize {
        TIMERS.try_with(|t| t.borrow().len()).unwrap_or(0)
    }
}

fn alive(id: TimerId) -> bool {
    TIMERS.with(|t| t.borrow().contains_key(&id))
}

async fn run(id: TimerId, interval: Duration, persistent: bool, mut f: impl FnMut()) {
    if !persistent {
        tokio::time::sleep(interval).await;
        TIMERS.with(|t| t.borrow_mut().remove(&id));
        crate::panic::guard(&mut f);
        return;
    }
    if interval.is_zero() {
        loop {
            yield_once().await;
            if !alive(id) {
                return;
            }
            crate::panic::guard(&mut f);
            if !alive(id) {
                return;
            }
        }
    }
    let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        crate::panic::guard(&mut f);
        if !alive(id) {
            return;
        }
    }
}

/// Returns `Pending` once after waking itself: the task goes to the back of the run queue, so
/// every other ready task, and I/O readiness (polled at least every few dozen tasks), runs first.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}
