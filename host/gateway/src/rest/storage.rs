//! Host storage over REST: key/value collections, columnar datasets,
//! store figures and a full checksum scan.
//!
//! Storage calls block (file I/O, fsync), so every handler runs them on
//! tokio's blocking pool. Dataset uploads stream: the request body is fed
//! chunk by chunk to the loader, so a large CSV never sits whole in memory,
//! and each stored chunk is reported as a `batch_inserted` event on
//! `storage.columnar` (the upload's progress).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_storage::columnar::{ColumnType, Field, Format, Values};
use weft_storage::{StorageError, Store};

use super::ApiQuery;
use crate::api_doc::{Api, Op};
use crate::{ApiError, AppState, Principal};

/// Largest single value accepted over REST.
const MAX_VALUE_BYTES: usize = 16 << 20;

/// [`super::blocking`] for storage calls.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, ApiError> {
    super::blocking(work).await
}

fn store(state: &AppState) -> Arc<Store> {
    state.store.clone()
}

pub(super) fn routes(api: Api) -> Api {
    api.route(
        Op::get("/api/v1/storage/stats", "storage", "Buffer pool, disk I/O, tier and per-collection LSM figures"),
        get(stats),
    )
    .route(
        Op::post("/api/v1/storage/verify", "storage", "Checksum every page of every collection and dataset; lists damaged pages"),
        post(verify),
    )
    .route(
        Op::get("/api/v1/storage/tier-policy", "storage", "The tier policy: seconds a segment may go unread before it is compressed to the cold tier (0: never)"),
        get(tier_policy).put(set_tier_policy),
    )
    .external(
        Op::put("/api/v1/storage/tier-policy", "storage", "Change the tier policy")
            .body("application/json", r#"{"cold_after_secs": <seconds, 0 = never>}"#),
    )
    .route(
        Op::post("/api/v1/storage/tiers/migrate", "storage", "Run the tier policy now; segments unread for idle_secs (default: the policy's) go cold")
            .query("idle_secs", "override the policy's idle time for this run"),
        post(migrate_tiers),
    )
    .route(
        Op::get("/api/v1/collections", "storage", "Names of the key/value collections"),
        get(list_collections),
    )
    .route(
        Op::get("/api/v1/collections/{name}", "storage", "A collection's LSM figures (memtable, levels, write amplification), per partition"),
        get(collection_stats).post(create_collection).delete(drop_collection),
    )
    .external(
        Op::post("/api/v1/collections/{name}", "storage", "Create a collection whose keys are partitioned (collections are otherwise created on first write)")
            .body("application/json", r#"{"partitioning": "hash:<n>" | "range:<k1>,<k2>,…" | "list:<v1>,<v2>,…"} (list: by the key's first ':' segment)"#)
            .responds(201, "the collection's figures"),
    )
    .external(Op::delete("/api/v1/collections/{name}", "storage", "Delete a collection and its files"))
    .route(
        Op::get("/api/v1/collections/{name}/keys", "storage", "Keys and values in key order")
            .query("prefix", "only keys starting with this")
            .query("start", "only keys ≥ this (continue from a previous page's `next`)")
            .query("limit", "at most this many (default 100, max 10000)"),
        get(scan),
    )
    .route(
        Op::put("/api/v1/collections/{name}/keys/{key}", "storage", "Set a key (the collection is created on first write); durable when answered")
            .body("application/octet-stream", "the value, any bytes up to 16 MiB"),
        get(get_key).put(put_key).delete(delete_key),
    )
    .external(Op::get("/api/v1/collections/{name}/keys/{key}", "storage", "A key's value (application/json when it is JSON)"))
    .external(Op::delete("/api/v1/collections/{name}/keys/{key}", "storage", "Delete a key"))
    .route(
        Op::post("/api/v1/collections/{name}/batch", "storage", "Apply puts and deletes atomically")
            .body("application/json", r#"{"put": {"key": <JSON value>, …}, "delete": ["key", …]}"#),
        post(batch),
    )
    .route(
        Op::post("/api/v1/collections/{name}/flush", "storage", "Flush the memtable to a table now"),
        post(flush),
    )
    .route(
        Op::post("/api/v1/collections/{name}/compact", "storage", "Compact level 0 and every oversized level now"),
        post(compact),
    )
    .route(
        Op::get("/api/v1/datasets", "storage", "Datasets: rows, schema, chunks, encodings"),
        get(list_datasets),
    )
    .route(
        Op::post("/api/v1/datasets/{name}", "storage", "Upload a dataset as CSV (header row) or JSON lines; streamed, schema inferred unless given")
            .query("format", "csv, jsonl or json (default: from Content-Type: text/csv, application/x-ndjson, application/json; others are refused with 415)")
            .query("schema", "column types, e.g. `ts:timestamp,price:f64,sym:string` (types: f64 i64 bool string timestamp binary; binary cells are hex)")
            .query("partition_by", "partition rows by this column (with partitioning)")
            .query("partitioning", "hash:<n>, range:<b1>,<b2>,… or list:<v1>,<v2>,… (the last partition takes other values)")
            .body("text/csv", "CSV with a header row, JSON lines (application/x-ndjson) or a JSON array of objects (application/json)")
            .responds(201, "the dataset's summary"),
        get(dataset_info).post(upload).delete(drop_dataset),
    )
    .external(Op::get("/api/v1/datasets/{name}", "storage", "A dataset's summary"))
    .external(Op::delete("/api/v1/datasets/{name}", "storage", "Delete a dataset and its files"))
    .route(
        Op::get("/api/v1/datasets/{name}/columns/{column}", "storage", "One chunk of one column")
            .query("chunk", "chunk number (default 0); the summary says how many there are"),
        get(read_column),
    )
    .route(
        Op::get("/api/v1/datasets/{name}/columns/{column}/summary", "storage", "Scan one column: rows, nulls, and min/max/sum/mean (numbers), true count (booleans) or distinct count (strings)")
            .query("partition", "scan only this partition's chunks"),
        get(summarise_column),
    )
}

async fn stats(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let store = store(&state);
    let stats = blocking(move || Ok(store.stats())).await?;
    Ok(Json(json!(stats)))
}

async fn verify(State(state): State<AppState>, caller: Principal) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let damaged = blocking(move || store.verify(&tenant)).await?;
    let pages: Vec<Value> = damaged
        .iter()
        .map(|(path, page)| json!({"file": path.file_name().map(|f| f.to_string_lossy().into_owned()), "page": page}))
        .collect();
    Ok(Json(
        json!({"damaged_pages": pages, "ok": pages.is_empty()}),
    ))
}

async fn tier_policy(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"cold_after_secs": state.store.cold_after_secs()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TierPolicy {
    cold_after_secs: u64,
}

async fn set_tier_policy(
    State(state): State<AppState>,
    super::ApiJson(policy): super::ApiJson<TierPolicy>,
) -> Json<Value> {
    state.store.set_cold_after_secs(policy.cold_after_secs);
    Json(json!({"cold_after_secs": policy.cold_after_secs}))
}

#[derive(Deserialize)]
pub(super) struct MigrateQuery {
    idle_secs: Option<u64>,
}

async fn migrate_tiers(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<MigrateQuery>,
) -> Result<Json<Value>, ApiError> {
    let store = store(&state);
    let idle = query.idle_secs.unwrap_or_else(|| store.cold_after_secs());
    let (moved, tiers) = blocking(move || {
        let moved = store.migrate_tiers(std::time::Duration::from_secs(idle))?;
        Ok((moved, store.stats().tiers))
    })
    .await?;
    Ok(Json(json!({"moved_to_cold": moved, "tiers": tiers})))
}

async fn list_collections(State(state): State<AppState>, caller: Principal) -> Json<Value> {
    Json(json!({"collections": state.store.collections(&caller.tenant)}))
}

async fn collection_stats(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let stats = blocking(move || Ok(store.collection(&tenant, &name, false)?.stats())).await?;
    Ok(Json(json!(stats)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewCollection {
    partitioning: String,
}

async fn create_collection(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
    super::ApiJson(request): super::ApiJson<NewCollection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let partitioning = weft_storage::collection::KeyPartitioning::parse(&request.partitioning)?;
    let stats = blocking(move || {
        Ok(store
            .create_partitioned_collection(&tenant, &name, partitioning)?
            .stats())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!(stats))))
}

async fn drop_collection(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    blocking(move || store.drop_collection(&tenant, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bytes as JSON: the JSON value itself if they are JSON, else a string.
fn value_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

#[derive(Deserialize)]
pub(super) struct ScanQuery {
    prefix: Option<String>,
    start: Option<String>,
    limit: Option<usize>,
}

async fn scan(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ScanQuery>,
) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let limit = query.limit.unwrap_or(100).clamp(1, 10_000);
    let prefix = query.prefix.unwrap_or_default();
    let start = query.start.unwrap_or_default();
    // One more than asked, to know whether there is a next page.
    let mut entries = blocking(move || {
        store.collection(&tenant, &name, false)?.scan(
            start.as_bytes(),
            prefix.as_bytes(),
            limit + 1,
        )
    })
    .await?;
    let next = (entries.len() > limit).then(|| {
        entries.truncate(limit);
        entries.last().map(|(k, _)| {
            let mut after = k.clone();
            after.push(0);
            String::from_utf8_lossy(&after).into_owned()
        })
    });
    let entries: Vec<Value> = entries
        .iter()
        .map(|(k, v)| json!({"key": String::from_utf8_lossy(k), "value": value_json(v)}))
        .collect();
    Ok(Json(json!({"entries": entries, "next": next.flatten()})))
}

async fn get_key(
    State(state): State<AppState>,
    caller: Principal,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let shown = key.clone();
    let value =
        blocking(move || store.collection(&tenant, &name, false)?.get(key.as_bytes())).await?;
    let Some(value) = value else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("key '{shown}' is not set"),
        ));
    };
    let content_type = if serde_json::from_slice::<serde::de::IgnoredAny>(&value).is_ok() {
        "application/json"
    } else {
        "application/octet-stream"
    };
    Ok(([(header::CONTENT_TYPE, content_type)], value).into_response())
}

async fn put_key(
    State(state): State<AppState>,
    caller: Principal,
    Path((name, key)): Path<(String, String)>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    // Read within the request limit, draining past it (see ApiJson).
    let body = crate::extract::bounded_body(body, crate::error::request_limit())
        .await
        .map_err(|()| ApiError::request_too_large())?;
    if body.len() > MAX_VALUE_BYTES {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "a collection value is at most {} MiB, this one is {} bytes; split it over several keys, or store it as a dataset (POST /api/v1/datasets/{{name}})",
                MAX_VALUE_BYTES >> 20,
                body.len()
            ),
        ));
    }
    let (store, tenant) = (store(&state), caller.tenant.clone());
    blocking(move || {
        store
            .collection(&tenant, &name, true)?
            .put(key.as_bytes(), &body)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_key(
    State(state): State<AppState>,
    caller: Principal,
    Path((name, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    blocking(move || {
        store
            .collection(&tenant, &name, false)?
            .delete(key.as_bytes())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Batch {
    #[serde(default)]
    put: serde_json::Map<String, Value>,
    #[serde(default)]
    delete: Vec<String>,
}

async fn batch(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
    super::ApiJson(batch): super::ApiJson<Batch>,
) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let (puts, deletes) = (batch.put.len(), batch.delete.len());
    blocking(move || {
        let values: Vec<(String, Vec<u8>)> = batch
            .put
            .into_iter()
            .map(|(k, v)| (k, v.to_string().into_bytes()))
            .collect();
        let mut writes: Vec<(&[u8], Option<&[u8]>)> = values
            .iter()
            .map(|(k, v)| (k.as_bytes(), Some(v.as_slice())))
            .collect();
        writes.extend(batch.delete.iter().map(|k| (k.as_bytes(), None)));
        store.collection(&tenant, &name, true)?.write(&writes)
    })
    .await?;
    Ok(Json(json!({"put": puts, "deleted": deletes})))
}

/// Runs `work` (flush or compact) on an existing collection and answers
/// its figures afterwards.
async fn maintain(
    state: AppState,
    tenant: String,
    name: String,
    work: fn(&weft_storage::collection::Collection) -> Result<(), StorageError>,
) -> Result<Json<Value>, ApiError> {
    let store = store(&state);
    let stats = blocking(move || {
        let collection = store.collection(&tenant, &name, false)?;
        work(&collection)?;
        Ok(collection.stats())
    })
    .await?;
    Ok(Json(json!(stats)))
}

async fn flush(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    maintain(state, caller.tenant, name, |c| c.flush()).await
}

async fn compact(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    maintain(state, caller.tenant, name, |c| c.compact()).await
}

async fn list_datasets(
    State(state): State<AppState>,
    caller: Principal,
) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let datasets = blocking(move || Ok(store.datasets(&tenant))).await?;
    Ok(Json(json!({"datasets": datasets})))
}

async fn dataset_info(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let info = blocking(move || Ok(store.dataset(&tenant, &name)?.info())).await?;
    Ok(Json(json!(info)))
}

async fn drop_dataset(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    blocking(move || store.drop_dataset(&tenant, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How an upload is read: `?format=` if given, else by media type. CSV
/// also for no type, `text/plain`, `application/octet-stream` and curl's
/// default `application/x-www-form-urlencoded`; anything else that is not
/// JSON is refused before the body is read.
fn upload_format(format: Option<&str>, content_type: &str) -> Result<Format, ApiError> {
    match format {
        Some("csv") => return Ok(Format::Csv),
        Some("jsonl" | "ndjson") => return Ok(Format::JsonLines),
        Some("json") => return Ok(Format::JsonArray),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format '{other}': use csv, jsonl (one object per line) or json (an array of objects)"
            )));
        }
        None => {}
    }
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        ""
        | "text/csv"
        | "application/csv"
        | "text/plain"
        | "application/octet-stream"
        | "application/x-www-form-urlencoded" => Ok(Format::Csv),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/json-lines"
        | "application/jsonlines"
        | "application/x-jsonlines" => Ok(Format::JsonLines),
        "application/json" => Ok(Format::JsonArray),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "a dataset cannot be read from '{other}': upload CSV (text/csv), JSON lines (application/x-ndjson) or a JSON array of objects (application/json), or say which with ?format=csv|jsonl|json"
            ),
        )),
    }
}

fn parse_schema(text: &str) -> Result<Vec<Field>, ApiError> {
    text.split(',')
        .map(|part| {
            let (name, kind) = part.split_once(':').ok_or_else(|| {
                ApiError::bad_request(format!("schema entry '{part}': write name:type"))
            })?;
            let kind: ColumnType = serde_json::from_value(json!(kind.trim())).map_err(|_| {
                ApiError::bad_request(format!(
                    "schema entry '{part}': type must be one of f64, i64, bool, string, timestamp, binary (hex cells)"
                ))
            })?;
            Ok(Field {
                name: name.trim().to_owned(),
                kind,
            })
        })
        .collect()
}

/// A `Read` over body chunks arriving on a channel: the bridge between
/// the async request body and the blocking loader. The loader's thread
/// waits in `blocking_recv`; the sender is async, so handing a chunk over
/// needs no blocking-pool thread (which, queued behind stalled loaders,
/// once froze the server).
struct ChannelReader {
    chunks: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

async fn upload(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    weft_storage::store::check_name(&name)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let format = upload_format(query.get("format").map(String::as_str), content_type)?;
    let schema = query.get("schema").map(|s| parse_schema(s)).transpose()?;
    let partitioning = match (query.get("partition_by"), query.get("partitioning")) {
        (Some(column), Some(scheme)) => Some(weft_storage::columnar::PartitionSpec::parse(
            column, scheme,
        )?),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "give partition_by and partitioning together, e.g. partition_by=region&partitioning=hash:8",
            ));
        }
    };
    let (store, tenant) = (store(&state), caller.tenant.clone());
    if store.dataset(&tenant, &name).is_ok() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("dataset '{name}' already exists; DELETE it first or pick another name"),
        ));
    }
    // Each upload holds a loader thread: a bounded number at once.
    let Ok(_slot) = state.uploads.slots.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_uploads",
            format!(
                "{} dataset uploads are in progress, the most this server takes at once (--max-uploads); retry when one ends",
                state.uploads.max
            ),
        ));
    };
    // A small bound: the body is read only as fast as the loader stores it.
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let loader = {
        let (store, tenant, name) = (store.clone(), tenant.clone(), name.clone());
        tokio::task::spawn_blocking(move || {
            let reader = ChannelReader {
                chunks: rx,
                current: Bytes::new(),
            };
            // Written out of sight and published whole when the body is
            // complete: a failed or interrupted upload (a crash included)
            // leaves nothing visible.
            let staged: std::sync::Arc<std::sync::Mutex<Option<weft_storage::StagedDataset>>> =
                Default::default();
            let slot = staged.clone();
            let (create_store, create_tenant, create_name) =
                (store.clone(), tenant.clone(), name.clone());
            let loaded = weft_storage::columnar::load(
                reader,
                format,
                schema,
                Box::new(move |schema| {
                    let writer = weft_storage::StagedDataset::create_partitioned(
                        create_store.clone(),
                        &create_tenant,
                        &create_name,
                        schema,
                        partitioning.clone(),
                        false,
                    )?;
                    let dataset = writer.dataset().ok_or_else(|| {
                        weft_storage::StorageError::Invalid("the staged dataset is gone".into())
                    })?;
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
                    Ok(dataset)
                }),
                &mut |_rows| {},
            )?;
            drop(loaded);
            let writer = staged.lock().unwrap_or_else(|e| e.into_inner()).take();
            match writer {
                Some(writer) => writer.commit().map(Some),
                None => Ok(None),
            }
        })
    };
    let mut stream = body.into_data_stream();
    let mut stalled = false;
    loop {
        let chunk = match tokio::time::timeout(state.uploads.idle, stream.next()).await {
            Ok(Some(chunk)) => chunk.map_err(|e| e.to_string()),
            Ok(None) => break,
            Err(_) => {
                // Tell the loader the body broke off, so it stores nothing.
                stalled = true;
                let _ = tx.send(Err("the upload stalled".into())).await;
                break;
            }
        };
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            break; // the loader stopped (bad input): its error says why
        }
    }
    drop(tx);
    if stalled {
        let _ = loader.await;
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "upload_stalled",
            format!(
                "the upload sent nothing for {} s and was ended; nothing was stored (--upload-idle-secs)",
                state.uploads.idle.as_secs()
            ),
        ));
    }
    let loaded = loader.await.map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    })??;
    let Some(dataset) = loaded else {
        return Err(ApiError::bad_request(
            "the upload holds no rows; send a header row and at least one data row",
        ));
    };
    Ok((StatusCode::CREATED, Json(json!(dataset.info()))).into_response())
}

#[derive(Deserialize)]
pub(super) struct ColumnQuery {
    chunk: Option<usize>,
}

/// Values as JSON, `null` where `valid` (empty: all valid) says so.
fn nullable<T: serde::Serialize>(values: &[T], valid: &[bool]) -> Vec<Value> {
    values
        .iter()
        .enumerate()
        .map(|(i, x)| {
            if valid.get(i) == Some(&false) {
                Value::Null
            } else {
                json!(x)
            }
        })
        .collect()
}

async fn read_column(
    State(state): State<AppState>,
    caller: Principal,
    Path((name, column)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ColumnQuery>,
) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let chunk = query.chunk.unwrap_or(0);
    let (slice, chunks) = blocking(move || {
        let dataset = store.dataset(&tenant, &name)?;
        Ok((dataset.read_chunk(&column, chunk)?, dataset.chunk_count()))
    })
    .await?;
    let values: Vec<Value> = match &slice.values {
        Values::F64(v) => nullable(v, &slice.valid),
        Values::I64(v) | Values::Timestamp(v) => nullable(v, &slice.valid),
        Values::Bool(v) => nullable(v, &slice.valid),
        Values::String(v) => nullable(v, &slice.valid),
        Values::Binary(v) => {
            let hex: Vec<String> = v
                .iter()
                .map(|b| weft_storage::columnar::to_hex(b))
                .collect();
            nullable(&hex, &slice.valid)
        }
    };
    Ok(Json(json!({
        "chunk": chunk,
        "chunks": chunks,
        "type": slice.values.kind(),
        "rows": values.len(),
        "values": values,
    })))
}

#[derive(Deserialize)]
pub(super) struct SummaryQuery {
    partition: Option<usize>,
}

async fn summarise_column(
    State(state): State<AppState>,
    caller: Principal,
    Path((name, column)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (store(&state), caller.tenant.clone());
    let summary = blocking(move || {
        let dataset = store.dataset(&tenant, &name)?;
        let mut summary = Summary::default();
        let rows = dataset.scan_partition(&column, query.partition, |slice| {
            summary.add(slice);
            Ok(())
        })?;
        Ok(summary.finish(rows))
    })
    .await?;
    Ok(Json(summary))
}

/// Running aggregates of one column scan.
#[derive(Default)]
struct Summary {
    nulls: u64,
    count: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
    trues: Option<u64>,
    distinct: Option<std::collections::HashSet<String>>,
    /// Binary columns: bytes held.
    bytes: Option<u64>,
}

impl Summary {
    fn number(&mut self, x: f64) {
        self.count += 1;
        self.sum += x;
        self.min = Some(self.min.map_or(x, |m| m.min(x)));
        self.max = Some(self.max.map_or(x, |m| m.max(x)));
    }

    fn add(&mut self, slice: &weft_storage::columnar::ColumnSlice) {
        let valid = |i: usize| slice.valid.get(i).copied().unwrap_or(true);
        self.nulls += slice.valid.iter().filter(|v| !**v).count() as u64;
        match &slice.values {
            Values::F64(v) => v
                .iter()
                .enumerate()
                .filter(|(i, _)| valid(*i))
                .for_each(|(_, x)| self.number(*x)),
            Values::I64(v) | Values::Timestamp(v) => v
                .iter()
                .enumerate()
                .filter(|(i, _)| valid(*i))
                .for_each(|(_, x)| self.number(*x as f64)),
            Values::Bool(v) => {
                let trues = v
                    .iter()
                    .enumerate()
                    .filter(|(i, b)| valid(*i) && **b)
                    .count() as u64;
                *self.trues.get_or_insert(0) += trues;
            }
            // Byte strings are counted, not compared: a distinct set of
            // geometries would hold the column in memory.
            Values::Binary(v) => {
                let bytes: usize = v
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| valid(*i))
                    .map(|(_, b)| b.len())
                    .sum();
                *self.bytes.get_or_insert(0) += bytes as u64;
            }
            Values::String(v) => {
                let distinct = self.distinct.get_or_insert_with(Default::default);
                distinct.extend(
                    v.iter()
                        .enumerate()
                        .filter(|(i, _)| valid(*i))
                        .map(|(_, s)| s.clone()),
                );
            }
        }
    }

    fn finish(self, rows: u64) -> Value {
        let mut out = json!({"rows": rows, "nulls": self.nulls});
        if let Some(bytes) = self.bytes {
            out["bytes"] = json!(bytes);
        } else if let Some(trues) = self.trues {
            out["true"] = json!(trues);
        } else if let Some(distinct) = self.distinct {
            out["distinct"] = json!(distinct.len());
        } else {
            out["min"] = json!(self.min);
            out["max"] = json!(self.max);
            out["sum"] = json!(self.sum);
            out["mean"] = json!((self.count > 0).then(|| self.sum / self.count as f64));
        }
        out
    }
}
