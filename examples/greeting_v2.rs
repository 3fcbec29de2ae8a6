//! `greeting` with the reply changed to `v2: LINE`: the "new code" of the reload example (see
//! `greeting.rs`).
use workerman::Worker;
use workerman::protocol::Text;

/// The reply prefix; the only difference from `greeting`.
const VERSION: &str = "v2";

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::new("text://0.0.0.0:2381")?;
    worker.set_name("greeting");
    worker.set_count(2);
    worker.on_message(|conn, line| {
        conn.send(format!("{VERSION}: {line}"));
    });
    Worker::run_all()
}
