//! What every settings module shares — the top-level `config` and each sink's `config.rs` — without importing
//! one another: the injectable environment and the credential type that never prints.

use std::fmt;

use serde::Deserialize;

/// Reads one environment variable; injected so resolution is testable without touching the process environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, with empty values treated as unset (as the OpenTelemetry specification asks).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A credential: usable, comparable, never printed (`Debug` shows `***`).
#[derive(Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
