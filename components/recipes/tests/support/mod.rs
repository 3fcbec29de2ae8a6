//! What the recipe tests share: the process harness of the core's tests, a tiny HTTP client, the
//! service lookup with its skip rule, a private server process, and a gate that takes a server
//! away and brings it back.
#![allow(dead_code)]

pub use workerman_testkit as common;
pub mod notes;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use common::{App, wait_for};

/// One HTTP response: status, the `X-Worker-Pid` header, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub pid: u32,
    pub body: String,
}

/// One request on a new connection (`Connection: close`); `None` if the server is not there.
pub fn try_http(port: u16, method: &str, path: &str, body: &str) -> Option<Reply> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let pid = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("X-Worker-Pid: ")
                .or_else(|| l.strip_prefix("x-worker-pid: "))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Some(Reply {
        status,
        pid,
        body: body.to_string(),
    })
}

/// One request that must get an answer.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> Reply {
    try_http(port, method, path, body).unwrap_or_else(|| panic!("no answer to {method} {path} on {port}"))
}

/// The address of a service from `env` (else `default`), if something listens there. Outside CI
/// a missing service prints `skipped: no <what> at <addr>` and the test returns; under CI
/// (`CI` set) it fails.
pub fn service(what: &str, env: &str, default: &str) -> Option<String> {
    let url = std::env::var(env)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string());
    let hostport = host_port(&url);
    if TcpStream::connect_timeout(&hostport.parse().expect("host:port"), Duration::from_secs(2)).is_ok() {
        return Some(url);
    }
    if std::env::var_os("CI").is_some() {
        panic!("no {what} at {hostport} ({env}), and CI is set");
    }
    println!("skipped: no {what} at {hostport}");
    None
}

/// `scheme://user:pw@host:port/path` → `scheme://user@host:port/path` (as the examples log it).
pub fn redact(url: &str) -> String {
    workerman_recipes::redact(url)
}

/// `scheme://user:pw@host:port/path` → `host:port`.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    rest[..end].to_string()
}

/// A free port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether a program is on PATH; under CI a missing one fails.
pub fn have(program: &str, what: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{program} is missing, and CI is set");
        }
        println!("skipped: no {what} ({program} not installed)");
    }
    found
}

/// A server process of our own (killed when dropped).
pub struct Private {
    pub child: Child,
    pub port: u16,
}

impl Private {
    /// Starts `cmd` and waits until `port` accepts connections.
    pub fn start(mut cmd: Command, port: u16) -> Private {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        wait_for(&format!("a server on port {port}"), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Private { child, port }
    }

    /// Kills the server (SIGKILL: no goodbye to its clients) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP gate in front of a real server: while up it pipes every connection through; `down()`
/// resets every piped connection and refuses new ones — what a client sees when the server stops
/// — and `up()` accepts again on the same port. `pause()` holds every byte in both directions
/// (a server that stops answering) until `resume()`.
pub struct Gate {
    pub port: u16,
    target: String,
    open: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl Gate {
    pub fn new(target: &str) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = Gate {
            port,
            target: target.to_string(),
            open: Arc::new(AtomicBool::new(true)),
            paused: Arc::new(AtomicBool::new(false)),
            conns: Arc::new(Mutex::new(Vec::new())),
            stop: Arc::new(AtomicBool::new(false)),
        };
        gate.serve(listener);
        gate
    }

    fn serve(&self, listener: TcpListener) {
        let (target, open, conns, stop, paused) = (
            self.target.clone(),
            self.open.clone(),
            self.conns.clone(),
            self.stop.clone(),
            self.paused.clone(),
        );
        std::thread::spawn(move || {
            listener.set_nonblocking(true).unwrap();
            while !stop.load(Ordering::SeqCst) && open.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut list = conns.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                drop(list);
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), paused.clone());
                pipe(server, client, paused.clone());
            }
            // Dropping the listener: connects are refused from now on.
        });
    }

    /// The server "stops": connections reset, new ones refused.
    pub fn down(&self) {
        self.open.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Wait until the listener is gone.
        wait_for("the gate to close", || {
            TcpStream::connect(("127.0.0.1", self.port)).is_err().then_some(())
        });
    }

    /// Holds every byte in both directions until [`Gate::resume`].
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Lets bytes through again.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    /// A handle that resumes the gate from another thread.
    pub fn resumer(&self) -> impl FnOnce() + Send + 'static {
        let paused = self.paused.clone();
        move || paused.store(false, Ordering::SeqCst)
    }

    /// The server "is back" on the same port.
    pub fn up(&self) {
        let listener = wait_for("the gate's port again", || {
            TcpListener::bind(("127.0.0.1", self.port)).ok()
        });
        self.open.store(true, Ordering::SeqCst);
        self.serve(listener);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, paused: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            while paused.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// While `slow` (a request started on another thread) is pending, quick requests to `path` are
/// answered by both worker processes, each in well under a second: a slow backend call does not
/// stall the process. Returns the slow request's reply.
pub fn quick_while_slow(port: u16, path: &str, slow: std::thread::JoinHandle<Reply>) -> Reply {
    let mut pids = std::collections::BTreeSet::new();
    let start = std::time::Instant::now();
    while pids.len() < 2 {
        let t = std::time::Instant::now();
        let r = http(port, "GET", path, "");
        assert_eq!(r.status, 200, "{r:?}");
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "a quick request took {:?}",
            t.elapsed()
        );
        pids.insert(r.pid);
        assert!(start.elapsed() < Duration::from_secs(5), "only {pids:?} answered");
    }
    assert!(
        !slow.is_finished(),
        "the slow request ended before both processes answered quick ones"
    );
    slow.join().unwrap()
}
