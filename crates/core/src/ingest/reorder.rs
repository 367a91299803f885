//! Per-process reordering by `seq`. OpenClaw delivers many event types through an async queue, so arrival order is
//! not emit order; `seq` is a process-wide counter. Events wait a short window for their predecessors, then go out
//! in `seq` order. A gap never blocks longer than the window (the public bus has gaps by design: trusted events are
//! filtered out), and the buffer is bounded.

use std::collections::{BTreeMap, HashMap};

use super::Event;
use crate::id_hash::IdHash;

pub struct Reorder {
    window_ms: f64,
    max_buffered: usize,
    /// Looked up once per event: hashed by the id hasher, not SipHash (pids come from the host or a recording).
    pids: HashMap<u32, PidBuffer, IdHash>,
    buffered: usize,
}

#[derive(Default)]
struct PidBuffer {
    next: Option<u64>,
    waiting: BTreeMap<u64, Event>,
}

impl Reorder {
    pub fn new(window_ms: f64, max_buffered: usize) -> Self {
        Reorder { window_ms, max_buffered, pids: HashMap::default(), buffered: 0 }
    }

    /// Forgets every process's `seq` position (call only when nothing is buffered: after `drain`).
    pub fn forget_history(&mut self) {
        self.pids.clear();
        self.buffered = 0;
    }

    pub fn len(&self) -> usize {
        self.buffered
    }

    pub fn is_empty(&self) -> bool {
        self.buffered == 0
    }

    /// Adds an event; everything that may now leave is appended to `out` in order.
    /// Returns how many events were forced out by the size bound.
    pub fn push(&mut self, event: Event, now_ms: f64, out: &mut Vec<Event>) -> u64 {
        let Some(seq) = event.seq else {
            out.push(event);
            return 0;
        };
        let buf = self.pids.entry(event.pid).or_default();
        match buf.next {
            // Older than what was already released: a straggler, pass it on at once.
            Some(next) if seq < next => {
                out.push(event);
                return 0;
            }
            None => buf.next = Some(seq),
            _ => {}
        }
        // The common case, next in line with nothing waiting: straight out, never into the buffer.
        if buf.next == Some(seq) && buf.waiting.is_empty() {
            buf.next = Some(seq + 1);
            out.push(event);
            if self.buffered > 0 {
                self.release(now_ms, out);
            }
            return 0;
        }
        if buf.waiting.insert(seq, event).is_none() {
            self.buffered += 1;
        }
        let mut forced = 0;
        while self.buffered > self.max_buffered {
            forced += self.release_oldest(out);
        }
        self.release(now_ms, out);
        forced
    }

    /// When the earliest waiting event's window runs out (event-clock ms; infinite when nothing waits), so the
    /// worker can wake exactly then instead of polling.
    pub fn next_release_ms(&self) -> f64 {
        let heads = self.pids.values().filter_map(|b| b.waiting.values().next());
        heads.map(|e| e.arrived_ms + self.window_ms).fold(f64::INFINITY, f64::min)
    }

    /// Releases events whose predecessors arrived or whose window ran out.
    pub fn release(&mut self, now_ms: f64, out: &mut Vec<Event>) {
        for buf in self.pids.values_mut() {
            while let Some((&seq, head)) = buf.waiting.iter().next() {
                let in_order = buf.next.is_some_and(|n| seq <= n);
                if !in_order && now_ms - head.arrived_ms < self.window_ms {
                    break;
                }
                let ev = buf.waiting.remove(&seq).expect("head exists");
                self.buffered -= 1;
                buf.next = Some(seq + 1);
                out.push(ev);
            }
        }
    }

    /// Releases everything, in order (flush and shutdown).
    pub fn drain(&mut self, out: &mut Vec<Event>) {
        self.release(f64::INFINITY, out);
    }

    fn release_oldest(&mut self, out: &mut Vec<Event>) -> u64 {
        let oldest = self
            .pids
            .iter()
            .filter_map(|(pid, b)| b.waiting.values().next().map(|e| (*pid, e.arrived_ms)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(pid, _)| pid);
        let Some(pid) = oldest else { return 0 };
        let buf = self.pids.get_mut(&pid).expect("pid exists");
        let (seq, ev) = buf.waiting.pop_first().expect("non-empty");
        self.buffered -= 1;
        buf.next = Some(seq + 1);
        out.push(ev);
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{decode, Inbound};
    use crate::testing::diagnostic;

    fn ev(pid: u32, seq: u64, at: f64) -> Event {
        decode(Inbound { pid, ..diagnostic(format!("{{\"type\":\"t\",\"seq\":{seq}}}"), at) }).unwrap()
    }

    fn seqs(v: &[Event]) -> Vec<u64> {
        v.iter().map(|e| e.seq.unwrap()).collect()
    }

    #[test]
    fn reorders_within_window_and_releases_gaps_after_it() {
        let mut r = Reorder::new(100.0, 1000);
        let mut out = vec![];
        r.push(ev(1, 1, 0.0), 0.0, &mut out);
        r.push(ev(1, 3, 1.0), 1.0, &mut out);
        assert_eq!(seqs(&out), vec![1]);
        r.push(ev(1, 2, 2.0), 2.0, &mut out);
        assert_eq!(seqs(&out), vec![1, 2, 3]);
        assert_eq!(r.next_release_ms(), f64::INFINITY, "nothing waits");
        r.push(ev(1, 5, 3.0), 3.0, &mut out);
        assert_eq!(r.len(), 1);
        assert_eq!(r.next_release_ms(), 103.0, "the worker wakes when the gap's window ends");
        r.release(50.0, &mut out);
        assert_eq!(r.len(), 1, "gap waits for the window");
        r.release(104.0, &mut out);
        assert_eq!(seqs(&out), vec![1, 2, 3, 5]);
        assert_eq!(r.next_release_ms(), f64::INFINITY);
        r.push(ev(1, 4, 105.0), 105.0, &mut out);
        assert_eq!(seqs(&out), vec![1, 2, 3, 5, 4], "late event passes straight through");
    }

    #[test]
    fn processes_are_independent_and_buffer_is_bounded() {
        let mut r = Reorder::new(1e9, 3);
        let mut out = vec![];
        r.push(ev(1, 10, 0.0), 0.0, &mut out);
        r.push(ev(2, 1, 0.0), 0.0, &mut out);
        assert_eq!(out.len(), 2);
        for s in [13, 15, 17, 19] {
            r.push(ev(1, s, 1.0), 1.0, &mut out);
        }
        assert!(r.len() <= 3);
        r.drain(&mut out);
        assert_eq!(seqs(&out), vec![10, 1, 13, 15, 17, 19]);
    }
}
