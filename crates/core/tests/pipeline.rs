//! The whole background pipeline — decode → reorder → assemble → enrich → sample → export — fed the corpus and bad
//! input: every event fed ends in exactly one fate counter, and what reaches the file sink is enriched.

use std::sync::Arc;
use std::time::Duration;

use clawtrace_core::config::Config;
use clawtrace_core::errors::ErrorReporter;
use clawtrace_core::ingest::record::{parse_record, Record};
use clawtrace_core::ingest::{Body, Inbound, Source};
use clawtrace_core::pipeline::Pipeline;
use clawtrace_core::stats::Stats;

mod common;
use common::{assert_accounted, CORPUS};

fn bad(src: Source, hook: Option<&str>, json: &str) -> Inbound {
    Inbound {
        src,
        pid: 1,
        arrived_ms: 1_795_760_400_000.0,
        trusted: true,
        hook: hook.map(str::to_string),
        body: Body::Json(json.into()),
        ctx: None,
    }
}

#[test]
fn corpus_and_bad_input_through_the_pipeline_are_all_accounted_for() {
    let dir = std::env::temp_dir().join(format!("clawtrace-pipeline-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("traces.jsonl");
    let cfg = Config::from_json(serde_json::json!({"exporters": {"file": {"path": file.to_str().unwrap()}}})).unwrap();
    let stats = Arc::new(Stats::default());
    let p = Pipeline::start(cfg, stats.clone(), ErrorReporter::default(), Default::default()).unwrap();
    let mut fed = 0u64;
    for line in CORPUS.lines().filter(|l| !l.trim().is_empty()) {
        if let Record::Event(inbound) = parse_record(line, 1).unwrap() {
            p.try_send(inbound).expect("the queue holds the corpus");
            fed += 1;
        }
    }
    let bad_input = [
        bad(Source::Diagnostic, None, "{\"type\":"),
        bad(Source::Diagnostic, None, "[1,2]"),
        bad(Source::Diagnostic, None, "{\"seq\":1}"),
        bad(Source::Diagnostic, None, "{\"type\":5}"),
        bad(Source::Diagnostic, None, "{\"type\":\"run.started\",\"trace\":{\"traceId\":\"nothex\"}}"),
        bad(Source::Diagnostic, None, "{\"type\":\"not.a.type\"}"),
        bad(Source::Hook, Some("Bad Name"), "{}"),
        bad(Source::Agent, None, "{\"stream\":\"assistant\",\"runId\":\"nobody\"}"),
    ];
    for inbound in bad_input {
        p.try_send(inbound).expect("queued");
        fed += 1;
    }
    assert!(p.handle().block_on(p.flush(true, Duration::from_secs(60))), "flushed");
    assert_accounted(&stats, fed);
    assert_eq!(Stats::get(&stats.invalid_trace_context), 1, "a bad trace context is counted, the event still used");

    // Enrichment is a step of its own now: the file holds what it adds (session and user ids from the key).
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"session.id\""), "exported traces are enriched");
    let _ = std::fs::remove_dir_all(&dir);
}
