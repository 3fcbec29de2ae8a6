//! The GlobalData server (manual 1.15.1) on 2207: a shared key/value store for every process,
//! byte-compatible with Workerman's PHP `GlobalData\Client` and with `GlobalDataClient`.
//!
//! ```text
//! cargo run --release --example global_data_server -- start
//! # from PHP:  $g = new GlobalData\Client('127.0.0.1:2207'); $g->counter = 10; echo $g->increment('counter');
//! printf '\0\0\0\x4ba:3:{s:3:"cmd";s:9:"increment";s:3:"key";s:7:"counter";s:4:"step";i:1;}' | nc -q1 127.0.0.1 2207 | xxd
//! ```
//! Env: `GLOBAL_DATA_ADDR` (default `0.0.0.0:2207`); `GLOBAL_DATA_SNAPSHOT` = a file to keep
//! the data in across restarts (written at stop and every `GLOBAL_DATA_SNAPSHOT_SECS`, default 60).
use std::time::Duration;

use workerman::Worker;
use workerman_global_data::{DEFAULT_ADDRESS, GlobalDataServer};

fn main() -> workerman::Result<()> {
    let addr = std::env::var("GLOBAL_DATA_ADDR").unwrap_or_else(|_| DEFAULT_ADDRESS.into());
    let server = GlobalDataServer::new(&addr)?;
    if let Some(path) = std::env::var_os("GLOBAL_DATA_SNAPSHOT").filter(|p| !p.is_empty()) {
        let secs = std::env::var("GLOBAL_DATA_SNAPSHOT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        server.set_snapshot(path, Some(Duration::from_secs(secs)));
    }
    Worker::run_all()
}
