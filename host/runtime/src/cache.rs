//! Compiled components cached on disk, so a restart does not recompile.
//!
//! The key is the SHA-256 of the component bytes plus wasmtime's
//! compatibility hash of the engine configuration: a different wasmtime
//! version or setting never picks up an incompatible artifact.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::plugin::CacheOutcome;

pub(crate) struct ComponentCache {
    dir: PathBuf,
    engine_key: String,
}

impl ComponentCache {
    pub(crate) fn new(dir: &Path, engine: &Engine) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create component cache {}", dir.display()))?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir: dir.to_owned(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    /// Hex SHA-256 of the bytes.
    pub(crate) fn digest(wasm: &[u8]) -> String {
        hex::encode(Sha256::digest(wasm))
    }

    /// The compiled component for `wasm`, from the cache when it holds a
    /// usable artifact, otherwise compiled and stored.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        digest: &str,
    ) -> Result<(Component, CacheOutcome), wasmtime::Error> {
        let path = self.dir.join(format!("{digest}-{}.cwasm", self.engine_key));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of an
            // engine with the same compatibility hash (it is in the name)
            // into the server's own data directory; wasmtime still checks
            // its header and version before using it.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "unusable cache entry; recompiling");
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        if let Err(error) = self.store(&path, &component) {
            // A cache that cannot be written costs a recompile, nothing more.
            tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "cannot cache component");
        }
        Ok((component, CacheOutcome::Compiled))
    }

    /// Drops the artifact of `digest`: a component that failed validation
    /// must not stay compiled on disk (an upload loop would fill it).
    pub(crate) fn forget(&self, digest: &str) {
        let path = self.dir.join(format!("{digest}-{}.cwasm", self.engine_key));
        if let Err(error) = std::fs::remove_file(&path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), %error, "cannot remove a refused component's artifact");
        }
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let bytes = component.serialize()?;
        // Unique per writer: servers sharing a cache may compile the same
        // component at once, and must not write into each other's file.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("cwasm.{}.{n}.tmp", std::process::id()));
        std::fs::write(&tmp, bytes).context("write")?;
        // Rename is atomic: a reader never sees a half-written artifact.
        std::fs::rename(&tmp, path).context("rename")?;
        Ok(())
    }
}
