//! Enrich: what a backend needs beyond the raw spans — GenAI names, session and user on every span, usage and cost
//! per call and per turn, latency breakdown on the root.

pub mod content;
pub mod pricing;
pub mod privacy;
pub mod session;

use crate::config::Config;
use crate::model::{AttrValue, SpanRole, Trace};
use pricing::PriceTable;
use privacy::{hash_id, Redactor};

/// What enrichment needs from the configuration, compiled once per `configure()`.
#[derive(Debug, Clone, Default)]
pub struct EnrichConfig {
    pub prices: PriceTable,
    /// Applied to every free-text field; `None` when redaction is switched off entirely.
    pub redactor: Option<Redactor>,
    pub hash_session_keys: bool,
}

impl EnrichConfig {
    pub fn from_config(cfg: &Config) -> Result<EnrichConfig, String> {
        let redactor = Redactor::new(&cfg.redact)?;
        Ok(EnrichConfig {
            prices: PriceTable::with_overrides(cfg.pricing.clone()),
            redactor: (!redactor.is_empty()).then_some(redactor),
            hash_session_keys: cfg.hash_session_keys,
        })
    }
}

const GEN_IN: &str = "gen_ai.usage.input_tokens";
const GEN_OUT: &str = "gen_ai.usage.output_tokens";
const GEN_CACHE_READ: &str = "gen_ai.usage.cache_read.input_tokens";
const GEN_CACHE_WRITE: &str = "gen_ai.usage.cache_creation.input_tokens";

pub fn enrich(trace: &mut Trace, cfg: &EnrichConfig) {
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

    price_model_calls(trace, prices);
    promote_usage_summary(trace);

    let mut totals = [0i64; 4];
    let mut call_cost = 0.0;
    let (mut calls, mut tools, mut errors) = (0i64, 0i64, 0i64);
    let mut turn_cost: Option<f64> = None;
    let mut queue_wait = 0.0f64;
    let mut first_ttfb: Option<(u64, f64)> = None;
    for s in &trace.spans {
        if s.attrs.contains_key(GEN_IN) || s.attrs.contains_key(GEN_OUT) {
            for (i, k) in [GEN_IN, GEN_OUT, GEN_CACHE_READ, GEN_CACHE_WRITE].iter().enumerate() {
                totals[i] += s.attr_i64(k).unwrap_or(0);
            }
            call_cost += s.attr_f64("openclaw.cost_usd").unwrap_or(0.0);
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

    for s in trace.spans.iter_mut() {
        if let Some(sk) = &session_key {
            s.attrs.insert("session.id".into(), sk.clone().into());
            s.attrs.insert("gen_ai.conversation.id".into(), sk.clone().into());
        }
        if let Some(u) = &user {
            s.attrs.insert("user.id".into(), u.clone().into());
        }
    }
    if trace.straggler {
        return;
    }
    let incomplete = trace.incomplete;
    let duration = trace.duration_ms();
    let Some(root) = trace.spans.first_mut() else { return };
    root.name = format!("invoke_agent {agent}");
    let a = &mut root.attrs;
    a.insert("gen_ai.operation.name".into(), "invoke_agent".into());
    a.insert("gen_ai.agent.name".into(), agent.clone().into());
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
    for s in trace.spans.iter_mut().filter(|s| s.role == SpanRole::ModelCall) {
        if s.attrs.contains_key("openclaw.cost_usd") {
            continue;
        }
        let Some(model) = s.attr_str("gen_ai.request.model").map(str::to_string) else { continue };
        let input = s.attr_i64(GEN_IN).unwrap_or(0);
        let cr = s.attr_i64(GEN_CACHE_READ).unwrap_or(0);
        let cw = s.attr_i64(GEN_CACHE_WRITE).unwrap_or(0);
        let out = s.attr_i64(GEN_OUT).unwrap_or(0);
        if let Some(c) = prices.cost(&model, (input - cr - cw).max(0), out, cr, cw) {
            s.attrs.insert("openclaw.cost_usd".into(), AttrValue::F64(c));
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
        for (from, to) in [
            ("openclaw.usage.input_tokens", GEN_IN),
            ("openclaw.usage.output_tokens", GEN_OUT),
            ("openclaw.usage.cache_read.input_tokens", GEN_CACHE_READ),
            ("openclaw.usage.cache_creation.input_tokens", GEN_CACHE_WRITE),
        ] {
            if let Some(v) = s.attr_i64(from) {
                s.attrs.insert(to.into(), AttrValue::Int(v));
            }
        }
        let model = s.attr_str("gen_ai.request.model").unwrap_or("unknown").to_string();
        s.name = format!("chat {model}");
        s.attrs.insert("gen_ai.operation.name".into(), "chat".into());
    }
}
