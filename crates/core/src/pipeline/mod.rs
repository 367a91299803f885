//! The background pipeline: one worker task owns ordering and assembly (so they need no locks), fed by a bounded
//! queue; each sink runs in its own task behind its own queue.
//!
//! Nothing here waits for a sink inline: the worker hands traces and flushes over and moves on, and each caller
//! (`flush`, `shutdown`, `configure`) waits on its own deadline. A sink whose backend hangs therefore delays
//! nobody but itself.

mod ingress;
mod priority;
mod recorder;
pub mod sampling;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::config::Config;
use crate::errors::ErrorReporter;
use crate::export::transport::runner::SinkStats;
use crate::ingest::Inbound;
use crate::stats::Stats;
use ingress::Ingress;

/// The previous sinks handing over what they held (resolves `true` when they delivered all of it).
pub(crate) type Handover = crate::export::BoxFuture<'static, bool>;

pub(crate) enum Control {
    Configure(Box<Config>, oneshot::Sender<Result<Handover, String>>),
    /// Export what is closed (and with `close_open`, everything, open traces as incomplete); `done` says whether
    /// the sinks delivered it all by `deadline`. With `forget`, also forget exported trace ids, correlation state
    /// and `seq` positions afterwards: what follows is a new stream (a replay), whose ids must not be mistaken for
    /// stragglers of the last one. With `stop_at` (shutdown), sinks send nothing after that instant and park what
    /// they still hold (spool, or counted lost).
    Flush {
        close_open: bool,
        forget: bool,
        stop_at: Option<Instant>,
        deadline: Instant,
        done: oneshot::Sender<bool>,
    },
}

/// How long `configure()` waits for the previous sinks to hand over what they hold: long enough for a healthy
/// backend (so what was recorded before leaves before `configure()` resolves), never as long as a hanging one.
const CONFIGURE_HANDOVER: Duration = Duration::from_secs(2);

/// Gives the allocator's freed memory back to the OS (the addon sets it to mimalloc's collect: the core does not
/// choose the allocator). The worker calls it once per quiet period (`worker.rs`, `IDLE_RELEASE`).
static RELEASE_FREED_MEMORY: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what `release_freed_memory` calls (the first setting stays).
pub fn set_release_freed_memory(release: fn()) {
    let _ = RELEASE_FREED_MEMORY.set(release);
}

fn release_freed_memory() {
    if let Some(release) = RELEASE_FREED_MEMORY.get() {
        release();
    }
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
            .on_thread_start(priority::lower_this_thread)
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

    /// Resolves once the new sinks run and the previous ones handed over what they held, or `CONFIGURE_HANDOVER`
    /// later; they finish in the background, within their own retry deadline.
    /// The configuration is handed to the worker before this returns (so it comes before any event recorded
    /// after the call); only the waiting is asynchronous.
    /// The queue's bounds apply at once, on the caller's thread: events recorded right after the call already meet
    /// them (the worker applies the rest when it takes the message).
    pub fn configure(&self, cfg: Config) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
        self.ingress.set_limits(cfg.queue_capacity, cfg.queue_max_bytes);
        let (tx, rx) = oneshot::channel();
        let sent = self.ctl.send(Control::Configure(Box::new(cfg), tx)).is_ok();
        async move {
            if !sent {
                return Err("pipeline stopped".to_string());
            }
            let handover = rx.await.map_err(|_| "pipeline stopped".to_string())??;
            let _ = tokio::time::timeout(CONFIGURE_HANDOVER, handover).await;
            Ok(())
        }
    }

    /// `true` when everything was delivered before the timeout.
    pub async fn flush(&self, close_open: bool, timeout: Duration) -> bool {
        self.flush_with(close_open, false, None, timeout).await
    }

    /// Closes everything and sends it; sinks stop sending a little before the timeout so that what they still hold
    /// is spooled (or counted lost) by the time this resolves. `true` when everything was delivered.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        let margin = (timeout / 4).min(Duration::from_millis(1000));
        self.flush_with(true, false, Some(Instant::now() + timeout - margin), timeout).await
    }

    /// Closes and exports everything, then starts a new stream (see `Control::Flush`).
    pub async fn new_stream(&self, timeout: Duration) -> bool {
        self.flush_with(true, true, None, timeout).await
    }

    async fn flush_with(&self, close_open: bool, forget: bool, stop_at: Option<Instant>, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(Control::Flush { close_open, forget, stop_at, deadline, done: tx }).is_err() {
            return false;
        }
        matches!(tokio::time::timeout_at(deadline, rx).await, Ok(Ok(true)))
    }

    pub fn queue_len(&self) -> usize {
        self.ingress.len()
    }
}
