//! Content per model call (only with `captureContent`). OpenClaw's content hooks fire once per run attempt, not per
//! model call, and the agent stream is delivered at once while the diagnostic events that open and close model
//! calls go through an asynchronous queue: so content is not put on whatever call is current when it arrives. It is
//! kept as notes (run, time, text) and handed out when the trace is finalized, by time, within its run:
//! - the prompt (`llm_input`) goes to the first call of the attempt it preceded, without OpenClaw's envelope;
//! - the assistant text of the agent stream to the call that was running when it was streamed (`llm_output`, the
//!   attempt's texts joined, only to a call that got none);
//! - a call followed by tool executions returned those tool calls: they are its output, and their results are the
//!   next call's input.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::apply::truncate;
use super::state::Spans;
use crate::enrich::content::{INPUT, OUTPUT, SYSTEM, TOOL_CALLS, TOOL_RESULTS};
use crate::model::{AttrValue, SpanId, SpanRole};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// `llm_input`: the attempt's prompt (and system prompt).
    Prompt,
    /// Agent `assistant`: the text streamed so far by the current model call.
    Streamed,
    /// `llm_output`: the attempt's assistant texts.
    AttemptOutput,
}

#[derive(Debug, Clone)]
pub struct Note {
    pub kind: NoteKind,
    pub run_id: String,
    pub ts_ns: u64,
    pub text: String,
    pub system: Option<String>,
}

/// At most this many notes per trace (a runaway stream keeps its first ones).
pub const MAX_NOTES: usize = 4096;

/// Hands the notes out to the model calls of their run, then adds tool calls and results.
pub fn assign(spans: &mut Spans, mut notes: Vec<Note>, max: usize) {
    let mut calls: HashMap<String, Vec<(u64, SpanId)>> = HashMap::new();
    for s in spans.values().filter(|s| s.span.role == SpanRole::ModelCall) {
        if let Some(run) = s.span.attr_str("openclaw.run_id") {
            calls.entry(run.to_string()).or_default().push((s.span.start_ns, s.span.span_id));
        }
    }
    for c in calls.values_mut() {
        c.sort();
    }
    // Streamed text first (in time order, the last text of a call wins), then the attempts' outputs for calls
    // that got none.
    notes.sort_by_key(|n| (n.kind == NoteKind::AttemptOutput, n.ts_ns));
    for n in notes.into_iter().filter(|n| !n.text.trim().is_empty()) {
        let Some(run_calls) = calls.get(&n.run_id).filter(|c| !c.is_empty()) else { continue };
        let started_before = run_calls.iter().rev().find(|(start, _)| *start <= n.ts_ns).map(|(_, id)| *id);
        let target = match n.kind {
            // The prompt precedes the first call of its attempt.
            NoteKind::Prompt => run_calls.iter().find(|(start, _)| *start >= n.ts_ns).map(|(_, id)| *id),
            NoteKind::Streamed | NoteKind::AttemptOutput => started_before,
        };
        let Some(s) =
            target.or(started_before).or(run_calls.first().map(|(_, id)| *id)).and_then(|id| spans.get_mut(&id))
        else {
            continue;
        };
        let attrs = &mut s.span.attrs;
        match n.kind {
            NoteKind::Prompt => {
                attrs.insert(INPUT.into(), AttrValue::Str(truncate(strip_envelope(&n.text), max)));
                if let Some(sys) = n.system {
                    attrs.insert(SYSTEM.into(), AttrValue::Str(truncate(&sys, max)));
                }
            }
            NoteKind::Streamed => {
                attrs.insert(OUTPUT.into(), AttrValue::Str(truncate(&n.text, max)));
            }
            NoteKind::AttemptOutput => {
                attrs.entry(OUTPUT.into()).or_insert_with(|| AttrValue::Str(truncate(&n.text, max)));
            }
        }
    }
    tool_rounds(spans, &calls, max);
}

/// A call's tool calls are the tools of its run that started after it and before the run's next call.
fn tool_rounds(spans: &mut Spans, calls: &HashMap<String, Vec<(u64, SpanId)>>, max: usize) {
    let mut tools: HashMap<&str, Vec<(u64, Value, Value)>> = HashMap::new();
    for s in spans.values().filter(|s| s.span.role == SpanRole::Tool) {
        let (Some(run), Some(args)) =
            (s.span.attr_str("openclaw.run_id"), s.span.attr_str("gen_ai.tool.call.arguments"))
        else {
            continue;
        };
        let id = s.span.attr_str("gen_ai.tool.call.id").unwrap_or("");
        let name = s.span.attr_str("gen_ai.tool.name").unwrap_or("tool");
        let args: Value = serde_json::from_str(args).unwrap_or_else(|_| Value::String(args.to_string()));
        let call = json!({"id": id, "name": name, "arguments": args});
        let result = s.span.attr_str("gen_ai.tool.call.result").map(|r| json!({"id": id, "name": name, "result": r}));
        tools.entry(run).or_default().push((s.span.start_ns, call, result.unwrap_or(Value::Null)));
    }
    // Spans come out of a map: tools that started together are put in their call ids' order.
    for t in tools.values_mut() {
        t.sort_by(|a, b| (a.0, a.1["id"].as_str()).cmp(&(b.0, b.1["id"].as_str())));
    }
    let mut updates: Vec<(SpanId, &str, String)> = Vec::new();
    for (run, run_tools) in &tools {
        let Some(run_calls) = calls.get(*run) else { continue };
        for (i, (start, id)) in run_calls.iter().enumerate() {
            let next = run_calls.get(i + 1);
            let round: Vec<&(u64, Value, Value)> =
                run_tools.iter().filter(|(t, _, _)| *t >= *start && next.is_none_or(|(n, _)| t < n)).collect();
            if round.is_empty() {
                continue;
            }
            let calls_json: Vec<&Value> = round.iter().map(|(_, c, _)| c).collect();
            updates.push((
                *id,
                TOOL_CALLS,
                truncate(&Value::from(calls_json.into_iter().cloned().collect::<Vec<_>>()).to_string(), max),
            ));
            let results: Vec<Value> = round.iter().map(|(_, _, r)| r).filter(|r| !r.is_null()).cloned().collect();
            if let (Some((_, next_id)), false) = (next, results.is_empty()) {
                updates.push((*next_id, TOOL_RESULTS, truncate(&Value::from(results).to_string(), max)));
            }
        }
    }
    for (id, key, v) in updates {
        if let Some(s) = spans.get_mut(&id) {
            s.span.attrs.insert(key.into(), AttrValue::Str(v));
        }
    }
}

/// The user's text without what OpenClaw wraps around it: the `[Sun 2026-11-29 00:54 UTC] ` time prefix, the
/// note a retried or queued message carries (`[Queued user message from a previous active turn…]`), and the
/// sender block early-2026 hosts put first (`Sender (untrusted metadata):` and a fenced JSON block).
pub fn strip_envelope(prompt: &str) -> &str {
    let mut s = prompt.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("Sender (untrusted metadata):") {
            let fenced = rest.trim_start().strip_prefix("```").and_then(|b| b.find("```").map(|end| &b[end + 3..]));
            match fenced {
                Some(after) => {
                    s = after.trim_start();
                    continue;
                }
                None => return s.trim_end(),
            }
        }
        let Some(rest) = s.strip_prefix('[') else { return s.trim_end() };
        let Some(end) = rest.find(']') else { return s.trim_end() };
        let inner = &rest[..end];
        if !(is_timestamp(inner) || inner.starts_with("Queued ")) {
            return s.trim_end();
        }
        s = rest[end + 1..].trim_start();
    }
}

/// `Sun 2026-11-29 00:54 UTC` (a weekday, a date, a time, a zone), as OpenClaw stamps inbound messages.
fn is_timestamp(s: &str) -> bool {
    let parts: Vec<&str> = s.split_whitespace().collect();
    parts.len() >= 3
        && parts[0].len() == 3
        && parts[0].chars().all(|c| c.is_ascii_alphabetic())
        && parts[1].len() == 10
        && parts[1].chars().all(|c| c.is_ascii_digit() || c == '-')
        && parts[2].contains(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_stripped_and_nothing_else() {
        assert_eq!(strip_envelope("[Sun 2026-11-29 00:54 UTC] hello there"), "hello there");
        assert_eq!(
            strip_envelope("[Queued user message from a previous active turn]\n[Sun 2026-11-29 00:54 UTC] retry me"),
            "retry me"
        );
        assert_eq!(strip_envelope("[not a stamp] keep"), "[not a stamp] keep");
        assert_eq!(strip_envelope("plain"), "plain");
        assert_eq!(
            strip_envelope(
                "Sender (untrusted metadata):\n```json\n{\"id\": \"cli\"}\n```\n\n[Sun 2026-11-29 08:49 UTC] hi"
            ),
            "hi",
            "the sender block of 2026.3 hosts"
        );
        assert_eq!(strip_envelope("Sender (untrusted metadata): no block"), "Sender (untrusted metadata): no block");
    }
}
