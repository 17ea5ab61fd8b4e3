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

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

/// Why a query could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Number(f64),
    Text(String),
    Symbol(&'static str),
}

const SYMBOLS: [&str; 16] = [
    "<-[", "]->", "-[", "]-", "<>", "!=", "<=", ">=", "(", ")", ":", ".", ",", "=", "<", ">",
];

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    'outer: while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
        for symbol in SYMBOLS {
            if rest.starts_with(symbol) {
                tokens.push(Token::Symbol(symbol));
                i += symbol.chars().count();
                continue 'outer;
            }
        }
        if c == '\'' || c == '"' {
            let end = chars[i + 1..].iter().position(|&d| d == c).ok_or_else(|| {
                QueryError(format!("unterminated string starting at character {i}"))
            })?;
            tokens.push(Token::Text(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let literal: String = chars[start..i].iter().collect();
            let number = literal
                .parse()
                .map_err(|_| QueryError(format!("'{literal}' is not a number")))?;
            tokens.push(Token::Number(number));
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            return Err(QueryError(format!(
                "unexpected character '{c}' at position {i}"
            )));
        }
    }
    Ok(tokens)
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

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn symbol(&mut self, symbol: &str) -> bool {
        if self.peek() == Some(&Token::Symbol(leak(symbol))) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), QueryError> {
        if self.symbol(symbol) {
            Ok(())
        } else {
            Err(QueryError(format!(
                "expected '{symbol}' at token {}, found {:?}",
                self.at + 1,
                self.peek()
            )))
        }
    }

    fn word(&mut self, what: &str) -> Result<String, QueryError> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w),
            other => Err(QueryError(format!("expected {what}, found {other:?}"))),
        }
    }

    fn label(&mut self) -> Result<Option<String>, QueryError> {
        if self.symbol(":") {
            Ok(Some(self.word("a label")?))
        } else {
            Ok(None)
        }
    }

    fn node(&mut self) -> Result<NodePattern, QueryError> {
        self.expect_symbol("(")?;
        let variable = self.word("a variable")?;
        let label = self.label()?;
        self.expect_symbol(")")?;
        Ok(NodePattern { variable, label })
    }

    fn edge(&mut self) -> Result<Option<EdgePattern>, QueryError> {
        let incoming = if self.symbol("<-[") {
            true
        } else if self.symbol("-[") {
            false
        } else {
            return Ok(None);
        };
        let variable = match self.peek() {
            Some(Token::Word(_)) => Some(self.word("an edge variable")?),
            _ => None,
        };
        let label = self.label()?;
        let direction = if self.symbol("]->") {
            if incoming {
                return Err(QueryError(
                    "an edge cannot point both ways: use '-[...]-'".into(),
                ));
            }
            Direction::Out
        } else {
            self.expect_symbol("]-")?;
            if incoming {
                Direction::In
            } else {
                Direction::Either
            }
        };
        Ok(Some(EdgePattern {
            variable,
            label,
            direction,
        }))
    }

    fn operand(&mut self) -> Result<Operand, QueryError> {
        match self.next() {
            Some(Token::Number(n)) => Ok(Operand::Literal(serde_json::json!(n))),
            Some(Token::Text(t)) => Ok(Operand::Literal(Value::String(t))),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => {
                Ok(Operand::Literal(Value::Bool(true)))
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => {
                Ok(Operand::Literal(Value::Bool(false)))
            }
            Some(Token::Word(variable)) => {
                self.expect_symbol(".")?;
                Ok(Operand::Property(variable, self.word("a property name")?))
            }
            other => Err(QueryError(format!(
                "expected a property or a literal, found {other:?}"
            ))),
        }
    }

    fn comparison(&mut self) -> Result<Comparison, QueryError> {
        let table = [
            ("=", Comparison::Equal),
            ("<>", Comparison::NotEqual),
            ("!=", Comparison::NotEqual),
            ("<=", Comparison::LessOrEqual),
            (">=", Comparison::GreaterOrEqual),
            ("<", Comparison::Less),
            (">", Comparison::Greater),
        ];
        for (symbol, comparison) in table {
            if self.symbol(symbol) {
                return Ok(comparison);
            }
        }
        Err(QueryError(format!(
            "expected a comparison, found {:?}",
            self.peek()
        )))
    }
}

fn leak(symbol: &str) -> &'static str {
    SYMBOLS
        .iter()
        .find(|s| **s == symbol)
        .copied()
        .unwrap_or("")
}

impl Query {
    /// Parses `text` per the grammar above.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let mut p = Parser {
            tokens: tokenize(text)?,
            at: 0,
        };
        if !p.keyword("match") {
            return Err(QueryError("a query starts with MATCH".into()));
        }
        let mut nodes = vec![p.node()?];
        let mut edges = Vec::new();
        while let Some(edge) = p.edge()? {
            edges.push(edge);
            nodes.push(p.node()?);
        }
        let mut conditions = Vec::new();
        if p.keyword("where") {
            loop {
                let left = p.operand()?;
                let comparison = p.comparison()?;
                let right = p.operand()?;
                conditions.push(Condition {
                    left,
                    comparison,
                    right,
                });
                if !p.keyword("and") {
                    break;
                }
            }
        }
        if !p.keyword("return") {
            return Err(QueryError(format!("expected RETURN, found {:?}", p.peek())));
        }
        let (mut items, mut columns) = (Vec::new(), Vec::new());
        loop {
            let variable = p.word("a variable to return")?;
            if p.symbol(".") {
                let property = p.word("a property name")?;
                columns.push(format!("{variable}.{property}"));
                items.push(Item::Property(variable, property));
            } else {
                columns.push(variable.clone());
                items.push(Item::Id(variable));
            }
            if !p.symbol(",") {
                break;
            }
        }
        let limit = if p.keyword("limit") {
            match p.next() {
                Some(Token::Number(n)) if n >= 0.0 && n.fract() == 0.0 => Some(n as usize),
                other => {
                    return Err(QueryError(format!(
                        "LIMIT needs a whole number, found {other:?}"
                    )));
                }
            }
        } else {
            None
        };
        if let Some(extra) = p.peek() {
            return Err(QueryError(format!("unexpected {extra:?} after the query")));
        }
        let edge_variables: Vec<&str> =
            edges.iter().filter_map(|e| e.variable.as_deref()).collect();
        for (i, variable) in edge_variables.iter().enumerate() {
            if nodes.iter().any(|n| n.variable == *variable) {
                return Err(QueryError(format!(
                    "'{variable}' names both a node and an edge"
                )));
            }
            if edge_variables[..i].contains(variable) {
                return Err(QueryError(format!(
                    "edge variable '{variable}' is bound twice; give each edge its own"
                )));
            }
        }
        let known: Vec<&str> = nodes
            .iter()
            .map(|n| n.variable.as_str())
            .chain(edge_variables.iter().copied())
            .collect();
        let mentioned = items
            .iter()
            .map(|i| match i {
                Item::Property(v, _) | Item::Id(v) => v,
            })
            .chain(conditions.iter().flat_map(|c| {
                [&c.left, &c.right].into_iter().filter_map(|o| match o {
                    Operand::Property(v, _) => Some(v),
                    Operand::Literal(_) => None,
                })
            }));
        for variable in mentioned {
            if !known.contains(&variable.as_str()) {
                return Err(QueryError(format!("'{variable}' is not bound in MATCH")));
            }
        }
        Ok(Self {
            nodes,
            edges,
            conditions,
            items,
            columns,
            limit,
        })
    }
}

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
