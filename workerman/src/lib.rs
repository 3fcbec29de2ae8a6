//! # workerman
//!
//! The Workerman socket framework, in Rust. A start file creates [`Worker`]s — an address such as
//! `"text://0.0.0.0:2348"`, a process count and callbacks — and calls [`Worker::run_all`]. The same
//! binary is the service and its control tool: `./app start -d`, `./app stop`, `./app reload`.
//!
//! ```no_run
//! use workerman::{Worker, protocol::Tcp};
//!
//! fn main() -> workerman::Result<()> {
//!     let worker = Worker::<Tcp>::new("tcp://0.0.0.0:2347")?;
//!     worker.set_count(4);
//!     worker.on_message(|conn, data| {
//!         let mut reply = b"hello ".to_vec();
//!         reply.extend_from_slice(&data);
//!         conn.send(reply);
//!     });
//!     Worker::run_all()
//! }
//! ```
//!
//! Architecture: a master process (no async runtime) binds the listeners and fork+execs `count`
//! worker processes per worker, restarting any that die. Each worker process runs one
//! current-thread tokio event loop: callbacks never race, and can use the async ecosystem through
//! [`spawn`]. Protocols ([`protocol::Protocol`]) cut byte streams into messages without touching
//! sockets.

pub mod address;
pub mod cli;
pub mod connection;
mod error;
mod listen;
pub mod logging;
mod master;
mod order;
mod panic;
mod process;
pub mod protocol;
mod report;
mod runner;
mod service;
mod settings;
pub mod stats;
mod sys;
mod task;
mod timer;
pub mod tls;
mod worker;

pub use address::Transport;
pub use connection::{
    AsyncTcpConnection, AsyncUdpConnection, ConnectionError, SendResult, Status, TcpConnection, UdpConnection,
    broadcast,
};
pub use error::{Error, Result};
pub use panic::{PANIC_EXIT_STATUS, PanicReport};
pub use settings::{DEFAULT_LOG_FILE_MAX_SIZE, DEFAULT_STOP_TIMEOUT, ENV_LOG_FILE, ENV_PID_FILE, ENV_STDOUT_FILE};
pub use task::{StopHold, hold_stop, spawn};
pub use timer::{Timer, TimerId};
pub use worker::{DEFAULT_BACKLOG, GracefulStop, Worker, WorkerRef};

/// The `bytes` crate, whose `Bytes`/`BytesMut` protocols use.
pub use bytes;

/// This crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The version of the Rust compiler that built this crate.
pub const RUSTC_VERSION: &str = env!("WORKERMAN_RUSTC_VERSION");
