//! The Langfuse sink: OTLP/HTTP to `{base}/api/public/otel/v1/traces` with Basic auth (public key : secret key)
//! and `x-langfuse-ingestion-version: 4`, every span once and complete, with Langfuse's own keys added
//! (`mapping`). The deprecated `/api/public/ingestion` batch endpoint is never used.

pub mod config;
pub mod mapping;

use std::sync::Arc;

pub use config::{LangfuseConfig, LangfuseSettings};
use mapping::Profile;

use super::transport::http::HttpTransport;
use super::{BoxFuture, ExportError, Exporter};
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

impl Exporter for LangfuseExporter {
    fn name(&self) -> &'static str {
        "langfuse"
    }

    fn export<'a>(&'a mut self, batch: &'a [Arc<Trace>]) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            let req = mapping::encode(batch, &self.service_name, &self.profile);
            self.transport.export(&req).await
        })
    }
}
