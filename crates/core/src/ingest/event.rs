//! A validated event, with typed accessors over the fields assembly reads.

use serde_json::{Map, Value};

use super::catalogue::EventKind;
use super::project::{self, Projected};
use super::{Body, Fields, Inbound, MAX_EVENT_BYTES};
use crate::model::{hex, parse_hex, SpanId, TraceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Diagnostic,
    Agent,
    Hook,
}

/// OpenClaw's own trace context (`evt.trace`), already validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceCtx {
    pub trace_id: TraceId,
    pub span_id: Option<SpanId>,
    pub parent_span_id: Option<SpanId>,
}

impl TraceCtx {
    /// As OpenClaw writes it (`evt.trace`), the ids it has in lowercase hex.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("traceId".into(), hex(&self.trace_id).into());
        if let Some(s) = self.span_id {
            o.insert("spanId".into(), hex(&s).into());
        }
        if let Some(p) = self.parent_span_id {
            o.insert("parentSpanId".into(), hex(&p).into());
        }
        Value::Object(o)
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub src: Source,
    pub pid: u32,
    pub arrived_ms: f64,
    pub trusted: bool,
    /// From `type` for diagnostic events, `stream` for agent events, the hook name for hooks (`catalogue.rs`).
    pub kind: EventKind,
    pub seq: Option<u64>,
    /// Emit time in ms (falls back to arrival time).
    pub ts_ms: f64,
    pub trace: Option<TraceCtx>,
    pub fields: Fields,
    /// Hook context, merged view for correlation ids.
    pub ctx: Fields,
    /// Trace context was present but malformed (counted, event kept).
    pub bad_trace: bool,
    /// Made up by an ingest adapter (`legacy/`) rather than received: never counted, so every received event is
    /// counted exactly once (`Stats::events_accounted`).
    pub derived: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    NotObject,
    MissingType,
    WrongFieldType,
    MalformedJson,
    TooLarge,
    BadHookName,
}

/// The JSON type assembly relies on for a field; a mismatch rejects the event rather than guessing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum FieldType {
    Str,
    Num,
    Obj,
}

/// The fields decode itself reads, found in the pass that checks types.
#[derive(Clone, Copy)]
enum Slot {
    Type,
    Stream,
    Seq,
    Ts,
    Trace,
    Other,
}

/// One `match` on the key (compiled to a length-and-bytes switch) per field of the event, rather than a keyed
/// lookup per checked field: the check then costs one pass over what the event carries, and finds the fields
/// decode reads on the way.
fn field_type(key: &str) -> Option<(FieldType, Slot)> {
    Some(match key {
        "type" => (FieldType::Str, Slot::Type),
        "stream" => (FieldType::Str, Slot::Stream),
        "seq" => (FieldType::Num, Slot::Seq),
        "ts" => (FieldType::Num, Slot::Ts),
        "trace" => (FieldType::Obj, Slot::Trace),
        "runId" | "callId" | "sessionKey" | "sessionId" | "toolCallId" | "toolName" | "provider" | "model"
        | "channel" | "agentId" | "outcome" | "lane" | "source" | "reason" | "state" | "phase" => {
            (FieldType::Str, Slot::Other)
        }
        "durationMs" | "costUsd" | "waitMs" | "timeToFirstByteMs" => (FieldType::Num, Slot::Other),
        "usage" | "lastCallUsage" | "data" => (FieldType::Obj, Slot::Other),
        _ => return None,
    })
}

/// The type assembly relies on for field `key` (`None`: any), for a batch's reader, which checks each value as
/// it reads it (`compact.rs`) so decode need not look at every key again.
pub(super) fn expected_type(key: &str) -> Option<FieldType> {
    field_type(key).map(|(t, _)| t)
}

/// Whether `v` has the type assembly relies on (a null stands for an absent field).
pub(super) fn fits(ty: Option<FieldType>, v: &Value) -> bool {
    match ty {
        None => true,
        _ if v.is_null() => true,
        Some(FieldType::Str) => v.is_string(),
        Some(FieldType::Num) => v.is_number(),
        Some(FieldType::Obj) => v.is_object(),
    }
}

/// What decode reads of an event's fields (`Slot`).
#[derive(Default)]
struct Head<'a> {
    ty: Option<&'a Value>,
    stream: Option<&'a Value>,
    seq: Option<&'a Value>,
    ts: Option<&'a Value>,
    trace: Option<&'a Value>,
}

/// The fields decode reads, when every field assembly relies on has its type (`None` otherwise).
fn well_typed(fields: &Fields) -> Option<Head<'_>> {
    let mut head = Head::default();
    for (k, v) in fields.iter() {
        let Some((ty, slot)) = field_type(k) else { continue };
        if !fits(Some(ty), v) {
            return None;
        }
        let at = match slot {
            Slot::Type => &mut head.ty,
            Slot::Stream => &mut head.stream,
            Slot::Seq => &mut head.seq,
            Slot::Ts => &mut head.ts,
            Slot::Trace => &mut head.trace,
            Slot::Other => continue,
        };
        *at = Some(v);
    }
    Some(head)
}

pub fn decode(mut inbound: Inbound) -> Result<Event, DecodeError> {
    // A whole diagnostic event's text: only the fields assembly reads are parsed (`project.rs`).
    let mut projected = None;
    if let (Source::Diagnostic, Body::Json(text)) = (inbound.src, &inbound.body) {
        if text.len() <= MAX_EVENT_BYTES {
            match project::project(text) {
                Some(Projected::Infra { kind, seq }) => inbound.body = Body::Skipped { kind, seq },
                Some(Projected::Fields(map)) => projected = Some(map),
                None => {}
            }
        }
    }
    if let Body::Skipped { kind, seq } = inbound.body {
        return Ok(Event {
            src: inbound.src,
            pid: inbound.pid,
            arrived_ms: inbound.arrived_ms,
            trusted: inbound.trusted,
            kind,
            seq: if inbound.src == Source::Diagnostic { seq } else { None },
            ts_ms: inbound.arrived_ms,
            trace: None,
            fields: Fields::new(),
            ctx: Fields::new(),
            bad_trace: false,
            derived: false,
        });
    }
    if let Body::Invalid(reason) = inbound.body {
        return Err(reason);
    }
    let (known, read_trace, checked) = match inbound.body {
        Body::Fields(_, kind, trace) => (kind, trace, true),
        _ => (None, None, false),
    };
    let fields = match projected {
        Some(map) => map,
        None => to_object(inbound.body)?,
    };
    let ctx = match inbound.ctx {
        Some(body) => to_object(*body).unwrap_or_default(),
        None => Fields::new(),
    };
    let head = match checked {
        // A batch's reader checked every value as it read it, and knows the type or the trace context it read
        // straight into ids: only what decode reads is looked up.
        true => Head {
            ty: if known.is_none() { fields.get("type") } else { None },
            stream: None,
            seq: fields.get("seq"),
            ts: fields.get("ts"),
            trace: if read_trace.is_none() { fields.get("trace") } else { None },
        },
        false => well_typed(&fields).ok_or(DecodeError::WrongFieldType)?,
    };
    // A kind the compact crossing named by number needs no parse of its name.
    let name = match inbound.src {
        Source::Diagnostic if known.is_some() => "",
        Source::Diagnostic => head.ty.and_then(Value::as_str).ok_or(DecodeError::MissingType)?,
        Source::Agent => head.stream.and_then(Value::as_str).ok_or(DecodeError::MissingType)?,
        Source::Hook => match inbound.hook.as_deref() {
            Some(h) if valid_hook_name(h) => h,
            _ => return Err(DecodeError::BadHookName),
        },
    };
    let kind = known.unwrap_or_else(|| EventKind::parse(inbound.src, name));
    let (trace, bad_trace) = match head.trace {
        _ if read_trace.is_some() => (read_trace, false),
        Some(Value::Object(t)) => match parse_trace(t) {
            Some(tc) => (Some(tc), false),
            None => (None, true),
        },
        _ => (None, false),
    };
    // Only diagnostic events share the process-wide `seq` counter (agent events number per run).
    let seq = if inbound.src == Source::Diagnostic { head.seq.and_then(Value::as_u64) } else { None };
    let ts_ms = head.ts.and_then(Value::as_f64).filter(|t| t.is_finite() && *t > 0.0).unwrap_or(inbound.arrived_ms);
    Ok(Event {
        src: inbound.src,
        pid: inbound.pid,
        arrived_ms: inbound.arrived_ms,
        trusted: inbound.trusted,
        kind,
        seq,
        ts_ms,
        trace,
        fields,
        ctx,
        bad_trace,
        derived: false,
    })
}

fn valid_hook_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

fn to_object(body: Body) -> Result<Fields, DecodeError> {
    let value = match body {
        Body::Fields(fields, ..) => return Ok(fields),
        Body::Json(text) => {
            if text.len() > MAX_EVENT_BYTES {
                return Err(DecodeError::TooLarge);
            }
            // serde_json refuses nesting deeper than 128 levels: deep input is a parse error, not a stack overflow.
            super::parse_json(&text).ok_or(DecodeError::MalformedJson)?
        }
        Body::Value(v) => v,
        Body::Skipped { .. } | Body::Batch { .. } | Body::Invalid(_) => return Err(DecodeError::NotObject),
    };
    match value {
        Value::Object(map) => Ok(map.into()),
        _ => Err(DecodeError::NotObject),
    }
}

fn parse_trace(t: &Map<String, Value>) -> Option<TraceCtx> {
    let trace_id = parse_hex::<16>(t.get("traceId")?.as_str()?)?;
    let span = |key: &str| -> Result<Option<SpanId>, ()> {
        match t.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_hex::<8>(s).map(Some).ok_or(()),
            Some(_) => Err(()),
        }
    };
    let span_id = span("spanId").ok()?;
    let parent_span_id = span("parentSpanId").ok()?;
    Some(TraceCtx { trace_id, span_id, parent_span_id })
}

impl Event {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    /// A correlation id from the event or, for hooks, from the hook context.
    pub fn id(&self, key: &str) -> Option<&str> {
        self.str(key).or_else(|| self.ctx.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()))
    }
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.fields.get(key).and_then(Value::as_f64).filter(|v| v.is_finite())
    }
    pub fn obj(&self, key: &str) -> Option<&Map<String, Value>> {
        self.fields.get(key).and_then(Value::as_object)
    }
    /// Agent event payload (`data`).
    pub fn data(&self) -> Option<&Map<String, Value>> {
        self.obj("data")
    }
    pub fn data_str(&self, key: &str) -> Option<&str> {
        self.data()?.get(key).and_then(Value::as_str)
    }
    pub fn ts_ns(&self) -> u64 {
        ms_to_ns(self.ts_ms)
    }
}

/// Milliseconds to nanoseconds without f64 rounding: epoch nanoseconds exceed f64's 53-bit mantissa.
pub fn ms_to_ns(ms: f64) -> u64 {
    if !(ms.is_finite() && ms > 0.0) || ms >= (u64::MAX / 1_000_000) as f64 {
        return 0;
    }
    let whole = ms.trunc();
    (whole as u64) * 1_000_000 + ((ms - whole) * 1e6).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound(json: &str) -> Inbound {
        crate::testing::diagnostic(json, 5.0)
    }

    #[test]
    fn decodes_trace_context_and_fields() {
        let e = decode(inbound(r#"{"type":"run.started","runId":"r","seq":3,"ts":10,"trace":{"traceId":"9ec7be0fb910e91ed558a422cd89a402","spanId":"e4a1b1684ae49708"}}"#)).unwrap();
        assert_eq!(e.kind, EventKind::RunStarted);
        assert_eq!(e.seq, Some(3));
        assert_eq!(e.ts_ms, 10.0);
        assert!(e.trace.unwrap().parent_span_id.is_none());
        assert_eq!(e.str("runId"), Some("r"));
    }

    #[test]
    fn rejects_bad_input_with_reasons() {
        assert_eq!(decode(inbound("[1,2]")).unwrap_err(), DecodeError::NotObject);
        assert_eq!(decode(inbound("{\"seq\":1}")).unwrap_err(), DecodeError::MissingType);
        assert_eq!(decode(inbound("{\"type\":5}")).unwrap_err(), DecodeError::WrongFieldType);
        assert_eq!(decode(inbound("{\"type\":\"x\",\"usage\":3}")).unwrap_err(), DecodeError::WrongFieldType);
        assert_eq!(decode(inbound("{\"type\":")).unwrap_err(), DecodeError::MalformedJson);
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(decode(inbound(&deep)).unwrap_err(), DecodeError::MalformedJson);
        let huge = format!("{{\"type\":\"x\",\"s\":\"{}\"}}", "a".repeat(MAX_EVENT_BYTES));
        assert_eq!(decode(inbound(&huge)).unwrap_err(), DecodeError::TooLarge);
    }

    #[test]
    fn a_lone_surrogate_is_repaired_and_the_event_kept() {
        let e = decode(inbound(r#"{"type":"model.call.error","error":"cut \ud83d","runId":"r"}"#)).unwrap();
        assert_eq!(e.str("error"), Some("cut \u{fffd}"));
        let mut with_ctx = inbound(r#"{"type":"x"}"#);
        with_ctx.ctx = Some(Box::new(Body::Json(r#"{"sessionKey":"k\udc00"}"#.into())));
        assert_eq!(decode(with_ctx).unwrap().id("sessionKey"), Some("k\u{fffd}"));
    }

    #[test]
    fn a_skipped_infra_event_keeps_its_kind_and_seq() {
        let kind = crate::ingest::catalogue::infra_kind(0).unwrap();
        let e = decode(Inbound { body: Body::Skipped { kind, seq: Some(7) }, ..inbound("") }).unwrap();
        assert_eq!((e.kind, e.seq, e.ts_ms), (kind, Some(7), 5.0));
        assert_eq!(e.kind.class(), crate::ingest::Class::Infra);
        assert!(e.fields.is_empty());
    }

    #[test]
    fn whole_diagnostic_json_keeps_what_assembly_reads_and_infra_stops_at_its_type() {
        let e = decode(inbound(r#"{"type":"run.started","runId":"r","promptStats":{"a":1},"noise":[1,2]}"#)).unwrap();
        assert_eq!(e.str("runId"), Some("r"));
        assert!(e.fields.get("promptStats").is_none() && e.fields.get("noise").is_none());
        // An infra event is counted by its type alone: what else it holds is not even checked.
        let gc = decode(inbound(r#"{"type":"diagnostic.gc","seq":9,"usage":3}"#)).unwrap();
        assert_eq!((gc.kind, gc.seq), (EventKind::DiagnosticGc, Some(9)));
        assert!(gc.fields.is_empty());
    }

    #[test]
    fn malformed_trace_context_is_flagged_not_fatal() {
        let e = decode(inbound(r#"{"type":"run.started","trace":{"traceId":"nothex"}}"#)).unwrap();
        assert!(e.trace.is_none());
        assert!(e.bad_trace);
    }
}
