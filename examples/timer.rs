//! A worker with no listener: logs a line every second, and once after 3 s.
//!
//! ```text
//! cargo run --release --example timer -- start
//! ```
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use workerman::{Timer, Worker, log};

fn main() -> workerman::Result<()> {
    let worker = Worker::without_listener();
    worker.set_name("timer");
    worker.on_worker_start(|w| {
        let ticks = Rc::new(Cell::new(0u64));
        let id = w.id();
        Timer::add(Duration::from_secs(1), true, move || {
            ticks.set(ticks.get() + 1);
            log!("timer[{id}] tick {}", ticks.get());
        });
        Timer::add(Duration::from_secs(3), false, move || {
            log!("timer[{id}] one-shot after 3 s (timers now: {})", Timer::count());
        });
    });
    worker.on_worker_stop(|w| log!("timer[{}] stopping", w.id()));
    Worker::run_all()
}
