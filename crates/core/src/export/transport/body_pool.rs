//! Request bodies written into buffers used again, batch after batch. A fresh buffer of a batch's size (hundreds of
//! KiB) is memory the allocator has just taken from the system or handed back to it: every page the writer
//! touches is a page fault and a zeroed page (a fifth of the file sink's encoding time in profiles of 10,000 open
//! sessions). A body's buffer goes back to its sink's pool when the last copy of the body is dropped (sent,
//! spooled or abandoned), so the next batch writes into pages that are already there.

use std::sync::Arc;

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;

/// Buffers kept: one being written while another is still being sent, and one more in flight on a retry.
const KEPT: usize = 3;
/// A buffer larger than this (a rare huge batch) is not kept: its memory goes back to the allocator.
const MAX_KEPT_BYTES: usize = 8 << 20;

/// One sink's spare body buffers.
#[derive(Debug)]
pub struct BodyPool {
    free: ArrayQueue<Vec<u8>>,
}

impl BodyPool {
    pub fn new() -> Arc<BodyPool> {
        Arc::new(BodyPool { free: ArrayQueue::new(KEPT) })
    }

    /// An empty buffer with room for at least `capacity` bytes: a spare one when there is one.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let mut buf = self.free.pop().unwrap_or_default();
        buf.clear();
        buf.reserve(capacity);
        buf
    }

    /// Gives back a buffer no body holds (e.g. the uncompressed request once compressed).
    pub fn put(&self, mut buf: Vec<u8>) {
        if buf.capacity() <= MAX_KEPT_BYTES {
            buf.clear();
            let _ = self.free.push(buf);
        }
    }

    /// `buf` as a body: its bytes, without a copy; the buffer returns here when the body's last copy is dropped.
    pub fn body(self: &Arc<Self>, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled { buf, pool: self.clone() })
    }
}

/// A body's buffer, on its way back to its pool.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<BodyPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.put(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bodys_buffer_is_used_again_once_every_copy_is_dropped() {
        let pool = BodyPool::new();
        let mut buf = pool.take(1000);
        buf.extend_from_slice(b"first body");
        let at = buf.as_ptr();
        let body = pool.body(buf);
        let copy = body.clone();
        assert_eq!(&body[..], b"first body");
        drop(body);
        let other = pool.take(10);
        assert_ne!(other.as_ptr(), at, "a copy is still held: not handed out again");
        drop(copy);
        let again = pool.take(10);
        assert_eq!((again.as_ptr(), again.len()), (at, 0), "the same buffer, emptied");
        assert!(again.capacity() >= 1000);
    }

    #[test]
    fn a_huge_buffer_is_not_kept() {
        let pool = BodyPool::new();
        drop(pool.body(Vec::with_capacity(MAX_KEPT_BYTES + 1)));
        assert!(pool.take(1).capacity() < MAX_KEPT_BYTES, "the memory went back to the allocator");
    }
}
