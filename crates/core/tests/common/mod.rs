//! What every integration test shares: the one corpus, the worker's steps after assembly and the accounting
//! identity.

#![allow(dead_code)] // each test binary uses its own part of this module

use clawtrace_core::enrich::{enrich, EnrichConfig};
use clawtrace_core::model::Trace;
use clawtrace_core::stats::Stats;

/// The recorded OpenClaw 2026.9.6 corpus: the repository's one copy (`fixtures/`), shared with the JS tests.
pub const CORPUS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/openclaw-2026.9.6-gateway.jsonl"));

/// Scenarios recorded with `scripts/record-scenarios.mjs` (content capture on, OpenClaw's default retries).
pub const SCENARIOS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/openclaw-2026.9.6-scenarios.jsonl"));

/// Queued follow-ups in queue mode `followup` (`scripts/record-scenarios.mjs --only followups`).
pub const FOLLOWUPS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/openclaw-2026.9.6-followups.jsonl"));

/// The corpus's event lines (every line but the scenario markers).
pub fn corpus_events(text: &str) -> u64 {
    text.lines().filter(|l| !l.trim().is_empty() && !l.contains("\"src\":\"marker\"")).count() as u64
}

/// The step after assembly, as the worker runs it (`pipeline/worker.rs`): assembled traces are enriched.
pub fn enriched(mut traces: Vec<Trace>) -> Vec<Trace> {
    let cfg = EnrichConfig::default();
    for t in &mut traces {
        enrich(t, &cfg);
    }
    traces
}

/// The accounting identity: every one of the `received` events ended in exactly one fate counter (in a span,
/// translated, skipped, invalid, dropped). Call it once everything was flushed.
#[track_caller]
pub fn assert_accounted(stats: &Stats, received: u64) {
    let fates: Vec<(&str, u64)> =
        stats.snapshot().into_iter().filter(|(n, v)| *v > 0 && clawtrace_core::stats::is_event_fate(n)).collect();
    assert_eq!(stats.events_accounted(), received, "events received vs their fates: {fates:?}");
}

/// Scenarios recorded from the early-2026 gateway 2026.3.24 (`scripts/record-scenarios.mjs --target legacy`).
pub const LEGACY_SCENARIOS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/openclaw-2026.3.24-scenarios.jsonl"));
