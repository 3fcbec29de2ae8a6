//! The crate's only `unsafe`: process creation, environment edits and libc time. Each block says
//! why it is sound.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Pid};

/// Makes the spawned child keep `fds` open across exec and die (SIGINT) with the master.
pub(crate) fn inherit_fds_and_parent_death(cmd: &mut Command, fds: Vec<RawFd>, master: Pid) {
    let hook = move || -> io::Result<()> {
        for &fd in &fds {
            // SAFETY: `fd` is a listener the master keeps open for its whole life; clearing
            // FD_CLOEXEC only edits this child's descriptor table.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
        }
        nix::sys::prctl::set_pdeathsig(Signal::SIGINT)?;
        // The master may have died between fork and prctl: then nobody would ever signal us.
        if nix::unistd::getppid() != master {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec and only makes async-signal-safe system calls
    // (fcntl, prctl, getppid) and builds errors from raw OS codes: it allocates nothing (the fd
    // list is moved in beforehand).
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// Forks; the parent gets `Some(child pid)`, the child `None`.
pub(crate) fn fork() -> io::Result<Option<Pid>> {
    // SAFETY: called only by the master before it starts any thread or runtime (daemonizing
    // happens first thing in `start -d`), so the child inherits a consistent single-threaded state.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { child } => Ok(Some(child)),
        ForkResult::Child => Ok(None),
    }
}

/// Removes variables from this process's environment.
pub(crate) fn remove_env(keys: &[&str]) {
    for k in keys {
        // SAFETY: done at the start of `run_all` in a worker process, before the runtime and its
        // threads exist; the start file's code before `run_all` is documented not to read these.
        unsafe { std::env::remove_var(k) };
    }
}

/// Sets the kernel-visible name of the process (first 15 bytes; shown by `ps -o comm`, `top`).
pub(crate) fn set_process_name(name: &str) {
    let short: String = name.chars().filter(|c| *c != '\0').take(15).collect();
    if let Ok(c) = CString::new(short) {
        let _ = nix::sys::prctl::set_name(&c);
    }
}

/// Local calendar time of a unix timestamp: (year, month, day, hour, minute, second).
pub(crate) fn local_time(secs: i64) -> (i32, u32, u32, u32, u32, u32) {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: `tm` is plain old data, so all-zero is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the thread-safe variant.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return (1970, 1, 1, 0, 0, 0);
    }
    (
        tm.tm_year + 1900,
        (tm.tm_mon + 1) as u32,
        tm.tm_mday as u32,
        tm.tm_hour as u32,
        tm.tm_min as u32,
        tm.tm_sec as u32,
    )
}

/// Ignores SIGPIPE so writes to closed sockets report EPIPE instead of killing the process.
pub(crate) fn ignore_sigpipe() {
    // SAFETY: SIG_IGN installs no handler code; this is the documented way to opt out of SIGPIPE.
    unsafe {
        let _ = nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn);
    }
}

/// Takes ownership of the listening socket inherited from the master.
/// Marks an inherited descriptor close-on-exec again, so programs the worker spawns don't keep
/// the listening socket or the control channel.
fn cloexec(fd: RawFd) {
    // SAFETY: `fd` was just taken over by this process and stays open while borrowed here.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
}

pub(crate) fn tcp_listener_from_fd(fd: RawFd) -> std::net::TcpListener {
    cloexec(fd);
    use std::os::fd::FromRawFd;
    // SAFETY: the master passes the number of a listening socket it left open (without
    // FD_CLOEXEC) for this process only; nothing else in this process owns that descriptor.
    unsafe { std::net::TcpListener::from_raw_fd(fd) }
}

/// Takes ownership of the control socket inherited from the master.
pub(crate) fn unix_stream_from_fd(fd: RawFd) -> std::os::unix::net::UnixStream {
    cloexec(fd);
    use std::os::fd::FromRawFd;
    // SAFETY: the master passes the number of its socket pair end that it left open (without
    // FD_CLOEXEC) for this process only; nothing else in this process owns that descriptor.
    unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) }
}

/// Takes ownership of an inherited unix listening socket.
pub(crate) fn unix_listener_from_fd(fd: RawFd) -> std::os::unix::net::UnixListener {
    cloexec(fd);
    use std::os::fd::FromRawFd;
    // SAFETY: as for `tcp_listener_from_fd`: the master left this descriptor open for this
    // process only, and nothing else here owns it.
    unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) }
}

/// Takes ownership of an inherited UDP socket.
pub(crate) fn udp_socket_from_fd(fd: RawFd) -> std::net::UdpSocket {
    cloexec(fd);
    use std::os::fd::FromRawFd;
    // SAFETY: as for `tcp_listener_from_fd`: the master left this descriptor open for this
    // process only, and nothing else here owns it.
    unsafe { std::net::UdpSocket::from_raw_fd(fd) }
}
