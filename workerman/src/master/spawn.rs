//! Starting a worker process: fork + exec of the start file's path on disk, with its listener
//! inherited and its role in the environment.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use nix::unistd::Pid;

use crate::process::{ENV_DAEMON, ENV_LISTEN_FD, ENV_WORKER};
use crate::report::ENV_CHANNEL_FD;
use crate::settings::{self, ENV_START_FILE};
use crate::sys;

pub(crate) fn spawn_worker(
    index: usize,
    id: usize,
    listener: Option<&crate::listen::Bound>,
    channel: &UnixStream,
    daemon: bool,
) -> io::Result<Pid> {
    let exe = settings::start_file();
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1));
    cmd.env(ENV_WORKER, format!("{index}:{id}"));
    cmd.env(ENV_START_FILE, exe);
    cmd.stdin(Stdio::null());
    if daemon {
        cmd.env(ENV_DAEMON, "1");
    }
    let mut fds = vec![channel.as_raw_fd()];
    cmd.env(ENV_CHANNEL_FD, channel.as_raw_fd().to_string());
    if let Some(l) = listener {
        cmd.env(ENV_LISTEN_FD, l.as_raw_fd().to_string());
        fds.push(l.as_raw_fd());
    }
    sys::inherit_fds_and_parent_death(&mut cmd, fds, nix::unistd::getpid());
    let child = cmd.spawn()?;
    // The master reaps children itself with waitpid(-1); the handle is not needed.
    Ok(Pid::from_raw(child.id() as i32))
}
