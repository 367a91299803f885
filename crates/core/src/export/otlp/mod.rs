//! The generic OTLP/HTTP sink: any collector or backend that accepts `POST /v1/traces` (protobuf or JSON).
//! Spans go out exactly as assembled and enriched; the GenAI semantic conventions are the shared vocabulary.

pub mod config;

use std::sync::Arc;

pub use config::{OtlpConfig, OtlpSettings};

use super::transport::http::HttpTransport;
use super::transport::otlp_proto::encode_request;
use super::{BoxFuture, ExportError, Exporter};
use crate::model::Trace;

pub struct OtlpExporter {
    transport: HttpTransport,
    service_name: String,
}

impl OtlpExporter {
    pub fn new(settings: &OtlpSettings, service_name: &str) -> Result<OtlpExporter, String> {
        let headers: Vec<(String, String)> = settings.headers.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
        let transport = HttpTransport::new(
            "otlp",
            &settings.url,
            &headers,
            settings.protocol,
            settings.compression,
            settings.timeout,
        )?;
        Ok(OtlpExporter { transport, service_name: service_name.to_string() })
    }
}

impl Exporter for OtlpExporter {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn export<'a>(&'a mut self, batch: &'a [Arc<Trace>]) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            let req = encode_request(batch.iter().map(|t| t.as_ref()), &self.service_name, |_, _, _| {});
            self.transport.export(&req).await
        })
    }
}
