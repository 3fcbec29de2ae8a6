//! Signals in the master: handlers only set flags and write to a self-pipe; the master loop
//! polls the pipe with a timeout (its timers), then reads the flags.

use nix::sys::signal::Signal;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a signal asks of the master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    Stop { graceful: bool },
    Reload { graceful: bool },
    Status,
    Connections,
    ChildExited,
}

const HANDLED: [(Signal, Intent); 8] = [
    (Signal::SIGINT, Intent::Stop { graceful: false }),
    (Signal::SIGHUP, Intent::Stop { graceful: false }),
    (Signal::SIGTERM, Intent::Stop { graceful: true }),
    (Signal::SIGUSR1, Intent::Reload { graceful: false }),
    (Signal::SIGQUIT, Intent::Reload { graceful: true }),
    (Signal::SIGUSR2, Intent::Status),
    (Signal::SIGIO, Intent::Connections),
    (Signal::SIGCHLD, Intent::ChildExited),
];

pub(crate) struct Signals {
    flags: Vec<(Intent, Arc<AtomicBool>)>,
    wake: UnixStream,
}

impl Signals {
    pub fn install() -> io::Result<Signals> {
        let (wake, tx) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        let mut flags = Vec::new();
        for (sig, intent) in HANDLED {
            let flag = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(sig as i32, flag.clone())?;
            signal_hook::low_level::pipe::register(sig as i32, tx.try_clone()?)?;
            flags.push((intent, flag));
        }
        Ok(Signals { flags, wake })
    }

    /// The self-pipe: readable when a signal arrived.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// Empties the self-pipe.
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
    }

    /// The intents of the signals received since the last call, in a fixed order.
    pub fn take(&self) -> Vec<Intent> {
        self.flags
            .iter()
            .filter(|(_, f)| f.swap(false, Ordering::SeqCst))
            .map(|(i, _)| *i)
            .collect()
    }
}
