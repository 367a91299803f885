//! `legacyHost`: an OpenClaw release before trusted diagnostics (2026.3.24) reports no run, model-call or tool
//! events and no trace context. Its agent lifecycle events and hooks, recorded as they come, are rebuilt into the
//! same traces: one per message, run → tool spans, the usage span, errors only for a finally failed run, and a
//! busy session's follow-ups as traces of their own.

use std::sync::Arc;

use clawtrace_core::assemble::{AssembleConfig, Assembler};
use clawtrace_core::ingest::{decode, Body, Inbound, Source};
use clawtrace_core::model::{Span, Trace};
use clawtrace_core::stats::Stats;
use serde_json::{json, Value};

mod common;
use common::{assert_accounted, enriched};

struct Host {
    asm: Assembler,
    stats: Arc<Stats>,
    out: Vec<Trace>,
    ts: f64,
    seq: u64,
    /// Events handed to the assembler.
    fed: u64,
}

impl Host {
    fn new(legacy_host: bool) -> Self {
        let stats = Arc::new(Stats::default());
        let asm = Assembler::new(AssembleConfig { legacy_host, ..Default::default() }, stats.clone());
        Host { asm, stats, out: vec![], ts: 1_700_000_000_000.0, seq: 0, fed: 0 }
    }

    fn push(&mut self, src: Source, hook: Option<&str>, body: Value, ctx: Option<Value>) {
        self.ts += 5.0;
        let inbound = Inbound {
            src,
            pid: 1,
            arrived_ms: self.ts,
            trusted: false,
            hook: hook.map(str::to_string),
            body: Body::Value(body),
            ctx: ctx.map(|c| Box::new(Body::Value(c))),
        };
        let e = decode(inbound).expect("valid event");
        self.fed += 1;
        self.asm.ingest(e, self.ts, &mut self.out);
    }

    /// A diagnostic event from the public bus (`seq` and `ts` added).
    fn d(&mut self, mut evt: Value) {
        self.seq += 1;
        evt["seq"] = json!(self.seq);
        evt["ts"] = json!(self.ts + 5.0);
        self.push(Source::Diagnostic, None, evt, None);
    }

    /// An agent event (`seq` numbers per run, as OpenClaw does).
    fn a(&mut self, run: &str, data: Value, sk: Option<&str>) {
        let mut evt = json!({"runId": run, "stream": "lifecycle", "seq": 1, "ts": self.ts + 5.0, "data": data});
        if let Some(sk) = sk {
            evt["sessionKey"] = json!(sk);
        }
        self.push(Source::Agent, None, evt, None);
    }

    fn hook(&mut self, name: &str, payload: Value, ctx: Value) {
        self.push(Source::Hook, Some(name), payload, Some(ctx));
    }

    /// Shutdown: everything held or open leaves.
    fn finish(mut self) -> (Vec<Trace>, Arc<Stats>) {
        let now = self.ts + 1_000.0;
        self.asm.tick(now, &mut self.out);
        self.asm.drain_all(now + 1.0, &mut self.out);
        assert_eq!(self.asm.legacy_held(), 0);
        assert_accounted(&self.stats, self.fed);
        (enriched(self.out), self.stats)
    }
}

fn ctx(sk: &str, sid: &str) -> Value {
    json!({"agentId": "main", "sessionKey": sk, "sessionId": sid, "trigger": "user", "channelId": "webchat"})
}

fn session_of(t: &Trace) -> Option<&str> {
    t.spans.iter().find_map(|s| s.attr_str("session.id"))
}

fn parent<'a>(t: &'a Trace, s: &Span) -> Option<&'a Span> {
    t.spans.iter().find(|p| Some(p.span_id) == s.parent_span_id)
}

fn usage(input: u64, output: u64) -> Value {
    json!({"input": input, "output": output, "total": input + output})
}

/// The event flow recorded from a real 2026.3.24 gateway (as the plugin test replays it).
fn legacy_flow(h: &mut Host) {
    // chat.send with a tool call
    let sk = "agent:main:legacy-tool";
    let run = "legacy-run-1";
    let c = ctx(sk, "sess-1");
    h.d(json!({"type": "message.queued", "sessionKey": sk, "channel": "webchat", "source": "dispatch", "queueDepth": 1}));
    h.d(json!({"type": "session.state", "sessionKey": sk, "prevState": "idle", "state": "processing", "reason": "message_start"}));
    h.hook(
        "llm_input",
        json!({"runId": run, "sessionId": "sess-1", "provider": "fake", "model": "fake-model"}),
        c.clone(),
    );
    h.a(run, json!({"phase": "start"}), Some(sk));
    let tc = json!({"agentId": "main", "sessionKey": sk, "sessionId": "sess-1", "toolName": "read", "runId": run, "toolCallId": "call_1"});
    h.hook("before_tool_call", json!({"toolName": "read", "runId": run, "toolCallId": "call_1"}), tc.clone());
    h.hook("after_tool_call", json!({"toolName": "read", "runId": run, "toolCallId": "call_1", "durationMs": 20}), tc);
    h.a(run, json!({"phase": "end"}), Some(sk));
    h.hook("agent_end", json!({"success": true, "durationMs": 80}), c.clone());
    h.d(json!({"type": "session.state", "sessionKey": sk, "sessionId": "sess-1", "prevState": "processing", "state": "idle", "reason": "run_completed"}));
    h.hook("llm_output", json!({"runId": run, "sessionId": "sess-1", "provider": "fake", "model": "fake-model", "usage": usage(246, 14)}), c);
    h.d(json!({"type": "model.usage", "sessionKey": sk, "usage": {"input": 246, "output": 14, "promptTokens": 246, "total": 260}, "costUsd": 0, "durationMs": 413}));
    h.d(json!({"type": "message.processed", "channel": "webchat", "messageId": run, "sessionKey": sk, "durationMs": 659, "outcome": "completed"}));

    // HTTP path: no message events, no model.usage
    let hsk = "agent:main:openai-user:alice";
    let hrun = "chatcmpl_legacy";
    let c = ctx(hsk, "sess-2");
    h.d(json!({"type": "session.state", "sessionKey": hsk, "sessionId": "sess-2", "prevState": "idle", "state": "processing", "reason": "run_started"}));
    h.hook(
        "llm_input",
        json!({"runId": hrun, "sessionId": "sess-2", "provider": "fake", "model": "fake-model"}),
        c.clone(),
    );
    h.a(hrun, json!({"phase": "start"}), Some(hsk));
    h.a(hrun, json!({"phase": "end"}), Some(hsk));
    h.hook("agent_end", json!({"success": true}), c.clone());
    h.d(json!({"type": "session.state", "sessionKey": hsk, "sessionId": "sess-2", "prevState": "processing", "state": "idle", "reason": "run_completed"}));
    h.hook("llm_output", json!({"runId": hrun, "sessionId": "sess-2", "provider": "fake", "model": "fake-model", "usage": usage(123, 7)}), c);

    // Provider 500: retried attempts (later lifecycle events lack the session key), message still "completed"
    let fsk = "agent:main:legacy-fail";
    let frun = "legacy-run-fail";
    let c = ctx(fsk, "sess-3");
    h.d(json!({"type": "message.queued", "sessionKey": fsk, "channel": "webchat", "source": "dispatch", "queueDepth": 1}));
    h.hook(
        "llm_input",
        json!({"runId": frun, "sessionId": "sess-3", "provider": "fake", "model": "fake-model"}),
        c.clone(),
    );
    h.a(frun, json!({"phase": "start"}), Some(fsk));
    h.a(frun, json!({"phase": "error", "error": "500 fake upstream failure"}), Some(fsk));
    h.a(frun, json!({"phase": "start"}), None);
    h.a(frun, json!({"phase": "error", "error": "500 fake upstream failure"}), None);
    h.hook("agent_end", json!({"success": true}), c.clone());
    h.hook("llm_output", json!({"runId": frun, "sessionId": "sess-3", "provider": "fake", "model": "fake-model"}), c);
    h.d(json!({"type": "message.processed", "channel": "webchat", "messageId": frun, "sessionKey": fsk, "durationMs": 19873, "outcome": "completed"}));

    // A retried attempt that then succeeds: not an error.
    let rsk = "agent:main:legacy-retry";
    let rrun = "legacy-run-retry";
    let c = ctx(rsk, "sess-4");
    h.d(json!({"type": "message.queued", "sessionKey": rsk, "channel": "webchat", "source": "dispatch", "queueDepth": 1}));
    h.a(rrun, json!({"phase": "start"}), Some(rsk));
    h.a(rrun, json!({"phase": "error", "error": "429 rate limited"}), Some(rsk));
    h.a(rrun, json!({"phase": "start"}), Some(rsk));
    h.a(rrun, json!({"phase": "end"}), Some(rsk));
    h.hook("agent_end", json!({"success": true}), c.clone());
    h.hook(
        "llm_output",
        json!({"runId": rrun, "sessionId": "sess-4", "provider": "fake", "model": "fake-model", "usage": usage(10, 2)}),
        c,
    );
    h.d(json!({"type": "message.processed", "channel": "webchat", "messageId": rrun, "sessionKey": rsk, "outcome": "completed"}));

    // A busy session: two messages arrive during the first run; this release acknowledges them at once
    // (message.processed, nothing ran yet) and runs each after the first, with new runIds and no message events.
    let bsk = "agent:main:legacy-busy";
    let c = ctx(bsk, "sess-b");
    let run_turn = |h: &mut Host, run: &str| {
        h.hook(
            "llm_input",
            json!({"runId": run, "sessionId": "sess-b", "provider": "fake", "model": "fake-model"}),
            c.clone(),
        );
        h.a(run, json!({"phase": "start"}), Some(bsk));
    };
    let end_turn = |h: &mut Host, run: &str| {
        h.a(run, json!({"phase": "end"}), Some(bsk));
        h.hook("agent_end", json!({"success": true}), c.clone());
        h.d(json!({"type": "session.state", "sessionKey": bsk, "prevState": "processing", "state": "idle", "reason": "run_completed"}));
        h.hook("llm_output", json!({"runId": run, "sessionId": "sess-b", "provider": "fake", "model": "fake-model", "usage": usage(123, 7)}), c.clone());
    };
    h.d(json!({"type": "message.queued", "sessionKey": bsk, "channel": "webchat", "source": "dispatch", "queueDepth": 1}));
    run_turn(h, "busy-1");
    for id in ["idem-2", "idem-3"] {
        h.d(json!({"type": "message.queued", "sessionKey": bsk, "channel": "webchat", "source": "dispatch", "queueDepth": 2}));
        h.d(json!({"type": "message.processed", "channel": "webchat", "messageId": id, "sessionKey": bsk, "outcome": "completed"}));
    }
    assert_eq!(h.asm.legacy_held(), 2, "the follow-ups' early message.processed are held back");
    end_turn(h, "busy-1");
    h.d(json!({"type": "model.usage", "sessionKey": bsk, "usage": {"input": 123, "output": 7, "promptTokens": 123, "total": 130}, "costUsd": 0}));
    h.d(json!({"type": "message.processed", "channel": "webchat", "messageId": "busy-1", "sessionKey": bsk, "outcome": "completed"}));
    for (i, f) in ["followup-run-1", "followup-run-2"].into_iter().enumerate() {
        run_turn(h, f);
        end_turn(h, f);
        assert_eq!(h.asm.legacy_held(), 1 - i, "handed over when the follow-up's run ends");
    }
}

#[test]
fn legacy_host_events_become_one_trace_per_message() {
    let mut h = Host::new(true);
    legacy_flow(&mut h);
    let (traces, stats) = h.finish();
    let names = |t: &Trace| t.spans.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let of = |sk: &str| traces.iter().filter(|t| !t.straggler && session_of(t) == Some(sk)).collect::<Vec<_>>();

    // chat.send + tool: root → harness run → run → tool; usage; not an error.
    let tool = of("agent:main:legacy-tool");
    assert_eq!(tool.len(), 1, "{:?}", tool.iter().map(|t| names(t)).collect::<Vec<_>>());
    let t = tool[0];
    assert!(!t.incomplete);
    let root = t.root().expect("root");
    assert_eq!(root.name, "invoke_agent main");
    let span = t.spans.iter().find(|s| s.name == "execute_tool read").expect("tool span");
    let run = parent(t, span).expect("run");
    assert_eq!(run.name, "openclaw.run");
    let harness = parent(t, run).expect("harness run");
    assert_eq!(harness.name, "openclaw.harness.run");
    assert_eq!(parent(t, harness).map(|s| s.span_id), Some(root.span_id));
    assert_eq!(root.attr_i64("openclaw.usage.total.input_tokens"), Some(246));
    assert_eq!(root.attr_i64("openclaw.usage.total.output_tokens"), Some(14));
    // Two model calls around the tool, under the run; without content capture none knows its own usage (the
    // totals above come from the run's summary).
    let chats: Vec<&Span> = t.spans.iter().filter(|s| s.name == "chat fake-model").collect();
    assert_eq!(chats.len(), 2, "{:?}", names(t));
    assert!(chats.iter().all(|c| parent(t, c).map(|p| p.span_id) == Some(run.span_id)));
    assert!(chats.iter().all(|c| c.attr_i64("gen_ai.usage.output_tokens").is_none()));
    assert!(!t.has_error(), "{:?}", t.spans.iter().map(|s| (&s.name, &s.status)).collect::<Vec<_>>());

    // HTTP turn: a trace of its own, usage from llm_output.
    let http = of("agent:main:openai-user:alice");
    assert_eq!(http.len(), 1);
    assert_eq!(http[0].root().unwrap().attr_i64("openclaw.usage.total.input_tokens"), Some(123));
    assert!(!http[0].has_error());

    // Finally failed: the turn is an error, one span per attempt, each failed.
    let fail = of("agent:main:legacy-fail");
    assert_eq!(fail.len(), 1);
    let froot = fail[0].root().unwrap();
    assert!(froot.status.is_error(), "the failed turn is an error although OpenClaw said completed");
    let attempts: Vec<&Span> = fail[0].spans.iter().filter(|s| s.name == "openclaw.harness.run").collect();
    assert_eq!(attempts.len(), 2, "one span per attempt");
    assert!(attempts.iter().all(|s| s.status.is_error()), "both attempts failed");

    // Retried, then succeeded: the failed attempt is an error, the turn is not.
    let retry = of("agent:main:legacy-retry");
    assert_eq!(retry.len(), 1);
    assert!(!retry[0].root().unwrap().status.is_error());
    let attempts: Vec<&Span> = retry[0].spans.iter().filter(|s| s.name == "openclaw.harness.run").collect();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts.iter().filter(|s| s.status.is_error()).count(), 1);

    // Busy session: one trace per message, each with its run and usage, none an error.
    let busy = of("agent:main:legacy-busy");
    assert_eq!(busy.len(), 3, "{:?}", busy.iter().map(|t| names(t)).collect::<Vec<_>>());
    for t in &busy {
        assert!(!t.incomplete, "{:?}", names(t));
        assert_eq!(
            t.spans.iter().filter(|s| s.name == "openclaw.run").count(),
            1,
            "each message has its run: {:?}",
            names(t)
        );
        let r = t.root().unwrap();
        assert_eq!(r.attr_i64("openclaw.usage.total.output_tokens"), Some(7));
        assert!(!t.has_error());
    }
    let mut messages: Vec<&str> =
        busy.iter().filter_map(|t| t.root().unwrap().attr_str("openclaw.message_id")).collect();
    messages.sort();
    assert_eq!(messages, vec!["busy-1", "idem-2", "idem-3"], "each follow-up's message closes its own trace");
    assert_eq!(traces.iter().filter(|t| !t.straggler).count(), 7);
    assert_eq!(Stats::get(&stats.traces_incomplete), 0);
}

#[test]
fn without_legacy_host_lifecycle_events_alone_build_no_runs() {
    let mut h = Host::new(false);
    legacy_flow_plain(&mut h);
    let (traces, _) = h.finish();
    assert!(!traces.is_empty(), "the message still makes its turn");
    assert!(traces.iter().all(|t| !t.spans.iter().any(|s| s.name == "openclaw.run")));
}

fn legacy_flow_plain(h: &mut Host) {
    let sk = "agent:main:plain";
    h.d(json!({"type": "message.queued", "sessionKey": sk, "channel": "webchat", "source": "dispatch", "queueDepth": 1}));
    h.a("r", json!({"phase": "start"}), Some(sk));
    h.a("r", json!({"phase": "end"}), Some(sk));
    h.d(json!({"type": "message.processed", "channel": "webchat", "messageId": "r", "sessionKey": sk, "outcome": "completed"}));
}

#[test]
fn a_held_follow_up_is_handed_over_after_the_hold_timeout_in_event_time() {
    let mut h = Host::new(true);
    let sk = "agent:main:stuck";
    h.d(json!({"type": "message.queued", "sessionKey": sk, "channel": "webchat", "source": "dispatch", "queueDepth": 1}));
    h.a("first", json!({"phase": "start"}), Some(sk));
    h.d(json!({"type": "message.queued", "sessionKey": sk, "channel": "webchat", "source": "dispatch", "queueDepth": 2}));
    h.d(json!({"type": "message.processed", "channel": "webchat", "messageId": "m2", "sessionKey": sk, "outcome": "completed"}));
    assert_eq!(h.asm.legacy_held(), 1);
    let mut out = vec![];
    h.asm.tick(h.ts + 60_000.0, &mut out);
    assert_eq!(h.asm.legacy_held(), 1, "still within the hold");
    h.asm.tick(h.ts + 121_000.0, &mut out);
    assert_eq!(h.asm.legacy_held(), 0, "handed over at the hold timeout");
}
