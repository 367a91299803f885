//! The compact form of diagnostic events (`docs/ARCHITECTURE.md`, "The gateway boundary"): the plugin copies only
//! the fields assembly reads, per event kind, into one flat array per batch and crosses once with its JSON text
//! (`plugin/hotpath.mjs`). This module owns the table of those fields ([`SCHEMAS`], exported to the plugin by
//! `projection()`) and turns a batch back into one [`Inbound`] per event on the worker ([`expand`]).
//!
//! Layout of a batch: a JSON array, per event `schema, trusted, type, mask, value…`: the mask has bit k set when the
//! event has the schema's k-th field, and one value follows per bit set. A value is a scalar, `[]` for an object or
//! array where a scalar belongs (the same wrong type, without its content), or, for an object field, the array
//! `mask, value…` of its sub-fields. So the text
//! holds no nesting beyond the table's and nothing `JSON.stringify` can refuse: one hostile event never spoils a
//! batch. Adding a field assembly reads means adding it here, nowhere else.

use serde_json::{Map, Value};

use super::catalogue::{Class, EventKind};
use super::{Body, DecodeError, Inbound, Source, MAX_EVENT_BYTES};

/// One field copied across: a scalar, or an object of which only the listed sub-fields are copied.
#[derive(Debug)]
pub enum Field {
    Scalar(&'static str),
    Object(&'static str, &'static [Field]),
}

use Field::{Object, Scalar};

impl Field {
    pub fn name(&self) -> &'static str {
        match self {
            Scalar(n) | Object(n, _) => n,
        }
    }
}

/// The fields of one group of event types.
#[derive(Debug)]
pub struct Schema {
    /// The exact types that use it (family members and unknown types use [`GENERIC`]).
    pub kinds: &'static [EventKind],
    pub fields: &'static [Field],
}

const TRACE: Field = Object("trace", &[Scalar("traceId"), Scalar("spanId"), Scalar("parentSpanId")]);
const USAGE: Field = Object(
    "usage",
    &[
        Scalar("input"),
        Scalar("output"),
        Scalar("cacheRead"),
        Scalar("cacheWrite"),
        Scalar("promptTokens"),
        Scalar("reasoningTokens"),
        Scalar("total"),
        Object("cost", &[Scalar("total")]),
    ],
);
/// `log.record`: the error class and a provider's answer (`assemble/apply.rs` `log_record`).
const ATTRIBUTES: Field =
    Object("attributes", &[Scalar("errorName"), Scalar("decision"), Scalar("status"), Scalar("errorPreview")]);

/// What every schema copies first: ordering, time, trace context, the ids correlation reads
/// (`assemble/correlate.rs`), the attributes every span copies (`COMMON` in `assemble/apply.rs`) and the outcome
/// and error details of an ending span.
macro_rules! base {
    ($($extra:expr),* $(,)?) => {
        &[
            Scalar("seq"), Scalar("ts"), TRACE, Scalar("runId"), Scalar("sessionKey"), Scalar("sessionId"),
            Scalar("channel"), Scalar("agentId"), Scalar("trigger"), Scalar("durationMs"), Scalar("outcome"),
            Scalar("reason"), Scalar("error"), Scalar("errorCategory"), Scalar("source"), Scalar("lane"),
            Scalar("messageId"), Scalar("callId"), Scalar("toolCallId"), Scalar("toolName"),
            $($extra),*
        ]
    };
}

use EventKind as K;

/// Infra types (`Class::Infra`): only `seq` crosses; they are counted, never assembled.
pub const INFRA: usize = 0;
/// Every type without a row of its own (family members, unknown types): the union of all fields.
pub const GENERIC: usize = 1;

pub const SCHEMAS: &[Schema] = &[
    Schema { kinds: &[], fields: &[Scalar("seq")] },
    Schema {
        kinds: &[],
        fields: base!(
            Scalar("chatId"),
            Scalar("queueDepth"),
            Scalar("state"),
            Scalar("waitMs"),
            Scalar("provider"),
            Scalar("model"),
            Scalar("harnessId"),
            Scalar("phase"),
            Scalar("blockedBy"),
            Scalar("messageCount"),
            Scalar("promptChars"),
            Scalar("systemPromptChars"),
            Scalar("historyTextChars"),
            Scalar("contextTokenBudget"),
            Scalar("api"),
            Scalar("transport"),
            Scalar("timeToFirstByteMs"),
            Scalar("requestPayloadBytes"),
            Scalar("responseStreamBytes"),
            Scalar("failureKind"),
            USAGE,
            Scalar("costUsd"),
            Scalar("toolSource"),
            Scalar("toolOwner"),
            Scalar("mutatingAction"),
            Scalar("deniedReason"),
            Scalar("level"),
            Scalar("message"),
            ATTRIBUTES,
        ),
    },
    Schema {
        kinds: &[
            K::MessageReceived,
            K::MessageQueued,
            K::MessageDispatchStarted,
            K::MessageDispatchCompleted,
            K::MessageProcessed,
        ],
        fields: base!(Scalar("chatId"), Scalar("queueDepth")),
    },
    Schema { kinds: &[K::SessionTurnCreated, K::SessionState], fields: base!(Scalar("state")) },
    Schema { kinds: &[K::QueueLaneDequeue], fields: base!(Scalar("waitMs")) },
    Schema {
        kinds: &[K::HarnessRunStarted, K::HarnessRunCompleted, K::HarnessRunError],
        fields: base!(Scalar("provider"), Scalar("model"), Scalar("harnessId"), Scalar("phase")),
    },
    Schema {
        kinds: &[K::RunStarted, K::RunCompleted, K::RunExecutionPhase],
        fields: base!(Scalar("provider"), Scalar("model"), Scalar("blockedBy"), Scalar("phase")),
    },
    Schema {
        kinds: &[K::ContextAssembled],
        fields: base!(
            Scalar("messageCount"),
            Scalar("promptChars"),
            Scalar("systemPromptChars"),
            Scalar("historyTextChars"),
            Scalar("contextTokenBudget"),
        ),
    },
    Schema {
        kinds: &[K::ModelCallStarted, K::ModelCallCompleted, K::ModelCallError],
        fields: base!(
            Scalar("provider"),
            Scalar("model"),
            Scalar("api"),
            Scalar("transport"),
            Scalar("timeToFirstByteMs"),
            Scalar("requestPayloadBytes"),
            Scalar("responseStreamBytes"),
            Scalar("failureKind"),
            USAGE,
        ),
    },
    Schema { kinds: &[K::ModelUsage], fields: base!(Scalar("provider"), Scalar("model"), Scalar("costUsd"), USAGE) },
    Schema {
        kinds: &[K::ToolExecutionStarted, K::ToolExecutionCompleted, K::ToolExecutionError, K::ToolExecutionBlocked],
        fields: base!(Scalar("toolSource"), Scalar("toolOwner"), Scalar("mutatingAction"), Scalar("deniedReason")),
    },
    // `message`: without trace context a lane error log names its session only in its text (`assemble/correlate.rs`).
    Schema { kinds: &[K::LogRecord], fields: base!(Scalar("level"), Scalar("message"), ATTRIBUTES) },
    Schema { kinds: &[K::GatewayRpc, K::SecurityEvent, K::SkillUsed, K::TalkEvent, K::ToolLoop], fields: base!() },
];

/// The table as the plugin reads it (`projection()`): per schema, its exact type names and its fields, a field
/// being its name or `[name, [sub-fields]]`.
pub fn projection() -> Value {
    fn field(f: &Field) -> Value {
        match f {
            Scalar(n) => Value::from(*n),
            Object(n, sub) => Value::Array(vec![Value::from(*n), Value::Array(sub.iter().map(field).collect())]),
        }
    }
    let schemas = SCHEMAS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let types: Vec<Value> = if i == INFRA {
                super::catalogue::infra_types().map(|e| Value::from(e.name)).collect()
            } else {
                s.kinds.iter().map(|k| Value::from(k.name())).collect()
            };
            serde_json::json!({ "types": types, "fields": s.fields.iter().map(field).collect::<Vec<_>>() })
        })
        .collect::<Vec<_>>();
    serde_json::json!({ "schemas": schemas, "infra": INFRA, "generic": GENERIC })
}

/// One batch of `events` compact events as one queued item (its text as it crossed).
pub fn batch_inbound(text: String, events: u32, pid: u32, arrived_ms: f64) -> Inbound {
    Inbound {
        src: Source::Diagnostic,
        pid,
        arrived_ms,
        trusted: false,
        hook: None,
        body: Body::Batch { text, events },
        ctx: None,
    }
}

/// Turns a batch into exactly `events` inbound events (each counted once when received, so each must reach a
/// fate): what cannot be read becomes an event that decode counts as invalid.
pub fn expand(batch: Inbound, mut f: impl FnMut(Inbound)) {
    let Body::Batch { text, events } = batch.body else { return f(batch) };
    let one = |body: Body, trusted: bool| Inbound {
        src: Source::Diagnostic,
        pid: batch.pid,
        arrived_ms: batch.arrived_ms,
        trusted,
        hook: None,
        body,
        ctx: None,
    };
    let mut emitted = 0u32;
    if let Some(Value::Array(values)) = super::parse_json(&text) {
        let mut values = values.into_iter();
        while emitted < events {
            let Some((body, trusted)) = next_event(&mut values) else { break };
            f(one(body, trusted));
            emitted += 1;
        }
    }
    // Text the plugin did not write (or cut short): the events it was said to hold are counted as malformed.
    for _ in emitted..events {
        f(one(Body::Invalid(DecodeError::MalformedJson), false));
    }
}

/// The next event of a batch; `None` when what follows cannot be delimited (an unknown schema, the end).
fn next_event(values: &mut impl Iterator<Item = Value>) -> Option<(Body, bool)> {
    let schema = SCHEMAS.get(values.next()?.as_u64()? as usize)?;
    let trusted = values.next()?.as_u64() == Some(1);
    let ty = values.next()?;
    let mut bytes = 0usize;
    let mut map = fields(schema.fields, values, &mut bytes)?;
    if bytes > MAX_EVENT_BYTES {
        return Some((Body::Invalid(DecodeError::TooLarge), trusted));
    }
    if std::ptr::eq(schema, &SCHEMAS[INFRA]) {
        let kind = ty.as_str().map(|t| EventKind::parse(Source::Diagnostic, t));
        if let Some(kind) = kind.filter(|k| k.class() == Class::Infra) {
            return Some((Body::Skipped { kind, seq: map.get("seq").and_then(Value::as_u64) }, trusted));
        }
    }
    if !ty.is_null() {
        map.insert("type".into(), ty);
    }
    Some((Body::Value(Value::Object(map)), trusted))
}

/// The fields present (`mask, value…`), by name; `None` when the values run out.
fn fields(list: &[Field], values: &mut impl Iterator<Item = Value>, bytes: &mut usize) -> Option<Map<String, Value>> {
    let mask = values.next()?.as_u64()?;
    let mut map = Map::new();
    for (k, field) in list.iter().enumerate() {
        if mask & (1 << k) != 0 {
            let v = rebuild(field, values.next()?, bytes)?;
            map.insert(field.name().to_string(), v);
        }
    }
    Some(map)
}

/// A field's value as the event had it: an object rebuilt from its sub-fields (`mask, value…`).
fn rebuild(field: &Field, v: Value, bytes: &mut usize) -> Option<Value> {
    Some(match (field, v) {
        (Object(_, sub), Value::Array(values)) if values.first().is_some_and(Value::is_u64) => {
            Value::Object(fields(sub, &mut values.into_iter(), bytes)?)
        }
        (_, Value::String(s)) => {
            *bytes += s.len();
            Value::String(s)
        }
        (_, v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::decode;

    fn expanded(text: &str, events: u32) -> Vec<Inbound> {
        let mut out = Vec::new();
        expand(batch_inbound(text.into(), events, 7, 5.0), |i| out.push(i));
        out
    }

    fn schema_of(kind: EventKind) -> usize {
        SCHEMAS.iter().position(|s| s.kinds.contains(&kind)).unwrap_or(GENERIC)
    }

    /// The batch text the plugin writes for `events` (`plugin/hotpath.mjs`), from their JSON.
    fn compact(events: &[(&str, bool)]) -> String {
        fn present(list: &[Field], m: &Map<String, Value>) -> Vec<Value> {
            let mut mask = 0u64;
            let mut out = vec![Value::Null];
            for (k, f) in list.iter().enumerate() {
                if let Some(v) = m.get(f.name()).filter(|v| !v.is_null()) {
                    mask |= 1 << k;
                    out.push(project(f, v));
                }
            }
            out[0] = mask.into();
            out
        }
        fn project(f: &Field, v: &Value) -> Value {
            match (f, v) {
                (Object(_, sub), Value::Object(m)) => Value::Array(present(sub, m)),
                (Object(..), Value::Array(_)) => Value::Bool(true),
                (_, Value::Object(_) | Value::Array(_)) => Value::Array(vec![]),
                (_, v) => v.clone(),
            }
        }
        let mut flat = Vec::new();
        for (json, trusted) in events {
            let v: Value = serde_json::from_str(json).unwrap();
            let ty = v["type"].as_str().unwrap();
            let kind = EventKind::parse(Source::Diagnostic, ty);
            let i = if kind.class() == Class::Infra { INFRA } else { schema_of(kind) };
            flat.extend([Value::from(i), Value::from(*trusted as u8), Value::from(ty)]);
            flat.extend(present(SCHEMAS[i].fields, v.as_object().unwrap()));
        }
        serde_json::to_string(&flat).unwrap()
    }

    #[test]
    fn schemas_name_each_field_once_and_each_type_once() {
        let mut kinds = std::collections::HashSet::new();
        for s in SCHEMAS {
            let mut names = std::collections::HashSet::new();
            for f in s.fields {
                assert!(names.insert(f.name()), "{} twice", f.name());
            }
            for k in s.kinds {
                assert!(kinds.insert(*k), "{k:?} in two schemas");
                assert_ne!(k.class(), Class::Infra);
                assert!(!k.name().ends_with('*'), "families use the generic schema");
            }
        }
        // The generic schema holds every field any schema has.
        let generic: std::collections::HashSet<_> = SCHEMAS[GENERIC].fields.iter().map(Field::name).collect();
        for f in SCHEMAS.iter().flat_map(|s| s.fields) {
            assert!(generic.contains(f.name()), "{} missing from the generic schema", f.name());
        }
    }

    #[test]
    fn a_batch_expands_to_its_events_with_the_fields_assembly_reads() {
        let text = compact(&[
            (
                r#"{"type":"model.call.error","seq":4,"ts":10,"runId":"r","provider":"p","model":"m","errorCategory":"rate_limit","promptStats":{"x":1},"usage":{"input":3,"cost":{"total":0.5,"input":0.1}},"trace":{"traceId":"9ec7be0fb910e91ed558a422cd89a402","traceFlags":"01"}}"#,
                true,
            ),
            (r#"{"type":"diagnostic.gc","seq":5,"durationMs":3}"#, false),
            (r#"{"type":"session.paused","seq":6,"runId":"r","state":"paused"}"#, false),
        ]);
        let out = expanded(&text, 3);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|i| i.pid == 7 && i.arrived_ms == 5.0));
        let call = decode(out.into_iter().next().unwrap()).unwrap();
        assert_eq!((call.kind, call.seq, call.ts_ms, call.trusted), (EventKind::ModelCallError, Some(4), 10.0, true));
        assert_eq!(call.str("errorCategory"), Some("rate_limit"));
        assert_eq!(call.obj("usage").unwrap().get("cost").unwrap()["total"], 0.5);
        assert!(call.obj("usage").unwrap().get("cost").unwrap().get("input").is_none(), "only what is read");
        assert!(call.fields.get("promptStats").is_none());
        assert_eq!(
            call.trace.unwrap().trace_id,
            crate::model::parse_hex::<16>("9ec7be0fb910e91ed558a422cd89a402").unwrap()
        );
        let out = expanded(&text, 3);
        let mut it = out.into_iter().skip(1);
        let gc = decode(it.next().unwrap()).unwrap();
        assert_eq!((gc.kind, gc.seq), (EventKind::DiagnosticGc, Some(5)));
        let paused = decode(it.next().unwrap()).unwrap();
        assert_eq!((paused.kind, paused.str("state")), (EventKind::SessionOther, Some("paused")));
    }

    #[test]
    fn a_lane_error_log_keeps_the_text_that_names_its_session() {
        let text = compact(&[(
            r#"{"type":"log.record","seq":9,"level":"ERROR","message":"lane task error: lane=session:agent:main:x durationMs=5","attributes":{"errorName":"FailoverError","subsystem":"d"}}"#,
            false,
        )]);
        let log = decode(expanded(&text, 1).into_iter().next().unwrap()).unwrap();
        assert_eq!(log.str("message"), Some("lane task error: lane=session:agent:main:x durationMs=5"));
        assert_eq!(log.obj("attributes").unwrap().get("errorName").unwrap(), "FailoverError");
    }

    #[test]
    fn what_decode_refuses_in_json_it_refuses_compact() {
        let reasons = |text: &str, n| expanded(text, n).into_iter().map(|i| decode(i).err()).collect::<Vec<_>>();
        // A wrong type stays a wrong type (an object where a string belongs crosses as `[]`).
        let wrong = compact(&[
            (r#"{"type":"run.started","runId":{"a":1}}"#, false),
            (r#"{"type":"run.started","trace":"x"}"#, false),
        ]);
        assert_eq!(reasons(&wrong, 2), [Some(DecodeError::WrongFieldType), Some(DecodeError::WrongFieldType)]);
        // No type at all.
        let g = GENERIC;
        assert_eq!(reasons(&format!("[{g},0,null,0]"), 1), [Some(DecodeError::MissingType)]);
        // Too large.
        let huge =
            compact(&[(&format!(r#"{{"type":"run.started","error":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES + 1)), false)]);
        assert_eq!(reasons(&huge, 1), [Some(DecodeError::TooLarge)]);
        // Text that is not a batch, or holds fewer events than it claims: every claimed event is counted.
        assert_eq!(reasons("[", 2), [Some(DecodeError::MalformedJson); 2]);
        assert_eq!(reasons("[99,0,\"x\",0]", 1), [Some(DecodeError::MalformedJson)]);
        assert_eq!(reasons(&format!("[{g},0,\"x\",3,\"only one value\"]"), 1), [Some(DecodeError::MalformedJson)]);
        let one = compact(&[(r#"{"type":"run.started","runId":"r"}"#, false)]);
        assert_eq!(reasons(&one, 3), [None, Some(DecodeError::MalformedJson), Some(DecodeError::MalformedJson)]);
    }

    #[test]
    fn a_lone_surrogate_in_a_batch_is_repaired_and_the_batch_kept() {
        let mut text = compact(&[
            (r#"{"type":"run.started","runId":"rX"}"#, false),
            (r#"{"type":"run.started","runId":"q"}"#, false),
        ]);
        text = text.replace("rX", "r\\ud83d");
        let out: Vec<_> = expanded(&text, 2).into_iter().map(|i| decode(i).unwrap()).collect();
        assert_eq!(out[0].str("runId"), Some("r\u{fffd}"));
        assert_eq!(out[1].str("runId"), Some("q"));
    }

    #[test]
    fn the_projection_lists_every_schema_and_the_infra_names() {
        let p = projection();
        assert_eq!(p["schemas"].as_array().unwrap().len(), SCHEMAS.len());
        let infra = p["schemas"][INFRA]["types"].as_array().unwrap();
        assert_eq!(infra.len(), super::super::catalogue::infra_types().count());
        assert_eq!(p["schemas"][2]["types"][0], "message.received");
        assert_eq!(
            p["schemas"][GENERIC]["fields"][2],
            serde_json::json!(["trace", ["traceId", "spanId", "parentSpanId"]])
        );
    }
}
