//! Open traces while they are being assembled.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::id_hash::IdHash;
use crate::model::{AttrValue, Attrs, Span, SpanEvent, SpanId, SpanKind, SpanLink, SpanRole, Status, TraceId};

/// A span while its trace is open: a `Span` without what its trace knows (the trace id), and with what few spans
/// have (events, links) behind one pointer. An open span is memory every open trace pays (`docs/ARCHITECTURE.md`,
/// "Contracts", bounded memory); it becomes a `Span` at finalize.
#[derive(Debug)]
pub struct OpenSpan {
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    /// Most names are clawtrace's own constants, held without a copy while open.
    pub name: Cow<'static, str>,
    pub role: SpanRole,
    pub kind: SpanKind,
    pub start_ns: u64,
    pub end_ns: u64,
    pub status: Status,
    pub attrs: Attrs,
    rare: Option<Box<Rare>>,
}

#[derive(Debug, Default)]
struct Rare {
    events: Vec<SpanEvent>,
    links: Vec<SpanLink>,
}

impl OpenSpan {
    pub fn events(&self) -> &[SpanEvent] {
        self.rare.as_ref().map_or(&[], |r| &r.events)
    }
    pub fn events_mut(&mut self) -> &mut Vec<SpanEvent> {
        &mut self.rare.get_or_insert_with(Default::default).events
    }
    pub fn links(&self) -> &[SpanLink] {
        self.rare.as_ref().map_or(&[], |r| &r.links)
    }
    pub fn links_mut(&mut self) -> &mut Vec<SpanLink> {
        &mut self.rare.get_or_insert_with(Default::default).links
    }
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attrs.get_str(key)
    }
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        self.attrs.get_f64(key)
    }

    /// The span of trace `trace_id` (finalize).
    pub fn into_span(self, trace_id: TraceId) -> Span {
        let Rare { events, links } = self.rare.map(|r| *r).unwrap_or_default();
        Span {
            trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            name: self.name.into_owned(),
            role: self.role,
            kind: self.kind,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            status: self.status,
            attrs: self.attrs,
            events,
            links,
        }
    }
}

#[derive(Debug)]
pub struct SpanState {
    pub span: OpenSpan,
    /// An event of this span's own (start, end or point) described it; otherwise it is only a referenced parent
    /// or an id other events carried, and its extent is synthesised.
    pub described: bool,
    pub open: bool,
    pub ended: bool,
    /// This span closes its trace (message processed, root harness completed, idle HTTP root).
    pub terminal: bool,
    /// Range of every event that carried this span id.
    pub seen_from_ns: u64,
    pub seen_to_ns: u64,
    /// Events other than parent references touched it (placeholders in straggler traces are not re-sent).
    pub observed: bool,
    /// Its values of the turn's repeated attributes (`SHARED_ATTRS`): 1-based indices into its trace's
    /// `SharedValues`, 0 when unset. They join `span.attrs` when the trace is finalized.
    pub shared: [u16; SHARED_ATTRS.len()],
}

/// Attributes most spans of a turn repeat with the same value (its ids, channel, model). An open span holds an index
/// per key instead of a copy: five spans of a turn share one copy of each value (`docs/ARCHITECTURE.md`,
/// "Contracts", bounded memory). Only `assemble/apply.rs` sets them, so no other write can race the deferred one.
pub const SHARED_ATTRS: [&str; 10] = [
    "openclaw.session_key",
    "openclaw.session_id",
    "openclaw.run_id",
    "openclaw.channel",
    "openclaw.agent_id",
    "openclaw.trigger",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.operation.name",
];

/// A trace's distinct values of `SHARED_ATTRS`, each once: the strings packed into one buffer (a turn's ids are a
/// dozen short strings: one allocation instead of one each), the rare other values as they are. Values are only
/// added: a span's index stays valid.
#[derive(Debug, Default)]
pub struct SharedValues {
    text: String,
    /// Each value: a string's start and length in `text`, or (`OTHER`, its place in `others`).
    values: Vec<(u32, u32)>,
    others: Vec<AttrValue>,
}

/// Distinct shared values per trace, and bytes of their text: beyond either, spans take their own copies (a stream
/// of ever-new run ids into one trace cannot grow the table without bound; each copy replaces the last on its span).
pub const MAX_SHARED_VALUES: usize = 1024;
pub const MAX_SHARED_TEXT: usize = 64 * 1024;

/// Marks a value of `SharedValues::others`.
const OTHER: u32 = u32::MAX;

impl SharedValues {
    /// The 1-based index of the string `v`, added when new; `None` when the table is full.
    pub fn intern_str(&mut self, v: &str) -> Option<u16> {
        let found = self.values.iter().position(|&(at, len)| at != OTHER && self.str_at(at, len) == v);
        if let Some(i) = found {
            return Some(i as u16 + 1);
        }
        if self.values.len() >= MAX_SHARED_VALUES || self.text.len() + v.len() > MAX_SHARED_TEXT {
            return None;
        }
        // Grown a few values at a time, not doubled: the slack is memory every open trace pays.
        if self.text.capacity() - self.text.len() < v.len() {
            self.text.reserve_exact(v.len().max(64));
        }
        let at = self.text.len() as u32;
        self.text.push_str(v);
        self.push((at, v.len() as u32))
    }

    /// The 1-based index of `v`, added when new; `None` when the table is full.
    pub fn intern(&mut self, v: AttrValue) -> Option<u16> {
        if let AttrValue::Str(s) = &v {
            return self.intern_str(s);
        }
        let found = self.values.iter().position(|&(at, i)| at == OTHER && self.others[i as usize] == v);
        if let Some(i) = found {
            return Some(i as u16 + 1);
        }
        if self.values.len() >= MAX_SHARED_VALUES {
            return None;
        }
        self.others.push(v);
        self.push((OTHER, self.others.len() as u32 - 1))
    }

    fn push(&mut self, value: (u32, u32)) -> Option<u16> {
        if self.values.len() == self.values.capacity() {
            self.values.reserve_exact(if self.values.is_empty() { SHARED_ATTRS.len() } else { 4 });
        }
        self.values.push(value);
        Some(self.values.len() as u16)
    }

    fn str_at(&self, at: u32, len: u32) -> &str {
        &self.text[at as usize..(at + len) as usize]
    }

    /// The value of a 1-based index.
    pub fn value(&self, index: u16) -> Option<AttrValue> {
        let &(at, len) = self.values.get(usize::from(index).checked_sub(1)?)?;
        Some(if at == OTHER { self.others[len as usize].clone() } else { AttrValue::Str(self.str_at(at, len).into()) })
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Puts each span's shared values into its own attributes (finalize; content assignment reads the run id).
    pub fn materialize(&self, s: &mut SpanState) {
        for (key, index) in SHARED_ATTRS.iter().zip(s.shared) {
            if let Some(v) = self.value(index) {
                s.span.attrs.insert((*key).into(), v);
            }
        }
        s.shared = [0; SHARED_ATTRS.len()];
    }
}

impl SpanState {
    pub fn new(span_id: SpanId) -> Self {
        SpanState {
            span: OpenSpan {
                span_id,
                parent_span_id: None,
                name: Cow::Borrowed(""),
                role: SpanRole::Synthetic,
                kind: SpanKind::Internal,
                start_ns: 0,
                end_ns: 0,
                status: Status::Unset,
                attrs: Default::default(),
                rare: None,
            },
            described: false,
            open: false,
            ended: false,
            terminal: false,
            seen_from_ns: u64::MAX,
            seen_to_ns: 0,
            observed: false,
            shared: [0; SHARED_ATTRS.len()],
        }
    }

    pub fn observe(&mut self, ts_ns: u64) {
        self.observed = true;
        self.seen_from_ns = self.seen_from_ns.min(ts_ns);
        self.seen_to_ns = self.seen_to_ns.max(ts_ns);
    }
}

/// A trace's spans by id. Boxed: a span's state is a few hundred bytes, and a hash table keeps up to half of its
/// slots empty; empty slots of pointers cost little (`docs/ARCHITECTURE.md`, "Contracts", bounded memory).
pub type Spans = HashMap<SpanId, Box<SpanState>, IdHash>;

#[derive(Debug)]
pub struct TraceState {
    pub trace_id: TraceId,
    pub spans: Spans,
    pub agent_work: bool,
    pub usage_seen: bool,
    /// Spans of a trace already exported: only what is new is sent.
    pub straggler: bool,
    pub created_ms: f64,
    pub last_event_ms: f64,
    pub events: u64,
    /// Content waiting to be handed to its model calls at the end (`assemble/content.rs`).
    pub notes: Vec<super::content::Note>,
    /// Its message was processed while another run was busy; the follow-up run that answers it is still to come
    /// (`correlate.rs`, `follow_up`), so its root's end does not close it yet.
    pub awaiting_follow_up: bool,
    /// Its earliest pending look in the deadline heap (`assemble/deadlines.rs`); infinity when none is pending.
    pub check_at_ms: f64,
    /// Values its spans share (`SHARED_ATTRS`).
    pub shared: SharedValues,
}

/// Open traces by id, boxed for the same reason as spans (`Spans`).
pub type Traces = HashMap<TraceId, Box<TraceState>, IdHash>;

/// Spans per trace are capped: a runaway turn cannot take unbounded memory.
pub const MAX_SPANS_PER_TRACE: usize = 4096;

impl TraceState {
    pub fn new(trace_id: TraceId, now_ms: f64, straggler: bool) -> Self {
        TraceState {
            trace_id,
            spans: HashMap::default(),
            agent_work: false,
            usage_seen: false,
            straggler,
            created_ms: now_ms,
            last_event_ms: now_ms,
            events: 0,
            notes: Vec::new(),
            awaiting_follow_up: false,
            check_at_ms: f64::INFINITY,
            shared: SharedValues::default(),
        }
    }

    pub fn span_mut(&mut self, id: SpanId) -> Option<&mut SpanState> {
        self.span_and_shared(id).map(|(s, _)| s)
    }

    /// A span (made when new, within `MAX_SPANS_PER_TRACE`) and the values its trace's spans share.
    pub fn span_and_shared(&mut self, id: SpanId) -> Option<(&mut SpanState, &mut SharedValues)> {
        if !self.spans.contains_key(&id) && self.spans.len() >= MAX_SPANS_PER_TRACE {
            return None;
        }
        let s = self.spans.entry(id).or_insert_with(|| Box::new(SpanState::new(id)));
        Some((s, &mut self.shared))
    }

    fn roots(&self) -> impl Iterator<Item = &Box<SpanState>> {
        self.spans.values().filter(|s| s.span.parent_span_id.is_none_or(|p| !self.spans.contains_key(&p)))
    }

    /// Closed by its own events: the root said so, and nothing that started is still running.
    pub fn is_closed(&self) -> bool {
        if self.awaiting_follow_up || self.spans.values().any(|s| s.open) {
            return false;
        }
        self.roots().any(|r| r.terminal || (self.usage_seen && !r.described))
            || (self.straggler && !self.spans.is_empty())
    }
}
