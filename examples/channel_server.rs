//! The Channel server (manual 1.15.2) on `frame://0.0.0.0:2206`: pub/sub and work queues for
//! every worker process of every program on this host, byte-compatible with PHP's
//! `Channel\Server` (PHP's `Channel\Client` works against it unchanged).
//!
//! ```text
//! cargo run --release --example channel_server -- start
//! cargo run --release --example channel_publish -- news hello   # publishes one event
//! ```
//! `CHANNEL_SECRET` (optional, our extension) makes clients send that secret first.
//! `CHANNEL_SERVER_ADDR` listens elsewhere (default `frame://0.0.0.0:2206`; scripts and
//! benchmarks use it to stay off the port tests use).
use workerman::Worker;
use workerman_channel::ChannelServer;

fn main() -> workerman::Result<()> {
    let server =
        ChannelServer::new(&std::env::var("CHANNEL_SERVER_ADDR").unwrap_or_else(|_| "frame://0.0.0.0:2206".into()))?;
    if let Ok(secret) = std::env::var("CHANNEL_SECRET") {
        server.set_secret(secret);
    }
    Worker::run_all()
}
