//! One OTLP/JSON `ExportTraceServiceRequest` per line, one line per trace: anything that reads OTLP/JSON lines
//! (collectors' file receivers, `clawtrace replay --tree`) reads the file.

use std::sync::Arc;

use crate::export::transport::otlp_json::write_request;
use crate::export::EncodedBatch;
use crate::model::Trace;

pub const CONTENT_TYPE: &str = "application/x-ndjson";

/// The lines of a batch, each ending in a newline: the bytes appended to the file, written straight into one
/// buffer (`transport/otlp_json.rs`).
pub fn encode(batch: &[Arc<Trace>], service_name: &str) -> EncodedBatch {
    let spans: usize = batch.iter().map(|t| t.spans.len()).sum();
    let mut body = Vec::with_capacity(512 * batch.len() + 1024 * spans);
    for t in batch {
        write_request(&mut body, std::iter::once(t.as_ref()), service_name);
        body.push(b'\n');
    }
    EncodedBatch::new(body, CONTENT_TYPE, None, batch)
}
