//! A queue consumer from the command line: watches a queue and prints each item as a line.
//! With Redis, an item is acknowledged only once its callback returned, so items survive a
//! consumer that dies mid-way (another consumer claims them after the claim timeout).
//!
//! ```text
//! cargo run --release --example channel_watch -- jobs                        # built-in server
//! cargo run --release --example channel_watch -- jobs 'redis://127.0.0.1:6379/0?claim_timeout_ms=5000'
//! cargo run --release --example channel_publish -- enqueue:jobs 'job 1'
//! ```
//! `CHANNEL_WATCH_HANG=1` makes it hang inside the callback after printing the first item (to
//! show what happens when a consumer is killed before it finishes).
use std::io::Write;

use workerman_channel::ChannelClient;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(queue) = args.first().cloned() else {
        eprintln!("usage: channel_watch <queue> [channel://host:port | redis://host:port/db]");
        std::process::exit(2);
    };
    let backend = args
        .get(1)
        .cloned()
        .or_else(|| std::env::var("CHANNEL_BACKEND").ok())
        .unwrap_or_else(|| "channel://127.0.0.1:2206".into());
    let hang = std::env::var_os("CHANNEL_WATCH_HANG").is_some();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tokio::task::LocalSet::new().block_on(&rt, async move {
        let client = ChannelClient::connect(&backend).unwrap_or_else(|e| {
            eprintln!("channel_watch: {e}");
            std::process::exit(2);
        });
        client.watch(&queue, move |item| {
            let text = String::from_utf8_lossy(item.as_bytes().unwrap_or_default()).into_owned();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
            if hang {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        });
        std::future::pending::<()>().await;
    });
}
