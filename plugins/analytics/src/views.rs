//! Materialized views: `CREATE MATERIALIZED VIEW v AS SELECT …` runs the
//! query once and stores its answer as dataset `v` (in the engine's own
//! storage, which the catalog reads before the tenant's), with the
//! versions of the datasets it read. Before any query that names `v`, a
//! view whose inputs changed is recomputed (views over views, inputs
//! first); and a query whose normalised text is a view's defining query
//! — optionally followed by `ORDER BY` or `LIMIT` — is rewritten to read
//! the view instead.
//!
//! Definitions live in collection `views`, one key per view.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weft_sdk::{ColumnChunk, ColumnKind, ColumnValues, Host, StorageFailure};

use crate::AnalyticsError;
use crate::sql::normalize::normalize;
use crate::sql::versioned::Versioned;
use crate::sql::{self, Catalog, Progress};
use crate::table::Table;
use crate::value::Column;

const COLLECTION: &str = "views";
/// Views over views this deep are refreshed; deeper is refused.
const MAX_DEPTH: usize = 8;
/// Rows one append carries.
const CHUNK: usize = 65_536;

/// A view's definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// Its name, and its dataset's.
    pub name: String,
    /// The defining query, as written.
    pub query: String,
    /// Its normalised text (what rewriting matches).
    pub text: String,
    /// Dataset → the version the stored answer was computed at.
    pub sources: BTreeMap<String, u64>,
    /// Rows stored.
    pub rows: u64,
}

fn storage(e: StorageFailure) -> AnalyticsError {
    AnalyticsError::from(e)
}

/// Every view of the tenant.
pub fn all(host: &dyn Host) -> Result<Vec<View>, AnalyticsError> {
    let mut out = Vec::new();
    let mut start = Vec::new();
    loop {
        let page = match host.collection_scan_page(COLLECTION, &start, b"", 1_000, 4 << 20) {
            Ok(p) => p,
            Err(StorageFailure::NotFound(_)) => return Ok(out),
            Err(e) => return Err(storage(e)),
        };
        out.extend(
            page.entries
                .iter()
                .filter_map(|(_, v)| serde_json::from_slice::<View>(v).ok()),
        );
        match page.next {
            Some(next) => start = next,
            None => return Ok(out),
        }
    }
}

/// Creates (or with `replace`, replaces) view `name` as `query`.
pub fn create(
    host: &dyn Host,
    catalog: &dyn Catalog,
    name: &str,
    query: &str,
    replace: bool,
    progress: &mut dyn Progress,
) -> Result<View, AnalyticsError> {
    let existing = all(host)?;
    let known = existing.iter().any(|v| v.name.eq_ignore_ascii_case(name));
    if known && !replace {
        return Err(AnalyticsError::Invalid(format!(
            "materialized view '{name}' exists: CREATE OR REPLACE MATERIALIZED VIEW to redefine it, or DROP MATERIALIZED VIEW {name}"
        )));
    }
    if !known && catalog.columns(name).is_ok() {
        return Err(AnalyticsError::Invalid(format!(
            "a dataset named '{name}' exists; name the view something else"
        )));
    }
    let text = normalize(query).map_or_else(|| query.to_owned(), |n| n.text);
    let recording = Versioned::new(catalog);
    let answer = sql::run(query, &recording, progress)?;
    // Inputs without versions cannot be followed: such a view is
    // refreshed only when asked (REFRESH MATERIALIZED VIEW).
    let sources = recording.versions().unwrap_or_default();
    if sources.keys().any(|s| s.eq_ignore_ascii_case(name)) {
        return Err(AnalyticsError::Invalid(format!(
            "view '{name}' cannot read itself"
        )));
    }
    write(host, name, &answer.columns, &answer.table)?;
    let view = View {
        name: name.to_owned(),
        query: query.to_owned(),
        text,
        sources,
        rows: answer.table.rows as u64,
    };
    let bytes = serde_json::to_vec(&view).map_err(|e| AnalyticsError::Storage(e.to_string()))?;
    host.collection_put(COLLECTION, name.to_lowercase().as_bytes(), &bytes)
        .map_err(storage)?;
    Ok(view)
}

/// Drops view `name` and its dataset.
pub fn drop(host: &dyn Host, name: &str, if_exists: bool) -> Result<bool, AnalyticsError> {
    let found = all(host)?
        .into_iter()
        .find(|v| v.name.eq_ignore_ascii_case(name));
    let Some(view) = found else {
        return if if_exists {
            Ok(false)
        } else {
            Err(AnalyticsError::NotFound(format!(
                "no materialized view '{name}'"
            )))
        };
    };
    host.collection_delete(COLLECTION, view.name.to_lowercase().as_bytes())
        .map_err(storage)?;
    match host.drop_dataset(&view.name) {
        Ok(()) | Err(StorageFailure::NotFound(_)) => Ok(true),
        Err(e) => Err(storage(e)),
    }
}

/// Recomputes every view `query_text` names whose inputs changed (inputs
/// first); answers the views refreshed.
pub fn refresh_named(
    host: &dyn Host,
    catalog: &dyn Catalog,
    query_text: &str,
    progress: &mut dyn Progress,
) -> Result<Vec<String>, AnalyticsError> {
    let views = all(host)?;
    if views.is_empty() {
        return Ok(Vec::new());
    }
    let words: std::collections::HashSet<String> = query_text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(str::to_lowercase)
        .collect();
    let mut refreshed = Vec::new();
    for view in views
        .iter()
        .filter(|v| words.contains(&v.name.to_lowercase()))
    {
        refresh(host, catalog, &views, view, 0, progress, &mut refreshed)?;
    }
    Ok(refreshed)
}

fn refresh(
    host: &dyn Host,
    catalog: &dyn Catalog,
    views: &[View],
    view: &View,
    depth: usize,
    progress: &mut dyn Progress,
    refreshed: &mut Vec<String>,
) -> Result<(), AnalyticsError> {
    if depth > MAX_DEPTH {
        return Err(AnalyticsError::Invalid(format!(
            "views nest more than {MAX_DEPTH} deep at '{}'",
            view.name
        )));
    }
    if refreshed.contains(&view.name) {
        return Ok(());
    }
    for source in view.sources.keys() {
        if let Some(inner) = views.iter().find(|v| v.name.eq_ignore_ascii_case(source)) {
            refresh(host, catalog, views, inner, depth + 1, progress, refreshed)?;
        }
    }
    let stale = view
        .sources
        .iter()
        .any(|(d, v)| catalog.version(d) != Some(*v));
    if stale {
        create(host, catalog, &view.name, &view.query, true, progress)?;
        refreshed.push(view.name.clone());
    }
    Ok(())
}

/// The query reading a view instead, when `text` (normalised) is a
/// view's defining query, alone or followed by `ORDER BY` or `LIMIT`.
pub fn rewrite(views: &[View], text: &str) -> Option<(String, String)> {
    views.iter().find_map(|v| {
        let rest = text.strip_prefix(&v.text)?;
        let upper = rest.trim_start().to_uppercase();
        let quoted = format!("\"{}\"", v.name.replace('"', "\"\""));
        if rest.is_empty() {
            Some((format!("SELECT * FROM {quoted}"), v.name.clone()))
        } else if rest.starts_with(' ')
            && (upper.starts_with("ORDER BY") || upper.starts_with("LIMIT"))
        {
            Some((format!("SELECT * FROM {quoted}{rest}"), v.name.clone()))
        } else {
            None
        }
    })
}

/// Writes `table` as dataset `name` (replacing it).
fn write(
    host: &dyn Host,
    name: &str,
    names: &[String],
    table: &Table,
) -> Result<(), AnalyticsError> {
    let kinds: Vec<(String, ColumnKind)> = names
        .iter()
        .zip(&table.columns)
        .map(|(n, c)| {
            let kind = match c {
                Column::Int(_) => ColumnKind::I64,
                Column::Float(_) | Column::Null(_) => ColumnKind::F64,
                Column::Bool(_) => ColumnKind::Bool,
                Column::Text(_) => ColumnKind::Text,
                Column::Timestamp(_) => ColumnKind::Timestamp,
            };
            (n.clone(), kind)
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = kinds.iter().find(|(n, _)| !seen.insert(n.to_lowercase())) {
        return Err(AnalyticsError::Invalid(format!(
            "the view's query answers two columns named '{}'; alias them apart (AS …)",
            dup.0
        )));
    }
    let mut writer = host.create_dataset(name, &kinds, true).map_err(storage)?;
    for start in (0..table.rows).step_by(CHUNK) {
        let end = (start + CHUNK).min(table.rows);
        let chunks = table.columns.iter().map(|c| chunk(c, start, end)).collect();
        writer.append(chunks).map_err(storage)?;
    }
    writer.commit().map_err(storage)?;
    Ok(())
}

pub(crate) fn chunk(column: &Column, start: usize, end: usize) -> ColumnChunk {
    fn split<T: Clone + Default>(v: &[Option<T>]) -> (Vec<T>, Vec<bool>) {
        let values = v.iter().map(|x| x.clone().unwrap_or_default()).collect();
        let valid: Vec<bool> = v.iter().map(Option::is_some).collect();
        let valid = if valid.iter().all(|&b| b) {
            Vec::new()
        } else {
            valid
        };
        (values, valid)
    }
    let (values, valid) = match column {
        Column::Int(v) => {
            let (x, ok) = split(&v[start..end]);
            (ColumnValues::I64(x), ok)
        }
        Column::Float(v) => {
            let (x, ok) = split(&v[start..end]);
            (ColumnValues::F64(x), ok)
        }
        Column::Bool(v) => {
            let (x, ok) = split(&v[start..end]);
            (ColumnValues::Bool(x), ok)
        }
        Column::Timestamp(v) => {
            let (x, ok) = split(&v[start..end]);
            (ColumnValues::Timestamp(x), ok)
        }
        Column::Text(v) => {
            let values = v[start..end]
                .iter()
                .map(|x| x.as_deref().unwrap_or_default().to_owned())
                .collect();
            let valid: Vec<bool> = v[start..end].iter().map(Option::is_some).collect();
            let valid = if valid.iter().all(|&b| b) {
                Vec::new()
            } else {
                valid
            };
            (ColumnValues::Text(values), valid)
        }
        Column::Null(_) => (
            ColumnValues::F64(vec![0.0; end - start]),
            vec![false; end - start],
        ),
    };
    ColumnChunk { values, valid }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, text: &str) -> View {
        View {
            name: name.into(),
            query: text.into(),
            text: text.into(),
            sources: BTreeMap::new(),
            rows: 0,
        }
    }

    #[test]
    fn a_query_the_view_defines_reads_the_view() {
        let views = [view(
            "by_region",
            "SELECT region , count ( * ) AS n FROM readings GROUP BY region",
        )];
        let q = "SELECT region , count ( * ) AS n FROM readings GROUP BY region";
        assert_eq!(
            rewrite(&views, q),
            Some(("SELECT * FROM \"by_region\"".into(), "by_region".into()))
        );
        let ordered = format!("{q} ORDER BY n DESC LIMIT 2");
        assert_eq!(
            rewrite(&views, &ordered).map(|r| r.0),
            Some("SELECT * FROM \"by_region\" ORDER BY n DESC LIMIT 2".into())
        );
        assert_eq!(
            rewrite(&views, &format!("{q} HAVING count ( * ) > 2")),
            None
        );
        assert_eq!(
            rewrite(
                &views,
                "SELECT region , count ( * ) AS n FROM readings GROUP BY region2"
            ),
            None
        );
    }
}
