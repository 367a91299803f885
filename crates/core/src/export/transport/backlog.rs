//! One sink's backlog: its spool (when configured) and the pace at which parked batches go back to the backend.
//!
//! A parked batch is re-sent exactly as it was encoded. After a delivery the next parked batch is due at once (the
//! backlog drains at the backend's pace, interleaved with live batches by the runner); after a failure the next
//! attempt waits, doubling from one second up to thirty, so a backend that stays down costs one request per half
//! minute and not a storm.

use std::time::Duration;

use tokio::time::{timeout, Instant};

use super::spool::{Spool, Taken};
use crate::export::{EncodedBatch, ExportError, Exporter};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);

const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct Backlog {
    spool: Option<Spool>,
    /// Not before this instant (after a failed attempt); `None`: due as soon as there is something.
    retry_at: Option<Instant>,
    backoff: Duration,
}

/// What one drain step did.
pub enum Step {
    /// Nothing parked (that this process may take).
    Empty,
    /// A parked batch was accepted (or partly, `rejected` spans refused).
    Delivered { spans: u64, traces: u64, rejected: u64 },
    /// The backend refused the parked batch for good: it is removed and its spans counted as rejected.
    Refused { spans: u64, message: String },
    /// A file in the spool was not a readable batch; it was removed.
    Corrupt { file: String, reason: String },
    /// The backend is still unavailable: the batch stays parked.
    Unavailable,
}

impl Backlog {
    pub fn new(spool: Option<Spool>) -> Backlog {
        Backlog { spool, retry_at: None, backoff: FIRST_BACKOFF }
    }

    pub fn has_spool(&self) -> bool {
        self.spool.is_some()
    }

    /// Batches are parked: the backend was found down, so live batches join the backlog after one attempt
    /// instead of holding the queue for the whole retry deadline.
    pub fn waiting(&self) -> bool {
        self.spool.as_ref().is_some_and(|s| s.bytes() > 0)
    }

    /// When the next drain step is due, if anything is parked (or held by another process that may give it back).
    pub fn due(&self) -> Option<Instant> {
        let elsewhere = self.spool.as_ref().is_some_and(|s| s.held_elsewhere());
        (self.waiting() || elsewhere).then(|| self.retry_at.unwrap_or_else(Instant::now))
    }

    /// Parks a batch the backend would not take. `Err(None)`: there is no spool; `Err(Some(reason))`: it is full
    /// or unwritable.
    pub fn park(&mut self, batch: &EncodedBatch) -> Result<(), Option<String>> {
        let spool = self.spool.as_mut().ok_or(None)?;
        spool.push(batch).map_err(Some)?;
        // A batch that just failed live: give the backend a moment before the backlog tries again.
        self.retry_at.get_or_insert_with(|| Instant::now() + self.backoff);
        Ok(())
    }

    /// Takes the oldest parked batch and sends it once, within `deadline`.
    pub async fn step(&mut self, exporter: &mut dyn Exporter, deadline: Duration) -> Step {
        let Some(spool) = self.spool.as_mut() else { return Step::Empty };
        let claim = match spool.take() {
            None => {
                // Batches held by another process: look again in a while (it may fail and give them back).
                self.retry_at = spool.held_elsewhere().then(|| Instant::now() + FIRST_BACKOFF);
                return Step::Empty;
            }
            Some(Taken::Corrupt { file, reason }) => return Step::Corrupt { file, reason },
            Some(Taken::Batch(c)) => c,
        };
        let (spans, traces) = (claim.batch.spans, claim.batch.traces);
        let result = timeout(deadline, exporter.send(&claim.batch)).await;
        match result {
            Ok(Ok(())) => {
                spool.done(claim);
                self.up();
                Step::Delivered { spans, traces, rejected: 0 }
            }
            Ok(Err(ExportError::Partial { rejected, .. })) => {
                spool.done(claim);
                self.up();
                Step::Delivered { spans, traces, rejected: rejected.min(spans) }
            }
            Ok(Err(ExportError::Rejected { message } | ExportError::Refused { message })) => {
                spool.done(claim);
                self.up();
                Step::Refused { spans, message }
            }
            Ok(Err(ExportError::Retryable { retry_after, .. })) => {
                spool.release(claim);
                self.down(retry_after);
                Step::Unavailable
            }
            Err(_) => {
                // Timed out: it may have arrived. It stays parked and is sent again later (backends store a span
                // by its ids, so a second copy replaces the first).
                spool.release(claim);
                self.down(None);
                Step::Unavailable
            }
        }
    }

    fn up(&mut self) {
        self.retry_at = None;
        self.backoff = FIRST_BACKOFF;
    }

    fn down(&mut self, retry_after: Option<Duration>) {
        let wait = retry_after.unwrap_or(self.backoff).min(MAX_BACKOFF);
        self.retry_at = Some(Instant::now() + wait);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}
