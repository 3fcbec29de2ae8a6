//! The pid file: the master's pid as decimal ASCII, no newline. Written after the listeners are
//! bound, removed when the master exits.

use std::fs;
use std::io;
use std::path::Path;

use nix::sys::signal::kill;
use nix::unistd::Pid;

pub(crate) fn write(path: &Path, pid: u32) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("pid.tmp");
    fs::write(&tmp, pid.to_string())?;
    fs::rename(&tmp, path)
}

pub(crate) fn read(path: &Path) -> Option<Pid> {
    let text = fs::read_to_string(path).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    (pid > 0).then(|| Pid::from_raw(pid))
}

/// Whether `pid` is a live process (a zombie, exited but not yet reaped, is not).
pub(crate) fn is_alive(pid: Pid) -> bool {
    if kill(pid, None).is_err() {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the command name, which is in parentheses.
        Ok(stat) => stat.rsplit_once(") ").is_none_or(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => true,
    }
}

pub(crate) fn remove(path: &Path) {
    let _ = fs::remove_file(path);
}

/// The pid of the running master of this start file, if the pid file names a live process
/// running the same program (a stale file left by a crash or a reboot is not believed).
pub(crate) fn running_master(path: &Path, start_name: &str) -> Option<Pid> {
    let pid = read(path)?;
    if pid == nix::unistd::getpid() || !is_alive(pid) {
        return None;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
            let argv0 = String::from_utf8_lossy(argv0);
            let base = argv0.rsplit('/').next().unwrap_or_default();
            (base == start_name).then_some(pid)
        }
        // No procfs: trust kill(0).
        Err(_) => Some(pid),
    }
}

/// An exclusive lock on `<pid file>.lock`, released when dropped. The file stays: unlinking it
/// while another `start` waits on it would let a third one lock a new file at the same time.
pub(crate) struct StartLock {
    _lock: nix::fcntl::Flock<fs::File>,
}

/// Takes the start lock, waiting for another `start` of the same start file to finish.
pub(crate) fn lock(pid_file: &Path) -> io::Result<StartLock> {
    if let Some(dir) = pid_file.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut name = pid_file.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    let lock =
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| io::Error::from(e))?;
    Ok(StartLock { _lock: lock })
}
