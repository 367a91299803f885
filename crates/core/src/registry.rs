//! The one clawtrace instance per process. It is a `static`: every load of the same native library — after a
//! cleared require cache, from ESM and CJS, from worker threads — reaches these counters and this queue.
//! (A copy of the library at another path has its own statics; the JS entry pins one binding per process.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use crate::config::Config;
use crate::errors::{ErrorCallback, ErrorReporter};
use crate::ingest::record::{parse_record, Record, RecordError};
use crate::ingest::Inbound;
use crate::pipeline::Pipeline;
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
    pub lines: u64,
    pub events: u64,
    pub markers: u64,
    pub malformed_lines: u64,
    pub unknown_source_lines: u64,
    pub flushed: bool,
}

impl Registry {
    /// The pipeline, started on first use with the defaults (and the environment's sinks): a host that records
    /// before, or without, `configure()` loses nothing. `configure()` then applies its settings to the running
    /// pipeline, the queue's bounds first (`Pipeline::configure`).
    fn pipeline(&self) -> Result<&Pipeline, String> {
        self.pipeline
            .get_or_init(|| {
                Pipeline::start(Config::default(), self.stats.clone(), self.errors.clone(), self.sinks.clone())
                    .map_err(|e| format!("cannot start clawtrace runtime: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The hot path: O(1), no I/O, never blocks. Returns whether the event was queued.
    pub fn record(&self, inbound: Inbound) -> bool {
        Stats::inc(&self.stats.events_received);
        if !self.accepting.load(Ordering::Relaxed) {
            Stats::inc(&self.stats.dropped_after_shutdown);
            return false;
        }
        let Ok(p) = self.pipeline() else {
            Stats::inc(&self.stats.dropped_after_shutdown);
            return false;
        };
        match p.try_send(inbound) {
            Ok(()) => {
                Stats::inc(&self.stats.events_queued);
                true
            }
            Err(_) => {
                Stats::inc(&self.stats.dropped_queue_full);
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

    pub async fn configure(&self, cfg: Config) -> Result<(), String> {
        let p = self.pipeline()?;
        p.configure(cfg).await?;
        self.accepting.store(true, Ordering::Relaxed);
        Ok(())
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

    /// Replays a record file (DESIGN §6) through the pipeline, waiting for queue space rather than dropping,
    /// then exports everything — traces still open at the end of the file as incomplete.
    pub async fn replay(&self, path: &str, timeout: Duration) -> Result<ReplaySummary, String> {
        use tokio::io::AsyncBufReadExt;
        let p = self.pipeline()?;
        self.accepting.store(true, Ordering::Relaxed);
        let file = tokio::fs::File::open(path).await.map_err(|e| format!("cannot open {path}: {e}"))?;
        let mut lines = tokio::io::BufReader::with_capacity(1 << 20, file).lines();
        // A recording is its own stream: what is open now is exported first, and the recording's ids (which a
        // second replay of the same file repeats) are not taken for stragglers of earlier traces.
        if !p.new_stream(timeout).await {
            return Err("replay: the pipeline did not settle before the replay".into());
        }
        let mut sum = ReplaySummary::default();
        let pid = std::process::id();
        while let Some(line) = lines.next_line().await.map_err(|e| format!("cannot read {path}: {e}"))? {
            if line.trim().is_empty() {
                continue;
            }
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
                    sum.malformed_lines += 1;
                    Stats::inc(&self.stats.events_received);
                    Stats::inc(&self.stats.invalid_malformed_json);
                }
                Err(RecordError::UnknownSource) => {
                    sum.unknown_source_lines += 1;
                    Stats::inc(&self.stats.events_received);
                    Stats::inc(&self.stats.skipped_unknown_source);
                }
            }
        }
        sum.flushed = p.flush(true, timeout).await;
        Ok(sum)
    }
}
