//! The workerman side of the line-echo benchmark: one `text://` worker process echoing every line.
//!
//! The listen address comes from the `WM_TEXT_ECHO_ADDR` environment variable (`HOST:PORT`,
//! default `127.0.0.1:2451`); it is read in every process (master and worker), which inherit it.
//! The binary is a workerman start file, driven by its CLI:
//!
//! ```text
//! WM_TEXT_ECHO_ADDR=127.0.0.1:2451 target/release/wm_text_echo start -d
//! target/release/wm_text_echo stop
//! ```
//!
//! The master's pid is in `target/release/workerman.wm_text_echo.pid`.

use workerman::Worker;
use workerman::protocol::Text;

/// Used when `WM_TEXT_ECHO_ADDR` is not set.
const DEFAULT_ADDR: &str = "127.0.0.1:2451";

fn main() -> workerman::Result<()> {
    let addr = std::env::var("WM_TEXT_ECHO_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_string());
    let worker = Worker::<Text>::new(&format!("text://{addr}"))?;
    worker.set_name("text_echo");
    // One process, to compare with the one-thread tokio server.
    worker.set_count(1);
    worker.on_message(|conn, line: String| {
        conn.send(line);
    });
    Worker::run_all()
}
