//! The one clawtrace instance per process. It is a `static`: every load of the same native library — after a
//! cleared require cache, from ESM and CJS, from worker threads — reaches these counters and this queue.
//! (A copy of the library at another path has its own statics; the JS entry pins one binding per process.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use crate::config::{process_env, Config};
use crate::errors::{ErrorCallback, ErrorReporter};
use crate::ingest::record::{parse_record, Line, LineReader, Record, RecordError, MAX_LINE_BYTES};
use crate::ingest::Inbound;
use crate::pipeline::Pipeline;
use crate::secrets;
use crate::stats::Stats;

pub struct Registry {
    pub stats: Arc<Stats>,
    pub errors: ErrorReporter,
    pipeline: OnceLock<Result<Pipeline, String>>,
    sinks: crate::pipeline::SinkRegistry,
    accepting: AtomicBool,
}

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    stats: Arc::new(Stats::default()),
    errors: ErrorReporter::default(),
    pipeline: OnceLock::new(),
    sinks: Default::default(),
    accepting: AtomicBool::new(true),
});

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReplaySummary {
    /// Non-blank lines read as text (records or not); too-long and non-UTF-8 lines are counted on their own.
    pub lines: u64,
    pub events: u64,
    pub markers: u64,
    pub malformed_lines: u64,
    pub unknown_source_lines: u64,
    pub too_long_lines: u64,
    pub invalid_utf8_lines: u64,
    /// The first `MAX_BAD_LINES_LISTED` skipped lines, by number, so a user can find them.
    pub bad_lines: Vec<(u64, BadLineReason)>,
    pub flushed: bool,
}

pub const MAX_BAD_LINES_LISTED: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadLineReason {
    TooLong,
    InvalidUtf8,
    MalformedJson,
    UnknownSource,
}

impl BadLineReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BadLineReason::TooLong => "too long",
            BadLineReason::InvalidUtf8 => "invalid UTF-8",
            BadLineReason::MalformedJson => "malformed JSON",
            BadLineReason::UnknownSource => "unknown source",
        }
    }
}

impl ReplaySummary {
    /// Counts a skipped line here and in `stats()` (a skipped line is a received event that became none).
    fn bad_line(&mut self, line_no: u64, reason: BadLineReason, counter: &std::sync::atomic::AtomicU64, stats: &Stats) {
        match reason {
            BadLineReason::TooLong => self.too_long_lines += 1,
            BadLineReason::InvalidUtf8 => self.invalid_utf8_lines += 1,
            BadLineReason::MalformedJson => self.malformed_lines += 1,
            BadLineReason::UnknownSource => self.unknown_source_lines += 1,
        }
        if self.bad_lines.len() < MAX_BAD_LINES_LISTED {
            self.bad_lines.push((line_no, reason));
        }
        Stats::inc(&stats.events_received);
        Stats::inc(counter);
    }
}

/// Regular files and pipes end; devices such as `/dev/zero` do not.
fn replayable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        meta.is_file() || meta.file_type().is_fifo()
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

impl Registry {
    /// The pipeline, started on first use with the defaults (and the environment's sinks): a host that records
    /// before, or without, `configure()` loses nothing. `configure()` then applies its settings to the running
    /// pipeline, the queue's bounds first (`Pipeline::configure`).
    fn pipeline(&self) -> Result<&Pipeline, String> {
        self.pipeline_from(None)
    }

    /// The pipeline; when `first` starts it, its queue is sized by `first` from the start (the sinks and the
    /// rest still come with the `Control::Configure` that follows), so not one event is queued past its bounds.
    fn pipeline_from(&self, first: Option<&Config>) -> Result<&Pipeline, String> {
        self.pipeline
            .get_or_init(|| {
                // Before any configure() the environment alone names the sinks, and their credentials.
                self.errors.add_secrets(secrets::from_env(&process_env));
                let mut cfg = Config::default();
                if let Some(first) = first {
                    cfg.queue_capacity = first.queue_capacity;
                    cfg.queue_max_bytes = first.queue_max_bytes;
                }
                Pipeline::start(cfg, self.stats.clone(), self.errors.clone(), self.sinks.clone())
                    .map_err(|e| format!("cannot start clawtrace runtime: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The hot path: O(1), no I/O, never blocks. Returns whether the event was queued.
    pub fn record(&self, inbound: Inbound) -> bool {
        // A batch (`ingest/compact.rs`) is counted as the events it carries.
        let n = inbound.events() as u64;
        Stats::add(&self.stats.events_received, n);
        if !self.accepting.load(Ordering::Relaxed) {
            Stats::add(&self.stats.dropped_after_shutdown, n);
            return false;
        }
        let Ok(p) = self.pipeline() else {
            Stats::add(&self.stats.dropped_after_shutdown, n);
            return false;
        };
        match p.try_send(inbound) {
            Ok(()) => {
                Stats::add(&self.stats.events_queued, n);
                true
            }
            Err(_) => {
                Stats::add(&self.stats.dropped_queue_full, n);
                false
            }
        }
    }

    /// Counts a record call whose input never became an event (unserialisable value, bad hook name).
    pub fn count_invalid(&self, counter: &std::sync::atomic::AtomicU64) {
        Stats::inc(&self.stats.events_received);
        Stats::inc(counter);
    }

    pub fn runtime(&self) -> Result<tokio::runtime::Handle, String> {
        Ok(self.pipeline()?.handle().clone())
    }

    /// A `configure()` object, validated. Its secret values (and the environment's) are learnt first, even when it
    /// is rejected, so that no message about it — or about anything later — can carry them.
    pub fn parse_config(&self, json: serde_json::Value) -> Result<Config, String> {
        self.errors.add_secrets(secrets::from_config_json(&json));
        self.errors.add_secrets(secrets::from_env(&process_env));
        // Config errors name fields, never values (`config.rs`); the values known are removed all the same.
        Config::from_json(json).map_err(|e| self.errors.scrub_values(&e))
    }

    /// Applies `cfg`. Events recorded from this call on are accepted at once, even after a `shutdown()` and while
    /// the returned future is pending: a host that configures and then records in the same tick loses nothing.
    /// (The worker takes the configuration before them; if it is refused, they go to the sinks already there.)
    pub fn configure(&'static self, cfg: Config) -> impl std::future::Future<Output = Result<(), String>> + Send {
        let started = self.pipeline_from(Some(&cfg)).map(|p| p.configure(cfg));
        if started.is_ok() {
            self.accepting.store(true, Ordering::Relaxed);
        }
        async move { started.map_err(|e| self.errors.scrub(&e))?.await.map_err(|e| self.errors.scrub(&e)) }
    }

    pub async fn flush(&self, timeout: Duration) -> bool {
        match self.pipeline.get() {
            Some(Ok(p)) => p.flush(false, timeout).await,
            _ => true,
        }
    }

    /// Flushes, closes open traces as incomplete, and stops accepting events until the next `configure`.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.accepting.store(false, Ordering::Relaxed);
        match self.pipeline.get() {
            Some(Ok(p)) => p.shutdown(timeout).await,
            _ => true,
        }
    }

    pub fn set_error_callback(&self, cb: Option<ErrorCallback>) {
        self.errors.set_callback(cb);
    }

    pub fn queue_len(&self) -> usize {
        match self.pipeline.get() {
            Some(Ok(p)) => p.queue_len(),
            _ => 0,
        }
    }

    /// Per-sink counters of the sinks currently configured.
    pub fn sink_stats(&self) -> Vec<(&'static str, Vec<(&'static str, u64)>)> {
        self.sinks.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(n, s)| (*n, s.snapshot())).collect()
    }

    /// Replays a record file (`docs/ARCHITECTURE.md`, "Record format") through the pipeline, waiting for queue space rather than dropping, then exports
    /// everything — traces still open at the end of the file as incomplete. Lines that are not records (too long,
    /// not UTF-8, not JSON, unknown source) are skipped and counted, the first few by line number.
    pub async fn replay(&self, path: &str, timeout: Duration) -> Result<ReplaySummary, String> {
        let p = self.pipeline()?;
        self.accepting.store(true, Ordering::Relaxed);
        let meta = tokio::fs::metadata(path).await.map_err(|e| format!("cannot open {path}: {e}"))?;
        if !replayable(&meta) {
            // A device (`/dev/zero`, `/dev/urandom`) never ends: it is not a recording.
            return Err(format!("cannot replay {path}: not a regular file or pipe"));
        }
        let file = tokio::fs::File::open(path).await.map_err(|e| format!("cannot open {path}: {e}"))?;
        let mut lines = LineReader::new(tokio::io::BufReader::with_capacity(1 << 20, file), MAX_LINE_BYTES);
        // A recording is its own stream: what is open now is exported first, and the recording's ids (which a
        // second replay of the same file repeats) are not taken for stragglers of earlier traces.
        if !p.new_stream(timeout).await {
            return Err("replay: the pipeline did not settle before the replay".into());
        }
        let mut sum = ReplaySummary::default();
        let pid = std::process::id();
        while let Some((line_no, line)) = lines.next_line().await.map_err(|e| format!("cannot read {path}: {e}"))? {
            let line = match line {
                Line::Text(t) if t.trim().is_empty() => continue,
                Line::Text(t) => t,
                Line::TooLong => {
                    sum.bad_line(line_no, BadLineReason::TooLong, &self.stats.invalid_too_large, &self.stats);
                    continue;
                }
                Line::InvalidUtf8 => {
                    sum.bad_line(line_no, BadLineReason::InvalidUtf8, &self.stats.invalid_malformed_json, &self.stats);
                    continue;
                }
            };
            sum.lines += 1;
            match parse_record(&line, pid) {
                Ok(Record::Event(inbound)) => {
                    sum.events += 1;
                    Stats::inc(&self.stats.events_received);
                    p.send(inbound).await;
                    Stats::inc(&self.stats.events_queued);
                }
                Ok(Record::Marker(_)) => sum.markers += 1,
                Err(RecordError::MalformedJson) => {
                    sum.bad_line(
                        line_no,
                        BadLineReason::MalformedJson,
                        &self.stats.invalid_malformed_json,
                        &self.stats,
                    );
                }
                Err(RecordError::UnknownSource) => {
                    sum.bad_line(
                        line_no,
                        BadLineReason::UnknownSource,
                        &self.stats.skipped_unknown_source,
                        &self.stats,
                    );
                }
            }
        }
        sum.flushed = p.flush(true, timeout).await;
        Ok(sum)
    }
}
