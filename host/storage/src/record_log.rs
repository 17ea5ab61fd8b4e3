//! An append-only log of JSON records, one per line, each prefixed with the
//! CRC-32 of its bytes: `<crc32 hex> <json>\n`.
//!
//! A record is durable once [`RecordLog::append`] returns (the file is
//! fsynced). A torn or corrupted line — a crash mid-write, a flipped bit — is
//! skipped on open and counted, never returned as data.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::StorageError;
use serde::de::DeserializeOwned;

/// An open record log.
#[derive(Debug)]
pub struct RecordLog {
    path: PathBuf,
    file: File,
}

impl RecordLog {
    /// Opens (creating if needed) the log at `path` and returns it with
    /// every intact record, oldest first, and the number of damaged lines
    /// skipped.
    pub fn open<T: DeserializeOwned>(path: &Path) -> Result<(Self, Vec<T>, usize), StorageError> {
        let io = |action| {
            let path = path.to_owned();
            move |source| StorageError::Io {
                action,
                path,
                source,
            }
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("create directory for"))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(io("open"))?;
        let mut records = Vec::new();
        let mut damaged = 0;
        let mut reader = BufReader::new(&file);
        let mut line = Vec::new();
        let mut complete_len = 0u64;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(io("read"))?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                // A torn final line: cut it off so the next append starts
                // on a line of its own.
                damaged += 1;
                file.set_len(complete_len)
                    .map_err(io("truncate torn tail of"))?;
                break;
            }
            complete_len += n as u64;
            match decode(&line) {
                Some(record) => records.push(record),
                None => damaged += 1,
            }
        }
        if damaged > 0 {
            tracing::warn!(path = %path.display(), damaged, "skipped damaged records");
        }
        Ok((
            Self {
                path: path.to_owned(),
                file,
            },
            records,
            damaged,
        ))
    }

    /// Appends one record and syncs it to disk.
    pub fn append<T: Serialize>(&mut self, record: &T) -> Result<(), StorageError> {
        let json = serde_json::to_vec(record)?;
        let mut line = format!("{:08x} ", crc32fast::hash(&json)).into_bytes();
        line.extend_from_slice(&json);
        line.push(b'\n');
        let io = |action| {
            let path = self.path.clone();
            move |source| StorageError::Io {
                action,
                path,
                source,
            }
        };
        // One write call per record: with O_APPEND a crash leaves at most
        // one torn line at the end, which `open` skips.
        self.file.write_all(&line).map_err(io("append to"))?;
        self.file.sync_data().map_err(io("sync"))?;
        Ok(())
    }
}

impl RecordLog {
    /// Replaces the whole log with `records`, atomically: written to a
    /// temporary file, synced, then renamed over the log. Used to compact
    /// a log whose old records have been superseded.
    pub fn rewrite<T: Serialize>(&mut self, records: &[T]) -> Result<(), StorageError> {
        let tmp = self.path.with_extension("compacting");
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| StorageError::Io {
                action,
                path,
                source,
            }
        };
        let mut out = std::io::BufWriter::new(File::create(&tmp).map_err(io("create", &tmp))?);
        for record in records {
            let json = serde_json::to_vec(record)?;
            write!(out, "{:08x} ", crc32fast::hash(&json)).map_err(io("write", &tmp))?;
            out.write_all(&json).map_err(io("write", &tmp))?;
            out.write_all(b"\n").map_err(io("write", &tmp))?;
        }
        let file = out
            .into_inner()
            .map_err(|e| io("write", &tmp)(e.into_error()))?;
        file.sync_all().map_err(io("sync", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io("replace", &self.path))?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io("reopen", &self.path))?;
        Ok(())
    }
}

fn decode<T: DeserializeOwned>(line: &[u8]) -> Option<T> {
    let line = line.strip_suffix(b"\n")?;
    let (checksum, json) = (line.get(..8)?, line.get(9..)?);
    let expected = u32::from_str_radix(std::str::from_utf8(checksum).ok()?, 16).ok()?;
    if crc32fast::hash(json) != expected {
        return None;
    }
    serde_json::from_slice(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jobs.log");
        let (mut log, existing, _) = RecordLog::open::<Value>(&path).expect("open");
        assert!(existing.is_empty());
        log.append(&json!({"id": 1})).expect("append");
        log.append(&json!({"id": 2})).expect("append");
        drop(log);
        let (_, records, damaged) = RecordLog::open::<Value>(&path).expect("reopen");
        assert_eq!(records, vec![json!({"id": 1}), json!({"id": 2})]);
        assert_eq!(damaged, 0);
    }

    #[test]
    fn torn_and_corrupted_lines_are_skipped_not_returned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jobs.log");
        let (mut log, _, _) = RecordLog::open::<Value>(&path).expect("open");
        log.append(&json!({"id": 1})).expect("append");
        log.append(&json!({"id": 2})).expect("append");
        drop(log);
        let mut bytes = std::fs::read(&path).expect("read");
        // Flip a byte inside the first record's JSON.
        let i = bytes.iter().position(|&b| b == b'1').expect("digit");
        bytes[i] = b'7';
        // And leave a torn half-record at the end.
        bytes.extend_from_slice(b"0badc0de {\"id\": 3");
        std::fs::write(&path, bytes).expect("write");
        let (_, records, damaged) = RecordLog::open::<Value>(&path).expect("reopen");
        assert_eq!(records, vec![json!({"id": 2})]);
        assert_eq!(damaged, 2);
        appending_after_damage_starts_a_fresh_line(&path);
    }

    #[test]
    fn rewriting_compacts_and_later_appends_follow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jobs.log");
        let (mut log, _, _) = RecordLog::open::<Value>(&path).expect("open");
        for id in 0..10 {
            log.append(&json!({ "id": id })).expect("append");
        }
        log.rewrite(&[json!({ "id": 9 })]).expect("rewrite");
        log.append(&json!({ "id": 10 })).expect("append");
        drop(log);
        let (_, records, damaged) = RecordLog::open::<Value>(&path).expect("reopen");
        assert_eq!(records, vec![json!({ "id": 9 }), json!({ "id": 10 })]);
        assert_eq!(damaged, 0);
    }

    /// Appending after a torn tail must not glue the new record onto it.
    fn appending_after_damage_starts_a_fresh_line(path: &Path) {
        let (mut log, _, _) = RecordLog::open::<Value>(path).expect("reopen");
        log.append(&json!({"id": 4})).expect("append");
        drop(log);
        let (_, records, damaged) = RecordLog::open::<Value>(path).expect("reopen");
        assert_eq!(records, vec![json!({"id": 2}), json!({"id": 4})]);
        assert_eq!(damaged, 1, "only the flipped record remains damaged");
    }
}
