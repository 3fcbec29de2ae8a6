//! In one process (`run_standalone`): a Register, a `text://` Gateway with a custom router and
//! gateway-side hooks, and two business workers `A` and `B`; raw sends. Real sockets on free
//! ports.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use bytes::Bytes;
use workerman::protocol::Text;
use workerman_gateway::{BusinessWorker, ClientEvent, Context, Events, Gateway, Register};
use workerman_testkit::{TIMEOUT, connect_addr, wait_for};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Answers `<name>:<message>`; `raw` answers with a raw send followed by an encoded one.
struct Named(&'static str);

impl Events for Named {
    async fn on_message(&self, cx: &mut Context, message: Bytes) {
        let text = String::from_utf8_lossy(&message).into_owned();
        if text == "raw" {
            let me = cx.client_id().to_owned();
            let _ = cx.gateway().raw().send_to_client(&me, "no-newline-").await;
            let _ = cx.send_to_current_client("then-encoded").await;
        } else {
            let _ = cx.send_to_current_client(format!("{}:{text}", self.0)).await;
        }
    }
}

#[derive(Debug, PartialEq)]
enum Report {
    ClientConnect(String),
    ClientClose(String),
    WorkerConnect(String),
    Routed(ClientEvent, String, usize),
}

fn next(rx: &Receiver<Report>) -> Report {
    rx.recv_timeout(TIMEOUT).expect("a report from the gateway")
}

#[test]
fn custom_router_gateway_hooks_and_raw_sends() {
    let (register_port, start_port, client_port) = (free_port(), free_port(), free_port());
    let rx = workerman_testkit::run(move |tx| {
        let registers = [format!("127.0.0.1:{register_port}")];
        Register::new(&format!("text://127.0.0.1:{register_port}")).unwrap();
        let gateway = Gateway::<Text>::new(&format!("text://127.0.0.1:{client_port}")).unwrap();
        gateway.set_start_port(start_port);
        gateway.set_register_address(registers.clone());
        let t = tx.clone();
        // Everything to worker B, whatever the default would do.
        gateway.set_router(move |r| {
            let i = r.workers.iter().position(|k| k.contains(":B:")).unwrap_or(0);
            let _ = t.send(Report::Routed(r.event, r.client_id.to_string(), r.workers.len()));
            i
        });
        let t = tx.clone();
        gateway.on_client_connect(move |id, _conn| {
            let _ = t.send(Report::ClientConnect(id.to_owned()));
        });
        let t = tx.clone();
        gateway.on_client_close(move |id, _conn| {
            let _ = t.send(Report::ClientClose(id.to_owned()));
        });
        let t = tx.clone();
        gateway.on_business_worker_connect(move |key| {
            let _ = t.send(Report::WorkerConnect(key.to_owned()));
        });
        for name in ["A", "B"] {
            let w = BusinessWorker::new(Named(name));
            w.set_name(name);
            w.set_register_address(registers.clone());
        }
    });
    let mut workers: Vec<String> = (0..2)
        .map(|_| match next(&rx) {
            Report::WorkerConnect(k) => k,
            other => panic!("expected a worker to connect, got {other:?}"),
        })
        .collect();
    workers.sort();
    assert_eq!(workers, ["127.0.0.1:A:0", "127.0.0.1:B:0"]);

    let addr = format!("127.0.0.1:{client_port}").parse().unwrap();
    let mut client = connect_addr(addr);
    let Report::ClientConnect(id) = next(&rx) else {
        panic!("no on_client_connect")
    };
    assert_eq!(id.len(), 20);
    assert_eq!(next(&rx), Report::Routed(ClientEvent::Connect, id.clone(), 2));
    let mut lines = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    for i in 0..3 {
        client.write_all(format!("hello{i}\n").as_bytes()).unwrap();
        line.clear();
        lines.read_line(&mut line).unwrap();
        assert_eq!(line, format!("B:hello{i}\n"), "the router sends everything to B");
        assert_eq!(next(&rx), Report::Routed(ClientEvent::Message, id.clone(), 2));
    }

    // A raw send skips the protocol's encoding: no "\n" after it.
    client.write_all(b"raw\n").unwrap();
    line.clear();
    lines.read_line(&mut line).unwrap();
    assert_eq!(line, "no-newline-then-encoded\n");
    assert_eq!(next(&rx), Report::Routed(ClientEvent::Message, id.clone(), 2));

    drop(lines);
    drop(client);
    let mut rest = vec![next(&rx), next(&rx)];
    rest.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(
        rest,
        [
            Report::ClientClose(id.clone()),
            Report::Routed(ClientEvent::Close, id.clone(), 2)
        ]
    );
    // Nothing else happened (a second client connects and is routed as well).
    let _second = wait_for("a second client", || TcpStream::connect(addr).ok());
    assert!(matches!(next(&rx), Report::ClientConnect(_)));
    assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
}
