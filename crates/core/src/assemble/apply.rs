//! How each diagnostic event shapes the span it belongs to: role, name, times, attributes, status. One handler per
//! kind of the event catalogue (`ingest/catalogue.rs`); kinds without a handler only extend their span's extent.

use std::borrow::Cow;

use serde_json::Value;

use super::state::{SharedValues, SpanState, SHARED_ATTRS};
use crate::enrich::failure;
use crate::ingest::{event::ms_to_ns, Event, EventKind};
use crate::model::{AttrValue, SpanEvent, SpanKind, SpanRole, Status};

/// Copies the scalar fields OpenClaw documents for this span into `openclaw.*` attributes. A string moves out of
/// the event (left empty, which `Event::str` reads as absent): the event is dropped after it is applied, so a copy
/// would be one more allocation and one more free per field. Read what you need from a field before copying it.
/// The span's attributes grow once per event, by the keys it did not have (`Attrs::insert_all`).
fn copy_fields<const N: usize>(s: &mut SpanState, e: &mut Event, keys: &[(&str, &'static str); N]) {
    let taken = keys.map(|(field, attr)| e.fields.get_mut(field).and_then(take_scalar).map(|a| (attr.into(), a)));
    s.span.attrs.insert_all(&mut { taken });
}

/// As `scalar`, moving a string out of `v` instead of copying it.
fn take_scalar(v: &mut Value) -> Option<AttrValue> {
    match v {
        Value::String(t) if !t.is_empty() && t.len() <= MAX_ATTR_BYTES => {
            let mut t = std::mem::take(t);
            // Exact, as a copy would be: an open span's slack is memory every open trace pays.
            t.shrink_to_fit();
            Some(AttrValue::Str(t))
        }
        v => scalar(v),
    }
}

/// The event fields of the first `SHARED_ATTRS`, in its order (the last two are set from a field under another
/// key, and from a constant).
const SHARED_FIELDS: [&str; 8] =
    ["sessionKey", "sessionId", "runId", "channel", "agentId", "trigger", "provider", "model"];
/// The turn's ids, channel and trigger (slots of `SHARED_FIELDS`).
const COMMON: std::ops::Range<usize> = 0..6;
/// Those and the provider and model, in one pass over the fields (`copy_shared`).
const COMMON_AND_MODEL: std::ops::Range<usize> = 0..8;
/// `gen_ai.response.model` and `gen_ai.operation.name` (slots of `SHARED_ATTRS`).
const RESPONSE_MODEL: usize = 8;
const OPERATION: usize = 9;

/// Copies fields of `SHARED_FIELDS` (the slots `slots`) as `copy_fields` would, but into the trace's one copy of
/// each value; the span keeps an index (`state.rs`, `SharedValues`).
/// One pass over the event's fields, each name matched once, rather than a search of the fields per slot (their
/// order only decides which index a new value gets in the table).
fn copy_shared(s: &mut SpanState, sh: &mut SharedValues, e: &Event, slots: std::ops::Range<usize>) {
    for (field, v) in e.fields.iter() {
        let Some(slot) = shared_slot(field).filter(|i| slots.contains(i)) else { continue };
        match v {
            Value::String(t) if t.is_empty() => {}
            // Looked up before it is copied: the value is most often there already.
            Value::String(t) if t.len() <= MAX_ATTR_BYTES => share(s, slot, sh.intern_str(t), || t.as_str().into()),
            _ => {
                if let Some(a) = scalar(v) {
                    let index = sh.intern(a.clone());
                    share(s, slot, index, || a);
                }
            }
        }
    }
}

/// The slot of `SHARED_FIELDS` a field fills.
fn shared_slot(field: &str) -> Option<usize> {
    let slot = match field {
        "sessionKey" => 0,
        "sessionId" => 1,
        "runId" => 2,
        "channel" => 3,
        "agentId" => 4,
        "trigger" => 5,
        "provider" => 6,
        "model" => 7,
        _ => return None,
    };
    debug_assert_eq!(SHARED_FIELDS[slot], field);
    Some(slot)
}

/// Sets a shared attribute to the string `v`, as it is.
fn share_str(s: &mut SpanState, sh: &mut SharedValues, slot: usize, v: &str) {
    share(s, slot, sh.intern_str(v), || v.into());
}

/// Points the span's `slot` at a shared value; when the trace's table is full (it stays so), the span keeps its own
/// copy instead.
fn share(s: &mut SpanState, slot: usize, index: Option<u8>, own: impl FnOnce() -> AttrValue) {
    s.shared[slot] = index.unwrap_or(0);
    if index.is_none() {
        s.span.attrs.insert(SHARED_ATTRS[slot].into(), own());
    }
}

/// String attributes copied from events are cut at this many bytes.
const MAX_ATTR_BYTES: usize = 1024;

pub fn scalar(v: &Value) -> Option<AttrValue> {
    match v {
        Value::String(s) if !s.is_empty() => Some(AttrValue::Str(truncate(s, MAX_ATTR_BYTES))),
        Value::Bool(b) => Some(AttrValue::Bool(*b)),
        Value::Number(n) => n.as_i64().map(AttrValue::Int).or_else(|| n.as_f64().map(AttrValue::F64)),
        _ => None,
    }
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn set_role(s: &mut SpanState, role: SpanRole, name: impl Into<Cow<'static, str>>, kind: SpanKind) {
    s.span.role = role;
    s.span.name = name.into();
    s.span.kind = kind;
    s.described = true;
}

/// `set_role` with a name made of a prefix and what the event names (`chat gpt-4o`): made only when it differs
/// from the span's name, which the event that opened the span most often set already (one allocation and one
/// free fewer for each closing event).
fn set_role_named(s: &mut SpanState, role: SpanRole, prefix: &str, what: &str, kind: SpanKind) {
    let name = &s.span.name;
    let same = name.len() == prefix.len() + what.len() && name.starts_with(prefix) && name.ends_with(what);
    if !same {
        s.span.name = Cow::Owned(format!("{prefix}{what}"));
    }
    s.span.role = role;
    s.span.kind = kind;
    s.described = true;
}

fn start(s: &mut SpanState, e: &Event) {
    if s.span.start_ns == 0 || e.ts_ns() < s.span.start_ns {
        s.span.start_ns = e.ts_ns();
    }
    if !s.ended {
        s.open = true;
    }
}

/// Ends the span at the event time; `durationMs` fixes the start when the start event never came.
fn end(s: &mut SpanState, e: &Event) {
    let end_ns = e.ts_ns();
    s.span.end_ns = s.span.end_ns.max(end_ns);
    if let Some(d) = e.f64("durationMs") {
        let from_duration = end_ns.saturating_sub(ms_to_ns(d));
        if s.span.start_ns == 0 || from_duration < s.span.start_ns {
            s.span.start_ns = from_duration;
        }
        s.span.attrs.insert("openclaw.duration_ms".into(), AttrValue::F64(d));
    }
    if s.span.start_ns == 0 {
        s.span.start_ns = end_ns;
    }
    s.open = false;
    s.ended = true;
}

fn point(s: &mut SpanState, e: &Event) {
    start(s, e);
    end(s, e);
}

fn error(s: &mut SpanState, msg: String) {
    s.span.set_status(Status::Error(truncate(&msg, 512)));
}

fn outcome_status(s: &mut SpanState, e: &mut Event) {
    match e.str("outcome") {
        Some("error") | Some("timed_out") => {
            let detail = e.str("error").or(e.str("errorCategory")).or(e.str("reason")).unwrap_or("");
            let outcome = e.str("outcome").unwrap_or("error");
            error(s, if detail.is_empty() { outcome.to_string() } else { format!("{outcome}: {detail}") });
        }
        Some("completed") if !s.span.status.is_error() => s.span.set_status(Status::Ok),
        _ => {}
    }
    copy_fields(s, e, &[("outcome", "openclaw.outcome"), ("reason", "openclaw.reason")]);
}

/// Token counts under one family of keys: GenAI's, or clawtrace's own for the run's aggregate.
struct UsageKeys {
    input: &'static str,
    output: &'static str,
    cache_read: &'static str,
    cache_write: &'static str,
    reasoning: &'static str,
}

const GEN_AI_USAGE: UsageKeys = UsageKeys {
    input: "gen_ai.usage.input_tokens",
    output: "gen_ai.usage.output_tokens",
    cache_read: "gen_ai.usage.cache_read.input_tokens",
    cache_write: "gen_ai.usage.cache_creation.input_tokens",
    reasoning: "gen_ai.usage.reasoning.output_tokens",
};

const OPENCLAW_USAGE: UsageKeys = UsageKeys {
    input: "openclaw.usage.input_tokens",
    output: "openclaw.usage.output_tokens",
    cache_read: "openclaw.usage.cache_read.input_tokens",
    cache_write: "openclaw.usage.cache_creation.input_tokens",
    reasoning: "openclaw.usage.reasoning.output_tokens",
};

fn usage_attrs(s: &mut SpanState, usage: &serde_json::Map<String, Value>, keys: &UsageKeys) {
    let get = |k: &str| usage.get(k).and_then(Value::as_i64);
    let input = get("input").unwrap_or(0);
    let cache_read = get("cacheRead").unwrap_or(0);
    let cache_write = get("cacheWrite").unwrap_or(0);
    // gen_ai input tokens are inclusive of cache tokens; OpenClaw's `input` is not.
    let prompt = get("promptTokens").unwrap_or(input + cache_read + cache_write);
    let int = |key: &'static str, v: Option<i64>| v.map(|v| (key.into(), AttrValue::Int(v)));
    let cost = usage.get("cost").and_then(|c| c.get("total")).and_then(Value::as_f64);
    s.span.attrs.insert_all(&mut [
        int(keys.input, Some(prompt)),
        int(keys.output, get("output")),
        int(keys.cache_read, Some(cache_read)),
        int(keys.cache_write, Some(cache_write)),
        int(keys.reasoning, get("reasoningTokens")),
        cost.filter(|c| *c > 0.0).map(|c| ("openclaw.cost_usd".into(), AttrValue::F64(c))),
    ]);
}

/// The role of the span a point event (one event that is a whole span) describes.
pub fn point_role(kind: EventKind) -> Option<SpanRole> {
    match kind {
        EventKind::ModelUsage => Some(SpanRole::Usage),
        EventKind::ContextAssembled => Some(SpanRole::Context),
        _ => None,
    }
}

/// Applies one placed diagnostic event to its span.
/// `sh`: the values its trace's spans share (`state.rs`, `SharedValues`).
pub fn apply(s: &mut SpanState, sh: &mut SharedValues, e: &mut Event) {
    use EventKind as K;
    match e.kind {
        K::MessageReceived => message_received(s, sh, e),
        K::MessageQueued => message_queued(s, sh, e),
        K::MessageDispatchStarted | K::SessionTurnCreated => copy_shared(s, sh, e, COMMON),
        K::MessageDispatchCompleted => message_dispatch_completed(s, e),
        K::MessageProcessed => message_processed(s, sh, e),
        K::HarnessRunStarted => harness_run_started(s, sh, e),
        K::HarnessRunCompleted | K::HarnessRunError => harness_run_ended(s, e),
        K::RunStarted => run_started(s, sh, e),
        K::RunCompleted => run_completed(s, e),
        K::ModelCallStarted | K::ModelCallCompleted | K::ModelCallError => model_call(s, sh, e),
        K::ToolExecutionStarted
        | K::ToolExecutionCompleted
        | K::ToolExecutionError
        | K::ToolExecutionBlocked
        | K::ToolExecutionOther => tool_execution(s, sh, e),
        K::ContextAssembled => context_assembled(s, e),
        K::ModelUsage => model_usage(s, sh, e),
        K::QueueLaneDequeue => queue_lane_dequeue(s, e),
        K::RunExecutionPhase => run_execution_phase(s, e),
        K::SessionState => session_state(s, e),
        K::LogRecord => log_record(s, e),
        _ => {}
    }
}

/// An error log names what OpenClaw's error events do not: the error's class (`FailoverError`) and, for a
/// fallback decision, the provider's HTTP status and answer (`enrich/failure.rs` puts them on the failed spans).
fn log_record(s: &mut SpanState, e: &mut Event) {
    let error_level = e.str("level") == Some("ERROR");
    let Some(Value::Object(a)) = e.fields.get_mut("attributes") else { return };
    if let Some(name) = a.get_mut("errorName").filter(|_| error_level).and_then(take_scalar) {
        s.span.attrs.insert(failure::CAUSE_NAME.into(), name);
    }
    if a.get("decision").and_then(Value::as_str) == Some("candidate_failed") {
        if let Some(code) = a.get("status").and_then(Value::as_i64) {
            s.span.attrs.insert(failure::HTTP_STATUS.into(), AttrValue::Int(code));
        }
        if let Some(p) = a.get_mut("errorPreview").and_then(take_scalar) {
            s.span.attrs.insert(failure::CAUSE_PROVIDER_MESSAGE.into(), p);
        }
    }
}

fn message_received(s: &mut SpanState, sh: &mut SharedValues, e: &mut Event) {
    set_role(s, SpanRole::Turn, "openclaw.message", SpanKind::Server);
    start(s, e);
    copy_shared(s, sh, e, COMMON);
    copy_fields(
        s,
        e,
        &[("messageId", "openclaw.message_id"), ("chatId", "openclaw.chat_id"), ("source", "openclaw.message.source")],
    );
}

fn message_queued(s: &mut SpanState, sh: &mut SharedValues, e: &mut Event) {
    if s.span.role == SpanRole::Synthetic {
        set_role(s, SpanRole::Turn, "openclaw.message", SpanKind::Server);
        start(s, e);
    }
    copy_shared(s, sh, e, COMMON);
    copy_fields(s, e, &[("queueDepth", "openclaw.queue_depth")]);
    if e.str("source") == Some("followup-queue-steer") {
        s.span.attrs.insert("openclaw.message.steered".into(), AttrValue::Bool(true));
    }
}

fn message_dispatch_completed(s: &mut SpanState, e: &mut Event) {
    copy_fields(s, e, &[("durationMs", "openclaw.dispatch.duration_ms")]);
    outcome_status(s, e);
}

fn message_processed(s: &mut SpanState, sh: &mut SharedValues, e: &mut Event) {
    if s.span.role == SpanRole::Synthetic {
        set_role(s, SpanRole::Turn, "openclaw.message", SpanKind::Server);
    }
    copy_shared(s, sh, e, COMMON);
    copy_fields(s, e, &[("messageId", "openclaw.message_id")]);
    outcome_status(s, e);
    end(s, e);
    s.terminal = true;
}

fn harness_run_started(s: &mut SpanState, sh: &mut SharedValues, e: &mut Event) {
    set_role(s, SpanRole::Harness, "openclaw.harness.run", SpanKind::Internal);
    start(s, e);
    copy_shared(s, sh, e, COMMON_AND_MODEL);
    copy_fields(s, e, &[("harnessId", "openclaw.harness_id")]);
}

fn harness_run_ended(s: &mut SpanState, e: &mut Event) {
    set_role(s, SpanRole::Harness, "openclaw.harness.run", SpanKind::Internal);
    outcome_status(s, e);
    if e.kind == EventKind::HarnessRunError {
        error(s, format!("{}: {}", e.str("phase").unwrap_or("error"), e.str("errorCategory").unwrap_or("error")));
    }
    end(s, e);
    // A harness attempt without a parent is the trace root (`--local` runs).
    if s.span.parent_span_id.is_none() {
        s.terminal = true;
    }
}

fn run_started(s: &mut SpanState, sh: &mut SharedValues, e: &Event) {
    set_role(s, SpanRole::Run, "openclaw.run", SpanKind::Internal);
    start(s, e);
    copy_shared(s, sh, e, COMMON_AND_MODEL);
}

fn run_completed(s: &mut SpanState, e: &mut Event) {
    set_role(s, SpanRole::Run, "openclaw.run", SpanKind::Internal);
    outcome_status(s, e);
    copy_fields(s, e, &[("errorCategory", "error.type"), ("blockedBy", "openclaw.blocked_by")]);
    end(s, e);
}

fn model_call(s: &mut SpanState, sh: &mut SharedValues, e: &mut Event) {
    let model = e.str("model").unwrap_or("unknown");
    set_role_named(s, SpanRole::ModelCall, "chat ", model, SpanKind::Client);
    // Read before `copy_fields` moves it out.
    let failure = match e.str("failureKind") {
        Some(k) if e.kind == EventKind::ModelCallError => format!(" ({k})"),
        _ => String::new(),
    };
    share_str(s, sh, OPERATION, "chat");
    copy_shared(s, sh, e, COMMON_AND_MODEL);
    copy_fields(
        s,
        e,
        &[
            ("callId", "openclaw.call_id"),
            ("api", "openclaw.api"),
            ("transport", "openclaw.transport"),
            ("timeToFirstByteMs", "openclaw.time_to_first_byte_ms"),
            ("requestPayloadBytes", "openclaw.request_bytes"),
            ("responseStreamBytes", "openclaw.response_bytes"),
            ("failureKind", "openclaw.failure_kind"),
        ],
    );
    if let Some(m) = e.str("model") {
        share_str(s, sh, RESPONSE_MODEL, m);
    }
    if e.kind == EventKind::ModelCallStarted {
        return start(s, e);
    }
    if let Some(u) = e.obj("usage") {
        usage_attrs(s, u, &GEN_AI_USAGE);
    }
    if e.kind == EventKind::ModelCallError {
        let cat = e.str("errorCategory").unwrap_or("Error");
        s.span.attrs.insert("error.type".into(), cat.into());
        error(s, format!("model call failed: {cat}{failure}"));
    } else if !s.span.status.is_error() {
        s.span.set_status(Status::Ok);
    }
    end(s, e);
}

fn tool_execution(s: &mut SpanState, sh: &mut SharedValues, e: &mut Event) {
    let tool = e.str("toolName").unwrap_or("tool");
    set_role_named(s, SpanRole::Tool, "execute_tool ", tool, SpanKind::Internal);
    share_str(s, sh, OPERATION, "execute_tool");
    copy_shared(s, sh, e, COMMON);
    copy_fields(
        s,
        e,
        &[
            ("toolName", "gen_ai.tool.name"),
            ("toolCallId", "gen_ai.tool.call.id"),
            ("toolSource", "openclaw.tool.source"),
            ("toolOwner", "openclaw.tool.owner"),
            ("mutatingAction", "openclaw.tool.mutating"),
        ],
    );
    let failure = match e.kind {
        EventKind::ToolExecutionStarted => return start(s, e),
        EventKind::ToolExecutionCompleted => {
            if !s.span.status.is_error() {
                s.span.set_status(Status::Ok);
            }
            return end(s, e);
        }
        EventKind::ToolExecutionBlocked => "blocked",
        EventKind::ToolExecutionError => "error",
        _ => "failed",
    };
    let why = e.str("errorCategory").or(e.str("deniedReason")).or(e.str("reason")).unwrap_or("failed");
    s.span.attrs.insert("error.type".into(), why.into());
    error(s, format!("{failure}: {why}"));
    end(s, e);
}

fn context_assembled(s: &mut SpanState, e: &mut Event) {
    set_role(s, SpanRole::Context, "openclaw.context.assembled", SpanKind::Internal);
    copy_fields(
        s,
        e,
        &[
            ("messageCount", "openclaw.context.message_count"),
            ("promptChars", "openclaw.context.prompt_chars"),
            ("systemPromptChars", "openclaw.context.system_prompt_chars"),
            ("historyTextChars", "openclaw.context.history_chars"),
            ("contextTokenBudget", "openclaw.context.token_budget"),
        ],
    );
    point(s, e);
}

fn model_usage(s: &mut SpanState, sh: &mut SharedValues, e: &mut Event) {
    set_role(s, SpanRole::Usage, "openclaw.model.usage", SpanKind::Internal);
    copy_shared(s, sh, e, COMMON_AND_MODEL);
    copy_fields(s, e, &[("costUsd", "openclaw.cost_usd")]);
    if let Some(u) = e.obj("usage") {
        usage_attrs(s, u, &OPENCLAW_USAGE);
    }
    point(s, e);
}

fn queue_lane_dequeue(s: &mut SpanState, e: &Event) {
    if let Some(w) = e.f64("waitMs") {
        let prev = s.span.attr_f64("openclaw.queue.wait_ms").unwrap_or(0.0);
        s.span.attrs.insert("openclaw.queue.wait_ms".into(), AttrValue::F64(prev + w));
    }
}

/// Phases become span events, at most 64 per span.
fn run_execution_phase(s: &mut SpanState, e: &Event) {
    if let Some(p) = e.str("phase") {
        if s.span.events().len() < 64 {
            s.span.events_mut().push(SpanEvent {
                name: format!("phase.{p}"),
                time_ns: e.ts_ns(),
                attrs: Default::default(),
            });
        }
    }
}

/// The HTTP path's root is never described; the session going idle is its end.
fn session_state(s: &mut SpanState, e: &Event) {
    if e.str("state") == Some("idle") && s.span.role == SpanRole::Synthetic && s.span.parent_span_id.is_none() {
        s.terminal = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::state::MAX_SHARED_VALUES;
    use crate::ingest::decode;
    use crate::testing::diagnostic;

    fn event(kind: &str, run: &str) -> Event {
        let json = format!(
            r#"{{"type":"{kind}","ts":1,"sessionKey":"agent:main:s","runId":"{run}","provider":"openai","model":"m"}}"#
        );
        decode(diagnostic(json, 1.0)).unwrap()
    }

    #[test]
    fn spans_of_a_turn_share_one_copy_of_each_value_and_each_keeps_its_own() {
        let mut sh = SharedValues::default();
        let (mut harness, mut run) = (SpanState::new([1; 8]), SpanState::new([2; 8]));
        apply(&mut harness, &mut sh, &mut event("harness.run.started", "r1"));
        apply(&mut run, &mut sh, &mut event("run.started", "r1"));
        // session key, run id, provider, model: once each for both spans.
        assert_eq!(sh.len(), 4);
        apply(&mut run, &mut sh, &mut event("run.completed", "r2"));
        apply(&mut run, &mut sh, &mut event("run.started", "r2"));
        assert_eq!(sh.len(), 5, "a new value is added once");
        for s in [&mut harness, &mut run] {
            assert!(s.span.attrs.get("openclaw.run_id").is_none(), "held by the trace while open");
            sh.materialize(s);
        }
        assert_eq!(harness.span.attr_str("openclaw.run_id"), Some("r1"));
        assert_eq!(run.span.attr_str("openclaw.run_id"), Some("r2"), "the span's last value");
        assert_eq!(run.span.attr_str("gen_ai.request.model"), Some("m"));
        assert_eq!(harness.span.attr_str("openclaw.session_key"), Some("agent:main:s"));
    }

    #[test]
    fn a_copied_string_moves_out_of_the_event_and_what_is_read_after_is_read_first() {
        let json = r#"{"type":"model.call.error","ts":1,"runId":"r","model":"m","callId":"c1","api":"responses","failureKind":"timeout","errorCategory":"rate_limit"}"#;
        let mut e = decode(diagnostic(json, 1.0)).unwrap();
        let (mut sh, mut s) = (SharedValues::default(), SpanState::new([1; 8]));
        apply(&mut s, &mut sh, &mut e);
        assert_eq!(s.span.attr_str("openclaw.call_id"), Some("c1"));
        assert_eq!(s.span.attr_str("openclaw.failure_kind"), Some("timeout"));
        assert_eq!((e.str("callId"), e.str("failureKind")), (None, None), "moved, not copied");
        assert_eq!(e.str("runId"), Some("r"), "a shared value is only read");
        // The status reads the failure kind, which `copy_fields` moves out.
        let status = s.span.into_span([0; 16]).status;
        assert_eq!(status, Status::Error("model call failed: rate_limit (timeout)".into()));
        // A string over the bound is cut, as before, and a number stays where it is.
        let long = "x".repeat(MAX_ATTR_BYTES + 1);
        let mut e = decode(diagnostic(
            format!(r#"{{"type":"tool.execution.started","ts":1,"toolName":"{long}","toolCallId":"t","mutatingAction":true}}"#),
            1.0,
        ))
        .unwrap();
        let mut s = SpanState::new([2; 8]);
        apply(&mut s, &mut sh, &mut e);
        assert_eq!(s.span.attr_str("gen_ai.tool.name").map(str::len), Some(MAX_ATTR_BYTES + "…".len()));
        assert_eq!(s.span.attrs.get("openclaw.tool.mutating"), Some(&AttrValue::Bool(true)));
    }

    /// A call's or tool's name is made once, by the event that opened it, and made again only when a later event
    /// names another model or tool.
    #[test]
    fn a_span_named_after_its_model_or_tool_follows_the_last_name() {
        let mut sh = SharedValues::default();
        let mut s = SpanState::new([1; 8]);
        let call = |ty: &str, model: &str| {
            decode(diagnostic(format!(r#"{{"type":"{ty}","ts":1,"runId":"r","model":"{model}"}}"#), 1.0)).unwrap()
        };
        apply(&mut s, &mut sh, &mut call("model.call.started", "gpt-4o"));
        assert_eq!(s.span.name, "chat gpt-4o");
        apply(&mut s, &mut sh, &mut call("model.call.completed", "gpt-4o-mini"));
        assert_eq!(s.span.name, "chat gpt-4o-mini", "a name that only starts the same is made again");
        apply(&mut s, &mut sh, &mut call("model.call.completed", "4o-mini"));
        assert_eq!(s.span.name, "chat 4o-mini", "nor one that only ends the same");
        let mut t = SpanState::new([2; 8]);
        let tool = |ty: &str, name: &str| {
            decode(diagnostic(format!(r#"{{"type":"{ty}","ts":1,"toolName":"{name}","toolCallId":"t"}}"#), 1.0))
                .unwrap()
        };
        apply(&mut t, &mut sh, &mut tool("tool.execution.started", "read"));
        apply(&mut t, &mut sh, &mut tool("tool.execution.completed", "read"));
        assert_eq!((t.span.name.as_ref(), t.span.role), ("execute_tool read", SpanRole::Tool));
        apply(&mut t, &mut sh, &mut tool("tool.execution.completed", "exec"));
        assert_eq!(t.span.name, "execute_tool exec", "nor one as long");
    }

    #[test]
    fn each_shared_field_fills_its_own_slot() {
        for (i, field) in SHARED_FIELDS.iter().enumerate() {
            assert_eq!(shared_slot(field), Some(i), "{field}");
        }
        assert_eq!(shared_slot("sessionKeys"), None);
    }

    #[test]
    fn a_trace_of_ever_new_values_keeps_its_table_bounded_and_the_last_value_wins() {
        let mut sh = SharedValues::default();
        let mut s = SpanState::new([1; 8]);
        let n = MAX_SHARED_VALUES + 100;
        for i in 0..n {
            apply(&mut s, &mut sh, &mut event("run.started", &format!("r{i}")));
        }
        assert_eq!(sh.len(), MAX_SHARED_VALUES);
        sh.materialize(&mut s);
        assert_eq!(s.span.attr_str("openclaw.run_id"), Some(format!("r{}", n - 1).as_str()));
        assert_eq!(s.span.attr_str("openclaw.session_key"), Some("agent:main:s"), "shared before the table filled");
    }
}
