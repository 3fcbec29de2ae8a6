//! GlobalDataClient against a real built-in server (in this process, port 0) and against Redis
//! (WORKERMAN_TEST_REDIS_URL): the same semantics on both backends.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use workerman_global_data::{Array, GlobalDataClient, Key, Value, shard_index};

/// Runs the same checks on any backend; `ns` keeps keys apart between runs.
async fn semantics(c: &GlobalDataClient, ns: &str) {
    let k = |s: &str| format!("{ns}:{s}");
    c.delete(k("counter")).await.unwrap();
    assert_eq!(c.get(k("counter")).await.unwrap(), Value::Null);
    assert!(!c.exists(k("counter")).await.unwrap());
    // increment creates nothing.
    assert_eq!(c.increment(k("counter"), 1).await.unwrap(), None);
    c.set(k("counter"), 10).await.unwrap();
    assert_eq!(c.increment(k("counter"), 1).await.unwrap(), Some(Value::Int(11)));
    assert_eq!(c.increment(k("counter"), 5.5).await.unwrap(), Some(Value::Float(16.5)));
    assert_eq!(c.increment(k("counter"), -20).await.unwrap(), Some(Value::Float(-3.5)));
    // PHP `+`: numeric strings, non-numeric values reset to 0, overflow to float.
    c.set(k("s"), " 42").await.unwrap();
    assert_eq!(c.increment(k("s"), 1).await.unwrap(), Some(Value::Int(43)));
    c.set(k("s"), "abc").await.unwrap();
    assert_eq!(c.increment(k("s"), 2).await.unwrap(), Some(Value::Int(2)));
    c.set(k("s"), i64::MAX).await.unwrap();
    assert_eq!(
        c.increment(k("s"), 1).await.unwrap(),
        Some(Value::Float(9.223372036854776e18))
    );
    c.set(k("s"), 999_999_999_999_999i64).await.unwrap();
    assert_eq!(
        c.increment(k("s"), 999_999_999_999_999i64).await.unwrap(),
        Some(Value::Int(1_999_999_999_999_998))
    );
    assert!(
        c.increment(k("s"), "abc").await.is_err(),
        "a non-numeric step is refused"
    );
    // add: only over absent or null.
    c.delete(k("a")).await.unwrap();
    assert!(c.add(k("a"), "first").await.unwrap());
    assert!(!c.add(k("a"), "second").await.unwrap());
    assert_eq!(c.get(k("a")).await.unwrap(), Value::from("first"));
    c.set(k("a"), Value::Null).await.unwrap();
    assert!(!c.exists(k("a")).await.unwrap());
    assert!(c.add(k("a"), "third").await.unwrap());
    // cas on the PHP-serialized old value; null matches a missing key.
    let list = |v: [i64; 3]| Value::Array(Array::from_values(v));
    c.set(k("abc"), list([1, 2, 3])).await.unwrap();
    assert!(!c.cas(k("abc"), &list([1, 2, 4]), list([5, 6, 7])).await.unwrap());
    assert!(c.cas(k("abc"), &list([1, 2, 3]), list([5, 6, 7])).await.unwrap());
    assert_eq!(c.get(k("abc")).await.unwrap(), list([5, 6, 7]));
    let raw = c.get_raw(k("abc")).await.unwrap();
    assert_eq!(raw, b"a:3:{i:0;i:5;i:1;i:6;i:2;i:7;}");
    assert!(c.cas_raw(k("abc"), &raw, "done").await.unwrap());
    c.delete(k("fresh")).await.unwrap();
    assert!(c.cas(k("fresh"), &Value::Null, 1).await.unwrap());
    // Keys: "5" and 5 are one key.
    c.set(Key::from(format!("{ns}5").as_str()), "x").await.unwrap();
    // Serde values.
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct User {
        name: String,
        tags: Vec<String>,
    }
    let u = User {
        name: "ann".into(),
        tags: vec!["a".into()],
    };
    c.set_as(k("user"), &u).await.unwrap();
    assert_eq!(c.get_as::<User>(k("user")).await.unwrap(), Some(u));
    assert_eq!(c.get_as::<User>(k("nobody")).await.unwrap(), None);
    // TTL (our extension); increment keeps it.
    c.set_with_ttl(k("ttl"), 1, Duration::from_millis(300)).await.unwrap();
    assert_eq!(c.increment(k("ttl"), 1).await.unwrap(), Some(Value::Int(2)));
    assert_eq!(c.get(k("ttl")).await.unwrap(), Value::Int(2));
    let start = std::time::Instant::now();
    while c.get(k("ttl")).await.unwrap() != Value::Null {
        assert!(start.elapsed() < Duration::from_secs(5), "ttl never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(c.add_with_ttl(k("ttl"), 1, Duration::from_secs(60)).await.unwrap());
    // Concurrent increments all get distinct values.
    c.set(k("hits"), 0).await.unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let c = c.clone();
            let key = k("hits");
            tokio::spawn(async move { c.increment(key, 1).await.unwrap().unwrap() })
        })
        .collect();
    let mut seen = HashSet::new();
    for t in tasks {
        assert!(seen.insert(t.await.unwrap().as_int().unwrap()));
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(c.get(k("hits")).await.unwrap(), Value::Int(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_server_semantics() {
    let addr = support::start_server();
    let c = GlobalDataClient::new(&format!("globaldata://{addr}")).unwrap();
    semantics(&c, "t").await;
}

#[tokio::test(flavor = "current_thread")]
async fn several_servers_shard_like_php() {
    let (a, b, d) = (
        support::start_server(),
        support::start_server(),
        support::start_server(),
    );
    let all = GlobalDataClient::servers(&[&a.to_string(), &b.to_string(), &d.to_string()]).unwrap();
    let single: Vec<_> = [a, b, d]
        .iter()
        .map(|s| GlobalDataClient::new(&s.to_string()).unwrap())
        .collect();
    // PHP's examples: crc32("abc") % 3 = 0, "user:42" → 1, "counter" → 0.
    for (key, want) in [("abc", 0), ("user:42", 1), ("counter", 0)] {
        assert_eq!(shard_index(&Key::from(key), 3), want);
    }
    for i in 0..30 {
        let key = format!("key{i}");
        all.set(key.as_str(), i).await.unwrap();
        let home = shard_index(&Key::from(key.as_str()), 3);
        for (n, s) in single.iter().enumerate() {
            let got = s.get(key.as_str()).await.unwrap();
            assert_eq!(got == Value::Int(i), n == home, "{key} on server {n}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn bad_addresses_and_unreachable_servers() {
    assert!(GlobalDataClient::new("").is_err());
    assert!(GlobalDataClient::new("nohost").is_err());
    assert!(GlobalDataClient::new("ftp://x:1").is_err());
    // A port nobody listens on: a connect error, not a hang.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let c = GlobalDataClient::new(&free.to_string()).unwrap();
    let e = c.get("k").await.unwrap_err();
    assert!(matches!(e, workerman_global_data::Error::Connect { .. }), "{e}");
}

#[tokio::test(flavor = "current_thread")]
async fn redis_semantics() {
    let Some(url) = redis_url().await else { return };
    let c = GlobalDataClient::new(&url)
        .unwrap()
        .with_prefix(&format!("gdtest:{}:", std::process::id()));
    semantics(&c, "t").await;
}

/// WORKERMAN_TEST_REDIS_URL when Redis answers there; otherwise skips (fails under CI).
async fn redis_url() -> Option<String> {
    let url = std::env::var("WORKERMAN_TEST_REDIS_URL").ok().filter(|u| !u.is_empty());
    let ci = std::env::var_os("CI").is_some();
    let Some(url) = url else {
        assert!(!ci, "WORKERMAN_TEST_REDIS_URL is not set under CI");
        println!("skipped: no Redis (WORKERMAN_TEST_REDIS_URL unset)");
        return None;
    };
    let probe = GlobalDataClient::new(&url)
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    match probe.get("probe").await {
        Ok(_) => Some(url),
        Err(e) => {
            assert!(!ci, "no Redis at {url} under CI: {e}");
            println!("skipped: no Redis at {url}");
            None
        }
    }
}

/// A TCP proxy in front of a real server whose existing connections can be frozen: it stops
/// forwarding in both directions but keeps the sockets open (a host that vanished without a
/// FIN: a frozen process, a pulled cable). It still notices when the client closes.
mod freezable {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    #[derive(Default)]
    pub struct Stats {
        pub accepted: AtomicUsize,
        /// Connections the client closed.
        pub closed_by_client: AtomicUsize,
        frozen_gen: AtomicUsize,
        pub frozen: AtomicBool,
    }

    impl Stats {
        /// Freezes every connection accepted so far.
        pub fn freeze_existing(&self) {
            self.frozen_gen
                .store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
            self.frozen.store(true, Ordering::SeqCst);
        }
    }

    pub async fn start(upstream: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<Stats>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        let st = stats.clone();
        tokio::spawn(async move {
            loop {
                let (mut client, _) = l.accept().await.unwrap();
                let n = st.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                let st = st.clone();
                tokio::spawn(async move {
                    let mut server = TcpStream::connect(upstream).await.unwrap();
                    let (mut cb, mut sb) = ([0u8; 4096], [0u8; 4096]);
                    let frozen = || st.frozen.load(Ordering::SeqCst) && n <= st.frozen_gen.load(Ordering::SeqCst);
                    loop {
                        tokio::select! {
                            r = client.read(&mut cb) => match r {
                                Ok(0) | Err(_) => {
                                    st.closed_by_client.fetch_add(1, Ordering::SeqCst);
                                    return;
                                }
                                // Frozen: swallowed, never forwarded.
                                Ok(k) => if !frozen() { server.write_all(&cb[..k]).await.unwrap(); },
                            },
                            r = server.read(&mut sb), if !frozen() => match r {
                                Ok(0) | Err(_) => return,
                                Ok(k) => client.write_all(&sb[..k]).await.unwrap(),
                            },
                        }
                    }
                });
            }
        });
        (addr, stats)
    }
}

/// A server that stops answering without closing is detected by the keepalive probe: the
/// client closes that connection by itself, and the next request goes to a fresh connection
/// and succeeds (without keepalive it would be written into the dead one and time out).
#[tokio::test(flavor = "current_thread")]
async fn keepalive_detects_a_dead_server_and_reconnects() {
    use std::sync::atomic::Ordering;
    let server = support::start_server();
    let (proxy, stats) = freezable::start(server).await;
    let c = GlobalDataClient::new(&proxy.to_string())
        .unwrap()
        .with_timeout(Duration::from_millis(500))
        .with_keepalive(Some(Duration::from_millis(200)));
    c.set("ka", 1).await.unwrap();
    assert_eq!(stats.accepted.load(Ordering::SeqCst), 1);
    // Idle probes on a live connection keep it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        stats.closed_by_client.load(Ordering::SeqCst),
        0,
        "a live connection was dropped"
    );
    assert_eq!(c.get("ka").await.unwrap(), Value::Int(1));
    assert_eq!(stats.accepted.load(Ordering::SeqCst), 1);

    stats.freeze_existing();
    // Probe after 200 ms idle, no reply within 500 ms: closed by the client on its own.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stats.closed_by_client.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the dead connection was never closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.get("ka").await.unwrap(), Value::Int(1));
    assert_eq!(stats.accepted.load(Ordering::SeqCst), 2);
}

/// With probes off, a request that gets no reply still condemns its connection: the one after
/// it goes to a fresh connection instead of timing out forever.
#[tokio::test(flavor = "current_thread")]
async fn an_unanswered_request_closes_the_connection() {
    use std::sync::atomic::Ordering;
    let server = support::start_server();
    let (proxy, stats) = freezable::start(server).await;
    let c = GlobalDataClient::new(&proxy.to_string())
        .unwrap()
        .with_timeout(Duration::from_millis(300))
        .with_keepalive(None);
    c.set("ub", 2).await.unwrap();
    stats.freeze_existing();
    let e = c.get("ub").await.unwrap_err();
    assert!(matches!(e, workerman_global_data::Error::Timeout(_)), "{e}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stats.closed_by_client.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stuck connection was never closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.get("ub").await.unwrap(), Value::Int(2));
    assert_eq!(stats.accepted.load(Ordering::SeqCst), 2);
}
