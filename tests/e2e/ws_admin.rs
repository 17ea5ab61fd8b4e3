//! WebSocket management over REST: status, connections, broadcast,
//! server-side subscriptions, forced disconnect.

use serde_json::json;
use weft_tests::{Server, WsClient};

#[tokio::test]
async fn operators_can_see_steer_and_close_connections() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut client = WsClient::connect(&server.ws_url("/api/v1/ws"), None)
        .await?
        .validating("ws");
    let welcome = client.recv().await?;
    let connection_id = welcome["connection_id"].as_str().expect("id").to_owned();
    client
        .send(&json!({ "type": "subscribe", "id": "mine", "topics": ["jobs.*"] }))
        .await?;
    client.recv().await?;

    let (status, ws) = server.get("/api/v1/ws/status").await?;
    assert_eq!(status, 200);
    assert_eq!(ws["connections"], 1);
    assert_eq!(ws["subscriptions"], 1);
    assert!(ws["messages_received"].as_u64() >= Some(1));

    let (_, list) = server.get("/api/v1/ws/connections").await?;
    assert_eq!(list[0]["connection_id"], connection_id.as_str());
    assert_eq!(list[0]["subscriptions"][0]["topics"], json!(["jobs.*"]));
    let (status, one) = server
        .get(&format!("/api/v1/ws/connections/{connection_id}"))
        .await?;
    assert_eq!(status, 200);
    assert_eq!(one["endpoint"], "/api/v1/ws");
    let (status, missing) = server.get("/api/v1/ws/connections/nobody").await?;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "not_found");

    // Broadcast reaches the client whatever it subscribed to.
    let (status, sent) = server
        .post(
            "/api/v1/ws/broadcast",
            &json!({ "kind": "maintenance", "data": { "in_minutes": 5 } }),
        )
        .await?;
    assert_eq!(status, 202);
    assert_eq!(sent["delivered_to"], 1);
    let message = client.recv().await?;
    assert_eq!(message["type"], "broadcast");
    assert_eq!(message["kind"], "maintenance");
    assert_eq!(message["data"]["in_minutes"], 5);
    assert_eq!(message["topic"], "system.broadcast");

    // A subscription made by the operator behaves like the client's own.
    let (status, created) = server
        .post(
            "/api/v1/ws/subscriptions",
            &json!({ "connection_id": connection_id, "id": "ops", "topics": ["graph.>"] }),
        )
        .await?;
    assert_eq!(status, 201, "{created}");
    let subscription_id = created["subscription_id"].as_str().expect("id").to_owned();
    assert_eq!(
        client.recv().await?,
        json!({ "type": "subscribed", "id": "ops", "topics": ["graph.>"] })
    );
    server
        .run_job(
            "graph",
            "connected_components",
            json!({ "edges": [[1, 2]] }),
        )
        .await?;
    let seen = client.recv_until(|m| m["sub"] == "ops").await?;
    assert_eq!(seen.last().expect("event")["topic"], "graph.algorithms");
    let (status, duplicate) = server
        .post(
            "/api/v1/ws/subscriptions",
            &json!({ "connection_id": connection_id, "id": "ops", "topics": ["x"] }),
        )
        .await?;
    assert_eq!(status, 409, "{duplicate}");

    let (_, all) = server.get("/api/v1/ws/subscriptions").await?;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let (status, _) = server
        .delete(&format!("/api/v1/ws/subscriptions/{subscription_id}"))
        .await?;
    assert_eq!(status, 200);
    client
        .recv_until(|m| m["type"] == "unsubscribed" && m["id"] == "ops")
        .await?;
    let (status, _) = server
        .delete(&format!("/api/v1/ws/subscriptions/{subscription_id}"))
        .await?;
    assert_eq!(status, 404);

    // Forced disconnect: the client sees the socket close.
    let (status, _) = server
        .delete(&format!("/api/v1/ws/connections/{connection_id}"))
        .await?;
    assert_eq!(status, 200);
    let closed = client.recv_until(|_| false).await;
    assert!(closed.is_err(), "the connection should be closed");
    // The server forgets the connection as its loop ends.
    let mut ws = json!({});
    for _ in 0..100 {
        ws = server.get("/api/v1/ws/status").await?.1;
        if ws["connections"] == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(ws["connections"], 0);
    assert_eq!(ws["connections_total"], 1);
    Ok(())
}

/// Query, metrics and anomaly-session sockets are listed too; operators
/// can broadcast to them and close them.
#[tokio::test]
async fn every_kind_of_socket_is_listed_and_can_be_closed() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut query = WsClient::connect(&server.ws_url("/api/v1/ws/query"), None)
        .await?
        .validating("query");
    query.recv().await?;
    let mut metrics =
        WsClient::connect(&server.ws_url("/api/v1/ws/metrics?interval_ms=60000"), None)
            .await?
            .validating("metrics");
    metrics.recv().await?;
    let (mut session, _) = weft_tests::anomaly::open_session(&server, "listed", "").await?;

    let (_, list) = server.get("/api/v1/ws/connections").await?;
    let mut endpoints: Vec<String> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["endpoint"].as_str().map(str::to_owned))
        .collect();
    endpoints.sort();
    assert_eq!(
        endpoints,
        [
            "/api/v1/streaming/enhanced/listed",
            "/api/v1/ws/metrics",
            "/api/v1/ws/query"
        ]
    );

    let (status, _) = server
        .post(
            "/api/v1/ws/broadcast",
            &json!({ "kind": "notice", "data": { "n": 1 } }),
        )
        .await?;
    assert_eq!(status, 202);
    for client in [&mut query, &mut metrics, &mut session] {
        let seen = client.recv_until(|m| m["type"] == "broadcast").await?;
        assert_eq!(seen.last().map(|m| &m["data"]["n"]), Some(&json!(1)));
    }

    let query_id = list
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["endpoint"] == "/api/v1/ws/query")
        .and_then(|c| c["connection_id"].as_str())
        .expect("query connection")
        .to_owned();
    let (status, _) = server
        .delete(&format!("/api/v1/ws/connections/{query_id}"))
        .await?;
    assert_eq!(status, 200);
    assert!(query.recv().await.is_err(), "the query socket is closed");
    let (_, status) = server.get("/api/v1/ws/status").await?;
    assert_eq!(status["connections"], 2);
    Ok(())
}
