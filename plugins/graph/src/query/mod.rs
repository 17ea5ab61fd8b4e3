//! A small PGQL-like pattern query over a property graph.
//!
//! ```text
//! query     := MATCH path [WHERE condition (AND condition)*]
//!              RETURN item (',' item)* [LIMIT integer]
//! path      := node (edge node)*
//! node      := '(' variable [':' label] ')'
//! edge      := '-[' [variable] [':' label] ']->'     outgoing
//!            | '<-[' [variable] [':' label] ']-'     incoming
//!            | '-[' [variable] [':' label] ']-'      either direction
//! condition := operand comparison operand
//! operand   := variable '.' property | literal
//! comparison:= '=' | '<>' | '!=' | '<' | '<=' | '>' | '>='
//! item      := variable '.' property | variable      (a node's id, or an
//!              edge as {"from", "to", its properties…})
//! literal   := number | 'text' | "text" | true | false
//! ```
//!
//! Keywords are case-insensitive. A node's label is its `label` property;
//! an edge's label is the edge's `label`. A variable on an edge binds it,
//! so conditions and items can use its properties (`weight`, `label` and
//! any others it was given): `MATCH (a)-[e:KNOWS]->(b) WHERE e.since <
//! 2015 RETURN b, e.since`. Matching is homomorphic (one
//! node may bind two variables), as PGQL's default. Comparing values of
//! different types is false, never an error.

mod matching;
mod parse;

use std::fmt;

use serde_json::Value;

pub use matching::{PropertyEdge, PropertyGraph};

/// Why a query could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Out,
    In,
    Either,
}

#[derive(Clone, Debug, PartialEq)]
struct NodePattern {
    variable: String,
    label: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct EdgePattern {
    variable: Option<String>,
    label: Option<String>,
    direction: Direction,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Property(String, String),
    Literal(Value),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Clone, Debug, PartialEq)]
struct Condition {
    left: Operand,
    comparison: Comparison,
    right: Operand,
}

#[derive(Clone, Debug, PartialEq)]
enum Item {
    Property(String, String),
    Id(String),
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    nodes: Vec<NodePattern>,
    edges: Vec<EdgePattern>,
    conditions: Vec<Condition>,
    items: Vec<Item>,
    /// Column names, as written.
    pub columns: Vec<String>,
    limit: Option<usize>,
}
