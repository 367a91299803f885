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
// Follow-ups: these hosts answer a message that arrives while its session is busy with an immediate
// `message.processed` (it only went into the follow-up queue) and run it later as a run of its own, with a new
// runId and no message events. Taken as is, that `message.processed` would close the busy turn instead, and the
// later run would become a trace of its own. So it is held back, the next run that starts in the session is the
// queued message's run, and the held event is handed over when that run ends (or after HOLD_MS at the latest). A
// placeholder takes its place in the host's `seq` order meanwhile (the addon orders events by seq and would otherwise
// wait for the missing number while the events made up here, which have none, go ahead).
//
// Individual model calls are not invented: these hosts report none, and the addon turns `model.usage` into the
// turn's LLM summary span. Every step is O(1) on small objects; state is bounded.

const MAX_RUNS = 4096;
const HOLD_MS = 120_000;

/** @param {{diagnostic: (evt: object) => void, agent: (evt: object) => void}} emit */
export function createLegacyAdapter(emit) {
  /** runId → what is known about the run */
  const runs = new Map();
  /** sessionId / sessionKey → runId (agent_end carries no runId) */
  const bySession = new Map();
  /** sessionKey → the run active in it, and follow-up messages held back: [{evt, at}] */
  const sessions = new Map();
  let held = 0;

  function session(sk) {
    let s = sessions.get(sk);
    if (!s) {
      s = { active: null, held: [] };
      remember(sessions, sk, s);
    }
    return s;
  }

  function release(entry, ts) {
    held -= 1;
    const { seq, ...evt } = entry.evt;
    emit.diagnostic({ ...evt, ts });
  }

  function releaseExpired(now) {
    if (held === 0) return;
    for (const s of sessions.values()) {
      while (s.held.length && now - s.held[0].at >= HOLD_MS) release(s.held.shift(), now);
    }
  }

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
    if (r.sessionKey) {
      const s = sessions.get(r.sessionKey);
      if (s?.active === r.runId) s.active = null;
    }
    if (r.followup) {
      const f = r.followup;
      r.followup = null;
      release(f, ts);
    }
    if (r.lastPhase === 'error' && !r.errorReported) {
      r.errorReported = true;
      const e = { runId: r.runId, stream: 'lifecycle', ts, data: { phase: 'error', error: r.lastError ?? 'agent run failed' } };
      if (r.sessionKey) e.sessionKey = r.sessionKey;
      emit.agent(e);
    }
  }

  return {
    /**
     * A diagnostic event from the host's bus, before it is recorded. Returns false for a follow-up's
     * `message.processed`, which is held back (see above) and handed over later.
     */
    diagnostic(evt) {
      if (evt?.type !== 'message.processed' || typeof evt.sessionKey !== 'string') return true;
      const s = sessions.get(evt.sessionKey);
      const id = evt.messageId == null ? null : String(evt.messageId);
      // Its own run is the active one (chat.send: messageId = runId), or nothing runs: a real completion.
      if (!s?.active || id === s.active || (id !== null && runs.has(id))) return true;
      s.held.push({ evt, at: Date.now() });
      held += 1;
      // Its place in the host's sequence is filled, so the addon, which orders events by seq, does not wait for
      // it while the events made up here (which have no seq) go ahead.
      if (typeof evt.seq === 'number') emit.diagnostic({ type: 'clawtrace.deferred', seq: evt.seq, ts: evt.ts });
      return false;
    },

    /** Hands over everything held back (the plugin stops). */
    flush() {
      const now = Date.now();
      for (const r of runs.values()) if (r.followup) { release(r.followup, now); r.followup = null; }
      for (const s of sessions.values()) while (s.held.length) release(s.held.shift(), now);
    },

    /** An agent event (`onAgentEvent`). */
    agent(evt) {
      if (!evt || evt.stream !== 'lifecycle' || typeof evt.runId !== 'string') return;
      const phase = evt.data?.phase;
      const ts = typeof evt.ts === 'number' ? evt.ts : Date.now();
      const r = run(evt.runId);
      learn(r, evt);
      releaseExpired(ts);
      if (phase === 'start') {
        endAttempt(r, ts, 'aborted');
        if (r.firstStart === undefined && r.sessionKey) {
          // A new run in a session with held follow-ups: it is the oldest one's run.
          const s = session(r.sessionKey);
          if (s.held.length) r.followup = s.held.shift();
          s.active = r.runId;
        }
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

    /** Open runs and held events (tests, diagnostics). */
    size: () => runs.size,
    held: () => held,
  };
}
