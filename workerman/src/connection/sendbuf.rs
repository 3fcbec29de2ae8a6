//! A connection's send buffer: shared chunks (the bytes of a broadcast, built once for many
//! connections) followed by the connection's own encoding buffer.
//!
//! ```text
//!   chunks: [Bytes][Bytes]...   then   tail: BytesMut (what `encode` appends to)
//! ```
//!
//! Everything in `chunks` goes out before `tail`: pushing a shared chunk first seals what the
//! tail holds into a chunk of its own, so order is kept whatever mix of sends was queued. The
//! socket gets it all in one vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use super::pool;

/// At most this many slices per vectored write (Linux takes up to 1024; a few dozen cover any
/// burst, and the rest goes in the next call).
pub(super) const MAX_SLICES: usize = 64;

/// Queued output of one connection.
#[derive(Default)]
pub(crate) struct SendBuf {
    chunks: VecDeque<Bytes>,
    chunks_len: usize,
    tail: BytesMut,
}

impl SendBuf {
    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.chunks_len + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks_len == 0 && self.tail.is_empty()
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

    /// Queues shared bytes after everything already queued.
    pub fn push(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
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
        match (self.chunks.len(), self.tail.is_empty()) {
            (0, _) => Some(&self.tail),
            (1, true) => self.chunks.front().map(|c| &c[..]),
            _ => None,
        }
    }

    /// Fills `out` with the queued bytes in order; returns how many slices were used.
    pub fn slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for c in &self.chunks {
            if n == out.len() {
                return n;
            }
            out[n] = IoSlice::new(c);
            n += 1;
        }
        if n < out.len() && !self.tail.is_empty() {
            out[n] = IoSlice::new(&self.tail);
            n += 1;
        }
        n
    }

    /// Drops the first `n` bytes (written to the socket).
    pub fn advance(&mut self, mut n: usize) {
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
        let mut b = SendBuf::default();
        b.tail().extend_from_slice(b"a");
        b.push(Bytes::from_static(b"bc"));
        b.tail().extend_from_slice(b"d");
        b.push(Bytes::from_static(b"ef"));
        b.push(Bytes::new());
        assert_eq!(b.len(), 6);
        assert_eq!(gather(&b), b"abcdef");
        assert!(b.contiguous().is_none());
        b.advance(2);
        assert_eq!(gather(&b), b"cdef");
        b.advance(3);
        assert_eq!(gather(&b), b"f");
        assert_eq!(b.contiguous(), Some(&b"f"[..]));
        b.advance(1);
        assert!(b.is_empty());
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
