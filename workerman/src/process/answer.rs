//! The worker side of the report channel: answers the master's `status` and `connections`
//! requests from the event loop, and announces retirement.

use std::os::fd::RawFd;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;

use crate::connection::registry;
use crate::report::{Answer, Ask, ConnRow, Counters};

thread_local! {
    static WRITER: std::cell::RefCell<Option<std::rc::Rc<tokio::sync::Mutex<OwnedWriteHalf>>>> = const { std::cell::RefCell::new(None) };
}

/// Starts answering on the inherited channel.
pub(crate) fn start(fd: RawFd) {
    let std_stream = crate::sys::unix_stream_from_fd(fd);
    if std_stream.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(stream) = UnixStream::from_std(std_stream) else {
        return;
    };
    let (read, write) = stream.into_split();
    let writer = std::rc::Rc::new(tokio::sync::Mutex::new(write));
    WRITER.with(|w| *w.borrow_mut() = Some(writer.clone()));
    tokio::task::spawn_local(async move {
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let Some(ask) = Ask::decode(&line) else {
                continue;
            };
            let reply: String = answer(ask).iter().map(Answer::encode).collect();
            if writer.lock().await.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    });
}

/// Tells the master this process is about to retire, so it starts a replacement now.
pub(crate) async fn announce_retire(reason: &str) {
    let Some(writer) = WRITER.with(|w| w.borrow().clone()) else {
        return;
    };
    let line = Answer::Retire {
        reason: reason.to_string(),
    }
    .encode();
    let _ = writer.lock().await.write_all(line.as_bytes()).await;
}

fn answer(ask: Ask) -> Vec<Answer> {
    match ask {
        Ask::Status { seq } => vec![Answer::Status {
            seq,
            counters: Counters::now(),
        }],
        Ask::Connections { seq } => {
            let mut out: Vec<Answer> = registry::rows()
                .into_iter()
                .map(|r| Answer::Conn {
                    seq,
                    row: ConnRow {
                        worker: r.worker,
                        id: r.id,
                        transport: r.transport.to_string(),
                        protocol: r.protocol.to_string(),
                        recv_q: r.recv_q as u64,
                        send_q: r.send_q as u64,
                        bytes_read: r.bytes_read,
                        bytes_written: r.bytes_written,
                        status: r.status.to_string(),
                        local: r.local,
                        remote: r.remote,
                    },
                })
                .collect();
            out.push(Answer::End { seq });
            out
        }
    }
}
