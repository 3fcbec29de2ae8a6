//! Process tests, graceful stop and reload (`stop -g`, `reload -g`) through the CLI: the
//! per-worker policy (`GracefulStop`: close when quiet, or wait for the client within
//! `stop_timeout`) and the `1001 Going Away` a WebSocket client is sent, seen by Python's
//! `websockets`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use workerman_testkit::*;

const HOOKS_PORT: u16 = 2390;
const WS_PORT: u16 = 2346;

fn line_client() -> BufReader<TcpStream> {
    let mut c = BufReader::new(connect(HOOKS_PORT));
    let mut hi = String::new();
    c.read_line(&mut hi).unwrap();
    assert_eq!(hi, "hi\n");
    c
}

fn ask(c: &mut BufReader<TcpStream>, cmd: &str) -> std::io::Result<String> {
    c.get_mut().write_all(format!("{cmd}\n").as_bytes())?;
    let mut line = String::new();
    if c.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end().to_string())
}

/// Waits until the server closes `c` (EOF), within the client's read timeout.
fn closed_by_server(c: &mut BufReader<TcpStream>) -> bool {
    let mut buf = [0u8; 64];
    matches!(c.get_mut().read(&mut buf), Ok(0))
}

#[test]
fn default_graceful_stop_closes_quiet_connections() {
    let app = App::new("worker_hooks");
    app.start(2);
    let mut c = line_client();
    let stop = app.cmd(&["stop", "-g"]).stdout(Stdio::null()).spawn().unwrap();
    assert!(
        closed_by_server(&mut c),
        "a quiet connection is closed by a graceful stop"
    );
    let status = wait_child(stop);
    assert!(status.success());
    assert!(!app.pid_file().exists());
}

#[test]
fn wait_for_client_keeps_quiet_connections_until_the_client_leaves() {
    let mut app = App::new("worker_hooks");
    app.env.push(("WORKER_HOOKS_GRACEFUL".into(), "wait".into()));
    app.env.push(("WORKER_HOOKS_STOP_TIMEOUT".into(), "30".into()));
    app.start(2);
    let mut c = line_client();
    let pid: i32 = ask(&mut c, "pid").unwrap().parse().unwrap();
    let mut stop = app.cmd(&["stop", "-g"]).stdout(Stdio::null()).spawn().unwrap();
    app.wait_log("gracefully stopping");
    // The process stopped listening (no new connections)...
    wait_for("the port to close", || {
        TcpStream::connect(("127.0.0.1", HOOKS_PORT)).is_err().then_some(())
    });
    // ...but the quiet connection stays, well past the default policy's 1 s of quiet.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        ask(&mut c, "pid").unwrap(),
        pid.to_string(),
        "still served while stopping"
    );
    assert!(stop.try_wait().unwrap().is_none(), "stop -g waits for the client");
    assert!(alive(pid));
    // The client leaves: the process exits, and so does the master.
    drop(c);
    let status = wait_child(stop);
    assert!(status.success());
    wait_for("the worker process to exit", || (!alive(pid)).then_some(()));
}

#[test]
fn wait_for_client_is_bounded_by_stop_timeout() {
    let mut app = App::new("worker_hooks");
    app.env.push(("WORKER_HOOKS_GRACEFUL".into(), "wait".into()));
    app.env.push(("WORKER_HOOKS_STOP_TIMEOUT".into(), "2".into()));
    app.start(2);
    let mut c = line_client();
    let started = Instant::now();
    let stop = app.cmd(&["stop", "-g"]).stdout(Stdio::null()).spawn().unwrap();
    // The client never leaves: the process closes the connection once stop_timeout has passed.
    assert!(closed_by_server(&mut c), "closed at stop_timeout");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "kept open until stop_timeout (2 s), closed after {:?}",
        started.elapsed()
    );
    assert!(wait_child(stop).success());
}

/// A Python `websockets` client: echo once, print `ready`, then print how the server closed.
const WS_CLIENT: &str = r#"
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        print("ready", flush=True)
        try:
            await ws.recv()
            print("message", flush=True)
        except websockets.ConnectionClosed as e:
            print("closed", e.rcvd.code if e.rcvd else None, flush=True)
asyncio.run(main())
"#;

fn python_ws_client() -> Option<(Child, BufReader<ChildStdout>)> {
    let ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", WS_CLIENT, &format!("ws://127.0.0.1:{WS_PORT}/")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    Some((child, out))
}

fn close_code(mut client: (Child, BufReader<ChildStdout>)) -> String {
    let mut line = String::new();
    client.1.read_line(&mut line).unwrap();
    assert!(wait_child(client.0).success());
    line.trim_end().to_string()
}

#[test]
fn websocket_clients_get_1001_going_away_on_graceful_stop_and_reload() {
    let app = App::new("websocket_echo");
    app.start_daemon();
    wait_for("the WebSocket port", || TcpStream::connect(("127.0.0.1", WS_PORT)).ok());
    let Some(client) = python_ws_client() else {
        assert!(skip("no Python websockets module (pip install websockets)"));
        return;
    };
    let out = app.run(&["reload", "-g"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(close_code(client), "closed 1001", "reload -g");

    wait_for("the WebSocket port after reload", || {
        TcpStream::connect(("127.0.0.1", WS_PORT)).ok()
    });
    let client = python_ws_client().unwrap();
    let stop = app.cmd(&["stop", "-g"]).stdout(Stdio::null()).spawn().unwrap();
    assert_eq!(close_code(client), "closed 1001", "stop -g");
    assert!(wait_child(stop).success());
}

/// Waits for a child process started by the test.
fn wait_child(mut child: Child) -> std::process::ExitStatus {
    wait_for("a command to finish", || child.try_wait().unwrap())
}
