//! `start -d`: detach from the terminal (fork, setsid, fork), send stdio to `stdout_file`, and let
//! the original process exit only once the daemon reports that it started (or why it did not).

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use crate::settings;
use crate::sys;

/// The daemon's end of the start-up report channel.
pub(crate) struct Ready(Option<UnixStream>);

impl Ready {
    /// Tells the waiting terminal process how start-up went.
    pub fn report(&mut self, result: Result<(), String>) {
        if let Some(mut s) = self.0.take() {
            let msg = match result {
                Ok(()) => "ok".to_string(),
                Err(e) => e,
            };
            let _ = s.write_all(msg.as_bytes());
        }
    }
}

/// Returns in the daemon process only; the terminal process exits with the daemon's outcome.
pub(crate) fn daemonize() -> io::Result<Ready> {
    let (mut rx, tx) = UnixStream::pair()?;
    if sys::fork()?.is_some() {
        drop(tx);
        let mut msg = String::new();
        let _ = rx.read_to_string(&mut msg);
        if msg == "ok" {
            std::process::exit(0);
        }
        let why = if msg.is_empty() {
            "the daemon exited during start-up (see the log file)".to_string()
        } else {
            msg
        };
        eprintln!("Workerman[{}] start failed: {why}", settings::start_name());
        std::process::exit(1);
    }
    drop(rx);
    nix::unistd::setsid()?;
    if sys::fork()?.is_some() {
        // The session leader leaves, so the daemon can never reacquire a terminal.
        std::process::exit(0);
    }
    settings::get().daemonized = true;
    let null = OpenOptions::new().read(true).open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(settings::stdout_file())?;
    nix::unistd::dup2_stdout(&out)?;
    nix::unistd::dup2_stderr(&out)?;
    Ok(Ready(Some(tx)))
}
