//! The crate's one error type.

/// What went wrong talking to a GlobalData backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A server address or backend URL that cannot be used.
    #[error("bad GlobalData address {address:?}: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// Why it was refused.
        reason: String,
    },
    /// Could not connect to a GlobalData server.
    #[error("cannot connect to GlobalData server {address}: {source}")]
    Connect {
        /// The server address.
        address: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The connection failed while the request was in flight (it may or may not have run).
    #[error("GlobalData connection to {address} lost: {reason}")]
    ConnectionLost {
        /// The server address.
        address: String,
        /// What happened.
        reason: String,
    },
    /// No reply within the timeout (the connection stays in step: a late reply is discarded).
    #[error("GlobalData request timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The server refused the request (`bad request`, `bad cmd …`) and closed the connection.
    #[error("GlobalData server refused the request: {0}")]
    Refused(String),
    /// A reply or stored value that does not decode.
    #[error("GlobalData: {0}")]
    Decode(#[from] php_serialize::Error),
    /// A Redis error.
    #[cfg(feature = "redis")]
    #[error("GlobalData Redis backend: {0}")]
    Redis(#[from] redis::RedisError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
