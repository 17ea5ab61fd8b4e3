//! permessage-deflate (RFC 7692): a client that offers it gets it, in both
//! directions. The client here is written out by hand over a TCP socket —
//! handshake, frame header bits, masking — with flate2 as the independent
//! inflater/deflater, so the test checks the wire and not our own library.
//! Clients that do not offer it (every other test, via tungstenite, which
//! rejects frames with RSV1 set) keep getting plain frames.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_tests::Server;

/// The four bytes a sync flush ends with; RFC 7692 §7.2.1 drops them on
/// the wire and the receiver appends them again.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

const OFFER: &str = "Sec-WebSocket-Extensions";

struct Frame {
    compressed: bool,
    opcode: u8,
    /// Payload as it crossed the wire.
    wire: Vec<u8>,
}

struct DeflateClient {
    tcp: TcpStream,
    /// Bytes read past the handshake or the last frame.
    buffered: Vec<u8>,
}

impl DeflateClient {
    /// Opens `path` with extra handshake `headers` (e.g. the extension
    /// offer); returns the client and the server's
    /// `Sec-WebSocket-Extensions` answer (None: nothing agreed).
    async fn connect(
        server: &Server,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(Self, Option<String>)> {
        let mut tcp = TcpStream::connect(&server.address).await?;
        let extension: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extension}\r\n",
            server.address
        );
        tcp.write_all(request.as_bytes()).await?;
        let mut buffered = Vec::new();
        let end = loop {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut chunk))
                .await
                .context("handshake answer")??;
            ensure!(n > 0, "server closed during the handshake");
            buffered.extend_from_slice(&chunk[..n]);
            if let Some(at) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&buffered[..end]).into_owned();
        buffered.drain(..end);
        ensure!(
            head.starts_with("HTTP/1.1 101"),
            "expected 101 Switching Protocols, got {head}"
        );
        // RFC 6455 §1.3's sample key has this accept value.
        ensure!(
            head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "wrong Sec-WebSocket-Accept in {head}"
        );
        let agreed = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-extensions")
                .then(|| value.trim().to_owned())
        });
        Ok((Self { tcp, buffered }, agreed))
    }

    async fn fill(&mut self, wanted: usize) -> anyhow::Result<()> {
        while self.buffered.len() < wanted {
            let mut chunk = [0u8; 16384];
            let n = tokio::time::timeout(Duration::from_secs(10), self.tcp.read(&mut chunk))
                .await
                .context("waiting for a frame")??;
            ensure!(n > 0, "server closed the connection");
            self.buffered.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    }

    /// Reads one whole (unfragmented) server frame.
    async fn frame(&mut self) -> anyhow::Result<Frame> {
        self.fill(2).await?;
        let (first, second) = (self.buffered[0], self.buffered[1]);
        ensure!(first & 0x80 != 0, "fragmented frames are not expected here");
        ensure!(second & 0x80 == 0, "server frames must not be masked");
        let (length, header) = match second & 0x7f {
            126 => {
                self.fill(4).await?;
                (
                    usize::from(u16::from_be_bytes([self.buffered[2], self.buffered[3]])),
                    4,
                )
            }
            127 => {
                self.fill(10).await?;
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&self.buffered[2..10]);
                (usize::try_from(u64::from_be_bytes(bytes))?, 10)
            }
            short => (usize::from(short), 2),
        };
        self.fill(header + length).await?;
        let wire = self.buffered[header..header + length].to_vec();
        self.buffered.drain(..header + length);
        Ok(Frame {
            compressed: first & 0x40 != 0,
            opcode: first & 0x0f,
            wire,
        })
    }

    /// The next text message, inflated if it came compressed.
    async fn message(&mut self) -> anyhow::Result<(Value, Frame)> {
        loop {
            let frame = self.frame().await?;
            match frame.opcode {
                0x1 => {
                    let text = if frame.compressed {
                        inflate(&frame.wire)?
                    } else {
                        frame.wire.clone()
                    };
                    let value = serde_json::from_slice(&text)
                        .with_context(|| format!("not JSON: {}", String::from_utf8_lossy(&text)))?;
                    return Ok((value, frame));
                }
                0x9 | 0xA => continue, // ping / pong
                other => bail!("unexpected opcode {other:#x}"),
            }
        }
    }

    /// Sends a masked text frame, compressed (RSV1) when `compress`.
    async fn send(&mut self, message: &Value, compress: bool) -> anyhow::Result<()> {
        let text = message.to_string().into_bytes();
        let payload = if compress { deflate(&text)? } else { text };
        let mut frame = vec![if compress { 0xC1 } else { 0x81 }];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | u8::try_from(n)?),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&u16::try_from(n)?.to_be_bytes());
            }
        }
        let mask = [0x12, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp.write_all(&frame).await?;
        Ok(())
    }
}

fn inflate(wire: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut input = wire.to_vec();
    input.extend_from_slice(&SYNC_TAIL);
    let mut inflater = Decompress::new(false);
    let mut out = Vec::with_capacity(wire.len() * 8 + 64);
    loop {
        let consumed = usize::try_from(inflater.total_in())?;
        if consumed >= input.len() {
            return Ok(out);
        }
        out.reserve(4096);
        let before = (inflater.total_in(), inflater.total_out());
        inflater
            .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync)
            .context("inflate")?;
        if (inflater.total_in(), inflater.total_out()) == before {
            bail!("inflate made no progress");
        }
    }
}

fn deflate(text: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut deflater = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(text.len() + 64);
    deflater.compress_vec(text, &mut out, FlushCompress::Sync)?;
    ensure!(out.ends_with(&SYNC_TAIL), "sync flush tail missing");
    out.truncate(out.len() - SYNC_TAIL.len());
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_offering_permessage_deflate_get_compressed_frames_both_ways() -> anyhow::Result<()>
{
    let server = Server::start(&[])?;
    let (mut client, agreed) = DeflateClient::connect(
        &server,
        "/api/v1/ws",
        &[(OFFER, "permessage-deflate; client_max_window_bits")],
    )
    .await?;
    let agreed = agreed.context("the server declined permessage-deflate")?;
    ensure!(agreed.starts_with("permessage-deflate"), "agreed: {agreed}");
    // No context takeover: the server keeps no compressor per connection.
    ensure!(
        agreed.contains("server_no_context_takeover"),
        "agreed: {agreed}"
    );

    let (welcome, _) = client.message().await?;
    ensure!(welcome["type"] == "welcome", "{welcome}");
    // A compressed client message is understood.
    let subscribe = json!({"type": "subscribe", "id": "jobs", "topics": ["jobs.>", "graph.>"]});
    client.send(&subscribe, true).await?;
    let (subscribed, _) = client.message().await?;
    ensure!(subscribed["type"] == "subscribed", "{subscribed}");
    // An uncompressed one still is (RSV1 is per message).
    client.send(&json!({"type": "ping"}), false).await?;
    let (pong, _) = client.message().await?;
    ensure!(pong["type"] == "pong", "{pong}");

    let edges: Vec<Value> = (0..40).map(|i| json!([i, (i * 7 + 3) % 40])).collect();
    server
        .run_job(
            "graph",
            "pagerank",
            json!({"edges": edges, "directed": true}),
        )
        .await?;
    let (mut compressed, mut plain, mut wire_bytes, mut text_bytes) = (0, 0, 0, 0);
    loop {
        let (event, frame) = client.message().await?;
        ensure!(event["type"] == "event", "{event}");
        if frame.compressed {
            compressed += 1;
            wire_bytes += frame.wire.len();
            text_bytes += event.to_string().len();
        } else {
            plain += 1;
            // Small messages go out as they are.
            ensure!(
                frame.wire.len() < 256,
                "{} bytes sent plain",
                frame.wire.len()
            );
        }
        if event["kind"] == "job_state" && event["data"]["state"] == "succeeded" {
            break;
        }
    }
    ensure!(compressed > 0, "no event came compressed ({plain} plain)");
    ensure!(
        wire_bytes < text_bytes,
        "compressed {wire_bytes} bytes on the wire for {text_bytes} bytes of JSON"
    );

    // A client that offers nothing gets nothing: same endpoint, plain frames.
    let (mut plain_client, agreed) = DeflateClient::connect(&server, "/api/v1/ws", &[]).await?;
    ensure!(agreed.is_none(), "extension sent unasked: {agreed:?}");
    plain_client
        .send(
            &json!({"type": "subscribe", "id": "s", "topics": ["jobs.>"], "resume_from": null}),
            false,
        )
        .await?;
    let (welcome, frame) = plain_client.message().await?;
    ensure!(welcome["type"] == "welcome" && !frame.compressed);

    // Operators can see who compresses.
    let (_, connections) = server.get("/api/v1/ws/connections").await?;
    let flags: Vec<bool> = connections
        .as_array()
        .context("connection list")?
        .iter()
        .filter_map(|c| c["compressed"].as_bool())
        .collect();
    ensure!(
        flags.len() == 2 && flags.contains(&true) && flags.contains(&false),
        "{connections}"
    );
    let (_, status) = server.get("/api/v1/ws/status").await?;
    ensure!(status["compressed_connections"] == 1, "{status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_kind_negotiates_permessage_deflate() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (mut graphql, agreed) = DeflateClient::connect(
        &server,
        "/graphql/ws",
        &[
            (OFFER, "permessage-deflate"),
            ("Sec-WebSocket-Protocol", "graphql-transport-ws"),
        ],
    )
    .await?;
    ensure!(
        agreed.is_some_and(|a| a.starts_with("permessage-deflate")),
        "/graphql/ws declined permessage-deflate"
    );
    graphql
        .send(&json!({"type": "connection_init", "payload": {}}), true)
        .await?;
    let (ack, _) = graphql.message().await?;
    ensure!(ack["type"] == "connection_ack", "{ack}");
    for (path, first) in [
        ("/api/v1/ws/query", "welcome"),
        ("/api/v1/ws/metrics", "metrics"),
        ("/api/v1/ws/graph/algorithms", "welcome"),
        ("/api/v1/streaming/enhanced/deflate-check", "welcome"),
    ] {
        let (mut client, agreed) =
            DeflateClient::connect(&server, path, &[(OFFER, "permessage-deflate")]).await?;
        ensure!(
            agreed.is_some_and(|a| a.starts_with("permessage-deflate")),
            "{path} declined permessage-deflate"
        );
        let (message, frame) = client.message().await?;
        ensure!(message["type"] == first, "{path}: {message}");
        // A metrics report is well over the threshold.
        ensure!(first != "metrics" || frame.compressed, "{path}: sent plain");
    }
    Ok(())
}
