//! The gateway side of the room benchmark (bench/run_gateway.sh): a Register, `GW_ROOM_GATEWAYS`
//! WebSocket gateway processes and `GW_ROOM_WORKERS` business workers. A text message from a
//! client is sent to every client of the cluster (`send_to_all`: one packet per gateway, each
//! gateway encodes once for its clients); `uid:NAME` binds NAME to the sender and answers `bound`
//! (the send_to_uid latency measurement).
//!
//! Settings from the environment: `GW_ROOM_PORT` (client port, 2475), `GW_ROOM_REGISTER`
//! (`127.0.0.1:1240`), `GW_ROOM_START_PORT` (inner ports, 2600), `GW_ROOM_GATEWAYS` (4),
//! `GW_ROOM_WORKERS` (4). A workerman start file:
//!
//! ```text
//! target/release/gw_room start -d
//! target/release/gw_room stop
//! ```

use bytes::Bytes;
use workerman::Worker;
use workerman::protocol::WebSocket;
use workerman_gateway::{BusinessWorker, Context, Events, Gateway, Register};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Room;

impl Events for Room {
    async fn on_message(&self, cx: &mut Context, message: Bytes) {
        if let Some(uid) = message.strip_prefix(b"uid:") {
            let (id, uid) = (cx.client_id().to_owned(), String::from_utf8_lossy(uid).into_owned());
            let _ = cx.gateway().bind_uid(&id, &uid).await;
            let _ = cx.send_to_current_client("bound").await;
            return;
        }
        let _ = cx.gateway().send_to_all(&message, None, &[]).await;
    }
}

fn main() -> workerman::Result<()> {
    let register = env("GW_ROOM_REGISTER", "127.0.0.1:1240");
    Register::new(&format!("text://{register}"))?.set_name("gw_room_register");
    let gateway = Gateway::<WebSocket>::new(&format!("websocket://127.0.0.1:{}", env("GW_ROOM_PORT", "2475")))?;
    gateway.set_name("gw_room_gateway");
    gateway.set_count(env_n("GW_ROOM_GATEWAYS", 4));
    gateway.set_start_port(env_n("GW_ROOM_START_PORT", 2600) as u16);
    gateway.set_register_address([register.clone()]);
    let worker = BusinessWorker::new(Room);
    worker.set_name("gw_room_worker");
    worker.set_count(env_n("GW_ROOM_WORKERS", 4));
    worker.set_register_address([register]);
    Worker::run_all()
}
