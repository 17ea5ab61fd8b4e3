//! A hostile client cannot stall the server: each attack is bounded in
//! count and time, sends only to loopback, and is followed by checks that
//! the server still answers everyone else promptly.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_tests::Server;

/// Health, a key write, a dataset read and a small job, each within a
/// second.
async fn still_serves_everyone(server: &Server) -> anyhow::Result<()> {
    let within = Duration::from_secs(1);
    let started = Instant::now();
    let (status, _) = tokio::time::timeout(within, server.get("/api/v1/health")).await??;
    anyhow::ensure!(status == 200, "health answered {status}");
    let put = server
        .http
        .put(server.url("/api/v1/collections/probe/keys/k"))
        .body("1")
        .send();
    let status = tokio::time::timeout(within, put).await??.status().as_u16();
    anyhow::ensure!(status < 300, "key write answered {status}");
    let (status, _) = tokio::time::timeout(within, server.get("/api/v1/datasets/ready")).await??;
    anyhow::ensure!(status == 200, "dataset read answered {status}");
    let job = server.run_job("graph", "connected_components", json!({"edges": [[1, 2]]}));
    let job = tokio::time::timeout(within, job).await??;
    anyhow::ensure!(job["state"] == "succeeded", "{job}");
    anyhow::ensure!(started.elapsed() < Duration::from_secs(4));
    Ok(())
}

/// Starts a chunked CSV upload that sends its header row and then nothing.
async fn stalled_upload(server: &Server, name: &str) -> anyhow::Result<tokio::net::TcpStream> {
    let mut socket = tokio::net::TcpStream::connect(&server.address).await?;
    let head = format!(
        "POST /api/v1/datasets/{name} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n4\r\na,b\n\r\n",
        server.address
    );
    socket.write_all(head.as_bytes()).await?;
    Ok(socket)
}

async fn status_of(socket: &mut tokio::net::TcpStream, within: Duration) -> anyhow::Result<u16> {
    let mut buffer = vec![0u8; 4096];
    let n = tokio::time::timeout(within, socket.read(&mut buffer)).await??;
    let text = String::from_utf8_lossy(&buffer[..n]);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(status)
}

#[tokio::test]
async fn stalled_uploads_are_capped_timed_out_and_freeze_nothing() -> anyhow::Result<()> {
    let server = Server::start(&["--upload-idle-secs", "2", "--max-uploads", "4"])?;
    let (status, _) = server
        .post_raw("/api/v1/datasets/ready", "text/csv", b"x\n1\n2\n".to_vec())
        .await?;
    assert_eq!(status, 201);

    // Four take every upload slot; eight more are refused at once.
    let mut holding = Vec::new();
    for i in 0..4 {
        holding.push(stalled_upload(&server, &format!("stall{i}")).await?);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 4..12 {
        let mut refused = stalled_upload(&server, &format!("stall{i}")).await?;
        assert_eq!(status_of(&mut refused, Duration::from_secs(2)).await?, 503);
    }
    still_serves_everyone(&server).await?;

    // The stalled ones are ended after the idle limit, storing nothing.
    for socket in &mut holding {
        assert_eq!(status_of(socket, Duration::from_secs(6)).await?, 408);
    }
    let (status, _) = server.get("/api/v1/datasets/stall0").await?;
    assert_eq!(status, 404, "nothing half-stored");
    let (status, stored) = server
        .post_raw("/api/v1/datasets/after", "text/csv", b"x\n1\n".to_vec())
        .await?;
    assert_eq!(status, 201, "slots are free again: {stored}");
    still_serves_everyone(&server).await?;
    Ok(())
}

/// `kill -9` in the middle of a streamed upload: after the restart the
/// dataset is not there at all (not a truncated one), and what was staged
/// is gone from disk.
#[tokio::test]
async fn a_crash_mid_upload_leaves_the_whole_dataset_or_none() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut socket = stalled_upload(&server, "half").await?;
    // 100,000 rows: more than one 65,536-row chunk reaches the disk.
    let mut rows = String::new();
    for i in 0..100_000 {
        rows.push_str(&format!("{i},{}\n", i * 2));
    }
    for part in rows.as_bytes().chunks(64 << 10) {
        socket
            .write_all(format!("{:x}\r\n", part.len()).as_bytes())
            .await?;
        socket.write_all(part).await?;
        socket.write_all(b"\r\n").await?;
    }
    let staging = server.data_dir().join("storage/tenants/default/staging");
    let started = Instant::now();
    while std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0) == 0 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "nothing was staged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = server.get("/api/v1/datasets/half").await?;
    assert_eq!(status, 404, "not visible while it is written");
    let server = server.restart()?;
    let (status, _) = server.get("/api/v1/datasets/half").await?;
    assert_eq!(status, 404, "a crashed upload leaves no dataset");
    assert!(!staging.exists(), "staged leftovers removed at open");
    // And the name is free.
    let (status, stored) = server
        .post_raw("/api/v1/datasets/half", "text/csv", b"a,b\n1,2\n".to_vec())
        .await?;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["rows"], 1);
    Ok(())
}

/// True when the server closed `socket` within `within` (EOF or reset)
/// without answering.
async fn closed_by_server(socket: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    matches!(
        tokio::time::timeout(within, socket.read(&mut buffer)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Slowloris: connections that never finish their headers are closed
/// after --header-read-secs, and everyone else is served meanwhile.
#[tokio::test]
async fn clients_that_never_finish_their_headers_are_cut_off() -> anyhow::Result<()> {
    let server = Server::start(&["--header-read-secs", "1"])?;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut socket = tokio::net::TcpStream::connect(&server.address).await?;
        socket
            .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await?;
        slow.push(socket);
    }
    let (status, _) = server.get("/api/v1/health").await?;
    assert_eq!(status, 200, "served while 50 clients dawdle");
    let started = Instant::now();
    for socket in &mut slow {
        assert!(
            closed_by_server(socket, Duration::from_secs(4)).await,
            "a half-sent request is still open after {:?}",
            started.elapsed()
        );
    }
    assert!(started.elapsed() < Duration::from_secs(4));
    Ok(())
}

/// One address may hold --max-connections-per-ip connections; more are
/// closed as they arrive, and the address is served again once it lets go.
#[tokio::test]
async fn one_address_cannot_hold_every_connection() -> anyhow::Result<()> {
    let server = Server::start(&["--max-connections-per-ip", "8"])?;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(tokio::net::TcpStream::connect(&server.address).await?);
    }
    let mut extra = tokio::net::TcpStream::connect(&server.address).await?;
    assert!(
        closed_by_server(&mut extra, Duration::from_secs(2)).await,
        "a ninth connection from one address is closed"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = server.get("/api/v1/health").await?;
    assert_eq!(status, 200, "served again once the address lets go");
    Ok(())
}
