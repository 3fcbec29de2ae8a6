//! Pushing into the chat cluster from another service: an HTTP API on `http://0.0.0.0:2370`
//! that is a plain client of the cluster (Register 127.0.0.1:1236, no BusinessWorker) — what a
//! PHP web application does with GatewayClient.
//!
//! ```text
//! cargo run --release -p workerman-gateway --example chat -- start -d
//! cargo run --release -p workerman-gateway --example gateway_push -- start
//! curl 'http://127.0.0.1:2370/send_to_all?content=hello'          # ok
//! curl 'http://127.0.0.1:2370/send_to_uid?uid=42&content=hi'      # ok
//! curl 'http://127.0.0.1:2370/send_to_group?group=1&content=hi'   # ok
//! curl 'http://127.0.0.1:2370/count'                              # 3
//! ```
use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Response;
use workerman_gateway::GatewayClient;

fn main() -> workerman::Result<()> {
    let web = Worker::<Http>::new("http://0.0.0.0:2370")?;
    web.set_name("GatewayPush");
    let gateway = GatewayClient::new(["127.0.0.1:1236"]);
    web.on_message(move |conn, req| {
        let (conn, gw) = (conn.clone(), gateway.clone());
        let path = req.path().to_owned();
        let arg = |name: &str| req.get(name).unwrap_or("").to_owned();
        let (content, uid, group) = (arg("content"), arg("uid"), arg("group"));
        workerman::spawn(async move {
            let result = match path.as_str() {
                "/send_to_all" => gw.send_to_all(&content, None, &[]).await.map(|_| "ok".to_owned()),
                "/send_to_uid" => gw.send_to_uid(&[&uid], &content).await.map(|_| "ok".to_owned()),
                "/send_to_group" => gw
                    .send_to_group(&[&group], &content, &[])
                    .await
                    .map(|_| "ok".to_owned()),
                "/count" => gw.get_all_client_id_count().await.map(|n| n.to_string()),
                _ => {
                    conn.send(Response::new(404).with_body("not found"));
                    return;
                }
            };
            conn.send(match result {
                Ok(body) => Response::new(200).with_body(body),
                Err(e) => Response::new(502).with_body(e.to_string()),
            });
        });
    });
    Worker::run_all()
}
