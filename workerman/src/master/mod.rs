//! The master process: binds listeners, spawns and supervises worker processes. No async runtime
//! (tokio is not fork-safe), one thread, a loop over `poll(signal pipe, next deadline)`.
//!
//! Phases, each logged: `starting` → `running` ⇄ `reloading` → `stopping` → `stopped`.
//! A worker process that dies is replaced (its `id` is kept); one that keeps dying within a second
//! of its start is replaced after a growing delay (100 ms doubling to 10 s), never in a spin.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::panic::PANIC_EXIT_STATUS;
use crate::settings;
use crate::worker::{Spec, registry};

mod banner;
mod collect;
mod daemon;
pub(crate) mod pidfile;
mod signals;
mod spawn;

use collect::{Collect, Control, Kind, Overview};
use signals::{Intent, Signals};

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
    spec: Spec,
    listener: Option<crate::listen::Bound>,
    slots: Vec<Slot>,
    /// Raw wait statuses (exit code << 8, or signal number) → count, as `status` shows them.
    exits: BTreeMap<i32, u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Reloading { graceful: bool },
    Stopping { graceful: bool },
}

struct Master {
    groups: Vec<Group>,
    phase: Phase,
    signals: Signals,
    daemon: bool,
    pid_file: PathBuf,
    name: String,
    /// Processes still to be replaced by the reload in progress, oldest first.
    reload_queue: VecDeque<Pid>,
    /// The process being reloaded now, and when to kill it if it has not exited.
    reloading: Option<(Pid, Option<Instant>)>,
    kill_at: Option<Instant>,
    started: SystemTime,
    controls: HashMap<Pid, Control>,
    /// Processes that announced retirement (max_requests / max_memory): already replaced, still
    /// finishing their connections.
    retiring: HashSet<Pid>,
    collect: Option<Collect>,
    seq: u64,
}

/// `start [-d]`: becomes the master. Returns only on a start-up error.
pub(crate) fn run(daemon: bool) -> Result<std::convert::Infallible> {
    let name = settings::start_name();
    let pid_file = settings::pid_file();
    // Serialises concurrent `start`s of the same start file until the pid file is written.
    let start_lock =
        pidfile::lock(&pid_file).map_err(|e| Error::io(format!("cannot lock {}.lock", pid_file.display()), e))?;
    if let Some(pid) = pidfile::running_master(&pid_file, &name) {
        return Err(Error::AlreadyRunning {
            name,
            pid: pid.as_raw(),
        });
    }
    let mode = if daemon { "DAEMON" } else { "DEBUG" };
    settings::log(&format!("Workerman[{name}] start in {mode} mode"));
    let specs: Vec<Spec> = registry::all().iter().map(|w| w.spec()).collect();
    for spec in &specs {
        if let Some(user) = &spec.user
            && nix::unistd::getuid().is_root()
            && !matches!(nix::unistd::User::from_name(user), Ok(Some(_)))
        {
            return Err(Error::io(
                format!("worker[{}]: user `{user}` does not exist", spec.name),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        match banner::check_user(spec.user.as_deref()) {
            Some(warning) => settings::log(&format!("worker[{}] {warning}", spec.name)),
            // Worker processes that switch user still write the log file.
            None => {
                if let Some(user) = &spec.user {
                    banner::give_log_file_to(user);
                }
            }
        }
    }
    let mut groups = Vec::new();
    for spec in specs {
        if let Some(why) = &spec.misfit {
            return Err(Error::Address {
                address: spec.address.as_ref().map(|a| a.to_string()).unwrap_or_default(),
                reason: why.clone(),
            });
        }
        if spec.transport == crate::address::Transport::Ssl {
            // Fail early, in the terminal, on a missing or bad certificate.
            let files = spec.tls.as_ref().ok_or_else(|| Error::Address {
                address: spec.address.as_ref().map(|a| a.to_string()).unwrap_or_default(),
                reason: "the ssl transport needs a certificate and key: call set_tls".into(),
            })?;
            crate::tls::server_config(files)?;
        }
        let listener = match &spec.address {
            Some(addr) if spec.reuse_port && spec.transport != crate::address::Transport::Unix => {
                // Fail early, in the terminal, if the port is taken by someone else.
                drop(crate::listen::bind(addr, spec.transport, true, spec.backlog)?);
                None
            }
            Some(addr) => {
                let bound = crate::listen::bind(addr, spec.transport, false, spec.backlog)?;
                if let (crate::listen::Bound::Unix(_), Some(user), Some(path)) = (&bound, &spec.user, unix_path(addr)) {
                    banner::give_socket_to(&path, user);
                }
                Some(bound)
            }
            None => None,
        };
        let slots = (0..spec.count)
            .map(|_| Slot {
                pid: None,
                started: Instant::now(),
                quick_exits: 0,
                restart_at: None,
            })
            .collect();
        groups.push(Group {
            spec,
            listener,
            slots,
            exits: BTreeMap::new(),
        });
    }
    let mut ready = if daemon {
        Some(daemon::daemonize().map_err(|e| Error::io("cannot daemonize", e))?)
    } else {
        None
    };
    crate::sys::ignore_sigpipe();
    let signals = Signals::install().map_err(|e| Error::io("cannot install signal handlers", e))?;
    if let Err(e) = pidfile::write(&pid_file, std::process::id()) {
        let err = Error::io(format!("cannot write pid file {}", pid_file.display()), e);
        if let Some(r) = ready.as_mut() {
            r.report(Err(err.to_string()));
        }
        return Err(err);
    }
    drop(start_lock);
    crate::sys::set_process_name(&format!("wm master {name}"));
    let mut master = Master {
        groups,
        phase: Phase::Running,
        signals,
        daemon,
        pid_file,
        name,
        reload_queue: VecDeque::new(),
        reloading: None,
        kill_at: None,
        started: SystemTime::now(),
        controls: HashMap::new(),
        retiring: HashSet::new(),
        collect: None,
        seq: 0,
    };
    master.print_banner();
    for g in 0..master.groups.len() {
        for s in 0..master.groups[g].slots.len() {
            master.spawn(g, s);
        }
    }
    if let Some(r) = ready.as_mut() {
        r.report(Ok(()));
    }
    settings::log(&format!("Workerman[{}] running", master.name));
    master.run()
}

impl Master {
    fn print_banner(&self) {
        if self.daemon {
            return;
        }
        let specs: Vec<Spec> = self.groups.iter().map(|g| g.spec.clone()).collect();
        print!("{}", banner::render(&specs, "Press Ctrl+C to stop. Start success."));
    }

    fn spawn(&mut self, g: usize, s: usize) {
        let daemon = self.daemon;
        let result = UnixStream::pair().and_then(|(mine, theirs)| {
            let pid = spawn::spawn_worker(g, s, self.groups[g].listener.as_ref(), &theirs, daemon)?;
            Ok((pid, Control::new(mine)?))
        });
        let group = &mut self.groups[g];
        match result {
            Ok((pid, control)) => {
                self.controls.insert(pid, control);
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

    /// Sleeps until a signal, a control message or `timeout`; handles control messages.
    fn wait(&mut self, timeout: Duration) {
        let pids: Vec<Pid> = self.controls.keys().copied().collect();
        let ready: Vec<bool> = {
            let mut fds = vec![PollFd::new(self.signals.fd(), PollFlags::POLLIN)];
            for pid in &pids {
                fds.push(PollFd::new(self.controls[pid].stream().as_fd(), PollFlags::POLLIN));
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
            let Some(control) = self.controls.get_mut(&pid) else {
                continue;
            };
            match control.read_lines() {
                Ok(lines) => {
                    for line in lines {
                        self.control_message(pid, &line);
                    }
                }
                // The process is exiting; waitpid will tell.
                Err(_) => {
                    self.controls.remove(&pid);
                }
            }
        }
    }

    fn control_message(&mut self, pid: Pid, line: &str) {
        if let Some(reason) = line.strip_prefix("retire ") {
            self.retire(pid, reason);
        } else if let Some(c) = self.collect.as_mut() {
            c.accept(pid, line);
        }
    }

    /// A process passed max_requests or max_memory: start its replacement now; it finishes its
    /// connections and exits by itself.
    fn retire(&mut self, pid: Pid, reason: &str) {
        if !matches!(self.phase, Phase::Running | Phase::Reloading { .. }) {
            return;
        }
        // The process being reloaded retires by itself: its replacement starts now, and the
        // reload moves on to the next process.
        if self.reloading.is_some_and(|(p, _)| p == pid) {
            self.reloading = None;
        }
        for g in &mut self.groups {
            for slot in &mut g.slots {
                if slot.pid == Some(pid) {
                    settings::log(&format!(
                        "worker[{}:{pid}] retiring ({reason}); starting its replacement",
                        g.spec.name
                    ));
                    slot.pid = None;
                    slot.quick_exits = 0;
                    slot.restart_at = Some(Instant::now());
                    self.retiring.insert(pid);
                    self.reload_queue.retain(|p| *p != pid);
                    return;
                }
            }
        }
    }

    fn start_collect(&mut self, kind: Kind) {
        if self.collect.as_ref().is_some_and(|c| c.kind == kind) {
            return;
        }
        if let Some(previous) = self.collect.take() {
            self.finish_collect(previous);
        }
        self.seq += 1;
        let c = Collect::new(kind, self.seq, self.live());
        let line = c.request_line();
        for pid in &c.pending {
            if let Some(control) = self.controls.get_mut(pid) {
                control.send(&line);
            }
        }
        self.collect = Some(c);
    }

    fn finish_collect(&mut self, c: Collect) {
        let result = match c.kind {
            Kind::Status => {
                let workers = self
                    .groups
                    .iter()
                    .map(|g| {
                        let listen = g
                            .spec
                            .address
                            .as_ref()
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| "none".into());
                        (g.spec.name.clone(), listen, g.spec.count, &g.exits)
                    })
                    .collect();
                let mut processes: Vec<(Pid, usize, usize)> = Vec::new();
                for (gi, g) in self.groups.iter().enumerate() {
                    for (si, slot) in g.slots.iter().enumerate() {
                        if let Some(pid) = slot.pid {
                            processes.push((pid, gi, si));
                        }
                    }
                }
                processes.sort();
                let overview = Overview {
                    started: self.started,
                    daemon: self.daemon,
                    workers,
                    processes,
                };
                collect::write_status(&crate::control::status_file(&self.pid_file), &overview, &c)
            }
            Kind::Connections => collect::write_connections(&crate::control::connections_file(&self.pid_file), &c),
        };
        if let Err(e) = result {
            settings::log(&format!("Workerman[{}] cannot write the report: {e}", self.name));
        }
    }

    fn run(&mut self) -> ! {
        loop {
            for intent in self.signals.take() {
                self.handle(intent);
            }
            self.reap();
            let now = Instant::now();
            if matches!(self.phase, Phase::Running | Phase::Reloading { .. }) {
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
            if let Phase::Stopping { .. } = self.phase {
                if self.live().is_empty() {
                    self.exit();
                }
                if self.kill_at.is_some_and(|t| t <= now) {
                    for pid in self.live() {
                        settings::log(&format!(
                            "Workerman[{}] worker process {pid} still running after stop_timeout; killing it",
                            self.name
                        ));
                        let _ = kill(pid, Signal::SIGKILL);
                    }
                    self.kill_at = None;
                }
            }
            if let Some((pid, Some(at))) = self.reloading
                && at <= now
            {
                settings::log(&format!(
                    "Workerman[{}] worker process {pid} did not exit within stop_timeout on reload; killing it",
                    self.name
                ));
                let _ = kill(pid, Signal::SIGKILL);
                self.reloading = Some((pid, None));
            }
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

    fn next_deadline(&self) -> Option<Instant> {
        let restarts = self
            .groups
            .iter()
            .flat_map(|g| g.slots.iter())
            .filter(|s| s.pid.is_none())
            .filter_map(|s| s.restart_at);
        let reload = self.reloading.and_then(|(_, t)| t);
        let collect = self.collect.as_ref().map(|c| c.deadline);
        restarts.chain(self.kill_at).chain(reload).chain(collect).min()
    }

    fn live(&self) -> Vec<Pid> {
        let mut pids: Vec<Pid> = self
            .groups
            .iter()
            .flat_map(|g| g.slots.iter())
            .filter_map(|s| s.pid)
            .collect();
        pids.extend(self.retiring.iter().copied());
        pids
    }

    fn signal_all(&self, sig: Signal) {
        for pid in self.live() {
            let _ = kill(pid, sig);
        }
    }

    fn handle(&mut self, intent: Intent) {
        match intent {
            Intent::Stop { graceful } => {
                if let Phase::Stopping { graceful: g } = self.phase
                    // Same request again, or a graceful one while a hard stop is under way: nothing to do.
                    && (g == graceful || (graceful && !g))
                {
                    return;
                }
                let how = if graceful { "gracefully stopping" } else { "stopping" };
                settings::log(&format!("Workerman[{}] {how}", self.name));
                self.phase = Phase::Stopping { graceful };
                self.reload_queue.clear();
                self.reloading = None;
                self.signal_all(if graceful { Signal::SIGTERM } else { Signal::SIGINT });
                self.kill_at = if graceful {
                    None
                } else {
                    Some(Instant::now() + settings::get().stop_timeout)
                };
            }
            Intent::Reload { graceful } => {
                if self.phase != Phase::Running {
                    return;
                }
                settings::log(&format!(
                    "Workerman[{}] reloading{}",
                    self.name,
                    if graceful { " gracefully" } else { "" }
                ));
                self.phase = Phase::Reloading { graceful };
                let sig = if graceful { Signal::SIGQUIT } else { Signal::SIGUSR1 };
                for g in &self.groups {
                    for pid in g.slots.iter().filter_map(|s| s.pid) {
                        if g.spec.reloadable {
                            self.reload_queue.push_back(pid);
                        } else {
                            // Not replaced: the process only runs on_worker_reload.
                            let _ = kill(pid, sig);
                        }
                    }
                }
            }
            Intent::Status => self.start_collect(Kind::Status),
            Intent::Connections => self.start_collect(Kind::Connections),
            Intent::ChildExited => {}
        }
    }

    fn continue_reload(&mut self) {
        let Phase::Reloading { graceful } = self.phase else {
            return;
        };
        if self.reloading.is_some() {
            return;
        }
        // Wait until every slot is filled again before taking the next process down.
        if self.groups.iter().any(|g| g.slots.iter().any(|s| s.pid.is_none())) {
            return;
        }
        let live = self.live();
        while let Some(pid) = self.reload_queue.pop_front() {
            if !live.contains(&pid) {
                continue;
            }
            let (sig, deadline) = if graceful {
                (Signal::SIGQUIT, None)
            } else {
                (Signal::SIGUSR1, Some(Instant::now() + settings::get().stop_timeout))
            };
            let _ = kill(pid, sig);
            self.reloading = Some((pid, deadline));
            return;
        }
        settings::log(&format!("Workerman[{}] reloaded", self.name));
        self.phase = Phase::Running;
    }

    fn reap(&mut self) {
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

    fn exited(&mut self, pid: Pid, raw: i32, reason: &str) {
        self.controls.remove(&pid);
        if let Some(c) = self.collect.as_mut() {
            c.pending.remove(&pid);
        }
        let stopping = matches!(self.phase, Phase::Stopping { .. });
        if self.reloading.is_some_and(|(p, _)| p == pid) && self.retiring.contains(&pid) {
            self.reloading = None;
        }
        if self.retiring.remove(&pid) {
            if raw != 0 {
                settings::log(&format!("Workerman[{}] retired process {pid} {reason}", self.name));
            }
            return;
        }
        let was_reloading = self.reloading.is_some_and(|(p, _)| p == pid);
        if was_reloading {
            self.reloading = None;
        }
        let Some((g, s)) = self
            .groups
            .iter()
            .enumerate()
            .find_map(|(g, grp)| grp.slots.iter().position(|s| s.pid == Some(pid)).map(|s| (g, s)))
        else {
            return;
        };
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

    fn exit(&mut self) -> ! {
        pidfile::remove(&self.pid_file);
        for g in &self.groups {
            if let (Some(crate::listen::Bound::Unix(_)), Some(path)) =
                (&g.listener, g.spec.address.as_ref().and_then(unix_path))
            {
                let _ = std::fs::remove_file(path);
            }
        }
        settings::log(&format!("Workerman[{}] has been stopped", self.name));
        std::process::exit(0);
    }
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
