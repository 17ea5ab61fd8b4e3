//! The storage subscriptions of seed 001: `bufferPoolMetrics`,
//! `diskIoMetrics` and `storageTierMetrics` sample the store's own
//! counters every `intervalSeconds` (a value each interval, as a dashboard
//! expects, even when nothing changed); `lsmTreeEvents` maps the
//! `storage.lsm` events the trees publish, optionally of one tree.

use async_graphql::ErrorExtensions;
use std::time::Duration;

use async_graphql::{Context, SimpleObject};
use futures::{Stream, StreamExt};
use weft_bus::Event;

use super::typed::typed;
use super::{state, types::rfc3339};

/// Buffer pool figures.
#[derive(SimpleObject)]
pub(crate) struct BufferPoolMetrics {
    capacity_pages: u64,
    used_pages: u64,
    dirty_pages: u64,
    hits: u64,
    misses: u64,
    hit_ratio: f64,
    evictions: u64,
    flushed_pages: u64,
    /// Replacement policy (`LRU-2`).
    policy: String,
    timestamp: String,
}

/// Disk I/O figures since the server started.
#[derive(SimpleObject)]
pub(crate) struct DiskIoMetrics {
    reads: u64,
    writes: u64,
    vectored_writes: u64,
    mapped_reads: u64,
    syncs: u64,
    bytes_read: u64,
    bytes_written: u64,
    avg_read_us: f64,
    avg_write_us: f64,
    avg_sync_us: f64,
    timestamp: String,
}

/// Where pages are.
#[derive(SimpleObject)]
pub(crate) struct StorageTierMetrics {
    /// Pages in buffer-pool frames.
    hot_pages: u64,
    hot_bytes: u64,
    /// Bytes of sealed segment files (memory-mapped).
    warm_bytes: u64,
    timestamp: String,
}

/// One event of an LSM tree.
#[derive(SimpleObject)]
pub(crate) struct LsmTreeEvent {
    tree: String,
    /// `memtable_flushed`, `compaction_started`, `compaction_completed` or
    /// `level_migration`.
    kind: String,
    level: Option<u64>,
    target_level: Option<u64>,
    entries: Option<u64>,
    bytes: Option<u64>,
    bytes_in: Option<u64>,
    bytes_out: Option<u64>,
    duration_ms: Option<f64>,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

fn now() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// `sample()` every `interval_seconds` (1–3600), first at once.
fn every<T, F>(
    interval_seconds: Option<u64>,
    sample: F,
) -> async_graphql::Result<impl Stream<Item = T> + use<T, F>>
where
    T: Send + 'static,
    F: Fn() -> T + Send + 'static,
{
    let seconds = interval_seconds.unwrap_or(1);
    if !(1..=3600).contains(&seconds) {
        return Err("intervalSeconds must be 1 to 3600".into());
    }
    let ticks = tokio_stream_interval(Duration::from_secs(seconds));
    Ok(ticks.map(move |()| sample()))
}

fn tokio_stream_interval(period: Duration) -> impl Stream<Item = ()> {
    futures::stream::unfold(None::<tokio::time::Interval>, move |interval| async move {
        let mut interval = interval.unwrap_or_else(|| tokio::time::interval(period));
        interval.tick().await;
        Some(((), Some(interval)))
    })
}

fn lsm_event(event: &Event, tree: Option<&str>) -> Option<LsmTreeEvent> {
    let data = &event.data;
    let name = data["tree"].as_str().unwrap_or_default();
    if tree.is_some_and(|wanted| wanted != name) {
        return None;
    }
    Some(LsmTreeEvent {
        tree: name.to_owned(),
        kind: event.kind.clone(),
        level: data["level"].as_u64().or(data["from_level"].as_u64()),
        target_level: data["target_level"].as_u64().or(data["to_level"].as_u64()),
        entries: data["entries"].as_u64(),
        bytes: data["bytes"].as_u64(),
        bytes_in: data["bytes_in"].as_u64(),
        bytes_out: data["bytes_out"].as_u64(),
        duration_ms: data["duration_ms"].as_f64(),
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

/// Server-wide storage figures are the operators' (as REST
/// `/api/v1/storage/stats` is): a tenant must not read other tenants'
/// activity from them.
fn operator_only(ctx: &Context<'_>) -> async_graphql::Result<()> {
    match super::caller(ctx) {
        Ok(caller) if caller.operator => Ok(()),
        _ => Err(async_graphql::Error::new(
            "forbidden: server-wide storage figures are for operators (an operator key from --api-keys)",
        )
        .extend_with(|_, e| e.set("code", "forbidden"))),
    }
}

/// The storage subscriptions, merged into the schema's root.
#[derive(Default)]
pub(crate) struct StorageSubscriptions;

#[async_graphql::Subscription]
impl StorageSubscriptions {
    /// Buffer pool figures every `intervalSeconds` (default 1).
    async fn buffer_pool_metrics(
        &self,
        ctx: &Context<'_>,
        interval_seconds: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = BufferPoolMetrics> + use<>> {
        operator_only(ctx)?;
        let store = state(ctx).store.clone();
        every(interval_seconds, move || {
            let s = store.stats().buffer_pool;
            BufferPoolMetrics {
                capacity_pages: s.capacity_pages as u64,
                used_pages: s.used_pages as u64,
                dirty_pages: s.dirty_pages as u64,
                hits: s.hits,
                misses: s.misses,
                hit_ratio: s.hit_ratio,
                evictions: s.evictions,
                flushed_pages: s.flushed_pages,
                policy: s.policy.to_owned(),
                timestamp: now(),
            }
        })
    }

    /// Disk I/O figures every `intervalSeconds` (default 1).
    async fn disk_io_metrics(
        &self,
        ctx: &Context<'_>,
        interval_seconds: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = DiskIoMetrics> + use<>> {
        operator_only(ctx)?;
        let store = state(ctx).store.clone();
        every(interval_seconds, move || {
            let s = store.stats().io;
            DiskIoMetrics {
                reads: s.reads,
                writes: s.writes,
                vectored_writes: s.vectored_writes,
                mapped_reads: s.mapped_reads,
                syncs: s.syncs,
                bytes_read: s.bytes_read,
                bytes_written: s.bytes_written,
                avg_read_us: s.avg_read_us,
                avg_write_us: s.avg_write_us,
                avg_sync_us: s.avg_sync_us,
                timestamp: now(),
            }
        })
    }

    /// Tier figures every `intervalSeconds` (default 1).
    async fn storage_tier_metrics(
        &self,
        ctx: &Context<'_>,
        interval_seconds: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = StorageTierMetrics> + use<>> {
        operator_only(ctx)?;
        let store = state(ctx).store.clone();
        every(interval_seconds, move || {
            let s = store.stats().tiers;
            StorageTierMetrics {
                hot_pages: s.hot_pages as u64,
                hot_bytes: s.hot_bytes,
                warm_bytes: s.warm_bytes,
                timestamp: now(),
            }
        })
    }

    /// Flushes, compactions and level migrations of every LSM tree, or of
    /// the collection `treeName`.
    async fn lsm_tree_events(
        &self,
        ctx: &Context<'_>,
        tree_name: Option<String>,
        resume_from: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<LsmTreeEvent>> + use<>>
    {
        typed(
            ctx,
            vec!["storage.lsm".to_owned()],
            resume_from,
            move |event| lsm_event(event, tree_name.as_deref()),
            |_| false,
        )
    }
}
