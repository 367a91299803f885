//! Turns an open trace into an assembled one: extents of synthesised spans, statuses that OpenClaw reports as
//! "completed" although a model call failed, and parent-before-child order. Enrichment is the next step, run by
//! the worker (`pipeline/worker.rs`).

use std::collections::HashMap;

use super::state::{SharedValues, Spans, TraceState};
use crate::id_hash::IdHash;
use crate::model::{AttrValue, Span, SpanId, SpanRole, Status, Trace};
use crate::stats::Stats;

/// Attributes enrichment adds to a span besides the root's own (`enrich/mod.rs`): its session, conversation and user,
/// and `openclaw.incomplete` here.
const ENRICHED_PER_SPAN: usize = 4;
/// What enrichment adds to a model call (or a usage summary standing in for the calls) besides: its cost, split,
/// and where the price came from, or the GenAI usage keys (`enrich/mod.rs`).
const ENRICHED_PER_CALL: usize = 4;

/// `already_sent`: span ids of this trace that left before (stragglers only). A span is exported once and
/// complete (Langfuse v4 would duplicate it, MLflow would overwrite it): late news about it is counted, not sent.
pub fn finalize(state: TraceState, incomplete: bool, stats: &Stats, already_sent: &[SpanId]) -> Option<Trace> {
    let TraceState { trace_id, spans, straggler, notes, shared, .. } = state;
    let mut spans: Spans = spans;
    let decoded = shared.decoded();
    for s in spans.values_mut() {
        // Room at once for the shared values and what enrichment adds to every span (`ENRICHED_PER_SPAN`): grown
        // a few at a time, a leaving span would be reallocated again and again.
        let call = matches!(s.span.role, SpanRole::ModelCall | SpanRole::Usage);
        SharedValues::materialize_from(&decoded, s, ENRICHED_PER_SPAN + if call { ENRICHED_PER_CALL } else { 0 });
    }
    drop(decoded);
    // Notes were truncated when taken; a call's tool round is bounded by its tools' own truncated texts.
    super::content::assign(&mut spans, notes.into_vec(), usize::MAX);
    if straggler {
        // Parents referenced by late spans were exported already.
        spans.retain(|id, s| {
            let resend = s.observed && already_sent.contains(id);
            if resend {
                Stats::inc(&stats.late_span_updates_dropped);
            }
            s.observed && !resend
        });
    }
    let mut children: Children = HashMap::default();
    for s in spans.values() {
        if let Some(p) = s.span.parent_span_id.filter(|p| spans.contains_key(p)) {
            children.entry(p).or_default().push(s.span.span_id);
        }
    }
    let mut roots: Vec<SpanId> = spans
        .values()
        .filter(|s| s.span.parent_span_id.is_none_or(|p| !spans.contains_key(&p)))
        .map(|s| s.span.span_id)
        .collect();
    // Extents, children before parents. Each span is in one list of children, so the walk from the roots meets
    // every span once, unless some hang in a cycle: then they are cut loose and the walk taken again.
    let mut order = post_order(&roots, &children);
    if order.len() != spans.len() {
        break_cycles(&mut spans, &mut roots, &mut children);
        order = post_order(&roots, &children);
    }
    for id in &order {
        let (kids_from, kids_to) = children.get(id).map_or((u64::MAX, 0), |kids| {
            kids.iter().fold((u64::MAX, 0), |(f, t), k| (f.min(spans[k].span.start_ns), t.max(spans[k].span.end_ns)))
        });
        let s = spans.get_mut(id).expect("span in order");
        if !s.described {
            s.span.start_ns = s.seen_from_ns.min(kids_from);
            s.span.end_ns = s.seen_to_ns.max(kids_to);
            Stats::inc(&stats.spans_synthesised);
        } else {
            if s.span.start_ns == 0 {
                s.span.start_ns = s.seen_from_ns.min(kids_from);
            }
            if s.open || s.span.end_ns == 0 {
                s.span.end_ns = s.seen_to_ns.max(kids_to);
                s.span.attrs.insert("openclaw.incomplete".into(), AttrValue::Bool(true));
            }
        }
        if s.span.start_ns == u64::MAX {
            s.span.start_ns = s.span.end_ns;
        }
        s.span.end_ns = s.span.end_ns.max(s.span.start_ns);
        // A failed model call fails its run and harness attempt, whatever their outcome field said.
        let failed_call = children.get(id).is_some_and(|kids| {
            kids.iter().any(|k| {
                let c = &spans[k].span;
                c.status.is_error() && matches!(c.role, SpanRole::ModelCall | SpanRole::Run)
            })
        });
        let s = spans.get_mut(id).expect("span in order");
        if failed_call && matches!(s.span.role, SpanRole::Run | SpanRole::Harness) && !s.span.status.is_error() {
            s.span.set_status(Status::Error("model call failed".into()));
        }
    }
    // An undescribed root (HTTP path, correlation turns) fails when its last attempt failed.
    for id in &roots {
        let last_attempt = children.get(id).and_then(|kids| {
            kids.iter()
                .filter(|k| spans[*k].span.role == SpanRole::Harness)
                // Attempts that started in the same millisecond: the one that ended last (then the greater id, so
                // that the choice does not follow the span table's seeded hash order).
                .max_by_key(|k| (spans[*k].span.start_ns, spans[*k].span.end_ns, **k))
                .copied()
        });
        let failed = last_attempt.is_some_and(|k| spans[&k].span.status.is_error());
        let root = spans.get_mut(id).expect("root");
        if !root.described && failed && !root.span.status.is_error() {
            root.span.set_status(Status::Error("agent run failed".into()));
        }
    }

    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    // By start, then by id: siblings that started at once leave in the same order on every run, not in the order
    // of the span table (its hash is seeded per process, `id_hash.rs`).
    let mut roots_sorted = roots;
    roots_sorted.sort_by_key(|id| (spans[id].span.start_ns, *id));
    let mut stack: Vec<SpanId> = roots_sorted.into_iter().rev().collect();
    while let Some(id) = stack.pop() {
        let s = spans.remove(&id).expect("each span once");
        if let Some(kids) = children.get_mut(&id) {
            kids.sort_by_key(|k| std::cmp::Reverse((spans[k].span.start_ns, *k)));
            stack.extend(kids.iter().copied());
        }
        out.push(s.span.into_span(trace_id));
    }
    if out.is_empty() {
        return None;
    }
    if straggler {
        Stats::add(&stats.spans_straggler, out.len() as u64);
    }
    Some(Trace { trace_id, spans: out, straggler, incomplete })
}

/// Each span's children, by id.
type Children = HashMap<SpanId, Vec<SpanId>, IdHash>;

fn post_order(roots: &[SpanId], children: &Children) -> Vec<SpanId> {
    let mut out = Vec::new();
    let mut stack: Vec<(SpanId, bool)> = roots.iter().map(|r| (*r, false)).collect();
    while let Some((id, visited)) = stack.pop() {
        if visited {
            out.push(id);
            continue;
        }
        stack.push((id, true));
        if let Some(kids) = children.get(&id) {
            stack.extend(kids.iter().map(|k| (*k, false)));
        }
    }
    out
}

/// Parent ids come from the wire: a cycle (A under B under A) would hide spans from every traversal.
/// Spans unreachable from a root are cut loose and become roots themselves.
fn break_cycles(spans: &mut Spans, roots: &mut Vec<SpanId>, children: &mut Children) {
    loop {
        let reachable: std::collections::HashSet<SpanId> = post_order(roots, children).into_iter().collect();
        let Some(orphan) = spans.keys().find(|id| !reachable.contains(*id)).copied() else { return };
        if let Some(p) = spans.get_mut(&orphan).and_then(|s| s.span.parent_span_id.take()) {
            if let Some(kids) = children.get_mut(&p) {
                kids.retain(|k| *k != orphan);
            }
        }
        roots.push(orphan);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(spans: &[(u8, Option<u8>)]) -> TraceState {
        let mut t = TraceState::new([1; 16], 0.0, false);
        for &(id, parent) in spans {
            let s = t.spans.get_or_insert([id; 8]);
            s.span.parent_span_id = parent.map(|p| [p; 8]);
            s.described = true;
            s.span.start_ns = u64::from(id) * 10;
            s.span.end_ns = u64::from(id) * 10 + 5;
        }
        t
    }

    fn ids(t: &Trace) -> Vec<u8> {
        t.spans.iter().map(|s| s.span_id[0]).collect()
    }

    #[test]
    fn every_span_leaves_once_parents_first() {
        let t = finalize(state(&[(3, Some(2)), (1, None), (2, Some(1)), (4, Some(1))]), false, &Stats::default(), &[])
            .unwrap();
        assert_eq!(ids(&t), [1, 2, 3, 4]);
    }

    #[test]
    fn siblings_that_started_at_once_leave_in_id_order() {
        let mut spans: Vec<(u8, Option<u8>)> = vec![(1, None)];
        spans.extend((2..12).rev().map(|id| (id, Some(1))));
        let mut st = state(&spans);
        for s in st.spans.values_mut().filter(|s| s.span.parent_span_id.is_some()) {
            s.span.start_ns = 100;
        }
        let t = finalize(st, false, &Stats::default(), &[]).unwrap();
        assert_eq!(ids(&t), (1..12).collect::<Vec<u8>>());
    }

    #[test]
    fn an_undescribed_root_fails_with_its_last_attempt_also_among_attempts_started_at_once() {
        let mut spans: Vec<(u8, Option<u8>)> = vec![(1, None)];
        spans.extend((2..9).map(|id| (id, Some(1))));
        let mut st = state(&spans);
        st.spans.get_mut(&[1; 8]).unwrap().described = false;
        for s in st.spans.values_mut().filter(|s| s.span.parent_span_id.is_some()) {
            s.span.role = SpanRole::Harness;
            s.span.start_ns = 100;
            s.span.end_ns = 200;
        }
        // Attempt 5 ended last, and failed.
        let last = st.spans.get_mut(&[5; 8]).unwrap();
        last.span.end_ns = 300;
        last.span.set_status(Status::Error("boom".into()));
        let t = finalize(st, false, &Stats::default(), &[]).unwrap();
        assert_eq!(t.spans[0].status, Status::Error("agent run failed".into()));
    }

    /// Parent ids come from the wire: spans that hang in a cycle (2 under 3 under 2) are cut loose and still leave.
    #[test]
    fn spans_in_a_parent_cycle_leave_too() {
        let t = finalize(state(&[(1, None), (2, Some(3)), (3, Some(2)), (4, Some(1))]), false, &Stats::default(), &[])
            .unwrap();
        let mut got = ids(&t);
        got.sort();
        assert_eq!(got, [1, 2, 3, 4]);
        let roots = t.spans.iter().filter(|s| s.parent_span_id.is_none()).count();
        assert_eq!(roots, 2, "the cycle is cut once: one of its spans becomes a root");
    }
}
