//! The ecosystem's log facade, routed to Workerman's log: records of the `log` crate — and, with
//! the `tracing` feature, `tracing` events of crates such as redis, lapin or hickory when no
//! `tracing` subscriber is installed — become lines of the log file (and stdout unless
//! daemonized), in Workerman's format:
//!
//! ```text
//! 2026-11-30 14:20:00 pid:4242 WARN mysql_async::conn: connection lost
//! ```
//!
//! [`Worker::run_all`](crate::Worker::run_all) and
//! [`Worker::run_standalone`](crate::Worker::run_standalone) install the bridge unless the
//! application installed a `log` logger of its own first. The level comes from
//! [`ENV_LOG_LEVEL`] (`error`, `warn`, `info` — the default —, `debug`, `trace` or `off`), or from
//! [`set_level`]. Application code writes lines with [`log!`](crate::log!) or with `log::info!`.

use crate::settings;

/// Levels for [`set_level`] (the `log` crate's).
pub use log::LevelFilter;

/// Environment variable with the level of records written to the log: `off`, `error`, `warn`,
/// `info` (default), `debug` or `trace`.
pub const ENV_LOG_LEVEL: &str = "WORKERMAN_LOG_LEVEL";

/// Writes one line to Workerman's log, `format!`-style: `workerman::log!("user {id} joined")`.
/// The line is `Y-m-d H:i:s pid:N <message>`, appended to the log file and echoed to stdout
/// unless daemonized (the same as [`Worker::log`](crate::Worker::log)).
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::Worker::log(&::std::format!($($arg)*))
    };
}

struct Bridge;

static BRIDGE: Bridge = Bridge;

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        settings::log(&format!("{} {}: {}", record.level(), record.target(), record.args()));
    }

    fn flush(&self) {}
}

/// The level named by [`ENV_LOG_LEVEL`], or `info`.
fn level_from_env() -> log::LevelFilter {
    std::env::var(ENV_LOG_LEVEL)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(log::LevelFilter::Info)
}

/// Installs the bridge as the `log` logger, unless a logger is installed already. Returns whether
/// this call installed it.
pub fn install() -> bool {
    let installed = log::set_logger(&BRIDGE).is_ok();
    if installed {
        log::set_max_level(level_from_env());
    }
    installed
}

/// Sets the most verbose level written (records above it are dropped at the call site).
pub fn set_level(level: LevelFilter) {
    log::set_max_level(level);
}
