//! Where does an event belong? With OpenClaw's trace context the answer is in the event; without it (older
//! gateways, agent events, hooks) it is rebuilt from correlation ids: `sessionKey` → the active turn, `runId` → the
//! run, (`runId`, attempt, `callId`) → the model call, `toolCallId` → the tool span. Both modes feed the same
//! indices, so content from agent events and hooks lands on the right span either way.

use std::collections::HashMap;

use crate::id_hash::IdHash;

use super::ids;
use crate::ingest::{Correlation, Event, EventKind, Target};
use crate::model::{SpanId, TraceId};

/// The span an event describes (or annotates) and its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent: Option<SpanId>,
    /// Ids were derived by correlation rather than carried by the event.
    pub correlated: bool,
}

#[derive(Debug, Clone)]
struct RunRef {
    trace: TraceId,
    turn: SpanId,
    harness: Option<SpanId>,
    run: Option<SpanId>,
    model: Option<SpanId>,
    attempt: u32,
    touched_ms: f64,
}

#[derive(Debug, Clone)]
struct TurnRef {
    trace: TraceId,
    root: SpanId,
    message_id: Option<String>,
    run_id: Option<String>,
    queued: bool,
    dispatching: bool,
    steered: bool,
    dispatch_done: bool,
}

#[derive(Debug, Default)]
struct SessionState {
    /// The run most recently bound in this session (model.usage carries no runId). A `Box<str>`, not a `String`: no
    /// capacity to hold in every remembered session (`docs/ARCHITECTURE.md`, "Contracts", bounded memory).
    last_run: Option<Box<str>>,
    touched_ms: f64,
    /// OpenClaw's traces that already have their turn's run (a later run in one is a follow-up's).
    answered: std::collections::VecDeque<TraceId>,
    /// Harness runs started and not yet ended.
    running: u32,
    /// What only correlation without trace context and busy sessions use, behind one pointer: every session is
    /// remembered, most never need it (`docs/ARCHITECTURE.md`, "Contracts", bounded memory).
    queues: Option<Box<Queues>>,
}

#[derive(Debug, Default)]
struct Queues {
    /// Message turns not yet processed, oldest first.
    turns: Vec<TurnRef>,
    /// OpenClaw's context: messages processed while another run was busy, without a run of their own, oldest
    /// first; OpenClaw answers each with a follow-up run later (queue mode `followup`).
    waiting: std::collections::VecDeque<(TraceId, SpanId)>,
}

impl SessionState {
    fn turns(&self) -> &[TurnRef] {
        self.queues.as_ref().map_or(&[], |q| &q.turns)
    }
    fn turns_mut(&mut self) -> &mut Vec<TurnRef> {
        &mut self.queues.get_or_insert_with(Default::default).turns
    }
    fn waiting(&self) -> impl Iterator<Item = &(TraceId, SpanId)> {
        self.queues.iter().flat_map(|q| q.waiting.iter())
    }
    fn waiting_mut(&mut self) -> &mut std::collections::VecDeque<(TraceId, SpanId)> {
        &mut self.queues.get_or_insert_with(Default::default).waiting
    }
    /// Gives the queues' memory back once both are empty.
    fn tidy(&mut self) {
        if self.queues.as_ref().is_some_and(|q| q.turns.is_empty() && q.waiting.is_empty()) {
            self.queues = None;
        }
    }
}

/// A follow-up run OpenClaw put into another message's trace, moved to the trace of the message it answers.
#[derive(Debug, Clone, Copy)]
struct Moved {
    to_trace: TraceId,
    to_root: SpanId,
    from_trace: TraceId,
    from_root: SpanId,
}

/// The correlator's tables, keyed by ids and session keys and looked up several times per event: hashed with the
/// seeded id hasher (`id_hash.rs`), a fraction of SipHash's cost on keys of a few dozen bytes.
type Table<K, V> = HashMap<K, V, IdHash>;

pub struct Correlator {
    runs: Table<String, RunRef>,
    tools: Table<String, (TraceId, SpanId)>,
    sessions: Table<String, SessionState>,
    /// At most this many runs and this many sessions are remembered (`Correlator::new`).
    limit: usize,
    last_sweep_ms: f64,
    /// Follow-up runs by runId, and the OpenClaw span ids of their spans (children without a runId follow them).
    moved_runs: Table<String, Moved>,
    moved_spans: Table<SpanId, Moved>,
    /// OpenClaw's trace id of the event just placed, when it was moved (`moved_from`).
    last_moved: Option<TraceId>,
}

/// Follow-ups remembered per session (messages waiting, traces answered).
const MAX_FOLLOW_UPS: usize = 64;

/// Indices are bounded: entries idle longer than the TTL are forgotten, and beyond `limit` the least recently
/// touched go first.
const MAX_ENTRIES: usize = 200_000;

/// Tool calls remembered per remembered run before the tool index starts over (a bound, not a typical count).
const TOOLS_PER_RUN: usize = 8;

/// The TTL sweep walks every entry: once a second is plenty for a TTL counted in minutes.
const SWEEP_EVERY_MS: f64 = 1000.0;

impl Default for Correlator {
    fn default() -> Self {
        Correlator::new(MAX_ENTRIES)
    }
}

impl Correlator {
    /// Remembers at most `limit` runs and `limit` sessions (the assembler passes a multiple of `maxOpenTraces`).
    pub fn new(limit: usize) -> Self {
        Correlator {
            runs: Table::default(),
            tools: Table::default(),
            sessions: Table::default(),
            limit: limit.max(1),
            last_sweep_ms: f64::NEG_INFINITY,
            moved_runs: Table::default(),
            moved_spans: Table::default(),
            last_moved: None,
        }
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    /// Runs and sessions remembered (tests, and what bounds them).
    pub fn sizes(&self) -> (usize, usize) {
        (self.runs.len(), self.sessions.len())
    }

    /// Over the limit, the least recently touched entries go: a sixty-fourth of the limit at once (one O(n)
    /// selection), so a storm of new sessions costs amortised O(1) each.
    fn bound(&mut self) {
        let limit = self.limit;
        evict_oldest(&mut self.runs, limit, |r| r.touched_ms);
        evict_oldest(&mut self.sessions, limit, |s| s.touched_ms);
    }

    pub fn sweep(&mut self, now_ms: f64, ttl_ms: f64) {
        if now_ms - self.last_sweep_ms < SWEEP_EVERY_MS && now_ms >= self.last_sweep_ms {
            return;
        }
        self.last_sweep_ms = now_ms;
        self.runs.retain(|_, r| now_ms - r.touched_ms < ttl_ms);
        self.sessions.retain(|_, s| now_ms - s.touched_ms < ttl_ms);
        let live: std::collections::HashSet<TraceId, IdHash> = self.runs.values().map(|r| r.trace).collect();
        self.tools.retain(|_, (t, _)| live.contains(t));
        if self.tools.len() > self.limit.saturating_mul(TOOLS_PER_RUN) {
            self.tools.clear();
        }
        self.moved_runs.retain(|run, _| self.runs.contains_key(run));
        self.moved_spans.retain(|_, m| live.contains(&m.to_trace));
    }

    /// The turn root of the run most recently active in a session (follow-ups injected into it link there).
    pub fn active_run(&self, session_key: &str) -> Option<(TraceId, SpanId)> {
        let run = self.runs.get(self.sessions.get(session_key)?.last_run.as_deref()?)?;
        Some((run.trace, run.turn))
    }

    /// Places a diagnostic event. Returns `None` when it belongs to no span (infra, or nothing to correlate with).
    pub fn place_diagnostic(&mut self, e: &Event) -> Option<Placement> {
        self.last_moved = None;
        let placed = match e.trace {
            Some(tc) => {
                let span_id = tc.span_id?;
                let run = e.str("runId");
                if let Some(sk) = e.str("sessionKey") {
                    self.follow_session(e, sk, run, tc.trace_id, span_id, tc.parent_span_id);
                }
                let (trace_id, span_id, parent) = self.follow_up(run, tc.trace_id, span_id, tc.parent_span_id);
                self.learn(e, run, trace_id, span_id, parent);
                Some(Placement { trace_id, span_id, parent, correlated: false })
            }
            None => self.correlate(e),
        };
        if self.runs.len() > self.limit || self.sessions.len() > self.limit {
            self.bound();
        }
        placed
    }

    /// A message of this session waits for the follow-up run that will answer it.
    pub fn awaits_follow_up(&self, session_key: &str, trace: TraceId) -> bool {
        self.sessions.get(session_key).is_some_and(|s| s.waiting().any(|(t, _)| *t == trace))
    }

    /// OpenClaw's trace id when the event just placed was moved to the message its follow-up run answers.
    pub fn moved_from(&self) -> Option<TraceId> {
        self.last_moved
    }

    /// What an event with trace context tells its session (`sk`): the follow-ups it waits for (`follow_up`), when
    /// it was last active and its latest run (`active_run`, `place_usage`). The session is looked up once per event.
    fn follow_session(
        &mut self,
        e: &Event,
        sk: &str,
        run: Option<&str>,
        trace: TraceId,
        span: SpanId,
        parent: Option<SpanId>,
    ) {
        let moved_runs = &mut self.moved_runs;
        with_session(&mut self.sessions, sk, |s| {
            match e.kind {
                EventKind::SessionTurnCreated => {
                    if let Some(run) = run {
                        if s.answered.contains(&trace) {
                            let next = s.queues.as_mut().and_then(|q| q.waiting.pop_front());
                            s.tidy();
                            if let Some((to_trace, to_root)) = next {
                                let m = Moved { to_trace, to_root, from_trace: trace, from_root: span };
                                moved_runs.insert(run.to_string(), m);
                            }
                        } else {
                            push_capped(&mut s.answered, trace);
                        }
                    }
                }
                EventKind::HarnessRunStarted => s.running += 1,
                EventKind::HarnessRunCompleted | EventKind::HarnessRunError => s.running = s.running.saturating_sub(1),
                EventKind::MessageProcessed if parent.is_none() => {
                    let injected = e.str("reason") == Some("active_run_injected");
                    if s.running > 0 && !injected && !s.answered.contains(&trace) {
                        push_capped(s.waiting_mut(), (trace, span));
                    }
                }
                _ => {}
            }
            s.touched_ms = e.arrived_ms;
            if let Some(run) = run.filter(|r| s.last_run.as_deref() != Some(*r)) {
                s.last_run = Some(run.into());
            }
        });
    }

    /// OpenClaw puts every follow-up run of a busy session (queue mode `followup`) into the trace of the message
    /// whose run was active, and leaves each queued message's own trace with a lone root. One trace per turn: each
    /// follow-up run goes to the oldest message still waiting for its answer (first in, first out), keeping
    /// OpenClaw's span ids; its root span becomes that message's root. (Which message waits, and which run moves,
    /// its session learnt first: `follow_session`.)
    fn follow_up(
        &mut self,
        run: Option<&str>,
        trace: TraceId,
        span: SpanId,
        parent: Option<SpanId>,
    ) -> (TraceId, SpanId, Option<SpanId>) {
        let moved = run
            .and_then(|r| self.moved_runs.get(r))
            .or_else(|| self.moved_spans.get(&span))
            .or_else(|| parent.and_then(|p| self.moved_spans.get(&p)))
            .copied();
        let Some(m) = moved.filter(|m| m.from_trace == trace) else { return (trace, span, parent) };
        self.last_moved = Some(m.from_trace);
        let root = |id: SpanId| if id == m.from_root { m.to_root } else { id };
        if span != m.from_root && self.moved_spans.len() < self.limit {
            self.moved_spans.insert(span, m);
        }
        (m.to_trace, root(span), parent.map(root))
    }

    /// The span an agent event or hook annotates: the run's current model call or tool, else the turn root.
    pub fn annotation_target(&self, e: &Event, want: Target) -> Option<(TraceId, SpanId)> {
        if want == Target::Tool {
            if let Some(found) = self.tool(e) {
                return Some(found);
            }
        }
        let run = self.runs.get(e.id("runId")?)?;
        let span = match want {
            Target::Model => run.model.or(run.run).unwrap_or(run.turn),
            Target::Turn | Target::Tool => run.turn,
        };
        Some((run.trace, span))
    }

    /// The tool span an event names (`toolCallId` at the top level, in the hook context, or in agent `data`).
    pub fn tool(&self, e: &Event) -> Option<(TraceId, SpanId)> {
        self.tools.get(&tool_key_of(e)?).copied()
    }

    /// Records what trace-context events teach about runs and tools (`run`: the event's run id).
    fn learn(&mut self, e: &Event, run: Option<&str>, trace: TraceId, span: SpanId, parent: Option<SpanId>) {
        let now = e.arrived_ms;
        let Some(run_id) = run else { return };
        let entry = match self.runs.get_mut(run_id) {
            Some(entry) => entry,
            None => {
                let turn = parent.unwrap_or(span);
                let run = RunRef { trace, turn, harness: None, run: None, model: None, attempt: 0, touched_ms: now };
                self.runs.entry(run_id.to_string()).or_insert(run)
            }
        };
        entry.touched_ms = now;
        match e.kind {
            EventKind::SessionTurnCreated => {
                entry.trace = trace;
                entry.turn = span;
            }
            EventKind::HarnessRunStarted => {
                entry.trace = trace;
                entry.harness = Some(span);
                entry.turn = parent.unwrap_or(span);
                entry.attempt += 1;
                // A new attempt: what is annotated from now on is its own, not the last attempt's model call.
                entry.run = None;
                entry.model = None;
            }
            EventKind::RunStarted => {
                entry.run = Some(span);
                entry.model = None;
            }
            EventKind::ModelCallStarted => entry.model = Some(span),
            EventKind::ToolExecutionStarted => {
                if let Some(key) = tool_key_of(e) {
                    self.tools.insert(key, (trace, span));
                }
            }
            _ => {}
        }
    }

    /// Without trace context, the catalogue's correlation column says where an event goes.
    fn correlate(&mut self, e: &Event) -> Option<Placement> {
        match e.kind.correlation() {
            Correlation::Message => self.place_message_event(e),
            Correlation::Usage => self.place_usage(e),
            Correlation::Run | Correlation::RunOrSession if e.str("runId").is_some() => self.place_run_event(e),
            // A failed turn's `lane task error: lane=session:<key> …` (it names the error's class) carries its session
            // only in its text.
            Correlation::Run if e.kind == EventKind::LogRecord => {
                let sk = lane_session(e.str("message")?)?;
                self.place_session_event(sk, e.arrived_ms)
            }
            Correlation::RunOrSession => {
                let sk = e.str("sessionKey").or_else(|| e.str("lane").and_then(|l| l.strip_prefix("session:")))?;
                self.place_session_event(sk, e.arrived_ms)
            }
            Correlation::Run | Correlation::Annotates(_) | Correlation::Never => None,
        }
    }

    fn place_message_event(&mut self, e: &Event) -> Option<Placement> {
        let sk = e.str("sessionKey")?.to_string();
        let now = e.arrived_ms;
        let session = self.sessions.entry(sk.clone()).or_default();
        session.touched_ms = now;
        let kind = e.kind;
        let message_id = e.fields.get("messageId").and_then(id_string);
        let idx = match kind {
            EventKind::MessageReceived => open_new_turn(session, &sk, e, message_id),
            EventKind::MessageQueued if e.str("source") == Some("followup-queue-steer") => {
                let i = first(session.turns(), |t| t.run_id.is_none() && !t.steered)?;
                session.turns_mut()[i].steered = true;
                i
            }
            EventKind::MessageQueued => {
                let i = match first(session.turns(), |t| !t.queued) {
                    Some(i) => i,
                    None => open_new_turn(session, &sk, e, None),
                };
                session.turns_mut()[i].queued = true;
                i
            }
            EventKind::MessageDispatchStarted => {
                let i = first(session.turns(), |t| !t.dispatching)?;
                session.turns_mut()[i].dispatching = true;
                i
            }
            EventKind::SessionTurnCreated => {
                let run_id = e.str("runId")?.to_string();
                let i = first(session.turns(), |t| t.run_id.is_none() && !t.steered)?;
                bind_run(&mut self.runs, session, i, &run_id, now);
                i
            }
            EventKind::MessageDispatchCompleted | EventKind::MessageProcessed => {
                let by_id =
                    message_id.as_ref().and_then(|m| first(session.turns(), |t| t.message_id.as_ref() == Some(m)));
                let injected = e.str("reason") == Some("active_run_injected");
                let i = by_id
                    .or_else(|| first(session.turns(), |t| !t.dispatch_done && (t.run_id.is_none() == injected)))
                    .or_else(|| first(session.turns(), |t| !t.dispatch_done))?;
                session.turns_mut()[i].dispatch_done = true;
                if kind == EventKind::MessageProcessed {
                    let t = session.turns_mut().remove(i);
                    session.tidy();
                    return Some(Placement { trace_id: t.trace, span_id: t.root, parent: None, correlated: true });
                }
                i
            }
            _ => session.turns().len().checked_sub(1)?,
        };
        let t = &session.turns()[idx];
        Some(Placement { trace_id: t.trace, span_id: t.root, parent: None, correlated: true })
    }

    fn place_session_event(&mut self, sk: &str, now: f64) -> Option<Placement> {
        let session = self.sessions.get_mut(sk)?;
        session.touched_ms = now;
        if let Some(t) = session.turns().iter().find(|t| t.run_id.is_some()).or(session.turns().last()) {
            return Some(Placement { trace_id: t.trace, span_id: t.root, parent: None, correlated: true });
        }
        let run = self.runs.get(session.last_run.as_deref()?)?;
        Some(Placement { trace_id: run.trace, span_id: run.turn, parent: None, correlated: true })
    }

    fn place_usage(&mut self, e: &Event) -> Option<Placement> {
        let sk = e.str("sessionKey")?;
        let session = self.sessions.get_mut(sk)?;
        session.touched_ms = e.arrived_ms;
        let run_id = session.last_run.as_deref()?.to_string();
        let run = self.runs.get(&run_id)?;
        let span_id = ids::span_id(&run.trace, &["usage", &run_id]);
        Some(Placement {
            trace_id: run.trace,
            span_id,
            parent: Some(run.harness.unwrap_or(run.turn)),
            correlated: true,
        })
    }

    fn place_run_event(&mut self, e: &Event) -> Option<Placement> {
        let run_id = e.str("runId")?.to_string();
        let now = e.arrived_ms;
        if !self.runs.contains_key(&run_id) {
            self.bind_unknown_run(e, &run_id);
        }
        let run = self.runs.get_mut(&run_id).expect("bound above");
        run.touched_ms = now;
        let trace = run.trace;
        let attempt = run.attempt.to_string();
        let (span_id, parent) = match e.kind {
            EventKind::HarnessRunStarted => {
                run.attempt += 1;
                let h = ids::span_id(&trace, &["harness", &run_id, &run.attempt.to_string()]);
                run.harness = Some(h);
                run.run = None;
                run.model = None;
                (h, Some(run.turn))
            }
            EventKind::RunStarted => {
                let r = ids::span_id(&trace, &["run", &run_id, &attempt]);
                run.run = Some(r);
                (r, Some(run.harness.unwrap_or(run.turn)))
            }
            EventKind::RunCompleted => (run.run?, Some(run.harness.unwrap_or(run.turn))),
            EventKind::ModelCallStarted
            | EventKind::ModelCallCompleted
            | EventKind::ModelCallError
            | EventKind::ModelCallOther => {
                let call = e.str("callId").unwrap_or("call");
                let m = ids::span_id(&trace, &["model", call, &attempt]);
                if e.kind == EventKind::ModelCallStarted {
                    run.model = Some(m);
                }
                (m, Some(run.run.or(run.harness).unwrap_or(run.turn)))
            }
            EventKind::ToolExecutionStarted
            | EventKind::ToolExecutionCompleted
            | EventKind::ToolExecutionError
            | EventKind::ToolExecutionBlocked
            | EventKind::ToolExecutionOther => {
                let key = e
                    .str("toolCallId")
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{}:{}", e.str("toolName").unwrap_or("tool"), attempt));
                let t = ids::span_id(&trace, &["tool", &key]);
                self.tools.insert(tool_key_of(e).unwrap_or(key), (trace, t));
                let run = &self.runs[&run_id];
                (t, Some(run.run.or(run.harness).unwrap_or(run.turn)))
            }
            EventKind::ContextAssembled => {
                let c = ids::span_id(&trace, &["context", &run_id, &attempt]);
                (c, Some(run.run.or(run.harness).unwrap_or(run.turn)))
            }
            _ => match run.harness {
                Some(h) => (h, Some(run.turn)),
                None => (run.turn, None),
            },
        };
        Some(Placement { trace_id: trace, span_id, parent, correlated: true })
    }

    /// A run nobody announced: bind it to the session's waiting message turn, or give it a turn of its own
    /// (HTTP path and `--local` runs have no message events).
    fn bind_unknown_run(&mut self, e: &Event, run_id: &str) {
        let now = e.arrived_ms;
        if let Some(sk) = e.str("sessionKey") {
            let runs = &mut self.runs;
            let bound = with_session(&mut self.sessions, sk, |session| {
                session.touched_ms = now;
                if let Some(i) = first(session.turns(), |t| t.run_id.is_none() && !t.steered && t.queued) {
                    bind_run(runs, session, i, run_id, now);
                    return true;
                }
                session.last_run = Some(run_id.into());
                false
            });
            if bound {
                return;
            }
        }
        let trace = ids::trace_id(&["run", &e.pid.to_string(), run_id]);
        let turn = ids::span_id(&trace, &["turn"]);
        self.runs.insert(
            run_id.to_string(),
            RunRef { trace, turn, harness: None, run: None, model: None, attempt: 0, touched_ms: now },
        );
    }
}

fn evict_oldest<V>(map: &mut Table<String, V>, limit: usize, touched: impl Fn(&V) -> f64) {
    if map.len() <= limit {
        return;
    }
    let evict = (map.len() - limit).max(limit / 64).min(map.len());
    let mut by_age: Vec<(f64, &String)> = map.iter().map(|(k, v)| (touched(v), k)).collect();
    if evict < by_age.len() {
        by_age.select_nth_unstable_by(evict - 1, |a, b| a.0.total_cmp(&b.0));
    }
    let gone: Vec<String> = by_age[..evict].iter().map(|(_, k)| (*k).clone()).collect();
    for k in gone {
        map.remove(&k);
    }
}

/// `f` on the session's state, made on first sight: the key is copied only then, not on every event, and looked up
/// once where the session is known (nearly every event). A closure, because a reference found by `get_mut` cannot
/// be returned past the insert that might follow it; a result that borrows nothing can.
fn with_session<R>(sessions: &mut Table<String, SessionState>, sk: &str, f: impl FnOnce(&mut SessionState) -> R) -> R {
    if let Some(s) = sessions.get_mut(sk) {
        return f(s);
    }
    f(sessions.entry(sk.to_string()).or_default())
}

fn push_capped<T>(q: &mut std::collections::VecDeque<T>, v: T) {
    if q.len() >= MAX_FOLLOW_UPS {
        q.pop_front();
    }
    // Room for one at first (a deque's default is four): most sessions hold one turn's trace at a time.
    if q.capacity() == 0 {
        q.reserve_exact(1);
    }
    q.push_back(v);
}

fn first(turns: &[TurnRef], pred: impl Fn(&TurnRef) -> bool) -> Option<usize> {
    turns.iter().position(pred)
}

/// Opens a message turn; its ids derive from the opening event (process, seq), so a replay gives the same ids.
fn open_new_turn(session: &mut SessionState, sk: &str, e: &Event, message_id: Option<String>) -> usize {
    let seq = e.seq.map(|s| s.to_string()).unwrap_or_else(|| format!("{}", e.ts_ms));
    let trace = ids::trace_id(&["turn", &e.pid.to_string(), &seq, sk, message_id.as_deref().unwrap_or("")]);
    let turns = session.turns_mut();
    turns.push(TurnRef {
        trace,
        root: ids::span_id(&trace, &["turn"]),
        message_id,
        run_id: None,
        queued: false,
        dispatching: false,
        steered: false,
        dispatch_done: false,
    });
    turns.len() - 1
}

fn bind_run(runs: &mut Table<String, RunRef>, session: &mut SessionState, i: usize, run_id: &str, now: f64) {
    let t = &mut session.turns_mut()[i];
    t.run_id = Some(run_id.to_string());
    let (trace, turn) = (t.trace, t.root);
    session.last_run = Some(run_id.into());
    runs.insert(
        run_id.to_string(),
        RunRef { trace, turn, harness: None, run: None, model: None, attempt: 0, touched_ms: now },
    );
}

fn id_string(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The session key of a session lane named in a log message (`… lane=session:agent:main:x durationMs=…`).
fn lane_session(message: &str) -> Option<&str> {
    let from = message.find("lane=session:")? + "lane=session:".len();
    let key = message[from..].split_whitespace().next()?;
    (!key.is_empty()).then_some(key)
}

/// Tool call ids are only unique within a run (a fake or local provider repeats `call_1`): key them by run.
pub fn tool_key_of(e: &Event) -> Option<String> {
    let call = e.id("toolCallId").or_else(|| e.data_str("toolCallId"))?;
    Some(match e.id("runId") {
        Some(run) => format!("{run}\u{1}{call}"),
        None => call.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::decode;
    use crate::testing::diagnostic;

    fn event(json: String, at: f64) -> Event {
        decode(diagnostic(json, at)).unwrap()
    }

    /// A traced event's session is made on first sight and kept after: its latest run is where an injected
    /// follow-up links (`active_run`).
    #[test]
    fn a_traced_session_is_made_once_and_follows_its_latest_run() {
        let mut c = Correlator::default();
        let turn = |c: &mut Correlator, n: u8| {
            let (trace, root, harness) = (format!("{n:032x}"), format!("{:016x}", n), format!("{:016x}", n + 100));
            for (ty, span, parent) in [
                ("message.received", &root, None),
                ("session.turn.created", &root, None),
                ("harness.run.started", &harness, Some(&root)),
            ] {
                let parent = parent.map_or(String::new(), |p| format!(r#","parentSpanId":"{p}""#));
                let ctx = format!(r#"{{"traceId":"{trace}","spanId":"{span}"{parent}}}"#);
                let json = format!(r#"{{"type":"{ty}","sessionKey":"agent:main:s","runId":"r{n}","trace":{ctx}}}"#);
                assert!(c.place_diagnostic(&event(json, 1.0)).is_some(), "{ty}");
            }
        };
        turn(&mut c, 1);
        assert_eq!(c.sizes(), (1, 1), "one run, one session");
        let first = c.active_run("agent:main:s").expect("a run");
        turn(&mut c, 2);
        assert_eq!(c.sizes(), (2, 1), "the same session");
        let second = c.active_run("agent:main:s").expect("a run");
        assert_ne!(first, second, "the latest run");
        assert_eq!(crate::model::hex(&second.0), format!("{:032x}", 2));
    }

    #[test]
    fn a_bounded_correlator_stays_bounded_and_keeps_the_newest() {
        let limit = 128;
        let mut c = Correlator::new(limit);
        for n in 0..5_000u64 {
            let sk = format!("agent:main:s{n}");
            c.place_diagnostic(&event(
                format!(r#"{{"type":"message.received","sessionKey":"{sk}","seq":{}}}"#, 2 * n + 1),
                n as f64,
            ));
            c.place_diagnostic(&event(
                format!(r#"{{"type":"session.turn.created","sessionKey":"{sk}","runId":"r{n}","seq":{}}}"#, 2 * n + 2),
                n as f64,
            ));
            let (runs, sessions) = c.sizes();
            assert!(runs <= limit && sessions <= limit, "{runs} runs, {sessions} sessions after {n}");
        }
        // No TTL ran: only the bound removed entries, the least recently touched first.
        assert!(c.runs.contains_key("r4999") && c.sessions.contains_key("agent:main:s4999"));
        assert!(!c.runs.contains_key("r0") && !c.sessions.contains_key("agent:main:s0"));
    }
}
