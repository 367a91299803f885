//! Export: one module per backend, each of the same shape (config → encoder → sink). The contract follows
//! OpenTelemetry's `SpanExporter`: a sink is never called concurrently with itself, every call has a deadline,
//! and retrying is the sink runner's job, driven by what the exporter says about a failure.

pub mod file;
pub mod langfuse;
pub mod mlflow;
pub mod otlp;
pub mod transport;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::model::Trace;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, PartialEq)]
pub enum ExportError {
    /// Worth another try (connection error, 429, 502–504), optionally not before `retry_after`.
    Retryable { message: String, retry_after: Option<Duration> },
    /// The backend refused the data itself (400, 413): retrying cannot succeed, a smaller batch might.
    Rejected { message: String },
    /// The backend refused the request for a reason no batch can fix (401, 403, 404, 500): not retried, not split.
    Refused { message: String },
    /// Accepted, except `rejected` spans the backend named in a partial-success answer (never retried).
    Partial { message: String, rejected: u64 },
}

impl ExportError {
    pub fn message(&self) -> &str {
        match self {
            ExportError::Retryable { message, .. }
            | ExportError::Rejected { message }
            | ExportError::Refused { message }
            | ExportError::Partial { message, .. } => message,
        }
    }
}

pub trait Exporter: Send + 'static {
    /// Stable name used in stats and error reports (`file`, `otlp`, `mlflow`, `langfuse`).
    fn name(&self) -> &'static str;
    /// Sends one batch. Never called concurrently; the runner applies the deadline.
    fn export<'a>(&'a mut self, batch: &'a [Arc<Trace>]) -> BoxFuture<'a, Result<(), ExportError>>;
    /// Makes everything sent so far durable (fsync for files).
    fn flush(&mut self) -> BoxFuture<'_, Result<(), ExportError>> {
        Box::pin(async { Ok(()) })
    }
}
