//! Named counters: every event and span is either delivered or accounted for here.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Process-wide counters. All relaxed atomics: they are tallies, not synchronisation.
        #[derive(Default, Debug)]
        pub struct Stats { $( $(#[$doc])* pub $name: AtomicU64, )* }

        impl Stats {
            /// Every counter with its name, in declaration order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![ $( (stringify!($name), self.$name.load(Relaxed)), )* ]
            }
        }
    };
}

counters! {
    /// Events handed to a record call.
    events_received,
    /// Events accepted onto the background queue.
    events_queued,
    /// Events dropped because the bounded queue was full (the gateway is never blocked).
    dropped_queue_full,
    /// Events dropped because the pipeline was shut down.
    dropped_after_shutdown,
    /// Bad input, by reason.
    invalid_not_object,
    invalid_missing_type,
    invalid_wrong_field_type,
    invalid_malformed_json,
    invalid_too_large,
    invalid_unserializable,
    invalid_hook_name,
    /// Trace context present but malformed: the event is still used, by correlation.
    invalid_trace_context,
    /// Skipped on purpose, by reason.
    skipped_unknown_type,
    skipped_unknown_source,
    skipped_infra_event,
    skipped_no_correlation,
    skipped_content_disabled,
    /// Events that became part of a span.
    events_in_spans,
    /// Legacy-host events consumed by the ingest adapter (`ingest/legacy/`): what they meant became other events.
    events_translated,
    /// Trace assembly.
    traces_completed,
    traces_incomplete,
    traces_infra_only,
    traces_evicted_capacity,
    traces_sampled_out,
    spans_synthesised,
    spans_straggler,
    /// Late events about a span that was already exported: counted, never re-sent (each span leaves once).
    late_span_updates_dropped,
    spans_exported,
    traces_exported,
    /// Export losses (per-sink detail is in the sink stats).
    spans_dropped_sink_queue_full,
    spans_rejected_by_backend,
    spans_failed_export,
    /// Parked on disk because a backend stayed unavailable; re-sent later (`spans_unspooled`).
    spans_spooled,
    spans_unspooled,
    /// Still held by a sink when it had to stop (the `shutdown()` deadline, or a sink replaced by `configure()`
    /// past its retry deadline) with no spool to take them.
    spans_lost_shutdown,
    /// Would have been spooled, but the spool was full or unwritable (also counted in `spans_failed_export` or
    /// `spans_lost_shutdown`).
    spool_full_dropped,
    /// Files in a spool that were not readable batches: removed, each counted (their spans are unknown).
    spool_corrupt_batches,
    /// Batches that ended in an error (after retries), all sinks together.
    export_errors,
    reorder_forced_releases,
    /// Events written to the record file (`record`), and those it could not take (its queue full, a write failed).
    recorder_events_written,
    recorder_events_lost,
}

impl Stats {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    /// Received events whose fate is known: in a span, translated, skipped, invalid or dropped. Once the
    /// pipeline is flushed this equals `events_received` — the accounting identity (`docs/ARCHITECTURE.md`).
    /// The rule is by name, so a new `skipped_*`, `invalid_*` or `dropped_*` counter joins it by itself.
    pub fn events_accounted(&self) -> u64 {
        self.snapshot().into_iter().filter(|(name, _)| is_event_fate(name)).map(|(_, v)| v).sum()
    }
}

/// A counter that records where a received event ended. `invalid_trace_context` is not one: such an event is
/// still used, and ends in one of the others.
pub fn is_event_fate(name: &str) -> bool {
    matches!(name, "events_in_spans" | "events_translated")
        || ((name.starts_with("skipped_") || name.starts_with("invalid_") || name.starts_with("dropped_"))
            && name != "invalid_trace_context")
}
