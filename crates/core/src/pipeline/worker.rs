//! The worker runs the steps in order: decode → reorder → assemble → enrich → sample → export (offer finished
//! traces to every sink).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use super::ingress::Ingress;
use super::{Control, Handover};
use crate::assemble::{AssembleConfig, Assembler};
use crate::config::{process_env, BatchConfig, Config};
use crate::enrich::{self, EnrichConfig};
use crate::errors::ErrorReporter;
use crate::export::registry::{self, BuiltSink};
use crate::export::transport::runner::{spawn_sink_with_spool, SinkHandle};
use crate::ingest::reorder::Reorder;
use crate::ingest::{decode, DecodeError, Inbound};
use crate::pipeline::recorder::Recorder;
use crate::pipeline::sampling::Sampler;
use crate::stats::Stats;

/// Event time, driven by arrivals: live events arrive at wall time; replayed ones carry their recorded arrival,
/// so grace windows and TTLs mean the same thing in a replay as they did live.
struct Clock {
    last_arrival_ms: f64,
    at: Instant,
}

impl Clock {
    fn now(&self) -> f64 {
        self.last_arrival_ms + self.at.elapsed().as_secs_f64() * 1000.0
    }
    /// Records an arrival and returns the time now: the arrival itself when it sets the clock (the instant just
    /// read is now), so an event costs one clock read, not two.
    fn arrive(&mut self, ms: f64) -> f64 {
        if ms.is_finite() && ms > 0.0 {
            self.last_arrival_ms = ms;
            self.at = Instant::now();
            return ms;
        }
        self.now()
    }
}

fn wall_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

pub fn assemble_config(cfg: &Config) -> AssembleConfig {
    AssembleConfig {
        grace_ms: cfg.grace_ms,
        trace_ttl_ms: cfg.trace_ttl_ms,
        max_open_traces: cfg.max_open_traces,
        max_remembered_traces: cfg.max_remembered_traces,
        capture_content: cfg.capture_content,
        max_content_chars: cfg.max_content_chars,
        legacy_host: cfg.legacy_host,
    }
}

/// Events taken per wake before control messages and ticks get their turn.
const DRAIN_PER_WAKE: usize = 4096;

pub(super) async fn run(
    cfg: Config,
    stats: Arc<Stats>,
    errors: ErrorReporter,
    published: super::SinkRegistry,
    rx: Arc<Ingress>,
    mut ctl: mpsc::UnboundedReceiver<Control>,
) {
    let mut w = Worker {
        assembler: Assembler::new(assemble_config(&cfg), stats.clone()),
        enrich: EnrichConfig::from_config(&cfg).expect("the default configuration compiles"),
        reorder: Reorder::new(cfg.reorder_window_ms, cfg.reorder_max_events),
        sinks: Vec::new(),
        batch: cfg.batch.clone(),
        sampler: Sampler::new(&cfg.sampling, &process_env),
        published,
        stats,
        errors,
        clock: Clock { last_arrival_ms: wall_ms(), at: Instant::now() },
        last_tick_ms: 0.0,
        released: Vec::new(),
        finished: Vec::new(),
        recorder: None,
        released_after: None,
    };
    w.set_recorder(&cfg);
    // Before configure() the environment decides; if it is unusable, the default file still catches every trace.
    let sinks = registry::build(&cfg, &process_env).unwrap_or_else(|e| {
        w.errors.report("config", "invalid", &e);
        registry::fallback(&cfg, &process_env)
    });
    w.set_sinks(sinks, &cfg);
    let mut naps = 0;
    let mut next_tick = tokio::time::Instant::now() + TICK_BUSY;
    loop {
        tokio::select! {
            biased;
            c = ctl.recv() => match c {
                Some(c) => w.control(c, &rx).await,
                None => break,
            },
            _ = rx.wait(&mut naps) => {
                // A bounded drain, then back to the select: control messages and ticks are never starved.
                if rx.drain(DRAIN_PER_WAKE, |i| w.take(i)) > 0 {
                    naps = 0;
                    // Events may have opened something with an earlier deadline.
                    next_tick = next_tick.min(tokio::time::Instant::now() + w.until_next_tick());
                }
                // And a turn for everyone else: under a flood the queue is never empty, so without this the worker
                // never returns `Pending`, and the sink tasks it wakes (queued behind it on this thread) starve.
                tokio::task::yield_now().await;
            }
            _ = tokio::time::sleep_until(next_tick) => {
                w.tick();
                w.release_memory_when_idle();
                next_tick = tokio::time::Instant::now() + w.until_next_tick();
            }
        }
    }
}

/// Ticks come when the next trace is due (its grace window or TTL ends) or a reorder gap's window ends, never
/// closer than `TICK_MIN`, so a turn's spans leave within a few ms of its grace window; every `TICK_BUSY` while a
/// tool annotation or a legacy hold waits (short deadlines not tracked one by one); and at least every `TICK_IDLE`
/// for the slow sweeps of remembered ids. An idle gateway pays one wake-up a second.
const TICK_MIN: Duration = Duration::from_millis(10);
const TICK_BUSY: Duration = Duration::from_millis(100);
const TICK_IDLE: Duration = Duration::from_millis(1000);
/// How long no event may arrive before the worker gives freed memory back (once per quiet period, from the tick
/// that follows: within `IDLE_RELEASE + TICK_IDLE` of the last event). The allocator keeps freed pages for a
/// while (mimalloc: a second) to reuse them under load; a gateway that goes quiet with thousands of turns open
/// would otherwise hold a burst's transient event memory beside them (`docs/ARCHITECTURE.md`, "Memory").
const IDLE_RELEASE: Duration = Duration::from_millis(500);
const TICK_MIN_MS: f64 = TICK_MIN.as_millis() as f64;
const TICK_BUSY_MS: f64 = TICK_BUSY.as_millis() as f64;

struct Worker {
    assembler: Assembler,
    enrich: EnrichConfig,
    reorder: Reorder,
    sinks: Vec<SinkHandle>,
    /// The batch settings the sinks in service run with (their retry deadline bounds their retirement).
    batch: BatchConfig,
    sampler: Sampler,
    published: super::SinkRegistry,
    stats: Arc<Stats>,
    errors: ErrorReporter,
    clock: Clock,
    last_tick_ms: f64,
    released: Vec<crate::ingest::Event>,
    finished: Vec<crate::model::Trace>,
    /// Writes what crosses to the record file (`record`), off this task.
    recorder: Option<Recorder>,
    /// The last arrival before freed memory was last given back (`release_memory_when_idle`).
    released_after: Option<Instant>,
}

impl Worker {
    fn take(&mut self, inbound: Inbound) {
        let now = self.clock.arrive(inbound.arrived_ms);
        if let Some(r) = &self.recorder {
            r.offer(&inbound);
        }
        match decode(inbound) {
            Ok(e) => {
                if e.bad_trace {
                    Stats::inc(&self.stats.invalid_trace_context);
                }
                let forced = self.reorder.push(e, now, &mut self.released);
                Stats::add(&self.stats.reorder_forced_releases, forced);
                self.assemble_released(now);
                // Ticks follow event time too, so a fast replay still closes traces as it goes.
                // (Both directions: a replay's recorded clock can lie before the wall-clock tick that came first.)
                // Under a flood the select above never reaches its timer, so a due trace is ticked from here,
                // at most every `TICK_MIN`.
                let since = (now - self.last_tick_ms).abs();
                if since >= TICK_BUSY_MS || (since >= TICK_MIN_MS && now >= self.next_due_ms()) {
                    self.tick();
                }
            }
            Err(reason) => Stats::inc(match reason {
                DecodeError::NotObject => &self.stats.invalid_not_object,
                DecodeError::MissingType => &self.stats.invalid_missing_type,
                DecodeError::WrongFieldType => &self.stats.invalid_wrong_field_type,
                DecodeError::MalformedJson => &self.stats.invalid_malformed_json,
                DecodeError::TooLarge => &self.stats.invalid_too_large,
                DecodeError::BadHookName => &self.stats.invalid_hook_name,
            }),
        }
    }

    fn assemble_released(&mut self, now: f64) {
        for e in self.released.drain(..) {
            self.assembler.ingest(e, now, &mut self.finished);
        }
        self.offer_finished();
    }

    /// When the next tick has something to do (event-clock ms): the earliest trace deadline or reorder window end,
    /// or one busy period from now while untracked short holds wait.
    fn next_due_ms(&self) -> f64 {
        let due = self.assembler.next_deadline_ms().min(self.reorder.next_release_ms());
        if self.assembler.holds() {
            due.min(self.last_tick_ms + TICK_BUSY_MS)
        } else {
            due
        }
    }

    /// How long the worker may sleep before the next tick has something to do.
    fn until_next_tick(&self) -> Duration {
        let due_in_ms = self.next_due_ms() - self.clock.now();
        if due_in_ms.is_nan() || due_in_ms >= TICK_IDLE.as_millis() as f64 {
            return TICK_IDLE;
        }
        Duration::from_secs_f64(due_in_ms.max(0.0) / 1000.0).max(TICK_MIN)
    }

    fn tick(&mut self) {
        let now = self.clock.now();
        self.last_tick_ms = now;
        self.reorder.release(now, &mut self.released);
        self.assemble_released(now);
        self.assembler.tick(now, &mut self.finished);
        self.offer_finished();
    }

    /// Once no event has arrived for `IDLE_RELEASE` since the last release, gives freed memory back.
    fn release_memory_when_idle(&mut self) {
        let last = self.clock.at;
        if self.released_after != Some(last) && last.elapsed() >= IDLE_RELEASE {
            self.released_after = Some(last);
            super::release_freed_memory();
        }
    }

    /// Enrich, then the sampling decision (counted when it drops the trace).
    fn admit(
        enrich: &EnrichConfig,
        sampler: &mut Sampler,
        stats: &Stats,
        mut t: crate::model::Trace,
    ) -> Option<Arc<crate::model::Trace>> {
        enrich::enrich(&mut t, enrich);
        if sampler.keep(&t) {
            Some(Arc::new(t))
        } else {
            Stats::inc(&stats.traces_sampled_out);
            None
        }
    }

    fn offer_finished(&mut self) {
        for t in self.finished.drain(..) {
            let Some(t) = Self::admit(&self.enrich, &mut self.sampler, &self.stats, t) else { continue };
            for s in &self.sinks {
                s.offer(t.clone(), &self.stats);
            }
        }
    }

    /// Handles a control message without waiting for any sink: what the caller waits for goes back to it.
    async fn control(&mut self, c: Control, rx: &Ingress) {
        match c {
            Control::Configure(cfg, done) => {
                // What was assembled under the old configuration leaves through the old sinks.
                self.drain_accepted(rx).await;
                let built = EnrichConfig::from_config(&cfg).and_then(|e| Ok((e, registry::build(&cfg, &process_env)?)));
                let (enrich, sinks) = match built {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = done.send(Err(e));
                        return;
                    }
                };
                rx.set_limits(cfg.queue_capacity, cfg.queue_max_bytes);
                self.assembler.set_config(assemble_config(&cfg));
                self.enrich = enrich;
                self.reorder = Reorder::new(cfg.reorder_window_ms, cfg.reorder_max_events);
                let handover = self.retire_sinks();
                self.set_sinks(sinks, &cfg);
                self.sampler = Sampler::new(&cfg.sampling, &process_env);
                self.set_recorder(&cfg);
                self.errors.reset();
                let _ = done.send(Ok(handover));
            }
            Control::Flush { close_open, forget, stop_at, deadline, done } => {
                self.drain_accepted(rx).await;
                let now = self.clock.now();
                self.reorder.drain(&mut self.released);
                self.assemble_released(now);
                if close_open {
                    self.assembler.drain_all(now, &mut self.finished);
                } else {
                    self.assembler.flush_closed(now, &mut self.finished);
                }
                let closed: Vec<_> = std::mem::take(&mut self.finished)
                    .into_iter()
                    .filter_map(|t| Self::admit(&self.enrich, &mut self.sampler, &self.stats, t))
                    .collect();
                let delivered: Vec<_> = self
                    .sinks
                    .iter()
                    .map(|s| {
                        if let Some(at) = stop_at {
                            s.stop_at(at);
                        }
                        s.flush(closed.clone(), stop_at.is_some())
                    })
                    .collect();
                if forget {
                    self.assembler.forget_history();
                    self.reorder.forget_history();
                }
                // What was recorded so far is in the record file before the flush resolves.
                let recorded = self.recorder.as_ref().and_then(Recorder::sync);
                tokio::spawn(async move {
                    if let Some(r) = recorded {
                        let _ = tokio::time::timeout_at(deadline, r).await;
                    }
                    let all = async {
                        let mut ok = true;
                        for d in delivered {
                            ok &= d.await;
                        }
                        ok
                    };
                    let _ = done.send(matches!(tokio::time::timeout_at(deadline, all).await, Ok(true)));
                });
            }
        }
    }

    /// The previous recorder (if any) finishes writing what it was given and closes its file.
    fn set_recorder(&mut self, cfg: &Config) {
        self.recorder = cfg.record.as_ref().and_then(|r| match Recorder::start(r, self.stats.clone()) {
            Ok(rec) => Some(rec),
            Err(e) => {
                self.errors.report("record", "io", &format!("cannot start the recorder: {e}"));
                None
            }
        });
    }

    /// Takes the sinks in service out of it: each keeps sending what it holds until its retry deadline, then
    /// parks the rest. The returned future resolves when all of them handed over.
    fn retire_sinks(&mut self) -> Handover {
        let at = tokio::time::Instant::now() + Duration::from_millis(self.batch.retry_deadline_ms);
        let retiring: Vec<_> = std::mem::take(&mut self.sinks).into_iter().map(|s| s.retire(at)).collect();
        Box::pin(async move {
            let mut ok = true;
            for r in retiring {
                ok &= r.await;
            }
            ok
        })
    }

    fn set_sinks(&mut self, sinks: Vec<BuiltSink>, cfg: &Config) {
        self.sinks = sinks
            .into_iter()
            .map(|s| {
                spawn_sink_with_spool(s.exporter, cfg.batch.clone(), self.stats.clone(), self.errors.clone(), s.spool)
            })
            .collect();
        self.batch = cfg.batch.clone();
        *self.published.lock().unwrap_or_else(|e| e.into_inner()) =
            self.sinks.iter().map(|s| (s.name, s.stats.clone())).collect();
    }

    /// Takes what was accepted before this call, in bounded drains with a yield between them. Only that: under
    /// a flood the queue is never empty, and a flush or a reconfiguration must still end.
    async fn drain_accepted(&mut self, rx: &Ingress) {
        let mut left = rx.len();
        while left > 0 {
            let n = rx.drain(left.min(DRAIN_PER_WAKE), |i| self.take(i));
            if n == 0 {
                break;
            }
            left -= n;
            tokio::task::yield_now().await;
        }
    }
}
