//! A TCP proxy with `pipe`: every connection on 2352 is forwarded to 127.0.0.1:2347 (tcp_hello),
//! with backpressure both ways (a slow reader on one side pauses reading on the other, so memory
//! stays bounded however much flows).
//!
//! ```text
//! cargo run --release --example tcp_hello -- start -d
//! cargo run --release --example tcp_proxy -- start
//! printf world | nc -q1 127.0.0.1 2352          # hello world
//! ```
use workerman::protocol::Tcp;
use workerman::{AsyncTcpConnection, Worker, log};

fn main() -> workerman::Result<()> {
    let worker = Worker::<Tcp>::new("tcp://0.0.0.0:2352")?;
    worker.set_name("tcp_proxy");
    worker.set_count(2);
    worker.on_connect(|client| {
        let upstream = match AsyncTcpConnection::<Tcp>::new("tcp://127.0.0.1:2347") {
            Ok(u) => u,
            Err(e) => {
                log!("tcp_proxy: {e}");
                client.close();
                return;
            }
        };
        // Bytes from the client wait in the upstream's send queue until it connects.
        client.pipe(&upstream);
        upstream.pipe(client);
        let c = client.clone();
        upstream.on_error(move |_, e| {
            log!("tcp_proxy: upstream: {e}");
            c.close();
        });
        upstream.connect();
    });
    Worker::run_all()
}
