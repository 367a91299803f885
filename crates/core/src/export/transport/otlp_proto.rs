//! Encodes traces as OTLP `ExportTraceServiceRequest`s with the `opentelemetry-proto` types: the same message
//! serves protobuf (prost) and OTLP/JSON (its serde: hex ids, int64 as strings, integer enums).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span as OtlpSpan, Status as OtlpStatus,
};

use super::attr_ref::{AttrRef, Extra};
use crate::model::{AttrValue, Attrs, Span, SpanKind, Status, Trace};

pub const SCOPE_NAME: &str = "clawtrace";
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn key_value(key: &str, value: &AttrValue) -> KeyValue {
    key_value_ref(key, AttrRef::of(value))
}

pub fn key_value_ref(key: &str, value: AttrRef) -> KeyValue {
    let v = match value {
        AttrRef::Str(s) => any_value::Value::StringValue(s.to_string()),
        AttrRef::Int(i) => any_value::Value::IntValue(i),
        AttrRef::F64(f) => any_value::Value::DoubleValue(f),
        AttrRef::Bool(b) => any_value::Value::BoolValue(b),
    };
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

/// A sink's extra attributes of a span (what the direct writers take) as prost key-values, appended to `out`.
pub fn push_extras(out: &mut Vec<KeyValue>, extras: &[Extra]) {
    out.extend(extras.iter().map(|(k, v)| key_value_ref(k, *v)));
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
        name: s.name.to_string(),
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

/// Fields at their default, as serde writes them, and what each becomes. Every pattern starts at a `,` or `{` that
/// is JSON structure: inside a string a quote is always escaped, so no pattern can match there.
const DEFAULTS: &[(&[u8], &[u8])] = &[
    (b",\"droppedAttributesCount\":0", b""),
    (b",\"droppedEventsCount\":0", b""),
    (b",\"droppedLinksCount\":0", b""),
    (b",\"traceState\":\"\"", b""),
    (b",\"parentSpanId\":\"\"", b""),
    (b",\"schemaUrl\":\"\"", b""),
    (b",\"attributes\":[]", b""),
    (b",\"entityRefs\":[]", b""),
    (b",\"events\":[]", b""),
    (b",\"links\":[]", b""),
    (b",\"spans\":[]", b""),
    (b",\"scopeSpans\":[]", b""),
    (b"{\"message\":\"\",\"code\":0}", b"{}"),
    (b"{\"message\":\"\",", b"{"),
    (b"{\"attributes\":[],", b"{"),
    (b"{\"resourceSpans\":[]}", b"{}"),
];

/// OTLP/JSON as the proto3 JSON mapping writes it: fields at their default are left out (`"entityRefs": []`,
/// `"traceState": ""`, `"droppedAttributesCount": 0`), which parsers built on older `opentelemetry-proto` refuse
/// when they do not know the field. Values (`AnyValue`) are never touched: an empty string is a value. One pass over
/// serde's output, so the file sink pays almost nothing for it.
pub fn to_json(req: &ExportTraceServiceRequest) -> Vec<u8> {
    let raw = serde_json::to_vec(req).expect("OTLP messages always serialise");
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    'next: while i < raw.len() {
        let b = raw[i];
        if b == b',' || b == b'{' {
            for (pattern, replacement) in DEFAULTS {
                let end = i + pattern.len();
                // A number pattern (`:0`) must be the whole number.
                let whole = !pattern.ends_with(b"0") || matches!(raw.get(end), Some(b',' | b'}' | b']') | None);
                if whole && raw[i..].starts_with(pattern) {
                    out.extend_from_slice(replacement);
                    i = end;
                    continue 'next;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
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

    /// The proto3 JSON rule, on a parsed value: the reference the one-pass `to_json` is checked against.
    fn omit_defaults(v: &mut serde_json::Value) {
        use serde_json::Value;
        match v {
            Value::Object(m) => {
                m.retain(|k, v| match v {
                    Value::Array(a) => !a.is_empty(),
                    Value::String(s) => !s.is_empty() || matches!(k.as_str(), "stringValue" | "bytesValue"),
                    Value::Number(n) => !((k.starts_with("dropped") || k == "code") && n.as_u64() == Some(0)),
                    _ => true,
                });
                m.values_mut().for_each(omit_defaults);
            }
            Value::Array(a) => a.iter_mut().for_each(omit_defaults),
            _ => {}
        }
    }

    #[test]
    fn one_pass_equals_the_proto3_rule_on_real_traces() {
        // Text that spells the patterns is a value: it must come through untouched.
        let tricky = r#","traceState":"" {"message":"","code":0} ,"events":[] ,"droppedLinksCount":0"#;
        let mut spans = Vec::new();
        for (i, role) in [crate::model::SpanRole::Turn, crate::model::SpanRole::ModelCall].into_iter().enumerate() {
            let mut s =
                named(1, i as u8 + 1, (i > 0).then_some(1), role, "s", &[("text", AttrValue::Str(tricky.into()))]);
            s.status = if i == 0 { Status::Error("".into()) } else { Status::Ok };
            spans.push(s);
        }
        spans[1].events.push(crate::model::SpanEvent { name: "e".into(), time_ns: 1, attrs: Default::default() });
        let t = Trace { trace_id: [1; 16], spans, straggler: false, incomplete: false };
        let req = encode_request([&t], "svc", |_, _, _| {});
        let mut want = serde_json::to_value(&req).unwrap();
        omit_defaults(&mut want);
        let got: serde_json::Value = serde_json::from_slice(&to_json(&req)).unwrap();
        assert_eq!(got, want);
        let text =
            got["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][0]["value"]["stringValue"].clone();
        assert_eq!(text, tricky);
    }

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
