//! Every live connection of this process, for the `connections` command.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;

use super::TcpConnection;
use crate::protocol::Protocol;

/// One connection as the `connections` command lists it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub id: u64,
    pub worker: String,
    pub transport: &'static str,
    pub protocol: &'static str,
    pub recv_q: usize,
    pub send_q: usize,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub status: &'static str,
    pub local: String,
    pub remote: String,
}

/// A live connection seen without its protocol type.
pub(crate) trait Inspect {
    fn row(&self) -> Option<Row>;
    /// Bytes moved so far, and whether nothing is buffered either way right now.
    fn activity(&self) -> Option<(u64, bool)>;
    /// Closes because the process stops: the protocol's goodbye (WebSocket: `1001 Going Away`),
    /// then `TcpConnection::close` (after flushing).
    fn going_away(&self);
    /// The graceful-stop policy of the worker that accepted it; `None` for outgoing connections.
    fn graceful_stop(&self) -> Option<crate::worker::GracefulStop>;
}

thread_local! {
    static LIVE: RefCell<BTreeMap<u64, Rc<dyn Inspect>>> = const { RefCell::new(BTreeMap::new()) };
}

pub(crate) fn register(id: u64, conn: Rc<dyn Inspect>) {
    LIVE.with(|l| l.borrow_mut().insert(id, conn));
}

pub(crate) fn unregister(id: u64) {
    let _ = LIVE.try_with(|l| l.borrow_mut().remove(&id));
}

/// Every live connection, in id order.
pub(crate) fn all() -> Vec<Rc<dyn Inspect>> {
    LIVE.with(|l| l.borrow().values().cloned().collect())
}

/// Rows of every live connection, in id order.
pub(crate) fn rows() -> Vec<Row> {
    all().iter().filter_map(|c| c.row()).collect()
}

/// The registry's weak view of a connection.
pub(super) struct Entry<P: Protocol>(pub(super) std::rc::Weak<super::Inner<P>>);

impl<P: Protocol> Entry<P> {
    fn conn(&self) -> Option<TcpConnection<P>> {
        self.0.upgrade().map(|inner| TcpConnection { inner })
    }
}

impl<P: Protocol> Inspect for Entry<P> {
    fn activity(&self) -> Option<(u64, bool)> {
        let conn = self.conn()?;
        let st = conn.inner.st.borrow();
        Some((
            st.bytes_read + st.bytes_written,
            st.recv.is_empty() && st.send.is_empty() && !st.in_dispatch,
        ))
    }

    fn going_away(&self) {
        if let Some(conn) = self.conn() {
            conn.going_away();
        }
    }

    fn graceful_stop(&self) -> Option<crate::worker::GracefulStop> {
        let conn = self.conn()?;
        match &conn.inner.mode {
            super::Mode::Accepted(w) => Some(w.graceful_stop()),
            _ => None,
        }
    }

    fn row(&self) -> Option<Row> {
        let conn = self.conn()?;
        let inner = &*conn.inner;
        let st = inner.st.borrow();
        let addr = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
        Some(Row {
            id: inner.id,
            worker: inner.mode.worker().map(|w| w.name()).unwrap_or_else(|| "none".into()),
            transport: inner.io.borrow().as_ref().map(|io| io.transport()).unwrap_or("tcp"),
            protocol: P::SCHEME,
            recv_q: st.recv.len(),
            send_q: st.send.len(),
            bytes_read: st.bytes_read,
            bytes_written: st.bytes_written,
            status: st.status.as_str(),
            local: addr(inner.local.get()),
            remote: addr(inner.peer.get()),
        })
    }
}
