//! The Redis backend against a real redis-server (`WORKERMAN_TEST_REDIS_URL`, e.g.
//! `redis://127.0.0.1:6379/0`; set by .ci/run): two copies of `cluster_push` as two hosts, and a
//! queue item that survives its consumer being killed before acknowledging it.

use workerman_testkit as common;
mod support;

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use support::*;
use workerman_channel::{ChannelClient, Value};

/// The Redis URL, or None (with the `skipped:` line) when there is none outside CI.
fn redis_url() -> Option<String> {
    let url = std::env::var("WORKERMAN_TEST_REDIS_URL").ok();
    let addr = url
        .as_deref()
        .and_then(|u| u.strip_prefix("redis://"))
        .map(|rest| rest.split(['/', '?']).next().unwrap_or_default().to_string());
    let reachable = addr.as_deref().is_some_and(|a| std::net::TcpStream::connect(a).is_ok());
    if reachable {
        return url;
    }
    let shown = url.unwrap_or_else(|| "(WORKERMAN_TEST_REDIS_URL unset)".into());
    assert!(std::env::var_os("CI").is_none(), "CI: no Redis at {shown}");
    println!("skipped: no Redis at {shown}");
    None
}

#[test]
fn two_cluster_push_hosts_share_redis() {
    let Some(url) = redis_url() else { return };
    let mut a = App::new("cluster_push");
    a.env.push(("CHANNEL_BACKEND".into(), url.clone()));
    let mut b = App::new("cluster_push");
    b.env = vec![
        ("CHANNEL_BACKEND".into(), url.clone()),
        ("CLUSTER_PUSH_WS_PORT".into(), "4336".into()),
        ("CLUSTER_PUSH_HTTP_PORT".into(), "4337".into()),
    ];
    // No Channel server with Redis: 4 websocket + 2 http processes each.
    a.start(6);
    b.start(6);
    let mut on_a = Ws::connect(4236);
    let mut on_b = Ws::connect(4336);
    let id_a = welcome(&mut on_a);
    let id_b = welcome(&mut on_b);
    assert_ne!(id_a, id_b);
    let mut both = vec![on_a, on_b];
    // Broadcasts through host B reach the clients of both hosts.
    warm_up(&mut both, |n| {
        assert_eq!(get(4337, &format!("/broadcast?content=warmup{n}")), (200, "ok".into()));
    });
    // A push through host B reaches the client held by host A, and only it.
    assert_eq!(
        get(4337, &format!("/push?to={}&content=across", enc(&id_a))),
        (200, "ok".into())
    );
    assert_eq!(both[0].recv_skipping_warmup(), "across");
    assert_eq!(get(4237, "/broadcast?content=end"), (200, "ok".into()));
    assert_eq!(both[1].recv_skipping_warmup(), "end");
    assert_eq!(both[0].recv_skipping_warmup(), "end");
    assert!(a.stop().status.success());
    assert!(b.stop().status.success());
}

fn welcome(ws: &mut Ws) -> String {
    let v: serde_json::Value = serde_json::from_str(&ws.recv()).unwrap();
    v["id"].as_str().unwrap().to_string()
}

#[test]
fn a_queue_item_survives_its_consumer_being_killed() {
    let Some(url) = redis_url() else { return };
    let _serial = App::new("channel_watch");
    let queue = format!("test-jobs-{}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    let fast_claim = format!("{url}{sep}claim_timeout_ms=300");
    // A consumer process that hangs inside its callback on the first item...
    let mut consumer = std::process::Command::new(examples_dir().join("channel_watch"))
        .args([queue.as_str(), fast_claim.as_str()])
        .env("CHANNEL_WATCH_HANG", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let producer = local.block_on(&rt, async {
        let p = ChannelClient::connect(&url).unwrap();
        p.enqueue(&queue, "job-1").unwrap();
        tokio::time::timeout(WAIT, p.flush()).await.expect("enqueued");
        p
    });
    let mut line = String::new();
    BufReader::new(consumer.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "job-1");
    // ...is killed before acknowledging it.
    consumer.kill().unwrap();
    consumer.wait().unwrap();
    // Another consumer gets the item once the claim timeout has passed, exactly once.
    let got: Rc<RefCell<Vec<Value>>> = Rc::default();
    local.block_on(&rt, async {
        let c = ChannelClient::connect(&fast_claim).unwrap();
        let g = got.clone();
        c.watch(&queue, move |v| g.borrow_mut().push(v));
        tokio::time::timeout(WAIT, async {
            while got.borrow().is_empty() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the item is claimed by the second consumer");
        // New items flow too, and the claimed one is not delivered again.
        producer.enqueue(&queue, "job-2").unwrap();
        tokio::time::timeout(WAIT, async {
            while got.borrow().len() < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("job-2");
        tokio::time::sleep(Duration::from_millis(700)).await;
    });
    let got: Vec<String> = got.borrow().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(got, vec!["job-1", "job-2"]);
}
