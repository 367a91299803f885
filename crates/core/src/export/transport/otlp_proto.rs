//! Encodes traces as OTLP `ExportTraceServiceRequest`s with the `opentelemetry-proto` types: the same message
//! serves protobuf (prost) and OTLP/JSON (its serde: hex ids, int64 as strings, integer enums).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span as OtlpSpan, Status as OtlpStatus,
};

use crate::model::{AttrValue, Attrs, Span, SpanKind, Status, Trace};

pub const SCOPE_NAME: &str = "clawtrace";
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn key_value(key: &str, value: &AttrValue) -> KeyValue {
    let v = match value {
        AttrValue::Str(s) => any_value::Value::StringValue(s.clone()),
        AttrValue::Int(i) => any_value::Value::IntValue(*i),
        AttrValue::F64(f) => any_value::Value::DoubleValue(*f),
        AttrValue::Bool(b) => any_value::Value::BoolValue(*b),
    };
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

fn key_values(attrs: &Attrs) -> Vec<KeyValue> {
    attrs.iter().map(|(k, v)| key_value(k, v)).collect()
}

pub fn encode_span(s: &Span) -> OtlpSpan {
    OtlpSpan {
        trace_id: s.trace_id.to_vec(),
        span_id: s.span_id.to_vec(),
        trace_state: String::new(),
        parent_span_id: s.parent_span_id.map(|p| p.to_vec()).unwrap_or_default(),
        flags: 0x100 | 0x01, // sampled; W3C "has is_remote" bit set, parent not remote
        name: s.name.clone(),
        kind: match s.kind {
            SpanKind::Internal => span::SpanKind::Internal,
            SpanKind::Server => span::SpanKind::Server,
            SpanKind::Client => span::SpanKind::Client,
        } as i32,
        start_time_unix_nano: s.start_ns,
        end_time_unix_nano: s.end_ns,
        attributes: key_values(&s.attrs),
        dropped_attributes_count: 0,
        events: s
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: e.time_ns,
                name: e.name.clone(),
                attributes: key_values(&e.attrs),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: 0,
        links: s
            .links
            .iter()
            .map(|l| span::Link {
                trace_id: l.trace_id.to_vec(),
                span_id: l.span_id.to_vec(),
                trace_state: String::new(),
                attributes: key_values(&l.attrs),
                dropped_attributes_count: 0,
                flags: 0x100 | 0x01,
            })
            .collect(),
        dropped_links_count: 0,
        status: Some(match &s.status {
            Status::Unset => OtlpStatus { message: String::new(), code: status::StatusCode::Unset as i32 },
            Status::Ok => OtlpStatus { message: String::new(), code: status::StatusCode::Ok as i32 },
            Status::Error(m) => OtlpStatus { message: m.clone(), code: status::StatusCode::Error as i32 },
        }),
    }
}

/// OTLP/JSON as the proto3 JSON mapping writes it: fields at their default are left out (`"entityRefs": []`,
/// `"traceState": ""`, `"droppedAttributesCount": 0`), which parsers built on older `opentelemetry-proto` refuse
/// when they do not know the field. The values of `AnyValue` are kept whatever they hold (an empty string is a
/// value).
pub fn to_json(req: &ExportTraceServiceRequest) -> Vec<u8> {
    let mut v = serde_json::to_value(req).expect("OTLP messages always serialise");
    omit_defaults(&mut v);
    serde_json::to_vec(&v).expect("a JSON value always serialises")
}

fn omit_defaults(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            m.retain(|k, v| match v {
                Value::Array(a) => !a.is_empty(),
                Value::String(s) => !s.is_empty() || matches!(k.as_str(), "stringValue" | "bytesValue"),
                Value::Number(n) => {
                    !(k.starts_with("dropped") && n.as_u64() == Some(0)) && !(k == "code" && n.as_u64() == Some(0))
                }
                Value::Null => false,
                _ => true,
            });
            m.values_mut().for_each(omit_defaults);
        }
        Value::Array(a) => a.iter_mut().for_each(omit_defaults),
        _ => {}
    }
}

/// One request for a batch of traces; `span_attrs` lets a backend profile add its own keys per span.
pub fn encode_request<'a>(
    traces: impl IntoIterator<Item = &'a Trace>,
    service_name: &str,
    mut map_span: impl FnMut(&Trace, &Span, &mut OtlpSpan),
) -> ExportTraceServiceRequest {
    let mut spans = Vec::new();
    for t in traces {
        for s in &t.spans {
            let mut o = encode_span(s);
            map_span(t, s, &mut o);
            spans.push(o);
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    key_value("service.name", &AttrValue::Str(service_name.to_string())),
                    key_value("telemetry.sdk.name", &AttrValue::Str("clawtrace".into())),
                    key_value("telemetry.sdk.language", &AttrValue::Str("rust".into())),
                    key_value("telemetry.sdk.version", &AttrValue::Str(SCOPE_VERSION.into())),
                ],
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.into(),
                    version: SCOPE_VERSION.into(),
                    attributes: vec![],
                    dropped_attributes_count: 0,
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::named;

    #[test]
    fn json_leaves_out_defaults_but_keeps_every_value() {
        let mut root = named(
            1,
            1,
            None,
            crate::model::SpanRole::Turn,
            "r",
            &[("empty", AttrValue::Str(String::new())), ("zero", AttrValue::F64(0.0)), ("no", AttrValue::Bool(false))],
        );
        root.status = Status::Unset;
        let t = Trace { trace_id: [1; 16], spans: vec![root], straggler: false, incomplete: false };
        let req = encode_request([&t], "svc", |_, _, _| {});
        let text = String::from_utf8(to_json(&req)).unwrap();
        for absent in [
            "entityRefs",
            "traceState",
            "parentSpanId",
            "schemaUrl",
            "droppedAttributesCount",
            "\"events\"",
            "\"links\"",
            "\"code\"",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let attrs = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"];
        assert_eq!(attrs[0], serde_json::json!({"key": "empty", "value": {"stringValue": ""}}));
        assert_eq!(attrs[1], serde_json::json!({"key": "no", "value": {"boolValue": false}}));
        assert_eq!(attrs[2], serde_json::json!({"key": "zero", "value": {"doubleValue": 0.0}}));
        // What it leaves is still the same request.
        let back: ExportTraceServiceRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, req);
    }
}
