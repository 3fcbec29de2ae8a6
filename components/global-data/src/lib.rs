//! # GlobalData (Workerman manual 1.15.1)
//!
//! A key/value store shared by every worker process, and by several hosts: counters, flags,
//! small shared state. Two backends, one client API ([`GlobalDataClient`]):
//!
//! * the built-in [`GlobalDataServer`] (a Worker on `frame://0.0.0.0:2207`, count 1, not
//!   reloadable), byte-compatible with Workerman's PHP `GlobalData\Server` and
//!   `GlobalData\Client`: PHP and Rust processes can share one store during a migration;
//! * Redis (`redis://host:6379/0`, feature `redis`, on by default) with the same semantics,
//!   for several hosts without a single in-memory server.
//!
//! ```no_run
//! use workerman::{Worker, protocol::Http};
//! use workerman_global_data::{GlobalDataClient, GlobalDataServer};
//!
//! fn main() -> workerman::Result<()> {
//!     GlobalDataServer::new("0.0.0.0:2207")?;
//!     let web = Worker::<Http>::new("http://0.0.0.0:2360")?;
//!     web.set_count(4);
//!     web.on_message(|conn, _req| {
//!         let conn = conn.clone();
//!         workerman::spawn(async move {
//!             let client = GlobalDataClient::shared("127.0.0.1:2207");
//!             match client.increment("hits", 1).await {
//!                 Ok(Some(n)) => conn.send(format!("{}", n.as_int().unwrap_or(0))),
//!                 _ => conn.send("error"),
//!             };
//!         });
//!     });
//!     Worker::run_all()
//! }
//! ```
//!
//! Values are [`php_serialize::Value`]s (null, bool, int, float, strings, arrays); `get_as` and
//! `set_as` carry any serde type. `cas` compares the md5 of the PHP-serialized old value, as
//! PHP does. TTLs on `set`/`add`/`cas` are our extension: a PHP peer never sees them.

mod arith;
mod client;
mod error;
pub mod protocol;
mod server;
mod store;

pub use arith::{Num, Unsupported, increment as php_increment};
pub use client::{DEFAULT_KEEPALIVE, DEFAULT_TIMEOUT, GlobalDataClient, shard_index};
pub use error::{Error, Result};
pub use php_serialize::{Array, Key, Value};
pub use server::{DEFAULT_ADDRESS, GlobalDataServer};
pub use store::{Store, now_ms};

/// Lowercase hex MD5, as PHP's `md5()` returns it.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
