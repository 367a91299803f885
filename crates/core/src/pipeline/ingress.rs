//! The queue between the gateway's thread and the worker. A record call is one lock-free push and one relaxed
//! load: it never makes a system call. The worker is woken only when it has parked after traffic stopped; while
//! events flow it drains on short timer naps instead, so a busy gateway pays no wake-up per event (a futex wake
//! costs more than everything else a record call does).
//!
//! Bounded twice: in events (`queueCapacity`) and in bytes (`queueMaxBytes`), so a burst of large events cannot
//! grow the process past a known size. Both bounds can change while events flow (`configure()`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_queue::SegQueue;
use tokio::sync::Notify;

use crate::ingest::{compact, Body, Inbound};

pub struct Ingress {
    queue: SegQueue<Inbound>,
    len: AtomicUsize,
    capacity: AtomicUsize,
    bytes: AtomicUsize,
    max_bytes: AtomicUsize,
    parked: AtomicBool,
    wake: Notify,
    /// Space was made (replays wait for it instead of dropping).
    space: Notify,
}

/// Naps between drains while events keep coming; after this many empty naps in a row the worker parks.
const NAP: Duration = Duration::from_millis(1);
const NAPS_BEFORE_PARKING: u32 = 20;

/// What an event costs the queue beyond its text (the `Inbound` itself and the queue's slot).
const EVENT_OVERHEAD: usize = 128;

/// The bytes an event holds while queued.
fn cost(item: &Inbound) -> usize {
    let body = |b: &Body| match b {
        Body::Json(s) => s.len(),
        // Built in Rust (benchmarks, tests): small by construction.
        Body::Value(_) | Body::Fields(..) => 256,
        Body::Batch(b) => b.bytes(),
        Body::Skipped { .. } | Body::Invalid(_) => 0,
    };
    EVENT_OVERHEAD * item.events()
        + body(&item.body)
        + item.ctx.as_deref().map_or(0, body)
        + item.hook.as_ref().map_or(0, |h| h.len())
}

impl Ingress {
    pub fn new(capacity: usize, max_bytes: usize) -> Ingress {
        Ingress {
            queue: SegQueue::new(),
            len: AtomicUsize::new(0),
            capacity: AtomicUsize::new(capacity),
            bytes: AtomicUsize::new(0),
            max_bytes: AtomicUsize::new(max_bytes),
            parked: AtomicBool::new(false),
            wake: Notify::new(),
            space: Notify::new(),
        }
    }

    /// New bounds; events already queued beyond them stay (they drain), new ones wait for room.
    pub fn set_limits(&self, capacity: usize, max_bytes: usize) {
        self.capacity.store(capacity, Ordering::Relaxed);
        self.max_bytes.store(max_bytes, Ordering::Relaxed);
        self.space.notify_waiters();
    }

    /// Never blocks: `Err` gives the event back when the queue is full (in events or in bytes). A batch
    /// (`Body::Batch`) counts as its events and goes in whole or not at all.
    pub fn push(&self, item: Inbound) -> Result<(), Inbound> {
        let size = cost(&item);
        let n = item.events();
        let capacity = self.capacity.load(Ordering::Relaxed);
        let held = self.len.fetch_add(n, Ordering::Relaxed);
        // Like the byte bound below, a batch larger than the whole bound still gets into an empty queue.
        if held >= capacity || (held > 0 && held + n > capacity) {
            self.len.fetch_sub(n, Ordering::Relaxed);
            return Err(item);
        }
        // An event larger than the whole bound still gets in alone, so no event is refused forever.
        let before = self.bytes.fetch_add(size, Ordering::Relaxed);
        if before > 0 && before + size > self.max_bytes.load(Ordering::Relaxed) {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            self.len.fetch_sub(n, Ordering::Relaxed);
            return Err(item);
        }
        self.queue.push(item);
        // SeqCst pairs with `wait`: either the worker's re-check sees this item, or this load sees it parked.
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Waits for space instead of dropping (replays: the reader slows down, nothing is lost).
    pub async fn push_waiting(&self, mut item: Inbound) {
        loop {
            let space = self.space.notified();
            match self.push(item) {
                Ok(()) => return,
                Err(back) => item = back,
            }
            // Bounded wait: a missed notification costs a millisecond, never a hang.
            let _ = tokio::time::timeout(NAP, space).await;
        }
    }

    #[cfg(test)]
    pub fn pop(&self) -> Option<Inbound> {
        let mut item = None;
        self.drain(1, |i| item = Some(i));
        item
    }

    /// Pops up to about `max` events into `f` (a batch is taken whole), returning how many. A batch is expanded
    /// here, on the worker, into its events (`ingest/compact.rs`). The shared length is updated once per drain,
    /// not per event: the counter's cache line then moves between the gateway's thread and the worker once per
    /// drain.
    pub fn drain(&self, max: usize, mut f: impl FnMut(Inbound)) -> usize {
        let (mut n, mut bytes) = (0, 0);
        while n < max {
            let Some(item) = self.queue.pop() else { break };
            n += item.events();
            bytes += cost(&item);
            compact::expand(item, &mut f);
        }
        if n > 0 {
            self.bytes.fetch_sub(bytes, Ordering::Relaxed);
            self.len.fetch_sub(n, Ordering::Relaxed);
            self.space.notify_waiters();
        }
        n
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed).min(self.capacity.load(Ordering::Relaxed))
    }

    /// Bytes held by queued events (as `queueMaxBytes` counts them).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Resolves when there may be something to pop. Cancel-safe: dropping it mid-way costs at most a spurious wake.
    /// `naps` counts the empty naps since events last came and survives a cancelled wait: a worker whose wait a
    /// tick interrupts goes back to parking, not to another round of naps (an idle worker would otherwise wake
    /// twenty times per tick). The caller resets it to 0 when a drain found events.
    pub async fn wait(&self, naps: &mut u32) {
        while *naps < NAPS_BEFORE_PARKING {
            if !self.queue.is_empty() {
                return;
            }
            tokio::time::sleep(NAP).await;
            *naps += 1;
        }
        self.parked.store(true, Ordering::SeqCst);
        if !self.queue.is_empty() {
            self.parked.store(false, Ordering::SeqCst);
            return;
        }
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Body;

    fn item(n: u64) -> Inbound {
        crate::testing::diagnostic("{}", n as f64)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bounded_fifo_and_a_parked_worker_is_woken() {
        let q = std::sync::Arc::new(Ingress::new(3, usize::MAX));
        for n in 0..3 {
            assert!(q.push(item(n)).is_ok());
        }
        assert!(q.push(item(3)).is_err(), "full: the item comes back");
        assert_eq!(q.len(), 3);
        for n in 0..3 {
            assert_eq!(q.pop().unwrap().arrived_ms, n as f64);
        }
        assert!(q.pop().is_none());
        // The worker parks after its naps; a push from another thread wakes it.
        let waiter = {
            let q = q.clone();
            tokio::spawn(async move {
                q.wait(&mut 0).await;
                q.pop().map(|i| i.arrived_ms)
            })
        };
        tokio::time::sleep(Duration::from_millis(60)).await;
        let q2 = q.clone();
        std::thread::spawn(move || q2.push(item(9)).unwrap()).join().unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("the worker woke").unwrap();
        assert_eq!(got, Some(9.0));
    }

    #[test]
    fn bounded_in_bytes_and_bounds_change_while_running() {
        let big = |n| Inbound { body: Body::Json("x".repeat(1000)), ..item(n) };
        let q = Ingress::new(100, 2 * cost(&big(0)));
        assert!(q.push(big(0)).is_ok() && q.push(big(1)).is_ok());
        assert!(q.push(big(2)).is_err(), "over the byte bound");
        assert_eq!(q.bytes(), 2 * cost(&big(0)));
        assert!(q.pop().is_some() && q.pop().is_some());
        assert_eq!(q.bytes(), 0);
        let huge = Inbound { body: Body::Json("x".repeat(10_000)), ..item(3) };
        assert!(q.push(huge).is_ok(), "an event larger than the bound still gets in alone");
        assert!(q.pop().is_some());
        q.set_limits(1, usize::MAX);
        assert!(q.push(item(4)).is_ok());
        assert!(q.push(item(5)).is_err(), "the new capacity applies at once");
    }

    #[test]
    fn a_batch_counts_as_its_events_goes_in_whole_and_drains_expanded() {
        use crate::ingest::compact;
        use compact::tag;
        // `n` events of the generic schema, each of type `run` and no field.
        let batch = |n: usize| {
            let head = (compact::GENERIC * 2) as f64;
            let b = compact::Batch {
                slots: [head, 3.0, 0.0].repeat(n),
                tags: [0, tag::STR, 0].repeat(n),
                text: "run".repeat(n).encode_utf16().collect(),
                events: n as u32,
            };
            compact::batch_inbound(Box::new(b), 1, 0.0)
        };
        let q = Ingress::new(5, usize::MAX);
        assert!(q.push(batch(3)).is_ok());
        assert_eq!(q.len(), 3);
        assert!(q.push(batch(3)).is_err(), "3 + 3 events over a capacity of 5: refused whole");
        assert!(q.push(item(0)).is_ok() && q.push(item(1)).is_ok());
        assert!(q.push(item(2)).is_err(), "full");
        let mut got = Vec::new();
        assert_eq!(q.drain(100, |i| got.push(i)), 5);
        assert_eq!(got.len(), 5, "the batch came out as its events");
        assert!(matches!(got[0].body, Body::Fields(..)) && matches!(got[3].body, Body::Json(_)));
        assert_eq!((q.len(), q.bytes()), (0, 0));
        assert!(q.push(batch(8)).is_ok(), "a batch larger than the bound still gets into an empty queue");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn push_waiting_loses_nothing() {
        let q = std::sync::Arc::new(Ingress::new(8, usize::MAX));
        let producer = {
            let q = q.clone();
            tokio::spawn(async move {
                for n in 0..1000 {
                    q.push_waiting(item(n)).await;
                }
            })
        };
        let mut seen = 0u64;
        while seen < 1000 {
            match q.pop() {
                Some(i) => {
                    assert_eq!(i.arrived_ms, seen as f64);
                    seen += 1;
                }
                None => q.wait(&mut 0).await,
            }
        }
        producer.await.unwrap();
    }
}
