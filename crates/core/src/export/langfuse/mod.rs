//! The Langfuse sink: OTLP/HTTP to `{base}/api/public/otel/v1/traces` with Basic auth (public key : secret key)
//! and `x-langfuse-ingestion-version: 4`, every span once and complete, with Langfuse's own keys added
//! (`encode`). The deprecated `/api/public/ingestion` batch endpoint is never used.
//! `config`: `exporters.langfuse` + `LANGFUSE_*`; `encode`: the Langfuse profile of each span; here, the exporter.

pub mod config;
pub mod encode;

use std::sync::Arc;

pub use config::{LangfuseConfig, LangfuseSettings};
use encode::Profile;

use super::registry::SinkContext;
use super::transport::http::HttpTransport;
use super::{BoxFuture, EncodedBatch, ExportError, Exporter};
use crate::model::Trace;

pub struct LangfuseExporter {
    transport: HttpTransport,
    service_name: String,
    profile: Profile,
}

impl LangfuseExporter {
    pub fn new(settings: &LangfuseSettings, service_name: &str) -> Result<LangfuseExporter, String> {
        let headers: Vec<(String, String)> = settings.headers().into_iter().map(|(k, v)| (k, v.0)).collect();
        let transport = HttpTransport::new(
            "langfuse",
            &settings.url,
            &headers,
            settings.protocol,
            settings.compression,
            settings.timeout,
        )?;
        let profile = Profile { environment: settings.environment.clone(), release: settings.release.clone() };
        Ok(LangfuseExporter { transport, service_name: service_name.to_string(), profile })
    }
}

/// The sink table's entry point (`export/registry.rs`).
pub fn build(ctx: &SinkContext) -> Result<Box<dyn Exporter>, String> {
    let settings = ctx.config.exporters.langfuse.clone().unwrap_or_default().resolve(ctx.env)?;
    Ok(Box::new(LangfuseExporter::new(&settings, &ctx.service_name)?))
}

impl Exporter for LangfuseExporter {
    fn name(&self) -> &'static str {
        "langfuse"
    }

    fn encode(&self, batch: &[Arc<Trace>]) -> Result<EncodedBatch, ExportError> {
        Ok(self.transport.encode(&encode::request(batch, &self.service_name, &self.profile), batch))
    }

    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(self.transport.post(batch))
    }
}
