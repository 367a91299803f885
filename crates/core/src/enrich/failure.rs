//! Why a span failed, in the keys every backend reads: OpenClaw's own error events say only `Error` or
//! `agent run failed`; the cause (the provider's message, the HTTP status, the failover reason, the error's class)
//! comes from the agent stream and the log records (`assemble/annotate.rs`, `assemble/apply.rs`), which leave it
//! on the span as the `CAUSE_*` attributes below. Here each failed span gets `error.type`, a status message that
//! names the cause, and one OTel `exception` event (MLflow, Langfuse and Phoenix all show these).

use std::collections::HashMap;

use crate::model::{AttrValue, Span, SpanEvent, SpanId, Status, Trace};

/// OpenClaw's user-facing text for the failure (the agent stream's `error`).
pub const CAUSE_MESSAGE: &str = "openclaw.error.message";
/// What the provider itself answered (`fallbackStepFromFailureDetail`, a log record's `errorPreview`).
pub const CAUSE_PROVIDER_MESSAGE: &str = "openclaw.error.provider_message";
/// OpenClaw's failover reason (`server_error`, `rate_limit`, …).
pub const CAUSE_REASON: &str = "openclaw.error.reason";
/// The error's class as OpenClaw logged it (`FailoverError`).
pub const CAUSE_NAME: &str = "openclaw.error.name";
/// The provider's HTTP status (OTel's HTTP semantic conventions).
pub const HTTP_STATUS: &str = "http.response.status_code";

/// The longest status message sent: backends show it in lists, and the full text rides on the exception event.
const MAX_STATUS_CHARS: usize = 512;

/// The `HTTP 500` in OpenClaw's text, or the leading status of a provider preview (`500 upstream failure`).
pub fn http_status_in(text: &str) -> Option<i64> {
    let code = |s: &str| {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        (digits.len() == 3).then(|| digits.parse::<i64>().ok()).flatten().filter(|c| (100..600).contains(c))
    };
    if let Some(i) = text.find("HTTP ") {
        if let Some(c) = code(&text[i + 5..]) {
            return Some(c);
        }
    }
    code(text).filter(|_| text.as_bytes().get(3).is_none_or(|b| !b.is_ascii_digit()))
}

/// OpenClaw prefixes its user-facing errors with a warning sign; the cause itself starts at the first word.
pub fn clean_message(text: &str) -> &str {
    text.trim_start_matches(|c: char| !c.is_alphanumeric()).trim_end()
}

/// A generic category says nothing a backend's error column does not already say.
fn is_generic(error_type: &str) -> bool {
    error_type.is_empty() || error_type.eq_ignore_ascii_case("error")
}

/// What a failed span passes up to the spans that failed because of it (its run, its attempt, the turn).
#[derive(Clone)]
struct Inherited {
    error_type: String,
    message: String,
    http_status: Option<i64>,
}

pub fn describe(trace: &mut Trace) {
    // Only failed spans are described: most traces have none, and then nothing is looked up.
    if !trace.has_error() {
        return;
    }
    // The class is logged once per failed turn, on whichever span the log record landed.
    let trace_name = trace.spans.iter().find_map(|s| s.attr_str(CAUSE_NAME)).map(str::to_string);
    // Children come after their parents: walking backwards, every child is described before its parent.
    let mut from_children: HashMap<SpanId, Inherited> = HashMap::new();
    for s in trace.spans.iter_mut().rev().filter(|s| s.status.is_error()) {
        let inherited = from_children.get(&s.span_id).cloned();
        if let Some(up) = describe_span(s, trace_name.as_deref(), inherited) {
            if let Some(p) = s.parent_span_id {
                from_children.entry(p).or_insert(up);
            }
        }
    }
}

fn has_cause(s: &Span) -> bool {
    [CAUSE_MESSAGE, CAUSE_PROVIDER_MESSAGE, CAUSE_REASON].iter().any(|k| s.attrs.contains_key(k))
}

/// Describes one failed span; returns the cause its parent may take over when it has none of its own.
fn describe_span(s: &mut Span, trace_name: Option<&str>, inherited: Option<Inherited>) -> Option<Inherited> {
    let Status::Error(status) = &s.status else { return None };
    let status = status.clone();
    // A span failed only because a child did ("model call failed") names the child's cause.
    if let Some(up) = inherited.filter(|_| !has_cause(s)) {
        if let Some(c) = up.http_status.filter(|_| !s.attrs.contains_key(HTTP_STATUS)) {
            s.attrs.insert(HTTP_STATUS.into(), AttrValue::Int(c));
        }
        s.attrs.insert("error.type".into(), up.error_type.clone().into());
        if !status.contains(up.message.as_str()) {
            s.status = Status::Error(cut(&format!("{status}: {}", up.message), MAX_STATUS_CHARS));
        }
        exception_event(s, &up.error_type, &up.message);
        return Some(up);
    }
    let cause = s.attr_str(CAUSE_PROVIDER_MESSAGE).or(s.attr_str(CAUSE_MESSAGE)).map(str::to_string);
    let own_cause = cause.is_some() || s.attrs.contains_key(CAUSE_REASON);
    if !s.attrs.contains_key(HTTP_STATUS) {
        let code = [CAUSE_MESSAGE, CAUSE_PROVIDER_MESSAGE].iter().find_map(|k| s.attr_str(k).and_then(http_status_in));
        if let Some(c) = code {
            s.attrs.insert(HTTP_STATUS.into(), AttrValue::Int(c));
        }
    }
    let own = s.attr_str("error.type").filter(|t| !is_generic(t)).map(str::to_string);
    let name = s.attr_str(CAUSE_NAME).or(if own_cause { trace_name } else { None }).map(str::to_string);
    let error_type = name
        .or(own)
        .or_else(|| s.attr_str(CAUSE_REASON).map(str::to_string))
        .or_else(|| s.attr_i64(HTTP_STATUS).map(|c| c.to_string()))
        .or_else(|| s.attr_str("error.type").map(str::to_string))
        .unwrap_or_else(|| "error".to_string());
    s.attrs.insert("error.type".into(), error_type.clone().into());
    let message = match &cause {
        Some(c) if !status.contains(c.as_str()) => {
            let joined = format!("{status}: {c}");
            s.status = Status::Error(cut(&joined, MAX_STATUS_CHARS));
            c.clone()
        }
        Some(c) => c.clone(),
        None => status,
    };
    exception_event(s, &error_type, &message);
    let http_status = s.attr_i64(HTTP_STATUS);
    (has_cause(s) || s.attrs.contains_key(CAUSE_NAME)).then_some(Inherited { error_type, message, http_status })
}

/// OTel's record of an exception on the span (MLflow, Langfuse and Phoenix show it); one per span.
fn exception_event(s: &mut Span, error_type: &str, message: &str) {
    if s.events.iter().any(|e| e.name == "exception") {
        return;
    }
    let mut attrs = crate::model::Attrs::new();
    attrs.insert("exception.type".into(), error_type.into());
    attrs.insert("exception.message".into(), message.into());
    s.events.push(SpanEvent { name: "exception".into(), time_ns: s.end_ns, attrs });
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpanRole;
    use crate::testing::named;

    fn failed(id: u8, parent: Option<u8>, role: SpanRole, status: &str, attrs: &[(&str, AttrValue)]) -> Span {
        let mut s = named(1, id, parent, role, "s", attrs);
        s.status = Status::Error(status.into());
        s
    }

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.into())
    }

    #[test]
    fn http_status_from_openclaw_text_and_provider_previews() {
        assert_eq!(
            http_status_in("fake/fake-model request failed (provider internal error, HTTP 500). Try"),
            Some(500)
        );
        assert_eq!(http_status_in("500 fake upstream failure"), Some(500));
        assert_eq!(http_status_in("429"), Some(429));
        assert_eq!(http_status_in("5000 tokens"), None);
        assert_eq!(http_status_in("no status here"), None);
        assert_eq!(clean_message("\u{26a0}\u{fe0f} fake/fake-model failed "), "fake/fake-model failed");
    }

    #[test]
    fn a_failed_call_names_its_cause_type_status_and_exception() {
        let call = failed(
            2,
            Some(1),
            SpanRole::ModelCall,
            "model call failed: Error",
            &[
                ("error.type", s("Error")),
                (CAUSE_MESSAGE, s("fake/fake-model request failed (provider internal error, HTTP 500).")),
                (CAUSE_REASON, s("server_error")),
            ],
        );
        // The turn's own end says why (the agent stream's `error`, which is also its status).
        let mut root = failed(
            1,
            None,
            SpanRole::Turn,
            "fake/fake-model request failed",
            &[(CAUSE_MESSAGE, s("fake/fake-model request failed"))],
        );
        root.attrs.insert(CAUSE_NAME.into(), s("FailoverError"));
        let tool = named(1, 3, Some(1), SpanRole::Tool, "t", &[]);
        let mut t = Trace { trace_id: [1; 16], spans: vec![root, call, tool], straggler: false, incomplete: false };
        describe(&mut t);
        let call = &t.spans[1];
        assert_eq!(call.attr_str("error.type"), Some("FailoverError"), "the class wins over OpenClaw's `Error`");
        assert_eq!(call.attr_i64(HTTP_STATUS), Some(500));
        assert_eq!(
            call.status,
            Status::Error(
                "model call failed: Error: fake/fake-model request failed (provider internal error, HTTP 500).".into()
            )
        );
        let ex = &call.events[0];
        assert_eq!((ex.name.as_str(), ex.time_ns), ("exception", call.end_ns));
        assert_eq!(ex.attrs["exception.type"], s("FailoverError"));
        assert_eq!(
            ex.attrs["exception.message"],
            s("fake/fake-model request failed (provider internal error, HTTP 500).")
        );
        // The root's status already is the cause: not repeated; its class is its own.
        assert_eq!(t.spans[0].status, Status::Error("fake/fake-model request failed".into()));
        assert_eq!(t.spans[0].attr_str("error.type"), Some("FailoverError"));
        assert!(t.spans[2].events.is_empty() && !t.spans[2].attrs.contains_key("error.type"), "OK spans untouched");
        // Idempotent: a second pass adds no second exception event.
        describe(&mut t);
        assert_eq!(t.spans[1].events.len(), 1);
    }

    #[test]
    fn a_span_that_failed_because_its_child_did_names_the_childs_cause() {
        let root = failed(1, None, SpanRole::Turn, "model call failed", &[]);
        let run = failed(2, Some(1), SpanRole::Run, "model call failed", &[]);
        let call = failed(
            3,
            Some(2),
            SpanRole::ModelCall,
            "model call failed: Error",
            &[(CAUSE_PROVIDER_MESSAGE, s("500 upstream failure")), (CAUSE_NAME, s("FailoverError"))],
        );
        let mut t = Trace { trace_id: [1; 16], spans: vec![root, run, call], straggler: false, incomplete: false };
        describe(&mut t);
        for sp in &t.spans {
            assert_eq!(sp.attr_str("error.type"), Some("FailoverError"), "{:?}", sp.span_id);
            assert_eq!(sp.attr_i64(HTTP_STATUS), Some(500));
            assert_eq!(sp.events[0].attrs["exception.message"], s("500 upstream failure"));
        }
        assert_eq!(t.spans[0].status, Status::Error("model call failed: 500 upstream failure".into()));
    }

    #[test]
    fn without_a_cause_the_status_stays_and_the_category_is_the_type() {
        let tool = failed(2, Some(1), SpanRole::Tool, "tool failed: denied", &[("error.type", s("denied"))]);
        let bare = failed(3, Some(1), SpanRole::Run, "error", &[]);
        let mut t = Trace { trace_id: [1; 16], spans: vec![tool, bare], straggler: false, incomplete: false };
        t.spans[0].attrs.insert(CAUSE_NAME.into(), s("ToolError"));
        describe(&mut t);
        assert_eq!(t.spans[0].attr_str("error.type"), Some("ToolError"));
        assert_eq!(t.spans[0].status, Status::Error("tool failed: denied".into()));
        assert_eq!(t.spans[1].attr_str("error.type"), Some("error"), "no cause: the trace's class is not borrowed");
        assert_eq!(t.spans[1].events[0].attrs["exception.message"], s("error"));
    }
}
