//! HTTP in-process tests over real sockets on 127.0.0.1:0: raw-socket clients for framing,
//! pipelining and the malformed-request table, curl and Python for real-client behaviour.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use workerman::protocol::Http;
use workerman::protocol::http::{Chunk, HttpConnectionExt, Response, ServerSentEvent, StaticFiles};
use workerman::{Timer, Worker};
use workerman_testkit::{connect_addr, have, serve};

/// An in-process HTTP server on port 0 (the harness's [`serve`]); returns its address.
fn http_server<F>(setup: F) -> SocketAddr
where
    F: FnOnce() -> Worker<Http> + Send + 'static,
{
    serve(move |_: mpsc::Sender<()>| setup()).addr
}

/// Answers every request with `method path body` as text, except a few special paths.
fn echo_server() -> SocketAddr {
    http_server(|| {
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.set_max_package_size(64 * 1024);
        w.on_message(|c, req| {
            let body = String::from_utf8_lossy(req.raw_body()).into_owned();
            let text = format!("{} {} {}", req.method(), req.uri(), body);
            match req.path() {
                "/close" => c.close_with(text),
                "/json" => {
                    c.send(
                        Response::new(200)
                            .with_header("Content-Type", "application/json")
                            .with_body(format!("{{\"x\":\"{}\"}}", req.get("x").unwrap_or(""))),
                    );
                }
                "/peer" => {
                    c.send(format!("{}:{}", req.remote_ip(), req.remote_port()));
                }
                _ => {
                    c.send(text);
                }
            }
        });
        w
    })
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response (Content-Length or chunked body; `head_only` for HEAD).
fn read_resp(r: &mut BufReader<TcpStream>, head_only: bool) -> Resp {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 "), "status line {line:?}");
    let status = line[9..12].parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let l = l.trim_end_matches("\r\n");
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(": ").unwrap();
        headers.push((n.to_string(), v.to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if head_only {
        return resp;
    }
    if resp.header("transfer-encoding").is_some() {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut data = vec![0; n + 2];
            r.read_exact(&mut data).unwrap();
            if n == 0 {
                break;
            }
            resp.body.extend_from_slice(&data[..n]);
        }
    } else if let Some(n) = resp.header("content-length") {
        let mut body = vec![0; n.parse().unwrap()];
        r.read_exact(&mut body).unwrap();
        resp.body = body;
    }
    resp
}

/// Reads until the server closes; panics on timeout.
fn read_to_close(s: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("expected the server to close: {e}"),
        }
    }
}

#[test]
fn hello_keep_alive_and_plain_string_defaults() {
    let addr = echo_server();
    let s = connect_addr(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    for i in 0..3 {
        (&s).write_all(format!("GET /n{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let resp = read_resp(&mut r, false);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text(), format!("GET /n{i} "));
        assert_eq!(resp.header("connection"), Some("keep-alive"));
        assert_eq!(resp.header("content-type"), Some("text/html;charset=utf-8"));
    }
    (&s).write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let me = s.local_addr().unwrap();
    assert_eq!(read_resp(&mut r, false).text(), format!("{}:{}", me.ip(), me.port()));
}

#[test]
fn pipelined_requests_in_one_write_are_answered_in_order() {
    let addr = echo_server();
    let s = connect_addr(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut batch = Vec::new();
    for i in 0..200 {
        if i % 3 == 0 {
            batch.extend_from_slice(
                format!(
                    "POST /p{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nb{:02}",
                    i % 100
                )
                .as_bytes(),
            );
        } else if i % 3 == 1 {
            batch.extend_from_slice(
                format!(
                    "PUT /p{i} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
                )
                .as_bytes(),
            );
        } else {
            batch.extend_from_slice(format!("GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        }
    }
    (&s).write_all(&batch).unwrap();
    for i in 0..200 {
        let want = match i % 3 {
            0 => format!("POST /p{i} b{:02}", i % 100),
            1 => format!("PUT /p{i} abc"),
            _ => format!("GET /p{i} "),
        };
        assert_eq!(read_resp(&mut r, false).text(), want);
    }
}

#[test]
fn connection_close_and_http10_end_the_connection() {
    let addr = echo_server();
    let mut s = connect_addr(addr);
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let all = String::from_utf8(read_to_close(&mut s)).unwrap();
    assert!(all.contains("Connection: close\r\n"), "{all}");
    assert!(all.ends_with("GET /a "), "one response only: {all}");

    let mut s = connect_addr(addr);
    s.write_all(b"GET /b HTTP/1.0\r\n\r\n").unwrap();
    let all = String::from_utf8(read_to_close(&mut s)).unwrap();
    assert!(
        all.contains("Connection: close\r\n") && all.ends_with("GET /b "),
        "{all}"
    );

    // HTTP/1.0 with keep-alive stays open.
    let s = connect_addr(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    for _ in 0..2 {
        (&s).write_all(b"GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        assert_eq!(read_resp(&mut r, false).header("connection"), Some("keep-alive"));
    }
    // The app closing with a response.
    let mut s = connect_addr(addr);
    s.write_all(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(
        String::from_utf8(read_to_close(&mut s))
            .unwrap()
            .ends_with("GET /close ")
    );
}

#[test]
fn head_request_gets_headers_only() {
    let addr = echo_server();
    let s = connect_addr(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let head = read_resp(&mut r, true);
    assert_eq!(head.header("content-length"), Some("8"));
    assert_eq!(read_resp(&mut r, false).text(), "GET /g ");
}

/// Each malformed request gets its status, `Connection: close`, and the connection is closed;
/// a request smuggled behind it is never answered.
#[test]
fn malformed_requests_table() {
    let addr = echo_server();
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let long_head = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Long: {}\r\n\r\n", "a".repeat(17 * 1024));
    let table: Vec<(&str, String, u16)> = vec![
        ("unknown method", "BREW / HTTP/1.1\r\nHost: x\r\n\r\n".into(), 400),
        ("lower-case method", "get / HTTP/1.1\r\nHost: x\r\n\r\n".into(), 400),
        ("absolute-form", "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n".into(), 400),
        ("asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n".into(), 400),
        ("double space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n".into(), 400),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n".into(), 400),
        ("garbage line", "hello\r\n\r\n".into(), 400),
        ("missing Host", "GET / HTTP/1.1\r\n\r\n".into(), 400),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(), 400),
        (
            "Host with userinfo",
            "GET / HTTP/1.1\r\nHost: u:p@a\r\n\r\n".into(),
            400,
        ),
        ("Host list", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n".into(), 400),
        ("bare LF", "GET / HTTP/1.1\nHost: x\n\n".into(), 400),
        (
            "obs-fold",
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n  b\r\n\r\n".into(),
            400,
        ),
        ("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n".into(), 400),
        (
            "bad name byte",
            "GET / HTTP/1.1\r\nHost: x\r\nX(y): 1\r\n\r\n".into(),
            400,
        ),
        (
            "NUL in value",
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n".into(),
            400,
        ),
        (
            "CL and TE",
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            400,
        ),
        (
            "two CLs",
            format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 39\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "CL list",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\na".into(),
            400,
        ),
        (
            "negative CL",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".into(),
            400,
        ),
        (
            "TE gzip",
            format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "two TEs",
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            400,
        ),
        (
            "bad chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n".into(),
            400,
        ),
        (
            "chunk size overflow",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n".into(),
            400,
        ),
        (
            "chunk without CRLF",
            format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n{smuggled}"),
            400,
        ),
        ("head too large", long_head, 431),
        (
            "body too large",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n".into(),
            413,
        ),
        (
            "chunked body too large",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n".into(),
            413,
        ),
    ];
    for (what, wire, status) in table {
        let mut s = connect_addr(addr);
        let _ = s.write_all(wire.as_bytes());
        let all = String::from_utf8_lossy(&read_to_close(&mut s)).into_owned();
        assert!(
            all.starts_with(&format!("HTTP/1.1 {status} ")),
            "{what}: expected {status}, got {all:?}"
        );
        assert!(all.contains("Connection: close\r\n"), "{what}: {all:?}");
        assert!(!all.contains("smuggled"), "{what}: smuggled request answered: {all:?}");
    }
    // A good request before a bad one on the same connection is answered first.
    let mut s = connect_addr(addr);
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nBREW / HTTP/1.1\r\n\r\n")
        .unwrap();
    let all = String::from_utf8_lossy(&read_to_close(&mut s)).into_owned();
    assert!(
        all.starts_with("HTTP/1.1 200 OK") && all.contains("GET /ok") && all.contains("HTTP/1.1 400 "),
        "{all}"
    );
}

#[test]
fn chunked_and_sse_responses() {
    let addr = http_server(|| {
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.on_message(|c, req| match req.path() {
            "/chunked" => {
                c.send(Response::new(200).with_header("Transfer-Encoding", "chunked"));
                c.send(Chunk::new("hello "));
                c.send(Chunk::new("world"));
                c.send(Chunk::end());
            }
            "/sse" => {
                c.send(Response::new(200).with_header("Content-Type", "text/event-stream"));
                let conn = c.clone();
                let n = std::rc::Rc::new(std::cell::Cell::new(0));
                let id = std::rc::Rc::new(std::cell::Cell::new(None));
                let me = id.clone();
                id.set(Some(Timer::add(Duration::from_millis(20), true, move || {
                    n.set(n.get() + 1);
                    conn.send(
                        ServerSentEvent::new()
                            .event("tick")
                            .id(n.get().to_string())
                            .data("a\nb"),
                    );
                    if n.get() == 3 {
                        if let Some(id) = me.get() {
                            Timer::del(id);
                        }
                        conn.close();
                    }
                })));
            }
            _ => {
                c.send("x");
            }
        });
        w
    });
    let s = connect_addr(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let resp = read_resp(&mut r, false);
    assert_eq!(resp.text(), "hello world");
    assert_eq!(read_resp(&mut r, false).text(), "x");

    let mut s = connect_addr(addr);
    s.write_all(b"GET /sse HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let all = String::from_utf8(read_to_close(&mut s)).unwrap();
    let (head, events) = all.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    assert_eq!(
        events,
        "event: tick\nid: 1\ndata: a\ndata: b\n\nevent: tick\nid: 2\ndata: a\ndata: b\n\nevent: tick\nid: 3\ndata: a\ndata: b\n\n"
    );
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn static_files_stream_with_range_and_304() {
    let dir = std::env::temp_dir().join(format!("wm-http-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    const BIG: usize = 24 * 1024 * 1024;
    std::fs::write(dir.join("big.bin"), pattern(BIG)).unwrap();
    std::fs::write(dir.join("small.txt"), "small file").unwrap();
    std::fs::write(dir.join("../wm-secret.txt"), "secret").unwrap();
    let root = dir.clone();
    let addr = http_server(move || {
        let files = StaticFiles::new("/static", &root).unwrap();
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.on_message(move |c, req| match files.serve(&req) {
            Some(resp) => {
                c.respond(resp);
            }
            None => {
                c.respond(Response::new(404).with_body("nope"));
            }
        });
        w
    });
    let s = connect_addr(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    // Pipelined: the big file, then a small one; the second waits for the stream to finish.
    (&s).write_all(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /static/small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let big = read_resp(&mut r, false);
    assert_eq!(big.status, 200);
    assert_eq!(big.header("content-type"), Some("application/octet-stream"));
    assert_eq!(big.header("accept-ranges"), Some("bytes"));
    assert!(big.body == pattern(BIG), "streamed body differs");
    let small = read_resp(&mut r, false);
    assert_eq!((small.status, small.text().as_str()), (200, "small file"));
    assert_eq!(small.header("content-type"), Some("text/plain"));
    let lm = small.header("last-modified").unwrap().to_string();

    (&s).write_all(format!("GET /static/small.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: {lm}\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(read_resp(&mut r, false).status, 304);
    (&s).write_all(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-1999\r\n\r\n")
        .unwrap();
    let part = read_resp(&mut r, false);
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some(&*format!("bytes 1000-1999/{BIG}")));
    assert!(part.body == pattern(BIG)[1000..2000]);
    (&s).write_all(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-5\r\n\r\n")
        .unwrap();
    assert!(read_resp(&mut r, false).body == pattern(BIG)[BIG - 5..]);
    (&s).write_all(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=99999999-\r\n\r\n")
        .unwrap();
    assert_eq!(read_resp(&mut r, false).status, 416);
    for evil in [
        "/static/../wm-secret.txt",
        "/static/%2e%2e/wm-secret.txt",
        "/static/..%2fwm-secret.txt",
    ] {
        (&s).write_all(format!("GET {evil} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let resp = read_resp(&mut r, false);
        assert_eq!(resp.status, 404, "{evil}");
    }
    // A HEAD of the big file is headers only, and the connection goes on.
    (&s).write_all(
        b"HEAD /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /static/small.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        read_resp(&mut r, true).header("content-length"),
        Some(&*BIG.to_string())
    );
    assert_eq!(read_resp(&mut r, false).text(), "small file");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.join("../wm-secret.txt"));
}

#[test]
fn curl_json_form_and_multipart_upload() {
    assert!(have("curl"), "curl is required (apt-get install curl)");
    let addr = http_server(|| {
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.on_message(|c, req| {
            let mut out = String::new();
            for (k, v) in req.post_fields() {
                out.push_str(&format!("field {k}={v}\n"));
            }
            for f in req.files() {
                let data = f.bytes().unwrap();
                out.push_str(&format!(
                    "file {} {} {} {} {}\n",
                    f.field(),
                    f.name(),
                    f.size(),
                    f.tmp_path().is_some(),
                    data.iter().map(|&b| b as u64).sum::<u64>()
                ));
            }
            out.push_str(&format!("get {}\n", req.get("q").unwrap_or("-")));
            c.send(out);
        });
        w
    });
    let dir = std::env::temp_dir().join(format!("wm-http-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = pattern(3 * 1024 * 1024);
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    std::fs::write(dir.join("a.txt"), "hello").unwrap();
    let url = format!("http://{addr}/up?q=%E2%9C%93");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-F", "name=Jo"])
        .arg(format!("-Fdoc=@{}", dir.join("a.txt").display()))
        .arg(format!("-Fbig=@{}", dir.join("big.bin").display()))
        .arg(&url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let sum: u64 = big.iter().map(|&b| b as u64).sum();
    assert_eq!(
        text,
        format!(
            "field name=Jo\nfile doc a.txt 5 false 532\nfile big big.bin {} true {sum}\nget ✓\n",
            big.len()
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-d", "a=1&b=x+y"])
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "field a=1\nfield b=x y\nget ✓\n");
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"a":"1","n":2}"#,
        ])
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "field a=1\nfield n=2\nget ✓\n");
    // Chunked upload (curl sends Transfer-Encoding: chunked when told to).
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-H",
            "Transfer-Encoding: chunked",
            "-d",
            "z=9",
        ])
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "field z=9\nget ✓\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn python_http_client_keep_alive() {
    let addr = echo_server();
    let script = format!(
        r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
for i in range(5):
    c.request("POST", "/py%d" % i, body=b"x" * i, headers={{"X-I": str(i)}})
    r = c.getresponse()
    assert r.status == 200, r.status
    assert r.read() == ("POST /py%d " % i + "x" * i).encode()
    assert r.getheader("Connection") == "keep-alive"
c.request("GET", "/json?x=abc")
r = c.getresponse()
assert r.getheader("Content-Type") == "application/json"
assert r.read() == b'{{"x":"abc"}}'
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
fn async_handlers_keep_pipelined_order() {
    let addr = http_server(|| {
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.on_message(|c, req| {
            c.respond_with(async move {
                // Later requests would finish first without the ordering guarantee.
                let delay = if req.path() == "/slow" { 50 } else { 1 };
                tokio::time::sleep(Duration::from_millis(delay)).await;
                Response::from(req.path().to_string())
            });
        });
        w
    });
    let s = connect_addr(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_resp(&mut r, false).text(), "/slow");
    assert_eq!(read_resp(&mut r, false).text(), "/fast");
}

#[test]
fn send_of_file_responses_small_large_and_unreadable() {
    let dir = std::env::temp_dir().join(format!("wm-http-send-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("small.txt"), "read by the connection").unwrap();
    std::fs::write(dir.join("big.bin"), pattern(3 * 1024 * 1024)).unwrap();
    // A file that disappears between building the response and sending it: unreadable.
    std::fs::write(dir.join("gone.txt"), "soon gone").unwrap();
    let root = dir.clone();
    let addr = http_server(move || {
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.on_message(move |c, req| {
            let name = req.path().trim_start_matches('/').to_string();
            let resp = Response::new(200).with_file(root.join(&name));
            if name == "gone.txt" {
                std::fs::remove_file(root.join(&name)).unwrap();
            }
            c.send(resp);
        });
        w
    });
    let s = connect_addr(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    for _ in 0..2 {
        let small = read_resp(&mut r, false);
        assert_eq!((small.status, small.text().as_str()), (200, "read by the connection"));
        assert_eq!(small.header("content-type"), Some("text/plain"));
    }
    // `send` does not stream: a file over 2 MiB is refused, and the connection closed.
    (&s).write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let big = read_resp(&mut r, false);
    assert_eq!(big.status, 500);
    assert!(read_to_close(&mut r).is_empty());
    // A file that cannot be opened when the response goes out: 403, then close.
    let s = connect_addr(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    (&s).write_all(b"GET /gone.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_resp(&mut r, false).status, 403);
    assert!(read_to_close(&mut r).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
