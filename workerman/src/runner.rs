//! `run_all`: decides what this process is (worker process, master, or a CLI command).

use crate::cli::{self, Command, exit};
use crate::settings;

pub(crate) fn run_all() -> ! {
    crate::logging::install();
    if let Some(role) = crate::process::role_from_env() {
        crate::process::run_worker(role);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = settings::start_name();
    let Some(cmd) = Command::parse(&args) else {
        print!("{}", cli::usage(&name));
        std::process::exit(exit::USAGE);
    };
    // `Worker::set_daemonize(true)` in the start file: as if `-d` were given.
    let daemonize = settings::get().daemonize;
    let code = match cmd {
        Command::Start { daemon } => start(daemon || daemonize),
        Command::Stop { graceful } => cli::stop(graceful),
        Command::Restart { daemon, graceful } => match cli::stop(graceful) {
            exit::OK | exit::NOT_RUNNING => start(daemon || daemonize),
            code => code,
        },
        Command::Reload { graceful } => cli::reload(graceful),
        Command::Status { live, json } => cli::status(live, json),
        Command::Connections => cli::connections(),
    };
    std::process::exit(code)
}

fn start(daemon: bool) -> i32 {
    match crate::master::run(daemon) {
        Ok(never) => match never {},
        Err(e) => {
            settings::log(&format!("Workerman[{}] start failed: {e}", settings::start_name()));
            exit::FAILED
        }
    }
}
