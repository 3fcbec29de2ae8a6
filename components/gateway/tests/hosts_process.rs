//! Two hosts on one machine: the `chat` example started twice through its CLI, host A on
//! 127.0.0.2 and host B on 127.0.0.3 (gateways, business workers), discovering each other through
//! A's Register, and once through Redis (no Register: gateways lease their address in a private
//! redis-server). Messages, uids and groups cross hosts; a Register (or Redis) restart loses no
//! route.

use workerman_testkit as common;
mod ws;

use std::net::TcpStream;

use common::{App, alive, kill, wait_for};
use serde_json::json;
use workerman_gateway::GatewayClient;
use ws::{Ws, http_get};

fn host(lan: &str, roles: &str, processes: usize) -> App {
    host_with(lan, roles, processes, "127.0.0.2:1236")
}

fn host_with(lan: &str, roles: &str, processes: usize, register: &str) -> App {
    let mut app = App::new("chat");
    app.env = [
        ("CHAT_ROLES", roles),
        ("CHAT_LISTEN_IP", lan),
        ("CHAT_LAN_IP", lan),
        ("CHAT_REGISTER", register),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    app.start(processes);
    for port in [2300, 2301, 2302, 2303, 7272] {
        wait_for(&format!("{lan}:{port}"), || TcpStream::connect((lan, port)).ok());
    }
    app
}

fn login(ip: &str, name: &str) -> (Ws, String) {
    let mut c = Ws::connect_to(ip, 7272);
    c.send_json(&json!({"type": "login", "client_name": name, "room_id": "h"}));
    let m = c.expect_event("own login");
    assert!(m["client_list"].is_object(), "{m}");
    (c, m["client_id"].as_str().unwrap().to_owned())
}

fn say(from: &mut Ws, to: &mut [&mut Ws], text: &str) {
    from.send_json(&json!({"type": "say", "to_client_id": "all", "to_client_name": "all", "content": text}));
    for c in to.iter_mut() {
        let m = c.expect_event(text);
        assert_eq!(m["content"], json!(text), "{m}");
    }
    // The room includes the sender.
    assert_eq!(from.expect_event(text)["content"], json!(text));
}

/// Waits until `from`'s business worker reaches `to`'s host: a business worker learns of a
/// gateway (from the Register or from Redis) and links to it asynchronously, so a worker that has
/// just started can take `from`'s events before its link to the other host's gateways is up, and
/// what it sends there meanwhile is lost (as in GatewayWorker). Says numbered probes until one
/// arrives, then drains `from`'s own copies of them (the room includes the sender).
fn wait_routed(from: &mut Ws, to: &mut Ws, tag: &str) {
    let deadline = std::time::Instant::now() + common::WAIT;
    let mut sent = 0;
    'probe: loop {
        assert!(std::time::Instant::now() < deadline, "{tag}: no probe got through");
        sent += 1;
        let text = format!("{tag}-probe-{sent}");
        from.send_json(&json!({"type": "say", "to_client_id": "all", "to_client_name": "all", "content": text}));
        let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
        while let Some(m) = to.recv(until.saturating_duration_since(std::time::Instant::now())) {
            let m: serde_json::Value = serde_json::from_str(&m).unwrap_or_default();
            if m["type"] == "ping" {
                to.send(r#"{"type":"pong"}"#);
            } else if m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with(&format!("{tag}-probe-")))
            {
                break 'probe;
            }
        }
    }
    // Later probes may still arrive at `to`; `from` gets every one of its own.
    let last = format!("{tag}-probe-{sent}");
    while from.expect_event(&last)["content"] != json!(last) {}
    while to.recv(std::time::Duration::from_millis(200)).is_some() {}
}

#[test]
fn two_hosts_share_rooms_uids_and_survive_a_register_restart() {
    let a = host("127.0.0.2", "register,gateway,worker", 9);
    let _b = host("127.0.0.3", "gateway,worker", 8);
    let (mut x, x_id) = login("127.0.0.2", "xa");
    let (mut y, y_id) = login("127.0.0.3", "yb");
    assert!(
        x_id.starts_with("7f000002") && y_id.starts_with("7f000003"),
        "{x_id} {y_id}"
    );
    let m = x.expect_event("the other host's login");
    assert_eq!(m["client_id"], json!(y_id));
    wait_routed(&mut x, &mut y, "a-to-b");
    say(&mut x, &mut [&mut y], "a-to-b");
    say(&mut y, &mut [&mut x], "b-to-a");

    // A plain API client (gateway_push) reaches a uid held on the other host.
    let push = App::new("gateway_push");
    push.start(1);
    common::connect(2370);
    assert_eq!(http_get(2370, "/count").trim(), "2");
    assert_eq!(http_get(2370, "/send_to_uid?uid=yb&content=to-yb"), "ok");
    assert_eq!(y.expect_event("uid push"), json!("to-yb"));

    // The Register dies and restarts: the hosts keep talking, and it relearns both hosts.
    let master = a.master();
    let register = common::children(master)
        .into_iter()
        .find(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "wm Register"))
        .unwrap();
    kill(register, 9);
    wait_for("the Register to die", || (!alive(register)).then_some(()));
    say(&mut y, &mut [&mut x], "while-register-down");
    wait_for("the restarted Register to know both hosts", || {
        (http_get(2370, "/count").trim() == "2").then_some(())
    });
    assert_eq!(http_get(2370, "/send_to_uid?uid=yb&content=after-restart"), "ok");
    assert_eq!(y.expect_event("uid push after restart"), json!("after-restart"));
    say(&mut x, &mut [&mut y], "still-routed");
    let _ = (x_id, push.stop());
}

/// A private redis-server on `port` (killed on drop).
struct RedisServer(std::process::Child);

impl RedisServer {
    fn start(port: u16) -> RedisServer {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        wait_for("redis-server", || TcpStream::connect(("127.0.0.1", port)).ok());
        RedisServer(child)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn two_hosts_with_redis_discovery_survive_a_redis_restart() {
    if !common::have("redis-server") && common::skip("no redis-server") {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = RedisServer::start(port);
    // A short lease (renewed every second), so that a lapse would show within the test.
    let url = format!("redis://127.0.0.1:{port}/0?prefix=chat-test&lease_ms=3000");
    let a = host_with("127.0.0.2", "gateway,worker", 8, &url);
    let _b = host_with("127.0.0.3", "gateway,worker", 8, &url);
    let (mut x, x_id) = login("127.0.0.2", "xa");
    let (mut y, y_id) = login("127.0.0.3", "yb");
    assert!(
        x_id.starts_with("7f000002") && y_id.starts_with("7f000003"),
        "{x_id} {y_id}"
    );
    assert_eq!(x.expect_event("the other host's login")["client_id"], json!(y_id));
    wait_routed(&mut x, &mut y, "a-to-b");
    say(&mut x, &mut [&mut y], "a-to-b");
    say(&mut y, &mut [&mut x], "b-to-a");

    // A plain API client finds every gateway through Redis and reaches a uid on the other host.
    let gw = GatewayClient::new([url.as_str()]);
    let rt = rt();
    rt.block_on(async {
        let mut list = gw.gateway_addresses().await.unwrap();
        list.sort();
        let want: Vec<String> = ["127.0.0.2", "127.0.0.3"]
            .iter()
            .flat_map(|h| (2300..2304).map(move |p| format!("{h}:{p}")))
            .collect();
        assert_eq!(list, want);
        assert_eq!(gw.get_all_client_id_count().await.unwrap(), 2);
        gw.send_to_uid(&["yb"], "to-yb").await.unwrap();
        gw.send_to_uid(&["xa"], "to-xa").await.unwrap();
    });
    assert_eq!(y.expect_event("uid push"), json!("to-yb"));
    assert_eq!(x.expect_event("uid push"), json!("to-xa"));

    // Redis dies: established routes keep working. It comes back empty: the gateways lease
    // their addresses again, and business workers started afterwards (reload) find every gateway.
    drop(redis);
    say(&mut y, &mut [&mut x], "while-redis-down");
    redis = RedisServer::start(port);
    rt.block_on(async {
        let deadline = std::time::Instant::now() + common::WAIT;
        loop {
            if gw.gateway_addresses().await.map(|l| l.len()).unwrap_or(0) == 8 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the gateways did not lease again");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    let master = a.master();
    let workers: Vec<i32> = common::children(master);
    assert!(a.run(&["reload"]).status.success());
    wait_for("host A's new business workers", || {
        let now = common::children(master);
        (now.len() == 8 && now.iter().filter(|p| !workers.contains(p)).count() == 4).then_some(())
    });
    wait_routed(&mut x, &mut y, "after-reload");
    say(&mut x, &mut [&mut y], "after-redis-restart");
    say(&mut y, &mut [&mut x], "and-back");
    rt.block_on(async { gw.send_to_uid(&["yb"], "again").await.unwrap() });
    assert_eq!(y.expect_event("uid push after restart"), json!("again"));
    drop(redis);
}
