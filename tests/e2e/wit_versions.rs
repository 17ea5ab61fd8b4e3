//! The host binds WIT 0.1 beside 0.2: a plugin built against 0.1 (the
//! hostile plugin as it was built before the SDK moved to 0.2, checked in
//! as `tests/fixtures/hostile-wit-0.1.wasm`) loads, runs jobs and opens
//! sessions beside the 0.2 engines.

use serde_json::json;
use weft_tests::Server;
use weft_tests::anomaly::{next_answer, open_session_at};

#[tokio::test]
async fn a_plugin_built_against_wit_0_1_loads_and_runs_beside_0_2_ones() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let fixture = weft_tests::repo_root().join("tests/fixtures/hostile-wit-0.1.wasm");
    let (status, loaded) = server.load_plugin("old", &fixture).await?;
    assert_eq!(status, 201, "{loaded}");
    assert_eq!(loaded["world"], "weft:engine/streaming-plugin@0.1.0");
    assert_eq!(
        loaded["manifest"]["routes"],
        json!([]),
        "0.1 declares no surface"
    );

    let job = server
        .run_job("old", "echo", json!({"x": [1, 2, 3]}))
        .await?;
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["result"], json!({"x": [1, 2, 3]}));
    // A 0.1 trap still fails its own job only, with the 0.1 error mapping.
    let job = server.run_job("old", "trap", json!({})).await?;
    assert_eq!(job["state"], "failed");
    assert_eq!(job["error"]["code"], "plugin_trapped", "{job}");
    // And the 0.2 engines beside it are unaffected.
    let job = server
        .run_job("graph", "pagerank", json!({"edges": [[1, 2], [2, 1]]}))
        .await?;
    assert_eq!(job["state"], "succeeded");
    let (_, plugins) = server.get("/api/v1/plugins").await?;
    let graph = plugins
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "graph"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(graph["world"], "weft:engine/plugin@0.2.0");

    // Its 0.1 session export serves streaming sessions too, in the
    // protocol 0.1 was written for, at the host's generic session path.
    let (mut session, welcome) =
        open_session_at(&server, "/api/v1/ws/sessions/old/old-session").await?;
    assert_eq!(welcome["engine"], "old");
    session
        .send(&json!({"type": "sample", "data": [1.0, 2.0], "request_id": "s1"}))
        .await?;
    let answer = next_answer(&mut session).await?;
    assert_eq!(answer["type"], "result", "{answer}");
    assert_eq!(answer["request_id"], "s1");
    assert_eq!(answer["is_anomaly"], false, "{answer}");
    session
        .send(&json!({"type": "batch", "batch_data": [[1.0, 2.0], [3.0, 4.0]]}))
        .await?;
    let answer = next_answer(&mut session).await?;
    assert_eq!(answer["type"], "batch_result", "{answer}");
    assert_eq!(answer["results"].as_array().map(Vec::len), Some(2));
    Ok(())
}

/// `weft:host@0.2.1` and `@0.2.2` added functions; a plugin built against
/// 0.2.0 imports `…@0.2.0` names, which the host's newer 0.2 definitions
/// satisfy.
#[tokio::test]
async fn a_plugin_built_against_host_0_2_0_loads_on_a_newer_0_2_host() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let fixture = weft_tests::repo_root().join("tests/fixtures/hostile-wit-0.2.0.wasm");
    let (status, loaded) = server.load_plugin("older", &fixture).await?;
    assert_eq!(status, 201, "{loaded}");
    assert_eq!(loaded["world"], "weft:engine/streaming-plugin@0.2.0");
    let job = server
        .run_job("older", "echo", json!({"x": [1, 2, 3]}))
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"], json!({"x": [1, 2, 3]}));
    Ok(())
}

/// What a plugin author builds against is what the server binds: the WIT
/// served at `/api/v1/wit` and written by `weft wit` is the repository's
/// own `wit/`, byte for byte, in a layout `wit-bindgen` resolves.
#[tokio::test]
async fn the_server_serves_and_the_cli_writes_the_wit_it_binds() -> anyhow::Result<()> {
    use anyhow::Context;
    let root = weft_tests::repo_root();
    let server = Server::start(&[])?;
    let (status, wit) = server.get("/api/v1/wit").await?;
    assert_eq!(status, 200, "{wit}");
    let packages = wit["packages"].as_array().context("packages")?;
    let host = packages
        .iter()
        .find(|p| p["name"] == "weft:host")
        .context("weft:host")?;
    let text = std::fs::read_to_string(root.join("wit/host/host.wit"))?;
    let version = host["version"].as_str().context("version")?;
    assert!(
        text.contains(&format!("package weft:host@{version};")),
        "{host}"
    );
    assert!(
        wit["policy"]
            .as_str()
            .unwrap_or_default()
            .contains("semver")
    );
    for file in wit["files"].as_array().context("files")? {
        let path = file["path"].as_str().context("path")?;
        let source = root.join("wit").join(
            path.replace("engine/deps/host", "host")
                .replace("udf/deps/host", "host"),
        );
        assert_eq!(
            file["text"].as_str(),
            Some(std::fs::read_to_string(&source)?.as_str()),
            "{path}"
        );
    }
    // One file as text; an unknown one lists those there are.
    let response = server.get_raw("/api/v1/wit?file=engine/engine.wit").await?;
    assert_eq!(response.0, 200);
    assert!(
        response.1.starts_with("/// What a Weft engine exports"),
        "{}",
        response.1
    );
    let (status, missing) = server.get("/api/v1/wit?file=engine/nope.wit").await?;
    assert_eq!(status, 404, "{missing}");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("engine/stream.wit")
    );

    // `weft wit DIR` writes the same files, dependencies copied in place.
    let dir = tempfile::tempdir()?;
    let out = std::process::Command::new(weft_tests::weft_binary())
        .args([
            "wit",
            &dir.path().join("wit").to_string_lossy(),
            "--previous",
        ])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote 10 WIT files"));
    for (written, source) in [
        ("engine/engine.wit", "engine/engine.wit"),
        ("engine/stream.wit", "engine/stream.wit"),
        ("engine/deps/host/host.wit", "host/host.wit"),
        ("udf/udf.wit", "udf/udf.wit"),
        ("udf/deps/host/host.wit", "host/host.wit"),
        ("0.1/engine/engine.wit", "0.1/engine/engine.wit"),
    ] {
        let a = std::fs::read_to_string(dir.path().join("wit").join(written))?;
        let b = std::fs::read_to_string(root.join("wit").join(source))?;
        assert_eq!(a, b, "{written}");
        assert!(
            !dir.path().join("wit").join(written).is_symlink(),
            "{written} is a copy"
        );
    }
    Ok(())
}

/// Components the host cannot take are refused at load with what is wrong
/// and what the host expects — one built against a minor it does not bind
/// (`weft:host@0.3.0`), one importing an interface no host version has,
/// one whose `describe()` traps — and the server carries on.
#[tokio::test]
async fn mismatched_components_are_refused_saying_what_the_host_expects() -> anyhow::Result<()> {
    use weft_tests::test_plugin;
    let server = Server::start(&[])?;
    for (plugin, says) in [
        (
            "future",
            vec![
                "weft:host/events@0.3.0",
                "does not bind",
                "0.2.",
                "GET /api/v1/wit",
            ],
        ),
        (
            "alien",
            vec![
                "weft:host/secrets@0.2.3",
                "does not have",
                "events, log, storage, tasks",
            ],
        ),
        (
            "trapdesc",
            vec!["describe() failed", "describe panics on purpose"],
        ),
    ] {
        let (status, refused) = server.load_plugin(plugin, &test_plugin(plugin)).await?;
        assert_eq!(status, 422, "{plugin}: {refused}");
        assert_eq!(refused["error"]["code"], "invalid_plugin", "{refused}");
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        for part in says {
            assert!(
                message.contains(part),
                "{plugin}: '{part}' not in: {message}"
            );
        }
    }
    let (_, plugins) = server.get("/api/v1/plugins").await?;
    for plugin in ["future", "alien", "trapdesc"] {
        assert!(
            !plugins.to_string().contains(&format!("\"{plugin}\"")),
            "{plugins}"
        );
    }
    let job = server
        .run_job("graph", "pagerank", json!({"edges": [[1, 2], [2, 1]]}))
        .await?;
    assert_eq!(job["state"], "succeeded", "the server carries on: {job}");
    Ok(())
}
