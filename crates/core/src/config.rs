//! Configuration: what `configure()` accepts (camelCase JSON), with defaults that work with nothing set.

use std::collections::HashMap;

use serde::Deserialize;

use crate::enrich::pricing::Price;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Config {
    pub exporters: Exporters,
    /// Bounded queue between the record calls and the background (events).
    pub queue_capacity: usize,
    pub grace_ms: f64,
    pub trace_ttl_ms: f64,
    pub max_open_traces: usize,
    pub reorder_window_ms: f64,
    pub capture_content: bool,
    pub max_content_chars: usize,
    /// USD per million tokens, by model id; overrides the bundled table.
    pub pricing: HashMap<String, Price>,
    pub service_name: String,
    /// Per-sink batching.
    pub batch: BatchConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Exporters {
    pub file: Option<FileExporterConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileExporterConfig {
    pub path: String,
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
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig { max_spans: 512, max_bytes: 4 << 20, max_delay_ms: 1000, queue_traces: 4096, export_timeout_ms: 10_000 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            exporters: Exporters::default(),
            queue_capacity: 65_536,
            grace_ms: 2000.0,
            trace_ttl_ms: 600_000.0,
            max_open_traces: 10_000,
            reorder_window_ms: 250.0,
            capture_content: false,
            max_content_chars: 8192,
            pricing: HashMap::new(),
            service_name: "openclaw".into(),
            batch: BatchConfig::default(),
        }
    }
}

/// Where traces go when nothing is configured: `CLAWTRACE_FILE`, else `clawtrace-traces.jsonl` in the working dir.
pub fn default_file_path() -> String {
    std::env::var("CLAWTRACE_FILE").unwrap_or_else(|_| "clawtrace-traces.jsonl".into())
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
        if self.max_open_traces == 0 {
            return Err("maxOpenTraces must be at least 1".into());
        }
        for (name, v) in [("graceMs", self.grace_ms), ("traceTtlMs", self.trace_ttl_ms), ("reorderWindowMs", self.reorder_window_ms)] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{name} must be a non-negative number"));
            }
        }
        if self.batch.max_spans == 0 || self.batch.queue_traces == 0 {
            return Err("batch.maxSpans and batch.queueTraces must be at least 1".into());
        }
        Ok(())
    }

    /// The file sink's path: configured, or the default when no exporter at all is configured.
    pub fn file_path(&self) -> Option<String> {
        match &self.exporters.file {
            Some(f) => Some(f.path.clone()),
            None if self.exporters == Exporters::default() => Some(default_file_path()),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c = Config::from_json(serde_json::json!({})).unwrap();
        assert_eq!(c.file_path().unwrap(), default_file_path());
        let c = Config::from_json(serde_json::json!({"exporters": {"file": {"path": "/tmp/x"}}, "graceMs": 10})).unwrap();
        assert_eq!(c.file_path().unwrap(), "/tmp/x");
        assert!(Config::from_json(serde_json::json!({"bogus": 1})).unwrap_err().contains("bogus"));
        assert!(Config::from_json(serde_json::json!({"queueCapacity": 0})).is_err());
    }
}
