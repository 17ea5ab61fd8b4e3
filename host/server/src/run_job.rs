//! `weft run`: submit a job to a running server and follow it with a
//! progress bar fed by the job's WebSocket events; print the result.
//! Ctrl-C cancels the job. Errors are one plain sentence (no backtrace):
//! an unreachable server, a refused API key and a refused job each say
//! what to do.

use std::path::PathBuf;

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Arguments of `weft run`.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Engine (plugin) name, e.g. `graph`.
    engine: String,
    /// Operation, e.g. `pagerank`.
    op: String,
    /// Params as JSON, or `@path` to read them from a file.
    #[arg(long, default_value = "{}")]
    params: String,
    /// Server: `host:port` or a URL (`http://host:port`, `https://…`).
    #[arg(long, env = "WEFT_SERVER", default_value = "127.0.0.1:8080")]
    server: String,
    /// API key, for a server started with `--api-keys`.
    #[arg(long, env = "WEFT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

fn read_params(text: &str) -> anyhow::Result<Value> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(PathBuf::from(path))
            .with_context(|| format!("cannot read params file {path}"))?,
        None => text.to_owned(),
    };
    serde_json::from_str(&text).context("params are not valid JSON")
}

/// The HTTP and WebSocket base URLs of `--server` (`host:port` or a URL).
pub(crate) fn bases(server: &str) -> (String, String) {
    let server = server.trim().trim_end_matches('/');
    if let Some(rest) = server.strip_prefix("https://") {
        (format!("https://{rest}"), format!("wss://{rest}"))
    } else if let Some(rest) = server.strip_prefix("http://") {
        (format!("http://{rest}"), format!("ws://{rest}"))
    } else {
        (format!("http://{server}"), format!("ws://{server}"))
    }
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let params = read_params(&args.params)?;
    let (base, ws_base) = bases(&args.server);
    // Subscribe before submitting so no event of the job can be missed.
    let mut request = format!("{ws_base}/api/v1/ws")
        .into_client_request()
        .with_context(|| format!("--server {} is not an address or URL", args.server))?;
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = &args.api_key {
        let value = format!("Bearer {key}")
            .parse::<reqwest::header::HeaderValue>()
            .context("the API key has characters a header cannot carry")?;
        request
            .headers_mut()
            .insert(reqwest::header::AUTHORIZATION, value.clone());
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let (mut ws, _) = match tokio_tungstenite::connect_async(request).await {
        Ok(connected) => connected,
        Err(tokio_tungstenite::tungstenite::Error::Http(response))
            if response.status().as_u16() == 401 =>
        {
            bail!(
                "the server at {} refused {} (401): pass a valid key with --api-key or WEFT_API_KEY",
                args.server,
                if args.api_key.is_some() {
                    "the API key"
                } else {
                    "a request without an API key"
                }
            );
        }
        Err(error) => {
            bail!(
                "cannot reach a weft server at {} ({error}); start one with `make run`, or pass --server host:port or a URL",
                args.server
            );
        }
    };
    let subscribe = json!({ "type": "subscribe", "id": "run", "topics": ["jobs.*"] });
    ws.send(Message::Text(subscribe.to_string().into())).await?;

    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    let response = http
        .post(format!("{base}/api/v1/jobs"))
        .json(&json!({ "engine": args.engine, "op": args.op, "params": params }))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("the server's answer is not JSON")?;
    if !status.is_success() {
        bail!(
            "{} ({status})",
            body["error"]["message"]
                .as_str()
                .unwrap_or("the job was refused")
        );
    }
    let job_id = body["job_id"]
        .as_str()
        .context("no job_id in the answer")?
        .to_owned();

    // Without a terminal there is nobody to draw for.
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("job {job_id} queued"));
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = &mut interrupt => {
                bar.finish_and_clear();
                return cancel(&http, &base, &job_id).await;
            }
        };
        let Some(frame) = frame else { break };
        let Message::Text(text) = frame? else {
            continue;
        };
        let message: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
        if message["type"] == "lagged" {
            break; // fall back to the job record below
        }
        if message["type"] != "event" || message["source"]["job"] != job_id.as_str() {
            continue;
        }
        let data = &message["data"];
        match message["kind"].as_str() {
            Some("progress") => {
                bar.set_length(data["total"].as_u64().unwrap_or(0));
                bar.set_position(data["done"].as_u64().unwrap_or(0));
                bar.set_message(data["message"].as_str().unwrap_or_default().to_owned());
            }
            Some("job_state") => {
                let state = data["state"].as_str().unwrap_or_default();
                bar.set_message(state.to_owned());
                if matches!(state, "succeeded" | "failed" | "cancelled") {
                    break;
                }
            }
            _ => {}
        }
    }
    bar.finish_and_clear();
    let job: Value = http
        .get(format!("{base}/api/v1/jobs/{job_id}"))
        .send()
        .await?
        .json()
        .await?;
    if job["state"] != "succeeded" {
        bail!(
            "job {job_id} {}: {}",
            job["state"].as_str().unwrap_or("did not finish"),
            job["error"]["message"]
                .as_str()
                .unwrap_or("no error message")
        );
    }
    println!("{}", serde_json::to_string_pretty(&job["result"])?);
    Ok(())
}

/// Ctrl-C: cancels the job, says so, and fails (so scripts see it).
async fn cancel(http: &reqwest::Client, base: &str, job_id: &str) -> anyhow::Result<()> {
    let answer = http
        .delete(format!("{base}/api/v1/jobs/{job_id}"))
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => {
            bail!("interrupted: cancelling job {job_id} (it stops within a moment)")
        }
        _ => bail!(
            "interrupted: job {job_id} may still be running; cancel it with DELETE {base}/api/v1/jobs/{job_id}"
        ),
    }
}
