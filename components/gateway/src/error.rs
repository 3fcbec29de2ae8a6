//! The crate's error type.

/// What can go wrong in the Gateway API and the gateway processes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client_id that is not 20 hex characters.
    #[error("invalid client_id {0:?}: expected 20 hex characters")]
    InvalidClientId(String),
    /// A socket operation failed.
    #[error("{what} {address}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// With whom.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No Register answered with gateway addresses.
    #[error("no Register reachable at {0}")]
    NoRegister(String),
    /// The Redis discovery backend failed.
    #[error("gateway discovery through {0} failed")]
    Discovery(String),
    /// A peer did not answer in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// A peer sent something we cannot understand.
    #[error("bad reply from {address}: {reason}")]
    BadReply {
        /// The peer.
        address: String,
        /// What was wrong.
        reason: String,
    },
    /// An argument the API cannot send (an empty group, a bad address...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The worker has no running event loop or gateway connections (used outside a process).
    #[error("{0}")]
    Config(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
