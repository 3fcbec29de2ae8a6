//! The worker side of the control channel: answers the master's `status` and `connections`
//! requests from the event loop, and announces retirement.

use std::os::fd::RawFd;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;

use crate::connection::registry;
use crate::control::{Report, clean, rss_bytes};
use crate::stats;

thread_local! {
    static WRITER: std::cell::RefCell<Option<std::rc::Rc<tokio::sync::Mutex<OwnedWriteHalf>>>> = const { std::cell::RefCell::new(None) };
}

/// Starts answering on the inherited control socket.
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
            let reply = answer(&line);
            if !reply.is_empty() && writer.lock().await.write_all(reply.as_bytes()).await.is_err() {
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
    let line = format!("retire {}\n", clean(reason));
    let _ = writer.lock().await.write_all(line.as_bytes()).await;
}

fn answer(line: &str) -> String {
    let (cmd, seq) = line.split_once(' ').unwrap_or((line, "0"));
    match cmd {
        "status" => {
            let s = stats::snapshot();
            let r = Report {
                memory: rss_bytes(),
                connections: s.connections,
                send_fail: s.send_fail,
                timers: s.timers,
                total_request: s.total_request,
                protocol_errors: s.protocol_errors,
            };
            format!("report {seq}\t{}\n", r.encode())
        }
        "connections" => {
            let mut out = String::new();
            for r in registry::rows() {
                out.push_str(&format!(
                    "conn {seq}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    clean(&r.worker),
                    r.id,
                    r.transport,
                    r.protocol,
                    r.recv_q,
                    r.send_q,
                    r.bytes_read,
                    r.bytes_written,
                    r.status,
                    r.local,
                    r.remote
                ));
            }
            out.push_str(&format!("end {seq}\n"));
            out
        }
        _ => String::new(),
    }
}
