//! The N-API surface of clawtrace (`docs/ARCHITECTURE.md`, "Modules") and nothing more: conversion at the boundary, the registry handle,
//! promises and the error callback. Everything else lives in `clawtrace-core`.
//!
//! Record calls run on the gateway's thread: they take the event as JSON text (stringified on the JS side — the
//! fastest crossing measured in `bench/`) or serialise an object with V8's own `JSON.stringify`, push it onto a
//! bounded lock-free queue and return. They never throw and never let a panic out.

#![deny(clippy::all)]

#[cfg(feature = "bench")]
pub mod bench;
mod boundary;
mod config_value;

/// mimalloc rather than the system allocator: the background allocates and frees per event and per span, and
/// glibc's malloc was a third of its CPU (`docs/ARCHITECTURE.md`, "Contracts"). Its thread-local state uses the
/// local-dynamic TLS model, which works in a library loaded by `dlopen` (an addon) on glibc and musl alike.
#[cfg(not(feature = "bench"))]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Freed memory goes back to the OS when the pipeline goes quiet (`clawtrace_core::pipeline`,
/// `set_release_freed_memory`): mimalloc keeps freed pages a second for reuse, and a forced collect returns them
/// (its arenas are process-wide, so one call covers pages freed by any of the addon's threads).
fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[napi_derive::module_init]
fn init() {
    clawtrace_core::pipeline::set_release_freed_memory(release_freed_memory);
}

/// The benchmark's addon counts its live heap around the same allocator (`bench::Counting`).
#[cfg(feature = "bench")]
#[global_allocator]
static ALLOC: bench::Counting = bench::Counting;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use clawtrace_core::errors::ErrorReport;
use clawtrace_core::ingest::{catalogue, compact, Body, Inbound, Source};
use clawtrace_core::registry::REGISTRY;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;

use boundary::{now_ms, read_trusted, stringify};

/// Runs `f`, turning a panic into `fallback`: no panic ever crosses into Node.
pub(crate) fn guarded<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// This process's id, read once: `std::process::id()` is a `getpid` system call on every record call otherwise
/// (glibc does not cache it). A Node process never forks with this addon loaded (child processes exec), so the
/// cached value stays right.
pub(crate) fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

fn record(env: &Env, src: Source, hook: Option<String>, evt: Unknown, ctx: Option<Unknown>, trusted: bool) -> bool {
    let Some(json) = stringify(env, &evt) else {
        REGISTRY.count_invalid(&REGISTRY.stats.invalid_unserializable);
        return false;
    };
    let ctx = ctx.and_then(|c| stringify(env, &c)).map(|c| Box::new(Body::Json(c)));
    REGISTRY.record(Inbound { src, pid: pid(), arrived_ms: now_ms(), trusted, hook, body: Body::Json(json), ctx })
}

/// Records an OpenClaw diagnostic event (`onInternalDiagnosticEvent(evt, meta)` / `onDiagnosticEvent(evt)`).
/// `evt` may be the event or its JSON text (`JSON.stringify(evt)`, the fastest way in); `meta` the listener's
/// metadata or just `meta.trusted`. Returns whether it was queued; bad input is counted in `stats()`, never thrown.
#[napi]
pub fn record_diagnostic(env: Env, evt: Unknown, meta: Option<Unknown>) -> bool {
    guarded(false, || {
        let trusted = meta.as_ref().is_some_and(|m| read_trusted(&env, m));
        record(&env, Source::Diagnostic, None, evt, None, trusted)
    })
}

/// The diagnostic event types that never become spans (the event catalogue's `Infra` rows), in the order
/// `recordInfra` numbers them. The plugin counts these without serialising them (`plugin/hotpath.mjs`).
#[napi]
pub fn infra_event_types() -> Vec<String> {
    guarded(Vec::new(), || catalogue::infra_types().map(|e| e.name.to_string()).collect())
}

/// Records a diagnostic event of an infra-only type without its body: `kind` is its index in `infraEventTypes()`,
/// `seq` its `seq` (so the reorder buffer has no gap to wait for). Counted like the whole event would be.
#[napi]
pub fn record_infra(kind: u32, seq: Option<f64>) -> bool {
    guarded(false, || {
        let Some(kind) = catalogue::infra_kind(kind as usize) else {
            REGISTRY.count_invalid(&REGISTRY.stats.invalid_wrong_field_type);
            return false;
        };
        let seq = seq.filter(|s| s.is_finite() && *s >= 0.0 && s.fract() == 0.0).map(|s| s as u64);
        enqueue_untrusted_diagnostic(Body::Skipped { kind, seq })
    })
}

/// The fields the plugin copies per event type, for `recordDiagnosticBatch` (`crates/core/src/ingest/compact.rs`):
/// `{schemas: [{types, fields}], infra, generic}`, a field being its name or `[name, [sub-fields]]`.
#[napi(ts_return_type = "{ schemas: { types: string[]; fields: unknown[] }[]; infra: number; generic: number }")]
pub fn projection() -> serde_json::Value {
    guarded(serde_json::Value::Null, clawtrace_core::ingest::compact::projection)
}

/// Records `events` diagnostic events at once, in the compact form `projection()` describes
/// (`plugin/hotpath.mjs`): `slotCount` slots of `slots` (a `Float64Array`) and of `tags` (a `Uint16Array`), the
/// strings back to back in `text`. One crossing for many events: this copies the three as they are (no parse, no
/// transcoding); the worker decodes them. Each event is counted as if recorded alone (`eventsReceived`, a full queue
/// drops the batch and counts its events). Returns whether it was queued.
#[napi(ts_args_type = "text: string, slots: Float64Array, tags: Uint16Array, slotCount: number, events: number")]
pub fn record_diagnostic_batch(
    env: Env,
    text: Unknown,
    slots: Unknown,
    tags: Unknown,
    slot_count: u32,
    events: u32,
) -> bool {
    guarded(false, || {
        let n = slot_count as usize;
        let raw = env.raw();
        // Copied into a spare batch (`compact::spare_batch`): the gateway thread reuses memory the worker gave back.
        let mut batch = compact::spare_batch();
        let copied = unsafe {
            boundary::read_utf16(raw, text.raw(), &mut batch.text)
                && boundary::typed_array::<f64>(raw, slots.raw(), n, &mut batch.slots)
                && boundary::typed_array::<u16>(raw, tags.raw(), n, &mut batch.tags)
        };
        if !copied {
            compact::recycle(batch);
            clawtrace_core::stats::Stats::add(&REGISTRY.stats.events_received, events as u64);
            clawtrace_core::stats::Stats::add(&REGISTRY.stats.invalid_unserializable, events as u64);
            return false;
        }
        batch.events = events;
        REGISTRY.record(compact::batch_inbound(batch, pid(), now_ms()))
    })
}

/// Queues a diagnostic event body recorded without the listener's metadata (untrusted).
fn enqueue_untrusted_diagnostic(body: Body) -> bool {
    REGISTRY.record(Inbound {
        src: Source::Diagnostic,
        pid: pid(),
        arrived_ms: now_ms(),
        trusted: false,
        hook: None,
        body,
        ctx: None,
    })
}

/// Records an agent event (`api.runtime.events.onAgentEvent`).
#[napi]
pub fn record_agent(env: Env, evt: Unknown) -> bool {
    guarded(false, || record(&env, Source::Agent, None, evt, None, false))
}

/// Records a plugin hook call: its name, payload and context.
#[napi]
pub fn record_hook(env: Env, name: Unknown, payload: Unknown, ctx: Option<Unknown>) -> bool {
    guarded(false, || {
        let name = match name.get_type() {
            Ok(ValueType::String) => unsafe { name.cast::<String>() }.ok(),
            _ => None,
        };
        match name {
            Some(n) if n.len() <= 64 => record(&env, Source::Hook, Some(n), payload, ctx, false),
            _ => {
                REGISTRY.count_invalid(&REGISTRY.stats.invalid_hook_name);
                false
            }
        }
    })
}

/// Applies a configuration (see `index.d.ts`). Throws on an invalid configuration, naming the field and what it
/// expects (never the value given); resolves once applied.
#[napi(ts_args_type = "config?: ClawtraceConfig", ts_return_type = "Promise<void>")]
pub fn configure<'env>(env: &'env Env, config: Option<Unknown<'env>>) -> Result<Object<'env>> {
    let json = match config {
        Some(c) => guarded(Err("invalid clawtrace config: unreadable".into()), || config_value::config_json(env, &c)),
        None => Ok(serde_json::json!({})),
    };
    let cfg = json
        .and_then(|j| REGISTRY.parse_config(j))
        .map_err(|e| Error::new(Status::InvalidArg, REGISTRY.errors.scrub_values(&e)))?;
    let applied = REGISTRY.configure(cfg);
    promise(env, async move { applied.await.map_err(|e| Error::new(Status::GenericFailure, e)) })
}

/// Registers a function that `flush()` and `shutdown()` call first, on this thread: the plugin's hot path hands
/// over the events it still batches (`plugin/hotpath.mjs`). Returns whether it was registered.
#[napi(ts_args_type = "drain: () => void")]
pub fn set_batch_drain(env: Env, drain: Unknown) -> bool {
    guarded(false, || boundary::add_drain(&env, &drain))
}

/// Resolves `true` once everything recorded so far and already closed is delivered, `false` on timeout.
#[napi(ts_return_type = "Promise<boolean>")]
pub fn flush(env: &Env, timeout_ms: Option<u32>) -> Result<Object<'_>> {
    guarded((), || boundary::run_drains(env));
    let t = Duration::from_millis(timeout_ms.unwrap_or(10_000) as u64);
    promise(env, async move { Ok(REGISTRY.flush(t).await) })
}

/// Flushes, exports open traces as incomplete, and stops accepting events until the next `configure()`.
#[napi(ts_return_type = "Promise<boolean>")]
pub fn shutdown(env: &Env, timeout_ms: Option<u32>) -> Result<Object<'_>> {
    guarded((), || boundary::run_drains(env));
    let t = Duration::from_millis(timeout_ms.unwrap_or(10_000) as u64);
    promise(env, async move { Ok(REGISTRY.shutdown(t).await) })
}

#[napi(object)]
pub struct ReplaySummary {
    pub lines: i64,
    pub events: i64,
    pub markers: i64,
    pub malformed_lines: i64,
    pub unknown_source_lines: i64,
    pub too_long_lines: i64,
    pub invalid_utf8_lines: i64,
    /// The first skipped lines (up to 10), by 1-based line number.
    pub bad_lines: Vec<BadLine>,
    pub flushed: bool,
}

#[napi(object)]
pub struct BadLine {
    pub line: i64,
    /// `too long`, `invalid UTF-8`, `malformed JSON` or `unknown source`.
    pub reason: String,
}

/// Replays a record file (`{"src":"diagnostic",…}` per line) through the pipeline into the configured sinks and
/// resolves when every trace in it has been exported.
#[napi(ts_return_type = "Promise<ReplaySummary>")]
pub fn replay(env: &Env, path: String, timeout_ms: Option<u32>) -> Result<Object<'_>> {
    let t = Duration::from_millis(timeout_ms.unwrap_or(120_000) as u64);
    promise(env, async move {
        let s = REGISTRY
            .replay(&path, t)
            .await
            .map_err(|e| Error::new(Status::GenericFailure, REGISTRY.errors.scrub(&e)))?;
        Ok(ReplaySummary {
            lines: s.lines as i64,
            events: s.events as i64,
            markers: s.markers as i64,
            malformed_lines: s.malformed_lines as i64,
            unknown_source_lines: s.unknown_source_lines as i64,
            too_long_lines: s.too_long_lines as i64,
            invalid_utf8_lines: s.invalid_utf8_lines as i64,
            bad_lines: s
                .bad_lines
                .iter()
                .map(|(line, reason)| BadLine { line: *line as i64, reason: reason.as_str().into() })
                .collect(),
            flushed: s.flushed,
        })
    })
}

/// Every counter by name, the queue length, and per-sink counters under `sinks`.
#[napi(ts_return_type = "ClawtraceStats")]
pub fn stats() -> serde_json::Value {
    guarded(serde_json::Value::Null, || {
        let mut m = serde_json::Map::new();
        for (k, v) in REGISTRY.stats.snapshot() {
            m.insert(snake_to_camel(k), v.into());
        }
        m.insert("queueLength".into(), REGISTRY.queue_len().into());
        let mut sinks = serde_json::Map::new();
        for (name, snap) in REGISTRY.sink_stats() {
            let s: serde_json::Map<String, serde_json::Value> =
                snap.into_iter().map(|(k, v)| (snake_to_camel(k), v.into())).collect();
            sinks.insert(name.to_string(), s.into());
        }
        m.insert("sinks".into(), sinks.into());
        // Every error by sink and kind, including those `onError` heard of only once.
        let mut errors = serde_json::Map::new();
        for (sink, kind, n) in REGISTRY.errors.counts() {
            let by_kind = errors.entry(sink).or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(k) = by_kind {
                k.insert(kind, n.into());
            }
        }
        m.insert("errors".into(), errors.into());
        // The latest error of each sink, for a status page (`openclaw clawtrace status`).
        let latest: serde_json::Map<String, serde_json::Value> = REGISTRY
            .errors
            .latest()
            .into_iter()
            .map(|(sink, e)| (sink, serde_json::json!({ "kind": e.kind, "message": e.message, "atMs": e.at_ms })))
            .collect();
        m.insert("lastErrors".into(), latest.into());
        m.into()
    })
}

#[napi(object)]
pub struct ExportErrorReport {
    pub sink: String,
    pub kind: String,
    pub message: String,
}

/// Registers the callback that receives errors, once per sink and kind (the first of each kind reported before
/// it was registered is delivered now). Messages carry no configured secret. It does not keep Node alive.
#[napi(ts_args_type = "callback: (error: ExportErrorReport) => void")]
pub fn on_error(callback: Function<ExportErrorReport, ()>) -> Result<()> {
    let tsfn = callback.build_threadsafe_function().weak::<true>().build()?;
    REGISTRY.set_error_callback(Some(std::sync::Arc::new(move |r: ErrorReport| {
        tsfn.call(
            ExportErrorReport { sink: r.sink, kind: r.kind, message: r.message },
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    })));
    Ok(())
}

fn promise<'env, T, F>(env: &'env Env, fut: F) -> Result<Object<'env>>
where
    T: ToNapiValue + Send + 'static,
    F: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred::<T, Box<dyn FnOnce(Env) -> Result<T> + Send>>()?;
    let handle = REGISTRY.runtime().map_err(|e| Error::new(Status::GenericFailure, e))?;
    handle.spawn(async move {
        match fut.await {
            Ok(v) => deferred.resolve(Box::new(move |_| Ok(v))),
            Err(e) => deferred.reject(e),
        }
    });
    Ok(promise)
}

fn snake_to_camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
