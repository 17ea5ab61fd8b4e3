//! Similarity and recommendation operations.

use serde::Deserialize;
use weft_sdk::{EngineError, Host, Params, Value, json};

use super::{graph_input, load, locate, undirected_only};
use crate::input::NodeName;
use crate::similarity::{Metric, recommend as run_recommend, score};

#[derive(Deserialize)]
struct SimilarityParams {
    metric: Metric,
    pairs: Vec<(NodeName, NodeName)>,
}

pub(super) fn similarity(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: SimilarityParams = params.parse()?;
    let input = graph_input(&params, host)?;
    let graph = load(input)?;
    undirected_only(&graph, "neighbourhood similarity")?;
    let mut scores = Vec::with_capacity(p.pairs.len());
    for (u, v) in &p.pairs {
        let (a, b) = (locate(&graph, u, "pair")?, locate(&graph, v, "pair")?);
        scores.push(json!([u, v, score(&graph, p.metric, a, b)]));
    }
    host.progress(scores.len() as u64, scores.len() as u64, "scored", None);
    Ok(json!({ "metric": p.metric, "scores": scores }))
}

#[derive(Deserialize)]
struct RecommendParams {
    #[serde(default = "default_metric")]
    metric: Metric,
    source: NodeName,
    #[serde(default = "default_top_k")]
    top_k: usize,
}

fn default_metric() -> Metric {
    Metric::AdamicAdar
}

fn default_top_k() -> usize {
    10
}

pub(super) fn recommend(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: RecommendParams = params.parse()?;
    let input = graph_input(&params, host)?;
    let graph = load(input)?;
    undirected_only(&graph, "recommendation")?;
    let source = locate(&graph, &p.source, "source")?;
    let top = run_recommend(&graph, p.metric, source, p.top_k);
    host.progress(1, 1, &format!("{} recommendations", top.len()), None);
    let items: Vec<Value> = top
        .iter()
        .map(|&(v, s)| json!({ "node": graph.name(v), "score": s }))
        .collect();
    Ok(json!({ "source": p.source, "metric": p.metric, "recommendations": items }))
}
