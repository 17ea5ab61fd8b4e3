//! Edge-list input: `{"edges": [[u, v] or [u, v, weight], …], "directed":
//! bool, "nodes": [...]}` with node ids as JSON strings or integers.
//!
//! Edges are deserialized straight into compact tuples (no intermediate
//! `serde_json::Value` per edge): at a million edges that is most of the
//! cost of a job.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A node id as the client wrote it. Integers become their decimal text, so
/// `5` and `"5"` name the same node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName(pub String);

impl<'de> Deserialize<'de> for NodeName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl Visitor<'_> for NodeVisitor {
            type Value = NodeName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node id (string or integer)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeName, E> {
                Ok(NodeName(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<NodeName, E> {
                Ok(NodeName(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeName, E> {
                Ok(NodeName(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeName, E> {
                Ok(NodeName(v.to_string()))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// One edge: source, target, weight (1.0 when omitted) and an optional
/// label. Written `[from, to]`, `[from, to, weight]`, or
/// `{"from", "to", "weight"?, "label"?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// Tail.
    pub from: NodeName,
    /// Head.
    pub to: NodeName,
    /// Weight; finite.
    pub weight: f64,
    /// Label, for pattern queries (`-[:KNOWS]->`).
    pub label: Option<String>,
}

fn check_weight<E: de::Error>(weight: f64) -> Result<f64, E> {
    if weight.is_finite() {
        Ok(weight)
    } else {
        Err(E::custom("edge weights must be finite numbers"))
    }
}

impl<'de> Deserialize<'de> for Edge {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EdgeVisitor;
        impl<'de> Visitor<'de> for EdgeVisitor {
            type Value = Edge;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an edge [from, to], [from, to, weight] or {\"from\", \"to\", \"weight\", \"label\"}")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Edge, A::Error> {
                let (mut from, mut to, mut weight, mut label) = (None, None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "from" => from = Some(map.next_value()?),
                        "to" => to = Some(map.next_value()?),
                        "weight" => weight = Some(check_weight(map.next_value()?)?),
                        "label" => label = Some(map.next_value()?),
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["from", "to", "weight", "label"],
                            ));
                        }
                    }
                }
                Ok(Edge {
                    from: from.ok_or_else(|| de::Error::missing_field("from"))?,
                    to: to.ok_or_else(|| de::Error::missing_field("to"))?,
                    weight: weight.unwrap_or(1.0),
                    label,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Edge, A::Error> {
                let from = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let to = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let weight = check_weight(seq.next_element()?.unwrap_or(1.0))?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(4, &self));
                }
                Ok(Edge {
                    from,
                    to,
                    weight,
                    label: None,
                })
            }
        }
        deserializer.deserialize_any(EdgeVisitor)
    }
}

/// The graph part of every operation's params: an inline edge list, or
/// the name of a graph stored in host storage (`POST /api/v1/graphs/{name}`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct GraphInput {
    /// Edge list.
    #[serde(default)]
    pub edges: Vec<Edge>,
    /// A stored graph to read instead of `edges`.
    #[serde(default)]
    pub graph: Option<String>,
    /// Directed graph? Defaults to undirected, as networkx's `Graph`.
    #[serde(default)]
    pub directed: bool,
    /// Extra nodes, e.g. isolated ones that appear in no edge.
    #[serde(default)]
    pub nodes: Vec<NodeName>,
}

/// JSON Schema fragment for [`GraphInput`]'s fields, shared by every
/// operation's params schema.
pub fn graph_schema_properties() -> serde_json::Map<String, serde_json::Value> {
    let node = serde_json::json!({ "type": ["string", "integer"] });
    let properties = serde_json::json!({
        "edges": {
            "type": "array",
            "description": "Edges as [from, to] or [from, to, weight].",
            "items": {
                "oneOf": [
                    {
                        "type": "array",
                        "prefixItems": [node, node, { "type": "number" }],
                        "minItems": 2,
                        "maxItems": 3
                    },
                    {
                        "type": "object",
                        "properties": {
                            "from": node, "to": node,
                            "weight": { "type": "number" },
                            "label": { "type": "string" }
                        },
                        "required": ["from", "to"],
                        "additionalProperties": false
                    }
                ]
            }
        },
        "graph": {
            "type": "string",
            "description": "A stored graph (POST /api/v1/graphs/{name}) to use instead of edges; read from host storage as typed columns."
        },
        "directed": { "type": "boolean", "default": false },
        "nodes": { "type": "array", "items": node }
    });
    match properties {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

impl GraphInput {
    /// Reads the stored graph named in `graph` (if any) into `edges`: the
    /// dataset `<graph>.edges`, columns `source`, `target` (integers or
    /// text), optional `weight` and `label`, chunk by chunk as typed
    /// columns; and the `id` column of `<graph>.nodes` when it exists.
    pub fn resolve(mut self, host: &dyn weft_sdk::Host) -> Result<Self, weft_sdk::EngineError> {
        let Some(name) = self.graph.take() else {
            return Ok(self);
        };
        if !self.edges.is_empty() {
            return Err(weft_sdk::EngineError::InvalidParams(
                "give either edges or a stored graph, not both".into(),
            ));
        }
        let edges = format!("{name}.edges");
        let shape = host.dataset_shape(&edges).map_err(|e| match e {
            weft_sdk::StorageFailure::NotFound(_) => weft_sdk::EngineError::InvalidParams(format!(
                "no stored graph '{name}'; store it with POST /api/v1/graphs/{name}"
            )),
            other => other.into(),
        })?;
        let has = |column: &str| shape.columns.iter().any(|c| c == column);
        self.edges.reserve(shape.rows as usize);
        for chunk in 0..shape.chunks {
            let sources = names(host.read_chunk(&edges, "source", chunk)?.values)?;
            let targets = names(host.read_chunk(&edges, "target", chunk)?.values)?;
            let weights = if has("weight") {
                let read = host.read_chunk(&edges, "weight", chunk)?;
                let weights = read.values.to_f64().ok_or_else(|| {
                    weft_sdk::EngineError::InvalidParams(format!("{edges}.weight must be numeric"))
                })?;
                Some((weights, read.valid))
            } else {
                None
            };
            let labels = if has("label") {
                let read = host.read_chunk(&edges, "label", chunk)?;
                match read.values {
                    weft_sdk::ColumnValues::Text(labels) => Some((labels, read.valid)),
                    _ => None,
                }
            } else {
                None
            };
            for (i, (from, to)) in sources.into_iter().zip(targets).enumerate() {
                let weight = weights
                    .as_ref()
                    .filter(|(_, valid)| valid.get(i) != Some(&false))
                    .map_or(1.0, |(w, _)| w[i]);
                let label = labels
                    .as_ref()
                    .filter(|(_, valid)| valid.get(i) != Some(&false))
                    .map(|(l, _)| l[i].clone());
                self.edges.push(Edge {
                    from,
                    to,
                    weight: check_weight::<serde_json::Error>(weight)
                        .map_err(|e| weft_sdk::EngineError::InvalidParams(e.to_string()))?,
                    label,
                });
            }
        }
        let nodes = format!("{name}.nodes");
        if let Ok(shape) = host.dataset_shape(&nodes) {
            for chunk in 0..shape.chunks {
                self.nodes
                    .extend(names(host.read_chunk(&nodes, "id", chunk)?.values)?);
            }
        }
        Ok(self)
    }
}

/// Node names from an id column.
fn names(values: weft_sdk::ColumnValues) -> Result<Vec<NodeName>, weft_sdk::EngineError> {
    match values {
        weft_sdk::ColumnValues::I64(ids) => {
            Ok(ids.into_iter().map(|i| NodeName(i.to_string())).collect())
        }
        weft_sdk::ColumnValues::Text(ids) => Ok(ids.into_iter().map(NodeName).collect()),
        _ => Err(weft_sdk::EngineError::InvalidParams(
            "stored node ids must be integers or text".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_string_ids_name_the_same_node() {
        let input: GraphInput =
            serde_json::from_str(r#"{"edges": [[1, "2"], ["1", 2, 0.5]]}"#).expect("parses");
        assert_eq!(input.edges[0].from, input.edges[1].from);
        assert_eq!(input.edges[1].weight, 0.5);
        assert_eq!(input.edges[0].weight, 1.0);
        assert!(!input.directed);
    }

    #[test]
    fn edges_may_be_objects_with_labels() {
        let input: GraphInput = serde_json::from_str(
            r#"{"edges": [{"from": 1, "to": "b", "label": "KNOWS"}, {"from": 2, "to": 3, "weight": 2.5}]}"#,
        )
        .expect("parses");
        assert_eq!(input.edges[0].label.as_deref(), Some("KNOWS"));
        assert_eq!(input.edges[1].weight, 2.5);
        assert!(serde_json::from_str::<GraphInput>(r#"{"edges": [{"from": 1}]}"#).is_err());
        assert!(
            serde_json::from_str::<GraphInput>(r#"{"edges": [{"from": 1, "to": 2, "colour": 3}]}"#)
                .is_err()
        );
    }

    #[test]
    fn a_stored_graph_is_read_from_typed_columns() {
        use weft_sdk::{ColumnValues, RecordingHost};
        let host = RecordingHost::new()
            .with_dataset(
                "net.edges",
                vec![
                    ("source", ColumnValues::I64(vec![1, 2, 3])),
                    ("target", ColumnValues::I64(vec![2, 3, 1])),
                    ("weight", ColumnValues::F64(vec![0.5, 1.5, 2.0])),
                ],
            )
            .with_dataset(
                "net.nodes",
                vec![("id", ColumnValues::I64(vec![1, 2, 3, 9]))],
            );
        let input: GraphInput = serde_json::from_str(r#"{"graph": "net"}"#).expect("parses");
        let input = input.resolve(&host).expect("reads");
        assert_eq!(input.edges.len(), 3);
        assert_eq!(input.edges[1].from, NodeName("2".into()));
        assert_eq!(input.edges[2].weight, 2.0);
        assert_eq!(
            input.nodes.len(),
            4,
            "isolated node 9 comes from the nodes dataset"
        );
        let missing: GraphInput = serde_json::from_str(r#"{"graph": "nope"}"#).expect("parses");
        assert!(missing.resolve(&host).is_err());
    }

    #[test]
    fn malformed_edges_are_refused() {
        for bad in [
            r#"{"edges": [[1]]}"#,
            r#"{"edges": [[1, 2, 3, 4]]}"#,
            r#"{"edges": [[1.5, 2]]}"#,
            r#"{"edges": [[1, 2, "heavy"]]}"#,
            r#"{"edges": [1, 2]}"#,
        ] {
            assert!(serde_json::from_str::<GraphInput>(bad).is_err(), "{bad}");
        }
    }
}
