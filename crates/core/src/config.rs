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
            max_delay_ms: 1000,
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
        }
    }
}

impl Config {
    pub fn from_json(v: serde_json::Value) -> Result<Config, String> {
        let cfg: Config = serde_json::from_value(v).map_err(|e| format!("invalid clawtrace config: {e}"))?;
        cfg.validate()?;
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
        for (name, v) in
            [("graceMs", self.grace_ms), ("traceTtlMs", self.trace_ttl_ms), ("reorderWindowMs", self.reorder_window_ms)]
        {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{name} must be a non-negative number"));
            }
        }
        if self.batch.max_spans == 0 || self.batch.queue_traces == 0 {
            return Err("batch.maxSpans and batch.queueTraces must be at least 1".into());
        }
        if self.sampling.ratio.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
            return Err("sampling.ratio must be between 0 and 1".into());
        }
        Ok(())
    }

    pub fn service_name(&self, env: Env) -> String {
        self.service_name.clone().or_else(|| env("OTEL_SERVICE_NAME")).unwrap_or_else(|| "openclaw".into())
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
    fn secrets_never_print() {
        let c = Config::from_json(
            serde_json::json!({"exporters": {"langfuse": {"publicKey": "pk-1", "secretKey": "sk-very-secret"}}}),
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sk-very-secret") && dbg.contains("pk-1"), "{dbg}");
    }
}
