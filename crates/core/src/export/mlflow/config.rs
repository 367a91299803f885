//! `exporters.mlflow` as configured; `MLFLOW_*` variables fill what is left out.

use serde::Deserialize;

use crate::config::Secret;
use crate::export::http::{Compression, Protocol};

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
