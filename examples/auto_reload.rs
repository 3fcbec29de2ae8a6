//! FileMonitor: every line is answered with `pid <worker process id>`; touching a file in the
//! watched directory (env `WATCH_DIR`, default the executable's directory) reloads the worker
//! processes, so the answer's pid changes.
//!
//! ```text
//! cargo run --release --example auto_reload -- start
//! printf 'hi\n' | nc -q1 127.0.0.1 2369      # pid 4242
//! touch target/release/examples/x             # "... updated and reload" in the log
//! printf 'hi\n' | nc -q1 127.0.0.1 2369      # pid 4250
//! ```
//!
//! FileMonitor is on in foreground mode only; `AUTO_RELOAD_IN_DAEMON=1` keeps it on with `-d`.
use workerman::protocol::Text;
use workerman::{Worker, log};
use workerman_file_monitor::FileMonitor;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::new("text://0.0.0.0:2369")?;
    worker.set_name("auto_reload");
    worker.set_count(2);
    worker.on_worker_start(|w| log!("auto_reload[{}] started", w.id()));
    worker.on_message(|conn, _line| {
        conn.send(format!("pid {}", std::process::id()));
    });

    let mut monitor = FileMonitor::new();
    if let Some(dir) = std::env::var_os("WATCH_DIR").filter(|d| !d.is_empty()) {
        monitor = monitor.watch(dir);
    }
    let in_daemon = std::env::var_os("AUTO_RELOAD_IN_DAEMON").is_some_and(|v| v == "1");
    monitor.in_daemon(in_daemon).install();
    Worker::run_all()
}
