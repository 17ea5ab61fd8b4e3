//! What the reference tests share: the committed CSVs loaded into a
//! recording host with their upload schemas.

// Each test crate uses a part of these.
#![allow(dead_code)]

use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;
use weft_analytics::AnalyticsEngine;
use weft_analytics::sql::Progress;
use weft_sdk::{ColumnChunk, ColumnKind, ColumnValues, Engine, Host, Params, RecordingHost};

/// A file of `test_data/analytics/`.
pub(crate) fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../test_data/analytics")
        .join(name)
}

/// Loads a CSV of the reference into `host` with its upload schema.
pub(crate) fn load(host: &RecordingHost, name: &str, schema: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(data(&format!("{name}.csv")))?;
    let kinds: Vec<(String, ColumnKind)> = schema
        .split(',')
        .map(|f| {
            let (n, t) = f.split_once(':').context("schema field")?;
            let kind = match t {
                "i64" => ColumnKind::I64,
                "f64" => ColumnKind::F64,
                "bool" => ColumnKind::Bool,
                "timestamp" => ColumnKind::Timestamp,
                _ => ColumnKind::Text,
            };
            Ok((n.to_owned(), kind))
        })
        .collect::<anyhow::Result<_>>()?;
    let lines: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let mut chunks = Vec::new();
    for (c, (_, kind)) in kinds.iter().enumerate() {
        let cells: Vec<&str> = lines.iter().map(|l| l[c]).collect();
        let valid: Vec<bool> = cells.iter().map(|v| !v.is_empty()).collect();
        let values = match kind {
            ColumnKind::I64 => {
                ColumnValues::I64(cells.iter().map(|v| v.parse().unwrap_or(0)).collect())
            }
            ColumnKind::F64 => {
                ColumnValues::F64(cells.iter().map(|v| v.parse().unwrap_or(0.0)).collect())
            }
            ColumnKind::Bool => ColumnValues::Bool(cells.iter().map(|v| *v == "true").collect()),
            ColumnKind::Timestamp => ColumnValues::Timestamp(
                cells
                    .iter()
                    .map(|v| weft_analytics::value::parse_timestamp(v).unwrap_or(0))
                    .collect(),
            ),
            _ => ColumnValues::Text(cells.iter().map(|v| (*v).to_owned()).collect()),
        };
        chunks.push(ColumnChunk { values, valid });
    }
    let mut writer = host
        .create_dataset(name, &kinds, false)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    writer
        .append(chunks)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    writer.commit().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

/// Progress nobody watches.
pub(crate) struct Quiet;
impl Progress for Quiet {
    fn scanned(&mut self, _: u64) -> bool {
        true
    }
}

/// Runs operation `op` of the engine natively with `params`.
pub(crate) fn invoke(host: &RecordingHost, op: &str, params: &Value) -> anyhow::Result<Value> {
    let text = params.to_string();
    AnalyticsEngine::invoke(op, Params::new(&text), host).map_err(|e| anyhow::anyhow!("{op}: {e}"))
}
