//! The spool: where a sink parks batches its backend would not take within the retry deadline, so a backend that
//! is down for an hour (or a gateway restarted meanwhile) loses nothing. One directory per sink, one file per
//! batch, oldest first; bounded in bytes — beyond the bound a batch is dropped and counted, never queued in memory.
//! A file is claimed by renaming it before it is re-sent, so two processes sharing a directory never send it twice.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::model::Trace;

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    bytes: u64,
    seq: u64,
}

/// One batch taken from the spool; `done()` deletes it, `release()` puts it back for a later attempt.
pub struct SpooledBatch {
    pub traces: Vec<Arc<Trace>>,
    claimed: PathBuf,
    original: PathBuf,
    size: u64,
}

const EXT: &str = "batch.json";

impl Spool {
    /// Opens (creating) `{dir}/{sink}`; batches left by an earlier process are kept and sent first.
    pub fn open(dir: &Path, sink: &str, max_bytes: u64) -> Result<Spool, String> {
        let dir = dir.join(sink);
        fs::create_dir_all(&dir).map_err(|e| format!("spool: cannot create {}: {e}", dir.display()))?;
        let mut bytes = 0;
        for entry in fs::read_dir(&dir).map_err(|e| format!("spool: cannot read {}: {e}", dir.display()))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // A claim left by a process that died mid-send goes back into the queue.
            if let Some(orig) =
                name.strip_suffix(".claimed").and_then(|n| n.rsplit_once('.').map(|(base, _pid)| base.to_string()))
            {
                let _ = fs::rename(entry.path(), dir.join(orig));
            }
            bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
        }
        Ok(Spool { dir, max_bytes, bytes, seq: 0 })
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.oldest().is_none()
    }

    /// Writes a batch durably (write to a temp name, fsync, rename). Fails when the bound would be exceeded.
    pub fn push(&mut self, batch: &[Arc<Trace>]) -> Result<(), String> {
        let traces: Vec<&Trace> = batch.iter().map(|t| t.as_ref()).collect();
        let body = serde_json::to_vec(&traces).map_err(|e| format!("spool: cannot encode a batch: {e}"))?;
        if self.bytes + body.len() as u64 > self.max_bytes {
            return Err(format!("spool full ({} of {} bytes used)", self.bytes, self.max_bytes));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        self.seq += 1;
        let name = format!("{now:015}-{:05}-{:06}.{EXT}", std::process::id() % 100_000, self.seq % 1_000_000);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_data()?;
            fs::rename(&tmp, self.dir.join(&name))
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("spool: cannot write {}: {e}", self.dir.display())
        })?;
        self.bytes += body.len() as u64;
        Ok(())
    }

    fn oldest(&self) -> Option<PathBuf> {
        let mut names: Vec<PathBuf> = fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(EXT) && !n.starts_with('.')))
            .collect();
        names.sort();
        names.into_iter().next()
    }

    /// Claims the oldest batch. An unreadable file is removed and reported with its span count unknown.
    pub fn take(&mut self) -> Option<Result<SpooledBatch, String>> {
        let original = self.oldest()?;
        let mut claimed = original.clone().into_os_string();
        claimed.push(format!(".{}.claimed", std::process::id()));
        let claimed = PathBuf::from(claimed);
        if fs::rename(&original, &claimed).is_err() {
            return None; // another process took it
        }
        let size = fs::metadata(&claimed).map(|m| m.len()).unwrap_or(0);
        let parsed = fs::read(&claimed)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Vec<Trace>>(&b).map_err(|e| e.to_string()));
        match parsed {
            Ok(traces) => {
                Some(Ok(SpooledBatch { traces: traces.into_iter().map(Arc::new).collect(), claimed, original, size }))
            }
            Err(e) => {
                let _ = fs::remove_file(&claimed);
                self.bytes = self.bytes.saturating_sub(size);
                Some(Err(format!("spool: dropped unreadable batch {}: {e}", original.display())))
            }
        }
    }

    pub fn done(&mut self, b: SpooledBatch) {
        let _ = fs::remove_file(&b.claimed);
        self.bytes = self.bytes.saturating_sub(b.size);
    }

    pub fn release(&mut self, b: SpooledBatch) {
        let _ = fs::rename(&b.claimed, &b.original);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Span, SpanKind, SpanRole, Status};

    fn trace(n: u8) -> Arc<Trace> {
        let span = Span {
            name: format!("t{n}"),
            kind: SpanKind::Server,
            status: Status::Error("boom".into()),
            attrs: [("a".to_string(), crate::model::AttrValue::F64(1.5))].into_iter().collect(),
            ..crate::testing::span(n, n, None, SpanRole::Turn)
        };
        Arc::new(Trace { trace_id: [n; 16], spans: vec![span], straggler: false, incomplete: true })
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("clawtrace-spool-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn batches_round_trip_oldest_first_and_survive_a_restart() {
        let dir = tmpdir("rt");
        let mut s = Spool::open(&dir, "otlp", 1 << 20).unwrap();
        s.push(&[trace(1), trace(2)]).unwrap();
        s.push(&[trace(3)]).unwrap();
        assert!(s.bytes() > 0);
        drop(s);
        let mut s = Spool::open(&dir, "otlp", 1 << 20).unwrap();
        let b = s.take().unwrap().unwrap();
        assert_eq!(b.traces.len(), 2);
        assert_eq!(*b.traces[0], *trace(1), "a spooled trace is the trace, unchanged");
        s.release(b);
        let b = s.take().unwrap().unwrap();
        assert_eq!(b.traces.len(), 2, "a released batch is still the oldest");
        s.done(b);
        let b = s.take().unwrap().unwrap();
        assert_eq!(b.traces[0].trace_id, [3; 16]);
        // A claim left behind by a crash goes back into the queue on the next open.
        drop(s);
        let mut s = Spool::open(&dir, "otlp", 1 << 20).unwrap();
        let b = s.take().unwrap().unwrap();
        assert_eq!(b.traces[0].trace_id, [3; 16]);
        s.done(b);
        assert!(s.is_empty() && s.take().is_none());
        assert_eq!(s.bytes(), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_full_spool_refuses_instead_of_growing() {
        let dir = tmpdir("full");
        let mut s = Spool::open(&dir, "mlflow", 600).unwrap();
        s.push(&[trace(1)]).unwrap();
        let err = s.push(&[trace(2), trace(3)]).unwrap_err();
        assert!(err.contains("spool full"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
