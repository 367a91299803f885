//! Straggler spans and MLflow's upsert. MLflow stores a span by (trace id, span id) and a re-sent span replaces the
//! stored one. A straggler span that updates a span already sent (late events for it) carries only those late
//! events: sent as is, it would erase the span's name, attributes and status — and when it is the root, flip the
//! trace's state (an ERROR turn would become OK). So the sink remembers which spans it delivered (bounded), and a
//! straggler span with a delivered id goes out as a child of that span instead, with an id derived from it: nothing
//! is lost, nothing is overwritten, and a re-send of the same update lands on the same id.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;

use crate::assemble::span::{hex, AttrValue, SpanId, Trace, TraceId};
use crate::export::otlp_proto::key_value;

/// Spans remembered per sink (about 2.5 MB): thousands of turns, far longer than late events keep coming.
pub const REMEMBERED_SPANS: usize = 1 << 17;

pub const LATE_UPDATE_OF: &str = "openclaw.late_update_of";

fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter() {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0x1f;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The spans this sink has delivered, oldest forgotten first.
pub struct SentSpans {
    set: HashSet<u64>,
    order: VecDeque<u64>,
    cap: usize,
}

impl SentSpans {
    pub fn new(cap: usize) -> SentSpans {
        SentSpans { set: HashSet::new(), order: VecDeque::new(), cap: cap.max(1) }
    }

    fn key(trace: &TraceId, span: &SpanId) -> u64 {
        fnv1a64(&[trace, span])
    }

    pub fn contains(&self, trace: &TraceId, span: &SpanId) -> bool {
        self.set.contains(&Self::key(trace, span))
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// After a successful export: every span of the batch is now stored in MLflow.
    pub fn record(&mut self, batch: &[Arc<Trace>]) {
        for t in batch {
            for s in &t.spans {
                let k = Self::key(&t.trace_id, &s.span_id);
                if self.set.insert(k) {
                    self.order.push_back(k);
                }
            }
        }
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

/// Rewrites an encoded late update of a delivered span as a child of that span.
pub fn as_late_update(o: &mut OtlpSpan) {
    let original = o.span_id.clone();
    let h = fnv1a64(&[&o.trace_id, &original, b"late", &o.start_time_unix_nano.to_be_bytes(), &o.end_time_unix_nano.to_be_bytes(), &(o.events.len() as u64).to_be_bytes()]);
    let mut id = h.to_be_bytes();
    if id == [0; 8] {
        id[7] = 1;
    }
    o.span_id = id.to_vec();
    o.parent_span_id = original.clone();
    o.name = if o.name.is_empty() { "late update".to_string() } else { format!("{} (late update)", o.name) };
    o.attributes.retain(|kv| !kv.key.starts_with(super::encode::TRACE_TAG_PREFIX));
    for kv in o.attributes.iter_mut().filter(|kv| kv.key == super::encode::SPAN_TYPE) {
        // A child of whatever it updates; never a second agent root.
        *kv = key_value(super::encode::SPAN_TYPE, &AttrValue::Str("UNKNOWN".into()));
    }
    o.attributes.push(key_value(LATE_UPDATE_OF, &AttrValue::Str(hex(&original))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::span::{Attrs, Span, SpanKind, SpanRole, Status};
    use crate::export::mlflow::encode::{map_span, roots_last};
    use crate::export::otlp_proto::encode_request;

    fn trace(straggler: bool, spans: &[(u8, Option<u8>, &str)]) -> Arc<Trace> {
        Arc::new(Trace {
            trace_id: [5; 16],
            spans: spans
                .iter()
                .map(|(id, parent, name)| Span {
                    trace_id: [5; 16],
                    span_id: [*id; 8],
                    parent_span_id: parent.map(|p| [p; 8]),
                    name: name.to_string(),
                    role: SpanRole::Harness,
                    kind: SpanKind::Internal,
                    start_ns: 1_700_000_000_000_000_000,
                    end_ns: 1_700_000_000_500_000_000,
                    status: if straggler { Status::Unset } else { Status::Error("model call failed".into()) },
                    attrs: Attrs::new(),
                    events: vec![],
                    links: vec![],
                })
                .collect(),
            straggler,
            incomplete: false,
        })
    }

    fn encode(sent: &SentSpans, batch: &[Arc<Trace>]) -> Vec<OtlpSpan> {
        let mut req = encode_request(batch.iter().map(|t| t.as_ref()), "x", |t, s, o| {
            map_span(t, s, o);
            if t.straggler && sent.contains(&t.trace_id, &s.span_id) {
                as_late_update(o);
            }
        });
        roots_last(&mut req);
        std::mem::take(&mut req.resource_spans[0].scope_spans[0].spans)
    }

    #[test]
    fn late_updates_of_delivered_spans_become_children() {
        let mut sent = SentSpans::new(100);
        let first = trace(false, &[(1, None, "invoke_agent main"), (2, Some(1), "openclaw.run")]);
        assert_eq!(encode(&sent, &[first.clone()]).len(), 2);
        sent.record(&[first]);
        // Late events for the root (delivered) and one new span under it.
        let late = trace(true, &[(1, None, ""), (3, Some(1), "execute_tool read")]);
        let out = encode(&sent, &[late.clone()]);
        assert!(out.iter().all(|o| !o.parent_span_id.is_empty()), "no second root: the trace keeps its state");
        let update = out.iter().find(|o| o.name == "late update").unwrap();
        assert_eq!(update.parent_span_id, vec![1; 8]);
        assert_ne!(update.span_id, vec![1; 8]);
        assert!(update.attributes.iter().any(|kv| kv.key == LATE_UPDATE_OF));
        assert!(update.attributes.iter().all(|kv| !kv.key.starts_with("mlflow.traceTag.")));
        let new = out.iter().find(|o| o.name == "execute_tool read").unwrap();
        assert_eq!(new.span_id, vec![3; 8], "a span never delivered goes out as it is");
        // The same update re-sent (a retry) lands on the same id.
        assert_eq!(encode(&sent, &[late])[0].span_id, update.span_id);
    }

    #[test]
    fn memory_is_bounded() {
        let mut sent = SentSpans::new(3);
        sent.record(&[trace(false, &[(1, None, "a"), (2, Some(1), "b")])]);
        sent.record(&[trace(false, &[(3, Some(1), "c"), (4, Some(1), "d")])]);
        assert_eq!(sent.len(), 3);
        assert!(!sent.contains(&[5; 16], &[1; 8]) && sent.contains(&[5; 16], &[4; 8]));
    }
}
