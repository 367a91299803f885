// The shapes `configure()` accepts and `stats()` returns. Hand-written to match crates/core/src/config.rs (which
// rejects unknown keys) and the counters in crates/core/src/stats.rs and export/runner.rs.

export type OtlpProtocol = 'http/protobuf' | 'http/json'
export type Compression = 'gzip' | 'none'

/** Every network exporter: fields left out are filled from the environment (see each exporter). */
interface HttpExporterOptions {
  protocol?: OtlpProtocol
  compression?: Compression
  timeoutMs?: number
}

export interface FileExporterConfig {
  /** One OTLP/JSON `ExportTraceServiceRequest` per line, one line per trace, appended. */
  path: string
}

/** `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT` / `_HEADERS` / `_PROTOCOL` / `_COMPRESSION` / `_TIMEOUT` fill the blanks. */
export interface OtlpExporterConfig extends HttpExporterOptions {
  /** Base URL; `/v1/traces` is appended. */
  endpoint?: string
  /** Full URL, used as is. */
  tracesEndpoint?: string
  headers?: Record<string, string>
}

/** `MLFLOW_TRACKING_URI`, `MLFLOW_EXPERIMENT_ID`/`_NAME`, `MLFLOW_TRACKING_USERNAME`/`_PASSWORD`/`_TOKEN` fill the blanks. */
export interface MlflowExporterConfig extends HttpExporterOptions {
  trackingUri?: string
  experimentId?: string
  /** Resolved once, created when missing. */
  experimentName?: string
  username?: string
  password?: string
  token?: string
}

/** `LANGFUSE_BASE_URL` (or `LANGFUSE_HOST`), `LANGFUSE_PUBLIC_KEY`/`_SECRET_KEY`, `LANGFUSE_TRACING_ENVIRONMENT`, `LANGFUSE_RELEASE`. */
export interface LangfuseExporterConfig extends HttpExporterOptions {
  baseUrl?: string
  publicKey?: string
  secretKey?: string
  environment?: string
  release?: string
}

export interface ClawtraceConfig {
  /** Any combination, all at once. None configured: the environment decides, else a file. */
  exporters?: {
    file?: FileExporterConfig
    otlp?: OtlpExporterConfig
    mlflow?: MlflowExporterConfig
    langfuse?: LangfuseExporterConfig
  }
  sampling?: {
    /** Share of traces kept, by trace id (default: `OTEL_TRACES_SAMPLER`/`_ARG`, else 1). */
    ratio?: number
    /** Always keep traces with an error (default true). */
    keepErrors?: boolean
    /** Always keep traces at least this long. */
    keepSlowerThanMs?: number
  }
  /** Attach prompts, replies, tool arguments and results (redacted) to the spans. Default false. */
  captureContent?: boolean
  /** Longest captured text kept per attribute (default 8192). */
  maxContentChars?: number
  redact?: {
    /** Built-in patterns: API keys, bearer/basic credentials, JWTs, emails, phone and card numbers (default true). */
    builtins?: boolean
    /** Extra regular expressions (Rust `regex` syntax). */
    patterns?: string[]
    /** Default `[REDACTED]`. */
    replacement?: string
  }
  /** Replace session keys and user ids by stable hashes. Default false. */
  hashSessionKeys?: boolean
  /** Park batches a backend would not take in time on disk, and re-send them when it is back. */
  spool?: { dir: string; maxBytes?: number }
  /** Write every event as it crosses to a record file (the format `clawtrace replay` reads), rotated to `<path>.1`
   * past `maxBytes` (default 67108864). Written off the gateway's thread; content only with `captureContent`. */
  record?: { path: string; maxBytes?: number }
  /** The file traces go to when no exporter is configured and the environment chooses none (`$CLAWTRACE_FILE` wins;
   * default `clawtrace-traces.jsonl` in the working directory). The OpenClaw plugin sets it under the state dir. */
  defaultFile?: string
  /** The host is an OpenClaw release before 2026.4.24 (no trusted run, model-call or tool events, no trace context):
   * runs, model calls, tools and usage are rebuilt from the agent events and hooks recorded as they come. The
   * OpenClaw plugin sets it when the host has no internal diagnostic bus, `clawtrace replay` when a recording has no
   * trusted or traced diagnostic event. Default false. */
  legacyHost?: boolean
  /** Replace every trace and span id by one derived from it and this text (`clawtrace replay --fresh-ids` names the
   * destination here): replaying again into the same place keeps the ids, into another place makes a copy. */
  idNamespace?: string
  /** `service.name` (default `OTEL_SERVICE_NAME`, else `openclaw`). */
  serviceName?: string
  /** USD per million tokens by model id, over the bundled table. */
  pricing?: Record<string, { input: number; output: number; cacheRead?: number; cacheWrite?: number }>
  /** Events waiting between the record calls and the background worker (default 65536). */
  queueCapacity?: number
  /** The same queue's bound in bytes of event text (default 67108864, at least 65536). Beyond either bound a
   * record call drops the event and counts it (`droppedQueueFull`). */
  queueMaxBytes?: number
  /** How long a finished trace waits for late events (default 2000). */
  graceMs?: number
  /** Open traces older than this are exported as incomplete (default 600000). */
  traceTtlMs?: number
  maxOpenTraces?: number
  reorderWindowMs?: number
  /** Events the reorder buffer holds at most, every process together (default 100000); beyond it the oldest are
   * released without waiting for a gap to fill (`reorderForcedReleases`). */
  reorderMaxEvents?: number
  /** Exported traces remembered so late events become stragglers of the same trace (default 100000, also
   * forgotten after `traceTtlMs`). */
  maxRememberedTraces?: number
  batch?: {
    maxSpans?: number
    maxBytes?: number
    /** How long a batch waits to fill before it is sent (default 25 ms). */
    maxDelayMs?: number
    /** Traces waiting per sink; beyond it they are dropped and counted (default 4096). */
    queueTraces?: number
    exportTimeoutMs?: number
    /** Retry a batch this long before spooling it (or counting it failed). Default 30000. */
    retryDeadlineMs?: number
  }
}

export interface SinkStats {
  tracesReceived: number
  spansReceived: number
  spansExported: number
  spansRejected: number
  spansFailed: number
  spansDroppedQueueFull: number
  spansSpooled: number
  spansUnspooled: number
  /** Files in the spool that were not readable batches: removed, each counted. */
  spoolCorruptBatches: number
  /** Still held when the sink had to stop (shutdown deadline, or replaced by configure() past its retry deadline)
   * with no spool to take them. */
  spansLostShutdown: number
  batchesSent: number
  retries: number
}

/** Every counter (all numbers; see README "Counters"), the queue length, and per-sink counters. */
export interface ClawtraceStats {
  eventsReceived: number
  eventsQueued: number
  droppedQueueFull: number
  droppedAfterShutdown: number
  tracesCompleted: number
  tracesIncomplete: number
  tracesExported: number
  tracesSampledOut: number
  spansExported: number
  spansDroppedSinkQueueFull: number
  spansRejectedByBackend: number
  spansFailedExport: number
  spansSpooled: number
  spansUnspooled: number
  spansLostShutdown: number
  spoolFullDropped: number
  spoolCorruptBatches: number
  exportErrors: number
  queueLength: number
  sinks: Record<string, SinkStats>
  /** Every error so far by sink and kind (`{otlp: {rejected: 3}}`), including those `onError` heard of once. */
  errors: Record<string, Record<string, number>>
  /** The latest error of each sink (kind, message without secrets, Unix time in ms): what a status page shows. */
  lastErrors: Record<string, LatestError>
  [counter: string]: number | Record<string, SinkStats> | Record<string, Record<string, number>> | Record<string, LatestError>
}

export interface LatestError {
  kind: string
  message: string
  atMs: number
}
