//! The harness of the process tests: example binaries run through their CLI with their own pid,
//! log and stdout files; readiness polled, never slept; one test at a time (fixed ports).
#![allow(dead_code)]

use std::fs;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// How long any wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn examples_dir() -> PathBuf {
    // target/debug/deps/process-xxxx → target/debug/examples
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples")
}

pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

pub fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields[0] != "Z" && fields[1].parse::<i32>() == Ok(pid) {
            out.push(p);
        }
    }
    out.sort();
    out
}

pub fn kill(pid: i32, sig: i32) {
    // SAFETY-free: shelling out keeps the test free of libc.
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// One example binary with its own pid, log and stdout files.
pub struct App {
    exe: PathBuf,
    /// Scratch directory (pid, log and stdout files live here).
    pub dir: PathBuf,
    /// Extra environment for every command.
    pub env: Vec<(String, String)>,
    _serial: Option<std::sync::MutexGuard<'static, ()>>,
}

thread_local! {
    /// Whether this test thread holds SERIAL already (a test may run several apps).
    static HOLDS_SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl App {
    pub fn new(name: &str) -> App {
        let serial = if HOLDS_SERIAL.with(|h| h.replace(true)) {
            None
        } else {
            Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
        };
        let exe = examples_dir().join(name);
        assert!(
            exe.exists(),
            "{} is missing: build the examples first (cargo test builds them)",
            exe.display()
        );
        let dir = std::env::temp_dir().join(format!(
            "wm-test-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        App {
            exe,
            dir,
            env: Vec::new(),
            _serial: serial,
        }
    }

    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("app.pid")
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("app.log")
    }

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

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn start_daemon(&self) -> Output {
        let out = self.run(&["start", "-d"]);
        assert!(
            out.status.success(),
            "start -d failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `start -d`, then waits for `workers` worker processes.
    pub fn start(&self, workers: usize) {
        self.start_daemon();
        self.workers(workers);
    }

    pub fn master(&self) -> i32 {
        let text = fs::read_to_string(self.pid_file()).expect("pid file");
        assert!(!text.ends_with('\n'), "pid file has no newline");
        text.parse().unwrap()
    }

    pub fn workers(&self, count: usize) -> Vec<i32> {
        let master = self.master();
        wait_for(&format!("{count} worker processes"), || {
            let c = children(master);
            (c.len() == count).then_some(c)
        })
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    pub fn wait_log(&self, needle: &str) {
        wait_for(&format!("log line `{needle}`"), || {
            self.log().contains(needle).then_some(())
        });
    }

    pub fn stop(&self) -> Output {
        self.run(&["stop"])
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if self._serial.is_some() {
            HOLDS_SERIAL.with(|h| h.set(false));
        }
        if let Ok(pid) = fs::read_to_string(self.pid_file()).map(|t| t.trim().parse::<i32>().unwrap_or(0))
            && pid > 0
            && alive(pid)
        {
            let kids = children(pid);
            kill(pid, 9);
            for k in kids {
                kill(k, 9);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

pub fn connect(port: u16) -> TcpStream {
    let s = wait_for(&format!("port {port}"), || TcpStream::connect(("127.0.0.1", port)).ok());
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}
