//! HTTP helpers on connections: responses with streamed files, and async handlers.

use std::future::Future;

use super::HttpService;
use crate::protocol::Http;
use crate::protocol::http::Response;
use crate::service::concrete;
use crate::{SendResult, TcpConnection};

/// Extra methods on `TcpConnection<Http>`.
///
/// ```no_run
/// use workerman::{Worker, protocol::Http};
/// use workerman::protocol::http::{HttpConnectionExt, Response};
///
/// let worker = Worker::<Http>::new("http://0.0.0.0:2345").unwrap();
/// worker.on_message(|conn, req| {
///     if req.path() == "/big.iso" {
///         // Streamed from disk 256 KiB at a time, as the client reads.
///         conn.respond(Response::new(200).with_file("/srv/big.iso"));
///     } else {
///         conn.respond_with(async move {
///             tokio::time::sleep(std::time::Duration::from_millis(5)).await;
///             Response::from(format!("later: {}", req.path()))
///         });
///     }
/// });
/// ```
pub trait HttpConnectionExt {
    /// Sends `resp`; a file body larger than [`INLINE_FILE_MAX`](crate::protocol::http::INLINE_FILE_MAX) is streamed from disk with
    /// backpressure (the next pipelined request is read once it is done).
    fn respond(&self, resp: impl Into<Response>) -> SendResult;

    /// Runs `handler` on the event loop and sends the response it returns. Reading pauses
    /// meanwhile, so pipelined requests are still answered in order.
    fn respond_with<F>(&self, handler: F)
    where
        F: Future + 'static,
        F::Output: Into<Response>;
}

impl HttpConnectionExt for TcpConnection<Http> {
    fn respond(&self, resp: impl Into<Response>) -> SendResult {
        respond(self, resp.into()).0
    }

    fn respond_with<F>(&self, handler: F)
    where
        F: Future + 'static,
        F::Output: Into<Response>,
    {
        self.pause_recv();
        let conn = self.clone();
        crate::spawn(async move {
            let resp = handler.await.into();
            let (_, streaming) = respond(&conn, resp);
            if !streaming {
                conn.resume_recv();
            }
        });
    }
}

/// Sends `resp`, letting the service stream a large file body; returns whether a stream
/// started (it resumes reading when done).
fn respond(conn: &TcpConnection<Http>, resp: Response) -> (SendResult, bool) {
    let service = conn.service();
    let http = concrete::<Http, HttpService>(service.as_ref());
    if let Some(h) = http {
        h.may_stream.set(true);
    }
    let r = conn.send(resp);
    if let Some(h) = http {
        h.may_stream.set(false);
    }
    (r, conn.with_protocol_state(|s| s.streaming))
}
