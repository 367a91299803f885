//! When each open trace is next worth a look: a min-heap of deadlines (grace window, TTL, idle, follow-up hold), so
//! a tick touches only the traces that are due instead of every open trace (`docs/ARCHITECTURE.md`, "Contracts",
//! idle costs nothing).
//!
//! Entries are never removed in place. A trace remembers the time of its earliest pending entry (`check_at_ms`);
//! an entry of another time, or of a trace that has left, is stale and skipped when it comes up. A look at a trace
//! that is not ready yet schedules the next one from its state (`verdict`), and an event only has to make sure a
//! look comes no later than its own grace window. The heap is rebuilt from the traces when stale entries
//! outnumber live ones, so it stays within a small multiple of the open traces.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::state::{TraceState, Traces};
use crate::model::TraceId;

/// An infra-only trace (a lone `security.event`, `gateway.rpc`) never closes by itself: it leaves after this long
/// without news.
pub const INFRA_IDLE_MS: f64 = 10_000.0;
/// How long a message queued behind a busy run waits for the follow-up run that answers it.
pub const FOLLOW_UP_HOLD_MS: f64 = 300_000.0;

/// What a look at an open trace decides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// It leaves now; `incomplete` when its TTL, not its own events, ended it.
    Leave { incomplete: bool },
    /// Nothing to do before this time (event-clock ms), unless an event comes.
    Wait(f64),
}

/// The one rule for when an open trace leaves.
pub fn verdict(t: &TraceState, now_ms: f64, grace_ms: f64, ttl_ms: f64) -> Verdict {
    let closed = t.is_closed();
    let infra_only = !t.agent_work && !t.straggler;
    let quiet = now_ms - t.last_event_ms;
    if closed && quiet >= grace_ms {
        return Verdict::Leave { incomplete: false };
    }
    if t.awaiting_follow_up && quiet >= FOLLOW_UP_HOLD_MS {
        // The answer never came (or is very late): the message leaves as it is, complete.
        return Verdict::Leave { incomplete: false };
    }
    if now_ms - t.created_ms >= ttl_ms {
        return Verdict::Leave { incomplete: true };
    }
    if infra_only && quiet >= grace_ms.max(INFRA_IDLE_MS) {
        return Verdict::Leave { incomplete: false };
    }
    let mut next = t.created_ms + ttl_ms;
    if closed {
        next = next.min(t.last_event_ms + grace_ms);
    }
    if t.awaiting_follow_up {
        next = next.min(t.last_event_ms + FOLLOW_UP_HOLD_MS);
    }
    if infra_only {
        next = next.min(t.last_event_ms + grace_ms.max(INFRA_IDLE_MS));
    }
    Verdict::Wait(next)
}

#[derive(Debug, Clone, Copy)]
struct Due {
    at_ms: f64,
    trace: TraceId,
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at_ms.total_cmp(&other.at_ms).then(self.trace.cmp(&other.trace))
    }
}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Due {}

/// Stale entries allowed beyond the live ones before a rebuild.
const SLACK: usize = 1024;

#[derive(Default)]
pub struct Deadlines {
    heap: BinaryHeap<Reverse<Due>>,
}

impl Deadlines {
    /// Makes sure `trace` gets a look no later than `at_ms`.
    pub fn ensure(&mut self, trace: &mut TraceState, at_ms: f64) {
        if at_ms < trace.check_at_ms {
            trace.check_at_ms = at_ms;
            self.heap.push(Reverse(Due { at_ms, trace: trace.trace_id }));
        }
    }

    /// The earliest pending look (a stale one included: at worst a tick with nothing to do).
    pub fn next_ms(&self) -> f64 {
        self.heap.peek().map_or(f64::INFINITY, |Reverse(d)| d.at_ms)
    }

    /// The next trace whose look is due by `now_ms`, its pending look consumed (the caller decides and schedules
    /// the next one).
    pub fn pop_due(&mut self, now_ms: f64, traces: &mut Traces) -> Option<TraceId> {
        while let Some(Reverse(d)) = self.heap.peek().copied() {
            if d.at_ms > now_ms {
                return None;
            }
            self.heap.pop();
            if let Some(t) = traces.get_mut(&d.trace).filter(|t| t.check_at_ms == d.at_ms) {
                t.check_at_ms = f64::INFINITY;
                return Some(d.trace);
            }
        }
        None
    }

    /// Every open trace looked at again at the next tick (the grace window or TTL changed).
    pub fn reset(&mut self, traces: &mut Traces) {
        self.heap.clear();
        for t in traces.values_mut() {
            t.check_at_ms = f64::INFINITY;
            self.ensure(t, f64::NEG_INFINITY);
        }
    }

    /// Drops the stale entries once they outnumber the live ones (amortised O(1) per entry pushed).
    pub fn bound(&mut self, traces: &Traces) {
        if self.heap.len() <= traces.len().saturating_mul(2) + SLACK {
            return;
        }
        self.heap = traces
            .values()
            .filter(|t| t.check_at_ms.is_finite() || t.check_at_ms == f64::NEG_INFINITY)
            .map(|t| Reverse(Due { at_ms: t.check_at_ms, trace: t.trace_id }))
            .collect();
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// Entries held, stale ones included (tests: the heap stays bounded).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
