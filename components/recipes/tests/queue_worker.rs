//! `queue_worker` (2365) against the real RabbitMQ, once over AMQP (`WORKERMAN_TEST_AMQP_URL`,
//! default `amqp://guest:guest@127.0.0.1:5672/%2f`) and once over STOMP 1.2
//! (`WORKERMAN_TEST_STOMP_ADDR`, default `127.0.0.1:61613`, RabbitMQ's `rabbitmq_stomp` plugin).
//! The broker is shared by the machine, so it is reached through a TCP gate the test pauses
//! (a broker that stops answering), closes and reopens — and each run uses queues of its own.
//! Tasks round trip (uppercased) and `GET /done` answers the same list from both processes; a
//! paused broker holds up only the `POST` waiting for it; the broker gone → 503 and a log line;
//! back → the same processes enqueue and consume again.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::{App, Gate, host_port, http, quick_while_slow, try_http, wait_for};

const PORT: u16 = 2365;

struct Backend {
    /// "AMQP" or "STOMP", as the example logs it.
    what: &'static str,
    /// `QUEUE_BACKEND`.
    name: &'static str,
    /// The env var the example reads and its value through the gate.
    env: &'static str,
    value: String,
    /// How the log names the broker.
    shown: String,
}

/// `GET /done` as a list, and which process answered.
fn done() -> (Vec<String>, u32) {
    let r = http(PORT, "GET", "/done", "");
    assert_eq!(r.status, 200, "{r:?}");
    (serde_json::from_str(&r.body).unwrap(), r.pid)
}

/// Waits until both processes list every body in `want` (uppercased), and they list the same.
fn both_list(want: &[String]) {
    let want: BTreeSet<String> = want.iter().map(|b| b.to_uppercase()).collect();
    let mut seen = std::collections::BTreeMap::new();
    wait_for("both processes to list the processed tasks", || {
        let (list, pid) = done();
        let have: BTreeSet<String> = list.iter().cloned().collect();
        if want.is_subset(&have) {
            seen.insert(pid, list);
        }
        (seen.len() == 2).then_some(())
    });
    // The same results, apart from the probes sent while a process was still connecting.
    let probe = |l: &&String| l.starts_with("WARM-UP ") || l.starts_with("RECONNECTED ");
    // (Sorted: two consumers' results may reach the two processes' queues in either order.)
    let lists: Vec<Vec<&String>> = seen
        .values()
        .map(|l| {
            let mut l: Vec<&String> = l.iter().filter(|l| !probe(l)).collect();
            l.sort();
            l
        })
        .collect();
    assert_eq!(lists[0], lists[1], "both processes list the same results");
}

/// POSTs `<tag> N` until both processes answered 202 (503 while connecting); their pids.
fn both_enqueue(tag: &str) -> BTreeSet<u32> {
    let mut pids = BTreeSet::new();
    let mut n = 0;
    wait_for("both processes enqueueing", || {
        n += 1;
        let r = try_http(PORT, "POST", "/tasks", &format!("{tag} {n}"))?;
        match r.status {
            202 => {
                pids.insert(r.pid);
            }
            503 => {}
            _ => panic!("{r:?}"),
        }
        (pids.len() == 2).then_some(())
    });
    pids
}

fn run(backend: Backend, gate: Gate, queue: &str) {
    let mut app = App::new("queue_worker");
    app.env.push(("QUEUE_BACKEND".into(), backend.name.into()));
    app.env.push((backend.env.into(), backend.value.clone()));
    app.env.push(("QUEUE_NAME".into(), queue.into()));
    app.start(2);
    support::common::connect(PORT);

    // Both processes connected (each answers 202). Results are broadcast to the processes
    // connected at the time, so the round trip starts after this.
    let pids = both_enqueue("warm-up");

    // Tasks round trip (UTF-8 and spaces kept, uppercased); each is processed once.
    let mut sent: Vec<String> = (1..=8).map(|i| format!("task {i} — grüße ✓")).collect();
    for body in &sent {
        let r = http(PORT, "POST", "/tasks", body);
        assert_eq!((r.status, r.body.as_str()), (202, r#"{"queued":true}"#), "{r:?}");
    }
    both_list(&sent);
    let (list, _) = done();
    for body in &sent {
        let n = list.iter().filter(|l| **l == body.to_uppercase()).count();
        assert_eq!(n, 1, "{body} processed once: {list:?}");
    }
    assert!(list.contains(&"TASK 1 — GRÜSSE ✓".to_string()), "{list:?}");
    assert_eq!(http(PORT, "POST", "/tasks", "").status, 400);

    // The broker stops answering for 1 s: the POST waits, the same processes answer meanwhile.
    gate.pause();
    let t = Instant::now();
    let slow = std::thread::spawn(|| http(PORT, "POST", "/tasks", "during the pause"));
    std::thread::sleep(Duration::from_millis(100));
    let resume = gate.resumer();
    let resumer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(900));
        resume();
    });
    let r = quick_while_slow(PORT, "/", slow);
    resumer.join().unwrap();
    assert_eq!(r.status, 202, "{r:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "the POST waited for the broker"
    );
    sent.push("during the pause".into());
    both_list(&sent);

    // The broker goes away: 503 and a log line naming it.
    gate.down();
    let r = wait_for("a 503 while the broker is away", || {
        try_http(PORT, "POST", "/tasks", "lost").filter(|r| r.status == 503)
    });
    assert_eq!(r.body, format!(r#"{{"error":"{} unavailable"}}"#, backend.what));
    app.wait_log(&format!("{} at {} unavailable:", backend.what, backend.shown));

    // Back: both processes enqueue again by themselves, and tasks are processed and listed.
    gate.up();
    assert_eq!(
        both_enqueue("reconnected"),
        pids,
        "the same worker processes recovered (no restart)"
    );
    let after: Vec<String> = (1..=4).map(|i| format!("after {i}")).collect();
    for body in &after {
        assert_eq!(http(PORT, "POST", "/tasks", body).status, 202);
    }
    both_list(&after);
    app.stop();
}

/// Deletes a test queue when dropped, even after a failure (best effort: needs `rabbitmqctl` and
/// the right to use it).
struct DeleteQueue(String);

impl Drop for DeleteQueue {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["delete_queue", &self.0])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn amqp_tasks_round_trip_survive_a_paused_and_a_lost_broker() {
    let Some(url) = support::service(
        "RabbitMQ (AMQP)",
        "WORKERMAN_TEST_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    ) else {
        return;
    };
    let real = host_port(&url);
    let gate = Gate::new(&real);
    let via_gate = url.replacen(&real, &format!("127.0.0.1:{}", gate.port), 1);
    let queue = format!("workerman.test.amqp.{}", std::process::id());
    let backend = Backend {
        what: "AMQP",
        name: "amqp",
        env: "AMQP_URL",
        shown: support::redact(&via_gate),
        value: via_gate,
    };
    let _cleanup = DeleteQueue(queue.clone());
    run(backend, gate, &queue);
}

#[test]
fn stomp_tasks_round_trip_survive_a_paused_and_a_lost_broker() {
    let Some(addr) = support::service("RabbitMQ (STOMP)", "WORKERMAN_TEST_STOMP_ADDR", "127.0.0.1:61613") else {
        return;
    };
    let gate = Gate::new(&addr);
    let via_gate = format!("127.0.0.1:{}", gate.port);
    let queue = format!("workerman.test.stomp.{}", std::process::id());
    let backend = Backend {
        what: "STOMP",
        name: "stomp",
        env: "STOMP_ADDR",
        shown: via_gate.clone(),
        value: via_gate,
    };
    let _cleanup = DeleteQueue(queue.clone());
    run(backend, gate, &queue);
}
