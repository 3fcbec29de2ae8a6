//! The HTTP service: what `http://` connections do besides parsing and writing messages.

use std::any::Any;

use crate::connection::TcpConnection;
use crate::protocol::Http;
use crate::service::Service;

/// The service of an `http://` worker.
pub(crate) struct HttpService;

impl Service<Http> for HttpService {
    fn event(&self, conn: &TcpConnection<Http>) {
        let _ = conn;
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
