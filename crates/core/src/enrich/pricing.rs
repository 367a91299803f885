//! Cost from token usage when OpenClaw reports none (`costUsd` absent or zero): a bundled price table per model,
//! USD per million tokens, overridable from the configuration.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: f64,
    #[serde(default)]
    pub cache_write: f64,
}

/// List prices (USD / 1M tokens) of widely used models; matched by the model id's prefix after any `provider/`.
const BUNDLED: &[(&str, Price)] = &[
    ("gpt-4o-mini", Price { input: 0.15, output: 0.60, cache_read: 0.075, cache_write: 0.0 }),
    ("gpt-4o", Price { input: 2.50, output: 10.00, cache_read: 1.25, cache_write: 0.0 }),
    ("gpt-4.1-mini", Price { input: 0.40, output: 1.60, cache_read: 0.10, cache_write: 0.0 }),
    ("gpt-4.1", Price { input: 2.00, output: 8.00, cache_read: 0.50, cache_write: 0.0 }),
    ("o3-mini", Price { input: 1.10, output: 4.40, cache_read: 0.55, cache_write: 0.0 }),
    ("o3", Price { input: 2.00, output: 8.00, cache_read: 0.50, cache_write: 0.0 }),
    ("claude-opus-4", Price { input: 15.00, output: 75.00, cache_read: 1.50, cache_write: 18.75 }),
    ("claude-sonnet-4", Price { input: 3.00, output: 15.00, cache_read: 0.30, cache_write: 3.75 }),
    ("claude-3-5-haiku", Price { input: 0.80, output: 4.00, cache_read: 0.08, cache_write: 1.00 }),
    ("claude-haiku-4", Price { input: 1.00, output: 5.00, cache_read: 0.10, cache_write: 1.25 }),
    ("gemini-2.5-pro", Price { input: 1.25, output: 10.00, cache_read: 0.31, cache_write: 0.0 }),
    ("gemini-2.5-flash", Price { input: 0.30, output: 2.50, cache_read: 0.075, cache_write: 0.0 }),
];

#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    overrides: HashMap<String, Price>,
}

impl PriceTable {
    pub fn with_overrides(overrides: HashMap<String, Price>) -> Self {
        PriceTable { overrides }
    }

    pub fn lookup(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.overrides.get(model) {
            return Some(*p);
        }
        let bare = model.rsplit('/').next().unwrap_or(model);
        BUNDLED
            .iter()
            .filter(|(prefix, _)| bare.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, p)| *p)
    }

    /// The cost split as backends show it (`uncached_input` excludes cache tokens: OpenClaw's `input`): the input side (cache reads and writes included) and the output side.
    pub fn cost_parts(
        &self,
        model: &str,
        uncached_input: i64,
        output: i64,
        cache_read: i64,
        cache_write: i64,
    ) -> Option<(f64, f64)> {
        let p = self.lookup(model)?;
        let m = 1e-6;
        let input = uncached_input as f64 * p.input * m
            + cache_read as f64 * p.cache_read * m
            + cache_write as f64 * p.cache_write * m;
        Some((input, output as f64 * p.output * m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum((input, output): (f64, f64)) -> f64 {
        input + output
    }

    #[test]
    fn longest_prefix_wins_and_overrides_apply() {
        let t = PriceTable::default();
        assert_eq!(t.lookup("openai/gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(t.lookup("gpt-4o-2024-08-06").unwrap().input, 2.50);
        assert!(t.lookup("fake-model").is_none());
        let cost = sum(t.cost_parts("claude-sonnet-4-5", 1_000_000, 1_000_000, 0, 0).unwrap());
        assert!((cost - 18.0).abs() < 1e-9);
        let t = PriceTable::with_overrides(HashMap::from([(
            "fake-model".to_string(),
            Price { input: 1.0, output: 2.0, cache_read: 0.0, cache_write: 0.0 },
        )]));
        assert!((sum(t.cost_parts("fake-model", 500_000, 250_000, 0, 0).unwrap()) - 1.0).abs() < 1e-9);
    }
}
