//! OTLP/JSON written straight from the span model into one buffer: the bytes `otlp_proto::to_json` makes of
//! `otlp_proto::encode_request` (proto3 JSON mapping, fields at their default left out), without building the owned
//! prost tree, serialising it and filtering the text. The file sink writes every trace this way; a test holds the two
//! paths to the same bytes.

use super::attr_ref::{touch, AttrRef, Extra};
use super::otlp_proto::{SCOPE_NAME, SCOPE_VERSION};
use crate::model::{Attrs, Span, SpanKind, Status, Trace};

/// `flags` of every span and link: sampled, with the W3C "has is_remote" bit set (parent not remote).
const FLAGS: &[u8] = b"257";

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
    extra: impl FnMut(&'a Trace, &'a Span, &mut Vec<Extra<'a>>),
) {
    JsonRequests::new(service_name).write(out, traces, extra, &mut Vec::new());
}

/// Requests for one service: the resource and scope that open each of them are the same every time, so they are
/// written once and copied (the file sink writes one request per trace).
pub struct JsonRequests {
    head: Vec<u8>,
}

impl JsonRequests {
    pub fn new(service_name: &str) -> JsonRequests {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
        let resource: [(&str, &str); 4] = [
            ("service.name", service_name),
            ("telemetry.sdk.name", "clawtrace"),
            ("telemetry.sdk.language", "rust"),
            ("telemetry.sdk.version", SCOPE_VERSION),
        ];
        for (i, (k, v)) in resource.iter().enumerate() {
            if i > 0 {
                head.push(b',');
            }
            key_value(&mut head, k, AttrRef::Str(v));
        }
        head.extend_from_slice(b"]},\"scopeSpans\":[{\"scope\":{\"name\":");
        string(&mut head, SCOPE_NAME);
        head.extend_from_slice(b",\"version\":");
        string(&mut head, SCOPE_VERSION);
        head.push(b'}');
        JsonRequests { head }
    }

    /// One request for `traces`, appended to `out`; `extras` is scratch space, reused from request to request.
    pub fn write<'a>(
        &self,
        out: &mut Vec<u8>,
        traces: impl IntoIterator<Item = &'a Trace>,
        mut extra: impl FnMut(&'a Trace, &'a Span, &mut Vec<Extra<'a>>),
        extras: &mut Vec<Extra<'a>>,
    ) {
        out.extend_from_slice(&self.head);
        let mut first = true;
        for t in traces {
            touch(t);
            for s in &t.spans {
                out.extend_from_slice(if first { b",\"spans\":[" } else { b"," });
                first = false;
                extras.clear();
                extra(t, s, extras);
                span(out, s, extras);
            }
        }
        if !first {
            out.push(b']');
        }
        out.extend_from_slice(b"}]}]}");
    }
}

fn span(out: &mut Vec<u8>, s: &Span, extras: &[Extra]) {
    out.extend_from_slice(b"{\"traceId\":");
    hex(out, &s.trace_id);
    out.extend_from_slice(b",\"spanId\":");
    hex(out, &s.span_id);
    if let Some(p) = &s.parent_span_id {
        out.extend_from_slice(b",\"parentSpanId\":");
        hex(out, p);
    }
    out.extend_from_slice(b",\"flags\":");
    out.extend_from_slice(FLAGS);
    out.extend_from_slice(b",\"name\":");
    string(out, &s.name);
    out.extend_from_slice(match s.kind {
        SpanKind::Internal => b",\"kind\":1,\"startTimeUnixNano\":\"",
        SpanKind::Server => b",\"kind\":2,\"startTimeUnixNano\":\"",
        SpanKind::Client => b",\"kind\":3,\"startTimeUnixNano\":\"",
    });
    uint(out, s.start_ns);
    out.extend_from_slice(b"\",\"endTimeUnixNano\":\"");
    uint(out, s.end_ns);
    out.push(b'"');
    attributes(out, &s.attrs, extras);
    for (i, e) in s.events.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b",\"events\":[{\"timeUnixNano\":\"" } else { b",{\"timeUnixNano\":\"" });
        uint(out, e.time_ns);
        out.extend_from_slice(b"\",\"name\":");
        string(out, &e.name);
        attributes(out, &e.attrs, &[]);
        out.push(b'}');
    }
    if !s.events.is_empty() {
        out.push(b']');
    }
    for (i, l) in s.links.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b",\"links\":[{\"traceId\":" } else { b",{\"traceId\":" });
        hex(out, &l.trace_id);
        out.extend_from_slice(b",\"spanId\":");
        hex(out, &l.span_id);
        attributes(out, &l.attrs, &[]);
        out.extend_from_slice(b",\"flags\":");
        out.extend_from_slice(FLAGS);
        out.push(b'}');
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

/// `,"attributes":[…]`, or nothing for none (the default is left out).
fn attributes(out: &mut Vec<u8>, attrs: &Attrs, extras: &[Extra]) {
    for (i, (k, v)) in attrs.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b",\"attributes\":[" } else { b"," });
        key_value(out, k, AttrRef::of(v));
    }
    for (i, (k, v)) in extras.iter().enumerate() {
        out.extend_from_slice(if i == 0 && attrs.is_empty() { b",\"attributes\":[" } else { b"," });
        key_value(out, k, *v);
    }
    if !attrs.is_empty() || !extras.is_empty() {
        out.push(b']');
    }
}

/// `{"key":…,"value":{…}}`: an int64 as a string, a double as serde_json writes it (a non-finite one as `null`).
/// Room for the whole entry is made once, and a key that needs no escape (every key clawtrace sets) is written
/// with the text around it: a few copies per attribute instead of one per quote and brace.
fn key_value(out: &mut Vec<u8>, key: &str, value: AttrRef) {
    let text = if let AttrRef::Str(v) = value { v.len() } else { 0 };
    out.reserve(key.len() + text + KEY_VALUE_FRAME);
    if needs_escape(key.as_bytes()) {
        out.extend_from_slice(b"{\"key\":");
        string(out, key);
        out.extend_from_slice(b",\"value\":{\"");
    } else {
        out.extend_from_slice(b"{\"key\":\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\",\"value\":{\"");
    }
    match value {
        AttrRef::Str(s) if !needs_escape(s.as_bytes()) => {
            out.extend_from_slice(b"stringValue\":\"");
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\"}}");
        }
        AttrRef::Str(s) => {
            out.extend_from_slice(b"stringValue\":");
            string(out, s);
            out.extend_from_slice(b"}}");
        }
        AttrRef::Int(i) => {
            out.extend_from_slice(b"intValue\":\"");
            int(out, i);
            out.extend_from_slice(b"\"}}");
        }
        AttrRef::F64(f) => {
            out.extend_from_slice(b"doubleValue\":");
            let _ = serde_json::to_writer(&mut *out, &f);
            out.extend_from_slice(b"}}");
        }
        AttrRef::Bool(b) => {
            out.extend_from_slice(if b { b"boolValue\":true}}" } else { b"boolValue\":false}}" });
        }
    }
}

/// The bytes of an attribute entry besides its key's and its value's text, numbers included (at most 20 digits).
const KEY_VALUE_FRAME: usize = 64;

/// A JSON string, escaped exactly as serde_json escapes it. Almost every key and value needs no escape (serde_json
/// escapes only `"`, `\\` and control characters): those are copied in one piece, without serde_json's per-byte
/// escape loop and its writer calls, which were a tenth of the background's CPU.
fn string(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        let _ = serde_json::to_writer(&mut *out, s);
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Whether any byte is a control character, `"` or `\\`: eight bytes at a time (a byte-by-byte test was most of
/// the writer's time). `x - 0x01…01 * n & !x & 0x80…80` is non-zero exactly when some byte of `x` is below `n`
/// (n ≤ 128); a byte equal to `c` is a zero byte of `x ^ 0x01…01 * c`.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * n as u64) & !x & HIGH;
    let hit = |x: u64| below(x, 0x20) | below(x ^ (ONES * b'"' as u64), 1) | below(x ^ (ONES * b'\\' as u64), 1) != 0;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        if hit(u64::from_le_bytes(w.try_into().expect("eight bytes"))) {
            return true;
        }
    }
    // The last few bytes as one word too, padded with a byte that needs no escape.
    let rest = words.remainder();
    let mut last = [b'a'; 8];
    last[..rest.len()].copy_from_slice(rest);
    hit(u64::from_le_bytes(last))
}

/// A decimal number as `Display` writes it, without the formatting machinery: two digits at a time.
fn uint(out: &mut Vec<u8>, mut v: u64) {
    const PAIRS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + v as u8;
    }
    out.extend_from_slice(&digits[at..]);
}

fn int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    uint(out, v.unsigned_abs());
}

/// An id (8 or 16 bytes) as a quoted lowercase hex string, built on the stack and copied once.
fn hex<const N: usize>(out: &mut Vec<u8>, bytes: &[u8; N]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'"'; 2 + 2 * 16];
    for (i, b) in bytes.iter().enumerate() {
        text[1 + 2 * i] = DIGITS[(b >> 4) as usize];
        text[2 + 2 * i] = DIGITS[(b & 0xf) as usize];
    }
    out.extend_from_slice(&text[..2 + 2 * N]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::transport::otlp_proto::{encode_request, push_extras, to_json};
    use crate::testing::encoder_traces;

    fn both(traces: &[&Trace]) -> (String, String) {
        let want = to_json(&encode_request(traces.iter().copied(), "svc \"x\"", |_, _, _| {}));
        let mut got = Vec::new();
        write_request(&mut got, traces.iter().copied(), "svc \"x\"");
        (String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap())
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut cases: Vec<String> = [
            "",
            "plain ascii",
            "caf\u{e9} \u{1f600}",
            "q\"uote",
            "back\\slash",
            "line\nbreak",
            "\u{1}\u{1f}\u{7f}",
            "tab\t",
        ]
        .map(String::from)
        .into();
        // Each character that needs an escape, and its neighbours that do not, at every place in and after the
        // eight-byte words the test reads.
        for c in ['"', '\\', '\u{0}', '\u{1f}', ' ', '!', '#', '[', ']', '\u{7f}', '\u{e9}', '\u{1f600}'] {
            for at in 0..20 {
                let mut s = "abcdefghijklmnopqrst".to_string();
                s.insert(at, c);
                cases.push(s);
            }
        }
        for s in &cases {
            let mut got = Vec::new();
            string(&mut got, s);
            assert_eq!(String::from_utf8(got).unwrap(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        let mut cases =
            vec![0, 1, -1, 9, 10, -10, 99, 100, 101, 999, 1000, 1_700_000_000_000_000_000, i64::MAX, i64::MIN];
        // Every length, and every pair of digits at every place.
        let mut p = 1i64;
        for _ in 0..18 {
            cases.extend([p - 1, p, p + 1, p * 7 + 3, -(p * 9 + 9)]);
            p *= 10;
        }
        cases.extend((0..10_000).map(|i| i * 1_000_003));
        for v in cases {
            let mut got = Vec::new();
            int(&mut got, v);
            assert_eq!(String::from_utf8(got).unwrap(), v.to_string());
        }
        let mut got = Vec::new();
        uint(&mut got, u64::MAX);
        assert_eq!(String::from_utf8(got).unwrap(), u64::MAX.to_string());
    }

    /// A sink's extra attributes (as OpenInference's are): after the span's own, also where it has none.
    fn add<'a>(_: &'a Trace, s: &'a Span, out: &mut Vec<Extra<'a>>) {
        out.push(("x.name", AttrRef::Str(&s.name)));
        out.push(("x.f", AttrRef::F64(f64::INFINITY)));
        out.push(("x.d", AttrRef::F64(-0.25)));
        out.push(("x.i", AttrRef::Int(-3)));
        out.push(("x \"b\"", AttrRef::Bool(true)));
    }

    #[test]
    fn the_same_bytes_as_the_prost_tree_through_serde() {
        let [t, bare, empty] = &encoder_traces()[..] else { unreachable!() };
        for traces in [vec![t], vec![bare], vec![t, bare], vec![empty], vec![]] {
            let (got, want) = both(&traces);
            assert_eq!(got, want);
            let want = to_json(&encode_request(traces.iter().copied(), "s", |t, s, o| {
                let mut extras = Vec::new();
                add(t, s, &mut extras);
                push_extras(&mut o.attributes, &extras);
            }));
            let mut got = Vec::new();
            write_request_with(&mut got, traces.iter().copied(), "s", add);
            assert_eq!(String::from_utf8(got.clone()).unwrap(), String::from_utf8(want).unwrap());
            // Requests written one after another by one writer: each the same bytes as alone.
            let requests = JsonRequests::new("s");
            let (mut twice, mut extras) = (Vec::new(), Vec::new());
            requests.write(&mut twice, traces.iter().copied(), add, &mut extras);
            requests.write(&mut twice, traces.iter().copied(), add, &mut extras);
            assert_eq!(twice, [got.clone(), got].concat());
        }
    }
}
