//! `exporters.mlflow` as configured; `MLFLOW_*` variables fill what is left out (the names MLflow's own client
//! reads, so a gateway started next to an MLflow setup needs no extra configuration).

use std::time::Duration;

use serde::Deserialize;

use crate::export::transport::http::{basic_auth, Compression, Protocol};
use crate::settings::{Env, Secret};

/// `timeoutMs` when unset (see `resolve`).
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct MlflowConfig {
    /// `MLFLOW_TRACKING_URI`.
    pub tracking_uri: Option<String>,
    /// `MLFLOW_EXPERIMENT_ID`.
    pub experiment_id: Option<String>,
    /// `MLFLOW_EXPERIMENT_NAME`: resolved once, created when missing.
    pub experiment_name: Option<String>,
    /// `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` (basic auth).
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// `MLFLOW_TRACKING_TOKEN` (bearer).
    pub token: Option<Secret>,
    pub protocol: Option<Protocol>,
    pub compression: Option<Compression>,
    pub timeout_ms: Option<u64>,
}

/// Which experiment the traces go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExperimentRef {
    /// A numeric id, used as is (checked once on the first export).
    Id(String),
    /// A name: looked up once, created when missing.
    Name(String),
}

/// MLflow's "Default" experiment, which every tracking server has; used when neither an id nor a name is given
/// (as MLflow's own client does).
pub const DEFAULT_EXPERIMENT_ID: &str = "0";

/// Ready-to-use settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MlflowSettings {
    /// Base URL without a trailing slash (`/v1/traces` and `/api/2.0/...` are appended).
    pub tracking_uri: String,
    pub experiment: ExperimentRef,
    /// The `Authorization` header value (`Basic …` or `Bearer …`), when credentials are given.
    pub authorization: Option<Secret>,
    pub protocol: Protocol,
    pub compression: Compression,
    pub timeout: Duration,
}

impl MlflowSettings {
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.tracking_uri)
    }
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn non_empty_secret(v: &Option<Secret>) -> Option<Secret> {
    v.as_ref().filter(|s| !s.0.is_empty()).cloned()
}

/// The environment enables the MLflow sink by naming a tracking server (`databricks`, `file:` or `sqlite:` URIs
/// are client settings, not a server to send to).
pub fn enabled_from_env(env: Env) -> bool {
    env("MLFLOW_TRACKING_URI").is_some_and(|u| u.starts_with("http"))
}

impl MlflowConfig {
    /// Every configured value wins over its variable. The experiment is the configured id or name (id first), else
    /// `MLFLOW_EXPERIMENT_ID`, else `MLFLOW_EXPERIMENT_NAME`, else the Default experiment (`0`). Credentials:
    /// username and password (basic), else a token (bearer); a configured pair or token replaces the environment's.
    pub fn resolve(&self, env: Env) -> Result<MlflowSettings, String> {
        let uri = non_empty(&self.tracking_uri)
            .or_else(|| env("MLFLOW_TRACKING_URI").map(|s| s.trim().to_string()))
            .ok_or("mlflow: no tracking URI (set exporters.mlflow.trackingUri or MLFLOW_TRACKING_URI)")?;
        let parsed = reqwest::Url::parse(&uri).map_err(|e| format!("mlflow: invalid tracking URI: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            // `databricks`, `file:` and `sqlite:` URIs are MLflow client settings, not a server to POST to.
            return Err("mlflow: the tracking URI must be an http:// or https:// MLflow server".into());
        }
        let tracking_uri = uri.trim_end_matches('/').to_string();

        let experiment = match (non_empty(&self.experiment_id), non_empty(&self.experiment_name)) {
            (Some(id), _) => ExperimentRef::Id(id),
            (None, Some(name)) => ExperimentRef::Name(name),
            (None, None) => match (env("MLFLOW_EXPERIMENT_ID"), env("MLFLOW_EXPERIMENT_NAME")) {
                (Some(id), _) => ExperimentRef::Id(id.trim().to_string()),
                (None, Some(name)) => ExperimentRef::Name(name.trim().to_string()),
                (None, None) => ExperimentRef::Id(DEFAULT_EXPERIMENT_ID.into()),
            },
        };
        if let ExperimentRef::Id(id) = &experiment {
            // The OTLP endpoint takes numeric ids only (a name there is a 400 for every batch).
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "mlflow: experiment id must be numeric, got {id:?} (use experimentName for a name)"
                ));
            }
        }

        let configured_pair = self.username.is_some() || self.password.is_some();
        let (user, password, token) = if configured_pair || self.token.is_some() {
            (non_empty(&self.username), non_empty_secret(&self.password), non_empty_secret(&self.token))
        } else {
            (
                env("MLFLOW_TRACKING_USERNAME"),
                env("MLFLOW_TRACKING_PASSWORD").map(Secret),
                env("MLFLOW_TRACKING_TOKEN").map(Secret),
            )
        };
        let authorization =
            match (user, password, token) {
                (Some(u), Some(p), _) => Some(Secret(basic_auth(&u, &p.0))),
                (Some(_), None, _) | (None, Some(_), _) => return Err(
                    "mlflow: username and password go together (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)"
                        .into(),
                ),
                (None, None, Some(t)) => Some(Secret(format!("Bearer {}", t.0))),
                (None, None, None) => None,
            };

        // MLflow writes a request's spans to its store before it answers: the first request after a server start,
        // or any on a busy small machine, can take tens of seconds. A request given up on may still be stored, and
        // sending it again then delivers it twice, so the default leaves room.
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err("mlflow: timeout must be positive".into());
        }
        Ok(MlflowSettings {
            tracking_uri,
            experiment,
            authorization,
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

    #[test]
    fn environment_fills_the_blanks() {
        let env = env_of(&[
            ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000/"),
            ("MLFLOW_EXPERIMENT_NAME", "agents"),
            ("MLFLOW_TRACKING_USERNAME", "admin"),
            ("MLFLOW_TRACKING_PASSWORD", "pw"),
        ]);
        let s = MlflowConfig::default().resolve(&env).unwrap();
        assert_eq!(s.tracking_uri, "http://127.0.0.1:5000");
        assert_eq!(s.traces_url(), "http://127.0.0.1:5000/v1/traces");
        assert_eq!(s.experiment, ExperimentRef::Name("agents".into()));
        assert_eq!(s.authorization, Some(Secret(basic_auth("admin", "pw"))));
        assert_eq!(
            (s.protocol, s.compression, s.timeout),
            (Protocol::Protobuf, Compression::None, Duration::from_millis(DEFAULT_TIMEOUT_MS))
        );

        let env = env_of(&[
            ("MLFLOW_TRACKING_URI", "http://m"),
            ("MLFLOW_EXPERIMENT_ID", "7"),
            ("MLFLOW_EXPERIMENT_NAME", "x"),
            ("MLFLOW_TRACKING_TOKEN", "tok"),
        ]);
        let s = MlflowConfig::default().resolve(&env).unwrap();
        assert_eq!(s.experiment, ExperimentRef::Id("7".into()));
        assert_eq!(s.authorization, Some(Secret("Bearer tok".into())));

        let s = MlflowConfig::default().resolve(&env_of(&[("MLFLOW_TRACKING_URI", "http://m")])).unwrap();
        assert_eq!(s.experiment, ExperimentRef::Id("0".into()), "MLflow's Default experiment");
        assert_eq!(s.authorization, None);
    }

    #[test]
    fn configured_values_win() {
        let env = env_of(&[
            ("MLFLOW_TRACKING_URI", "http://env:5000"),
            ("MLFLOW_EXPERIMENT_ID", "3"),
            ("MLFLOW_TRACKING_USERNAME", "envuser"),
            ("MLFLOW_TRACKING_PASSWORD", "envpw"),
        ]);
        let cfg = MlflowConfig {
            tracking_uri: Some("https://cfg:443".into()),
            experiment_name: Some("from-config".into()),
            token: Some(Secret("t0k".into())),
            protocol: Some(Protocol::Json),
            compression: Some(Compression::Gzip),
            timeout_ms: Some(1500),
            ..Default::default()
        };
        let s = cfg.resolve(&env).unwrap();
        assert_eq!(s.tracking_uri, "https://cfg:443");
        assert_eq!(
            s.experiment,
            ExperimentRef::Name("from-config".into()),
            "a configured name beats an id from the environment"
        );
        assert_eq!(
            s.authorization,
            Some(Secret("Bearer t0k".into())),
            "configured credentials replace the environment's"
        );
        assert_eq!(
            (s.protocol, s.compression, s.timeout),
            (Protocol::Json, Compression::Gzip, Duration::from_millis(1500))
        );
        let both = MlflowConfig { experiment_id: Some("12".into()), experiment_name: Some("n".into()), ..cfg };
        assert_eq!(both.resolve(&env).unwrap().experiment, ExperimentRef::Id("12".into()));
    }

    #[test]
    fn bad_settings_fail_clearly() {
        let none = env_of(&[]);
        assert!(MlflowConfig::default().resolve(&none).unwrap_err().contains("MLFLOW_TRACKING_URI"));
        for uri in ["databricks", "file:///tmp/mlruns", "sqlite:///x.db"] {
            let c = MlflowConfig { tracking_uri: Some(uri.into()), ..Default::default() };
            assert!(c.resolve(&none).is_err(), "{uri}");
        }
        let c = MlflowConfig {
            tracking_uri: Some("http://m".into()),
            experiment_id: Some("agents".into()),
            ..Default::default()
        };
        assert!(c.resolve(&none).unwrap_err().contains("numeric"));
        let c =
            MlflowConfig { tracking_uri: Some("http://m".into()), username: Some("u".into()), ..Default::default() };
        assert!(c.resolve(&none).unwrap_err().contains("together"));
        let c = MlflowConfig { tracking_uri: Some("http://m".into()), timeout_ms: Some(0), ..Default::default() };
        assert!(c.resolve(&none).is_err());
    }

    #[test]
    fn secrets_never_print() {
        let env = env_of(&[
            ("MLFLOW_TRACKING_URI", "http://m"),
            ("MLFLOW_TRACKING_USERNAME", "u"),
            ("MLFLOW_TRACKING_PASSWORD", "hunter2-pw"),
        ]);
        let cfg = MlflowConfig { token: None, password: None, ..Default::default() };
        let s = cfg.resolve(&env).unwrap();
        let dbg = format!("{s:?} {cfg:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains(&basic_auth("u", "hunter2-pw")[6..]),
            "a credential in Debug output"
        );
        let cfg = MlflowConfig {
            tracking_uri: Some("http://m".into()),
            token: Some(Secret("tok-secret".into())),
            ..Default::default()
        };
        assert!(!format!("{cfg:?} {:?}", cfg.resolve(&env).unwrap()).contains("tok-secret"));
    }
}
