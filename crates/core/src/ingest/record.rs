//! The record format shared by the corpus, the CLI and the tests (`docs/ARCHITECTURE.md`, "Record format"): one JSON
//! object per line,
//! `{"src":"diagnostic"|"agent"|"hook"|"marker", "pid", "rt", "meta", "evt", "hook", "ctx", "note"}`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::{Body, Inbound, Source, MAX_EVENT_BYTES};

/// Longest record line kept: an event and its hook context (each refused beyond `MAX_EVENT_BYTES` anyway) plus the
/// envelope. A longer line is skipped without being held in memory.
pub const MAX_LINE_BYTES: usize = 2 * MAX_EVENT_BYTES + (64 << 10);

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

/// A record line's envelope with its event and hook context left as text: a replay then decodes each event as
/// the live path does (a diagnostic event's text is projected, `project.rs`, not parsed whole into a value).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    src: Cow<'a, str>,
    pid: Option<u32>,
    rt: f64,
    meta: Option<Meta>,
    hook: Option<String>,
    #[serde(borrow)]
    evt: &'a RawValue,
    #[serde(borrow)]
    ctx: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Meta {
    trusted: Option<bool>,
}

/// Parses one line. `default_pid` stands in when the record has none (hand-written logs).
pub fn parse_record(line: &str, default_pid: u32) -> Result<Record, RecordError> {
    // The envelope as clawtrace writes it (`encode_record`); anything else (a marker, a hand-written line without
    // `rt`, a field of another type, a lone surrogate) takes the whole parse and its rules.
    if let Ok(env) = serde_json::from_str::<Envelope>(line) {
        let src = match &*env.src {
            "diagnostic" => Some(Source::Diagnostic),
            "agent" => Some(Source::Agent),
            "hook" => Some(Source::Hook),
            _ => None,
        };
        if let Some(src) = src {
            let text = |raw: &RawValue| Body::Json(raw.get().to_string());
            return Ok(Record::Event(Inbound {
                src,
                pid: env.pid.unwrap_or(default_pid),
                arrived_ms: env.rt,
                trusted: env.meta.and_then(|m| m.trusted).unwrap_or(false),
                hook: env.hook,
                body: text(env.evt),
                ctx: env.ctx.filter(|c| c.get() != "null").map(|c| Box::new(text(c))),
            }));
        }
    }
    parse_whole(line, default_pid)
}

/// Parses one line whole, into values.
fn parse_whole(line: &str, default_pid: u32) -> Result<Record, RecordError> {
    let mut v: Value = super::parse_json(line).ok_or(RecordError::MalformedJson)?;
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
    let ctx = obj.remove("ctx").filter(|c| !c.is_null()).map(|c| Box::new(Body::Value(c)));
    Ok(Record::Event(Inbound { src, pid, arrived_ms, trusted, hook, body: Body::Value(evt), ctx }))
}

/// The record line of one event as it crossed (the inverse of [`parse_record`]), without its newline. `None` when
/// its text is not one JSON value: written as is, it would corrupt the line and the ones around it.
pub fn encode_record(i: &Inbound) -> Option<String> {
    let src = match i.src {
        Source::Diagnostic => "diagnostic",
        Source::Agent => "agent",
        Source::Hook => "hook",
    };
    let evt = json_text(&i.body)?;
    let rt = if i.arrived_ms.is_finite() { i.arrived_ms } else { 0.0 };
    let mut line = format!(r#"{{"src":"{src}","pid":{},"rt":{rt}"#, i.pid);
    if i.src == Source::Diagnostic {
        line.push_str(if i.trusted { r#","meta":{"trusted":true}"# } else { r#","meta":{"trusted":false}"# });
    }
    if let Some(h) = &i.hook {
        line.push_str(",\"hook\":");
        line.push_str(&serde_json::to_string(h).ok()?);
    }
    line.push_str(",\"evt\":");
    line.push_str(&evt);
    if let Some(ctx) = i.ctx.as_deref().and_then(json_text) {
        line.push_str(",\"ctx\":");
        line.push_str(&ctx);
    }
    line.push('}');
    Some(line)
}

/// A body's JSON text, checked to be exactly one JSON value (so the record line stays one line of JSON).
fn json_text(b: &Body) -> Option<std::borrow::Cow<'_, str>> {
    match b {
        Body::Json(text) => {
            serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
            // A JSON value's text can hold a raw line break only between tokens: take them out.
            Some(if text.contains(['\n', '\r']) { text.replace(['\n', '\r'], " ").into() } else { text.into() })
        }
        Body::Value(v) => serde_json::to_string(v).ok().map(Into::into),
        // A type that crossed as its number is not among the fields (`compact.rs`): its name is written back last,
        // where a batch's reader used to put it.
        Body::Fields(f, kind, None) => match kind.filter(|_| f.get("type").is_none()) {
            None => serde_json::to_string(f).ok().map(Into::into),
            Some(kind) => serde_json::to_string(&WithType(f, kind.name())).ok().map(Into::into),
        },
        // The trace context read straight into ids crossed in canonical form: its text is theirs again.
        Body::Fields(f, kind, Some(tc)) => {
            let mut o: serde_json::Map<String, serde_json::Value> =
                f.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            if let Some(kind) = kind.filter(|_| f.get("type").is_none()) {
                o.insert("type".into(), kind.name().into());
            }
            o.insert("trace".into(), tc.to_json());
            serde_json::to_string(&o).ok().map(Into::into)
        }
        // An infra event the plugin only counted (never serialised): its type and seq are all that crossed, and
        // all a replay needs (it is counted again, and its seq leaves no gap to wait for).
        // Expanded by the worker's drain before anything records it; an unreadable event has no text.
        Body::Batch { .. } | Body::Invalid(_) => None,
        Body::Skipped { kind, seq } => Some(
            match seq {
                Some(n) => format!(r#"{{"type":"{}","seq":{n}}}"#, kind.name()),
                None => format!(r#"{{"type":"{}"}}"#, kind.name()),
            }
            .into(),
        ),
    }
}

/// A batch event's fields and then its type's name, as one JSON object.
struct WithType<'a>(&'a super::Fields, &'static str);

impl serde::Serialize for WithType<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len() + 1))?;
        for (k, v) in self.0.iter() {
            map.serialize_entry(k, v)?;
        }
        map.serialize_entry("type", self.1)?;
        map.end()
    }
}

/// One line of a record file, as read.
#[derive(Debug, PartialEq)]
pub enum Line {
    Text(String),
    /// Longer than the limit: its bytes were skipped up to the next newline, never buffered.
    TooLong,
    /// Not UTF-8.
    InvalidUtf8,
}

/// Reads a record file line by line with bounded memory, whatever the file holds (`/dev/zero`, binary data, one
/// line of gigabytes): what a line cannot be is reported with its 1-based number and the reader goes on.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    max: usize,
    line_no: u64,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader { inner, buf: Vec::new(), max, line_no: 0 }
    }

    /// The next line and its number; `None` at the end of the input.
    pub async fn next_line(&mut self) -> std::io::Result<Option<(u64, Line)>> {
        self.buf.clear();
        let (mut any, mut too_long) = (false, false);
        loop {
            let avail = self.inner.fill_buf().await?;
            if avail.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (chunk, used, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(pos) => (&avail[..pos], pos + 1, true),
                None => (avail, avail.len(), false),
            };
            if !too_long && self.buf.len() + chunk.len() > self.max {
                too_long = true;
                self.buf = Vec::new();
            }
            if !too_long {
                self.buf.extend_from_slice(chunk);
            }
            self.inner.consume(used);
            if done {
                break;
            }
        }
        self.line_no += 1;
        if too_long {
            return Ok(Some((self.line_no, Line::TooLong)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let line = match std::str::from_utf8(&self.buf) {
            Ok(s) => Line::Text(s.to_string()),
            Err(_) => Line::InvalidUtf8,
        };
        Ok(Some((self.line_no, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<(u64, Line)> {
        // A small read buffer, so lines span several fills.
        let mut r = LineReader::new(tokio::io::BufReader::with_capacity(4, input), max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().await.unwrap() {
            out.push(l);
        }
        out
    }

    #[tokio::test]
    async fn long_and_non_utf8_lines_are_numbered_and_skipped() {
        let mut input = b"{\"a\":1}\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.extend(b"\nok\n\xff\xfe\n\nlast".iter());
        assert_eq!(
            lines(&input, 16).await,
            vec![
                (1, Line::Text("{\"a\":1}".into())),
                (2, Line::TooLong),
                (3, Line::Text("ok".into())),
                (4, Line::InvalidUtf8),
                (5, Line::Text(String::new())),
                (6, Line::Text("last".into())),
            ]
        );
        assert_eq!(lines(b"", 16).await, vec![]);
        assert_eq!(lines(&[0u8; 1000], 16).await, vec![(1, Line::TooLong)], "no newline at all: one long line");
    }

    /// A batch event with `body` recorded, and read back: its record line and the event decoded from that.
    fn recorded_and_read_back(body: Body) -> (String, crate::ingest::Event) {
        let line = encode_record(&Inbound { body, ..crate::testing::diagnostic("", 5.0) }).unwrap();
        let Record::Event(again) = parse_record(&line, 1).unwrap() else { panic!("expected an event: {line}") };
        let again = crate::ingest::decode(again).unwrap();
        (line, again)
    }

    /// `text` decoded, and its fields without `leave_out` (what a batch event carries beside them).
    fn decoded_and_fields_without(
        text: &str,
        leave_out: &[&str],
    ) -> (crate::ingest::Event, crate::ingest::fields::Fields) {
        let read = crate::ingest::decode(crate::testing::diagnostic(text, 5.0)).unwrap();
        let mut fields = read.fields.clone();
        for key in leave_out {
            fields.remove(key);
        }
        (read, fields)
    }

    #[test]
    fn a_batch_events_trace_context_read_into_ids_is_recorded_as_its_text() {
        let text = r#"{"type":"run.started","runId":"r","trace":{"traceId":"9ec7be0fb910e91ed558a422cd89a402","parentSpanId":"e4a1b1684ae49708"}}"#;
        let (read, fields) = decoded_and_fields_without(text, &["trace"]);
        let (line, again) = recorded_and_read_back(Body::Fields(fields, Some(read.kind), read.trace));
        assert!(read.trace.is_some_and(|t| t.span_id.is_none() && t.parent_span_id.is_some()));
        assert_eq!((again.trace, again.str("runId")), (read.trace, Some("r")), "{line}");
    }

    #[test]
    fn a_batch_event_whose_type_crossed_as_its_number_is_recorded_with_its_type() {
        let text = r#"{"type":"run.started","runId":"r","trace":{"traceId":"9ec7be0fb910e91ed558a422cd89a402","spanId":"e4a1b1684ae49708"}}"#;
        let (read, fields) = decoded_and_fields_without(text, &["type", "trace"]);
        for trace in [None, read.trace] {
            let (line, again) = recorded_and_read_back(Body::Fields(fields.clone(), Some(read.kind), trace));
            assert_eq!(line.matches(r#""type":"run.started""#).count(), 1, "{line}");
            assert_eq!((again.kind, again.trace, again.str("runId")), (read.kind, trace, Some("r")), "{line}");
        }
        // A type that is among the fields is written once.
        let body = Body::Fields(read.fields.clone(), Some(read.kind), None);
        let line = encode_record(&Inbound { body, ..crate::testing::diagnostic("", 5.0) }).unwrap();
        assert_eq!(line.matches(r#""type""#).count(), 1, "{line}");
    }

    #[test]
    fn an_encoded_event_parses_back_to_what_crossed() {
        let hook = Inbound {
            src: Source::Hook,
            pid: 9,
            arrived_ms: 1234.5,
            trusted: false,
            hook: Some("llm_input".into()),
            body: Body::Json("{\"prompt\":\"a\\nb\",\n \"runId\":\"r\"}".into()),
            ctx: Some(Box::new(Body::Json(r#"{"sessionKey":"agent:main:main"}"#.into()))),
        };
        let line = encode_record(&hook).unwrap();
        assert!(!line.contains('\n'), "one line: {line}");
        match parse_record(&line, 1).unwrap() {
            Record::Event(i) => {
                assert_eq!(
                    (i.src, i.pid, i.arrived_ms, i.hook.as_deref()),
                    (Source::Hook, 9, 1234.5, Some("llm_input"))
                );
                let e = crate::ingest::decode(i).unwrap();
                assert_eq!(e.str("prompt"), Some("a\nb"), "escaped line breaks inside strings are kept");
                assert_eq!(e.id("sessionKey"), Some("agent:main:main"));
            }
            _ => panic!("expected an event"),
        }
        let diag = Inbound {
            src: Source::Diagnostic,
            pid: 3,
            arrived_ms: 5.0,
            trusted: true,
            hook: None,
            body: Body::Json(r#"{"type":"run.started"}"#.into()),
            ctx: None,
        };
        let Record::Event(i) = parse_record(&encode_record(&diag).unwrap(), 1).unwrap() else { panic!() };
        assert!(i.trusted && i.src == Source::Diagnostic);
        let torn = Inbound { body: Body::Json(r#"{"type":"x"}, "src":"marker"#.into()), ..diag };
        assert_eq!(encode_record(&torn), None, "text that is not one JSON value is not written");
    }

    #[test]
    fn every_corpus_line_decodes_the_same_from_its_envelope_as_parsed_whole() {
        let corpus = include_str!("../../../../fixtures/openclaw-2026.9.6-gateway.jsonl");
        // Everything but the fields, and the fields: a diagnostic event's text keeps only what assembly reads
        // (`project.rs`), so those must be what the whole parse has.
        let decoded = |r: Result<Record, RecordError>| match r.unwrap() {
            Record::Event(i) => {
                let (src, pid, at, trusted, hook) = (i.src, i.pid, i.arrived_ms, i.trusted, i.hook.clone());
                let e = crate::ingest::decode(i).unwrap();
                // An infra event is only counted (its time is its arrival, as on the live path).
                let ts = (e.kind.class() != crate::ingest::Class::Infra).then_some(e.ts_ms);
                let rest = format!("{src:?} {pid} {at} {trusted} {hook:?} {:?}", (e.kind, e.seq, ts, e.trace, &e.ctx));
                (rest, Some(e.fields))
            }
            Record::Marker(note) => (note, None),
        };
        let mut events = 0;
        for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
            let ((rest, fields), (whole_rest, whole)) = (decoded(parse_record(line, 1)), decoded(parse_whole(line, 1)));
            assert_eq!(rest, whole_rest, "{line}");
            let (Some(fields), Some(whole)) = (fields, whole) else { continue };
            // An object field keeps only its listed sub-fields.
            fn within(part: &Value, whole: &Value) -> bool {
                match (part, whole) {
                    (Value::Object(p), Value::Object(w)) => {
                        p.iter().all(|(k, v)| w.get(k).is_some_and(|x| within(v, x)))
                    }
                    _ => part == whole,
                }
            }
            for (k, v) in fields.iter() {
                assert!(whole.get(k).is_some_and(|w| within(v, w)), "{k} of {line}");
            }
            events += 1;
        }
        assert!(events > 1000, "{events} lines");
    }

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
        let cut = parse_record(r#"{"src":"agent","evt":{"stream":"assistant","data":{"text":"\ud83d"}}}"#, 1);
        assert!(matches!(cut, Ok(Record::Event(_))), "a lone surrogate is repaired, the record kept");
    }
}
