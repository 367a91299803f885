//! The compact form of diagnostic events (`docs/ARCHITECTURE.md`, "The gateway boundary"): the plugin copies only
//! the fields assembly reads, per event kind, into reused typed arrays and one string per batch, and crosses once
//! (`plugin/hotpath.mjs`). This module owns the table of those fields ([`SCHEMAS`], exported to the plugin by
//! `projection()`) and turns a batch back into one [`Inbound`] per event on the worker ([`expand`]).
//!
//! Layout of a [`Batch`]: per event the slots `head, type, count, value…` (a `Float64Array` on the JS side), a
//! [`tag`] per value slot saying what it holds and, in its high bits, the number of its field in the schema (a
//! `Uint16Array`), and the strings back to back (one JS string, its UTF-16 units copied as they are). `count`
//! values follow, in the order of the event's own keys. A value is a number, a boolean, a string (its length; its
//! units are the next ones of the text), `WRONG` for an object or array where a scalar belongs (the same wrong
//! type, without its content), or, for an object field, `OBJECT` with the mask of its sub-fields (bit k set when
//! the object has the k-th), their values following in order. The infra schema (`seq` alone) is written like an
//! object's sub-fields: a mask, then its value. So nothing a hostile value holds is read and one hostile event
//! never spoils a batch. Adding a field assembly reads means adding it here, nowhere else.

use std::sync::LazyLock;

use crossbeam_queue::ArrayQueue;
use serde_json::{Map, Value};

use super::catalogue::{Class, EventKind};
use super::event::{expected_type, fits, FieldType};
use super::{Body, DecodeError, Fields, Inbound, Source, TraceCtx, MAX_EVENT_BYTES};

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

/// What a slot holds (the low 4 bits of its tag; the high bits: its field's number), written by the plugin next to
/// each value (`plugin/hotpath.mjs`); exported by `projection()`.
pub mod tag {
    /// The bits of a tag saying what the slot holds; the rest, shifted down by 4, is the field's number.
    pub const KIND: u16 = 15;
    /// A string: the slot holds its length in UTF-16 units, its units are the next ones of the batch's text.
    pub const STR: u16 = 0;
    pub const NUM: u16 = 1;
    /// A boolean: the slot holds 0 or 1.
    pub const BOOL: u16 = 2;
    /// An object or array where a scalar belongs (or an array where an object belongs): the same wrong type,
    /// without its content, so nothing hostile is read.
    pub const WRONG: u16 = 3;
    /// An object field's object: the slot holds the mask of its sub-fields, their values follow.
    pub const OBJECT: u16 = 4;
    /// No value (only for `type`, which has no mask bit).
    pub const NULL: u16 = 5;
    /// A string longer than [`MAX_EVENT_BYTES`](super::MAX_EVENT_BYTES) UTF-16 units, not copied: its event is
    /// too large whatever else it holds (a unit is at least one byte of UTF-8).
    pub const HUGE: u16 = 6;
    /// An event type the table names (`type` only): the slot holds its number in [`known_types`](super::known_types)
    /// instead of its text crossing.
    pub const KNOWN: u16 = 7;
}

/// The exact type names of schema `i`, in the order `projection()` lists them.
fn schema_types(i: usize) -> Box<dyn Iterator<Item = &'static str>> {
    if i == INFRA {
        Box::new(super::catalogue::infra_types().map(|e| e.name))
    } else {
        Box::new(SCHEMAS[i].kinds.iter().map(|k| k.name()))
    }
}

/// Every type name the table lists, numbered in the order of the schemas' `types` in `projection()` (the plugin
/// numbers them the same way).
pub fn known_types() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| (0..SCHEMAS.len()).flat_map(schema_types).collect())
}

/// The kind of each of [`known_types`], at the same index.
fn known_kinds() -> &'static [EventKind] {
    static KINDS: std::sync::OnceLock<Vec<EventKind>> = std::sync::OnceLock::new();
    KINDS.get_or_init(|| known_types().iter().map(|t| EventKind::parse(Source::Diagnostic, t)).collect())
}

/// Per schema, the type assembly relies on for each of its fields, at the field's number (`event.rs`): a batch's
/// reader checks each value as it reads it, without matching its name.
fn expected_types() -> &'static [Vec<Option<FieldType>>] {
    static TYPES: std::sync::OnceLock<Vec<Vec<Option<FieldType>>>> = std::sync::OnceLock::new();
    TYPES.get_or_init(|| SCHEMAS.iter().map(|s| s.fields.iter().map(|f| expected_type(f.name())).collect()).collect())
}

/// The table as the plugin reads it (`projection()`): per schema, its exact type names and its fields, a field
/// being its name or `[name, [sub-fields]]`; the slot tags; the longest string worth copying.
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
            let types: Vec<Value> = schema_types(i).map(Value::from).collect();
            serde_json::json!({ "types": types, "fields": s.fields.iter().map(field).collect::<Vec<_>>() })
        })
        .collect::<Vec<_>>();
    let tags = serde_json::json!({
        "str": tag::STR, "num": tag::NUM, "bool": tag::BOOL, "wrong": tag::WRONG, "object": tag::OBJECT,
        "null": tag::NULL, "huge": tag::HUGE, "known": tag::KNOWN,
    });
    serde_json::json!({
        "schemas": schemas, "infra": INFRA, "generic": GENERIC, "tags": tags, "maxStringUnits": MAX_EVENT_BYTES,
    })
}

/// One crossing's events in the compact form, as the addon copied them off the gateway's thread.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batch {
    /// Per event `head, type, count, value…` (`head` = schema × 2 + trusted), one slot each.
    pub slots: Vec<f64>,
    /// What each slot of a value holds and its field's number ([`tag`]), at the slot's index (the tags of `head`,
    /// count and mask slots are not read).
    pub tags: Vec<u16>,
    /// Every string of the batch back to back, in UTF-16 code units (copied as V8 holds them; turned into UTF-8
    /// here, on the worker).
    pub text: Vec<u16>,
    pub events: u32,
}

impl Batch {
    /// The bytes it holds while queued: its buffers' whole room, as a reused batch ([`spare_batch`]) may hold more
    /// than its events fill, and the queue's bound in bytes is a bound on memory.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * 8 + self.tags.capacity() * 2 + self.text.capacity() * 2
    }
}

/// Emptied batches, for the gateway thread to fill again ([`spare_batch`], [`recycle`]). A batch is allocated on
/// the gateway thread and freed on the worker: the allocator leaves memory freed by another thread with the heap of
/// the thread that allocated it, which only that thread gives back (the worker's idle release cannot), so a burst
/// could leave its batches' pages resident with the gateway thread's heap, and each new batch touched fresh pages
/// there. Reused, a batch's memory stays the same few buffers, and the gateway thread allocates none.
static SPARE_BATCHES: LazyLock<SpareBatches> = LazyLock::new(SpareBatches::new);

/// An empty batch: a spare one when there is one. Never waits (the gateway thread calls it).
pub fn spare_batch() -> Box<Batch> {
    SPARE_BATCHES.take()
}

/// Keeps a read batch, emptied, for [`spare_batch`], unless enough are spare or it grew too large.
pub fn recycle(batch: Box<Batch>) {
    SPARE_BATCHES.keep(batch)
}

/// Boxed as a queued body holds them (`Body::Batch`): the box is reused too.
struct SpareBatches(ArrayQueue<Box<Batch>>);

impl SpareBatches {
    /// The batch being filled, those queued at a steady rate and the one being read.
    const COUNT: usize = 4;
    /// A batch that grew past this (long strings) is freed rather than kept: what the spares hold stays small
    /// whatever crossed once.
    const MAX_BYTES: usize = 1 << 20;

    fn new() -> SpareBatches {
        SpareBatches(ArrayQueue::new(Self::COUNT))
    }

    fn take(&self) -> Box<Batch> {
        self.0.pop().unwrap_or_default()
    }

    fn keep(&self, mut batch: Box<Batch>) {
        if batch.bytes() > Self::MAX_BYTES {
            return;
        }
        batch.slots.clear();
        batch.tags.clear();
        batch.text.clear();
        batch.events = 0;
        // Full: enough are spare, this one is freed.
        let _ = self.0.push(batch);
    }
}

/// One batch as one queued item.
pub fn batch_inbound(batch: Box<Batch>, pid: u32, arrived_ms: f64) -> Inbound {
    Inbound {
        src: Source::Diagnostic,
        pid,
        arrived_ms,
        trusted: false,
        hook: None,
        body: Body::Batch(batch),
        ctx: None,
    }
}

/// Turns a batch into exactly `events` inbound events (each counted once when received, so each must reach a
/// fate): what cannot be read becomes an event that decode counts as invalid.
pub fn expand(batch: Inbound, mut f: impl FnMut(Inbound)) {
    let Body::Batch(b) = batch.body else { return f(batch) };
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
    let mut r = Reader { b: &b, at: 0, text_at: 0, trace: None, types: &[], wrong: 0 };
    while emitted < b.events {
        let Some((body, trusted)) = r.event() else { break };
        f(one(body, trusted));
        emitted += 1;
    }
    // Slots the plugin did not write (or cut short): the events the batch was said to hold are counted as malformed.
    for _ in emitted..b.events {
        f(one(Body::Invalid(DecodeError::MalformedJson), false));
    }
    recycle(b);
}

/// Reads a batch's slots in order; every `None` means what follows cannot be delimited.
struct Reader<'a> {
    b: &'a Batch,
    at: usize,
    text_at: usize,
    /// The event's trace context, when it crossed in canonical form (`Reader::canonical_trace`).
    trace: Option<TraceCtx>,
    /// The event's schema's expected types (`expected_types`).
    types: &'static [Option<FieldType>],
    /// The fields (bit k: the schema's k-th) whose last value read has a type assembly does not expect.
    wrong: u64,
}

impl<'a> Reader<'a> {
    fn slot(&mut self) -> Option<f64> {
        let v = *self.b.slots.get(self.at)?;
        self.at += 1;
        Some(v)
    }

    /// A slot holding a count, a length or a mask: a whole number below 2^53.
    fn whole(&mut self) -> Option<u64> {
        let v = self.slot()?;
        // Whole when the integer round-trips (`fract()` is a libm call on baseline x86-64, per slot).
        ((0.0..9_007_199_254_740_992.0).contains(&v) && (v as u64) as f64 == v).then_some(v as u64)
    }

    /// The next event of the batch.
    fn event(&mut self) -> Option<(Body, bool)> {
        let head = self.whole()?;
        self.trace = None;
        let schema = SCHEMAS.get((head / 2) as usize)?;
        (self.types, self.wrong) = (&expected_types()[(head / 2) as usize], 0);
        let trusted = head % 2 == 1;
        // Bytes of the strings read: an event over the bound is refused as a whole event would be.
        let mut bytes = 0usize;
        // A type the table names crosses as its number: its kind is known without a parse, and its name is not
        // made a field (an allocation per event that nothing reads: `Body::Fields` carries the kind, and a
        // recording writes its name back, `record.rs`).
        let (ty, known) = if self.b.tags.get(self.at).map(|t| t & tag::KIND) == Some(tag::KNOWN) {
            let n = self.whole()? as usize;
            let (name, kind) = (*known_types().get(n)?, known_kinds()[n]);
            bytes += name.len();
            (Value::Null, Some(kind))
        } else {
            (self.value(&Scalar("type"), &mut bytes)?, None)
        };
        // Room for `type` when it is kept as a field.
        let room = usize::from(!ty.is_null());
        let mut map = if std::ptr::eq(schema, &SCHEMAS[INFRA]) {
            self.fields(schema.fields, room, &mut bytes)?
        } else {
            self.keyed(schema.fields, room, &mut bytes)?
        };
        if bytes > MAX_EVENT_BYTES {
            return Some((Body::Invalid(DecodeError::TooLarge), trusted));
        }
        if std::ptr::eq(schema, &SCHEMAS[INFRA]) {
            let kind = known.or_else(|| ty.as_str().map(|t| EventKind::parse(Source::Diagnostic, t)));
            if let Some(kind) = kind.filter(|k| k.class() == Class::Infra) {
                return Some((Body::Skipped { kind, seq: map.get("seq").and_then(Value::as_u64) }, trusted));
            }
        }
        // What decode would refuse for a type it does not expect, after the size and the infra type.
        if self.wrong != 0 || !fits(Some(FieldType::Str), &ty) {
            return Some((Body::Invalid(DecodeError::WrongFieldType), trusted));
        }
        // No schema lists `type` (it crosses first, on its own), so it is not among the fields read.
        if !ty.is_null() {
            map.push_new("type", ty);
        }
        Some((Body::Fields(map, known, self.trace.take()), trusted))
    }

    /// `count` (the next slot) values, each naming its field by number.
    /// `room`: entries to leave room for after them.
    fn keyed(&mut self, list: &'static [Field], room: usize, bytes: &mut usize) -> Option<Fields> {
        let count = self.whole()?;
        // A count beyond the schema's fields is the plugin's bug or garbage, not a size.
        let mut fields = Fields::with_capacity((count as usize).min(list.len()) + room);
        // Which of the schema's fields were read: a field the plugin wrote twice (garbage) replaces its value, as a
        // repeated key in JSON text would; any other is appended without a lookup.
        let mut seen = 0u64;
        for _ in 0..count {
            let no = (*self.b.tags.get(self.at)? >> 4) as usize;
            let field = list.get(no)?;
            // A trace context written twice (garbage) keeps the later one, as JSON text would: the first is
            // forgotten and the second read as any field.
            if seen & (1 << no) == 0 && self.canonical_trace(field, bytes) {
                seen |= 1 << no;
                continue;
            }
            if matches!(field, Object("trace", _)) {
                self.trace = None;
            }
            let v = self.value(field, bytes)?;
            self.check(no, &v);
            if seen & (1 << no) == 0 {
                seen |= 1 << no;
                fields.push_new(field.name(), v);
            } else {
                fields.insert(field.name(), v);
            }
        }
        Some(fields)
    }

    /// The fields the mask (the next slot) says are present, by name.
    fn fields(&mut self, list: &'static [Field], room: usize, bytes: &mut usize) -> Option<Fields> {
        let mask = self.whole()?;
        let mut fields = Fields::with_capacity(mask.count_ones() as usize + room);
        for (k, field) in list.iter().enumerate() {
            if mask & (1 << k) != 0 && !self.canonical_trace(field, bytes) {
                let v = self.value(field, bytes)?;
                self.check(k, &v);
                fields.push_new(field.name(), v);
            }
        }
        Some(fields)
    }

    /// Notes whether the value just read for the schema's field `no` has the type assembly expects (a later value
    /// of the same field decides, as the later key of JSON text would).
    fn check(&mut self, no: usize, v: &Value) {
        let bit = 1 << no;
        if fits(self.types.get(no).copied().flatten(), v) {
            self.wrong &= !bit;
        } else {
            self.wrong |= bit;
        }
    }

    /// An object field's sub-fields, the mask says which, as the JSON object its text would parse to.
    fn object(&mut self, list: &'static [Field], mask: u64, bytes: &mut usize) -> Option<Map<String, Value>> {
        let mut map = Map::new();
        for (k, field) in list.iter().enumerate() {
            if mask & (1 << k) != 0 {
                let v = self.value(field, bytes)?;
                map.insert(field.name().to_string(), v);
            }
        }
        Some(map)
    }

    /// Reads the `trace` field straight into ids when it is what OpenClaw writes: its ids as strings of lowercase
    /// hex, the trace's present. Building its JSON object (a map, three keys and three strings) to parse it after
    /// was a fair share of decoding an event (bench/). Anything else (an absent trace id, a null, a bad id, another
    /// type) is left unread, for `value` to read as text would parse: its decode stays the same, flags included.
    fn canonical_trace(&mut self, field: &'static Field, bytes: &mut usize) -> bool {
        let Object("trace", sub) = field else { return false };
        let (at, text_at) = (self.at, self.text_at);
        let read = self.trace_ids(sub, bytes);
        if read.is_none() {
            (self.at, self.text_at) = (at, text_at);
        }
        self.trace = read.or(self.trace);
        read.is_some()
    }

    fn trace_ids(&mut self, sub: &'static [Field], bytes: &mut usize) -> Option<TraceCtx> {
        if *self.b.tags.get(self.at)? & tag::KIND != tag::OBJECT {
            return None;
        }
        let mask = self.whole()?;
        // In `TRACE`'s order: traceId, spanId, parentSpanId.
        let mut ids: [Option<&[u16]>; 3] = [None; 3];
        for (k, id) in ids.iter_mut().enumerate().take(sub.len()) {
            if mask & (1 << k) == 0 {
                continue;
            }
            if *self.b.tags.get(self.at)? & tag::KIND != tag::STR {
                return None;
            }
            *id = Some(self.units()?);
        }
        // An absent span id is none; one that is there must read.
        let span = |units: Option<&[u16]>| match units {
            None => Some(None),
            Some(u) => lower_hex::<8>(u).map(Some),
        };
        let tc =
            TraceCtx { trace_id: lower_hex::<16>(ids[0]?)?, span_id: span(ids[1])?, parent_span_id: span(ids[2])? };
        *bytes = bytes.saturating_add(ids.iter().flatten().map(|u| u.len()).sum());
        Some(tc)
    }

    /// A string slot's UTF-16 units: its length, then that many units of the batch's text.
    fn units(&mut self) -> Option<&'a [u16]> {
        let len = self.whole()? as usize;
        let units = self.b.text.get(self.text_at..self.text_at.checked_add(len)?)?;
        self.text_at += len;
        Some(units)
    }

    /// One value as its event had it (as its JSON text would have parsed): an object rebuilt from its sub-fields.
    /// Inlined into the loops that store what it reads: returned through memory, each value was written in one
    /// shape and read back in another (a stalled store forward, twice per field: bench/ profile); an object,
    /// rare, is read out of line (`object_value`).
    #[inline(always)]
    fn value(&mut self, field: &'static Field, bytes: &mut usize) -> Option<Value> {
        let t = *self.b.tags.get(self.at)? & tag::KIND;
        Some(match t {
            tag::STR => {
                let units = self.units()?;
                // A lone surrogate (a string cut mid-emoji) becomes U+FFFD, as in JSON text (`surrogates.rs`).
                let s = utf16_to_string(units);
                *bytes = bytes.saturating_add(s.len());
                Value::String(s)
            }
            tag::NUM => json_number(self.slot()?),
            tag::BOOL => Value::Bool(self.slot()? != 0.0),
            tag::WRONG => {
                self.at += 1;
                Value::Array(Vec::new())
            }
            tag::NULL => {
                self.at += 1;
                Value::Null
            }
            tag::HUGE => {
                self.at += 1;
                *bytes = usize::MAX;
                Value::Null
            }
            tag::OBJECT => self.object_value(field, bytes)?,
            _ => return None,
        })
    }

    #[inline(never)]
    fn object_value(&mut self, field: &'static Field, bytes: &mut usize) -> Option<Value> {
        let Object(_, sub) = field else { return None };
        let mask = self.whole()?;
        Some(Value::Object(self.object(sub, mask, bytes)?))
    }
}

/// An id of `N` bytes from its `2N` lowercase hex digits, as `model::parse_hex` reads it (the all-zero id is
/// none); `None` also for uppercase, which then goes the way of its text.
fn lower_hex<const N: usize>(units: &[u16]) -> Option<[u8; N]> {
    if units.len() != 2 * N {
        return None;
    }
    // Each digit's value from a table, its misfits collected in one bit and checked once at the end.
    let digit = |u: u16| LOWER_HEX[usize::from(u).min(127)];
    let (mut out, mut misfit) = ([0u8; N], 0u8);
    for (i, pair) in units.chunks_exact(2).enumerate() {
        let (hi, lo) = (digit(pair[0]), digit(pair[1]));
        misfit |= hi | lo;
        out[i] = hi << 4 | lo & 0x0f;
    }
    (misfit & NOT_HEX == 0 && out != [0u8; N]).then_some(out)
}

/// Marks a unit that is no lowercase hex digit in `LOWER_HEX`.
const NOT_HEX: u8 = 0x80;

/// The value of each ASCII unit as a lowercase hex digit (`NOT_HEX` for the rest; units past ASCII read entry 127).
static LOWER_HEX: [u8; 128] = {
    let mut t = [NOT_HEX; 128];
    let mut d = 0;
    while d < 16 {
        t[b"0123456789abcdef"[d] as usize] = d as u8;
        d += 1;
    }
    t
};

/// UTF-16 code units as UTF-8. Most of what crosses (ids, names, model and provider strings) is ASCII: those units
/// become bytes in one pass the compiler vectorises, rather than the `char`-by-`char` decode of
/// `String::from_utf16_lossy`, which then only sees text beyond ASCII (with a lone surrogate becoming U+FFFD).
fn utf16_to_string(units: &[u16]) -> String {
    // An OR over every unit (no early exit, so it vectorises) tells ASCII from the rest.
    if units.iter().fold(0u16, |acc, &u| acc | u) < 0x80 {
        let bytes: Vec<u8> = units.iter().map(|&u| u as u8).collect();
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8 (a check would be a third pass).
        return unsafe { String::from_utf8_unchecked(bytes) };
    }
    String::from_utf16_lossy(units)
}

/// A JS number as its JSON text parses (`JSON.stringify` then serde_json): NaN and infinities become null, whole
/// numbers integers when they fit, so `seq` stays a `u64` for the decoder (and counts in a configuration
/// deserialise as integers: the addon's boundary uses it too).
pub fn json_number(f: f64) -> Value {
    // Whole when the integer round-trips: within each range the cast truncates exactly.
    if (0.0..18_446_744_073_709_551_616.0).contains(&f) && (f as u64) as f64 == f {
        return Value::from(f as u64);
    }
    if (-9_223_372_036_854_775_808.0..0.0).contains(&f) && (f as i64) as f64 == f {
        return Value::from(f as i64);
    }
    // `from_f64` refuses NaN and the infinities (no range holds them, so they got here).
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::decode;

    #[test]
    fn a_read_batch_is_kept_empty_with_its_memory_a_few_at_most_and_a_large_one_not() {
        let spares = SpareBatches::new();
        let full = |units: usize| {
            Box::new(Batch { slots: vec![1.0; 64], tags: vec![2; 64], text: vec![b'x' as u16; units], events: 9 })
        };
        spares.keep(full(1000));
        let again = spares.take();
        assert_eq!((again.slots.len(), again.tags.len(), again.text.len(), again.events), (0, 0, 0, 0));
        assert!(again.text.capacity() >= 1000 && again.slots.capacity() >= 64, "its memory is reused");
        assert_eq!(spares.take().text.capacity(), 0, "none spare: a new one");

        spares.keep(full(SpareBatches::MAX_BYTES / 2 + 1));
        assert_eq!(spares.take().text.capacity(), 0, "too large to keep");

        spares.keep(full(1000));
        let mut reused = spares.take();
        reused.text.push(1);
        assert!(reused.bytes() >= 2000, "a reused batch counts its room, not only what it holds");

        for _ in 0..SpareBatches::COUNT + 3 {
            spares.keep(full(10));
        }
        let kept = std::iter::from_fn(|| Some(spares.take())).take_while(|b| b.text.capacity() > 0).count();
        assert_eq!(kept, SpareBatches::COUNT);
    }

    fn expanded(batch: Batch) -> Vec<Inbound> {
        let mut out = Vec::new();
        expand(batch_inbound(Box::new(batch), 7, 5.0), |i| out.push(i));
        out
    }

    fn schema_of(kind: EventKind) -> usize {
        SCHEMAS.iter().position(|s| s.kinds.contains(&kind)).unwrap_or(GENERIC)
    }

    /// The batch the plugin writes for `events` (`plugin/hotpath.mjs`), from their JSON: an event's values in the
    /// order of its keys (the order JSON text gives them is not the schema's).
    fn compact(events: &[(&str, bool)]) -> Batch {
        // `no`: the field's number, in the tag's high bits.
        fn put(b: &mut Batch, f: &Field, v: &Value, no: usize) {
            let one = |b: &mut Batch, t: u16, slot: f64| {
                b.tags.push(t | (no as u16) << 4);
                b.slots.push(slot);
            };
            match (f, v) {
                (_, Value::String(s)) => {
                    let units: Vec<u16> = s.encode_utf16().collect();
                    if units.len() > MAX_EVENT_BYTES {
                        return one(b, tag::HUGE, 0.0);
                    }
                    one(b, tag::STR, units.len() as f64);
                    b.text.extend(units);
                }
                (_, Value::Number(n)) => one(b, tag::NUM, n.as_f64().unwrap()),
                (_, Value::Bool(x)) => one(b, tag::BOOL, *x as u8 as f64),
                (Object(_, sub), Value::Object(m)) => {
                    let at = b.slots.len();
                    one(b, tag::OBJECT, 0.0);
                    b.slots[at] = present(b, sub, m) as f64;
                }
                (_, Value::Null) => one(b, tag::NULL, 0.0),
                _ => one(b, tag::WRONG, 0.0),
            }
        }
        fn present(b: &mut Batch, list: &[Field], m: &Map<String, Value>) -> u64 {
            let mut mask = 0u64;
            for (k, f) in list.iter().enumerate() {
                if let Some(v) = m.get(f.name()).filter(|v| !v.is_null()) {
                    mask |= 1 << k;
                    put(b, f, v, 0);
                }
            }
            mask
        }
        fn keyed(b: &mut Batch, list: &[Field], m: &Map<String, Value>) -> usize {
            let mut count = 0;
            for (key, v) in m.iter().filter(|(_, v)| !v.is_null()) {
                if let Some(no) = list.iter().position(|f| f.name() == key) {
                    put(b, &list[no], v, no);
                    count += 1;
                }
            }
            count
        }
        let mut b = Batch::default();
        for (json, trusted) in events {
            let v: Value = serde_json::from_str(json).unwrap();
            let ty = v.get("type").cloned().unwrap_or(Value::Null);
            let kind = ty.as_str().map(|t| EventKind::parse(Source::Diagnostic, t));
            let i = match kind {
                Some(k) if k.class() == Class::Infra => INFRA,
                Some(k) => schema_of(k),
                None => GENERIC,
            };
            b.slots.push((i * 2 + *trusted as usize) as f64);
            b.tags.push(0);
            match ty.as_str().and_then(|t| known_types().iter().position(|k| *k == t)) {
                Some(no) => {
                    b.slots.push(no as f64);
                    b.tags.push(tag::KNOWN);
                }
                None => put(&mut b, &Scalar("type"), &ty, 0),
            }
            let at = b.slots.len();
            b.slots.push(0.0);
            b.tags.push(0);
            let m = v.as_object().unwrap();
            b.slots[at] = if i == INFRA {
                present(&mut b, SCHEMAS[i].fields, m) as f64
            } else {
                keyed(&mut b, SCHEMAS[i].fields, m) as f64
            };
            b.events += 1;
        }
        b
    }

    #[test]
    fn schemas_name_each_field_once_and_each_type_once() {
        let mut kinds = std::collections::HashSet::new();
        for s in SCHEMAS {
            // A mask (the plugin's, and the reader's record of fields read) has a bit per field.
            assert!(s.fields.len() <= 53, "{} fields do not fit a mask", s.fields.len());
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
            // `type` crosses on its own and is appended without a lookup (`Reader::event`).
            assert_ne!(f.name(), "type", "a schema lists type");
        }
    }

    #[test]
    fn a_batch_expands_to_its_events_with_the_fields_assembly_reads() {
        let batch = compact(&[
            (
                r#"{"type":"model.call.error","seq":4,"ts":10.5,"runId":"r","provider":"p","model":"m","errorCategory":"rate_limit","promptStats":{"x":1},"usage":{"input":3,"cost":{"total":0.5,"input":0.1}},"trace":{"traceId":"9ec7be0fb910e91ed558a422cd89a402","traceFlags":"01"}}"#,
                true,
            ),
            (r#"{"type":"diagnostic.gc","seq":5,"durationMs":3}"#, false),
            (r#"{"type":"session.paused","seq":6,"runId":"r","state":"paused"}"#, false),
        ]);
        let out = expanded(batch.clone());
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|i| i.pid == 7 && i.arrived_ms == 5.0));
        let call = decode(out.into_iter().next().unwrap()).unwrap();
        assert_eq!((call.kind, call.seq, call.ts_ms, call.trusted), (EventKind::ModelCallError, Some(4), 10.5, true));
        assert_eq!(call.str("errorCategory"), Some("rate_limit"));
        assert_eq!(call.obj("usage").unwrap().get("cost").unwrap()["total"], 0.5);
        assert!(call.obj("usage").unwrap().get("cost").unwrap().get("input").is_none(), "only what is read");
        assert!(call.fields.get("promptStats").is_none());
        assert_eq!(
            call.trace.unwrap().trace_id,
            crate::model::parse_hex::<16>("9ec7be0fb910e91ed558a422cd89a402").unwrap()
        );
        let mut it = expanded(batch).into_iter().skip(1);
        let gc = decode(it.next().unwrap()).unwrap();
        assert_eq!((gc.kind, gc.seq), (EventKind::DiagnosticGc, Some(5)));
        let paused = decode(it.next().unwrap()).unwrap();
        assert_eq!((paused.kind, paused.str("state")), (EventKind::SessionOther, Some("paused")));
    }

    /// The corpus's diagnostic events decode to the same fields compact as whole (whole events keep explicit
    /// nulls, which a mask has no bit for).
    #[test]
    fn every_corpus_event_decodes_the_same_compact_as_whole() {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/openclaw-2026.9.6-gateway.jsonl");
        let records: Vec<Value> = std::fs::read_to_string(fixture)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|r: &Value| r["src"] == "diagnostic")
            .collect();
        assert!(records.len() > 500);
        let texts: Vec<(String, bool)> =
            records.iter().map(|r| (r["evt"].to_string(), r["meta"]["trusted"] == true)).collect();
        let refs: Vec<(&str, bool)> = texts.iter().map(|(t, b)| (t.as_str(), *b)).collect();
        let out = expanded(compact(&refs));
        assert_eq!(out.len(), refs.len());
        for (inbound, (text, trusted)) in out.into_iter().zip(&texts) {
            let mut whole = Inbound { trusted: *trusted, ..crate::testing::diagnostic(text.clone(), 5.0) };
            whole.pid = 7;
            let (a, b) = (decode(inbound), decode(whole));
            let (a, b) = (a.unwrap(), b.unwrap());
            // A canonical trace context is read into ids, not kept as a field: it is compared as ids; a known type
            // crosses as its number and is compared as a kind.
            let fields = |e: &crate::ingest::Event| -> Map<String, Value> {
                let kept = e.fields.iter().filter(|(k, v)| !v.is_null() && !["trace", "type"].contains(k));
                kept.map(|(k, v)| (k.to_string(), v.clone())).collect()
            };
            assert_eq!(fields(&a), fields(&b), "{text}");
            assert_eq!(
                (a.kind, a.seq, a.ts_ms, a.trace, a.bad_trace, a.trusted),
                (b.kind, b.seq, b.ts_ms, b.trace, b.bad_trace, b.trusted)
            );
        }
    }

    #[test]
    fn a_known_type_crosses_as_its_number_and_any_other_as_text() {
        let batch = compact(&[
            (r#"{"type":"run.started","runId":"r"}"#, false),
            (r#"{"type":"run.custom_phase","runId":"r"}"#, false),
        ]);
        assert_eq!(batch.tags[1], tag::KNOWN);
        assert_eq!(String::from_utf16(&batch.text).unwrap(), "rrun.custom_phaser");
        let kinds: Vec<_> = expanded(batch.clone()).into_iter().map(|i| decode(i).unwrap().kind).collect();
        assert_eq!(kinds, [EventKind::RunStarted, EventKind::parse(Source::Diagnostic, "run.custom_phase")]);
        let mut past = batch;
        past.slots[1] = known_types().len() as f64;
        assert_eq!(decode(expanded(past).remove(0)).err(), Some(DecodeError::MalformedJson));
    }

    #[test]
    fn a_lane_error_log_keeps_the_text_that_names_its_session() {
        let batch = compact(&[(
            r#"{"type":"log.record","seq":9,"level":"ERROR","message":"lane task error: lane=session:agent:main:x durationMs=5","attributes":{"errorName":"FailoverError","subsystem":"d"}}"#,
            false,
        )]);
        let log = decode(expanded(batch).into_iter().next().unwrap()).unwrap();
        assert_eq!(log.str("message"), Some("lane task error: lane=session:agent:main:x durationMs=5"));
        assert_eq!(log.obj("attributes").unwrap().get("errorName").unwrap(), "FailoverError");
    }

    #[test]
    fn numbers_decode_as_their_json_text_would() {
        let batch = compact(&[(r#"{"type":"run.started","seq":3,"ts":1.5,"durationMs":-2,"waitMs":0}"#, false)]);
        let e = decode(expanded(batch.clone()).remove(0)).unwrap();
        assert_eq!((e.seq, e.ts_ms), (Some(3), 1.5));
        assert!(e.fields["seq"].is_u64() && e.fields["durationMs"].is_i64() && e.fields["ts"].is_f64());
        // JSON.stringify writes NaN and the infinities as null.
        let mut nan = batch;
        // `ts` is the schema's field 1.
        let ts = nan.tags.iter().position(|&t| t == tag::NUM | 1 << 4).unwrap();
        nan.slots[ts] = f64::NAN;
        assert_eq!(decode(expanded(nan).remove(0)).unwrap().fields["ts"], Value::Null);
        assert_eq!(json_number(-0.0), Value::from(0u64));
        assert_eq!(json_number(1e20), Value::from(1e20));
        assert_eq!(json_number(-3.0), Value::from(-3i64));
    }

    #[test]
    fn what_decode_refuses_in_json_it_refuses_compact() {
        let reasons = |b: Batch| expanded(b).into_iter().map(|i| decode(i).err()).collect::<Vec<_>>();
        // A wrong type stays a wrong type (an object where a string belongs crosses as `WRONG`).
        let wrong = compact(&[
            (r#"{"type":"run.started","runId":{"a":1}}"#, false),
            (r#"{"type":"run.started","trace":"x"}"#, false),
            (r#"{"type":"model.call.completed","usage":[1]}"#, false),
        ]);
        assert_eq!(reasons(wrong), [Some(DecodeError::WrongFieldType); 3]);
        // No type at all.
        assert_eq!(reasons(compact(&[(r#"{"seq":1}"#, false)])), [Some(DecodeError::MissingType)]);
        // Too large: in total, or one string the plugin did not copy.
        let half = "x".repeat(MAX_EVENT_BYTES / 2 + 1);
        let two = format!(r#"{{"type":"run.started","error":"{half}","reason":"{half}"}}"#);
        assert_eq!(reasons(compact(&[(&two, false)])), [Some(DecodeError::TooLarge)]);
        let one = format!(r#"{{"type":"run.started","error":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES + 1));
        let huge = compact(&[(&one, false), (r#"{"type":"run.started","runId":"r"}"#, false)]);
        assert!(
            huge.tags.iter().any(|t| t & tag::KIND == tag::HUGE) && huge.text.len() < 40,
            "the huge string is not copied"
        );
        assert_eq!(reasons(huge), [Some(DecodeError::TooLarge), None]);
    }

    /// The reader checks each value's type itself (decode does not look again): every field of every schema, with
    /// a value of each JSON type, is refused or kept compact as it is whole.
    #[test]
    fn every_field_with_a_value_of_any_type_is_refused_or_kept_as_its_text_would_be() {
        let values = [r#""s""#, "3", "true", r#"{"a":1}"#, "[1]"];
        for (i, schema) in SCHEMAS.iter().enumerate().skip(GENERIC) {
            let ty = schema.kinds.first().map_or("run.custom", |k| k.name());
            for f in schema.fields.iter().filter(|f| f.name() != "trace") {
                for v in values {
                    let text = format!(r#"{{"type":"{ty}","{}":{v}}}"#, f.name());
                    let batch = compact(&[(&text, false)]);
                    assert_eq!(batch.slots[0], (i * 2) as f64, "{text}");
                    let a = decode(expanded(batch).remove(0)).map(|e| e.kind);
                    let b = decode(Inbound { pid: 7, ..crate::testing::diagnostic(text.clone(), 5.0) }).map(|e| e.kind);
                    assert_eq!(a, b, "{text}");
                }
            }
        }
        // An unknown type that is no string.
        for v in ["3", "true", r#"{"a":1}"#, "[1]", "null"] {
            let text = format!(r#"{{"type":{v},"runId":"r"}}"#);
            let a = decode(expanded(compact(&[(&text, false)])).remove(0)).err();
            let b = decode(Inbound { pid: 7, ..crate::testing::diagnostic(text.clone(), 5.0) }).err();
            assert_eq!(a, b, "{text}");
        }
    }

    #[test]
    fn a_field_written_twice_is_checked_by_its_last_value() {
        let mut twice = compact(&[(r#"{"type":"run.started","runId":["x"]}"#, false)]);
        assert_eq!(decode(expanded(twice.clone()).remove(0)).err(), Some(DecodeError::WrongFieldType));
        // The same field again, now a string: JSON text's later key wins, and so does its type.
        twice.slots[2] = 2.0;
        twice.slots.push(1.0);
        twice.tags.push(twice.tags[3] & !tag::KIND | tag::STR);
        twice.text.push(u16::from(b's'));
        assert_eq!(decode(expanded(twice.clone()).remove(0)).unwrap().str("runId"), Some("s"));
        // And the other way round.
        let mut back = compact(&[(r#"{"type":"run.started","runId":"r"}"#, false)]);
        back.slots[2] = 2.0;
        back.slots.push(0.0);
        back.tags.push(back.tags[3] & !tag::KIND | tag::WRONG);
        assert_eq!(decode(expanded(back).remove(0)).err(), Some(DecodeError::WrongFieldType));
    }

    #[test]
    fn a_batch_cut_short_or_garbled_counts_every_event_it_claims() {
        let reasons = |b: Batch| expanded(b).into_iter().map(|i| decode(i).err()).collect::<Vec<_>>();
        let good = compact(&[(r#"{"type":"run.started","runId":"r"}"#, false)]);
        let malformed = Some(DecodeError::MalformedJson);
        // Claims more events than it holds.
        assert_eq!(reasons(Batch { events: 3, ..good.clone() }), [None, malformed, malformed]);
        // Nothing at all.
        assert_eq!(reasons(Batch { events: 2, ..Batch::default() }), [malformed; 2]);
        // An unknown schema, an unknown tag, a string running past the text, slots cut short.
        let mut schema = good.clone();
        schema.slots[0] = 99.0 * 2.0;
        let mut t = good.clone();
        t.tags[1] = 200;
        let mut past = good.clone();
        past.text.truncate(0);
        let mut cut = good.clone();
        cut.slots.pop();
        for b in [schema, t, past, cut] {
            assert_eq!(reasons(b), [malformed]);
        }
    }

    #[test]
    fn a_field_written_twice_keeps_its_last_value_as_json_text_would() {
        let mut twice = compact(&[(r#"{"type":"run.started","runId":"r"}"#, false)]);
        assert_eq!(twice.slots[2], 1.0, "one keyed value");
        twice.slots[2] = 2.0;
        twice.slots.push(1.0);
        twice.tags.push(twice.tags[3]);
        twice.text.push(u16::from(b's'));
        let e = decode(expanded(twice).remove(0)).unwrap();
        assert_eq!((e.str("runId"), e.fields.len()), (Some("s"), 1));
    }

    #[test]
    fn a_trace_context_in_any_form_decodes_as_its_text_would() {
        let (t, s) = ("9ec7be0fb910e91ed558a422cd89a402", "e4a1b1684ae49708");
        let forms = [
            format!(r#"{{"traceId":"{t}","spanId":"{s}","parentSpanId":"{s}"}}"#),
            format!(r#"{{"parentSpanId":"{s}","traceId":"{t}"}}"#),
            format!(r#"{{"traceId":"{t}"}}"#),
            format!(r#"{{"traceId":"{}","spanId":"{s}"}}"#, t.to_uppercase()),
            format!(r#"{{"traceId":"{t}","spanId":null}}"#),
            format!(r#"{{"traceId":"{t}","spanId":"0000000000000000"}}"#),
            format!(r#"{{"traceId":"{}"}}"#, "0".repeat(32)),
            format!(r#"{{"traceId":"{t}","spanId":"{}"}}"#, &s[1..]),
            format!(r#"{{"traceId":"{}g"}}"#, &t[1..]),
            format!(r#"{{"traceId":"{}é"}}"#, &t[1..]),
            format!(r#"{{"traceId":"{}ŧ"}}"#, &t[1..]),
            format!(r#"{{"traceId":"{t}","spanId":7}}"#),
            format!(r#"{{"spanId":"{s}"}}"#),
            "{}".to_string(),
        ];
        // A number where an id belongs is not read as a string's length (here: the 16 units of the string after it).
        let number = format!(r#"{{"type":"run.started","trace":{{"traceId":"{t}","spanId":16}},"trigger":"{s}"}}"#);
        let texts = forms.iter().map(|form| format!(r#"{{"type":"run.started","runId":"r","trace":{form}}}"#));
        for text in texts.chain([number]) {
            let e = decode(expanded(compact(&[(&text, false)])).remove(0)).unwrap();
            let whole = decode(Inbound { pid: 7, ..crate::testing::diagnostic(text.clone(), 5.0) }).unwrap();
            assert_eq!((e.trace, e.bad_trace), (whole.trace, whole.bad_trace), "{text}");
            assert_eq!((e.str("runId"), e.str("trigger")), (whole.str("runId"), whole.str("trigger")), "{text}");
        }
    }

    #[test]
    fn a_trace_context_written_twice_keeps_the_later_one() {
        let (t, s) = ("9ec7be0fb910e91ed558a422cd89a402", "e4a1b1684ae49708");
        let one = compact(&[(&format!(r#"{{"type":"run.started","trace":{{"traceId":"{t}"}}}}"#), false)]);
        let other = compact(&[(&format!(r#"{{"type":"run.started","trace":{{"traceId":"{s}{s}"}}}}"#), false)]);
        let mut twice = one.clone();
        assert_eq!(twice.slots[2], 1.0, "one keyed value");
        twice.slots[2] = 2.0;
        twice.slots.extend_from_slice(&other.slots[3..]);
        twice.tags.extend_from_slice(&other.tags[3..]);
        twice.text.extend_from_slice(&other.text);
        let e = decode(expanded(twice).remove(0)).unwrap();
        assert_eq!(e.trace.map(|c| c.trace_id), crate::model::parse_hex(&format!("{s}{s}")));
    }

    #[test]
    fn text_transcodes_the_same_whether_ascii_or_not() {
        for s in ["", "gpt-4o mini", "naïve ☃ 🦀", "cut \u{7f}"] {
            let units: Vec<u16> = s.encode_utf16().collect();
            assert_eq!(utf16_to_string(&units), s);
        }
        assert_eq!(utf16_to_string(&[0x61, 0xd83d]), "a\u{fffd}");
    }

    #[test]
    fn a_lone_surrogate_in_a_batch_is_repaired_and_the_batch_kept() {
        let mut batch = compact(&[
            (r#"{"type":"run.started","runId":"rX"}"#, false),
            (r#"{"type":"run.started","runId":"q"}"#, false),
        ]);
        let x = batch.text.iter().position(|&u| u == 'X' as u16).unwrap();
        batch.text[x] = 0xD83D;
        let out: Vec<_> = expanded(batch).into_iter().map(|i| decode(i).unwrap()).collect();
        assert_eq!(out[0].str("runId"), Some("r\u{fffd}"));
        assert_eq!(out[1].str("runId"), Some("q"));
    }

    #[test]
    fn the_projection_lists_every_schema_the_tags_and_the_infra_names() {
        let p = projection();
        assert_eq!(p["schemas"].as_array().unwrap().len(), SCHEMAS.len());
        let infra = p["schemas"][INFRA]["types"].as_array().unwrap();
        assert_eq!(infra.len(), super::super::catalogue::infra_types().count());
        assert_eq!(p["schemas"][2]["types"][0], "message.received");
        assert_eq!(
            p["schemas"][GENERIC]["fields"][2],
            serde_json::json!(["trace", ["traceId", "spanId", "parentSpanId"]])
        );
        assert_eq!((p["tags"]["str"].as_u64(), p["tags"]["huge"].as_u64()), (Some(0), Some(tag::HUGE as u64)));
        assert_eq!(p["maxStringUnits"], MAX_EVENT_BYTES);
        // The plugin numbers the known types in this order.
        let listed: Vec<Value> =
            p["schemas"].as_array().unwrap().iter().flat_map(|s| s["types"].as_array().unwrap().clone()).collect();
        assert_eq!(listed, known_types().iter().map(|t| Value::from(*t)).collect::<Vec<_>>());
        assert_eq!(p["tags"]["known"].as_u64(), Some(tag::KNOWN as u64));
    }
}
