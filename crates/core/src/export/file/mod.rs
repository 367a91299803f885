//! The file sink, the embedded default: one OTLP/JSON `ExportTraceServiceRequest` per line, one line per trace,
//! appended. Anything that reads OTLP/JSON (collectors' file receivers, `clawtrace replay --tree`) reads it.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use super::transport::otlp_proto::encode_request;
use super::{BoxFuture, ExportError, Exporter};
use crate::model::Trace;

pub struct FileExporter {
    path: PathBuf,
    service_name: String,
    out: Option<BufWriter<File>>,
}

impl FileExporter {
    pub fn new(path: impl Into<PathBuf>, service_name: &str) -> Self {
        FileExporter { path: path.into(), service_name: service_name.to_string(), out: None }
    }

    fn writer(&mut self) -> Result<&mut BufWriter<File>, ExportError> {
        if self.out.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| io_error("create directory", e))?;
            }
            let f = OpenOptions::new().create(true).append(true).open(&self.path).map_err(|e| io_error("open", e))?;
            self.out = Some(BufWriter::new(f));
        }
        Ok(self.out.as_mut().expect("opened above"))
    }

    /// Encodes one trace as one line.
    pub fn encode_line(trace: &Trace, service_name: &str) -> String {
        let req = encode_request(std::iter::once(trace), service_name, |_, _, _| {});
        serde_json::to_string(&req).expect("OTLP messages always serialise")
    }
}

fn io_error(what: &str, e: std::io::Error) -> ExportError {
    // A full disk or a missing permission can heal (log rotation, a fixed mount): worth retrying.
    ExportError::Retryable { message: format!("file sink: {what} failed: {e}"), retry_after: None }
}

impl Exporter for FileExporter {
    fn name(&self) -> &'static str {
        "file"
    }

    fn export<'a>(&'a mut self, batch: &'a [Arc<Trace>]) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            let mut buf = String::new();
            for t in batch {
                buf.push_str(&Self::encode_line(t, &self.service_name));
                buf.push('\n');
            }
            let w = self.writer()?;
            w.write_all(buf.as_bytes()).map_err(|e| io_error("write", e))?;
            w.flush().map_err(|e| io_error("write", e))?;
            Ok(())
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), ExportError>> {
        Box::pin(async move {
            if let Some(w) = self.out.as_mut() {
                w.flush().map_err(|e| io_error("flush", e))?;
                w.get_ref().sync_data().map_err(|e| io_error("sync", e))?;
            }
            Ok(())
        })
    }
}
