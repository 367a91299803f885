//! Benchmark-only entry points (`bench/boundary.mjs`), built only with `--features bench` (`npm run bench` builds
//! that addon into `bench/.addon/`): never in the production addon or its types. They take the same diagnostic
//! event across the boundary in different ways and enqueue it exactly like `recordDiagnostic`, so the only
//! difference measured is the crossing. The bench addon also counts its live heap (`Counting`, `benchHeapBytes`):
//! `bench/background.mjs` reports it per open trace beside the RSS growth, which moves with the allocator's retention.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

use clawtrace_core::ingest::Body;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::guarded;

// ---------------------------------------------------------------------------------------------------------------

/// Internal benchmark entry point: `evt.trace`, as a typed object.
#[napi(object)]
pub struct BenchTrace {
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub parent_span_id: Option<String>,
}

/// Internal benchmark entry point: `evt.usage`, as a typed object.
#[napi(object)]
pub struct BenchUsage {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub total: Option<f64>,
}

/// Internal benchmark entry point: the envelope fields of a diagnostic event, converted field by field by napi-rs.
/// Fields not listed here are not carried (the other variants carry the whole event).
#[napi(object)]
pub struct BenchEvent {
    #[napi(js_name = "type")]
    pub kind: String,
    pub seq: Option<f64>,
    pub ts: Option<f64>,
    pub trace: Option<BenchTrace>,
    pub run_id: Option<String>,
    pub call_id: Option<String>,
    pub session_key: Option<String>,
    pub session_id: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub duration_ms: Option<f64>,
    pub outcome: Option<String>,
    pub usage: Option<BenchUsage>,
    pub channel: Option<String>,
    pub phase: Option<String>,
    pub reason: Option<String>,
    pub state: Option<String>,
    pub lane: Option<String>,
    pub tool_call_id: Option<String>,
    pub tool_name: Option<String>,
    pub agent_id: Option<String>,
    pub wait_ms: Option<f64>,
    pub cost_usd: Option<f64>,
}

#[derive(Default)]
struct BenchObj(serde_json::Map<String, serde_json::Value>);

impl BenchObj {
    fn s(&mut self, k: &str, v: Option<String>) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(k.into(), v.into());
        }
        self
    }
    fn n(&mut self, k: &str, v: Option<f64>) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(k.into(), crate::boundary::json_number(v));
        }
        self
    }
    fn o(&mut self, k: &str, v: Option<BenchObj>) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(k.into(), v.0.into());
        }
        self
    }
}

fn bench_trace(trace_id: Option<String>, span_id: Option<String>, parent_span_id: Option<String>) -> Option<BenchObj> {
    if trace_id.is_none() && span_id.is_none() && parent_span_id.is_none() {
        return None;
    }
    let mut o = BenchObj::default();
    o.s("traceId", trace_id).s("spanId", span_id).s("parentSpanId", parent_span_id);
    Some(o)
}

fn bench_enqueue(body: Body) -> bool {
    crate::enqueue_untrusted_diagnostic(body)
}

/// Internal benchmark entry point: an empty N-API call taking the event, the baseline cost of crossing at all.
#[napi]
pub fn bench_noop(_evt: Unknown) -> bool {
    true
}

/// Internal benchmark entry point: the event converted by napi-rs into a typed `#[napi(object)]` struct, then into
/// a `serde_json::Value` on the calling thread (`Body::Value`), and enqueued like `recordDiagnostic`.
#[napi]
pub fn bench_record_typed(evt: BenchEvent) -> bool {
    guarded(false, || {
        let mut o = BenchObj::default();
        o.s("type", Some(evt.kind)).n("seq", evt.seq).n("ts", evt.ts);
        o.o("trace", evt.trace.and_then(|t| bench_trace(t.trace_id, t.span_id, t.parent_span_id)));
        o.s("runId", evt.run_id)
            .s("callId", evt.call_id)
            .s("sessionKey", evt.session_key)
            .s("sessionId", evt.session_id)
            .s("provider", evt.provider)
            .s("model", evt.model)
            .n("durationMs", evt.duration_ms)
            .s("outcome", evt.outcome);
        o.o(
            "usage",
            evt.usage.map(|u| {
                let mut o = BenchObj::default();
                o.n("input", u.input)
                    .n("output", u.output)
                    .n("cacheRead", u.cache_read)
                    .n("cacheWrite", u.cache_write)
                    .n("total", u.total);
                o
            }),
        );
        o.s("channel", evt.channel)
            .s("phase", evt.phase)
            .s("reason", evt.reason)
            .s("state", evt.state)
            .s("lane", evt.lane)
            .s("toolCallId", evt.tool_call_id)
            .s("toolName", evt.tool_name)
            .s("agentId", evt.agent_id)
            .n("waitMs", evt.wait_ms)
            .n("costUsd", evt.cost_usd);
        bench_enqueue(Body::Value(o.0.into()))
    })
}

/// Internal benchmark entry point: the main envelope fields as separate arguments, packed into `Body::Value` and
/// enqueued like `recordDiagnostic`.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn bench_record_positional(
    kind: String,
    seq: Option<f64>,
    ts: Option<f64>,
    trace_id: Option<String>,
    span_id: Option<String>,
    parent_span_id: Option<String>,
    run_id: Option<String>,
    session_key: Option<String>,
    session_id: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    duration_ms: Option<f64>,
) -> bool {
    guarded(false, || {
        let mut o = BenchObj::default();
        o.s("type", Some(kind)).n("seq", seq).n("ts", ts);
        o.o("trace", bench_trace(trace_id, span_id, parent_span_id));
        o.s("runId", run_id)
            .s("sessionKey", session_key)
            .s("sessionId", session_id)
            .s("provider", provider)
            .s("model", model)
            .n("durationMs", duration_ms);
        bench_enqueue(Body::Value(o.0.into()))
    })
}

// ---------------------------------------------------------------------------------------------------------------

/// mimalloc, counting the bytes live (asked for, not the allocator's rounding) in a slot per thread that only its
/// thread writes: a plain load and store, no locked instruction and no shared cache line on the background's hot
/// path, so the count leaves the bench's CPU figures alone. Threads beyond the slots share the first, atomically.
pub struct Counting;

#[repr(align(64))]
struct Slot(AtomicIsize);

const SLOTS: usize = 64;
static LIVE: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// This thread's slot; `usize::MAX` until its first allocation. A `const` thread-local without a destructor:
    /// reading it never allocates.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn count(bytes: isize) {
    let i = MY_SLOT
        .try_with(|s| {
            if s.get() == usize::MAX {
                let next = NEXT_SLOT.fetch_add(1, Relaxed);
                s.set(if next < SLOTS { next } else { 0 });
            }
            s.get()
        })
        .unwrap_or(0);
    let live = &LIVE[i].0;
    if i == 0 {
        live.fetch_add(bytes, Relaxed);
    } else {
        live.store(live.load(Relaxed) + bytes, Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        mimalloc::MiMalloc.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        mimalloc::MiMalloc.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        mimalloc::MiMalloc.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        mimalloc::MiMalloc.realloc(ptr, layout, new_size)
    }
}

/// Internal benchmark entry point: bytes the addon has allocated and not freed, every thread together.
#[napi]
pub fn bench_heap_bytes() -> f64 {
    LIVE.iter().map(|s| s.0.load(Relaxed)).sum::<isize>() as f64
}

/// Internal benchmark entry point: the resident bytes of the addon's allocator, the RSS of the mappings that hold
/// its allocations (mimalloc's arenas: found by where a fresh small and a fresh large block land), from
/// `/proc/self/smaps`; `null` where there is no such file. Node's own allocations (glibc, V8) are elsewhere: the
/// process's RSS growth mixes those in.
#[napi]
pub fn bench_allocator_rss_bytes() -> Option<f64> {
    let small = Box::new(0u64);
    let large: Vec<u8> = Vec::with_capacity(1 << 20);
    let probes = [&*small as *const u64 as usize, large.as_ptr() as usize];
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut ours = false;
    let mut bytes = 0u64;
    for line in smaps.lines() {
        let first = line.split_ascii_whitespace().next().unwrap_or("");
        if let Some(kb) = line.strip_prefix("Rss:") {
            if ours {
                bytes += kb.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0) * 1024;
            }
        } else if let Some((start, end)) = first.split_once('-') {
            // A mapping's header line: `start-end perms offset dev inode path`.
            let range = usize::from_str_radix(start, 16).ok().zip(usize::from_str_radix(end, 16).ok());
            ours = range.is_some_and(|(start, end)| probes.iter().any(|p| (start..end).contains(p)));
        }
    }
    Some(bytes as f64)
}
