//! Process tests, worker hooks and accept control (`examples/worker_hooks.rs`) through the CLI:
//! `on_worker_exit` / `on_master_reload` / `on_master_stop` in the master, `pause_accept` /
//! `resume_accept` / `unlisten` and `Worker::all()` inside a worker process, daemonizing from code
//! and a configured status file.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use workerman_testkit::*;

const PORT: u16 = 2390;

/// A line-oriented client of the example.
struct Line {
    reader: BufReader<TcpStream>,
}

impl Line {
    fn connect() -> Line {
        let s = connect(PORT);
        let mut l = Line {
            reader: BufReader::new(s),
        };
        assert_eq!(l.read(), "hi");
        l
    }

    fn read(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }

    fn ask(&mut self, cmd: &str) -> String {
        self.reader.get_mut().write_all(format!("{cmd}\n").as_bytes()).unwrap();
        self.read()
    }
}

#[test]
fn worker_exit_and_master_hooks_run_in_the_master() {
    let app = App::new("worker_hooks");
    app.start(2);
    let mut c = Line::connect();
    let pid: i32 = c.ask("pid").parse().unwrap();
    kill(pid, 9);
    app.wait_log(&format!("on_worker_exit hooks pid={pid} code=None signal=Some(9)"));
    // Replaced, and the new process serves.
    app.workers(2);
    let mut c = Line::connect();
    let second: i32 = c.ask("pid").parse().unwrap();
    assert_ne!(second, pid);
    drop(c);

    let out = app.run(&["reload"]);
    assert!(out.status.success(), "{out:?}");
    app.wait_log("on_master_reload");
    // The reloaded process exits normally; the hook sees exit code 0.
    app.wait_log(&format!("on_worker_exit hooks pid={second} code=Some(0) signal=None"));
    let log = app.log();
    let reload_at = log.find("on_master_reload").unwrap();
    let exit_at = log.find(&format!("on_worker_exit hooks pid={second}")).unwrap();
    assert!(
        reload_at < exit_at,
        "on_master_reload runs before processes are replaced: {log}"
    );

    app.workers(2);
    let out = app.stop();
    assert!(out.status.success(), "{out:?}");
    let log = app.log();
    let stopped_at = log.find("Workerman[worker_hooks] has been stopped").expect(&log);
    let hook_at = log.find("on_master_stop").expect(&log);
    assert!(stopped_at < hook_at, "on_master_stop runs last: {log}");
    // Every process that exited on stop was reported, the ticker's too.
    assert!(log.contains("on_worker_exit ticker pid="), "{log}");
}

#[test]
fn pause_resume_and_unlisten_from_inside_the_process() {
    let app = App::new("worker_hooks");
    app.start(2);
    let mut a = Line::connect();
    assert_eq!(
        a.ask("workers"),
        format!("hooks:1:text://127.0.0.1:{PORT},ticker:1:none"),
        "Worker::all() lists the program's workers in creation order"
    );

    assert_eq!(a.ask("pause"), "paused");
    // The kernel completes the handshake (the socket still listens) but nothing accepts it: no
    // greeting arrives while paused.
    let mut b = TcpStream::connect(("127.0.0.1", PORT)).unwrap();
    b.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut buf = [0u8; 16];
    match b.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a paused worker accepted a connection: {other:?}"),
    }
    // Accepted connections carry on meanwhile.
    assert!(a.ask("pid").parse::<i32>().is_ok());

    assert_eq!(a.ask("resume"), "resumed");
    b.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut b = BufReader::new(b);
    let mut line = String::new();
    b.read_line(&mut line).unwrap();
    assert_eq!(line, "hi\n", "the waiting connection is accepted on resume");

    assert_eq!(a.ask("unlisten"), "unlistened");
    // With reuse_port the process held the only socket: the port is closed now.
    wait_for("connections refused after unlisten", || {
        match TcpStream::connect(("127.0.0.1", PORT)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Some(()),
            _ => None,
        }
    });
    // Both accepted connections still work.
    assert!(a.ask("pid").parse::<i32>().is_ok());
    b.get_mut().write_all(b"pid\n").unwrap();
    line.clear();
    b.read_line(&mut line).unwrap();
    assert!(line.trim().parse::<i32>().is_ok(), "{line}");
    assert!(app.stop().status.success());
}

#[test]
fn daemonize_from_code_and_a_configured_status_file() {
    let mut app = App::new("worker_hooks");
    let status_file = app.dir.join("custom").join("hooks.status");
    std::fs::create_dir_all(status_file.parent().unwrap()).unwrap();
    app.env.push(("WORKER_HOOKS_DAEMONIZE".into(), "1".into()));
    app.env
        .push(("WORKER_HOOKS_STATUS_FILE".into(), status_file.display().to_string()));
    // The default report paths are made unusable: only the configured path can work.
    std::fs::create_dir_all(app.pid_file().with_extension("status")).unwrap();
    std::fs::create_dir_all(app.pid_file().with_extension("connections")).unwrap();

    // `start` without -d returns: the start file daemonized itself.
    let mut child = app.cmd(&["start"]).spawn().unwrap();
    let status = wait_for("`start` to return (daemonized)", || child.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    let master = app.master();
    assert!(alive(master));
    app.workers(2);
    assert!(
        app.log().contains("Workerman[worker_hooks] start in DAEMON mode"),
        "{}",
        app.log()
    );

    let _c = Line::connect();
    let out = app.run(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.starts_with("Start worker in DAEMON mode."), "{text}");
    assert!(text.contains("hooks") && text.contains("ticker"), "{text}");
    let out = app.run(&["connections"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains(&format!("127.0.0.1:{PORT}")), "{text}");
    assert!(app.stop().status.success());
}
