//! The spool: where a sink parks batches its backend would not take within the retry deadline, so a backend that
//! is down for an hour (or a gateway restarted meanwhile) loses nothing. One directory per sink, one file per
//! batch, oldest first, bounded in bytes: beyond the bound a batch is refused (the caller counts it), never
//! queued in memory.
//!
//! A file holds the request exactly as the backend will receive it (already encoded and compressed), behind a
//! one-line header, so re-sending costs no encoding and a spooled span costs what it costs on the wire.
//!
//! Several processes may share a directory (a gateway and a `clawtrace replay`, or a restarted gateway whose
//! predecessor is still shutting down). A batch is claimed by an exclusive, non-blocking lock on its file
//! (`flock` on Unix, `LockFileEx` on Windows), held for as long as it is being sent. The operating system
//! releases the lock when the holder dies, so a claim is never stale and never needs a timeout; a batch that was
//! delivered is unlinked *before* its lock is released, and a claimant that locked a file somebody else already
//! unlinked sees a link count of zero and leaves it. So no batch is sent twice, across processes too.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::export::EncodedBatch;

/// What a spooled request is, written as the first line of its file (the body follows as it goes on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    spans: u64,
    traces: u64,
    content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_encoding: Option<String>,
}

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes on disk as of the last scan plus what this process wrote since (other processes may add more).
    bytes: u64,
    /// The last look found only batches other processes were sending.
    held_elsewhere: bool,
}

/// File names' sequence, process-wide: a retiring sink and its replacement write to the same directory, maybe in
/// the same millisecond.
static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A batch taken from the spool, locked while this value lives. `done()` deletes it; dropping it (or
/// `release()`) leaves it for a later attempt by anyone.
pub struct Claim {
    pub batch: EncodedBatch,
    path: PathBuf,
    size: u64,
    _lock: File,
}

/// What `take()` found.
pub enum Taken {
    Batch(Claim),
    /// A file that is not a readable batch (truncated, foreign, corrupt); it was removed. Counted by the caller.
    Corrupt {
        file: String,
        reason: String,
    },
}

const EXT: &str = "batch";
const MAGIC: &str = "clawtrace-spool/1 ";
/// A temporary file older than this was left by a writer that died mid-write.
const STALE_TMP: Duration = Duration::from_secs(60);

impl Spool {
    /// Opens (creating) `{dir}/{sink}`; batches left by an earlier process are kept and sent first.
    pub fn open(dir: &Path, sink: &str, max_bytes: u64) -> Result<Spool, String> {
        disk_io(|| Spool::open_now(dir, sink, max_bytes))
    }

    fn open_now(dir: &Path, sink: &str, max_bytes: u64) -> Result<Spool, String> {
        let dir = dir.join(sink);
        fs::create_dir_all(&dir).map_err(|e| format!("spool: cannot create {}: {e}", dir.display()))?;
        fs::read_dir(&dir).map_err(|e| format!("spool: cannot read {}: {e}", dir.display()))?;
        let mut s = Spool { dir, max_bytes, bytes: 0, held_elsewhere: false };
        s.remove_stale_tmp();
        s.rescan();
        Ok(s)
    }

    /// Bytes parked that this process may still have to send: everything in the directory as of the last look,
    /// or nothing once a look found only batches other processes are sending.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The last look found batches, all of them being sent by other processes (which may give them back).
    pub fn held_elsewhere(&self) -> bool {
        self.held_elsewhere
    }

    /// The batches waiting, oldest first, with their sizes; also refreshes `bytes()`.
    fn rescan(&mut self) -> Vec<(PathBuf, u64)> {
        let mut files: Vec<(PathBuf, u64)> = fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| is_batch_name(&e.file_name().to_string_lossy()))
                    .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        self.bytes = files.iter().map(|(_, n)| n).sum();
        files
    }

    fn remove_stale_tmp(&self) {
        let Ok(rd) = fs::read_dir(&self.dir) else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let old = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if name.starts_with('.') && name.ends_with(".tmp") && old.is_some_and(|age| age > STALE_TMP) {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Writes a batch durably (temp name, fsync, rename). Fails when the bound would be exceeded.
    pub fn push(&mut self, batch: &EncodedBatch) -> Result<(), String> {
        disk_io(|| self.write(batch))
    }

    fn write(&mut self, batch: &EncodedBatch) -> Result<(), String> {
        let header = Header {
            spans: batch.spans,
            traces: batch.traces,
            content_type: batch.content_type.clone(),
            content_encoding: batch.content_encoding.clone(),
        };
        let header = serde_json::to_string(&header).map_err(|e| format!("spool: cannot encode a header: {e}"))?;
        let size = (MAGIC.len() + header.len() + 1 + batch.body.len()) as u64;
        if self.bytes + size > self.max_bytes {
            self.rescan(); // others may have drained meanwhile
            if self.bytes + size > self.max_bytes {
                return Err(format!("spool full ({} of {} bytes used)", self.bytes, self.max_bytes));
            }
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Names sort by time; pid and sequence keep names of concurrent writers apart.
        let name = format!("{now:015}-{:010}-{seq:08}.{EXT}", std::process::id());
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(MAGIC.as_bytes())?;
            f.write_all(header.as_bytes())?;
            f.write_all(b"\n")?;
            f.write_all(&batch.body)?;
            f.sync_data()?;
            fs::rename(&tmp, self.dir.join(&name))
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("spool: cannot write to {}: {e}", self.dir.display())
        })?;
        self.bytes += size;
        Ok(())
    }

    /// Claims the oldest batch nobody else holds. `None` when there is none (or all are being sent elsewhere).
    pub fn take(&mut self) -> Option<Taken> {
        disk_io(|| self.claim_oldest())
    }

    fn claim_oldest(&mut self) -> Option<Taken> {
        self.held_elsewhere = false;
        for (path, size) in self.rescan() {
            let Ok(file) = OpenOptions::new().read(true).write(true).open(&path) else { continue };
            if file.try_lock().is_err() {
                continue; // another process is sending it
            }
            if unlinked(&file, &path) {
                continue; // delivered and removed by whoever held it before us
            }
            return Some(match read_batch(&file) {
                Ok(batch) => Taken::Batch(Claim { batch, path, size, _lock: file }),
                Err(reason) => {
                    let _ = fs::remove_file(&path);
                    self.bytes = self.bytes.saturating_sub(size);
                    Taken::Corrupt { file: file_name(&path), reason }
                }
            });
        }
        // Whatever is left is being sent by other processes: nothing here for this one to deliver (unless they
        // give a batch back: `held_elsewhere` says to look again later).
        self.held_elsewhere = self.bytes > 0;
        self.bytes = 0;
        None
    }

    /// The batch was delivered (or refused for good): remove it, then let go of the lock.
    pub fn done(&mut self, c: Claim) {
        let _ = disk_io(|| fs::remove_file(&c.path));
        self.bytes = self.bytes.saturating_sub(c.size);
    }

    /// Not delivered: leave it where it is, for a later attempt.
    pub fn release(&mut self, c: Claim) {
        drop(c);
    }
}

/// Runs spool file I/O (open, write, fsync, rename, remove) where it may block: on the multi-threaded runtime the
/// worker thread hands its other tasks to the other thread first (`block_in_place`), so a slow disk delays this
/// sink only, never intake, assembly or the other sinks. Every public method goes through it, so no caller can
/// block the runtime by mistake. (A current-thread runtime, in unit tests, just runs it.)
fn disk_io<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn is_batch_name(name: &str) -> bool {
    !name.starts_with('.') && name.ends_with(&format!(".{EXT}"))
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(unix)]
fn unlinked(file: &File, _path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata().map(|m| m.nlink() == 0).unwrap_or(true)
}

#[cfg(not(unix))]
fn unlinked(_file: &File, path: &Path) -> bool {
    !path.exists()
}

fn read_batch(mut file: &File) -> Result<EncodedBatch, String> {
    let mut raw = Vec::new();
    file.read_to_end(&mut raw).map_err(|e| format!("unreadable: {e}"))?;
    let nl = raw.iter().position(|&b| b == b'\n').ok_or("no header line")?;
    let header = std::str::from_utf8(&raw[..nl]).map_err(|_| "header is not UTF-8")?;
    let meta = header.strip_prefix(MAGIC).ok_or("not a clawtrace spool file")?;
    let h: Header = serde_json::from_str(meta).map_err(|e| format!("bad header: {e}"))?;
    let body = raw.split_off(nl + 1);
    if body.is_empty() {
        return Err("empty body".into());
    }
    Ok(EncodedBatch {
        body: body.into(),
        content_type: h.content_type,
        content_encoding: h.content_encoding,
        traces: h.traces,
        spans: h.spans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: u8) -> EncodedBatch {
        EncodedBatch {
            body: vec![n; 100].into(),
            content_type: "application/x-protobuf".into(),
            content_encoding: if n.is_multiple_of(2) { Some("gzip".into()) } else { None },
            traces: 1,
            spans: n as u64,
        }
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("clawtrace-spool-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn take_batch(s: &mut Spool) -> Claim {
        match s.take() {
            Some(Taken::Batch(c)) => c,
            Some(Taken::Corrupt { reason, .. }) => panic!("corrupt: {reason}"),
            None => panic!("nothing to take"),
        }
    }

    #[test]
    fn batches_round_trip_oldest_first_and_survive_a_restart() {
        let dir = tmpdir("rt");
        let mut s = Spool::open(&dir, "otlp", 1 << 20).unwrap();
        s.push(&batch(1)).unwrap();
        s.push(&batch(2)).unwrap();
        assert!(s.bytes() > 200);
        drop(s);
        let mut s = Spool::open(&dir, "otlp", 1 << 20).unwrap();
        let c = take_batch(&mut s);
        assert_eq!(c.batch, batch(1), "a spooled request is the request, byte for byte");
        s.release(c);
        let c = take_batch(&mut s);
        assert_eq!(c.batch, batch(1), "a released batch is still the oldest");
        s.done(c);
        let c = take_batch(&mut s);
        assert_eq!(c.batch, batch(2));
        s.done(c);
        assert!(s.take().is_none());
        assert_eq!(s.bytes(), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_batch_held_by_one_claimant_is_invisible_to_another() {
        let dir = tmpdir("claims");
        let mut a = Spool::open(&dir, "mlflow", 1 << 20).unwrap();
        let mut b = Spool::open(&dir, "mlflow", 1 << 20).unwrap();
        a.push(&batch(1)).unwrap();
        a.push(&batch(2)).unwrap();
        let held = take_batch(&mut a);
        assert_eq!(held.batch, batch(1));
        let other = take_batch(&mut b);
        assert_eq!(other.batch, batch(2), "the second claimant skips the locked batch");
        assert!(b.take().is_none(), "nothing else is free");
        // A third claimant that opened the file before it was delivered must not send it again.
        let early = OpenOptions::new().read(true).write(true).open(&held.path).unwrap();
        a.done(held);
        early.try_lock().unwrap();
        assert!(unlinked(&early, &dir), "a delivered batch is recognised after the lock is won");
        b.done(other);
        assert!(a.take().is_none() && b.take().is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_full_spool_refuses_instead_of_growing() {
        let dir = tmpdir("full");
        let mut s = Spool::open(&dir, "mlflow", 300).unwrap();
        s.push(&batch(1)).unwrap();
        let err = s.push(&batch(2)).unwrap_err();
        assert!(err.contains("spool full"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn corrupt_files_are_removed_and_named_and_stale_temp_files_cleared() {
        let dir = tmpdir("corrupt");
        let mut s = Spool::open(&dir, "otlp", 1 << 20).unwrap();
        s.push(&batch(1)).unwrap();
        let sub = dir.join("otlp");
        fs::write(sub.join("000000000000000-0000000001-00000001.batch"), b"garbage").unwrap();
        fs::write(sub.join("000000000000000-0000000001-00000002.batch"), b"").unwrap();
        let tmp = sub.join(".x.batch.tmp");
        let f = File::create(&tmp).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
        drop(f);
        let mut s = Spool::open(&dir, "otlp", 1 << 20).unwrap();
        assert!(!tmp.exists(), "a temp file left by a dead writer is removed");
        let mut corrupt = Vec::new();
        let mut good = Vec::new();
        while let Some(t) = s.take() {
            match t {
                Taken::Batch(c) => {
                    good.push(c.batch.clone());
                    s.done(c)
                }
                Taken::Corrupt { file, .. } => corrupt.push(file),
            }
        }
        assert_eq!(corrupt.len(), 2, "each corrupt file is reported: {corrupt:?}");
        assert_eq!(good, vec![batch(1)]);
        assert_eq!(fs::read_dir(&sub).unwrap().count(), 0);
        let _ = fs::remove_dir_all(&dir);
    }
}
