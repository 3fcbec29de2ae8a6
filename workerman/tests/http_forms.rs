//! PHP-style nested query and form fields, sent by curl to a real HTTP worker: the worker
//! answers with `query_params()` / `post_params()` as JSON, which must match what PHP's
//! `json_encode($_GET)` / `json_encode($_POST)` give for the same request.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use workerman::Worker;
use workerman::protocol::Http;

const TIMEOUT: Duration = Duration::from_secs(10);

fn serve() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let w = Worker::<Http>::new("http://127.0.0.1:0").unwrap();
        w.on_message(|c, req| {
            let body = serde_json::json!({
                "get": req.query_params().to_json(),
                "post": req.post_params().to_json(),
            });
            c.send(body.to_string());
        });
        let probe = Worker::without_listener();
        probe.on_worker_start(move |_| {
            let _ = tx.send(w.local_addrs()[0]);
        });
        Worker::run_standalone()
    });
    rx.recv_timeout(TIMEOUT).expect("server did not start")
}

fn curl(args: &[&str]) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sS", "-g", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is required (apt-get install curl)");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn nested_query_and_form_fields_from_curl_parse_like_php() {
    let addr = serve();
    let url = format!("http://{addr}/search?a[]=1&a[]=2&b[c][d]=x&b[c][e]=y&page=3&v.w=dot&n[5]=p&n[]=q");
    let got = curl(&[&url]);
    assert_eq!(
        got["get"],
        serde_json::json!({
            "a": ["1", "2"],
            "b": {"c": {"d": "x", "e": "y"}},
            "page": "3",
            "v_w": "dot",
            "n": {"5": "p", "6": "q"},
        })
    );
    // An urlencoded body, as a browser form sends it.
    let got = curl(&[
        "--data-urlencode",
        "user[name]=Zoë",
        "--data-urlencode",
        "user[tags][]=a&b",
        "--data-urlencode",
        "user[tags][]=c",
        "-d",
        "ok=1",
        &format!("http://{addr}/form"),
    ]);
    assert_eq!(
        got["post"],
        serde_json::json!({"user": {"name": "Zoë", "tags": ["a&b", "c"]}, "ok": "1"})
    );
    // A multipart body: the same tree from its non-file parts.
    let got = curl(&[
        "-F",
        "m[x][]=1",
        "-F",
        "m[x][]=2",
        "-F",
        "m[y]=z",
        &format!("http://{addr}/upload"),
    ]);
    assert_eq!(got["post"], serde_json::json!({"m": {"x": ["1", "2"], "y": "z"}}));
}
