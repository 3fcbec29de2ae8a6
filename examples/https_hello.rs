//! HTTPS hello world: `https://` is the `http` protocol over the `ssl` transport (rustls).
//! The certificate and key paths come from `TLS_CERT` and `TLS_KEY` (PEM). A self-signed pair
//! for trying it:
//!
//! ```text
//! openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
//!     -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem -out cert.pem
//! TLS_CERT=cert.pem TLS_KEY=key.pem cargo run --release --example https_hello -- start
//! curl --cacert cert.pem https://localhost:2353/        # hello world
//! ```
//! A missing or bad file stops `start` with a clear error; `reload` picks up renewed files.
use workerman::Worker;
use workerman::protocol::Http;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Http>::new("https://0.0.0.0:2353")?;
    worker.set_name("https_hello");
    worker.set_count(2);
    worker.set_tls(
        std::env::var("TLS_CERT").unwrap_or_else(|_| "cert.pem".into()),
        std::env::var("TLS_KEY").unwrap_or_else(|_| "key.pem".into()),
    );
    worker.on_message(|conn, _request| {
        conn.send("hello world");
    });
    Worker::run_all()
}
