//! The MLflow sink: OTLP/HTTP to `{trackingUri}/v1/traces` with `x-mlflow-experiment-id` (MLflow ≥ 3.4 OSS
//! tracking server). One request carries spans with their MLflow span types, inputs/outputs and token usage, and the
//! trace's session, user, name and tags, so every trace is complete at ingestion.
//!
//! * `config`: `exporters.mlflow` + `MLFLOW_*` → settings.
//! * `experiment`: the experiment id, resolved once, lazily, with the sink's retry semantics.
//! * `encode`: the MLflow profile of each span, values MLflow would reject fixed, roots last.
//!
//! MLflow stores a span by (trace id, span id) and a re-sent span replaces the stored one: the assembler sends each
//! span once, complete (late news about an exported span is counted, not re-sent), so nothing here is overwritten.

pub mod config;
pub mod encode;
pub mod experiment;

use std::sync::Arc;

pub use config::{ExperimentRef, MlflowConfig, MlflowSettings};

use super::registry::SinkContext;
use super::transport::http::{encode_batch, HttpTransport};
use super::{BoxFuture, EncodedBatch, ExportError, Exporter};
use crate::model::Trace;
use experiment::ExperimentResolver;

pub const EXPERIMENT_HEADER: &str = "x-mlflow-experiment-id";

pub struct MlflowExporter {
    settings: MlflowSettings,
    resolver: ExperimentResolver,
    /// Built once the experiment id is known (it is one of the transport's fixed headers).
    transport: Option<HttpTransport>,
    service_name: String,
}

impl MlflowExporter {
    /// Checks everything that can be checked without the server (URL, credentials as header values), so a bad
    /// configuration fails `configure()`; the server is first contacted on the first export.
    pub fn new(settings: &MlflowSettings, service_name: &str) -> Result<MlflowExporter, String> {
        let resolver = ExperimentResolver::new(settings)?;
        // Validates URL and header values now; the real transport waits for the experiment id (an id is checked
        // with the server once before use, as a name is resolved).
        Self::transport_for(settings, config::DEFAULT_EXPERIMENT_ID)?;
        Ok(MlflowExporter {
            settings: settings.clone(),
            resolver,
            transport: None,
            service_name: service_name.to_string(),
        })
    }

    fn transport_for(settings: &MlflowSettings, experiment_id: &str) -> Result<HttpTransport, String> {
        let mut headers = vec![(EXPERIMENT_HEADER.to_string(), experiment_id.to_string())];
        if let Some(a) = &settings.authorization {
            headers.push(("authorization".to_string(), a.0.clone()));
        }
        HttpTransport::new(
            "mlflow",
            &settings.traces_url(),
            &headers,
            settings.protocol,
            settings.compression,
            settings.timeout,
        )
    }

    /// The experiment id in use, once resolved.
    pub fn experiment_id(&self) -> Option<&str> {
        self.resolver.resolved()
    }

    /// Resolves the experiment (once) and builds the transport that carries its id.
    async fn ready(&mut self) -> Result<(), ExportError> {
        if self.transport.is_none() {
            let id = self.resolver.resolve().await?;
            let t = Self::transport_for(&self.settings, &id).map_err(|message| ExportError::Refused { message })?;
            self.transport = Some(t);
        }
        Ok(())
    }
}

/// The sink table's entry point (`export/registry.rs`).
pub fn build(ctx: &SinkContext) -> Result<Box<dyn Exporter>, String> {
    let settings = ctx.config.exporters.mlflow.clone().unwrap_or_default().resolve(ctx.env)?;
    Ok(Box::new(MlflowExporter::new(&settings, &ctx.service_name)?))
}

/// MLflow writes each span to its tracking store as the request is handled: on a 2-core machine a 512-span
/// request took 15–27 s. Start small; the runner grows the batch while MLflow answers fast.
const MLFLOW_FIRST_BATCH_SPANS: usize = 64;

impl Exporter for MlflowExporter {
    fn name(&self) -> &'static str {
        "mlflow"
    }

    fn initial_batch_spans(&self) -> Option<usize> {
        Some(MLFLOW_FIRST_BATCH_SPANS)
    }

    fn request_timeout(&self) -> Option<std::time::Duration> {
        Some(self.settings.timeout)
    }

    fn encode(&self, batch: &[Arc<Trace>]) -> Result<EncodedBatch, ExportError> {
        let req = encode::request(batch, &self.service_name);
        Ok(encode_batch(&req, self.settings.protocol, self.settings.compression, batch))
    }

    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            self.ready().await?;
            match self.transport.as_ref().expect("ready").post(batch).await {
                Ok(()) => Ok(()),
                Err(ExportError::Refused { message }) if message.contains("answered 404") => {
                    // The experiment went away (deleted) or the server has no OTLP endpoint: look again next time,
                    // which names the cause.
                    self.transport = None;
                    self.resolver.reset();
                    Err(ExportError::Refused {
                        message: format!(
                            "{message} (is {} still there? OTLP ingestion needs an MLflow ≥ 3.4 tracking server)",
                            self.resolver.describe()
                        ),
                    })
                }
                Err(e) => Err(e),
            }
        })
    }
}

#[cfg(test)]
mod tests;
