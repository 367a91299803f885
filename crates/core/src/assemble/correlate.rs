//! Where does an event belong? With OpenClaw's trace context the answer is in the event; without it (older
//! gateways, agent events, hooks) it is rebuilt from correlation ids: `sessionKey` → the active turn, `runId` → the
//! run, (`runId`, attempt, `callId`) → the model call, `toolCallId` → the tool span. Both modes feed the same
//! indices, so content from agent events and hooks lands on the right span either way.

use std::collections::HashMap;

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
    /// Message turns not yet processed, oldest first.
    turns: Vec<TurnRef>,
    /// The run most recently bound in this session (model.usage carries no runId).
    last_run: Option<String>,
    touched_ms: f64,
}

#[derive(Default)]
pub struct Correlator {
    runs: HashMap<String, RunRef>,
    tools: HashMap<String, (TraceId, SpanId)>,
    sessions: HashMap<String, SessionState>,
}

/// Indices are bounded: entries idle longer than the TTL are forgotten.
const MAX_ENTRIES: usize = 200_000;

impl Correlator {
    pub fn sweep(&mut self, now_ms: f64, ttl_ms: f64) {
        self.runs.retain(|_, r| now_ms - r.touched_ms < ttl_ms);
        self.sessions.retain(|_, s| now_ms - s.touched_ms < ttl_ms);
        let live: std::collections::HashSet<TraceId> = self.runs.values().map(|r| r.trace).collect();
        self.tools.retain(|_, (t, _)| live.contains(t));
        if self.tools.len() > MAX_ENTRIES {
            self.tools.clear();
        }
    }

    /// The turn root of the run most recently active in a session (follow-ups injected into it link there).
    pub fn active_run(&self, session_key: &str) -> Option<(TraceId, SpanId)> {
        let run = self.runs.get(self.sessions.get(session_key)?.last_run.as_deref()?)?;
        Some((run.trace, run.turn))
    }

    /// Places a diagnostic event. Returns `None` when it belongs to no span (infra, or nothing to correlate with).
    pub fn place_diagnostic(&mut self, e: &Event) -> Option<Placement> {
        match e.trace {
            Some(tc) => {
                let span_id = tc.span_id?;
                self.learn(e, tc.trace_id, span_id, tc.parent_span_id);
                Some(Placement { trace_id: tc.trace_id, span_id, parent: tc.parent_span_id, correlated: false })
            }
            None => self.correlate(e),
        }
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

    /// Records what trace-context events teach about runs and tools.
    fn learn(&mut self, e: &Event, trace: TraceId, span: SpanId, parent: Option<SpanId>) {
        let now = e.arrived_ms;
        if let Some(sk) = e.str("sessionKey") {
            let s = self.sessions.entry(sk.to_string()).or_default();
            s.touched_ms = now;
            if let Some(run) = e.str("runId") {
                s.last_run = Some(run.to_string());
            }
        }
        let Some(run_id) = e.str("runId") else { return };
        let entry = self.runs.entry(run_id.to_string()).or_insert_with(|| RunRef {
            trace,
            turn: parent.unwrap_or(span),
            harness: None,
            run: None,
            model: None,
            attempt: 0,
            touched_ms: now,
        });
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
                let i = first(&session.turns, |t| t.run_id.is_none() && !t.steered)?;
                session.turns[i].steered = true;
                i
            }
            EventKind::MessageQueued => {
                let i = match first(&session.turns, |t| !t.queued) {
                    Some(i) => i,
                    None => open_new_turn(session, &sk, e, None),
                };
                session.turns[i].queued = true;
                i
            }
            EventKind::MessageDispatchStarted => {
                let i = first(&session.turns, |t| !t.dispatching)?;
                session.turns[i].dispatching = true;
                i
            }
            EventKind::SessionTurnCreated => {
                let run_id = e.str("runId")?.to_string();
                let i = first(&session.turns, |t| t.run_id.is_none() && !t.steered)?;
                bind_run(&mut self.runs, session, i, &run_id, now);
                i
            }
            EventKind::MessageDispatchCompleted | EventKind::MessageProcessed => {
                let by_id =
                    message_id.as_ref().and_then(|m| first(&session.turns, |t| t.message_id.as_ref() == Some(m)));
                let injected = e.str("reason") == Some("active_run_injected");
                let i = by_id
                    .or_else(|| first(&session.turns, |t| !t.dispatch_done && (t.run_id.is_none() == injected)))
                    .or_else(|| first(&session.turns, |t| !t.dispatch_done))?;
                session.turns[i].dispatch_done = true;
                if kind == EventKind::MessageProcessed {
                    let t = session.turns.remove(i);
                    return Some(Placement { trace_id: t.trace, span_id: t.root, parent: None, correlated: true });
                }
                i
            }
            _ => session.turns.len().checked_sub(1)?,
        };
        let t = &session.turns[idx];
        Some(Placement { trace_id: t.trace, span_id: t.root, parent: None, correlated: true })
    }

    fn place_session_event(&mut self, sk: &str, now: f64) -> Option<Placement> {
        let session = self.sessions.get_mut(sk)?;
        session.touched_ms = now;
        if let Some(t) = session.turns.iter().find(|t| t.run_id.is_some()).or(session.turns.last()) {
            return Some(Placement { trace_id: t.trace, span_id: t.root, parent: None, correlated: true });
        }
        let run = self.runs.get(session.last_run.as_deref()?)?;
        Some(Placement { trace_id: run.trace, span_id: run.turn, parent: None, correlated: true })
    }

    fn place_usage(&mut self, e: &Event) -> Option<Placement> {
        let sk = e.str("sessionKey")?;
        let session = self.sessions.get_mut(sk)?;
        session.touched_ms = e.arrived_ms;
        let run_id = session.last_run.clone()?;
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
            let session = self.sessions.entry(sk.to_string()).or_default();
            session.touched_ms = now;
            if let Some(i) = first(&session.turns, |t| t.run_id.is_none() && !t.steered && t.queued) {
                bind_run(&mut self.runs, session, i, run_id, now);
                return;
            }
            session.last_run = Some(run_id.to_string());
        }
        let trace = ids::trace_id(&["run", &e.pid.to_string(), run_id]);
        let turn = ids::span_id(&trace, &["turn"]);
        self.runs.insert(
            run_id.to_string(),
            RunRef { trace, turn, harness: None, run: None, model: None, attempt: 0, touched_ms: now },
        );
    }
}

fn first(turns: &[TurnRef], pred: impl Fn(&TurnRef) -> bool) -> Option<usize> {
    turns.iter().position(pred)
}

/// Opens a message turn; its ids derive from the opening event (process, seq), so a replay gives the same ids.
fn open_new_turn(session: &mut SessionState, sk: &str, e: &Event, message_id: Option<String>) -> usize {
    let seq = e.seq.map(|s| s.to_string()).unwrap_or_else(|| format!("{}", e.ts_ms));
    let trace = ids::trace_id(&["turn", &e.pid.to_string(), &seq, sk, message_id.as_deref().unwrap_or("")]);
    session.turns.push(TurnRef {
        trace,
        root: ids::span_id(&trace, &["turn"]),
        message_id,
        run_id: None,
        queued: false,
        dispatching: false,
        steered: false,
        dispatch_done: false,
    });
    session.turns.len() - 1
}

fn bind_run(runs: &mut HashMap<String, RunRef>, session: &mut SessionState, i: usize, run_id: &str, now: f64) {
    let t = &mut session.turns[i];
    t.run_id = Some(run_id.to_string());
    session.last_run = Some(run_id.to_string());
    runs.insert(
        run_id.to_string(),
        RunRef { trace: t.trace, turn: t.root, harness: None, run: None, model: None, attempt: 0, touched_ms: now },
    );
}

fn id_string(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Tool call ids are only unique within a run (a fake or local provider repeats `call_1`): key them by run.
pub fn tool_key_of(e: &Event) -> Option<String> {
    let call = e.id("toolCallId").or_else(|| e.data_str("toolCallId"))?;
    Some(match e.id("runId") {
        Some(run) => format!("{run}\u{1}{call}"),
        None => call.to_string(),
    })
}
