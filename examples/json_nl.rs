//! A custom protocol in one impl: the manual's JsonNL (one JSON value per line), used as
//! `json_nl://`. Echoes each object back with `"ok": true` added.
//!
//! ```text
//! cargo run --release --example json_nl -- start
//! echo '{"a":1}' | nc -q1 127.0.0.1 2349      # {"a":1,"ok":true}
//! ```
use bytes::Bytes;
use serde_json::Value;
use workerman::Worker;
use workerman::protocol::{Context, Protocol, ProtocolError};

/// JSON text terminated by `\n`.
#[derive(Default)]
struct JsonNl;

impl Protocol for JsonNl {
    const SCHEME: &'static str = "json_nl";
    type Message = Value;
    type Outgoing<'a> = Value;
    type State = ();

    fn input(&self, buf: &[u8], _cx: &mut Context<'_, ()>) -> Result<Option<usize>, ProtocolError> {
        Ok(buf.iter().position(|&b| b == b'\n').map(|i| i + 1))
    }

    fn decode(&self, packet: Bytes, _cx: &mut Context<'_, ()>) -> Result<Option<Value>, ProtocolError> {
        serde_json::from_slice(packet.trim_ascii())
            .map(Some)
            .map_err(|e| ProtocolError::new(format!("bad JSON: {e}")))
    }

    fn encode(&self, msg: Value, cx: &mut Context<'_, ()>) {
        let out = cx.out();
        out.extend_from_slice(msg.to_string().as_bytes());
        out.extend_from_slice(b"\n");
    }
}

fn main() -> workerman::Result<()> {
    let worker = Worker::<JsonNl>::new("json_nl://0.0.0.0:2349")?;
    worker.set_name("json_nl");
    worker.on_message(|conn, value| {
        let reply = match value {
            Value::Object(mut map) => {
                map.insert("ok".into(), Value::Bool(true));
                Value::Object(map)
            }
            other => {
                serde_json::json!({ "ok": false, "error": "expected an object", "got": other })
            }
        };
        conn.send(reply);
    });
    Worker::run_all()
}
