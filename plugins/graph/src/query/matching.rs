//! Running a [`Query`] over a [`PropertyGraph`]: depth-first extension of
//! partial matches, edge by edge of the pattern. Never parses text.

use std::collections::HashMap;

use serde_json::Value;

use super::{Comparison, Condition, Direction, Item, NodePattern, Operand, Query};

/// One edge of a [`PropertyGraph`]: tail, head and properties (its
/// `label` and `weight` among them).
pub type PropertyEdge = (String, String, serde_json::Map<String, Value>);

/// A property graph: node properties and directed edges with properties.
pub struct PropertyGraph {
    /// Node ids.
    pub ids: Vec<String>,
    properties: Vec<serde_json::Map<String, Value>>,
    edges: Vec<(usize, usize, serde_json::Map<String, Value>)>,
    /// Per node: (neighbour, edge number).
    outgoing: Vec<Vec<(usize, usize)>>,
    incoming: Vec<Vec<(usize, usize)>>,
}

/// What a query variable is bound to.
#[derive(Clone, Copy)]
enum Bound {
    Node(usize),
    Edge(usize),
}

impl PropertyGraph {
    /// Builds from edges and per-node properties.
    pub fn new(
        edges: Vec<PropertyEdge>,
        properties: HashMap<String, serde_json::Map<String, Value>>,
    ) -> Self {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut ids = Vec::new();
        let mut intern = |id: &str, ids: &mut Vec<String>| -> usize {
            *index.entry(id.to_owned()).or_insert_with(|| {
                ids.push(id.to_owned());
                ids.len() - 1
            })
        };
        let mut arcs = Vec::with_capacity(edges.len());
        for (from, to, edge_properties) in edges {
            arcs.push((
                intern(&from, &mut ids),
                intern(&to, &mut ids),
                edge_properties,
            ));
        }
        let mut names: Vec<&String> = properties.keys().collect();
        names.sort();
        for name in names {
            intern(name, &mut ids);
        }
        let n = ids.len();
        let mut outgoing = vec![Vec::new(); n];
        let mut incoming = vec![Vec::new(); n];
        for (number, (from, to, _)) in arcs.iter().enumerate() {
            outgoing[*from].push((*to, number));
            incoming[*to].push((*from, number));
        }
        let props = ids
            .iter()
            .map(|id| properties.get(id).cloned().unwrap_or_default())
            .collect();
        Self {
            ids,
            properties: props,
            edges: arcs,
            outgoing,
            incoming,
        }
    }

    fn property(&self, bound: Bound, name: &str) -> Option<&Value> {
        match bound {
            Bound::Node(n) => self.properties[n].get(name),
            Bound::Edge(e) => self.edges[e].2.get(name),
        }
    }

    /// A variable's value as a row item: a node's id, or an edge's ends
    /// and properties.
    fn item(&self, bound: Bound) -> Value {
        match bound {
            Bound::Node(n) => Value::String(self.ids[n].clone()),
            Bound::Edge(e) => {
                let (from, to, properties) = &self.edges[e];
                let mut object = properties.clone();
                object.insert("from".into(), Value::String(self.ids[*from].clone()));
                object.insert("to".into(), Value::String(self.ids[*to].clone()));
                Value::Object(object)
            }
        }
    }

    /// Runs `query`; at most `cap` rows.
    pub fn run(&self, query: &Query, cap: usize) -> Vec<Vec<Value>> {
        let cap = query.limit.unwrap_or(cap).min(cap);
        let mut rows = Vec::new();
        let mut bound: Vec<usize> = Vec::with_capacity(query.nodes.len());
        let mut bound_edges: Vec<usize> = Vec::with_capacity(query.edges.len());
        for start in 0..self.ids.len() {
            if rows.len() >= cap {
                break;
            }
            if self.node_fits(&query.nodes[0], start) {
                bound.push(start);
                self.extend(query, &mut bound, &mut bound_edges, &mut rows, cap);
                bound.pop();
            }
        }
        rows
    }

    fn node_fits(&self, pattern: &NodePattern, node: usize) -> bool {
        pattern.label.as_ref().is_none_or(|label| {
            self.properties[node].get("label").and_then(Value::as_str) == Some(label)
        })
    }

    /// Extends a partial match (`bound` nodes joined by `bound_edges`) by
    /// the next edge of the pattern, or records it as a row when complete.
    fn extend(
        &self,
        query: &Query,
        bound: &mut Vec<usize>,
        bound_edges: &mut Vec<usize>,
        rows: &mut Vec<Vec<Value>>,
        cap: usize,
    ) {
        if rows.len() >= cap {
            return;
        }
        let step = bound.len() - 1;
        if step == query.edges.len() {
            let binding = |variable: &str| {
                let node = query.nodes.iter().position(|n| n.variable == variable);
                let edge = || {
                    query
                        .edges
                        .iter()
                        .position(|e| e.variable.as_deref() == Some(variable))
                };
                node.map(|i| Bound::Node(bound[i]))
                    .or_else(|| edge().map(|i| Bound::Edge(bound_edges[i])))
            };
            if query.conditions.iter().all(|c| self.holds(c, &binding)) {
                rows.push(
                    query
                        .items
                        .iter()
                        .map(|item| match item {
                            Item::Id(v) => binding(v).map_or(Value::Null, |b| self.item(b)),
                            Item::Property(v, p) => binding(v)
                                .and_then(|b| self.property(b, p).cloned())
                                .unwrap_or(Value::Null),
                        })
                        .collect(),
                );
            }
            return;
        }
        let edge = &query.edges[step];
        let next = &query.nodes[step + 1];
        let from = bound[step];
        // A variable seen earlier must bind the same node again.
        let required = query.nodes[..=step]
            .iter()
            .position(|n| n.variable == next.variable)
            .map(|i| bound[i]);
        let mut candidates: Vec<(usize, usize)> = Vec::new();
        let fits = |&&(_, number): &&(usize, usize)| {
            edge.label.as_ref().is_none_or(|l| {
                self.edges[number].2.get("label").and_then(Value::as_str) == Some(l)
            })
        };
        if matches!(edge.direction, Direction::Out | Direction::Either) {
            candidates.extend(self.outgoing[from].iter().filter(fits));
        }
        if matches!(edge.direction, Direction::In | Direction::Either) {
            candidates.extend(self.incoming[from].iter().filter(fits));
        }
        for (candidate, number) in candidates {
            if required.is_some_and(|r| r != candidate) || !self.node_fits(next, candidate) {
                continue;
            }
            bound.push(candidate);
            bound_edges.push(number);
            self.extend(query, bound, bound_edges, rows, cap);
            bound_edges.pop();
            bound.pop();
        }
    }

    fn holds(&self, condition: &Condition, binding: &dyn Fn(&str) -> Option<Bound>) -> bool {
        let value = |operand: &Operand| match operand {
            Operand::Literal(v) => Some(v.clone()),
            Operand::Property(v, p) => binding(v).and_then(|b| self.property(b, p).cloned()),
        };
        let (Some(left), Some(right)) = (value(&condition.left), value(&condition.right)) else {
            return false;
        };
        let ordering = match (&left, &right) {
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .zip(b.as_f64())
                .and_then(|(a, b)| a.partial_cmp(&b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        };
        let Some(ordering) = ordering else {
            return false;
        };
        use std::cmp::Ordering::{Equal, Greater, Less};
        match condition.comparison {
            Comparison::Equal => ordering == Equal,
            Comparison::NotEqual => ordering != Equal,
            Comparison::Less => ordering == Less,
            Comparison::LessOrEqual => ordering != Greater,
            Comparison::Greater => ordering == Greater,
            Comparison::GreaterOrEqual => ordering != Less,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn people() -> PropertyGraph {
        let edge = |a: &str, b: &str, l: &str| {
            let serde_json::Value::Object(properties) = json!({ "label": l, "weight": 1.0 }) else {
                unreachable!("object literal")
            };
            (a.to_owned(), b.to_owned(), properties)
        };
        let mut properties = HashMap::new();
        for (id, name, age) in [
            ("1", "Ann", 41),
            ("2", "Bob", 25),
            ("3", "Cid", 35),
            ("4", "Dee", 52),
        ] {
            let serde_json::Value::Object(map) =
                json!({ "name": name, "age": age, "label": "Person" })
            else {
                unreachable!("object literal")
            };
            properties.insert(id.to_owned(), map);
        }
        PropertyGraph::new(
            vec![
                edge("1", "2", "KNOWS"),
                edge("1", "3", "KNOWS"),
                edge("3", "4", "KNOWS"),
                edge("2", "4", "LIKES"),
            ],
            properties,
        )
    }

    #[test]
    fn the_issue_example_query() {
        let q =
            Query::parse("MATCH (a)-[:KNOWS]->(b) WHERE a.age > 30 RETURN b.name").expect("parses");
        let rows = people().run(&q, 100);
        assert_eq!(
            rows,
            vec![vec![json!("Bob")], vec![json!("Cid")], vec![json!("Dee")]]
        );
        assert_eq!(q.columns, vec!["b.name"]);
    }

    #[test]
    fn paths_directions_labels_and_limits() {
        let g = people();
        let two_hops = Query::parse("match (a:Person)-[:KNOWS]->(b)-[]->(c) return a.name, c")
            .expect("parses");
        assert_eq!(
            g.run(&two_hops, 100),
            vec![
                vec![json!("Ann"), json!("4")],
                vec![json!("Ann"), json!("4")]
            ]
        );
        let incoming = Query::parse("MATCH (d)<-[:LIKES]-(x) RETURN x.name").expect("parses");
        assert_eq!(g.run(&incoming, 100), vec![vec![json!("Bob")]]);
        let either =
            Query::parse("MATCH (d)-[:KNOWS]-(x) WHERE d.name = 'Cid' RETURN x.name LIMIT 5")
                .expect("parses");
        assert_eq!(g.run(&either, 100).len(), 2);
        let limited = Query::parse("MATCH (a)-[]->(b) RETURN a LIMIT 1").expect("parses");
        assert_eq!(g.run(&limited, 100).len(), 1);
    }

    #[test]
    fn edge_variables_expose_edge_properties() {
        let mut g = people();
        g.edges[1].2.insert("since".into(), json!(2011));
        g.edges[2].2.insert("since".into(), json!(2019));
        let q =
            Query::parse("MATCH (a)-[e:KNOWS]->(b) WHERE e.since < 2015 RETURN b.name, e.since")
                .expect("parses");
        assert_eq!(g.run(&q, 100), vec![vec![json!("Cid"), json!(2011)]]);
        let whole = Query::parse("MATCH (a)-[e:LIKES]->(b) RETURN e").expect("parses");
        assert_eq!(
            g.run(&whole, 100),
            vec![vec![
                json!({ "from": "2", "to": "4", "label": "LIKES", "weight": 1.0 })
            ]]
        );
        let unweighted =
            Query::parse("MATCH (a)-[e]-(b) WHERE e.weight > 1 RETURN a").expect("parses");
        assert!(g.run(&unweighted, 100).is_empty());
    }

    #[test]
    fn malformed_queries_say_what_is_wrong() {
        for (bad, says) in [
            ("RETURN a", "MATCH"),
            ("MATCH (a RETURN a", "')'"),
            ("MATCH (a)-[:X]->(b) RETURN c", "'c' is not bound"),
            ("MATCH (a) WHERE a.x ~ 3 RETURN a", "unexpected character"),
            ("MATCH (a) RETURN a LIMIT x", "LIMIT"),
            ("MATCH (a) WHERE a.name = 'open RETURN a", "unterminated"),
            ("MATCH (a)-[a]->(b) RETURN b", "both a node and an edge"),
            ("MATCH (a)-[e]->(b)-[e]->(c) RETURN c", "bound twice"),
        ] {
            let error = Query::parse(bad).expect_err(bad);
            assert!(error.0.contains(says), "{bad}: {}", error.0);
        }
    }
}
