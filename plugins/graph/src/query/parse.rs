//! Reading a query: text to tokens to a [`Query`], with errors that say
//! what was expected where. Knows nothing of graphs.

use serde_json::Value;

use super::{
    Comparison, Condition, Direction, EdgePattern, Item, NodePattern, Operand, Query, QueryError,
};

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
