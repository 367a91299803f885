//! Runs one exporter: its own bounded queue, batching by spans and bytes, deadlines, retries with backoff and
//! `Retry-After`, and splitting of rejected batches to isolate the bad trace. A slow sink only fills its own queue.
//!
//! Nobody waits on a sink inline: the worker offers traces without blocking (a full queue drops and counts),
//! hands a flush over on a channel of its own (never refused, never dropped) and gets a future to wait on, or not.
//! A sink can be told to stop at an instant (a shutdown's deadline, or a retired sink's): from then on nothing
//! more is sent, the attempt in flight is abandoned, and what the sink still holds goes to the spool when there is
//! one and is counted as lost (`spans_lost_shutdown`) when not.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
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
    /// Still held when the sink had to stop (shutdown deadline, retirement) and no spool took them.
    pub spans_lost_shutdown: AtomicU64,
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
            ("spans_lost_shutdown", self.spans_lost_shutdown.load(Relaxed)),
        ]
    }
}

/// What the worker asks of a sink besides taking traces.
enum SinkCtl {
    /// Take `traces` too (what the worker closed for this flush), send everything held, sync. `done` says whether
    /// nothing was left undelivered at a stop. With `lift_stop`, the stop is lifted once this flush is done (a
    /// shutdown's deadline holds for what the shutdown hands over, not for a later `configure()`).
    Flush { traces: Vec<Arc<Trace>>, lift_stop: bool, done: oneshot::Sender<bool> },
}

/// The worker's side of a running sink. Not `Clone`: dropping it is how a sink learns it is retired.
pub struct SinkHandle {
    pub name: &'static str,
    pub stats: Arc<SinkStats>,
    tx: mpsc::Sender<Arc<Trace>>,
    ctl: mpsc::UnboundedSender<SinkCtl>,
    stop_at: Arc<watch::Sender<Option<Instant>>>,
}

impl SinkHandle {
    /// Never waits: a full sink queue drops the trace and counts its spans.
    pub fn offer(&self, trace: Arc<Trace>, global: &Stats) {
        let spans = trace.spans.len() as u64;
        match self.tx.try_send(trace) {
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

    /// Hands `traces` over past the queue bound (a flush is never refused) and returns what resolves once the
    /// sink has sent, spooled or counted everything it held: `true` when nothing was left undelivered at a stop.
    /// Never blocks; the caller decides how long to wait.
    pub fn flush(&self, traces: Vec<Arc<Trace>>, lift_stop: bool) -> impl Future<Output = bool> + Send + 'static {
        let (n_traces, n_spans) = (traces.len() as u64, traces.iter().map(|t| t.spans.len() as u64).sum::<u64>());
        let (done, rx) = oneshot::channel();
        let sent = self.ctl.send(SinkCtl::Flush { traces, lift_stop, done }).is_ok();
        if sent {
            self.stats.traces_received.fetch_add(n_traces, Relaxed);
            self.stats.spans_received.fetch_add(n_spans, Relaxed);
        }
        async move { sent && rx.await.unwrap_or(false) }
    }

    /// From `at` on, nothing more is sent: the attempt in flight is abandoned and what is held is parked.
    pub fn stop_at(&self, at: Instant) {
        self.stop_at.send_replace(Some(at));
    }

    /// Takes the sink out of service: it keeps sending what it holds until `at`, parks the rest, shuts its exporter
    /// down and ends. The future resolves when it has handed everything over.
    pub fn retire(self, at: Instant) -> impl Future<Output = bool> + Send + 'static {
        self.stop_at(at);
        self.flush(Vec::new(), false)
    }
}

pub fn spawn_sink_with_spool(
    mut exporter: Box<dyn Exporter>,
    cfg: BatchConfig,
    global: Arc<Stats>,
    errors: ErrorReporter,
    spool: Option<Spool>,
) -> SinkHandle {
    let (tx, mut rx) = mpsc::channel::<Arc<Trace>>(cfg.queue_traces);
    let (ctl, mut ctl_rx) = mpsc::unbounded_channel::<SinkCtl>();
    let stop_at = Arc::new(watch::channel(None).0);
    let stats = Arc::new(SinkStats::default());
    let name = exporter.name();
    let handle = SinkHandle { name, stats: stats.clone(), tx, ctl, stop_at: stop_at.clone() };
    tokio::spawn(async move {
        let mut pending: Vec<Arc<Trace>> = Vec::new();
        let mut pending_spans = 0usize;
        let mut deadline: Option<Instant> = None;
        let mut backlog = Backlog::new(spool);
        // The exporter's own request timeout when it has one, plus a margin so that its transport reports first.
        let request_timeout = exporter
            .request_timeout()
            .map_or(Duration::from_millis(cfg.export_timeout_ms), |t| t + Duration::from_secs(1));
        let size = BatchSize::new(
            cfg.max_spans.min(exporter.initial_batch_spans().unwrap_or(usize::MAX)),
            cfg.max_spans,
            request_timeout,
        );
        let ctx = RunCtx {
            cfg: &cfg,
            stats: &stats,
            global: &global,
            errors: &errors,
            name,
            stop: stop_at.subscribe(),
            parked_at_stop: AtomicU64::new(0),
            size: &size,
            request_timeout,
        };
        let mut ctl_open = true;
        // Whether the backlog goes before live traces this turn: it drains at the backend's pace, one parked batch
        // every other turn when live traces keep coming, so neither starves the other.
        let mut backlog_first = false;
        loop {
            backlog_first = !backlog_first;
            tokio::select! {
                // A flush first: it takes everything queued before it anyway.
                biased;
                c = ctl_rx.recv(), if ctl_open => match c {
                    Some(SinkCtl::Flush { traces, lift_stop, done }) => {
                        while let Ok(t) = rx.try_recv() {
                            pending.push(t);
                        }
                        pending.extend(traces);
                        let parked_before = ctx.parked_at_stop.load(Relaxed);
                        ctx.send_all(exporter.as_mut(), &mut backlog, std::mem::take(&mut pending)).await;
                        pending_spans = 0;
                        deadline = None;
                        ctx.sync(exporter.as_mut()).await;
                        // What was parked before goes back to the backend too: a flush is done when it is delivered.
                        let drained = tokio::select! {
                            d = ctx.drain_all(exporter.as_mut(), &mut backlog) => d,
                            _ = ctx.until_stop() => false,
                        };
                        let _ = done.send(drained && ctx.parked_at_stop.load(Relaxed) == parked_before);
                        if lift_stop {
                            stop_at.send_replace(None);
                        }
                    }
                    None => ctl_open = false,
                },
                _ = sleep_until_opt(backlog.due()), if backlog_first && !ctx.stopped() => {
                    ctx.drain_step(exporter.as_mut(), &mut backlog).await;
                }
                m = rx.recv() => match m {
                    Some(t) => {
                        pending_spans += t.spans.len();
                        pending.push(t);
                        deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(cfg.max_delay_ms));
                        if pending_spans >= size.get() {
                            ctx.send_all(exporter.as_mut(), &mut backlog, std::mem::take(&mut pending)).await;
                            pending_spans = 0;
                            deadline = None;
                        }
                    }
                    None => {
                        // Retired: what is held goes out (until the stop), then the exporter shuts down.
                        ctx.send_all(exporter.as_mut(), &mut backlog, std::mem::take(&mut pending)).await;
                        let _ = timeout(Duration::from_millis(cfg.export_timeout_ms), exporter.shutdown()).await;
                        break;
                    }
                },
                _ = sleep_until_opt(deadline) => {
                    ctx.send_all(exporter.as_mut(), &mut backlog, std::mem::take(&mut pending)).await;
                    pending_spans = 0;
                    deadline = None;
                }
                _ = sleep_until_opt(backlog.due()), if !backlog_first && !ctx.stopped() => {
                    ctx.drain_step(exporter.as_mut(), &mut backlog).await;
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
    fn new(initial: usize, max: usize, timeout: Duration) -> BatchSize {
        BatchSize { spans: initial.max(1).into(), max: max.max(1), timeout }
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
    stop: watch::Receiver<Option<Instant>>,
    /// Spans parked because the sink had to stop (spooled or lost): a flush that parks any did not deliver.
    parked_at_stop: AtomicU64,
    size: &'a BatchSize,
    /// How long one request may take before it is given up on.
    request_timeout: Duration,
}

impl RunCtx<'_> {
    fn stopped(&self) -> bool {
        self.stop.borrow().is_some_and(|at| Instant::now() >= at)
    }

    /// Resolves when the stop instant passes (never, while there is none).
    async fn until_stop(&self) {
        let mut stop = self.stop.clone();
        loop {
            let at = *stop.borrow_and_update();
            match at {
                Some(at) => tokio::select! {
                    _ = tokio::time::sleep_until(at) => return,
                    changed = stop.changed() => if changed.is_err() {
                        tokio::time::sleep_until(at).await;
                        return;
                    },
                },
                None => {
                    if stop.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }

    /// Makes what was sent durable (fsync for files), unless the sink has to stop first.
    async fn sync(&self, exporter: &mut dyn Exporter) {
        let flushed = tokio::select! {
            r = exporter.flush() => Some(r),
            _ = self.until_stop() => None,
        };
        if let Some(Err(e)) = flushed {
            self.errors.report(self.name, "flush", e.message());
        }
    }

    /// Cuts the pending traces into batches bounded by spans and (estimated) bytes and sends each.
    /// Once the sink has to stop, the rest is parked in one piece: one write, on disk before the caller's deadline.
    async fn send_all(&self, exporter: &mut dyn Exporter, backlog: &mut Backlog, traces: Vec<Arc<Trace>>) {
        let mut batch: Vec<Arc<Trace>> = Vec::new();
        let (mut spans, mut bytes) = (0usize, 0usize);
        let mut rest = traces.into_iter();
        while let Some(t) = rest.next() {
            if self.stopped() {
                batch.push(t);
                batch.extend(rest);
                return self.park_at_stop(exporter, backlog, batch);
            }
            let (s, b) = (t.spans.len(), estimate_bytes(&t));
            if !batch.is_empty() && (spans + s > self.cfg.max_spans || bytes + b > self.cfg.max_bytes) {
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

    /// Sends a batch; a rejected batch is halved until the rejected trace stands alone, and so is a batch that
    /// timed out (the batch size shrinks meanwhile).
    async fn send_isolating(&self, exporter: &mut dyn Exporter, backlog: &mut Backlog, batch: Vec<Arc<Trace>>) {
        let mut work = VecDeque::from([batch]);
        while let Some(b) = work.pop_front() {
            let n: u64 = b.iter().map(|t| t.spans.len() as u64).sum();
            if self.stopped() {
                let rest = b.into_iter().chain(work.into_iter().flatten()).collect();
                return self.park_at_stop(exporter, backlog, rest);
            }
            // Encoded once: every attempt sends the same bytes, and a parked batch is these bytes.
            let encoded = match exporter.encode(&b) {
                Ok(e) => e,
                Err(e) => {
                    self.count_failure(e, b, None, n, backlog, &mut work);
                    continue;
                }
            };
            if self.stopped() {
                self.park(backlog, Some(&encoded), n, true);
                continue;
            }
            // With a backlog already spooled the backend is known to be down: one attempt, then join the backlog
            // (in order), instead of holding live traffic for the whole retry deadline.
            let deadline =
                if backlog.waiting() { Duration::ZERO } else { Duration::from_millis(self.cfg.retry_deadline_ms) };
            let sent = tokio::select! {
                r = self.send_with_retry(exporter, &encoded, deadline) => Some(r),
                _ = self.until_stop() => None,
            };
            match sent {
                None => {
                    let rest = b.into_iter().chain(work.into_iter().flatten()).collect();
                    return self.park_at_stop(exporter, backlog, rest);
                }
                Some(Sent::TimedOut) => {
                    let mut b = b;
                    let right = b.split_off(b.len() / 2);
                    work.push_front(right);
                    work.push_front(b);
                }
                Some(Sent::Done(Ok(()))) => {
                    self.stats.spans_exported.fetch_add(n, Relaxed);
                    Stats::add(&self.global.spans_exported, n);
                    Stats::add(&self.global.traces_exported, b.len() as u64);
                }
                Some(Sent::Done(Err(e))) => self.count_failure(e, b, Some(&encoded), n, backlog, &mut work),
            }
        }
    }

    /// The sink has to stop: what it still holds is encoded as one request and goes to the spool when there is
    /// one, else it is lost, and counted.
    fn park_at_stop(&self, exporter: &mut dyn Exporter, backlog: &mut Backlog, batch: Vec<Arc<Trace>>) {
        let n: u64 = batch.iter().map(|t| t.spans.len() as u64).sum();
        let encoded = exporter.encode(&batch).ok();
        self.park(backlog, encoded.as_ref(), n, true);
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
                self.park(backlog, encoded, n, false);
            }
        }
    }

    /// A batch the backend would not take in time (or that was still held when the sink had to stop, `at_stop`)
    /// goes to the spool when there is one; otherwise it is lost, and counted under the reason.
    fn park(&self, backlog: &mut Backlog, encoded: Option<&EncodedBatch>, n: u64, at_stop: bool) {
        if at_stop {
            self.parked_at_stop.fetch_add(n, Relaxed);
        }
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
        } else if at_stop {
            self.stats.spans_lost_shutdown.fetch_add(n, Relaxed);
            Stats::add(&self.global.spans_lost_shutdown, n);
        } else {
            self.stats.spans_failed.fetch_add(n, Relaxed);
            Stats::add(&self.global.spans_failed_export, n);
        }
    }

    /// Offers one parked batch to the backend again and counts what became of it. `false`: no progress (nothing
    /// parked, or the backend is still down).
    async fn drain_step(&self, exporter: &mut dyn Exporter, backlog: &mut Backlog) -> bool {
        match backlog.step(exporter, self.request_timeout).await {
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

    /// Drains the backlog until it is empty; a backend that is still down is tried again (at the backlog's pace)
    /// until the retry deadline. `true` when nothing is left parked.
    async fn drain_all(&self, exporter: &mut dyn Exporter, backlog: &mut Backlog) -> bool {
        let give_up = Instant::now() + Duration::from_millis(self.cfg.retry_deadline_ms);
        while backlog.waiting() {
            if !self.drain_step(exporter, backlog).await {
                match backlog.due() {
                    Some(at) if at < give_up => tokio::time::sleep_until(at).await,
                    _ => break,
                }
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
            let result = timeout(self.request_timeout, exporter.send(batch)).await;
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
    use crate::export::BoxFuture;
    use crate::model::SpanRole;

    /// A backend that accepts the request and never answers.
    struct Hanging;

    impl Exporter for Hanging {
        fn name(&self) -> &'static str {
            "otlp"
        }
        fn encode(&self, batch: &[Arc<Trace>]) -> Result<EncodedBatch, ExportError> {
            Ok(EncodedBatch::new(Vec::new(), "application/x-protobuf", None, batch))
        }
        fn send<'a>(&'a mut self, _: &'a EncodedBatch) -> BoxFuture<'a, Result<(), ExportError>> {
            Box::pin(std::future::pending())
        }
    }

    fn trace(n: u8) -> Arc<Trace> {
        let spans =
            vec![crate::testing::span(n, 1, None, SpanRole::Turn), crate::testing::span(n, 2, Some(1), SpanRole::Run)];
        Arc::new(Trace { trace_id: [n; 16], spans, straggler: false, incomplete: false })
    }

    fn batch_cfg() -> BatchConfig {
        BatchConfig { max_spans: 4, max_delay_ms: 10, queue_traces: 2, ..BatchConfig::default() }
    }

    /// Runs a hanging sink: `offered` traces through the queue, `flushed` through a shutdown flush stopping soon.
    async fn shut_down_hanging(spool: Option<Spool>, offered: u8, flushed: u8) -> (Arc<SinkStats>, Arc<Stats>, bool) {
        let global = Arc::new(Stats::default());
        let h = spawn_sink_with_spool(Box::new(Hanging), batch_cfg(), global.clone(), ErrorReporter::default(), spool);
        for n in 0..offered {
            h.offer(trace(n), &global);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        h.stop_at(Instant::now() + Duration::from_millis(200));
        let done = h.flush((100..100 + flushed).map(trace).collect(), true);
        let delivered = timeout(Duration::from_secs(10), done).await.expect("the stop ends the flush");
        (h.stats.clone(), global, delivered)
    }

    #[tokio::test]
    async fn at_a_stop_what_a_hanging_sink_holds_is_counted_lost_and_adds_up() {
        let (s, global, delivered) = shut_down_hanging(None, 6, 5).await;
        assert!(!delivered, "a flush that lost spans did not deliver");
        let received = s.spans_received.load(Relaxed);
        let dropped = s.spans_dropped_queue_full.load(Relaxed);
        assert_eq!(received + dropped, 2 * 11, "every span offered or flushed is received or dropped, counted");
        assert_eq!(received, 2 * 5 + 2 * 6 - dropped, "a flush's traces are never refused by the full queue");
        assert_eq!(s.spans_exported.load(Relaxed), 0);
        assert_eq!(s.spans_lost_shutdown.load(Relaxed), received, "exported + spooled + lost = received");
        assert_eq!(Stats::get(&global.spans_lost_shutdown), received);
    }

    #[tokio::test]
    async fn at_a_stop_a_spool_takes_what_a_hanging_sink_holds() {
        let dir = std::env::temp_dir().join(format!("clawtrace-runner-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Spool::open(&dir, "otlp", 1 << 20).unwrap();
        let (s, _, delivered) = shut_down_hanging(Some(spool), 2, 4).await;
        assert!(!delivered);
        let received = s.spans_received.load(Relaxed);
        assert_eq!(received, 2 * 6, "nothing dropped: the queue had room");
        assert_eq!(s.spans_spooled.load(Relaxed), received, "exported + spooled + lost = received");
        assert_eq!(s.spans_lost_shutdown.load(Relaxed), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_retired_sink_ends_by_its_stop_and_a_later_flush_is_unaffected_by_an_earlier_stop() {
        let global = Arc::new(Stats::default());
        let h = spawn_sink_with_spool(Box::new(Hanging), batch_cfg(), global.clone(), ErrorReporter::default(), None);
        h.offer(trace(1), &global);
        let stats = h.stats.clone();
        let handed_over = h.retire(Instant::now() + Duration::from_millis(100));
        assert!(!timeout(Duration::from_secs(10), handed_over).await.expect("retirement is bounded"));
        assert_eq!(stats.spans_lost_shutdown.load(Relaxed), 2);

        // A stop lifted after its flush: what comes later is sent again (here: tried, so not parked at once).
        let h = spawn_sink_with_spool(Box::new(Hanging), batch_cfg(), global.clone(), ErrorReporter::default(), None);
        h.stop_at(Instant::now());
        assert!(timeout(Duration::from_secs(10), h.flush(Vec::new(), true)).await.unwrap());
        let late = h.flush(vec![trace(2)], false);
        assert!(timeout(Duration::from_millis(300), late).await.is_err(), "the hanging backend is tried again");
        assert_eq!(h.stats.spans_lost_shutdown.load(Relaxed), 0);
    }

    #[test]
    fn batch_size_shrinks_when_the_backend_is_slow_and_grows_back_while_it_is_fast() {
        let size = BatchSize::new(64, 512, Duration::from_secs(16));
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
