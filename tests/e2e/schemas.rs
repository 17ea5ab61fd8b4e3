//! The sample messages committed in `test_data/websocket/` (captured from
//! a real server) match the published JSON Schemas, and every schema has
//! a sample or a test that receives its message.

use anyhow::Context;
use serde_json::Value;
use weft_tests::schemas;

#[test]
fn captured_streaming_messages_match_their_schemas() -> anyhow::Result<()> {
    let text = std::fs::read_to_string(weft_tests::test_data("websocket/streaming_messages.json"))?;
    let samples: serde_json::Map<String, Value> = serde_json::from_str(&text)?;
    for (kind, messages) in &samples {
        for message in messages.as_array().context("a list per type")? {
            assert_eq!(message["type"], kind.as_str());
            schemas::check("streaming", message)?;
        }
    }
    let dir = weft_tests::test_data("websocket/schemas/streaming");
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let kind = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("file name")?;
        // `lagged` needs a client that stops reading; it is covered by the
        // generic protocol's tests.
        assert!(
            samples.contains_key(kind) || kind == "lagged",
            "no captured sample for streaming message type '{kind}'"
        );
    }
    Ok(())
}
