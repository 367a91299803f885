//! Model calls rebuilt from the agent loop an early-2026 host reports (`docs/ARCHITECTURE.md`, "Legacy hosts").
//!
//! Such a host emits no model-call events, but its agent loop alternates model calls and tool rounds, and it
//! reports the loop's edges: a lifecycle `start` begins the first call; the first tool of a round ends the running
//! call (it answered with that tool call); the end of the round's last tool begins the next call (it takes the
//! results); the lifecycle `end` or `error` ends the running call, an `error` as failed. Tools that overlap are one
//! round: the agent loop runs an answer's tool calls in parallel by default. A tool is seen twice with content
//! capture on (the agent `tool` stream and the tool hooks): its first start and first end count.
//!
//! With content capture, `agent_end` lists the attempt's assistant messages, one per call that answered, each with
//! its usage: they are matched to the run's last calls, newest with newest (a call retried after an error leaves
//! no message of its own). Without it, `llm_output`'s usage total is a call's own only when the attempt made one
//! call that answered.

use std::collections::VecDeque;

use serde_json::{Map, Value};

use crate::ingest::EventKind;

/// Calls of a run remembered for `agent_end` and `llm_output` (a runaway loop keeps its newest).
const MAX_CALLS: usize = 256;
/// Tool call ids remembered per lifecycle segment (open and finished).
const MAX_TOOLS: usize = 256;

/// One model-call event to emit: its kind, call id, time and fields beyond the run's own.
pub struct CallEvent {
    pub kind: EventKind,
    pub call_id: String,
    pub ts: f64,
    pub fields: Map<String, Value>,
}

struct Ended {
    call_id: String,
    end: f64,
    failed: bool,
    /// Usage already given (from `agent_end`): `llm_output`'s total is not put on it again.
    has_usage: bool,
}

#[derive(Default)]
pub struct Calls {
    /// Calls begun in this run (call ids are `<runId>:call:<n>`, unique in the run).
    begun: u32,
    running: Option<String>,
    open_tools: Vec<String>,
    done_tools: VecDeque<String>,
    ended: VecDeque<Ended>,
    /// Calls ended since the last `llm_output`: the attempt `llm_output` reports on.
    attempt_from: usize,
}

impl Calls {
    fn begin(&mut self, run_id: &str, ts: f64, out: &mut Vec<CallEvent>) {
        self.begun += 1;
        let call_id = format!("{run_id}:call:{}", self.begun);
        out.push(CallEvent { kind: EventKind::ModelCallStarted, call_id: call_id.clone(), ts, fields: Map::new() });
        self.running = Some(call_id);
    }

    /// Ends the running call; `error` is its category when it failed (`Error`, as OpenClaw's own
    /// `model.call.error` says, for a lifecycle error).
    fn end(&mut self, ts: f64, error: Option<&str>, out: &mut Vec<CallEvent>) {
        let Some(call_id) = self.running.take() else { return };
        let mut fields = Map::new();
        let kind = match error {
            Some(category) => {
                fields.insert("errorCategory".into(), Value::String(category.into()));
                EventKind::ModelCallError
            }
            None => EventKind::ModelCallCompleted,
        };
        out.push(CallEvent { kind, call_id: call_id.clone(), ts, fields });
        if self.ended.len() >= MAX_CALLS {
            self.ended.pop_front();
            self.attempt_from = self.attempt_from.saturating_sub(1);
        }
        self.ended.push_back(Ended { call_id, end: ts, failed: error.is_some(), has_usage: false });
    }

    /// A lifecycle `start`: a new segment of the agent loop, whose first call begins now (a call of an earlier
    /// segment that never ended was aborted).
    pub fn segment_started(&mut self, run_id: &str, ts: f64, out: &mut Vec<CallEvent>) {
        self.end(ts, Some("aborted"), out);
        self.open_tools.clear();
        self.done_tools.clear();
        self.begin(run_id, ts, out);
    }

    /// A lifecycle `end` or `error` (`failed`): the running call ends with the segment. Returns whether a call
    /// was running (a failed one then carries the segment's error).
    pub fn segment_ended(&mut self, ts: f64, failed: bool, out: &mut Vec<CallEvent>) -> bool {
        self.open_tools.clear();
        let running = self.running.is_some();
        self.end(ts, failed.then_some("Error"), out);
        running
    }

    /// A tool started (first sight of its id): the running call answered with it.
    pub fn tool_started(&mut self, tool: &str, ts: f64, out: &mut Vec<CallEvent>) {
        if self.open_tools.iter().any(|t| t == tool) || self.done_tools.iter().any(|t| t == tool) {
            return;
        }
        self.end(ts, None, out);
        if self.open_tools.len() < MAX_TOOLS {
            self.open_tools.push(tool.to_string());
        }
    }

    /// A tool ended (first sight of its end): when it was the round's last, the next call begins.
    pub fn tool_ended(&mut self, run_id: &str, tool: &str, ts: f64, out: &mut Vec<CallEvent>) {
        let Some(i) = self.open_tools.iter().position(|t| t == tool) else { return };
        self.open_tools.swap_remove(i);
        if self.done_tools.len() >= MAX_TOOLS {
            self.done_tools.pop_front();
        }
        self.done_tools.push_back(tool.to_string());
        if self.open_tools.is_empty() && self.running.is_none() {
            self.begin(run_id, ts, out);
        }
    }

    /// `agent_end`'s messages (content capture): the attempt's answers, each one call's, matched newest first to
    /// the calls that ended. Each answered call gets its usage; the host's own model and response id.
    pub fn answers(&mut self, messages: &[Value], out: &mut Vec<CallEvent>) {
        let last_user = messages.iter().rposition(|m| m.get("role").and_then(Value::as_str) == Some("user"));
        let answers = messages[last_user.map_or(0, |i| i + 1)..]
            .iter()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"));
        for (m, call) in answers.rev().zip(self.ended.iter_mut().rev()) {
            let failed = m.get("stopReason").and_then(Value::as_str) == Some("error");
            if failed || call.failed {
                continue;
            }
            let mut fields = Map::new();
            if let Some(u) = m.get("usage").and_then(Value::as_object) {
                fields.insert("usage".into(), Value::Object(usage_of(u)));
                call.has_usage = true;
            }
            for (from, to) in [("responseId", "responseId"), ("model", "model"), ("provider", "provider")] {
                if let Some(v) = m.get(from).filter(|v| v.as_str().is_some_and(|s| !s.is_empty())) {
                    fields.insert(to.into(), v.clone());
                }
            }
            out.push(CallEvent {
                kind: EventKind::ModelCallCompleted,
                call_id: call.call_id.clone(),
                ts: call.end,
                fields,
            });
        }
    }

    /// `llm_output`'s usage total of the attempt: a call's own when the attempt made one call that answered.
    pub fn attempt_usage(&mut self, usage: &Map<String, Value>, out: &mut Vec<CallEvent>) {
        let from = self.attempt_from.min(self.ended.len());
        self.attempt_from = self.ended.len();
        let mut answered = self.ended.iter().skip(from).filter(|c| !c.failed);
        let (Some(only), None) = (answered.next(), answered.next()) else { return };
        if only.has_usage {
            return;
        }
        let mut fields = Map::new();
        fields.insert("usage".into(), Value::Object(usage_of(usage)));
        out.push(CallEvent {
            kind: EventKind::ModelCallCompleted,
            call_id: only.call_id.clone(),
            ts: only.end,
            fields,
        });
    }
}

/// The usage keys model-call events carry (`assemble/apply.rs`), from a message's or a hook's usage.
fn usage_of(u: &Map<String, Value>) -> Map<String, Value> {
    let mut usage = Map::new();
    for k in ["input", "output", "cacheRead", "cacheWrite", "total", "cost"] {
        if let Some(v) = u.get(k).filter(|v| v.is_number() || v.is_object()) {
            usage.insert(k.into(), v.clone());
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calls a sequence of loop edges makes, as `start:<n>` / `end:<n>` / `fail:<n>` at their times.
    fn edges(steps: &[(&str, &str, f64)]) -> Vec<String> {
        let mut calls = Calls::default();
        let mut out = Vec::new();
        for (what, tool, ts) in steps {
            match *what {
                "start" => calls.segment_started("r", *ts, &mut out),
                "end" => drop(calls.segment_ended(*ts, false, &mut out)),
                "error" => drop(calls.segment_ended(*ts, true, &mut out)),
                "tool" => calls.tool_started(tool, *ts, &mut out),
                "done" => calls.tool_ended("r", tool, *ts, &mut out),
                _ => unreachable!(),
            }
        }
        out.iter()
            .map(|c| {
                let n = c.call_id.trim_start_matches("r:call:");
                let what = match c.kind {
                    EventKind::ModelCallStarted => "start",
                    EventKind::ModelCallError => "fail",
                    _ => "end",
                };
                format!("{what}:{n}@{}", c.ts)
            })
            .collect()
    }

    #[test]
    fn overlapping_tools_are_one_round_between_two_calls() {
        // Each tool seen twice (agent stream, then hook, which may come late): its first start and end count.
        let got = edges(&[
            ("start", "", 0.0),
            ("tool", "a", 10.0),
            ("tool", "b", 11.0),
            ("tool", "a", 12.0),
            ("done", "a", 20.0),
            ("done", "a", 21.0),
            ("done", "b", 30.0),
            ("tool", "b", 31.0),
            ("done", "b", 32.0),
            ("end", "", 40.0),
        ]);
        assert_eq!(got, ["start:1@0", "end:1@10", "start:2@30", "end:2@40"]);
    }

    #[test]
    fn tools_one_after_the_other_are_rounds_of_their_own_and_an_error_fails_the_running_call() {
        let got = edges(&[
            ("start", "", 0.0),
            ("tool", "a", 10.0),
            ("done", "a", 20.0),
            ("tool", "b", 25.0),
            ("done", "b", 30.0),
            ("error", "", 40.0),
            ("start", "", 50.0),
            ("end", "", 60.0),
        ]);
        assert_eq!(
            got,
            ["start:1@0", "end:1@10", "start:2@20", "end:2@25", "start:3@30", "fail:3@40", "start:4@50", "end:4@60"]
        );
    }

    #[test]
    fn answers_go_to_the_newest_calls_that_answered() {
        let mut calls = Calls::default();
        let mut out = Vec::new();
        calls.segment_started("r", 0.0, &mut out);
        calls.segment_ended(5.0, true, &mut out);
        calls.segment_started("r", 10.0, &mut out);
        calls.tool_started("a", 20.0, &mut out);
        calls.tool_ended("r", "a", 30.0, &mut out);
        calls.segment_ended(40.0, false, &mut out);
        out.clear();
        let usage = |n: i64| serde_json::json!({"input": n, "output": 1, "cacheRead": 0, "cacheWrite": 0});
        let messages = serde_json::json!([
            {"role": "user", "content": "earlier turn"},
            {"role": "assistant", "usage": usage(1)},
            {"role": "user", "content": "this turn"},
            {"role": "assistant", "stopReason": "toolUse", "usage": usage(100)},
            {"role": "toolResult"},
            {"role": "assistant", "stopReason": "stop", "usage": usage(200)},
        ]);
        calls.answers(messages.as_array().unwrap(), &mut out);
        let got: Vec<(String, i64)> =
            out.iter().map(|c| (c.call_id.clone(), c.fields["usage"]["input"].as_i64().unwrap())).collect();
        assert_eq!(
            got,
            [("r:call:3".to_string(), 200), ("r:call:2".to_string(), 100)],
            "the failed first call had no answer"
        );
    }

    #[test]
    fn the_attempt_total_is_a_calls_own_only_when_it_was_the_only_call_and_knew_none() {
        let usage = serde_json::json!({"input": 123, "output": 7});
        let one_call = |answer: bool| {
            let mut calls = Calls::default();
            let mut out = Vec::new();
            calls.segment_started("r", 0.0, &mut out);
            calls.segment_ended(5.0, false, &mut out);
            if answer {
                calls.answers(&[serde_json::json!({"role": "assistant", "usage": usage.clone()})], &mut out);
            }
            out.clear();
            calls.attempt_usage(usage.as_object().unwrap(), &mut out);
            out.len()
        };
        assert_eq!(one_call(false), 1, "no answers (capture off): the total is the call's");
        assert_eq!(one_call(true), 0, "the call has its own already");
    }
}
