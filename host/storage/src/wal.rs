//! The write-ahead log: every change is appended here, and made durable
//! according to the [`SyncPolicy`], before it is applied and acknowledged.
//!
//! **Group commit.** Under [`SyncPolicy::Always`] concurrent writers queue
//! their records; the first to find no flush in progress becomes the
//! leader, writes everyone's records in one write and one `fdatasync`, and
//! wakes the others. N writers cost one sync, not N.
//!
//! **Framing.** Each record is `len: u32, crc32: u32, payload`. Replay stops
//! at the first incomplete or damaged record and cuts the file there: a
//! record torn by a crash was never acknowledged (its sync had not
//! returned), so dropping it loses nothing that was promised.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::StorageError;
use crate::io::DiskIo;

/// When appended records are forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Before the write is acknowledged (group commit). A power cut loses
    /// nothing acknowledged.
    Always,
    /// At most this long after the write; acknowledged writes of the last
    /// interval can be lost to a power cut (not to a process crash: the
    /// kernel still has them).
    Interval(Duration),
    /// When the OS decides. Survives a process crash, not a power cut.
    Never,
}

impl std::str::FromStr for SyncPolicy {
    type Err = String;

    /// `always`, `never`, or an interval in milliseconds such as `100ms`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            other => other
                .strip_suffix("ms")
                .and_then(|n| n.parse::<u64>().ok())
                .map(|ms| Self::Interval(Duration::from_millis(ms)))
                .ok_or_else(|| format!("fsync policy '{other}': use always, never or <n>ms")),
        }
    }
}

struct Inner {
    /// Framed records not yet written.
    pending: Vec<u8>,
    /// Sequence number of the last record in `pending` (or written).
    last_queued: u64,
    /// Everything up to here is written (and synced under `Always`).
    durable: u64,
    /// A leader is writing right now.
    flushing: bool,
    /// File offset of the next write.
    offset: u64,
    last_sync: Instant,
    /// A failed write poisons the log: nothing after it can be promised.
    failed: Option<String>,
}

/// An open write-ahead log file.
pub struct Wal {
    path: PathBuf,
    file: File,
    policy: SyncPolicy,
    io: Arc<DiskIo>,
    inner: Mutex<Inner>,
    written: Condvar,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").field("path", &self.path).finish()
    }
}

impl Wal {
    /// Opens `path`, returning the log (positioned after its last intact
    /// record) and the payloads of every intact record, oldest first.
    pub fn open(
        path: &Path,
        policy: SyncPolicy,
        io: Arc<DiskIo>,
    ) -> Result<(Self, Vec<Vec<u8>>), StorageError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(StorageError::io("open", path))?;
        let bytes = std::fs::read(path).map_err(StorageError::io("read", path))?;
        let (records, intact) = decode(&bytes);
        if intact < bytes.len() {
            tracing::warn!(path = %path.display(), torn_bytes = bytes.len() - intact,
                "write-ahead log ends in an incomplete record; cutting it off");
            file.set_len(intact as u64)
                .map_err(StorageError::io("truncate", path))?;
            file.sync_all().map_err(StorageError::io("sync", path))?;
        }
        let wal = Self {
            path: path.to_owned(),
            file,
            policy,
            io,
            inner: Mutex::new(Inner {
                pending: Vec::new(),
                last_queued: records.len() as u64,
                durable: records.len() as u64,
                flushing: false,
                offset: intact as u64,
                last_sync: Instant::now(),
                failed: None,
            }),
            written: Condvar::new(),
        };
        Ok((wal, records))
    }

    /// Bytes in the log.
    pub fn len(&self) -> u64 {
        self.lock().offset
    }

    /// Whether the log holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one record; returns once it is as durable as the policy
    /// promises, with the record's number in this log (records replayed on
    /// open count too: the first new record after `n` replayed is `n + 1`).
    pub fn append(&self, payload: &[u8]) -> Result<u64, StorageError> {
        let mut inner = self.lock();
        if let Some(reason) = &inner.failed {
            return Err(self.poisoned(reason));
        }
        inner
            .pending
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        inner
            .pending
            .extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        inner.pending.extend_from_slice(payload);
        inner.last_queued += 1;
        let mine = inner.last_queued;
        loop {
            if let Some(reason) = &inner.failed {
                return Err(self.poisoned(reason));
            }
            if inner.durable >= mine {
                return Ok(mine);
            }
            if inner.flushing {
                inner = self.written.wait(inner).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Become the leader for everything queued so far.
            inner.flushing = true;
            let batch = std::mem::take(&mut inner.pending);
            let upto = inner.last_queued;
            let offset = inner.offset;
            let sync = match self.policy {
                SyncPolicy::Always => true,
                SyncPolicy::Interval(every) => inner.last_sync.elapsed() >= every,
                SyncPolicy::Never => false,
            };
            drop(inner);
            let outcome = self
                .io
                .write_at(&self.file, &self.path, &batch, offset)
                .and_then(|()| {
                    if sync {
                        self.io.sync(&self.file, &self.path)
                    } else {
                        Ok(())
                    }
                });
            inner = self.lock();
            inner.flushing = false;
            match outcome {
                Ok(()) => {
                    inner.offset += batch.len() as u64;
                    inner.durable = upto;
                    if sync {
                        inner.last_sync = Instant::now();
                    }
                }
                Err(e) => inner.failed = Some(e.to_string()),
            }
            self.written.notify_all();
        }
    }

    /// Forces everything written so far to disk (used before a log is
    /// retired and by the interval policy's timer).
    pub fn sync(&self) -> Result<(), StorageError> {
        self.io.sync(&self.file, &self.path)?;
        self.lock().last_sync = Instant::now();
        Ok(())
    }

    fn poisoned(&self, reason: &str) -> StorageError {
        StorageError::Io {
            action: "append to",
            path: self.path.clone(),
            source: std::io::Error::other(format!(
                "an earlier write failed ({reason}); reopen the store"
            )),
        }
    }
}

/// Splits `bytes` into intact record payloads; also returns how many bytes
/// they span.
fn decode(bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        records.push(payload.to_vec());
        at += 8 + len;
    }
    (records, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Events;

    fn io() -> Arc<DiskIo> {
        Arc::new(DiskIo::new(Events::none()))
    }

    #[test]
    fn records_replay_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wal.log");
        {
            let (wal, old) = Wal::open(&path, SyncPolicy::Always, io()).expect("open");
            assert!(old.is_empty());
            wal.append(b"one").expect("append");
            wal.append(b"two").expect("append");
        }
        // A crash in the middle of a third record.
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&[9, 0, 0, 0, 1, 2]);
        std::fs::write(&path, &bytes).expect("write");
        let (wal, records) = Wal::open(&path, SyncPolicy::Always, io()).expect("reopen");
        assert_eq!(records, vec![b"one".to_vec(), b"two".to_vec()]);
        wal.append(b"three").expect("append after cut");
        drop(wal);
        let (_, records) = Wal::open(&path, SyncPolicy::Always, io()).expect("reopen");
        assert_eq!(records.len(), 3);
    }

    #[test]
    fn concurrent_writers_share_syncs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wal.log");
        let io = io();
        let (wal, _) = Wal::open(&path, SyncPolicy::Always, io.clone()).expect("open");
        let wal = Arc::new(wal);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let wal = wal.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        wal.append(format!("{t}-{i}").as_bytes()).expect("append");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer thread");
        }
        let syncs = io.stats().syncs;
        assert!(syncs < 1600, "group commit should merge syncs, got {syncs}");
        drop(wal);
        let (_, records) =
            Wal::open(&path, SyncPolicy::Always, crate::wal::tests::io()).expect("reopen");
        assert_eq!(records.len(), 1600);
    }

    #[test]
    fn policies_parse() {
        assert_eq!("always".parse(), Ok(SyncPolicy::Always));
        assert_eq!(
            "250ms".parse(),
            Ok(SyncPolicy::Interval(Duration::from_millis(250)))
        );
        assert!("sometimes".parse::<SyncPolicy>().is_err());
    }
}
