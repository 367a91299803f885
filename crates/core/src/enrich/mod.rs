//! Enrich: what a backend needs beyond the raw spans — GenAI names, session and user on every span, usage and cost
//! per call and per turn, latency breakdown on the root.

pub mod content;
pub mod failure;
pub mod pricing;
pub mod privacy;
pub mod session;

use crate::config::Config;
use crate::model::{AttrValue, Span, SpanRole, Trace};
use pricing::PriceTable;
use privacy::{hash_id, Redactor};

/// What enrichment needs from the configuration, compiled once per `configure()`.
#[derive(Debug, Clone, Default)]
pub struct EnrichConfig {
    pub prices: PriceTable,
    /// Applied to every free-text field; `None` when redaction is switched off entirely.
    pub redactor: Option<Redactor>,
    pub hash_session_keys: bool,
    /// `idNamespace`: ids are replaced by ones derived from them and this text.
    pub id_namespace: Option<String>,
}

impl EnrichConfig {
    pub fn from_config(cfg: &Config) -> Result<EnrichConfig, String> {
        let redactor = Redactor::new(&cfg.redact)?;
        Ok(EnrichConfig {
            prices: PriceTable::with_overrides(cfg.pricing.clone()),
            redactor: (!redactor.is_empty()).then_some(redactor),
            hash_session_keys: cfg.hash_session_keys,
            id_namespace: cfg.id_namespace.clone().filter(|n| !n.is_empty()),
        })
    }
}

/// What the GenAI usage keys below start with.
const GEN_USAGE_PREFIX: &str = "gen_ai.usage.";
const GEN_IN: &str = "gen_ai.usage.input_tokens";
const GEN_OUT: &str = "gen_ai.usage.output_tokens";
const GEN_CACHE_READ: &str = "gen_ai.usage.cache_read.input_tokens";
const GEN_CACHE_WRITE: &str = "gen_ai.usage.cache_creation.input_tokens";
/// The usage summary's own counts (`model.usage`), in the order of the GenAI keys above.
const SUMMARY_USAGE: [&str; 4] = [
    "openclaw.usage.input_tokens",
    "openclaw.usage.output_tokens",
    "openclaw.usage.cache_read.input_tokens",
    "openclaw.usage.cache_creation.input_tokens",
];
/// A model call's cost in USD, and its split when clawtrace priced it (`openclaw.cost_source = price_table`).
pub const COST_USD: &str = "openclaw.cost_usd";
pub const COST_INPUT_USD: &str = "openclaw.cost.input_usd";
pub const COST_OUTPUT_USD: &str = "openclaw.cost.output_usd";
/// Model and provider of spans that are not model calls (runs, attempts, the usage summary): under GenAI's
/// request keys, Phoenix and Langfuse would count each of them as one more LLM call.
pub const MODEL: &str = "openclaw.model";
pub const PROVIDER: &str = "openclaw.provider";

/// The most attributes `enrich_turn` adds to the root, room for them made at once.
const ROOT_ATTRS: usize = 16;

/// Whether a span is one model call as backends count them: a `model.call.*` span, or the usage summary standing in
/// for the calls when a host emits none (`promote_usage_summary`).
pub fn is_model_call(s: &Span) -> bool {
    match s.role {
        SpanRole::ModelCall => true,
        SpanRole::Usage => s.attr_str("gen_ai.operation.name") == Some("chat"),
        _ => false,
    }
}

pub fn enrich(trace: &mut Trace, cfg: &EnrichConfig) {
    enrich_turn(trace, cfg);
    if let Some(ns) = &cfg.id_namespace {
        rename_ids(trace, ns);
    }
}

/// The id `original` gets under `namespace`: deterministic, so stragglers, links and parents follow their spans.
fn fresh_id<const N: usize>(namespace: &str, original: &[u8; N]) -> [u8; N] {
    let derived = crate::assemble::ids::trace_id(&["fresh-ids", namespace, &crate::model::hex(original)]);
    let mut out = [0u8; N];
    out.copy_from_slice(&derived[..N]);
    if out.iter().all(|b| *b == 0) {
        out[N - 1] = 1;
    }
    out
}

fn rename_ids(trace: &mut Trace, ns: &str) {
    trace.trace_id = fresh_id(ns, &trace.trace_id);
    for s in trace.spans.iter_mut() {
        s.trace_id = fresh_id(ns, &s.trace_id);
        s.span_id = fresh_id(ns, &s.span_id);
        s.parent_span_id = s.parent_span_id.map(|p| fresh_id(ns, &p));
        for l in s.links.iter_mut() {
            l.trace_id = fresh_id(ns, &l.trace_id);
            l.span_id = fresh_id(ns, &l.span_id);
        }
    }
}

fn enrich_turn(trace: &mut Trace, cfg: &EnrichConfig) {
    let prices = &cfg.prices;
    let session_key = trace.spans.iter().find_map(|s| s.attr_str("openclaw.session_key")).map(str::to_string);
    let agent = trace
        .spans
        .iter()
        .find_map(|s| s.attr_str("openclaw.agent_id"))
        .map(str::to_string)
        .or_else(|| session_key.as_deref().and_then(session::agent_id).map(str::to_string))
        .unwrap_or_else(|| "main".to_string());
    let mut user = session_key.as_deref().and_then(session::user_id).map(str::to_string);
    let mut session_key = session_key;
    if cfg.hash_session_keys {
        // Hashed, the ids still group a conversation and a user; they no longer name them.
        session_key = session_key.map(|k| hash_id(&k));
        user = user.map(|u| hash_id(&u));
        for s in trace.spans.iter_mut() {
            if let Some(AttrValue::Str(k)) = s.attrs.get_mut("openclaw.session_key") {
                *k = hash_id(k);
            }
        }
    }
    // Every free-text field, captured content included, before content is wrapped into messages.
    if let Some(r) = &cfg.redactor {
        privacy::redact_free_text(trace, r);
    }
    content::shape(trace, None);

    promote_usage_summary(trace);
    price_model_calls(trace, prices);
    genai_request_keys_on_model_calls_only(trace);
    failure::describe(trace);

    let mut totals = [0i64; 4];
    let mut call_cost = 0.0;
    let (mut calls, mut tools, mut errors) = (0i64, 0i64, 0i64);
    let mut turn_cost: Option<f64> = None;
    let mut queue_wait = 0.0f64;
    let mut first_ttfb: Option<(u64, f64)> = None;
    // One search rules out most spans (no usage key at all) before the two exact ones.
    let has_usage = |s: &Span| {
        s.attrs.has_key_with_prefix(GEN_USAGE_PREFIX) && (s.attrs.contains_key(GEN_IN) || s.attrs.contains_key(GEN_OUT))
    };
    // Model calls rebuilt on an early-2026 host without content capture know no usage of their own: the run's
    // usage summary then gives the turn's totals.
    let from_summary = !trace.spans.iter().any(|s| is_model_call(s) && has_usage(s));
    for s in &trace.spans {
        if has_usage(s) {
            for (i, k) in [GEN_IN, GEN_OUT, GEN_CACHE_READ, GEN_CACHE_WRITE].iter().enumerate() {
                totals[i] += s.attr_i64(k).unwrap_or(0);
            }
            call_cost += s.attr_f64("openclaw.cost_usd").unwrap_or(0.0);
        } else if from_summary && s.role == SpanRole::Usage {
            for (i, k) in SUMMARY_USAGE.iter().enumerate() {
                totals[i] += s.attr_i64(k).unwrap_or(0);
            }
        }
        match s.role {
            SpanRole::ModelCall => calls += 1,
            SpanRole::Tool => tools += 1,
            SpanRole::Usage => turn_cost = s.attr_f64("openclaw.cost_usd").filter(|c| *c > 0.0).or(turn_cost),
            _ => {}
        }
        if s.status.is_error() {
            errors += 1;
        }
        queue_wait = queue_wait.max(s.attr_f64("openclaw.queue.wait_ms").unwrap_or(0.0));
        if let Some(t) = s.attr_f64("openclaw.time_to_first_byte_ms") {
            if first_ttfb.is_none_or(|(start, _)| s.start_ns < start) {
                first_ttfb = Some((s.start_ns, t));
            }
        }
    }

    let session_key = session_key.map(AttrValue::from);
    let user = user.map(AttrValue::from);
    for s in trace.spans.iter_mut() {
        if let Some(sk) = &session_key {
            s.attrs.insert("session.id".into(), sk.clone());
            s.attrs.insert("gen_ai.conversation.id".into(), sk.clone());
        }
        if let Some(u) = &user {
            s.attrs.insert("user.id".into(), u.clone());
        }
    }
    if trace.straggler {
        return;
    }
    let incomplete = trace.incomplete;
    let duration = trace.duration_ms();
    let Some(root) = trace.spans.first_mut() else { return };
    root.name = format!("invoke_agent {agent}").into();
    let a = &mut root.attrs;
    a.reserve(ROOT_ATTRS);
    a.insert("gen_ai.operation.name".into(), "invoke_agent".into());
    a.insert("gen_ai.agent.name".into(), agent.into());
    a.insert("openclaw.span.root_role".into(), root.role.as_str().into());
    a.insert("openclaw.usage.total.input_tokens".into(), AttrValue::Int(totals[0]));
    a.insert("openclaw.usage.total.output_tokens".into(), AttrValue::Int(totals[1]));
    a.insert("openclaw.usage.total.cache_read.input_tokens".into(), AttrValue::Int(totals[2]));
    a.insert("openclaw.usage.total.cache_creation.input_tokens".into(), AttrValue::Int(totals[3]));
    a.insert("openclaw.cost.total_usd".into(), AttrValue::F64(turn_cost.unwrap_or(call_cost)));
    a.insert("openclaw.turn.model_calls".into(), AttrValue::Int(calls));
    a.insert("openclaw.turn.tool_calls".into(), AttrValue::Int(tools));
    a.insert("openclaw.turn.error_spans".into(), AttrValue::Int(errors));
    a.insert("openclaw.latency.turn_ms".into(), AttrValue::F64(duration));
    a.insert("openclaw.latency.queue_wait_ms".into(), AttrValue::F64(queue_wait));
    if let Some((_, t)) = first_ttfb {
        a.insert("openclaw.latency.time_to_first_byte_ms".into(), AttrValue::F64(t));
    }
    if incomplete {
        a.insert("openclaw.incomplete".into(), AttrValue::Bool(true));
    }
}

/// Per-call cost from the price table when OpenClaw reported none.
fn price_model_calls(trace: &mut Trace, prices: &PriceTable) {
    for s in trace.spans.iter_mut().filter(|s| is_model_call(s)) {
        if s.attrs.contains_key(COST_USD) {
            continue;
        }
        let Some(model) = s.attr_str("gen_ai.request.model") else { continue };
        let input = s.attr_i64(GEN_IN).unwrap_or(0);
        let cr = s.attr_i64(GEN_CACHE_READ).unwrap_or(0);
        let cw = s.attr_i64(GEN_CACHE_WRITE).unwrap_or(0);
        let out = s.attr_i64(GEN_OUT).unwrap_or(0);
        if let Some((i, o)) = prices.cost_parts(model, (input - cr - cw).max(0), out, cr, cw) {
            s.attrs.insert(COST_USD.into(), AttrValue::F64(i + o));
            s.attrs.insert(COST_INPUT_USD.into(), AttrValue::F64(i));
            s.attrs.insert(COST_OUTPUT_USD.into(), AttrValue::F64(o));
            s.attrs.insert("openclaw.cost_source".into(), "price_table".into());
        }
    }
}

/// Without model-call events (public bus only, correlation from model.usage) the usage span is the turn's
/// LLM summary: it then carries the GenAI usage itself so backends count the tokens once.
fn promote_usage_summary(trace: &mut Trace) {
    if trace.spans.iter().any(|s| s.role == SpanRole::ModelCall) {
        return;
    }
    for s in trace.spans.iter_mut().filter(|s| s.role == SpanRole::Usage) {
        for (from, to) in SUMMARY_USAGE.into_iter().zip([GEN_IN, GEN_OUT, GEN_CACHE_READ, GEN_CACHE_WRITE]) {
            if let Some(v) = s.attr_i64(from) {
                s.attrs.insert(to.into(), AttrValue::Int(v));
            }
        }
        let model = s.attr_str("gen_ai.request.model").unwrap_or("unknown").to_string();
        s.name = format!("chat {model}").into();
        s.attrs.insert("gen_ai.operation.name".into(), "chat".into());
    }
}

/// `gen_ai.request.model` and `gen_ai.provider.name` stay on model calls; elsewhere they become `openclaw.model` and
/// `openclaw.provider`, so a backend that takes any span with a request model for an LLM call counts each call once.
fn genai_request_keys_on_model_calls_only(trace: &mut Trace) {
    for s in trace.spans.iter_mut().filter(|s| !is_model_call(s)) {
        for (from, to) in [("gen_ai.request.model", MODEL), ("gen_ai.provider.name", PROVIDER)] {
            if let Some(v) = s.attrs.remove(from) {
                s.attrs.entry(to.into()).or_insert(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SpanLink, Status};
    use crate::testing::named;

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.into())
    }

    fn turn() -> Trace {
        let who = ("openclaw.session_key", s("agent:main:openai-user:alice"));
        let model = [("gen_ai.request.model", s("fake-model")), ("gen_ai.provider.name", s("fake"))];
        let mut call = named(1, 4, Some(3), SpanRole::ModelCall, "chat fake-model", &model);
        call.attrs.insert(GEN_IN.into(), AttrValue::Int(1_000_000));
        call.attrs.insert(GEN_OUT.into(), AttrValue::Int(500_000));
        call.attrs.insert(GEN_CACHE_READ.into(), AttrValue::Int(0));
        call.attrs.insert(GEN_CACHE_WRITE.into(), AttrValue::Int(0));
        let mut usage = named(1, 5, Some(2), SpanRole::Usage, "openclaw.model.usage", &model);
        usage.status = Status::Ok;
        let mut run = named(1, 3, Some(2), SpanRole::Run, "openclaw.run", &model);
        run.links.push(SpanLink { trace_id: [9; 16], span_id: [9; 8], attrs: Default::default() });
        Trace {
            trace_id: [1; 16],
            spans: vec![
                named(1, 1, None, SpanRole::Turn, "openclaw.message", &[who]),
                named(1, 2, Some(1), SpanRole::Harness, "openclaw.harness.run", &model),
                run,
                call,
                usage,
            ],
            straggler: false,
            incomplete: false,
        }
    }

    fn cfg(pricing: &[(&str, f64, f64)], ns: Option<&str>) -> EnrichConfig {
        let prices = pricing
            .iter()
            .map(|(m, i, o)| {
                (m.to_string(), pricing::Price { input: *i, output: *o, cache_read: 0.0, cache_write: 0.0 })
            })
            .collect();
        EnrichConfig {
            prices: PriceTable::with_overrides(prices),
            redactor: None,
            hash_session_keys: false,
            id_namespace: ns.map(str::to_string),
        }
    }

    #[test]
    fn the_usage_keys_a_span_is_counted_by_have_the_prefix_searched_first() {
        for k in [GEN_IN, GEN_OUT] {
            assert!(k.starts_with(GEN_USAGE_PREFIX), "{k}");
        }
    }

    #[test]
    fn request_model_only_on_model_calls_and_the_configured_price_is_the_cost() {
        let mut t = turn();
        enrich(&mut t, &cfg(&[("fake-model", 2.0, 8.0)], None));
        for sp in &t.spans {
            let llm = sp.role == SpanRole::ModelCall;
            assert_eq!(sp.attrs.contains_key("gen_ai.request.model"), llm, "{}", sp.name);
            assert_eq!(sp.attrs.contains_key("gen_ai.provider.name"), llm, "{}", sp.name);
            if !llm && sp.parent_span_id.is_some() {
                assert_eq!(sp.attr_str(MODEL), Some("fake-model"), "kept as openclaw.model on {}", sp.name);
            }
        }
        let call = &t.spans[3];
        assert_eq!((call.attr_f64(COST_INPUT_USD), call.attr_f64(COST_OUTPUT_USD)), (Some(2.0), Some(4.0)));
        assert_eq!(call.attr_f64(COST_USD), Some(6.0));
        assert_eq!(t.spans[0].attr_f64("openclaw.cost.total_usd"), Some(6.0));
    }

    #[test]
    fn fresh_ids_are_derived_from_the_recorded_ones_and_the_namespace() {
        let plain = {
            let mut t = turn();
            enrich(&mut t, &cfg(&[], None));
            t
        };
        let in_a = |ns: &str| {
            let mut t = turn();
            enrich(&mut t, &cfg(&[], Some(ns)));
            t
        };
        let (a, a2, b) = (in_a("mlflow:http://x#1"), in_a("mlflow:http://x#1"), in_a("mlflow:http://x#2"));
        assert_eq!(a, a2, "the same destination: the same ids");
        assert_ne!(a.trace_id, plain.trace_id);
        assert_ne!(a.trace_id, b.trace_id, "another destination: a copy");
        for (x, p) in a.spans.iter().zip(&plain.spans) {
            assert_eq!(x.trace_id, a.trace_id);
            assert_ne!(x.span_id, p.span_id);
            assert_eq!(
                x.parent_span_id,
                p.parent_span_id.map(|id| fresh_id("mlflow:http://x#1", &id)),
                "parents follow"
            );
        }
        let ids: std::collections::HashSet<_> = a.spans.iter().map(|x| x.span_id).collect();
        assert_eq!(ids.len(), a.spans.len());
        assert_eq!(a.spans[2].links[0].trace_id, fresh_id("mlflow:http://x#1", &[9u8; 16]), "links follow");
    }
}
