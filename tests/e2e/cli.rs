//! `weft run`: submit, follow, print the result; clear errors otherwise.

use std::process::Command;

use weft_tests::{Server, test_data, weft_binary};

#[tokio::test]
async fn weft_run_prints_the_result_of_a_job() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let params = format!("@{}", test_data("graph/karate_params.json").display());
    let address = server.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(weft_binary())
            .args([
                "run", "graph", "pagerank", "--params", &params, "--server", &address,
            ])
            .output()
    })
    .await??;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(result["converged"], true);
    assert_eq!(result["scores"].as_object().map(|s| s.len()), Some(34));
    Ok(())
}

#[tokio::test]
async fn weft_run_explains_a_refused_job() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let address = server.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(weft_binary())
            .args(["run", "nosuch", "op", "--server", &address])
            .output()
    })
    .await??;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("engine 'nosuch' is not loaded"), "{stderr}");
    Ok(())
}
