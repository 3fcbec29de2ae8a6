//! `http_fetch` (2363) against an upstream HTTP server of the test's own: status and size round
//! trip through both processes; a slow upstream holds up only the fetch waiting for it; the
//! upstream stopped → 503 and a log line; started again → fetches work again.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{App, http, quick_while_slow, try_http, wait_for};

const PORT: u16 = 2363;

/// An HTTP/1.1 upstream: `/data/<n>` answers n bytes (status 200), `/slow` after 2 s, anything
/// else 404. Runs until `stop` is set (then its port is closed).
fn upstream(listener: TcpListener, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            std::thread::spawn(move || {
                s.set_nonblocking(false).unwrap();
                let mut line = String::new();
                let mut reader = BufReader::new(s.try_clone().unwrap());
                reader.read_line(&mut line).unwrap();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split(' ').nth(1).unwrap_or("/").to_string();
                let (status, body) = if let Some(n) = path.strip_prefix("/data/") {
                    (200, "x".repeat(n.parse().unwrap_or(0)))
                } else if path == "/slow" {
                    std::thread::sleep(Duration::from_secs(2));
                    (200, "slow".to_string())
                } else {
                    (404, "no".to_string())
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    })
}

#[test]
fn fetches_round_trip_a_slow_upstream_stalls_nothing_and_a_restarted_upstream_is_used_again() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let server = upstream(listener, stop.clone());

    let mut app = App::new("http_fetch");
    app.env.push(("FETCH_TIMEOUT_SECS".into(), "5".into()));
    app.start(2);
    support::common::connect(PORT);

    let mut pids = std::collections::BTreeSet::new();
    for n in [0usize, 1, 1000, 70_000].iter().cycle().take(400) {
        let r = http(PORT, "GET", &format!("/fetch?url=http://127.0.0.1:{up}/data/{n}"), "");
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, format!(r#"{{"status":200,"bytes":{n}}}"#).as_str())
        );
        pids.insert(r.pid);
        if pids.len() == 2 {
            break;
        }
    }
    assert_eq!(pids.len(), 2, "both processes fetched");
    let r = http(PORT, "GET", &format!("/fetch?url=http://127.0.0.1:{up}/missing"), "");
    assert_eq!(r.body, r#"{"status":404,"bytes":2}"#);
    assert_eq!(http(PORT, "GET", "/fetch?url=file:///etc/passwd", "").status, 400);

    // A slow upstream (2 s): other requests of the same processes are answered meanwhile.
    let t = Instant::now();
    let slow = std::thread::spawn(move || http(PORT, "GET", &format!("/fetch?url=http://127.0.0.1:{up}/slow"), ""));
    std::thread::sleep(Duration::from_millis(100));
    let r = quick_while_slow(PORT, "/", slow);
    assert_eq!(r.body, r#"{"status":200,"bytes":4}"#);
    assert!(t.elapsed() >= Duration::from_millis(1900));

    // The upstream stops: 503 and a log line naming it.
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
    let url = format!("http://127.0.0.1:{up}/data/5");
    let r = http(PORT, "GET", &format!("/fetch?url={url}"), "");
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, r#"{"error":"upstream unavailable"}"#)
    );
    app.wait_log(&format!("upstream at {url} unavailable:"));

    // It starts again on the same port: fetches work again, in both processes.
    let listener = wait_for("the upstream's port", || TcpListener::bind(("127.0.0.1", up)).ok());
    let stop = Arc::new(AtomicBool::new(false));
    let server = upstream(listener, stop.clone());
    let mut seen = std::collections::BTreeSet::new();
    wait_for("both processes fetching again", || {
        let r = try_http(PORT, "GET", &format!("/fetch?url={url}"), "")?;
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":200,"bytes":5}"#));
        seen.insert(r.pid);
        (seen.len() == 2).then_some(())
    });
    app.stop();
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
}
