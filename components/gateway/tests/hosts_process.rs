//! Two hosts on one machine: the `chat` example started twice through its CLI, host A on
//! 127.0.0.2 (Register, gateways, business workers) and host B on 127.0.0.3 (gateways, business
//! workers), sharing A's Register. Messages, uids and groups cross hosts; a Register restart
//! loses no route.

use workerman_testkit as common;
mod ws;

use std::net::TcpStream;

use common::{App, alive, kill, wait_for};
use serde_json::json;
use ws::{Ws, http_get};

fn host(lan: &str, roles: &str, processes: usize) -> App {
    let mut app = App::new("chat");
    app.env = [
        ("CHAT_ROLES", roles),
        ("CHAT_LISTEN_IP", lan),
        ("CHAT_LAN_IP", lan),
        ("CHAT_REGISTER", "127.0.0.2:1236"),
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
