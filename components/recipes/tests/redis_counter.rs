//! `redis_counter` (2362) against a real Redis of its own (redis-server on a free port, so it can
//! be stopped and started): values round trip through both worker processes; a paused Redis
//! (`CLIENT PAUSE`) holds up only the requests waiting for it; Redis killed → 503 and a log line;
//! Redis back → answers again without a restart of the service.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{App, Private, free_port, have, http, quick_while_slow, try_http, wait_for};

const PORT: u16 = 2362;

fn redis_server(port: u16) -> Private {
    let mut cmd = Command::new("redis-server");
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    Private::start(cmd, port)
}

/// One command in RESP; returns the raw reply.
fn redis_cmd(port: u16, args: &[&str]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req += &format!("${}\r\n{a}\r\n", a.len());
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn counter_round_trips_survives_a_slow_redis_and_a_redis_restart() {
    if !have("redis-server", "Redis server") {
        return;
    }
    let rport = free_port();
    let mut redis = redis_server(rport);
    let mut app = App::new("redis_counter");
    app.env
        .push(("REDIS_URL".into(), format!("redis://127.0.0.1:{rport}/0")));
    app.start(2);
    support::common::connect(PORT);

    // Values round trip, from both processes.
    let mut pids = std::collections::BTreeSet::new();
    let mut n = 0;
    while pids.len() < 2 {
        let r = http(PORT, "GET", "/incr/visits", "");
        n += 1;
        assert_eq!((r.status, r.body.as_str()), (200, n.to_string().as_str()), "{r:?}");
        pids.insert(r.pid);
        assert!(n < 1000, "one process answered every request");
    }
    assert_eq!(
        redis_cmd(rport, &["GET", "visits"]),
        format!("${}\r\n{n}\r\n", n.to_string().len())
    );

    // Redis pauses writes for 1.5 s: the INCR waits; the same processes answer other requests.
    assert_eq!(redis_cmd(rport, &["CLIENT", "PAUSE", "1500", "WRITE"]), "+OK\r\n");
    let t = Instant::now();
    let slow = std::thread::spawn(|| http(PORT, "GET", "/incr/visits", ""));
    std::thread::sleep(Duration::from_millis(100)); // let the slow request reach Redis first
    let r = quick_while_slow(PORT, "/", slow);
    assert_eq!((r.status, r.body.clone()), (200, (n + 1).to_string()), "{r:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "the INCR did wait for the pause"
    );

    // Redis goes away: 503, and the log says which server and why.
    redis.kill();
    let r = wait_for("a 503 while Redis is down", || {
        try_http(PORT, "GET", "/incr/visits", "").filter(|r| r.status == 503)
    });
    assert_eq!(r.body, r#"{"error":"Redis unavailable"}"#);
    app.wait_log(&format!("Redis at redis://127.0.0.1:{rport}/0 unavailable:"));

    // Back (empty: it keeps nothing): the same processes reconnect by themselves.
    redis = redis_server(rport);
    let mut seen = std::collections::BTreeSet::new();
    let mut last = 0;
    wait_for("both processes counting again", || {
        let r = try_http(PORT, "GET", "/incr/after", "")?;
        if r.status == 200 {
            let v: i64 = r.body.parse().unwrap();
            assert_eq!(v, last + 1, "{r:?}");
            last = v;
            seen.insert(r.pid);
        }
        (seen.len() == 2).then_some(())
    });
    assert_eq!(seen, pids, "the same worker processes recovered (no restart)");
    app.stop();
    drop(redis);
    app.env.clear();
}
