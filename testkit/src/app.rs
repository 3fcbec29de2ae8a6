//! An example binary run through its CLI, with its own pid, log and stdout files.

use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::guard::ExamplesGuard;
use crate::procfs::{alive, children, kill, port_holder, port_is_free, started_worker};
use crate::tls::scratch_dir;
use crate::wait::{WAIT, wait_for};

/// Where cargo puts the examples of the workspace: `target/<profile>/examples`, next to the
/// `deps` directory the running test binary is in.
pub fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples")
}

/// One example binary with its own scratch directory (pid, log and stdout files). Holds the
/// [`ExamplesGuard`] while it lives; dropping it kills whatever of it still runs.
pub struct App {
    name: String,
    exe: PathBuf,
    /// Scratch directory (pid, log and stdout files live here; removed on drop).
    pub dir: PathBuf,
    /// Extra environment for every command.
    pub env: Vec<(String, String)>,
    _guard: ExamplesGuard,
}

impl App {
    /// The example `name` (built by `cargo test` / `cargo nextest`); waits for the guard.
    pub fn new(name: &str) -> App {
        let guard = ExamplesGuard::acquire();
        let exe = examples_dir().join(name);
        assert!(
            exe.exists(),
            "{} is missing: build the examples first (cargo test and cargo nextest build them)",
            exe.display()
        );
        App {
            name: name.to_string(),
            exe,
            dir: scratch_dir(name),
            env: Vec::new(),
            _guard: guard,
        }
    }

    /// Runs `exe` instead of the example from now on (say, a copy "installed" elsewhere).
    pub fn set_exe(&mut self, exe: &std::path::Path) {
        self.exe = exe.to_path_buf();
    }

    /// `dir/app.pid`.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("app.pid")
    }

    /// `dir/app.log`.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("app.log")
    }

    /// A command running the example with `args` and this app's files (stdin closed).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.exe);
        c.args(args)
            .env("WORKERMAN_PID_FILE", self.pid_file())
            .env("WORKERMAN_LOG_FILE", self.log_file())
            .env("WORKERMAN_STDOUT_FILE", self.dir.join("stdout.txt"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    /// Runs the example with `args` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `start -d`, which must succeed (see [`App::start_daemon_with`]).
    pub fn start_daemon(&self) -> Output {
        self.start_daemon_with(std::iter::empty::<(&str, &str)>())
    }

    /// `start -d` with extra environment, which must succeed. When the start fails because a
    /// port is in use, waits up to [`WAIT`] for the port (a previous test's processes may still
    /// be exiting) and tries again; then fails naming the process that holds the port.
    pub fn start_daemon_with<K, V>(&self, env: impl IntoIterator<Item = (K, V)>) -> Output
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let env: Vec<(OsString, OsString)> = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let started = Instant::now();
        loop {
            let out = self
                .cmd(&["start", "-d"])
                .envs(env.iter().map(|(k, v)| (k, v)))
                .output()
                .unwrap();
            if out.status.success() {
                return out;
            }
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let Some(port) = busy_port(&text) else {
                panic!("{} start -d failed: {text}", self.name);
            };
            while !port_is_free(port) {
                assert!(
                    started.elapsed() < WAIT,
                    "{} cannot start: port {port} is held by {} (the tests need the examples' \
                     fixed ports; stop that process). start -d said: {text}",
                    self.name,
                    port_holder(port).join(", ")
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Writes a test certificate and key to the scratch directory ([`crate::test_cert`]), then
    /// `start -d` with them in `TLS_CERT` / `TLS_KEY`; returns (certificate, key) paths.
    pub fn start_with_test_cert(&self) -> (PathBuf, PathBuf) {
        let (cert, key) = crate::tls::test_cert(&self.dir);
        self.start_daemon_with([("TLS_CERT", &cert), ("TLS_KEY", &key)]);
        (cert, key)
    }

    /// `start -d`, then waits for `workers` worker processes.
    pub fn start(&self, workers: usize) {
        self.start_daemon();
        self.workers(workers);
    }

    /// The master's pid, from the pid file (which must exist and have no newline).
    pub fn master(&self) -> i32 {
        let text = fs::read_to_string(self.pid_file()).expect("pid file");
        assert!(!text.ends_with('\n'), "pid file has no newline");
        text.parse().unwrap()
    }

    /// Waits until the master has exactly `count` worker processes, each started (see
    /// [`started_worker`]: a forked child that has not reached its event loop accepts nothing
    /// yet, so tests that spread connections over processes would see fewer); returns their pids.
    pub fn workers(&self, count: usize) -> Vec<i32> {
        let master = self.master();
        wait_for(&format!("{count} started worker processes"), || {
            let c = children(master);
            (c.len() == count && c.iter().all(|p| started_worker(master, *p))).then_some(c)
        })
    }

    /// The log file so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// Waits for `needle` in the log.
    pub fn wait_log(&self, needle: &str) {
        wait_for(&format!("log line `{needle}`"), || {
            self.log().contains(needle).then_some(())
        });
    }

    /// `stop`.
    pub fn stop(&self) -> Output {
        self.run(&["stop"])
    }

    /// Binds TCP `port` on all addresses for the test itself (say, an upstream the example
    /// connects to), waiting up to [`WAIT`] for it; then fails naming the process that holds it.
    pub fn hold_port(&self, port: u16) -> TcpListener {
        let started = Instant::now();
        loop {
            match TcpListener::bind(("0.0.0.0", port)) {
                Ok(l) => return l,
                Err(e) => assert!(
                    started.elapsed() < WAIT,
                    "port {port} is held by {} ({e}); the tests need it",
                    port_holder(port).join(", ")
                ),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The port of a `cannot listen on ADDRESS: ... in use` start error.
fn busy_port(text: &str) -> Option<u16> {
    let rest = text.split("cannot listen on ").nth(1)?;
    let (address, reason) = rest.split_once(": ")?;
    if !reason.lines().next()?.contains("in use") {
        return None;
    }
    address.rsplit(':').next()?.parse().ok()
}

impl Drop for App {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(self.pid_file()).map(|t| t.trim().parse::<i32>().unwrap_or(0))
            && pid > 0
            && alive(pid)
        {
            // The master first, so it cannot start replacements for the workers killed next.
            let mut all = vec![pid];
            all.extend(children(pid));
            for &p in &all {
                kill(p, 9);
            }
            // The next test may need the same ports: wait for the processes to be gone.
            let deadline = Instant::now() + Duration::from_secs(5);
            while all.iter().any(|&p| alive(p)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
