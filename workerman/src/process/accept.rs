//! The accept loop of one listener in a worker process.

use std::io;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::connection::Io;
use crate::protocol::Protocol;
use crate::worker::Worker;

/// Pause after running out of file descriptors or memory, so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

pub(crate) async fn accept_loop<P: Protocol>(worker: Worker<P>, listener: TcpListener) {
    let mut warned = false;
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                warned = false;
                let _ = stream.set_nodelay(true);
                worker.adopt(Io::tcp(stream));
            }
            Err(e) if is_resource_error(&e) => {
                if !warned {
                    crate::settings::log(&format!(
                        "worker[{}:{}] accept failed: {e}; pausing accepts briefly",
                        worker.name(),
                        std::process::id()
                    ));
                    warned = true;
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
            // ECONNABORTED and friends: that one connection is gone; keep accepting.
            Err(_) => {}
        }
    }
}

fn is_resource_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
