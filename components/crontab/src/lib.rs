//! # workerman-crontab
//!
//! Workerman's crontab for workerman-rs: cron expressions with a seconds field (six fields,
//! seconds first; the classic five are accepted and run at second 0), time zones from the
//! system's tz database, jobs added and removed at run time, and the next run of each.
//!
//! ```no_run
//! use workerman::{Worker, log};
//! use workerman_crontab::{Crontab, TimeZone};
//!
//! fn main() -> workerman::Result<()> {
//!     let worker = Worker::without_listener();
//!     worker.set_name("cron");
//!     worker.on_worker_start(|_| {
//!         Crontab::new("*/5 * * * * *", || log!("every 5 seconds")).unwrap();
//!         let shanghai = TimeZone::named("Asia/Shanghai").unwrap();
//!         Crontab::with_time_zone("0 30 9 * * MON-FRI", shanghai, || log!("09:30 in Shanghai")).unwrap();
//!     });
//!     Worker::run_all()
//! }
//! ```
//!
//! A crontab created in `on_worker_start` runs in **every** process of that worker; see
//! [`Crontab`] and docs/crontab.md for running it once.

mod civil;
mod crontab;
mod expr;
mod next;
mod tz;

pub use crontab::Crontab;
pub use expr::{CronError, Schedule};
pub use tz::{TimeZone, TzError};
