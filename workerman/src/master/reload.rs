//! `reload`: the reloadable processes are replaced one at a time (the next once the previous
//! one's replacement runs), the others only run `on_worker_reload`; and processes that retire
//! on `max_requests` / `max_memory`, replaced at once while they finish their connections.

use std::collections::VecDeque;
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Master, Phase};
use crate::order::Order;
use crate::settings;

/// The data of the `reloading` phase.
pub(super) struct Reload {
    graceful: bool,
    /// Processes still to be replaced, oldest first.
    pub(super) queue: VecDeque<Pid>,
    /// The process being replaced now, and when to kill it if it has not exited.
    pub(super) current: Option<(Pid, Option<Instant>)>,
}

impl Master {
    /// `reload [-g]` (SIGUSR1 / SIGQUIT): ignored unless running.
    pub(super) fn start_reload(&mut self, graceful: bool) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        settings::log(&format!(
            "Workerman[{}] reloading{}",
            self.name,
            if graceful { " gracefully" } else { "" }
        ));
        crate::worker::master_hooks::fire(crate::worker::master_hooks::Hook::Reload);
        let order = Order::Reload { graceful };
        let mut queue = VecDeque::new();
        for g in &self.groups {
            for pid in g.slots.iter().filter_map(|s| s.pid) {
                if g.spec.reloadable {
                    queue.push_back(pid);
                } else {
                    // Not replaced: the process only runs on_worker_reload.
                    let _ = order.send(pid);
                }
            }
        }
        self.phase = Phase::Reloading(Reload {
            graceful,
            queue,
            current: None,
        });
    }

    /// Takes the next process down once every slot is filled again; back to running when none
    /// is left.
    pub(super) fn continue_reload(&mut self) {
        let Phase::Reloading(r) = &self.phase else {
            return;
        };
        if r.current.is_some() {
            return;
        }
        // Wait until every slot is filled again before taking the next process down.
        if self.groups.iter().any(|g| g.slots.iter().any(|s| s.pid.is_none())) {
            return;
        }
        let live = self.live();
        let Phase::Reloading(r) = &mut self.phase else {
            return;
        };
        while let Some(pid) = r.queue.pop_front() {
            if !live.contains(&pid) {
                continue;
            }
            let deadline = (!r.graceful).then(|| Instant::now() + settings::get().stop_timeout);
            let _ = Order::Reload { graceful: r.graceful }.send(pid);
            r.current = Some((pid, deadline));
            return;
        }
        settings::log(&format!("Workerman[{}] reloaded", self.name));
        self.phase = Phase::Running;
    }

    /// Kills the process being reloaded if it outlived `stop_timeout`.
    pub(super) fn reload_timeouts(&mut self, now: Instant) {
        let Phase::Reloading(r) = &mut self.phase else {
            return;
        };
        if let Some((pid, Some(at))) = r.current
            && at <= now
        {
            settings::log(&format!(
                "Workerman[{}] worker process {pid} did not exit within stop_timeout on reload; killing it",
                self.name
            ));
            let _ = kill(pid, Signal::SIGKILL);
            r.current = Some((pid, None));
        }
    }

    /// When the reload is waiting for `pid`'s exit.
    pub(super) fn reload_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Reloading(r) => r.current.and_then(|(_, t)| t),
            _ => None,
        }
    }

    /// `pid` is gone (or retiring): the reload moves on. Whether it was the one being reloaded.
    pub(super) fn finish_reload_of(&mut self, pid: Pid) -> bool {
        match &mut self.phase {
            Phase::Reloading(r) if r.current.is_some_and(|(p, _)| p == pid) => {
                r.current = None;
                true
            }
            _ => false,
        }
    }

    /// A process passed max_requests or max_memory: start its replacement now; it finishes its
    /// connections and exits by itself.
    pub(super) fn retire(&mut self, pid: Pid, reason: &str) {
        if !matches!(self.phase, Phase::Running | Phase::Reloading(_)) {
            return;
        }
        // The process being reloaded retires by itself: its replacement starts now, and the
        // reload moves on to the next process.
        self.finish_reload_of(pid);
        for (gi, g) in self.groups.iter_mut().enumerate() {
            for slot in &mut g.slots {
                if slot.pid == Some(pid) {
                    settings::log(&format!(
                        "worker[{}:{pid}] retiring ({reason}); starting its replacement",
                        g.spec.name
                    ));
                    slot.pid = None;
                    slot.quick_exits = 0;
                    slot.restart_at = Some(Instant::now());
                    self.retiring.insert(pid, gi);
                    if let Phase::Reloading(r) = &mut self.phase {
                        r.queue.retain(|p| *p != pid);
                    }
                    return;
                }
            }
        }
    }
}
