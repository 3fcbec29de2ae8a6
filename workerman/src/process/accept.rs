//! Serving a bound socket in a worker process: accept loops (TCP, TLS, Unix) and the UDP
//! receive loop.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::sync::watch;

use crate::connection::{Io, UdpConnection};
use crate::protocol::Protocol;
use crate::worker::Worker;

/// Pause after running out of file descriptors or memory, so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a TLS client may take to complete its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest UDP datagram received (Workerman's 65535).
const MAX_DATAGRAM: usize = 65_535;

/// Handles an accept error; `true` means keep going after the back-off.
async fn accept_failed<P: Protocol>(worker: &Worker<P>, e: &io::Error, warned: &mut bool) {
    if matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    ) {
        if !*warned {
            crate::settings::log(&format!(
                "worker[{}:{}] accept failed: {e}; pausing accepts briefly",
                worker.name(),
                std::process::id()
            ));
            *warned = true;
        }
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }
    // ECONNABORTED and friends: that one connection is gone; keep accepting.
}

/// Returns once the worker accepts (at once unless `pause_accept` is in force).
async fn until_accepting(on: &mut watch::Receiver<bool>) {
    let _ = on.wait_for(|on| *on).await;
}

/// Returns once the worker pauses accepting; raced against each accept, which is cancel-safe.
async fn until_paused(on: &mut watch::Receiver<bool>) {
    if on.wait_for(|on| !*on).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Waits for the next accepted stream while the worker accepts (`pause_accept` holds it) and
/// `$ready` says there is room (`max_connections` holds it too, until a connection closes).
macro_rules! accept_next {
    ($on:expr, $ready:expr, $accept:expr) => {{
        until_accepting($on).await;
        $ready.await;
        tokio::select! {
            // A pause that came before a connection wins over it.
            biased;
            _ = until_paused($on) => continue,
            r = $accept => r,
        }
    }};
}

pub(crate) async fn accept_loop<P: Protocol>(worker: Worker<P>, listener: TcpListener) {
    let mut warned = false;
    let mut on = worker.accept_switch();
    loop {
        match accept_next!(&mut on, worker.accept_ready(), listener.accept()) {
            Ok((stream, _peer)) => {
                warned = false;
                let _ = stream.set_nodelay(true);
                worker.adopt(Io::tcp(stream));
            }
            Err(e) => accept_failed(&worker, &e, &mut warned).await,
        }
    }
}

pub(crate) async fn unix_accept_loop<P: Protocol>(worker: Worker<P>, listener: UnixListener) {
    let mut warned = false;
    let mut on = worker.accept_switch();
    loop {
        match accept_next!(&mut on, worker.accept_ready(), listener.accept()) {
            Ok((stream, _peer)) => {
                warned = false;
                worker.adopt(Io::Unix(std::cell::RefCell::new(stream)));
            }
            Err(e) => accept_failed(&worker, &e, &mut warned).await,
        }
    }
}

/// Accepts TCP connections and completes each TLS handshake in a task of its own (a slow or
/// plaintext client never holds up the others); a failed handshake is one log line.
pub(crate) async fn tls_accept_loop<P: Protocol>(
    worker: Worker<P>,
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
) {
    /// Counts a handshake under way against `max_connections` until it ends, however it ends.
    struct Pending<P: Protocol>(Worker<P>);
    impl<P: Protocol> Drop for Pending<P> {
        fn drop(&mut self) {
            self.0.pending_ended();
        }
    }
    let mut warned = false;
    let mut on = worker.accept_switch();
    loop {
        match accept_next!(&mut on, worker.accept_ready(), listener.accept()) {
            Ok((stream, peer)) => {
                warned = false;
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let worker = worker.clone();
                worker.pending_started();
                let pending = Pending(worker.clone());
                tokio::task::spawn_local(async move {
                    let _pending = pending;
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        // A handshake that completes after the worker began stopping is not adopted.
                        Ok(Ok(tls)) if !worker.is_stopping() => {
                            worker.adopt(Io::TlsServer(Box::new(std::cell::RefCell::new(tls))))
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => crate::settings::log(&format!(
                            "worker[{}:{}] TLS handshake with {peer} failed: {e}",
                            worker.name(),
                            std::process::id()
                        )),
                        Err(_) => crate::settings::log(&format!(
                            "worker[{}:{}] TLS handshake with {peer} timed out after {TLS_HANDSHAKE_TIMEOUT:?}",
                            worker.name(),
                            std::process::id()
                        )),
                    }
                });
            }
            Err(e) => accept_failed(&worker, &e, &mut warned).await,
        }
    }
}

/// Receives datagrams; each one is framed by the protocol on its own and its messages delivered
/// to `on_udp_message` with a reply handle bound to the sender.
pub(crate) async fn udp_loop<P: Protocol>(worker: Worker<P>, socket: UdpSocket) {
    let socket = Rc::new(socket);
    let mut buf = BytesMut::with_capacity(MAX_DATAGRAM);
    let mut on = worker.accept_switch();
    loop {
        buf.clear();
        buf.reserve(MAX_DATAGRAM);
        match accept_next!(&mut on, std::future::ready(()), socket.recv_buf_from(&mut buf)) {
            Ok((_, peer)) => {
                let on_message = worker.udp_message_callback();
                UdpConnection::receive(&worker, socket.clone(), peer, &buf, on_message.as_ref());
            }
            // ICMP errors for earlier replies surface here; they concern no one now.
            Err(_) => tokio::task::yield_now().await,
        }
    }
}
