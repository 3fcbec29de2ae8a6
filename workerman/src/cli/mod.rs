//! The start file's command line: `start [-d]`, `stop [-g]`, `restart [-d] [-g]`, `reload [-g]`,
//! `status [-d]`, `connections`, in any order with their flags; the usage text otherwise.

use std::time::{Duration, Instant};

use crate::master::pidfile;
use crate::order::Order;
use crate::settings;

mod print;

/// A parsed command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Start the service; `-d` detaches it as a daemon.
    Start {
        /// `-d`: run as a daemon.
        daemon: bool,
    },
    /// Stop the running service; `-g` lets connections finish.
    Stop {
        /// `-g`: stop gracefully.
        graceful: bool,
    },
    /// Stop, then start again.
    Restart {
        /// `-d`: run as a daemon.
        daemon: bool,
        /// `-g`: stop gracefully.
        graceful: bool,
    },
    /// Replace the worker processes one at a time with the executable now on disk.
    Reload {
        /// `-g`: let each old process finish its connections.
        graceful: bool,
    },
    /// Show the status; `-d` refreshes it live.
    Status {
        /// `-d`: refresh every second.
        live: bool,
        /// `--json`: machine-readable.
        json: bool,
    },
    /// List every connection of every worker process.
    Connections,
}

/// Printed for anything that is not a command.
pub fn usage(program: &str) -> String {
    format!(
        "Usage: {program} <command> [mode]\n\
Commands: \n\
start\t\tStart worker in DEBUG mode.\n\
\t\tUse mode -d to start in DAEMON mode.\n\
stop\t\tStop worker.\n\
\t\tUse mode -g to stop gracefully.\n\
restart\t\tRestart workers.\n\
\t\tUse mode -d to start in DAEMON mode.\n\
\t\tUse mode -g to stop gracefully.\n\
reload\t\tReload codes.\n\
\t\tUse mode -g to reload gracefully.\n\
status\t\tGet worker status.\n\
\t\tUse mode -d to show live status.\n\
connections\tGet worker connections.\n"
    )
}

impl Command {
    /// Finds the command among `args` (the first of the command words) and its flags, anywhere.
    ///
    /// ```
    /// use workerman::cli::Command;
    /// assert_eq!(Command::parse(["-d", "start"]), Some(Command::Start { daemon: true }));
    /// assert_eq!(Command::parse(["stop", "-g"]), Some(Command::Stop { graceful: true }));
    /// assert_eq!(Command::parse(["bogus"]), None);
    /// ```
    pub fn parse<I, S>(args: I) -> Option<Command>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut word = None;
        let (mut d, mut g, mut json) = (false, false, false);
        for a in args {
            match a.as_ref() {
                "-d" => d = true,
                "-g" => g = true,
                "--json" => json = true,
                w @ ("start" | "stop" | "restart" | "reload" | "status" | "connections") if word.is_none() => {
                    word = Some(w.to_string())
                }
                _ => {}
            }
        }
        Some(match word?.as_str() {
            "start" => Command::Start { daemon: d },
            "stop" => Command::Stop { graceful: g },
            "restart" => Command::Restart { daemon: d, graceful: g },
            "reload" => Command::Reload { graceful: g },
            "status" => Command::Status { live: d, json },
            _ => Command::Connections,
        })
    }
}

/// Exit codes of the CLI.
pub(crate) mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const NOT_RUNNING: i32 = 3;
    pub const USAGE: i32 = 64;
}

fn master_or_complain(name: &str) -> Option<nix::unistd::Pid> {
    let pid_file = settings::pid_file();
    let found = pidfile::running_master(&pid_file, name);
    if found.is_none() {
        if let Some(stale) = pidfile::read(&pid_file) {
            settings::log(&format!("Workerman[{name}] master pid:{stale} is not alive"));
        }
        settings::log(&format!("Workerman[{name}] not run"));
    }
    found
}

/// `stop [-g]`: signals the master and waits for it to exit. Returns the exit code.
pub(crate) fn stop(graceful: bool) -> i32 {
    let name = settings::start_name();
    let Some(pid) = master_or_complain(&name) else {
        return exit::NOT_RUNNING;
    };
    let how = if graceful {
        "is gracefully stopping ..."
    } else {
        "is stopping ..."
    };
    settings::log(&format!("Workerman[{name}] {how}"));
    if let Err(e) = (Order::Stop { graceful }).send(pid) {
        settings::log(&format!("Workerman[{name}] cannot signal master {pid}: {e}"));
        return exit::FAILED;
    }
    let limit = settings::get().stop_timeout + Duration::from_secs(3);
    let started = Instant::now();
    while pidfile::is_alive(pid) {
        if !graceful && started.elapsed() > limit {
            settings::log(&format!("Workerman[{name}] stop fail"));
            return exit::FAILED;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    settings::log(&format!("Workerman[{name}] stop success"));
    exit::OK
}

/// `reload [-g]`: signals the master and returns at once.
pub(crate) fn reload(graceful: bool) -> i32 {
    let name = settings::start_name();
    let Some(pid) = master_or_complain(&name) else {
        return exit::NOT_RUNNING;
    };
    settings::log(&format!(
        "Workerman[{name}] reload{}",
        if graceful { " -g" } else { "" }
    ));
    match (Order::Reload { graceful }).send(pid) {
        Ok(()) => exit::OK,
        Err(e) => {
            settings::log(&format!("Workerman[{name}] cannot signal master {pid}: {e}"));
            exit::FAILED
        }
    }
}

/// `status [-d] [--json]`.
pub(crate) fn status(live: bool, json: bool) -> i32 {
    let name = settings::start_name();
    let Some(pid) = master_or_complain(&name) else {
        return exit::NOT_RUNNING;
    };
    print::status(pid, live, json)
}

/// `connections`.
pub(crate) fn connections() -> i32 {
    let name = settings::start_name();
    let Some(pid) = master_or_complain(&name) else {
        return exit::NOT_RUNNING;
    };
    print::connections(pid)
}
