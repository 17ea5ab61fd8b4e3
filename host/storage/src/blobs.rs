//! Large blobs (models, indexes) kept as files rather than collection
//! values: written in parts to `<space>/staging/` and published by one
//! `rename` into `<space>/blobs/<name>`, so a reader sees the whole blob or
//! the previous one, across a crash too (staging is emptied when the store
//! opens). It must not hold a blob in memory: parts go to the file as they
//! come and reads are positioned.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::StorageError;
use crate::store::{Store, check_name};

/// Largest blob: far beyond any model this machine trains, small enough
/// that one runaway plugin cannot fill the disk unnoticed.
pub const MAX_BLOB_BYTES: u64 = 4 << 30;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A blob being written; dropped without `commit`, it leaves nothing.
#[derive(Debug)]
pub struct StagedBlob {
    name: String,
    file: Option<File>,
    staged: PathBuf,
    target: PathBuf,
    size: u64,
}

/// A published blob, read by position.
#[derive(Debug)]
pub struct BlobFile {
    file: File,
    size: u64,
}

impl Store {
    fn blob_path(&self, space: &str, name: &str) -> Result<PathBuf, StorageError> {
        check_name(name)?;
        Ok(self.space_dir(space)?.join("blobs").join(name))
    }

    /// Starts blob `name` of `space`; `commit` replaces an older one.
    pub fn create_blob(&self, space: &str, name: &str) -> Result<StagedBlob, StorageError> {
        let target = self.blob_path(space, name)?;
        let staging = self.staging_dir(space)?;
        std::fs::create_dir_all(&staging).map_err(StorageError::io("create", &staging))?;
        let staged = staging.join(format!(
            "blob-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&staged).map_err(StorageError::io("create", &staged))?;
        Ok(StagedBlob {
            name: name.to_owned(),
            file: Some(file),
            staged,
            target,
            size: 0,
        })
    }

    /// Blob `name` of `space`, if it was written as a file.
    pub fn open_blob(&self, space: &str, name: &str) -> Result<BlobFile, StorageError> {
        let path = self.blob_path(space, name)?;
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound {
                    what: "blob",
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(StorageError::io("open", &path)(e)),
        };
        let size = file
            .metadata()
            .map_err(StorageError::io("stat", &path))?
            .len();
        Ok(BlobFile { file, size })
    }

    /// Deletes file blob `name`; true if there was one.
    pub fn drop_blob(&self, space: &str, name: &str) -> Result<bool, StorageError> {
        let path = self.blob_path(space, name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StorageError::io("remove", &path)(e)),
        }
    }
}

impl StagedBlob {
    /// Appends `data`: on disk, not yet visible.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let size = self.size + data.len() as u64;
        if size > MAX_BLOB_BYTES {
            return Err(StorageError::Invalid(format!(
                "a blob is at most {} GiB; split it into several",
                MAX_BLOB_BYTES >> 30
            )));
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| StorageError::Invalid("the blob was committed already".into()))?;
        file.write_all(data)
            .map_err(StorageError::io("write", &self.staged))?;
        self.size = size;
        Ok(())
    }

    /// The name it will be published under (`None` once committed).
    pub fn name(&self) -> Option<&str> {
        self.file.as_ref().map(|_| self.name.as_str())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Makes the blob durable and visible under its name; answers its size.
    pub fn commit(mut self) -> Result<u64, StorageError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| StorageError::Invalid("the blob was committed already".into()))?;
        file.sync_all()
            .map_err(StorageError::io("sync", &self.staged))?;
        drop(file);
        if let Some(parent) = self.target.parent() {
            std::fs::create_dir_all(parent).map_err(StorageError::io("create", parent))?;
        }
        std::fs::rename(&self.staged, &self.target)
            .map_err(StorageError::io("rename", &self.staged))?;
        if let Some(parent) = self.target.parent() {
            File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(StorageError::io("sync directory", parent))?;
        }
        Ok(self.size)
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.staged);
        }
    }
}

impl BlobFile {
    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Up to `length` bytes from `offset` (none past the end).
    pub fn read(&self, offset: u64, length: usize) -> Result<Vec<u8>, StorageError> {
        let length = length.min(self.size.saturating_sub(offset) as usize);
        let mut buffer = vec![0; length];
        let mut filled = 0;
        while filled < length {
            let read = self
                .file
                .read_at(&mut buffer[filled..], offset + filled as u64)
                .map_err(|e| StorageError::Io {
                    action: "read",
                    path: PathBuf::from("blob"),
                    source: e,
                })?;
            if read == 0 {
                break;
            }
            filled += read;
        }
        buffer.truncate(filled);
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;

    #[test]
    fn a_blob_appears_whole_at_commit_and_is_read_by_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default(), None).expect("open");
        let mut blob = store.create_blob("t~p", "model").expect("create");
        blob.write(&[1; 1000]).expect("write");
        blob.write(&[2; 500]).expect("write");
        assert!(
            matches!(
                store.open_blob("t~p", "model"),
                Err(StorageError::NotFound { .. })
            ),
            "visible before commit"
        );
        assert_eq!(blob.commit().expect("commit"), 1500);
        let read = store.open_blob("t~p", "model").expect("open");
        assert_eq!(read.size(), 1500);
        assert_eq!(
            read.read(990, 20).expect("read"),
            [[1; 10], [2; 10]].concat()
        );
        assert_eq!(
            read.read(1490, 100).expect("read").len(),
            10,
            "short at the end"
        );
        assert!(
            read.read(5000, 10).expect("read").is_empty(),
            "none past it"
        );
        assert!(store.open_blob("t", "model").is_err(), "another space");
        assert!(store.drop_blob("t~p", "model").expect("drop"));
        assert!(!store.drop_blob("t~p", "model").expect("drop again"));
    }

    #[test]
    fn an_abandoned_blob_leaves_nothing_and_names_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default(), None).expect("open");
        let mut blob = store.create_blob("t", "half").expect("create");
        blob.write(b"partial").expect("write");
        drop(blob);
        assert!(store.open_blob("t", "half").is_err());
        let staging = dir.path().join("tenants/t/staging");
        assert_eq!(std::fs::read_dir(staging).expect("staging").count(), 0);
        assert!(store.create_blob("t", "../escape").is_err());
    }
}
