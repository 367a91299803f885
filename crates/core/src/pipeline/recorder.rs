//! The record option (`record: {path, maxBytes}`): every event that crosses is written as a record line
//! (`ingest/record.rs`), so a user can replay a session into any backend or attach it to a bug report.
//!
//! The worker only encodes the line and hands it to a bounded channel; a thread of its own does the file I/O, so a
//! slow disk delays neither the gateway nor assembly. A full channel or a failed write loses the line and counts it
//! (`recorderEventsLost`). The file is bounded: past `maxBytes` it is renamed to `<path>.1` (replacing the previous
//! one) and a new one starts, so at most twice `maxBytes` is on disk. What crosses is what is recorded: without
//! `captureContent` the plugin strips hook content and takes no agent events, so the file holds no content either.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use crate::config::RecordConfig;
use crate::ingest::record::encode_record;
use crate::ingest::Inbound;
use crate::stats::Stats;

/// Lines waiting for the writer thread.
const CHANNEL_LINES: usize = 16_384;
/// Written lines reach the file at least this often (and whenever the channel runs empty).
const FLUSH_EVERY: Duration = Duration::from_millis(200);

pub struct Recorder {
    tx: SyncSender<Msg>,
    stats: Arc<Stats>,
}

enum Msg {
    Line(String),
    /// Answered once everything sent before it is written and flushed (a flush or shutdown waits for it).
    Sync(tokio::sync::oneshot::Sender<()>),
}

impl Recorder {
    /// Starts the writer thread. The file is opened there; a path that cannot be written loses every line, counted.
    pub fn start(cfg: &RecordConfig, stats: Arc<Stats>) -> std::io::Result<Recorder> {
        let (tx, rx) = sync_channel(CHANNEL_LINES);
        let writer = Writer { path: PathBuf::from(&cfg.path), max_bytes: cfg.max_bytes, file: None, size: 0 };
        let thread_stats = stats.clone();
        std::thread::Builder::new().name("clawtrace-record".into()).spawn(move || {
            super::priority::lower_this_thread();
            writer.run(rx, &thread_stats)
        })?;
        Ok(Recorder { tx, stats })
    }

    /// Never blocks: the line is queued for the writer or counted lost.
    pub fn offer(&self, inbound: &Inbound) {
        let Some(line) = encode_record(inbound) else {
            return Stats::inc(&self.stats.recorder_events_lost);
        };
        match self.tx.try_send(Msg::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Stats::inc(&self.stats.recorder_events_lost),
        }
    }

    /// Resolves once what was offered before is in the file; `None` when the writer cannot take the request now
    /// (its channel is full), so nobody waits on it.
    pub fn sync(&self) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx.try_send(Msg::Sync(tx)).ok()?;
        Some(rx)
    }
}

struct Writer {
    path: PathBuf,
    max_bytes: u64,
    file: Option<BufWriter<File>>,
    size: u64,
}

impl Writer {
    /// Until the recorder is dropped (reconfiguration, shutdown): then what is queued is written and the file flushed.
    fn run(mut self, rx: Receiver<Msg>, stats: &Stats) {
        loop {
            match rx.recv_timeout(FLUSH_EVERY) {
                Ok(first) => {
                    let mut synced = Vec::new();
                    for msg in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                        match msg {
                            Msg::Line(line) => self.write(&line, stats),
                            Msg::Sync(done) => synced.push(done),
                        }
                    }
                    self.flush();
                    for done in synced {
                        let _ = done.send(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.flush(),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.flush();
    }

    fn write(&mut self, line: &str, stats: &Stats) {
        let len = line.len() as u64 + 1;
        if self.file.is_some() && self.size > 0 && self.size + len > self.max_bytes {
            self.rotate();
        }
        if self.file.is_none() {
            self.open();
        }
        let ok = match self.file.as_mut() {
            Some(f) => f.write_all(line.as_bytes()).and_then(|_| f.write_all(b"\n")).is_ok(),
            None => false,
        };
        if ok {
            self.size += len;
            Stats::inc(&stats.recorder_events_written);
        } else {
            // A failed file is reopened on the next line (the disk may have room again).
            self.file = None;
            Stats::inc(&stats.recorder_events_lost);
        }
    }

    fn open(&mut self) {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = fs::create_dir_all(dir);
        }
        if let Ok(f) = OpenOptions::new().create(true).append(true).open(&self.path) {
            self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
            if self.size >= self.max_bytes {
                // A full file from an earlier run: start a fresh one rather than grow it.
                drop(f);
                self.rotate();
                return self.open();
            }
            self.file = Some(BufWriter::new(f));
        }
    }

    fn rotate(&mut self) {
        self.flush();
        self.file = None;
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        let _ = fs::rename(&self.path, old);
        self.size = 0;
    }

    fn flush(&mut self) {
        if let Some(f) = self.file.as_mut() {
            if f.flush().is_err() {
                self.file = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::record::{parse_record, Record};

    fn event(n: usize) -> Inbound {
        let json = format!(r#"{{"type":"run.progress","seq":{n},"pad":"{}"}}"#, "x".repeat(100));
        crate::testing::diagnostic(json, n as f64)
    }

    #[test]
    fn writes_record_lines_and_rotates_within_its_bound() {
        let dir = std::env::temp_dir().join(format!("clawtrace-recorder-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("sub").join("events.jsonl");
        let stats = Arc::new(Stats::default());
        let cfg = RecordConfig { path: path.to_string_lossy().into(), max_bytes: 4096 };
        let rec = Recorder::start(&cfg, stats.clone()).unwrap();
        for n in 0..100 {
            rec.offer(&event(n));
        }
        let synced = rec.sync().unwrap();
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(synced).unwrap();
        drop(rec);
        assert_eq!(Stats::get(&stats.recorder_events_written), 100);
        let cur = fs::read_to_string(&path).unwrap();
        let old = fs::read_to_string(dir.join("sub").join("events.jsonl.1")).unwrap();
        assert!(cur.len() <= 4096 && old.len() <= 4096, "each file within maxBytes: {} {}", cur.len(), old.len());
        // The newest events are in the current file, in order, each a record line that parses back.
        let seqs: Vec<u64> = cur
            .lines()
            .map(|l| match parse_record(l, 0).unwrap() {
                Record::Event(i) => crate::ingest::decode(i).unwrap().seq.unwrap(),
                _ => panic!("an event line"),
            })
            .collect();
        assert_eq!(*seqs.last().unwrap(), 99);
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
        let _ = fs::remove_dir_all(&dir);
    }
}
