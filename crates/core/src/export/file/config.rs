//! `exporters.file`: where the lines go. `CLAWTRACE_FILE` alone enables the sink; with nothing configured and no
//! other sink enabled by the environment, the file sink is the fallback (`export/registry.rs`), at `defaultFile`
//! or `clawtrace-traces.jsonl` in the working directory.

use std::path::PathBuf;

use serde::Deserialize;

use crate::settings::Env;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileConfig {
    pub path: String,
}

/// The path used when neither the configuration, `CLAWTRACE_FILE` nor `defaultFile` names one.
pub const DEFAULT_PATH: &str = "clawtrace-traces.jsonl";

/// The environment enables the file sink by naming a file.
pub fn enabled_from_env(env: Env) -> bool {
    env("CLAWTRACE_FILE").is_some()
}

/// The configured path wins; then `CLAWTRACE_FILE`; then the host's default file; then `DEFAULT_PATH`.
pub fn resolve(configured: Option<&FileConfig>, default_file: Option<&str>, env: Env) -> PathBuf {
    let path = match configured {
        Some(c) => c.path.clone(),
        None => {
            env("CLAWTRACE_FILE").or_else(|| default_file.map(str::to_string)).unwrap_or_else(|| DEFAULT_PATH.into())
        }
    };
    PathBuf::from(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::env_of;

    #[test]
    fn configured_then_environment_then_default() {
        let none = env_of(&[]);
        let env = env_of(&[("CLAWTRACE_FILE", "/x.jsonl")]);
        let cfg = FileConfig { path: "/cfg.jsonl".into() };
        assert_eq!(resolve(Some(&cfg), Some("/d.jsonl"), &env), PathBuf::from("/cfg.jsonl"));
        assert_eq!(resolve(None, Some("/d.jsonl"), &env), PathBuf::from("/x.jsonl"));
        assert_eq!(resolve(None, Some("/d.jsonl"), &none), PathBuf::from("/d.jsonl"));
        assert_eq!(resolve(None, None, &none), PathBuf::from(DEFAULT_PATH));
        assert!(enabled_from_env(&env) && !enabled_from_env(&none));
    }
}
