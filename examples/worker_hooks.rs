//! Worker lifecycle hooks and accept control, driven over a text connection.
//!
//! In the master: `on_worker_exit` (pid and exit status of each worker process that exits),
//! `Worker::on_master_reload`, `Worker::on_master_stop` — each writes a log line. In the worker
//! process, a line received is a command: `pause` / `resume` (`pause_accept` / `resume_accept`),
//! `unlisten`, `workers` (`Worker::all()`), `pid`. Every new connection is greeted with `hi`.
//!
//! ```text
//! cargo run --example worker_hooks -- start
//! nc 127.0.0.1 2390            # hi; then type: workers → hooks:1:text://127.0.0.1:2390,ticker:1:none
//! ```
//!
//! Environment: `WORKER_HOOKS_ADDR` (default `127.0.0.1:2390`), `WORKER_HOOKS_STATUS_FILE` (calls
//! `Worker::set_status_file`), `WORKER_HOOKS_DAEMONIZE=1` (calls `Worker::set_daemonize(true)`:
//! `start` runs as a daemon without `-d`), `WORKER_HOOKS_GRACEFUL=wait` (a graceful stop waits
//! for clients to leave: `GracefulStop::WaitForClient`), `WORKER_HOOKS_STOP_TIMEOUT` (seconds).
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use std::time::Duration;

use workerman::protocol::{Protocol, Text};
use workerman::{GracefulStop, Worker};

/// `on_worker_exit` of both workers: runs in the master.
fn log_exit<P: Protocol>(w: &Worker<P>, pid: u32, status: ExitStatus) {
    Worker::log(&format!(
        "on_worker_exit {} pid={pid} code={:?} signal={:?}",
        w.name(),
        status.code(),
        status.signal()
    ));
}

fn main() -> workerman::Result<()> {
    let addr = std::env::var("WORKER_HOOKS_ADDR").unwrap_or_else(|_| "127.0.0.1:2390".into());
    let worker = Worker::<Text>::new(&format!("text://{addr}"))?;
    worker.set_name("hooks");
    // Each process has its own socket: after `unlisten` in the only process, the port is free.
    worker.set_reuse_port(true);
    worker.on_connect(|conn| {
        conn.send("hi");
    });
    worker.on_message(|conn, line| {
        let w = conn.worker();
        match line.trim() {
            "pause" => {
                w.pause_accept();
                conn.send("paused");
            }
            "resume" => {
                w.resume_accept();
                conn.send("resumed");
            }
            "unlisten" => {
                w.unlisten();
                conn.send("unlistened");
            }
            "workers" => {
                let all: Vec<String> = Worker::all()
                    .iter()
                    .map(|w| {
                        let address = w.address().map(|a| a.to_string()).unwrap_or_else(|| "none".into());
                        format!("{}:{}:{address}", w.name(), w.count())
                    })
                    .collect();
                conn.send(all.join(","));
            }
            "pid" => {
                conn.send(std::process::id().to_string());
            }
            other => {
                conn.send(format!("unknown command {other}"));
            }
        }
    });
    worker.on_worker_exit(log_exit);

    let ticker = Worker::without_listener();
    ticker.set_name("ticker");
    ticker.on_worker_exit(log_exit);

    Worker::on_master_reload(|| Worker::log("on_master_reload"));
    Worker::on_master_stop(|| Worker::log("on_master_stop"));
    if let Ok(path) = std::env::var("WORKER_HOOKS_STATUS_FILE") {
        Worker::set_status_file(path);
    }
    if std::env::var("WORKER_HOOKS_GRACEFUL").as_deref() == Ok("wait") {
        worker.set_graceful_stop(GracefulStop::WaitForClient);
    }
    if let Some(secs) = std::env::var("WORKER_HOOKS_STOP_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Worker::set_stop_timeout(Duration::from_secs(secs));
    }
    if std::env::var("WORKER_HOOKS_DAEMONIZE").as_deref() == Ok("1") {
        Worker::set_daemonize(true);
    }
    Worker::run_all()
}
