//! Raw TCP: replies `hello ` + whatever one read returned (TCP has no message boundaries).
//!
//! ```text
//! cargo run --release --example tcp_hello -- start
//! printf 'world' | nc -q1 127.0.0.1 2347      # hello world
//! ```
use workerman::Worker;
use workerman::protocol::Tcp;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Tcp>::new("tcp://0.0.0.0:2347")?;
    worker.set_name("tcp_hello");
    worker.set_count(4);
    worker.on_message(|conn, data| {
        let mut reply = Vec::with_capacity(6 + data.len());
        reply.extend_from_slice(b"hello ");
        reply.extend_from_slice(&data);
        conn.send(reply);
    });
    Worker::run_all()
}
