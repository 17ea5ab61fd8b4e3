//! `cache_stats` and `cache_clear`: the query cache's counters, size and
//! hit rate (also emitted as a `cache_event` of kind `stats`), and
//! dropping every kept answer.

use serde::Deserialize;
use weft_sdk::{Host, Value, json};

use super::CACHE;
use crate::AnalyticsError;
use crate::cache::{CAPACITY_BYTES, MAX_ENTRY_BYTES, QueryCache};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoParams {}

/// The counters and size.
pub(super) fn stats(_: NoParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let cache = QueryCache::new(host);
    let stats = cache.stats()?;
    let (entries, bytes) = cache.size()?;
    let answer = json!({
        "hits": stats.hits,
        "misses": stats.misses,
        "invalidations": stats.invalidations,
        "evictions": stats.evictions,
        "updates": stats.updates,
        "hit_rate": stats.hit_rate(),
        "entries": entries,
        "total_bytes": bytes,
        "capacity_bytes": CAPACITY_BYTES,
        "max_entry_bytes": MAX_ENTRY_BYTES,
    });
    let mut event = answer.clone();
    event["event"] = json!("stats");
    event["timestamp"] = super::now();
    host.emit(CACHE, "cache_event", &event);
    Ok(answer)
}

/// Drops every kept answer.
pub(super) fn clear(_: NoParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let cleared = QueryCache::new(host).clear()?;
    Ok(json!({"cleared": cleared}))
}
