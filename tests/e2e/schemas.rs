//! The sample messages committed in `test_data/websocket/` (captured from
//! a real server) match the published JSON Schemas, and every schema has
//! a sample or a test that receives its message.

use anyhow::Context;
use serde_json::Value;
use weft_tests::schemas;

/// Checks `websocket/<file>` against `schemas/<family>/`; every schema but
/// those in `tested_elsewhere` must have a sample.
fn samples_match(file: &str, family: &str, tested_elsewhere: &[&str]) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(weft_tests::test_data(&format!("websocket/{file}")))?;
    let samples: serde_json::Map<String, Value> = serde_json::from_str(&text)?;
    for (kind, messages) in &samples {
        for message in messages.as_array().context("a list per type")? {
            assert_eq!(message["type"], kind.as_str());
            schemas::check(family, message)?;
        }
    }
    let dir = weft_tests::test_data(&format!("websocket/schemas/{family}"));
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let kind = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("file name")?;
        assert!(
            samples.contains_key(kind) || tested_elsewhere.contains(&kind),
            "no captured sample for {family} message type '{kind}'"
        );
    }
    Ok(())
}

#[test]
fn captured_streaming_messages_match_their_schemas() -> anyhow::Result<()> {
    // A session client that stops reading long enough to lag is not
    // captured; its `lagged` mirrors the event protocol's. `broadcast` is
    // received and validated by the ws_admin test.
    samples_match(
        "streaming_messages.json",
        "streaming",
        &["lagged", "broadcast"],
    )
}

#[test]
fn captured_event_protocol_messages_match_their_schemas() -> anyhow::Result<()> {
    // The fan-out test's catch-up client receives and validates `lagged`.
    samples_match("ws_messages.json", "ws", &["lagged"])
}

#[test]
fn captured_storage_events_match_their_schemas() -> anyhow::Result<()> {
    let files = [
        ("buffer_pool_events.json", "storage.buffer_pool"),
        ("lsm_events.json", "storage.lsm"),
        ("disk_io_events.json", "storage.io"),
        ("tier_events.json", "storage.tiers"),
        ("page_events.json", "storage.pages"),
        ("columnar_events.json", "storage.columnar"),
    ];
    let mut kinds = std::collections::HashSet::new();
    for (file, topic) in files {
        let text = std::fs::read_to_string(weft_tests::test_data(&format!("websocket/{file}")))?;
        let events: Vec<Value> = serde_json::from_str(&text).with_context(|| file.to_owned())?;
        assert!(!events.is_empty(), "{file} has no events");
        for event in &events {
            assert_eq!(event["topic"], topic, "{file}");
            schemas::check_storage_event(event).with_context(|| file.to_owned())?;
            kinds.insert(event["kind"].as_str().unwrap_or_default().to_owned());
        }
    }
    // level_migration needs a level past 16 MiB to overflow; the LSM unit
    // test `a_table_with_nothing_below_moves_down_a_level` produces it.
    for entry in std::fs::read_dir(weft_tests::test_data("websocket/schemas/storage"))? {
        let path = entry?.path();
        let kind = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("file name")?;
        assert!(
            kinds.contains(kind) || kind == "level_migration",
            "no captured sample of storage event '{kind}'"
        );
    }
    Ok(())
}
