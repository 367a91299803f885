//! The one catalogue of OpenClaw events: every diagnostic type, agent stream and hook clawtrace knows, with its
//! class, how it finds its span when it carries no trace context, and what it does to that span. Parsed once at
//! decode into an [`EventKind`]; nothing downstream compares event names. `docs/ARCHITECTURE.md` explains the
//! columns; the handlers named in the last column live in `assemble/apply.rs` (diagnostic events) and
//! `assemble/annotate.rs` (agent events and hooks).
//!
//! A type missing here is counted (`skipped_unknown_type`) and skipped. A new member of a known family (a row whose
//! name ends in `.*`) is treated like its siblings without a handler of its own, so a newer OpenClaw that adds,
//! say, `session.paused` still lands on the turn.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::Source;
use crate::id_hash::IdHash;

/// What an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Messages, runs, model calls, tools: a trace with any of these is a turn worth exporting.
    AgentWork,
    /// Placed on a span and recorded there, but alone never makes a trace worth exporting (session state, lanes,
    /// logs, RPCs, security events).
    Context,
    /// Process-level samples and signals: never a span, counted as `skipped_infra_event`.
    Infra,
    /// Agent events and hooks that always annotate their span (the run's end and failure), content or not.
    Lifecycle,
    /// Agent events and hooks that carry conversation content: used only with `captureContent`.
    Content,
    /// Known, recorded by the plugin, but not used: counted as `skipped_unknown_type` once placed.
    Ignored,
    /// Not in this catalogue.
    Unknown,
}

/// Which span an agent event or hook annotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The turn root.
    Turn,
    /// The run's current model call (else its run, else the turn).
    Model,
    /// The tool span its `toolCallId` names (else the turn).
    Tool,
}

/// How an event without OpenClaw's trace context finds its span (`assemble/correlate.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correlation {
    /// Message flow: the session's turns, first in first out.
    Message,
    /// `model.usage` (no runId): the session's last run.
    Usage,
    /// By `runId`; an event without one belongs nowhere.
    Run,
    /// By `runId`, else by `sessionKey` (or a `session:<key>` lane) to the session's active turn.
    RunOrSession,
    /// An annotation (agent event, hook): through the indices that placed diagnostic events.
    Annotates(Target),
    /// Never placed.
    Never,
}

/// One row of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub kind: EventKind,
    pub source: Source,
    /// The `type` (diagnostic), `stream` (agent) or hook name; `prefix.*` rows stand for a family.
    pub name: &'static str,
    pub class: Class,
    pub correlation: Correlation,
    /// What it does to its span.
    pub effect: &'static str,
}

macro_rules! catalogue {
    ($( $kind:ident: $src:ident $name:literal, $class:ident, $corr:expr, $effect:literal; )*) => {
        /// An event's kind, parsed once at decode from its source and name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind { $( $kind, )* }

        /// Every row, in [`EventKind`] order (`CATALOGUE[kind as usize].kind == kind`).
        pub const CATALOGUE: &[Entry] = &[ $( Entry {
            kind: EventKind::$kind,
            source: Source::$src,
            name: $name,
            class: Class::$class,
            correlation: $corr,
            effect: $effect,
        }, )* ];
    };
}

use Correlation::{Annotates, Message, Never, Run, RunOrSession, Usage};

catalogue! {
    // ---- diagnostic events: message flow (root span of a chat turn) ----------------------------------------------
    MessageReceived: Diagnostic "message.received", AgentWork, Message, "opens the turn root (openclaw.message)";
    MessageQueued: Diagnostic "message.queued", AgentWork, Message, "opens the turn root if nothing did; marks steering";
    MessageDispatchStarted: Diagnostic "message.dispatch.started", AgentWork, Message, "copies ids to the root";
    MessageDispatchCompleted: Diagnostic "message.dispatch.completed", AgentWork, Message, "outcome and dispatch time";
    MessageProcessed: Diagnostic "message.processed", AgentWork, Message, "ends the root and closes the trace";
    MessageOther: Diagnostic "message.*", AgentWork, Message, "placed on the session's latest turn";
    SessionTurnCreated: Diagnostic "session.turn.created", AgentWork, Message, "binds the run to the turn; ids";
    SessionState: Diagnostic "session.state", Context, RunOrSession, "idle ends an undescribed HTTP root";
    SessionOther: Diagnostic "session.*", Context, Run, "placed (extent only)";
    QueueLaneDequeue: Diagnostic "queue.lane.dequeue", Context, RunOrSession, "adds waitMs to openclaw.queue.wait_ms";
    QueueLaneOther: Diagnostic "queue.lane.*", Context, RunOrSession, "placed on the turn";
    // ---- diagnostic events: runs, model calls, tools ---------------------------------------------------------------
    HarnessRunStarted: Diagnostic "harness.run.started", AgentWork, Run, "opens a harness attempt";
    HarnessRunCompleted: Diagnostic "harness.run.completed", AgentWork, Run, "ends the attempt (a root one closes)";
    HarnessRunError: Diagnostic "harness.run.error", AgentWork, Run, "ends the attempt failed";
    HarnessRunOther: Diagnostic "harness.run.*", AgentWork, Run, "placed on the attempt";
    RunStarted: Diagnostic "run.started", AgentWork, Run, "opens a run";
    RunCompleted: Diagnostic "run.completed", AgentWork, Run, "ends the run with its outcome";
    RunExecutionPhase: Diagnostic "run.execution_phase", Context, Run, "a phase.<name> span event";
    RunOther: Diagnostic "run.*", Context, Run, "placed on the attempt";
    ContextAssembled: Diagnostic "context.assembled", AgentWork, Run, "a point span: prompt assembly sizes";
    ModelCallStarted: Diagnostic "model.call.started", AgentWork, Run, "opens a model call (chat <model>)";
    ModelCallCompleted: Diagnostic "model.call.completed", AgentWork, Run, "ends the call with usage";
    ModelCallError: Diagnostic "model.call.error", AgentWork, Run, "ends the call failed";
    ModelCallOther: Diagnostic "model.call.*", AgentWork, Run, "placed on the call";
    ModelUsage: Diagnostic "model.usage", AgentWork, Usage, "a point span: the run's aggregated usage";
    ModelOther: Diagnostic "model.*", AgentWork, Run, "placed on the attempt";
    ToolExecutionStarted: Diagnostic "tool.execution.started", AgentWork, Run, "opens a tool span";
    ToolExecutionCompleted: Diagnostic "tool.execution.completed", AgentWork, Run, "ends the tool span";
    ToolExecutionError: Diagnostic "tool.execution.error", AgentWork, Run, "ends the tool span failed";
    ToolExecutionBlocked: Diagnostic "tool.execution.blocked", AgentWork, Run, "ends the tool span failed";
    ToolExecutionOther: Diagnostic "tool.execution.*", AgentWork, Run, "ends the tool span failed";
    // ---- diagnostic events: known, placed, nothing of their own ----------------------------------------------------
    LogRecord: Diagnostic "log.record", Context, Run, "error class and provider status of a failure";
    GatewayRpc: Diagnostic "gateway.rpc", Context, Run, "placed (extent only)";
    SecurityEvent: Diagnostic "security.event", Context, Run, "placed (extent only)";
    SkillUsed: Diagnostic "skill.used", Context, Run, "placed (extent only)";
    TalkEvent: Diagnostic "talk.event", Context, Run, "placed (extent only)";
    ToolLoop: Diagnostic "tool.loop", Context, Run, "placed (extent only)";
    WebhookAny: Diagnostic "webhook.*", Context, Run, "placed (extent only)";
    ExecAny: Diagnostic "exec.*", Context, Run, "placed (extent only)";
    McpAny: Diagnostic "mcp.*", Context, Run, "placed (extent only)";
    // ---- diagnostic events: infrastructure, never spans ------------------------------------------------------------
    DiagnosticHeartbeat: Diagnostic "diagnostic.heartbeat", Infra, Never, "counted";
    DiagnosticGc: Diagnostic "diagnostic.gc", Infra, Never, "counted";
    DiagnosticMemorySample: Diagnostic "diagnostic.memory.sample", Infra, Never, "counted";
    DiagnosticMemoryPressure: Diagnostic "diagnostic.memory.pressure", Infra, Never, "counted";
    DiagnosticPhaseCompleted: Diagnostic "diagnostic.phase.completed", Infra, Never, "counted";
    DiagnosticChildProcessSpawn: Diagnostic "diagnostic.child_process.spawn", Infra, Never, "counted";
    DiagnosticLivenessWarning: Diagnostic "diagnostic.liveness.warning", Infra, Never, "counted";
    DiagnosticAsyncQueueDropped: Diagnostic "diagnostic.async_queue.dropped", Infra, Never, "counted";
    GatewayEventLoopSample: Diagnostic "gateway.event_loop.sample", Infra, Never, "counted";
    TelemetryExporter: Diagnostic "telemetry.exporter", Infra, Never, "counted";
    PayloadLarge: Diagnostic "payload.large", Infra, Never, "counted";
    UnknownDiagnostic: Diagnostic "", Unknown, Never, "counted as skipped_unknown_type";
    // ---- agent events (`stream`) -----------------------------------------------------------------------------------
    AgentLifecycle: Agent "lifecycle", Lifecycle, Annotates(Target::Turn), "error fails the turn, with its cause; end: its reply";
    AgentAssistant: Agent "assistant", Content, Annotates(Target::Model), "the call's output text";
    AgentTool: Agent "tool", Content, Annotates(Target::Tool), "tool arguments (start) and result";
    AgentUsage: Agent "usage", Ignored, Annotates(Target::Turn), "not used (model.usage is the source)";
    AgentItem: Agent "item", Ignored, Annotates(Target::Turn), "not used";
    AgentRunStatus: Agent "run_status", Ignored, Annotates(Target::Turn), "not used";
    UnknownStream: Agent "", Unknown, Annotates(Target::Turn), "counted as skipped_unknown_type";
    // ---- plugin hooks (name) ---------------------------------------------------------------------------------------
    HookLlmInput: Hook "llm_input", Content, Annotates(Target::Model), "prompt and system prompt";
    HookLlmOutput: Hook "llm_output", Content, Annotates(Target::Model), "the run's assistant texts";
    HookAgentEnd: Hook "agent_end", Lifecycle, Annotates(Target::Turn), "success:false fails the turn; reply";
    HookBeforeToolCall: Hook "before_tool_call", Content, Annotates(Target::Tool), "tool arguments";
    HookAfterToolCall: Hook "after_tool_call", Content, Annotates(Target::Tool), "tool result";
    HookSubagentSpawning: Hook "subagent_spawning", Ignored, Annotates(Target::Turn), "not used";
    HookSubagentSpawned: Hook "subagent_spawned", Ignored, Annotates(Target::Turn), "not used";
    HookSubagentEnded: Hook "subagent_ended", Ignored, Annotates(Target::Turn), "not used";
    UnknownHook: Hook "", Unknown, Annotates(Target::Turn), "counted as skipped_unknown_type";
}

/// The diagnostic types that never become spans (`Infra`), in catalogue order: the plugin drops them before
/// serialising (`plugin/hotpath.mjs`), naming them by their position here (`infra_kind`).
pub fn infra_types() -> impl Iterator<Item = &'static Entry> {
    CATALOGUE.iter().filter(|e| e.source == Source::Diagnostic && e.class == Class::Infra)
}

/// The `n`th of [`infra_types`].
pub fn infra_kind(n: usize) -> Option<EventKind> {
    infra_types().nth(n).map(|e| e.kind)
}

impl EventKind {
    /// The kind of an event named `name` from `src`: an exact row, else the longest family row, else unknown.
    pub fn parse(src: Source, name: &str) -> EventKind {
        // The id hasher, not SipHash: a lookup per event, in a table fixed at start (no input is ever inserted).
        static EXACT: OnceLock<HashMap<(Source, &'static str), EventKind, IdHash>> = OnceLock::new();
        let exact = EXACT.get_or_init(|| {
            CATALOGUE
                .iter()
                .filter(|e| !e.name.is_empty() && !e.name.ends_with(".*"))
                .map(|e| ((e.source, e.name), e.kind))
                .collect()
        });
        if let Some(k) = exact.get(&(src, name)) {
            return *k;
        }
        let family = CATALOGUE
            .iter()
            .filter(|e| e.source == src)
            .filter_map(|e| Some((e, e.name.strip_suffix('*')?)))
            .filter(|(_, prefix)| name.starts_with(prefix))
            .max_by_key(|(_, prefix)| prefix.len());
        match (family, src) {
            (Some((e, _)), _) => e.kind,
            (None, Source::Diagnostic) => EventKind::UnknownDiagnostic,
            (None, Source::Agent) => EventKind::UnknownStream,
            (None, Source::Hook) => EventKind::UnknownHook,
        }
    }

    pub fn entry(self) -> &'static Entry {
        &CATALOGUE[self as usize]
    }

    pub fn class(self) -> Class {
        self.entry().class
    }

    pub fn correlation(self) -> Correlation {
        self.entry().correlation
    }

    /// The catalogue name (a family row's `prefix.*` for its unlisted members).
    pub fn name(self) -> &'static str {
        self.entry().name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_in_kind_order_and_names_unique() {
        let mut seen = std::collections::HashSet::new();
        for (i, e) in CATALOGUE.iter().enumerate() {
            assert_eq!(e.kind as usize, i, "{} out of order", e.name);
            assert!(e.name.is_empty() || seen.insert((e.source, e.name)), "{} twice", e.name);
        }
    }

    #[test]
    fn docs_list_every_row() {
        let doc = include_str!("../../../../docs/ARCHITECTURE.md");
        for e in CATALOGUE.iter().filter(|e| !e.name.is_empty()) {
            assert!(doc.contains(&format!("`{}`", e.name)), "docs/ARCHITECTURE.md lacks {}", e.name);
        }
    }

    #[test]
    fn exact_rows_then_families_then_unknown() {
        assert_eq!(EventKind::parse(Source::Diagnostic, "queue.lane.dequeue"), EventKind::QueueLaneDequeue);
        assert_eq!(EventKind::parse(Source::Diagnostic, "queue.lane.enqueue"), EventKind::QueueLaneOther);
        assert_eq!(EventKind::parse(Source::Diagnostic, "model.call.retry"), EventKind::ModelCallOther);
        assert_eq!(EventKind::parse(Source::Diagnostic, "model.failover"), EventKind::ModelOther);
        assert_eq!(EventKind::parse(Source::Diagnostic, "message.delivery.started"), EventKind::MessageOther);
        assert_eq!(EventKind::parse(Source::Diagnostic, "diagnostic.new_sample"), EventKind::UnknownDiagnostic);
        assert_eq!(EventKind::parse(Source::Diagnostic, "lifecycle"), EventKind::UnknownDiagnostic);
        assert_eq!(EventKind::parse(Source::Agent, "lifecycle"), EventKind::AgentLifecycle);
        assert_eq!(EventKind::parse(Source::Agent, "thinking"), EventKind::UnknownStream);
        assert_eq!(EventKind::parse(Source::Hook, "agent_end"), EventKind::HookAgentEnd);
        assert_eq!(EventKind::parse(Source::Hook, "session_start"), EventKind::UnknownHook);
        assert_eq!(EventKind::QueueLaneDequeue.class(), Class::Context);
        assert_eq!(EventKind::DiagnosticGc.correlation(), Correlation::Never);
    }

    #[test]
    fn infra_types_are_exact_diagnostic_names_that_parse_back() {
        let names: Vec<_> = infra_types().map(|e| e.name).collect();
        assert!(names.contains(&"gateway.event_loop.sample") && names.contains(&"diagnostic.gc"));
        for (i, e) in infra_types().enumerate() {
            // The plugin matches names exactly: a family row here would miss its members.
            assert!(!e.name.is_empty() && !e.name.ends_with('*'), "{}", e.name);
            assert_eq!(EventKind::parse(Source::Diagnostic, e.name), e.kind);
            assert_eq!(infra_kind(i), Some(e.kind));
        }
        assert_eq!(infra_kind(names.len()), None);
    }
}
