//! `dns_lookup` (2366) against a DNS server of its own: `dnsmasq` (Debian's `dnsmasq-base`) on a
//! free port, authoritative for `.test` with A, AAAA, MX and TXT records given on its command
//! line. Records round trip through both worker processes; a paused server (SIGSTOP for 1 s)
//! holds up only the lookup waiting for it; killed → 503 and a log line; started again → the same
//! processes resolve again.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{App, Private, free_port, have, http, quick_while_slow, try_http, wait_for};

const PORT: u16 = 2366;

fn dnsmasq(port: u16) -> Private {
    let mut cmd = Command::new("dnsmasq");
    cmd.args([
        "--keep-in-foreground",
        &format!("--port={port}"),
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--conf-file=/dev/null",
        "--user=root",
        "--pid-file=",
        // Authoritative for .test: unknown names there are NXDOMAIN.
        "--local=/test/",
        // example.test and every name under it.
        "--address=/example.test/10.1.2.3",
        "--address=/example.test/fd00::1:2",
        "--mx-host=example.test,mail.example.test,10",
        "--txt-record=example.test,hello world ✓,v=2",
        // A name with an A record only: AAAA is "no records" (NOERROR, empty).
        "--host-record=v4only.test,10.9.9.9",
    ]);
    Private::start(cmd, port)
}

fn resolve(name: &str, kind: &str) -> support::Reply {
    http(PORT, "GET", &format!("/resolve?name={name}&type={kind}"), "")
}

fn json(r: &support::Reply) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{r:?}: {e}"))
}

#[test]
fn records_round_trip_survive_a_paused_and_a_restarted_server() {
    if !have("dnsmasq", "DNS server") {
        return;
    }
    let dport = free_port();
    let mut server = dnsmasq(dport);
    let mut app = App::new("dns_lookup");
    app.env.push(("DNS_SERVER".into(), format!("127.0.0.1:{dport}")));
    app.start(2);
    support::common::connect(PORT);

    // Every record type, through both processes.
    let mut pids = BTreeSet::new();
    for i in 0..300 {
        let checks: [(&str, &str, serde_json::Value); 4] = [
            ("example.test", "A", serde_json::json!(["10.1.2.3"])),
            ("example.test", "AAAA", serde_json::json!(["fd00::1:2"])),
            (
                "example.test",
                "MX",
                serde_json::json!([{"preference": 10, "exchange": "mail.example.test."}]),
            ),
            ("example.test", "TXT", serde_json::json!(["hello world ✓v=2"])),
        ];
        for (name, kind, want) in checks {
            let r = resolve(name, kind);
            assert_eq!(r.status, 200, "{name} {kind}: {r:?}");
            assert_eq!(json(&r), want, "{name} {kind}");
            pids.insert(r.pid);
        }
        let r = resolve(&format!("n{i}.example.test"), "a");
        assert_eq!((r.status, json(&r)), (200, serde_json::json!(["10.1.2.3"])));
        if pids.len() == 2 {
            break;
        }
    }
    assert_eq!(pids.len(), 2, "both processes answered");
    // No such name: 404; a name without that type: []; bad input: 400.
    let r = resolve("missing.test", "A");
    assert_eq!((r.status, r.body.as_str()), (404, r#"{"error":"no such name"}"#));
    let r = resolve("v4only.test", "AAAA");
    assert_eq!((r.status, r.body.as_str()), (200, "[]"));
    assert_eq!(resolve("v4only.test", "A").body, r#"["10.9.9.9"]"#);
    assert_eq!(resolve("example.test", "SRV").status, 400);
    assert_eq!(http(PORT, "GET", "/resolve?type=A", "").status, 400);
    assert_eq!(resolve("a..b", "A").status, 400);

    // The server stops (SIGSTOP) for 1 s: that lookup waits, nothing else does.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let t = Instant::now();
    let slow = std::thread::spawn(|| resolve("slow.example.test", "A"));
    std::thread::sleep(Duration::from_millis(100));
    let resume = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(900));
        let _ = Command::new("kill").args(["-CONT", &pid]).status();
    });
    let r = quick_while_slow(PORT, "/", slow);
    resume.join().unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, r#"["10.1.2.3"]"#), "{r:?}");
    assert!(t.elapsed() >= Duration::from_millis(900), "the lookup waited");

    // Killed: 503 and a log line naming the server.
    server.kill();
    let mut i = 0;
    let r = wait_for("a 503 while the DNS server is down", || {
        i += 1;
        try_http(PORT, "GET", &format!("/resolve?name=down{i}.example.test&type=A"), "").filter(|r| r.status == 503)
    });
    assert_eq!(r.body, r#"{"error":"DNS unavailable"}"#);
    app.wait_log(&format!("DNS at 127.0.0.1:{dport} unavailable:"));

    // Started again: the same processes resolve again, by themselves.
    server = dnsmasq(dport);
    let mut seen = BTreeSet::new();
    wait_for("both processes resolving again", || {
        i += 1;
        let r = try_http(PORT, "GET", &format!("/resolve?name=up{i}.example.test&type=A"), "")?;
        if r.status == 200 {
            assert_eq!(r.body, r#"["10.1.2.3"]"#);
            seen.insert(r.pid);
        }
        (seen.len() == 2).then_some(())
    });
    assert_eq!(seen, pids, "the same worker processes recovered");
    app.stop();
    drop(server);
}
