// A fake OpenAI-compatible model provider for end-to-end tests: `GET /v1/models` and `POST /v1/chat/completions`
// (streamed as `text/event-stream` when the request asks for it, plain JSON otherwise). What it answers depends on
// trigger words in the user messages of the current turn — every user message after the last assistant message,
// because OpenClaw appends a second user message with runtime context after the prompt:
//
//   fail500   → HTTP 500 with an OpenAI-style error body
//   usetool   → a tool call (`read {"path": "hello.txt"}`, or the first tool offered); the follow-up call, which
//               carries the tool result after the assistant's tool-call message, gets a text answer
//   toolchain → two tool rounds one after the other (`read`, then `read` again), then a text answer
//   paralleltools → two tool calls in one answer (`read` twice), then a text answer
//   spawnsub  → `sessions_spawn {task, runtime: "subagent", mode: "run"}` (a subagent turn), then a text answer
//   slowreply → the answer waits until the test calls `release()` (at most `slowMs`): the session stays busy
//               for as long as the test needs to queue follow-ups behind it
//
// Every request is logged (`requests`, and as JSON lines to `logFile` when given). Usage is always 123/7/130.
import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';

export const USAGE = Object.freeze({ prompt_tokens: 123, completion_tokens: 7, total_tokens: 130 });
export const MODEL_ID = 'fake-model';

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === 'string' ? p : p?.text ?? '')).join(' ');
  return '';
}

/**
 * The turn so far: the messages after the last assistant message that answered with text (not with tool calls).
 * Its user text decides the scenario, its tool-call rounds how far the scenario got.
 */
export function currentTurn(messages) {
  const list = Array.isArray(messages) ? messages : [];
  let lastAnswer = -1;
  list.forEach((m, i) => {
    if (m?.role === 'assistant' && !(Array.isArray(m.tool_calls) && m.tool_calls.length)) lastAnswer = i;
  });
  const turn = list.slice(lastAnswer + 1);
  return {
    text: turn.filter((m) => m?.role === 'user').map((m) => textOf(m.content)).join('\n'),
    toolRounds: turn.filter((m) => m?.role === 'assistant').length,
  };
}

/** The user text of the current turn: user messages after the last assistant message. */
export function currentUserText(messages) {
  const list = Array.isArray(messages) ? messages : [];
  let lastAssistant = -1;
  list.forEach((m, i) => {
    if (m?.role === 'assistant') lastAssistant = i;
  });
  return list
    .slice(lastAssistant + 1)
    .filter((m) => m?.role === 'user')
    .map((m) => textOf(m.content))
    .join('\n');
}

function toolFor(body) {
  const names = (Array.isArray(body.tools) ? body.tools : []).map((t) => t?.function?.name ?? t?.name).filter(Boolean);
  const name = names.includes('read') ? 'read' : names[0] ?? 'read';
  const args = name === 'read' ? { path: 'hello.txt' } : {};
  return { name, args: JSON.stringify(args) };
}

/**
 * Starts the server on 127.0.0.1 (port 0 = any free port).
 * @returns {Promise<{url: string, port: number, requests: object[], inFlight: () => number, held: () => number,
 *   whenQuiet: (quietMs: number, timeoutMs?: number) => Promise<boolean>, release: () => void,
 *   close: () => Promise<void>}>}
 */
export async function startFakeOpenAI({ port = 0, slowMs = 60_000, logFile } = {}) {
  const requests = [];
  let toolCalls = 0;
  let inFlight = 0;
  /** Answers held back by `slowreply`, waiting for release(). */
  const held = new Set();
  const sockets = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    inFlight += 1;
    res.on('close', () => (inFlight -= 1));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(err), type: 'server_error' } }));
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req, res, raw) {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      log({ method: 'GET', path: url.pathname });
      return json(res, 200, { object: 'list', data: [{ id: MODEL_ID, object: 'model', created: 0, owned_by: 'fake' }] });
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
      log({ method: req.method, path: url.pathname, status: 404 });
      return json(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
    }
    let body;
    try {
      body = JSON.parse(raw || '{}');
    } catch {
      return json(res, 400, { error: { message: 'bad json', type: 'invalid_request_error' } });
    }
    const text = currentUserText(body.messages);
    const turn = currentTurn(body.messages);
    const entry = { method: 'POST', path: url.pathname, stream: !!body.stream, model: body.model, text: text.slice(0, 200) };
    if (/fail500/.test(text)) {
      log({ ...entry, scenario: 'fail500', status: 500 });
      return json(res, 500, { error: { message: 'fake upstream failure', type: 'server_error', code: 'fake_500' } });
    }
    if (/slowreply/.test(text)) {
      await new Promise((resolve) => {
        const entry = { resolve, timer: setTimeout(() => { held.delete(entry); resolve(); }, slowMs) };
        held.add(entry);
      });
    }
    const id = `chatcmpl-fake-${requests.length + 1}`;
    const created = Math.floor(Date.now() / 1000);
    const rounds = { toolchain: 2, paralleltools: 1, spawnsub: 1 };
    const scenario = Object.keys(rounds).find((k) => turn.text.includes(k));
    if (scenario && turn.toolRounds < rounds[scenario]) {
      const calls = scenario === 'spawnsub'
        ? [{ name: 'sessions_spawn', args: JSON.stringify({ task: 'say hello from the subagent', runtime: 'subagent', mode: 'run' }) }]
        : scenario === 'paralleltools' ? [toolFor(body), toolFor(body)] : [toolFor(body)];
      const withIds = calls.map((c) => ({ ...c, callId: `call_fake_${++toolCalls}` }));
      log({ ...entry, scenario, round: turn.toolRounds, tools: withIds.map((c) => c.name), toolCallIds: withIds.map((c) => c.callId) });
      return answerTools(res, body.stream, id, created, withIds);
    }
    if (/usetool/.test(text)) {
      const { name, args } = toolFor(body);
      const callId = `call_fake_${++toolCalls}`;
      log({ ...entry, scenario: 'tool', tool: name, toolCallId: callId });
      if (!body.stream) {
        return json(res, 200, {
          id, object: 'chat.completion', created, model: MODEL_ID,
          choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: callId, type: 'function', function: { name, arguments: args } }] } }],
          usage: USAGE,
        });
      }
      return sse(res, [
        chunk(id, created, { role: 'assistant', content: null, tool_calls: [{ index: 0, id: callId, type: 'function', function: { name, arguments: '' } }] }),
        chunk(id, created, { tool_calls: [{ index: 0, function: { arguments: args } }] }),
        chunk(id, created, {}, 'tool_calls'),
        { id, object: 'chat.completion.chunk', created, model: MODEL_ID, choices: [], usage: USAGE },
      ]);
    }
    const reply = 'Hello from the fake model.';
    log({ ...entry, scenario: 'text' });
    if (!body.stream) {
      return json(res, 200, {
        id, object: 'chat.completion', created, model: MODEL_ID,
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: reply } }],
        usage: USAGE,
      });
    }
    return sse(res, [
      chunk(id, created, { role: 'assistant', content: '' }),
      chunk(id, created, { content: 'Hello from ' }),
      chunk(id, created, { content: 'the fake model.' }),
      chunk(id, created, {}, 'stop'),
      { id, object: 'chat.completion.chunk', created, model: MODEL_ID, choices: [], usage: USAGE },
    ]);
  }

  function log(entry) {
    const e = { t: Date.now(), ...entry };
    requests.push(e);
    if (logFile) appendFileSync(logFile, JSON.stringify(e) + '\n');
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = server.address().port;
  return {
    url: `http://127.0.0.1:${actual}/v1`,
    port: actual,
    requests,
    /** Requests received and not answered yet. */
    inFlight: () => inFlight,
    /**
     * Resolves `true` once nothing has been in flight and no new request came for `quietMs` (the gateway finished
     * its turns, and the follow-ups and announcements they caused), or `false` after `timeoutMs`.
     */
    async whenQuiet(quietMs, timeoutMs = 60_000) {
      const t0 = Date.now();
      let seen = requests.length;
      let since = Date.now();
      while (Date.now() - t0 < timeoutMs) {
        await new Promise((r) => setTimeout(r, 100));
        if (requests.length !== seen || inFlight > 0) {
          seen = requests.length;
          since = Date.now();
        } else if (Date.now() - since >= quietMs) return true;
      }
      return false;
    },
    /** How many `slowreply` answers are being held back. */
    held: () => held.size,
    /** Lets every held-back answer go. */
    release() {
      for (const e of held) {
        clearTimeout(e.timer);
        e.resolve();
      }
      held.clear();
    },
    close: () =>
      new Promise((resolve) => {
        for (const e of held) clearTimeout(e.timer);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An answer made of tool calls (streamed or not). */
function answerTools(res, stream, id, created, calls) {
  const toolCalls = calls.map((c, index) => ({ index, id: c.callId, type: 'function', function: { name: c.name, arguments: c.args } }));
  if (!stream) {
    return json(res, 200, {
      id, object: 'chat.completion', created, model: MODEL_ID,
      choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: toolCalls.map(({ index, ...c }) => c) } }],
      usage: USAGE,
    });
  }
  return sse(res, [
    chunk(id, created, { role: 'assistant', content: null, tool_calls: toolCalls.map((c) => ({ ...c, function: { name: c.function.name, arguments: '' } })) }),
    chunk(id, created, { tool_calls: toolCalls.map((c) => ({ index: c.index, function: { arguments: c.function.arguments } })) }),
    chunk(id, created, {}, 'tool_calls'),
    { id, object: 'chat.completion.chunk', created, model: MODEL_ID, choices: [], usage: USAGE },
  ]);
}

function chunk(id, created, delta, finish = null) {
  return { id, object: 'chat.completion.chunk', created, model: MODEL_ID, choices: [{ index: 0, delta, finish_reason: finish }] };
}

function json(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

async function sse(res, chunks) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  for (const c of chunks) {
    res.write(`data: ${JSON.stringify(c)}\n\n`);
    await new Promise((r) => setImmediate(r));
  }
  res.end('data: [DONE]\n\n');
}
