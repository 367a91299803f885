//! Errors reach the host through one callback, once per (sink, kind): a backend that is down for an hour yields one
//! report, not one per batch — but every occurrence is counted (`counts`, in `stats().errors`). A first report made
//! before anyone listens is kept (bounded) and delivered when `onError` is registered. Every message passes the
//! [`Scrubber`] on its way out: no configured secret, whatever echoed it, reaches the host.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use crate::secrets::Scrubber;

pub type ErrorCallback = Arc<dyn Fn(ErrorReport) + Send + Sync>;

/// First reports kept for a listener that is not there yet; beyond it they are only counted.
pub const MAX_PENDING_REPORTS: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReport {
    pub sink: String,
    pub kind: String,
    pub message: String,
}

/// The most recent error of one sink: what a status page shows, not only the first of each kind.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestError {
    pub kind: String,
    pub message: String,
    /// Unix time in milliseconds.
    pub at_ms: u64,
}

/// A latest message is cut to this many bytes (at a character boundary): a status line, not a log.
const LATEST_MESSAGE_MAX: usize = 1024;

#[derive(Clone, Default)]
pub struct ErrorReporter {
    inner: Arc<ReporterInner>,
}

#[derive(Default)]
struct ReporterInner {
    callback: RwLock<Option<ErrorCallback>>,
    reported: Mutex<HashSet<(String, String)>>,
    /// Held while the callback is read or replaced, so a report is either delivered or kept, never lost between.
    pending: Mutex<VecDeque<ErrorReport>>,
    counts: Mutex<BTreeMap<(String, String), u64>>,
    /// The latest error of each sink (`openclaw clawtrace status` shows it), kept as it came, scrubbed when read.
    latest: Mutex<BTreeMap<String, LatestError>>,
    scrubber: RwLock<Scrubber>,
}

impl ErrorReporter {
    /// Sets (or clears) the listener; first reports kept until now are delivered to it at once.
    pub fn set_callback(&self, cb: Option<ErrorCallback>) {
        let kept: Vec<ErrorReport> = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
            *self.inner.callback.write().unwrap_or_else(|e| e.into_inner()) = cb.clone();
            if cb.is_some() {
                pending.drain(..).collect()
            } else {
                Vec::new()
            }
        };
        if let Some(cb) = cb {
            kept.into_iter().for_each(|r| cb(r));
        }
    }

    /// Forgets what was reported (after a reconfiguration, a recurring problem is news again).
    pub fn reset(&self) {
        self.inner.reported.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Remembers more secret values to scrub (a configuration's, the environment's); none is ever forgotten.
    pub fn add_secrets(&self, secrets: Vec<String>) {
        self.inner.scrubber.write().unwrap_or_else(|e| e.into_inner()).add(secrets);
    }

    /// The text with every known secret removed: for every message that leaves, whoever builds it.
    pub fn scrub(&self, text: &str) -> String {
        self.inner.scrubber.read().unwrap_or_else(|e| e.into_inner()).scrub(text)
    }

    /// Only the known secret values (see `Scrubber::scrub_values`): for configuration errors.
    pub fn scrub_values(&self, text: &str) -> String {
        self.inner.scrubber.read().unwrap_or_else(|e| e.into_inner()).scrub_values(text)
    }

    pub fn report(&self, sink: &str, kind: &str, message: &str) {
        *self.inner.counts.lock().unwrap_or_else(|e| e.into_inner()).entry((sink.into(), kind.into())).or_default() +=
            1;
        let mut message_cut = message;
        if message_cut.len() > LATEST_MESSAGE_MAX {
            let mut end = LATEST_MESSAGE_MAX;
            while !message_cut.is_char_boundary(end) {
                end -= 1;
            }
            message_cut = &message_cut[..end];
        }
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.inner
            .latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sink.to_string(), LatestError { kind: kind.to_string(), message: message_cut.to_string(), at_ms });
        let first =
            self.inner.reported.lock().unwrap_or_else(|e| e.into_inner()).insert((sink.to_string(), kind.to_string()));
        if !first {
            return;
        }
        let report = ErrorReport { sink: sink.to_string(), kind: kind.to_string(), message: self.scrub(message) };
        let cb = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
            let cb = self.inner.callback.read().unwrap_or_else(|e| e.into_inner()).clone();
            if cb.is_none() && pending.len() < MAX_PENDING_REPORTS {
                pending.push_back(report.clone());
            }
            cb
        };
        if let Some(cb) = cb {
            cb(report);
        }
    }

    /// The latest error of each sink, scrubbed of every secret known now.
    pub fn latest(&self) -> Vec<(String, LatestError)> {
        let latest = self.inner.latest.lock().unwrap_or_else(|e| e.into_inner()).clone();
        latest
            .into_iter()
            .map(|(sink, mut e)| {
                e.message = self.scrub(&e.message);
                (sink, e)
            })
            .collect()
    }

    /// Every error so far, by sink and kind (reported or de-duplicated alike).
    pub fn counts(&self) -> Vec<(String, String, u64)> {
        self.inner
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((s, k), n)| (s.clone(), k.clone(), *n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collector() -> (ErrorCallback, Arc<Mutex<Vec<ErrorReport>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        (Arc::new(move |r| g.lock().unwrap().push(r)), got)
    }

    #[test]
    fn the_latest_error_of_each_sink_is_kept_and_scrubbed_when_read() {
        let r = ErrorReporter::default();
        r.report("mlflow", "http", "first failure");
        r.report("mlflow", "timeout", "second failure, key sk-latest-123456");
        r.report("otlp", "http", &"é".repeat(2000));
        r.add_secrets(vec!["sk-latest-123456".into()]);
        let latest: BTreeMap<_, _> = r.latest().into_iter().collect();
        assert_eq!(latest["mlflow"].kind, "timeout", "the latest, not the first");
        assert!(latest["mlflow"].message.starts_with("second failure"));
        assert!(!latest["mlflow"].message.contains("sk-latest-123456"), "a secret learnt later is still scrubbed");
        assert!(latest["otlp"].message.len() <= LATEST_MESSAGE_MAX, "cut at a character boundary");
        assert!(latest["mlflow"].at_ms > 0);
    }

    #[test]
    fn first_reports_wait_for_a_listener_and_every_error_is_counted() {
        let r = ErrorReporter::default();
        r.report("otlp", "refused", "connection refused");
        r.report("otlp", "refused", "connection refused again");
        r.report("config", "invalid", "bad");
        let (cb, got) = collector();
        r.set_callback(Some(cb));
        let kinds: Vec<_> = got.lock().unwrap().iter().map(|r| (r.sink.clone(), r.kind.clone())).collect();
        assert_eq!(kinds, vec![("otlp".into(), "refused".into()), ("config".into(), "invalid".into())]);
        r.report("otlp", "refused", "still refused");
        assert_eq!(got.lock().unwrap().len(), 2, "de-duplicated once someone listens");
        assert_eq!(
            r.counts(),
            vec![("config".into(), "invalid".into(), 1), ("otlp".into(), "refused".into(), 3)],
            "every occurrence counted"
        );
    }

    #[test]
    fn what_waits_is_bounded() {
        let r = ErrorReporter::default();
        for i in 0..MAX_PENDING_REPORTS + 10 {
            r.report("s", &format!("k{i}"), "m");
        }
        let (cb, got) = collector();
        r.set_callback(Some(cb));
        assert_eq!(got.lock().unwrap().len(), MAX_PENDING_REPORTS);
    }

    #[test]
    fn messages_are_scrubbed_on_the_way_out() {
        let r = ErrorReporter::default();
        r.add_secrets(vec!["s3cr3t-value".into()]);
        r.report("otlp", "rejected", "401: {\"headers\":{\"x-api-key\":\"s3cr3t-value\"}}");
        let (cb, got) = collector();
        r.set_callback(Some(cb));
        let msg = got.lock().unwrap()[0].message.clone();
        assert!(!msg.contains("s3cr3t-value") && msg.contains("401"), "{msg}");
    }
}
