//! Process tests of FileMonitor through the `auto_reload` example (text://0.0.0.0:2369): a
//! touched file and a replaced binary reload the worker processes; a half-written binary is
//! waited for, never run (no crash loop); daemon mode is off unless asked, and `WATCH_DIR` works.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use workerman_testkit::{App, alive, children, connect, examples_dir, kill, started_worker, wait_for};

const PORT: u16 = 2369;

/// The pid that answers one line.
fn ask() -> Option<i32> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", PORT)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    s.write_all(b"hi\n").ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.trim().strip_prefix("pid ")?.parse().ok()
}

/// Polls until a process not in `old` answers; returns it and how long that took.
fn wait_new_pid(old: &[i32]) -> (i32, std::time::Duration) {
    let t = Instant::now();
    let pid = wait_for("an answer from a new worker process", || {
        ask().filter(|p| !old.contains(p))
    });
    (pid, t.elapsed())
}

fn log_of(dir: &Path) -> String {
    fs::read_to_string(dir.join("app.log")).unwrap_or_default()
}

fn wait_log(dir: &Path, needle: &str) {
    wait_for(&format!("log line `{needle}`"), || {
        log_of(dir).contains(needle).then_some(())
    });
}

/// The copied binary run in the foreground (`start`), as during development.
struct Foreground {
    exe: PathBuf,
    dir: PathBuf,
    child: Child,
}

impl Foreground {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.exe);
        c.args(args)
            .env("WORKERMAN_PID_FILE", self.dir.join("app.pid"))
            .env("WORKERMAN_LOG_FILE", self.dir.join("app.log"))
            .env_remove("WATCH_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn master(&self) -> i32 {
        wait_for("the pid file", || {
            fs::read_to_string(self.dir.join("app.pid")).ok()?.trim().parse().ok()
        })
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(self.dir.join("app.pid")).map(|t| t.trim().parse::<i32>().unwrap_or(0))
            && pid > 0
            && alive(pid)
        {
            for k in children(pid) {
                kill(k, 9);
            }
            kill(pid, 9);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_exe(path: &Path, data: &[u8]) {
    let mut f = fs::File::create(path).unwrap();
    f.write_all(data).unwrap();
    f.sync_all().unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn touched_file_and_replaced_binary_reload_but_a_half_written_binary_waits() {
    // App holds the harness's lock (fixed port) and gives a scratch directory.
    let scratch = App::new("auto_reload");
    let bin = scratch.dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("auto_reload");
    let image = fs::read(examples_dir().join("auto_reload")).unwrap();
    write_exe(&exe, &image);

    let mut app = Foreground {
        exe: exe.clone(),
        dir: scratch.dir.clone(),
        child: Command::new("true").spawn().unwrap(),
    };
    app.child = app.cmd(&["start"]).spawn().unwrap();
    let master = app.master();
    drop(connect(PORT));
    wait_log(&app.dir, "FileMonitor: watching");
    // 2 workers + FileMonitor.
    let before = wait_for("3 worker processes", || Some(children(master)).filter(|c| c.len() == 3));
    let first = ask().expect("an answer");
    assert!(before.contains(&first));

    // A new file in the executable's directory.
    fs::write(bin.join("notes.txt"), b"x").unwrap();
    let (second, took) = wait_new_pid(&before);
    println!("touch → new worker pid {second} after {took:?}");
    wait_log(&app.dir, "notes.txt updated and reload");

    // The binary replaced by half of itself: the monitor waits, the workers stay.
    // Both workers replaced; only FileMonitor (not reloadable) is the same process.
    // And started: a child the master has forked but not yet exec'd would exec the half-written
    // binary below (then crash and be replaced).
    let workers = wait_for("both workers replaced", || {
        let c = children(master);
        (c.len() == 3
            && c.iter().filter(|p| before.contains(p)).count() == 1
            && c.iter().all(|p| started_worker(master, *p)))
        .then_some(c)
    });
    fs::remove_file(&exe).unwrap();
    write_exe(&exe, &image[..image.len() / 2]);
    wait_log(&app.dir, "is truncated");
    assert!(alive(master), "the master survived a half-written binary");
    assert_eq!(children(master), workers, "no worker process was replaced");
    let answer = ask().expect("still answering");
    assert!(workers.contains(&answer));
    assert!(
        !log_of(&app.dir).contains("crash"),
        "no crash loop:\n{}",
        log_of(&app.dir)
    );

    // The rest of the binary arrives: now the reload happens, with the complete file.
    write_exe(&exe, &image);
    let (third, took) = wait_new_pid(&workers);
    println!("binary completed → new worker pid {third} after {took:?}");
    wait_log(&app.dir, "auto_reload updated and reload");

    let out = app.cmd(&["stop"]).output().unwrap();
    assert!(out.status.success());
    wait_for("the foreground master to exit", || app.child.try_wait().ok().flatten());
}

#[test]
fn daemon_mode_is_off_unless_asked_and_watch_dir_is_watched() {
    let app = App::new("auto_reload");
    app.start(3);
    app.wait_log("FileMonitor: off in daemon mode");
    let master = app.master();
    app.stop();
    wait_for("the master to exit", || (!alive(master)).then_some(()));

    let watched = app.dir.join("watched");
    fs::create_dir_all(watched.join("target")).unwrap();
    let mut app = app;
    app.env.push(("AUTO_RELOAD_IN_DAEMON".into(), "1".into()));
    app.env.push(("WATCH_DIR".into(), watched.display().to_string()));
    fs::remove_file(app.log_file()).unwrap();
    app.start(3);
    app.wait_log("FileMonitor: watching");
    let before = children(app.master());
    drop(connect(PORT));
    // A change under an ignored directory does nothing; a real one reloads.
    fs::write(watched.join("target").join("build.o"), b"x").unwrap();
    fs::write(watched.join("app.toml"), b"x").unwrap();
    let (pid, took) = wait_new_pid(&before);
    println!("WATCH_DIR touch → new worker pid {pid} after {took:?}");
    let log = app.log();
    assert!(log.contains("app.toml updated and reload"), "{log}");
    assert!(!log.contains("build.o"), "{log}");
    app.stop();
}
