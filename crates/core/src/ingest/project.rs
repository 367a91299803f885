//! Decoding a diagnostic event's JSON text (a whole event, as `recordDiagnostic` takes it: the plugin while
//! recording, direct callers) without building the whole value: the object's entries are borrowed from the text, unparsed, its `type`
//! is read first, an `Infra` event goes no further, and only the fields its schema lists (`compact.rs`, the same
//! table the plugin projects with) are parsed into the event's map. Log records' attribute bags, prompt statistics
//! and every other field no one reads are skipped over, never allocated.
//!
//! Whatever this cannot decode cleanly (not an object, no string `type`, a field that does not parse, nesting that
//! could be too deep) returns `None`, and `event.rs` takes the full parse, which names the reason.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::catalogue::{Class, EventKind};
use super::compact::{Field, GENERIC, SCHEMAS};
use super::{Fields, Source};

/// What a diagnostic event's text decodes to.
#[derive(Debug)]
pub enum Projected {
    /// An `Infra` event: counted, never assembled.
    Infra { kind: EventKind, seq: Option<u64> },
    /// The fields its schema lists (and `type`).
    Fields(Fields),
}

/// serde_json refuses nesting deeper than this; entries skipped unparsed would not be checked, so text that could
/// nest deeper (more opening brackets than this, a cheap count) takes the full parse and its verdict.
const MAX_DEPTH: usize = 128;

pub fn project(text: &str) -> Option<Projected> {
    if text.bytes().filter(|b| matches!(b, b'{' | b'[')).count() > MAX_DEPTH {
        return None;
    }
    let Entries(entries) = serde_json::from_str(text).ok()?;
    let get = |name: &str| entries.iter().find(|(k, _)| &*k.0 == name).map(|(_, v)| *v);
    let ty: Key = serde_json::from_str(get("type")?.get()).ok()?;
    let kind = EventKind::parse(Source::Diagnostic, &ty.0);
    if kind.class() == Class::Infra {
        let seq = get("seq").and_then(|v| serde_json::from_str::<Value>(v.get()).ok()).and_then(|v| v.as_u64());
        return Some(Projected::Infra { kind, seq });
    }
    let schema = schema_of(kind);
    let mut fields = Fields::with_capacity(entries.len().min(16));
    fields.insert("type", Value::String(ty.0.into_owned()));
    for (key, raw) in &entries {
        let Some(field) = field_of(schema, key) else { continue };
        // `insert`, not a push: JSON text may repeat a key, and the last one wins.
        fields.insert(field.name(), value(field, raw)?);
    }
    Some(Projected::Fields(fields))
}

/// A field's value: an object field keeps only its listed sub-fields; anything else is parsed whole.
fn value(field: &Field, raw: &RawValue) -> Option<Value> {
    match field {
        Field::Object(_, sub) if raw.get().starts_with('{') => {
            let Entries(entries) = serde_json::from_str(raw.get()).ok()?;
            let mut m = Map::new();
            for f in *sub {
                if let Some((_, v)) = entries.iter().find(|(k, _)| &*k.0 == f.name()) {
                    m.insert(f.name().to_string(), value(f, v)?);
                }
            }
            Some(Value::Object(m))
        }
        _ => serde_json::from_str(raw.get()).ok(),
    }
}

/// The schema of a kind: its own row, else the generic one (family members, unknown types).
fn schema_of(kind: EventKind) -> usize {
    static BY_KIND: OnceLock<HashMap<EventKind, usize>> = OnceLock::new();
    let by_kind = BY_KIND
        .get_or_init(|| SCHEMAS.iter().enumerate().flat_map(|(i, s)| s.kinds.iter().map(move |k| (*k, i))).collect());
    by_kind.get(&kind).copied().unwrap_or(GENERIC)
}

/// The field named `key` of schema `i`: one hash lookup per entry of the event (not one scan per field).
fn field_of(i: usize, key: &str) -> Option<&'static Field> {
    static BY_NAME: OnceLock<Vec<HashMap<&'static str, &'static Field>>> = OnceLock::new();
    let by_name =
        BY_NAME.get_or_init(|| SCHEMAS.iter().map(|s| s.fields.iter().map(|f| (f.name(), f)).collect()).collect());
    by_name[i].get(key).copied()
}

/// An object key, borrowed from the text unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl std::ops::Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// A JSON object's entries in order, keys borrowed, values unparsed.
struct Entries<'a>(Vec<(Key<'a>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Fields {
        match project(text) {
            Some(Projected::Fields(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_the_schema_fields_are_kept() {
        let m = fields(
            r#"{"runId":"r","promptStats":{"a":[1,2]},"type":"model.call.completed","usage":{"input":3,"cost":{"total":0.5,"input":1}},"x\u0041":1}"#,
        );
        assert_eq!(m["type"], "model.call.completed", "type read wherever it is");
        assert_eq!(m["runId"], "r");
        assert_eq!(m["usage"], serde_json::json!({"input": 3, "cost": {"total": 0.5}}));
        assert!(m.get("promptStats").is_none() && m.get("xA").is_none());
        let log = fields(
            r#"{"type":"log.record","level":"ERROR","attributes":{"errorName":"E","huge":{"b":[1]},"status":500}}"#,
        );
        assert_eq!(log["attributes"], serde_json::json!({"errorName": "E", "status": 500}));
    }

    #[test]
    fn infra_events_stop_at_their_type() {
        match project(r#"{"seq":4,"type":"diagnostic.gc","memory":{"rss":1}}"#) {
            Some(Projected::Infra { kind, seq }) => assert_eq!((kind, seq), (EventKind::DiagnosticGc, Some(4))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_it_cannot_decode_cleanly_goes_to_the_full_parse() {
        for text in [
            "[1]",
            "{\"seq\":1}",
            "{\"type\":5}",
            "{\"type\":",
            r#"{"type":"run.started","runId":"cut \ud83d"}"#,
            &format!(r#"{{"type":"run.started","deep":{}{}}}"#, "[".repeat(200), "]".repeat(200)),
        ] {
            assert!(project(text).is_none(), "{text}");
        }
        // A lone surrogate in a field no one reads is skipped over.
        assert!(project(r#"{"type":"run.started","note":"cut \ud83d"}"#).is_some());
    }
}
