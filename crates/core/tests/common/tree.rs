//! A readable view of a trace for test failure messages: one line per span, indented under its parent, with
//! duration, tokens, cost and errors. (The CLI's `--tree` is `bin/tree.js`, over exported files.)

use std::collections::HashMap;
use std::fmt::Write;

use clawtrace_core::model::{hex, SpanId, Status, Trace};

pub fn render(trace: &Trace) -> String {
    let mut out = String::new();
    let root = trace.root();
    let _ = writeln!(
        out,
        "trace {}{}{}  session={}",
        hex(&trace.trace_id),
        if trace.straggler { " (late spans)" } else { "" },
        if trace.incomplete { " (incomplete)" } else { "" },
        root.and_then(|r| r.attr_str("session.id"))
            .or_else(|| trace.spans.iter().find_map(|s| s.attr_str("session.id")))
            .unwrap_or("-"),
    );
    let mut depth: HashMap<SpanId, usize> = HashMap::new();
    for s in &trace.spans {
        let d = s.parent_span_id.and_then(|p| depth.get(&p)).map_or(0, |d| d + 1);
        depth.insert(s.span_id, d);
        let mut line = format!("{}{} {:.0}ms", "  ".repeat(d + 1), s.name, s.duration_ms());
        if let (Some(i), Some(o)) = (s.attr_i64("gen_ai.usage.input_tokens"), s.attr_i64("gen_ai.usage.output_tokens"))
        {
            let _ = write!(line, " tokens={i}/{o}");
        }
        if let Some(c) = s.attr_f64("openclaw.cost_usd").filter(|c| *c > 0.0) {
            let _ = write!(line, " cost=${c:.6}");
        }
        if let Status::Error(msg) = &s.status {
            let _ = write!(line, " ERROR({msg})");
        }
        let _ = writeln!(out, "{line}");
    }
    out
}
