//! Configuration: what `configure()` accepts (camelCase JSON), with defaults that work with nothing set.

use std::collections::HashMap;

use serde::Deserialize;

use crate::enrich::pricing::Price;
use crate::export::file::FileConfig;
use crate::export::langfuse::LangfuseConfig;
use crate::export::mlflow::MlflowConfig;
use crate::export::otlp::OtlpConfig;
pub use crate::settings::{process_env, Env, Secret};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Config {
    pub exporters: Exporters,
    /// Bounded queue between the record calls and the background (events).
    pub queue_capacity: usize,
    /// The same queue's bound in bytes of event text, so large events cannot grow the process without limit.
    pub queue_max_bytes: usize,
    pub grace_ms: f64,
    pub trace_ttl_ms: f64,
    pub max_open_traces: usize,
    pub reorder_window_ms: f64,
    /// Events the reorder buffer holds at most (every process together); beyond it the oldest are released.
    pub reorder_max_events: usize,
    /// Exported traces remembered (their ids and span ids, for the TTL) so late events become stragglers of the
    /// same trace; beyond it the oldest are forgotten.
    pub max_remembered_traces: usize,
    pub capture_content: bool,
    pub max_content_chars: usize,
    /// USD per million tokens, by model id; overrides the bundled table.
    pub pricing: HashMap<String, Price>,
    /// `service.name` of every exported resource; else `OTEL_SERVICE_NAME`; else `openclaw`.
    pub service_name: Option<String>,
    /// Per-sink batching.
    pub batch: BatchConfig,
    pub sampling: SamplingConfig,
    /// Applied to captured content before anything leaves the process.
    pub redact: RedactConfig,
    /// Replace session keys (which embed user and channel ids) by a stable hash.
    pub hash_session_keys: bool,
    /// Where batches that could not be delivered wait for the backend to come back.
    pub spool: Option<SpoolConfig>,
    /// The file traces go to when no exporter is configured and the environment chooses none
    /// (`$CLAWTRACE_FILE` still wins; else `clawtrace-traces.jsonl` in the working directory).
    pub default_file: Option<String>,
    /// The host is an OpenClaw release before trusted diagnostics (before 2026.4.24): runs, tools and usage are
    /// rebuilt from the agent lifecycle events and hooks recorded as they come (the plugin sets it).
    pub legacy_host: bool,
    /// Every trace and span id replaced by one derived from it and this text (`clawtrace replay --fresh-ids` sets
    /// the destination here): the same replay into the same place keeps its ids, into another it makes a copy.
    pub id_namespace: Option<String>,
    /// Also write every event as it crosses, in the record format (`docs/ARCHITECTURE.md`, "Record format"), so a
    /// session can be replayed or attached to a bug report.
    pub record: Option<RecordConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RecordConfig {
    pub path: String,
    /// The file is rotated (to `<path>.1`, replacing the one before) when it would grow past this.
    pub max_bytes: u64,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig { path: String::new(), max_bytes: 64 << 20 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SamplingConfig {
    /// Head sampling: the share of traces kept, decided from the trace id (so every sink keeps the same ones).
    /// Unset: `OTEL_TRACES_SAMPLER`/`_ARG` (trace-id ratio), else 1.
    pub ratio: Option<f64>,
    /// Tail rule: keep every trace with an error, whatever the ratio says.
    pub keep_errors: bool,
    /// Tail rule: keep every trace at least this long.
    pub keep_slower_than_ms: Option<f64>,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig { ratio: None, keep_errors: true, keep_slower_than_ms: None }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RedactConfig {
    /// The built-in patterns: API keys and bearer tokens, JWTs, emails, phone numbers, card numbers.
    pub builtins: bool,
    /// Extra regular expressions; every match is replaced.
    pub patterns: Vec<String>,
    pub replacement: String,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig { builtins: true, patterns: Vec::new(), replacement: "[REDACTED]".into() }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SpoolConfig {
    pub dir: String,
    pub max_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig { dir: String::new(), max_bytes: 256 << 20 }
    }
}

/// Each sink's own section; which sinks run, and how the environment chooses when none is given, is the sink
/// table's business (`export/registry.rs`).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Exporters {
    pub file: Option<FileConfig>,
    pub otlp: Option<OtlpConfig>,
    pub mlflow: Option<MlflowConfig>,
    pub langfuse: Option<LangfuseConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BatchConfig {
    pub max_spans: usize,
    pub max_bytes: usize,
    /// How long a batch waits to fill. Short by default: a trace has already waited its grace window to gather
    /// late events, and a turn's spans should leave within `graceMs` + 100 ms of its last event (issue 10's
    /// latency target; the worker ticks within `TICK_MIN` of a deadline, `pipeline/worker.rs`). A backend that is
    /// slow to answer still gets full batches: traces gather in the sink's queue while a request is in flight.
    pub max_delay_ms: u64,
    /// Traces waiting per sink; beyond it they are dropped and counted.
    pub queue_traces: usize,
    pub export_timeout_ms: u64,
    /// How long a batch keeps being retried before it goes to the spool (or counts as failed without one).
    pub retry_deadline_ms: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_spans: 512,
            max_bytes: 4 << 20,
            max_delay_ms: 25,
            queue_traces: 4096,
            export_timeout_ms: 10_000,
            retry_deadline_ms: 30_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            exporters: Exporters::default(),
            queue_capacity: 65_536,
            queue_max_bytes: 64 << 20,
            grace_ms: 2000.0,
            trace_ttl_ms: 600_000.0,
            max_open_traces: 10_000,
            reorder_window_ms: 250.0,
            reorder_max_events: 100_000,
            max_remembered_traces: 100_000,
            capture_content: false,
            max_content_chars: 8192,
            pricing: HashMap::new(),
            service_name: None,
            batch: BatchConfig::default(),
            sampling: SamplingConfig::default(),
            redact: RedactConfig::default(),
            hash_session_keys: false,
            spool: None,
            default_file: None,
            legacy_host: false,
            id_namespace: None,
            record: None,
        }
    }
}

impl Config {
    /// Parses and validates a `configure()` object. Errors name the field and what it expects, never the value
    /// given (a token in the wrong place must not come back in the message).
    pub fn from_json(v: serde_json::Value) -> Result<Config, String> {
        reject_misplaced_arrays(&v, "")?;
        let cfg: Config = serde_path_to_error::deserialize(&v)
            .map_err(|e| format!("invalid clawtrace config: {}", describe_error(&e, &v)))?;
        cfg.validate().map_err(|e| format!("invalid clawtrace config: {e}"))?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if self.queue_capacity == 0 || self.queue_capacity > 16 << 20 {
            return Err("queueCapacity must be between 1 and 16777216".into());
        }
        if self.queue_max_bytes < 1 << 16 {
            return Err("queueMaxBytes must be at least 65536".into());
        }
        if self.max_open_traces == 0 {
            return Err("maxOpenTraces must be at least 1".into());
        }
        let numbers = [
            ("graceMs", Some(self.grace_ms)),
            ("traceTtlMs", Some(self.trace_ttl_ms)),
            ("reorderWindowMs", Some(self.reorder_window_ms)),
            ("sampling.keepSlowerThanMs", self.sampling.keep_slower_than_ms),
        ];
        for (model, p) in &self.pricing {
            for (what, v) in
                [("input", p.input), ("output", p.output), ("cacheRead", p.cache_read), ("cacheWrite", p.cache_write)]
            {
                if !v.is_finite() || v < 0.0 {
                    return Err(format!("pricing[{model:?}].{what} must be a non-negative number"));
                }
            }
        }
        for (name, v) in numbers {
            if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return Err(format!("{name} must be a non-negative number"));
            }
        }
        if self.batch.max_spans == 0 || self.batch.queue_traces == 0 {
            return Err("batch.maxSpans and batch.queueTraces must be at least 1".into());
        }
        for (name, v) in
            [("batch.maxBytes", self.batch.max_bytes as u64), ("batch.exportTimeoutMs", self.batch.export_timeout_ms)]
        {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.sampling.ratio.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
            return Err("sampling.ratio must be between 0 and 1".into());
        }
        let e = &self.exporters;
        let timeouts = [
            ("exporters.otlp.timeoutMs", e.otlp.as_ref().and_then(|o| o.timeout_ms)),
            ("exporters.mlflow.timeoutMs", e.mlflow.as_ref().and_then(|m| m.timeout_ms)),
            ("exporters.langfuse.timeoutMs", e.langfuse.as_ref().and_then(|l| l.timeout_ms)),
        ];
        for (name, t) in timeouts {
            if t == Some(0) {
                return Err(format!("{name} must be at least 1"));
            }
        }
        let urls = [
            ("exporters.otlp.endpoint", e.otlp.as_ref().and_then(|o| o.endpoint.as_deref())),
            ("exporters.otlp.tracesEndpoint", e.otlp.as_ref().and_then(|o| o.traces_endpoint.as_deref())),
            ("exporters.mlflow.trackingUri", e.mlflow.as_ref().and_then(|m| m.tracking_uri.as_deref())),
            ("exporters.langfuse.baseUrl", e.langfuse.as_ref().and_then(|l| l.base_url.as_deref())),
        ];
        for (name, url) in urls {
            if url.is_some_and(|u| !is_http_url(u)) {
                return Err(format!("{name} must be an http:// or https:// URL"));
            }
        }
        let non_empty = [
            ("exporters.file.path", e.file.as_ref().map(|f| f.path.as_str())),
            ("spool.dir", self.spool.as_ref().map(|s| s.dir.as_str())),
            ("defaultFile", self.default_file.as_deref()),
            ("serviceName", self.service_name.as_deref()),
            ("record.path", self.record.as_ref().map(|r| r.path.as_str())),
        ];
        for (name, v) in non_empty {
            if v.is_some_and(|v| v.trim().is_empty()) {
                return Err(format!("{name} must be a non-empty string"));
            }
        }
        if self.spool.as_ref().is_some_and(|s| s.max_bytes == 0) {
            return Err("spool.maxBytes must be at least 1".into());
        }
        if self.record.as_ref().is_some_and(|r| r.max_bytes < 4096) {
            return Err("record.maxBytes must be at least 4096".into());
        }
        Ok(())
    }

    pub fn service_name(&self, env: Env) -> String {
        self.service_name.clone().or_else(|| env("OTEL_SERVICE_NAME")).unwrap_or_else(|| "openclaw".into())
    }
}

/// The only settings that are lists. serde would also fill a struct from an array (`{"exporters": []}` parses as
/// all defaults), so an array anywhere else is refused by name.
const LIST_FIELDS: &[&str] = &["redact.patterns"];

fn reject_misplaced_arrays(v: &serde_json::Value, path: &str) -> Result<(), String> {
    match v {
        serde_json::Value::Array(_) if !LIST_FIELDS.contains(&path) => Err(format!(
            "invalid clawtrace config: {}: expected {}, got an array",
            if path.is_empty() { "the configuration" } else { path },
            if path.is_empty() { "an object" } else { "a single value or an object" }
        )),
        serde_json::Value::Object(m) => m.iter().try_for_each(|(k, child)| {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            reject_misplaced_arrays(child, &p)
        }),
        _ => Ok(()),
    }
}

fn is_http_url(u: &str) -> bool {
    reqwest::Url::parse(u.trim()).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some())
}

/// A deserialisation error as `field: expected …, got <kind>`: serde's own message quotes the value, which may be
/// a credential given the wrong type, so only its "expected" part is kept and the value is named by its kind.
fn describe_error(e: &serde_path_to_error::Error<serde_json::Error>, root: &serde_json::Value) -> String {
    let path = e.path().to_string();
    let field = if path == "." { "the configuration".to_string() } else { path };
    let msg = e.inner().to_string();
    let expected = msg.rsplit_once(", expected ").map(|(_, x)| x.to_string());
    if msg.starts_with("invalid type") || msg.starts_with("invalid value") || msg.starts_with("invalid length") {
        let got = value_at(root, e.path()).map_or("another value", kind_of);
        return format!("{field}: expected {}, got {got}", expected.as_deref().unwrap_or("another type"));
    }
    if msg.starts_with("unknown variant") {
        return format!("{field}: unsupported value, expected {}", expected.as_deref().unwrap_or("another value"));
    }
    if msg.starts_with("unknown field") || msg.starts_with("missing field") {
        // Field names only: `unknown field `x`, expected one of …` / `missing field `path``.
        return format!("{field}: {msg}");
    }
    // Custom messages (protocol, compression) name the setting and the accepted values.
    format!("{field}: {msg}")
}

fn value_at<'a>(root: &'a serde_json::Value, path: &serde_path_to_error::Path) -> Option<&'a serde_json::Value> {
    use serde_path_to_error::Segment;
    let mut v = root;
    for seg in path.iter() {
        v = match seg {
            Segment::Seq { index } => v.get(*index)?,
            Segment::Map { key } => v.get(key.as_str())?,
            Segment::Enum { .. } | Segment::Unknown => return None,
        };
    }
    Some(v)
}

/// A value's JSON kind, finer for numbers (why `-1` or `1.5` is not a count) and never the value itself.
fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(n) if n.is_i64() && n.as_i64().is_some_and(|i| i < 0) => "a negative number",
        serde_json::Value::Number(n) if n.is_f64() => "a fractional number",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::env_of;

    #[test]
    fn defaults_and_validation() {
        let c = Config::from_json(serde_json::json!({})).unwrap();
        assert_eq!(c, Config::default());
        let c =
            Config::from_json(serde_json::json!({"exporters": {"file": {"path": "/tmp/x"}}, "graceMs": 10})).unwrap();
        assert_eq!(c.exporters.file.as_ref().unwrap().path, "/tmp/x");
        assert!(Config::from_json(serde_json::json!({"bogus": 1})).unwrap_err().contains("bogus"));
        assert!(Config::from_json(serde_json::json!({"queueCapacity": 0})).is_err());
        assert!(Config::from_json(serde_json::json!({"sampling": {"ratio": 1.5}})).is_err());
        assert_eq!(c.service_name(&env_of(&[("OTEL_SERVICE_NAME", "gw")])), "gw");
        assert_eq!(c.service_name(&env_of(&[])), "openclaw");
    }

    #[test]
    fn errors_name_the_field_and_the_expected_type_never_the_value() {
        let err = |v: serde_json::Value| Config::from_json(v).unwrap_err();
        let e = err(serde_json::json!({"exporters": {"otlp": {"headers": "authorization=Bearer tok-123456"}}}));
        assert!(
            e.contains("exporters.otlp.headers") && e.contains("expected a map") && e.contains("got a string"),
            "{e}"
        );
        assert!(!e.contains("tok-123456"), "{e}");
        let e = err(serde_json::json!({"exporters": {"langfuse": {"publicKey": "pk", "secretKey": 987654321}}}));
        assert!(
            e.contains("exporters.langfuse.secretKey") && e.contains("got a number") && !e.contains("987654321"),
            "{e}"
        );
        let e = err(serde_json::json!({"exporters": {"mlflow": {"password": ["p4ssw0rd-x"]}}}));
        assert!(e.contains("exporters.mlflow.password") && !e.contains("p4ssw0rd-x"), "{e}");
        let e = err(serde_json::json!({"batch": {"maxSpans": -5}}));
        assert!(e.contains("batch.maxSpans") && e.contains("negative"), "{e}");
        let e = err(serde_json::json!({"graceMs": "soon"}));
        assert!(e.contains("graceMs") && e.contains("got a string"), "{e}");
        let e = err(serde_json::json!({"exporters": {"otlp": {"protocol": "grpc-secret-ish"}}}));
        assert!(e.contains("exporters.otlp.protocol"), "{e}");
        assert!(err(serde_json::json!({"exporters": []}))
            .contains("exporters: expected a single value or an object, got an array"));
        assert!(err(serde_json::json!({"sampling": [0.5]})).contains("sampling: expected"));
        assert!(Config::from_json(serde_json::json!({"redact": {"patterns": ["x"]}})).is_ok());
    }

    #[test]
    fn nonsensical_values_are_rejected() {
        for (v, field) in [
            (serde_json::json!({"batch": {"exportTimeoutMs": 0}}), "batch.exportTimeoutMs"),
            (serde_json::json!({"batch": {"maxBytes": 0}}), "batch.maxBytes"),
            (serde_json::json!({"exporters": {"otlp": {"endpoint": ""}}}), "exporters.otlp.endpoint"),
            (serde_json::json!({"exporters": {"otlp": {"endpoint": "collector:4318"}}}), "exporters.otlp.endpoint"),
            (serde_json::json!({"exporters": {"mlflow": {"trackingUri": " "}}}), "exporters.mlflow.trackingUri"),
            (serde_json::json!({"exporters": {"langfuse": {"baseUrl": "ftp://x"}}}), "exporters.langfuse.baseUrl"),
            (serde_json::json!({"exporters": {"langfuse": {"timeoutMs": 0}}}), "exporters.langfuse.timeoutMs"),
            (serde_json::json!({"exporters": {"file": {"path": ""}}}), "exporters.file.path"),
            (serde_json::json!({"spool": {"dir": ""}}), "spool.dir"),
            (serde_json::json!({"serviceName": ""}), "serviceName"),
            (serde_json::json!({"sampling": {"keepSlowerThanMs": -1}}), "sampling.keepSlowerThanMs"),
            (serde_json::json!({"pricing": {"m": {"input": -1, "output": 1}}}), "pricing"),
        ] {
            let e = Config::from_json(v.clone()).unwrap_err();
            assert!(e.contains(field), "{v} → {e}");
        }
        let url = "https://user:pw-in-url@collector.example/otlp";
        assert!(Config::from_json(serde_json::json!({"exporters": {"otlp": {"endpoint": url}}})).is_ok());
    }

    #[test]
    fn secrets_never_print() {
        let c = Config::from_json(
            serde_json::json!({"exporters": {"langfuse": {"publicKey": "pk-1", "secretKey": "sk-very-secret"}}}),
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sk-very-secret") && dbg.contains("pk-1"), "{dbg}");
    }
}
