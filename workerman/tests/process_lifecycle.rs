//! Process tests, lifecycle: the example binaries started through their own CLI (`start -d`,
//! foreground + SIGINT, `stop`, `stop -g`), killed and panicking workers replaced one at a time,
//! the crash-loop back-off, CLI answers and exit codes, sockets and privileges of the workers.
//! Examples listen on fixed ports: every `App` holds the harness's examples guard, so these run one
//! at a time whatever the runner. Readiness is always polled, never slept.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use workerman_testkit::*;

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

#[test]
fn tcp_hello_start_daemon_serve_stop() {
    let app = App::new("tcp_hello");
    app.start_daemon();
    let master = app.master();
    assert!(alive(master));
    let workers = app.workers(4);
    assert!(!workers.contains(&master));
    let mut s = connect(2347);
    assert_eq!(exchange(&mut s, b"world").unwrap(), "hello world");
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
        assert_eq!(exchange(c, format!("c{i}").as_bytes()).unwrap(), format!("hello c{i}"));
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
        let r = exchange(c, format!("again{i}").as_bytes());
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
    assert_eq!(exchange(&mut s, b"new").unwrap(), "hello new");
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
    app.start_daemon_with([("CRASH_ON_START", "1")]);
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
    let _hold = app.hold_port(2350);
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

fn uid_of(pid: i32) -> u32 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn worker_processes_drop_root_privileges() {
    // Only root can bind port 843 and switch users; CI runs as root.
    if uid_of(std::process::id() as i32) != 0 && skip("not root (binding port 843 and switching to nobody need root)") {
        return;
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
