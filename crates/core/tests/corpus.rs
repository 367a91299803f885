//! Acceptance on the real OpenClaw 2026.9.6 corpus: per scenario (between marker lines), the traces, their span
//! trees, model calls with usage, failed turns, tool spans — with OpenClaw's trace context, and again with every
//! `trace` field stripped (correlation mode), where only ids and the documented shape differences change.

use std::collections::HashMap;
use std::sync::Arc;

use clawtrace_core::assemble::{AssembleConfig, Assembler};
use clawtrace_core::ingest::record::{parse_record, Record};
use clawtrace_core::ingest::reorder::Reorder;
use clawtrace_core::ingest::{decode, Body};
use clawtrace_core::model::{SpanRole, Trace};
use clawtrace_core::stats::Stats;

mod common;
use common::{assert_accounted, corpus_events, enriched, CORPUS};

struct Scenario {
    name: String,
    traces: Vec<Trace>,
}

/// Replays the corpus as the pipeline would (reorder by seq, event-time clock) and cuts the output at markers:
/// at each marker everything closed is flushed, so each scenario's traces are its own.
fn replay(strip_trace: bool) -> (Vec<Scenario>, Arc<Stats>) {
    replay_text(CORPUS, strip_trace)
}

fn replay_text(text: &str, strip_trace: bool) -> (Vec<Scenario>, Arc<Stats>) {
    replay_with(text, strip_trace, AssembleConfig::default())
}

fn replay_with(text: &str, strip_trace: bool, cfg: AssembleConfig) -> (Vec<Scenario>, Arc<Stats>) {
    let stats = Arc::new(Stats::default());
    let mut asm = Assembler::new(cfg, stats.clone());
    let mut reorder = Reorder::new(250.0, 10_000);
    let mut scenarios = vec![Scenario { name: "local turn 1: plain".into(), traces: vec![] }];
    let (mut released, mut out) = (vec![], vec![]);
    let mut now = 0.0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_record(line, 1).expect("corpus lines parse") {
            Record::Marker(note) => {
                reorder.drain(&mut released);
                for e in released.drain(..) {
                    asm.ingest(e, now, &mut out);
                }
                asm.tick(now + 60_000.0, &mut out);
                scenarios.last_mut().unwrap().traces.append(&mut enriched(std::mem::take(&mut out)));
                scenarios
                    .push(Scenario { name: note.trim_matches(|c| c == '-' || c == ' ').to_string(), traces: vec![] });
            }
            Record::Event(mut inbound) => {
                now = inbound.arrived_ms;
                if strip_trace {
                    if let Body::Value(v) = &mut inbound.body {
                        v.as_object_mut().unwrap().remove("trace");
                    }
                }
                let e = decode(inbound).expect("corpus events are valid");
                reorder.push(e, now, &mut released);
                for e in released.drain(..) {
                    asm.ingest(e, now, &mut out);
                }
                asm.tick(now, &mut out);
            }
        }
    }
    reorder.drain(&mut released);
    for e in released.drain(..) {
        asm.ingest(e, now, &mut out);
    }
    asm.drain_all(now + 60_000.0, &mut out);
    scenarios.last_mut().unwrap().traces.append(&mut enriched(out));
    // Every scenario, whatever its configuration: each event fed ended in exactly one fate counter.
    assert_accounted(&stats, corpus_events(text));
    (scenarios, stats)
}

/// The tree as roles, children sorted: `turn(harness_run(run(context,model_call)),usage)`.
fn shape(t: &Trace) -> String {
    let mut kids: HashMap<[u8; 8], Vec<usize>> = HashMap::new();
    for (i, s) in t.spans.iter().enumerate() {
        if let Some(p) = s.parent_span_id {
            kids.entry(p).or_default().push(i);
        }
    }
    fn render(t: &Trace, i: usize, kids: &HashMap<[u8; 8], Vec<usize>>) -> String {
        let s = &t.spans[i];
        let mut parts: Vec<String> =
            kids.get(&s.span_id).map(|k| k.iter().map(|&c| render(t, c, kids)).collect()).unwrap_or_default();
        parts.sort();
        if parts.is_empty() {
            s.role.as_str().to_string()
        } else {
            format!("{}({})", s.role.as_str(), parts.join(","))
        }
    }
    t.spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.parent_span_id.is_none())
        .map(|(i, _)| render(t, i, &kids))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// `shape` with span names, for failure messages (the CLI's tree view is `bin/tree.js`).
fn names(t: &Trace) -> String {
    let named: Vec<String> = t.spans.iter().map(|s| format!("{}[{}]", s.name, s.role.as_str())).collect();
    format!("{} — {}", shape(t), named.join(", "))
}

fn scenario<'a>(all: &'a [Scenario], prefix: &str) -> &'a Scenario {
    all.iter().find(|s| s.name.starts_with(prefix)).unwrap_or_else(|| panic!("scenario {prefix} missing"))
}

fn spans_of(t: &Trace, role: SpanRole) -> Vec<&clawtrace_core::model::Span> {
    t.spans.iter().filter(|s| s.role == role).collect()
}

fn dump(s: &Scenario) -> String {
    s.traces.iter().map(|t| format!("{} {}\n", clawtrace_core::model::hex(&t.trace_id), names(t))).collect()
}

/// Checks that hold for every exported trace in both modes.
fn check_invariants(all: &[Scenario]) {
    for sc in all {
        for t in &sc.traces {
            let ids: std::collections::HashSet<_> = t.spans.iter().map(|s| s.span_id).collect();
            assert_eq!(ids.len(), t.spans.len(), "span ids unique in {}", sc.name);
            let roots: Vec<_> = t.spans.iter().filter(|s| s.parent_span_id.is_none()).collect();
            assert_eq!(roots.len(), 1, "exactly one root in {}: {}", sc.name, names(t));
            for s in &t.spans {
                if let Some(p) = s.parent_span_id {
                    assert!(ids.contains(&p), "parent of {} present in {}", s.name, sc.name);
                }
                assert!(s.end_ns >= s.start_ns && s.start_ns > 1_700_000_000_000_000_000, "sane times for {}", s.name);
            }
            let root = roots[0];
            assert!(root.name.starts_with("invoke_agent "), "root named for the agent: {}", root.name);
            assert!(
                root.attr_str("session.id").is_some()
                    && root.attr_str("session.id") == root.attr_str("gen_ai.conversation.id")
            );
            assert!(!t.incomplete, "closed by its own events: {}", sc.name);
            // No infra-only trace: every exported trace has agent work in it.
            assert!(t.spans.iter().any(|s| s.role != SpanRole::Synthetic), "infra-only trace exported in {}", sc.name);
            for m in spans_of(t, SpanRole::ModelCall) {
                assert_eq!(m.attr_str("gen_ai.operation.name"), Some("chat"));
                assert_eq!(m.attr_str("gen_ai.provider.name"), Some("fake"));
                assert_eq!(m.attr_str("gen_ai.request.model"), Some("fake-model"));
                assert_eq!(m.name, "chat fake-model");
                if m.status.is_error() {
                    assert_eq!(m.attr_str("error.type"), Some("Error"));
                } else {
                    assert_eq!(m.attr_i64("gen_ai.usage.input_tokens"), Some(123));
                    assert_eq!(m.attr_i64("gen_ai.usage.output_tokens"), Some(7));
                    assert_eq!(m.attr_i64("gen_ai.usage.cache_read.input_tokens"), Some(0));
                }
            }
        }
    }
}

fn check_scenarios(all: &[Scenario], correlated: bool) {
    let by = |p| scenario(all, p);

    let s = by("local turn 1");
    assert_eq!(s.traces.len(), 1, "{}", dump(s));
    let want = if correlated {
        "synthetic(harness_run(run(context,model_call)))"
    } else {
        "harness_run(run(context,model_call))"
    };
    assert_eq!(shape(&s.traces[0]), want);
    assert_eq!(s.traces[0].root().unwrap().attr_str("session.id"), Some("agent:main:main"));

    let s = by("local turn 2");
    assert_eq!(s.traces.len(), 1);
    let want = if correlated {
        "synthetic(harness_run(run(context,model_call,model_call,tool)))"
    } else {
        "harness_run(run(context,model_call,model_call,tool))"
    };
    assert_eq!(shape(&s.traces[0]), want);
    let tool = spans_of(&s.traces[0], SpanRole::Tool)[0];
    assert_eq!(
        (tool.name.as_str(), tool.attr_str("gen_ai.tool.name"), tool.attr_str("gen_ai.operation.name")),
        ("execute_tool read", Some("read"), Some("execute_tool"))
    );
    assert!(!s.traces[0].has_error());

    // Provider HTTP 500 in --local mode: OpenClaw gives each attempt its own trace; correlation groups them by runId.
    let s = by("local turn 3");
    let calls: Vec<_> = s.traces.iter().flat_map(|t| spans_of(t, SpanRole::ModelCall)).collect();
    // The recording holds 7 attempts of this turn (the gateway one below holds 8).
    assert_eq!(calls.len(), 7, "{}", dump(s));
    assert!(calls.iter().all(|c| c.status.is_error()));
    assert_eq!(s.traces.len(), if correlated { 1 } else { 7 });
    assert!(s.traces.iter().all(|t| t.root().unwrap().status.is_error()), "failed turn is an error");

    assert!(by("gateway start").traces.is_empty(), "startup is infra only");

    let s = by("gateway HTTP");
    assert_eq!(s.traces.len(), 2, "{}", dump(s));
    let mut users: Vec<_> =
        s.traces.iter().map(|t| t.root().unwrap().attr_str("user.id").unwrap().to_string()).collect();
    users.sort();
    assert_eq!(users, ["alice", "bob"]);
    let want = if correlated {
        "synthetic(harness_run(run(context,model_call),usage))"
    } else {
        "synthetic(harness_run(run(context,model_call)),usage)"
    };
    for t in &s.traces {
        assert_eq!(shape(t), want);
        assert_eq!(t.root().unwrap().attr_i64("openclaw.usage.total.input_tokens"), Some(123));
    }

    let s = by("gateway WS RPC chat.send");
    assert_eq!(s.traces.len(), 1, "{}", dump(s));
    assert_eq!(shape(&s.traces[0]), "turn(harness_run(run(context,model_call),usage))");
    assert_eq!(s.traces[0].root().unwrap().attr_str("session.id"), Some("agent:main:e2e-chat"));
    assert_eq!(s.traces[0].root().unwrap().attr_str("openclaw.channel"), Some("webchat"));

    let s = by("gateway chat.send: concurrent");
    assert_eq!(s.traces.len(), 3, "{}", dump(s));
    let mut shapes: Vec<(String, String)> =
        s.traces.iter().map(|t| (t.root().unwrap().attr_str("session.id").unwrap().to_string(), shape(t))).collect();
    shapes.sort();
    assert_eq!(
        shapes,
        [
            ("agent:main:e2e-b".to_string(), "turn(harness_run(run(context,model_call),usage))".to_string()),
            ("agent:main:e2e-tool".to_string(), "turn(harness_run(run(context,model_call),usage))".to_string()),
            (
                "agent:main:e2e-tool".to_string(),
                "turn(harness_run(run(context,model_call,model_call,tool),usage))".to_string()
            ),
        ]
    );

    // Follow-ups to a busy session: their own traces, no run, linked to the run that consumed them.
    let s = by("gateway chat.send: 3 messages");
    assert_eq!(s.traces.len(), 3, "{}", dump(s));
    let (with_run, injected): (Vec<&Trace>, Vec<&Trace>) = s.traces.iter().partition(|t| t.spans.len() > 1);
    assert_eq!(with_run.len(), 1);
    assert_eq!(shape(with_run[0]), "turn(harness_run(run(context,model_call,model_call),usage))");
    for t in injected {
        let root = t.root().unwrap();
        assert_eq!(shape(t), "turn");
        assert_eq!(root.attr_str("openclaw.reason"), Some("active_run_injected"));
        assert_eq!(root.links.len(), 1, "linked to the active run");
        assert_eq!(root.links[0].trace_id, with_run[0].trace_id);
    }

    let s = by("gateway chat.send: provider HTTP 500");
    assert_eq!(s.traces.len(), 1, "{}", dump(s));
    let t = &s.traces[0];
    assert!(t.root().unwrap().status.is_error());
    let attempts = spans_of(t, SpanRole::Harness);
    assert_eq!(attempts.len(), 8);
    assert!(
        attempts.iter().all(|a| a.status.is_error()),
        "an attempt whose model call failed is an error despite outcome=completed"
    );
    assert_eq!(spans_of(t, SpanRole::ModelCall).iter().filter(|c| c.status.is_error()).count(), 8);

    assert!(by("gateway stop").traces.is_empty());
}

#[test]
fn corpus_with_trace_context() {
    let (all, stats) = replay(false);
    check_invariants(&all);
    check_scenarios(&all, false);
    // OpenClaw's own ids are kept unchanged.
    let chat = &scenario(&all, "gateway WS RPC chat.send").traces[0];
    assert_eq!(clawtrace_core::model::hex(&chat.trace_id), "39895a732c83c4797d137afcf44bd12b");
    assert!(Stats::get(&stats.traces_infra_only) > 0, "lone security.event traces were dropped, and counted");
}

#[test]
fn corpus_without_trace_context_correlates() {
    let (all, _) = replay(true);
    check_invariants(&all);
    check_scenarios(&all, true);
}

#[test]
fn late_news_about_an_exported_span_is_counted_not_resent() {
    // A lane dequeue for the HTTP turn's (already exported) root, long after its grace window.
    let late = r#"{"src":"diagnostic","pid":16688,"rt":1795760400000,"evt":{"type":"queue.lane.dequeue","lane":"main","queueSize":0,"waitMs":3,"trace":{"traceId":"6c87016892cf972cdb41ef7f007d1c13","spanId":"238350eb4a73f39e","traceFlags":"01"},"seq":100000,"ts":1795760400000}}"#;
    let text = format!("{CORPUS}\n{late}\n");
    let (all, stats) = replay_text(&text, false);
    let mut seen = std::collections::HashSet::new();
    for t in all.iter().flat_map(|s| &s.traces) {
        for s in &t.spans {
            assert!(seen.insert(s.span_id), "span {} exported twice", clawtrace_core::model::hex(&s.span_id));
            assert!(!s.name.is_empty(), "a nameless span was exported");
        }
    }
    assert_eq!(Stats::get(&stats.late_span_updates_dropped), 1);
}

#[test]
fn captured_content_lands_on_model_calls_and_the_root() {
    let cfg = AssembleConfig { capture_content: true, ..AssembleConfig::default() };
    let (all, stats) = replay_with(CORPUS, false, cfg);
    let plain = &scenario(&all, "local turn 1").traces[0];
    let root = plain.root().expect("root");
    assert_eq!(
        root.attr_str("openclaw.content.output"),
        Some("Hello from the fake LLM."),
        "{}",
        dump(scenario(&all, "local turn 1"))
    );
    let call = spans_of(plain, SpanRole::ModelCall)[0];
    let out: serde_json::Value =
        serde_json::from_str(call.attr_str("gen_ai.output.messages").expect("output messages")).unwrap();
    assert_eq!(out[0]["role"], "assistant");
    assert_eq!(out[0]["parts"][0]["content"], "Hello from the fake LLM.");
    assert!(call.attr_str("openclaw.content.output").is_none(), "plain text moved into the messages");
    // Tool arguments and results from the agent stream sit on the tool span.
    let tool_trace = scenario(&all, "local turn 2")
        .traces
        .iter()
        .find(|t| !spans_of(t, SpanRole::Tool).is_empty())
        .expect("tool trace");
    let tool = spans_of(tool_trace, SpanRole::Tool)[0];
    assert_eq!(
        tool.attr_str("gen_ai.tool.call.arguments"),
        Some(r#"{"path":"hello.txt"}"#),
        "{}",
        dump(scenario(&all, "local turn 2"))
    );
    assert!(tool.attr_str("gen_ai.tool.call.result").is_some_and(|r| r.contains("hello from file")));
    // The gateway repeats the tool call id `call_fake_1` in another run: each run's tool gets its own content.
    let gw = scenario(&all, "gateway chat.send: concurrent sessions")
        .traces
        .iter()
        .find(|t| !spans_of(t, SpanRole::Tool).is_empty())
        .expect("gateway tool trace");
    assert!(spans_of(gw, SpanRole::Tool)[0].attr_str("gen_ai.tool.call.arguments").is_some());
    assert_eq!(Stats::get(&stats.skipped_content_disabled), 0);
}

#[test]
fn late_agent_events_and_hooks_after_export_are_counted() {
    // After the failed turn's trace left: an assistant event, an llm_output hook and the run's end, all for its run.
    let late = [
        r#"{"src":"marker","note":"--- late annotations ---"}"#,
        r#"{"src":"agent","pid":16688,"rt":1795760500000,"evt":{"runId":"e2e-err-1","sessionKey":"agent:main:e2e-err","stream":"assistant","seq":90,"ts":1795760500000,"data":{"text":"late"}}}"#,
        r#"{"src":"hook","pid":16688,"rt":1795760500001,"hook":"llm_output","evt":{"runId":"e2e-err-1","assistantTexts":["late"]},"ctx":{"runId":"e2e-err-1","sessionKey":"agent:main:e2e-err"}}"#,
        r#"{"src":"agent","pid":16688,"rt":1795760500002,"evt":{"runId":"e2e-err-1","sessionKey":"agent:main:e2e-err","stream":"lifecycle","seq":91,"ts":1795760500002,"data":{"phase":"end"}}}"#,
    ];
    let text = format!("{CORPUS}\n{}\n", late.join("\n"));
    let cfg = || AssembleConfig { capture_content: true, ..AssembleConfig::default() };
    let (_, before) = replay_with(CORPUS, false, cfg());
    // `replay_with` checks that every event, these three included, ended in exactly one counter.
    let (all, after) = replay_with(&text, false, cfg());
    assert_eq!(
        Stats::get(&after.skipped_no_correlation) - Stats::get(&before.skipped_no_correlation),
        3,
        "the three late annotations found no open trace"
    );
    assert!(scenario(&all, "late annotations").traces.is_empty(), "late annotations make no trace of their own");
}

#[test]
fn explore_scenarios() {
    let cfg = AssembleConfig { capture_content: true, ..AssembleConfig::default() };
    let (all, stats) = replay_with(common::SCENARIOS, false, cfg);
    for sc in &all {
        println!("== {}", sc.name);
        for t in &sc.traces {
            let Some(root) = t.root() else {
                println!("  NOROOT {} {} straggler={}", clawtrace_core::model::hex(&t.trace_id), names(t), t.straggler);
                continue;
            };
            println!(
                "  {} {} straggler={} status={:?} sk={:?} calls={:?}",
                clawtrace_core::model::hex(&t.trace_id),
                names(t),
                t.straggler,
                root.status,
                root.attr_str("session.id"),
                root.attrs.get("openclaw.usage.total.input_tokens")
            );
            for s in &t.spans {
                if s.role == SpanRole::ModelCall {
                    println!(
                        "     call {} {:?} in={:?} out={:?}",
                        (s.end_ns - s.start_ns) / 1_000_000,
                        s.status,
                        s.attr_str("gen_ai.input.messages").map(|x| &x[..x.len().min(150)]),
                        s.attr_str("gen_ai.output.messages").map(|x| &x[..x.len().min(200)])
                    );
                }
            }
        }
    }
    println!("{:?}", stats.snapshot().into_iter().filter(|(_, v)| *v > 0).collect::<Vec<_>>());
}
