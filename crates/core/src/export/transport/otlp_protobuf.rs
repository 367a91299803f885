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
/// Two passes: the spans' lengths first (a message's length precedes it, and the enclosing messages' lengths are
/// their sum), from the lengths the span model already holds; then every byte once, straight into `out`: no span
/// is written into a scratch buffer and copied, and no buffer grows by copying.
pub fn write_request<'a>(
    out: &mut Vec<u8>,
    traces: impl IntoIterator<Item = &'a Trace>,
    service_name: &str,
    mut extra: impl FnMut(&'a Trace, &'a Span, &mut Vec<Extra<'a>>),
) {
    // Each span with its length and its extra attributes (a range of `extras`).
    let mut spans: Vec<(&'a Span, usize, std::ops::Range<usize>)> = Vec::new();
    let mut extras = Vec::new();
    let mut spans_len = 0;
    for t in traces {
        touch(t);
        for s in &t.spans {
            let from = extras.len();
            extra(t, s, &mut extras);
            let len = span_len(s, &extras[from..]);
            spans_len += field_len(2, len);
            spans.push((s, len, from..extras.len()));
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
    let scope_spans_len = field_len(1, scope.len()) + spans_len;
    let resource_spans_len = field_len(1, resource.len()) + field_len(2, scope_spans_len);
    out.reserve(field_len(1, resource_spans_len));
    len_prefix(out, 1, resource_spans_len);
    bytes_field(out, 1, &resource);
    len_prefix(out, 2, scope_spans_len);
    bytes_field(out, 1, &scope);
    let mut scratch = Vec::new();
    for (s, len, at) in spans {
        len_prefix(out, 2, len);
        let start = out.len();
        span(out, s, &extras[at], &mut scratch);
        debug_assert_eq!(out.len() - start, len, "span_len and span agree");
    }
}

/// The length of `span`'s fields, as `span` writes them.
fn span_len(s: &Span, extras: &[Extra]) -> usize {
    let mut len = field_len(1, s.trace_id.len()) + field_len(2, s.span_id.len());
    if let Some(p) = &s.parent_span_id {
        len += field_len(4, p.len());
    }
    len += string_len(5, &s.name) + 2 + fixed64_len(s.start_ns) + fixed64_len(s.end_ns);
    len += attributes_len(9, &s.attrs);
    len += extras.iter().map(|(k, v)| key_value_len(9, k, *v)).sum::<usize>();
    for e in &s.events {
        len += field_len(11, fixed64_len(e.time_ns) + string_len(2, &e.name) + attributes_len(3, &e.attrs));
    }
    for l in &s.links {
        let link = field_len(1, l.trace_id.len()) + field_len(2, l.span_id.len()) + attributes_len(4, &l.attrs) + 5; // flags: field 6
        len += field_len(13, link);
    }
    let (message, code) = status_of(&s.status);
    // `flags` (field 16: a two-byte key) and its four bytes.
    len + field_len(15, status_len(message, code)) + 6
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
    let (message, code) = status_of(&s.status);
    len_prefix(out, 15, status_len(message, code));
    string_field(out, 2, message);
    if code != 0 {
        encode_key(3, WireType::Varint, out);
        encode_varint(code, out);
    }
    fixed32_field(out, 16, FLAGS);
}

/// A status's message and code (0 unset, 1 ok, 2 error).
fn status_of(status: &Status) -> (&str, u64) {
    match status {
        Status::Unset => ("", 0),
        Status::Ok => ("", 1),
        Status::Error(m) => (m.as_str(), 2),
    }
}

fn status_len(message: &str, code: u64) -> usize {
    string_len(2, message) + if code == 0 { 0 } else { 1 + encoded_len_varint(code) }
}

fn attributes_len(tag: u32, attrs: &Attrs) -> usize {
    attrs.iter().map(|(k, v)| key_value_len(tag, k, AttrRef::of(v))).sum()
}

fn attributes(out: &mut Vec<u8>, tag: u32, attrs: &Attrs) {
    for (k, v) in attrs {
        key_value(out, tag, k, AttrRef::of(v));
    }
}

/// A `KeyValue` as field `tag`: `key` (1) and an `AnyValue` (2) holding one of string (1), bool (2), int (3) or
/// double (4). A oneof member is written even at its default: it says which one is set.
fn key_value(out: &mut Vec<u8>, tag: u32, key: &str, value: AttrRef) {
    let any_len = any_value_len(value);
    len_prefix(out, tag, string_len(1, key) + field_len(2, any_len));
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

fn any_value_len(value: AttrRef) -> usize {
    match value {
        AttrRef::Str(s) => field_len(1, s.len()),
        AttrRef::Bool(_) => 2,
        AttrRef::Int(i) => 1 + encoded_len_varint(i as u64),
        AttrRef::F64(_) => 9,
    }
}

/// Bytes of `key_value`'s field.
fn key_value_len(tag: u32, key: &str, value: AttrRef) -> usize {
    field_len(tag, string_len(1, key) + field_len(2, any_value_len(value)))
}

/// Bytes of `string_field`'s field.
fn string_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        field_len(tag, s.len())
    }
}

/// Bytes of `fixed64_field`'s field (tags below 16: a one-byte key).
fn fixed64_len(v: u64) -> usize {
    if v == 0 {
        0
    } else {
        9
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
