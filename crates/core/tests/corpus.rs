//! Acceptance on the real OpenClaw 2026.9.6 corpus: per scenario (between marker lines), the traces, their span
//! trees, model calls with usage, failed turns, tool spans — with OpenClaw's trace context, and again with every
//! `trace` field stripped (correlation mode), where only ids and the documented shape differences change.

use std::collections::HashMap;
use std::sync::Arc;

use clawtrace_core::assemble::{AssembleConfig, Assembler};
use clawtrace_core::ingest::decode;
use clawtrace_core::ingest::record::{parse_record, Record};
use clawtrace_core::ingest::reorder::Reorder;
use clawtrace_core::model::{SpanRole, Status, Trace};
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
            Record::Event(inbound) => {
                now = inbound.arrived_ms;
                let mut e = decode(inbound).expect("corpus events are valid");
                if strip_trace {
                    e.fields.remove("trace");
                    e.trace = None;
                }
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
                    // The cause from the agent stream and the log records, not OpenClaw's bare `Error`.
                    let t = m.attr_str("error.type");
                    // An early-2026 host names no error class: the provider's HTTP status stands in.
                    assert!(
                        matches!(t, Some("FailoverError" | "server_error" | "500")),
                        "error.type {t:?} in {}",
                        sc.name
                    );
                    assert_eq!(m.attr_i64("http.response.status_code"), Some(500), "status in {}", sc.name);
                    assert!(m.events.iter().any(|e| e.name == "exception"), "exception event in {}", sc.name);
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
        (tool.name.as_ref(), tool.attr_str("gen_ai.tool.name"), tool.attr_str("gen_ai.operation.name")),
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
    // The cause, from the log records and the agent stream: the class OpenClaw logged, the provider's answer.
    let root = t.root().unwrap();
    // The error's class, also without trace context: the log record naming it names the session's lane.
    assert_eq!(root.attr_str("error.type"), Some("FailoverError"), "{}", dump(s));
    assert!(matches!(&root.status, Status::Error(m) if m.contains("500 fake upstream failure")), "{:?}", root.status);
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

/// The recorded scenarios (`scripts/record-scenarios.mjs`), replayed with content capture on as the plugin had it.
fn recorded_scenarios() -> Vec<Scenario> {
    let cfg = AssembleConfig { capture_content: true, ..AssembleConfig::default() };
    replay_with(common::SCENARIOS, false, cfg).0
}

/// The traces of one user's session in a scenario (by the root's `session.id`).
fn session_traces<'a>(all: &'a [Scenario], prefix: &str, session: &str) -> Vec<&'a Trace> {
    let sc = scenario(all, prefix);
    sc.traces.iter().filter(|t| t.spans.iter().any(|s| s.attr_str("session.id") == Some(session))).collect()
}

/// The one trace of a user message: exactly one, none a straggler.
fn one_trace<'a>(all: &'a [Scenario], prefix: &str, session: &str) -> &'a Trace {
    let ts = session_traces(all, prefix, session);
    let dumped: String = ts.iter().map(|t| format!("{} straggler={}\n", names(t), t.straggler)).collect();
    assert_eq!(ts.len(), 1, "one trace for {session}:\n{dumped}");
    assert!(!ts[0].straggler && !ts[0].incomplete);
    ts[0]
}

/// Model calls in time order.
fn calls(t: &Trace) -> Vec<&clawtrace_core::model::Span> {
    let mut c = spans_of(t, SpanRole::ModelCall);
    c.sort_by_key(|s| s.start_ns);
    c
}

fn json_attr(s: &clawtrace_core::model::Span, key: &str) -> serde_json::Value {
    s.attr_str(key).map(|v| serde_json::from_str(v).unwrap()).unwrap_or(serde_json::Value::Null)
}

/// What a call's output says: `text:<text>` or `tools:<name>,<name>`.
fn output_of(s: &clawtrace_core::model::Span) -> String {
    let out = json_attr(s, "gen_ai.output.messages");
    let parts = out[0]["parts"].as_array().cloned().unwrap_or_default();
    let tools: Vec<&str> =
        parts.iter().filter(|p| p["type"] == "tool_call").filter_map(|p| p["name"].as_str()).collect();
    if !tools.is_empty() {
        assert_eq!(out[0]["finish_reason"], "tool_call");
        return format!("tools:{}", tools.join(","));
    }
    parts.iter().find_map(|p| p["content"].as_str()).map(|t| format!("text:{t}")).unwrap_or_default()
}

/// What a call's input says: `user:<text>` or `results:<tool call id>,…`.
fn input_of(s: &clawtrace_core::model::Span) -> String {
    let input = json_attr(s, "gen_ai.input.messages");
    let msgs = input.as_array().cloned().unwrap_or_default();
    let results: Vec<&str> =
        msgs.iter().filter(|m| m["role"] == "tool").filter_map(|m| m["parts"][0]["id"].as_str()).collect();
    if !results.is_empty() {
        return format!("results:{}", results.join(","));
    }
    msgs.first().and_then(|m| m["parts"][0]["content"].as_str()).map(|t| format!("user:{t}")).unwrap_or_default()
}

/// Each model call's input and output in time order (`input_of`, `output_of`), and the turn's: the first call's
/// input, the last call's output — without what OpenClaw wraps around the message.
fn check_content(t: &Trace, want: &[(&str, &str)]) {
    let io: Vec<(String, String)> = calls(t).iter().map(|s| (input_of(s), output_of(s))).collect();
    let want_io: Vec<(String, String)> = want.iter().map(|(i, o)| (i.to_string(), o.to_string())).collect();
    assert_eq!(io, want_io, "{}", names(t));
    let root = t.root().unwrap();
    let (first, last) = (want[0].0.trim_start_matches("user:"), want[want.len() - 1].1.trim_start_matches("text:"));
    assert_eq!(root.attr_str("openclaw.content.input"), Some(first));
    assert_eq!(root.attr_str("openclaw.content.output"), Some(last));
}

#[test]
fn subagent_usage_never_renames_the_harness_run_whose_id_it_carries() {
    let all = recorded_scenarios();
    let t = one_trace(&all, "chat.send: the model spawns a subagent", "agent:main:e2e-sub");
    let root = t.root().unwrap();
    assert_eq!(root.role, SpanRole::Turn, "{}", names(t));
    // Span kinds by the event that opened them: every harness run is still one, and each usage is a point span
    // of its own under the harness run whose id it carried.
    let harness = spans_of(t, SpanRole::Harness);
    assert_eq!(harness.len(), 3, "the turn's attempt, the subagent's run, the announcement's run: {}", names(t));
    assert!(harness.iter().all(|h| h.name == "openclaw.harness.run" && h.attr_str("openclaw.harness_id").is_some()));
    let usage = spans_of(t, SpanRole::Usage);
    assert_eq!(usage.len(), 3);
    for u in &usage {
        assert_eq!(u.name, "openclaw.model.usage");
        let parent = t.spans.iter().find(|s| Some(s.span_id) == u.parent_span_id).unwrap();
        assert_eq!(parent.role, SpanRole::Harness);
    }
    // The turn's attempt ends at its harness.run.completed (recorded at ts 1795932675679), not at the subagent's or
    // the announcement's usage that carried its id seconds later.
    let attempt = harness.iter().find(|h| h.parent_span_id == Some(root.span_id)).unwrap();
    assert_eq!(attempt.end_ns, 1_795_932_675_679_000_000);
    let tools: Vec<&str> = spans_of(t, SpanRole::Tool).iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(tools, ["execute_tool sessions_spawn"]);
    let c = calls(t);
    assert_eq!(c.len(), 4, "{}", names(t));
    assert_eq!(
        (input_of(c[0]).as_str(), output_of(c[0]).as_str()),
        ("user:please spawnsub now", "tools:sessions_spawn")
    );
    assert!(input_of(c[1]).starts_with("results:call_fake_"), "{}", input_of(c[1]));
    assert!(input_of(c[2]).starts_with("user:[Subagent Context]"), "the subagent's own task: {}", input_of(c[2]));
    assert!(c.iter().all(|s| output_of(s) == "text:Hello from the fake model." || output_of(s).starts_with("tools:")));
    assert!(!t.has_error());
}

#[test]
fn a_tool_chain_gives_each_model_call_its_own_input_and_output() {
    let all = recorded_scenarios();
    let t = one_trace(&all, "chat.send: a tool chain", "agent:main:e2e-chain");
    assert_eq!(shape(t), "turn(harness_run(run(context,model_call,model_call,model_call,tool,tool),usage))");
    check_content(
        t,
        &[
            ("user:please toolchain now", "tools:read"),
            ("results:call_fake_2", "tools:read"),
            ("results:call_fake_3", "text:Hello from the fake model."),
        ],
    );
    let root = t.root().unwrap();
    assert_eq!(root.attr_i64("openclaw.usage.total.input_tokens"), Some(3 * 123));
    assert_eq!(root.attr_i64("openclaw.usage.total.output_tokens"), Some(3 * 7));
    for tool in spans_of(t, SpanRole::Tool) {
        assert!(
            tool.attr_str("gen_ai.tool.call.arguments").is_some() && tool.attr_str("gen_ai.tool.call.result").is_some()
        );
    }
}

#[test]
fn parallel_tool_calls_are_one_calls_output_and_the_next_calls_input() {
    let all = recorded_scenarios();
    let t = one_trace(&all, "chat.send: two parallel tool calls", "agent:main:e2e-par");
    let c = calls(t);
    assert_eq!(c.len(), 2, "{}", names(t));
    assert_eq!(output_of(c[0]), "tools:read,read");
    let mut results: Vec<String> =
        input_of(c[1]).trim_start_matches("results:").split(',').map(str::to_string).collect();
    results.sort();
    assert_eq!(results, ["call_fake_4", "call_fake_5"], "both results, in the order the tools started");
    assert_eq!(output_of(c[1]), "text:Hello from the fake model.");
    assert_eq!(spans_of(t, SpanRole::Tool).len(), 2);
}

/// A turn retried for about a minute: one trace, whose root covers every attempt and fails.
fn check_retried(t: &Trace, attempts: usize) {
    let root = t.root().unwrap();
    let harness = spans_of(t, SpanRole::Harness);
    assert_eq!(harness.len(), attempts, "{}", names(t));
    assert!(harness.iter().all(|h| h.parent_span_id == Some(root.span_id) && h.status.is_error()));
    let c = calls(t);
    assert_eq!(c.len(), attempts);
    assert!(c.iter().all(|s| s.status.is_error() && s.attr_str("gen_ai.output.messages").is_none()), "no empty reply");
    assert!(root.status.is_error(), "the failed turn is an error");
    assert!(root.start_ns <= c[0].start_ns && root.end_ns >= c[attempts - 1].end_ns, "the root covers every attempt");
    assert!(root.end_ns - root.start_ns > 60_000_000_000, "about a minute of retries");
    assert_eq!(input_of(c[0]), "user:please fail500 now", "the first call shows the first prompt, not the retry's");
    for retry in &c[1..] {
        // OpenClaw resends the message wrapped as "[Queued user message from a previous active turn; …]".
        assert!(input_of(retry).starts_with("user:please fail500 now\n"), "{}", input_of(retry));
    }
    assert!(root.attr_i64("openclaw.usage.total.output_tokens").unwrap_or(0) == 0);
}

#[test]
fn a_turn_retried_for_a_minute_is_one_trace_through_chat_send() {
    let all = recorded_scenarios();
    let t = one_trace(&all, "chat.send: provider HTTP 500", "agent:main:e2e-retry");
    assert_eq!(t.root().unwrap().role, SpanRole::Turn);
    check_retried(t, 7);
}

#[test]
fn a_turn_retried_for_a_minute_is_one_trace_through_openclaw_agent() {
    let all = recorded_scenarios();
    // `agent_end` fires after every attempt: it must not close the turn (the stragglers of issue 12).
    let t = one_trace(&all, "openclaw agent: provider HTTP 500", "agent:main:explicit:e2e-retry-cli");
    check_retried(t, 8);
}

#[test]
fn follow_ups_injected_into_a_busy_run_are_traces_of_their_own_linked_to_it() {
    let all = recorded_scenarios();
    let ts = session_traces(&all, "chat.send: a burst of 3 follow-ups", "agent:main:e2e-burst");
    assert_eq!(ts.len(), 4, "one trace per message");
    let with_run: Vec<&&Trace> = ts.iter().filter(|t| !spans_of(t, SpanRole::Run).is_empty()).collect();
    assert_eq!(with_run.len(), 1);
    let run_trace = with_run[0];
    let c = calls(run_trace);
    assert_eq!(c.len(), 2, "the active run makes one more call for the injected messages");
    assert_eq!(input_of(c[0]), "user:slowreply: the first message");
    for t in ts.iter().filter(|t| t.trace_id != run_trace.trace_id) {
        let root = t.root().unwrap();
        assert_eq!(t.spans.len(), 1);
        assert_eq!(root.attr_str("openclaw.reason"), Some("active_run_injected"));
        assert!(root.links.iter().any(|l| l.trace_id == run_trace.trace_id), "linked to the run that answered it");
    }
}

#[test]
fn follow_up_runs_go_to_the_messages_they_answer_first_in_first_out() {
    let cfg = AssembleConfig { capture_content: true, ..AssembleConfig::default() };
    let (all, _) = replay_with(common::FOLLOWUPS, false, cfg);
    let mut ts = session_traces(&all, "chat.send: queue mode followup", "agent:main:e2e-fu");
    ts.sort_by_key(|t| t.root().unwrap().start_ns);
    let dumped: String = ts.iter().map(|t| format!("{} straggler={}\n", names(t), t.straggler)).collect();
    // `/queue followup`, the busy first message, three messages queued behind it: one trace each, none late.
    assert_eq!(ts.len(), 5, "{dumped}");
    assert!(ts.iter().all(|t| !t.straggler && !t.incomplete), "{dumped}");
    let inputs: Vec<Vec<String>> = ts.iter().map(|t| calls(t).iter().map(|c| input_of(c)).collect()).collect();
    assert_eq!(
        inputs,
        [
            vec![],
            vec!["user:slowreply: the first message".to_string()],
            vec!["user:queued message number 1".to_string()],
            vec!["user:queued message number 2".to_string()],
            vec!["user:queued message number 3".to_string()],
        ],
        "each message's trace holds the run that answered it\n{dumped}"
    );
    // The moved runs keep OpenClaw's span ids and name OpenClaw's trace, as an attribute and a link.
    let openclaw_trace = clawtrace_core::model::hex(&ts[1].trace_id);
    let first_follow_up = ts[2].spans.iter().find(|s| s.role == SpanRole::Harness).unwrap();
    assert_eq!(clawtrace_core::model::hex(&first_follow_up.span_id), "6734d48d0b5dfd34");
    for t in &ts[2..] {
        let root = t.root().unwrap();
        assert_eq!(root.role, SpanRole::Turn);
        for s in t.spans.iter().filter(|s| s.span_id != root.span_id) {
            assert_eq!(s.attr_str("openclaw.original_trace_id"), Some(openclaw_trace.as_str()), "{}", s.name);
            assert!(s.links.iter().any(|l| clawtrace_core::model::hex(&l.trace_id) == openclaw_trace));
            assert!(s.parent_span_id.is_some());
        }
        assert_eq!(spans_of(t, SpanRole::Harness)[0].parent_span_id, Some(root.span_id));
    }
}

/// The 2026.3.24 scenarios (`scripts/record-scenarios.mjs --target legacy`), replayed as the plugin runs on such a
/// host: `legacyHost` (no trusted events, no trace context), content capture on as recorded.
fn legacy_scenarios(capture_content: bool) -> Vec<Scenario> {
    let cfg = AssembleConfig { capture_content, legacy_host: true, ..AssembleConfig::default() };
    let text =
        if capture_content { common::LEGACY_SCENARIOS.to_string() } else { without_content(common::LEGACY_SCENARIOS) };
    let (all, _) = replay_with(&text, false, cfg);
    if capture_content {
        // (Without capture, calls of a turn with several know no usage of their own.)
        check_invariants(&all);
    }
    all
}

/// What crosses from a 2026.3.24 host when content capture is off (`plugin/index.mjs` `withoutContent`): agent
/// events only for the lifecycle, hook payloads without their content, `agent_end`'s messages as digests (role, stop
/// reason, usage, model ids).
fn without_content(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut r: serde_json::Value = serde_json::from_str(line).unwrap();
        if r["src"] == "agent" && r["evt"]["stream"] != "lifecycle" {
            continue;
        }
        if r["src"] == "hook" {
            let evt = r["evt"].as_object_mut().unwrap();
            if let Some(serde_json::Value::Array(messages)) = evt.get_mut("messages") {
                for m in messages.iter_mut().filter_map(|m| m.as_object_mut()) {
                    m.retain(|k, _| {
                        ["role", "stopReason", "model", "provider", "responseId", "usage"].contains(&k.as_str())
                    });
                    if let Some(u) = m.get_mut("usage").and_then(|u| u.as_object_mut()) {
                        u.retain(|k, v| {
                            v.is_number()
                                && ["input", "output", "cacheRead", "cacheWrite", "total"].contains(&k.as_str())
                        });
                    }
                }
            }
            for k in
                ["prompt", "systemPrompt", "historyMessages", "assistantTexts", "lastAssistant", "params", "result"]
            {
                evt.remove(k);
            }
        }
        out.push_str(&r.to_string());
        out.push('\n');
    }
    out
}

/// A model call's token usage, input and output.
fn tokens(s: &clawtrace_core::model::Span) -> (Option<i64>, Option<i64>) {
    (s.attr_i64("gen_ai.usage.input_tokens"), s.attr_i64("gen_ai.usage.output_tokens"))
}

fn totals(t: &Trace) -> (Option<i64>, Option<i64>) {
    let root = t.root().unwrap();
    (root.attr_i64("openclaw.usage.total.input_tokens"), root.attr_i64("openclaw.usage.total.output_tokens"))
}

#[test]
fn legacy_tool_turn_shows_its_two_model_calls_around_the_tool() {
    let all = legacy_scenarios(true);
    let t = one_trace(&all, "chat.send: one tool call", "agent:main:e2e-tool");
    assert_eq!(shape(t), "turn(harness_run(run(model_call,model_call,tool),usage))", "{}", names(t));
    let c = calls(t);
    let tool = spans_of(t, SpanRole::Tool)[0];
    // Span kinds by the event that opened them: the calls were opened by the lifecycle start and the tool round's
    // end, each a `model.call.*` span of its own with a call id; the usage summary stays a usage span.
    for call in &c {
        assert!(call.attr_str("openclaw.call_id").is_some_and(|id| id.contains(":call:")), "{}", names(t));
        assert_eq!(tokens(call), (Some(123), Some(7)), "each call's own usage, from agent_end's answers");
    }
    assert!(c[0].start_ns < tool.start_ns && tool.start_ns < c[1].start_ns, "call → tool → call");
    assert!(c[0].end_ns <= tool.end_ns && c[1].end_ns >= tool.end_ns);
    // (2026.3 puts a sender block before the time prefix.)
    check_content(
        t,
        &[("user:please usetool now", "tools:read"), ("results:call_fake_1", "text:Hello from the fake model.")],
    );
    let root = t.root().unwrap();
    assert_eq!(totals(t), (Some(246), Some(14)));
    assert_eq!(root.attr_i64("openclaw.turn.model_calls"), Some(2));
    assert_eq!(root.attr_i64("openclaw.turn.tool_calls"), Some(1));
    assert!(!t.has_error());
}

#[test]
fn legacy_burst_gives_each_queued_message_its_run_and_model_call() {
    let all = legacy_scenarios(true);
    let ts = session_traces(&all, "chat.send: a burst of 3 follow-ups", "agent:main:e2e-burst");
    assert_eq!(ts.len(), 4, "one trace per message: {}", dump(scenario(&all, "chat.send: a burst")));
    let mut inputs: Vec<String> = ts
        .iter()
        .map(|t| {
            assert!(!t.straggler && !t.incomplete && !t.has_error());
            assert_eq!(shape(t), "turn(harness_run(run(model_call),usage))", "{}", names(t));
            assert_eq!(totals(t), (Some(123), Some(7)));
            let c = calls(t);
            assert_eq!(output_of(c[0]), "text:Hello from the fake model.");
            input_of(c[0])
        })
        .collect();
    inputs.sort();
    assert_eq!(
        inputs,
        [
            "user:follow-up number 1",
            "user:follow-up number 2",
            "user:follow-up number 3",
            "user:slowreply: the first message"
        ],
        "each message's trace holds the run that answered it"
    );
    // First in, first out: the messages queued behind the busy run are answered in the order they arrived.
    let mut by_arrival: Vec<&&Trace> = ts.iter().collect();
    by_arrival.sort_by_key(|t| t.root().unwrap().start_ns);
    let run_starts: Vec<u64> = by_arrival.iter().map(|t| calls(t)[0].start_ns).collect();
    assert!(run_starts.windows(2).all(|w| w[0] < w[1]), "answered in arrival order: {run_starts:?}");
    // This host acknowledged each queued message at once (`message.processed`, in arrival order): each closes the
    // trace of the run that answered it.
    let ids: Vec<&str> =
        by_arrival.iter().map(|t| t.root().unwrap().attr_str("openclaw.message_id").unwrap()).collect();
    assert_eq!(
        ids,
        [
            "d8e0a5fc-67f9-472e-aa2d-53943e9f04d5",
            "d107b836-6820-437d-a82b-6de7613c35e6",
            "698c09bc-e6a2-4221-a101-b64b3e4d58be",
            "46d18dc0-134e-496e-9f41-4b8ed6406547"
        ]
    );
}

#[test]
fn legacy_turn_failed_on_every_attempt_is_failed_with_its_cause() {
    let all = legacy_scenarios(true);
    let t = one_trace(&all, "chat.send: provider HTTP 500", "agent:main:e2e-retry");
    let root = t.root().unwrap();
    // OpenClaw said completed (agent_end success:true, message.processed completed) after four failed attempts.
    assert!(matches!(&root.status, Status::Error(m) if m.contains("500 fake upstream failure")), "{:?}", root.status);
    assert_eq!(root.attr_str("error.type"), Some("500"), "no error class on this host: the provider's status");
    assert_eq!(root.attr_i64("http.response.status_code"), Some(500));
    let attempts = spans_of(t, SpanRole::Harness);
    assert_eq!(attempts.len(), 4, "{}", names(t));
    assert!(attempts.iter().all(|a| a.status.is_error() && a.parent_span_id == Some(root.span_id)));
    let c = calls(t);
    assert_eq!(c.len(), 4, "one failed call per attempt: {}", names(t));
    for call in &c {
        assert!(
            matches!(&call.status, Status::Error(m) if m.contains("500 fake upstream failure")),
            "{:?}",
            call.status
        );
        assert_eq!(call.attr_str("error.type"), Some("500"));
        assert_eq!(call.attr_i64("http.response.status_code"), Some(500));
        let ex = call.events.iter().find(|e| e.name == "exception").expect("exception event");
        assert_eq!(
            ex.attrs["exception.message"],
            clawtrace_core::model::AttrValue::Str("500 fake upstream failure".into())
        );
        assert!(call.attr_str("gen_ai.output.messages").is_none(), "no reply");
        assert_eq!(tokens(call), (None, None), "the failed answer's zero usage is not a call's usage");
    }
    assert_eq!(input_of(c[0]), "user:please fail500 now");
    assert_eq!(totals(t).1, Some(0));
    assert!(root.start_ns <= c[0].start_ns && root.end_ns >= c[3].end_ns, "the root covers every attempt");
}

#[test]
fn legacy_model_calls_without_content_capture() {
    let all = legacy_scenarios(false);
    // Without capture the tool hooks alone mark the tool round: still two calls around the tool, each with its own
    // usage from `agent_end`'s message digests.
    let t = one_trace(&all, "chat.send: one tool call", "agent:main:e2e-tool");
    assert_eq!(shape(t), "turn(harness_run(run(model_call,model_call,tool),usage))", "{}", names(t));
    assert!(calls(t).iter().all(|c| tokens(c) == (Some(123), Some(7))), "{}", names(t));
    assert_eq!(totals(t), (Some(246), Some(14)));
    // One call in the attempt: llm_output's total is its own.
    for t in session_traces(&all, "chat.send: a burst", "agent:main:e2e-burst") {
        let c = calls(t);
        assert_eq!(c.len(), 1);
        assert_eq!(tokens(c[0]), (Some(123), Some(7)));
        assert_eq!(totals(t), (Some(123), Some(7)));
    }
    let t = one_trace(&all, "chat.send: provider HTTP 500", "agent:main:e2e-retry");
    assert!(t.root().unwrap().status.is_error());
    assert_eq!(calls(t).iter().filter(|c| c.status.is_error()).count(), 4);
}
