//! `mqtt_bridge` (2364) against a Mosquitto of its own (on a free port, so it can be paused and
//! restarted without disturbing the machine's broker): messages published with `mosquitto_pub`
//! reach WebSocket clients in both worker processes; a client's `publish` reaches
//! `mosquitto_sub` and the other clients; a paused broker (SIGSTOP) holds up nothing else in the
//! process; killed → `error: MQTT unavailable` and a log line; started again → the same processes
//! resubscribe and bridge again.

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{App, Private, free_port, have, wait_for};
use workerman_testkit::ws::Client;

const PORT: u16 = 2364;

fn mosquitto(port: u16) -> Private {
    let mut cmd = Command::new("mosquitto");
    cmd.args(["-p", &port.to_string()]);
    Private::start(cmd, port)
}

fn text(c: &mut Client) -> String {
    let (b0, payload) = c.frame().expect("a frame");
    assert_eq!(b0, 0x81, "a text frame");
    String::from_utf8(payload).unwrap()
}

fn say(c: &mut Client, line: &str) {
    c.send(0x1, line.as_bytes());
}

/// The pid of the process holding this connection.
fn pid(c: &mut Client) -> u32 {
    say(c, "ping");
    let t = text(c);
    t.strip_prefix("pong ")
        .unwrap_or_else(|| panic!("{t}"))
        .parse()
        .unwrap()
}

fn mosquitto_pub(port: u16, topic: &str, message: &str) {
    let ok = Command::new("mosquitto_pub")
        .args(["-p", &port.to_string(), "-q", "1", "-t", topic, "-m", message])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mosquitto_pub");
}

/// Next text frame that is not a `workerman/ready` probe.
fn next_message(c: &mut Client) -> String {
    loop {
        let t = text(c);
        if !t.starts_with("workerman/ready ") {
            return t;
        }
    }
}

#[test]
fn messages_bridge_both_ways_survive_a_paused_and_a_restarted_broker() {
    if !have("mosquitto", "Mosquitto") || !have("mosquitto_pub", "mosquitto-clients") {
        return;
    }
    let mport = free_port();
    let mut broker = mosquitto(mport);
    let mut app = App::new("mqtt_bridge");
    app.env.push(("MQTT_URL".into(), format!("mqtt://127.0.0.1:{mport}")));
    app.start(2);
    support::common::connect(PORT);

    // One WebSocket client on each worker process.
    let mut by_pid: BTreeMap<u32, Client> = BTreeMap::new();
    for _ in 0..300 {
        let mut c = Client::connect_port(PORT, "/");
        by_pid.entry(pid(&mut c)).or_insert(c);
        if by_pid.len() == 2 {
            break;
        }
    }
    assert_eq!(by_pid.len(), 2, "both processes accepted a client");
    let pids: Vec<u32> = by_pid.keys().copied().collect();
    let mut clients: Vec<Client> = by_pid.into_values().collect();

    // Both processes subscribed: a probe reaches both clients.
    let both_hear = |clients: &mut Vec<Client>, port: u16, tag: &str| {
        for c in clients.iter_mut() {
            c.s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        }
        let mut heard = [false, false];
        wait_for("both processes to hear the broker", || {
            mosquitto_pub(port, "workerman/ready", tag);
            for (i, c) in clients.iter_mut().enumerate() {
                while let Some(t) = try_text(c) {
                    heard[i] |= t == format!("workerman/ready {tag}");
                }
            }
            (heard == [true, true]).then_some(())
        });
        for c in clients.iter_mut() {
            c.s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        }
    };
    both_hear(&mut clients, mport, "1");

    // MQTT → WebSocket: every client gets `<topic> <payload>` (spaces and UTF-8 kept).
    mosquitto_pub(mport, "workerman/sensors/1", "21.5 °C ✓");
    for c in clients.iter_mut() {
        assert_eq!(next_message(c), "workerman/sensors/1 21.5 °C ✓");
    }
    // Outside workerman/#: not bridged (the next message seen is the one after it).
    mosquitto_pub(mport, "elsewhere/x", "no");
    mosquitto_pub(mport, "workerman/after", "yes");
    for c in clients.iter_mut() {
        assert_eq!(next_message(c), "workerman/after yes");
    }

    // WebSocket → MQTT: a real subscriber and the other process's client get it.
    let sub = Command::new("mosquitto_sub")
        .args(["-p", &mport.to_string(), "-t", "workerman/out/#", "-C", "1", "-v"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // mosquitto_sub subscribes a moment after it starts: publish until it got one and exited.
    let mut sub = Some(sub);
    let mut out = String::new();
    wait_for("mosquitto_sub to get the bridged message", || {
        say(&mut clients[0], "publish workerman/out/1 hello from websocket");
        let child = sub.as_mut().unwrap();
        if child.try_wait().unwrap().is_some() {
            let child = sub.take().unwrap();
            out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(100));
        None
    });
    assert_eq!(out.trim_end(), "workerman/out/1 hello from websocket");
    for c in clients.iter_mut() {
        assert_eq!(next_message(c), "workerman/out/1 hello from websocket");
    }
    drain(&mut clients);

    // Bad input: a clear answer, the connection stays.
    say(&mut clients[1], "subscribe x");
    assert_eq!(text(&mut clients[1]), "error: usage: publish <topic> <payload>");

    // The broker stops (SIGSTOP): a publish is queued, and both processes answer meanwhile.
    let bpid = broker.child.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &bpid]).status().unwrap().success());
    say(&mut clients[0], "publish workerman/paused queued while paused");
    for c in clients.iter_mut() {
        let t = Instant::now();
        let p = pid(c);
        assert!(pids.contains(&p));
        assert!(t.elapsed() < Duration::from_millis(500), "ping took {:?}", t.elapsed());
    }
    assert!(Command::new("kill").args(["-CONT", &bpid]).status().unwrap().success());
    for c in clients.iter_mut() {
        assert_eq!(next_message(c), "workerman/paused queued while paused");
    }

    // The broker dies: `publish` answers the error, the log says which broker.
    broker.kill();
    let answer = wait_for("an error while the broker is away", || {
        say(&mut clients[0], "publish workerman/lost x");
        clients[0].s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let t = try_text(&mut clients[0]);
        clients[0].s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        t.filter(|t| t.starts_with("error"))
    });
    assert_eq!(answer, "error: MQTT unavailable");
    app.wait_log(&format!("MQTT at mqtt://127.0.0.1:{mport} unavailable:"));

    // Back on the same port: the same processes (and WebSocket connections) bridge again.
    broker = mosquitto(mport);
    both_hear(&mut clients, mport, "2");
    say(&mut clients[1], "publish workerman/back again");
    for c in clients.iter_mut() {
        assert_eq!(next_message(c), "workerman/back again");
    }
    let now: Vec<u32> = clients.iter_mut().map(pid).collect();
    assert_eq!(now, pids, "the same worker processes recovered");
    app.stop();
    drop(broker);
}

/// A text frame if one arrives before the read timeout.
fn try_text(c: &mut Client) -> Option<String> {
    use std::io::Read;
    loop {
        if let Some(f) = workerman_testkit::ws::decode(&c.buf) {
            c.buf.drain(..f.len);
            return Some(String::from_utf8(f.payload).unwrap());
        }
        let mut b = [0u8; 4096];
        match c.s.read(&mut b) {
            Ok(0) => return None,
            Ok(n) => c.buf.extend_from_slice(&b[..n]),
            Err(_) => return None,
        }
    }
}

/// Reads until nothing arrives for 300 ms (probes and duplicates from retries).
fn drain(clients: &mut [Client]) {
    for c in clients.iter_mut() {
        c.s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        while try_text(c).is_some() {}
        c.s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
}
