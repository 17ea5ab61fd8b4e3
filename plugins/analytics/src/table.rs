//! A table in flight between operators: named fields (with the table
//! alias they came from, for `t.x`) over columns of equal length. Name
//! resolution lives here so every operator resolves the same way.

use crate::AnalyticsError;
use crate::value::{Column, DataType, Datum};

/// One column's name and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The alias or dataset name it belongs to (`None` for computed ones).
    pub table: Option<String>,
    /// Its name.
    pub name: String,
}

impl Field {
    /// A field of `table`.
    pub fn new(table: Option<&str>, name: &str) -> Self {
        Self {
            table: table.map(str::to_owned),
            name: name.to_owned(),
        }
    }
}

/// Columns of equal length with their fields.
#[derive(Clone, Debug)]
pub struct Table {
    /// One per column.
    pub fields: Vec<Field>,
    /// The data.
    pub columns: Vec<Column>,
    /// Rows (kept apart so a table with no columns still has a length).
    pub rows: usize,
}

impl Table {
    /// A table of `columns` (all `rows` long).
    pub fn new(fields: Vec<Field>, columns: Vec<Column>, rows: usize) -> Self {
        debug_assert!(columns.iter().all(|c| c.len() == rows));
        Self {
            fields,
            columns,
            rows,
        }
    }

    /// The rows at `indices`.
    pub fn gather(&self, indices: &[usize]) -> Self {
        Self::new(
            self.fields.clone(),
            self.columns.iter().map(|c| c.gather(indices)).collect(),
            indices.len(),
        )
    }

    /// Row `i` as values.
    pub fn row(&self, i: usize) -> Vec<Datum> {
        self.columns.iter().map(|c| c.get(i)).collect()
    }

    /// Column types.
    pub fn types(&self) -> Vec<DataType> {
        self.columns.iter().map(Column::data_type).collect()
    }
}

/// Finds `name` (optionally qualified by `table`) among `fields`, the way
/// SQL does: unquoted names match regardless of case, an exact match wins,
/// and a name two tables share must be qualified.
pub fn resolve(fields: &[Field], table: Option<&str>, name: &str) -> Result<usize, AnalyticsError> {
    let candidates = |exact: bool| -> Vec<usize> {
        fields
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                let name_matches = if exact {
                    f.name == name
                } else {
                    f.name.eq_ignore_ascii_case(name)
                };
                let table_matches = match (table, &f.table) {
                    (None, _) => true,
                    (Some(t), Some(ft)) => ft.eq_ignore_ascii_case(t),
                    (Some(_), None) => false,
                };
                name_matches && table_matches
            })
            .map(|(i, _)| i)
            .collect()
    };
    let mut found = candidates(true);
    if found.is_empty() {
        found = candidates(false);
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => {
            let shown = table.map_or(name.to_owned(), |t| format!("{t}.{name}"));
            let known: Vec<String> = fields
                .iter()
                .map(|f| match &f.table {
                    Some(t) => format!("{t}.{}", f.name),
                    None => f.name.clone(),
                })
                .collect();
            Err(AnalyticsError::Invalid(format!(
                "no column '{shown}'; the columns here are: {}",
                known.join(", ")
            )))
        }
        many => {
            let tables: Vec<String> = many
                .iter()
                .filter_map(|&i| fields[i].table.clone())
                .collect();
            Err(AnalyticsError::Invalid(format!(
                "column '{name}' is ambiguous (in {}): qualify it, e.g. {}.{name}",
                tables.join(" and "),
                tables.first().map_or("t", String::as_str)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_by_case_and_qualifier() {
        let fields = vec![
            Field::new(Some("a"), "id"),
            Field::new(Some("b"), "id"),
            Field::new(Some("b"), "Value"),
        ];
        assert_eq!(resolve(&fields, None, "value").ok(), Some(2));
        assert_eq!(resolve(&fields, Some("b"), "id").ok(), Some(1));
        let ambiguous = resolve(&fields, None, "id")
            .expect_err("ambiguous")
            .to_string();
        assert!(ambiguous.contains("ambiguous"), "{ambiguous}");
        let missing = resolve(&fields, None, "x")
            .expect_err("missing")
            .to_string();
        assert!(missing.contains("a.id, b.id, b.Value"), "{missing}");
    }
}
