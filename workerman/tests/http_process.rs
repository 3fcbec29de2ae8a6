//! HTTP process tests: `http_hello` (port 2345) and `http_app` (port 2355) run through their CLI
//! and are driven by real clients (Python `requests`, curl-like raw sockets). Fixed ports, so these
//! run one at a time (the harness's examples guard; the `process` test group in
//! .config/nextest.toml saves nextest the wait).

use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use workerman_testkit::*;

fn python(script: &str) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3 is required");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim().ends_with("ok"),
        "python client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One keep-alive request; `Ok((body, server_closes))`.
fn get(r: &mut BufReader<TcpStream>, path: &str) -> std::io::Result<(String, bool)> {
    r.get_mut()
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())?;
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    if !line.starts_with("HTTP/1.1 200 ") {
        return Err(std::io::Error::other(format!("status line {line:?}")));
    }
    let (mut len, mut close) = (0, false);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let h = h.trim_end().to_ascii_lowercase();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.strip_prefix("content-length: ") {
            len = v.parse().unwrap();
        }
        close |= h == "connection: close";
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok((String::from_utf8_lossy(&body).into_owned(), close))
}

#[test]
fn http_hello_serves_keep_alive_and_stops() {
    let app = App::new("http_hello");
    app.start(4);
    let mut r = BufReader::new(connect(2345));
    for _ in 0..3 {
        assert_eq!(get(&mut r, "/").unwrap(), ("hello world".to_string(), false));
    }
    let out = Command::new("curl")
        .args(["-s", "http://127.0.0.1:2345/"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello world");
    let out = app.run(&["stop"]);
    assert!(out.status.success(), "{out:?}");
}

/// Keep-alive clients hammer http_hello through `reload -g` and `reload`: a connection on a
/// process that is going away gets `Connection: close` on its next response, and neither reload
/// loses a request.
#[test]
fn reload_under_load_loses_no_request() {
    let app = App::new("http_hello");
    app.start(4);
    connect(2345);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut closes, mut failed) = (0u64, 0u64, Vec::new());
                let mut conn: Option<BufReader<TcpStream>> = None;
                while !stop.load(Ordering::SeqCst) {
                    let r = match conn.as_mut() {
                        Some(r) => r,
                        None => match TcpStream::connect(("127.0.0.1", 2345)) {
                            Ok(s) => {
                                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                                conn.insert(BufReader::new(s))
                            }
                            Err(e) => {
                                failed.push(format!("connect: {e}"));
                                continue;
                            }
                        },
                    };
                    match get(r, "/") {
                        Ok((body, close)) if body == "hello world" => {
                            ok += 1;
                            if close {
                                closes += 1;
                                conn = None;
                            }
                        }
                        Ok((body, _)) => failed.push(format!("body {body:?}")),
                        Err(e) => {
                            failed.push(e.to_string());
                            conn = None;
                        }
                    }
                }
                (ok, closes, failed)
            })
        })
        .collect();
    let mut generations = vec![app.workers(4).into_iter().collect::<HashSet<_>>()];
    for args in [&["reload"][..], &["reload", "-g"][..]] {
        let mark = app.log().matches("reloaded").count();
        std::thread::sleep(Duration::from_millis(300));
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
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut closes, mut failed) = (0, 0, Vec::new());
    for c in clients {
        let (o, c, f) = c.join().unwrap();
        ok += o;
        closes += c;
        failed.extend(f);
    }
    assert!(ok > 100, "{ok} requests");
    assert!(
        closes >= 8,
        "keep-alive connections on retiring workers got Connection: close ({closes})"
    );
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        ok,
        &failed[..failed.len().min(5)]
    );
    assert!(app.run(&["stop"]).status.success());
}

#[test]
fn http_app_endpoints_with_real_clients() {
    let mut app = App::new("http_app");
    let static_dir = app.dir.join("static");
    fs::create_dir_all(&static_dir).unwrap();
    // 100 MiB, a pattern the client can check.
    let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut f = fs::File::create(static_dir.join("big.bin")).unwrap();
    for _ in 0..100 {
        f.write_all(&block).unwrap();
    }
    drop(f);
    fs::write(static_dir.join("hello.txt"), "static hello").unwrap();
    app.env
        .push(("HTTP_APP_STATIC_DIR".into(), static_dir.display().to_string()));
    app.env.push((
        "HTTP_APP_SESSION_DIR".into(),
        app.dir.join("sessions").display().to_string(),
    ));
    app.start(2);
    connect(2355);
    python(
        r#"
import hashlib, json, time, requests, http.client
base = "http://127.0.0.1:2355"
r = requests.get(base + "/get", params={"a": "1", "b": "x y", "c": "é"}, timeout=10)
assert r.json() == {"a": "1", "b": "x y", "c": "é"}, r.text
assert r.headers["Content-Type"] == "application/json"
assert requests.post(base + "/post", data={"k": "v", "n": "2"}, timeout=10).json() == {"k": "v", "n": "2"}
assert requests.post(base + "/post", json={"k": [1, {"x": None}]}, timeout=10).json() == {"k": [1, {"x": None}]}
up = requests.post(base + "/upload", data={"note": "hi"},
                   files={"f1": ("a.txt", b"hello", "text/plain"), "f2": ("b.bin", b"\0" * 3000000)}, timeout=30).json()
assert up["fields"] == {"note": "hi"}, up
assert [(f["field"], f["name"], f["size"], f["error"]) for f in up["files"]] == [("f1", "a.txt", 5, 0), ("f2", "b.bin", 3000000, 0)], up
assert up["files"][0]["type"] == "text/plain"

s = requests.Session()
assert [s.get(base + "/session", timeout=10).text for _ in range(4)] == ["1", "2", "3", "4"]
assert requests.get(base + "/session", timeout=10).text == "1"

t0 = time.time()
r = requests.get(base + "/sse", stream=True, timeout=10)
assert r.headers["Content-Type"] == "text/event-stream"
body = r.raw.read().decode()
took = time.time() - t0
events = [e for e in body.split("\n\n") if e]
assert len(events) == 5, body
assert events[4] == "event: tick\nid: 5\ndata: event 5", events[4]
assert took >= 0.4, took

assert requests.get(base + "/static/hello.txt", timeout=10).text == "static hello"
assert requests.get(base + "/nothing", timeout=10).status_code == 404
assert requests.get(base + "/static/../hello.txt", timeout=10).status_code in (404, 400)

block = bytes(i % 251 for i in range(1024 * 1024))
want = hashlib.sha256(block * 100).hexdigest()
r = requests.get(base + "/static/big.bin", stream=True, timeout=30)
assert r.status_code == 200 and r.headers["Content-Length"] == str(100 * 1024 * 1024)
h = hashlib.sha256()
for chunk in r.iter_content(1 << 20):
    h.update(chunk)
assert h.hexdigest() == want
lm = r.headers["Last-Modified"]
r = requests.get(base + "/static/big.bin", headers={"Range": "bytes=52428800-52428899"}, timeout=10)
assert r.status_code == 206, r.status_code
assert r.headers["Content-Range"] == "bytes 52428800-52428899/104857600"
assert r.content == (block * 51)[52428800:52428900]
r = requests.get(base + "/static/big.bin", headers={"If-Modified-Since": lm}, timeout=10)
assert r.status_code == 304 and r.content == b""

# Pipelined on one connection, in one write; the last asks to close.
import socket
sock = socket.create_connection(("127.0.0.1", 2355), timeout=10)
sock.sendall(b"GET /get?i=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /get?i=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    part = sock.recv(65536)
    if not part:
        break
    data += part
assert data.count(b"HTTP/1.1 200 OK") == 3, data
a, b, c = data.index(b'{"i":"1"}'), data.index(b"static hello"), data.index(b'{"i":"3"}')
assert a < b < c, data
assert data.endswith(b'{"i":"3"}'), data
print("ok")
"#,
    );
    // The worker's memory stays bounded while streaming 100 MiB (files are never read whole).
    for pid in app.workers(2) {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let hwm_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap();
        assert!(hwm_kb < 60 * 1024, "worker {pid} peaked at {hwm_kb} kB");
    }
    assert!(app.run(&["stop"]).status.success());
}
