//! Edge-list input: `{"edges": [[u, v] or [u, v, weight], …], "directed":
//! bool, "nodes": [...]}` with node ids as JSON strings or integers.
//!
//! Edges are deserialized straight into compact tuples (no intermediate
//! `serde_json::Value` per edge): at a million edges that is most of the
//! cost of a job.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A node id as the client wrote it. Integers (and text that is exactly an
/// integer's decimal form) are kept as numbers, so `5` and `"5"` name the
/// same node, and a graph of integer ids is built without allocating or
/// hashing a string per endpoint. Shown to clients always as text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeName {
    /// An integer id.
    Integer(i64),
    /// Any other id.
    Text(String),
}

impl NodeName {
    /// The id written as `text`: an integer when the text is one's
    /// canonical decimal form (`"05"` stays text, so it is not node 5).
    pub fn text(text: impl Into<String>) -> Self {
        let text = text.into();
        match text.parse::<i64>() {
            Ok(number) if canonical(&text) => Self::Integer(number),
            _ => Self::Text(text),
        }
    }
}

/// Is `text` (which parses as an i64) exactly how it is written in
/// decimal: no sign `+`, no leading zeros, no `-0`?
fn canonical(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let leading_zero = digits.starts_with('0') && text != "0";
    !(text.starts_with('+') || leading_zero)
}

impl From<&str> for NodeName {
    fn from(text: &str) -> Self {
        Self::text(text)
    }
}

impl From<i64> for NodeName {
    fn from(number: i64) -> Self {
        Self::Integer(number)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Integer(number) => write!(f, "{number}"),
            Self::Text(text) => f.write_str(text),
        }
    }
}

impl serde::Serialize for NodeName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Integer(number) => serializer.collect_str(number),
            Self::Text(text) => serializer.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for NodeName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl Visitor<'_> for NodeVisitor {
            type Value = NodeName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node id (string or integer)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeName, E> {
                Ok(NodeName::text(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<NodeName, E> {
                Ok(NodeName::text(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeName, E> {
                Ok(i64::try_from(v)
                    .map_or_else(|_| NodeName::Text(v.to_string()), NodeName::Integer))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeName, E> {
                Ok(NodeName::Integer(v))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// One edge: source, target, weight (1.0 when omitted), an optional label
/// and optional properties. Written `[from, to]`, `[from, to, weight]`, or
/// `{"from", "to", "weight"?, "label"?, "properties"?: {…}}`.
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
    /// Other properties, for pattern queries (`-[e]->` … `e.since`);
    /// boxed so that the common edge without any stays small.
    pub properties: Option<Box<Properties>>,
}

/// Named values of a node or an edge.
pub type Properties = serde_json::Map<String, serde_json::Value>;

/// Names a property may not take: the edge's own fields, and the stored
/// columns' names.
pub(crate) const EDGE_FIELDS: [&str; 6] = ["from", "to", "weight", "label", "source", "target"];

fn add_property<E: de::Error>(
    properties: &mut Option<Box<Properties>>,
    name: String,
    value: serde_json::Value,
) -> Result<(), E> {
    if EDGE_FIELDS.contains(&name.as_str()) {
        return Err(E::custom(format!(
            "a property cannot be called '{name}', which names an edge field"
        )));
    }
    properties
        .get_or_insert_with(Default::default)
        .insert(name, value);
    Ok(())
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
                f.write_str("an edge [from, to], [from, to, weight] or {\"from\", \"to\", \"weight\", \"label\", \"properties\"}")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Edge, A::Error> {
                let (mut from, mut to, mut weight, mut label) = (None, None, None, None);
                let mut properties: Option<Box<Properties>> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "from" => from = Some(map.next_value()?),
                        "to" => to = Some(map.next_value()?),
                        "weight" => weight = Some(check_weight(map.next_value()?)?),
                        "label" => label = Some(map.next_value()?),
                        "properties" => {
                            let nested: Properties = map.next_value().map_err(|_| {
                                de::Error::custom(
                                    "\"properties\" must be an object of named values",
                                )
                            })?;
                            for (name, value) in nested {
                                add_property(&mut properties, name, value)?;
                            }
                        }
                        // Any other field is a property too, inline and
                        // stored alike.
                        _ => {
                            let value = map.next_value()?;
                            add_property(&mut properties, key, value)?;
                        }
                    }
                }
                Ok(Edge {
                    from: from.ok_or_else(|| de::Error::missing_field("from"))?,
                    to: to.ok_or_else(|| de::Error::missing_field("to"))?,
                    weight: weight.unwrap_or(1.0),
                    label,
                    properties,
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
                    properties: None,
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
                            "label": { "type": "string" },
                            "properties": {
                                "type": "object",
                                "description": "Edge properties for pattern queries (-[e]-> … e.since); any other field of the edge is one too, as in stored graphs."
                            },
                            "source": false,
                            "target": false
                        },
                        "required": ["from", "to"]
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
    pub fn resolve(self, host: &dyn weft_sdk::Host) -> Result<Self, weft_sdk::EngineError> {
        self.read(host, false)
    }

    /// As [`GraphInput::resolve`], with the stored edges' other columns
    /// as their properties (what pattern queries need; the algorithms do
    /// not read them).
    pub fn resolve_with_properties(
        self,
        host: &dyn weft_sdk::Host,
    ) -> Result<Self, weft_sdk::EngineError> {
        self.read(host, true)
    }

    fn read(
        mut self,
        host: &dyn weft_sdk::Host,
        with_properties: bool,
    ) -> Result<Self, weft_sdk::EngineError> {
        let Some(name) = self.graph.take() else {
            return Ok(self);
        };
        if !self.edges.is_empty() {
            return Err(weft_sdk::EngineError::InvalidParams(
                "give either edges or a stored graph, not both".into(),
            ));
        }
        let edges = crate::stored::edges_dataset(&name);
        let shape = host.dataset_shape(&edges).map_err(|e| match e {
            weft_sdk::StorageFailure::NotFound(_) => weft_sdk::EngineError::InvalidParams(format!(
                "no stored graph '{name}'; store it with POST /api/v1/graphs/{name}"
            )),
            other => other.into(),
        })?;
        let has = |column: &str| shape.columns.iter().any(|c| c == column);
        let property_columns: Vec<&String> = if with_properties {
            let core = ["source", "target", "weight", "label"];
            shape
                .columns
                .iter()
                .filter(|c| !core.contains(&c.as_str()))
                .collect()
        } else {
            Vec::new()
        };
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
            let mut properties = Vec::with_capacity(property_columns.len());
            for column in &property_columns {
                let read = host.read_chunk(&edges, column, chunk)?;
                properties.push((column.as_str(), json_values(read.values), read.valid));
            }
            for (i, (from, to)) in sources.into_iter().zip(targets).enumerate() {
                let weight = weights
                    .as_ref()
                    .filter(|(_, valid)| valid.get(i) != Some(&false))
                    .map_or(1.0, |(w, _)| w[i]);
                let label = labels
                    .as_ref()
                    .filter(|(_, valid)| valid.get(i) != Some(&false))
                    .map(|(l, _)| l[i].clone());
                let mut present = properties
                    .iter()
                    .filter(|(_, _, valid)| valid.get(i) != Some(&false))
                    .map(|(name, values, _)| ((*name).to_owned(), values[i].clone()))
                    .peekable();
                let properties = present
                    .peek()
                    .is_some()
                    .then(|| Box::new(present.collect::<Properties>()));
                self.edges.push(Edge {
                    from,
                    to,
                    weight: check_weight::<serde_json::Error>(weight)
                        .map_err(|e| weft_sdk::EngineError::InvalidParams(e.to_string()))?,
                    label,
                    properties,
                });
            }
        }
        let nodes = crate::stored::nodes_dataset(&name);
        if let Ok(shape) = host.dataset_shape(&nodes) {
            for chunk in 0..shape.chunks {
                self.nodes
                    .extend(names(host.read_chunk(&nodes, "id", chunk)?.values)?);
            }
        }
        Ok(self)
    }
}

/// The properties of a stored graph's nodes, by node id: every column of
/// `<graph>.nodes` but `id`, as JSON values (nulls left out; timestamps as
/// microseconds). Empty when the graph was stored without nodes.
pub fn stored_node_properties(
    host: &dyn weft_sdk::Host,
    graph: &str,
) -> Result<HashMap<String, Properties>, weft_sdk::EngineError> {
    let nodes = crate::stored::nodes_dataset(graph);
    let mut properties: HashMap<String, Properties> = HashMap::new();
    let Ok(shape) = host.dataset_shape(&nodes) else {
        return Ok(properties);
    };
    for chunk in 0..shape.chunks {
        let ids: Vec<String> = names(host.read_chunk(&nodes, "id", chunk)?.values)?
            .iter()
            .map(NodeName::to_string)
            .collect();
        for column in shape.columns.iter().filter(|c| *c != "id") {
            let read = host.read_chunk(&nodes, column, chunk)?;
            for (row, (id, value)) in ids.iter().zip(json_values(read.values)).enumerate() {
                if read.valid.get(row) != Some(&false) {
                    properties
                        .entry(id.clone())
                        .or_default()
                        .insert(column.clone(), value);
                }
            }
        }
    }
    Ok(properties)
}

/// A column's values as JSON (timestamps as microseconds).
fn json_values(values: weft_sdk::ColumnValues) -> Vec<serde_json::Value> {
    values.to_json()
}

/// Node names from an id column.
fn names(values: weft_sdk::ColumnValues) -> Result<Vec<NodeName>, weft_sdk::EngineError> {
    match values {
        weft_sdk::ColumnValues::I64(ids) => Ok(ids.into_iter().map(NodeName::Integer).collect()),
        weft_sdk::ColumnValues::Text(ids) => Ok(ids.into_iter().map(NodeName::text).collect()),
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
    fn only_canonical_integer_text_is_an_integer() {
        assert_eq!(NodeName::text("5"), NodeName::Integer(5));
        assert_eq!(NodeName::text("-3"), NodeName::Integer(-3));
        for text in ["05", "+5", "-0", " 5", "5.0", "x"] {
            assert_eq!(NodeName::text(text), NodeName::Text(text.into()), "{text}");
        }
        let huge: NodeName = serde_json::from_str("18446744073709551615").expect("parses");
        assert_eq!(huge, NodeName::Text("18446744073709551615".into()));
        assert_eq!(
            serde_json::to_string(&NodeName::Integer(7)).expect("json"),
            r#""7""#
        );
        assert_eq!(NodeName::Integer(-2).to_string(), "-2");
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
        // Other fields are properties, inline as in stored graphs; the
        // stored columns' names are not.
        let input: GraphInput =
            serde_json::from_str(r#"{"edges": [{"from": 1, "to": 2, "colour": 3}]}"#)
                .expect("parses");
        let properties = input.edges[0].properties.as_deref().expect("properties");
        assert_eq!(properties["colour"], 3);
        assert!(
            serde_json::from_str::<GraphInput>(r#"{"edges": [{"from": 1, "to": 2, "source": 3}]}"#)
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
                    ("since", ColumnValues::I64(vec![2001, 2002, 2003])),
                ],
            )
            .with_dataset(
                "net.nodes",
                vec![("id", ColumnValues::I64(vec![1, 2, 3, 9]))],
            );
        let input: GraphInput = serde_json::from_str(r#"{"graph": "net"}"#).expect("parses");
        let input = input.resolve(&host).expect("reads");
        assert_eq!(input.edges.len(), 3);
        assert_eq!(input.edges[1].from, NodeName::Integer(2));
        assert_eq!(input.edges[2].weight, 2.0);
        assert!(
            input.edges[0].properties.is_none(),
            "only queries read properties"
        );
        let with: GraphInput = serde_json::from_str(r#"{"graph": "net"}"#).expect("parses");
        let with = with.resolve_with_properties(&host).expect("reads");
        let since = with.edges[1]
            .properties
            .as_ref()
            .map(|p| p["since"].clone());
        assert_eq!(since, Some(serde_json::json!(2002)));
        assert_eq!(
            input.nodes.len(),
            4,
            "isolated node 9 comes from the nodes dataset"
        );
        let missing: GraphInput = serde_json::from_str(r#"{"graph": "nope"}"#).expect("parses");
        assert!(
            stored_node_properties(&host, "nope")
                .expect("no nodes")
                .is_empty()
        );
        assert!(missing.resolve(&host).is_err());
    }

    #[test]
    fn stored_node_properties_are_read_by_id_without_nulls() {
        use weft_sdk::{ColumnValues, RecordingHost};
        let host = RecordingHost::new().with_dataset(
            "people.nodes",
            vec![
                ("id", ColumnValues::Text(vec!["ann".into(), "bob".into()])),
                ("age", ColumnValues::I64(vec![31, 0])),
                (
                    "city",
                    ColumnValues::Text(vec!["Oslo".into(), "Rome".into()]),
                ),
            ],
        );
        let properties = stored_node_properties(&host, "people").expect("reads");
        assert_eq!(properties["ann"]["age"], 31);
        assert_eq!(properties["bob"]["city"], "Rome");
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
