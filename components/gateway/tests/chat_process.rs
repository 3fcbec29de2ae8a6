//! Process tests of the `chat` and `gateway_push` examples through their CLI, with real
//! WebSocket clients spread over the four gateway processes.
//!
//! Fixed ports (1236, 7272, 2300-2303, 55151, 2370): one test at a time.

use workerman_testkit as common;
mod ws;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{App, alive, children, kill, wait_for};
use serde_json::json;
use ws::{Ws, http_get};

const PORT: u16 = 7272;

fn start_chat(env: &[(&str, &str)]) -> App {
    let mut app = App::new("chat");
    app.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    app.start(11);
    // Ready once every gateway process has its inner port and a worker answers a login.
    for p in 2300..2304 {
        common::connect(p);
    }
    common::connect(PORT);
    app
}

/// Logs in a new client; returns it with its client_id (the login reply's `client_id`).
fn login(name: &str, room: &str) -> (Ws, String) {
    let mut c = Ws::connect(PORT);
    c.send_json(&json!({"type": "login", "client_name": name, "room_id": room}));
    let m = c.expect_event("own login");
    assert_eq!(m["type"], "login", "{m}");
    assert!(m["client_list"].is_object(), "the newcomer gets client_list: {m}");
    let id = m["client_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 20);
    assert_eq!(m["client_list"][&id], json!(name_escaped(name)));
    (c, id)
}

fn name_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Clients of one room spread over at least `gateways` gateway processes (the inner port is
/// characters 8..12 of the client_id).
fn spread(room: &str, n: usize, gateways: usize) -> Vec<(Ws, String)> {
    let mut out: Vec<(Ws, String)> = Vec::new();
    for i in 0..64 {
        let (c, id) = login(&format!("u{i}"), room);
        // Everyone already in the room hears about the newcomer.
        for (o, _) in out.iter_mut() {
            let m = o.expect_event("login broadcast");
            assert_eq!(
                (m["type"].as_str(), m["client_id"].as_str()),
                (Some("login"), Some(id.as_str()))
            );
        }
        out.push((c, id));
        let ports: BTreeSet<&str> = out.iter().map(|(_, id)| &id[8..12]).collect();
        if out.len() >= n && ports.len() >= gateways {
            return out;
        }
    }
    panic!("clients did not spread over {gateways} gateway processes");
}

fn say_all(c: &mut Ws, text: &str) {
    assert!(c.send_json(&json!({"type": "say", "to_client_id": "all", "to_client_name": "all", "content": text})));
}

#[test]
fn chat_login_broadcast_private_logout_and_push() {
    let app = start_chat(&[]);
    let status = String::from_utf8_lossy(&app.run(&["status"]).stdout).into_owned();
    assert!(
        status.contains("4 workers") && status.contains("11 processes"),
        "{status}"
    );
    // The chat page is served.
    assert!(http_get(55151, "/").contains("new WebSocket"));

    let mut room = spread("1", 3, 2);
    let (mut other, other_id) = login("carol <x>", "2");

    // Say to all: everyone in room 1 (the sender too), HTML-escaped; nothing in room 2.
    say_all(&mut room[0].0, "hi <b>&\nline2");
    let from = room[0].1.clone();
    for (c, _) in room.iter_mut() {
        let m = c.expect_event("say");
        assert_eq!(m["type"], "say");
        assert_eq!(m["from_client_id"], json!(from));
        assert_eq!(m["to_client_id"], "all");
        assert_eq!(m["content"], "hi &lt;b&gt;&amp;<br />\nline2");
        assert_eq!(m["time"].as_str().unwrap().len(), 19);
    }
    assert_eq!(other.silent_for(Duration::from_millis(300)), None);

    // Private: the target and a copy to the sender.
    let (to, to_id) = (1, room[1].1.clone());
    room[0]
        .0
        .send_json(&json!({"type": "say", "to_client_id": to_id, "to_client_name": "u1", "content": "psst"}));
    let m = room[to].0.expect_event("private");
    assert_eq!(m["content"], "<b>对你说: </b>psst");
    let m = room[0].0.expect_event("private copy");
    assert_eq!(m["content"], "<b>你对u1说: </b>psst");
    assert_eq!(m["to_client_id"], json!(to_id));
    if room.len() > 2 {
        assert_eq!(room[2].0.silent_for(Duration::from_millis(300)), None);
    }

    // gateway_push: a plain client of the cluster.
    let push = App::new("gateway_push");
    push.start(1);
    common::connect(2370);
    let total = room.len() + 1;
    assert_eq!(http_get(2370, "/count").trim(), total.to_string());
    assert_eq!(http_get(2370, "/send_to_group?group=1&content=to-room-1"), "ok");
    for (c, _) in room.iter_mut() {
        assert_eq!(c.expect_event("group push"), json!("to-room-1"));
    }
    assert_eq!(http_get(2370, "/send_to_all?content=everyone"), "ok");
    for (c, _) in room.iter_mut() {
        assert_eq!(c.expect_event("all push"), json!("everyone"));
    }
    assert_eq!(other.expect_event("all push"), json!("everyone"));
    // The chat binds each client's name as its uid.
    assert_eq!(
        http_get(2370, "/send_to_uid?uid=carol%20%26lt%3Bx%26gt%3B&content=for-carol"),
        "ok"
    );
    assert_eq!(other.expect_event("uid push"), json!("for-carol"));
    let _ = other_id;

    // Logout on close: the room hears it.
    let (gone, gone_id) = room.pop().unwrap();
    drop(gone);
    for (c, _) in room.iter_mut() {
        let m = c.expect_event("logout");
        assert_eq!(m["type"], "logout");
        assert_eq!(m["from_client_id"], json!(gone_id));
    }
    wait_for("count after a close", || {
        (http_get(2370, "/count").trim() == (total - 1).to_string()).then_some(())
    });
    push.stop();
    app.stop();
}

#[test]
fn heartbeat_pings_and_drops_silent_clients() {
    let _app = start_chat(&[("CHAT_PING_INTERVAL_MS", "400"), ("CHAT_PING_NOT_RESPONSE_LIMIT", "1")]);
    let (mut talker, _) = login("talker", "9");
    // The talker answers every ping from its own thread and reports everything else.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let pinger = std::thread::spawn(move || {
        let mut pings = 0;
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) && !talker.closed {
            if let Some(m) = talker.recv(Duration::from_millis(50)) {
                if m == r#"{"type":"ping"}"# {
                    pings += 1;
                    talker.send(r#"{"type":"pong"}"#);
                } else {
                    let _ = tx.send(m);
                }
            }
        }
        (pings, talker.closed)
    });
    let (mut silent, silent_id) = login("silent", "9");
    let m: serde_json::Value = serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(
        (m["type"].as_str(), m["client_id"].as_str()),
        (Some("login"), Some(silent_id.as_str()))
    );
    // The silent one gets a ping, never answers, and is dropped within (limit+1) intervals.
    assert_eq!(silent.expect("ping"), json!({"type": "ping"}));
    assert!(silent.wait_closed(Duration::from_secs(5)), "silent client not dropped");
    let m: serde_json::Value = serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(
        (m["type"].as_str(), m["from_client_id"].as_str()),
        (Some("logout"), Some(silent_id.as_str()))
    );
    // Meanwhile the talker, answering, stays (several ping periods).
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (pings, closed) = pinger.join().unwrap();
    assert!(pings >= 2, "the talker got {pings} pings");
    assert!(!closed, "a client answering pings stays");
}

/// Sends `n` messages from `from` and checks each reaches every client of `room` in order.
fn chat_round(room: &mut [(Ws, String)], from: usize, tag: &str, n: usize) {
    for i in 0..n {
        let text = format!("{tag}-{i}");
        say_all(&mut room[from].0, &text);
        for (c, _) in room.iter_mut() {
            let m = c.expect_event(&text);
            assert_eq!(m["content"], json!(text), "{m}");
        }
    }
}

#[test]
fn reload_and_worker_crash_keep_clients_and_messages() {
    let app = start_chat(&[]);
    let mut room = spread("r", 4, 2);
    chat_round(&mut room, 0, "before", 5);

    // reload: business workers are replaced one by one; clients stay, messages keep flowing;
    // gateways are not reloaded.
    let master = app.master();
    let workers_before = named(master, "wm ChatBusiness");
    let gateways = named(master, "wm ChatGateway");
    assert_eq!((workers_before.len(), gateways.len()), (4, 4));
    let out = app.run(&["reload"]);
    assert!(out.status.success());
    let mut round = 0;
    wait_for("4 new business workers", || {
        chat_round(&mut room, round % 4, &format!("during-{round}"), 1);
        round += 1;
        let now = named(master, "wm ChatBusiness");
        (now.len() == 4 && now.is_disjoint(&workers_before)).then_some(())
    });
    assert_eq!(named(master, "wm ChatGateway"), gateways, "gateways are not reloaded");
    for (c, _) in room.iter() {
        assert!(!c.closed, "a client was disconnected by reload");
    }
    chat_round(&mut room, 1, "after-reload", 5);

    // kill -9 of one business worker: everyone stays, messages go to the others.
    let victim = *named(master, "wm ChatBusiness").iter().next().unwrap();
    kill(victim, 9);
    wait_for("the worker to die", || (!alive(victim)).then_some(()));
    chat_round(&mut room, 2, "after-kill", 8);
    for (c, _) in room.iter() {
        assert!(!c.closed);
    }
    app.stop();
}

#[test]
fn gateway_crash_drops_only_its_clients() {
    let app = start_chat(&[]);
    let mut room = spread("g", 4, 2);
    // Find the gateway process holding room[0]: the one listening on its inner port.
    let port = u16::from_str_radix(&room[0].1[8..12], 16).unwrap();
    let pid = listener_pid(port);
    let on_victim: Vec<bool> = room.iter().map(|(_, id)| id[8..12] == room[0].1[8..12]).collect();
    assert!(on_victim.iter().any(|v| !v), "need clients on another gateway");
    kill(pid, 9);
    for (i, (c, _)) in room.iter_mut().enumerate() {
        if on_victim[i] {
            assert!(
                c.wait_closed(Duration::from_secs(5)),
                "client of the killed gateway still open"
            );
        }
    }
    let mut rest: Vec<(Ws, String)> = room
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !on_victim[*i])
        .map(|(_, c)| c)
        .collect();
    // The dropped clients' gateway died with their state (no logout is sent); the survivors
    // keep chatting.
    for (c, _) in rest.iter_mut() {
        assert!(!c.closed);
        while c.recv(Duration::from_millis(200)).is_some() {}
    }
    chat_round(&mut rest, 0, "survivors", 5);
    app.stop();
}

/// The children of `master` whose process name is `comm`.
fn named(master: i32, comm: &str) -> BTreeSet<i32> {
    children(master)
        .into_iter()
        .filter(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm))
        .collect()
}

/// The pid of the process listening on 127.0.0.1:`port` (via /proc/net/tcp and fd links).
fn listener_pid(port: u16) -> i32 {
    let inode = std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = u16::from_str_radix(f[1].rsplit_once(':')?.1, 16).ok()?;
            (local_port == port && f[3] == "0A").then(|| f[9].to_owned())
        })
        .expect("listener inode");
    let needle = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == needle) {
                return pid;
            }
        }
    }
    panic!("no process listens on {port}");
}

#[test]
fn register_restart_loses_no_route() {
    let app = start_chat(&[]);
    let mut room = spread("reg", 3, 2);
    let master = app.master();
    let register = *named(master, "wm Register").iter().next().unwrap();
    kill(register, 9);
    wait_for("the Register to die", || (!alive(register)).then_some(()));
    // Established routes keep working while the Register is down or restarting.
    chat_round(&mut room, 0, "register-down", 3);
    let (late, late_id) = login("late", "reg");
    for (c, _) in room.iter_mut() {
        let m = c.expect_event("late login");
        assert_eq!(m["client_id"], json!(late_id));
    }
    room.push((late, late_id));
    // The restarted Register learns every gateway again: an API client finds all clients, and
    // business workers started after it (reload) reach every gateway.
    wait_for("a new Register", || {
        named(master, "wm Register").iter().find(|p| **p != register).copied()
    });
    let push = App::new("gateway_push");
    push.start(1);
    common::connect(2370);
    let n = room.len().to_string();
    wait_for("the Register to know every gateway", || {
        (http_get(2370, "/count").trim() == n).then_some(())
    });
    let workers = named(master, "wm ChatBusiness");
    assert!(app.run(&["reload"]).status.success());
    wait_for("new business workers", || {
        let now = named(master, "wm ChatBusiness");
        (now.len() == 4 && now.is_disjoint(&workers)).then_some(())
    });
    chat_round(&mut room, 1, "after-register-restart", 5);
    push.stop();
    app.stop();
}

/// `total_request` of every ChatGateway process, from `chat status`.
fn gateway_requests(app: &App) -> std::collections::BTreeMap<i32, u64> {
    let out = String::from_utf8_lossy(&app.run(&["status"]).stdout).into_owned();
    out.lines()
        .filter(|l| l.contains("ChatGateway") && l.split_whitespace().next().is_some_and(|p| p.parse::<i32>().is_ok()))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].parse().unwrap(), f[7].parse().unwrap())
        })
        .collect()
}

#[test]
fn group_sends_reach_only_gateways_with_members() {
    let app = start_chat(&[]);
    let mut room = spread("busy", 3, 2);
    // A room whose only member is on one gateway.
    let (mut solo, solo_id) = login("solo", "solo-room");
    let holder = listener_pid(u16::from_str_radix(&solo_id[8..12], 16).unwrap());
    for (c, _) in room.iter_mut() {
        assert_eq!(c.silent_for(std::time::Duration::from_millis(100)), None);
    }
    let before = gateway_requests(&app);
    assert_eq!(before.len(), 4);
    for i in 0..10 {
        let text = format!("solo-{i}");
        say_all(&mut solo, &text);
        assert_eq!(solo.expect_event(&text)["content"], json!(text));
    }
    let after = gateway_requests(&app);
    for (pid, n) in &after {
        if *pid == holder {
            assert!(
                *n >= before[pid] + 10,
                "the member's gateway got {} -> {n}",
                before[pid]
            );
        } else {
            assert_eq!(
                *n, before[pid],
                "gateway {pid} without members was sent the group message"
            );
        }
    }
    app.stop();
}

#[test]
fn reload_hands_over_a_backlog_longer_than_stop_timeout() {
    // Each `say` takes 250 ms in the business worker: 16 queued messages need 4 s in the worker
    // that has them, twice stop_timeout (2 s). `reload` replaces that worker mid-backlog: what it
    // has not handled goes back to its gateway and on to another worker, in order.
    let app = start_chat(&[("CHAT_SLOW_MS", "250")]);
    let (mut a, _) = login("a", "slow");
    let (mut b, _) = login("b", "slow");
    assert_eq!(a.expect_event("b's login")["client_name"], json!("b"));
    let sent: Vec<String> = (0..16).map(|i| format!("backlog-{i}")).collect();
    for t in &sent {
        say_all(&mut a, t);
    }
    let master = app.master();
    let before = named(master, "wm ChatBusiness");
    assert!(app.run(&["reload"]).status.success());
    let mut got = Vec::new();
    while got.len() < sent.len() {
        let m = b.expect_event("a backlog message");
        got.push(m["content"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(got, sent, "every message once, in order");
    wait_for("4 new business workers", || {
        let now = named(master, "wm ChatBusiness");
        (now.len() == 4 && now.is_disjoint(&before)).then_some(())
    });
    assert!(!a.closed && !b.closed);
    assert_eq!(b.silent_for(Duration::from_millis(300)), None, "nothing handled twice");
    say_all(&mut a, "after");
    assert_eq!(b.expect_event("after")["content"], json!("after"));
    app.stop();
}
