//! A command-line tool that publishes one event and exits: the Channel client from a plain tokio
//! program, no worker.
//!
//! ```text
//! cargo run --release --example channel_publish -- <event> <text> [backend URL]
//! cargo run --release --example channel_publish -- cluster_push:broadcast 'hello all'
//! ```
//! The backend defaults to `CHANNEL_BACKEND`, else `channel://127.0.0.1:2206`. `enqueue:<queue>`
//! as the event enqueues the text on that queue instead. Exits with status 1 when nothing could
//! be written within 5 s.
use std::time::Duration;

use workerman_channel::ChannelClient;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(event), Some(text)) = (args.first(), args.get(1)) else {
        eprintln!("usage: channel_publish <event> <text> [channel://host:port | redis://host:port/db]");
        std::process::exit(2);
    };
    let backend = args
        .get(2)
        .cloned()
        .or_else(|| std::env::var("CHANNEL_BACKEND").ok())
        .unwrap_or_else(|| "channel://127.0.0.1:2206".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let ok = local.block_on(&rt, async {
        let client = ChannelClient::connect(&backend).map_err(|e| e.to_string())?;
        match event.strip_prefix("enqueue:") {
            Some(queue) => client.enqueue(queue, text.as_str()),
            None => client.publish(event, text.as_str()),
        }
        .map_err(|e| e.to_string())?;
        tokio::time::timeout(Duration::from_secs(5), client.flush())
            .await
            .map_err(|_| format!("{backend}: not reachable within 5 s"))
    });
    if let Err(e) = ok {
        eprintln!("channel_publish: {e}");
        std::process::exit(1);
    }
}
