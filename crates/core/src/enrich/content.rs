//! Captured content (only present when `captureContent` is on) in the shapes backends read: GenAI semconv
//! messages on model calls, tool arguments and results on tools, and the turn's overall input and output on the
//! root. Redaction runs here, on the plain text, before any of it is encoded.

use serde_json::json;

use super::privacy::Redactor;
use crate::model::{AttrValue, Span, SpanRole, Trace};

pub const INPUT: &str = "openclaw.content.input";
pub const OUTPUT: &str = "openclaw.content.output";
pub const SYSTEM: &str = "openclaw.content.system";
/// A model call's tool calls (JSON `[{id, name, arguments}]`, `assemble/content.rs`): its output when it asked for
/// tools.
pub const TOOL_CALLS: &str = "openclaw.content.tool_calls";
/// The results of the previous call's tool calls (JSON `[{id, name, result}]`): the input of the call after them.
pub const TOOL_RESULTS: &str = "openclaw.content.tool_results";
const TOOL_KEYS: [&str; 2] = ["gen_ai.tool.call.arguments", "gen_ai.tool.call.result"];

pub fn shape(trace: &mut Trace, redactor: Option<&Redactor>) {
    let mut any_content = false;
    for s in trace.spans.iter_mut() {
        // Most spans hold no content (always without `captureContent`): one search says so.
        let has_content = has_content(s);
        if let Some(r) = redactor {
            for k in [INPUT, OUTPUT, SYSTEM].into_iter().chain(TOOL_KEYS) {
                if let Some(AttrValue::Str(v)) = s.attrs.get_mut(k) {
                    *v = r.redact(v);
                }
            }
        }
        // An empty text is no content (a failed turn's reply is ""): backends would show an empty output. Three
        // lookups rather than a scan of every attribute: most spans hold none of these keys.
        for k in [INPUT, OUTPUT, SYSTEM].into_iter().filter(|_| has_content) {
            if s.attrs.get(k).is_some_and(is_blank) {
                s.attrs.remove(k);
            }
        }
        any_content = any_content || (has_content && self::has_content(s));
    }
    // Without any content left, there is nothing to move into messages or onto the root.
    if !any_content {
        return;
    }
    let overall_input = trace
        .spans
        .iter()
        .filter(|s| has_content(s) && s.attrs.contains_key(INPUT))
        .min_by_key(|s| s.start_ns)
        .and_then(|s| s.attr_str(INPUT))
        .map(str::to_string);
    let overall_output = trace
        .spans
        .iter()
        .filter(|s| has_content(s) && s.attrs.contains_key(OUTPUT))
        .max_by_key(|s| s.end_ns)
        .and_then(|s| s.attr_str(OUTPUT))
        .map(str::to_string);
    for s in
        trace.spans.iter_mut().filter(|s| matches!(s.role, SpanRole::ModelCall | SpanRole::Usage) && has_content(s))
    {
        to_messages(s);
    }
    if let Some(root) = trace.spans.first_mut().filter(|r| r.parent_span_id.is_none()) {
        if let Some(i) = overall_input {
            root.attrs.entry(INPUT.into()).or_insert(AttrValue::Str(i));
        }
        if let Some(o) = overall_output {
            root.attrs.insert(OUTPUT.into(), AttrValue::Str(o));
        }
    }
}

/// The keys of captured text (`INPUT`, `OUTPUT`, `SYSTEM`, `TOOL_CALLS`, `TOOL_RESULTS`) share this prefix.
const CONTENT_PREFIX: &str = "openclaw.content.";

/// Whether `s` holds any captured text of its own.
pub fn has_content(s: &Span) -> bool {
    s.attrs.has_key_with_prefix(CONTENT_PREFIX)
}

fn is_blank(v: &AttrValue) -> bool {
    matches!(v, AttrValue::Str(t) if t.trim().is_empty())
}

/// Moves a model call's plain prompt, system prompt and reply into `gen_ai.input.messages`,
/// `gen_ai.system_instructions` and `gen_ai.output.messages` (JSON strings, GenAI semantic conventions).
fn to_messages(s: &mut Span) {
    let text = |s: &mut Span, k: &str| match s.attrs.remove(k) {
        Some(AttrValue::Str(v)) => Some(v),
        _ => None,
    };
    let list = |s: &mut Span, k: &str| -> Vec<serde_json::Value> {
        text(s, k).and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_default()
    };
    let (system, input, output) = (text(s, SYSTEM), text(s, INPUT), text(s, OUTPUT));
    let (tool_calls, tool_results) = (list(s, TOOL_CALLS), list(s, TOOL_RESULTS));
    if let Some(sys) = system {
        s.attrs
            .insert("gen_ai.system_instructions".into(), json!([{"type": "text", "content": sys}]).to_string().into());
    }
    let mut inputs = Vec::new();
    if let Some(i) = input {
        inputs.push(json!({"role": "user", "parts": [{"type": "text", "content": i}]}));
    }
    for r in tool_results {
        inputs.push(
            json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": r["id"], "response": r["result"]}]}),
        );
    }
    if !inputs.is_empty() {
        s.attrs.insert("gen_ai.input.messages".into(), serde_json::Value::from(inputs).to_string().into());
    }
    let mut parts: Vec<serde_json::Value> = output.map(|o| json!({"type": "text", "content": o})).into_iter().collect();
    let asked_for_tools = !tool_calls.is_empty();
    parts.extend(
        tool_calls
            .into_iter()
            .map(|c| json!({"type": "tool_call", "id": c["id"], "name": c["name"], "arguments": c["arguments"]})),
    );
    if !parts.is_empty() {
        let finish = if s.status.is_error() {
            "error"
        } else if asked_for_tools {
            "tool_call"
        } else {
            "stop"
        };
        s.attrs.insert(
            "gen_ai.output.messages".into(),
            json!([{"role": "assistant", "parts": parts, "finish_reason": finish}]).to_string().into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RedactConfig;
    use crate::model::Status;

    fn span(id: u8, parent: Option<u8>, role: SpanRole, start: u64, end: u64) -> Span {
        Span { start_ns: start, end_ns: end, status: Status::Unset, ..crate::testing::span(1, id, parent, role) }
    }

    #[test]
    fn model_calls_get_semconv_messages_and_the_root_the_overall_turn() {
        let mut root = span(1, None, SpanRole::Turn, 0, 100);
        root.attrs.insert("x".into(), AttrValue::Int(1));
        let mut call1 = span(2, Some(1), SpanRole::ModelCall, 10, 40);
        call1.attrs.insert(INPUT.into(), "What is my email? it is bob@example.com".into());
        call1.attrs.insert(SYSTEM.into(), "You are helpful.".into());
        call1.attrs.insert(OUTPUT.into(), "calling a tool".into());
        let mut tool = span(3, Some(1), SpanRole::Tool, 40, 50);
        tool.attrs.insert("gen_ai.tool.call.arguments".into(), r#"{"token":"sk-abcdefghijklmnop12345"}"#.into());
        let mut call2 = span(4, Some(1), SpanRole::ModelCall, 50, 90);
        call2.attrs.insert(OUTPUT.into(), "Your email is bob@example.com".into());
        let mut t =
            Trace { trace_id: [1; 16], spans: vec![root, call1, tool, call2], straggler: false, incomplete: false };
        let r = Redactor::new(&RedactConfig::default()).unwrap();
        shape(&mut t, Some(&r));

        let call1 = &t.spans[1];
        let input: serde_json::Value = serde_json::from_str(call1.attr_str("gen_ai.input.messages").unwrap()).unwrap();
        assert_eq!(input[0]["role"], "user");
        assert_eq!(input[0]["parts"][0]["content"], "What is my email? it is [REDACTED]");
        assert!(call1.attr_str("gen_ai.system_instructions").unwrap().contains("You are helpful."));
        assert!(call1.attr_str(INPUT).is_none(), "plain keys move into the messages");
        let out: serde_json::Value =
            serde_json::from_str(t.spans[3].attr_str("gen_ai.output.messages").unwrap()).unwrap();
        assert_eq!(out[0]["finish_reason"], "stop");
        assert_eq!(t.spans[2].attr_str("gen_ai.tool.call.arguments").unwrap(), r#"{"token":"[REDACTED]"}"#);
        assert_eq!(t.spans[0].attr_str(INPUT).unwrap(), "What is my email? it is [REDACTED]");
        assert_eq!(t.spans[0].attr_str(OUTPUT).unwrap(), "Your email is [REDACTED]");
    }

    #[test]
    fn an_empty_reply_is_no_output() {
        let mut root = span(1, None, SpanRole::Turn, 0, 100);
        root.attrs.insert(INPUT.into(), "hi".into());
        root.attrs.insert(OUTPUT.into(), "".into());
        let mut call = span(2, Some(1), SpanRole::ModelCall, 10, 40);
        call.attrs.insert(OUTPUT.into(), " \n".into());
        let mut t = Trace { trace_id: [1; 16], spans: vec![root, call], straggler: false, incomplete: false };
        shape(&mut t, None);
        assert!(!t.spans[0].attrs.contains_key(OUTPUT), "a failed turn sends no output");
        assert!(!t.spans[1].attrs.contains_key("gen_ai.output.messages"));
        assert_eq!(t.spans[0].attr_str(INPUT), Some("hi"));
    }

    #[test]
    fn every_content_key_has_the_prefix_one_search_looks_for() {
        for k in [INPUT, OUTPUT, SYSTEM, TOOL_CALLS, TOOL_RESULTS] {
            assert!(k.starts_with(CONTENT_PREFIX), "{k}");
        }
    }

    proptest::proptest! {
        /// `has_key_with_prefix` finds a family of keys in one search: what a scan of every key would say.
        #[test]
        fn a_prefix_search_says_what_a_scan_says(
            keys in proptest::collection::vec("[a-c.]{0,5}", 0..12),
            prefix in "[a-c.]{0,3}",
        ) {
            let attrs: crate::model::Attrs =
                keys.iter().map(|k| (crate::testing::static_key(k), AttrValue::Int(0))).collect();
            let scan = attrs.keys().any(|k| k.starts_with(prefix.as_str()));
            proptest::prop_assert_eq!(attrs.has_key_with_prefix(&prefix), scan);
        }
    }

    #[test]
    fn nothing_captured_means_nothing_added() {
        let mut t = Trace {
            trace_id: [1; 16],
            spans: vec![span(1, None, SpanRole::Turn, 0, 1), span(2, Some(1), SpanRole::ModelCall, 0, 1)],
            straggler: false,
            incomplete: false,
        };
        let before = t.clone();
        shape(&mut t, None);
        assert_eq!(t, before);
    }
}
