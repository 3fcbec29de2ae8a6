//! # workerman-gateway
//!
//! GatewayWorker for workerman-rs: scale a real-time service over many processes and hosts.
//!
//! ```text
//!  clients ──► Gateway ×N (hold connections, never reload) ◄── BusinessWorker ×M (your code, reloads freely)
//!                 │                                              │
//!                 └──────── Register (discovery, text://:1236) ◄─┘ ◄── GatewayClient (any process)
//! ```
//! * [`Register`]: gateways announce their inner address; workers and clients ask for the list.
//! * [`Gateway`]: accepts clients in any protocol ([`ClientProtocol`]), forwards their events.
//! * [`BusinessWorker`]: runs your [`Events`] for every client event.
//! * [`GatewayClient`] (PHP's `Lib\Gateway` and `GatewayClient`): send to a client, uid, group
//!   or everyone; bind uids; join groups; sessions; queries — from a business worker or from
//!   any tokio program.
//!
//! Wire-compatible with GatewayWorker 4 and the PHP GatewayClient (same frames, same
//! `client_id` form); see the Gateway chapter of the manual (`docs/gateway.md`).

pub mod auth;
mod business;
mod client;
mod client_id;
pub mod client_protocol;
mod discovery;
mod error;
pub mod frame;
mod gateway;
mod index;
pub mod json;
#[cfg(feature = "redis")]
mod lease;
mod php;
mod register;

pub use auth::AuthMode;
pub use business::{BusinessWorker, Context, DEFAULT_SEND_TO_GATEWAY_BUFFER_SIZE, Events, RequestData};
pub use client::GatewayClient;
pub use client_id::ClientId;
pub use client_protocol::ClientProtocol;
pub use error::{Error, Result};
pub use gateway::{
    ClientEvent, DEFAULT_MAX_PENDING_EVENTS, DEFAULT_SEND_TO_CLIENT_BUFFER_SIZE, DEFAULT_SEND_TO_WORKER_BUFFER_SIZE,
    Gateway, RouteRequest,
};
pub use php_serialize;
pub use register::Register;

/// The Gateway API under its GatewayWorker name (`Lib\Gateway`): the same type as [`GatewayClient`].
pub mod api {
    pub use crate::client::GatewayClient as Gateway;
}

/// Writes a line to the workerman log file.
pub(crate) fn log(message: &str) {
    workerman::Worker::<workerman::protocol::Tcp>::log(message);
}

/// The manual's Gateway chapter, compiled as doc tests so its examples stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/gateway.md")]
pub struct GatewayChapter;
