//! The generic OTLP/HTTP sink: any collector or backend that accepts `POST /v1/traces` (protobuf or JSON).
//! `config`: `exporters.otlp` + `OTEL_EXPORTER_OTLP_*`; `encode`: the request; here, the exporter.

pub mod config;
pub mod encode;

use std::sync::Arc;

pub use config::{OtlpConfig, OtlpSettings};

use super::registry::SinkContext;
use super::transport::body_pool::BodyPool;
use super::transport::http::HttpTransport;
use super::{BoxFuture, EncodedBatch, ExportError, Exporter};
use crate::model::Trace;

pub struct OtlpExporter {
    transport: HttpTransport,
    service_name: String,
    pool: Arc<BodyPool>,
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
        Ok(OtlpExporter { transport, service_name: service_name.to_string(), pool: BodyPool::new() })
    }
}

/// The sink table's entry point (`export/registry.rs`).
pub fn build(ctx: &SinkContext) -> Result<Box<dyn Exporter>, String> {
    let settings = ctx.config.exporters.otlp.clone().unwrap_or_default().resolve(ctx.env)?;
    Ok(Box::new(OtlpExporter::new(&settings, &ctx.service_name)?))
}

impl Exporter for OtlpExporter {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn encode(&self, batch: &[Arc<Trace>]) -> Result<EncodedBatch, ExportError> {
        // Written straight into bytes (`transport/otlp_protobuf.rs`, `otlp_json.rs`): no prost tree per batch.
        let mut raw = self.pool.take(encode::body_size(batch));
        encode::write_body(&mut raw, batch, &self.service_name, self.transport.protocol());
        Ok(self.transport.encode_written(raw, batch, &self.pool))
    }

    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(self.transport.post(batch))
    }
}
