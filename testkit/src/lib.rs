//! The test harness of workerman-rs, shared by the tests of every crate in the workspace (a
//! dev-dependency: `workerman-testkit = { path = "../testkit" }`).
//!
//! - [`App`]: an example binary run through its CLI (`start -d`, `status`, `reload`, `stop`) with
//!   its own pid, log and stdout files. Examples listen on fixed ports, so every `App` holds the
//!   [`ExamplesGuard`] while it lives: one example at a time across threads, test binaries and
//!   runners (`cargo test`, `cargo nextest`), whichever crate the test is in. A start that finds
//!   its port taken waits for it, then fails naming the process that holds it.
//! - [`serve`] / [`run`]: in-process servers (`Worker::run_standalone` in a thread) on port 0.
//! - [`test_cert`]: a self-signed certificate for `localhost` / `127.0.0.1`.
//! - [`ws`]: a raw WebSocket client and frame codec that can send what a real client never does.
//! - [`wait_for`], [`connect`]: readiness is polled, never slept.

mod app;
mod guard;
mod procfs;
mod serve;
mod tls;
mod wait;
pub mod ws;

pub use app::{App, examples_dir};
pub use guard::{ExamplesGuard, LOCK_FILE};
pub use procfs::{alive, children, kill, port_holder, port_is_free, started_worker};
pub use serve::{Served, run, serve};
pub use tls::{python_tls_exchange, scratch_dir, test_cert};
pub use wait::{TIMEOUT, WAIT, connect, connect_addr, exchange, wait_for};

/// Whether `CI` is set: a missing service or tool is then a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Skips the rest of a test outside CI (prints one `skipped: REASON` line and returns `true`);
/// fails it in CI, where everything the tests need is installed.
pub fn skip(reason: &str) -> bool {
    assert!(!in_ci(), "CI is set and {reason}");
    eprintln!("skipped: {reason}");
    true
}

/// Whether `tool --version` runs and succeeds.
pub fn have(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
