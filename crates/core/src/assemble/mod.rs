//! Assemble: placed events become spans, spans become traces. A trace leaves when its root closed, nothing in it
//! is still running and a grace window passed without news; later events for it leave as straggler spans of the
//! same trace. Open traces are bounded in number and age, so a closing event that never comes costs nothing.

pub mod annotate;
pub mod apply;
pub mod content;
pub mod correlate;
pub mod deadlines;
pub mod finalize;
pub mod ids;
pub mod state;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::ingest::legacy::LegacyHost;
use crate::ingest::{Class, Event, EventKind, Source};
use crate::model::{AttrValue, Trace, TraceId};
use crate::stats::Stats;
use correlate::{Correlator, Placement};
use deadlines::{Deadlines, Verdict};
use state::TraceState;

#[derive(Debug, Clone)]
pub struct AssembleConfig {
    /// How long a closed trace waits for late events before export.
    pub grace_ms: f64,
    /// Open traces older than this are exported as incomplete.
    pub trace_ttl_ms: f64,
    /// At most this many traces open at once; the oldest is exported as incomplete beyond it.
    pub max_open_traces: usize,
    /// Exported traces remembered so late events become their stragglers (`maxRememberedTraces`).
    pub max_remembered_traces: usize,
    pub capture_content: bool,
    pub max_content_chars: usize,
    /// The host predates trusted diagnostics: its events pass the legacy ingest adapter (`ingest/legacy/`)
    /// first, which rebuilds runs, tools and usage from agent lifecycle events and hooks.
    pub legacy_host: bool,
}

impl Default for AssembleConfig {
    fn default() -> Self {
        AssembleConfig {
            grace_ms: 2000.0,
            trace_ttl_ms: 600_000.0,
            max_open_traces: 10_000,
            max_remembered_traces: 100_000,
            capture_content: false,
            max_content_chars: 8192,
            legacy_host: false,
        }
    }
}

pub struct Assembler {
    cfg: AssembleConfig,
    stats: Arc<Stats>,
    traces: state::Traces,
    correlator: Correlator,
    /// Recently exported traces (when, and which span ids), so late events become stragglers of the same trace
    /// instead of a new one — and never re-send a span that already left.
    exported: HashMap<TraceId, (f64, Vec<crate::model::SpanId>), crate::id_hash::IdHash>,
    exported_order: VecDeque<TraceId>,
    /// Tool annotations waiting for their tool span, by run and tool call id (at most `maxOpenTraces` keys).
    pending_tools: HashMap<String, Vec<(Event, f64)>, crate::id_hash::IdHash>,
    /// The legacy host adapter (used when `legacy_host` is on).
    legacy: LegacyHost,
    /// What the adapter handed over, waiting to be assembled (reused buffer).
    translated: Vec<Event>,
    /// When each open trace is next worth a look (`deadlines.rs`): a tick touches only what is due.
    deadlines: Deadlines,
}

impl Assembler {
    pub fn new(cfg: AssembleConfig, stats: Arc<Stats>) -> Self {
        let limit = correlation_limit(&cfg);
        Assembler {
            cfg,
            stats,
            traces: HashMap::default(),
            correlator: Correlator::new(limit),
            exported: HashMap::default(),
            exported_order: VecDeque::new(),
            pending_tools: HashMap::default(),
            legacy: LegacyHost::default(),
            translated: Vec::new(),
            deadlines: Deadlines::default(),
        }
    }

    pub fn set_config(&mut self, cfg: AssembleConfig) {
        self.correlator.set_limit(correlation_limit(&cfg));
        if (cfg.grace_ms, cfg.trace_ttl_ms) != (self.cfg.grace_ms, self.cfg.trace_ttl_ms) {
            self.deadlines.reset(&mut self.traces);
        }
        self.cfg = cfg;
    }

    /// Forgets exported trace ids and correlation state (call after `drain_all`): a new stream starts.
    pub fn forget_history(&mut self) {
        self.exported.clear();
        self.exported_order.clear();
        self.correlator = Correlator::new(correlation_limit(&self.cfg));
        self.legacy = LegacyHost::default();
    }

    /// Follow-up `message.processed` events the legacy host adapter holds back.
    pub fn legacy_held(&self) -> usize {
        self.legacy.held()
    }

    pub fn open_traces(&self) -> usize {
        self.traces.len()
    }

    /// Exported traces remembered for their stragglers (bounded by `maxRememberedTraces`).
    pub fn remembered_traces(&self) -> usize {
        self.exported.len()
    }

    /// Entries of the deadline heap, stale ones included (bounded by a multiple of the open traces).
    pub fn pending_deadlines(&self) -> usize {
        self.deadlines.len()
    }

    /// When the earliest open trace comes due (event-clock ms). Events may bring it closer: the worker ticks soon
    /// after taking any.
    pub fn next_deadline_ms(&self) -> f64 {
        self.deadlines.next_ms()
    }

    /// Tool annotations or legacy holds wait: their deadlines are short and not tracked, so ticks keep coming.
    pub fn holds(&self) -> bool {
        !self.pending_tools.is_empty() || self.legacy.held() > 0
    }

    /// Takes one event (already in `seq` order for its process). A legacy host's events are translated first.
    pub fn ingest(&mut self, e: Event, now_ms: f64, out: &mut Vec<Trace>) {
        if !self.cfg.legacy_host {
            return self.assemble(e, now_ms, out);
        }
        let mut translated = std::mem::take(&mut self.translated);
        if self.legacy.translate(e, &mut translated) {
            Stats::inc(&self.stats.events_translated);
        }
        self.assemble_all(&mut translated, now_ms, out);
        self.translated = translated;
    }

    fn assemble(&mut self, e: Event, now_ms: f64, out: &mut Vec<Trace>) {
        match e.src {
            Source::Diagnostic => self.ingest_diagnostic(e, now_ms, out),
            Source::Agent | Source::Hook => self.ingest_annotation(e, now_ms, true),
        }
    }

    fn assemble_all(&mut self, events: &mut Vec<Event>, now_ms: f64, out: &mut Vec<Trace>) {
        for e in events.drain(..) {
            self.assemble(e, now_ms, out);
        }
    }

    /// Hands over what the legacy adapter holds: expired holds, or everything (`all`, at shutdown).
    fn release_legacy(&mut self, now_ms: f64, all: bool, out: &mut Vec<Trace>) {
        if self.legacy.held() == 0 {
            return;
        }
        let mut translated = std::mem::take(&mut self.translated);
        if all {
            self.legacy.flush(now_ms, &mut translated);
        } else {
            self.legacy.expire(now_ms, &mut translated);
        }
        self.assemble_all(&mut translated, now_ms, out);
        self.translated = translated;
    }

    fn ingest_diagnostic(&mut self, mut e: Event, now_ms: f64, out: &mut Vec<Trace>) {
        let kind = e.kind;
        match kind.class() {
            Class::Infra => return count(&self.stats.skipped_infra_event, &e),
            Class::AgentWork | Class::Context => {}
            _ => return count(&self.stats.skipped_unknown_type, &e),
        }
        let Some(mut place) = self.correlator.place_diagnostic(&e) else {
            let why =
                if e.trace.is_some() { &self.stats.skipped_infra_event } else { &self.stats.skipped_no_correlation };
            return count(why, &e);
        };
        // A point event (model.usage, context.assembled) is a span of its own, but OpenClaw sometimes gives it the id
        // of the span that was current when it fired: the HTTP path's undescribed root, or (a subagent's or a
        // follow-up's usage) a harness run. A span's name, kind and times come from the events that open and close
        // it, so such an event becomes a child of the span whose id it carries, never its identity.
        // A second point event with the id of an earlier one (the same span already described) is its sibling.
        if let Some(role) = apply::point_role(kind) {
            let current = self.traces.get(&place.trace_id).and_then(|t| t.spans.get(&place.span_id));
            let http_root = kind == EventKind::ModelUsage && place.parent.is_none();
            // (Ids made by correlation are clawtrace's own: a run's usage events share one span on purpose.)
            if http_root || (!place.correlated && current.is_some_and(|s| s.described)) {
                let carried = crate::model::hex(&place.span_id);
                let seq = e.seq.map(|n| n.to_string()).unwrap_or_else(|| e.ts_ms.to_string());
                let key: &[&str] = if http_root { &["usage", &carried] } else { &[role.as_str(), &carried, &seq] };
                let parent = match current {
                    Some(s) if s.described && s.span.role == role => s.span.parent_span_id,
                    _ => Some(place.span_id),
                };
                place = Placement { span_id: ids::span_id(&place.trace_id, key), parent, ..place };
            }
        }
        // Below capacity there is room whatever the trace: its table is looked up once per event, not twice.
        if self.traces.len() >= self.cfg.max_open_traces && !self.traces.contains_key(&place.trace_id) {
            self.make_room(now_ms, out);
        }
        // Whether it is a straggler is looked up only for a new trace (a lookup in a large table per event).
        let exported = &self.exported;
        let trace = self.traces.entry(place.trace_id).or_insert_with(|| {
            Box::new(TraceState::new(place.trace_id, now_ms, exported.contains_key(&place.trace_id)))
        });
        trace.last_event_ms = now_ms;
        // This event may have closed it: a look within the grace window, or at its TTL if sooner (`deadlines.rs`).
        self.deadlines.ensure(trace, (now_ms + self.cfg.grace_ms).min(trace.created_ms + self.cfg.trace_ttl_ms));
        trace.events += 1;
        trace.agent_work |= kind.class() == Class::AgentWork;
        trace.usage_seen |= kind == EventKind::ModelUsage;
        if kind == EventKind::MessageProcessed {
            trace.awaiting_follow_up =
                e.str("sessionKey").is_some_and(|sk| self.correlator.awaits_follow_up(sk, place.trace_id));
        }
        if self.correlator.moved_from().is_some() {
            trace.awaiting_follow_up = false;
        }
        if let Some(parent) = place.parent {
            if parent != place.span_id {
                trace.span_mut(parent);
            }
        }
        let Some((s, shared)) = trace.span_and_shared(place.span_id) else {
            return count(&self.stats.skipped_no_correlation, &e);
        };
        if s.span.parent_span_id.is_none() && place.parent != Some(place.span_id) {
            s.span.parent_span_id = place.parent;
        }
        s.observe(e.ts_ns());
        if place.correlated {
            s.span.attrs.insert("openclaw.correlated".into(), AttrValue::Bool(true));
        }
        if let Some(original) = self.correlator.moved_from() {
            // A follow-up run moved to the message it answers: OpenClaw's own trace id stays on it, as an attribute
            // and a link, for backends that follow OpenClaw's context.
            s.span.attrs.insert("openclaw.original_trace_id".into(), AttrValue::Str(crate::model::hex(&original)));
            if !s.span.links().iter().any(|l| l.trace_id == original) {
                let mut attrs = crate::model::Attrs::new();
                attrs.insert("openclaw.link.reason".into(), AttrValue::Str("openclaw_context".into()));
                s.span.links_mut().push(crate::model::SpanLink { trace_id: original, span_id: place.span_id, attrs });
            }
        }
        // Read before `apply`, which moves the strings it copies out of the event.
        let injected = kind == EventKind::MessageProcessed && e.str("reason") == Some("active_run_injected");
        let tool_key = match kind {
            EventKind::ToolExecutionStarted if !self.pending_tools.is_empty() => correlate::tool_key_of(&e),
            _ => None,
        };
        apply::apply(s, shared, &mut e);
        if injected {
            if let Some((trace_id, span_id)) = e.str("sessionKey").and_then(|sk| self.correlator.active_run(sk)) {
                if trace_id != place.trace_id {
                    let mut attrs = crate::model::Attrs::new();
                    attrs.insert("openclaw.link.reason".into(), AttrValue::Str("active_run_injected".into()));
                    s.span.links_mut().push(crate::model::SpanLink { trace_id, span_id, attrs });
                }
            }
        }
        count(&self.stats.events_in_spans, &e);
        if let Some(waiting) = tool_key.and_then(|k| self.pending_tools.remove(&k)) {
            for (note, _) in waiting {
                self.ingest_annotation(note, now_ms, false);
            }
        }
    }

    /// Tool annotations whose tool span never showed up within the grace window go where they can (the run).
    fn release_pending_tools(&mut self, now_ms: f64, all: bool) {
        let grace = self.cfg.grace_ms;
        let due: Vec<String> = self
            .pending_tools
            .iter()
            .filter(|(_, v)| all || v.iter().any(|(_, at)| now_ms - at >= grace))
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            for (note, _) in self.pending_tools.remove(&k).unwrap_or_default() {
                self.ingest_annotation(note, now_ms, false);
            }
        }
    }

    /// Exports what is ready: closed traces past their grace window, and traces past their TTL.
    pub fn tick(&mut self, now_ms: f64, out: &mut Vec<Trace>) {
        self.release_legacy(now_ms, false, out);
        if !self.pending_tools.is_empty() {
            self.release_pending_tools(now_ms, false);
        }
        let grace = self.cfg.grace_ms;
        let ttl = self.cfg.trace_ttl_ms;
        let mut ready: Vec<(TraceId, bool)> = Vec::new();
        let mut later: Vec<(TraceId, f64)> = Vec::new();
        while let Some(id) = self.deadlines.pop_due(now_ms, &mut self.traces) {
            let Some(t) = self.traces.get(&id) else { continue };
            match deadlines::verdict(t, now_ms, grace, ttl) {
                Verdict::Leave { incomplete } => ready.push((id, incomplete)),
                Verdict::Wait(at) => later.push((id, at)),
            }
        }
        // Scheduled after the loop: a deadline that rounding put at `now_ms` waits for the next tick.
        for (id, at) in later {
            if let Some(t) = self.traces.get_mut(&id) {
                self.deadlines.ensure(t, at);
            }
        }
        for (id, incomplete) in ready {
            self.emit(id, incomplete, now_ms, out);
        }
        self.deadlines.bound(&self.traces);
        self.correlator.sweep(now_ms, ttl);
        while let Some(id) = self.exported_order.front().copied() {
            let old = self.exported.get(&id).is_none_or(|(at, _)| now_ms - at > ttl);
            if !old && self.exported_order.len() <= self.cfg.max_remembered_traces {
                break;
            }
            self.exported_order.pop_front();
            self.exported.remove(&id);
        }
    }

    /// Exports everything that is closed, ignoring the grace window (flush).
    pub fn flush_closed(&mut self, now_ms: f64, out: &mut Vec<Trace>) {
        self.release_pending_tools(now_ms, true);
        let ready: Vec<TraceId> = self.traces.values().filter(|t| t.is_closed()).map(|t| t.trace_id).collect();
        for id in ready {
            self.emit(id, false, now_ms, out);
        }
    }

    /// Exports everything, open traces as incomplete (shutdown).
    pub fn drain_all(&mut self, now_ms: f64, out: &mut Vec<Trace>) {
        self.release_legacy(now_ms, true, out);
        self.release_pending_tools(now_ms, true);
        let ids: Vec<(TraceId, bool)> = self.traces.values().map(|t| (t.trace_id, !t.is_closed())).collect();
        for (id, incomplete) in ids {
            self.emit(id, incomplete, now_ms, out);
        }
        self.deadlines.clear();
    }

    /// At capacity, the least recently active traces leave as incomplete. A sixty-fourth of the open traces goes at
    /// once (one O(n) selection), so a storm of new traces costs amortised O(1) each, not a scan per trace.
    fn make_room(&mut self, now_ms: f64, out: &mut Vec<Trace>) {
        let cap = self.cfg.max_open_traces;
        if self.traces.len() < cap {
            return;
        }
        let evict = (self.traces.len() + 1 - cap).max(cap / 64).min(self.traces.len());
        let mut by_age: Vec<(f64, TraceId)> = self.traces.values().map(|t| (t.last_event_ms, t.trace_id)).collect();
        if evict < by_age.len() {
            by_age.select_nth_unstable_by(evict - 1, |a, b| a.0.total_cmp(&b.0));
        }
        for &(_, id) in &by_age[..evict] {
            Stats::inc(&self.stats.traces_evicted_capacity);
            self.emit(id, true, now_ms, out);
        }
    }

    fn emit(&mut self, id: TraceId, incomplete: bool, now_ms: f64, out: &mut Vec<Trace>) {
        let Some(state) = self.traces.remove(&id) else { return };
        if !state.agent_work && !state.straggler {
            Stats::inc(&self.stats.traces_infra_only);
            return;
        }
        if !self.exported.contains_key(&id) {
            self.exported_order.push_back(id);
            // `maxRememberedTraces`: the oldest are forgotten now, not at the next tick.
            while self.exported_order.len() > self.cfg.max_remembered_traces.max(1) {
                if let Some(old) = self.exported_order.pop_front() {
                    self.exported.remove(&old);
                }
            }
        }
        let sent = self.exported.entry(id).or_insert_with(|| (now_ms, Vec::new()));
        sent.0 = now_ms;
        if let Some(trace) = finalize::finalize(*state, incomplete, &self.stats, &sent.1) {
            sent.1.extend(trace.spans.iter().map(|s| s.span_id));
            Stats::inc(if incomplete { &self.stats.traces_incomplete } else { &self.stats.traces_completed });
            out.push(trace);
        }
    }
}

/// Runs and sessions the correlator remembers: twice the open traces (a turn may retry its run; a session outlives
/// its turns), so the bound is configuration's (`maxOpenTraces`), not only the TTL's.
fn correlation_limit(cfg: &AssembleConfig) -> usize {
    cfg.max_open_traces.saturating_mul(2)
}

/// Counts a received event's fate; events an adapter made up are not received events (`Event::derived`).
fn count(counter: &std::sync::atomic::AtomicU64, e: &Event) {
    if !e.derived {
        Stats::inc(counter);
    }
}
