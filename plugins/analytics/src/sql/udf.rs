//! Scalar functions brought by UDF plugins: a name the engine does not
//! know itself is looked up among the loaded ones (`weft:host/functions`
//! through [`weft_sdk::Functions`]) and called a chunk of up to 65,536
//! rows at a time. Built-in functions win over a UDF of the same name.
//! This module converts columns and checks types; it must not know what
//! any function computes.

use std::fmt;
use std::rc::Rc;

use weft_sdk::{ColumnKind, Functions, ScalarFunction};

use crate::AnalyticsError;
use crate::value::{Column, DataType, Datum};

/// Rows one call carries: a storage chunk.
const CALL_ROWS: usize = 65_536;

/// The UDFs a query can call, listed once per query.
pub struct Udfs {
    functions: Rc<dyn Functions>,
    listed: Vec<ScalarFunction>,
}

impl Udfs {
    /// The functions `functions` offers now.
    pub fn new(functions: Rc<dyn Functions>) -> Self {
        let listed = functions.list();
        Self { functions, listed }
    }

    /// Whether no function is loaded.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// Whether `name` is one of them.
    pub fn has(&self, name: &str) -> bool {
        self.listed.iter().any(|f| f.signature.name == name)
    }

    /// `name` bound to the functions, with its signature checked against
    /// `args` argument count.
    pub fn bind(&self, name: &str, args: usize) -> Option<Result<Rc<BoundUdf>, AnalyticsError>> {
        let f = self.listed.iter().find(|f| f.signature.name == name)?;
        let params: Vec<DataType> = f.signature.params.iter().map(|k| data_type(*k)).collect();
        if params.len() != args {
            return Some(Err(AnalyticsError::Invalid(format!(
                "{name}() (a UDF of plugin '{}') takes {} arguments, not {args}",
                f.plugin,
                params.len()
            ))));
        }
        Some(Ok(Rc::new(BoundUdf {
            name: name.to_owned(),
            plugin: f.plugin.clone(),
            version: f.version.clone(),
            params,
            returns: data_type(f.signature.returns),
            functions: Rc::clone(&self.functions),
        })))
    }
}

/// Binary columns reach SQL as hex text, so they are not UDF types here.
fn data_type(kind: ColumnKind) -> DataType {
    match kind {
        ColumnKind::F64 => DataType::Float,
        ColumnKind::I64 => DataType::Int,
        ColumnKind::Bool => DataType::Bool,
        ColumnKind::Text | ColumnKind::Binary => DataType::Text,
        ColumnKind::Timestamp => DataType::Timestamp,
    }
}

/// A UDF call site: which function, and the types it takes.
pub struct BoundUdf {
    /// The SQL name.
    pub name: String,
    plugin: String,
    version: String,
    params: Vec<DataType>,
    /// The result type.
    pub returns: DataType,
    functions: Rc<dyn Functions>,
}

impl fmt::Debug for BoundUdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[udf {}@{}]", self.name, self.plugin, self.version)
    }
}

impl BoundUdf {
    /// How `EXPLAIN` shows it.
    pub fn label(&self) -> String {
        format!("{}[udf {}@{}]", self.name, self.plugin, self.version)
    }

    /// Calls the function over `args` (all `rows` long), a chunk at a time.
    pub fn call(&self, args: &[&Column], rows: usize) -> Result<Column, AnalyticsError> {
        let args: Vec<Column> = args
            .iter()
            .zip(&self.params)
            .enumerate()
            .map(|(i, (arg, want))| self.coerce(arg, *want, i, rows))
            .collect::<Result<_, _>>()?;
        let mut out = Column::empty(self.returns);
        let mut start = 0;
        while start < rows || (rows == 0 && start == 0) {
            let end = (start + CALL_ROWS).min(rows);
            let chunks: Vec<_> = args
                .iter()
                .map(|c| crate::views::chunk(c, start, end))
                .collect();
            let answer = self
                .functions
                .call(&self.name, &chunks)
                .map_err(AnalyticsError::Invalid)?;
            let part = Column::from_chunk(answer);
            if part.len() != end - start || part.data_type() != self.returns {
                return Err(AnalyticsError::Invalid(format!(
                    "{}() answered {} {} values for {} rows; it declares {}",
                    self.name,
                    part.len(),
                    part.data_type().name(),
                    end - start,
                    self.returns.name()
                )));
            }
            out.append(part);
            if rows == 0 {
                break;
            }
            start = end;
        }
        Ok(out)
    }

    /// The argument as the type the function takes: integers widen to
    /// floats, NULL literals become nulls of the type; anything else is
    /// the caller's mistake.
    fn coerce(
        &self,
        arg: &Column,
        want: DataType,
        i: usize,
        rows: usize,
    ) -> Result<Column, AnalyticsError> {
        Ok(match (arg, want) {
            (c, w) if c.data_type() == w => c.clone(),
            (Column::Int(v), DataType::Float) => {
                Column::Float(v.iter().map(|x| x.map(|x| x as f64)).collect())
            }
            (Column::Null(_), w) => Column::from_datums_as(&vec![Datum::Null; rows], w),
            (c, w) => {
                return Err(AnalyticsError::Invalid(format!(
                    "argument {} of {}() is {}; it takes {} (CAST it)",
                    i + 1,
                    self.name,
                    c.data_type().name(),
                    w.name()
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::{ColumnChunk, NativeFunctions, Signature, map_f64};

    fn udfs() -> Udfs {
        Udfs::new(Rc::new(NativeFunctions::default().with(
            Signature::new("double", "Twice.", &[ColumnKind::F64], ColumnKind::F64),
            |args: &[ColumnChunk]| map_f64(&args[0], |x| 2.0 * x),
        )))
    }

    #[test]
    fn calls_in_chunks_keeping_nulls_and_widening_ints() {
        let f = udfs().bind("double", 1).expect("found").expect("bound");
        let rows = CALL_ROWS + 10;
        let input = Column::Int(
            (0..rows as i64)
                .map(|i| (i % 7 != 0).then_some(i))
                .collect(),
        );
        let Column::Float(out) = f.call(&[&input], rows).expect("called") else {
            panic!("not floats");
        };
        assert_eq!(out.len(), rows);
        assert_eq!(out[0], None);
        assert_eq!(out[CALL_ROWS + 1], Some(2.0 * (CALL_ROWS + 1) as f64));
    }

    #[test]
    fn wrong_arity_and_types_say_so() {
        let error = udfs()
            .bind("double", 2)
            .expect("found")
            .expect_err("refused");
        assert!(error.to_string().contains("takes 1 arguments"), "{error}");
        let f = udfs().bind("double", 1).expect("found").expect("bound");
        let text = Column::Text(vec![Some(Rc::from("x"))]);
        let error = f.call(&[&text], 1).expect_err("text").to_string();
        assert!(error.contains("CAST"), "{error}");
        assert!(udfs().bind("triple", 1).is_none());
    }
}
