//! Runs one exporter: its own bounded queue, batching by spans and bytes, deadlines, retries with backoff and
//! `Retry-After`, and splitting of rejected batches to isolate the bad trace. A slow sink only fills its own queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep, timeout, Instant};

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
        ]
    }
}

enum SinkMsg {
    Trace(Arc<Trace>),
    Flush(oneshot::Sender<()>),
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

    /// Resolves once everything offered before it was exported (or given up on).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(SinkMsg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// How often a sink with spooled batches probes its backend.
const SPOOL_PROBE: Duration = Duration::from_secs(5);
/// Spooled batches re-sent per probe, so live traffic is never starved by a large backlog.
const SPOOL_BATCHES_PER_PROBE: usize = 16;

pub fn spawn_sink_with_spool(
    mut exporter: Box<dyn Exporter>,
    cfg: BatchConfig,
    global: Arc<Stats>,
    errors: ErrorReporter,
    mut spool: Option<Spool>,
) -> SinkHandle {
    let (tx, mut rx) = mpsc::channel::<SinkMsg>(cfg.queue_traces);
    let stats = Arc::new(SinkStats::default());
    let name = exporter.name();
    let handle = SinkHandle { name, stats: stats.clone(), tx };
    tokio::spawn(async move {
        let mut pending: Vec<Arc<Trace>> = Vec::new();
        let mut pending_spans = 0usize;
        let mut deadline: Option<Instant> = None;
        let mut probe = tokio::time::interval(SPOOL_PROBE);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ctx = RunCtx { cfg: &cfg, stats: &stats, global: &global, errors: &errors, name };
        loop {
            let msg = tokio::select! {
                m = rx.recv() => m,
                _ = sleep_until_opt(deadline) => {
                    ctx.send_all(exporter.as_mut(), &mut spool, std::mem::take(&mut pending)).await;
                    pending_spans = 0;
                    deadline = None;
                    continue;
                }
                _ = probe.tick(), if spool.is_some() => {
                    ctx.drain_spool(exporter.as_mut(), &mut spool).await;
                    continue;
                }
            };
            match msg {
                Some(SinkMsg::Trace(t)) => {
                    pending_spans += t.spans.len();
                    pending.push(t);
                    deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(cfg.max_delay_ms));
                    if pending_spans >= cfg.max_spans {
                        ctx.send_all(exporter.as_mut(), &mut spool, std::mem::take(&mut pending)).await;
                        pending_spans = 0;
                        deadline = None;
                    }
                }
                Some(SinkMsg::Flush(done)) => {
                    ctx.send_all(exporter.as_mut(), &mut spool, std::mem::take(&mut pending)).await;
                    pending_spans = 0;
                    deadline = None;
                    if let Err(e) = exporter.flush().await {
                        errors.report(name, "flush", e.message());
                    }
                    let _ = done.send(());
                }
                None => {
                    ctx.send_all(exporter.as_mut(), &mut spool, std::mem::take(&mut pending)).await;
                    let _ = exporter.flush().await;
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

struct RunCtx<'a> {
    cfg: &'a BatchConfig,
    stats: &'a SinkStats,
    global: &'a Stats,
    errors: &'a ErrorReporter,
    name: &'static str,
}

impl RunCtx<'_> {
    /// Cuts the pending traces into batches bounded by spans and (estimated) bytes and sends each.
    async fn send_all(&self, exporter: &mut dyn Exporter, spool: &mut Option<Spool>, traces: Vec<Arc<Trace>>) {
        let mut batch: Vec<Arc<Trace>> = Vec::new();
        let (mut spans, mut bytes) = (0usize, 0usize);
        for t in traces {
            let (s, b) = (t.spans.len(), estimate_bytes(&t));
            if !batch.is_empty() && (spans + s > self.cfg.max_spans || bytes + b > self.cfg.max_bytes) {
                self.send_isolating(exporter, spool, std::mem::take(&mut batch)).await;
                spans = 0;
                bytes = 0;
            }
            spans += s;
            bytes += b;
            batch.push(t);
        }
        if !batch.is_empty() {
            self.send_isolating(exporter, spool, batch).await;
        }
    }

    /// Sends a batch; a rejected batch is halved until the rejected trace stands alone.
    async fn send_isolating(&self, exporter: &mut dyn Exporter, spool: &mut Option<Spool>, batch: Vec<Arc<Trace>>) {
        let mut work = VecDeque::from([batch]);
        while let Some(b) = work.pop_front() {
            let n: u64 = b.iter().map(|t| t.spans.len() as u64).sum();
            // Encoded once: every attempt sends the same bytes.
            let encoded = match exporter.encode(&b) {
                Ok(e) => e,
                Err(e) => {
                    self.count_failure(e, b, n, spool, &mut work);
                    continue;
                }
            };
            // With a backlog already spooled the backend is known to be down: one attempt, then join the backlog
            // (in order), instead of holding live traffic for the whole retry deadline.
            let deadline = if spool.as_ref().is_some_and(|s| s.bytes() > 0) {
                Duration::ZERO
            } else {
                Duration::from_millis(self.cfg.retry_deadline_ms)
            };
            match self.send_with_retry(exporter, &encoded, deadline).await {
                Ok(()) => {
                    self.stats.spans_exported.fetch_add(n, Relaxed);
                    Stats::add(&self.global.spans_exported, n);
                    Stats::add(&self.global.traces_exported, b.len() as u64);
                }
                Err(e) => self.count_failure(e, b, n, spool, &mut work),
            }
        }
    }

    /// What a failed batch becomes: halves to try again (rejected data), or counted, or parked.
    fn count_failure(
        &self,
        error: ExportError,
        b: Vec<Arc<Trace>>,
        n: u64,
        spool: &mut Option<Spool>,
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
                self.park(spool, &b, n);
            }
        }
    }

    /// A batch the backend would not take in time goes to the spool when there is one; otherwise it is lost,
    /// and counted.
    fn park(&self, spool: &mut Option<Spool>, batch: &[Arc<Trace>], n: u64) {
        let parked = match spool.as_mut() {
            Some(s) => s.push(batch).map_err(|e| self.errors.report(self.name, "spool", &e)).is_ok(),
            None => false,
        };
        if parked {
            self.stats.spans_spooled.fetch_add(n, Relaxed);
            Stats::add(&self.global.spans_spooled, n);
        } else {
            if spool.is_some() {
                Stats::add(&self.global.spool_full_dropped, n);
            }
            self.stats.spans_failed.fetch_add(n, Relaxed);
            Stats::add(&self.global.spans_failed_export, n);
        }
    }

    /// Re-sends the oldest spooled batches, one attempt each, until the backend fails again.
    async fn drain_spool(&self, exporter: &mut dyn Exporter, spool: &mut Option<Spool>) {
        let Some(sp) = spool.as_mut() else { return };
        for _ in 0..SPOOL_BATCHES_PER_PROBE {
            let batch = match sp.take() {
                None => return,
                Some(Err(e)) => {
                    self.errors.report(self.name, "spool", &e);
                    continue;
                }
                Some(Ok(b)) => b,
            };
            let n: u64 = batch.traces.iter().map(|t| t.spans.len() as u64).sum();
            let attempt = match exporter.encode(&batch.traces) {
                Ok(encoded) => {
                    timeout(Duration::from_millis(self.cfg.export_timeout_ms), exporter.send(&encoded)).await
                }
                Err(e) => Ok(Err(e)),
            };
            match attempt {
                Ok(Ok(())) | Ok(Err(ExportError::Partial { .. })) => {
                    self.stats.spans_unspooled.fetch_add(n, Relaxed);
                    Stats::add(&self.global.spans_unspooled, n);
                    sp.done(batch);
                }
                Ok(Err(ExportError::Rejected { message } | ExportError::Refused { message })) => {
                    self.stats.spans_rejected.fetch_add(n, Relaxed);
                    Stats::add(&self.global.spans_rejected_by_backend, n);
                    self.errors.report(self.name, "rejected", &message);
                    sp.done(batch);
                }
                Ok(Err(ExportError::Retryable { .. })) | Err(_) => {
                    sp.release(batch);
                    return;
                }
            }
        }
    }

    async fn send_with_retry(
        &self,
        exporter: &mut dyn Exporter,
        batch: &EncodedBatch,
        deadline: Duration,
    ) -> Result<(), ExportError> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            self.stats.batches_sent.fetch_add(1, Relaxed);
            let result = match timeout(Duration::from_millis(self.cfg.export_timeout_ms), exporter.send(batch)).await {
                Ok(r) => r,
                Err(_) => Err(ExportError::Retryable {
                    message: format!("{} export timed out", self.name),
                    retry_after: None,
                }),
            };
            match result {
                Err(ExportError::Retryable { message, retry_after }) => {
                    let wait = retry_after.unwrap_or_else(|| jitter(backoff));
                    if started.elapsed() + wait > deadline {
                        return Err(ExportError::Retryable { message, retry_after });
                    }
                    self.stats.retries.fetch_add(1, Relaxed);
                    sleep(wait).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }
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
