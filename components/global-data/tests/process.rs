//! Process tests through the CLI: `global_counter` (500 concurrent requests, 500 distinct
//! values, on the built-in server and on Redis) and `global_data_server` (a client carries on
//! after the server restarts; the snapshot file keeps the data across the restart).

use workerman_testkit as common;

use std::collections::HashSet;
use std::time::Duration;

use common::{App, alive, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workerman_global_data::{GlobalDataClient, Value};

const COUNTER_PORT: u16 = 2360;
const SERVER_PORT: u16 = 2207;

/// One `GET /` with `Connection: close`; returns the body.
async fn hit() -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", COUNTER_PORT))
        .await
        .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut all))
        .await
        .expect("reply in time")
        .unwrap();
    let text = String::from_utf8(all).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

fn run_counter(backend: Option<&str>, workers: usize) -> Vec<i64> {
    let mut app = App::new("global_counter");
    if let Some(b) = backend {
        app.env.push(("GLOBAL_DATA_BACKEND".into(), b.into()));
    }
    app.start(workers);
    common::connect(COUNTER_PORT);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let values: Vec<i64> = rt.block_on(async {
        let tasks: Vec<_> = (0..500).map(|_| tokio::spawn(hit())).collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().trim().parse().expect("a number"));
        }
        out
    });
    let master = app.master();
    assert!(app.stop().status.success());
    wait_for("the master to exit", || (!alive(master)).then_some(()));
    values
}

fn assert_distinct(values: &[i64]) {
    let set: HashSet<_> = values.iter().collect();
    assert_eq!(set.len(), 500, "duplicates among {values:?}");
}

#[test]
fn counter_on_builtin_server_gives_500_distinct_values() {
    let values = run_counter(None, 5);
    assert_distinct(&values);
    // A fresh server: exactly 1..=500.
    assert_eq!(values.iter().min(), Some(&1));
    assert_eq!(values.iter().max(), Some(&500));
}

#[test]
fn counter_on_redis_gives_500_distinct_values() {
    let Some(url) = redis_url() else { return };
    // Start from a known count.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(GlobalDataClient::new(&url).unwrap().delete("hits"))
        .unwrap();
    let values = run_counter(Some(&url), 4);
    assert_distinct(&values);
    assert_eq!(values.iter().max(), Some(&500));
}

#[test]
fn client_reconnects_after_server_restart_and_snapshot_keeps_data() {
    let mut app = App::new("global_data_server");
    let snap = app.dir.join("global-data.snap");
    app.env
        .push(("GLOBAL_DATA_SNAPSHOT".into(), snap.display().to_string()));
    app.start(1);
    common::connect(SERVER_PORT);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = GlobalDataClient::new(&format!("127.0.0.1:{SERVER_PORT}")).unwrap();
    rt.block_on(async {
        c.set("counter", 10).await.unwrap();
        assert_eq!(c.increment("counter", 1).await.unwrap(), Some(Value::Int(11)));
    });
    let master = app.master();
    assert!(app.stop().status.success());
    wait_for("the master to exit", || (!alive(master)).then_some(()));
    assert!(snap.exists(), "snapshot written at stop");
    // The same client, no new handle: its next request reconnects to the new server.
    app.start(1);
    common::connect(SERVER_PORT);
    rt.block_on(async {
        assert_eq!(c.increment("counter", 1).await.unwrap(), Some(Value::Int(12)));
    });
    let master = app.master();
    assert!(app.stop().status.success());
    wait_for("the master to exit", || (!alive(master)).then_some(()));
    // Without the snapshot, a restart starts empty (PHP's behaviour).
    app.env.clear();
    app.start(1);
    common::connect(SERVER_PORT);
    rt.block_on(async {
        assert_eq!(c.get("counter").await.unwrap(), Value::Null);
    });
    assert!(app.stop().status.success());
}

/// WORKERMAN_TEST_REDIS_URL when Redis answers there; otherwise skips (fails under CI).
fn redis_url() -> Option<String> {
    let ci = std::env::var_os("CI").is_some();
    let Some(url) = std::env::var("WORKERMAN_TEST_REDIS_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(!ci, "WORKERMAN_TEST_REDIS_URL is not set under CI");
        println!("skipped: no Redis (WORKERMAN_TEST_REDIS_URL unset)");
        return None;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let probe = GlobalDataClient::new(&url)
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    match rt.block_on(probe.get("probe")) {
        Ok(_) => Some(url),
        Err(e) => {
            assert!(!ci, "no Redis at {url} under CI: {e}");
            println!("skipped: no Redis at {url}");
            None
        }
    }
}
