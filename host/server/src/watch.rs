//! `--plugins-watch DIR`: a thread that polls DIR every second and loads
//! each `<name>.wasm` that appeared or changed, as an upload would (the
//! runtime validates it, keeps the earlier version beside it and reports
//! both on `plugins.lifecycle`). A file is loaded once it has stayed the
//! same size and modification time for two polls, so a copy still being
//! written is not read half-way. Removing a file unloads nothing: that
//! stays an explicit `DELETE /api/v1/plugins/{name}`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use weft_runtime::Runtime;

type Stamp = (u64, Option<SystemTime>);

fn stamps(dir: &Path) -> HashMap<PathBuf, Stamp> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .filter_map(|p| {
            let meta = std::fs::metadata(&p).ok()?;
            Some((p, (meta.len(), meta.modified().ok())))
        })
        .collect()
}

/// Starts watching `dir`; files there now count as loaded when
/// `already_loaded` (the directory `--plugins` loaded at start).
pub(crate) fn spawn(runtime: Runtime, dir: PathBuf, already_loaded: bool) -> std::io::Result<()> {
    let mut handled: HashMap<PathBuf, Stamp> = if already_loaded {
        stamps(&dir)
    } else {
        HashMap::new()
    };
    let mut last_seen: HashMap<PathBuf, Stamp> = HashMap::new();
    tracing::info!(dir = %dir.display(), "watching for plugins");
    std::thread::Builder::new()
        .name("weft-plugins-watch".into())
        .spawn(move || {
            loop {
                let now = stamps(&dir);
                for (path, stamp) in &now {
                    let stable = last_seen.get(path) == Some(stamp);
                    if !stable || handled.get(path) == Some(stamp) {
                        continue;
                    }
                    handled.insert(path.clone(), *stamp);
                    load(&runtime, path);
                }
                last_seen = now;
                std::thread::sleep(Duration::from_secs(1));
            }
        })?;
    Ok(())
}

fn load(runtime: &Runtime, path: &Path) {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match std::fs::read(path) {
        Ok(bytes) => match runtime.load(&name, &bytes) {
            Ok(info) => {
                tracing::info!(plugin = %name, version = %info.version, path = %path.display(), "watched plugin loaded")
            }
            Err(error) => {
                tracing::error!(plugin = %name, path = %path.display(), %error, "watched plugin refused")
            }
        },
        Err(error) => tracing::error!(path = %path.display(), %error, "cannot read watched plugin"),
    }
}
