//! HTTP sessions over real sockets: curl cookie jars and Python `requests` against an
//! in-process server on 127.0.0.1:0, with the file handler, Redis and a private 3-master Redis
//! Cluster. A counting wrapper around each handler shows what reached the store (lazy loading,
//! auto-save, opt-out, refresh).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::session::{
    BoxFuture, FileSessionHandler, RedisClusterConfig, RedisClusterSessionHandler, RedisConfig, RedisSessionHandler,
    SessionConfig, SessionHandler, Sessions,
};
use workerman::protocol::http::{HttpConnectionExt, Response};
use workerman_testkit::{TIMEOUT, have, scratch_dir, serve, skip, wait_for};

/// What reached the store.
#[derive(Default, Debug)]
struct Counts {
    read: AtomicUsize,
    write: AtomicUsize,
    destroy: AtomicUsize,
    touch: AtomicUsize,
}

impl Counts {
    fn get(&self) -> [usize; 4] {
        [
            self.read.load(SeqCst),
            self.write.load(SeqCst),
            self.destroy.load(SeqCst),
            self.touch.load(SeqCst),
        ]
    }
}

/// A handler that counts the calls it passes on.
struct Counting<H> {
    inner: H,
    counts: Arc<Counts>,
}

impl<H: SessionHandler> SessionHandler for Counting<H> {
    fn read<'a>(&'a self, id: &'a str) -> BoxFuture<'a, std::io::Result<Option<Vec<u8>>>> {
        self.counts.read.fetch_add(1, SeqCst);
        self.inner.read(id)
    }
    fn write<'a>(&'a self, id: &'a str, data: &'a [u8], lifetime: Duration) -> BoxFuture<'a, std::io::Result<()>> {
        self.counts.write.fetch_add(1, SeqCst);
        self.inner.write(id, data, lifetime)
    }
    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, std::io::Result<()>> {
        self.counts.destroy.fetch_add(1, SeqCst);
        self.inner.destroy(id)
    }
    fn update_timestamp<'a>(&'a self, id: &'a str, lifetime: Duration) -> BoxFuture<'a, std::io::Result<()>> {
        self.counts.touch.fetch_add(1, SeqCst);
        self.inner.update_timestamp(id, lifetime)
    }
}

/// A typed session value.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct User {
    name: String,
    roles: Vec<String>,
    age: u8,
    admin: bool,
}

/// The test application: every route runs through `Sessions::handle`.
fn session_server(make: impl FnOnce() -> Sessions + Send + 'static) -> SocketAddr {
    serve(move |_: mpsc::Sender<()>| {
        let sessions = make();
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.on_message(move |c, req| {
            let path = req.path().to_string();
            if path == "/drop" {
                // Without `handle`: the last handle's drop queues the cookie and saves.
                let s = sessions.session(&req);
                c.respond_with(async move {
                    s.set("n", 77u32).await.unwrap();
                    "dropped"
                });
                return;
            }
            c.respond_with(sessions.handle(req, move |req, s| async move {
                let text = match path.as_str() {
                    "/plain" => "plain".to_string(),
                    "/count" | "/login" => {
                        if path == "/login" {
                            s.regenerate_id(true).await?;
                        }
                        let n = s.get::<u32>("n").await?.unwrap_or(0) + 1;
                        s.set("n", n).await?;
                        n.to_string()
                    }
                    "/peek" => format!("{:?}", s.get::<u32>("n").await?),
                    "/user/set" => {
                        let user = User {
                            name: req.get("name").unwrap_or("").to_string(),
                            roles: vec!["editor".into(), "ops".into()],
                            age: req.get("age").and_then(|a| a.parse().ok()).unwrap_or(0),
                            admin: true,
                        };
                        s.set("user", &user).await?;
                        s.set("maybe", None::<u8>).await?;
                        "set".into()
                    }
                    "/user" => {
                        let user: Option<User> = s.get("user").await?;
                        let flags = (s.exists("maybe").await?, s.has("maybe").await?);
                        format!("{} {flags:?}", serde_json::to_string(&user).unwrap())
                    }
                    "/forget" => {
                        s.forget(["user", "maybe"]).await?;
                        format!("{} {}", s.exists("user").await?, s.exists("n").await?)
                    }
                    "/nosave" => {
                        s.set("n", 1000u32).await?;
                        s.set_auto_save(false);
                        "not saved".into()
                    }
                    "/refresh" => {
                        s.refresh().await?;
                        "refreshed".into()
                    }
                    "/flush" => {
                        s.flush().await?;
                        "flushed".into()
                    }
                    "/fail" => {
                        s.set("n", 5000u32).await?;
                        return Err(std::io::Error::other("the handler failed"));
                    }
                    _ => "?".into(),
                };
                Ok::<_, std::io::Error>(Response::from(text))
            }));
        });
        w
    })
    .addr
}

/// One request with curl and a cookie jar: (status, body).
fn curl(jar: &Path, addr: SocketAddr, path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-c", &jar.display().to_string(), "-b"])
        .arg(jar)
        .args(["-w", "\n%{http_code}"])
        .arg(format!("http://{addr}{path}"))
        .output()
        .expect("curl is required");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("curl printed the status");
    (code.parse().unwrap_or(0), body.to_string())
}

/// The session id curl keeps in `jar`.
fn jar_id(jar: &Path) -> Option<String> {
    let text = std::fs::read_to_string(jar).ok()?;
    text.lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f.len() == 7 && f[5] == "PHPSID")
        .map(|f| f[6].to_string())
}

/// The behaviour every handler must show, observed over curl and Python; `key` says where a
/// session's record is (for the handler-specific checks), `counts` what reached the store.
fn scenario(addr: SocketAddr, counts: &Counts, dir: &Path, exists: &dyn Fn(&str) -> bool) {
    let jar = dir.join("jar");
    let _ = std::fs::remove_file(&jar);
    // Lazy: a request that never touches the session reads and writes nothing, and a new
    // visitor gets no cookie.
    assert_eq!(curl(&jar, addr, "/plain"), (200, "plain".into()));
    assert_eq!(counts.get(), [0, 0, 0, 0]);
    assert_eq!(jar_id(&jar), None);
    // A new visitor's first read has nothing to read either (no cookie), and gets no cookie
    // when nothing was saved.
    assert_eq!(curl(&jar, addr, "/peek"), (200, "None".into()));
    assert_eq!(counts.get(), [0, 0, 0, 0]);
    // Auto-save: written once, with the cookie in the same response.
    assert_eq!(curl(&jar, addr, "/count"), (200, "1".into()));
    assert_eq!(counts.get(), [0, 1, 0, 0]);
    let id = jar_id(&jar).expect("a cookie after the first save");
    assert!(exists(&id));
    assert_eq!(curl(&jar, addr, "/count").1, "2");
    assert_eq!(counts.get(), [1, 2, 0, 0]);
    // With the cookie, a request that does not touch the session still reads nothing.
    assert_eq!(curl(&jar, addr, "/plain").1, "plain");
    assert_eq!(counts.get(), [1, 2, 0, 0]);
    // Read only: one read, no write.
    assert_eq!(curl(&jar, addr, "/peek").1, "Some(2)");
    assert_eq!(counts.get(), [2, 2, 0, 0]);
    // Opting out: the change is not kept.
    assert_eq!(curl(&jar, addr, "/nosave").1, "not saved");
    assert_eq!(curl(&jar, addr, "/peek").1, "Some(2)");
    assert_eq!(counts.get(), [4, 2, 0, 0]);
    // A failing handler answers 500 and saves nothing.
    assert_eq!(curl(&jar, addr, "/fail").0, 500);
    assert_eq!(curl(&jar, addr, "/peek").1, "Some(2)");
    // Typed values round trip; null exists but is not "has".
    assert_eq!(curl(&jar, addr, "/user/set?name=Zoë&age=42").1, "set");
    let (_, user) = curl(&jar, addr, "/user");
    assert_eq!(
        user,
        r#"{"name":"Zoë","roles":["editor","ops"],"age":42,"admin":true} (true, false)"#
    );
    // Forget several names at once.
    assert_eq!(curl(&jar, addr, "/forget").1, "false true");
    assert_eq!(curl(&jar, addr, "/user").1, "null (false, false)");
    // Refresh: the store's timestamp is updated, nothing rewritten.
    let before = counts.get();
    assert_eq!(curl(&jar, addr, "/refresh").1, "refreshed");
    let after = counts.get();
    assert_eq!((after[1] - before[1], after[3] - before[3]), (0, 1));
    // Regenerating the id (login) changes the cookie and keeps the data; the old id is gone.
    assert_eq!(curl(&jar, addr, "/login").1, "3");
    let new_id = jar_id(&jar).unwrap();
    assert_ne!(new_id, id);
    assert!(!exists(&id) && exists(&new_id));
    assert_eq!(curl(&jar, addr, "/count").1, "4");
    // The dropped handle saves by itself (after the response), cookie included.
    let jar2 = dir.join("jar2");
    let _ = std::fs::remove_file(&jar2);
    assert_eq!(curl(&jar2, addr, "/drop").1, "dropped");
    let dropped = jar_id(&jar2).expect("the dropped session's cookie");
    wait_for("the dropped session's write", || exists(&dropped).then_some(()));
    assert_eq!(curl(&jar2, addr, "/peek").1, "Some(77)");
    // Flush destroys the record.
    let destroys = counts.get()[2];
    assert_eq!(curl(&jar, addr, "/flush").1, "flushed");
    assert_eq!(counts.get()[2], destroys + 1);
    assert!(!exists(&new_id));
    assert_eq!(curl(&jar, addr, "/peek").1, "None");
    python_visits(addr);
}

/// Python `requests` keeps the session cookie across requests; a new client starts over; an
/// old (regenerated-away) id is not adopted.
fn python_visits(addr: SocketAddr) {
    let script = format!(
        r#"
import requests
base = "http://127.0.0.1:{port}"
s = requests.Session()
got = [s.get(base + "/count", timeout=10).text for _ in range(3)]
assert got == ["1", "2", "3"], got
sid = s.cookies.get("PHPSID")
assert sid and len(sid) >= 16, sid
r = s.get(base + "/login", timeout=10)
assert r.text == "4", r.text
assert s.cookies.get("PHPSID") != sid
assert "HttpOnly" in r.headers["Set-Cookie"] and "Path=/" in r.headers["Set-Cookie"], r.headers
assert s.get(base + "/count", timeout=10).text == "5"
old = requests.get(base + "/count", cookies={{"PHPSID": sid}}, timeout=10)
assert old.text == "1", old.text
assert old.cookies.get("PHPSID") not in (None, sid), old.headers
assert requests.get(base + "/count", timeout=10).text == "1"
print("ok")
"#,
        port = addr.port()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3 is required");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn file_sessions_lazy_typed_auto_saved() {
    let dir = scratch_dir("http-sessions-file");
    let store = dir.join("store");
    let counts = Arc::new(Counts::default());
    let (s, c) = (store.clone(), counts.clone());
    let addr = session_server(move || {
        Sessions::new(Counting {
            inner: FileSessionHandler::new(s).unwrap(),
            counts: c,
        })
    });
    let exists = |id: &str| store.join(format!("session_{id}")).exists();
    scenario(addr, &counts, &dir, &exists);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_sessions_auto_update_timestamp() {
    let dir = scratch_dir("http-sessions-touch");
    let store = dir.join("store");
    let counts = Arc::new(Counts::default());
    let (s, c) = (store.clone(), counts.clone());
    let addr = session_server(move || {
        let config = SessionConfig {
            auto_update_timestamp: true,
            ..SessionConfig::default()
        };
        Sessions::with_config(
            Counting {
                inner: FileSessionHandler::new(s).unwrap(),
                counts: c,
            },
            config,
        )
    });
    let jar = dir.join("jar");
    assert_eq!(curl(&jar, addr, "/count").1, "1");
    let id = jar_id(&jar).unwrap();
    let file = store.join(format!("session_{id}"));
    // Make the record look old, then read it: the read restarts its lifetime.
    let old = std::time::SystemTime::now() - Duration::from_secs(600);
    std::fs::File::options()
        .append(true)
        .open(&file)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(curl(&jar, addr, "/peek").1, "Some(1)");
    assert_eq!(counts.get(), [1, 1, 0, 1]);
    let age = std::fs::metadata(&file)
        .unwrap()
        .modified()
        .unwrap()
        .elapsed()
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "mtime not refreshed: {age:?}");
    // A request that never touches the session does not refresh it (nothing was loaded).
    assert_eq!(curl(&jar, addr, "/plain").1, "plain");
    assert_eq!(counts.get(), [1, 1, 0, 1]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Redis command over a raw socket (RESP), the reply's text.
fn redis_cmd(addr: &str, args: &[&str]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(cmd.as_bytes()).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// redis-server processes this test started (killed on drop), and their directory.
struct OwnRedis(Vec<Child>, Option<PathBuf>);

impl Drop for OwnRedis {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = &self.1 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_redis(port: u16, extra: &[&str]) -> Option<Child> {
    Command::new("redis-server")
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
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .ok()
}

fn wait_listening(addr: &str) {
    wait_for(&format!("redis-server on {addr}"), || {
        TcpStream::connect(addr).ok().map(drop)
    });
}

/// `WORKERMAN_TEST_REDIS` (must be reachable), else a redis-server started here when the binary
/// exists, else `None`.
fn redis_for_tests() -> Option<(String, OwnRedis)> {
    if let Ok(addr) = std::env::var("WORKERMAN_TEST_REDIS") {
        assert!(
            TcpStream::connect(&addr).is_ok(),
            "WORKERMAN_TEST_REDIS={addr} is set but nothing answers there (is redis-server running?)"
        );
        return Some((addr, OwnRedis(Vec::new(), None)));
    }
    let port = free_port();
    let child = start_redis(port, &[])?;
    let own = OwnRedis(vec![child], None);
    let addr = format!("127.0.0.1:{port}");
    wait_listening(&addr);
    Some((addr, own))
}

#[test]
fn redis_sessions_lazy_typed_auto_saved() {
    let Some((addr, _own)) = redis_for_tests() else {
        skip("no WORKERMAN_TEST_REDIS and no redis-server binary");
        return;
    };
    let dir = scratch_dir("http-sessions-redis");
    let prefix = format!("wm_test_{}_", std::process::id());
    let cfg = RedisConfig {
        addr: addr.clone(),
        prefix: prefix.clone(),
        ..RedisConfig::default()
    };
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    let server = session_server(move || {
        let config = SessionConfig {
            lifetime: Duration::from_secs(300),
            ..SessionConfig::default()
        };
        Sessions::with_config(
            Counting {
                inner: RedisSessionHandler::new(cfg),
                counts: c,
            },
            config,
        )
    });
    let key = |id: &str| format!("{prefix}{id}");
    let exists = |id: &str| redis_cmd(&addr, &["EXISTS", &key(id)]) == ":1\r\n";
    scenario(server, &counts, &dir, &exists);
    // Written with the lifetime as TTL; refresh (EXPIRE) restarts it.
    let jar = dir.join("jar3");
    assert_eq!(curl(&jar, server, "/count").1, "1");
    let k = key(&jar_id(&jar).unwrap());
    let ttl = |k: &str| {
        redis_cmd(&addr, &["TTL", k])
            .trim_start_matches(':')
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    assert!((290..=300).contains(&ttl(&k)), "{}", ttl(&k));
    redis_cmd(&addr, &["EXPIRE", &k, "20"]);
    assert_eq!(curl(&jar, server, "/refresh").1, "refreshed");
    assert!(ttl(&k) > 20, "{}", ttl(&k));
    // The value is the session's JSON.
    assert_eq!(redis_cmd(&addr, &["GET", &k]), "$7\r\n{\"n\":1}\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Redis down: a clear 500 for the request, and the next request after it comes back works.
#[test]
fn redis_sessions_server_gone_and_back() {
    if !have("redis-server") {
        skip("no redis-server binary");
        return;
    }
    let dir = scratch_dir("http-sessions-redis-gone");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let cfg = RedisConfig {
        addr: addr.clone(),
        timeout: Duration::from_millis(500),
        ..RedisConfig::default()
    };
    let server = session_server(move || Sessions::redis(cfg));
    let jar = dir.join("jar");
    assert_eq!(curl(&jar, server, "/count").0, 500, "nothing listens yet");
    let own = OwnRedis(vec![start_redis(port, &[]).expect("redis-server")], None);
    wait_listening(&addr);
    wait_for("sessions once Redis is up", || {
        (curl(&jar, server, "/count").1 == "1").then_some(())
    });
    assert_eq!(curl(&jar, server, "/count").1, "2");
    drop(own);
    assert_eq!(curl(&jar, server, "/count").0, 500, "Redis stopped");
    let _own = OwnRedis(vec![start_redis(port, &[]).expect("redis-server")], None);
    wait_listening(&addr);
    // A new, empty Redis: the old id is unknown, counting starts over.
    wait_for("sessions once Redis is back", || {
        (curl(&jar, server, "/count").1 == "1").then_some(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three masters with `cluster-enabled yes` on free ports, joined by `redis-cli --cluster create`.
fn start_cluster(dir: &Path) -> (Vec<String>, OwnRedis) {
    let mut ports = Vec::new();
    while ports.len() < 3 {
        let p = free_port();
        // The cluster bus listens on port + 10000.
        if p < 55000 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() && !ports.contains(&p) {
            ports.push(p);
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    let mut own = OwnRedis(Vec::new(), Some(dir.to_path_buf()));
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    for p in &ports {
        let conf = dir.join(format!("nodes-{p}.conf"));
        let child = start_redis(
            *p,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &conf.display().to_string(),
                "--dir",
                &dir.display().to_string(),
            ],
        )
        .expect("redis-server");
        own.0.push(child);
    }
    for n in &nodes {
        wait_listening(n);
    }
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&nodes)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    for n in &nodes {
        wait_for("cluster_state:ok", || {
            redis_cmd(n, &["CLUSTER", "INFO"])
                .contains("cluster_state:ok")
                .then_some(())
        });
    }
    (nodes, own)
}

#[test]
fn redis_cluster_sessions() {
    if !have("redis-server") || !have("redis-cli") {
        skip("no redis-server / redis-cli binary");
        return;
    }
    let dir = scratch_dir("http-sessions-cluster");
    let (nodes, _own) = start_cluster(&dir.join("cluster"));
    let prefix = "wm_cluster_";
    let cfg = RedisClusterConfig {
        nodes: vec![nodes[0].clone()],
        prefix: prefix.into(),
        ..RedisClusterConfig::default()
    };
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    let server = session_server(move || {
        Sessions::new(Counting {
            inner: RedisClusterSessionHandler::new(cfg),
            counts: c,
        })
    });
    // A key lives on exactly one master: the one owning its slot.
    let owners = |id: &str| {
        let key = format!("{prefix}{id}");
        nodes
            .iter()
            .filter(|n| redis_cmd(n, &["EXISTS", &key]).starts_with(":1"))
            .count()
    };
    let exists = |id: &str| owners(id) == 1;
    scenario(server, &counts, &dir, &exists);
    // Many sessions spread over the three masters.
    for i in 0..30 {
        let jar = dir.join(format!("spread{i}"));
        assert_eq!(curl(&jar, server, "/count").1, "1");
    }
    for n in &nodes {
        let size = redis_cmd(n, &["DBSIZE"]);
        let size: usize = size.trim_start_matches(':').trim().parse().unwrap();
        assert!(size > 0, "no session key on {n}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
