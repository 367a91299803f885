// The gateway-thread hot path: what one diagnostic event costs the host. Shared by the plugin (plugin/index.mjs)
// and the benchmark (bench/gateway.mjs), so the bench measures exactly what ships.

/**
 * An event's JSON text: the cheapest way across the boundary (the addon takes it as is, see bench/). What has no
 * JSON text (a cycle, a BigInt) goes as the value itself, and the addon counts it as invalid.
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

/**
 * `(evt, meta) => queued`: hands one diagnostic event to `binding`. May throw on a hostile value (callers catch).
 *
 * Infra-only types (process samples, heartbeats: the catalogue's `Infra` rows, `binding.infraEventTypes()`) never
 * become spans, so they are not serialised: `recordInfra` counts them and passes their `seq` on, so the addon's
 * reorder buffer sees no gap to wait for.
 */
export function diagnosticRecorder(binding) {
  if (typeof binding.infraEventTypes !== 'function') return (evt, meta) => binding.recordDiagnostic(json(evt), trusted(meta));
  const infra = new Map(binding.infraEventTypes().map((type, i) => [type, i]));
  return (evt, meta) => {
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
}
