//! An event's fields: a small vector of `(name, value)` pairs in arrival order, not a `serde_json::Map`.
//!
//! An event carries a dozen fields or so, and assembly looks each up a few times. A map is a B-tree: every field
//! costs an owned key and a node slot, every lookup a few string orderings (`memcmp`), and the whole tree is torn
//! down node by node. Here a field of the compact crossing (`compact.rs`) keeps its schema's `&'static` name, so
//! decoding allocates no key, and a lookup compares lengths before bytes, so most keys are passed over without
//! touching their text (`docs/ARCHITECTURE.md`, "The background").

use std::borrow::Cow;
use std::ops::Index;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// A field name: the schema's own (borrowed for free) or one read from JSON text (owned).
pub type FieldName = Cow<'static, str>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Vec<(FieldName, Value)>);

impl Fields {
    pub fn new() -> Self {
        Fields(Vec::new())
    }
    pub fn with_capacity(n: usize) -> Self {
        Fields(Vec::with_capacity(n))
    }
    #[inline]
    fn find(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k.len() == key.len() && k.as_ref() == key)
    }
    /// Generic over the key as a map's `get` is, so call sites read the same as they did on a map.
    pub fn get<K: AsRef<str> + ?Sized>(&self, key: &K) -> Option<&Value> {
        self.find(key.as_ref()).map(|i| &self.0[i].1)
    }
    /// Sets `key` (a later value replaces an earlier one, as in JSON text), returning the value it replaced.
    pub fn insert(&mut self, key: impl Into<FieldName>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.find(&key) {
            Some(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }
    /// Appends a field the caller knows is not there yet (a batch's reader tracks which of a schema's fields it
    /// read), without looking for it first.
    #[inline]
    pub(crate) fn push_new(&mut self, key: &'static str, value: Value) {
        debug_assert!(self.find(key).is_none(), "{key} is there already");
        self.0.push((Cow::Borrowed(key), value));
    }
    /// A value to change or take from: a reader that is a string's last (`assemble/apply.rs`) moves it out
    /// instead of copying it and freeing the event's copy after.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.find(key).map(|i| &mut self.0[i].1)
    }
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.find(key).map(|i| self.0.remove(i).1)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Map<String, Value>> for Fields {
    fn from(map: Map<String, Value>) -> Self {
        Fields(map.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect())
    }
}

impl Extend<(String, Value)> for Fields {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

/// As the JSON object it stands for (a recording writes a decoded batch event as its text: `record.rs`).
impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

/// `fields["seq"]`, as on a map: panics when the field is missing (tests only read fields they know are there).
impl Index<&str> for Fields {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or_else(|| panic!("no field {key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_value_replaces_an_earlier_one_and_lookups_find_each_key() {
        let mut f = Fields::new();
        f.insert("runId", Value::from("r"));
        f.insert("runI", Value::from(1));
        assert_eq!(f.insert(String::from("runId"), Value::from("s")), Some(Value::from("r")));
        assert_eq!((f.len(), f.get("runId"), f.get("runI")), (2, Some(&Value::from("s")), Some(&Value::from(1))));
        assert_eq!(f.get("run"), None);
        assert_eq!(f.remove("runI"), Some(Value::from(1)));
        assert_eq!(f.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["runId"]);
    }

    #[test]
    fn a_map_converts_with_every_field() {
        let map: Map<String, Value> = serde_json::from_str(r#"{"a":1,"b":{"c":2}}"#).unwrap();
        let f = Fields::from(map);
        assert_eq!((f["a"].as_i64(), f["b"]["c"].as_i64()), (Some(1), Some(2)));
    }
}
