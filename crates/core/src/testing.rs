//! Builders shared by the unit tests: an injectable environment and spans with every field defaulted.

use std::collections::HashMap;

use crate::model::{AttrValue, Span, SpanKind, SpanRole, Status};

/// An `Env` answering from `pairs` only.
pub fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| m.get(k).cloned()
}

/// A span of trace `[trace; 16]` with id `[id; 8]`, named `s{id}`, OK, one second long, no attributes.
pub fn span(trace: u8, id: u8, parent: Option<u8>, role: SpanRole) -> Span {
    Span {
        trace_id: [trace; 16],
        span_id: [id; 8],
        parent_span_id: parent.map(|p| [p; 8]),
        name: format!("s{id}"),
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

/// `span` with a name and attributes.
pub fn named(trace: u8, id: u8, parent: Option<u8>, role: SpanRole, name: &str, attrs: &[(&str, AttrValue)]) -> Span {
    Span {
        name: name.into(),
        attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        ..span(trace, id, parent, role)
    }
}

/// One attempt, as the runner makes it: encode, then send.
pub async fn export(
    e: &mut dyn crate::export::Exporter,
    batch: &[std::sync::Arc<crate::model::Trace>],
) -> Result<(), crate::export::ExportError> {
    let encoded = e.encode(batch)?;
    e.send(&encoded).await
}
