//! The Langfuse profile of a span (`docs/ARCHITECTURE.md`, "Backends"): the generic OTLP span plus the `langfuse.*` keys Langfuse
//! reads first. Langfuse v4 has no trace entity, so the trace-level keys (name, user, session, tags, environment,
//! release) go on every span; the root carries the turn's input and output; every span says its observation type;
//! generations say their model, their usage in Langfuse's own keys and, when OpenClaw knows it, their cost.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;
use serde_json::{Map, Value};

use crate::enrich::{self, session};
use crate::export::transport::otlp_proto::{encode_request, key_value};
use crate::model::{AttrValue, Span, SpanRole, Trace};

pub const TRACE_NAME: &str = "langfuse.trace.name";
pub const USER_ID: &str = "langfuse.user.id";
pub const SESSION_ID: &str = "langfuse.session.id";
pub const TRACE_TAGS: &str = "langfuse.trace.tags";
pub const ENVIRONMENT: &str = "langfuse.environment";
pub const RELEASE: &str = "langfuse.release";
pub const OBSERVATION_TYPE: &str = "langfuse.observation.type";
pub const OBSERVATION_LEVEL: &str = "langfuse.observation.level";
pub const OBSERVATION_INPUT: &str = "langfuse.observation.input";
pub const OBSERVATION_OUTPUT: &str = "langfuse.observation.output";
pub const MODEL_NAME: &str = "langfuse.observation.model.name";
pub const USAGE_DETAILS: &str = "langfuse.observation.usage_details";
pub const COST_DETAILS: &str = "langfuse.observation.cost_details";
pub const COMPLETION_START_TIME: &str = "langfuse.observation.completion_start_time";

/// Captured text (only with content capture): on the root, the turn's overall input and output.
pub const CONTENT_INPUT: &str = "openclaw.content.input";
pub const CONTENT_OUTPUT: &str = "openclaw.content.output";

/// What the exporter adds to every span whatever the trace (from the configuration).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    pub environment: Option<String>,
    pub release: Option<String>,
}

/// The trace-level attributes of one trace, computed once and copied to each of its spans.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceLevel {
    pub name: String,
    pub user: Option<String>,
    pub session: Option<String>,
    pub tags: Vec<String>,
}

fn first_str<'a>(trace: &'a Trace, key: &str) -> Option<&'a str> {
    trace.spans.iter().find_map(|s| s.attr_str(key)).filter(|v| !v.is_empty())
}

impl TraceLevel {
    pub fn of(trace: &Trace) -> TraceLevel {
        let root = trace.root().filter(|_| !trace.straggler);
        let agent = first_str(trace, "gen_ai.agent.name")
            .or_else(|| first_str(trace, "openclaw.agent_id"))
            .or_else(|| first_str(trace, "openclaw.session_key").and_then(session::agent_id))
            .unwrap_or("main")
            .to_string();
        // Enrichment names the root `invoke_agent {agent}`; spans arriving after their trace (stragglers) have no
        // root with them, so the same name is derived the same way.
        let name = root.map(|r| r.name.to_string()).unwrap_or_else(|| format!("invoke_agent {agent}"));
        let mut tags = vec![format!("agent:{agent}")];
        if let Some(c) = first_str(trace, "openclaw.channel") {
            tags.push(format!("channel:{c}"));
        }
        // The turn's own status wins over what OpenClaw reported: a run whose model call failed is an error even
        // when OpenClaw says `completed` (the root carries that verdict).
        match root {
            Some(r) if r.status.is_error() => tags.push("outcome:error".into()),
            Some(r) => {
                if let Some(o) = r.attr_str("openclaw.outcome") {
                    tags.push(format!("outcome:{o}"));
                }
            }
            None => {}
        }
        if trace.incomplete {
            tags.push("incomplete".into());
        }
        tags.sort();
        tags.dedup();
        TraceLevel {
            name,
            user: first_str(trace, "user.id").map(str::to_string),
            session: first_str(trace, "session.id").map(str::to_string),
            tags,
        }
    }
}

fn is_root(trace: &Trace, span: &Span) -> bool {
    span.parent_span_id.is_none() && !trace.straggler
}

/// Whether a span carries token usage as the GenAI conventions name it.
fn has_usage(span: &Span) -> bool {
    span.attrs.contains_key("gen_ai.usage.input_tokens") || span.attrs.contains_key("gen_ai.usage.output_tokens")
}

/// `langfuse.observation.type` (`docs/ARCHITECTURE.md`, "Backends"), set explicitly so Langfuse does not have to infer it.
pub fn observation_type(trace: &Trace, span: &Span) -> &'static str {
    if is_root(trace, span) {
        return "agent";
    }
    match span.role {
        SpanRole::Turn | SpanRole::Harness | SpanRole::Run => "agent",
        SpanRole::ModelCall => "generation",
        SpanRole::Tool => "tool",
        // Without model-call events the usage summary is the turn's only LLM span (enrichment gives it the usage).
        SpanRole::Usage if has_usage(span) => "generation",
        SpanRole::Context | SpanRole::Usage | SpanRole::Synthetic => "span",
    }
}

fn str_kv(key: &str, v: &str) -> KeyValue {
    key_value(key, &AttrValue::Str(v.to_string()))
}

fn string_array_kv(key: &str, values: &[String]) -> KeyValue {
    let values = values.iter().map(|v| AnyValue { value: Some(any_value::Value::StringValue(v.clone())) }).collect();
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values })) }),
        ..Default::default()
    }
}

/// Langfuse's usage keys (`docs/ARCHITECTURE.md`, "Backends"): `input` and `output` exclude the cache and reasoning counts that get
/// their own keys; `total` is everything. GenAI's `input_tokens` includes the cache tokens.
pub fn usage_details(span: &Span) -> Option<Value> {
    if !has_usage(span) {
        return None;
    }
    let get = |k: &str| span.attr_i64(k).unwrap_or(0).max(0);
    let input = get("gen_ai.usage.input_tokens");
    let output = get("gen_ai.usage.output_tokens");
    let cache_read = get("gen_ai.usage.cache_read.input_tokens");
    let cache_write = get("gen_ai.usage.cache_creation.input_tokens");
    let reasoning = get("gen_ai.usage.reasoning.output_tokens");
    let mut m = Map::new();
    m.insert("input".into(), (input - cache_read - cache_write).max(0).into());
    m.insert("output".into(), (output - reasoning).max(0).into());
    for (k, v) in [
        ("input_cached_tokens", cache_read),
        ("input_cache_creation", cache_write),
        ("output_reasoning_tokens", reasoning),
    ] {
        if v > 0 {
            m.insert(k.into(), v.into());
        }
    }
    m.insert("total".into(), (input + output).into());
    Some(Value::Object(m))
}

/// `{"total": usd}` when the cost is known: OpenClaw's `costUsd`, else clawtrace's price table (the configured
/// `pricing`), then with its `input` and `output` split, Langfuse's usage keys. Unknown, Langfuse prices the usage
/// from its own model table.
pub fn cost_details(span: &Span) -> Option<Value> {
    let usd = |k: &str| span.attr_f64(k).filter(|c| c.is_finite() && *c >= 0.0);
    let total = usd(enrich::COST_USD).filter(|c| *c > 0.0)?;
    Some(match (usd(enrich::COST_INPUT_USD), usd(enrich::COST_OUTPUT_USD)) {
        (Some(i), Some(o)) => serde_json::json!({ "input": i, "output": o, "total": total }),
        _ => serde_json::json!({ "total": total }),
    })
}

/// RFC 3339 UTC with milliseconds, from Unix nanoseconds (days-from-civil inverse, Howard Hinnant's algorithm).
pub fn iso8601(unix_ns: u64) -> String {
    let ms_total = unix_ns / 1_000_000;
    let (secs, ms) = (ms_total / 1000, ms_total % 1000);
    let (days, sod) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", sod / 3600, sod / 60 % 60, sod % 60)
}

/// Adds the Langfuse keys to one encoded span.
pub fn map_span(level: &TraceLevel, profile: &Profile, trace: &Trace, span: &Span, out: &mut OtlpSpan) {
    let a = &mut out.attributes;
    a.push(str_kv(TRACE_NAME, &level.name));
    if let Some(u) = &level.user {
        a.push(str_kv(USER_ID, u));
    }
    if let Some(s) = &level.session {
        a.push(str_kv(SESSION_ID, s));
    }
    if !level.tags.is_empty() {
        a.push(string_array_kv(TRACE_TAGS, &level.tags));
    }
    if let Some(e) = &profile.environment {
        a.push(str_kv(ENVIRONMENT, e));
    }
    if let Some(r) = &profile.release {
        a.push(str_kv(RELEASE, r));
    }
    let kind = observation_type(trace, span);
    a.push(str_kv(OBSERVATION_TYPE, kind));
    if span.status.is_error() {
        a.push(str_kv(OBSERVATION_LEVEL, "ERROR"));
    }
    // The root carries the turn's overall input and output (enrichment puts them there); any other span with
    // captured text shows it as its own. Moved, not copied: the text would otherwise travel twice (as metadata).
    let (input, output) = (span.attr_str(CONTENT_INPUT), span.attr_str(CONTENT_OUTPUT));
    if input.is_some() || output.is_some() {
        a.retain(|kv| kv.key != CONTENT_INPUT && kv.key != CONTENT_OUTPUT);
    }
    if let Some(i) = input {
        a.push(str_kv(OBSERVATION_INPUT, i));
    }
    if let Some(o) = output {
        a.push(str_kv(OBSERVATION_OUTPUT, o));
    }
    if kind == "generation" {
        if let Some(m) = span.attr_str("gen_ai.response.model").or_else(|| span.attr_str("gen_ai.request.model")) {
            a.push(str_kv(MODEL_NAME, m));
        }
        if let Some(u) = usage_details(span) {
            a.push(str_kv(USAGE_DETAILS, &u.to_string()));
        }
        if let Some(c) = cost_details(span) {
            a.push(str_kv(COST_DETAILS, &c.to_string()));
        }
        if let Some(ttfb) = span.attr_f64("openclaw.time_to_first_byte_ms").filter(|t| t.is_finite() && *t >= 0.0) {
            a.push(str_kv(COMPLETION_START_TIME, &iso8601(span.start_ns + (ttfb * 1e6) as u64)));
        }
    }
}

/// One OTLP request for a batch, every span with its Langfuse keys.
pub fn request(batch: &[Arc<Trace>], service_name: &str, profile: &Profile) -> ExportTraceServiceRequest {
    // Spans come trace by trace: the trace-level keys are computed once per trace.
    let mut current: Option<(usize, TraceLevel)> = None;
    encode_request(batch.iter().map(|t| t.as_ref()), service_name, |t, s, o| {
        let key = t as *const Trace as usize;
        if current.as_ref().is_none_or(|(k, _)| *k != key) {
            current = Some((key, TraceLevel::of(t)));
        }
        let level = &current.as_ref().expect("set just above").1;
        map_span(level, profile, t, s, o);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn span(id: u8, parent: Option<u8>, role: SpanRole, name: &str, attrs: &[(&str, AttrValue)]) -> Span {
        Span {
            start_ns: 1_795_760_008_686_000_000,
            end_ns: 1_795_760_012_037_000_000,
            ..crate::testing::named(7, id, parent, role, name, attrs)
        }
    }

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.into())
    }

    fn turn() -> Trace {
        let common = |extra: &[(&'static str, AttrValue)]| -> Vec<(&'static str, AttrValue)> {
            let mut v = vec![
                ("session.id", s("agent:ops:telegram:direct:42")),
                ("gen_ai.conversation.id", s("agent:ops:telegram:direct:42")),
                ("user.id", s("42")),
                ("openclaw.session_key", s("agent:ops:telegram:direct:42")),
            ];
            v.extend_from_slice(extra);
            v
        };
        let mut failed =
            span(4, Some(3), SpanRole::ModelCall, "chat gpt-x", &common(&[("gen_ai.request.model", s("gpt-x"))]));
        failed.status = Status::Error("boom".into());
        Trace {
            trace_id: [7; 16],
            spans: vec![
                span(
                    1,
                    None,
                    SpanRole::Turn,
                    "invoke_agent ops",
                    &common(&[
                        ("gen_ai.agent.name", s("ops")),
                        ("openclaw.channel", s("telegram")),
                        ("openclaw.outcome", s("completed")),
                        (CONTENT_INPUT, s("what is 2+2?")),
                        (CONTENT_OUTPUT, s("4")),
                    ]),
                ),
                span(2, Some(1), SpanRole::Harness, "openclaw.harness.run", &common(&[])),
                span(3, Some(2), SpanRole::Run, "openclaw.run", &common(&[])),
                failed,
                span(
                    5,
                    Some(3),
                    SpanRole::ModelCall,
                    "chat gpt-x",
                    &common(&[
                        ("gen_ai.request.model", s("gpt-x")),
                        ("gen_ai.response.model", s("gpt-x-2026")),
                        ("gen_ai.usage.input_tokens", AttrValue::Int(1000)),
                        ("gen_ai.usage.output_tokens", AttrValue::Int(50)),
                        ("gen_ai.usage.cache_read.input_tokens", AttrValue::Int(600)),
                        ("gen_ai.usage.cache_creation.input_tokens", AttrValue::Int(100)),
                        ("gen_ai.usage.reasoning.output_tokens", AttrValue::Int(20)),
                        ("openclaw.cost_usd", AttrValue::F64(0.0123)),
                        ("openclaw.time_to_first_byte_ms", AttrValue::F64(414.0)),
                    ]),
                ),
                span(6, Some(3), SpanRole::Tool, "execute_tool read", &common(&[])),
                span(7, Some(3), SpanRole::Context, "openclaw.context.assembled", &common(&[])),
                span(
                    8,
                    Some(2),
                    SpanRole::Usage,
                    "openclaw.model.usage",
                    &common(&[("openclaw.cost_usd", AttrValue::F64(0.5))]),
                ),
            ],
            straggler: false,
            incomplete: false,
        }
    }

    fn attrs(o: &OtlpSpan) -> std::collections::HashMap<&str, &any_value::Value> {
        o.attributes.iter().map(|kv| (kv.key.as_str(), kv.value.as_ref().unwrap().value.as_ref().unwrap())).collect()
    }

    fn sv<'a>(a: &std::collections::HashMap<&str, &'a any_value::Value>, k: &str) -> Option<&'a str> {
        match a.get(k) {
            Some(any_value::Value::StringValue(v)) => Some(v),
            _ => None,
        }
    }

    fn encoded(t: Trace, profile: &Profile) -> Vec<OtlpSpan> {
        let req = request(&[Arc::new(t)], "svc", profile);
        req.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans).collect()
    }

    #[test]
    fn trace_level_keys_on_every_span() {
        let profile = Profile { environment: Some("production".into()), release: Some("1.2.3".into()) };
        let spans = encoded(turn(), &profile);
        assert_eq!(spans.len(), 8);
        for o in &spans {
            let a = attrs(o);
            assert_eq!(sv(&a, TRACE_NAME), Some("invoke_agent ops"), "{}", o.name);
            assert_eq!(sv(&a, USER_ID), Some("42"));
            assert_eq!(sv(&a, SESSION_ID), Some("agent:ops:telegram:direct:42"));
            assert_eq!(sv(&a, ENVIRONMENT), Some("production"));
            assert_eq!(sv(&a, RELEASE), Some("1.2.3"));
            let Some(any_value::Value::ArrayValue(tags)) = a.get(TRACE_TAGS) else {
                panic!("tags as an array on {}", o.name)
            };
            let tags: Vec<&str> = tags
                .values
                .iter()
                .map(|v| match &v.value {
                    Some(any_value::Value::StringValue(s)) => s.as_str(),
                    other => panic!("string tags only: {other:?}"),
                })
                .collect();
            assert_eq!(tags, ["agent:ops", "channel:telegram", "outcome:completed"]);
            assert_eq!(o.attributes.iter().filter(|kv| kv.key == TRACE_NAME).count(), 1, "each key once");
        }
        // Without environment/release configured, neither key is sent.
        let a = encoded(turn(), &Profile::default());
        assert!(a.iter().all(|o| !attrs(o).contains_key(ENVIRONMENT) && !attrs(o).contains_key(RELEASE)));
    }

    #[test]
    fn observation_types_and_root_io() {
        let spans = encoded(turn(), &Profile::default());
        let types: Vec<&str> = spans.iter().map(|o| sv(&attrs(o), OBSERVATION_TYPE).unwrap()).collect();
        assert_eq!(types, ["agent", "agent", "agent", "generation", "generation", "tool", "span", "span"]);
        let root = attrs(&spans[0]);
        assert_eq!((sv(&root, OBSERVATION_INPUT), sv(&root, OBSERVATION_OUTPUT)), (Some("what is 2+2?"), Some("4")));
        assert!(!root.contains_key(CONTENT_INPUT) && !root.contains_key(CONTENT_OUTPUT), "content moved, not copied");
        assert!(spans[1..].iter().all(|o| !attrs(o).contains_key(OBSERVATION_INPUT)));
        let mut t = turn();
        t.spans[2].attrs.insert(CONTENT_OUTPUT.into(), s("partial answer"));
        let run = encoded(t, &Profile::default()).swap_remove(2);
        assert_eq!(sv(&attrs(&run), OBSERVATION_OUTPUT), Some("partial answer"));
        assert!(!attrs(&run).contains_key(CONTENT_OUTPUT));
        // A synthesised root (the HTTP path) is still the agent; a promoted usage summary is the generation.
        let mut t = turn();
        t.spans[0].role = SpanRole::Synthetic;
        t.spans[7].attrs.insert("gen_ai.usage.input_tokens".into(), AttrValue::Int(5));
        assert_eq!(observation_type(&t, &t.spans[0]), "agent");
        assert_eq!(observation_type(&t, &t.spans[7]), "generation");
    }

    #[test]
    fn generations_carry_model_usage_cost_and_first_token_time() {
        let spans = encoded(turn(), &Profile::default());
        let ok = attrs(&spans[4]);
        assert_eq!(sv(&ok, MODEL_NAME), Some("gpt-x-2026"), "the response model wins");
        let usage: Value = serde_json::from_str(sv(&ok, USAGE_DETAILS).unwrap()).unwrap();
        assert_eq!(
            usage,
            serde_json::json!({"input": 300, "output": 30, "input_cached_tokens": 600, "input_cache_creation": 100, "output_reasoning_tokens": 20, "total": 1050})
        );
        let cost: Value = serde_json::from_str(sv(&ok, COST_DETAILS).unwrap()).unwrap();
        assert_eq!(cost, serde_json::json!({"total": 0.0123}));
        assert_eq!(sv(&ok, COMPLETION_START_TIME), Some("2026-11-27T06:13:29.100Z"));
        let failed = attrs(&spans[3]);
        assert_eq!(sv(&failed, MODEL_NAME), Some("gpt-x"));
        assert_eq!(sv(&failed, OBSERVATION_LEVEL), Some("ERROR"));
        assert!(!failed.contains_key(USAGE_DETAILS) && !failed.contains_key(COST_DETAILS));
        // Usage and cost belong to generations only: the turn summary is not counted twice.
        let summary = attrs(&spans[7]);
        assert!(!summary.contains_key(COST_DETAILS) && !summary.contains_key(USAGE_DETAILS));
        // A cost clawtrace computed from the price table (the configured `pricing`) goes too, with its split.
        let mut t = turn();
        t.spans[4].attrs.insert("openclaw.cost_source".into(), s("price_table"));
        t.spans[4].attrs.insert(enrich::COST_INPUT_USD.into(), AttrValue::F64(0.01));
        t.spans[4].attrs.insert(enrich::COST_OUTPUT_USD.into(), AttrValue::F64(0.0023));
        assert_eq!(
            cost_details(&t.spans[4]),
            Some(serde_json::json!({"input": 0.01, "output": 0.0023, "total": 0.0123}))
        );
        t.spans[4].attrs.insert("openclaw.cost_usd".into(), AttrValue::F64(0.0));
        assert!(cost_details(&t.spans[4]).is_none(), "a zero cost is not a known cost");
    }

    #[test]
    fn stragglers_and_traces_without_user_or_outcome() {
        let mut t = turn();
        t.spans.retain(|s| s.span_id == [6; 8]);
        t.straggler = true;
        for s in &mut t.spans {
            s.attrs.remove("user.id");
        }
        let level = TraceLevel::of(&t);
        assert_eq!(level.name, "invoke_agent ops", "derived from the session key as enrichment does");
        assert_eq!((level.user, level.tags), (None, vec!["agent:ops".to_string()]));
        assert_eq!(observation_type(&t, &t.spans[0]), "tool");
        let mut t = turn();
        t.spans[0].attrs.remove("openclaw.outcome");
        t.incomplete = true;
        assert_eq!(TraceLevel::of(&t).tags, ["agent:ops", "channel:telegram", "incomplete"]);
        // OpenClaw said `completed`, but the turn failed: the tag follows the turn's status.
        let mut t = turn();
        t.spans[0].status = Status::Error("model call failed".into());
        assert_eq!(TraceLevel::of(&t).tags, ["agent:ops", "channel:telegram", "outcome:error"]);
    }

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000_000_000 + 1_500_000), "2000-02-29T00:00:00.001Z");
        assert_eq!(iso8601(1_795_760_009_100_000_000), "2026-11-27T06:13:29.100Z");
    }
}
