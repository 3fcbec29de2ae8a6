//! # workerman-file-monitor
//!
//! Workerman's FileMonitor: a worker process (named `FileMonitor`, not reloadable, no listener)
//! that watches files with `notify` (inotify on Linux) and asks the master to `reload` when they
//! change — by default the running executable's directory, so a `cargo build` that replaces the
//! binary brings the new code into every reloadable worker process.
//!
//! - **Debounce**: a burst of changes is acted on after 300 ms without a change, at most 2 s after
//!   its first change ([`Debounce`]).
//! - **Filters**: ignored directories (target, .git, ...) and extensions (log, pid, swap files),
//!   optionally only some extensions ([`Filter`]).
//! - **Only complete binaries**: changed files must hold still (size and mtime), and the executable
//!   must be a whole ELF file, before the reload; a half-written binary is logged and waited for,
//!   never run ([`complete`]).
//! - **Foreground only** by default: in daemon mode (`start -d`) it stays off unless
//!   [`FileMonitor::in_daemon`] turns it on, as in Workerman.
//!
//! See `examples/auto_reload.rs` and docs/file-monitor.md.

pub mod complete;
mod debounce;
mod filter;
mod monitor;

pub use debounce::{DEFAULT_MAX_DELAY, DEFAULT_QUIET, Debounce};
pub use filter::{DEFAULT_IGNORED_DIRS, DEFAULT_IGNORED_EXTENSIONS, Filter};
pub use monitor::{DEFAULT_GIVE_UP_AFTER, DEFAULT_STABLE_FOR, FileMonitor};
