//! A session's thread: takes work in order until the session is closed,
//! idle without clients, or the server shuts down; publishes its stats and
//! keeps its snapshot in host storage.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use weft_bus::{NewEvent, Source};

use super::{SessionAnswer, SessionCommand, SessionHandle, SessionWork, Sessions, StreamSession};
use crate::runtime::Runtime;

pub(super) fn run(
    pool: &Sessions,
    handle: Arc<SessionHandle>,
    mut session: StreamSession,
    inbox: mpsc::Receiver<SessionCommand>,
) {
    let config = &pool.inner.config;
    let tick = config
        .stats_interval
        .min(Duration::from_secs(1))
        .max(Duration::from_millis(50));
    let mut last_stats = Instant::now();
    let mut rows_at_last_stats = 0;
    let mut last_snapshot = Instant::now();
    let mut rows_at_last_snapshot = 0;
    let mut ended_by_shutdown = false;
    loop {
        match inbox.recv_timeout(tick) {
            Ok(command) => {
                handle.queued.fetch_sub(1, Ordering::Relaxed);
                execute(&handle, &mut session, command);
                handle
                    .counters
                    .messages_sent
                    .fetch_add(1, Ordering::Relaxed);
                if let Some(error) = session.poisoned() {
                    let why = format!(
                        "this session's engine instance failed ({}: {}) and was freed; open a new session",
                        error.code, error.message
                    );
                    // What is already queued is answered with the failure.
                    pool.fail(&handle, why.clone());
                    while let Ok(command) = inbox.try_recv() {
                        handle.queued.fetch_sub(1, Ordering::Relaxed);
                        (command.reply)(Err(crate::JobError::new("session_failed", why.clone())));
                    }
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        // Closed (or expired) first: such a session does not come back,
        // even when the server is stopping at the same moment.
        if handle.closed.load(Ordering::Relaxed) || pool.reap(&handle) {
            break;
        }
        if pool.inner.shutting_down.load(Ordering::Relaxed) {
            ended_by_shutdown = true;
            break;
        }
        let rows = handle.counters.rows.load(Ordering::Relaxed);
        if last_stats.elapsed() >= config.stats_interval && rows != rows_at_last_stats {
            last_stats = Instant::now();
            rows_at_last_stats = rows;
            if let Ok(stats) = session.stats() {
                publish_stats(&pool.inner.runtime, &handle, handle.stats_body(stats));
            }
        }
        if !config.snapshot_interval.is_zero()
            && last_snapshot.elapsed() >= config.snapshot_interval
            && rows != rows_at_last_snapshot
        {
            last_snapshot = Instant::now();
            rows_at_last_snapshot = rows;
            save_snapshot(&pool.inner.runtime, &handle, &mut session);
        }
    }
    if ended_by_shutdown {
        save_snapshot(&pool.inner.runtime, &handle, &mut session);
    } else {
        // Closed or expired: it does not come back.
        forget_snapshot(&pool.inner.runtime, &handle);
    }
    tracing::info!(session = %handle.id, "streaming session closed");
}

fn execute(handle: &SessionHandle, session: &mut StreamSession, command: SessionCommand) {
    let started = Instant::now();
    let queued = started.duration_since(command.queued_at);
    let outcome = match command.work {
        SessionWork::Push {
            message_type,
            params,
            rows,
        } => {
            let count = rows.first().map_or(0, |c| c.values.len()) as u64;
            session.push(&message_type, &params, rows).map(|answer| {
                handle.counters.rows.fetch_add(count, Ordering::Relaxed);
                SessionAnswer::Pushed {
                    answer,
                    processing: started.elapsed(),
                    queued,
                }
            })
        }
        SessionWork::Request {
            message_type,
            params,
        } => session
            .request(&message_type, &params)
            .map(SessionAnswer::Answered),
        SessionWork::Stats => session
            .stats()
            .map(|stats| SessionAnswer::Stats(handle.stats_body(stats))),
    };
    if outcome.is_err() {
        handle.counters.errors.fetch_add(1, Ordering::Relaxed);
    }
    (command.reply)(outcome);
}

fn publish_stats(runtime: &Runtime, handle: &SessionHandle, data: serde_json::Value) {
    let event = NewEvent {
        topic: format!("{}.sessions.{}.stats", handle.engine, handle.id),
        tenant: handle.tenant.clone(),
        source: Some(Source {
            plugin: handle.engine.clone(),
            version: handle.engine_version.clone(),
            job: None,
        }),
        kind: "stats".to_owned(),
        data,
    };
    if let Err(error) = runtime.bus().publish(event) {
        tracing::warn!(%error, session = %handle.id, "session stats dropped");
    }
}

/// The blob, in the plugin's space of the tenant, that holds a session's
/// snapshot. Session ids are `[A-Za-z0-9_-]{1,64}`, so the name is valid.
fn snapshot_blob(id: &str) -> String {
    format!("_session.{id}")
}

fn space(tenant: &str, plugin: &str) -> String {
    weft_storage::store::plugin_space(tenant, plugin)
}

fn save_snapshot(runtime: &Runtime, handle: &SessionHandle, session: &mut StreamSession) {
    let Some(store) = runtime.storage_slot().get().cloned() else {
        return;
    };
    let bytes = match session.snapshot() {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(session = %handle.id, error = %error.message, "session not snapshotted");
            return;
        }
    };
    // The config the session was opened with goes first: a restored
    // session keeps it, whatever the reconnecting client asks.
    let mut config = handle.config.clone();
    if let serde_json::Value::Object(fields) = &mut config {
        fields.remove("queue");
    }
    let config = config.to_string();
    let written = store
        .create_blob(
            &space(&handle.tenant, &handle.engine),
            &snapshot_blob(&handle.id),
        )
        .and_then(|mut blob| {
            blob.write(&(config.len() as u32).to_le_bytes())?;
            blob.write(config.as_bytes())?;
            blob.write(&bytes)?;
            blob.commit()
        });
    if let Err(error) = written {
        tracing::warn!(session = %handle.id, %error, "session snapshot not stored");
    }
}

/// A stored snapshot: the session's config and the plugin's bytes.
pub(super) struct Stored {
    pub(super) config: serde_json::Value,
    pub(super) bytes: Vec<u8>,
}

pub(super) fn load_snapshot(
    runtime: &Runtime,
    tenant: &str,
    plugin: &str,
    id: &str,
) -> Option<Stored> {
    let store = runtime.storage_slot().get().cloned()?;
    let blob = store
        .open_blob(&space(tenant, plugin), &snapshot_blob(id))
        .ok()?;
    let all = blob.read(0, usize::try_from(blob.size()).ok()?).ok()?;
    let length = u32::from_le_bytes(all.get(..4)?.try_into().ok()?) as usize;
    let config = serde_json::from_slice(all.get(4..4 + length)?).ok()?;
    Some(Stored {
        config,
        bytes: all.get(4 + length..)?.to_vec(),
    })
}

pub(super) fn forget_snapshot(runtime: &Runtime, handle: &SessionHandle) {
    if let Some(store) = runtime.storage_slot().get().cloned() {
        let _ = store.drop_blob(
            &space(&handle.tenant, &handle.engine),
            &snapshot_blob(&handle.id),
        );
    }
}
