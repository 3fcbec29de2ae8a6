//! `memcache_demo` (2367) against a memcached of its own (on a free port, so it can be paused and
//! restarted): values round trip through both processes, missing keys are 404; a paused server
//! (SIGSTOP for 1 s) holds up only the call waiting for it; killed → 503 and a log line; started
//! again → the same processes store and read again.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{App, Private, free_port, have, http, quick_while_slow, try_http, wait_for};

const PORT: u16 = 2367;

fn memcached(port: u16) -> Private {
    let mut cmd = Command::new("memcached");
    cmd.args([
        "-l",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "0",
        "-u",
        "root",
        "-m",
        "16",
    ]);
    Private::start(cmd, port)
}

#[test]
fn values_round_trip_survive_a_paused_and_a_restarted_memcached() {
    if !have("memcached", "memcached") {
        return;
    }
    let mport = free_port();
    let mut server = memcached(mport);
    let mut app = App::new("memcache_demo");
    app.env.push(("MEMCACHE_ADDR".into(), format!("127.0.0.1:{mport}")));
    app.start(2);
    support::common::connect(PORT);

    assert_eq!(http(PORT, "GET", "/get/absent", "").status, 404);
    let mut pids = std::collections::BTreeSet::new();
    for i in 0..400 {
        let value = format!("value {i} with spaces\r\nand a CRLF ✓");
        let r = http(PORT, "POST", &format!("/set/k{i}"), &value);
        assert_eq!((r.status, r.body.as_str()), (200, "STORED"));
        pids.insert(r.pid);
        let r = http(PORT, "GET", &format!("/get/k{i}"), "");
        assert_eq!((r.status, r.body.as_str()), (200, value.as_str()));
        pids.insert(r.pid);
        if pids.len() == 2 {
            break;
        }
    }
    assert_eq!(pids.len(), 2, "both processes served");

    // memcached stopped (SIGSTOP) for 1 s: the call waits, other requests do not.
    let pid = server.child.id().to_string();
    let _ = Command::new("kill").args(["-STOP", &pid]).status();
    let t = Instant::now();
    let slow = std::thread::spawn(|| http(PORT, "GET", "/get/k0", ""));
    std::thread::sleep(Duration::from_millis(100));
    let resume = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(900));
        let _ = Command::new("kill").args(["-CONT", &pid]).status();
    });
    let r = quick_while_slow(PORT, "/", slow);
    resume.join().unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(t.elapsed() >= Duration::from_millis(900));

    // Killed: 503 and a log line; started again (empty): the same processes work again.
    server.kill();
    let r = wait_for("a 503 while memcached is down", || {
        try_http(PORT, "GET", "/get/k0", "").filter(|r| r.status == 503)
    });
    assert_eq!(r.body, r#"{"error":"memcache unavailable"}"#);
    app.wait_log(&format!("memcache at 127.0.0.1:{mport} unavailable:"));
    server = memcached(mport);
    let mut seen = std::collections::BTreeSet::new();
    wait_for("both processes storing again", || {
        let r = try_http(PORT, "POST", "/set/again", "yes")?;
        if r.status == 200 {
            seen.insert(r.pid);
        }
        (seen.len() == 2).then_some(())
    });
    assert_eq!(seen, pids, "the same worker processes recovered");
    assert_eq!(http(PORT, "GET", "/get/again", "").body, "yes");
    assert_eq!(
        http(PORT, "GET", "/get/k0", "").status,
        404,
        "a restarted memcached is empty"
    );
    app.stop();
    drop(server);
}
