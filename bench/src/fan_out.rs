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
//!
//! The 1,000-subscriber burst runs twice: with clients that do not offer
//! permessage-deflate (tungstenite) and with clients that do (yawc); the
//! server then deflates every message for every socket, which is the cost
//! an operator pays for the bandwidth it saves.

use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use weft_tests::{Server, test_plugin};

use crate::stats::{Row, Sample};

/// A subscriber's socket: plain, or offering permessage-deflate.
enum Client {
    Plain(
        Box<
            tokio_tungstenite::WebSocketStream<
                tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
            >,
        >,
    ),
    Deflate(Box<yawc::WebSocket<yawc::MaybeTlsStream<tokio::net::TcpStream>>>),
}

impl Client {
    async fn connect(url: &str, deflate: bool) -> anyhow::Result<Self> {
        if deflate {
            let options = yawc::Options::default()
                .with_compression_level(yawc::CompressionLevel::fast())
                .client_no_context_takeover();
            let socket = yawc::WebSocket::connect(url.parse()?)
                .with_options(options)
                .await?;
            return Ok(Self::Deflate(Box::new(socket)));
        }
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Self::Plain(Box::new(socket)))
    }

    async fn send_text(&mut self, text: String) -> anyhow::Result<()> {
        match self {
            Self::Plain(socket) => socket.send(Message::Text(text.into())).await?,
            Self::Deflate(socket) => socket.send(yawc::Frame::text(text)).await?,
        }
        Ok(())
    }

    /// The next text message (control frames skipped).
    async fn next_text(&mut self) -> anyhow::Result<String> {
        loop {
            match self {
                Self::Plain(socket) => {
                    if let Message::Text(text) = socket.next().await.context("closed early")?? {
                        return Ok(text.as_str().to_owned());
                    }
                }
                Self::Deflate(socket) => {
                    let frame = socket.next().await.context("closed early")?;
                    if frame.opcode() == yawc::OpCode::Text {
                        return Ok(frame.as_str().to_owned());
                    }
                }
            }
        }
    }

    async fn close(self) {
        match self {
            Self::Plain(mut socket) => {
                let _ = tokio_tungstenite::WebSocketStream::close(&mut socket, None).await;
            }
            Self::Deflate(mut socket) => {
                let _ = socket.close().await;
            }
        }
    }
}

struct Outcome {
    latencies: Vec<Duration>,
    last_receipt: SystemTime,
}

async fn subscriber(
    url: String,
    events: u64,
    deflate: bool,
    ready: tokio::sync::mpsc::Sender<()>,
) -> anyhow::Result<Outcome> {
    let mut socket = Client::connect(&url, deflate).await?;
    socket.next_text().await.context("no welcome")?;
    let subscribe = json!({"type": "subscribe", "id": "fan", "topics": ["hostile.flood"]});
    socket.send_text(subscribe.to_string()).await?;
    socket.next_text().await.context("no subscribed")?;
    ready.send(()).await.ok();
    let mut latencies = Vec::with_capacity(events as usize);
    let mut last_receipt = SystemTime::now();
    while (latencies.len() as u64) < events {
        let text = socket.next_text().await?;
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
    socket.close().await;
    Ok(Outcome {
        latencies,
        last_receipt,
    })
}

/// One burst: (latencies, deliveries per second, what it was).
struct Burst {
    latencies: Sample,
    rate: f64,
    summary: String,
}

async fn fan_out(subscribers: usize, events: u64, deflate: bool) -> anyhow::Result<Burst> {
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
            deflate,
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
    Ok(Burst {
        latencies,
        rate,
        summary: format!("{rate:.0} deliveries/s ({deliveries} in {elapsed:.2?})"),
    })
}

fn absolute(subscribers: usize, events: u64, burst: Burst) -> Row {
    Row::absolute(
        &format!(
            "fan-out: {events} events to {subscribers} WebSocket subscribers (publish → receipt)"
        ),
        burst.latencies,
        &burst.summary,
    )
}

/// The 1,000- and 10,000-subscriber rows.
pub(crate) fn rows() -> anyhow::Result<Vec<Row>> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let plain = fan_out(1_000, 500, false).await?;
        let deflated = fan_out(1_000, 500, true).await?;
        let compared = Row::versus(
            "fan-out with permessage-deflate: 500 events to 1000 subscribers",
            deflated.latencies.clone(),
            "same, clients not offering it",
            plain.latencies.clone(),
        )
        .with_note(&format!(
            "{} vs {} ({:.2}× the rate)",
            deflated.summary,
            plain.summary,
            deflated.rate / plain.rate.max(1e-9)
        ));
        Ok(vec![
            absolute(1_000, 500, plain),
            compared,
            absolute(10_000, 100, fan_out(10_000, 100, false).await?),
        ])
    })
}
