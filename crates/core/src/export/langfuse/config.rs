//! `exporters.langfuse` as configured; `LANGFUSE_*` variables fill what is left out.

use serde::Deserialize;

use crate::config::Secret;
use crate::export::http::{Compression, Protocol};

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
