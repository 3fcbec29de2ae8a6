//! Process-wide settings (Workerman's static properties) and the log file.
//!
//! Log entries are one line each, `Y-m-d H:i:s pid:N message`, appended to the log file and, when
//! not daemonized, echoed to stdout. Past `log_file_max_size` the file keeps its newer half.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sys;

/// Default stop timeout (`Worker::set_stop_timeout`): 2 s.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(2);
/// Default for the log file size limit: 10 MiB.
pub const DEFAULT_LOG_FILE_MAX_SIZE: u64 = 10 * 1024 * 1024;

pub(crate) struct Settings {
    pub pid_file: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub stdout_file: Option<PathBuf>,
    /// How long a stopping or reloading worker may take before the master kills it.
    pub stop_timeout: Duration,
    pub log_file_max_size: u64,
    pub daemonized: bool,
    /// `Worker::set_daemonize`: `start` runs as a daemon without `-d`.
    pub daemonize: bool,
    pub status_file: Option<PathBuf>,
}

static SETTINGS: Mutex<Settings> = Mutex::new(Settings {
    pid_file: None,
    log_file: None,
    stdout_file: None,
    stop_timeout: DEFAULT_STOP_TIMEOUT,
    log_file_max_size: DEFAULT_LOG_FILE_MAX_SIZE,
    daemonized: false,
    daemonize: false,
    status_file: None,
});

pub(crate) fn get() -> MutexGuard<'static, Settings> {
    SETTINGS.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) const ENV_START_FILE: &str = "WORKERMAN_START_FILE";

/// The executable the master execs for every worker: resolved once, at start, so a rebuilt
/// binary at the same path is what a restarted worker runs.
pub(crate) fn start_file() -> &'static Path {
    static START: OnceLock<PathBuf> = OnceLock::new();
    START.get_or_init(|| {
        if let Some(p) = std::env::var_os(ENV_START_FILE) {
            return PathBuf::from(p);
        }
        let exe =
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from(std::env::args_os().next().unwrap_or_default()));
        // /proc/self/exe of a replaced binary reads "path (deleted)".
        let s = exe.to_string_lossy();
        match s.strip_suffix(" (deleted)") {
            Some(p) => PathBuf::from(p),
            None => exe,
        }
    })
}

/// The start file's name, as shown in log lines (`Workerman[tcp_hello]`).
pub(crate) fn start_name() -> String {
    start_file()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "workerman".into())
}

fn start_dir() -> PathBuf {
    start_file()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Environment variables that override the default file locations (an explicit setter in the
/// start file still wins): handy for service managers and tests.
pub const ENV_PID_FILE: &str = "WORKERMAN_PID_FILE";
/// See [`ENV_PID_FILE`].
pub const ENV_LOG_FILE: &str = "WORKERMAN_LOG_FILE";
/// See [`ENV_PID_FILE`].
pub const ENV_STDOUT_FILE: &str = "WORKERMAN_STDOUT_FILE";

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key).filter(|v| !v.is_empty()).map(PathBuf::from)
}

pub(crate) fn pid_file() -> PathBuf {
    get()
        .pid_file
        .clone()
        .or_else(|| env_path(ENV_PID_FILE))
        .unwrap_or_else(|| start_dir().join(format!("workerman.{}.pid", start_name())))
}

/// Where the master writes the status report for the CLI: the `status_file` setting, else the
/// pid file's path with the extension `status`.
pub(crate) fn status_file() -> PathBuf {
    let set = get().status_file.clone();
    set.unwrap_or_else(|| pid_file().with_extension("status"))
}

/// Where the master writes the connections report: the status file's path with the extension
/// `connections`.
pub(crate) fn connections_file() -> PathBuf {
    status_file().with_extension("connections")
}

pub(crate) fn log_file() -> PathBuf {
    get()
        .log_file
        .clone()
        .or_else(|| env_path(ENV_LOG_FILE))
        .unwrap_or_else(|| start_dir().join("workerman.log"))
}

pub(crate) fn stdout_file() -> PathBuf {
    get()
        .stdout_file
        .clone()
        .or_else(|| env_path(ENV_STDOUT_FILE))
        .unwrap_or_else(|| PathBuf::from("/dev/null"))
}

/// `Y-m-d H:i:s` in local time.
pub(crate) fn format_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (y, mo, d, h, mi, s) = sys::local_time(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// Appends one entry to the log file (and stdout unless daemonized).
pub(crate) fn log(message: &str) {
    let line = format!(
        "{} pid:{} {}\n",
        format_time(SystemTime::now()),
        std::process::id(),
        message.trim()
    );
    let (path, max, daemonized) = {
        let s = get();
        (s.log_file.clone(), s.log_file_max_size, s.daemonized)
    };
    let path = path.unwrap_or_else(log_file);
    if !daemonized {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
    if path.as_os_str() == "/dev/null" {
        return;
    }
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&path) else {
        return;
    };
    // One write() of one line with O_APPEND: entries from several processes never interleave.
    let _ = f.write_all(line.as_bytes());
    if let Ok(meta) = f.metadata()
        && meta.len() > max
    {
        rotate(&path);
    }
}

/// Keeps the newer half of the log file, starting at a line boundary.
fn rotate(path: &Path) {
    let Ok(data) = fs::read(path) else { return };
    let mid = data.len() / 2;
    let start = memchr::memchr(b'\n', &data[mid..])
        .map(|i| mid + i + 1)
        .unwrap_or(data.len());
    let tmp = path.with_extension("log.tmp");
    if fs::write(&tmp, &data[start..]).is_ok() {
        let _ = fs::rename(&tmp, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_newer_half_at_a_line_boundary() {
        let dir = std::env::temp_dir().join(format!("wm-rotate-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.log");
        let text: String = (0..1000).map(|i| format!("line {i:04}\n")).collect();
        fs::write(&path, &text).unwrap();
        rotate(&path);
        let kept = fs::read_to_string(&path).unwrap();
        assert!(
            kept.len() < text.len() / 2 + 20 && kept.len() > text.len() / 2 - 20,
            "{}",
            kept.len()
        );
        assert!(kept.starts_with("line ") && kept.ends_with("line 0999\n"));
        assert!(text.ends_with(&kept), "a suffix of whole lines");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn time_format() {
        let t = format_time(SystemTime::now());
        assert_eq!(t.len(), 19);
        assert_eq!(&t[4..5], "-");
        assert_eq!(&t[13..14], ":");
    }
}
