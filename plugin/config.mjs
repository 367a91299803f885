// What the plugin hands to the addon's configure(): `plugins.entries.clawtrace.config` as written, plus the
// default trace file under the OpenClaw state directory when nothing else would receive traces.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A variable counts only when it has a non-blank value (as the addon reads the environment). */
const set = (env, name) => typeof env[name] === 'string' && env[name].trim() !== '';

/**
 * Whether the environment alone selects a sink (the addon's rule when no exporter is configured):
 * an OTLP endpoint, an http(s) MLflow tracking URI, or both Langfuse keys.
 */
export function environmentSelectsSink(env = process.env) {
  return (
    set(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ||
    set(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ||
    (set(env, 'MLFLOW_TRACKING_URI') && env.MLFLOW_TRACKING_URI.trim().startsWith('http')) ||
    (set(env, 'LANGFUSE_PUBLIC_KEY') && set(env, 'LANGFUSE_SECRET_KEY')) ||
    set(env, 'CLAWTRACE_FILE')
  );
}

/** The OpenClaw state directory: the host's resolver, else `$OPENCLAW_STATE_DIR`, else `~/.openclaw`. */
export function resolveStateDir(api, env = process.env) {
  try {
    const dir = api?.runtime?.state?.resolveStateDir?.();
    if (typeof dir === 'string' && dir) return dir;
  } catch {}
  if (set(env, 'OPENCLAW_STATE_DIR')) return env.OPENCLAW_STATE_DIR;
  return join(homedir(), '.openclaw');
}

export const DEFAULT_FILE = join('clawtrace', 'traces.jsonl');

/**
 * The configuration for `configure()`. Exporters configured explicitly are used as given (the addon fills their
 * blanks from the environment); with none configured and none chosen by the environment, traces go to
 * `<stateDir>/clawtrace/traces.jsonl` instead of the addon's working-directory default.
 */
export function effectiveConfig(pluginConfig, { stateDir, env = process.env }) {
  const cfg = pluginConfig && typeof pluginConfig === 'object' ? JSON.parse(JSON.stringify(pluginConfig)) : {};
  const exporters = cfg.exporters && typeof cfg.exporters === 'object' ? cfg.exporters : {};
  const configured = Object.values(exporters).some((v) => v != null);
  if (!configured && !environmentSelectsSink(env)) {
    cfg.exporters = { file: { path: join(stateDir, DEFAULT_FILE) } };
  }
  return cfg;
}
