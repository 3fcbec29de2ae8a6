//! `start`: checks the settings, binds the listeners, daemonizes, writes the pid file and starts
//! the first worker processes; and the master's exit.

use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime};

use super::{Group, Master, Phase, Signals, Slot, banner, daemon, pidfile, unix_path, users};
use crate::error::{Error, Result};
use crate::settings;
use crate::worker::{Spec, master_hooks, registry};

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
    let workers = registry::all();
    let specs: Vec<Spec> = workers.iter().map(|w| w.spec()).collect();
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
        match users::check_user(spec.user.as_deref()) {
            Some(warning) => settings::log(&format!("worker[{}] {warning}", spec.name)),
            // Worker processes that switch user still write the log file.
            None => {
                if let Some(user) = &spec.user {
                    users::give_log_file_to(user);
                }
            }
        }
    }
    let mut groups = Vec::new();
    for (worker, spec) in workers.into_iter().zip(specs) {
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
                    users::give_socket_to(&path, user);
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
            worker,
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
        started: SystemTime::now(),
        channels: HashMap::new(),
        retiring: HashMap::new(),
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
    pub(super) fn print_banner(&self) {
        if self.daemon {
            return;
        }
        let specs: Vec<Spec> = self.groups.iter().map(|g| g.spec.clone()).collect();
        print!("{}", banner::render(&specs, "Press Ctrl+C to stop. Start success."));
    }

    pub(super) fn exit(&mut self) -> ! {
        pidfile::remove(&self.pid_file);
        for g in &self.groups {
            if let (Some(crate::listen::Bound::Unix(_)), Some(path)) =
                (&g.listener, g.spec.address.as_ref().and_then(unix_path))
            {
                let _ = std::fs::remove_file(path);
            }
        }
        settings::log(&format!("Workerman[{}] has been stopped", self.name));
        master_hooks::fire(master_hooks::Hook::Stop);
        std::process::exit(0);
    }
}
