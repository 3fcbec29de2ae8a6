//! The manual's chat room over the `text` protocol (one line per message): every connection gets
//! a uid; each line is broadcast as `user[UID] said: LINE`; logins and logouts are announced.
//!
//! ```text
//! cargo run --release --example text_chat -- start
//! telnet 127.0.0.1 2348
//! ```
use std::cell::Cell;
use std::rc::Rc;

use workerman::Worker;
use workerman::protocol::Text;

/// The uid stored on each connection.
#[derive(Clone, Copy)]
struct Uid(u64);

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::new("text://0.0.0.0:2348")?;
    worker.set_name("text_chat");
    // Broadcasting reaches the connections of one process, so the chat runs in one.
    worker.set_count(1);

    let next_uid = Rc::new(Cell::new(0u64));
    worker.on_connect(move |conn| {
        let uid = next_uid.get() + 1;
        next_uid.set(uid);
        conn.set_data(Uid(uid));
        conn.send(format!("your uid is {uid}"));
        conn.worker().broadcast(format!("user[{uid}] login"));
    });

    worker.on_message(|conn, line| {
        let Some(Uid(uid)) = conn.data::<Uid>() else {
            return;
        };
        conn.worker().broadcast(format!("user[{uid}] said: {line}"));
    });

    worker.on_close(|conn| {
        if let Some(Uid(uid)) = conn.data::<Uid>() {
            conn.worker().broadcast(format!("user[{uid}] logout"));
        }
    });
    Worker::run_all()
}
