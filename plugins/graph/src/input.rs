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

/// The graph part of every operation's params.
#[derive(Clone, Debug, Deserialize)]
pub struct GraphInput {
    /// Edge list.
    pub edges: Vec<Edge>,
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
        "directed": { "type": "boolean", "default": false },
        "nodes": { "type": "array", "items": node }
    });
    match properties {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
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
