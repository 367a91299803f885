//! The exporter-agnostic span model that assembly produces and every sink encodes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];

/// What a span stands for in an OpenClaw turn. Sinks map it to their own vocabulary
/// (MLflow span types, Langfuse observation types, GenAI operation names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpanRole {
    /// The inbound message (chat.send path) or a synthesised turn root.
    Turn,
    /// One `harness.run` attempt.
    Harness,
    /// One `run` inside a harness attempt.
    Run,
    /// One provider call (`model.call.*`).
    ModelCall,
    /// One tool execution.
    Tool,
    /// `context.assembled`: prompt assembly.
    Context,
    /// `model.usage`: the turn's aggregated usage summary.
    Usage,
    /// A span referenced as a parent but never described (e.g. the HTTP path root).
    Synthetic,
}

impl SpanRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanRole::Turn => "turn",
            SpanRole::Harness => "harness_run",
            SpanRole::Run => "run",
            SpanRole::ModelCall => "model_call",
            SpanRole::Tool => "tool",
            SpanRole::Context => "context",
            SpanRole::Usage => "usage",
            SpanRole::Synthetic => "synthetic",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    F64(f64),
    Bool(bool),
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_string())
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(v)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::F64(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SpanKind {
    #[default]
    Internal,
    Server,
    Client,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Status {
    #[default]
    Unset,
    Ok,
    Error(String),
}

impl Status {
    pub fn is_error(&self) -> bool {
        matches!(self, Status::Error(_))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    pub name: String,
    pub time_ns: u64,
    pub attrs: Attrs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanLink {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub attrs: Attrs,
}

/// An attribute key: almost always one of clawtrace's own names (`"gen_ai.request.model"`), borrowed for free;
/// owned only when made at run time. Saves an allocation per attribute set, and its memory per open span.
pub type AttrKey = Cow<'static, str>;

/// Attributes keep a stable (sorted) order so encodings are deterministic.
pub type Attrs = BTreeMap<AttrKey, AttrValue>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub name: String,
    pub role: SpanRole,
    pub kind: SpanKind,
    pub start_ns: u64,
    pub end_ns: u64,
    pub status: Status,
    pub attrs: Attrs,
    pub events: Vec<SpanEvent>,
    pub links: Vec<SpanLink>,
}

impl Span {
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        match self.attrs.get(key) {
            Some(AttrValue::Str(s)) => Some(s),
            _ => None,
        }
    }
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        match self.attrs.get(key) {
            Some(AttrValue::Int(v)) => Some(*v),
            _ => None,
        }
    }
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        match self.attrs.get(key) {
            Some(AttrValue::F64(v)) => Some(*v),
            Some(AttrValue::Int(v)) => Some(*v as f64),
            _ => None,
        }
    }
    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }
}

/// A finished trace (or, when `straggler` is set, spans that arrived after their trace was exported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub trace_id: TraceId,
    /// Spans in parent-before-child order; the root (if present) first.
    pub spans: Vec<Span>,
    pub straggler: bool,
    /// Set when the trace was closed by TTL or shutdown rather than by its closing event.
    pub incomplete: bool,
}

impl Trace {
    pub fn root(&self) -> Option<&Span> {
        self.spans.iter().find(|s| s.parent_span_id.is_none())
    }
    pub fn has_error(&self) -> bool {
        self.spans.iter().any(|s| s.status.is_error())
    }
    pub fn duration_ms(&self) -> f64 {
        let start = self.spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
        let end = self.spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        end.saturating_sub(start) as f64 / 1e6
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// Parses exactly `N` bytes of lowercase or uppercase hex; rejects the all-zero id (invalid in W3C/OTLP).
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for i in 0..N {
        let hi = (b[2 * i] as char).to_digit(16)?;
        let lo = (b[2 * i + 1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    if out.iter().all(|&x| x == 0) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects_bad_ids() {
        let id: [u8; 8] = parse_hex("e4a1b1684ae49708").unwrap();
        assert_eq!(hex(&id), "e4a1b1684ae49708");
        assert!(parse_hex::<8>("0000000000000000").is_none());
        assert!(parse_hex::<8>("e4a1b1684ae4970").is_none());
        assert!(parse_hex::<8>("zz a1b1684ae4970").is_none());
        assert!(parse_hex::<16>("e4a1b1684ae49708").is_none());
    }
}
