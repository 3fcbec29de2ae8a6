//! Process tests, status: `status` (text, `--json`, live `-d`), `connections`, and `restart`, against
//! running examples. One example at a time (the harness's examples guard); readiness polled.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use workerman_testkit::*;

/// SIGUSR2's number on Linux.
fn libc_sigusr2() -> i32 {
    12
}

fn status_json(app: &App) -> serde_json::Value {
    let out = app.run(&["status", "--json"]);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json is JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn status_shows_processes_exit_counts_and_busy_workers() {
    let app = App::new("crash_demo");
    app.start_daemon();
    let workers = app.workers(2);
    let out = app.run(&["status"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("GLOBAL STATUS") && text.contains("PROCESS STATUS"),
        "{text}"
    );
    assert!(text.contains("1 workers       2 processes"), "{text}");
    assert!(text.contains("event-loop:tokio"), "{text}");
    for pid in &workers {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{pid} ")))
            .unwrap_or_else(|| panic!("row for {pid}: {text}"));
        assert!(
            row.contains("text://0.0.0.0:2359") && row.contains("crash_demo") && row.ends_with("[idle]"),
            "{row}"
        );
    }
    assert!(text.lines().last().unwrap().starts_with("Summary"), "{text}");

    // The master's report signals sent to a worker directly do not kill it.
    kill(workers[1], libc_sigusr2());
    kill(workers[1], 29); // SIGIO
    let json = status_json(&app);
    assert!(
        json["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == workers[1] && p["status"] == "idle"),
        "{json}"
    );
    // kill -9 shows up in the exit counts.
    kill(workers[0], 9);
    // The killed process is gone (reaped) and its replacement is up and answers status.
    wait_for("a replacement", || {
        let now = children(app.master());
        (now.len() == 2 && !now.contains(&workers[0])).then_some(())
    });
    let json = wait_for("both processes in status, idle", || {
        let json = status_json(&app);
        let procs = json["processes"].as_array().unwrap();
        (procs.len() == 2 && procs.iter().all(|p| p["status"] == "idle")).then_some(json)
    });
    assert_eq!(json["workers"][0]["exits"]["9"], 1, "{json}");
    assert!(
        json["processes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["memory"].as_u64().unwrap() > 0),
        "{json}"
    );
    let text = String::from_utf8_lossy(&app.run(&["status"]).stdout).into_owned();
    assert!(
        text.lines().any(
            |l| l.starts_with("crash_demo") && l.split_whitespace().collect::<Vec<_>>() == ["crash_demo", "9", "1"]
        ),
        "{text}"
    );

    // A process stuck in a blocking call is shown busy; the command does not hang.
    let blocker = connect(2359);
    let mut r = BufReader::new(blocker.try_clone().unwrap());
    (&blocker).write_all(b"hi\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let blocked: i32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    (&blocker).write_all(b"block\n").unwrap();
    let started = Instant::now();
    let json = status_json(&app);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "status answered while a worker is blocked"
    );
    let procs = json["processes"].as_array().unwrap();
    let row = procs
        .iter()
        .find(|p| p["pid"] == blocked)
        .expect("the blocked process is listed");
    assert_eq!(row["status"], "busy", "{json}");
    assert!(
        procs.iter().any(|p| p["pid"] != blocked && p["status"] == "idle"),
        "{json}"
    );
    let text = String::from_utf8_lossy(&app.run(&["status"]).stdout).into_owned();
    let busy_row = text.lines().find(|l| l.starts_with(&format!("{blocked} ")));
    // The 3 s block may have ended by now; if the row is still busy it says so.
    if let Some(row) = busy_row {
        assert!(row.ends_with("[busy]") || row.ends_with("[idle]"), "{row}");
    }
    assert!(app.stop().status.success());
}

#[test]
fn connections_lists_every_open_connection() {
    let app = App::new("crash_demo");
    app.start_daemon();
    app.workers(2);
    let a = connect(2359);
    let b = connect(2359);
    for s in [&a, &b] {
        let mut r = BufReader::new(s.try_clone().unwrap());
        (&*s).write_all(b"hello\n").unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
    }
    let out = app.run(&["connections"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("WORKERMAN CONNECTION STATUS"), "{text}");
    for s in [&a, &b] {
        let port = s.local_addr().unwrap().port();
        let row = text
            .lines()
            .find(|l| l.contains(&format!("127.0.0.1:{port}")))
            .unwrap_or_else(|| panic!("row for port {port}: {text}"));
        assert!(
            row.contains("crash_demo")
                && row.contains("text")
                && row.contains("ESTABLISHED")
                && row.contains("127.0.0.1:2359"),
            "{row}"
        );
        assert!(row.contains("6B"), "bytes read by the server: {row}");
    }
    assert!(app.stop().status.success());
}

#[test]
fn restart_and_live_status() {
    let app = App::new("frame_echo");
    app.start_daemon();
    let first = app.master();
    let out = app.run(&["restart", "-d"]);
    assert!(out.status.success(), "{out:?}");
    let second = app.master();
    assert_ne!(first, second);
    assert!(!alive(first));
    app.workers(1);
    // status -d refreshes until interrupted: read its first screen, then stop it.
    let mut live = app.cmd(&["status", "-d"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(live.stdout.take().unwrap());
    let mut screen = String::new();
    while !screen.contains("Press Ctrl+C to quit.") {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "{screen}");
        screen.push_str(&line);
    }
    assert!(
        screen.contains("\x1b[2J") && screen.contains("[idle]") && screen.contains("Summary"),
        "{screen}"
    );
    let _ = live.kill();
    let _ = live.wait();
    assert!(app.stop().status.success());
}
