// The gateway-thread hot path: what one diagnostic event costs the host. Shared by the plugin (plugin/index.mjs)
// and the benchmark (bench/gateway.mjs), so the bench measures exactly what ships.

/**
 * An event's JSON text: the cheapest way across the boundary for a whole event. What has no JSON text (a cycle, a
 * BigInt) goes as the value itself, and the addon counts it as invalid.
 */
export function json(value) {
  try {
    return JSON.stringify(value);
  } catch {
    return value;
  }
}

/** `meta.trusted`, false when reading it throws (a hostile proxy or getter). */
export function trusted(meta) {
  try {
    return meta?.trusted === true;
  } catch {
    return false;
  }
}

/** The drains of recorders holding events: `drainAll` runs them (the addon calls it first in flush and shutdown). */
const holding = new Set();
function drainAll() {
  for (const drain of holding) drain();
}

/** A batch crosses when it holds this many events, or this many UTF-16 units of strings, or at the end of the task. */
export const BATCH_EVENTS = 512;
const BATCH_UNITS = 1 << 20;

/**
 * `(evt, meta) => void`: hands one diagnostic event to `binding`, with `record.drain()` to hand over what it still
 * holds. Never throws: a hostile value (a throwing getter or proxy, a BigInt) is the addon's to count as invalid.
 *
 * The fast path (docs/ARCHITECTURE.md, "The gateway boundary"): per event type, only the fields assembly reads
 * (`binding.projection()`, the table in crates/core/src/ingest/compact.rs) are copied into one reused flat array,
 * and the batch crosses once, as the JSON text of that array, when it is full or when the current task ends (a
 * microtask: no timer, nothing waits longer than the burst that filled it). Infra-only types cross as their `seq`
 * alone: counted, never assembled, and the addon's reorder buffer sees no gap. Values are copied only when they
 * are scalars (an object where a scalar belongs crosses as `[]`, the same wrong type), so the batch text is always
 * valid JSON and one hostile event never spoils the others.
 *
 * The addon's `flush()` and `shutdown()` drain every recorder first (`setBatchDrain`). Callers `drain()` before
 * another record call whose order against these events matters (agent events and hooks).
 *
 * `full: true` sends every event whole, one call each (as JSON text): the record option (`record`) writes what
 * crosses, and it must be the gateway's raw events. So does a binding without `recordDiagnosticBatch`.
 */
export function diagnosticRecorder(binding, { full = false } = {}) {
  if (full || typeof binding.recordDiagnosticBatch !== 'function' || typeof binding.projection !== 'function') {
    return wholeEvents(binding);
  }
  const { schemas: table, generic: GENERIC } = binding.projection();

  /** The batch: `schema, trusted, type, mask, value…` per event, reused. */
  const buf = [];
  let events = 0;
  let units = 0;
  let scheduled = false;

  // `[]` stands for an object or array where a scalar belongs; a BigInt has no JSON form: the event goes whole
  // (and is counted as unserialisable there).
  const NOT_SCALAR = [];
  function scalar(v) {
    const t = typeof v;
    if (t === 'string') {
      units += v.length;
      return v;
    }
    if (t === 'number' || t === 'boolean') return v;
    if (v == null) return null;
    if (t === 'bigint') throw NOT_SCALAR;
    return NOT_SCALAR;
  }
  // An object field: the array of its sub-fields' values; an array where an object belongs crosses as `true` (the
  // same wrong type); anything else as a scalar.
  function object(v, sub) {
    if (typeof v !== 'object' || v === null) return scalar(v);
    return Array.isArray(v) ? true : sub(v);
  }
  const projectors = table.map((t) => projector(t.fields, scalar, object));
  const byType = new Map();
  table.forEach((t, i) => t.types.forEach((type) => byType.set(type, i)));

  function drain() {
    scheduled = false;
    holding.delete(drainSoon);
    if (events === 0) return;
    const n = events;
    const text = JSON.stringify(buf);
    buf.length = 0;
    events = 0;
    units = 0;
    binding.recordDiagnosticBatch(text, n);
  }
  const drainSoon = () => {
    try {
      drain();
    } catch {}
  };

  function record(evt, meta) {
    const at = buf.length;
    try {
      if (typeof evt !== 'object' || evt === null || Array.isArray(evt)) throw NOT_SCALAR;
      const type = evt.type;
      const i = (typeof type === 'string' ? byType.get(type) : undefined) ?? GENERIC;
      buf.push(i, trusted(meta) ? 1 : 0, scalar(type));
      projectors[i](evt, buf);
    } catch {
      // Unreadable (a getter or proxy threw), no object, or a BigInt: it goes whole, in order, and the addon
      // counts whatever it cannot take.
      buf.length = at;
      try {
        drain();
        binding.recordDiagnostic(json(evt), trusted(meta));
      } catch {}
      return;
    }
    events++;
    if (events >= BATCH_EVENTS || units >= BATCH_UNITS) drainSoon();
    else if (!scheduled) {
      scheduled = true;
      holding.add(drainSoon);
      queueMicrotask(drainSoon);
    }
  }
  record.drain = drainSoon;
  // So a flush() or shutdown() by anyone (the plugin's stop, a test, the status command) sees these events.
  if (typeof binding.setBatchDrain === 'function') binding.setBatchDrain(drainAll);
  return record;
}

/**
 * `(evt, buf) => void` pushing onto `buf` the fields of `fields` (from `projection()`: a name, or `[name,
 * [sub-fields]]`) that the event has: first the mask of those present (bit k for the k-th field), then their values.
 * Compiled once per schema into straight-line property reads: a generic loop over key names makes every read a
 * megamorphic keyed load, several times slower, and absent fields would cost the batch text a `null` each (bench/).
 * Names enter the code only as JSON string literals.
 */
function projector(fields, scalar, object) {
  const subs = [];
  const read = (f, k) => {
    let value;
    if (typeof f === 'string') value = `scalar(e[${JSON.stringify(f)}])`;
    else {
      subs.push(projector1(f[1], scalar, object));
      value = `object(e[${JSON.stringify(f[0])}], subs[${subs.length - 1}])`;
    }
    return `v = ${value}; if (v !== null) { buf.push(v); m += ${2 ** k}; }`;
  };
  if (fields.length > 53) throw new Error('a schema of more than 53 fields does not fit a mask');
  const body = `let m = 0, v; const at = buf.length; buf.push(0); ${fields.map(read).join(' ')} buf[at] = m;`;
  return new Function('scalar', 'object', 'subs', `return function project(e, buf) { ${body} };`)(scalar, object, subs);
}

/** An object's sub-fields as an array (`fields` as in `projector`: mask first). */
function projector1(fields, scalar, object) {
  const push = projector(fields, scalar, object);
  return (o) => {
    const a = [];
    push(o, a);
    return a;
  };
}

/** Every event whole, one call each; infra-only types (`binding.infraEventTypes()`) as their kind and `seq`. */
function wholeEvents(binding) {
  const whole = (evt, meta) => binding.recordDiagnostic(json(evt), trusted(meta));
  whole.drain = () => {};
  if (typeof binding.infraEventTypes !== 'function') return whole;
  const infra = new Map(binding.infraEventTypes().map((type, i) => [type, i]));
  const record = (evt, meta) => {
    let kind;
    let seq;
    try {
      kind = infra.get(evt?.type);
      if (kind !== undefined) seq = evt.seq;
    } catch {
      kind = undefined;
    }
    if (kind !== undefined) return binding.recordInfra(kind, typeof seq === 'number' ? seq : undefined);
    return binding.recordDiagnostic(json(evt), trusted(meta));
  };
  record.drain = whole.drain;
  return record;
}
