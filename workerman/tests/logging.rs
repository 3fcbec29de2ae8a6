//! The log facade bridge: `workerman::log!`, `log` records and `tracing` events (with no
//! subscriber installed) land in Workerman's log file as `Y-m-d H:i:s pid:N ...` lines; records
//! above the level are dropped. Its own test binary: the `log` logger is process-global.

use workerman::Worker;

fn well_formed(line: &str) -> bool {
    // `2026-11-30 14:20:00 pid:4242 message`
    let b = line.as_bytes();
    b.len() > 24
        && b[..19].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
        && line[19..].starts_with(&format!(" pid:{} ", std::process::id()))
}

#[test]
fn log_and_tracing_records_reach_the_log_file_in_workermans_format() {
    let dir = std::env::temp_dir().join(format!("wm-logging-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.log");
    let _ = std::fs::remove_file(&path);
    Worker::set_log_file(&path);

    let worker = Worker::without_listener();
    worker.on_worker_start(|w| {
        workerman::log!("macro says {} and {}", w.id(), "two");
        log::warn!(target: "mysql_async::conn", "connection lost");
        log::debug!("a debug record, above the default level");
        tracing::info!(target: "lapin::channel", answer = 42, "a tracing event");
        tracing::trace!("a tracing trace, above the default level");
        Worker::stop_all();
    });
    Worker::run_standalone().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
            .to_string()
    };
    for line in [
        find("macro says 0 and two"),
        find("WARN mysql_async::conn: connection lost"),
        find("INFO lapin::channel: a tracing event answer=42"),
    ] {
        assert!(well_formed(&line), "{line}");
    }
    assert!(
        !text.contains("debug record") && !text.contains("tracing trace"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
