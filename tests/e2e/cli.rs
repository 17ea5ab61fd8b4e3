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

fn weft_run(args: Vec<String>, env: &[(&str, &str)]) -> std::process::Command {
    let mut command = Command::new(weft_binary());
    command.arg("run").args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// `--server` takes a URL as well as host:port; a refused key says 401 and
/// how to pass one; errors never come with a backtrace.
#[tokio::test]
async fn weft_run_takes_urls_and_explains_401_without_a_backtrace() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let url = format!("http://{}/", server.address);
    let output = tokio::task::spawn_blocking(move || {
        weft_run(
            vec![
                "graph".into(),
                "bfs".into(),
                "--params".into(),
                r#"{"edges": [[1, 2]], "source": 1}"#.into(),
                "--server".into(),
                url,
            ],
            &[],
        )
        .output()
    })
    .await??;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let dir = tempfile::tempdir()?;
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "acme secret-key-1234567890\n")?;
    let keyed = Server::start(&["--api-keys", keys.to_str().unwrap_or_default()])?;
    let address = keyed.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        weft_run(
            vec!["graph".into(), "bfs".into(), "--server".into(), address],
            &[("RUST_BACKTRACE", "1")],
        )
        .output()
    })
    .await??;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("--api-key"),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot reach"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    Ok(())
}

/// Ctrl-C in `weft run` cancels the job and says so.
#[tokio::test]
async fn ctrl_c_in_weft_run_cancels_the_job() -> anyhow::Result<()> {
    let server = Server::start(&["--job-timeout-secs", "120"])?;
    let (status, _) = server
        .load_plugin("hostile", &weft_tests::test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let child = weft_run(
        vec![
            "hostile".into(),
            "spin".into(),
            "--server".into(),
            server.address.clone(),
        ],
        &[],
    )
    .stderr(std::process::Stdio::piped())
    .spawn()?;
    let mut running = None;
    for _ in 0..200 {
        let (_, jobs) = server.get("/api/v1/jobs?state=running").await?;
        if let Some(id) = jobs[0]["job_id"].as_str() {
            running = Some(id.to_owned());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = running.ok_or_else(|| anyhow::anyhow!("the job never ran"))?;
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cancelling job {id}")), "{stderr}");
    // A running job stops within an epoch tick of the cancel.
    let mut job = serde_json::Value::Null;
    for _ in 0..100 {
        job = server.get(&format!("/api/v1/jobs/{id}")).await?.1;
        if job["state"] == "cancelled" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(job["state"], "cancelled", "{job}");
    Ok(())
}
