//! OTLP protobuf written straight from the span model into one buffer: the bytes prost makes of
//! `otlp_proto::encode_request` (fields in tag order, defaults left out), without building the owned prost tree
//! and cloning every string into it. A sink's extra attributes per span (`extra`, e.g. OpenInference's) come after
//! the span's own, as `encode_request`'s `map_span` appends them. A test holds the two paths to the same bytes.

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

use super::attr_ref::{touch, AttrRef, Extra};
use super::otlp_proto::{SCOPE_NAME, SCOPE_VERSION};
use crate::model::{Attrs, Span, SpanKind, Status, Trace};

const FLAGS: u32 = 0x100 | 0x01;

/// One `ExportTraceServiceRequest` for `traces`, appended to `out`; `extra` adds a sink's own attributes to a span.
pub fn write_request<'a>(
    out: &mut Vec<u8>,
    traces: impl IntoIterator<Item = &'a Trace>,
    service_name: &str,
    mut extra: impl FnMut(&'a Trace, &'a Span, &mut Vec<Extra<'a>>),
) {
    // Spans first, each as field 2 of ScopeSpans: the enclosing lengths are known once they are written.
    let mut spans = Vec::new();
    let (mut one, mut scratch) = (Vec::new(), Vec::new());
    let mut extras = Vec::new();
    for t in traces {
        touch(t);
        for s in &t.spans {
            extras.clear();
            extra(t, s, &mut extras);
            one.clear();
            span(&mut one, s, &extras, &mut scratch);
            bytes_field(&mut spans, 2, &one);
        }
    }
    let mut resource = Vec::new();
    for (k, v) in [
        ("service.name", service_name),
        ("telemetry.sdk.name", "clawtrace"),
        ("telemetry.sdk.language", "rust"),
        ("telemetry.sdk.version", SCOPE_VERSION),
    ] {
        key_value(&mut resource, 1, k, AttrRef::Str(v));
    }
    let mut scope = Vec::new();
    string_field(&mut scope, 1, SCOPE_NAME);
    string_field(&mut scope, 2, SCOPE_VERSION);
    let scope_spans_len = field_len(1, scope.len()) + spans.len();
    let resource_spans_len = field_len(1, resource.len()) + field_len(2, scope_spans_len);
    out.reserve(field_len(1, resource_spans_len));
    len_prefix(out, 1, resource_spans_len);
    bytes_field(out, 1, &resource);
    len_prefix(out, 2, scope_spans_len);
    bytes_field(out, 1, &scope);
    out.extend_from_slice(&spans);
}

/// One span's fields; `scratch` holds an event or a link while its length is found.
fn span(out: &mut Vec<u8>, s: &Span, extras: &[Extra], scratch: &mut Vec<u8>) {
    bytes_field(out, 1, &s.trace_id);
    bytes_field(out, 2, &s.span_id);
    if let Some(p) = &s.parent_span_id {
        bytes_field(out, 4, p);
    }
    string_field(out, 5, &s.name);
    let kind = match s.kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
    };
    encode_key(6, WireType::Varint, out);
    encode_varint(kind, out);
    fixed64_field(out, 7, s.start_ns);
    fixed64_field(out, 8, s.end_ns);
    attributes(out, 9, &s.attrs);
    for (k, v) in extras {
        key_value(out, 9, k, *v);
    }
    for e in &s.events {
        scratch.clear();
        fixed64_field(scratch, 1, e.time_ns);
        string_field(scratch, 2, &e.name);
        attributes(scratch, 3, &e.attrs);
        bytes_field(out, 11, scratch);
    }
    for l in &s.links {
        scratch.clear();
        bytes_field(scratch, 1, &l.trace_id);
        bytes_field(scratch, 2, &l.span_id);
        attributes(scratch, 4, &l.attrs);
        fixed32_field(scratch, 6, FLAGS);
        bytes_field(out, 13, scratch);
    }
    let (message, code) = match &s.status {
        Status::Unset => ("", 0),
        Status::Ok => ("", 1),
        Status::Error(m) => (m.as_str(), 2),
    };
    let status_len = if message.is_empty() { 0 } else { field_len(2, message.len()) }
        + if code == 0 { 0 } else { 1 + encoded_len_varint(code) };
    len_prefix(out, 15, status_len);
    string_field(out, 2, message);
    if code != 0 {
        encode_key(3, WireType::Varint, out);
        encode_varint(code, out);
    }
    fixed32_field(out, 16, FLAGS);
}

fn attributes(out: &mut Vec<u8>, tag: u32, attrs: &Attrs) {
    for (k, v) in attrs {
        key_value(out, tag, k, AttrRef::of(v));
    }
}

/// A `KeyValue` as field `tag`: `key` (1) and an `AnyValue` (2) holding one of string (1), bool (2), int (3) or
/// double (4). A oneof member is written even at its default: it says which one is set.
fn key_value(out: &mut Vec<u8>, tag: u32, key: &str, value: AttrRef) {
    let any_len = match value {
        AttrRef::Str(s) => field_len(1, s.len()),
        AttrRef::Bool(_) => 2,
        AttrRef::Int(i) => 1 + encoded_len_varint(i as u64),
        AttrRef::F64(_) => 9,
    };
    let key_len = if key.is_empty() { 0 } else { field_len(1, key.len()) };
    len_prefix(out, tag, key_len + field_len(2, any_len));
    string_field(out, 1, key);
    len_prefix(out, 2, any_len);
    match value {
        AttrRef::Str(s) => {
            encode_key(1, WireType::LengthDelimited, out);
            encode_varint(s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        AttrRef::Bool(b) => {
            encode_key(2, WireType::Varint, out);
            out.push(b as u8);
        }
        AttrRef::Int(i) => {
            encode_key(3, WireType::Varint, out);
            encode_varint(i as u64, out);
        }
        AttrRef::F64(f) => {
            encode_key(4, WireType::SixtyFourBit, out);
            out.extend_from_slice(&f.to_le_bytes());
        }
    }
}

/// Bytes of a length-delimited field with a body of `len` bytes.
fn field_len(tag: u32, len: usize) -> usize {
    encoded_len_varint(u64::from(tag << 3)) + encoded_len_varint(len as u64) + len
}

fn len_prefix(out: &mut Vec<u8>, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// A bytes or embedded-message field (written even when empty: every caller's field is a set message or an id).
fn bytes_field(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    len_prefix(out, tag, bytes.len());
    out.extend_from_slice(bytes);
}

/// A string field; proto3 leaves out the empty string.
fn string_field(out: &mut Vec<u8>, tag: u32, s: &str) {
    if !s.is_empty() {
        bytes_field(out, tag, s.as_bytes());
    }
}

fn fixed64_field(out: &mut Vec<u8>, tag: u32, v: u64) {
    if v != 0 {
        encode_key(tag, WireType::SixtyFourBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn fixed32_field(out: &mut Vec<u8>, tag: u32, v: u32) {
    if v != 0 {
        encode_key(tag, WireType::ThirtyTwoBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::export::transport::otlp_proto::{encode_request, push_extras};
    use crate::testing::encoder_traces;

    fn add<'a>(_: &'a Trace, s: &'a Span, out: &mut Vec<Extra<'a>>) {
        out.push(("x.kind", AttrRef::Str(&s.name)));
        out.push(("x.n", AttrRef::Int(7)));
        out.push(("x.f", AttrRef::F64(-0.5)));
        out.push(("", AttrRef::Bool(false)));
    }

    #[test]
    fn the_same_bytes_as_prost_with_and_without_extra_attributes() {
        let [t, bare, empty] = &encoder_traces()[..] else { unreachable!() };
        for traces in [vec![t], vec![bare], vec![t, bare], vec![empty], vec![]] {
            let want = encode_request(traces.iter().copied(), "svc", |t, s, o| {
                let mut extras = Vec::new();
                add(t, s, &mut extras);
                push_extras(&mut o.attributes, &extras);
            });
            let mut got = Vec::new();
            write_request(&mut got, traces.iter().copied(), "svc", add);
            assert_eq!(got, want.encode_to_vec());
            let plain = encode_request(traces.iter().copied(), "", |_, _, _| {});
            let mut got = Vec::new();
            write_request(&mut got, traces.iter().copied(), "", |_, _, _| {});
            assert_eq!(got, plain.encode_to_vec());
        }
    }
}
