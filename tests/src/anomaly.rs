//! Helpers for the anomaly streaming protocol, shared by the end-to-end
//! tests and `make bench`: read the benchmark stream, open a session,
//! stream rows and collect their scores.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::{Server, WsClient};

/// The labelled benchmark stream of `test_data/anomaly/stream.csv`.
pub struct LabelledStream {
    /// Rows, three values each.
    pub rows: Vec<Vec<f64>>,
    /// True where a row is anomalous.
    pub labels: Vec<bool>,
}

/// Reads a `t,x0,x1,x2,label,kind` CSV.
pub fn read_stream(path: &Path) -> anyhow::Result<LabelledStream> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut stream = LabelledStream {
        rows: Vec::new(),
        labels: Vec::new(),
    };
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(fields.len() == 6, "bad line {line}");
        let row: Vec<f64> = fields[1..4]
            .iter()
            .map(|v| v.parse())
            .collect::<Result<_, _>>()?;
        stream.rows.push(row);
        stream.labels.push(fields[4] == "1");
    }
    Ok(stream)
}

/// Connects to session `session` (query string `query`, e.g.
/// `?algorithm=hst`) and returns the client and its `welcome`.
pub async fn open_session(
    server: &Server,
    session: &str,
    query: &str,
) -> anyhow::Result<(WsClient, Value)> {
    let path = format!("/api/v1/streaming/enhanced/{session}{query}");
    let url = server.ws_url(&path);
    let client = WsClient::connect(&url, None).await?.validating("streaming");
    welcomed(client).await
}

/// Connects to the session at `path` (any engine's: no message schemas
/// are checked) and returns the client and its `welcome`.
pub async fn open_session_at(server: &Server, path: &str) -> anyhow::Result<(WsClient, Value)> {
    welcomed(WsClient::connect(&server.ws_url(path), None).await?).await
}

async fn welcomed(mut client: WsClient) -> anyhow::Result<(WsClient, Value)> {
    let welcome = client.recv().await?;
    anyhow::ensure!(
        welcome["type"] == "welcome",
        "expected welcome, got {welcome}"
    );
    Ok((client, welcome))
}

/// The next message that answers a request, skipping broadcasts of
/// subscribed topics.
pub async fn next_answer(client: &mut WsClient) -> anyhow::Result<Value> {
    loop {
        let message = client.recv().await?;
        let broadcast = message.get("topic").is_some()
            && message["type"] != "subscribed"
            && message["type"] != "unsubscribed";
        if !broadcast {
            return Ok(message);
        }
    }
}

/// Streams `rows` in batches through a new session running `algorithm`
/// and returns every row's `anomaly_score`, in order.
pub async fn stream_scores(
    server: &Server,
    algorithm: &str,
    rows: &[Vec<f64>],
    batch: usize,
) -> anyhow::Result<Vec<f64>> {
    let session = format!("scores-{algorithm}-{}", std::process::id());
    let (mut client, _) =
        open_session(server, &session, &format!("?algorithm={algorithm}")).await?;
    let mut scores = Vec::with_capacity(rows.len());
    for (i, chunk) in rows.chunks(batch.max(1)).enumerate() {
        let request_id = format!("b{i}");
        client
            .send(&json!({"type": "batch", "batch_data": chunk, "request_id": request_id}))
            .await?;
        let result = next_answer(&mut client).await?;
        anyhow::ensure!(result["type"] == "batch_result", "{result}");
        anyhow::ensure!(
            result["request_id"] == request_id.as_str(),
            "answers out of order: {result}"
        );
        let answered = result["results"].as_array().context("results")?;
        anyhow::ensure!(
            answered.len() == chunk.len(),
            "{} answers for {} rows",
            answered.len(),
            chunk.len()
        );
        for row in answered {
            scores.push(row["anomaly_score"].as_f64().context("anomaly_score")?);
        }
    }
    client.close().await;
    Ok(scores)
}

/// Every detector of the anomaly engine.
pub const ALGORITHMS: [&str; 4] = [
    "isolation_forest",
    "half_space_trees",
    "one_class_svm",
    "robust_zscore",
];

/// Streams `stream` through one session per detector and returns each
/// detector's ROC-AUC over the rows from `start` on.
pub async fn detector_aucs(
    server: &Server,
    stream: &LabelledStream,
    start: usize,
) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let mut aucs = Vec::new();
    for algorithm in ALGORITHMS {
        let scores = stream_scores(server, algorithm, &stream.rows, 500).await?;
        let auc = weft_anomaly::metrics::roc_auc(&scores[start..], &stream.labels[start..])
            .context("the stream must hold both normal and anomalous rows")?;
        aucs.push((algorithm, auc));
    }
    Ok(aucs)
}
