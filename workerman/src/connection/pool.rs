//! Per-process spare buffers, lent to whichever connection is reading or writing.
//!
//! An idle connection holds no buffer at all: it borrows one to read into, and gives it back when
//! every byte was consumed (likewise for writes once the kernel took everything). Only connections
//! holding a partial packet, or unsent bytes, keep a buffer of their own, and a small partial
//! packet (a slow client's half request head, part of a WebSocket frame) is moved into a buffer
//! of its own size while the connection waits for the rest: waiting costs what was received, not
//! a 64 KiB read buffer. The next read borrows a pooled buffer again and continues from there.

use std::cell::RefCell;

use bytes::BytesMut;

/// Bytes read from a socket per read call (64 KiB).
pub const READ_CHUNK: usize = 64 * 1024;
/// A partial packet up to this size is moved out of the read buffer while its connection waits
/// (copying at most this much per wait; larger ones keep their buffer, which grows as needed).
pub const COMPACT_MAX: usize = 16 * 1024;
/// Free space kept for a read when the buffer already holds more than [`READ_CHUNK`].
const MIN_READ_SPACE: usize = 16 * 1024;
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

/// Makes room in `buf` for the next read: a pooled buffer when it has none (or only a compacted
/// partial packet, which is copied over), and at least [`READ_CHUNK`] bytes in all (at least
/// [`MIN_READ_SPACE`] free once it holds more). A buffer with [`MIN_READ_SPACE`] free already is
/// left as it is: a pooled buffer that packets were cut from still has most of its room, and
/// reclaiming the rest on every read would cost more than the smaller read.
pub(crate) fn prepare_read(buf: &mut BytesMut) {
    let len = buf.len();
    if buf.capacity() - len >= MIN_READ_SPACE {
        return;
    }
    if len <= COMPACT_MAX {
        let mut pooled = take_read();
        if len > 0 {
            pooled.extend_from_slice(buf);
        }
        // The compacted buffer is dropped, not pooled: it is no bigger than what it held.
        *buf = pooled;
    }
    buf.reserve(READ_CHUNK.saturating_sub(len).max(MIN_READ_SPACE));
}

/// The connection waits for more bytes: an empty buffer goes back to the pool, and a small
/// partial packet moves into a buffer of its own size (the large one goes back to the pool).
pub(crate) fn release_read(buf: &mut BytesMut) {
    let len = buf.len();
    if len == 0 {
        if buf.capacity() > 0 {
            give_read(std::mem::take(buf));
        }
    } else if len <= COMPACT_MAX && buf.capacity() > 2 * len {
        let small = BytesMut::from(&buf[..]);
        give_read(std::mem::replace(buf, small));
    }
}

pub(crate) fn take_write() -> BytesMut {
    take_write_for(WRITE_INITIAL)
}

/// A write buffer for copying `n` bytes of someone else's (a small broadcast frame queued behind
/// another): a pooled one if there is one, else one sized for a few such frames (1 KiB to
/// 4 KiB), not [`WRITE_INITIAL`]. A burst of broadcasts to a room of 10,000 needs a buffer per
/// recipient at once; at 4 KiB each that is 40 MB written once per burst — more than the CPU's
/// cache, so every copy into it went to memory. 1 KiB holds a burst of 20 chat-sized frames
/// without growing (starting at 256 B, the two reallocations showed in the profile).
pub(crate) fn take_write_for(n: usize) -> BytesMut {
    WRITE
        .with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(n.saturating_mul(4).clamp(1024, WRITE_INITIAL)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_partial_packet_keeps_only_its_size_and_reads_resume_with_full_room() {
        let mut buf = BytesMut::new();
        prepare_read(&mut buf);
        assert!(buf.capacity() >= READ_CHUNK);
        buf.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n");
        release_read(&mut buf);
        assert_eq!(&buf[..], b"GET / HTTP/1.1\r\nHost: x\r\n");
        assert!(buf.capacity() < 1024, "kept {} bytes", buf.capacity());
        prepare_read(&mut buf);
        assert_eq!(&buf[..], b"GET / HTTP/1.1\r\nHost: x\r\n");
        assert!(buf.capacity() >= READ_CHUNK);
        buf.clear();
        release_read(&mut buf);
        assert_eq!(buf.capacity(), 0, "an empty buffer goes back to the pool");
    }

    #[test]
    fn a_buffer_with_room_for_a_read_is_left_as_it_is() {
        let mut buf = BytesMut::new();
        prepare_read(&mut buf);
        // Packets were cut from the front: most of the pooled buffer is still free.
        buf.extend_from_slice(&[1u8; 1000]);
        let _ = buf.split_to(900);
        let (ptr, cap) = (buf.as_ptr(), buf.capacity());
        assert!(cap - buf.len() >= MIN_READ_SPACE);
        prepare_read(&mut buf);
        assert_eq!((buf.as_ptr(), buf.capacity()), (ptr, cap), "not moved, not grown");
        // Less than MIN_READ_SPACE free: room for a full read is made.
        let free = buf.capacity() - buf.len();
        buf.extend_from_slice(&vec![2u8; free - MIN_READ_SPACE + 1]);
        prepare_read(&mut buf);
        assert!(buf.capacity() - buf.len() >= MIN_READ_SPACE);
        assert_eq!(&buf[..100], &[1u8; 100][..], "the bytes held are kept");
    }

    #[test]
    fn a_large_partial_packet_keeps_its_buffer_and_grows() {
        let mut buf = BytesMut::new();
        prepare_read(&mut buf);
        buf.extend_from_slice(&[7u8; COMPACT_MAX + 1]);
        let cap = buf.capacity();
        release_read(&mut buf);
        assert_eq!(buf.capacity(), cap);
        buf.extend_from_slice(&vec![7u8; READ_CHUNK]);
        prepare_read(&mut buf);
        assert!(buf.capacity() - buf.len() >= MIN_READ_SPACE);
        assert!(buf.iter().all(|&b| b == 7));
    }
}
