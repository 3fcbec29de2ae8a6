//! Supervision: the master's loop over signals, control messages and deadlines; reaping,
//! restarting (with back-off), and stopping.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::channel::Channel;
use super::collect::Kind;
use super::{Collect, Master, Phase, QUICK_EXIT, backoff, spawn};
use crate::order::Order;
use crate::panic::PANIC_EXIT_STATUS;
use crate::report::Answer;
use crate::settings;

impl Master {
    pub(super) fn spawn(&mut self, g: usize, s: usize) {
        let daemon = self.daemon;
        let result = UnixStream::pair().and_then(|(mine, theirs)| {
            let pid = spawn::spawn_worker(g, s, self.groups[g].listener.as_ref(), &theirs, daemon)?;
            Ok((pid, Channel::new(mine)?))
        });
        let group = &mut self.groups[g];
        match result {
            Ok((pid, channel)) => {
                self.channels.insert(pid, channel);
                let slot = &mut group.slots[s];
                slot.pid = Some(pid);
                slot.started = Instant::now();
                slot.restart_at = None;
            }
            Err(e) => {
                settings::log(&format!(
                    "Workerman[{}] cannot start a {} process: {e}",
                    self.name, group.spec.name
                ));
                let slot = &mut group.slots[s];
                slot.quick_exits += 1;
                slot.restart_at = Some(Instant::now() + backoff(slot.quick_exits));
            }
        }
    }

    /// Sleeps until a signal, a worker process's message or `timeout`; handles the messages.
    pub(super) fn wait(&mut self, timeout: Duration) {
        let pids: Vec<Pid> = self.channels.keys().copied().collect();
        let ready: Vec<bool> = {
            let mut fds = vec![PollFd::new(self.signals.fd(), PollFlags::POLLIN)];
            for pid in &pids {
                fds.push(PollFd::new(self.channels[pid].stream().as_fd(), PollFlags::POLLIN));
            }
            let ms = timeout.as_millis().min(60_000) as i32;
            let _ = poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX));
            fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect()
        };
        if ready[0] {
            self.signals.drain();
        }
        for (i, pid) in pids.into_iter().enumerate() {
            if !ready[i + 1] {
                continue;
            }
            let Some(channel) = self.channels.get_mut(&pid) else {
                continue;
            };
            match channel.read_answers() {
                Ok(answers) => {
                    for answer in answers {
                        self.answer(pid, answer);
                    }
                }
                // The process is exiting; waitpid will tell.
                Err(_) => {
                    self.channels.remove(&pid);
                }
            }
        }
    }

    pub(super) fn answer(&mut self, pid: Pid, answer: Answer) {
        match answer {
            Answer::Retire { reason } => self.retire(pid, &reason),
            answer => {
                if let Some(c) = self.collect.as_mut() {
                    c.accept(pid, answer);
                }
            }
        }
    }

    pub(super) fn run(&mut self) -> ! {
        loop {
            for order in self.signals.take() {
                self.handle(order);
            }
            self.reap();
            let now = Instant::now();
            if matches!(self.phase, Phase::Running | Phase::Reloading(_)) {
                let due: Vec<(usize, usize)> = self
                    .groups
                    .iter()
                    .enumerate()
                    .flat_map(|(g, grp)| {
                        grp.slots
                            .iter()
                            .enumerate()
                            .filter(|(_, s)| s.pid.is_none() && s.restart_at.is_some_and(|t| t <= now))
                            .map(move |(s, _)| (g, s))
                    })
                    .collect();
                for (g, s) in due {
                    self.spawn(g, s);
                }
                self.continue_reload();
            }
            if let Phase::Stopping { kill_at, .. } = self.phase {
                if self.live().is_empty() {
                    self.exit();
                }
                if kill_at.is_some_and(|t| t <= now) {
                    for pid in self.live() {
                        settings::log(&format!(
                            "Workerman[{}] worker process {pid} still running after stop_timeout; killing it",
                            self.name
                        ));
                        let _ = kill(pid, Signal::SIGKILL);
                    }
                    if let Phase::Stopping { kill_at, .. } = &mut self.phase {
                        *kill_at = None;
                    }
                }
            }
            self.reload_timeouts(now);
            if self.collect.as_ref().is_some_and(Collect::done) {
                let c = self.collect.take().expect("checked");
                self.finish_collect(c);
            }
            self.wait(
                self.next_deadline()
                    .map(|t| t.saturating_duration_since(Instant::now()))
                    .unwrap_or(Duration::from_secs(1)),
            );
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let restarts = self
            .groups
            .iter()
            .flat_map(|g| g.slots.iter())
            .filter(|s| s.pid.is_none())
            .filter_map(|s| s.restart_at);
        let kill_at = match self.phase {
            Phase::Stopping { kill_at, .. } => kill_at,
            _ => None,
        };
        let collect = self.collect.as_ref().map(|c| c.deadline);
        restarts
            .chain(kill_at)
            .chain(self.reload_deadline())
            .chain(collect)
            .min()
    }

    pub(super) fn live(&self) -> Vec<Pid> {
        let mut pids: Vec<Pid> = self
            .groups
            .iter()
            .flat_map(|g| g.slots.iter())
            .filter_map(|s| s.pid)
            .collect();
        pids.extend(self.retiring.keys().copied());
        pids
    }

    /// Gives `order` to every live process.
    pub(super) fn order_all(&self, order: Order) {
        for pid in self.live() {
            let _ = order.send(pid);
        }
    }

    pub(super) fn handle(&mut self, order: Order) {
        match order {
            Order::Stop { graceful } => {
                if let Phase::Stopping { graceful: g, .. } = self.phase
                    // Same request again, or a graceful one while a hard stop is under way: nothing to do.
                    && (g == graceful || (graceful && !g))
                {
                    return;
                }
                let how = if graceful { "gracefully stopping" } else { "stopping" };
                settings::log(&format!("Workerman[{}] {how}", self.name));
                // Ends a reload in progress.
                self.phase = Phase::Stopping {
                    graceful,
                    kill_at: (!graceful).then(|| Instant::now() + settings::get().stop_timeout),
                };
                self.order_all(order);
            }
            Order::Reload { graceful } => self.start_reload(graceful),
            Order::Status => self.start_collect(Kind::Status),
            Order::Connections => self.start_collect(Kind::Connections),
        }
    }

    pub(super) fn reap(&mut self) {
        loop {
            let status = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(s) => s,
            };
            let (pid, raw, reason) = match status {
                WaitStatus::Exited(pid, PANIC_EXIT_STATUS) => (
                    pid,
                    PANIC_EXIT_STATUS << 8,
                    format!("panicked (exit status {PANIC_EXIT_STATUS})"),
                ),
                WaitStatus::Exited(pid, code) => (pid, code << 8, format!("exited with code {code}")),
                WaitStatus::Signaled(pid, sig, _) => {
                    (pid, sig as i32, format!("killed by signal {} ({sig})", sig as i32))
                }
                _ => continue,
            };
            self.exited(pid, raw, &reason);
        }
    }

    pub(super) fn exited(&mut self, pid: Pid, raw: i32, reason: &str) {
        self.channels.remove(&pid);
        if let Some(c) = self.collect.as_mut() {
            c.pending.remove(&pid);
        }
        let stopping = matches!(self.phase, Phase::Stopping { .. });
        if self.retiring.contains_key(&pid) {
            self.finish_reload_of(pid);
        }
        if let Some(g) = self.retiring.remove(&pid) {
            self.groups[g]
                .worker
                .exited(pid.as_raw() as u32, ExitStatus::from_raw(raw));
            if raw != 0 {
                settings::log(&format!("Workerman[{}] retired process {pid} {reason}", self.name));
            }
            return;
        }
        let was_reloading = self.finish_reload_of(pid);
        let Some((g, s)) = self
            .groups
            .iter()
            .enumerate()
            .find_map(|(g, grp)| grp.slots.iter().position(|s| s.pid == Some(pid)).map(|s| (g, s)))
        else {
            return;
        };
        self.groups[g]
            .worker
            .exited(pid.as_raw() as u32, ExitStatus::from_raw(raw));
        let group = &mut self.groups[g];
        *group.exits.entry(raw).or_default() += 1;
        let expected = stopping || was_reloading;
        if raw != 0 || !expected {
            settings::log(&format!(
                "worker[{}:{pid}] {reason}{}",
                group.spec.name,
                if expected { "" } else { " unexpectedly" }
            ));
        }
        let slot = &mut group.slots[s];
        slot.pid = None;
        if stopping {
            return;
        }
        if was_reloading || slot.started.elapsed() >= QUICK_EXIT {
            slot.quick_exits = 0;
            slot.restart_at = Some(Instant::now());
        } else {
            slot.quick_exits += 1;
            let delay = backoff(slot.quick_exits);
            settings::log(&format!(
                "worker[{}] process {s} exited {} time(s) in a row within {QUICK_EXIT:?} of starting; restarting in {delay:?}",
                group.spec.name, slot.quick_exits
            ));
            slot.restart_at = Some(Instant::now() + delay);
        }
    }
}
