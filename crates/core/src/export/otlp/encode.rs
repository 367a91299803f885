//! The generic OTLP request: spans exactly as assembled and enriched, the GenAI semantic conventions being the
//! shared vocabulary, no backend's own keys.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::export::transport::otlp_proto::encode_request;
use crate::model::Trace;

pub fn request(batch: &[Arc<Trace>], service_name: &str) -> ExportTraceServiceRequest {
    encode_request(batch.iter().map(|t| t.as_ref()), service_name, |_, _, _| {})
}
