//! The sink table: every sink, what turns it on, how it is built, whether its undeliverable batches may wait in
//! the spool. Nothing outside this file names a sink.
//!
//! Which sinks run: those `configure({exporters})` names, used as given (the environment only fills their
//! blanks). With none named, every sink the environment enables; with none of those either, the file sink
//! (`FALLBACK`), so a gateway with nothing set up still keeps its traces.

use std::path::Path;

use crate::config::{Config, Exporters};
use crate::export::transport::spool::Spool;
use crate::export::{file, langfuse, mlflow, otlp, Exporter};
use crate::settings::Env;

/// What a sink's `build` may read.
pub struct SinkContext<'a> {
    pub config: &'a Config,
    pub env: Env<'a>,
    /// `service.name` of every exported resource.
    pub service_name: String,
}

pub struct SinkSpec {
    pub name: &'static str,
    /// `configure({exporters})` has a section for this sink.
    pub configured: fn(&Exporters) -> bool,
    /// The environment alone enables this sink (consulted only when no sink is configured).
    pub enabled_from_env: fn(Env) -> bool,
    /// The exporter, from its section (or its defaults and the environment, when the environment enabled it).
    /// An error (bad URL, missing key) fails `configure()` as a whole.
    pub build: fn(&SinkContext) -> Result<Box<dyn Exporter>, String>,
    /// Batches the backend would not take may wait in the spool (a file sink has nowhere better to park them).
    pub spoolable: bool,
}

pub const SINKS: &[SinkSpec] = &[
    SinkSpec {
        name: "file",
        configured: |e| e.file.is_some(),
        enabled_from_env: file::config::enabled_from_env,
        build: file::build,
        spoolable: false,
    },
    SinkSpec {
        name: "otlp",
        configured: |e| e.otlp.is_some(),
        enabled_from_env: otlp::config::enabled_from_env,
        build: otlp::build,
        spoolable: true,
    },
    SinkSpec {
        name: "mlflow",
        configured: |e| e.mlflow.is_some(),
        enabled_from_env: mlflow::config::enabled_from_env,
        build: mlflow::build,
        spoolable: true,
    },
    SinkSpec {
        name: "langfuse",
        configured: |e| e.langfuse.is_some(),
        enabled_from_env: langfuse::config::enabled_from_env,
        build: langfuse::build,
        spoolable: true,
    },
];

/// The sink that runs when nothing else would.
pub const FALLBACK: &str = "file";

fn spec(name: &str) -> &'static SinkSpec {
    SINKS.iter().find(|s| s.name == name).expect("a sink of the table")
}

/// The sinks to run, in table order.
pub fn selected(cfg: &Config, env: Env) -> Vec<&'static SinkSpec> {
    let configured: Vec<_> = SINKS.iter().filter(|s| (s.configured)(&cfg.exporters)).collect();
    if !configured.is_empty() {
        return configured;
    }
    let from_env: Vec<_> = SINKS.iter().filter(|s| (s.enabled_from_env)(env)).collect();
    if from_env.is_empty() {
        vec![spec(FALLBACK)]
    } else {
        from_env
    }
}

/// A sink ready to run: its exporter and, when a spool is configured and the sink may use one, its spool.
pub struct BuiltSink {
    pub exporter: Box<dyn Exporter>,
    pub spool: Option<Spool>,
}

/// Builds every selected sink; any error fails the whole configuration.
pub fn build(cfg: &Config, env: Env) -> Result<Vec<BuiltSink>, String> {
    let ctx = SinkContext { config: cfg, env, service_name: cfg.service_name(env) };
    selected(cfg, env)
        .into_iter()
        .map(|s| {
            let exporter = (s.build)(&ctx)?;
            let spool = match &cfg.spool {
                Some(sp) if s.spoolable => {
                    if sp.dir.trim().is_empty() {
                        return Err("spool.dir must name a directory".into());
                    }
                    Some(Spool::open(Path::new(&sp.dir), s.name, sp.max_bytes)?)
                }
                _ => None,
            };
            Ok(BuiltSink { exporter, spool })
        })
        .collect()
}

/// The fallback sink alone, for when the configuration the pipeline starts with is unusable: traces still land
/// somewhere.
pub fn fallback(cfg: &Config, env: Env) -> Vec<BuiltSink> {
    let bare = Config { exporters: Exporters::default(), spool: None, ..cfg.clone() };
    let ctx = SinkContext { config: &bare, env: &|_| None, service_name: cfg.service_name(env) };
    match (spec(FALLBACK).build)(&ctx) {
        Ok(exporter) => vec![BuiltSink { exporter, spool: None }],
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::env_of;

    fn names(cfg: &Config, env: &[(&str, &str)]) -> Vec<&'static str> {
        selected(cfg, &env_of(env)).iter().map(|s| s.name).collect()
    }

    #[test]
    fn configured_sinks_are_used_as_given() {
        let c = Config::from_json(serde_json::json!({"exporters": {"file": {"path": "/tmp/x"}}})).unwrap();
        assert_eq!(names(&c, &[("MLFLOW_TRACKING_URI", "http://m")]), ["file"], "not extended by the environment");
        let c = Config::from_json(serde_json::json!({"defaultFile": "/d.jsonl", "exporters": {"mlflow": {}}})).unwrap();
        assert_eq!(names(&c, &[]), ["mlflow"]);
    }

    #[test]
    fn environment_chooses_sinks_when_none_are_configured() {
        let c = Config::default();
        assert_eq!(names(&c, &[]), ["file"]);
        let all = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
            ("LANGFUSE_PUBLIC_KEY", "pk"),
            ("LANGFUSE_SECRET_KEY", "sk"),
        ];
        assert_eq!(names(&c, &all), ["otlp", "mlflow", "langfuse"]);
        assert_eq!(names(&c, &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c/v1/traces")]), ["otlp"]);
        assert_eq!(names(&c, &[("LANGFUSE_PUBLIC_KEY", "pk")]), ["file"], "one key is not enough");
        assert_eq!(names(&c, &[("MLFLOW_TRACKING_URI", "databricks")]), ["file"], "a non-http URI selects nothing");
        assert_eq!(names(&c, &[("CLAWTRACE_FILE", "/x"), all[0]]), ["file", "otlp"]);
    }

    #[test]
    fn the_default_file_is_used_only_when_nothing_else_receives_traces() {
        let c = Config::from_json(serde_json::json!({"defaultFile": "/state/clawtrace/traces.jsonl"})).unwrap();
        let path = |env: &[(&str, &str)]| {
            let env = env_of(env);
            file::config::resolve(c.exporters.file.as_ref(), c.default_file.as_deref(), &env)
        };
        assert_eq!(path(&[]), Path::new("/state/clawtrace/traces.jsonl"));
        assert_eq!(path(&[("CLAWTRACE_FILE", "/x.jsonl")]), Path::new("/x.jsonl"));
        for env in [
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c")][..],
            &[("LANGFUSE_PUBLIC_KEY", "p"), ("LANGFUSE_SECRET_KEY", "s")],
        ] {
            assert!(!names(&c, env).contains(&"file"), "{env:?}");
        }
    }

    #[test]
    fn build_names_each_exporter_and_spools_only_network_sinks() {
        let dir = std::env::temp_dir().join(format!("clawtrace-registry-test-{}", std::process::id()));
        let c = Config::from_json(serde_json::json!({
            "exporters": {"file": {"path": dir.join("t.jsonl")}, "otlp": {"endpoint": "http://127.0.0.1:9"}},
            "spool": {"dir": dir},
        }))
        .unwrap();
        let built = build(&c, &env_of(&[])).unwrap();
        let got: Vec<_> = built.iter().map(|b| (b.exporter.name(), b.spool.is_some())).collect();
        assert_eq!(got, [("file", false), ("otlp", true)]);
        let bad = Config::from_json(serde_json::json!({"exporters": {"mlflow": {}}})).unwrap();
        assert!(build(&bad, &env_of(&[])).is_err(), "an unusable sink fails the whole configuration");
        assert_eq!(fallback(&bad, &env_of(&[]))[0].exporter.name(), "file");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
