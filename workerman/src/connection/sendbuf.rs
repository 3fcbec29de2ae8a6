//! A connection's send buffer: shared chunks (the bytes of a broadcast, built once for many
//! connections) followed by the connection's own encoding buffer.
//!
//! ```text
//!   first: Bytes   then   chunks: [Bytes][Bytes]...   then   tail: BytesMut (what `encode` appends to)
//! ```
//!
//! Shared bytes arriving at an empty buffer take the `first` slot (no allocation: a broadcast to a
//! room, one message at a time, queues nothing else). Once something is queued, shared bytes
//! under [`SHARE_MIN`] are copied into the tail, larger ones become chunks of their own; pushing
//! a chunk first seals what the tail holds into a chunk, so order is kept whatever mix of sends
//! was queued. The socket gets it all in one vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use super::pool;

/// At most this many slices per vectored write (Linux takes up to 1024; a few dozen cover any
/// burst, and the rest goes in the next call).
pub(super) const MAX_SLICES: usize = 64;

/// Shared bytes shorter than this (1 KiB) that arrive while other bytes are queued are copied
/// into the connection's encoding buffer instead of being queued as a chunk. For a small frame
/// the copy is cheaper than a slot in the chunk queue (allocated, and grown, per burst; freed when
/// the socket took it), and a burst of small broadcasts leaves as one write of two slices.
/// Measured (callgrind, a room of 1,000 WebSocket clients, 32-byte messages): the chunk queue's
/// allocations were ~540 of ~2,970 instructions per delivery one message at a time, where the
/// `first` slot now needs none. Larger frames are shared: one copy in memory for every recipient.
pub(crate) const SHARE_MIN: usize = 1024;

/// Bytes to queue as they are: given away, or kept by the caller for more connections.
pub(crate) enum Shared<'a> {
    Owned(Bytes),
    Kept(&'a Bytes),
}

impl Shared<'_> {
    /// The bytes to keep: moved, or a reference count taken.
    fn into_bytes(self) -> Bytes {
        match self {
            Shared::Owned(b) => b,
            Shared::Kept(b) => b.clone(),
        }
    }
}

impl AsRef<[u8]> for Shared<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Shared::Owned(b) => b,
            Shared::Kept(b) => b,
        }
    }
}

impl From<Bytes> for Shared<'_> {
    fn from(b: Bytes) -> Self {
        Shared::Owned(b)
    }
}

impl<'a> From<&'a Bytes> for Shared<'a> {
    fn from(b: &'a Bytes) -> Self {
        Shared::Kept(b)
    }
}

/// Queued output of one connection.
#[derive(Default)]
pub(crate) struct SendBuf {
    /// Shared bytes queued when the buffer was empty: they go out first.
    first: Bytes,
    chunks: VecDeque<Bytes>,
    chunks_len: usize,
    tail: BytesMut,
}

impl SendBuf {
    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.first.len() + self.chunks_len + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty() && self.chunks_len == 0 && self.tail.is_empty()
    }

    /// The buffer `encode` appends to (a pooled one is borrowed when the connection has none).
    pub fn tail(&mut self) -> &mut BytesMut {
        if self.tail.capacity() == 0 {
            self.tail = pool::take_write();
        }
        &mut self.tail
    }

    /// The encoding buffer as it is (no pooled buffer borrowed): for codecs that may write
    /// nothing (replies while reading).
    pub fn tail_raw(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Queues shared bytes after everything already queued: in the `first` slot when nothing
    /// is, else copied into the encoding buffer below [`SHARE_MIN`] bytes, else as a chunk.
    /// Bytes the caller keeps ([`Shared::Kept`], a broadcast's, queued on many connections) are
    /// cloned (a reference count) only where they are kept as they are, not when copied. The
    /// reference count is atomic, and an atomic update waits for the memory writes before it: in
    /// a broadcast loop over thousands of connections whose state is not in the cache, one per
    /// delivery was the largest single cost in user space (perf, a room of 10,000 clients in
    /// bursts); copied small frames need none.
    pub fn push<'a>(&mut self, bytes: impl Into<Shared<'a>>) {
        let bytes = bytes.into();
        let len = bytes.as_ref().len();
        if len == 0 {
            return;
        }
        if self.is_empty() {
            self.first = bytes.into_bytes();
        } else if len < SHARE_MIN {
            self.copy_to_tail(bytes.as_ref());
        } else {
            self.push_chunk(bytes.into_bytes());
        }
    }

    /// Copies shared bytes into the encoding buffer (borrowing one sized for them when there is
    /// none: see [`pool::take_write_for`]).
    /// A small `first` with nothing after it moves into the buffer too: the write is then one
    /// contiguous `send`, not a two-slice `writev` (a longer path in the kernel, measured).
    fn copy_to_tail(&mut self, bytes: &[u8]) {
        let first = self.first.len();
        let move_first = first > 0 && first < SHARE_MIN && self.chunks.is_empty() && self.tail.is_empty();
        if self.tail.capacity() == 0 {
            let want = if move_first { first + bytes.len() } else { bytes.len() };
            self.tail = pool::take_write_for(want);
        }
        if move_first {
            self.tail.extend_from_slice(&self.first);
            self.first = Bytes::new();
        }
        self.tail.extend_from_slice(bytes);
    }

    /// Queues `bytes` as a chunk of its own after what the encoding buffer holds.
    fn push_chunk(&mut self, bytes: Bytes) {
        if !self.tail.is_empty() {
            let own = self.tail.split().freeze();
            self.chunks_len += own.len();
            self.chunks.push_back(own);
        }
        self.chunks_len += bytes.len();
        self.chunks.push_back(bytes);
    }

    /// Whether a single contiguous slice holds everything (no vectored write needed).
    pub fn contiguous(&self) -> Option<&[u8]> {
        match (self.first.is_empty(), self.chunks.len(), self.tail.is_empty()) {
            (true, 0, _) => Some(&self.tail),
            (false, 0, true) => Some(&self.first),
            (true, 1, true) => self.chunks.front().map(|c| &c[..]),
            _ => None,
        }
    }

    /// Fills `out` with the queued bytes in order; returns how many slices were used.
    pub fn slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let first = (!self.first.is_empty()).then_some(&self.first);
        let tail = (!self.tail.is_empty()).then_some(&self.tail[..]);
        let all = first
            .into_iter()
            .map(|b| &b[..])
            .chain(self.chunks.iter().map(|c| &c[..]))
            .chain(tail);
        let mut n = 0;
        for (slot, part) in out.iter_mut().zip(all) {
            *slot = IoSlice::new(part);
            n += 1;
        }
        n
    }

    /// Drops the first `n` bytes (written to the socket).
    pub fn advance(&mut self, mut n: usize) {
        if !self.first.is_empty() {
            let take = n.min(self.first.len());
            self.first.advance(take);
            n -= take;
        }
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                self.tail.advance(n);
                return;
            };
            let take = n.min(front.len());
            front.advance(take);
            self.chunks_len -= take;
            n -= take;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }

    /// Forgets everything queued and gives the encoding buffer back to the pool (after the
    /// socket took everything): an idle connection holds no buffer.
    pub fn release(&mut self) {
        self.first = Bytes::new();
        if self.chunks.capacity() != 0 {
            self.chunks = VecDeque::new();
        }
        self.chunks_len = 0;
        pool::give_write(std::mem::take(&mut self.tail));
    }

    /// Takes the encoding buffer's bytes out (a datagram, one per send); chunks are never
    /// queued on datagram sockets.
    pub fn take_tail(&mut self) -> Bytes {
        self.tail.split().freeze()
    }

    /// Empties the buffer, keeping the encoding buffer's memory.
    pub fn clear(&mut self) {
        self.first = Bytes::new();
        self.chunks = VecDeque::new();
        self.chunks_len = 0;
        self.tail.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather(b: &SendBuf) -> Vec<u8> {
        let mut s = [IoSlice::new(&[]); MAX_SLICES];
        let n = b.slices(&mut s);
        s[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn order_is_kept_across_own_and_shared_bytes() {
        let big = |c: u8| Bytes::from(vec![c; SHARE_MIN]);
        let mut b = SendBuf::default();
        b.tail().extend_from_slice(b"a");
        b.push(big(b'b'));
        b.tail().extend_from_slice(b"d");
        b.push(big(b'e'));
        b.push(Bytes::new());
        b.push(Bytes::from_static(b"f"));
        let n = 2 * SHARE_MIN + 3;
        assert_eq!(b.len(), n);
        let mut want = b"a".to_vec();
        want.extend(vec![b'b'; SHARE_MIN]);
        want.push(b'd');
        want.extend(vec![b'e'; SHARE_MIN]);
        want.push(b'f');
        assert_eq!(gather(&b), want);
        assert!(b.contiguous().is_none());
        b.advance(2);
        assert_eq!(gather(&b), want[2..]);
        b.advance(n - 3);
        assert_eq!(gather(&b), b"f");
        assert_eq!(b.contiguous(), Some(&b"f"[..]));
        b.advance(1);
        assert!(b.is_empty());
    }

    #[test]
    fn shared_bytes_at_an_empty_buffer_take_the_first_slot_and_small_ones_after_are_copied() {
        let mut b = SendBuf::default();
        let shared = Bytes::from_static(b"ab");
        b.push(shared.clone());
        assert_eq!(
            b.contiguous().map(|c| c.as_ptr()),
            Some(shared.as_ptr()),
            "shared, not copied"
        );
        b.tail().extend_from_slice(b"c");
        b.push(Bytes::from(vec![b'd'; SHARE_MIN - 1]));
        assert_eq!(b.len(), SHARE_MIN + 2);
        assert!(b.chunks.is_empty(), "no chunk queued");
        let mut want = b"abc".to_vec();
        want.extend(vec![b'd'; SHARE_MIN - 1]);
        assert_eq!(gather(&b), want);
        b.advance(1);
        assert_eq!(gather(&b), want[1..]);
        b.advance(2);
        assert_eq!(b.contiguous(), Some(&want[3..]));
        b.release();
        assert!(b.is_empty());
    }

    #[test]
    fn kept_bytes_are_shared_only_where_queued_as_they_are() {
        let mut b = SendBuf::default();
        // From a Vec: unique until cloned.
        let small = Bytes::from(b"ab".to_vec());
        b.push(&small);
        assert!(!small.is_unique(), "the first slot shares them");
        assert_eq!(b.contiguous().map(|c| c.as_ptr()), Some(small.as_ptr()));
        let small2 = Bytes::from(b"cd".to_vec());
        b.push(&small2);
        assert!(small2.is_unique(), "a small frame behind others is copied, not shared");
        assert!(small.is_unique(), "and a small first one moves into the buffer with it");
        assert_eq!(b.contiguous(), Some(&b"abcd"[..]), "one contiguous write");
        let big = Bytes::from(vec![b'e'; SHARE_MIN]);
        b.push(&big);
        assert!(!big.is_unique(), "a large frame is shared");
        let mut want = b"abcd".to_vec();
        want.extend(vec![b'e'; SHARE_MIN]);
        assert_eq!(gather(&b), want);
        b.release();
        assert!(big.is_unique());
    }

    #[test]
    fn a_large_first_stays_shared_when_small_frames_follow() {
        let mut b = SendBuf::default();
        let big = Bytes::from(vec![b'a'; SHARE_MIN]);
        b.push(&big);
        b.push(Bytes::from_static(b"b"));
        assert!(!big.is_unique());
        let mut want = vec![b'a'; SHARE_MIN];
        want.push(b'b');
        assert_eq!(gather(&b), want);
        assert!(b.contiguous().is_none());
    }

    #[test]
    fn tail_only_is_contiguous() {
        let mut b = SendBuf::default();
        b.tail().extend_from_slice(b"xyz");
        assert_eq!(b.contiguous(), Some(&b"xyz"[..]));
        b.advance(1);
        assert_eq!(b.contiguous(), Some(&b"yz"[..]));
        b.release();
        assert!(b.is_empty());
    }
}
