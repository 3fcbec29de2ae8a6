//! # workerman-channel
//!
//! Workerman's Channel component (manual 1.15.2): messages between worker processes and hosts.
//!
//! * [`ChannelServer`] — the server, an ordinary `Worker` on `frame://0.0.0.0:2206`, one process,
//!   not reloadable, byte-compatible with PHP's `Channel\Server` (PHP's `Channel\Client` works
//!   against it unchanged, and [`ChannelClient`] works against PHP's server).
//! * [`ChannelClient`] — per process: [`on`](ChannelClient::on) /
//!   [`publish`](ChannelClient::publish) / [`unsubscribe`](ChannelClient::unsubscribe) for
//!   events, [`watch`](ChannelClient::watch) / [`enqueue`](ChannelClient::enqueue) /
//!   [`reserve`](ChannelClient::reserve) for work queues. It reconnects with back-off (100 ms
//!   doubling to 5 s) and restores subscriptions and watches.
//! * Backends, by URL: the built-in server (`channel://127.0.0.1:2206`) or Redis
//!   (`redis://127.0.0.1:6379/0`, feature `redis`, on by default): pub/sub for events, Streams
//!   with a consumer group and acknowledgement for queues.
//!
//! ```no_run
//! use workerman::{Worker, protocol::Text};
//! use workerman_channel::{ChannelClient, ChannelServer};
//!
//! fn main() -> workerman::Result<()> {
//!     let _server = ChannelServer::new("frame://0.0.0.0:2206")?;
//!     let chat = Worker::<Text>::new("text://0.0.0.0:2350")?;
//!     chat.set_count(4);
//!     chat.on_worker_start(|w| {
//!         let channel = ChannelClient::connect("channel://127.0.0.1:2206").expect("url");
//!         let w = w.clone();
//!         channel.on("say", move |data| {
//!             let line = data.as_str().unwrap_or_default().to_string();
//!             for c in w.connections() {
//!                 c.send(line.as_str());
//!             }
//!         });
//!     });
//!     Worker::run_all()
//! }
//! ```
//! The wire format is in [`wire`]; the user guide is `docs/channel.md`.

mod client;
mod error;
mod server;
pub mod wire;

pub use client::{Backoff, ChannelClient, DEFAULT_CLAIM_TIMEOUT, DEFAULT_MAX_PENDING_BYTES, Options};
pub use error::ChannelError;
pub use php_serialize::{self, Value};
pub use server::{
    ChannelServer, ConnId, Counters, DEFAULT_ADDRESS, DEFAULT_MAX_PACKAGE_SIZE, DEFAULT_SLOW_SUBSCRIBER_TIMEOUT,
    Outcome, State,
};
