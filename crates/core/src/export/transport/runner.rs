//! Runs one exporter: its own bounded queue, batching by spans and bytes, deadlines, retries with backoff and
//! `Retry-After`, and splitting of rejected batches to isolate the bad trace. A slow sink only fills its own queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep, timeout, Instant};

use super::backlog::{Backlog, Step};
use super::spool::Spool;
use crate::config::BatchConfig;
use crate::errors::ErrorReporter;
use crate::export::{EncodedBatch, ExportError, Exporter};
use crate::model::Trace;
use crate::stats::Stats;

#[derive(Default, Debug)]
pub struct SinkStats {
    pub traces_received: AtomicU64,
    /// Spans taken into this sink's queue: each ends exported, rejected, failed, spooled, or still pending.
    pub spans_received: AtomicU64,
    pub spans_exported: AtomicU64,
    pub spans_rejected: AtomicU64,
    pub spans_failed: AtomicU64,
    pub spans_dropped_queue_full: AtomicU64,
    pub batches_sent: AtomicU64,
    pub retries: AtomicU64,
    /// Parked in the spool when the backend stayed unavailable past the retry deadline.
    pub spans_spooled: AtomicU64,
    /// Taken back from the spool and delivered.
    pub spans_unspooled: AtomicU64,
    /// Files in the spool that were not readable batches (removed; their spans are unknown).
    pub spool_corrupt_batches: AtomicU64,
}

impl SinkStats {
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("traces_received", self.traces_received.load(Relaxed)),
            ("spans_received", self.spans_received.load(Relaxed)),
            ("spans_exported", self.spans_exported.load(Relaxed)),
            ("spans_rejected", self.spans_rejected.load(Relaxed)),
            ("spans_failed", self.spans_failed.load(Relaxed)),
            ("spans_dropped_queue_full", self.spans_dropped_queue_full.load(Relaxed)),
            ("batches_sent", self.batches_sent.load(Relaxed)),
            ("retries", self.retries.load(Relaxed)),
            ("spans_spooled", self.spans_spooled.load(Relaxed)),
            ("spans_unspooled", self.spans_unspooled.load(Relaxed)),
            ("spool_corrupt_batches", self.spool_corrupt_batches.load(Relaxed)),
        ]
    }
}

enum SinkMsg {
    Trace(Arc<Trace>),
    /// Answers whether everything is delivered: nothing pending, nothing parked.
    Flush(oneshot::Sender<bool>),
}

#[derive(Clone)]
pub struct SinkHandle {
    pub name: &'static str,
    pub stats: Arc<SinkStats>,
    tx: mpsc::Sender<SinkMsg>,
}

impl SinkHandle {
    /// Never waits: a full sink queue drops the trace and counts its spans.
    pub fn offer(&self, trace: Arc<Trace>, global: &Stats) {
        let spans = trace.spans.len() as u64;
        match self.tx.try_send(SinkMsg::Trace(trace)) {
            Ok(()) => {
                self.stats.traces_received.fetch_add(1, Relaxed);
                self.stats.spans_received.fetch_add(spans, Relaxed);
            }
            Err(_) => {
                self.stats.spans_dropped_queue_full.fetch_add(spans, Relaxed);
                Stats::add(&global.spans_dropped_sink_queue_full, spans);
            }
        }
    }

    /// Waits for queue space (flush and shutdown, where the caller is already waiting for delivery).
    pub async fn offer_waiting(&self, trace: Arc<Trace>) {
        let spans = trace.spans.len() as u64;
        if self.tx.send(SinkMsg::Trace(trace)).await.is_ok() {
            self.stats.traces_received.fetch_add(1, Relaxed);
            self.stats.spans_received.fetch_add(spans, Relaxed);
        }
    }

    /// Resolves once everything offered before it was exported, parked or given up on, and the backlog was
    /// offered to the backend again: `true` when all of it was delivered (a parked batch is not delivered).
    pub async fn flush(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(SinkMsg::Flush(tx)).await.is_ok() {
            return rx.await.unwrap_or(false);
        }
        false
    }
}

pub fn spawn_sink_with_spool(
    mut exporter: Box<dyn Exporter>,
    cfg: BatchConfig,
    global: Arc<Stats>,
    errors: ErrorReporter,
    spool: Option<Spool>,
) -> SinkHandle {
    let (tx, mut rx) = mpsc::channel::<SinkMsg>(cfg.queue_traces);
    let stats = Arc::new(SinkStats::default());
    let name = exporter.name();
    let handle = SinkHandle { name, stats: stats.clone(), tx };
    tokio::spawn(async move {
        let mut pending: Vec<Arc<Trace>> = Vec::new();
        let mut pending_spans = 0usize;
        let mut deadline: Option<Instant> = None;
        let mut backlog = Backlog::new(spool);
        let size = BatchSize::new(cfg.max_spans.min(exporter.initial_batch_spans().unwrap_or(usize::MAX)), &cfg);
        let ctx = RunCtx { cfg: &cfg, stats: &stats, global: &global, errors: &errors, name, size: &size };
        loop {
            let msg = tokio::select! {
                m = rx.recv() => m,
                _ = sleep_until_opt(deadline) => {
                    ctx.send_all(exporter.as_mut(), &mut backlog, std::mem::take(&mut pending)).await;
                    pending_spans = 0;
                    deadline = None;
                    continue;
                }
                // One parked batch per turn: the backlog drains at the backend's pace, live batches interleaved.
                _ = sleep_until_opt(backlog.due()) => {
                    ctx.drain_step(exporter.as_mut(), &mut backlog).await;
                    continue;
                }
            };
            match msg {
                Some(SinkMsg::Trace(t)) => {
                    pending_spans += t.spans.len();
                    pending.push(t);
                    deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(cfg.max_delay_ms));
                    if pending_spans >= size.get() {
                        ctx.send_all(exporter.as_mut(), &mut backlog, std::mem::take(&mut pending)).await;
                        pending_spans = 0;
                        deadline = None;
                    }
                }
                Some(SinkMsg::Flush(done)) => {
                    ctx.send_all(exporter.as_mut(), &mut backlog, std::mem::take(&mut pending)).await;
                    pending_spans = 0;
                    deadline = None;
                    let mut delivered = ctx.drain_all(exporter.as_mut(), &mut backlog).await;
                    if let Err(e) = exporter.flush().await {
                        errors.report(name, "flush", e.message());
                        delivered = false;
                    }
                    let _ = done.send(delivered);
                }
                None => {
                    ctx.send_all(exporter.as_mut(), &mut backlog, std::mem::take(&mut pending)).await;
                    let _ = exporter.shutdown().await;
                    break;
                }
            }
        }
    });
    handle
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// How many spans go into one request: starts at the sink's first guess, shrinks when the backend takes long to
/// answer, grows back while it answers fast. MLflow's tracking server on a small machine takes seconds per
/// hundred spans, so a fixed 512-span batch outlived the export timeout there, and a batch that timed out may
/// still have arrived: sizing requests to the backend's pace keeps every request well inside its deadline.
struct BatchSize {
    spans: std::sync::atomic::AtomicUsize,
    max: usize,
    timeout: Duration,
}

impl BatchSize {
    fn new(initial: usize, cfg: &BatchConfig) -> BatchSize {
        BatchSize {
            spans: initial.max(1).into(),
            max: cfg.max_spans.max(1),
            timeout: Duration::from_millis(cfg.export_timeout_ms),
        }
    }

    fn get(&self) -> usize {
        self.spans.load(Relaxed)
    }

    /// One answer took `took` for `spans` spans (`timed_out`: no answer within the timeout).
    fn observe(&self, spans: u64, took: Duration, timed_out: bool) {
        let now = self.get();
        let next = if timed_out {
            now / 2
        } else if took > self.timeout / 4 {
            now * 3 / 4
        } else if took < self.timeout / 16 && spans as usize >= now {
            now + now / 4 + 1
        } else {
            now
        };
        self.spans.store(next.clamp(1, self.max), Relaxed);
    }
}

struct RunCtx<'a> {
    cfg: &'a BatchConfig,
    stats: &'a SinkStats,
    global: &'a Stats,
    errors: &'a ErrorReporter,
    name: &'static str,
    size: &'a BatchSize,
}

impl RunCtx<'_> {
    /// Cuts the pending traces into batches bounded by spans and (estimated) bytes and sends each.
    async fn send_all(&self, exporter: &mut dyn Exporter, backlog: &mut Backlog, traces: Vec<Arc<Trace>>) {
        let mut batch: Vec<Arc<Trace>> = Vec::new();
        let (mut spans, mut bytes) = (0usize, 0usize);
        for t in traces {
            let (s, b) = (t.spans.len(), estimate_bytes(&t));
            if !batch.is_empty() && (spans + s > self.size.get() || bytes + b > self.cfg.max_bytes) {
                self.send_isolating(exporter, backlog, std::mem::take(&mut batch)).await;
                spans = 0;
                bytes = 0;
            }
            spans += s;
            bytes += b;
            batch.push(t);
        }
        if !batch.is_empty() {
            self.send_isolating(exporter, backlog, batch).await;
        }
    }

    /// Sends a batch; a rejected batch is halved until the rejected trace stands alone.
    async fn send_isolating(&self, exporter: &mut dyn Exporter, backlog: &mut Backlog, batch: Vec<Arc<Trace>>) {
        let mut work = VecDeque::from([batch]);
        while let Some(b) = work.pop_front() {
            let n: u64 = b.iter().map(|t| t.spans.len() as u64).sum();
            // Encoded once: every attempt sends the same bytes.
            let encoded = match exporter.encode(&b) {
                Ok(e) => e,
                Err(e) => {
                    self.count_failure(e, b, None, n, backlog, &mut work);
                    continue;
                }
            };
            // With a backlog already spooled the backend is known to be down: one attempt, then join the backlog
            // (in order), instead of holding live traffic for the whole retry deadline.
            let deadline =
                if backlog.waiting() { Duration::ZERO } else { Duration::from_millis(self.cfg.retry_deadline_ms) };
            match self.send_with_retry(exporter, &encoded, deadline).await {
                Sent::TimedOut => {
                    let mut b = b;
                    let right = b.split_off(b.len() / 2);
                    work.push_front(right);
                    work.push_front(b);
                }
                Sent::Done(Ok(())) => {
                    self.stats.spans_exported.fetch_add(n, Relaxed);
                    Stats::add(&self.global.spans_exported, n);
                    Stats::add(&self.global.traces_exported, b.len() as u64);
                }
                Sent::Done(Err(e)) => self.count_failure(e, b, Some(&encoded), n, backlog, &mut work),
            }
        }
    }

    /// What a failed batch becomes: halves to try again (rejected data), or counted, or parked.
    fn count_failure(
        &self,
        error: ExportError,
        b: Vec<Arc<Trace>>,
        encoded: Option<&EncodedBatch>,
        n: u64,
        backlog: &mut Backlog,
        work: &mut VecDeque<Vec<Arc<Trace>>>,
    ) {
        Stats::inc(&self.global.export_errors);
        match error {
            ExportError::Rejected { .. } if b.len() > 1 => {
                let mut b = b;
                let right = b.split_off(b.len() / 2);
                work.push_front(right);
                work.push_front(b);
            }
            ExportError::Rejected { message } => {
                self.stats.spans_rejected.fetch_add(n, Relaxed);
                Stats::add(&self.global.spans_rejected_by_backend, n);
                self.errors.report(self.name, "rejected", &message);
            }
            ExportError::Refused { message } => {
                self.stats.spans_rejected.fetch_add(n, Relaxed);
                Stats::add(&self.global.spans_rejected_by_backend, n);
                self.errors.report(self.name, "refused", &message);
            }
            ExportError::Partial { message, rejected } => {
                let rejected = rejected.min(n);
                self.stats.spans_exported.fetch_add(n - rejected, Relaxed);
                self.stats.spans_rejected.fetch_add(rejected, Relaxed);
                Stats::add(&self.global.spans_exported, n - rejected);
                Stats::add(&self.global.spans_rejected_by_backend, rejected);
                Stats::add(&self.global.traces_exported, b.len() as u64);
                self.errors.report(self.name, "partial", &message);
            }
            ExportError::Retryable { message, .. } => {
                self.errors.report(self.name, "unavailable", &message);
                self.park(backlog, encoded, n);
            }
        }
    }

    /// A batch the backend would not take in time goes to the spool when there is one; otherwise it is lost,
    /// and counted.
    fn park(&self, backlog: &mut Backlog, encoded: Option<&EncodedBatch>, n: u64) {
        let parked = match encoded {
            Some(e) => backlog.park(e).map_err(|full| {
                if let Some(reason) = full {
                    self.errors.report(self.name, "spool", &reason);
                    Stats::add(&self.global.spool_full_dropped, n);
                }
            }),
            None => Err(()),
        };
        if parked.is_ok() {
            self.stats.spans_spooled.fetch_add(n, Relaxed);
            Stats::add(&self.global.spans_spooled, n);
        } else {
            self.stats.spans_failed.fetch_add(n, Relaxed);
            Stats::add(&self.global.spans_failed_export, n);
        }
    }

    /// Offers one parked batch to the backend again and counts what became of it. `false`: no progress (nothing
    /// parked, or the backend is still down).
    async fn drain_step(&self, exporter: &mut dyn Exporter, backlog: &mut Backlog) -> bool {
        match backlog.step(exporter, Duration::from_millis(self.cfg.export_timeout_ms)).await {
            Step::Empty | Step::Unavailable => false,
            Step::Delivered { spans, traces, rejected } => {
                self.stats.spans_unspooled.fetch_add(spans - rejected, Relaxed);
                Stats::add(&self.global.spans_unspooled, spans - rejected);
                Stats::add(&self.global.traces_exported, traces);
                if rejected > 0 {
                    self.stats.spans_rejected.fetch_add(rejected, Relaxed);
                    Stats::add(&self.global.spans_rejected_by_backend, rejected);
                }
                true
            }
            Step::Refused { spans, message } => {
                self.stats.spans_rejected.fetch_add(spans, Relaxed);
                Stats::add(&self.global.spans_rejected_by_backend, spans);
                self.errors.report(self.name, "rejected", &message);
                true
            }
            Step::Corrupt { file, reason } => {
                self.stats.spool_corrupt_batches.fetch_add(1, Relaxed);
                Stats::inc(&self.global.spool_corrupt_batches);
                self.errors.report(self.name, "spool", &format!("spool: removed unreadable batch {file}: {reason}"));
                true
            }
        }
    }

    /// Drains the backlog until it is empty or the backend fails again; `true` when nothing is left parked.
    async fn drain_all(&self, exporter: &mut dyn Exporter, backlog: &mut Backlog) -> bool {
        while backlog.waiting() {
            if !self.drain_step(exporter, backlog).await {
                break;
            }
        }
        !backlog.waiting()
    }

    /// Sends one encoded batch, retrying what can succeed until `deadline`. A batch of several traces that timed
    /// out comes back as `Sent::TimedOut`, to be sent again in halves.
    async fn send_with_retry(&self, exporter: &mut dyn Exporter, batch: &EncodedBatch, deadline: Duration) -> Sent {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            self.stats.batches_sent.fetch_add(1, Relaxed);
            let attempt = Instant::now();
            let result = timeout(Duration::from_millis(self.cfg.export_timeout_ms), exporter.send(batch)).await;
            self.size.observe(batch.spans, attempt.elapsed(), result.is_err());
            let result = match result {
                Ok(r) => r,
                Err(_) if batch.traces > 1 => {
                    self.stats.retries.fetch_add(1, Relaxed);
                    return Sent::TimedOut;
                }
                Err(_) => Err(ExportError::Retryable {
                    message: format!("{} export timed out", self.name),
                    retry_after: None,
                }),
            };
            match result {
                Err(ExportError::Retryable { message, retry_after }) => {
                    let wait = retry_after.unwrap_or_else(|| jitter(backoff));
                    if started.elapsed() + wait > deadline {
                        return Sent::Done(Err(ExportError::Retryable { message, retry_after }));
                    }
                    self.stats.retries.fetch_add(1, Relaxed);
                    sleep(wait).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                other => return Sent::Done(other),
            }
        }
    }
}

enum Sent {
    Done(Result<(), ExportError>),
    /// No answer within the export timeout for a batch that can be halved.
    TimedOut,
}

/// Full jitter in [d/2, d): spreads retries of many clients without a random-number dependency.
fn jitter(d: Duration) -> Duration {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|t| t.subsec_nanos()).unwrap_or(0)
            as u64;
    let half = d.as_nanos() as u64 / 2;
    Duration::from_nanos(half + nanos % half.max(1))
}

fn estimate_bytes(t: &Trace) -> usize {
    t.spans
        .iter()
        .map(|s| {
            120 + s.name.len()
                + s.attrs
                    .iter()
                    .map(|(k, v)| k.len() + 16 + if let crate::model::AttrValue::Str(x) = v { x.len() } else { 8 })
                    .sum::<usize>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_shrinks_when_the_backend_is_slow_and_grows_back_while_it_is_fast() {
        let cfg = BatchConfig { max_spans: 512, export_timeout_ms: 16_000, ..BatchConfig::default() };
        let size = BatchSize::new(64, &cfg);
        size.observe(64, Duration::from_millis(100), false);
        assert_eq!(size.get(), 81, "a full batch answered fast: grow");
        size.observe(10, Duration::from_millis(100), false);
        assert_eq!(size.get(), 81, "a partial batch says nothing about a bigger one");
        size.observe(81, Duration::from_secs(2), false);
        assert_eq!(size.get(), 81, "between a sixteenth and a quarter of the timeout: keep");
        size.observe(81, Duration::from_secs(5), false);
        assert_eq!(size.get(), 60, "over a quarter of the timeout: shrink");
        size.observe(60, Duration::from_secs(16), true);
        assert_eq!(size.get(), 30, "timed out: halve");
        for _ in 0..10 {
            size.observe(1, Duration::from_secs(16), true);
        }
        assert_eq!(size.get(), 1, "never below one span");
        for _ in 0..100 {
            let n = size.get() as u64;
            size.observe(n, Duration::from_millis(1), false);
        }
        assert_eq!(size.get(), 512, "never above batch.maxSpans");
    }
}
