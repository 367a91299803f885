//! One OTLP/JSON `ExportTraceServiceRequest` per line, one line per trace: anything that reads OTLP/JSON lines
//! (collectors' file receivers, `clawtrace replay --tree`) reads the file. The spans carry what the OTLP sink sends
//! (GenAI and OpenInference keys), so a file forwarded by a collector shows in Phoenix as the live sink does.

use std::sync::Arc;

use crate::export::otlp::encode::openinference;
use crate::export::transport::otlp_json::{write_request_with, JsonRequests};
use crate::export::EncodedBatch;
use crate::model::Trace;

pub const CONTENT_TYPE: &str = "application/x-ndjson";

/// One trace as one line (without the newline).
pub fn encode_line(trace: &Trace, service_name: &str) -> String {
    let mut line = Vec::new();
    write_request_with(&mut line, std::iter::once(trace), service_name, openinference);
    String::from_utf8(line).expect("the writer writes UTF-8")
}

/// The lines of a batch, each ending in a newline: the bytes appended to the file, written straight into one
/// buffer (`transport/otlp_json.rs`).
pub fn encode(batch: &[Arc<Trace>], service_name: &str) -> EncodedBatch {
    let mut body = Vec::with_capacity(body_size(batch));
    write_lines(&mut body, batch, &JsonRequests::new(service_name));
    EncodedBatch::new(body, CONTENT_TYPE, None, batch)
}

/// A guess at a batch's lines' size, to reserve once.
pub fn body_size(batch: &[Arc<Trace>]) -> usize {
    512 * batch.len() + 1024 * batch.iter().map(|t| t.spans.len()).sum::<usize>()
}

/// `encode`'s bytes, appended to `body` (the exporter's reused buffer, `transport/body_pool.rs`).
pub fn write_lines(body: &mut Vec<u8>, batch: &[Arc<Trace>], requests: &JsonRequests) {
    let mut extras = Vec::new();
    for t in batch {
        requests.write(body, std::iter::once(t.as_ref()), openinference, &mut extras);
        body.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttrValue, SpanRole};
    use crate::testing::named;

    #[test]
    fn a_line_carries_the_openinference_keys_the_otlp_sink_sends() {
        let model = ("gen_ai.request.model", AttrValue::Str("m".into()));
        let trace = Trace {
            trace_id: [1; 16],
            spans: vec![
                named(1, 1, None, SpanRole::Turn, "invoke_agent main", &[]),
                named(1, 2, Some(1), SpanRole::ModelCall, "chat m", &[model]),
                named(1, 3, Some(1), SpanRole::Tool, "execute_tool read", &[]),
            ],
            straggler: false,
            incomplete: false,
        };
        let line: serde_json::Value = serde_json::from_str(&encode_line(&trace, "svc")).unwrap();
        let kinds: Vec<&str> = line["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let attrs = s["attributes"].as_array().unwrap();
                let kind = attrs.iter().find(|a| a["key"] == "openinference.span.kind").expect("a span kind");
                kind["value"]["stringValue"].as_str().unwrap()
            })
            .collect();
        assert_eq!(kinds, ["AGENT", "LLM", "TOOL"]);
    }

    /// The exporter writes each batch into a buffer an earlier batch used (`transport/body_pool.rs`): its bytes are
    /// those `encode` writes into a fresh one, with nothing left of the earlier, longer batch.
    #[test]
    fn a_reused_buffer_holds_exactly_the_batchs_lines() {
        use crate::export::Exporter;
        let [t, bare, _] = &crate::testing::encoder_traces()[..] else { unreachable!() };
        let (long, short) = (vec![Arc::new(t.clone()), Arc::new(bare.clone())], vec![Arc::new(bare.clone())]);
        let sink = super::super::FileExporter::new("unused.jsonl", "svc");
        let first = sink.encode(&long).unwrap();
        assert_eq!(first, encode(&long, "svc"));
        let at = first.body.as_ptr();
        drop(first);
        let second = sink.encode(&short).unwrap();
        assert_eq!(second.body.as_ptr(), at, "the first batch's buffer, used again");
        assert_eq!(second, encode(&short, "svc"));
    }
}
