//! The ingest adapter for OpenClaw releases before trusted diagnostics (before 2026.4.24), `Config.legacyHost`.
//!
//! Their diagnostic bus has message, session, lane and usage events but no run, model-call or tool events and no
//! trace context. What those events would have said is rebuilt here from what such hosts do report, as the same
//! internal events a current host produces (diagnostic events without trace context), which the assembler then
//! correlates like any other (`runId` → run, `toolCallId` → tool). The assembler sees only translated events:
//! [`LegacyHost::translate`] sits between the reorder step and assembly.
//!
//! ```text
//!   agent `lifecycle` start / end / error      → harness.run.started + run.started / …completed (one per attempt)
//!   hook `before_tool_call` / `after_tool_call` → tool.execution.started / .completed / .error
//!   hook `llm_output` (usage of the run)       → model.usage (the HTTP path of these hosts reports none)
//!   the agent loop's edges (lifecycle, tools)   → model.call.started / .completed / .error (`calls.rs`)
//!   hook `agent_end` answers, `llm_output`      → each call's usage (`calls.rs`)
//!   last attempt failed, at the end of the run → an agent `lifecycle` error event (marks the turn failed; earlier
//!                                                failed attempts that were retried successfully do not)
//! ```
//!
//! Follow-ups: these hosts answer a message that arrives while its session is busy with an immediate
//! `message.processed` (it only went into the follow-up queue) and run it later as a run of its own, with a new
//! runId and no message events. Taken as is, that `message.processed` would close the busy turn instead, and the
//! later run would become a trace of its own. So it is held back here, the next run that starts in the session is
//! the queued message's run, and the held event is handed over when that run ends (or after [`HOLD_MS`] of event
//! time at the latest). Events reach this point already in `seq` order, so holding one back delays nothing else.
//!
//! Every step is O(1) amortised (an `agent_end` costs its message list); state is bounded ([`MAX_RUNS`] runs,
//! sessions and held events; calls and tools per run in `calls.rs`).

mod calls;
mod lru;

use std::collections::VecDeque;

use serde_json::{Map, Value};

use super::{Event, EventKind, Fields, Source};
use calls::{CallEvent, Calls};
use lru::Lru;

/// Runs (and sessions, and session → run bindings) remembered at once; the least recently touched go first.
pub const MAX_RUNS: usize = 4096;
/// Follow-up `message.processed` events held back at once; beyond it they pass through unheld.
pub const MAX_HELD: usize = 4096;
/// A held follow-up `message.processed` is handed over after this long (event time) at the latest.
pub const HOLD_MS: f64 = 120_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    None,
    Start,
    End,
    Error,
}

/// Ids learnt about a run from its events and hook contexts.
#[derive(Default)]
struct Ids {
    session_key: Option<String>,
    session_id: Option<String>,
    agent_id: Option<String>,
    channel: Option<String>,
    trigger: Option<String>,
    provider: Option<String>,
    model: Option<String>,
}

struct Run {
    run_id: String,
    attempt: u32,
    open: bool,
    last_phase: Phase,
    last_error: Option<String>,
    error_reported: bool,
    first_start: Option<f64>,
    ids: Ids,
    /// The follow-up `message.processed` this run answers, handed over when it ends.
    followup: Option<Event>,
    /// Its model calls, rebuilt from the agent loop (`calls.rs`).
    calls: Calls,
    /// The `llm_input` of the attempt about to start, handed over once it started.
    prompt: Option<Event>,
}

#[derive(Default)]
struct Session {
    active: Option<String>,
    /// Follow-up `message.processed` events held back, oldest first, with their event time.
    held: VecDeque<(Event, f64)>,
}

/// Translates a legacy host's agent lifecycle events and hooks into diagnostic events (see the module docs).
pub struct LegacyHost {
    runs: Lru<Run>,
    /// sessionId / sessionKey → runId (`agent_end` carries no runId).
    by_session: Lru<String>,
    sessions: Lru<Session>,
    held: usize,
}

impl Default for LegacyHost {
    fn default() -> Self {
        LegacyHost {
            runs: Lru::new(MAX_RUNS),
            by_session: Lru::new(2 * MAX_RUNS),
            sessions: Lru::new(MAX_RUNS),
            held: 0,
        }
    }
}

fn str_of<'a>(m: &'a Fields, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// JavaScript truthiness, for `payload.error`.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(_) => true,
    }
}

/// The first `max` characters of `s`.
fn chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A diagnostic (or agent) event made up here: no `seq`, no trace context.
fn synthetic(src: Source, like: &Event, kind: EventKind, ts: f64, fields: Map<String, Value>) -> Event {
    Event {
        src,
        pid: like.pid,
        arrived_ms: like.arrived_ms,
        trusted: false,
        kind,
        seq: None,
        ts_ms: ts,
        trace: None,
        fields: fields.into(),
        ctx: Fields::new(),
        bad_trace: false,
        derived: true,
    }
}

/// A held event handed over at `ts` (its end is when its run ended).
fn released(mut e: Event, ts: f64) -> Event {
    e.seq = None;
    e.fields.remove("seq");
    if ts > e.ts_ms {
        e.ts_ms = ts;
        e.arrived_ms = e.arrived_ms.max(ts);
        if let Some(n) = serde_json::Number::from_f64(ts) {
            e.fields.insert("ts", Value::Number(n));
        }
    }
    e
}

impl Run {
    fn new(run_id: &str) -> Self {
        Run {
            run_id: run_id.to_string(),
            attempt: 0,
            open: false,
            last_phase: Phase::None,
            last_error: None,
            error_reported: false,
            first_start: None,
            ids: Ids::default(),
            followup: None,
            calls: Calls::default(),
            prompt: None,
        }
    }

    fn learn(&mut self, src: &Fields) {
        let ids = &mut self.ids;
        for (key, slot) in [
            ("sessionKey", &mut ids.session_key),
            ("sessionId", &mut ids.session_id),
            ("agentId", &mut ids.agent_id),
            ("channelId", &mut ids.channel),
            ("trigger", &mut ids.trigger),
            ("provider", &mut ids.provider),
            ("model", &mut ids.model),
        ] {
            if let Some(v) = str_of(src, key) {
                if slot.as_deref() != Some(v) {
                    *slot = Some(v.to_string());
                }
            }
        }
    }

    /// What the run holds back, handed over as it is forgotten: its follow-up message, a prompt whose attempt never
    /// started.
    fn hand_over(&mut self, held: &mut usize, now: f64, out: &mut Vec<Event>) {
        if let Some(f) = self.followup.take() {
            *held -= 1;
            out.push(released(f, now));
        }
        out.extend(self.prompt.take());
    }

    /// The model-call events `calls.rs` decided on, as diagnostic events of this run.
    fn emit_calls(&self, like: &Event, calls: Vec<CallEvent>, out: &mut Vec<Event>) {
        for c in calls {
            let mut f = self.base(c.kind, c.ts);
            f.insert("callId".into(), Value::String(c.call_id));
            f.extend(c.fields);
            out.push(synthetic(Source::Diagnostic, like, c.kind, c.ts, f));
        }
    }

    /// An agent `lifecycle` event of this run, made up: `phase` with OpenClaw's `error` text.
    fn lifecycle(&self, like: &Event, ts: f64, phase: &str, error: &str) -> Event {
        let mut f = Map::new();
        f.insert("runId".into(), Value::String(self.run_id.clone()));
        f.insert("stream".into(), Value::String(EventKind::AgentLifecycle.name().into()));
        if let Some(n) = serde_json::Number::from_f64(ts) {
            f.insert("ts".into(), Value::Number(n));
        }
        let mut data = Map::new();
        data.insert("phase".into(), Value::String(phase.into()));
        data.insert("error".into(), Value::String(error.into()));
        f.insert("data".into(), Value::Object(data));
        if let Some(sk) = &self.ids.session_key {
            f.insert("sessionKey".into(), Value::String(sk.clone()));
        }
        synthetic(Source::Agent, like, EventKind::AgentLifecycle, ts, f)
    }

    /// The fields every event of the run carries.
    fn base(&self, kind: EventKind, ts: f64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(kind.name().into()));
        m.insert("runId".into(), Value::String(self.run_id.clone()));
        if let Some(n) = serde_json::Number::from_f64(ts) {
            m.insert("ts".into(), Value::Number(n));
        }
        let ids = &self.ids;
        for (key, v) in [
            ("sessionKey", &ids.session_key),
            ("sessionId", &ids.session_id),
            ("agentId", &ids.agent_id),
            ("channel", &ids.channel),
            ("trigger", &ids.trigger),
            ("provider", &ids.provider),
            ("model", &ids.model),
        ] {
            if let Some(v) = v {
                m.insert(key.into(), Value::String(v.clone()));
            }
        }
        m
    }
}

impl LegacyHost {
    /// Events held back (tests, diagnostics).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Translates one host event (in `seq` order) into the events the assembler takes, appended to `out` in the
    /// order to assemble them: first what the translation made up (a hook's content then annotates the tool span
    /// its translation opened), then the event itself — unless it was consumed (agent `lifecycle` events) or held
    /// back (a follow-up's `message.processed`, handed over later by this call, [`Self::expire`] or
    /// [`Self::flush`]). Returns `true` when the event was consumed: what it meant is in the derived events.
    pub fn translate(&mut self, e: Event, out: &mut Vec<Event>) -> bool {
        match e.src {
            Source::Diagnostic => out.extend(self.diagnostic(e)),
            Source::Agent => {
                self.agent(&e, out);
                if e.kind == EventKind::AgentLifecycle {
                    return true;
                }
                out.push(e);
            }
            Source::Hook => {
                self.hook(&e, out);
                if e.kind == EventKind::HookLlmInput {
                    if let Some(r) = e.id("runId").and_then(|id| self.runs.get_mut(id)).filter(|r| !r.open) {
                        // The prompt comes just before the lifecycle start that opens its attempt: it waits for it,
                        // so that it annotates the attempt's first call (`assemble/content.rs`).
                        out.extend(r.prompt.replace(e));
                        return false;
                    }
                }
                out.push(e);
            }
        }
        false
    }

    /// A diagnostic event from the host. Returns it back unless it is a follow-up's `message.processed`, which is
    /// held (see the module docs) and handed over later through `out`.
    fn diagnostic(&mut self, e: Event) -> Option<Event> {
        if e.kind != EventKind::MessageProcessed || self.held >= MAX_HELD {
            return Some(e);
        }
        let Some(sk) = e.str("sessionKey").map(str::to_string) else { return Some(e) };
        let id = match e.fields.get("messageId") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let Some(active) = self.sessions.get(&sk).and_then(|s| s.active.clone()) else { return Some(e) };
        // Its own run is the active one (chat.send: messageId = runId), or a run it names: a real completion.
        if id.as_deref().is_some_and(|id| id == active || self.runs.get(id).is_some()) {
            return Some(e);
        }
        let at = e.ts_ms;
        self.sessions.get_mut(&sk).expect("looked up above").held.push_back((e, at));
        self.held += 1;
        None
    }

    /// Hands over held events older than [`HOLD_MS`] at event time `now`.
    pub fn expire(&mut self, now: f64, out: &mut Vec<Event>) {
        if self.held == 0 {
            return;
        }
        for s in self.sessions.values_mut() {
            while s.held.front().is_some_and(|(_, at)| now - at >= HOLD_MS) {
                let (e, _) = s.held.pop_front().expect("non-empty");
                self.held -= 1;
                out.push(released(e, now));
            }
        }
    }

    /// Hands over everything held back (shutdown).
    pub fn flush(&mut self, now: f64, out: &mut Vec<Event>) {
        for r in self.runs.values_mut() {
            r.hand_over(&mut self.held, now, out);
        }
        for s in self.sessions.values_mut() {
            while let Some((e, _)) = s.held.pop_front() {
                self.held -= 1;
                out.push(released(e, now));
            }
        }
    }

    /// The run `run_id`, created if new; a run or session evicted to make room hands over what it held.
    fn run(&mut self, run_id: &str, now: f64, out: &mut Vec<Event>) -> &mut Run {
        if let Some(mut old) = self.runs.touch(run_id, || Run::new(run_id)) {
            old.hand_over(&mut self.held, now, out);
        }
        self.runs.get_mut(run_id).expect("touched above")
    }

    fn learn(&mut self, run_id: &str, srcs: &[&Fields]) {
        let Some(r) = self.runs.get_mut(run_id) else { return };
        for s in srcs {
            r.learn(s);
        }
        let keys: Vec<String> = [&r.ids.session_id, &r.ids.session_key].into_iter().flatten().cloned().collect();
        for k in keys {
            self.by_session.touch(&k, String::new);
            if let Some(slot) = self.by_session.get_mut(&k) {
                if slot != run_id {
                    *slot = run_id.to_string();
                }
            }
        }
    }

    fn session(&mut self, sk: &str, now: f64, out: &mut Vec<Event>) -> &mut Session {
        if let Some(old) = self.sessions.touch(sk, Session::default) {
            for (e, _) in old.held {
                self.held -= 1;
                out.push(released(e, now));
            }
        }
        self.sessions.get_mut(sk).expect("touched above")
    }

    fn end_attempt(r: &mut Run, like: &Event, ts: f64, outcome: &str, error: Option<&str>, out: &mut Vec<Event>) {
        if !r.open {
            return;
        }
        r.open = false;
        for kind in [EventKind::RunCompleted, EventKind::HarnessRunCompleted] {
            let mut f = r.base(kind, ts);
            f.insert("outcome".into(), Value::String(outcome.into()));
            if let Some(err) = error {
                f.insert("error".into(), Value::String(err.into()));
            }
            out.push(synthetic(Source::Diagnostic, like, kind, ts, f));
        }
    }

    /// The run is over: its follow-up message is handed over, and its final failure reported if the last
    /// attempt failed.
    fn finish(&mut self, run_id: &str, like: &Event, ts: f64, out: &mut Vec<Event>) {
        let Some(r) = self.runs.get_mut(run_id) else { return };
        let sk = r.ids.session_key.clone();
        let followup = r.followup.take();
        let mut error = None;
        if r.last_phase == Phase::Error && !r.error_reported {
            r.error_reported = true;
            let text = r.last_error.clone().unwrap_or_else(|| "agent run failed".into());
            error = Some(r.lifecycle(like, ts, "error", &text));
        }
        if let Some(s) = sk.as_deref().and_then(|sk| self.sessions.get_mut(sk)) {
            if s.active.as_deref() == Some(run_id) {
                s.active = None;
            }
        }
        if let Some(f) = followup {
            self.held -= 1;
            out.push(released(f, ts));
        }
        out.extend(error);
    }

    /// An agent event. Only `lifecycle` events are read; they are consumed (the final failure is reported at the
    /// end of the run, see the module docs).
    fn agent(&mut self, e: &Event, out: &mut Vec<Event>) {
        if e.kind == EventKind::AgentTool {
            // Content capture on: the agent stream's tool events mark the tool rounds first.
            let (Some(run_id), Some(tool)) = (e.str("runId"), e.data_str("toolCallId").or(e.data_str("name"))) else {
                return;
            };
            let ts = e.ts_ms;
            match e.data_str("phase") {
                Some("start") => self.tool_edge(run_id, tool, true, e, ts, out),
                Some("result") => self.tool_edge(run_id, tool, false, e, ts, out),
                _ => {}
            }
            return;
        }
        if e.kind != EventKind::AgentLifecycle {
            return;
        }
        let Some(run_id) = e.str("runId").map(str::to_string) else { return };
        let ts = e.ts_ms;
        self.expire(ts, out);
        self.run(&run_id, ts, out);
        self.learn(&run_id, &[&e.fields]);
        match e.data_str("phase") {
            Some("start") => {
                let r = self.runs.get_mut(&run_id).expect("created above");
                Self::end_attempt(r, e, ts, "aborted", None, out);
                let first = r.first_start.is_none();
                let sk = r.ids.session_key.clone();
                if let (true, Some(sk)) = (first, sk) {
                    // A new run in a session with held follow-ups: it is the oldest one's run.
                    let s = self.session(&sk, ts, out);
                    let followup = s.held.pop_front().map(|(e, _)| e);
                    s.active = Some(run_id.clone());
                    self.runs.get_mut(&run_id).expect("created above").followup = followup;
                }
                let r = self.runs.get_mut(&run_id).expect("created above");
                r.first_start.get_or_insert(ts);
                r.attempt += 1;
                r.open = true;
                r.last_phase = Phase::Start;
                r.error_reported = false;
                for kind in [EventKind::HarnessRunStarted, EventKind::RunStarted] {
                    out.push(synthetic(Source::Diagnostic, e, kind, ts, r.base(kind, ts)));
                }
                let mut calls = Vec::new();
                r.calls.segment_started(&run_id, ts, &mut calls);
                r.emit_calls(e, calls, out);
                // Its time is the hook's arrival, a moment after the start it preceded: the attempt's first call.
                out.extend(r.prompt.take().map(|mut p| {
                    p.ts_ms = p.ts_ms.min(ts);
                    p
                }));
            }
            Some("end") => {
                let r = self.runs.get_mut(&run_id).expect("created above");
                r.last_phase = Phase::End;
                let mut calls = Vec::new();
                r.calls.segment_ended(ts, false, &mut calls);
                r.emit_calls(e, calls, out);
                let aborted = e.data().and_then(|d| d.get("aborted")) == Some(&Value::Bool(true));
                Self::end_attempt(r, e, ts, if aborted { "aborted" } else { "completed" }, None, out);
            }
            Some("error") => {
                let err = e.data_str("error").map(|s| chars(s, 512)).unwrap_or_else(|| "agent run failed".into());
                let r = self.runs.get_mut(&run_id).expect("created above");
                r.last_phase = Phase::Error;
                r.last_error = Some(err.clone());
                let mut calls = Vec::new();
                if r.calls.segment_ended(ts, true, &mut calls) {
                    r.emit_calls(e, calls, out);
                    // The cause lands on the call that failed, as a current host's `finishing` event puts it there
                    // (`assemble/annotate.rs`): a failed attempt that is retried does not fail the turn.
                    out.push(r.lifecycle(e, ts, "finishing", &err));
                }
                Self::end_attempt(r, e, ts, "error", Some(&err), out);
            }
            _ => {}
        }
    }

    /// A tool of `run_id` started or ended (agent stream or hook, whichever comes first): a model call ends or
    /// begins (`calls.rs`).
    fn tool_edge(&mut self, run_id: &str, tool: &str, started: bool, like: &Event, ts: f64, out: &mut Vec<Event>) {
        let Some(r) = self.runs.get_mut(run_id) else { return };
        let mut calls = Vec::new();
        if started {
            r.calls.tool_started(tool, ts, &mut calls);
        } else {
            r.calls.tool_ended(run_id, tool, ts, &mut calls);
        }
        r.emit_calls(like, calls, out);
    }

    /// A plugin hook call (`e.fields` is the payload, `e.ctx` the hook context).
    fn hook(&mut self, e: &Event, out: &mut Vec<Event>) {
        let now = e.ts_ms;
        let name = e.kind;
        let is_tool_hook = matches!(name, EventKind::HookBeforeToolCall | EventKind::HookAfterToolCall);
        match name {
            EventKind::HookLlmInput
            | EventKind::HookBeforeToolCall
            | EventKind::HookAfterToolCall
            | EventKind::HookLlmOutput => {
                let Some(run_id) = e.id("runId").map(str::to_string) else { return };
                self.run(&run_id, now, out);
                if is_tool_hook {
                    self.learn(&run_id, &[&e.ctx]);
                } else {
                    self.learn(&run_id, &[&e.ctx, &e.fields]);
                }
                let r = self.runs.get(&run_id).expect("created above");
                match name {
                    EventKind::HookBeforeToolCall | EventKind::HookAfterToolCall => {
                        let kind = match (name, truthy(e.fields.get("error"))) {
                            (EventKind::HookBeforeToolCall, _) => EventKind::ToolExecutionStarted,
                            (_, true) => EventKind::ToolExecutionError,
                            _ => EventKind::ToolExecutionCompleted,
                        };
                        let mut f = r.base(kind, now);
                        for key in ["toolName", "toolCallId"] {
                            if let Some(v) = e.fields.get(key).or_else(|| e.ctx.get(key)).and_then(Value::as_str) {
                                f.insert(key.into(), Value::String(v.into()));
                            }
                        }
                        if name == EventKind::HookAfterToolCall {
                            if let Some(d) = e.fields.get("durationMs").filter(|v| v.is_number()) {
                                f.insert("durationMs".into(), d.clone());
                            }
                            if kind == EventKind::ToolExecutionError {
                                f.insert("errorCategory".into(), Value::String("tool_error".into()));
                            }
                        }
                        let tool =
                            f.get("toolCallId").or(f.get("toolName")).and_then(Value::as_str).map(str::to_string);
                        let started = name == EventKind::HookBeforeToolCall;
                        let mut tool_event = Some(synthetic(Source::Diagnostic, e, kind, now, f));
                        // The call that asked for the tool ends before it; the next begins after the round.
                        if !started {
                            out.extend(tool_event.take());
                        }
                        if let Some(tool) = tool {
                            self.tool_edge(&run_id, &tool, started, e, now, out);
                        }
                        out.extend(tool_event);
                    }
                    EventKind::HookLlmOutput => {
                        if let Some(u) = e.obj("usage") {
                            let mut calls = Vec::new();
                            self.runs.get_mut(&run_id).expect("created above").calls.attempt_usage(u, &mut calls);
                            let r = self.runs.get(&run_id).expect("created above");
                            r.emit_calls(e, calls, out);
                            let mut usage = Map::new();
                            for k in ["input", "output", "cacheRead", "cacheWrite", "total"] {
                                if let Some(v) = u.get(k).filter(|v| v.is_number()) {
                                    usage.insert(k.into(), v.clone());
                                }
                            }
                            // model.usage never carries a runId: the assembler binds it through the session.
                            let mut f = r.base(EventKind::ModelUsage, now);
                            f.remove("runId");
                            f.insert("usage".into(), Value::Object(usage));
                            if let Some(d) =
                                r.first_start.filter(|s| now >= *s).and_then(|s| serde_json::Number::from_f64(now - s))
                            {
                                f.insert("durationMs".into(), Value::Number(d));
                            }
                            out.push(synthetic(Source::Diagnostic, e, EventKind::ModelUsage, now, f));
                        }
                        self.finish(&run_id, e, now, out);
                        if let Some(mut r) = self.runs.remove(&run_id) {
                            r.hand_over(&mut self.held, now, out);
                        }
                    }
                    _ => {}
                }
            }
            EventKind::HookAgentEnd => {
                let run_id = str_of(&e.ctx, "sessionId")
                    .and_then(|k| self.by_session.get(k))
                    .or_else(|| str_of(&e.ctx, "sessionKey").and_then(|k| self.by_session.get(k)))
                    .cloned();
                if let Some(run_id) = run_id {
                    if let (Some(Value::Array(messages)), Some(r)) =
                        (e.fields.get("messages"), self.runs.get_mut(&run_id))
                    {
                        let mut calls = Vec::new();
                        r.calls.answers(messages, &mut calls);
                        r.emit_calls(e, calls, out);
                    }
                    self.finish(&run_id, e, now, out);
                }
            }
            _ => {}
        }
    }
}
