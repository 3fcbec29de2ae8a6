//! Process tests: the example binaries run through their own CLI (`start -d`, `stop`, SIGINT,
//! `reload`), on the ports their issue names. They share those ports, so they run one at a time
//! (a lock here; a test group in .config/nextest.toml). Readiness is always polled, never slept.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod common;
use common::*;

fn hello(s: &mut TcpStream, word: &str) -> std::io::Result<String> {
    s.write_all(word.as_bytes())?;
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf)?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Which process owns the server side of each client connection (by /proc socket inodes).
fn owners(clients: &[TcpStream], pids: &[i32]) -> Vec<Option<i32>> {
    let mut inode_of_port: HashMap<u16, u64> = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port = |field: &str| u16::from_str_radix(field.rsplit(':').next().unwrap(), 16).unwrap();
            let inode: u64 = f[9].parse().unwrap();
            // Server-side sockets of live connections only (TIME_WAIT entries have inode 0).
            if inode != 0 && clients.iter().any(|c| c.peer_addr().unwrap().port() == port(f[1])) {
                inode_of_port.insert(port(f[2]), inode);
            }
        }
    }
    let mut owner_of_inode: HashMap<u64, i32> = HashMap::new();
    for &pid in pids {
        for fd in fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten() {
            if let Ok(target) = fs::read_link(fd.path()) {
                let t = target.to_string_lossy();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                    owner_of_inode.insert(inode.parse().unwrap(), pid);
                }
            }
        }
    }
    clients
        .iter()
        .map(|c| {
            inode_of_port
                .get(&c.local_addr().unwrap().port())
                .and_then(|i| owner_of_inode.get(i))
                .copied()
        })
        .collect()
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
}

#[test]
fn tcp_hello_start_daemon_serve_stop() {
    let app = App::new("tcp_hello");
    app.start_daemon();
    let master = app.master();
    assert!(alive(master));
    let workers = app.workers(4);
    assert!(!workers.contains(&master));
    let mut s = connect(2347);
    assert_eq!(hello(&mut s, "world").unwrap(), "hello world");
    let out = app.stop();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("stop success"));
    assert!(!app.pid_file().exists(), "pid file removed");
    assert!(!alive(master));
    for w in workers {
        assert!(!alive(w), "worker {w} exited");
    }
    assert!(port_is_free(2347));
    let log = app.log();
    assert!(log.contains("Workerman[tcp_hello] start in DAEMON mode"), "{log}");
    assert!(log.contains("Workerman[tcp_hello] has been stopped"), "{log}");
}

#[test]
fn foreground_sigint_runs_on_worker_stop_and_frees_everything() {
    let app = App::new("timer");
    let mut child: Child = app.cmd(&["start"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // The banner and log lines go to stdout in the foreground.
    let mut seen = String::new();
    while !seen.contains("timer[0] tick 1") {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "stdout closed early: {seen}");
        seen.push_str(&line);
    }
    assert!(seen.contains("Press Ctrl+C to stop. Start success."), "{seen}");
    let worker = app.workers(1)[0];
    kill(child.id() as i32, 2);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    assert!(!alive(worker));
    let log = app.log();
    assert!(log.contains("timer[0] stopping"), "on_worker_stop ran: {log}");
    assert!(log.contains("has been stopped"), "{log}");
    assert!(!app.pid_file().exists());
    // The one-shot timer may or may not have fired, but never more than once.
    assert!(log.matches("one-shot after 3 s").count() <= 1);
}

#[test]
fn killed_worker_is_replaced_and_other_connections_survive() {
    let app = App::new("tcp_hello");
    app.start_daemon();
    let workers = app.workers(4);
    let mut clients: Vec<TcpStream> = (0..12).map(|_| connect(2347)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(hello(c, &format!("c{i}")).unwrap(), format!("hello c{i}"));
    }
    let owner = owners(&clients, &workers);
    assert!(
        owner.iter().all(Option::is_some),
        "every connection has an owner: {owner:?}"
    );
    let victim = owner[0].unwrap();
    kill(victim, 9);
    let replaced = wait_for("a replacement worker", || {
        let now = children(app.master());
        (now.len() == 4 && !now.contains(&victim)).then_some(now)
    });
    assert_eq!(
        replaced.iter().filter(|p| workers.contains(p)).count(),
        3,
        "only the killed worker was replaced"
    );
    for (i, c) in clients.iter_mut().enumerate() {
        let r = hello(c, &format!("again{i}"));
        if owner[i] == Some(victim) {
            assert!(r.is_err(), "connection {i} was on the killed worker");
        } else {
            assert_eq!(
                r.unwrap(),
                format!("hello again{i}"),
                "connection {i} on a surviving worker"
            );
        }
    }
    app.wait_log("killed by signal 9");
    let mut s = connect(2347);
    assert_eq!(hello(&mut s, "new").unwrap(), "hello new");
    assert!(app.stop().status.success());
}

#[test]
fn panic_is_logged_and_only_that_process_is_replaced() {
    let app = App::new("crash_demo");
    app.start_daemon();
    let workers = app.workers(2);
    // Find connections on both processes (the kernel picks which process accepts).
    let mut by_pid: HashMap<String, (TcpStream, BufReader<TcpStream>)> = HashMap::new();
    for _ in 0..200 {
        if by_pid.len() == 2 {
            break;
        }
        let s = connect(2359);
        let mut r = BufReader::new(s.try_clone().unwrap());
        (&s).write_all(b"hi\n").unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let pid = line.split_whitespace().nth(1).unwrap().to_string();
        by_pid.entry(pid).or_insert((s, r));
    }
    assert_eq!(by_pid.len(), 2, "connections reached both processes");
    let mut pids: Vec<String> = by_pid.keys().cloned().collect();
    pids.sort();
    let (victim, survivor) = (pids[0].clone(), pids[1].clone());
    {
        let (s, r) = by_pid.get_mut(&victim).unwrap();
        s.write_all(b"panic\n").unwrap();
        let mut rest = String::new();
        let _ = r.read_to_string(&mut rest);
    }
    app.wait_log("panicked (exit status 250)");
    let log = app.log();
    assert!(
        log.contains("examples/crash_demo.rs:") && log.contains("panicked at"),
        "message and location logged: {log}"
    );
    assert!(log.contains("asked to panic by 127.0.0.1"), "{log}");
    let victim_pid: i32 = victim.parse().unwrap();
    wait_for("the replacement", || {
        let now = children(app.master());
        (now.len() == 2 && !now.contains(&victim_pid)).then_some(())
    });
    assert!(workers.contains(&survivor.parse().unwrap()));
    let (s, r) = by_pid.get_mut(&survivor).unwrap();
    s.write_all(b"still here\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, format!("pid {survivor} says: still here\n"));
    assert!(app.stop().status.success());
}

#[test]
fn crash_loop_is_slowed_down_not_spun() {
    let app = App::new("crash_demo");
    let out = app.cmd(&["start", "-d"]).env("CRASH_ON_START", "1").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    app.wait_log("restarting in 400ms");
    let started = Instant::now();
    app.wait_log("restarting in 800ms");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "back-off delays are honoured"
    );
    let log = app.log();
    assert!(
        log.contains("restarting in 100ms") && log.contains("restarting in 200ms"),
        "{log}"
    );
    // Two slots, each at most ~5 attempts in this time: far from a spin.
    assert!(log.matches("refuses to start").count() < 20, "{log}");
    assert!(alive(app.master()), "the master survives its workers' crashes");
    assert!(app.stop().status.success());
}

#[test]
fn cli_answers_already_running_not_run_stale_pid_and_usage() {
    let app = App::new("frame_echo");
    // Stale pid files: a dead pid, and a live process that is not this program.
    fs::write(app.pid_file(), "999999").unwrap();
    let out = app.stop();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not run"));
    fs::write(app.pid_file(), std::process::id().to_string()).unwrap();
    app.start_daemon();
    let master = app.master();
    assert_ne!(master, std::process::id() as i32);
    let again = app.run(&["start", "-d"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already running"),
        "{again:?}"
    );
    assert_eq!(app.master(), master, "the running master is untouched");
    let usage = app.run(&["bogus"]);
    assert_eq!(usage.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&usage.stdout).starts_with("Usage: frame_echo <command> [mode]"));
    assert!(app.run(&["-g", "stop"]).status.success(), "flags before the command");
    assert!(!alive(master));
    assert_eq!(app.stop().status.code(), Some(3));
}

#[test]
fn busy_port_is_a_clear_start_error() {
    let app = App::new("frame_echo");
    let _hold = std::net::TcpListener::bind(("0.0.0.0", 2350)).unwrap();
    let out = app.run(&["start", "-d"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cannot listen on frame://0.0.0.0:2350") && text.contains("in use"),
        "{text}"
    );
    assert!(!app.pid_file().exists());
}

#[test]
fn text_chat_broadcasts_logins_lines_and_logouts() {
    let app = App::new("text_chat");
    app.start_daemon();
    let a = connect(2348);
    let mut ra = BufReader::new(a.try_clone().unwrap());
    let mut line = String::new();
    ra.read_line(&mut line).unwrap();
    let uid_a: u64 = line.trim().strip_prefix("your uid is ").unwrap().parse().unwrap();
    line.clear();
    ra.read_line(&mut line).unwrap();
    assert_eq!(line, format!("user[{uid_a}] login\n"));
    let b = connect(2348);
    let mut rb = BufReader::new(b.try_clone().unwrap());
    let uid_b = uid_a + 1;
    let read = |r: &mut BufReader<TcpStream>| {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        l
    };
    assert_eq!(read(&mut rb), format!("your uid is {uid_b}\n"));
    assert_eq!(read(&mut rb), format!("user[{uid_b}] login\n"));
    assert_eq!(read(&mut ra), format!("user[{uid_b}] login\n"));
    (&a).write_all(b"hello all\r\n").unwrap();
    assert_eq!(read(&mut ra), format!("user[{uid_a}] said: hello all\n"));
    assert_eq!(read(&mut rb), format!("user[{uid_a}] said: hello all\n"));
    drop(ra);
    drop(a);
    assert_eq!(read(&mut rb), format!("user[{uid_a}] logout\n"));
    assert!(app.stop().status.success());
}

#[test]
fn json_nl_echoes_objects_and_drops_bad_json() {
    let app = App::new("json_nl");
    app.start_daemon();
    let good = connect(2349);
    let mut r = BufReader::new(good.try_clone().unwrap());
    (&good).write_all(b"{\"a\":1}\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v, serde_json::json!({"a": 1, "ok": true}));
    let mut bad = connect(2349);
    bad.write_all(b"{not json\n").unwrap();
    let mut rest = Vec::new();
    let _ = bad.read_to_end(&mut rest);
    assert!(rest.is_empty(), "bad input gets no reply, just a close");
    app.wait_log("bad JSON");
    (&good).write_all(b"[1]\n").unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\":false"), "{line}");
    assert!(app.stop().status.success());
}

#[test]
fn frame_echo_and_async_reply() {
    {
        let app = App::new("frame_echo");
        app.start_daemon();
        let mut s = connect(2350);
        s.write_all(b"\0\0\0\x09jhdxr\0\0\0\x05!").unwrap();
        let mut buf = [0u8; 14];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"\0\0\0\x09jhdxr\0\0\0\x05!");
        assert!(app.stop().status.success());
    }
    let app = App::new("async_reply");
    app.start_daemon();
    let s = connect(2358);
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"localhost\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(
        line == "localhost -> 127.0.0.1\n" || line == "localhost -> ::1\n",
        "{line}"
    );
    assert!(app.stop().status.success());
}

#[test]
fn reload_replaces_every_worker_without_refusing_connections() {
    let app = App::new("tcp_hello");
    app.start_daemon();
    let before: HashSet<i32> = app.workers(4).into_iter().collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let prober = std::thread::spawn(move || {
        let (mut ok, mut refused, mut dropped) = (0, 0, 0);
        while !flag.load(Ordering::SeqCst) {
            match TcpStream::connect(("127.0.0.1", 2347)) {
                Ok(mut s) => {
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    match hello(&mut s, "probe") {
                        Ok(r) if r == "hello probe" => ok += 1,
                        _ => dropped += 1,
                    }
                }
                Err(_) => refused += 1,
            }
        }
        (ok, refused, dropped)
    });
    let mut generations = vec![before];
    for args in [&["reload"][..], &["reload", "-g"][..]] {
        let mark = app.log().matches("reloaded").count();
        let out = app.run(args);
        assert!(out.status.success(), "{out:?}");
        wait_for("the reload to finish", || {
            (app.log().matches("reloaded").count() > mark).then_some(())
        });
        let now: HashSet<i32> = app.workers(4).into_iter().collect();
        assert!(
            generations.last().unwrap().is_disjoint(&now),
            "{args:?} replaced every worker"
        );
        generations.push(now);
    }
    stop.store(true, Ordering::SeqCst);
    let (ok, refused, dropped) = prober.join().unwrap();
    assert!(ok > 0);
    assert_eq!(
        refused, 0,
        "the listening socket stays open through reloads ({ok} ok, {dropped} dropped)"
    );
    // An old process finishes what it was asked before closing: neither reload cuts a request.
    assert_eq!(dropped, 0, "{dropped} requests dropped, {ok} ok");
    assert!(app.stop().status.success());
}

#[test]
fn reuse_port_processes_each_bind_and_share_the_load() {
    let app = App::new("reuse_port");
    app.start_daemon();
    let workers = app.workers(2);
    let mut served = HashSet::new();
    for i in 0..200 {
        let s = connect(2380);
        let mut r = BufReader::new(s.try_clone().unwrap());
        (&s).write_all(format!("n{i}\n").as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let (pid, echo) = line.trim_end().split_once(' ').unwrap();
        assert_eq!(echo, format!("n{i}"));
        served.insert(pid.parse::<i32>().unwrap());
        if served.len() == 2 {
            break;
        }
    }
    assert_eq!(
        served,
        workers.iter().copied().collect(),
        "both processes accept on their own sockets"
    );
    // Each process holds its own listening socket; the master holds none.
    assert!(app.stop().status.success());
    assert!(port_is_free(2380));
}

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
    app.workers(2);
    wait_for("a replacement", || {
        (!children(app.master()).contains(&workers[0])).then_some(())
    });
    let json = status_json(&app);
    assert_eq!(json["workers"][0]["exits"]["9"], 1, "{json}");
    assert_eq!(json["processes"].as_array().unwrap().len(), 2);
    assert!(
        json["processes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "idle" && p["memory"].as_u64().unwrap() > 0)
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
fn stop_g_finishes_in_flight_work_then_exits() {
    let app = App::new("crash_demo");
    app.start_daemon();
    let master = app.master();
    let s = connect(2359);
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"before\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let stopper = {
        let mut cmd = app.cmd(&["stop", "-g"]);
        std::thread::spawn(move || cmd.output())
    };
    // While stopping gracefully, the open connection is still served...
    wait_for("the graceful stop to begin", || {
        app.log().contains("gracefully stopping").then_some(())
    });
    for i in 0..5 {
        (&s).write_all(format!("during{i}\n").as_bytes()).unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        assert!(line.ends_with(&format!("says: during{i}\n")), "{line}");
        assert!(alive(master), "the master waits for the connection");
        std::thread::sleep(Duration::from_millis(200));
    }
    // ...and once it is quiet, the server closes it and everything exits.
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    let out = stopper.join().unwrap().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!alive(master));
}

#[test]
fn reload_serves_the_new_binary_on_disk() {
    let app = App::new("greeting");
    let installed = app.dir.join("greeting");
    fs::copy(examples_dir().join("greeting"), &installed).unwrap();
    let run = |args: &[&str]| {
        Command::new(&installed)
            .args(args)
            .env("WORKERMAN_PID_FILE", app.pid_file())
            .env("WORKERMAN_LOG_FILE", app.log_file())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    assert!(run(&["start", "-d"]).status.success());
    let ask = || {
        let s = connect(2381);
        let mut r = BufReader::new(s.try_clone().unwrap());
        (&s).write_all(b"hi\n").unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line
    };
    assert_eq!(ask(), "v1: hi\n");
    // "Rebuild": a new binary at the same path (a new inode, as cargo and installers do).
    let staged = app.dir.join("greeting.new");
    fs::copy(examples_dir().join("greeting_v2"), &staged).unwrap();
    fs::rename(&staged, &installed).unwrap();
    let before = app.workers(2);
    assert!(run(&["reload"]).status.success());
    wait_for("the reload to finish", || app.log().contains("reloaded").then_some(()));
    let after = app.workers(2);
    assert!(before.iter().all(|p| !after.contains(p)));
    for _ in 0..10 {
        assert_eq!(ask(), "v2: hi\n");
    }
    assert!(run(&["stop"]).status.success());
}

#[test]
fn max_requests_replaces_the_process_without_dropping_requests() {
    let app = App::new("limits");
    app.start_daemon();
    let first = app.workers(1)[0];
    let s = connect(2382);
    let mut r = BufReader::new(s.try_clone().unwrap());
    for i in 0..130 {
        (&s).write_all(format!("r{i}\n").as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(
            line,
            format!("{first} r{i}\n"),
            "request {i} answered by the connection's process"
        );
    }
    app.wait_log("retiring (handled");
    let second = wait_for("the replacement", || {
        children(app.master()).into_iter().find(|p| *p != first)
    });
    let n = connect(2382);
    let mut rn = BufReader::new(n.try_clone().unwrap());
    (&n).write_all(b"new\n").unwrap();
    let mut line = String::new();
    rn.read_line(&mut line).unwrap();
    assert_eq!(line, format!("{second} new\n"), "new connections go to the replacement");
    // The retired process closes the quiet connection and exits.
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    wait_for("the retired process to exit", || (!alive(first)).then_some(()));
    assert!(app.stop().status.success());
}

fn uid_of(pid: i32) -> u32 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn worker_processes_drop_root_privileges() {
    if uid_of(std::process::id() as i32) != 0 {
        // Only root can bind port 843 and switch users; CI and this machine run as root.
        panic!("this test must run as root");
    }
    let app = App::new("flash_policy");
    app.start_daemon();
    let master = app.master();
    let worker = app.workers(1)[0];
    assert_eq!(uid_of(master), 0, "the master stays root");
    // The process switches user right after it starts (and before it serves).
    wait_for("the worker to run as nobody (65534)", || {
        (uid_of(worker) == 65534).then_some(())
    });
    let mut s = connect(843);
    s.write_all(b"<policy-file-request/>\0").unwrap();
    assert_eq!(uid_of(worker), 65534, "still nobody while serving");
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    assert!(reply.starts_with(b"<?xml") && reply.ends_with(b"</cross-domain-policy>\0"));
    assert!(!app.log().contains("Warning"), "{}", app.log());
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

fn rss_kb(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn udp_echo_replies_to_each_datagram() {
    let app = App::new("udp_echo");
    app.start_daemon();
    app.workers(1);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    // UDP has no handshake: retry until the worker answers.
    let reply = wait_for("a UDP reply", || {
        s.send_to(b"hi", ("127.0.0.1", 2351)).ok()?;
        let mut buf = [0u8; 128];
        let n = s.recv(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    });
    assert_eq!(reply, b"received: hi");
    assert!(app.stop().status.success());
}

#[test]
fn unix_echo_replaces_stale_socket_and_removes_it_at_stop() {
    let path = std::path::Path::new("/tmp/workerman-unix_echo.sock");
    let _ = fs::remove_file(path);
    drop(std::os::unix::net::UnixListener::bind(path).unwrap()); // a stale socket file
    let app = App::new("unix_echo");
    app.start_daemon();
    app.workers(1);
    let s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"over unix\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "over unix\n");
    assert!(app.stop().status.success());
    assert!(!path.exists(), "the socket file is removed at stop");
}

#[test]
fn tcp_proxy_streams_100_mib_to_a_slow_reader_with_bounded_memory() {
    // The upstream (where tcp_proxy forwards) is this test: it reads slowly and counts.
    let upstream = std::net::TcpListener::bind(("127.0.0.1", 2347)).unwrap();
    let app = App::new("tcp_proxy");
    app.start_daemon();
    let proxies = app.workers(2);
    const TOTAL: usize = 100 << 20;
    let mut client = connect(2352);
    let (mut up, _) = upstream.accept().unwrap();
    up.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![0x5au8; 256 * 1024];
        for _ in 0..TOTAL / chunk.len() {
            client.write_all(&chunk).unwrap();
        }
        client
    });
    let baseline: u64 = proxies.iter().map(|p| rss_kb(*p)).sum();
    let (mut got, mut peak) = (0usize, 0u64);
    let mut buf = vec![0u8; 64 * 1024];
    let mut reads = 0u64;
    while got < TOTAL {
        let n = up.read(&mut buf).unwrap();
        assert!(n > 0, "upstream closed early after {got} bytes");
        assert!(buf[..n].iter().all(|&b| b == 0x5a));
        got += n;
        reads += 1;
        if reads % 64 == 0 {
            peak = peak.max(proxies.iter().map(|p| rss_kb(*p)).sum());
            // Slow reader: about 50 MiB/s at most.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(got, TOTAL);
    // Backpressure, not buffering: the proxies grew by a few MiB at most, not by 100.
    assert!(
        peak.saturating_sub(baseline) < 32 * 1024,
        "proxy RSS grew from {baseline} kB to {peak} kB"
    );
    // And the other way: upstream → client.
    let mut client = writer.join().unwrap();
    up.write_all(b"reply from upstream").unwrap();
    let mut back = [0u8; 19];
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"reply from upstream");
    // Closing one side closes the other.
    drop(up);
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    assert!(app.stop().status.success());
}

#[test]
fn text_client_connects_and_reconnects_after_the_server_restarts() {
    let server = App::new("text_chat");
    server.start_daemon();
    let client = App::new("text_client");
    client.start_daemon();
    client.wait_log("text_client: connected to 127.0.0.1:2348");
    client.wait_log("text_client: got your uid is");
    client.wait_log("said: ping 1");
    // The server goes away and comes back: the client reconnects by itself.
    assert!(server.stop().status.success());
    client.wait_log("text_client: closed; reconnecting in 1 s");
    server.start_daemon();
    wait_for("a second connect", || {
        (client.log().matches("text_client: connected to").count() >= 2).then_some(())
    });
    // A client that reconnects from on_close does not hold up a graceful stop.
    let mut stop_g = client.cmd(&["stop", "-g"]);
    let stopper = std::thread::spawn(move || stop_g.output());
    wait_for("stop -g to finish", || stopper.is_finished().then_some(()));
    assert!(stopper.join().unwrap().unwrap().status.success());
    assert!(!client.log().contains("killed by signal"), "{}", client.log());
    assert!(server.stop().status.success());
}

/// Sends `line` over TLS with Python's ssl module, trusting `ca`; the reply, if verified.
fn python_tls_exchange(ca: &std::path::Path, line: &str) -> Option<String> {
    let py = format!(
        "import socket, ssl\nctx = ssl.create_default_context(cafile={ca:?})\ns = ctx.wrap_socket(socket.create_connection(('127.0.0.1', 2384)), server_hostname='localhost')\ns.sendall({line:?}.encode() + b'\\n')\nprint(s.recv(100).decode(), end='')\n",
        ca = ca.display().to_string()
    );
    let out = Command::new("python3").arg("-c").arg(&py).output().unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Writes a test certificate and key, then `start -d` with them in TLS_CERT / TLS_KEY.
fn start_with_test_cert(app: &App) -> (PathBuf, PathBuf) {
    let (cert, key) = write_test_cert(&app.dir);
    let out = app
        .cmd(&["start", "-d"])
        .env("TLS_CERT", &cert)
        .env("TLS_KEY", &key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (cert, key)
}

fn write_test_cert(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&c, cert.cert.pem()).unwrap();
    fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    (c, k)
}

#[test]
fn text_tls_serves_real_tls_clients_and_rejects_bad_files() {
    let app = App::new("text_tls");
    // Missing files: a clear start error, nothing left running.
    let out = app
        .cmd(&["start", "-d"])
        .env("TLS_CERT", "/nonexistent.pem")
        .env("TLS_KEY", "/nonexistent.key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cannot read the TLS certificate /nonexistent.pem"),
        "{out:?}"
    );
    assert!(!app.pid_file().exists());

    let (cert, _key) = start_with_test_cert(&app);
    app.workers(1);
    connect(2384);
    // Python's ssl module, verifying against the test certificate.
    assert_eq!(python_tls_exchange(&cert, "hi").as_deref(), Some("tls: hi\n"));
    // openssl s_client
    let mut s_client = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", "127.0.0.1:2384", "-CAfile"])
        .arg(&cert)
        .args(["-verify_return_error", "-servername", "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    s_client.stdin.as_mut().unwrap().write_all(b"from openssl\n").unwrap();
    let mut line = String::new();
    BufReader::new(s_client.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "tls: from openssl\n");
    // s_client keeps the session open after stdin ends; end it.
    let _ = s_client.kill();
    let _ = s_client.wait();
    // A plaintext client gets closed, with one log line; TLS clients carry on.
    let mut plain = connect(2384);
    plain.write_all(b"hello in the clear\n").unwrap();
    let mut rest = Vec::new();
    let _ = plain.read_to_end(&mut rest);
    app.wait_log("TLS handshake with 127.0.0.1:");
    assert_eq!(python_tls_exchange(&cert, "hi").as_deref(), Some("tls: hi\n"));
    assert!(app.stop().status.success());
}

#[test]
fn renewed_tls_certificate_is_served_after_reload() {
    let app = App::new("text_tls");
    let (cert, key) = start_with_test_cert(&app);
    app.workers(1);
    connect(2384);
    let verify = |ca: &std::path::Path| python_tls_exchange(ca, "x").as_deref() == Some("tls: x\n");
    let old_ca = app.dir.join("old-ca.pem");
    fs::copy(&cert, &old_ca).unwrap();
    assert!(verify(&old_ca));
    // Renew: a new key and certificate at the same paths; the running processes keep the old.
    let renewed = app.dir.join("renewed");
    fs::create_dir_all(&renewed).unwrap();
    let (new_cert, new_key) = write_test_cert(&renewed);
    fs::copy(&new_cert, &cert).unwrap();
    fs::copy(&new_key, &key).unwrap();
    assert!(verify(&old_ca), "no change before reload");
    assert!(app.run(&["reload"]).status.success());
    wait_for("the renewed certificate", || verify(&new_cert).then_some(()));
    assert!(!verify(&old_ca), "the old certificate is gone");
    assert!(app.stop().status.success());
}

#[test]
fn https_hello_serves_curl_and_python_with_a_test_ca() {
    let app = App::new("https_hello");
    let (cert, _key) = start_with_test_cert(&app);
    app.workers(2);
    connect(2353);
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .args(["--resolve", "localhost:2353:127.0.0.1", "https://localhost:2353/"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello world");
    // Keep-alive over TLS: several requests on one connection.
    let py = format!(
        "import http.client, ssl\nctx = ssl.create_default_context(cafile={:?})\nc = http.client.HTTPSConnection('localhost', 2353, context=ctx)\nfor _ in range(3):\n    c.request('GET', '/')\n    r = c.getresponse()\n    print(r.status, r.read().decode())\n",
        cert.display().to_string()
    );
    let out = Command::new("python3").arg("-c").arg(&py).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 hello world\n".repeat(3));
    // curl without the CA refuses the self-signed certificate.
    let out = Command::new("curl")
        .args([
            "-sS",
            "--resolve",
            "localhost:2353:127.0.0.1",
            "https://localhost:2353/",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(app.stop().status.success());
}

/// Opens a WebSocket on `port` (raw handshake) and returns the stream after the 101.
fn ws_connect(port: u16, path: &str) -> TcpStream {
    let mut s = connect(port);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
    s
}

/// Sends one masked frame with a short payload.
fn ws_send(s: &mut TcpStream, b0: u8, payload: &[u8]) {
    assert!(payload.len() < 126);
    let key = [1u8, 2, 3, 4];
    let mut f = vec![b0, 0x80 | payload.len() as u8];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    s.write_all(&f).unwrap();
}

/// Reads one short unmasked frame: (first byte, payload).
fn ws_recv(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert!(h[1] < 126);
    let mut p = vec![0u8; h[1] as usize];
    s.read_exact(&mut p).unwrap();
    (h[0], p)
}

#[test]
fn websocket_echo_keeps_message_types() {
    let app = App::new("websocket_echo");
    app.start_daemon();
    let mut s = ws_connect(2346, "/");
    ws_send(&mut s, 0x81, "héllo".as_bytes());
    assert_eq!(ws_recv(&mut s), (0x81, "héllo".as_bytes().to_vec()));
    ws_send(&mut s, 0x82, &[0, 1, 2]);
    assert_eq!(ws_recv(&mut s), (0x82, vec![0, 1, 2]));
    ws_send(&mut s, 0x89, b"p");
    assert_eq!(ws_recv(&mut s), (0x8A, b"p".to_vec()));
    ws_send(&mut s, 0x88, b"\x03\xe8");
    assert_eq!(ws_recv(&mut s), (0x88, b"\x03\xe8".to_vec()));
    assert!(app.stop().status.success());
}

#[test]
fn ws_chat_serves_the_page_and_broadcasts() {
    let app = App::new("ws_chat");
    app.start_daemon();
    let mut page = connect(2356);
    page.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    page.read_to_string(&mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.1 200 OK\r\n") && body.contains("new WebSocket("),
        "{body}"
    );
    let mut a = ws_connect(2357, "/?name=ann");
    assert_eq!(ws_recv(&mut a), (0x81, b"* ann joined".to_vec()));
    let mut b = ws_connect(2357, "/?name=bob");
    assert_eq!(ws_recv(&mut b), (0x81, b"* bob joined".to_vec()));
    assert_eq!(ws_recv(&mut a), (0x81, b"* bob joined".to_vec()));
    ws_send(&mut a, 0x81, b"hi bob");
    assert_eq!(ws_recv(&mut a), (0x81, b"ann: hi bob".to_vec()));
    assert_eq!(ws_recv(&mut b), (0x81, b"ann: hi bob".to_vec()));
    drop(a);
    assert_eq!(ws_recv(&mut b), (0x81, b"* ann left".to_vec()));
    assert!(app.stop().status.success());
}

#[test]
fn ws_client_sends_stdin_lines_to_websocket_echo_and_prints_replies() {
    let app = App::new("websocket_echo");
    app.start_daemon();
    let mut client = Command::new(examples_dir().join("ws_client"))
        .args(["start", "ws://127.0.0.1:2346/?from=ws_client"])
        .env("WORKERMAN_LOG_FILE", app.dir.join("client.log"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all("hello\nwörld\n".as_bytes())
        .unwrap(); // stdin closes here: the client closes cleanly (1000) and exits
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = client.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = client.kill();
            panic!("ws_client did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    client.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    client.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{status}: {out}{err}");
    assert_eq!(out, "< hello\n< wörld\n", "stderr: {err}");
    assert!(err.contains("connected to 127.0.0.1:2346"), "{err}");
    assert!(app.stop().status.success());
}

#[test]
fn inherited_sockets_are_close_on_exec_in_workers() {
    let app = App::new("tcp_hello");
    app.start_daemon();
    let workers = app.workers(4);
    let _c = connect(2347);
    for pid in workers {
        // A process just spawned has not run its start-up yet: wait until it has, then every
        // socket it holds (listener, control channel, connections) must be close-on-exec.
        wait_for(&format!("every socket of worker {pid} to be close-on-exec"), || {
            let mut sockets = 0;
            for fd in fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
                let n: u32 = fd.file_name().to_string_lossy().parse().ok()?;
                let target = fs::read_link(fd.path()).ok()?;
                if n < 3 || !target.to_string_lossy().starts_with("socket:") {
                    continue;
                }
                let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{n}")).ok()?;
                let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?.trim();
                let flags = u32::from_str_radix(flags, 8).ok()?;
                if flags & 0o2000000 == 0 {
                    return None;
                }
                sockets += 1;
            }
            // The listener and the control channel at least.
            (sockets >= 2).then_some(())
        });
    }
    assert!(app.stop().status.success());
}

#[test]
fn reloading_a_process_past_max_requests_completes_and_later_reloads_work() {
    let app = App::new("limits");
    app.start_daemon();
    let first = app.workers(1)[0];
    let s = connect(2382);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut ask = |i: usize| {
        (&s).write_all(format!("q{i}\n").as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line
    };
    for i in 0..90 {
        ask(i);
    }
    // A graceful reload while the connection is busy; it then crosses max_requests (100).
    assert!(app.run(&["reload", "-g"]).status.success());
    app.wait_log("reloading gracefully");
    for i in 90..120 {
        assert_eq!(ask(i), format!("{first} q{i}\n"), "the old process still answers");
    }
    drop(r);
    drop(s);
    wait_for("the reload to finish", || {
        (app.log().matches("reloaded").count() == 1).then_some(())
    });
    let second = app.workers(1)[0];
    assert_ne!(first, second);
    assert!(app.run(&["reload"]).status.success());
    wait_for("a second reload", || {
        (app.log().matches("reloaded").count() == 2).then_some(())
    });
    assert!(app.stop().status.success());
}
