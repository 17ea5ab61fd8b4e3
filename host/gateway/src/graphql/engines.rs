//! Typed subscriptions of the seed (000 §3) for the engines that exist:
//! `graphAlgorithmProgress`, `graphTraversal` and
//! `timeseriesAnomalyAlerts`. Each is a filtered view of bus events mapped
//! into a typed object (no JSON blob); each item carries `seq` and
//! `resumeFrom` so a client can reconnect without gaps.

use std::sync::Arc;

use async_graphql::{Context, SimpleObject};
use futures::Stream;
use serde_json::Value;
use weft_bus::{Delivery, Event};

use super::{bus_error, lagged_error, state, types::rfc3339};

/// One `algorithm_progress` or `algorithm_complete` event of the graph
/// engine.
#[derive(SimpleObject)]
pub(crate) struct GraphAlgorithmProgress {
    /// Job that ran the algorithm.
    job_id: Option<String>,
    algorithm: String,
    /// Iteration (PageRank) or level (Louvain).
    iteration: Option<u64>,
    /// PageRank: L1 change in this iteration.
    delta: Option<f64>,
    converged: Option<bool>,
    /// Louvain: modularity at this level.
    modularity: Option<f64>,
    vertices_processed: Option<u64>,
    /// True for the final event (`algorithm_complete`).
    complete: bool,
    /// On completion: the top vertices as `name:score`.
    top_vertices: Vec<String>,
    timestamp: String,
    seq: u64,
    /// Token to resume after this event.
    resume_from: String,
}

/// One `traversal_update` of BFS or DFS.
#[derive(SimpleObject)]
pub(crate) struct GraphTraversalUpdate {
    job_id: Option<String>,
    /// DFS: the vertex just reached.
    current_vertex: Option<String>,
    depth: u64,
    vertices_visited: u64,
    /// BFS: size of the next frontier.
    frontier: Option<u64>,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

/// A row an anomaly session flagged.
#[derive(SimpleObject)]
pub(crate) struct TimeSeriesAnomalyAlert {
    /// The session (the seed's metric name).
    session_id: String,
    sample_id: Option<String>,
    /// Row index within its request.
    index: u64,
    anomaly_score: f64,
    confidence: f64,
    /// `critical` at confidence ≥ 0.99, else `warning`.
    severity: String,
    algorithm: String,
    timestamp: String,
    seq: u64,
    resume_from: String,
}

pub(super) fn text(data: &Value, key: &str) -> Option<String> {
    data.get(key).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

pub(super) fn job_of(event: &Event) -> Option<String> {
    event.source.as_ref().and_then(|s| s.job.clone())
}

fn graph_progress(event: &Event, algorithm: Option<&str>) -> Option<GraphAlgorithmProgress> {
    if event.kind != "algorithm_progress" && event.kind != "algorithm_complete" {
        return None;
    }
    let data = &event.data;
    let name = text(data, "algorithm").unwrap_or_default();
    if algorithm.is_some_and(|wanted| wanted != name) {
        return None;
    }
    let top_vertices = data["top_vertices"]
        .as_array()
        .map(|top| {
            top.iter()
                .map(|v| format!("{}:{}", text(v, "vertex").unwrap_or_default(), v["score"]))
                .collect()
        })
        .unwrap_or_default();
    Some(GraphAlgorithmProgress {
        job_id: job_of(event),
        algorithm: name,
        iteration: data["iteration"].as_u64(),
        delta: data["delta"].as_f64(),
        converged: data["converged"].as_bool(),
        modularity: data["modularity"].as_f64(),
        vertices_processed: data["vertices_processed"].as_u64(),
        complete: event.kind == "algorithm_complete",
        top_vertices,
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

fn traversal(event: &Event) -> Option<GraphTraversalUpdate> {
    if event.kind != "traversal_update" {
        return None;
    }
    let data = &event.data;
    Some(GraphTraversalUpdate {
        job_id: job_of(event),
        current_vertex: text(data, "vertex"),
        depth: data["depth"].as_u64().unwrap_or(0),
        vertices_visited: data["visited"].as_u64().unwrap_or(0),
        frontier: data["frontier"].as_u64(),
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

fn anomaly(event: &Event) -> Option<TimeSeriesAnomalyAlert> {
    if event.kind != "anomaly" {
        return None;
    }
    let data = &event.data;
    let confidence = data["confidence_score"].as_f64().unwrap_or(0.0);
    Some(TimeSeriesAnomalyAlert {
        // anomaly.sessions.<id>.anomalies
        session_id: event.topic.split('.').nth(2).unwrap_or_default().to_owned(),
        sample_id: text(data, "sample_id"),
        index: data["index"].as_u64().unwrap_or(0),
        anomaly_score: data["anomaly_score"].as_f64().unwrap_or(0.0),
        confidence,
        severity: if confidence >= 0.99 {
            "critical"
        } else {
            "warning"
        }
        .to_owned(),
        algorithm: text(data, "algorithm").unwrap_or_default(),
        timestamp: rfc3339(event.ts),
        seq: event.seq,
        resume_from: event.token.to_string(),
    })
}

/// Bus events on `topics` mapped by `map` (events it returns `None` for
/// are skipped); ends after an item `last` accepts, or with a `lagged`
/// error carrying `resumeFrom`.
pub(super) fn typed<T, M, L>(
    ctx: &Context<'_>,
    topics: Vec<String>,
    resume_from: Option<String>,
    map: M,
    last: L,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<T>> + use<T, M, L>>
where
    T: Send + 'static,
    M: Fn(&Event) -> Option<T> + Send + Sync + 'static,
    L: Fn(&T) -> bool + Send + Sync + 'static,
{
    let state = state(ctx);
    let subscription = state
        .bus
        .subscribe(
            &topics,
            super::caller(ctx)?.event_tenant(),
            resume_from.as_deref(),
        )
        .map_err(bus_error)?;
    let mapping = Arc::new((map, last));
    Ok(futures::stream::unfold(
        Some(subscription),
        move |subscription| {
            let mapping = mapping.clone();
            async move {
                let mut subscription = subscription?;
                loop {
                    match subscription.next().await? {
                        Delivery::Event(event) => {
                            if let Some(item) = (mapping.0)(&event) {
                                let next = if (mapping.1)(&item) {
                                    None
                                } else {
                                    Some(subscription)
                                };
                                return Some((Ok(item), next));
                            }
                        }
                        Delivery::Lagged(token) => {
                            return Some((Err(lagged_error(&token.to_string())), None));
                        }
                    }
                }
            }
        },
    ))
}

/// A job's stream starts from its first retained event (it may have begun
/// before the subscription); other streams start live.
fn from_start(ctx: &Context<'_>, one_job: bool) -> Option<String> {
    one_job.then(|| state(ctx).bus.origin().to_string())
}

/// The typed engine subscriptions, merged into the schema's root.
#[derive(Default)]
pub(crate) struct EngineSubscriptions;

#[async_graphql::Subscription]
impl EngineSubscriptions {
    /// Progress of graph algorithms (PageRank, closeness, betweenness,
    /// Louvain, …): of one job (`jobId`; ends with its `complete` item) or
    /// of all of them, optionally of one `algorithm`.
    async fn graph_algorithm_progress(
        &self,
        ctx: &Context<'_>,
        job_id: Option<String>,
        algorithm: Option<String>,
        resume_from: Option<String>,
    ) -> async_graphql::Result<
        impl Stream<Item = async_graphql::Result<GraphAlgorithmProgress>> + use<>,
    > {
        let one_job = job_id.is_some();
        let resume_from = resume_from.or_else(|| from_start(ctx, one_job));
        let topic = job_id.map_or_else(|| "graph.algorithms".to_owned(), |id| format!("jobs.{id}"));
        typed(
            ctx,
            vec![topic],
            resume_from,
            move |event| graph_progress(event, algorithm.as_deref()),
            move |item| one_job && item.complete,
        )
    }

    /// BFS/DFS traversal updates: of one job (`jobId`) or of all.
    async fn graph_traversal(
        &self,
        ctx: &Context<'_>,
        job_id: Option<String>,
        resume_from: Option<String>,
    ) -> async_graphql::Result<
        impl Stream<Item = async_graphql::Result<GraphTraversalUpdate>> + use<>,
    > {
        let resume_from = resume_from.or_else(|| from_start(ctx, job_id.is_some()));
        let topic = job_id.map_or_else(|| "graph.traversal".to_owned(), |id| format!("jobs.{id}"));
        typed(ctx, vec![topic], resume_from, traversal, |_| false)
    }

    /// Rows flagged by anomaly sessions: of one session (`metricName` is the
    /// session id) or of all.
    async fn timeseries_anomaly_alerts(
        &self,
        ctx: &Context<'_>,
        metric_name: Option<String>,
        resume_from: Option<String>,
    ) -> async_graphql::Result<
        impl Stream<Item = async_graphql::Result<TimeSeriesAnomalyAlert>> + use<>,
    > {
        let session = metric_name.unwrap_or_else(|| "*".to_owned());
        typed(
            ctx,
            vec![format!("anomaly.sessions.{session}.anomalies")],
            resume_from,
            anomaly,
            |_| false,
        )
    }
}
