//! AsyncTcpConnection through real proxies, installed from Debian by .ci/run: SOCKS5 with
//! username/password (microsocks) and HTTP CONNECT with Basic authentication (tinyproxy), to
//! tcp, ssl, ws and wss targets; and proxies that refuse (bad credentials, an unreachable
//! target, no proxy at all), each a clear `on_error`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use workerman::protocol::Text;
use workerman::protocol::Ws;
use workerman::protocol::websocket::WebSocket;
use workerman::{AsyncTcpConnection, Transport, Worker};

const TIMEOUT: Duration = Duration::from_secs(15);

/// Whether `bin` is installed; outside CI a missing one skips the test, in CI it fails it.
fn require(bin: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{bin} is missing in CI: .ci/run installs it"
        );
        println!("skipped: no {bin} (apt-get install {bin})");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A proxy process this test started; killed (by its own pid) when dropped.
struct ProxyProcess {
    child: Child,
    port: u16,
}

impl ProxyProcess {
    fn start(mut cmd: Command, port: u16) -> ProxyProcess {
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let p = ProxyProcess { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < TIMEOUT, "the proxy did not start listening on {port}");
            thread::sleep(Duration::from_millis(20));
        }
        p
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// microsocks: SOCKS5 with a user name and password.
fn socks5_proxy(user: &str, pass: &str) -> ProxyProcess {
    let port = free_port();
    let mut cmd = Command::new("microsocks");
    cmd.args(["-i", "127.0.0.1", "-p", &port.to_string(), "-u", user, "-P", pass]);
    ProxyProcess::start(cmd, port)
}

/// tinyproxy: HTTP CONNECT with Basic authentication.
fn http_proxy(user: &str, pass: &str) -> ProxyProcess {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("wm-proxy-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nBasicAuth {user} {pass}\nMaxClients 50\nTimeout 30\nLogLevel Warning\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new("tinyproxy");
    cmd.arg("-d").arg("-c").arg(&conf);
    ProxyProcess::start(cmd, port)
}

/// A self-signed certificate for localhost, as (cert, key) files; the cert is its own CA.
fn test_cert() -> (PathBuf, PathBuf) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("wm-proxy-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    (c, k)
}

/// Echo servers on 127.0.0.1:0 for each kind of target: tcp (`text`), ssl (`text` over TLS),
/// ws, wss. For every (label, url) from `targets(ports)`, a client connects through `proxy`
/// (a URL, or `None` for none) and sends one message; the result is `echo:...` or `error ...`.
fn run_through(proxy: Option<String>, targets: fn([u16; 4]) -> Vec<(&'static str, String)>) -> Vec<(String, String)> {
    let (cert, key) = test_cert();
    let (tx, rx) = mpsc::channel::<(String, String)>();
    let n = targets([0; 4]).len();
    thread::spawn(move || {
        let text = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        let text_tls = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
        text_tls.set_transport(Transport::Ssl);
        text_tls.set_tls(&cert, &key);
        for w in [&text, &text_tls] {
            w.on_message(|c, line| {
                c.send(format!("echo:{line}"));
            });
        }
        let ws = Worker::<WebSocket>::new("websocket://127.0.0.1:0").unwrap();
        let wss = Worker::<WebSocket>::new("websocket://127.0.0.1:0").unwrap();
        wss.set_transport(Transport::Ssl);
        wss.set_tls(&cert, &key);
        for w in [&ws, &wss] {
            w.on_message(|c, msg| {
                c.send(format!("echo:{}", msg.as_text().unwrap_or("?")));
            });
        }
        let probe = Worker::without_listener();
        probe.on_worker_start(move |_| {
            let port = |w: &dyn Fn() -> Vec<SocketAddr>| w()[0].port();
            let ports = [
                port(&|| text.local_addrs()),
                port(&|| text_tls.local_addrs()),
                port(&|| ws.local_addrs()),
                port(&|| wss.local_addrs()),
            ];
            for (label, url) in targets(ports) {
                let report = {
                    let tx = tx.clone();
                    move |what: String| {
                        let _ = tx.send((label.to_string(), what));
                    }
                };
                if url.starts_with("ws") {
                    let conn = AsyncTcpConnection::<Ws>::new(&url).unwrap();
                    configure(&conn, proxy.as_deref(), &cert);
                    conn.on_connect(move |c| {
                        c.send(format!("hi {label}"));
                    });
                    let r = report.clone();
                    conn.on_message(move |c, msg| {
                        r(msg.as_text().unwrap_or("?").to_string());
                        c.close();
                    });
                    conn.on_error(move |_, e| report(format!("error {e}")));
                    conn.connect();
                } else {
                    let conn = AsyncTcpConnection::<Text>::new(&url).unwrap();
                    configure(&conn, proxy.as_deref(), &cert);
                    conn.on_connect(move |c| {
                        c.send(format!("hi {label}"));
                    });
                    let r = report.clone();
                    conn.on_message(move |c, line| {
                        r(line);
                        c.close();
                    });
                    conn.on_error(move |_, e| report(format!("error {e}")));
                    conn.connect();
                }
            }
        });
        Worker::run_standalone()
    });
    let mut got: Vec<(String, String)> = (0..n)
        .map(|_| rx.recv_timeout(TIMEOUT).expect("every client reports"))
        .collect();
    got.sort();
    got
}

fn configure<P: workerman::protocol::Protocol>(conn: &AsyncTcpConnection<P>, proxy: Option<&str>, ca: &PathBuf) {
    if let Some(p) = proxy {
        conn.set_proxy(p).unwrap();
    }
    if conn.is_tls_client() {
        conn.set_tls_ca(ca);
        conn.set_tls_server_name("localhost");
    }
}

/// The four kinds of target.
fn all_targets(p: [u16; 4]) -> Vec<(&'static str, String)> {
    vec![
        ("tcp", format!("text://127.0.0.1:{}", p[0])),
        ("ssl", format!("ssl://127.0.0.1:{}", p[1])),
        ("ws", format!("ws://127.0.0.1:{}/chat", p[2])),
        ("wss", format!("wss://127.0.0.1:{}/chat", p[3])),
    ]
}

fn assert_all_echoed(got: &[(String, String)]) {
    let want: Vec<(String, String)> = ["ssl", "tcp", "ws", "wss"]
        .iter()
        .map(|l| (l.to_string(), format!("echo:hi {l}")))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn socks5_proxy_with_a_password_carries_tcp_ssl_ws_and_wss() {
    if !require("microsocks") {
        return;
    }
    let proxy = socks5_proxy("alice", "s3cret:x");
    let url = format!("socks5://alice:s3cret%3Ax@127.0.0.1:{}", proxy.port);
    assert_all_echoed(&run_through(Some(url), all_targets));
}

#[test]
fn http_connect_proxy_with_basic_auth_carries_tcp_ssl_ws_and_wss() {
    if !require("tinyproxy") {
        return;
    }
    let proxy = http_proxy("bob", "hunter2");
    let url = format!("http://bob:hunter2@127.0.0.1:{}", proxy.port);
    assert_all_echoed(&run_through(Some(url), all_targets));
}

#[test]
fn proxies_that_refuse_are_a_clear_on_error() {
    if !require("microsocks") || !require("tinyproxy") {
        return;
    }
    let socks = socks5_proxy("alice", "pwGOOD");
    let http = http_proxy("bob", "pwGOOD");
    let closed = free_port();
    let cases = [
        (
            "socks5 wrong password",
            format!("socks5://alice:pwBAD@127.0.0.1:{}", socks.port),
            "tcp",
        ),
        (
            "socks5 no credentials",
            format!("socks5://127.0.0.1:{}", socks.port),
            "tcp",
        ),
        (
            "socks5 closed target",
            format!("socks5://alice:pwGOOD@127.0.0.1:{}", socks.port),
            "closed",
        ),
        (
            "http wrong password",
            format!("http://bob:pwBAD@127.0.0.1:{}", http.port),
            "ws",
        ),
        (
            "http closed target",
            format!("http://bob:pwGOOD@127.0.0.1:{}", http.port),
            "closed",
        ),
        ("no proxy listening", format!("socks5://127.0.0.1:{closed}"), "tcp"),
    ];
    for (what, proxy, target) in cases {
        let targets: fn([u16; 4]) -> Vec<(&'static str, String)> = match target {
            "tcp" => |p| vec![("tcp", format!("text://127.0.0.1:{}", p[0]))],
            "ws" => |p| vec![("ws", format!("ws://127.0.0.1:{}/", p[2]))],
            // A port nobody listens on (the test's own `closed` is not visible to a fn pointer;
            // port 1 is never served here).
            _ => |_| vec![("closed", "text://127.0.0.1:1".to_string())],
        };
        let got = run_through(Some(proxy.clone()), targets);
        let msg = &got[0].1;
        println!("{what}: {msg}");
        assert!(msg.starts_with("error connect "), "{what}: {msg}");
        assert!(
            !msg.contains("pwBAD") && !msg.contains("pwGOOD"),
            "{what}: the password leaked: {msg}"
        );
        let expected = match what {
            "socks5 wrong password" => "refused the user name and password",
            "socks5 no credentials" => "requires authentication",
            "socks5 closed target" => "refused the connection",
            "http wrong password" => "authentication required or credentials wrong",
            "http closed target" => "refused the tunnel",
            _ => "Connection refused",
        };
        assert!(msg.contains(expected), "{what}: expected {expected:?} in {msg}");
        assert!(msg.contains("proxy 127.0.0.1:"), "{what}: the proxy is named: {msg}");
    }
}
