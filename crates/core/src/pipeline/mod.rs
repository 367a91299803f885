//! The background pipeline: one worker task owns ordering and assembly (so they need no locks), fed by a bounded
//! queue; each sink runs in its own task behind its own queue.

mod ingress;
pub mod sampling;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::errors::ErrorReporter;
use crate::export::transport::runner::SinkStats;
use crate::ingest::Inbound;
use crate::stats::Stats;
use ingress::Ingress;

pub(crate) enum Control {
    Configure(Box<Config>, oneshot::Sender<Result<(), String>>),
    /// Export what is closed (and with `close_open`, everything, open traces as incomplete), then wait for sinks.
    /// With `forget`, also forget exported trace ids, correlation state and `seq` positions afterwards: what
    /// follows is a new stream (a replay), whose ids must not be mistaken for stragglers of the last one.
    Flush {
        close_open: bool,
        forget: bool,
        /// `true`: everything was delivered (a batch parked in a spool is not).
        done: oneshot::Sender<bool>,
    },
}

/// The sinks in service, published for `stats()` without a round trip to the worker.
pub type SinkRegistry = Arc<std::sync::Mutex<Vec<(&'static str, Arc<SinkStats>)>>>;

pub struct Pipeline {
    runtime: tokio::runtime::Runtime,
    ingress: Arc<Ingress>,
    ctl: mpsc::UnboundedSender<Control>,
}

impl Pipeline {
    pub fn start(
        cfg: Config,
        stats: Arc<Stats>,
        errors: ErrorReporter,
        sinks: SinkRegistry,
    ) -> std::io::Result<Pipeline> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("clawtrace")
            .enable_all()
            .build()?;
        let ingress = Arc::new(Ingress::new(cfg.queue_capacity, cfg.queue_max_bytes));
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        runtime.spawn(worker::run(cfg, stats, errors, sinks, ingress.clone(), ctl_rx));
        Ok(Pipeline { runtime, ingress, ctl })
    }

    /// Never blocks: `Err` gives the event back when the queue is full.
    pub fn try_send(&self, inbound: Inbound) -> Result<(), Inbound> {
        self.ingress.push(inbound)
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// Waits for queue space (replay: nothing is dropped, the reader slows down instead).
    pub async fn send(&self, inbound: Inbound) {
        self.ingress.push_waiting(inbound).await;
    }

    pub async fn configure(&self, cfg: Config) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.ctl.send(Control::Configure(Box::new(cfg), tx)).map_err(|_| "pipeline stopped".to_string())?;
        rx.await.map_err(|_| "pipeline stopped".to_string())?
    }

    /// `true` when everything was delivered before the timeout (spooled is not delivered).
    pub async fn flush(&self, close_open: bool, timeout: Duration) -> bool {
        self.flush_with(close_open, false, timeout).await
    }

    /// Closes and exports everything, then starts a new stream (see `Control::Flush`).
    pub async fn new_stream(&self, timeout: Duration) -> bool {
        self.flush_with(true, true, timeout).await
    }

    async fn flush_with(&self, close_open: bool, forget: bool, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(Control::Flush { close_open, forget, done: tx }).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(true)))
    }

    pub fn queue_len(&self) -> usize {
        self.ingress.len()
    }
}
