//! The HTTP service: what `http://` connections do besides parsing requests and writing
//! responses — reading file bodies from disk (at once up to [`INLINE_FILE_MAX`], streamed with
//! backpressure above) and `conn.respond(..)`. (Headers a request queues for its connection's
//! next response go through the codec state's shared `PendingHeaders`.)
//!
//! ```text
//!  conn.send(Response::with_file(..)) ─encode─► head kept in the state, event raised
//!      └─► HttpService::event: open the file ─ fails ──► 403 + close
//!                                            ─ small ──► head + body
//!                                            ─ large ──► head, then 256 KiB at a time as the
//!                                                        send buffer drains (respond only;
//!                                                        send answers 500, as before)
//! ```

use std::any::Any;
use std::cell::Cell;

use crate::connection::TcpConnection;
use crate::protocol::Http;
use crate::protocol::http::INLINE_FILE_MAX;
use crate::service::Service;

mod conn;
mod file;
#[cfg(feature = "json")]
pub mod session;

pub use conn::HttpConnectionExt;

/// The service of an `http://` worker.
#[derive(Default)]
pub(crate) struct HttpService {
    /// A `respond` is sending: a large file body may be streamed.
    may_stream: Cell<bool>,
}

impl Service<Http> for HttpService {
    fn event(&self, conn: &TcpConnection<Http>) {
        let Some(pending) = conn.with_protocol_state(|s| s.take_file()) else {
            return;
        };
        if pending.body.len > INLINE_FILE_MAX && !self.may_stream.get() {
            file::refuse_large(conn, &pending);
            return;
        }
        file::send(conn, *pending);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
