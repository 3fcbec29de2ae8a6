//! Process tests of the Channel examples through their CLI (`start -d`, `stop`), with real
//! WebSocket and HTTP clients: push to a client held by another process, broadcast to every
//! process, group send across processes, reconnect after the server restarts (subscriptions and
//! queue watches restored), each queued item delivered to exactly one watcher, and a publish
//! from the `channel_publish` command-line tool.

use workerman_testkit as common;
mod support;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use support::*;
use workerman_channel::{ChannelClient, Value};

/// The welcome message's id.
fn welcome_id(ws: &mut Ws) -> String {
    let m = ws.recv();
    let v: serde_json::Value = serde_json::from_str(&m).unwrap();
    assert_eq!(v["type"], "welcome", "{m}");
    v["id"].as_str().unwrap().to_string()
}

/// The process part (`host-pid`) of an id.
fn process_of(id: &str) -> &str {
    id.rsplit_once('-').unwrap().0
}

/// Opens WebSocket clients until they are spread over at least `processes` processes.
fn clients_over_processes(port: u16, processes: usize) -> Vec<(Ws, String)> {
    let mut clients = Vec::new();
    let mut seen = HashSet::new();
    while seen.len() < processes || clients.len() < 4 {
        assert!(clients.len() < 64, "connections never reached {processes} processes");
        let mut ws = Ws::connect(port);
        let id = welcome_id(&mut ws);
        seen.insert(process_of(&id).to_string());
        clients.push((ws, id));
    }
    clients
}

/// Reads until `marker`, failing on any message in `forbidden`.
fn read_until(ws: &mut Ws, marker: &str, forbidden: &[&str]) {
    loop {
        let m = ws.recv_skipping_warmup();
        assert!(!forbidden.contains(&m.as_str()), "got {m:?}, meant for someone else");
        if m == marker {
            return;
        }
    }
}

#[test]
fn cluster_push_reaches_one_client_in_another_process_and_broadcasts_to_all() {
    let app = App::new("cluster_push");
    app.start(7);
    let clients = clients_over_processes(4236, 2);
    let ids: Vec<String> = clients.iter().map(|c| c.1.clone()).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "ids are unique");
    let mut socks: Vec<Ws> = clients.into_iter().map(|c| c.0).collect();
    warm_up(&mut socks, |n| {
        assert_eq!(get(4237, &format!("/broadcast?content=warmup{n}")), (200, "ok".into()));
    });

    // Push to one client (held by a websocket process; the HTTP request lands in another one).
    let target = ids.len() - 1;
    let content = "héllo & bye";
    let (status, body) = get(
        4237,
        &format!("/push?to={}&content={}", enc(&ids[target]), enc(content)),
    );
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(socks[target].recv_skipping_warmup(), content);
    // The push has been delivered; a broadcast sent now comes after anything it could have
    // reached by mistake, on every connection.
    assert_eq!(get(4237, "/broadcast?content=to-all"), (200, "ok".into()));
    for (i, ws) in socks.iter_mut().enumerate() {
        let forbidden: &[&str] = if i == target { &[] } else { &[content] };
        read_until(ws, "to-all", forbidden);
    }
    assert_eq!(get(4237, "/push?to=nobody&content=x").0, 400);
    // The command-line tool reaches every process too.
    let publish = std::process::Command::new(examples_dir().join("channel_publish"))
        .args(["cluster_push:broadcast", "from the cli", "channel://127.0.0.1:2206"])
        .output()
        .unwrap();
    assert!(publish.status.success(), "{}", String::from_utf8_lossy(&publish.stderr));
    for ws in socks.iter_mut() {
        assert_eq!(ws.recv_skipping_warmup(), "from the cli");
    }
    assert!(app.stop().status.success());
}

#[test]
fn cluster_push_clients_resubscribe_after_the_channel_server_restarts() {
    let app = App::new("cluster_push");
    app.start(7);
    let clients = clients_over_processes(4236, 2);
    let ids: Vec<String> = clients.iter().map(|c| c.1.clone()).collect();
    let mut socks: Vec<Ws> = clients.into_iter().map(|c| c.0).collect();
    warm_up(&mut socks, |n| {
        get(4237, &format!("/broadcast?content=warmup{n}"));
    });
    // The Channel server is the start file's first worker (index 0).
    let server = worker_pid(&app, "0:0");
    kill(server, 9);
    wait_for("a new Channel server process", || {
        (worker_pid(&app, "0:0") != server).then_some(())
    });
    // Every process reconnects and re-subscribes by itself.
    warm_up(&mut socks, |n| {
        get(4237, &format!("/broadcast?content=warmup-again{n}"));
    });
    let (status, _) = get(4237, &format!("/push?to={}&content=after-restart", enc(&ids[0])));
    assert_eq!(status, 200);
    assert_eq!(socks[0].recv_skipping_warmup(), "after-restart");
    assert!(app.stop().status.success());
}

#[test]
fn group_send_reaches_members_in_every_process_and_only_them() {
    let app = App::new("group_send");
    app.start(6);
    // Enough clients to span processes; even ones join `red`, odd ones `blue`.
    let (mut red, mut blue): (Vec<Ws>, Vec<Ws>) = (Vec::new(), Vec::new());
    for i in 0..12 {
        let mut ws = Ws::connect(4238);
        if i % 2 == 0 {
            ws.send("join red");
            red.push(ws);
        } else {
            ws.send("join blue");
            blue.push(ws);
        }
    }
    let send = |group: &str, content: &str| {
        assert_eq!(
            get(4239, &format!("/send?group={group}&content={content}")),
            (200, "ok".into())
        );
    };
    warm_up(&mut red, |n| send("red", &format!("warmup{n}")));
    warm_up(&mut blue, |n| send("blue", &format!("warmup{n}")));
    send("red", "for-red");
    send("blue", "for-blue");
    for ws in red.iter_mut() {
        read_until(ws, "for-red", &["for-blue"]);
    }
    for ws in blue.iter_mut() {
        read_until(ws, "for-blue", &["for-red"]);
    }
    // Both publishes are handled: a misdelivery would come before these.
    send("red", "end");
    send("blue", "end");
    for ws in red.iter_mut().chain(blue.iter_mut()) {
        assert_eq!(ws.recv_skipping_warmup(), "end");
    }

    // red[0] leaves red, then joins `solo` (its messages are handled in order, so once `solo`
    // works, the leave is done); red[1] joins blue as well.
    red[0].send("leave red");
    red[0].send("join solo");
    red[1].send("join blue");
    warm_up(&mut red[..1], |n| send("solo", &format!("warmup{n}")));
    warm_up(&mut red[1..2], |n| send("blue", &format!("warmup{n}")));
    send("red", "red-2");
    send("blue", "blue-2");
    send("solo", "solo-end");
    assert_eq!(red[0].recv_skipping_warmup(), "solo-end", "left red, got nothing of it");
    assert_eq!(red[1].recv_skipping_warmup(), "red-2");
    assert_eq!(red[1].recv_skipping_warmup(), "blue-2");
    assert_eq!(red[2].recv_skipping_warmup(), "red-2");
    assert_eq!(get(4239, "/send?content=x").0, 400);
    assert!(app.stop().status.success());
}

/// Runs `f` on a current-thread runtime inside a `LocalSet`, as a plain tokio program would.
fn local<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

#[test]
fn queue_items_go_to_exactly_one_watcher_and_watches_survive_a_server_restart() {
    let app = App::new("channel_server");
    app.start(1);
    connect(2206);
    local(async {
        let got: Rc<RefCell<Vec<(usize, i64)>>> = Rc::default();
        // Connects per client (on_connect runs after each (re)connect's restore).
        let connects: Rc<RefCell<Vec<usize>>> = Rc::new(RefCell::new(vec![0; 4]));
        let counted = |i: usize| {
            let c = ChannelClient::connect("channel://127.0.0.1:2206").unwrap();
            let n = connects.clone();
            c.on_connect(move || n.borrow_mut()[i] += 1);
            c
        };
        let watchers: Vec<ChannelClient> = (0..3)
            .map(|i| {
                let c = counted(i);
                let g = got.clone();
                c.watch("jobs", move |v: Value| g.borrow_mut().push((i, v.as_int().unwrap())));
                c
            })
            .collect();
        let producer = counted(3);
        let wait_items = |n: usize| {
            let got = got.clone();
            async move {
                tokio::time::timeout(WAIT, async {
                    while got.borrow().len() < n {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                })
                .await
                .expect("queue items in time");
            }
        };
        for i in 0..300 {
            producer.enqueue("jobs", i).unwrap();
        }
        wait_items(300).await;
        let items: Vec<i64> = got.borrow().iter().map(|x| x.1).collect();
        let unique: HashSet<i64> = items.iter().copied().collect();
        assert_eq!((items.len(), unique.len()), (300, 300), "each item exactly once");
        let per: HashMap<usize, usize> = got.borrow().iter().fold(HashMap::new(), |mut m, x| {
            *m.entry(x.0).or_default() += 1;
            m
        });
        assert!(per.len() >= 2, "items spread over watchers: {per:?}");

        // The server process dies: every client reconnects and watches again (PHP's does not).
        let server = worker_pid(&app, "0:0");
        kill(server, 9);
        wait_for("a new Channel server process", || {
            (worker_pid(&app, "0:0") != server).then_some(())
        });
        tokio::time::timeout(WAIT, async {
            while connects.borrow().iter().any(|&n| n < 2) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("clients reconnect");
        got.borrow_mut().clear();
        for i in 1000..1100 {
            producer.enqueue("jobs", i).unwrap();
        }
        wait_items(100).await;
        let items: HashSet<i64> = got.borrow().iter().map(|x| x.1).collect();
        assert_eq!(items, (1000..1100).collect());
        assert!(watchers.iter().all(ChannelClient::is_connected));
    });
    assert!(app.stop().status.success());
}

#[test]
fn bad_frames_close_only_their_connection() {
    use std::io::{Read, Write};
    let app = App::new("channel_server");
    app.start(1);
    let mut good = connect(2206);
    good.write_all(b"\x00\x00\x00\x58a:2:{s:4:\"type\";s:9:\"subscribe\";s:8:\"channels\";a:2:{i:0;s:4:\"news\";i:1;s:4:\"chat\";}}")
        .unwrap();
    for bad in [
        &b"\x00\x00\x00\x0es:3:\"abc\";"[..],
        b"\x00\x00\x00\x18O:8:\"stdClass\":0:{}",
        b"\x00\x00\x00\x02",
        b"\xff\xff\xff\xff",
    ] {
        let mut s = connect(2206);
        s.write_all(bad).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "closed after {bad:?}");
    }
    app.wait_log("ChannelServer: connection");
    // The server and the good subscriber carry on: a publish reaches it.
    let mut publisher = connect(2206);
    publisher
        .write_all(b"\x00\x00\x00\x65a:3:{s:4:\"type\";s:7:\"publish\";s:8:\"channels\";a:1:{i:0;s:4:\"news\";}s:4:\"data\";a:1:{s:2:\"id\";i:7;}}")
        .unwrap();
    let mut frame = [0u8; 0x58];
    good.read_exact(&mut frame).unwrap();
    assert_eq!(
        &frame[..],
        &b"\x00\x00\x00\x58a:3:{s:4:\"type\";s:5:\"event\";s:7:\"channel\";s:4:\"news\";s:4:\"data\";a:1:{s:2:\"id\";i:7;}}"[..]
    );
    assert!(app.stop().status.success());
}
