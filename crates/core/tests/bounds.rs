//! Memory stays bounded when closing events never come: open traces are capped in number and age, and late
//! events after export become straggler spans of the same trace rather than a new trace.

use std::sync::Arc;

use clawtrace_core::assemble::{AssembleConfig, Assembler};
use clawtrace_core::ingest::{decode, Body, Inbound, Source};
use clawtrace_core::stats::Stats;

mod common;
use common::assert_accounted;

fn ev(json: serde_json::Value, at: f64) -> clawtrace_core::ingest::Event {
    decode(Inbound {
        src: Source::Diagnostic,
        pid: 1,
        arrived_ms: at,
        trusted: true,
        hook: None,
        body: Body::Value(json),
        ctx: None,
    })
    .unwrap()
}

fn run_started(i: usize, at: f64) -> serde_json::Value {
    serde_json::json!({"type": "harness.run.started", "runId": format!("r{i}"), "sessionKey": format!("agent:main:s{i}"), "ts": at,
        "trace": {"traceId": format!("{:032x}", i + 1), "spanId": format!("{:016x}", i + 1)}})
}

#[test]
fn open_traces_are_capped_and_evicted_as_incomplete() {
    let stats = Arc::new(Stats::default());
    let cfg = AssembleConfig { max_open_traces: 100, ..Default::default() };
    let mut a = Assembler::new(cfg, stats.clone());
    let mut out = vec![];
    for i in 0..1000 {
        a.ingest(ev(run_started(i, 1e12 + i as f64), 1e12 + i as f64), 1e12 + i as f64, &mut out);
        assert!(a.open_traces() <= 100);
    }
    assert_eq!(out.len(), 900);
    assert!(out.iter().all(|t| t.incomplete));
    assert_eq!(Stats::get(&stats.traces_evicted_capacity), 900);
    // The least recently active leave first.
    let mut evicted: Vec<u128> = out.iter().map(|t| u128::from_be_bytes(t.trace_id)).collect();
    evicted.sort();
    assert_eq!(evicted, (1..=900).collect::<Vec<u128>>());
    assert_accounted(&stats, 1000);
}

#[test]
fn a_storm_of_new_traces_evicts_in_batches_oldest_first() {
    let stats = Arc::new(Stats::default());
    let cfg = AssembleConfig { max_open_traces: 6400, ..Default::default() };
    let mut a = Assembler::new(cfg, stats.clone());
    let mut out = vec![];
    for i in 0..20_000 {
        a.ingest(ev(run_started(i, 1e12 + i as f64), 1e12 + i as f64), 1e12 + i as f64, &mut out);
        assert!(a.open_traces() <= 6400);
    }
    assert_eq!(out.len() + a.open_traces(), 20_000, "every trace is either open or exported");
    let newest_evicted = out.iter().map(|t| u128::from_be_bytes(t.trace_id)).max().unwrap();
    let oldest_open = 20_000 - a.open_traces() as u128 + 1;
    assert!(newest_evicted < oldest_open, "only older traces were evicted");
    assert_accounted(&stats, 20_000);
}

#[test]
fn ttl_closes_traces_whose_end_never_comes() {
    let stats = Arc::new(Stats::default());
    let cfg = AssembleConfig { trace_ttl_ms: 1000.0, ..Default::default() };
    let mut a = Assembler::new(cfg, stats.clone());
    let mut out = vec![];
    a.ingest(ev(run_started(1, 1e12), 1e12), 1e12, &mut out);
    a.tick(1e12 + 999.0, &mut out);
    assert!(out.is_empty());
    a.tick(1e12 + 1000.0, &mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].incomplete);
    assert_eq!(a.open_traces(), 0);
    assert_eq!(Stats::get(&stats.traces_incomplete), 1);
    assert_accounted(&stats, 1);
}

#[test]
fn late_events_become_stragglers_of_the_same_trace() {
    let stats = Arc::new(Stats::default());
    let mut a = Assembler::new(AssembleConfig::default(), stats.clone());
    let mut out = vec![];
    let t0 = 1e12;
    a.ingest(ev(run_started(7, t0), t0), t0, &mut out);
    let done = serde_json::json!({"type": "harness.run.completed", "runId": "r7", "ts": t0 + 10.0, "outcome": "completed",
        "trace": {"traceId": format!("{:032x}", 8), "spanId": format!("{:016x}", 8)}});
    a.ingest(ev(done, t0 + 10.0), t0 + 10.0, &mut out);
    a.tick(t0 + 10.0 + 2000.0, &mut out);
    assert_eq!(out.len(), 1, "closed and past the grace window");
    let late = serde_json::json!({"type": "model.call.completed", "runId": "r7", "ts": t0 + 9.0, "callId": "r7:model:1", "model": "m",
        "trace": {"traceId": format!("{:032x}", 8), "spanId": "00000000000000aa", "parentSpanId": format!("{:016x}", 8)}});
    a.ingest(ev(late, t0 + 5000.0), t0 + 5000.0, &mut out);
    a.tick(t0 + 8000.0, &mut out);
    assert_eq!(out.len(), 2);
    let s = &out[1];
    assert!(s.straggler);
    assert_eq!(s.trace_id, out[0].trace_id);
    assert_eq!(s.spans.len(), 1, "only the late span, not its already-exported parent");
    assert_eq!(s.spans[0].parent_span_id, Some(out[0].spans[0].span_id));
    assert_accounted(&stats, 3);
}

fn harness_completed(i: usize, at: f64) -> serde_json::Value {
    serde_json::json!({"type": "harness.run.completed", "runId": format!("r{i}"), "sessionKey": format!("agent:main:s{i}"), "ts": at,
        "outcome": "completed", "trace": {"traceId": format!("{:032x}", i + 1), "spanId": format!("{:016x}", i + 1)}})
}

#[test]
fn remembered_exports_stay_within_max_remembered_traces() {
    let stats = Arc::new(Stats::default());
    let cfg = AssembleConfig { max_remembered_traces: 50, grace_ms: 10.0, ..Default::default() };
    let mut a = Assembler::new(cfg, stats.clone());
    let mut out = vec![];
    for i in 0..500 {
        let at = 1e12 + 100.0 * i as f64;
        a.ingest(ev(run_started(i, at), at), at, &mut out);
        a.ingest(ev(harness_completed(i, at + 1.0), at + 1.0), at + 1.0, &mut out);
        a.tick(at + 50.0, &mut out);
        assert!(a.remembered_traces() <= 50, "{} remembered after {i}", a.remembered_traces());
    }
    assert_eq!(out.len(), 500);
    assert_eq!(a.remembered_traces(), 50);
    // The newest is still remembered: its late event is a straggler of the same trace, not a new one.
    let late = 1e12 + 100.0 * 500.0;
    let context = serde_json::json!({"type": "context.assembled", "runId": "r499", "ts": late, "trace": {
        "traceId": format!("{:032x}", 500), "spanId": "00000000000009999", "parentSpanId": format!("{:016x}", 500)}});
    a.ingest(ev(context, late), late, &mut out);
    a.tick(late + 50.0, &mut out);
    assert!(out.last().unwrap().straggler);
    assert_accounted(&stats, 1001);
}

#[test]
fn the_deadline_heap_stays_bounded_while_traces_stay_busy() {
    let stats = Arc::new(Stats::default());
    let cfg = AssembleConfig { grace_ms: 10.0, ..Default::default() };
    let mut a = Assembler::new(cfg, stats.clone());
    let mut out = vec![];
    // 100 traces that never close, each touched after every grace window: every look at one reschedules it.
    for round in 0..500 {
        let at = 1e12 + 20.0 * round as f64;
        for i in 0..100 {
            a.ingest(ev(run_started(i, at), at), at, &mut out);
        }
        a.tick(at + 15.0, &mut out);
        assert!(a.pending_deadlines() <= 2 * a.open_traces() + 1024, "{} deadlines", a.pending_deadlines());
    }
    assert!(out.is_empty());
    assert_eq!(a.open_traces(), 100);
    assert_accounted(&stats, 50_000);
}
