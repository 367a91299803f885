//! Builders shared by the unit tests: an injectable environment and spans with every field defaulted.

use std::collections::HashMap;

use crate::ingest::{Body, Inbound, Source};
use crate::model::{AttrValue, Span, SpanEvent, SpanKind, SpanLink, SpanRole, Status, Trace};

/// An `Env` answering from `pairs` only.
pub fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| m.get(k).cloned()
}

/// A trusted diagnostic event from process 1 as it crosses the boundary: its JSON text, arrived at `arrived_ms`.
pub fn diagnostic(json: impl Into<String>, arrived_ms: f64) -> Inbound {
    Inbound {
        src: Source::Diagnostic,
        pid: 1,
        arrived_ms,
        trusted: true,
        hook: None,
        body: Body::Json(json.into()),
        ctx: None,
    }
}

/// A span of trace `[trace; 16]` with id `[id; 8]`, named `s{id}`, OK, one second long, no attributes.
pub fn span(trace: u8, id: u8, parent: Option<u8>, role: SpanRole) -> Span {
    Span {
        trace_id: [trace; 16],
        span_id: [id; 8],
        parent_span_id: parent.map(|p| [p; 8]),
        name: format!("s{id}").into(),
        role,
        kind: SpanKind::Internal,
        start_ns: 1_700_000_000_000_000_000,
        end_ns: 1_700_000_001_000_000_000,
        status: Status::Ok,
        attrs: Default::default(),
        events: vec![],
        links: vec![],
    }
}

/// A test's attribute key as the `'static` name an `AttrKey` is (leaked: tests only).
pub fn static_key(k: &str) -> crate::model::AttrKey {
    (&*Box::leak(k.to_string().into_boxed_str())).into()
}

/// `span` with a name and attributes.
pub fn named(trace: u8, id: u8, parent: Option<u8>, role: SpanRole, name: &str, attrs: &[(&str, AttrValue)]) -> Span {
    Span {
        name: name.to_string().into(),
        attrs: attrs.iter().map(|(k, v)| (static_key(k), v.clone())).collect(),
        ..span(trace, id, parent, role)
    }
}

/// Traces that reach every branch of an OTLP encoder: every span kind and status, empty and awkward text (quotes,
/// control characters, emoji, JSON look-alikes, 300+ bytes), zero, negative and non-finite numbers, an empty key,
/// span events and links with and without attributes, a span without attributes, a one-span trace and an empty one.
/// The direct writers (`export/transport/otlp_json.rs`, `otlp_protobuf.rs`) are checked byte for byte on them.
pub fn encoder_traces() -> Vec<Trace> {
    let text = format!(
        "quote \" backslash \\ newline \n tab \t nul \u{0} emoji \u{1f600} ,\"events\":[] {{\"message\":\"\",{}",
        "x".repeat(300)
    );
    let mut spans = Vec::new();
    for (i, role) in [SpanRole::Turn, SpanRole::Harness, SpanRole::ModelCall, SpanRole::Tool].into_iter().enumerate() {
        let mut s = named(
            7,
            i as u8 + 1,
            (i > 0).then_some(i as u8),
            role,
            if i == 3 { "" } else { &text },
            &[
                ("a.str", AttrValue::Str(text.clone())),
                ("b.empty", AttrValue::Str(String::new())),
                ("c.int", AttrValue::Int(-42)),
                ("c.zero", AttrValue::Int(0)),
                ("d.f64", AttrValue::F64(0.1 + 0.2)),
                ("e.nan", AttrValue::F64(f64::NAN)),
                ("f.big", AttrValue::F64(1e300)),
                ("g.bool", AttrValue::Bool(false)),
                ("h.zero", AttrValue::F64(0.0)),
                ("", AttrValue::Bool(true)),
            ],
        );
        s.kind = [SpanKind::Server, SpanKind::Internal, SpanKind::Client, SpanKind::Internal][i];
        s.status = [Status::Error(text.clone()), Status::Error(String::new()), Status::Ok, Status::Unset][i].clone();
        if i == 1 {
            s.start_ns = 0;
            s.events.push(SpanEvent { name: "phase.x".into(), time_ns: 3, attrs: Default::default() });
            s.events.push(SpanEvent { name: String::new(), time_ns: 0, attrs: Default::default() });
            let mut attrs = crate::model::Attrs::new();
            attrs.insert("k".into(), AttrValue::Int(1));
            s.events.push(SpanEvent { name: text.clone(), time_ns: u64::MAX, attrs: attrs.clone() });
            s.links.push(SpanLink { trace_id: [9; 16], span_id: [8; 8], attrs });
            s.links.push(SpanLink { trace_id: [1; 16], span_id: [2; 8], attrs: Default::default() });
        }
        if i == 3 {
            s.attrs.clear();
        }
        spans.push(s);
    }
    let t = Trace { trace_id: [7; 16], spans, straggler: false, incomplete: false };
    let bare = Trace { trace_id: [3; 16], spans: vec![named(3, 1, None, SpanRole::Turn, "r", &[])], ..t.clone() };
    let empty = Trace { trace_id: [4; 16], spans: vec![], ..t.clone() };
    vec![t, bare, empty]
}

/// One generated secret: its kind, the text, and the random parts that must never survive redaction.
pub struct GeneratedSecret {
    pub kind: String,
    pub text: String,
    pub random_parts: Vec<String>,
}

/// Real-format secrets of every kind in `tests/fixtures/secret-kinds.json`, with random characters from `seed`
/// (a fixed xorshift: the same corpus on every run, none of it a real credential).
pub fn secret_corpus(seed: u64) -> Vec<GeneratedSecret> {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/secret-kinds.json")).expect("secret-kinds.json");
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::new();
    for kind in doc["kinds"].as_array().expect("kinds") {
        let (name, template) = (kind[0].as_str().unwrap(), kind[1].as_str().unwrap());
        let (mut text, mut random_parts, mut rest) = (String::new(), Vec::new(), template);
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').expect("closed placeholder") + open;
            let (class, n) = rest[open + 1..close].split_once(':').expect("{class:n}");
            let alphabet: &[u8] = match class {
                "A" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "U" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                "L" => b"abcdefghijklmnopqrstuvwxyz",
                "H" => b"0123456789abcdef",
                "D" => b"0123456789",
                "B" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                "W" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                other => panic!("unknown class {other}"),
            };
            let part: String = (0..n.parse::<usize>().unwrap())
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                .collect();
            text.push_str(&rest[..open]);
            text.push_str(&part);
            random_parts.push(part);
            rest = &rest[close + 1..];
        }
        text.push_str(rest);
        out.push(GeneratedSecret { kind: name.to_string(), text, random_parts });
    }
    out
}

/// One attempt, as the runner makes it: encode, then send.
pub async fn export(
    e: &mut dyn crate::export::Exporter,
    batch: &[std::sync::Arc<crate::model::Trace>],
) -> Result<(), crate::export::ExportError> {
    let encoded = e.encode(batch)?;
    e.send(&encoded).await
}
