//! The queue between the gateway's thread and the worker. A record call is one lock-free push and one relaxed
//! load: it never makes a system call. The worker is woken only when it has parked after traffic stopped; while
//! events flow it drains on short timer naps instead, so a busy gateway pays no wake-up per event (a futex wake
//! costs more than everything else a record call does).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_queue::SegQueue;
use tokio::sync::Notify;

use crate::ingest::Inbound;

pub struct Ingress {
    queue: SegQueue<Inbound>,
    len: AtomicUsize,
    capacity: usize,
    parked: AtomicBool,
    wake: Notify,
    /// Space was made (replays wait for it instead of dropping).
    space: Notify,
}

/// Naps between drains while events keep coming; after this many empty naps in a row the worker parks.
const NAP: Duration = Duration::from_millis(1);
const NAPS_BEFORE_PARKING: u32 = 20;

impl Ingress {
    pub fn new(capacity: usize) -> Ingress {
        Ingress {
            queue: SegQueue::new(),
            len: AtomicUsize::new(0),
            capacity,
            parked: AtomicBool::new(false),
            wake: Notify::new(),
            space: Notify::new(),
        }
    }

    /// Never blocks: `Err` gives the event back when the queue is full.
    pub fn push(&self, item: Inbound) -> Result<(), Inbound> {
        if self.len.fetch_add(1, Ordering::Relaxed) >= self.capacity {
            self.len.fetch_sub(1, Ordering::Relaxed);
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

    /// Pops up to `max` events into `f`, returning how many. The shared length is updated once per drain, not
    /// per event: the counter's cache line then moves between the gateway's thread and the worker once per batch.
    pub fn drain(&self, max: usize, mut f: impl FnMut(Inbound)) -> usize {
        let mut n = 0;
        while n < max {
            let Some(item) = self.queue.pop() else { break };
            n += 1;
            f(item);
        }
        if n > 0 && self.len.fetch_sub(n, Ordering::Relaxed) >= self.capacity {
            self.space.notify_waiters();
        }
        n
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed).min(self.capacity)
    }

    /// Resolves when there may be something to pop. Cancel-safe: dropping it mid-way costs at most a spurious wake.
    pub async fn wait(&self) {
        for _ in 0..NAPS_BEFORE_PARKING {
            if !self.queue.is_empty() {
                return;
            }
            tokio::time::sleep(NAP).await;
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
    use crate::ingest::{Body, Source};

    fn item(n: u64) -> Inbound {
        Inbound {
            src: Source::Diagnostic,
            pid: 1,
            arrived_ms: n as f64,
            trusted: true,
            hook: None,
            body: Body::Json("{}".into()),
            ctx: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bounded_fifo_and_a_parked_worker_is_woken() {
        let q = std::sync::Arc::new(Ingress::new(3));
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
                q.wait().await;
                q.pop().map(|i| i.arrived_ms)
            })
        };
        tokio::time::sleep(Duration::from_millis(60)).await;
        let q2 = q.clone();
        std::thread::spawn(move || q2.push(item(9)).unwrap()).join().unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("the worker woke").unwrap();
        assert_eq!(got, Some(9.0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn push_waiting_loses_nothing() {
        let q = std::sync::Arc::new(Ingress::new(8));
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
                None => q.wait().await,
            }
        }
        producer.await.unwrap();
    }
}
