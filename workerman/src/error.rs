//! The crate's one error type.

use std::io;

/// Everything that can go wrong while configuring or running workers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be parsed.
    #[error("invalid address `{address}`: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The address names a transport or protocol this build does not provide yet.
    #[error("`{address}`: {what} is not supported yet")]
    Unsupported {
        /// The address as given.
        address: String,
        /// The missing piece, e.g. `the udp transport`.
        what: String,
    },
    /// Binding or listening failed (address in use, permission denied, ...).
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address as given.
        address: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// `start` while a master of this start file is running.
    #[error("Workerman[{name}] already running (master pid {pid})")]
    AlreadyRunning {
        /// The start file's name.
        name: String,
        /// The running master's pid.
        pid: i32,
    },
    /// A call that needs a running worker process was made outside of one.
    #[error("{0} can only be used inside a worker process (from a callback such as on_worker_start)")]
    NotInWorker(&'static str),
    /// A callback panicked in `Worker::run_standalone` and no error handler was set.
    #[error("a callback {0}")]
    Panicked(crate::panic::PanicReport),
    /// Any other I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
