//! Every live connection of this process, for the `connections` command.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

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
    /// Closes after flushing (`TcpConnection::close`).
    fn close(&self);
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
