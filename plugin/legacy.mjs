// Correlation mode for OpenClaw releases before trusted diagnostics (before 2026.4.24): their diagnostic bus has
// message, session, lane and usage events but no run, model-call or tool events and no trace context. What those
// events would have said is rebuilt here from what such hosts do report, and handed to the addon as diagnostic
// events without trace context, which it correlates like any other (`runId` → run, `toolCallId` → tool):
//
//   agent `lifecycle` start / end / error   → harness.run.started + run.started / …completed (one per attempt)
//   hook `before_tool_call` / `after_tool_call` → tool.execution.started / .completed / .error
//   hook `llm_output` (usage of the run)    → model.usage (the HTTP path of these hosts reports none)
//   last attempt failed, at the end of the run → the agent `lifecycle` error event (marks the turn failed; earlier
//                                              failed attempts that were retried successfully do not)
//
// Individual model calls are not invented: these hosts report none, and the addon turns `model.usage` into the
// turn's LLM summary span. Every step is O(1) on small objects; state is bounded.

const MAX_RUNS = 4096;

/** @param {{diagnostic: (evt: object) => void, agent: (evt: object) => void}} emit */
export function createLegacyAdapter(emit) {
  /** runId → what is known about the run */
  const runs = new Map();
  /** sessionId / sessionKey → runId (agent_end carries no runId) */
  const bySession = new Map();

  const remember = (map, key, value) => {
    if (key == null) return;
    map.delete(key);
    map.set(key, value);
    if (map.size > MAX_RUNS) map.delete(map.keys().next().value);
  };

  function run(runId) {
    let r = runs.get(runId);
    if (!r) {
      r = { runId, attempt: 0, open: false, lastPhase: null, lastError: null, errorReported: false };
      remember(runs, runId, r);
    }
    return r;
  }

  function learn(r, src) {
    if (!src || typeof src !== 'object') return;
    if (typeof src.sessionKey === 'string' && src.sessionKey) r.sessionKey = src.sessionKey;
    if (typeof src.sessionId === 'string' && src.sessionId) r.sessionId = src.sessionId;
    if (typeof src.agentId === 'string' && src.agentId) r.agentId = src.agentId;
    if (typeof src.channelId === 'string' && src.channelId) r.channel = src.channelId;
    if (typeof src.trigger === 'string' && src.trigger) r.trigger = src.trigger;
    if (typeof src.provider === 'string' && src.provider) r.provider = src.provider;
    if (typeof src.model === 'string' && src.model) r.model = src.model;
    remember(bySession, r.sessionId, r.runId);
    remember(bySession, r.sessionKey, r.runId);
  }

  function base(type, r, ts) {
    const e = { type, runId: r.runId, ts };
    if (r.sessionKey) e.sessionKey = r.sessionKey;
    if (r.sessionId) e.sessionId = r.sessionId;
    if (r.agentId) e.agentId = r.agentId;
    if (r.channel) e.channel = r.channel;
    if (r.trigger) e.trigger = r.trigger;
    if (r.provider) e.provider = r.provider;
    if (r.model) e.model = r.model;
    return e;
  }

  function endAttempt(r, ts, outcome, error) {
    if (!r.open) return;
    r.open = false;
    for (const type of ['run.completed', 'harness.run.completed']) {
      const e = base(type, r, ts);
      e.outcome = outcome;
      if (error) e.error = error;
      emit.diagnostic(e);
    }
  }

  /** The run is over: report the final failure, if the last attempt failed. */
  function finish(r, ts) {
    if (r.lastPhase === 'error' && !r.errorReported) {
      r.errorReported = true;
      const e = { runId: r.runId, stream: 'lifecycle', ts, data: { phase: 'error', error: r.lastError ?? 'agent run failed' } };
      if (r.sessionKey) e.sessionKey = r.sessionKey;
      emit.agent(e);
    }
  }

  return {
    /** An agent event (`onAgentEvent`). */
    agent(evt) {
      if (!evt || evt.stream !== 'lifecycle' || typeof evt.runId !== 'string') return;
      const phase = evt.data?.phase;
      const ts = typeof evt.ts === 'number' ? evt.ts : Date.now();
      const r = run(evt.runId);
      learn(r, evt);
      if (phase === 'start') {
        endAttempt(r, ts, 'aborted');
        r.firstStart ??= ts;
        r.attempt += 1;
        r.open = true;
        r.lastPhase = 'start';
        r.errorReported = false;
        emit.diagnostic(base('harness.run.started', r, ts));
        emit.diagnostic(base('run.started', r, ts));
      } else if (phase === 'end') {
        r.lastPhase = 'end';
        endAttempt(r, ts, evt.data?.aborted === true ? 'aborted' : 'completed');
      } else if (phase === 'error') {
        const err = typeof evt.data?.error === 'string' ? evt.data.error.slice(0, 512) : 'agent run failed';
        r.lastPhase = 'error';
        r.lastError = err;
        endAttempt(r, ts, 'error', err);
      }
    },

    /** A plugin hook call. */
    hook(name, payload, ctx) {
      const p = payload && typeof payload === 'object' ? payload : {};
      const c = ctx && typeof ctx === 'object' ? ctx : {};
      const now = Date.now();
      switch (name) {
        case 'llm_input': {
          const runId = p.runId ?? c.runId;
          if (typeof runId !== 'string') return;
          const r = run(runId);
          learn(r, c);
          learn(r, p);
          return;
        }
        case 'before_tool_call':
        case 'after_tool_call': {
          const runId = p.runId ?? c.runId;
          if (typeof runId !== 'string') return;
          const r = run(runId);
          learn(r, c);
          const type = name === 'before_tool_call' ? 'tool.execution.started' : p.error ? 'tool.execution.error' : 'tool.execution.completed';
          const e = base(type, r, now);
          const toolName = p.toolName ?? c.toolName;
          const toolCallId = p.toolCallId ?? c.toolCallId;
          if (typeof toolName === 'string') e.toolName = toolName;
          if (typeof toolCallId === 'string') e.toolCallId = toolCallId;
          if (name === 'after_tool_call') {
            if (typeof p.durationMs === 'number') e.durationMs = p.durationMs;
            if (p.error) e.errorCategory = 'tool_error';
          }
          emit.diagnostic(e);
          return;
        }
        case 'llm_output': {
          const runId = p.runId ?? c.runId;
          if (typeof runId !== 'string') return;
          const r = run(runId);
          learn(r, c);
          learn(r, p);
          const u = p.usage;
          if (u && typeof u === 'object') {
            const usage = {};
            for (const k of ['input', 'output', 'cacheRead', 'cacheWrite', 'total']) if (typeof u[k] === 'number') usage[k] = u[k];
            const e = base('model.usage', r, now);
            delete e.runId; // model.usage never carries one; the addon binds it through the session
            e.usage = usage;
            if (typeof r.firstStart === 'number' && now >= r.firstStart) e.durationMs = now - r.firstStart;
            emit.diagnostic(e);
          }
          finish(r, now);
          runs.delete(runId);
          return;
        }
        case 'agent_end': {
          const runId = bySession.get(c.sessionId) ?? bySession.get(c.sessionKey);
          const r = runId && runs.get(runId);
          if (r) finish(r, now);
          return;
        }
        default:
      }
    },

    /** Open runs (tests, diagnostics). */
    size: () => runs.size,
  };
}
