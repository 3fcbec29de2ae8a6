//! Per-process spare buffers, lent to whichever connection is reading or writing.
//!
//! An idle connection holds no buffer at all: it borrows one to read into, and gives it back when
//! every byte was consumed (likewise for writes once the kernel took everything). Only connections
//! holding a partial packet, or unsent bytes, keep a buffer of their own.

use std::cell::RefCell;

use bytes::BytesMut;

/// Bytes read from a socket per read call (64 KiB).
pub const READ_CHUNK: usize = 64 * 1024;
const WRITE_INITIAL: usize = 4 * 1024;
const KEEP: usize = 8;
const MAX_KEPT_CAPACITY: usize = 256 * 1024;

thread_local! {
    static READ: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static WRITE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn take_read() -> BytesMut {
    READ.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(READ_CHUNK))
}

pub(crate) fn take_write() -> BytesMut {
    WRITE
        .with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(WRITE_INITIAL))
}

fn give(pool: &'static std::thread::LocalKey<RefCell<Vec<BytesMut>>>, mut buf: BytesMut) {
    if buf.capacity() == 0 || buf.capacity() > MAX_KEPT_CAPACITY {
        return;
    }
    buf.clear();
    let _ = pool.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEEP {
            p.push(buf);
        }
    });
}

pub(crate) fn give_read(buf: BytesMut) {
    give(&READ, buf);
}

pub(crate) fn give_write(buf: BytesMut) {
    give(&WRITE, buf);
}
