//! Open traces while they are being assembled.

use std::borrow::Cow;
use std::collections::HashMap;

use super::content::Note;
use crate::id_hash::IdHash;
use crate::model::{AttrKey, AttrValue, Attrs, Span, SpanEvent, SpanId, SpanKind, SpanLink, SpanRole, Status, TraceId};

/// A span while its trace is open: a `Span` without what its trace knows (the trace id), and with what few spans
/// have (events, links, an error's text) behind one pointer. An open span is memory every open trace pays (`docs/ARCHITECTURE.md`,
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
    /// Its status without an error's text (kept in `rare`): set with `set_status`.
    pub status: OpenStatus,
    pub attrs: Attrs,
    rare: Option<Box<Rare>>,
}

/// An open span's `Status`: a byte, where a `Status` is 24 (most open spans have none yet, few fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenStatus {
    Unset,
    Ok,
    Error,
}

impl OpenStatus {
    pub fn is_error(self) -> bool {
        self == OpenStatus::Error
    }
}

#[derive(Debug, Default)]
struct Rare {
    events: Vec<SpanEvent>,
    links: Vec<SpanLink>,
    error: String,
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
    pub fn set_status(&mut self, status: Status) {
        self.status = match status {
            Status::Unset => OpenStatus::Unset,
            Status::Ok => OpenStatus::Ok,
            Status::Error(text) => {
                self.rare.get_or_insert_with(Default::default).error = text;
                OpenStatus::Error
            }
        };
    }
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attrs.get_str(key)
    }
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        self.attrs.get_f64(key)
    }

    /// The span of trace `trace_id` (finalize).
    pub fn into_span(self, trace_id: TraceId) -> Span {
        let Rare { events, links, error } = self.rare.map(|r| *r).unwrap_or_default();
        let status = match self.status {
            OpenStatus::Unset => Status::Unset,
            OpenStatus::Ok => Status::Ok,
            OpenStatus::Error => Status::Error(error),
        };
        Span {
            trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            name: self.name,
            role: self.role,
            kind: self.kind,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            status,
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
    /// `SharedValues`, 0 when unset (a byte each: `MAX_SHARED_VALUES`). They join `span.attrs` when the trace is
    /// finalized.
    pub shared: [u8; SHARED_ATTRS.len()],
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

/// A trace's distinct values of `SHARED_ATTRS`, each once, in one buffer: each value its length (a byte) and its
/// text, in the order they came (a turn's ids are a dozen short strings: one allocation instead of one each, and no
/// table of where each is: a value is found by walking at most `MAX_SHARED_VALUES` lengths). The rare values that
/// are no strings are kept as they are, the buffer holding `OTHER` and their place. Values are only added: a span's
/// index stays valid.
#[derive(Debug, Default)]
pub struct SharedValues {
    buf: Vec<u8>,
    #[allow(clippy::box_collection)] // 8 bytes in every trace, where a `Vec` is 24
    others: Option<Box<Vec<AttrValue>>>,
}

/// Distinct shared values per trace, and bytes of their text: beyond either, spans take their own copies (a stream
/// of ever-new run ids into one trace cannot grow the table without bound; each copy replaces the last on its span).
/// A turn holds about ten values and 150 bytes; the cap lets a span's index be a byte.
pub const MAX_SHARED_VALUES: usize = u8::MAX as usize;
pub const MAX_SHARED_TEXT: usize = 16 * 1024;

/// Strings longer than this are not shared (their length is a byte, `OTHER` excluded): the spans keep their own.
pub const MAX_SHARED_LEN: usize = OTHER as usize - 1;

/// A length byte that marks a value of `SharedValues::others`; the next byte is its place there.
const OTHER: u8 = u8::MAX;

/// The buffer grows by at least this much: a few reallocations per turn, little slack.
const BUF_STEP: usize = 32;

impl SharedValues {
    /// Each value's place in `buf`: (its length byte, where its text or place starts).
    fn entries(&self) -> impl Iterator<Item = (u8, usize)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let &len = self.buf.get(at)?;
            let entry = (len, at + 1);
            at += 1 + if len == OTHER { 1 } else { usize::from(len) };
            Some(entry)
        })
    }

    /// Appends an entry, returning its 1-based index; `None` when the table is full.
    fn push(&mut self, count: usize, len: u8, body: &[u8]) -> Option<u8> {
        if count >= MAX_SHARED_VALUES || self.buf.len() + 1 + body.len() > MAX_SHARED_TEXT {
            return None;
        }
        // Grown a few values at a time, not doubled: the slack is memory every open trace pays.
        if self.buf.capacity() - self.buf.len() < 1 + body.len() {
            self.buf.reserve_exact((1 + body.len()).max(BUF_STEP));
        }
        self.buf.push(len);
        self.buf.extend_from_slice(body);
        Some(count as u8 + 1)
    }

    /// The 1-based index of the string `v`, added when new; `None` when the table is full or `v` too long.
    pub fn intern_str(&mut self, v: &str) -> Option<u8> {
        if v.len() > MAX_SHARED_LEN {
            return None;
        }
        let mut count = 0;
        for (len, at) in self.entries() {
            if usize::from(len) == v.len() && &self.buf[at..at + v.len()] == v.as_bytes() {
                return Some(count as u8 + 1);
            }
            count += 1;
        }
        self.push(count, v.len() as u8, v.as_bytes())
    }

    /// The 1-based index of `v`, added when new; `None` when the table is full.
    pub fn intern(&mut self, v: AttrValue) -> Option<u8> {
        if let AttrValue::Str(s) = &v {
            return self.intern_str(s);
        }
        let others = self.others.as_deref().map_or(&[][..], |o| o.as_slice());
        let mut count = 0;
        for (len, at) in self.entries() {
            if len == OTHER && others[usize::from(self.buf[at])] == v {
                return Some(count as u8 + 1);
            }
            count += 1;
        }
        let place = others.len() as u8;
        let index = self.push(count, OTHER, &[place])?;
        self.others.get_or_insert_with(Default::default).push(v);
        Some(index)
    }

    /// The value of a 1-based index.
    #[cfg(test)]
    pub fn value(&self, index: u8) -> Option<AttrValue> {
        let (len, at) = self.entries().nth(usize::from(index).checked_sub(1)?)?;
        if len == OTHER {
            return self.others.as_ref()?.get(usize::from(self.buf[at])).cloned();
        }
        let text = std::str::from_utf8(&self.buf[at..at + usize::from(len)]).ok()?;
        Some(AttrValue::Str(text.into()))
    }

    pub fn len(&self) -> usize {
        self.entries().count()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Every value, by its 1-based index less one, borrowed from the table: read once per trace at finalize, not
    /// walked to once per span and key (`value`).
    pub fn decoded(&self) -> Vec<SharedRef<'_>> {
        let others = self.others.as_deref().map_or(&[][..], |o| o.as_slice());
        self.entries()
            .map(|(len, at)| match len {
                OTHER => others.get(usize::from(self.buf[at])).map_or(SharedRef::Missing, SharedRef::Other),
                len => {
                    std::str::from_utf8(&self.buf[at..at + usize::from(len)]).map_or(SharedRef::Missing, SharedRef::Str)
                }
            })
            .collect()
    }

    /// Puts each span's shared values into its own attributes (tests; finalize reads the table once per trace,
    /// `materialize_from`).
    #[cfg(test)]
    pub fn materialize(&self, s: &mut SpanState) {
        Self::materialize_from(&self.decoded(), s, 0);
    }

    /// `materialize` with this table's `decoded()` read once for all of a trace's spans, and room for `room` more
    /// attributes.
    pub fn materialize_from(decoded: &[SharedRef<'_>], s: &mut SpanState, room: usize) {
        let value = |index: u8| match decoded.get(usize::from(index).checked_sub(1)?)? {
            SharedRef::Str(text) => Some(AttrValue::Str((*text).to_string())),
            SharedRef::Other(v) => Some((*v).clone()),
            SharedRef::Missing => None,
        };
        let mut set = [const { None }; SHARED_ATTRS.len()];
        let mut n = 0;
        for &i in &SHARED_BY_KEY {
            if let Some(v) = value(s.shared[i]) {
                set[n] = Some((AttrKey::new(SHARED_ATTRS[i]), v));
                n += 1;
            }
        }
        s.span.attrs.merge_sorted(set.iter_mut().take(n).map(|e| e.take().expect("set above")), room);
        s.shared = [0; SHARED_ATTRS.len()];
    }
}

/// A value of `SharedValues`, borrowed (`SharedValues::decoded`).
#[derive(Debug, Clone, Copy)]
pub enum SharedRef<'a> {
    Str(&'a str),
    Other(&'a AttrValue),
    /// Never written: the table only holds what `intern` put there.
    Missing,
}

/// `SHARED_ATTRS`' positions in the order of their keys, as attributes are kept (`Attrs::merge_sorted`).
const SHARED_BY_KEY: [usize; SHARED_ATTRS.len()] = {
    let mut order = [0; SHARED_ATTRS.len()];
    let mut i = 0;
    while i < order.len() {
        order[i] = i;
        i += 1;
    }
    // Insertion sort by key, in a constant.
    let mut i = 1;
    while i < order.len() {
        let mut j = i;
        while j > 0 && str_less(SHARED_ATTRS[order[j]], SHARED_ATTRS[order[j - 1]]) {
            let t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    order
};

/// `a < b` as `str`'s `Ord` compares them (bytes, then length), usable in a constant.
const fn str_less(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
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
                status: OpenStatus::Unset,
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

/// A trace's spans, with a map's interface. A turn has five to ten spans: a short vector of pointers searched in
/// order costs a fraction of a hash table's memory (a table keeps up to half its slots empty, and its smallest has
/// room for three); past `INDEXED_FROM` spans an index by id keeps lookups O(1) (`docs/ARCHITECTURE.md`,
/// "Contracts", bounded memory). Each span boxed: a span's state is over a hundred bytes, moved only as a pointer.
/// Its id is kept beside the pointer: a search reads the vector alone, not every span it passes (each a cache
/// line of its own, cold by the time a late event or finalize comes).
#[derive(Debug, Default)]
pub struct Spans {
    list: Vec<(SpanId, Box<SpanState>)>,
    /// Positions in `list` by span id, once it holds `INDEXED_FROM` spans.
    #[allow(clippy::box_collection)] // 8 bytes in every trace, where a map is 32
    index: Option<Box<HashMap<SpanId, u32, IdHash>>>,
}

/// Spans a trace holds before lookups go through an index.
const INDEXED_FROM: usize = 16;

impl Spans {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn position(&self, id: &SpanId) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(id).map(|&i| i as usize),
            None => self.list.iter().position(|(sid, _)| sid == id),
        }
    }

    pub fn contains_key(&self, id: &SpanId) -> bool {
        self.position(id).is_some()
    }

    pub fn get(&self, id: &SpanId) -> Option<&SpanState> {
        self.position(id).map(|i| &*self.list[i].1)
    }

    pub fn get_mut(&mut self, id: &SpanId) -> Option<&mut SpanState> {
        self.position(id).map(|i| &mut *self.list[i].1)
    }

    /// The span `id`, made when new.
    pub fn get_or_insert(&mut self, id: SpanId) -> &mut SpanState {
        let i = match self.position(&id) {
            Some(i) => i,
            None => {
                // A turn's first six spans at once, then a few at a time while small (the slack is memory every
                // open trace pays), doubling beyond.
                if self.list.len() == self.list.capacity() {
                    let more = match self.list.len() {
                        0 => 6,
                        n if n < INDEXED_FROM => 4,
                        n => n,
                    };
                    self.list.reserve_exact(more);
                }
                self.list.push((id, Box::new(SpanState::new(id))));
                let i = self.list.len() - 1;
                match &mut self.index {
                    Some(index) => {
                        index.insert(id, i as u32);
                    }
                    None if self.list.len() >= INDEXED_FROM => self.reindex(),
                    None => {}
                }
                i
            }
        };
        &mut self.list[i].1
    }

    fn reindex(&mut self) {
        self.index = (self.list.len() >= INDEXED_FROM).then(|| {
            let mut index = HashMap::with_capacity_and_hasher(self.list.len(), IdHash::default());
            index.extend(self.list.iter().enumerate().map(|(i, (sid, _))| (*sid, i as u32)));
            Box::new(index)
        });
    }

    pub fn remove(&mut self, id: &SpanId) -> Option<Box<SpanState>> {
        let i = self.position(id)?;
        let (_, s) = self.list.swap_remove(i);
        if let Some(index) = &mut self.index {
            index.remove(id);
            if let Some((moved, _)) = self.list.get(i) {
                index.insert(*moved, i as u32);
            }
        }
        Some(s)
    }

    /// Keeps the spans for which `keep` says so.
    pub fn retain(&mut self, mut keep: impl FnMut(&SpanId, &mut Box<SpanState>) -> bool) {
        self.list.retain_mut(|(id, s)| keep(id, s));
        if self.index.is_some() {
            self.reindex();
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &SpanId> {
        self.list.iter().map(|(sid, _)| sid)
    }

    pub fn values(&self) -> impl Iterator<Item = &Box<SpanState>> {
        self.list.iter().map(|(_, s)| s)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Box<SpanState>> {
        self.list.iter_mut().map(|(_, s)| s)
    }
}

impl std::ops::Index<&SpanId> for Spans {
    type Output = SpanState;
    fn index(&self, id: &SpanId) -> &SpanState {
        self.get(id).expect("no such span")
    }
}

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
    pub notes: Notes,
    /// Its message was processed while another run was busy; the follow-up run that answers it is still to come
    /// (`correlate.rs`, `follow_up`), so its root's end does not close it yet.
    pub awaiting_follow_up: bool,
    /// Its earliest pending look in the deadline heap (`assemble/deadlines.rs`); infinity when none is pending.
    pub check_at_ms: f64,
    /// Values its spans share (`SHARED_ATTRS`).
    pub shared: SharedValues,
}

/// A trace's content notes (`assemble/content.rs`) behind one pointer: only content capture takes any.
#[derive(Debug, Default)]
#[allow(clippy::box_collection)] // 8 bytes in every trace, where a `Vec` is 24
pub struct Notes(Option<Box<Vec<Note>>>);

impl Notes {
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |n| n.len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn push(&mut self, note: Note) {
        self.0.get_or_insert_with(Default::default).push(note);
    }
    pub fn into_vec(self) -> Vec<Note> {
        self.0.map(|n| *n).unwrap_or_default()
    }
}

/// Open traces by id, boxed for the same reason as spans (`Spans`).
pub type Traces = HashMap<TraceId, Box<TraceState>, IdHash>;

/// Spans per trace are capped: a runaway turn cannot take unbounded memory.
pub const MAX_SPANS_PER_TRACE: usize = 4096;

impl TraceState {
    pub fn new(trace_id: TraceId, now_ms: f64, straggler: bool) -> Self {
        TraceState {
            trace_id,
            spans: Spans::default(),
            agent_work: false,
            usage_seen: false,
            straggler,
            created_ms: now_ms,
            last_event_ms: now_ms,
            events: 0,
            notes: Notes::default(),
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
        // The cap first: below it, the span is searched for once (`get_or_insert`), not twice.
        if self.spans.len() >= MAX_SPANS_PER_TRACE && !self.spans.contains_key(&id) {
            return None;
        }
        Some((self.spans.get_or_insert(id), &mut self.shared))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> SpanId {
        (n as u64 + 1).to_be_bytes()
    }

    #[test]
    fn spans_are_found_by_id_small_and_indexed_through_removals() {
        let mut spans = Spans::default();
        for n in 0..40 {
            spans.get_or_insert(id(n)).span.start_ns = n as u64;
            assert!(spans.index.is_some() == (n + 1 >= INDEXED_FROM), "indexed from {INDEXED_FROM} spans on");
            assert_eq!(spans.len(), n + 1);
        }
        spans.get_or_insert(id(3)).span.end_ns = 7;
        assert_eq!(spans.len(), 40, "an id already there is not made again");
        // Removing swaps the last span into the hole: its place in the index moves with it.
        for n in [0, 39, 17, 5] {
            assert_eq!(spans.remove(&id(n)).map(|s| s.span.start_ns), Some(n as u64));
            assert!(spans.remove(&id(n)).is_none());
        }
        spans.retain(|sid, _| *sid != id(20));
        for n in 0..40 {
            let gone = [0, 39, 17, 5, 20].contains(&n);
            assert_eq!(spans.get(&id(n)).map(|s| s.span.start_ns), (!gone).then_some(n as u64), "span {n}");
        }
        assert_eq!(spans[&id(3)].span.end_ns, 7);
        assert_eq!(spans.keys().count(), 35);
        spans.retain(|sid, _| *sid == id(1) || *sid == id(2));
        assert!(spans.index.is_none(), "a small trace is searched again");
        assert!(spans.contains_key(&id(2)) && !spans.contains_key(&id(3)));
    }

    #[test]
    fn a_trace_holds_at_most_its_cap_of_spans() {
        let mut t = TraceState::new([1; 16], 0.0, false);
        for n in 0..MAX_SPANS_PER_TRACE + 10 {
            let made = t.span_mut(id(n)).is_some();
            assert_eq!(made, n < MAX_SPANS_PER_TRACE, "span {n}");
        }
        assert_eq!(t.spans.len(), MAX_SPANS_PER_TRACE);
        assert!(t.span_mut(id(0)).is_some(), "a span already there is still found");
    }

    #[test]
    fn shared_keys_are_merged_in_the_order_attributes_keep() {
        let keys: Vec<&str> = SHARED_BY_KEY.iter().map(|&i| SHARED_ATTRS[i]).collect();
        let mut sorted = SHARED_ATTRS.to_vec();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    /// Finalize puts the turn's values on each span in one merge: the span's other attributes kept, a shared value
    /// replacing the span's own copy of the same key (as inserting it did), in key order.
    #[test]
    fn materialized_values_join_the_spans_own_attributes() {
        let mut sh = SharedValues::default();
        let mut s = SpanState::new([1; 8]);
        s.span.attrs.insert("a.first".into(), AttrValue::Int(1));
        s.span.attrs.insert("openclaw.run_id".into(), "own copy".into());
        s.span.attrs.insert("openclaw.trigger_x".into(), AttrValue::Bool(true));
        s.span.attrs.insert("zz.last".into(), AttrValue::Int(2));
        let key = |k: &str| SHARED_ATTRS.iter().position(|x| *x == k).unwrap();
        s.shared[key("openclaw.run_id")] = sh.intern_str("run-1").unwrap();
        s.shared[key("gen_ai.request.model")] = sh.intern_str("m").unwrap();
        s.shared[key("openclaw.trigger")] = sh.intern(AttrValue::Int(7)).unwrap();
        let mut want = s.span.attrs.clone();
        for (k, i) in SHARED_ATTRS.iter().zip(s.shared) {
            if let Some(v) = sh.value(i) {
                want.insert((*k).into(), v);
            }
        }
        SharedValues::materialize_from(&sh.decoded(), &mut s, 4);
        assert_eq!(s.span.attrs, want);
        assert_eq!(s.span.attrs.len(), 6, "the run id once");
        assert!(s.span.attrs.keys().zip(s.span.attrs.keys().skip(1)).all(|(a, b)| a < b), "sorted");
        assert_eq!(s.shared, [0; SHARED_ATTRS.len()]);
    }

    #[test]
    fn shared_values_hold_strings_and_other_values_and_leave_long_strings_to_the_span() {
        let mut sh = SharedValues::default();
        let a = sh.intern_str("agent:main:main");
        let n = sh.intern(AttrValue::Int(7));
        let b = sh.intern_str("gpt-4o-mini");
        assert_eq!((a, n, b), (Some(1), Some(2), Some(3)));
        assert_eq!(sh.intern(AttrValue::Int(7)), n);
        assert_eq!(sh.intern_str("agent:main:main"), a);
        assert_eq!(sh.value(2), Some(AttrValue::Int(7)));
        assert_eq!(sh.value(3), Some(AttrValue::Str("gpt-4o-mini".into())));
        assert_eq!(sh.value(4), None);
        assert_eq!(sh.intern_str(&"x".repeat(MAX_SHARED_LEN + 1)), None, "its length is no byte");
        let longest = "y".repeat(MAX_SHARED_LEN);
        let at = sh.intern_str(&longest).expect("a length of a byte is shared");
        assert_eq!(sh.value(at), Some(AttrValue::Str(longest)));
        assert_eq!(sh.len(), 4);
    }
}
