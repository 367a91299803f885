//! `exporters.langfuse` as configured; `LANGFUSE_*` variables fill what is left out (the names Langfuse's own SDKs
//! read). Resolution turns it into ready-to-use settings or a configuration error that names what is missing and
//! never repeats a key's value.

use std::time::Duration;

use serde::Deserialize;

use crate::export::transport::http::{basic_auth, Compression, Protocol};
use crate::settings::{Env, Secret};

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LangfuseConfig {
    /// `LANGFUSE_BASE_URL` (or the older `LANGFUSE_HOST`); Langfuse Cloud EU when unset.
    pub base_url: Option<String>,
    /// `LANGFUSE_PUBLIC_KEY` / `LANGFUSE_SECRET_KEY`.
    pub public_key: Option<String>,
    pub secret_key: Option<Secret>,
    /// `LANGFUSE_TRACING_ENVIRONMENT`.
    pub environment: Option<String>,
    /// `LANGFUSE_RELEASE`.
    pub release: Option<String>,
    pub protocol: Option<Protocol>,
    pub compression: Option<Compression>,
    pub timeout_ms: Option<u64>,
}

/// Langfuse Cloud (EU), the default of Langfuse's SDKs.
pub const DEFAULT_BASE_URL: &str = "https://cloud.langfuse.com";
/// The OTLP traces route under the base URL (the deprecated `/api/public/ingestion` is never used).
pub const TRACES_PATH: &str = "/api/public/otel/v1/traces";
/// Selects Langfuse's real-time v4 write path; without it OTLP data can show up minutes late.
pub const INGESTION_VERSION: &str = "4";
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// Ready-to-use settings. `Debug` shows no credential: the secret and the header built from it are `Secret`s.
#[derive(Debug, Clone, PartialEq)]
pub struct LangfuseSettings {
    pub url: String,
    pub public_key: String,
    pub secret_key: Secret,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub protocol: Protocol,
    pub compression: Compression,
    pub timeout: Duration,
}

impl LangfuseSettings {
    /// Every request header Langfuse needs; the `Authorization` value is a credential.
    pub fn headers(&self) -> Vec<(String, Secret)> {
        vec![
            ("Authorization".into(), Secret(basic_auth(&self.public_key, &self.secret_key.0))),
            ("x-langfuse-ingestion-version".into(), Secret(INGESTION_VERSION.into())),
            ("x-langfuse-sdk-name".into(), Secret("clawtrace".into())),
            ("x-langfuse-sdk-version".into(), Secret(env!("CARGO_PKG_VERSION").into())),
        ]
    }
}

/// `{base}/api/public/otel/v1/traces`. A base that already names the OTLP route (as `OTEL_EXPORTER_OTLP_ENDPOINT`
/// users tend to write it) is completed rather than doubled.
pub fn traces_url(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    if base.ends_with(TRACES_PATH) {
        base.to_string()
    } else if let Some(b) = base.strip_suffix("/api/public/otel") {
        format!("{b}{TRACES_PATH}")
    } else {
        format!("{base}{TRACES_PATH}")
    }
}

/// Langfuse accepts lowercase letters, digits, `-` and `_`, not starting with `langfuse` (reserved).
fn valid_environment(e: &str) -> bool {
    !e.is_empty()
        && !e.starts_with("langfuse")
        && e.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The environment enables the Langfuse sink by giving both keys.
pub fn enabled_from_env(env: Env) -> bool {
    env("LANGFUSE_PUBLIC_KEY").is_some() && env("LANGFUSE_SECRET_KEY").is_some()
}

impl LangfuseConfig {
    /// The configured value wins; then the `LANGFUSE_*` variable; then the default. Errors never contain a key.
    pub fn resolve(&self, env: Env) -> Result<LangfuseSettings, String> {
        let base = non_empty(&self.base_url)
            .or_else(|| env("LANGFUSE_BASE_URL"))
            .or_else(|| env("LANGFUSE_HOST"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let url = traces_url(&base);
        let public_key =
            non_empty(&self.public_key).or_else(|| env("LANGFUSE_PUBLIC_KEY")).map(|k| k.trim().to_string());
        let secret_key = non_empty(&self.secret_key.as_ref().map(|s| s.0.clone()))
            .or_else(|| env("LANGFUSE_SECRET_KEY"))
            .map(|k| k.trim().to_string());
        let (public_key, secret_key) = match (public_key, secret_key) {
            (Some(p), Some(s)) => (p, Secret(s)),
            (p, s) => {
                let missing: Vec<&str> = [
                    (p.is_none(), "publicKey (LANGFUSE_PUBLIC_KEY)"),
                    (s.is_none(), "secretKey (LANGFUSE_SECRET_KEY)"),
                ]
                .into_iter()
                .filter_map(|(m, name)| m.then_some(name))
                .collect();
                return Err(format!(
                    "langfuse: missing {} — set exporters.langfuse.publicKey/secretKey or the LANGFUSE_PUBLIC_KEY/LANGFUSE_SECRET_KEY variables (the project's API keys in Langfuse settings)",
                    missing.join(" and ")
                ));
            }
        };
        // Neither key's value is repeated here: the user knows which one they pasted where.
        if public_key.starts_with("sk-lf-") || secret_key.0.starts_with("pk-lf-") {
            return Err("langfuse: publicKey and secretKey look swapped (the public key starts with pk-lf-, the secret key with sk-lf-)".into());
        }
        if public_key.contains(':') {
            return Err("langfuse: publicKey must not contain ':'".into());
        }
        if public_key.chars().chain(secret_key.0.chars()).any(|c| c.is_control()) {
            return Err("langfuse: publicKey and secretKey must not contain control characters".into());
        }
        let environment = non_empty(&self.environment).or_else(|| env("LANGFUSE_TRACING_ENVIRONMENT"));
        if let Some(e) = &environment {
            if !valid_environment(e) {
                return Err(format!(
                    "langfuse: environment {e:?} is not accepted by Langfuse (lowercase letters, digits, '-' and '_', not starting with \"langfuse\")"
                ));
            }
        }
        let release = non_empty(&self.release).or_else(|| env("LANGFUSE_RELEASE"));
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err("langfuse: timeoutMs must be positive".into());
        }
        Ok(LangfuseSettings {
            url,
            public_key,
            secret_key,
            environment,
            release,
            protocol: self.protocol.unwrap_or_default(),
            compression: self.compression.unwrap_or_default(),
            timeout: Duration::from_millis(timeout_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::env_of;

    const KEYS: [(&str, &str); 2] = [("LANGFUSE_PUBLIC_KEY", "pk-lf-env"), ("LANGFUSE_SECRET_KEY", "sk-lf-env-secret")];

    #[test]
    fn base_url_precedence_and_route() {
        let env = env_of(&KEYS);
        let s = LangfuseConfig::default().resolve(&env).unwrap();
        assert_eq!(s.url, "https://cloud.langfuse.com/api/public/otel/v1/traces");
        let host = env_of(&[KEYS[0], KEYS[1], ("LANGFUSE_HOST", "http://old:3000/")]);
        assert_eq!(LangfuseConfig::default().resolve(&host).unwrap().url, "http://old:3000/api/public/otel/v1/traces");
        let both = env_of(&[
            KEYS[0],
            KEYS[1],
            ("LANGFUSE_HOST", "http://old:3000"),
            ("LANGFUSE_BASE_URL", "https://us.cloud.langfuse.com"),
        ]);
        assert_eq!(
            LangfuseConfig::default().resolve(&both).unwrap().url,
            "https://us.cloud.langfuse.com/api/public/otel/v1/traces"
        );
        let cfg = LangfuseConfig { base_url: Some("http://127.0.0.1:9/".into()), ..Default::default() };
        assert_eq!(cfg.resolve(&both).unwrap().url, "http://127.0.0.1:9/api/public/otel/v1/traces");
        assert_eq!(traces_url("http://h/api/public/otel"), "http://h/api/public/otel/v1/traces");
        assert_eq!(traces_url("http://h/api/public/otel/v1/traces/"), "http://h/api/public/otel/v1/traces");
        assert_eq!(traces_url("http://h/prefix"), "http://h/prefix/api/public/otel/v1/traces");
    }

    #[test]
    fn configured_values_win_over_the_environment() {
        let env =
            env_of(&[KEYS[0], KEYS[1], ("LANGFUSE_TRACING_ENVIRONMENT", "staging"), ("LANGFUSE_RELEASE", "env-rel")]);
        let s = LangfuseConfig::default().resolve(&env).unwrap();
        assert_eq!((s.public_key.as_str(), s.secret_key.0.as_str()), ("pk-lf-env", "sk-lf-env-secret"));
        assert_eq!((s.environment.as_deref(), s.release.as_deref()), (Some("staging"), Some("env-rel")));
        assert_eq!(
            (s.protocol, s.compression, s.timeout),
            (Protocol::Protobuf, Compression::None, Duration::from_millis(10_000))
        );
        let cfg = LangfuseConfig {
            public_key: Some("pk-lf-cfg".into()),
            secret_key: Some(Secret("sk-lf-cfg".into())),
            environment: Some("production".into()),
            release: Some("1.2.3".into()),
            protocol: Some(Protocol::Json),
            compression: Some(Compression::Gzip),
            timeout_ms: Some(1500),
            ..Default::default()
        };
        let s = cfg.resolve(&env).unwrap();
        assert_eq!((s.public_key.as_str(), s.secret_key.0.as_str()), ("pk-lf-cfg", "sk-lf-cfg"));
        assert_eq!((s.environment.as_deref(), s.release.as_deref()), (Some("production"), Some("1.2.3")));
        assert_eq!(
            (s.protocol, s.compression, s.timeout),
            (Protocol::Json, Compression::Gzip, Duration::from_millis(1500))
        );
        // An empty configured string is "not configured", as an empty variable is.
        let blank = LangfuseConfig { public_key: Some("  ".into()), ..Default::default() };
        assert_eq!(blank.resolve(&env).unwrap().public_key, "pk-lf-env");
    }

    #[test]
    fn missing_or_bad_keys_are_clear_errors_without_the_secret() {
        let e = LangfuseConfig::default().resolve(&env_of(&[])).unwrap_err();
        assert!(e.contains("publicKey") && e.contains("secretKey") && e.contains("LANGFUSE_SECRET_KEY"), "{e}");
        let only_secret = env_of(&[("LANGFUSE_SECRET_KEY", "sk-lf-topsecret")]);
        let e = LangfuseConfig::default().resolve(&only_secret).unwrap_err();
        assert!(e.contains("missing publicKey") && !e.contains("missing secretKey") && !e.contains("topsecret"), "{e}");
        let swapped = LangfuseConfig {
            public_key: Some("sk-lf-topsecret".into()),
            secret_key: Some(Secret("pk-lf-1".into())),
            ..Default::default()
        };
        let e = swapped.resolve(&env_of(&[])).unwrap_err();
        assert!(e.contains("swapped") && !e.contains("topsecret"), "{e}");
        let env = env_of(&KEYS);
        for bad in ["Production", "langfuse-x", "a b", ""] {
            let cfg = LangfuseConfig { environment: Some(bad.into()), ..Default::default() };
            match cfg.resolve(&env) {
                Err(e) => assert!(e.contains("environment") && !e.contains("sk-lf"), "{e}"),
                Ok(s) => assert_eq!((bad, s.environment), ("", None), "empty means unset"),
            }
        }
        assert!(LangfuseConfig { timeout_ms: Some(0), ..Default::default() }.resolve(&env).is_err());
    }

    #[test]
    fn headers_and_debug() {
        let s = LangfuseConfig::default().resolve(&env_of(&KEYS)).unwrap();
        let h = s.headers();
        assert_eq!(h[0], ("Authorization".into(), Secret(basic_auth("pk-lf-env", "sk-lf-env-secret"))));
        assert!(h.contains(&("x-langfuse-ingestion-version".into(), Secret("4".into()))));
        let dbg = format!("{s:?} {h:?}");
        assert!(
            !dbg.contains("sk-lf-env-secret") && !dbg.contains(&basic_auth("pk-lf-env", "sk-lf-env-secret")),
            "{dbg}"
        );
        let cfg: LangfuseConfig = serde_json::from_value(
            serde_json::json!({"publicKey": "pk", "secretKey": "sk-lf-hidden", "baseUrl": "http://x"}),
        )
        .unwrap();
        assert!(!format!("{cfg:?}").contains("sk-lf-hidden"));
        assert!(
            serde_json::from_value::<LangfuseConfig>(serde_json::json!({"host": "x"})).is_err(),
            "unknown keys are refused"
        );
    }
}
