//! Fan-out of bus events to 1,000 and 10,000 concurrent WebSocket
//! subscribers of `/api/v1/ws`: events delivered per second and the
//! latency from publish (the envelope's `ts`, stamped by the bus) to the
//! client's receipt.
//!
//! The publisher is a real plugin job (`hostile.flood`) emitting a burst
//! smaller than a subscriber's queue, so nobody lags and the figure is the
//! rate at which the gateway drains the burst to every socket. Server and
//! clients share this machine's two cores, so the clients' JSON parsing is
//! part of the cost.

use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use weft_tests::{Server, test_plugin};

use crate::stats::{Row, Sample};

struct Outcome {
    latencies: Vec<Duration>,
    last_receipt: SystemTime,
}

async fn subscriber(
    url: String,
    events: u64,
    ready: tokio::sync::mpsc::Sender<()>,
) -> anyhow::Result<Outcome> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    socket.next().await.context("no welcome")??;
    let subscribe = json!({"type": "subscribe", "id": "fan", "topics": ["hostile.flood"]});
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await?;
    socket.next().await.context("no subscribed")??;
    ready.send(()).await.ok();
    let mut latencies = Vec::with_capacity(events as usize);
    let mut last_receipt = SystemTime::now();
    while (latencies.len() as u64) < events {
        let frame = socket.next().await.context("closed early")??;
        let Message::Text(text) = frame else { continue };
        last_receipt = SystemTime::now();
        let message: Value = serde_json::from_str(text.as_str())?;
        anyhow::ensure!(message["type"] == "event", "subscriber got {message}");
        let published = time::OffsetDateTime::parse(
            message["ts"].as_str().context("ts")?,
            &time::format_description::well_known::Rfc3339,
        )?;
        let published = SystemTime::from(published);
        latencies.push(last_receipt.duration_since(published).unwrap_or_default());
    }
    let _ = socket.close(None).await;
    Ok(Outcome {
        latencies,
        last_receipt,
    })
}

async fn fan_out(subscribers: usize, events: u64) -> anyhow::Result<Row> {
    let server = Server::start(&["--retain-events", "100", "--ws-idle-secs", "600"])?;
    let (status, _) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    anyhow::ensure!(status == 201, "cannot load the hostile plugin");
    let url = server.ws_url("/api/v1/ws");
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(subscribers);
    let connect_started = Instant::now();
    let mut tasks = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        tasks.push(tokio::spawn(subscriber(
            url.clone(),
            events,
            ready_tx.clone(),
        )));
        // Let handshakes complete in waves rather than all at once.
        if i % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop(ready_tx);
    for _ in 0..subscribers {
        ready_rx
            .recv()
            .await
            .context("a subscriber failed to subscribe")?;
    }
    eprintln!(
        "  {subscribers} subscribers connected and subscribed in {:?}",
        connect_started.elapsed()
    );
    let published = SystemTime::now();
    let flood =
        json!({"engine": "hostile", "op": "flood", "params": {"count": events, "bytes": 64}});
    let (status, job) = server.post("/api/v1/jobs", &flood).await?;
    anyhow::ensure!(status == 202, "flood refused: {job}");
    let mut latencies = Sample::default();
    let mut last = published;
    for task in tasks {
        let outcome = task.await??;
        last = last.max(outcome.last_receipt);
        for latency in outcome.latencies {
            latencies.push(latency);
        }
    }
    let elapsed = last.duration_since(published).unwrap_or_default();
    let deliveries = subscribers as u64 * events;
    let rate = deliveries as f64 / elapsed.as_secs_f64().max(1e-9);
    Ok(Row::absolute(
        &format!(
            "fan-out: {events} events to {subscribers} WebSocket subscribers (publish → receipt)"
        ),
        latencies,
        &format!("{rate:.0} deliveries/s ({deliveries} in {elapsed:.2?})"),
    ))
}

/// The 1,000- and 10,000-subscriber rows.
pub(crate) fn rows() -> anyhow::Result<Vec<Row>> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        Ok(vec![
            fan_out(1_000, 500).await?,
            fan_out(10_000, 100).await?,
        ])
    })
}
