//! OTLP/JSON written straight from the span model into one buffer: the bytes `otlp_proto::to_json` makes of
//! `otlp_proto::encode_request` (proto3 JSON mapping, fields at their default left out), without building the owned
//! prost tree, serialising it and filtering the text. The file sink writes every trace this way; a test holds the two
//! paths to the same bytes.

use std::io::Write;

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::otlp_proto::{SCOPE_NAME, SCOPE_VERSION};
use crate::model::{AttrValue, Attrs, Span, SpanKind, Status, Trace};

/// `flags` of every span and link: sampled, with the W3C "has is_remote" bit set (parent not remote).
const FLAGS: u32 = 0x100 | 0x01;

/// One `ExportTraceServiceRequest` for `traces`, appended to `out`.
pub fn write_request<'a>(out: &mut Vec<u8>, traces: impl IntoIterator<Item = &'a Trace>, service_name: &str) {
    write_request_with(out, traces, service_name, |_, _, _| {})
}

/// `write_request` with a sink's own attributes per span (`extra`, e.g. OpenInference's), after the span's own as
/// `otlp_proto::encode_request`'s `map_span` appends them.
pub fn write_request_with<'a>(
    out: &mut Vec<u8>,
    traces: impl IntoIterator<Item = &'a Trace>,
    service_name: &str,
    mut extra: impl FnMut(&Trace, &Span, &mut Vec<KeyValue>),
) {
    let mut extras = Vec::new();
    out.extend_from_slice(b"{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    let resource: [(&str, &str); 4] = [
        ("service.name", service_name),
        ("telemetry.sdk.name", "clawtrace"),
        ("telemetry.sdk.language", "rust"),
        ("telemetry.sdk.version", SCOPE_VERSION),
    ];
    for (i, (k, v)) in resource.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        key_value(out, k, &Value::Str(v));
    }
    out.extend_from_slice(b"]},\"scopeSpans\":[{\"scope\":{\"name\":");
    string(out, SCOPE_NAME);
    out.extend_from_slice(b",\"version\":");
    string(out, SCOPE_VERSION);
    out.push(b'}');
    let mut first = true;
    for t in traces {
        for s in &t.spans {
            out.extend_from_slice(if first { b",\"spans\":[" } else { b"," });
            first = false;
            extras.clear();
            extra(t, s, &mut extras);
            span(out, s, &extras);
        }
    }
    if !first {
        out.push(b']');
    }
    out.extend_from_slice(b"}]}]}");
}

fn span(out: &mut Vec<u8>, s: &Span, extras: &[KeyValue]) {
    out.extend_from_slice(b"{\"traceId\":");
    hex(out, &s.trace_id);
    out.extend_from_slice(b",\"spanId\":");
    hex(out, &s.span_id);
    if let Some(p) = &s.parent_span_id {
        out.extend_from_slice(b",\"parentSpanId\":");
        hex(out, p);
    }
    let _ = write!(out, ",\"flags\":{FLAGS},\"name\":");
    string(out, &s.name);
    let kind = match s.kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
    };
    let _ =
        write!(out, ",\"kind\":{kind},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\"", s.start_ns, s.end_ns);
    attributes(out, &s.attrs, extras);
    for (i, e) in s.events.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b",\"events\":[" } else { b"," });
        let _ = write!(out, "{{\"timeUnixNano\":\"{}\",\"name\":", e.time_ns);
        string(out, &e.name);
        attributes(out, &e.attrs, &[]);
        out.push(b'}');
    }
    if !s.events.is_empty() {
        out.push(b']');
    }
    for (i, l) in s.links.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b",\"links\":[" } else { b"," });
        out.extend_from_slice(b"{\"traceId\":");
        hex(out, &l.trace_id);
        out.extend_from_slice(b",\"spanId\":");
        hex(out, &l.span_id);
        attributes(out, &l.attrs, &[]);
        let _ = write!(out, ",\"flags\":{FLAGS}}}");
    }
    if !s.links.is_empty() {
        out.push(b']');
    }
    out.extend_from_slice(b",\"status\":");
    match &s.status {
        Status::Unset => out.extend_from_slice(b"{}"),
        Status::Ok => out.extend_from_slice(b"{\"code\":1}"),
        Status::Error(m) if m.is_empty() => out.extend_from_slice(b"{\"code\":2}"),
        Status::Error(m) => {
            out.extend_from_slice(b"{\"message\":");
            string(out, m);
            out.extend_from_slice(b",\"code\":2}");
        }
    }
    out.push(b'}');
}

/// `,"attributes":[…]`, or nothing for none (the default is left out). Extra attributes are prost values: serde
/// writes them as `to_json` would leave them (it never touches a value).
fn attributes(out: &mut Vec<u8>, attrs: &Attrs, extras: &[KeyValue]) {
    for (i, (k, v)) in attrs.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b",\"attributes\":[" } else { b"," });
        key_value(out, k, &Value::of(v));
    }
    for (i, kv) in extras.iter().enumerate() {
        out.extend_from_slice(if i == 0 && attrs.is_empty() { b",\"attributes\":[" } else { b"," });
        let _ = serde_json::to_writer(&mut *out, kv);
    }
    if !attrs.is_empty() || !extras.is_empty() {
        out.push(b']');
    }
}

/// A borrowed attribute value.
enum Value<'a> {
    Str(&'a str),
    Int(i64),
    F64(f64),
    Bool(bool),
}

impl<'a> Value<'a> {
    fn of(v: &'a AttrValue) -> Value<'a> {
        match v {
            AttrValue::Str(s) => Value::Str(s),
            AttrValue::Int(i) => Value::Int(*i),
            AttrValue::F64(f) => Value::F64(*f),
            AttrValue::Bool(b) => Value::Bool(*b),
        }
    }
}

/// `{"key":…,"value":{…}}`: an int64 as a string, a double as serde_json writes it (a non-finite one as `null`).
fn key_value(out: &mut Vec<u8>, key: &str, value: &Value) {
    out.extend_from_slice(b"{\"key\":");
    string(out, key);
    out.extend_from_slice(b",\"value\":");
    match value {
        Value::Str(s) => {
            out.extend_from_slice(b"{\"stringValue\":");
            string(out, s);
            out.push(b'}');
        }
        Value::Int(i) => {
            let _ = write!(out, "{{\"intValue\":\"{i}\"}}");
        }
        Value::F64(f) => {
            out.extend_from_slice(b"{\"doubleValue\":");
            let _ = serde_json::to_writer(&mut *out, f);
            out.push(b'}');
        }
        Value::Bool(b) => {
            let _ = write!(out, "{{\"boolValue\":{b}}}");
        }
    }
    out.push(b'}');
}

/// A JSON string, escaped exactly as serde_json escapes it. Almost every key and value needs no escape (serde_json
/// escapes only `"`, `\\` and control characters): those are copied in one piece, without serde_json's per-byte
/// escape loop and its writer calls, which were a tenth of the background's CPU.
fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        let _ = serde_json::to_writer(&mut *out, s);
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 0xf) as usize]);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::transport::otlp_proto::{encode_request, key_value as key_value_of, to_json};
    use crate::testing::encoder_traces;

    fn both(traces: &[&Trace]) -> (String, String) {
        let want = to_json(&encode_request(traces.iter().copied(), "svc \"x\"", |_, _, _| {}));
        let mut got = Vec::new();
        write_request(&mut got, traces.iter().copied(), "svc \"x\"");
        (String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap())
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "",
            "plain ascii",
            "caf\u{e9} \u{1f600}",
            "q\"uote",
            "back\\slash",
            "line\nbreak",
            "\u{1}\u{1f}\u{7f}",
            "tab\t",
        ] {
            let mut got = Vec::new();
            string(&mut got, s);
            assert_eq!(String::from_utf8(got).unwrap(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn the_same_bytes_as_the_prost_tree_through_serde() {
        let [t, bare, empty] = &encoder_traces()[..] else { unreachable!() };
        for traces in [vec![t], vec![bare], vec![t, bare], vec![empty], vec![]] {
            let (got, want) = both(&traces);
            assert_eq!(got, want);
            // With a sink's extra attributes (OpenInference's): after the span's own, also where it has none.
            let add = |_: &Trace, s: &Span, out: &mut Vec<KeyValue>| {
                out.push(key_value_of("x.name", &AttrValue::Str(s.name.clone())));
                out.push(key_value_of("x.f", &AttrValue::F64(f64::INFINITY)));
            };
            let want = to_json(&encode_request(traces.iter().copied(), "s", |t, s, o| add(t, s, &mut o.attributes)));
            let mut got = Vec::new();
            write_request_with(&mut got, traces.iter().copied(), "s", add);
            assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap());
        }
    }
}
