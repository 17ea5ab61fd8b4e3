//! Delivery guarantees under load: one client stops reading while 100
//! others keep up. The others get every event in order and on time, the
//! server's memory stays bounded, and the stalled client, reconnecting with
//! its last token, gets every retained event after it exactly once.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::{Server, WsClient, test_plugin};

const EVENTS: u64 = 3000;
const PAYLOAD_BYTES: u64 = 400;
const READERS: usize = 100;
/// The producer publishes 10 events every 10 ms (~1,000 events/s, 100,000
/// deliveries/s): a rate 100 readers on this 2-core machine can keep up
/// with, while a stalled reader overflows after ~2,200 events: 1,280 in
/// its queues plus what its send buffer holds (256 KiB, which Linux doubles).
const BURST: u64 = 10;
const PAUSE_MS: u64 = 10;

async fn subscribe(client: &mut WsClient) -> anyhow::Result<()> {
    client.recv().await?; // welcome
    client
        .send(&json!({"type": "subscribe", "id": "flood", "topics": ["hostile.flood"]}))
        .await?;
    let reply = client.recv().await?;
    anyhow::ensure!(reply["type"] == "subscribed", "{reply}");
    Ok(())
}

/// Reads flood events until `want` have arrived; checks order and gaps.
async fn read_flood(client: &mut WsClient, first: u64, want: u64) -> anyhow::Result<Vec<Value>> {
    let mut events = Vec::with_capacity(want as usize);
    let mut last_seq = 0;
    while (events.len() as u64) < want {
        let message = client.recv_within(Duration::from_secs(60)).await?;
        anyhow::ensure!(message["type"] == "event", "unexpected {message}");
        let seq = message["seq"].as_u64().context("seq")?;
        anyhow::ensure!(seq > last_seq, "seq {seq} after {last_seq}");
        last_seq = seq;
        let i = message["data"]["i"].as_u64().context("i")?;
        let expected = first + events.len() as u64;
        anyhow::ensure!(
            i == expected,
            "event {i} where {expected} was due (gap or duplicate)"
        );
        events.push(message);
    }
    Ok(events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_slows_nobody_and_resumes_without_loss() -> anyhow::Result<()> {
    let server = Server::start(&["--retain-events", "10000", "--workers", "2"])?;
    let (status, _) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let url = server.ws_url("/api/v1/ws");

    let mut stalled = WsClient::connect_with_small_buffer(&url)
        .await?
        .validating("ws");
    subscribe(&mut stalled).await?;
    let mut readers = Vec::with_capacity(READERS);
    for _ in 0..READERS {
        let mut client = WsClient::connect(&url, None).await?.validating("ws");
        subscribe(&mut client).await?;
        readers.push(client);
    }
    let resident_before = server.resident_bytes()?;

    let started = Instant::now();
    let tasks: Vec<_> = readers
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let events = read_flood(&mut client, 0, EVENTS).await?;
                anyhow::Ok((events.len() as u64, Instant::now()))
            })
        })
        .collect();
    let flood = json!({"engine": "hostile", "op": "flood", "params": {
        "count": EVENTS, "bytes": PAYLOAD_BYTES, "burst": BURST, "pause_ms": PAUSE_MS
    }});
    let (status, job) = server.post("/api/v1/jobs", &flood).await?;
    assert_eq!(status, 202, "{job}");

    // The stalled client reads ten events, keeps the last token, stops.
    let seen = read_flood(&mut stalled, 0, 10).await?;
    let token = seen.last().context("tenth event")?["token"]
        .as_str()
        .context("token")?
        .to_owned();

    let mut slowest = Duration::ZERO;
    for task in tasks {
        let (count, done) = task.await??;
        assert_eq!(count, EVENTS);
        slowest = slowest.max(done - started);
    }
    eprintln!(
        "{READERS} readers got all {EVENTS} events in {slowest:?} while one client was stalled"
    );
    assert!(slowest < Duration::from_secs(60));

    // Bounded memory: the stalled client costs its queues, not the stream.
    let resident_after = server.resident_bytes()?;
    let growth = resident_after.saturating_sub(resident_before);
    eprintln!("server resident memory grew by {} MiB", growth >> 20);
    assert!(
        growth < 256 << 20,
        "resident memory grew by {} MiB",
        growth >> 20
    );

    // The stalled client was detached as lagged (it would read that next),
    // so the bus holds nothing for it now.
    let (_, metrics_text) = (
        0,
        server
            .http
            .get(server.url("/metrics"))
            .send()
            .await?
            .text()
            .await?,
    );
    let lagged: u64 = metrics_text
        .lines()
        .find_map(|l| l.strip_prefix("weft_subscribers_lagged_total "))
        .context("lag counter")?
        .parse()?;
    assert!(lagged >= 1, "the stalled subscriber was never detached");
    drop(stalled);

    // Reconnect with the token: everything after event 9, once, in order.
    // A catch-up longer than the subscriber queue (1,024) arrives in several
    // rounds: the client is told `lagged` with the token to go on from, as
    // the protocol says, and resubscribes.
    let mut back = WsClient::connect(&url, None).await?.validating("ws");
    back.recv().await?;
    let mut next = 10;
    let mut last_seq = 0;
    let mut resume = token;
    let mut rounds = 0;
    while next < EVENTS {
        rounds += 1;
        anyhow::ensure!(rounds < 50, "no progress catching up");
        back.send(&json!({"type": "subscribe", "id": format!("again-{rounds}"), "topics": ["hostile.flood"], "resume_from": resume}))
            .await?;
        assert_eq!(back.recv().await?["type"], "subscribed");
        loop {
            let message = back.recv_within(Duration::from_secs(30)).await?;
            if message["type"] == "lagged" {
                resume = message["resume_from"]
                    .as_str()
                    .context("resume_from")?
                    .to_owned();
                break;
            }
            assert_eq!(message["type"], "event", "{message}");
            let seq = message["seq"].as_u64().context("seq")?;
            assert!(seq > last_seq, "seq {seq} after {last_seq}");
            last_seq = seq;
            assert_eq!(message["data"]["i"], next, "gap or duplicate");
            next += 1;
            if next == EVENTS {
                break;
            }
        }
    }
    eprintln!(
        "the stalled client caught up on {} events in {rounds} round(s)",
        EVENTS - 10
    );
    let extra = back.recv_within(Duration::from_millis(300)).await;
    assert!(extra.is_err(), "an event arrived twice: {extra:?}");
    Ok(())
}
