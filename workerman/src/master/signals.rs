//! Signals in the master: handlers only set flags and write to a self-pipe; the master loop
//! polls the pipe with a timeout (its timers), then reads the flags. Which signal is which order
//! is `order.rs`'s table; SIGCHLD only wakes the loop, which reaps on every turn.

use nix::sys::signal::Signal;

use crate::order::{self, Order};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct Signals {
    flags: Vec<(Order, Arc<AtomicBool>)>,
    wake: UnixStream,
}

impl Signals {
    pub fn install() -> io::Result<Signals> {
        let (wake, tx) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        let mut flags = Vec::new();
        for (sig, order) in order::SIGNALS {
            let flag = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(sig as i32, flag.clone())?;
            signal_hook::low_level::pipe::register(sig as i32, tx.try_clone()?)?;
            flags.push((order, flag));
        }
        signal_hook::low_level::pipe::register(Signal::SIGCHLD as i32, tx)?;
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

    /// The orders received since the last call, in the table's order.
    pub fn take(&self) -> Vec<Order> {
        self.flags
            .iter()
            .filter(|(_, f)| f.swap(false, Ordering::SeqCst))
            .map(|(i, _)| *i)
            .collect()
    }
}
