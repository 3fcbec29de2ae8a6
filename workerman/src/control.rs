//! The control channel between the master and each worker process (a unix socket pair), and the
//! report files the master writes for the `status` and `connections` commands.
//!
//! ```text
//! master → worker   status <seq>            worker → master   report <seq> <fields…>
//!                   connections <seq>                         conn <seq> <fields…> … end <seq>
//!                                                             retire <reason>
//! ```
//! Fields are tab-separated; text fields never contain tabs or newlines ([`clean`]). A worker
//! answers from its event loop, so a worker stuck in a blocking call does not answer: the master
//! waits [`REPORT_WAIT`] and then reports it as busy.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the master waits for worker processes' answers before calling them busy.
pub const REPORT_WAIT: Duration = Duration::from_millis(1000);

/// Environment variable carrying the worker's end of the control channel.
pub(crate) const ENV_CONTROL_FD: &str = "WORKERMAN_CONTROL_FD";

/// Replaces tabs and line breaks so a field survives the line format.
pub(crate) fn clean(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// A worker process's counters as reported to the master.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub memory: u64,
    pub connections: u64,
    pub send_fail: u64,
    pub timers: u64,
    pub total_request: u64,
    pub protocol_errors: u64,
}

impl Report {
    pub fn encode(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            self.memory, self.connections, self.send_fail, self.timers, self.total_request, self.protocol_errors
        )
    }

    pub fn decode(fields: &[&str]) -> Option<Report> {
        let n = |i: usize| fields.get(i)?.parse::<u64>().ok();
        Some(Report {
            memory: n(0)?,
            connections: n(1)?,
            send_fail: n(2)?,
            timers: n(3)?,
            total_request: n(4)?,
            protocol_errors: n(5)?,
        })
    }
}

/// Resident memory of this process in bytes (VmRSS), 0 if unknown.
pub(crate) fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Where the master writes the status report for the CLI.
pub(crate) fn status_file(pid_file: &Path) -> PathBuf {
    pid_file.with_extension("status")
}

/// Where the master writes the connections report for the CLI.
pub(crate) fn connections_file(pid_file: &Path) -> PathBuf {
    pid_file.with_extension("connections")
}
