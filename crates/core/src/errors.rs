//! Export errors reach the host through one callback, once per (sink, kind): a backend that is down for an
//! hour yields one report, not one per batch. Messages never carry credentials (sinks build them without).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};

pub type ErrorCallback = Arc<dyn Fn(ErrorReport) + Send + Sync>;

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReport {
    pub sink: String,
    pub kind: String,
    pub message: String,
}

#[derive(Clone, Default)]
pub struct ErrorReporter {
    inner: Arc<ReporterInner>,
}

#[derive(Default)]
struct ReporterInner {
    callback: RwLock<Option<ErrorCallback>>,
    reported: Mutex<HashSet<(String, String)>>,
}

impl ErrorReporter {
    pub fn set_callback(&self, cb: Option<ErrorCallback>) {
        *self.inner.callback.write().unwrap_or_else(|e| e.into_inner()) = cb;
    }

    /// Forgets what was reported (after a reconfiguration, a recurring problem is news again).
    pub fn reset(&self) {
        self.inner.reported.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn report(&self, sink: &str, kind: &str, message: &str) {
        let first =
            self.inner.reported.lock().unwrap_or_else(|e| e.into_inner()).insert((sink.to_string(), kind.to_string()));
        if !first {
            return;
        }
        let cb = self.inner.callback.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(cb) = cb {
            cb(ErrorReport { sink: sink.to_string(), kind: kind.to_string(), message: message.to_string() });
        }
    }
}
