//! Crontab: one job every second in every process, and one every 2 seconds that runs once, in
//! worker process 0 only (the guard the docs recommend). Each run logs a line.
//!
//! ```text
//! cargo run --release --example crontab_demo -- start
//! ```
//!
//! `CRONTAB_TZ` (e.g. `Asia/Shanghai`) sets the time zone of the schedules; default: local.
use workerman::{Worker, log};
use workerman_crontab::{Crontab, TimeZone};

fn main() -> workerman::Result<()> {
    let tz = match std::env::var("CRONTAB_TZ") {
        Ok(name) => TimeZone::named(&name).unwrap_or_else(|e| {
            eprintln!("CRONTAB_TZ: {e}");
            std::process::exit(2)
        }),
        Err(_) => TimeZone::local(),
    };
    let worker = Worker::without_listener();
    worker.set_name("crontab_demo");
    worker.set_count(2);
    worker.on_worker_start(move |w| {
        let id = w.id();
        // Runs in every process: with count 2, two lines a second.
        Crontab::with_time_zone("* * * * * *", tz.clone(), move || {
            log!("crontab_demo[{id}] every second")
        })
        .expect("a valid expression");
        // Once per second pair for the whole service: only worker process 0 creates it.
        if id == 0 {
            let job = Crontab::with_time_zone("*/2 * * * * *", tz.clone(), || {
                log!("crontab_demo[0] every 2 seconds, once")
            })
            .expect("a valid expression");
            log!(
                "crontab_demo[0] `*/2 * * * * *` in {}: next run {:?}",
                tz,
                job.next_run()
            );
        }
    });
    Worker::run_all()
}
