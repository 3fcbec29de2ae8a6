//! The master process: binds listeners, spawns and supervises worker processes. No async runtime
//! (tokio is not fork-safe), one thread, a loop over `poll(signal pipe, next deadline)`.
//!
//! Phases, each logged: `starting` → `running` ⇄ `reloading` → `stopping` → `stopped`.
//! A worker process that dies is replaced (its `id` is kept); one that keeps dying within a second
//! of its start is replaced after a growing delay (100 ms doubling to 10 s), never in a spin.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the master's state: groups of process slots, the phase and its data |
//! | `startup.rs` | `start`: checks, binding, daemonizing, the pid file, the first processes; exit |
//! | `supervise.rs` | the loop: signals, control messages, reaping and restarting, stopping |
//! | `reload.rs` | `reload`: one process at a time; processes retiring on their limits |
//! | `collect.rs`, `channel.rs` | `status` and `connections`: asking every process over its channel, writing the report |
//! | `signals.rs`, `spawn.rs`, `daemon.rs`, `pidfile.rs` | signal flags; fork+exec of a worker process; daemonizing; the pid file |
//! | `banner.rs`, `users.rs` | the start banner; the `user` setting (checks, handing it files) |

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use nix::unistd::Pid;

use crate::worker::Spec;

mod banner;
mod channel;
mod collect;
mod daemon;
pub(crate) mod pidfile;
mod reload;
mod signals;
mod spawn;
mod startup;
mod supervise;
mod users;

use channel::Channel;
use collect::Collect;
use signals::Signals;

pub(crate) use startup::run;

/// A worker process that exits sooner than this after its start counts as a quick failure.
const QUICK_EXIT: Duration = Duration::from_secs(1);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

struct Slot {
    pid: Option<Pid>,
    started: Instant,
    quick_exits: u32,
    restart_at: Option<Instant>,
}

struct Group {
    /// The worker of this program the group runs (for `on_worker_exit`).
    worker: std::rc::Rc<dyn crate::worker::AnyWorker>,
    spec: Spec,
    listener: Option<crate::listen::Bound>,
    slots: Vec<Slot>,
    /// Raw wait statuses (exit code << 8, or signal number) → count, as `status` shows them.
    exits: BTreeMap<i32, u64>,
}

/// Where the master is in its life; each phase carries its own data.
enum Phase {
    Running,
    /// Replacing reloadable processes one at a time.
    Reloading(reload::Reload),
    /// Stopping every process; with `kill_at`, the ones still alive then are killed.
    Stopping {
        graceful: bool,
        kill_at: Option<Instant>,
    },
}

struct Master {
    groups: Vec<Group>,
    phase: Phase,
    signals: Signals,
    daemon: bool,
    pid_file: PathBuf,
    name: String,
    started: SystemTime,
    /// Each live process's report channel.
    channels: HashMap<Pid, Channel>,
    /// Processes that announced retirement (max_requests / max_memory): already replaced, still
    /// finishing their connections.
    /// Each with its group's index.
    retiring: HashMap<Pid, usize>,
    collect: Option<Collect>,
    seq: u64,
}

fn backoff(quick_exits: u32) -> Duration {
    let factor = 1u32 << quick_exits.saturating_sub(1).min(10);
    (BACKOFF_START * factor).min(BACKOFF_MAX)
}

fn unix_path(addr: &crate::address::Address) -> Option<PathBuf> {
    match addr.target() {
        crate::address::Target::Unix(p) => Some(p.clone()),
        _ => None,
    }
}
