//! The Gateway API from a plain tokio program (multi-threaded runtime, no workerman), against
//! the `chat` cluster started through its CLI: every call, checked by what clients receive and
//! what queries answer.

use workerman_testkit as common;
mod ws;

use std::time::Duration;

use common::App;
use serde_json::json;
use workerman_gateway::php_serialize::Array;
use workerman_gateway::{AuthMode, Error, GatewayClient};
use ws::Ws;

fn start_chat(env: &[(&str, &str)]) -> App {
    let mut app = App::new("chat");
    app.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    app.start(11);
    for p in [1236, 2300, 2301, 2302, 2303, 7272] {
        common::connect(p);
    }
    app
}

fn login(name: &str, room: &str) -> (Ws, String) {
    let mut c = Ws::connect(7272);
    c.send_json(&json!({"type": "login", "client_name": name, "room_id": room}));
    loop {
        let m = c.expect_event("login");
        if m["type"] == "login" && m["client_list"].is_object() {
            return (c, m["client_id"].as_str().unwrap().to_owned());
        }
    }
}

/// Drains anything pending (login broadcasts of later clients).
fn drain(c: &mut Ws) {
    while c.recv(Duration::from_millis(150)).is_some() {}
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn every_api_call_from_a_plain_tokio_program() {
    let app = start_chat(&[]);
    let (mut a, a_id) = login("ann", "1");
    let (mut b, b_id) = login("ben", "1");
    let (mut c, c_id) = login("cat", "2");
    for w in [&mut a, &mut b, &mut c] {
        drain(w);
    }
    let rt = rt();
    let gw = GatewayClient::new(["127.0.0.1:1236"]);
    rt.block_on(async {
        assert_eq!(gw.gateway_addresses().await.unwrap().len(), 4);
        assert_eq!(gw.get_all_client_id_count().await.unwrap(), 3);
        let mut all = gw.get_all_client_id_list().await.unwrap();
        all.sort();
        let mut want = vec![a_id.clone(), b_id.clone(), c_id.clone()];
        want.sort();
        assert_eq!(all, want);
        assert!(gw.is_online(&a_id).await.unwrap());

        // Sends.
        gw.send_to_client(&a_id, "one").await.unwrap();
        gw.send_to_all("all-but-b", None, &[&b_id]).await.unwrap();
        gw.send_to_all("only-c", Some(&[&c_id]), &[]).await.unwrap();
        gw.send_to_group(&["1"], "room-but-a", &[&a_id]).await.unwrap();
        assert!(matches!(
            gw.send_to_group(&[], "x", &[]).await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            gw.send_to_client("nope", "x").await,
            Err(Error::InvalidClientId(_))
        ));
    });
    assert_eq!(a.expect_event("one"), json!("one"));
    assert_eq!(a.expect_event("all-but-b"), json!("all-but-b"));
    assert_eq!(c.expect_event("all-but-b"), json!("all-but-b"));
    assert_eq!(c.expect_event("only-c"), json!("only-c"));
    assert_eq!(b.expect_event("room-but-a"), json!("room-but-a"));
    for w in [&mut a, &mut b, &mut c] {
        assert_eq!(w.silent_for(Duration::from_millis(200)), None);
    }

    rt.block_on(async {
        // uids (the chat binds each name as a uid; rebinding replaces it).
        assert_eq!(gw.get_uid_by_client_id(&a_id).await.unwrap().as_deref(), Some("ann"));
        gw.bind_uid(&a_id, "42").await.unwrap();
        gw.bind_uid(&b_id, "42").await.unwrap();
        let mut ids = gw.get_client_id_by_uid("42").await.unwrap();
        ids.sort();
        let mut want = vec![a_id.clone(), b_id.clone()];
        want.sort();
        assert_eq!(ids, want);
        assert!(gw.is_uid_online("42").await.unwrap());
        assert!(!gw.is_uid_online("ann").await.unwrap());
        gw.send_to_uid(&["42"], "to-42").await.unwrap();
        gw.unbind_uid(&b_id, "42").await.unwrap();
        assert_eq!(gw.get_client_id_by_uid("42").await.unwrap(), vec![a_id.clone()]);
        let mut uids = gw.get_all_uid_list().await.unwrap();
        uids.sort();
        assert_eq!(uids, ["42", "cat"], "b was unbound");
        assert_eq!(gw.get_all_uid_count().await.unwrap(), 2);
        let batch = gw.batch_get_client_id_by_uid(&["42", "cat", "nobody"]).await.unwrap();
        assert_eq!(batch["42"], vec![a_id.clone()]);
        assert_eq!(batch["cat"], vec![c_id.clone()]);
        assert!(batch.get("nobody").is_none_or(|v| v.is_empty()));

        // Groups.
        gw.join_group(&c_id, "vip").await.unwrap();
        gw.join_group(&a_id, "vip").await.unwrap();
        assert_eq!(gw.get_client_count_by_group("vip").await.unwrap(), 2);
        assert_eq!(gw.get_client_count_by_group("1").await.unwrap(), 2);
        let counts = gw.batch_get_client_count_by_group(&["vip", "1", "none"]).await.unwrap();
        assert_eq!((counts["vip"], counts["1"], counts["none"]), (2, 2, 0));
        let mut groups = gw.get_all_group_id_list().await.unwrap();
        groups.sort();
        assert_eq!(groups, ["1", "2", "vip"]);
        assert_eq!(gw.get_uid_count_by_group("vip").await.unwrap(), 2); // "42" and "cat"
        assert_eq!(gw.get_client_id_list_by_group("vip").await.unwrap().len(), 2);
        gw.leave_group(&c_id, "vip").await.unwrap();
        assert_eq!(gw.get_client_count_by_group("vip").await.unwrap(), 1);
        gw.ungroup("vip").await.unwrap();
        assert_eq!(gw.get_client_count_by_group("vip").await.unwrap(), 0);

        // Sessions (the chat stores room_id and client_name).
        let s = gw.get_session(&c_id).await.unwrap().unwrap();
        assert_eq!(s.get_str("client_name").and_then(|v| v.as_str()), Some("cat"));
        let mut part = Array::new();
        part.insert("level", 3i64);
        gw.update_session(&c_id, &part).await.unwrap();
        let s = gw.get_session(&c_id).await.unwrap().unwrap();
        assert_eq!(s.get_str("level").and_then(|v| v.as_int()), Some(3));
        assert_eq!(s.get_str("room_id").and_then(|v| v.as_str()), Some("2"));
        let mut whole = Array::new();
        whole.insert("only", "this");
        gw.set_session(&c_id, &whole).await.unwrap();
        assert_eq!(gw.get_session(&c_id).await.unwrap().unwrap().len(), 1);
        let by_group = gw.get_client_sessions_by_group("1").await.unwrap();
        assert_eq!(by_group.len(), 2);
        assert!(by_group.values().all(|s| s.get_str("room_id").is_some()));
    });
    assert_eq!(a.expect_event("to-42"), json!("to-42"));
    assert_eq!(b.expect_event("to-42"), json!("to-42"));

    rt.block_on(async {
        // close_client sends, then closes; destroy_client closes at once.
        gw.close_client(&a_id, Some(b"bye")).await.unwrap();
        gw.destroy_client(&b_id).await.unwrap();
    });
    assert_eq!(a.expect("bye"), json!("bye"));
    assert!(a.wait_closed(Duration::from_secs(5)));
    assert!(b.wait_closed(Duration::from_secs(5)));
    rt.block_on(async {
        let deadline = std::time::Instant::now() + common::WAIT;
        while gw.get_all_client_id_count().await.unwrap() != 1 {
            assert!(std::time::Instant::now() < deadline, "closed clients still counted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!gw.is_online(&a_id).await.unwrap());
        assert_eq!(gw.get_session(&a_id).await.unwrap(), None);
    });
    app.stop();
}

#[test]
fn secret_key_native_hmac_and_php_plain_key() {
    // Native mode: the key is proven by HMAC; the plain key is refused.
    let app = start_chat(&[("CHAT_SECRET_KEY", "s3cret")]);
    let (mut a, a_id) = login("ann", "1");
    drain(&mut a);
    let rt = rt();
    rt.block_on(async {
        let good = GatewayClient::new(["127.0.0.1:1236"]).with_secret_key("s3cret", AuthMode::Native);
        assert_eq!(good.get_all_client_id_count().await.unwrap(), 1);
        good.send_to_client(&a_id, "authorised").await.unwrap();

        let none = GatewayClient::new(["127.0.0.1:1236"]);
        assert!(matches!(none.gateway_addresses().await, Err(Error::NoRegister(_))));
        let wrong = GatewayClient::new(["127.0.0.1:1236"]).with_secret_key("nope", AuthMode::Native);
        assert!(wrong.gateway_addresses().await.is_err());
        let plain = GatewayClient::new(["127.0.0.1:1236"]).with_secret_key("s3cret", AuthMode::PhpCompatible);
        assert!(
            plain.gateway_addresses().await.is_err(),
            "native mode refuses the plain key"
        );
    });
    assert_eq!(a.expect_event("authorised"), json!("authorised"));
    drop(a);
    app.stop();
    drop(app);

    // PHP-compatible mode: the plain key (what GatewayClient sends) and HMAC both work.
    let app = start_chat(&[("CHAT_SECRET_KEY", "s3cret"), ("CHAT_AUTH_MODE", "php")]);
    let (mut a, a_id) = login("ann", "1");
    drain(&mut a);
    rt.block_on(async {
        for mode in [AuthMode::PhpCompatible, AuthMode::Native] {
            let gw = GatewayClient::new(["127.0.0.1:1236"]).with_secret_key("s3cret", mode);
            gw.send_to_client(&a_id, format!("{mode:?}")).await.unwrap();
        }
        let wrong = GatewayClient::new(["127.0.0.1:1236"]).with_secret_key("nope", AuthMode::PhpCompatible);
        assert!(wrong.gateway_addresses().await.is_err());
    });
    assert_eq!(a.expect_event("plain"), json!("PhpCompatible"));
    assert_eq!(a.expect_event("hmac"), json!("Native"));
    assert!(!app.log().contains("s3cret"), "the key is never logged");
    app.stop();
}
