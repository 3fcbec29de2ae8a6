//! Crontab jobs on the worker process's event loop: each job is one one-shot [`Timer`] to its
//! next run, re-armed after every run.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use workerman::{Timer, TimerId};

use crate::expr::{CronError, Schedule};
use crate::tz::TimeZone;

type Job = Rc<RefCell<dyn FnMut()>>;

struct Entry {
    schedule: Schedule,
    tz: TimeZone,
    name: String,
    job: Job,
    timer: Option<TimerId>,
    next: Option<i64>,
}

thread_local! {
    static JOBS: RefCell<BTreeMap<u64, Entry>> = const { RefCell::new(BTreeMap::new()) };
    static NEXT_ID: std::cell::Cell<u64> = const { std::cell::Cell::new(1) };
}

/// A job run on a cron schedule in this process (Workerman's `Crontab`).
///
/// Create it in `on_worker_start`. **It runs in every process that creates it**: with
/// `set_count(4)`, four copies run. To run it once, create it only where `worker.id() == 0`; to run
/// it once across several servers, take a lock first (e.g. Redis `SET key value NX EX 10`) — see
/// docs/crontab.md.
///
/// ```no_run
/// use workerman::{Worker, log};
/// use workerman_crontab::Crontab;
///
/// let worker = Worker::without_listener();
/// worker.on_worker_start(|w| {
///     if w.id() == 0 {
///         Crontab::new("*/10 * * * * *", || log!("every 10 seconds")).unwrap();
///     }
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Crontab {
    id: u64,
}

fn now_secs_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Crontab {
    /// Runs `job` on `expr` (6 fields, seconds first, or 5) in the local time zone.
    ///
    /// # Panics
    /// Outside a worker process's event loop (it uses [`Timer`]).
    pub fn new(expr: &str, job: impl FnMut() + 'static) -> Result<Crontab, CronError> {
        Crontab::with_time_zone(expr, TimeZone::local(), job)
    }

    /// Runs `job` on `expr` in the time zone `tz` (`TimeZone::named("Asia/Shanghai")`).
    pub fn with_time_zone(expr: &str, tz: TimeZone, job: impl FnMut() + 'static) -> Result<Crontab, CronError> {
        Crontab::named(expr, tz, expr, job)
    }

    /// As [`Crontab::with_time_zone`], with a name for [`Crontab::name`].
    pub fn named(expr: &str, tz: TimeZone, name: &str, job: impl FnMut() + 'static) -> Result<Crontab, CronError> {
        let schedule = Schedule::parse(expr)?;
        let id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id + 1);
            id
        });
        let entry = Entry {
            schedule,
            tz,
            name: name.to_string(),
            job: Rc::new(RefCell::new(job)),
            timer: None,
            next: None,
        };
        JOBS.with(|j| j.borrow_mut().insert(id, entry));
        let after = now_secs_f64().floor() as i64;
        arm(id, after);
        Ok(Crontab { id })
    }

    /// This job's id (unique in this process).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The name given at creation (the expression by default).
    pub fn name(&self) -> Option<String> {
        JOBS.with(|j| j.borrow().get(&self.id).map(|e| e.name.clone()))
    }

    /// When this job runs next; `None` once removed, or if its schedule never comes.
    pub fn next_run(&self) -> Option<SystemTime> {
        let next = JOBS.with(|j| j.borrow().get(&self.id).and_then(|e| e.next))?;
        Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(next).ok()?))
    }

    /// Stops this job (Workerman's `destroy()`); true if it was still scheduled. A job may remove
    /// itself while running.
    pub fn remove(&self) -> bool {
        let Some(entry) = JOBS.with(|j| j.borrow_mut().remove(&self.id)) else {
            return false;
        };
        if let Some(timer) = entry.timer {
            Timer::del(timer);
        }
        true
    }

    /// Every job of this process.
    pub fn all() -> Vec<Crontab> {
        JOBS.with(|j| j.borrow().keys().map(|&id| Crontab { id }).collect())
    }

    /// Removes every job of this process.
    pub fn remove_all() {
        for job in Crontab::all() {
            job.remove();
        }
    }
}

/// Schedules job `id` for its first run after `after` (seconds since the epoch).
fn arm(id: u64, after: i64) {
    let next = JOBS.with(|j| {
        let jobs = j.borrow();
        let e = jobs.get(&id)?;
        Some(e.schedule.next_after_secs(&e.tz, after))
    });
    let Some(next) = next else { return };
    let timer = next.map(|at| {
        let delay = (at as f64 - now_secs_f64()).max(0.0);
        Timer::delay(Duration::from_secs_f64(delay), move || fire(id, at))
    });
    if next.is_none() {
        workerman::log!("Crontab: `{}` never runs", Crontab { id }.name().unwrap_or_default());
    }
    JOBS.with(|j| {
        if let Some(e) = j.borrow_mut().get_mut(&id) {
            e.timer = timer;
            e.next = next;
        }
    });
}

fn fire(id: u64, due: i64) {
    let Some(job) = JOBS.with(|j| j.borrow().get(&id).map(|e| Rc::clone(&e.job))) else {
        return;
    };
    // A late timer (a busy event loop) runs once, then continues from now: missed runs are skipped.
    let now = now_secs_f64().floor() as i64;
    arm(id, due.max(now));
    // The job may remove itself (or others) while it runs: no borrow of JOBS is held here.
    (job.borrow_mut())();
}
