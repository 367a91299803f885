//! Agent events and hooks carry no trace context: they annotate spans found through the correlation indices (the
//! catalogue's `Annotates(target)` column, `ingest/catalogue.rs`). One handler per kind; lifecycle kinds always
//! apply, content kinds only with `captureContent`.

use serde_json::Value;

use super::apply::truncate;
use super::content::{self, Note, NoteKind};
use super::state::SpanState;
use super::{correlate, count, Assembler};
use crate::enrich::failure;
use crate::ingest::{Class, Correlation, Event, EventKind, Target};
use crate::model::{AttrValue, SpanRole, Status};

impl Assembler {
    /// A tool's arguments often arrive before the diagnostic event that opens its span (`may_defer`): they wait
    /// for it, up to the grace window, instead of landing on the turn.
    pub(super) fn ingest_annotation(&mut self, e: Event, now_ms: f64, may_defer: bool) {
        let Correlation::Annotates(want) = e.kind.correlation() else {
            return count(&self.stats.skipped_unknown_type, &e);
        };
        if may_defer && self.cfg.capture_content && want == Target::Tool && e.kind.class() == Class::Content {
            if let Some(key) = correlate::tool_key_of(&e) {
                if self.correlator.tool(&e).is_none() && self.pending_tools.len() < self.cfg.max_open_traces {
                    self.pending_tools.entry(key).or_default().push((e, now_ms));
                    return;
                }
            }
        }
        if e.kind.class() != Class::Lifecycle && !self.cfg.capture_content {
            return count(&self.stats.skipped_content_disabled, &e);
        }
        let Some((trace_id, span_id)) = self.correlator.annotation_target(&e, want) else {
            return count(&self.stats.skipped_no_correlation, &e);
        };
        let Some(trace) = self.traces.get_mut(&trace_id) else {
            return count(&self.stats.skipped_no_correlation, &e);
        };
        trace.last_event_ms = now_ms;
        // A lifecycle end can close it: a look within the grace window (`assemble/deadlines.rs`).
        self.deadlines.ensure(trace, (now_ms + self.cfg.grace_ms).min(trace.created_ms + self.cfg.trace_ttl_ms));
        if let Some(note) = note_of(&e, self.cfg.max_content_chars) {
            // Content of a model call is handed out when the trace is finalized (`assemble/content.rs`).
            if trace.notes.len() < content::MAX_NOTES {
                trace.notes.push(note);
            }
            return count(&self.stats.events_in_spans, &e);
        }
        let Some(s) = trace.span_mut(span_id) else {
            return count(&self.stats.skipped_no_correlation, &e);
        };
        let content = Content { capture: self.cfg.capture_content, max: self.cfg.max_content_chars };
        let used = annotate(s, &e, content);
        // A failed attempt's cause belongs on the model call that failed, too (the run's current one).
        if let Some(cause) = failure_cause(&e) {
            // An attempt that failed (`finishing`) may be retried with success: only the turn's own end marks it.
            if e.data_str("phase") != Some("finishing") {
                cause.apply(s);
            }
            let target = self.correlator.annotation_target(&e, Target::Model);
            if let Some((_, call)) = target.filter(|t| t.0 == trace_id && t.1 != span_id) {
                if let Some(c) = trace.span_mut(call).filter(|c| c.span.role == SpanRole::ModelCall) {
                    cause.apply(c);
                }
            }
        }
        count(if used { &self.stats.events_in_spans } else { &self.stats.skipped_unknown_type }, &e);
    }
}

/// What an agent lifecycle event says about a failure (`enrich/failure.rs` turns it into what backends show):
/// `finishing` and `error` carry OpenClaw's text and the failover reason, `fallback_step` the provider's answer.
#[derive(Default)]
struct Cause {
    attrs: Vec<(&'static str, AttrValue)>,
}

impl Cause {
    fn apply(&self, s: &mut SpanState) {
        for (k, v) in &self.attrs {
            s.span.attrs.insert((*k).into(), v.clone());
        }
    }
}

fn failure_cause(e: &Event) -> Option<Cause> {
    if e.kind != EventKind::AgentLifecycle {
        return None;
    }
    let data = e.data()?;
    let text = |k: &str| data.get(k).and_then(Value::as_str).map(failure::clean_message).filter(|t| !t.is_empty());
    let mut c = Cause::default();
    if let Some(m) = text("error") {
        c.attrs.push((failure::CAUSE_MESSAGE, AttrValue::Str(truncate(m, 1024))));
    }
    if let Some(m) = text("fallbackStepFromFailureDetail") {
        c.attrs.push((failure::CAUSE_PROVIDER_MESSAGE, AttrValue::Str(truncate(m, 1024))));
    }
    let reason = data
        .get("errorObservation")
        .and_then(|o| o.get("failoverReason"))
        .and_then(Value::as_str)
        .or_else(|| data.get("fallbackStepFromFailureReason").and_then(Value::as_str))
        .filter(|r| !r.is_empty());
    if let Some(r) = reason {
        c.attrs.push((failure::CAUSE_REASON, AttrValue::Str(truncate(r, 128))));
    }
    (!c.attrs.is_empty()).then_some(c)
}

/// A model call's content, kept as a note of its run (`assemble/content.rs`); `None` for anything else.
fn note_of(e: &Event, max: usize) -> Option<Note> {
    let (kind, text, system) = match e.kind {
        EventKind::AgentAssistant => (NoteKind::Streamed, e.data_str("text")?.to_string(), None),
        EventKind::HookLlmInput => {
            (NoteKind::Prompt, e.str("prompt")?.to_string(), e.str("systemPrompt").map(|s| truncate(s, max)))
        }
        EventKind::HookLlmOutput => {
            let Some(Value::Array(texts)) = e.fields.get("assistantTexts") else { return None };
            let joined: Vec<&str> = texts.iter().filter_map(Value::as_str).collect();
            (NoteKind::AttemptOutput, joined.join("\n"), None)
        }
        _ => return None,
    };
    let run_id = e.id("runId")?.to_string();
    Some(Note { kind, run_id, ts_ns: e.ts_ns(), text: truncate(&text, max), system })
}

#[derive(Clone, Copy)]
struct Content {
    capture: bool,
    max: usize,
}

/// Applies one agent event or hook to its span; `false` when nothing in this kind (or phase) is used.
fn annotate(s: &mut SpanState, e: &Event, c: Content) -> bool {
    use EventKind as K;
    match e.kind {
        K::AgentLifecycle => lifecycle(s, e, c),
        K::HookAgentEnd => agent_end(s, e, c),
        K::AgentAssistant => assistant(s, e, c),
        K::AgentTool => agent_tool(s, e, c),
        K::HookBeforeToolCall => tool_arguments(s, e.fields.get("params"), c),
        K::HookAfterToolCall => tool_result(s, e.fields.get("result"), c),
        K::HookLlmInput => llm_input(s, e, c),
        K::HookLlmOutput => llm_output(s, e, c),
        _ => false,
    }
}

/// A run that ended ends an undescribed turn root (correlation mode, HTTP path).
fn end_turn(s: &mut SpanState) {
    if !s.described {
        s.terminal = true;
    }
}

fn lifecycle(s: &mut SpanState, e: &Event, c: Content) -> bool {
    match e.data_str("phase") {
        Some("error") => {
            let msg =
                e.data_str("error").map(failure::clean_message).filter(|m| !m.is_empty()).unwrap_or("agent run failed");
            s.span.set_status(Status::Error(truncate(msg, 512)));
            end_turn(s);
        }
        Some("end") => {
            final_reply(s, e, c);
            end_turn(s);
        }
        _ => {}
    }
    true
}

/// `agent_end` fires once per run attempt, and a retried turn goes on after it: it never ends the turn (the session
/// going idle, the lifecycle's end or error, or `message.processed` do).
fn agent_end(s: &mut SpanState, e: &Event, c: Content) -> bool {
    final_reply(s, e, c);
    if e.fields.get("success") == Some(&Value::Bool(false)) {
        let msg = e.str("error").unwrap_or("agent run failed");
        s.span.set_status(Status::Error(truncate(msg, 512)));
    }
    true
}

fn final_reply(s: &mut SpanState, e: &Event, c: Content) {
    let reply = e.data().and_then(|d| d.get("terminalReply")).and_then(|r| r.get("text")).and_then(Value::as_str);
    if let (true, Some(text)) = (c.capture, reply) {
        s.span.attrs.insert("openclaw.content.output".into(), AttrValue::Str(truncate(text, c.max)));
    }
}

fn assistant(s: &mut SpanState, e: &Event, c: Content) -> bool {
    if let Some(text) = e.data_str("text") {
        s.span.attrs.insert("openclaw.content.output".into(), AttrValue::Str(truncate(text, c.max)));
    }
    true
}

/// The agent stream's tool events: arguments at `start`, the result at `result`; other phases are not used.
fn agent_tool(s: &mut SpanState, e: &Event, c: Content) -> bool {
    let data = e.data();
    match e.data_str("phase") {
        Some("start") => tool_arguments(s, data.and_then(|d| d.get("args")).or_else(|| e.fields.get("params")), c),
        Some("result") => tool_result(s, data.and_then(|d| d.get("result")).or_else(|| e.fields.get("result")), c),
        _ => false,
    }
}

fn tool_arguments(s: &mut SpanState, args: Option<&Value>, c: Content) -> bool {
    if let Some(a) = args {
        s.span.attrs.insert("gen_ai.tool.call.arguments".into(), AttrValue::Str(truncate(&a.to_string(), c.max)));
    }
    true
}

fn tool_result(s: &mut SpanState, result: Option<&Value>, c: Content) -> bool {
    if let Some(r) = result {
        s.span.attrs.insert("gen_ai.tool.call.result".into(), AttrValue::Str(truncate(&r.to_string(), c.max)));
    }
    true
}

fn llm_input(s: &mut SpanState, e: &Event, c: Content) -> bool {
    if let Some(p) = e.str("prompt") {
        s.span.attrs.insert("openclaw.content.input".into(), AttrValue::Str(truncate(p, c.max)));
    }
    if let Some(p) = e.str("systemPrompt") {
        s.span.attrs.insert("openclaw.content.system".into(), AttrValue::Str(truncate(p, c.max)));
    }
    true
}

fn llm_output(s: &mut SpanState, e: &Event, c: Content) -> bool {
    if let Some(Value::Array(texts)) = e.fields.get("assistantTexts") {
        let joined: Vec<&str> = texts.iter().filter_map(Value::as_str).collect();
        s.span.attrs.insert("openclaw.content.output".into(), AttrValue::Str(truncate(&joined.join("\n"), c.max)));
    }
    true
}
