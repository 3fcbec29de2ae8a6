//! A UDP service: each datagram is a message; the reply goes back to its sender as one datagram.
//!
//! ```text
//! cargo run --release --example udp_echo -- start
//! echo -n hi | nc -u -w1 127.0.0.1 2351        # received: hi
//! ```
use workerman::Worker;
use workerman::protocol::Tcp;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Tcp>::new("udp://0.0.0.0:2351")?;
    worker.set_name("udp_echo");
    worker.on_udp_message(|peer, datagram| {
        let mut reply = b"received: ".to_vec();
        reply.extend_from_slice(&datagram);
        peer.send(reply);
    });
    Worker::run_all()
}
