//! The record format shared by the corpus, the CLI and the tests (`docs/ARCHITECTURE.md`, "Record format"): one JSON
//! object per line,
//! `{"src":"diagnostic"|"agent"|"hook"|"marker", "pid", "rt", "meta", "evt", "hook", "ctx", "note"}`.

use serde_json::Value;

use super::{Body, Inbound, Source};

#[derive(Debug)]
pub enum Record {
    Event(Inbound),
    Marker(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    MalformedJson,
    UnknownSource,
}

/// Parses one line. `default_pid` stands in when the record has none (hand-written logs).
pub fn parse_record(line: &str, default_pid: u32) -> Result<Record, RecordError> {
    let mut v: Value = serde_json::from_str(line).map_err(|_| RecordError::MalformedJson)?;
    let obj = v.as_object_mut().ok_or(RecordError::MalformedJson)?;
    let src = match obj.get("src").and_then(Value::as_str) {
        Some("diagnostic") => Source::Diagnostic,
        Some("agent") => Source::Agent,
        Some("hook") => Source::Hook,
        Some("marker") => {
            return Ok(Record::Marker(obj.get("note").and_then(Value::as_str).unwrap_or("").to_string()));
        }
        _ => return Err(RecordError::UnknownSource),
    };
    let pid = obj.get("pid").and_then(Value::as_u64).map(|p| p as u32).unwrap_or(default_pid);
    let evt = obj.remove("evt").unwrap_or(Value::Null);
    let arrived_ms =
        obj.get("rt").and_then(Value::as_f64).or_else(|| evt.get("ts").and_then(Value::as_f64)).unwrap_or(0.0);
    let trusted = obj.get("meta").and_then(|m| m.get("trusted")).and_then(Value::as_bool).unwrap_or(false);
    let hook = obj.get("hook").and_then(Value::as_str).map(str::to_string);
    let ctx = obj.remove("ctx").filter(|c| !c.is_null()).map(Body::Value);
    Ok(Record::Event(Inbound { src, pid, arrived_ms, trusted, hook, body: Body::Value(evt), ctx }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_source() {
        let r = parse_record(r#"{"src":"diagnostic","pid":7,"rt":12,"meta":{"trusted":true},"evt":{"type":"x"}}"#, 1)
            .unwrap();
        match r {
            Record::Event(i) => {
                assert_eq!((i.pid, i.arrived_ms, i.trusted, i.src), (7, 12.0, true, Source::Diagnostic));
            }
            _ => panic!("expected event"),
        }
        assert!(
            matches!(parse_record(r#"{"src":"marker","note":"--- a ---"}"#, 1).unwrap(), Record::Marker(n) if n == "--- a ---")
        );
        assert_eq!(parse_record(r#"{"src":"other"}"#, 1).unwrap_err(), RecordError::UnknownSource);
        assert_eq!(parse_record("nope", 1).unwrap_err(), RecordError::MalformedJson);
    }
}
