//! Export: one folder per backend, each of the same shape — `config.rs` (settings, environment resolution, and
//! the rule by which the environment alone enables the sink), `encode.rs` (traces → the bytes the backend
//! receives), `mod.rs` (the exporter) — and one sink table (`registry`) that names them all. The machinery every
//! sink shares (the runner that batches, retries and spools, the HTTP transport, the spool) is in `transport/`.

pub mod file;
pub mod langfuse;
pub mod mlflow;
pub mod otlp;
pub mod registry;
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

/// One batch exactly as its backend will receive it: the request body plus what a sender needs to send it again
/// later without the traces (content type and encoding), and the counts the runner accounts with. Encoded once;
/// every retry, and a batch parked on disk, sends these same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedBatch {
    pub body: bytes::Bytes,
    /// `Content-Type` of `body` (`application/x-protobuf`, `application/json`, `application/x-ndjson`).
    pub content_type: String,
    /// `Content-Encoding` of `body` (`gzip`), if any.
    pub content_encoding: Option<String>,
    pub traces: u64,
    pub spans: u64,
}

impl EncodedBatch {
    /// A body for `batch`, with its counts.
    pub fn new(
        body: impl Into<bytes::Bytes>,
        content_type: &str,
        content_encoding: Option<&str>,
        batch: &[Arc<Trace>],
    ) -> EncodedBatch {
        EncodedBatch {
            body: body.into(),
            content_type: content_type.to_string(),
            content_encoding: content_encoding.map(str::to_string),
            traces: batch.len() as u64,
            spans: batch.iter().map(|t| t.spans.len() as u64).sum(),
        }
    }
}

/// One backend. The contract, as OpenTelemetry's `SpanExporter` states it:
///
/// * **Never called concurrently**: the sink runner (`transport/runner.rs`) owns the exporter and calls one method
///   at a time, so an exporter needs no locking of its own.
/// * **Encode once, send many**: the runner encodes a batch once and hands the same bytes to every attempt (and to
///   the spool). `encode` is pure CPU work and must not block; `send` is the only place that talks to the backend.
/// * **Deadlines**: `send`, `flush` and `shutdown` must return (or be ready to be dropped) within their deadline;
///   the runner enforces it by dropping the future, so an exporter must stay usable after a dropped call. No call
///   may block the async runtime: blocking I/O goes to `spawn_blocking` or a thread of its own.
/// * **Who retries**: the runner, never the exporter. The exporter classifies a failure (`ExportError`) and the
///   runner retries `Retryable` ones with backoff until the retry deadline, halves a `Rejected` batch to isolate the
///   bad trace, and counts `Refused`/`Partial`.
/// * **Shutdown**: called once, last; the exporter releases what it holds (flushing files). Nothing is sent after it.
pub trait Exporter: Send + 'static {
    /// Stable name used in stats and error reports (`file`, `otlp`, `mlflow`, `langfuse`).
    fn name(&self) -> &'static str;
    /// The batch as the backend will receive it. An error here is the data's fault (`Rejected`).
    fn encode(&self, batch: &[Arc<Trace>]) -> Result<EncodedBatch, ExportError>;
    /// Delivers one encoded batch (one attempt).
    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> BoxFuture<'a, Result<(), ExportError>>;
    /// Makes everything sent so far durable (fsync for files).
    fn flush(&mut self) -> BoxFuture<'_, Result<(), ExportError>> {
        Box::pin(async { Ok(()) })
    }
    /// Spans in the first request, when this backend is known to be slow per span (the runner then sizes batches
    /// from how fast it answers); `None`: `batch.maxSpans`.
    fn initial_batch_spans(&self) -> Option<usize> {
        None
    }
    /// How long one request may take, when the exporter has a setting of its own for it; the runner then waits
    /// that long instead of `batch.exportTimeoutMs`.
    fn request_timeout(&self) -> Option<Duration> {
        None
    }
    /// The last call: flush and release.
    fn shutdown(&mut self) -> BoxFuture<'_, Result<(), ExportError>> {
        self.flush()
    }
}
