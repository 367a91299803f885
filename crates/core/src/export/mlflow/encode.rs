//! The MLflow profile of a span: what MLflow's OTLP ingestion reads (`docs/ARCHITECTURE.md`, "Backends"), added to the GenAI attributes
//! every sink sends — span types, inputs and outputs, token usage, model and provider, and on the root the trace
//! name and tags. Session and user ride on every span already (`session.id`, `user.id`), so the trace gets them at
//! ingestion with no follow-up call.
//!
//! MLflow rejects a whole batch for one bad value, so values it would reject are fixed here, deterministically:
//! a session id over 250 characters is cut to a prefix plus a hash of the whole, empty ids are dropped.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;
use serde_json::{json, Value};

use crate::enrich;
use crate::export::transport::otlp_proto::{encode_request, key_value};
use crate::model::{AttrValue, Span, SpanRole, Trace};

/// MLflow's limit for trace metadata values (`MAX_CHARS_IN_TRACE_INFO_METADATA`): a longer session id fails the batch.
pub const MAX_ID_CHARS: usize = 250;
/// MLflow's limit for the trace name (`MAX_CHARS_IN_TRACE_INFO_TAGS_VALUE`).
pub const MAX_TAG_CHARS: usize = 4096;

pub const SPAN_TYPE: &str = "mlflow.spanType";
pub const SPAN_INPUTS: &str = "mlflow.spanInputs";
pub const SPAN_OUTPUTS: &str = "mlflow.spanOutputs";
pub const TOKEN_USAGE: &str = "mlflow.chat.tokenUsage";
pub const LLM_COST: &str = "mlflow.llm.cost";
pub const LLM_MODEL: &str = "mlflow.llm.model";
pub const LLM_PROVIDER: &str = "mlflow.llm.provider";
pub const TRACE_TAG_PREFIX: &str = "mlflow.traceTag.";
pub const TRACE_NAME_TAG: &str = "mlflow.traceTag.mlflow.traceName";

/// The attributes MLflow turns into trace metadata; values it would refuse are fixed before sending.
const ID_KEYS: [&str; 3] = ["session.id", "gen_ai.conversation.id", "user.id"];

/// MLflow's span type for a span (`docs/ARCHITECTURE.md`, "Backends"). The root is always the agent; a model call is a chat model (what
/// MLflow's own GenAI translation makes of `gen_ai.operation.name = chat`, so the OTLP sink and this one agree).
pub fn span_type(span: &Span) -> &'static str {
    if span.parent_span_id.is_none() {
        return "AGENT";
    }
    match span.role {
        SpanRole::Turn | SpanRole::Harness | SpanRole::Run => "AGENT",
        SpanRole::ModelCall => "CHAT_MODEL",
        SpanRole::Tool => "TOOL",
        // Without model-call events the usage span is the turn's LLM summary and carries the tokens.
        SpanRole::Usage if has_usage(span) => "CHAT_MODEL",
        SpanRole::Usage | SpanRole::Context | SpanRole::Synthetic => "CHAIN",
    }
}

fn has_usage(span: &Span) -> bool {
    span.attrs.contains_key("gen_ai.usage.input_tokens") || span.attrs.contains_key("gen_ai.usage.output_tokens")
}

/// Adds the MLflow keys to one encoded span and fixes the values MLflow would reject.
pub fn map_span(trace: &Trace, span: &Span, out: &mut OtlpSpan) {
    sanitize_ids(&mut out.attributes);
    let mut add = |key: &str, value: String| out.attributes.push(key_value(key, &AttrValue::Str(value)));
    add(SPAN_TYPE, span_type(span).to_string());
    if let Some(v) = inputs(span) {
        add(SPAN_INPUTS, v);
    }
    if let Some(v) = outputs(span) {
        add(SPAN_OUTPUTS, v);
    }
    if let Some(u) = token_usage(span) {
        add(TOKEN_USAGE, u);
    }
    if let Some(c) = llm_cost(trace, span) {
        add(LLM_COST, c);
    }
    if matches!(span_type(span), "CHAT_MODEL") {
        if let Some(m) =
            span.attr_str("gen_ai.response.model").or(span.attr_str("gen_ai.request.model")).filter(|m| !m.is_empty())
        {
            add(LLM_MODEL, m.to_string());
        }
        if let Some(p) = span.attr_str("gen_ai.provider.name").filter(|p| !p.is_empty()) {
            add(LLM_PROVIDER, p.to_string());
        }
    }
    if span.parent_span_id.is_none() && !trace.straggler {
        for (k, v) in trace_tags(trace, span) {
            add(&format!("{TRACE_TAG_PREFIX}{k}"), v);
        }
    }
}

/// Session and user ids: empty ones dropped, long ones clamped (MLflow stores them as 250-character metadata).
fn sanitize_ids(attrs: &mut Vec<KeyValue>) {
    attrs.retain_mut(|kv| {
        if !ID_KEYS.contains(&kv.key.as_str()) {
            return true;
        }
        let Some(any_value::Value::StringValue(s)) = kv.value.as_mut().and_then(|v| v.value.as_mut()) else {
            // MLflow stores whatever it finds; a non-string id is not ours to send under these keys.
            return false;
        };
        if s.trim().is_empty() {
            return false;
        }
        if let Some(c) = clamp_id(s, MAX_ID_CHARS) {
            *s = c;
        }
        true
    });
}

/// `None` when `s` fits; else the first characters plus `~` and 16 hex digits of a hash of the whole value, exactly
/// `max` characters: deterministic (every span of every trace of the session gets the same id) and distinct for
/// ids that share a long prefix.
pub fn clamp_id(s: &str, max: usize) -> Option<String> {
    if s.chars().count() <= max {
        return None;
    }
    let suffix = format!("~{:016x}", fnv1a64(s.as_bytes()));
    let keep = max.saturating_sub(suffix.len());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(&suffix);
    Some(out)
}

fn clamp_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A string that holds JSON is sent as is (MLflow parses it back into an object); anything else — plain text, or
/// JSON cut short by `maxContentChars` — as a JSON string.
fn json_text(s: &str) -> String {
    if serde_json::from_str::<Value>(s).is_ok() {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

/// Plain text as one chat message, the shape MLflow's previews and chat view read (`{"messages":[{role, content}]}`).
fn chat_text(role: &str, text: &str) -> String {
    json!({ "messages": [{ "role": role, "content": text }] }).to_string()
}

/// Captured text, unless empty (a failed turn's reply is often ""): MLflow would show the bare JSON as the preview.
fn text_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attr_str(key).filter(|t| !t.trim().is_empty())
}

fn inputs(span: &Span) -> Option<String> {
    match span.role {
        // GenAI messages (`[{role, parts}]`) are sent as they are: MLflow's chat view reads that format.
        SpanRole::ModelCall | SpanRole::Usage if span.attrs.contains_key("gen_ai.input.messages") => {
            span.attr_str("gen_ai.input.messages").map(json_text)
        }
        SpanRole::Tool if span.attrs.contains_key("gen_ai.tool.call.arguments") => {
            span.attr_str("gen_ai.tool.call.arguments").map(json_text)
        }
        _ => text_attr(span, "openclaw.content.input").map(|t| chat_text("user", t)),
    }
}

fn outputs(span: &Span) -> Option<String> {
    match span.role {
        SpanRole::ModelCall | SpanRole::Usage if span.attrs.contains_key("gen_ai.output.messages") => {
            span.attr_str("gen_ai.output.messages").map(json_text)
        }
        SpanRole::Tool if span.attrs.contains_key("gen_ai.tool.call.result") => {
            span.attr_str("gen_ai.tool.call.result").map(json_text)
        }
        _ => text_attr(span, "openclaw.content.output").map(|t| chat_text("assistant", t)),
    }
}

/// `{"input_tokens","output_tokens","total_tokens"[,"cache_read_input_tokens","cache_creation_input_tokens"]}` on
/// the spans that carry GenAI usage (model calls, or the usage summary standing in for them). The root's turn totals
/// are not repeated: MLflow sums the tree itself, and a parent with usage would hide its children's.
pub fn token_usage(span: &Span) -> Option<String> {
    if !has_usage(span) {
        return None;
    }
    let input = span.attr_i64("gen_ai.usage.input_tokens").unwrap_or(0).max(0);
    let output = span.attr_i64("gen_ai.usage.output_tokens").unwrap_or(0).max(0);
    let mut u = serde_json::Map::new();
    u.insert("input_tokens".into(), input.into());
    u.insert("output_tokens".into(), output.into());
    u.insert("total_tokens".into(), (input + output).into());
    for (from, to) in [
        ("gen_ai.usage.cache_read.input_tokens", "cache_read_input_tokens"),
        ("gen_ai.usage.cache_creation.input_tokens", "cache_creation_input_tokens"),
    ] {
        if let Some(v) = span.attr_i64(from).filter(|v| *v > 0) {
            u.insert(to.into(), v.into());
        }
    }
    Some(Value::Object(u).to_string())
}

fn usd(span: &Span, key: &str) -> Option<f64> {
    span.attr_f64(key).filter(|c| c.is_finite() && *c >= 0.0)
}

/// `{"input_cost","output_cost","total_cost"}` (USD), what MLflow's OpenClaw integration sets from `costUsd`: on each
/// model call whose cost is known (the split when clawtrace priced it), and on the root the turn's total. MLflow sums
/// cost tree-aware, like tokens, so the trace's cost is the root's and each call still shows its own.
pub fn llm_cost(trace: &Trace, span: &Span) -> Option<String> {
    let (total, input, output) = if span.parent_span_id.is_none() && !trace.straggler {
        let total = usd(span, "openclaw.cost.total_usd").filter(|c| *c > 0.0)?;
        // The split only when every priced call has one and they add up to the turn's total.
        let calls: Vec<&Span> =
            trace.spans.iter().filter(|s| usd(s, enrich::COST_USD).is_some_and(|c| c > 0.0)).collect();
        let part = |k: &str| calls.iter().map(|s| usd(s, k)).sum::<Option<f64>>();
        let (i, o) = (part(enrich::COST_INPUT_USD), part(enrich::COST_OUTPUT_USD));
        let adds_up = matches!((i, o), (Some(i), Some(o)) if ((i + o) - total).abs() <= 1e-9 * total.max(1.0));
        (total, i.filter(|_| adds_up), o.filter(|_| adds_up))
    } else if span_type(span) == "CHAT_MODEL" {
        (
            usd(span, enrich::COST_USD).filter(|c| *c > 0.0)?,
            usd(span, enrich::COST_INPUT_USD),
            usd(span, enrich::COST_OUTPUT_USD),
        )
    } else {
        return None;
    };
    let mut c = serde_json::Map::new();
    if let (Some(i), Some(o)) = (input, output) {
        c.insert("input_cost".into(), json!(i));
        c.insert("output_cost".into(), json!(o));
    }
    c.insert("total_cost".into(), json!(total));
    Some(Value::Object(c).to_string())
}

/// Trace tags on the root: the name (MLflow's trace name), channel, agent and outcome, for filtering
/// (`tags.channel = 'webchat'`).
pub fn trace_tags(trace: &Trace, root: &Span) -> Vec<(&'static str, String)> {
    let mut tags = vec![("mlflow.traceName", clamp_chars(&root.name, MAX_TAG_CHARS))];
    let first = |key: &str| {
        root.attr_str(key).or_else(|| trace.spans.iter().find_map(|s| s.attr_str(key))).filter(|v| !v.is_empty())
    };
    if let Some(c) = first("openclaw.channel") {
        tags.push(("channel", clamp_chars(c, MAX_TAG_CHARS)));
    }
    if let Some(a) = first("gen_ai.agent.name") {
        tags.push(("agent", clamp_chars(a, MAX_TAG_CHARS)));
    }
    // OpenClaw's word, unless it says "completed" for a turn that failed (a failed model call makes the attempt
    // an error even then): the tag must agree with the trace's ERROR state.
    let outcome = match (root.attr_str("openclaw.outcome").filter(|o| !o.is_empty()), root.status.is_error()) {
        (Some("completed") | None, true) => "error".to_string(),
        (Some(o), _) => o.to_string(),
        (None, false) if trace.incomplete => "incomplete".to_string(),
        (None, false) => "completed".to_string(),
    };
    tags.push(("outcome", clamp_chars(&outcome, MAX_TAG_CHARS)));
    if trace.incomplete {
        tags.push(("incomplete", "true".to_string()));
    }
    tags
}

/// One request for a batch: every span with its MLflow profile, roots last.
pub fn request(batch: &[Arc<Trace>], service_name: &str) -> ExportTraceServiceRequest {
    let mut req = encode_request(batch.iter().map(|t| t.as_ref()), service_name, map_span);
    roots_last(&mut req);
    req
}

/// Moves every root span behind the other spans of the request: MLflow marks a trace finished (OK or ERROR) when its
/// root arrives, so the root last means no trace is ever seen half-written as finished, and none stays
/// `IN_PROGRESS` once the request is accepted.
pub fn roots_last(req: &mut ExportTraceServiceRequest) {
    for rs in &mut req.resource_spans {
        for ss in &mut rs.scope_spans {
            let (roots, children): (Vec<OtlpSpan>, Vec<OtlpSpan>) =
                std::mem::take(&mut ss.spans).into_iter().partition(|s| s.parent_span_id.is_empty());
            ss.spans = children;
            ss.spans.extend(roots);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn span(id: u8, parent: Option<u8>, role: SpanRole, name: &str, attrs: &[(&str, AttrValue)]) -> Span {
        Span {
            start_ns: 1_700_000_000_000_000_000 + id as u64,
            end_ns: 1_700_000_000_100_000_000,
            ..crate::testing::named(7, id, parent, role, name, attrs)
        }
    }

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.into())
    }

    fn turn(session: &str) -> Trace {
        let who = [("session.id", s(session)), ("gen_ai.conversation.id", s(session)), ("user.id", s("alice"))];
        let mut root_attrs = who.to_vec();
        root_attrs.extend([
            ("gen_ai.agent.name", s("main")),
            ("openclaw.channel", s("webchat")),
            ("openclaw.content.input", s("What is 2+2?")),
            ("openclaw.content.output", s("4")),
        ]);
        let mut call = who.to_vec();
        call.extend([
            ("gen_ai.request.model", s("fake-model")),
            ("gen_ai.provider.name", s("fake")),
            ("gen_ai.usage.input_tokens", AttrValue::Int(123)),
            ("gen_ai.usage.output_tokens", AttrValue::Int(7)),
            ("gen_ai.usage.cache_read.input_tokens", AttrValue::Int(0)),
            ("gen_ai.input.messages", s(r#"[{"role":"user","parts":[{"type":"text","content":"What is 2+2?"}]}]"#)),
            ("gen_ai.output.messages", s(r#"[{"role":"assistant","parts":[{"type":"text","content":"4"}]}]"#)),
        ]);
        let mut tool = who.to_vec();
        tool.extend([
            ("gen_ai.tool.call.arguments", s(r#"{"path":"a.txt"}"#)),
            ("gen_ai.tool.call.result", s("file conten…")),
        ]);
        Trace {
            trace_id: [7; 16],
            spans: vec![
                span(1, None, SpanRole::Turn, "invoke_agent main", &root_attrs),
                span(2, Some(1), SpanRole::Harness, "openclaw.harness.run", &who),
                span(3, Some(2), SpanRole::Run, "openclaw.run", &who),
                span(4, Some(3), SpanRole::Context, "openclaw.context.assembled", &who),
                span(5, Some(3), SpanRole::ModelCall, "chat fake-model", &call),
                span(6, Some(3), SpanRole::Tool, "execute_tool read", &tool),
                span(7, Some(2), SpanRole::Usage, "openclaw.model.usage", &who),
            ],
            straggler: false,
            incomplete: false,
        }
    }

    fn attr<'a>(o: &'a OtlpSpan, key: &str) -> Option<&'a str> {
        o.attributes.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
    }

    fn encode(t: &Trace) -> ExportTraceServiceRequest {
        let mut req = encode_request([t], "openclaw", map_span);
        roots_last(&mut req);
        req
    }

    fn spans(req: &ExportTraceServiceRequest) -> &[OtlpSpan] {
        &req.resource_spans[0].scope_spans[0].spans
    }

    #[test]
    fn span_types_inputs_outputs_usage_and_model() {
        let req = encode(&turn("agent:main:e2e"));
        let by = |name: &str| spans(&req).iter().find(|o| o.name == name).unwrap();
        let types: Vec<_> = spans(&req).iter().map(|o| (o.name.as_str(), attr(o, SPAN_TYPE).unwrap())).collect();
        assert_eq!(
            types,
            [
                ("openclaw.harness.run", "AGENT"),
                ("openclaw.run", "AGENT"),
                ("openclaw.context.assembled", "CHAIN"),
                ("chat fake-model", "CHAT_MODEL"),
                ("execute_tool read", "TOOL"),
                ("openclaw.model.usage", "CHAIN"),
                ("invoke_agent main", "AGENT"),
            ],
            "root last, the rest in tree order"
        );
        let call = by("chat fake-model");
        assert_eq!(attr(call, TOKEN_USAGE), Some(r#"{"input_tokens":123,"output_tokens":7,"total_tokens":130}"#));
        assert_eq!((attr(call, LLM_MODEL), attr(call, LLM_PROVIDER)), (Some("fake-model"), Some("fake")));
        let msgs: Value = serde_json::from_str(attr(call, SPAN_INPUTS).unwrap()).unwrap();
        assert_eq!(msgs[0]["parts"][0]["content"], "What is 2+2?");
        assert!(attr(call, SPAN_OUTPUTS).unwrap().contains("\"4\""));
        let tool = by("execute_tool read");
        assert_eq!(attr(tool, SPAN_INPUTS), Some(r#"{"path":"a.txt"}"#));
        assert_eq!(attr(tool, SPAN_OUTPUTS), Some(r#""file conten…""#), "cut JSON or text goes as a JSON string");
        let root = by("invoke_agent main");
        assert_eq!(attr(root, SPAN_INPUTS), Some(r#"{"messages":[{"content":"What is 2+2?","role":"user"}]}"#));
        assert_eq!(attr(root, SPAN_OUTPUTS), Some(r#"{"messages":[{"content":"4","role":"assistant"}]}"#));
        assert_eq!(attr(root, TOKEN_USAGE), None, "MLflow sums the tree; the root repeats nothing");
        let mut t = turn("agent:main:e2e");
        t.spans[0].attrs.insert("openclaw.content.output".into(), s(""));
        let req = encode(&t);
        assert_eq!(attr(spans(&req).last().unwrap(), SPAN_OUTPUTS), None, "an empty reply is no output");
        for o in spans(&req) {
            assert_eq!((attr(o, "session.id"), attr(o, "user.id")), (Some("agent:main:e2e"), Some("alice")));
        }
    }

    #[test]
    fn cost_on_model_calls_and_the_turn_total_on_the_root() {
        let mut t = turn("s");
        let call = t.spans.iter_mut().find(|s| s.role == SpanRole::ModelCall).unwrap();
        call.attrs.insert(enrich::COST_USD.into(), AttrValue::F64(0.5));
        call.attrs.insert(enrich::COST_INPUT_USD.into(), AttrValue::F64(0.125));
        call.attrs.insert(enrich::COST_OUTPUT_USD.into(), AttrValue::F64(0.375));
        t.spans[0].attrs.insert("openclaw.cost.total_usd".into(), AttrValue::F64(0.5));
        let req = encode(&t);
        let by = |name: &str| spans(&req).iter().find(|o| o.name == name).unwrap();
        let split = r#"{"input_cost":0.125,"output_cost":0.375,"total_cost":0.5}"#;
        assert_eq!(attr(by("chat fake-model"), LLM_COST), Some(split));
        assert_eq!(attr(by("invoke_agent main"), LLM_COST), Some(split), "the calls add up to the turn: split kept");
        assert!(spans(&req).iter().filter(|o| attr(o, LLM_COST).is_some()).count() == 2, "nowhere else");
        // OpenClaw's turn total (the usage summary) without a split on the calls: the total alone.
        t.spans[0].attrs.insert("openclaw.cost.total_usd".into(), AttrValue::F64(0.75));
        let req = encode(&t);
        assert_eq!(attr(spans(&req).last().unwrap(), LLM_COST), Some(r#"{"total_cost":0.75}"#));
        t.spans[0].attrs.insert("openclaw.cost.total_usd".into(), AttrValue::F64(0.0));
        assert_eq!(attr(spans(&encode(&t)).last().unwrap(), LLM_COST), None, "no cost known, none sent");
    }

    #[test]
    fn root_carries_name_and_tags() {
        let mut t = turn("s");
        let req = encode(&t);
        let root = spans(&req).last().unwrap();
        assert_eq!(attr(root, TRACE_NAME_TAG), Some("invoke_agent main"));
        assert_eq!(attr(root, "mlflow.traceTag.channel"), Some("webchat"));
        assert_eq!(attr(root, "mlflow.traceTag.agent"), Some("main"));
        assert_eq!(attr(root, "mlflow.traceTag.outcome"), Some("completed"));
        assert!(
            spans(&req)[..6].iter().all(|o| o.attributes.iter().all(|kv| !kv.key.starts_with(TRACE_TAG_PREFIX))),
            "tags on the root only"
        );
        t.spans[0].status = Status::Error("model call failed".into());
        assert_eq!(attr(spans(&encode(&t)).last().unwrap(), "mlflow.traceTag.outcome"), Some("error"));
        t.spans[0].attrs.insert("openclaw.outcome".into(), s("completed"));
        assert_eq!(
            attr(spans(&encode(&t)).last().unwrap(), "mlflow.traceTag.outcome"),
            Some("error"),
            "agrees with the ERROR state"
        );
        t.spans[0].attrs.insert("openclaw.outcome".into(), s("timed_out"));
        assert_eq!(attr(spans(&encode(&t)).last().unwrap(), "mlflow.traceTag.outcome"), Some("timed_out"));
    }

    #[test]
    fn usage_summary_without_model_calls_is_the_llm_span() {
        let mut t = turn("s");
        t.spans.retain(|s| s.role != SpanRole::ModelCall);
        let u = t.spans.iter_mut().find(|s| s.role == SpanRole::Usage).unwrap();
        u.attrs.insert("gen_ai.usage.input_tokens".into(), AttrValue::Int(10));
        u.attrs.insert("gen_ai.usage.output_tokens".into(), AttrValue::Int(2));
        u.attrs.insert("gen_ai.usage.cache_read.input_tokens".into(), AttrValue::Int(4));
        u.attrs.insert("gen_ai.request.model".into(), s("gpt-4o-mini"));
        let req = encode(&t);
        let o = spans(&req).iter().find(|o| o.name == "openclaw.model.usage").unwrap();
        assert_eq!(attr(o, SPAN_TYPE), Some("CHAT_MODEL"));
        assert_eq!(
            attr(o, TOKEN_USAGE),
            Some(r#"{"cache_read_input_tokens":4,"input_tokens":10,"output_tokens":2,"total_tokens":12}"#)
        );
        assert_eq!(attr(o, LLM_MODEL), Some("gpt-4o-mini"));
    }

    #[test]
    fn long_session_ids_are_clamped_deterministically() {
        let long_a = format!("agent:main:telegram:direct:{}", "a".repeat(400));
        let long_b = format!("agent:main:telegram:direct:{}b", "a".repeat(399));
        let ids: Vec<String> = [&long_a, &long_b]
            .iter()
            .map(|sk| {
                let req = encode(&turn(sk));
                let all: std::collections::HashSet<_> = spans(&req)
                    .iter()
                    .flat_map(|o| {
                        [
                            attr(o, "session.id").unwrap().to_string(),
                            attr(o, "gen_ai.conversation.id").unwrap().to_string(),
                        ]
                    })
                    .collect();
                assert_eq!(all.len(), 1, "every span and both keys carry the same clamped id");
                all.into_iter().next().unwrap()
            })
            .collect();
        for id in &ids {
            assert_eq!(id.chars().count(), MAX_ID_CHARS);
            assert!(id.starts_with("agent:main:telegram:direct:aaaa"));
        }
        assert_ne!(ids[0], ids[1], "ids sharing a long prefix stay distinct");
        assert_eq!(clamp_id(&long_a, MAX_ID_CHARS), clamp_id(&long_a, MAX_ID_CHARS));
        assert_eq!(clamp_id("short", MAX_ID_CHARS), None);
        let exactly = "x".repeat(MAX_ID_CHARS);
        assert_eq!(clamp_id(&exactly, MAX_ID_CHARS), None);
        // Multi-byte characters count as characters, as MLflow counts them.
        let wide = "é".repeat(300);
        assert_eq!(clamp_id(&wide, MAX_ID_CHARS).unwrap().chars().count(), MAX_ID_CHARS);
    }

    #[test]
    fn empty_ids_are_dropped_and_a_long_user_is_clamped() {
        let mut t = turn("");
        for sp in &mut t.spans {
            sp.attrs.insert("user.id".into(), s(&"u".repeat(600)));
        }
        t.spans[1].attrs.insert("session.id".into(), s("   "));
        t.spans[2].attrs.insert("user.id".into(), AttrValue::Int(5));
        let req = encode(&t);
        for o in spans(&req) {
            assert_eq!(attr(o, "session.id"), None);
            assert_eq!(attr(o, "gen_ai.conversation.id"), None);
            assert!(o.attributes.iter().filter(|kv| kv.key == "user.id").all(|kv| matches!(
                kv.value.as_ref().unwrap().value.as_ref().unwrap(),
                any_value::Value::StringValue(v) if v.chars().count() == MAX_ID_CHARS
            )));
        }
        assert!(spans(&req)
            .iter()
            .find(|o| o.name == "openclaw.run")
            .unwrap()
            .attributes
            .iter()
            .all(|kv| kv.key != "user.id"));
    }

    #[test]
    fn stragglers_get_no_trace_tags_and_long_names_are_cut() {
        let mut t = turn("s");
        t.spans[0].name = "n".repeat(5000).into();
        let req = encode(&t);
        assert_eq!(attr(spans(&req).last().unwrap(), TRACE_NAME_TAG).unwrap().chars().count(), MAX_TAG_CHARS);
        let mut late = turn("s");
        late.straggler = true;
        late.spans.remove(0);
        late.spans[0].parent_span_id = None; // a late span whose parent went out earlier, as the tree has it
        let req = encode(&late);
        assert!(spans(&req).iter().all(|o| o.attributes.iter().all(|kv| !kv.key.starts_with(TRACE_TAG_PREFIX))));
    }

    #[test]
    fn roots_go_last_across_traces() {
        let a = turn("a");
        let mut b = turn("b");
        b.trace_id = [9; 16];
        for sp in &mut b.spans {
            sp.trace_id = [9; 16];
        }
        let mut req = encode_request([&a, &b], "openclaw", map_span);
        roots_last(&mut req);
        let sp = spans(&req);
        assert_eq!(sp.len(), 14);
        assert!(sp[..12].iter().all(|o| !o.parent_span_id.is_empty()));
        assert!(sp[12..].iter().all(|o| o.parent_span_id.is_empty()));
    }
}
