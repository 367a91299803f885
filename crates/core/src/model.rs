//! The exporter-agnostic span model that assembly produces and every sink encodes.

use std::borrow::Cow;

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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanEvent {
    pub name: String,
    pub time_ns: u64,
    pub attrs: Attrs,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanLink {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub attrs: Attrs,
}

/// An attribute key: one of clawtrace's own names (`"gen_ai.request.model"`), borrowed for free. No key is made at
/// run time, so none is owned: an entry is 40 bytes, not the 48 a `Cow` key made it, in every open span's
/// attributes (`docs/ARCHITECTURE.md`, "Contracts", bounded memory). Made with `"name".into()`; reads as a `str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttrKey(&'static str);

impl AttrKey {
    pub const fn new(name: &'static str) -> Self {
        AttrKey(name)
    }
    pub const fn as_str(&self) -> &'static str {
        self.0
    }
}

impl From<&'static str> for AttrKey {
    fn from(name: &'static str) -> Self {
        AttrKey(name)
    }
}

impl std::ops::Deref for AttrKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for AttrKey {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl std::borrow::Borrow<str> for AttrKey {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl std::fmt::Display for AttrKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl PartialEq<str> for AttrKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AttrKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for AttrKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// A span's attributes, sorted by key so encodings are deterministic. A sorted vector rather than a `BTreeMap`: a
/// span has a dozen attributes or so, and a map's smallest node is room for eleven, allocated even for one; here an
/// open span pays for what it holds (`docs/ARCHITECTURE.md`, "Contracts", bounded memory). The map's interface.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attrs(Vec<(AttrKey, AttrValue)>);

/// Attributes an open span's vector grows by (`Attrs::make_room`).
const ROOM_STEP: usize = 2;

impl Attrs {
    pub fn new() -> Self {
        Attrs(Vec::new())
    }
    /// Grown two at a time, not doubled: an open span's slack is memory every open trace pays. Most open spans
    /// hold one to three attributes (the turn's shared ones are elsewhere, `assemble/state.rs`); a span that
    /// leaves the open state takes room for the rest at once (`reserve`).
    fn make_room(&mut self) {
        if self.0.len() == self.0.capacity() {
            self.0.reserve_exact(ROOM_STEP);
        }
    }
    /// Room for `additional` more at once: for a span leaving the open state (finalize, enrich), whose growth a
    /// few at a time would only cost reallocations.
    pub fn reserve(&mut self, additional: usize) {
        self.0.reserve(additional);
    }
    /// Sets each `(key, value)` in turn, as `insert` does, growing once by exactly the keys not set yet (an event's
    /// attributes, `assemble/apply.rs`): no slack for an open span to hold, and one reallocation where growing two
    /// at a time made one per two new keys.
    pub fn insert_all(&mut self, pairs: &mut [Option<(AttrKey, AttrValue)>]) {
        let new = pairs.iter().flatten().filter(|(k, _)| self.find(k).is_err()).count();
        self.0.reserve_exact(new);
        for (key, value) in pairs.iter_mut().filter_map(Option::take) {
            self.insert(key, value);
        }
    }
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
    /// Sets `key`, returning the value it replaced.
    pub fn insert(&mut self, key: AttrKey, value: AttrValue) -> Option<AttrValue> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.make_room();
                self.0.insert(i, (key, value));
                None
            }
        }
    }
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }
    /// The string value of `key`.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(AttrValue::Str(s)) => Some(s),
            _ => None,
        }
    }
    /// The numeric value of `key`, integers included.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(AttrValue::F64(v)) => Some(*v),
            Some(AttrValue::Int(v)) => Some(*v as f64),
            _ => None,
        }
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut AttrValue> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }
    /// Whether any key starts with `prefix`: one search instead of one per key of a family (the keys being
    /// sorted, a family's keys follow one another from the first key not below `prefix`).
    pub fn has_key_with_prefix(&self, prefix: &str) -> bool {
        let at = self.0.partition_point(|(k, _)| k.as_ref() < prefix);
        self.0.get(at).is_some_and(|(k, _)| k.starts_with(prefix))
    }
    pub fn remove(&mut self, key: &str) -> Option<AttrValue> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }
    pub fn entry(&mut self, key: AttrKey) -> Entry<'_> {
        Entry { at: self.find(&key), attrs: self, key }
    }
    pub fn iter(&self) -> impl Iterator<Item = (&AttrKey, &AttrValue)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&AttrKey, &mut AttrValue)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &AttrKey> {
        self.0.iter().map(|(k, _)| k)
    }
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut AttrValue> {
        self.0.iter_mut().map(|(_, v)| v)
    }
    pub fn retain(&mut self, mut keep: impl FnMut(&AttrKey, &mut AttrValue) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn clear(&mut self) {
        self.0.clear();
    }
    /// Sets every `(key, value)` of `sorted` (keys ascending, each once), as `insert` would one after another, and
    /// makes room for `room` more: one pass and one allocation, where each `insert` would search and shift the
    /// entries after it (finalize puts a turn's shared values on each of its spans this way, `assemble/state.rs`).
    pub fn merge_sorted(&mut self, sorted: impl ExactSizeIterator<Item = (AttrKey, AttrValue)>, room: usize) {
        let own = std::mem::take(&mut self.0);
        let mut merged = Vec::with_capacity(own.len() + sorted.len() + room);
        let mut own = own.into_iter().peekable();
        for (key, value) in sorted {
            while let Some(entry) = own.next_if(|(k, _)| k.as_str() < key.as_str()) {
                merged.push(entry);
            }
            // The value set replaces the span's own, as `insert` does.
            own.next_if(|(k, _)| k.as_str() == key.as_str());
            merged.push((key, value));
        }
        merged.extend(own);
        self.0 = merged;
    }
}

/// `Attrs::entry`: a key that may be set already.
pub struct Entry<'a> {
    attrs: &'a mut Attrs,
    at: Result<usize, usize>,
    key: AttrKey,
}

impl<'a> Entry<'a> {
    pub fn or_insert(self, value: AttrValue) -> &'a mut AttrValue {
        self.or_insert_with(|| value)
    }
    pub fn or_insert_with(self, value: impl FnOnce() -> AttrValue) -> &'a mut AttrValue {
        let i = match self.at {
            Ok(i) => i,
            Err(i) => {
                self.attrs.make_room();
                self.attrs.0.insert(i, (self.key, value()));
                i
            }
        };
        &mut self.attrs.0[i].1
    }
}

impl Extend<(AttrKey, AttrValue)> for Attrs {
    fn extend<I: IntoIterator<Item = (AttrKey, AttrValue)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(AttrKey, AttrValue)> for Attrs {
    /// A later value for the same key wins, as in a map.
    fn from_iter<I: IntoIterator<Item = (AttrKey, AttrValue)>>(iter: I) -> Self {
        let mut a = Attrs::new();
        a.extend(iter);
        a
    }
}

impl<const N: usize> From<[(AttrKey, AttrValue); N]> for Attrs {
    fn from(pairs: [(AttrKey, AttrValue); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a Attrs {
    type Item = (&'a AttrKey, &'a AttrValue);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (AttrKey, AttrValue)>, fn(&'a (AttrKey, AttrValue)) -> Self::Item>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl IntoIterator for Attrs {
    type Item = (AttrKey, AttrValue);
    type IntoIter = std::vec::IntoIter<(AttrKey, AttrValue)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl std::ops::Index<&str> for Attrs {
    type Output = AttrValue;
    fn index(&self, key: &str) -> &AttrValue {
        self.get(key).expect("no such attribute")
    }
}

impl Serialize for Attrs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    /// Most names are clawtrace's own constants (`openclaw.run`): borrowed, no copy made per span.
    pub name: Cow<'static, str>,
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
        self.attrs.get_str(key)
    }
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        match self.attrs.get(key) {
            Some(AttrValue::Int(v)) => Some(*v),
            _ => None,
        }
    }
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        self.attrs.get_f64(key)
    }
    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }
}

/// A finished trace (or, when `straggler` is set, spans that arrived after their trace was exported).
#[derive(Debug, Clone, PartialEq, Serialize)]
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

    /// An event's attributes at once: as inserting them one after another (a value set replaces the span's own),
    /// the vector grown once by exactly the keys it lacked.
    #[test]
    fn attributes_set_at_once_are_set_as_one_by_one_and_take_no_slack() {
        let mut attrs = Attrs::from([("b".into(), AttrValue::Int(1)), ("d".into(), AttrValue::Int(2))]);
        attrs.0.shrink_to_fit();
        let mut want = attrs.clone();
        let pairs = [
            Some(("c".into(), AttrValue::Int(3))),
            None,
            Some(("b".into(), AttrValue::from("replaced"))),
            Some(("a".into(), AttrValue::Bool(true))),
        ];
        for (k, v) in pairs.iter().flatten().cloned() {
            want.insert(k, v);
        }
        attrs.insert_all(&mut { pairs });
        assert_eq!(attrs, want);
        assert_eq!((attrs.len(), attrs.0.capacity()), (4, 4), "room for the two new keys, no more");
    }

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
