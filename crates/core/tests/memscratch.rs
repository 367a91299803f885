use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::Arc;

use clawtrace_core::assemble::{AssembleConfig, Assembler};
use clawtrace_core::ingest::{decode, Body, Inbound, Source};
use clawtrace_core::stats::Stats;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
const NB: usize = 8192;
static HIST: [AtomicIsize; NB] = [const { AtomicIsize::new(0) }; NB];
static BIG: AtomicIsize = AtomicIsize::new(0);
fn b(s: usize) -> usize {
    s.min(NB - 1)
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        HIST[b(layout.size())].fetch_add(1, Relaxed);
        if layout.size() >= NB - 1 {
            BIG.fetch_add(layout.size() as isize, Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        HIST[b(layout.size())].fetch_sub(1, Relaxed);
        if layout.size() >= NB - 1 {
            BIG.fetch_sub(layout.size() as isize, Relaxed);
        }
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        HIST[b(layout.size())].fetch_sub(1, Relaxed);
        HIST[b(new_size)].fetch_add(1, Relaxed);
        if layout.size() >= NB - 1 {
            BIG.fetch_sub(layout.size() as isize, Relaxed);
        }
        if new_size >= NB - 1 {
            BIG.fetch_add(new_size as isize, Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}
#[global_allocator]
static ALLOC: Counting = Counting;

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

#[test]
fn breakdown() {
    use clawtrace_core::assemble::state::*;
    use clawtrace_core::model::*;
    use std::mem::size_of;
    eprintln!("SpanState {} OpenSpan {} TraceState {} AttrValue {} AttrKey {} Status {} Attrs {} SharedValues {} (AttrKey,AttrValue) {}",
        size_of::<SpanState>(), size_of::<OpenSpan>(), size_of::<TraceState>(), size_of::<AttrValue>(), size_of::<AttrKey>(),
        size_of::<Status>(), size_of::<Attrs>(), size_of::<SharedValues>(), size_of::<(AttrKey, AttrValue)>());
    const TURNS: usize = 10_000;
    let stats = Arc::new(Stats::default());
    let cfg = AssembleConfig { max_open_traces: 2 * TURNS, ..Default::default() };
    let mut a = Assembler::new(cfg, stats.clone());
    let mut out = vec![];
    let snap = || HIST.iter().map(|h| h.load(Relaxed)).collect::<Vec<_>>();
    let start = LIVE.load(Relaxed);
    let h0 = snap();
    let big0 = BIG.load(Relaxed);
    let events: Vec<Vec<_>> = (0..TURNS)
        .map(|i| {
            turn(i, 1e12 + i as f64)
                .into_iter()
                .map(|v| {
                    decode(Inbound {
                        src: Source::Diagnostic,
                        pid: 1,
                        arrived_ms: 1e12,
                        trusted: true,
                        hook: None,
                        body: Body::Value(v),
                        ctx: None,
                    })
                    .unwrap()
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
    assert!(out.is_empty() && a.open_traces() == TURNS);
    let held = LIVE.load(Relaxed) - start;
    let h1 = snap();
    eprintln!("{} bytes per open trace", held / TURNS as isize);
    let mut big = 0isize;
    for (s, (x, y)) in h0.iter().zip(&h1).enumerate() {
        let d = y - x;
        if d != 0 && s < NB - 1 {
            let per = d as f64 / TURNS as f64;
            if per.abs() >= 0.05 {
                eprintln!("size {s:5}: {per:7.3} per trace = {:8.1} B", per * s as f64);
            } else {
                big += d * s as isize;
            }
        }
    }
    eprintln!("big allocations: {} B per trace", (BIG.load(Relaxed) - big0) / TURNS as isize);
    eprintln!("small/rare rest: {} B per trace", big / TURNS as isize);
    std::mem::forget(a);
}
