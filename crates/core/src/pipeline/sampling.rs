//! Which finished traces leave the process: head sampling by ratio, decided from the trace id (so every sink,
//! every straggler and every gateway process decide alike), and tail rules that always keep traces with errors
//! or above a latency threshold. Dropped traces are counted in `traces_sampled_out`.

use std::collections::{HashSet, VecDeque};

use crate::config::{Env, SamplingConfig};
use crate::model::{Trace, TraceId};

pub struct Sampler {
    /// Keep a trace when the id's low 64 bits fall below this bound (`u64::MAX` keeps all).
    bound: u64,
    keep_errors: bool,
    keep_slower_than_ms: Option<f64>,
    /// Traces kept by a tail rule although the ratio would drop them: their stragglers follow them out.
    tail_kept: HashSet<TraceId>,
    tail_order: VecDeque<TraceId>,
}

const MAX_TAIL_KEPT: usize = 10_000;

/// The ratio: configured, else `OTEL_TRACES_SAMPLER=traceidratio|parentbased_traceidratio` with its argument.
pub fn effective_ratio(cfg: &SamplingConfig, env: Env) -> f64 {
    if let Some(r) = cfg.ratio {
        return r;
    }
    let sampler = env("OTEL_TRACES_SAMPLER").unwrap_or_default();
    match sampler.trim() {
        "traceidratio" | "parentbased_traceidratio" => env("OTEL_TRACES_SAMPLER_ARG")
            .and_then(|a| a.trim().parse::<f64>().ok())
            .filter(|r| (0.0..=1.0).contains(r))
            .unwrap_or(1.0),
        "always_off" | "parentbased_always_off" => 0.0,
        _ => 1.0,
    }
}

impl Sampler {
    pub fn new(cfg: &SamplingConfig, env: Env) -> Sampler {
        let ratio = effective_ratio(cfg, env);
        let bound = if ratio >= 1.0 { u64::MAX } else { (ratio * u64::MAX as f64) as u64 };
        Sampler {
            bound,
            keep_errors: cfg.keep_errors,
            keep_slower_than_ms: cfg.keep_slower_than_ms,
            tail_kept: HashSet::new(),
            tail_order: VecDeque::new(),
        }
    }

    pub fn keep(&mut self, trace: &Trace) -> bool {
        if self.bound == u64::MAX || head_value(&trace.trace_id) < self.bound {
            return true;
        }
        if trace.straggler && self.tail_kept.contains(&trace.trace_id) {
            return true;
        }
        let tail = (self.keep_errors && trace.has_error())
            || self.keep_slower_than_ms.is_some_and(|t| trace.duration_ms() >= t);
        if tail && !trace.straggler {
            self.remember(trace.trace_id);
        }
        tail
    }

    fn remember(&mut self, id: TraceId) {
        if self.tail_kept.insert(id) {
            self.tail_order.push_back(id);
            if self.tail_order.len() > MAX_TAIL_KEPT {
                if let Some(old) = self.tail_order.pop_front() {
                    self.tail_kept.remove(&old);
                }
            }
        }
    }
}

/// The trace id's low 8 bytes: the random part of a W3C id.
fn head_value(id: &TraceId) -> u64 {
    u64::from_be_bytes(id[8..16].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Span, SpanRole, Status};

    fn trace(n: u64, error: bool, dur_ms: u64, straggler: bool) -> Trace {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&n.to_be_bytes());
        // Spread ids over the whole range (as random ids are), deterministically.
        id[8..].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        let span = Span {
            trace_id: id,
            end_ns: dur_ms * 1_000_000,
            start_ns: 0,
            status: if error { Status::Error("x".into()) } else { Status::Unset },
            ..crate::testing::span(0, 1, None, SpanRole::Turn)
        };
        Trace { trace_id: id, spans: vec![span], straggler, incomplete: false }
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn ratio_keeps_about_that_share_and_decides_the_same_way_twice() {
        let cfg = SamplingConfig { ratio: Some(0.25), keep_errors: false, keep_slower_than_ms: None };
        let mut s = Sampler::new(&cfg, &none);
        let kept = (0..10_000).filter(|n| s.keep(&trace(*n, false, 1, false))).count();
        assert!((2_200..2_800).contains(&kept), "kept {kept} of 10000 at ratio 0.25");
        let mut again = Sampler::new(&cfg, &none);
        let kept_again = (0..10_000).filter(|n| again.keep(&trace(*n, false, 1, false))).count();
        assert_eq!(kept, kept_again);
    }

    #[test]
    fn tail_rules_keep_errors_and_slow_traces_and_their_stragglers() {
        let cfg = SamplingConfig { ratio: Some(0.0), keep_errors: true, keep_slower_than_ms: Some(5_000.0) };
        let mut s = Sampler::new(&cfg, &none);
        assert!(!s.keep(&trace(1, false, 10, false)));
        assert!(s.keep(&trace(2, true, 10, false)));
        assert!(s.keep(&trace(3, false, 6_000, false)));
        assert!(s.keep(&trace(2, false, 1, true)), "a straggler follows its kept trace");
        assert!(!s.keep(&trace(1, false, 1, true)));
    }

    #[test]
    fn otel_sampler_variables_when_not_configured() {
        let env = |k: &str| match k {
            "OTEL_TRACES_SAMPLER" => Some("parentbased_traceidratio".to_string()),
            "OTEL_TRACES_SAMPLER_ARG" => Some("0.1".to_string()),
            _ => None,
        };
        assert_eq!(effective_ratio(&SamplingConfig::default(), &env), 0.1);
        assert_eq!(effective_ratio(&SamplingConfig { ratio: Some(0.5), ..Default::default() }, &env), 0.5);
        assert_eq!(effective_ratio(&SamplingConfig::default(), &none), 1.0);
    }
}
