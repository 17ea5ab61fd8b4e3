//! SQL over datasets: sqlparser (DuckDB dialect) reads the text,
//! [`bind`] turns it into a [`plan::Plan`], [`exec`] runs the plan over
//! column chunks from a [`Catalog`]. `EXPLAIN <query>` answers the plan
//! instead of running it. The module knows nothing of WIT or JSON params.

use std::collections::HashSet;

use sqlparser::ast::Statement;
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::AnalyticsError;
use crate::value::Column;
pub use exec::Progress;

pub mod aggregate;
pub mod bind;
pub mod exec;
pub mod expr;
pub mod normalize;
pub mod plan;
pub mod sketch;
pub mod udf;
pub mod versioned;
pub mod window;
pub mod zone;

/// Where datasets come from.
pub trait Catalog {
    /// The columns of `dataset` (in schema order) and its row count.
    fn columns(&self, dataset: &str) -> Result<(Vec<String>, u64), AnalyticsError>;
    /// `columns` of `dataset`, whole, and the row count.
    fn read(
        &self,
        dataset: &str,
        columns: &[String],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<Column>, usize), AnalyticsError>;
    /// As [`Catalog::read`], skipping chunks whose statistics show no row
    /// can be in every one of `ranges`; answers the rows kept and the rows
    /// skipped. A catalog without chunk statistics reads everything.
    fn read_pruned(
        &self,
        dataset: &str,
        columns: &[String],
        ranges: &[zone::Range],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<Column>, usize, u64), AnalyticsError> {
        let _ = ranges;
        let (data, rows) = self.read(dataset, columns, progress)?;
        Ok((data, rows, 0))
    }
    /// The dataset's current version (changes with its contents), where
    /// the catalog knows one: what cached answers are checked against.
    fn version(&self, dataset: &str) -> Option<u64> {
        let _ = dataset;
        None
    }
    /// The scalar functions UDF plugins bring, where the catalog has them.
    fn functions(&self) -> Option<std::rc::Rc<dyn weft_sdk::Functions>> {
        None
    }
}

/// A query's answer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// Column names.
    pub columns: Vec<String>,
    /// Column types (`BIGINT`, `DOUBLE`, `VARCHAR`, `BOOLEAN`, `TIMESTAMP`).
    pub types: Vec<String>,
    /// The result.
    pub table: crate::table::Table,
    /// The plan, for `EXPLAIN`.
    pub plan: String,
    /// Rows the scans read.
    pub scanned_rows: u64,
}

/// Parses `sql` into one statement; errors carry sqlparser's line and
/// column.
pub fn parse(sql: &str) -> Result<Statement, AnalyticsError> {
    let mut statements = Parser::parse_sql(&DuckDbDialect {}, sql)
        .map_err(|e| AnalyticsError::Invalid(format!("bad SQL: {e}")))?;
    match statements.len() {
        1 => Ok(statements.remove(0)),
        0 => Err(AnalyticsError::Invalid("the query is empty".into())),
        n => Err(AnalyticsError::Invalid(format!(
            "send one statement at a time (this text holds {n})"
        ))),
    }
}

/// Lower-case words of the query, or `None` when a wildcard (`SELECT *`,
/// `t.*`) needs every column: scans read only columns named here.
pub fn mentioned_names(sql: &str) -> Option<HashSet<String>> {
    let tokens = Tokenizer::new(&DuckDbDialect {}, sql).tokenize().ok()?;
    let mut names = HashSet::new();
    let mut previous: Option<&Token> = None;
    for token in &tokens {
        if matches!(token, Token::Whitespace(_)) {
            continue;
        }
        match token {
            Token::Word(w) => {
                names.insert(w.value.to_lowercase());
            }
            Token::Mul => {
                let wildcard = match previous {
                    None | Some(Token::Comma) | Some(Token::Period) => true,
                    Some(Token::Word(w)) => {
                        matches!(
                            w.value.to_uppercase().as_str(),
                            "SELECT" | "DISTINCT" | "ALL"
                        )
                    }
                    _ => false,
                };
                if wildcard {
                    return None;
                }
            }
            _ => {}
        }
        previous = Some(token);
    }
    Some(names)
}

/// Plans and runs `sql`.
pub fn run(
    sql: &str,
    catalog: &dyn Catalog,
    progress: &mut dyn Progress,
) -> Result<Answer, AnalyticsError> {
    let statement = parse(sql)?;
    let (query, explain) = match &statement {
        Statement::Query(q) => (q.as_ref(), false),
        Statement::Explain { statement, .. } => match statement.as_ref() {
            Statement::Query(q) => (q.as_ref(), true),
            _ => {
                return Err(AnalyticsError::Invalid(
                    "EXPLAIN takes a SELECT query".into(),
                ));
            }
        },
        other => {
            let kind = other.to_string();
            let word = kind.split_whitespace().next().unwrap_or("this statement");
            return Err(AnalyticsError::Invalid(format!(
                "only SELECT queries (and EXPLAIN SELECT …) run here, not {word}; datasets are written with POST /api/v1/datasets/{{name}}"
            )));
        }
    };
    let mut binder = bind::Binder::new(catalog, mentioned_names(sql));
    let plan = binder.query(query)?;
    let text = plan.explain();
    let scanned_rows = plan.scanned_rows();
    if explain {
        let lines: Vec<Option<std::rc::Rc<str>>> =
            text.lines().map(|l| Some(std::rc::Rc::from(l))).collect();
        let rows = lines.len();
        return Ok(Answer {
            columns: vec!["plan".into()],
            types: vec!["VARCHAR".into()],
            table: crate::table::Table::new(
                vec![crate::table::Field::new(None, "plan")],
                vec![Column::Text(lines)],
                rows,
            ),
            plan: text,
            scanned_rows: 0,
        });
    }
    progress.planned(scanned_rows);
    let table = exec::execute(&plan, catalog, progress)?;
    Ok(Answer {
        columns: table.fields.iter().map(|f| f.name.clone()).collect(),
        types: table.types().iter().map(|t| t.name().to_owned()).collect(),
        table,
        plan: text,
        scanned_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_need_every_column_and_products_do_not() {
        assert!(mentioned_names("SELECT * FROM t").is_none());
        assert!(mentioned_names("SELECT t.* FROM t").is_none());
        let names = mentioned_names("SELECT a * b, count(*) FROM t").expect("names");
        assert!(names.contains("a") && names.contains("b") && names.contains("t"));
    }

    #[test]
    fn bad_sql_says_where() {
        let error = parse("SELEC 1").expect_err("bad SQL").to_string();
        assert!(error.contains("Line: 1"), "{error}");
        let error = parse("SELECT 1; SELECT 2")
            .expect_err("two statements")
            .to_string();
        assert!(error.contains("one statement"), "{error}");
    }
}
