//! send_to_uid latency through the gateway cluster of `gw_room`: `--clients` WebSocket clients
//! bind a uid each (`uid:uN`), then a `GatewayClient` (a plain tokio program, Register
//! `--register`) sends `--samples` messages, one at a time, each to the uid of the next client,
//! and times each from the call until that client has the message. Prints
//! `RESULT samples=N p50_us=.. p99_us=.. max_us=..`.
//!
//! ```text
//! gw_uid_latency --addr 127.0.0.1:2475 --register 127.0.0.1:1240 [--clients 100] [--samples 2000]
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use workerman_gateway::GatewayClient;

fn arg(name: &str, default: &str) -> String {
    let mut it = std::env::args();
    while let Some(a) = it.next() {
        if a == name {
            return it.next().unwrap_or_default();
        }
    }
    default.to_owned()
}

async fn next_text<S>(ws: &mut S) -> Option<String>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.to_string()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

fn main() -> ExitCode {
    let addr = arg("--addr", "127.0.0.1:2475");
    let register = arg("--register", "127.0.0.1:1240");
    let clients: usize = arg("--clients", "100").parse().unwrap_or(100);
    let samples: usize = arg("--samples", "2000").parse().unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut conns = Vec::new();
        for i in 0..clients {
            let tcp = TcpStream::connect(&addr).await.expect("connect");
            tcp.set_nodelay(true).ok();
            let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
                .await
                .expect("handshake");
            ws.send(Message::text(format!("uid:u{i}"))).await.expect("send");
            if next_text(&mut ws).await.as_deref() != Some("bound") {
                eprintln!("client {i} was not bound");
                return ExitCode::FAILURE;
            }
            conns.push(ws);
        }
        let gw = GatewayClient::new([register.as_str()]);
        // Warm up: the persistent connection to every gateway.
        let _ = gw.get_all_client_id_count().await;
        let mut lat = Vec::with_capacity(samples);
        for s in 0..samples {
            let i = s % clients;
            let body = format!("m{s}");
            let t0 = Instant::now();
            if let Err(e) = gw.send_to_uid(&[&format!("u{i}")], &body).await {
                eprintln!("send_to_uid: {e}");
                return ExitCode::FAILURE;
            }
            match next_text(&mut conns[i]).await {
                Some(t) if t == body => lat.push(t0.elapsed()),
                other => {
                    eprintln!("client {i} got {other:?}, expected {body}");
                    return ExitCode::FAILURE;
                }
            }
        }
        lat.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "RESULT samples={} p50_us={:.0} p99_us={:.0} max_us={:.0}",
            lat.len(),
            us(lat[lat.len() / 2]),
            us(lat[lat.len() * 99 / 100]),
            us(lat[lat.len() - 1])
        );
        ExitCode::SUCCESS
    })
}
