//! A `text` echo over TLS (Workerman's `transport = 'ssl'`), on port 2384. Certificate and key
//! come from `TLS_CERT` / `TLS_KEY` (PEM files). For a self-signed pair:
//!
//! ```text
//! openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
//!     -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem -out cert.pem
//! TLS_CERT=cert.pem TLS_KEY=key.pem cargo run --release --example text_tls -- start
//! openssl s_client -quiet -connect 127.0.0.1:2384 -CAfile cert.pem
//! ```
use workerman::protocol::Text;
use workerman::{Transport, Worker};

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::new("text://0.0.0.0:2384")?;
    worker.set_name("text_tls");
    worker.set_transport(Transport::Ssl);
    worker.set_tls(
        std::env::var("TLS_CERT").unwrap_or_else(|_| "cert.pem".into()),
        std::env::var("TLS_KEY").unwrap_or_else(|_| "key.pem".into()),
    );
    worker.on_message(|conn, line| {
        conn.send(format!("tls: {line}"));
    });
    Worker::run_all()
}
