//! The notes test shared by `mysql_notes` and `pg_notes`: the database is reached through a
//! [`Gate`](super::Gate), so the test can take it away and bring it back; the test's own SQL goes
//! straight to the server with the database's command-line client.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{App, Gate, host_port, http, quick_while_slow, try_http, wait_for};

/// How to reach one kind of database.
pub struct Db {
    /// "MySQL" or "PostgreSQL", as the example logs it.
    pub what: &'static str,
    /// The example, its port and the env var it reads.
    pub example: &'static str,
    pub port: u16,
    pub env: &'static str,
    /// The real server's URL.
    pub url: String,
    /// Runs SQL with the command-line client; returns its output.
    pub sql: fn(&str, &str) -> String,
    /// SQL that holds an exclusive lock on `notes` for about 2 s.
    pub lock: &'static str,
    /// SQL that prints something non-empty (and not 0) while that lock is held.
    pub locked: &'static str,
}

/// `mariadb` with the parts of a `mysql://user[:pw]@host:port/db` URL.
pub fn mysql_cli(url: &str, sql: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let (auth, rest) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (user, pw) = auth.split_once(':').unwrap_or((auth, ""));
    let (hostport, db) = rest.split_once('/').unwrap_or((rest, "test"));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "3306"));
    let mut cmd = Command::new("mariadb");
    cmd.args(["-h", host, "-P", port, "-u", user, "-N", "-B", db, "-e", sql]);
    if !pw.is_empty() {
        cmd.env("MYSQL_PWD", pw);
    }
    run(cmd)
}

/// `psql` with the URL as it is.
pub fn pg_cli(url: &str, sql: &str) -> String {
    let mut cmd = Command::new("psql");
    cmd.args([url, "-v", "ON_ERROR_STOP=1", "-qtA", "-c", sql]);
    run(cmd)
}

fn run(mut cmd: Command) -> String {
    let out = cmd.output().expect("the database client");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn post(port: u16, body: &str) -> super::Reply {
    http(port, "POST", "/notes", body)
}

pub fn run_notes_test(db: Db) {
    (db.sql)(&db.url, "DROP TABLE IF EXISTS notes");
    let create = if db.what == "MySQL" {
        "CREATE TABLE notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL)"
    } else {
        "CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)"
    };
    (db.sql)(&db.url, create);
    let real = host_port(&db.url);
    let gate = Gate::new(&real);
    let via_gate = db.url.replacen(&real, &format!("127.0.0.1:{}", gate.port), 1);
    let mut app = App::new(db.example);
    app.env.push((db.env.into(), via_gate.clone()));
    app.start(2);
    super::common::connect(db.port);

    // Values round trip (unicode, quotes), through both processes.
    let mut expected = Vec::new();
    let mut pids = BTreeSet::new();
    while pids.len() < 2 {
        let body = format!("note {} — \"quoted\" ✓", expected.len() + 1);
        let r = post(db.port, &body);
        assert_eq!(r.status, 201, "{r:?}");
        let note: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(note["body"], body.as_str());
        assert_eq!(note["id"], expected.len() as u64 + 1);
        expected.push(note);
        pids.insert(r.pid);
        assert!(expected.len() < 300, "one process answered every request");
    }
    let r = http(db.port, "GET", "/notes", "");
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap(),
        serde_json::Value::Array(expected.clone())
    );

    // The table is locked for 2 s by another client: the insert waits, nothing else does.
    let (url, sql, lock) = (db.url.clone(), db.sql, db.lock);
    let locker = std::thread::spawn(move || sql(&url, lock));
    wait_for("the lock", || {
        let out = (db.sql)(&db.url, db.locked);
        (!out.is_empty() && out != "0").then_some(())
    });
    let t = Instant::now();
    let slow = std::thread::spawn(move || post(db.port, "written after the lock"));
    std::thread::sleep(Duration::from_millis(100)); // let the insert reach the lock first
    let r = quick_while_slow(db.port, "/", slow);
    assert_eq!(r.status, 201, "{r:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "the insert did wait for the lock"
    );
    locker.join().unwrap();

    // The server goes away: 503 and a log line naming it (without a password).
    gate.down();
    let r = wait_for("a 503 while the database is away", || {
        try_http(db.port, "POST", "/notes", "lost").filter(|r| r.status == 503)
    });
    assert_eq!(r.body, format!(r#"{{"error":"{} unavailable"}}"#, db.what));
    let shown = via_gate.clone();
    app.wait_log(&format!("{} at {} unavailable:", db.what, super::redact(&shown)));

    // Back: both processes write again, by themselves.
    gate.up();
    let mut seen = BTreeSet::new();
    wait_for("both processes writing again", || {
        let r = try_http(db.port, "POST", "/notes", "after the restart")?;
        if r.status == 201 {
            seen.insert(r.pid);
        }
        (seen.len() == 2).then_some(())
    });
    assert_eq!(seen, pids, "the same worker processes recovered (no restart)");
    let all: serde_json::Value = serde_json::from_str(&http(db.port, "GET", "/notes", "").body).unwrap();
    let bodies: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies.contains(&"written after the lock") && bodies.contains(&"after the restart"),
        "{bodies:?}"
    );
    app.stop();
}
