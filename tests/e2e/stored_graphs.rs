//! Stored graphs are the graph engine's routes (declared in its manifest,
//! written through dataset writers): CSV uploads, concurrent uploads of one
//! name, and the size limit.

use serde_json::{Value, json};
use weft_tests::Server;

#[tokio::test]
async fn csv_graphs_are_stored_with_typed_property_columns() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let csv = "source,target,weight,label,since\n1,2,0.5,KNOWS,2001\n2,3,,LIKES,\n3,1,2,,1999\n";
    let (status, stored) = server
        .post_raw("/api/v1/graphs/tri", "text/csv", csv.as_bytes().to_vec())
        .await?;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["edges"], 3);
    let columns: Vec<(String, String)> = stored["edge_columns"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("").to_owned(),
                        c["type"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<(String, String)> = [
        ("source", "i64"),
        ("target", "i64"),
        ("weight", "f64"),
        ("label", "string"),
        ("since", "i64"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(columns, expected);
    // A missing weight is 1; the triangle has one component.
    let job = server
        .run_job("graph", "connected_components", json!({"graph": "tri"}))
        .await?;
    assert_eq!(job["result"]["count"], 1, "{job}");
    let (status, bad) = server
        .post_raw(
            "/api/v1/graphs/bad",
            "text/csv",
            b"source,target,weight\n1,2,heavy\n".to_vec(),
        )
        .await?;
    assert_eq!(status, 422, "{bad}");
    let message = bad["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("line 2") && message.contains("heavy"),
        "names the row and value: {message}"
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_uploads_of_one_name_leave_exactly_one_graph() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let uploads = (1..=6).map(|n| {
        let edges: Vec<Value> = (0..n * 100).map(|i| json!([i, i + 1])).collect();
        let body = json!({ "edges": edges });
        let server = &server;
        async move { (n * 100, server.post("/api/v1/graphs/race", &body).await) }
    });
    let outcomes = futures::future::join_all(uploads).await;
    let mut winners = Vec::new();
    for (edges, outcome) in outcomes {
        let (status, body) = outcome?;
        match status {
            201 => winners.push(edges),
            409 => assert_eq!(body["error"]["code"], "conflict", "{body}"),
            other => anyhow::bail!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one upload wins: {winners:?}");
    let (status, summary) = server.get("/api/v1/graphs/race").await?;
    assert_eq!(status, 200);
    assert_eq!(
        summary["edges"], winners[0],
        "the winner's edges, whole: {summary}"
    );
    let job = server
        .run_job("graph", "connected_components", json!({"graph": "race"}))
        .await?;
    assert_eq!(job["result"]["count"], 1, "{job}");
    Ok(())
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_with_the_limit_and_the_way_forward()
-> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let body = vec![b' '; (16 << 20) + 1];
    let (status, refused) = server
        .post_raw("/api/v1/graphs/huge", "application/json", body)
        .await?;
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["error"]["code"], "payload_too_large");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("16 MiB")
    );
    let (status, _) = server.get("/api/v1/health").await?;
    assert_eq!(status, 200);
    Ok(())
}
