//! The worker gives the allocator's freed memory back once per quiet period: once no event has arrived for half a
//! second (`pipeline/worker.rs`, `IDLE_RELEASE`), and not again until events have come and gone quiet again. Its
//! own test binary: the release call is set once per process.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clawtrace_core::config::Config;
use clawtrace_core::errors::ErrorReporter;
use clawtrace_core::ingest::{Body, Inbound, Source};
use clawtrace_core::pipeline::{set_release_freed_memory, Pipeline};
use clawtrace_core::stats::Stats;

static RELEASES: AtomicUsize = AtomicUsize::new(0);

fn count_release() {
    RELEASES.fetch_add(1, SeqCst);
}

/// Waits (a safety net, not a measure) until `RELEASES` exceeds `n`.
fn wait_for_release_after(n: usize) -> usize {
    let until = Instant::now() + Duration::from_secs(10);
    while RELEASES.load(SeqCst) <= n {
        assert!(Instant::now() < until, "no release came after {n}");
        std::thread::sleep(Duration::from_millis(20));
    }
    RELEASES.load(SeqCst)
}

#[test]
fn freed_memory_is_given_back_once_per_quiet_period() {
    set_release_freed_memory(count_release);
    let dir = std::env::temp_dir().join(format!("clawtrace-idle-release-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("traces.jsonl");
    let cfg = Config::from_json(serde_json::json!({"exporters": {"file": {"path": file.to_str().unwrap()}}})).unwrap();
    let p = Pipeline::start(cfg, Arc::new(Stats::default()), ErrorReporter::default(), Default::default()).unwrap();

    // A pipeline that starts quiet gives back once, then not again while it stays quiet (it ticks once a second).
    let first = wait_for_release_after(0);
    assert_eq!(first, 1);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(RELEASES.load(SeqCst), first, "a quiet period gives back once");

    // An event, then quiet again: one more.
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0;
    let event = r#"{"type":"message.received","seq":1,"sessionKey":"agent:main:main","channel":"webchat"}"#;
    let inbound = Inbound {
        src: Source::Diagnostic,
        pid: 1,
        arrived_ms: now_ms,
        trusted: true,
        hook: None,
        body: Body::Json(event.into()),
        ctx: None,
    };
    p.try_send(inbound).expect("queued");
    let second = wait_for_release_after(first);
    assert_eq!(second, first + 1);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(RELEASES.load(SeqCst), second, "and once only");

    assert!(p.handle().block_on(p.flush(true, Duration::from_secs(10))), "flushed");
    std::fs::remove_dir_all(&dir).ok();
}
