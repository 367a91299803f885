//! Bounded property tests (run by `cargo test`, a few seconds): decoding never panics whatever the text, and
//! assembly never panics whatever sequence of decodable events arrives, with every event accounted for exactly
//! once and every trace it emits well formed.

use std::sync::Arc;

use clawtrace_core::assemble::{AssembleConfig, Assembler};
use clawtrace_core::ingest::{decode, Body, Inbound, Source};
use clawtrace_core::stats::Stats;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const TYPES: &[&str] = &[
    "message.queued",
    "message.received",
    "message.processed",
    "message.dispatch.started",
    "message.dispatch.completed",
    "harness.run.started",
    "harness.run.completed",
    "harness.run.error",
    "run.started",
    "run.completed",
    "run.execution_phase",
    "model.call.started",
    "model.call.completed",
    "model.call.error",
    "model.usage",
    "tool.execution.started",
    "tool.execution.completed",
    "tool.execution.error",
    "context.assembled",
    "session.state",
    "queue.lane.dequeue",
    "diagnostic.heartbeat",
    "no.such.event",
];
const HOOKS: &[&str] =
    &["before_tool_call", "after_tool_call", "llm_input", "llm_output", "agent_end", "subagent_spawned", "Bad Name"];
const IDS: &[&str] = &["r1", "r2", "c1", "", "agent:main:s1", "agent:main:s2", "😀\u{fffd}"];

/// Bounded: a few seconds in a release build, and no regression files written into the source tree.
fn bounded() -> ProptestConfig {
    ProptestConfig { cases: 192, failure_persistence: None, ..ProptestConfig::default() }
}

/// Text near JSON: fragments of events, escapes (lone surrogates among them), nesting and garbage.
fn jsonish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"type\":".to_string()),
        Just("\"run.started\"".to_string()),
        Just("\"trace\":{\"traceId\":\"9ec7be0fb910e91ed558a422cd89a402\"}".to_string()),
        Just(",".to_string()),
        Just("\"\\ud83d\"".to_string()),
        Just("\"\\udc00\\ud800\"".to_string()),
        Just("\"\\\\ud83d\"".to_string()),
        Just("\\u".to_string()),
        Just("1e999".to_string()),
        Just("-0".to_string()),
        Just("null".to_string()),
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

/// A value of any JSON kind, small.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(IDS).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        Just(json!({"input": 3, "output": 4})),
        Just(json!([1, "x"])),
    ]
}

fn hex(n: u8, len: usize) -> String {
    format!("{n:0len$x}")
}

/// A diagnostic, agent or hook event from a small vocabulary, so that ids collide and real traces form, with any
/// field allowed to carry the wrong type.
fn event() -> impl Strategy<Value = (Source, Option<String>, Value, f64)> {
    let fields = prop::collection::vec(
        (
            prop::sample::select(
                &[
                    "runId",
                    "callId",
                    "sessionKey",
                    "sessionId",
                    "toolCallId",
                    "toolName",
                    "model",
                    "outcome",
                    "usage",
                    "seq",
                    "ts",
                    "durationMs",
                    "phase",
                    "state",
                    "data",
                    "error",
                    "stream",
                    "costUsd",
                ][..],
            ),
            scalar(),
        ),
        0..6,
    );
    (
        prop::sample::select(TYPES),
        prop::sample::select(IDS),
        prop::sample::select(IDS),
        prop::option::of((1u8..4, prop::option::of(1u8..6), prop::option::of(1u8..6))),
        fields,
        0u8..3,
        prop::sample::select(HOOKS),
        0.0f64..5000.0,
    )
        .prop_map(|(ty, run, session, trace, extra, src, hook, at)| {
            let mut m = Map::new();
            m.insert("type".into(), ty.into());
            m.insert("runId".into(), run.into());
            m.insert("sessionKey".into(), session.into());
            if let Some((t, s, p)) = trace {
                let mut tc = Map::new();
                tc.insert("traceId".into(), hex(t, 32).into());
                if let Some(s) = s {
                    tc.insert("spanId".into(), hex(s, 16).into());
                }
                if let Some(p) = p {
                    tc.insert("parentSpanId".into(), hex(p, 16).into());
                }
                m.insert("trace".into(), tc.into());
            }
            for (k, v) in extra {
                m.insert(k.into(), v);
            }
            let (source, hook) = match src {
                0 => (Source::Diagnostic, None),
                1 => {
                    m.insert("stream".into(), "lifecycle".into());
                    (Source::Agent, None)
                }
                _ => (Source::Hook, Some(hook.to_string())),
            };
            (source, hook, Value::Object(m), 1.7e12 + at)
        })
}

fn inbound(src: Source, hook: Option<String>, body: Body, at: f64) -> Inbound {
    Inbound { src, pid: 1, arrived_ms: at, trusted: true, hook, body, ctx: None }
}

proptest! {
    #![proptest_config(bounded())]

    #[test]
    fn decoding_any_text_never_panics(text in jsonish()) {
        for src in [Source::Diagnostic, Source::Agent, Source::Hook] {
            if let Ok(e) = decode(inbound(src, Some("llm_input".into()), Body::Json(text.clone()), 1.0)) {
                prop_assert_eq!(e.kind.entry().source, src, "a decoded event is of a kind of its own source");
            }
        }
    }

    #[test]
    fn assembly_accounts_for_every_event_and_emits_well_formed_traces(
        events in prop::collection::vec(event(), 1..80),
        legacy in any::<bool>(),
        capture in any::<bool>(),
    ) {
        let stats = Arc::new(Stats::default());
        let cfg = AssembleConfig { legacy_host: legacy, capture_content: capture, max_open_traces: 8, grace_ms: 50.0, ..Default::default() };
        let mut a = Assembler::new(cfg, stats.clone());
        let mut out = Vec::new();
        let mut decoded = 0u64;
        let mut last = 0.0f64;
        for (src, hook, body, at) in events {
            last = last.max(at);
            // Text through the same path as the record calls: lone surrogates and all.
            let text = body.to_string();
            if let Ok(e) = decode(inbound(src, hook, Body::Json(text), at)) {
                decoded += 1;
                a.ingest(e, last, &mut out);
                a.tick(last, &mut out);
            }
        }
        a.drain_all(last + 1e9, &mut out);
        prop_assert_eq!(a.open_traces(), 0);
        for t in &out {
            prop_assert!(t.spans.iter().all(|s| s.trace_id == t.trace_id), "a span in another trace");
            let mut ids: Vec<_> = t.spans.iter().map(|s| s.span_id).collect();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), t.spans.len(), "span ids unique within a trace");
        }
        if !legacy {
            // Each decoded event lands in exactly one outcome (legacy mode also synthesises events of its own).
            let outcomes = Stats::get(&stats.events_in_spans)
                + Stats::get(&stats.skipped_unknown_type)
                + Stats::get(&stats.skipped_infra_event)
                + Stats::get(&stats.skipped_no_correlation)
                + Stats::get(&stats.skipped_content_disabled);
            prop_assert_eq!(outcomes, decoded);
        }
    }
}
