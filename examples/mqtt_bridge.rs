//! MQTT inside worker processes (manual 1.15.8): a WebSocket ↔ MQTT bridge.
//!
//! Every MQTT message on `workerman/#` goes to every WebSocket client as the text
//! `<topic> <payload>`; a client's text `publish <topic> <payload>` publishes it (QoS 1).
//! `ping` answers `pong <pid>` (which process holds this connection).
//!
//! ```text
//! cargo run --release --example mqtt_bridge -- start
//! websocat ws://127.0.0.1:2364          # then type: publish workerman/hello hi there
//! mosquitto_pub -t workerman/sensors/1 -m 21.5   # every WebSocket client gets "workerman/sensors/1 21.5"
//! ```
//!
//! `MQTT_URL` (default `mqtt://127.0.0.1:1883`; `mqtt://user:password@host:port` logs in). Each
//! process has its own MQTT connection (`rumqttc`, client id `workerman-mqtt_bridge-<pid>`), made
//! in `on_worker_start`, and subscribes to `workerman/#` on every (re)connect — so each process
//! hears every message and hands it to its own WebSocket clients. While the broker is away,
//! `publish` answers `error: MQTT unavailable` and the log says why; the connection comes back by
//! itself.
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use workerman::Worker;
use workerman::protocol::websocket::WebSocket;
use workerman_recipes::{bad_setting, env_or, mqtt_address, redact};

/// This process's MQTT client and whether its connection is up.
#[derive(Default)]
struct Mqtt {
    client: RefCell<Option<AsyncClient>>,
    up: Cell<bool>,
}

fn main() -> workerman::Result<()> {
    let url = env_or("MQTT_URL", "mqtt://127.0.0.1:1883");
    let addr = mqtt_address(&url).unwrap_or_else(|e| bad_setting("MQTT_URL", e));
    let shown = redact(&url);
    let worker = Worker::<WebSocket>::new("websocket://0.0.0.0:2364")?;
    worker.set_name("mqtt_bridge");
    worker.set_count(2);
    let mqtt = Rc::new(Mqtt::default());

    let (state, log_url) = (mqtt.clone(), shown.clone());
    worker.on_worker_start(move |worker| {
        let mut options = MqttOptions::new(
            format!("workerman-mqtt_bridge-{}", std::process::id()),
            addr.host.clone(),
            addr.port,
        );
        options.set_keep_alive(Duration::from_secs(5));
        if let Some((user, password)) = &addr.login {
            options.set_credentials(user.clone(), password.clone());
        }
        // Requests wait in this channel while the connection is down (then `publish` says so).
        let (client, mut events) = AsyncClient::new(options, 256);
        *state.client.borrow_mut() = Some(client.clone());
        let (worker, state, url) = (worker.clone(), state.clone(), log_url.clone());
        workerman::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        workerman::log!("MQTT at {url} connected; subscribing to workerman/#");
                        state.up.set(true);
                        // Not `.await`: this loop is what drains the request channel.
                        if let Err(e) = client.try_subscribe("workerman/#", QoS::AtLeastOnce) {
                            workerman::log!("MQTT at {url}: subscribe: {e}");
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let text = format!("{} {}", p.topic, String::from_utf8_lossy(&p.payload));
                        worker.broadcast(text);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if state.up.replace(false) {
                            workerman::log!("MQTT at {url} unavailable: {e}");
                        }
                        // The next poll reconnects; do not spin while the broker is away.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
    });

    worker.on_message(move |conn, msg| {
        let Some(text) = msg.as_text() else { return };
        if text == "ping" {
            conn.send(format!("pong {}", std::process::id()));
            return;
        }
        let mut parts = text.splitn(3, ' ');
        let (Some("publish"), Some(topic)) = (parts.next(), parts.next().filter(|t| !t.is_empty())) else {
            conn.send("error: usage: publish <topic> <payload>".to_string());
            return;
        };
        let payload = parts.next().unwrap_or("").as_bytes().to_vec();
        let client = mqtt.client.borrow().clone();
        let result = match client {
            Some(c) if mqtt.up.get() => c
                .try_publish(topic, QoS::AtLeastOnce, false, payload)
                .map_err(|e| e.to_string()),
            _ => Err("not connected".to_string()),
        };
        if let Err(e) = result {
            workerman::log!("MQTT at {shown} unavailable: publish to {topic}: {e}");
            conn.send("error: MQTT unavailable".to_string());
        }
    });
    Worker::run_all()
}
