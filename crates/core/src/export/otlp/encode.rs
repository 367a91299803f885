//! The generic OTLP request: spans as assembled and enriched, in the two vocabularies generic backends read — the
//! GenAI semantic conventions (`gen_ai.*`) and OpenInference (`openinference.span.kind`, `input.value`,
//! `llm.*`), which Arize Phoenix and Langfuse's generic OTLP path use to tell an LLM call from the agent around it.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::enrich::{self, content};
use crate::export::transport::attr_ref::{AttrRef, Extra};
use crate::export::transport::http::Protocol;
use crate::export::transport::otlp_proto::{encode_request, push_extras};
use crate::export::transport::{otlp_json, otlp_protobuf};
use crate::model::{Span, SpanRole, Trace};

pub const SPAN_KIND: &str = "openinference.span.kind";

pub fn request(batch: &[Arc<Trace>], service_name: &str) -> ExportTraceServiceRequest {
    encode_request(batch.iter().map(|t| t.as_ref()), service_name, |t, s, o| {
        let mut extras = Vec::new();
        openinference(t, s, &mut extras);
        push_extras(&mut o.attributes, &extras);
    })
}

/// The same request as `request`, written straight into bytes in `protocol` (uncompressed): no prost tree.
pub fn body(batch: &[Arc<Trace>], service_name: &str, protocol: Protocol) -> Vec<u8> {
    let mut out = Vec::with_capacity(body_size(batch));
    write_body(&mut out, batch, service_name, protocol);
    out
}

/// A guess at a batch's request size, to reserve once.
pub fn body_size(batch: &[Arc<Trace>]) -> usize {
    256 + 768 * batch.iter().map(|t| t.spans.len()).sum::<usize>()
}

/// `body`'s bytes, appended to `out` (the exporter's reused buffer, `transport/body_pool.rs`).
pub fn write_body(out: &mut Vec<u8>, batch: &[Arc<Trace>], service_name: &str, protocol: Protocol) {
    let traces = batch.iter().map(|t| t.as_ref());
    match protocol {
        Protocol::Protobuf => otlp_protobuf::write_request(out, traces, service_name, openinference),
        Protocol::Json => otlp_json::write_request_with(out, traces, service_name, openinference),
    }
}

/// OpenInference's span kind: the turn and the runs in it are the agent, a model call the LLM (exactly one per
/// call, so Phoenix's LLM count is the call count), tools, and everything else a chain step.
pub fn span_kind(trace: &Trace, span: &Span) -> &'static str {
    if span.parent_span_id.is_none() && !trace.straggler {
        return "AGENT";
    }
    if enrich::is_model_call(span) {
        return "LLM";
    }
    match span.role {
        SpanRole::Turn | SpanRole::Harness | SpanRole::Run => "AGENT",
        SpanRole::Tool => "TOOL",
        _ => "CHAIN",
    }
}

/// The OpenInference keys of one span, next to its GenAI ones, borrowing their text from the span.
pub fn openinference<'a>(trace: &'a Trace, span: &'a Span, out: &mut Vec<Extra<'a>>) {
    let kind = span_kind(trace, span);
    let mut add = |key: &'static str, value: AttrRef<'a>| out.push((key, value));
    add(SPAN_KIND, kind.into());
    let (input, output) = match kind {
        "LLM" => (json(span, "gen_ai.input.messages"), json(span, "gen_ai.output.messages")),
        "TOOL" => (json(span, "gen_ai.tool.call.arguments"), json(span, "gen_ai.tool.call.result")),
        // Most such spans hold no content: one search says so.
        _ if !content::has_content(span) => (None, None),
        _ => (text(span, content::INPUT), text(span, content::OUTPUT)),
    };
    for (value, key, mime_key) in
        [(input, "input.value", "input.mime_type"), (output, "output.value", "output.mime_type")]
    {
        if let Some((text, mime)) = value {
            add(key, text.into());
            add(mime_key, mime.into());
        }
    }
    match kind {
        "LLM" => {
            if let Some(m) = span.attr_str("gen_ai.response.model").or(span.attr_str("gen_ai.request.model")) {
                add("llm.model_name", m.into());
            }
            if let Some(p) = span.attr_str("gen_ai.provider.name") {
                add("llm.provider", p.into());
            }
            let tokens = |k: &str| span.attr_i64(k).filter(|v| *v >= 0);
            let prompt = tokens("gen_ai.usage.input_tokens");
            let completion = tokens("gen_ai.usage.output_tokens");
            for (key, v) in [
                ("llm.token_count.prompt", prompt),
                ("llm.token_count.completion", completion),
                ("llm.token_count.prompt_details.cache_read", tokens("gen_ai.usage.cache_read.input_tokens")),
                ("llm.token_count.prompt_details.cache_write", tokens("gen_ai.usage.cache_creation.input_tokens")),
                ("llm.token_count.completion_details.reasoning", tokens("gen_ai.usage.reasoning.output_tokens")),
            ] {
                if let Some(v) = v {
                    add(key, AttrRef::Int(v));
                }
            }
            if prompt.is_some() || completion.is_some() {
                add("llm.token_count.total", AttrRef::Int(prompt.unwrap_or(0) + completion.unwrap_or(0)));
            }
            if let Some(total) = span.attr_f64(enrich::COST_USD).filter(|c| c.is_finite() && *c > 0.0) {
                add("llm.cost.total", AttrRef::F64(total));
                let part = |k: &str| span.attr_f64(k).filter(|c| c.is_finite() && *c >= 0.0);
                if let (Some(i), Some(o)) = (part(enrich::COST_INPUT_USD), part(enrich::COST_OUTPUT_USD)) {
                    add("llm.cost.prompt", AttrRef::F64(i));
                    add("llm.cost.completion", AttrRef::F64(o));
                }
            }
        }
        "TOOL" => {
            if let Some(n) = span.attr_str("gen_ai.tool.name") {
                add("tool.name", n.into());
            }
        }
        _ => {
            if let Some(a) = span.attr_str("gen_ai.agent.name") {
                add("agent.name", a.into());
            }
        }
    }
}

/// Captured JSON (GenAI messages, tool arguments) as OpenInference's value; text cut short goes as plain text.
fn json<'a>(span: &'a Span, key: &str) -> Option<(&'a str, &'static str)> {
    let v = span.attr_str(key).filter(|v| !v.trim().is_empty())?;
    let mime = if serde_json::from_str::<serde_json::Value>(v).is_ok() { "application/json" } else { "text/plain" };
    Some((v, mime))
}

fn text<'a>(span: &'a Span, key: &str) -> Option<(&'a str, &'static str)> {
    span.attr_str(key).filter(|v| !v.trim().is_empty()).map(|v| (v, "text/plain"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;

    use super::*;
    use crate::model::{AttrValue, Status};
    use crate::testing::named;

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.into())
    }

    fn turn() -> Trace {
        let mut failed = named(1, 5, Some(3), SpanRole::ModelCall, "chat m", &[("gen_ai.request.model", s("m"))]);
        failed.status = Status::Error("model call failed".into());
        Trace {
            trace_id: [1; 16],
            spans: vec![
                named(
                    1,
                    1,
                    None,
                    SpanRole::Turn,
                    "invoke_agent main",
                    &[("gen_ai.agent.name", s("main")), (content::INPUT, s("hi")), (content::OUTPUT, s(""))],
                ),
                named(1, 2, Some(1), SpanRole::Harness, "openclaw.harness.run", &[(enrich::MODEL, s("m"))]),
                named(1, 3, Some(2), SpanRole::Run, "openclaw.run", &[]),
                named(
                    1,
                    4,
                    Some(3),
                    SpanRole::ModelCall,
                    "chat m",
                    &[
                        ("gen_ai.request.model", s("m")),
                        ("gen_ai.provider.name", s("fake")),
                        ("gen_ai.usage.input_tokens", AttrValue::Int(100)),
                        ("gen_ai.usage.output_tokens", AttrValue::Int(7)),
                        ("gen_ai.usage.cache_read.input_tokens", AttrValue::Int(40)),
                        ("gen_ai.input.messages", s(r#"[{"role":"user"}]"#)),
                        (enrich::COST_USD, AttrValue::F64(0.5)),
                        (enrich::COST_INPUT_USD, AttrValue::F64(0.2)),
                        (enrich::COST_OUTPUT_USD, AttrValue::F64(0.3)),
                    ],
                ),
                failed,
                named(1, 6, Some(3), SpanRole::Tool, "execute_tool read", &[("gen_ai.tool.name", s("read"))]),
                named(1, 7, Some(3), SpanRole::Context, "openclaw.context.assembled", &[]),
                named(1, 8, Some(2), SpanRole::Usage, "openclaw.model.usage", &[(enrich::MODEL, s("m"))]),
            ],
            straggler: false,
            incomplete: false,
        }
    }

    fn attrs(o: &OtlpSpan) -> HashMap<&str, &V> {
        o.attributes.iter().map(|kv| (kv.key.as_str(), kv.value.as_ref().unwrap().value.as_ref().unwrap())).collect()
    }

    #[test]
    fn openinference_kinds_one_llm_per_model_call() {
        let req = request(&[Arc::new(turn())], "svc");
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        let kinds: Vec<String> = spans
            .iter()
            .map(|o| match attrs(o)[SPAN_KIND] {
                V::StringValue(k) => k.clone(),
                v => panic!("{v:?}"),
            })
            .collect();
        assert_eq!(kinds, ["AGENT", "AGENT", "AGENT", "LLM", "LLM", "TOOL", "CHAIN", "CHAIN"]);
        let call = attrs(&spans[3]);
        assert_eq!(call["llm.model_name"], &V::StringValue("m".into()));
        assert_eq!(call["llm.provider"], &V::StringValue("fake".into()));
        assert_eq!(call["llm.token_count.prompt"], &V::IntValue(100));
        assert_eq!(call["llm.token_count.completion"], &V::IntValue(7));
        assert_eq!(call["llm.token_count.total"], &V::IntValue(107));
        assert_eq!(call["llm.token_count.prompt_details.cache_read"], &V::IntValue(40));
        assert_eq!(call["llm.cost.total"], &V::DoubleValue(0.5));
        assert_eq!(
            (call["llm.cost.prompt"], call["llm.cost.completion"]),
            (&V::DoubleValue(0.2), &V::DoubleValue(0.3))
        );
        assert_eq!(call["input.value"], &V::StringValue(r#"[{"role":"user"}]"#.into()));
        assert_eq!(call["input.mime_type"], &V::StringValue("application/json".into()));
        let root = attrs(&spans[0]);
        assert_eq!(root["input.value"], &V::StringValue("hi".into()));
        assert!(!root.contains_key("output.value"), "an empty reply is no output");
        assert_eq!(root["agent.name"], &V::StringValue("main".into()));
        assert_eq!(attrs(&spans[5])["tool.name"], &V::StringValue("read".into()));
        assert!(!attrs(&spans[4]).contains_key("llm.cost.total"), "no cost known, none sent");
        for o in [&spans[1], &spans[7]] {
            assert!(!attrs(o).contains_key("llm.model_name") && !attrs(o).contains_key("gen_ai.request.model"));
        }
    }
}
