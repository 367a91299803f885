//! The file sink, the embedded default: encoded lines (`encode`) appended to one file (`config`). Appending and
//! syncing are blocking system calls, so they run on Tokio's blocking pool, never on the runtime's workers.

pub mod config;
pub mod encode;

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use config::FileConfig;

use super::registry::SinkContext;
use super::transport::body_pool::BodyPool;
use super::transport::otlp_json::JsonRequests;
use super::{BoxFuture, EncodedBatch, ExportError, Exporter};
use crate::model::Trace;

pub struct FileExporter {
    /// Each line's opening (resource and scope), written once.
    requests: JsonRequests,
    pool: Arc<BodyPool>,
    /// Shared with the blocking task of the call in progress. The runner never calls concurrently, but a call
    /// whose deadline passed leaves its blocking task running; the next call waits for it here.
    out: Arc<Mutex<Appender>>,
}

struct Appender {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Appender {
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

    fn append(&mut self, body: &[u8]) -> Result<(), ExportError> {
        let w = self.writer()?;
        w.write_all(body).map_err(|e| io_error("write", e))?;
        w.flush().map_err(|e| io_error("write", e))
    }

    fn sync(&mut self) -> Result<(), ExportError> {
        if let Some(w) = self.out.as_mut() {
            w.flush().map_err(|e| io_error("flush", e))?;
            w.get_ref().sync_data().map_err(|e| io_error("sync", e))?;
        }
        Ok(())
    }

    /// Synced and closed: nothing holds the file after shutdown (Windows cannot rename or delete an open file, and
    /// a rotated log should not be kept alive). A later send opens it again.
    fn close(&mut self) -> Result<(), ExportError> {
        let synced = self.sync();
        self.out = None;
        synced
    }
}

impl FileExporter {
    pub fn new(path: impl Into<PathBuf>, service_name: &str) -> Self {
        FileExporter {
            requests: JsonRequests::new(service_name),
            pool: BodyPool::new(),
            out: Arc::new(Mutex::new(Appender { path: path.into(), out: None })),
        }
    }

    /// Runs `f` on the appender on the blocking pool.
    fn blocking(
        &self,
        f: impl FnOnce(&mut Appender) -> Result<(), ExportError> + Send + 'static,
    ) -> BoxFuture<'static, Result<(), ExportError>> {
        let out = self.out.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&mut out.lock().unwrap_or_else(|e| e.into_inner())))
                .await
                .unwrap_or_else(|e| {
                    Err(ExportError::Retryable { message: format!("file sink: {e}"), retry_after: None })
                })
        })
    }
}

/// The sink table's entry point (`export/registry.rs`).
pub fn build(ctx: &SinkContext) -> Result<Box<dyn Exporter>, String> {
    let path = config::resolve(ctx.config.exporters.file.as_ref(), ctx.config.default_file.as_deref(), ctx.env);
    Ok(Box::new(FileExporter::new(path, &ctx.service_name)))
}

fn io_error(what: &str, e: std::io::Error) -> ExportError {
    // A full disk or a missing permission can heal (log rotation, a fixed mount): worth retrying.
    ExportError::Retryable { message: format!("file sink: {what} failed: {e}"), retry_after: None }
}

impl Exporter for FileExporter {
    fn name(&self) -> &'static str {
        "file"
    }

    fn encode(&self, batch: &[Arc<Trace>]) -> Result<EncodedBatch, ExportError> {
        let mut body = self.pool.take(encode::body_size(batch));
        encode::write_lines(&mut body, batch, &self.requests);
        Ok(EncodedBatch::new(self.pool.body(body), encode::CONTENT_TYPE, None, batch))
    }

    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> BoxFuture<'a, Result<(), ExportError>> {
        let body = batch.body.clone();
        self.blocking(move |a| a.append(&body))
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), ExportError>> {
        self.blocking(Appender::sync)
    }

    fn shutdown(&mut self) -> BoxFuture<'_, Result<(), ExportError>> {
        self.blocking(Appender::close)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// How many of this process's file descriptors are open on `path`.
    fn open_fds(path: &std::path::Path) -> usize {
        let target = path.canonicalize().unwrap();
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|p| *p == target)
            .count()
    }

    #[tokio::test]
    async fn shutdown_closes_the_file_and_a_later_send_reopens_it() {
        let dir = std::env::temp_dir().join(format!("clawtrace-file-close-{}", std::process::id()));
        let path = dir.join("traces.jsonl");
        let mut sink = FileExporter::new(&path, "svc");
        let batch = EncodedBatch::new(b"{}\n".to_vec(), encode::CONTENT_TYPE, None, &[]);
        sink.send(&batch).await.unwrap();
        assert_eq!(open_fds(&path), 1, "open while the sink runs");
        sink.shutdown().await.unwrap();
        assert_eq!(open_fds(&path), 0, "closed after shutdown");
        sink.send(&batch).await.unwrap();
        sink.shutdown().await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n{}\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
