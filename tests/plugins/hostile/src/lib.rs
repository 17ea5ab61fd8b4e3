//! A deliberately badly-behaved plugin, built only for the sandbox tests and
//! the runtime benchmark. Each operation misbehaves in one way a hostile or
//! buggy third-party plugin could: the host must fail that job alone.
//! Three helpers serve the gateway's tests: `echo`, `flood` (fan-out) and
//! `emit` (plays an engine that does not exist yet, emitting the seed's
//! message kinds so their endpoints and typed subscriptions can be checked).
//!
//! Its manifest (WIT 0.2) declares a route, a WebSocket endpoint, event
//! kinds with schemas and a session protocol, so the gateway's generic
//! mounting is tested by a plugin from outside `plugins/`. `forge` and
//! `topics` try what a hostile plugin would: publishing the host's
//! `job_state`, and spreading events over thousands of topics; `children`
//! starts child instances (`weft:host/tasks`) that misbehave in turn.
//!
//! It is a streaming plugin too: a session's `push` with `algorithm` set to
//! `trap`, `spin` or `hog` misbehaves the same way, inside a long-lived
//! instance, and must end that session alone. Any other push echoes zeros.

use std::hint::black_box;

use weft_sdk::{
    ColumnChunk, ColumnKind, ColumnValues, Endpoint, Engine, EngineError, EngineInfo, EventKind,
    Host, Manifest, Message, Method, Operation, Params, PushReply, Route, Session, SessionMessage,
    SessionProtocol, StreamEngine, Subscription, Value, json,
};

/// What the hostile plugin serves besides jobs.
fn manifest() -> Manifest {
    Manifest {
        routes: vec![
            Route::new(
                Method::Post,
                "/api/v1/hostile/echo/{name}",
                "echo",
                "Echoes the body, the path's name and the query as the result",
            )
            .status(201),
            Route::new(
                Method::Get,
                "/api/v1/hostile/echo/{name}",
                "echo",
                "Echoes the path's name and the query",
            ),
            Route::new(
                Method::Post,
                "/api/v1/hostile/upload",
                "upload",
                "Takes any body and answers the blob it was stored in and its size",
            )
            .body(weft_sdk::Body::Bytes("*/*".into())),
            Route::new(
                Method::Post,
                "/api/v1/hostile/spin",
                "spin",
                "Starts a job that never ends (202 at once)",
            )
            .as_job(),
        ],
        endpoints: vec![
            Endpoint::new(
                "/api/v1/ws/hostile/events",
                "events",
                "Events the emit operation publishes",
            )
            .request("emit_request", "emit"),
        ],
        events: vec![
            EventKind::new(
                "made",
                "Something the emit operation was asked to publish.",
                json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}),
            ),
            EventKind::new(
                "flood",
                "One event of a flood.",
                json!({"type": "object", "required": ["i"], "properties": {"i": {"type": "integer"}, "pad": {"type": "string"}}}),
            ),
        ],
        session: Some(SessionProtocol {
            path: "/api/v1/hostile/sessions/{session_id}".into(),
            config_schema: json!({"type": "object"}),
            messages: vec![
                SessionMessage::push(
                    "sample",
                    "data",
                    "One row; algorithm trap, spin or hog misbehaves",
                )
                .single_row()
                .reply("result"),
                SessionMessage::push("rows", "rows", "Rows of any shape, echoed back"),
                SessionMessage::push("typed", "rows", "Rows of declared columns, echoed back")
                    .columns(&[
                        ("n", ColumnKind::I64),
                        ("at", ColumnKind::Timestamp),
                        ("wkb", ColumnKind::Binary),
                    ]),
                SessionMessage::request("echo", "Answers its params"),
            ],
            topics: vec!["echoes".into()],
        }),
        subscriptions: vec![
            Subscription::new(
                "hostileMade",
                "made",
                &["made"],
                "What the emit operation made",
            )
            .filter("n")
            .ends_with("made"),
        ],
    }
}

/// The hostile engine.
pub struct Hostile;

impl Engine for Hostile {
    fn describe() -> EngineInfo {
        let any = json!({ "type": "object" });
        EngineInfo {
            manifest: manifest(),
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: vec![
                Operation::new("echo", "Returns its params unchanged.", any.clone()),
                Operation::new("trap", "Panics, which traps the instance.", any.clone()),
                Operation::new(
                    "spin",
                    "Loops forever without checking cancellation.",
                    any.clone(),
                ),
                Operation::new("hog", "Allocates memory until it is refused.", any.clone()),
                Operation::new(
                    "emit",
                    "Emits `events` ([{topic, kind, data}], topics relative to the plugin's name) in order: stands in for an engine that does not exist yet in the gateway's contract tests.",
                    any.clone(),
                ),
                Operation::new(
                    "flood",
                    "Emits `count` events of about `bytes` bytes on hostile.flood, pausing `pause_ms` after every `burst`, for fan-out tests.",
                    any.clone(),
                )
                .emits(&["flood"]),
                Operation::new(
                    "forge",
                    "Publishes a job_state event claiming success on its own job, then reports what the host said.",
                    any.clone(),
                ),
                Operation::new(
                    "upload",
                    "Answers the size of the uploaded body (`body_blob`).",
                    any.clone(),
                ),
                Operation::new(
                    "blob",
                    "Answers whether blob `name` exists in the plugin's storage.",
                    any.clone(),
                ),
                Operation::new(
                    "peek",
                    "Tries to read dataset `dataset`; answers its rows or the host's refusal.",
                    any.clone(),
                ),
                Operation::new(
                    "stash",
                    "Writes `value` under `key` in collection `collection`, then reads it back.",
                    any.clone(),
                ),
                Operation::new(
                    "topics",
                    "Emits one event on each of `count` distinct topics; answers how many the host took.",
                    any.clone(),
                ),
                Operation::new(
                    "children",
                    "Runs op `op` with `params` in `count` child instances (weft:host/tasks); answers each child's result or failure, or the host's refusal.",
                    any.clone(),
                ),
                Operation::new(
                    "bulk",
                    "Writes `entries` keys in one batch (and tries one batch too many), scans them in pages of at most `page_bytes`, and writes and reads back a blob of `blob_mib` MiB in parts.",
                    any,
                ),
            ],
        }
    }

    fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
        match op {
            "echo" => params.value(),
            "emit" => {
                let params = params.value()?;
                let events = params["events"].as_array().cloned().unwrap_or_default();
                for event in &events {
                    host.emit(
                        event["topic"].as_str().unwrap_or("events"),
                        event["kind"].as_str().unwrap_or("event"),
                        &event["data"],
                    );
                }
                Ok(json!({ "emitted": events.len() }))
            }
            "flood" => {
                let params = params.value()?;
                let count = params["count"].as_u64().unwrap_or(100);
                let pad = "x".repeat(params["bytes"].as_u64().unwrap_or(100) as usize);
                let burst = params["burst"].as_u64().unwrap_or(u64::MAX).max(1);
                let pause =
                    std::time::Duration::from_millis(params["pause_ms"].as_u64().unwrap_or(0));
                for i in 0..count {
                    host.emit("flood", "flood", &json!({ "i": i, "pad": pad }));
                    if (i + 1) % burst == 0 && !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
                Ok(json!({ "emitted": count }))
            }
            "forge" => {
                let refused = host
                    .try_emit("", "job_state", &json!({"state": "succeeded"}))
                    .err();
                Ok(json!({ "refused": refused }))
            }
            "upload" => {
                let params = params.value()?;
                let name = params["body_blob"].as_str().unwrap_or("").to_owned();
                // Any size: the size and the last bytes, read by position.
                let (size, _) = host.read_blob_range(&name, 0, 0)?;
                let (_, tail) = host.read_blob_range(&name, size.saturating_sub(4), 4)?;
                Ok(
                    json!({ "blob": name, "bytes": size, "tail": String::from_utf8_lossy(&tail), "type": params["body_type"] }),
                )
            }
            "blob" => {
                let name = params.value()?["name"].as_str().unwrap_or("").to_owned();
                Ok(json!({ "exists": host.read_blob_range(&name, 0, 0).is_ok() }))
            }
            "peek" => {
                let name = params.value()?["dataset"].as_str().unwrap_or("").to_owned();
                Ok(match host.dataset_shape(&name) {
                    Ok(shape) => json!({ "rows": shape.rows }),
                    Err(refused) => json!({ "refused": refused.to_string() }),
                })
            }
            "stash" => {
                let params = params.value()?;
                let collection = params["collection"].as_str().unwrap_or("stash");
                let key = params["key"].as_str().unwrap_or("k");
                let value = params["value"].to_string();
                host.collection_put(collection, key.as_bytes(), value.as_bytes())?;
                let back = host.collection_get(collection, key.as_bytes())?;
                Ok(json!({ "read_back": back.map(|b| String::from_utf8_lossy(&b).into_owned()) }))
            }
            "bulk" => bulk(&params.value()?, host),
            "children" => {
                let params = params.value()?;
                let op = params["op"].as_str().unwrap_or("echo");
                let count = params["count"].as_u64().unwrap_or(1) as usize;
                let asks = vec![params["params"].clone(); count];
                Ok(match host.run_children(op, &asks) {
                    Ok(runs) => json!({ "results": runs.into_iter().map(|run| match run {
                        Ok(value) => json!({ "ok": value }),
                        Err(failure) => json!({ "code": failure.code, "message": failure.message }),
                    }).collect::<Vec<_>>() }),
                    Err(refused) => json!({ "refused": refused }),
                })
            }
            "topics" => {
                let count = params.value()?["count"].as_u64().unwrap_or(1000);
                let mut taken = 0u64;
                let mut refusal = None;
                for i in 0..count {
                    match host.try_emit(&format!("t{i}"), "made", &json!({ "n": i })) {
                        Ok(()) => taken += 1,
                        Err(why) => refusal = Some(why),
                    }
                }
                Ok(json!({ "taken": taken, "refusal": refusal }))
            }
            "trap" | "spin" | "hog" => {
                misbehave(op);
                Err(EngineError::Failed("unreachable".into()))
            }
            other => Err(EngineError::UnknownOperation(other.to_owned())),
        }
    }
}

/// Traps, spins forever or allocates until refused; returns for anything else.
fn misbehave(how: &str) {
    match how {
        "trap" => panic!("hostile plugin panics on purpose"),
        "spin" => {
            let mut counter: u64 = 0;
            loop {
                counter = black_box(counter.wrapping_add(1));
            }
        }
        "hog" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Touch every page so the memory is really committed.
                hoard.push(vec![1u8; 1 << 20]);
                black_box(&hoard);
            }
        }
        _ => {}
    }
}

/// The WIT 0.2 storage calls at sizes the engines will use: an atomic
/// batch, byte-bounded scan pages and a blob larger than one call moves.
fn bulk(params: &Value, host: &dyn Host) -> Result<Value, EngineError> {
    let entries = params["entries"].as_u64().unwrap_or(1000);
    let page_bytes = params["page_bytes"].as_u64().unwrap_or(4096) as u32;
    let blob_mib = params["blob_mib"].as_u64().unwrap_or(1) as usize;
    let batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..entries)
        .map(|i| (format!("k{i:08}").into_bytes(), Some(vec![b'v'; 100])))
        .collect();
    host.collection_write_batch("bulk", &batch)?;
    // One write too many: refused whole, nothing of it written.
    let too_many: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..10_001u32)
        .map(|i| (format!("x{i:08}").into_bytes(), Some(Vec::new())))
        .collect();
    let refused = host.collection_write_batch("bulk", &too_many).err();
    let (mut pages, mut scanned, mut largest) = (0u64, 0u64, 0usize);
    let mut start = Vec::new();
    loop {
        let page = host.collection_scan_page("bulk", &start, b"", 100_000, page_bytes)?;
        pages += 1;
        scanned += page.entries.len() as u64;
        largest = largest.max(page.entries.iter().map(|(k, v)| k.len() + v.len()).sum());
        match page.next {
            Some(next) => start = next,
            None => break,
        }
    }
    let part: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let mut blob = host.create_blob("big")?;
    for _ in 0..blob_mib {
        blob.write(&part)?;
    }
    let size = blob.commit()?;
    let offset = size - 10;
    let (read_size, tail) = host.read_blob_range("big", offset, 100)?;
    let expected: Vec<u8> = (offset as usize..size as usize)
        .map(|i| ((i % (1 << 20)) % 251) as u8)
        .collect();
    Ok(json!({
        "refused": refused.map(|e| e.to_string()),
        "pages": pages,
        "scanned": scanned,
        "largest_page_bytes": largest,
        "blob_size": read_size,
        "tail_ok": tail == expected,
    }))
}

/// A session that counts rows and scores them all 0.
pub struct HostileSession {
    rows: u64,
}

impl StreamEngine for Hostile {
    type Session = HostileSession;

    fn open(_config: Params<'_>, _host: &dyn Host) -> Result<HostileSession, EngineError> {
        Ok(HostileSession { rows: 0 })
    }

    fn restore(
        _config: Params<'_>,
        snapshot: &[u8],
        _host: &dyn Host,
    ) -> Result<HostileSession, EngineError> {
        let rows = <[u8; 8]>::try_from(snapshot)
            .map_err(|_| EngineError::Failed("a snapshot is 8 bytes".into()))?;
        Ok(HostileSession {
            rows: u64::from_le_bytes(rows),
        })
    }
}

impl Session for HostileSession {
    fn push(&mut self, message: Message<'_>, host: &dyn Host) -> Result<PushReply, EngineError> {
        let params = message.params.value()?;
        misbehave(params["algorithm"].as_str().unwrap_or(""));
        let count = message.rows.len();
        self.rows += count as u64;
        if matches!(message.message_type, "rows" | "typed") {
            // Echoes the rows as they came, and what they came as.
            let kinds: Vec<String> = message
                .rows
                .columns()
                .iter()
                .map(|(name, c)| format!("{name}:{}", kind(&c.values)))
                .collect();
            host.emit(
                &format!(
                    "sessions.{}.echoes",
                    params["session_id"].as_str().unwrap_or("")
                ),
                "made",
                &json!({"n": count}),
            );
            return Ok(PushReply {
                columns: message.rows.columns().to_vec(),
                reply: json!({"kinds": kinds}),
            });
        }
        Ok(PushReply {
            columns: vec![(
                "score".into(),
                ColumnChunk {
                    values: ColumnValues::F64(vec![0.0; count]),
                    valid: Vec::new(),
                },
            )],
            reply: json!({"rows_seen": self.rows}),
        })
    }

    fn request(
        &mut self,
        _message_type: &str,
        params: Params<'_>,
        _host: &dyn Host,
    ) -> Result<Value, EngineError> {
        params.value()
    }

    fn stats(&self) -> Value {
        json!({ "rows": self.rows })
    }

    fn snapshot(&self) -> Result<Vec<u8>, EngineError> {
        Ok(self.rows.to_le_bytes().to_vec())
    }
}

fn kind(values: &ColumnValues) -> &'static str {
    match values {
        ColumnValues::F64(_) => "f64",
        ColumnValues::I64(_) => "i64",
        ColumnValues::Bool(_) => "bool",
        ColumnValues::Text(_) => "text",
        ColumnValues::Binary(_) => "binary",
        ColumnValues::Timestamp(_) => "timestamp",
    }
}

weft_sdk::export_streaming_engine!(Hostile);
