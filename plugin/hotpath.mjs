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

/**
 * A batch crosses when it holds this many events, or this many UTF-16 units of strings, or its slots are nearly
 * full, or at the end of the task.
 */
export const BATCH_EVENTS = 512;
const BATCH_UNITS = 1 << 20;
const SLOTS = 1 << 15;

/**
 * `(evt, meta) => void`: hands one diagnostic event to `binding`, with `record.drain()` to hand over what it still
 * holds. Never throws: a hostile value (a throwing getter or proxy, a BigInt) is the addon's to count as invalid.
 *
 * The fast path (docs/ARCHITECTURE.md, "The gateway boundary"): per event type, only the fields assembly reads
 * (`binding.projection()`, the table in crates/core/src/ingest/compact.rs) are written into reused typed arrays: a
 * `Float64Array` of slots (numbers, string lengths, counts) and a `Uint16Array` of what each slot holds, the strings
 * appended to one string (a rope: appending is cheap, and the addon's copy flattens it once; an array and a `join`
 * cost more per string). The batch crosses once, when it is full or when the current task ends (a
 * microtask: no timer, nothing waits longer than the burst that filled it), and the addon copies the three as they
 * are: nothing is serialised. Infra-only types cross as their `seq` alone: counted, never assembled, and the
 * addon's reorder buffer sees no gap. Only scalars are copied (an object where a scalar belongs crosses as its
 * tag alone, the same wrong type), so one hostile event never spoils the others.
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
  const { schemas: table, generic: GENERIC, infra: INFRA, tags, maxStringUnits } = binding.projection();
  if (tags?.known === undefined) return wholeEvents(binding);

  /** The batch, reused: `n` slots written, their strings appended to `text`. */
  const w = { slots: new Float64Array(SLOTS), tags: new Uint16Array(SLOTS), n: 0, text: '', units: 0 };
  let events = 0;
  let scheduled = false;

  // A BigInt has no place in a batch (nor JSON form): the event goes whole and is counted as unserialisable there.
  const BIGINT = new Error('bigint');
  const projectors = table.map((t, i) => projector(t.fields, tags, maxStringUnits, BIGINT, { masked: i === INFRA }));
  const putType = projector(['type'], tags, maxStringUnits, BIGINT, { bare: true });
  // The most slots one event can take: the batch crosses before an event could overflow it.
  const MAX_EVENT_SLOTS = 2 + Math.max(...table.map((t) => 1 + slotsOf(t.fields)));
  // Per type the table names: its number (in the order of the schemas' `types`) × 64 + its schema. Such a type
  // crosses as its number, not its text.
  const byType = new Map();
  let known = 0;
  table.forEach((t, i) => t.types.forEach((type) => byType.set(type, known++ * 64 + i)));
  const KNOWN = tags.known;

  function drain() {
    scheduled = false;
    holding.delete(drainSoon);
    if (events === 0) return;
    const n = events;
    const text = w.text;
    const slots = w.n;
    w.text = '';
    w.n = 0;
    w.units = 0;
    events = 0;
    binding.recordDiagnosticBatch(text, w.slots, w.tags, slots, n);
  }
  const drainSoon = () => {
    try {
      drain();
    } catch {}
  };

  function record(evt, meta) {
    if (w.n + MAX_EVENT_SLOTS > SLOTS) drainSoon();
    const at = w.n;
    const { text, units } = w;
    try {
      if (typeof evt !== 'object' || evt === null || Array.isArray(evt)) throw BIGINT;
      const type = evt.type;
      const code = typeof type === 'string' ? byType.get(type) : undefined;
      const i = code === undefined ? GENERIC : code & 63;
      w.slots[w.n++] = i * 2 + (trusted(meta) ? 1 : 0);
      if (code === undefined) putType(type, w);
      else {
        w.tags[w.n] = KNOWN;
        w.slots[w.n++] = (code - i) / 64;
      }
      projectors[i](evt, w);
    } catch {
      // Unreadable (a getter or proxy threw), no object, or a BigInt: it goes whole, in order, and the addon
      // counts whatever it cannot take. What it wrote is taken back (when it was first in its batch, nothing
      // crosses here and the next event is written after it).
      w.n = at;
      w.text = text;
      w.units = units;
      try {
        drain();
        binding.recordDiagnostic(json(evt), trusted(meta));
      } catch {}
      return;
    }
    events++;
    if (events >= BATCH_EVENTS || w.units >= BATCH_UNITS) drainSoon();
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

/** The slots a list of fields can take at most (an object field: its own, holding the mask, and its sub-fields'). */
function slotsOf(fields) {
  return fields.reduce((s, f) => s + (typeof f === 'string' ? 1 : 1 + slotsOf(f[1])), 0);
}

/**
 * `(evt, w) => void` writing into the batch `w` the fields of `fields` (from `projection()`: a name, or `[name,
 * [sub-fields]]`) that the event has, as crates/core/src/ingest/compact.rs reads them (`tag`).
 *
 * An event's own keys are walked (`for…in`, which V8 runs off the object's cached key list) and looked up in the
 * schema: first a slot counting the values written, then per value a slot and a tag holding what it is and its
 * field's number. Reading each of a schema's 20–50 names instead costs a megamorphic load per name, most of them
 * for fields the event does not have (bench/). `masked` (the infra schema, `seq` alone, and an object field's
 * few sub-fields) reads the names instead: first a mask of those present (bit k for the k-th field), then their
 * values in order. `bare`: `(value, w)` writing one value, an absent one as `null` (for `type`).
 *
 * Compiled once per schema into straight-line code: each field's `typeof` tests have their own site, which stays
 * monomorphic (a run id is always a string). The batch's state is kept in locals and written back at the end, so
 * an event that throws half-way leaves `w` as it was. Names enter the code only as JSON string literals.
 */
function projector(fields, T, maxUnits, BIGINT, { bare = false, masked = false } = {}) {
  if (fields.length > 53) throw new Error('a schema of more than 53 fields does not fit a mask');
  let vars = 0;
  // The code writing value `v` (a local) of field `f`; `no` is the field's number, in the tag (keyed lists).
  const put = (f, v, no = 0) => {
    const tag = (kind) => kind + no * 16;
    const scalar =
      `if (typeof ${v} === 'string') { const l = ${v}.length; if (l > ${maxUnits}) tags[n++] = ${tag(T.huge)}; ` +
      `else { tags[n] = ${tag(T.str)}; slots[n++] = l; text += ${v}; units += l; } } ` +
      `else if (typeof ${v} === 'number') { tags[n] = ${tag(T.num)}; slots[n++] = ${v}; } ` +
      `else if (typeof ${v} === 'boolean') { tags[n] = ${tag(T.bool)}; slots[n++] = ${v} ? 1 : 0; } ` +
      `else if (typeof ${v} === 'bigint') throw BIGINT; else tags[n++] = ${tag(T.wrong)};`;
    if (typeof f === 'string') return scalar;
    const o = `o${vars++}`;
    return `if (typeof ${v} === 'object' && !Array.isArray(${v})) { const ${o} = ${v}; ${list(f[1], o, tag(T.object))} } else { ${scalar} }`;
  };
  // The code writing the fields of `list` present in object `e`, behind a mask slot tagged `tag`.
  const list = (fields, e, tag) => {
    const m = `m${vars}`;
    const v = `v${vars++}`;
    const reads = fields.map((f, k) => {
      const name = JSON.stringify(typeof f === 'string' ? f : f[0]);
      return `${v} = ${e}[${name}]; if (${v} != null) { ${m} += ${2 ** k}; ${put(f, v)} }`;
    });
    return `const at${m} = n++; ${tag == null ? '' : `tags[at${m}] = ${tag};`} let ${m} = 0, ${v}; ${reads.join(' ')} slots[at${m}] = ${m};`;
  };
  // The code writing the fields of `fields` among the keys of `e`, behind a slot counting them.
  const keyed = (fields, e) => {
    const cases = fields.map((f, k) => `case ${k}: { ${put(f, 'v', k)} break; }`).join(' ');
    return (
      `const at = n++; let c = 0, v, f; for (const k in ${e}) { f = NUMBER.get(k); if (f === undefined) continue; ` +
      `v = ${e}[k]; if (v == null) continue; c++; switch (f) { ${cases} } } slots[at] = c;`
    );
  };
  const body = bare
    ? `let v = e; if (v == null) tags[n++] = ${T.null}; else { ${put(fields[0], 'v')} }`
    : masked
      ? list(fields, 'e')
      : keyed(fields, 'e');
  const number = new Map(fields.map((f, k) => [typeof f === 'string' ? f : f[0], k]));
  return new Function(
    'BIGINT',
    'NUMBER',
    `return function project(e, w) { const slots = w.slots, tags = w.tags; let n = w.n, units = w.units, text = w.text; ${body} w.n = n; w.units = units; w.text = text; };`,
  )(BIGINT, number);
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
