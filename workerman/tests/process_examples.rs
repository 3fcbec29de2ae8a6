//! Process tests, examples: each example of the README's table started through its CLI on the
//! port its issue names and driven by real clients (std sockets, Python, openssl, curl, a raw
//! WebSocket client). One example at a time (the harness's examples guard); readiness polled.

use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use workerman_testkit::*;

#[test]
fn text_chat_broadcasts_logins_lines_and_logouts() {
    let app = App::new("text_chat");
    app.start_daemon();
    let a = connect(2348);
    let mut ra = BufReader::new(a.try_clone().unwrap());
    let mut line = String::new();
    ra.read_line(&mut line).unwrap();
    let uid_a: u64 = line.trim().strip_prefix("your uid is ").unwrap().parse().unwrap();
    line.clear();
    ra.read_line(&mut line).unwrap();
    assert_eq!(line, format!("user[{uid_a}] login\n"));
    let b = connect(2348);
    let mut rb = BufReader::new(b.try_clone().unwrap());
    let uid_b = uid_a + 1;
    let read = |r: &mut BufReader<TcpStream>| {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        l
    };
    assert_eq!(read(&mut rb), format!("your uid is {uid_b}\n"));
    assert_eq!(read(&mut rb), format!("user[{uid_b}] login\n"));
    assert_eq!(read(&mut ra), format!("user[{uid_b}] login\n"));
    (&a).write_all(b"hello all\r\n").unwrap();
    assert_eq!(read(&mut ra), format!("user[{uid_a}] said: hello all\n"));
    assert_eq!(read(&mut rb), format!("user[{uid_a}] said: hello all\n"));
    drop(ra);
    drop(a);
    assert_eq!(read(&mut rb), format!("user[{uid_a}] logout\n"));
    assert!(app.stop().status.success());
}

#[test]
fn json_nl_echoes_objects_and_drops_bad_json() {
    let app = App::new("json_nl");
    app.start_daemon();
    let good = connect(2349);
    let mut r = BufReader::new(good.try_clone().unwrap());
    (&good).write_all(b"{\"a\":1}\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v, serde_json::json!({"a": 1, "ok": true}));
    let mut bad = connect(2349);
    bad.write_all(b"{not json\n").unwrap();
    let mut rest = Vec::new();
    let _ = bad.read_to_end(&mut rest);
    assert!(rest.is_empty(), "bad input gets no reply, just a close");
    app.wait_log("bad JSON");
    (&good).write_all(b"[1]\n").unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\":false"), "{line}");
    assert!(app.stop().status.success());
}

#[test]
fn frame_echo_and_async_reply() {
    {
        let app = App::new("frame_echo");
        app.start_daemon();
        let mut s = connect(2350);
        s.write_all(b"\0\0\0\x09jhdxr\0\0\0\x05!").unwrap();
        let mut buf = [0u8; 14];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"\0\0\0\x09jhdxr\0\0\0\x05!");
        assert!(app.stop().status.success());
    }
    let app = App::new("async_reply");
    app.start_daemon();
    let s = connect(2358);
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"localhost\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(
        line == "localhost -> 127.0.0.1\n" || line == "localhost -> ::1\n",
        "{line}"
    );
    assert!(app.stop().status.success());
}

#[test]
fn reuse_port_processes_each_bind_and_share_the_load() {
    let app = App::new("reuse_port");
    app.start_daemon();
    let workers = app.workers(2);
    let mut served = HashSet::new();
    for i in 0..200 {
        let s = connect(2380);
        let mut r = BufReader::new(s.try_clone().unwrap());
        (&s).write_all(format!("n{i}\n").as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let (pid, echo) = line.trim_end().split_once(' ').unwrap();
        assert_eq!(echo, format!("n{i}"));
        served.insert(pid.parse::<i32>().unwrap());
        if served.len() == 2 {
            break;
        }
    }
    assert_eq!(
        served,
        workers.iter().copied().collect(),
        "both processes accept on their own sockets"
    );
    // Each process holds its own listening socket; the master holds none.
    assert!(app.stop().status.success());
    assert!(port_is_free(2380));
}

#[test]
fn udp_echo_replies_to_each_datagram() {
    let app = App::new("udp_echo");
    app.start_daemon();
    app.workers(1);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    // UDP has no handshake: retry until the worker answers.
    let reply = wait_for("a UDP reply", || {
        s.send_to(b"hi", ("127.0.0.1", 2351)).ok()?;
        let mut buf = [0u8; 128];
        let n = s.recv(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    });
    assert_eq!(reply, b"received: hi");
    assert!(app.stop().status.success());
}

#[test]
fn unix_echo_replaces_stale_socket_and_removes_it_at_stop() {
    let path = std::path::Path::new("/tmp/workerman-unix_echo.sock");
    let _ = fs::remove_file(path);
    drop(std::os::unix::net::UnixListener::bind(path).unwrap()); // a stale socket file
    let app = App::new("unix_echo");
    app.start_daemon();
    app.workers(1);
    let s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"over unix\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "over unix\n");
    assert!(app.stop().status.success());
    assert!(!path.exists(), "the socket file is removed at stop");
}

fn rss_kb(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn tcp_proxy_streams_100_mib_to_a_slow_reader_with_bounded_memory() {
    // The upstream (where tcp_proxy forwards) is this test: it reads slowly and counts.
    let app = App::new("tcp_proxy");
    let upstream = app.hold_port(2347);
    app.start_daemon();
    let proxies = app.workers(2);
    const TOTAL: usize = 100 << 20;
    let mut client = connect(2352);
    let (mut up, _) = upstream.accept().unwrap();
    up.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![0x5au8; 256 * 1024];
        for _ in 0..TOTAL / chunk.len() {
            client.write_all(&chunk).unwrap();
        }
        client
    });
    let baseline: u64 = proxies.iter().map(|p| rss_kb(*p)).sum();
    let (mut got, mut peak) = (0usize, 0u64);
    let mut buf = vec![0u8; 64 * 1024];
    let mut reads = 0u64;
    while got < TOTAL {
        let n = up.read(&mut buf).unwrap();
        assert!(n > 0, "upstream closed early after {got} bytes");
        assert!(buf[..n].iter().all(|&b| b == 0x5a));
        got += n;
        reads += 1;
        if reads % 64 == 0 {
            peak = peak.max(proxies.iter().map(|p| rss_kb(*p)).sum());
            // Slow reader: about 50 MiB/s at most.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(got, TOTAL);
    // Backpressure, not buffering: the proxies grew by a few MiB at most, not by 100.
    assert!(
        peak.saturating_sub(baseline) < 32 * 1024,
        "proxy RSS grew from {baseline} kB to {peak} kB"
    );
    // And the other way: upstream → client.
    let mut client = writer.join().unwrap();
    up.write_all(b"reply from upstream").unwrap();
    let mut back = [0u8; 19];
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"reply from upstream");
    // Closing one side closes the other.
    drop(up);
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    assert!(app.stop().status.success());
}

#[test]
fn text_client_connects_and_reconnects_after_the_server_restarts() {
    let server = App::new("text_chat");
    server.start_daemon();
    let client = App::new("text_client");
    client.start_daemon();
    client.wait_log("text_client: connected to 127.0.0.1:2348");
    client.wait_log("text_client: got your uid is");
    client.wait_log("said: ping 1");
    // The server goes away and comes back: the client reconnects by itself.
    assert!(server.stop().status.success());
    client.wait_log("text_client: closed; reconnecting in 1 s");
    server.start_daemon();
    wait_for("a second connect", || {
        (client.log().matches("text_client: connected to").count() >= 2).then_some(())
    });
    // A client that reconnects from on_close does not hold up a graceful stop.
    let mut stop_g = client.cmd(&["stop", "-g"]);
    let stopper = std::thread::spawn(move || stop_g.output());
    wait_for("stop -g to finish", || stopper.is_finished().then_some(()));
    assert!(stopper.join().unwrap().unwrap().status.success());
    assert!(!client.log().contains("killed by signal"), "{}", client.log());
    assert!(server.stop().status.success());
}

#[test]
fn text_tls_serves_real_tls_clients_and_rejects_bad_files() {
    let app = App::new("text_tls");
    // Missing files: a clear start error, nothing left running.
    let out = app
        .cmd(&["start", "-d"])
        .env("TLS_CERT", "/nonexistent.pem")
        .env("TLS_KEY", "/nonexistent.key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cannot read the TLS certificate /nonexistent.pem"),
        "{out:?}"
    );
    assert!(!app.pid_file().exists());

    let (cert, _key) = app.start_with_test_cert();
    app.workers(1);
    connect(2384);
    // Python's ssl module, verifying against the test certificate.
    assert_eq!(python_tls_exchange(&cert, 2384, "hi").as_deref(), Some("tls: hi\n"));
    // openssl s_client
    let mut s_client = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", "127.0.0.1:2384", "-CAfile"])
        .arg(&cert)
        .args(["-verify_return_error", "-servername", "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    s_client.stdin.as_mut().unwrap().write_all(b"from openssl\n").unwrap();
    let mut line = String::new();
    BufReader::new(s_client.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "tls: from openssl\n");
    // s_client keeps the session open after stdin ends; end it.
    let _ = s_client.kill();
    let _ = s_client.wait();
    // A plaintext client gets closed, with one log line; TLS clients carry on.
    let mut plain = connect(2384);
    plain.write_all(b"hello in the clear\n").unwrap();
    let mut rest = Vec::new();
    let _ = plain.read_to_end(&mut rest);
    app.wait_log("TLS handshake with 127.0.0.1:");
    assert_eq!(python_tls_exchange(&cert, 2384, "hi").as_deref(), Some("tls: hi\n"));
    assert!(app.stop().status.success());
}

#[test]
fn https_hello_serves_curl_and_python_with_a_test_ca() {
    let app = App::new("https_hello");
    let (cert, _key) = app.start_with_test_cert();
    app.workers(2);
    connect(2353);
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .args(["--resolve", "localhost:2353:127.0.0.1", "https://localhost:2353/"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello world");
    // Keep-alive over TLS: several requests on one connection.
    let py = format!(
        "import http.client, ssl\nctx = ssl.create_default_context(cafile={:?})\nc = http.client.HTTPSConnection('localhost', 2353, context=ctx)\nfor _ in range(3):\n    c.request('GET', '/')\n    r = c.getresponse()\n    print(r.status, r.read().decode())\n",
        cert.display().to_string()
    );
    let out = Command::new("python3").arg("-c").arg(&py).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 hello world\n".repeat(3));
    // curl without the CA refuses the self-signed certificate.
    let out = Command::new("curl")
        .args([
            "-sS",
            "--resolve",
            "localhost:2353:127.0.0.1",
            "https://localhost:2353/",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(app.stop().status.success());
}

#[test]
fn websocket_echo_keeps_message_types() {
    let app = App::new("websocket_echo");
    app.start_daemon();
    let mut s = ws::Client::connect_port(2346, "/");
    s.send_frame(0x81, "héllo".as_bytes());
    assert_eq!(s.frame().unwrap(), (0x81, "héllo".as_bytes().to_vec()));
    s.send_frame(0x82, &[0, 1, 2]);
    assert_eq!(s.frame().unwrap(), (0x82, vec![0, 1, 2]));
    s.send_frame(0x89, b"p");
    assert_eq!(s.frame().unwrap(), (0x8A, b"p".to_vec()));
    s.send_frame(0x88, b"\x03\xe8");
    assert_eq!(s.frame().unwrap(), (0x88, b"\x03\xe8".to_vec()));
    assert!(app.stop().status.success());
}

#[test]
fn ws_chat_serves_the_page_and_broadcasts() {
    let app = App::new("ws_chat");
    app.start_daemon();
    let mut page = connect(2356);
    page.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    page.read_to_string(&mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.1 200 OK\r\n") && body.contains("new WebSocket("),
        "{body}"
    );
    let mut a = ws::Client::connect_port(2357, "/?name=ann");
    assert_eq!(a.frame().unwrap(), (0x81, b"* ann joined".to_vec()));
    let mut b = ws::Client::connect_port(2357, "/?name=bob");
    assert_eq!(b.frame().unwrap(), (0x81, b"* bob joined".to_vec()));
    assert_eq!(a.frame().unwrap(), (0x81, b"* bob joined".to_vec()));
    a.send_frame(0x81, b"hi bob");
    assert_eq!(a.frame().unwrap(), (0x81, b"ann: hi bob".to_vec()));
    assert_eq!(b.frame().unwrap(), (0x81, b"ann: hi bob".to_vec()));
    drop(a);
    assert_eq!(b.frame().unwrap(), (0x81, b"* ann left".to_vec()));
    assert!(app.stop().status.success());
}

#[test]
fn ws_client_sends_stdin_lines_to_websocket_echo_and_prints_replies() {
    let app = App::new("websocket_echo");
    app.start_daemon();
    let mut client = Command::new(examples_dir().join("ws_client"))
        .args(["start", "ws://127.0.0.1:2346/?from=ws_client"])
        .env("WORKERMAN_LOG_FILE", app.dir.join("client.log"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all("hello\nwörld\n".as_bytes())
        .unwrap(); // stdin closes here: the client closes cleanly (1000) and exits
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = client.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = client.kill();
            panic!("ws_client did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    client.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    client.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{status}: {out}{err}");
    assert_eq!(out, "< hello\n< wörld\n", "stderr: {err}");
    assert!(err.contains("connected to 127.0.0.1:2346"), "{err}");
    assert!(app.stop().status.success());
}
