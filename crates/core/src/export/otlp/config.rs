//! The OTLP sink's settings: what `configure({exporters: {otlp: {...}}})` says, completed from the
//! `OTEL_EXPORTER_OTLP_*` variables as the OpenTelemetry specification defines them.

use std::time::Duration;

use serde::Deserialize;

use crate::export::transport::http::{parse_headers, Compression, Protocol};
use crate::settings::{Env, Secret};

/// `exporters.otlp` as configured; every field may be left to the environment.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// Base URL (`/v1/traces` is appended), like `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: Option<String>,
    /// Full URL used as is, like `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    pub traces_endpoint: Option<String>,
    /// Extra request headers (e.g. an API key); merged over the environment's.
    pub headers: std::collections::BTreeMap<String, Secret>,
    pub protocol: Option<Protocol>,
    pub compression: Option<Compression>,
    pub timeout_ms: Option<u64>,
}

/// Ready-to-use settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSettings {
    pub url: String,
    pub headers: Vec<(String, Secret)>,
    pub protocol: Protocol,
    pub compression: Compression,
    pub timeout: Duration,
}

pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";

/// The environment enables the OTLP sink by naming an endpoint.
pub fn enabled_from_env(env: Env) -> bool {
    env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
}

/// Appends the signal path to a base endpoint's path, as the spec asks for the non-signal-specific variable; a
/// query string (an API key some collectors take there) stays after it.
pub fn traces_url(base: &str) -> String {
    let (path, query) = base.split_at(base.find(['?', '#']).unwrap_or(base.len()));
    format!("{}/v1/traces{query}", path.trim_end_matches('/'))
}

impl OtlpConfig {
    /// The configured value wins; then `OTEL_EXPORTER_OTLP_TRACES_*`; then `OTEL_EXPORTER_OTLP_*`; then defaults.
    pub fn resolve(&self, env: Env) -> Result<OtlpSettings, String> {
        let signal_or_generic = |name: &str| {
            env(&format!("OTEL_EXPORTER_OTLP_TRACES_{name}")).or_else(|| env(&format!("OTEL_EXPORTER_OTLP_{name}")))
        };
        let url = match (&self.traces_endpoint, &self.endpoint) {
            (Some(u), _) => u.clone(),
            (None, Some(base)) => traces_url(base),
            (None, None) => match (env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), env("OTEL_EXPORTER_OTLP_ENDPOINT")) {
                (Some(u), _) => u,
                (None, Some(base)) => traces_url(&base),
                (None, None) => traces_url(DEFAULT_ENDPOINT),
            },
        };
        let mut headers: Vec<(String, Secret)> = Vec::new();
        for var in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
            if let Some(v) = env(var) {
                for (k, v) in parse_headers(&v).map_err(|e| format!("{var}: {e}"))? {
                    upsert(&mut headers, k, Secret(v));
                }
            }
        }
        for (k, v) in &self.headers {
            upsert(&mut headers, k.clone(), v.clone());
        }
        let protocol = match self.protocol {
            Some(p) => p,
            None => signal_or_generic("PROTOCOL").map(|p| Protocol::parse(&p)).transpose()?.unwrap_or_default(),
        };
        let compression = match self.compression {
            Some(c) => c,
            None => signal_or_generic("COMPRESSION").map(|c| Compression::parse(&c)).transpose()?.unwrap_or_default(),
        };
        let timeout_ms = match self.timeout_ms {
            Some(t) => t,
            None => match signal_or_generic("TIMEOUT") {
                Some(t) => {
                    t.trim().parse().map_err(|_| "OTEL_EXPORTER_OTLP_TIMEOUT must be milliseconds".to_string())?
                }
                None => 10_000,
            },
        };
        if timeout_ms == 0 {
            return Err("otlp: timeout must be positive".into());
        }
        Ok(OtlpSettings { url, headers, protocol, compression, timeout: Duration::from_millis(timeout_ms) })
    }
}

/// Header names are case-insensitive: a later source replaces an earlier one.
pub fn upsert(headers: &mut Vec<(String, Secret)>, key: String, value: Secret) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
    headers.push((key, value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::env_of;

    #[test]
    fn endpoint_precedence_follows_the_spec() {
        let none = env_of(&[]);
        assert_eq!(OtlpConfig::default().resolve(&none).unwrap().url, "http://localhost:4318/v1/traces");
        let generic = env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
        assert_eq!(OtlpConfig::default().resolve(&generic).unwrap().url, "http://collector:4318/v1/traces");
        let both = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b/custom"),
        ]);
        assert_eq!(OtlpConfig::default().resolve(&both).unwrap().url, "http://b/custom");
        let cfg = OtlpConfig { endpoint: Some("http://c:1".into()), ..Default::default() };
        assert_eq!(cfg.resolve(&both).unwrap().url, "http://c:1/v1/traces");
        assert_eq!(traces_url("https://c.example/otlp/?key=k1&x=2"), "https://c.example/otlp/v1/traces?key=k1&x=2");
        assert_eq!(traces_url("http://c:4318?key=k1"), "http://c:4318/v1/traces?key=k1");
    }

    #[test]
    fn headers_protocol_compression_timeout_from_env() {
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=one,x-a=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "API-KEY=two"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ]);
        let s = OtlpConfig::default().resolve(&env).unwrap();
        assert_eq!(s.headers, vec![("x-a".into(), Secret("1".into())), ("API-KEY".into(), Secret("two".into()))]);
        assert_eq!(
            (s.protocol, s.compression, s.timeout),
            (Protocol::Json, Compression::Gzip, Duration::from_millis(2500))
        );
        let grpc = env_of(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
        assert!(OtlpConfig::default().resolve(&grpc).unwrap_err().contains("grpc"));
    }
}
