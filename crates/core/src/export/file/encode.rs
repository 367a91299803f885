//! One OTLP/JSON `ExportTraceServiceRequest` per line, one line per trace: anything that reads OTLP/JSON lines
//! (collectors' file receivers, `clawtrace replay --tree`) reads the file.

use std::sync::Arc;

use crate::export::transport::otlp_proto::{encode_request, to_json};
use crate::export::EncodedBatch;
use crate::model::Trace;

pub const CONTENT_TYPE: &str = "application/x-ndjson";

/// One trace as one line (without the newline).
pub fn encode_line(trace: &Trace, service_name: &str) -> String {
    let req = encode_request(std::iter::once(trace), service_name, |_, _, _| {});
    String::from_utf8(to_json(&req)).expect("serde_json writes UTF-8")
}

/// The lines of a batch, each ending in a newline: the bytes appended to the file.
pub fn encode(batch: &[Arc<Trace>], service_name: &str) -> EncodedBatch {
    let mut body = String::new();
    for t in batch {
        body.push_str(&encode_line(t, service_name));
        body.push('\n');
    }
    EncodedBatch::new(body.into_bytes(), CONTENT_TYPE, None, batch)
}
