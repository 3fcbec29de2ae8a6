//! The crate's one error type.

/// What a Channel call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The URL is not one this client understands.
    #[error("bad channel URL: {0}")]
    Url(String),
    /// The queue of unsent publishes/enqueues is full (the server is down or too slow).
    #[error("channel backlog full: {pending} bytes waiting (limit {limit})")]
    Backlog {
        /// Bytes waiting.
        pending: usize,
        /// The limit ([`Options::max_pending_bytes`](crate::Options::max_pending_bytes)).
        limit: usize,
    },
    /// The client was closed.
    #[error("channel client closed")]
    Closed,
    /// The operation does not exist on this backend.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// A Redis error.
    #[cfg(feature = "redis")]
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}
