//! What an open trace costs: the bytes the assembler holds (live heap allocations, counted by a wrapping global
//! allocator) per turn in flight, for turns shaped like the gateway's chat turns up to their first model call
//! (`bench/synth.js`). The allocator's own overhead and fragmentation are not counted: `npm run bench` measures RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::Arc;

use clawtrace_core::assemble::{AssembleConfig, Assembler};
use clawtrace_core::ingest::{decode, Body, Inbound, Source};
use clawtrace_core::stats::Stats;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The events of one chat turn up to its first model call, with OpenClaw's trace context.
fn turn(i: usize, at: f64) -> Vec<serde_json::Value> {
    let trace = format!("{:032x}", i + 1);
    let span = |n: usize| format!("{:016x}", (i + 1) * 16 + n);
    let tr = |s: usize, p: Option<usize>| match p {
        Some(p) => serde_json::json!({"traceId": trace, "spanId": span(s), "parentSpanId": span(p)}),
        None => serde_json::json!({"traceId": trace, "spanId": span(s)}),
    };
    let sk = format!("agent:main:webchat:direct:user-{i:06}");
    let run = format!("{:08x}-6b1c-4d2e-9f3a-{:012x}", i, i);
    let sid = format!("{:08x}-1111-4222-8333-{:012x}", i, i);
    let base = serde_json::json!({"sessionKey": sk, "sessionId": sid, "runId": run, "channel": "webchat",
        "provider": "openai", "model": "gpt-4o-mini", "trigger": "user", "agentId": "main"});
    let ev = |ty: &str, trace: serde_json::Value, extra: serde_json::Value| {
        let mut v = base.clone();
        let o = v.as_object_mut().unwrap();
        o.insert("type".into(), ty.into());
        o.insert("ts".into(), at.into());
        o.insert("trace".into(), trace);
        o.extend(extra.as_object().unwrap().clone());
        v
    };
    vec![
        ev("message.received", tr(0, None), serde_json::json!({"messageId": run, "source": "dispatchInboundMessage"})),
        ev("message.queued", tr(0, None), serde_json::json!({"source": "dispatch", "queueDepth": 1})),
        ev("message.dispatch.started", tr(0, None), serde_json::json!({"source": "replyResolver"})),
        ev("session.turn.created", tr(0, None), serde_json::json!({})),
        ev("harness.run.started", tr(1, Some(0)), serde_json::json!({"harnessId": "openclaw"})),
        ev("run.started", tr(2, Some(1)), serde_json::json!({})),
        ev("context.assembled", tr(3, Some(2)), serde_json::json!({"messageCount": 2, "systemPromptChars": 47551})),
        ev(
            "model.call.started",
            tr(4, Some(2)),
            serde_json::json!({"callId": format!("call-{i}"), "api": "responses"}),
        ),
    ]
}

/// What the assembler may hold per open trace of this shape (five spans, two dozen attributes), its share of the
/// correlator's runs and sessions included, at the 10,000 open sessions (the hash tables' load, and so
/// their share per trace, depends on the count). The goal is 2 KiB of RSS. The budget guards what was won:
/// a `BTreeMap` per span and doubling growth were 5.5 KiB; every span's own copy of the turn's ids (now held once
/// per trace, `assemble/state.rs`, `SharedValues`), a trace id and empty event and link vectors per open span, and a
/// session's unused turn queues made it 5,060 bytes; 2,736 at 4,000 sessions. Then, at 10,000: a trace's spans in a
/// short vector instead of a hash table, shared value indices a byte, and static attribute keys (40-byte entries,
/// were 48) made it 2,318; an open span's status a byte (an error's text with its rare parts: the span state 128
/// bytes, was 168), the shared values in one length-prefixed buffer (no table of places), room for a turn's first
/// six spans at once, 2,114; attributes grown two at a time (were three, then four), 2,034; content notes behind a
/// pointer and a session's last run a `Box<str>`, 1,999 (2,070 at 4,000). What is left: five span states of 128
/// bytes, their attributes (400), the correlator's run and session entries with their keys (about 420: tables
/// keyed by owned strings), the shared values (170), the trace (128).
const BUDGET_BYTES: usize = 2048;

#[test]
fn an_open_trace_stays_within_its_memory_budget() {
    const TURNS: usize = 10_000;
    let stats = Arc::new(Stats::default());
    let cfg = AssembleConfig { max_open_traces: 2 * TURNS, ..Default::default() };
    let mut a = Assembler::new(cfg, stats.clone());
    let mut out = vec![];
    // Counted from before the events are made: they are consumed (and freed) by the assembler, so what is left at
    // the end is what it keeps.
    let start = LIVE.load(Relaxed);
    let events: Vec<Vec<_>> = (0..TURNS)
        .map(|i| {
            turn(i, 1e12 + i as f64)
                .into_iter()
                .map(|v| {
                    let inbound = Inbound {
                        src: Source::Diagnostic,
                        pid: 1,
                        arrived_ms: 1e12,
                        trusted: true,
                        hook: None,
                        body: Body::Value(v),
                        ctx: None,
                    };
                    decode(inbound).unwrap()
                })
                .collect()
        })
        .collect();
    for (i, turn) in events.into_iter().enumerate() {
        for e in turn {
            a.ingest(e, 1e12 + i as f64, &mut out);
        }
    }
    a.tick(1e12 + TURNS as f64, &mut out);
    assert!(out.is_empty() && a.open_traces() == TURNS, "every turn is still open");
    let held = LIVE.load(Relaxed) - start;
    let per_trace = held.max(0) as usize / TURNS;
    eprintln!("{per_trace} bytes per open trace");
    assert!(per_trace <= BUDGET_BYTES, "{per_trace} bytes per open trace");
}
