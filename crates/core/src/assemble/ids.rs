//! Deterministic ids for correlation mode: the same events always give the same ids, so a replay or a spool
//! re-send can never duplicate a trace in a backend.

use crate::model::{SpanId, TraceId};

fn fnv1a(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0x1f)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    // Final avalanche (splitmix64) so close inputs give unrelated ids.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

pub fn trace_id(parts: &[&str]) -> TraceId {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&fnv1a(1, parts).to_be_bytes());
    out[8..].copy_from_slice(&fnv1a(2, parts).to_be_bytes());
    if out == [0; 16] {
        out[15] = 1;
    }
    out
}

pub fn span_id(trace: &TraceId, parts: &[&str]) -> SpanId {
    let t = crate::model::hex(trace);
    let mut all = Vec::with_capacity(parts.len() + 1);
    all.push(t.as_str());
    all.extend_from_slice(parts);
    let mut out = fnv1a(3, &all).to_be_bytes();
    if out == [0; 8] {
        out[7] = 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = trace_id(&["run", "abc"]);
        assert_eq!(a, trace_id(&["run", "abc"]));
        assert_ne!(a, trace_id(&["run", "abd"]));
        assert_ne!(trace_id(&["ab", "c"]), trace_id(&["a", "bc"]));
        assert_eq!(span_id(&a, &["model", "1"]), span_id(&a, &["model", "1"]));
        assert_ne!(span_id(&a, &["model", "1"]), span_id(&a, &["model", "2"]));
    }
}
