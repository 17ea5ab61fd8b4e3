//! The `embeddings` operation.

use weft_sdk::{EngineError, Host, Params, Value, json};

use super::{ALGORITHMS, graph_input, keep_going, load};
use crate::embedding::{EmbeddingConfig, embed};

/// Walk tokens one job may generate (nodes × walks × length).
const MAX_TOKENS: usize = 50_000_000;

pub(super) fn embeddings(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let config: EmbeddingConfig = params.parse()?;
    let graph = load(graph_input(&params, host)?)?;
    let tokens = graph.node_count() * config.walks_per_node * config.walk_length;
    if tokens > MAX_TOKENS {
        return Err(EngineError::InvalidParams(format!(
            "{tokens} walk steps exceed the limit of {MAX_TOKENS}; lower walks_per_node or walk_length"
        )));
    }
    let epochs = config.epochs.max(1) as u64;
    let vectors = embed(&graph, &config, |epoch| {
        host.progress(
            epoch as u64,
            epochs,
            &format!("epoch {epoch} of {epochs}"),
            None,
        );
        keep_going(host)
    })
    .ok_or(EngineError::Cancelled)?;
    host.emit(
        ALGORITHMS,
        "algorithm_complete",
        &json!({ "algorithm": "embeddings", "vertices": graph.node_count(), "dimensions": config.dimensions }),
    );
    let by_node: serde_json::Map<String, Value> = graph
        .nodes()
        .map(|v| (graph.name(v).to_string(), json!(vectors[v as usize])))
        .collect();
    Ok(json!({ "method": "node2vec", "dimensions": config.dimensions, "embeddings": by_node }))
}
