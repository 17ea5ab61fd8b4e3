//! `TABLESAMPLE` clauses to the sample a scan is wrapped in.

use sqlparser::ast;

use super::invalid;
use crate::AnalyticsError;

/// `TABLESAMPLE [BERNOULLI|SYSTEM] (p [PERCENT] | n ROWS) [REPEATABLE (seed)]`
/// of `dataset`. SYSTEM samples rows too (there are no blocks to pick).
pub(super) fn sample_spec(
    kind: &ast::TableSampleKind,
    dataset: &str,
) -> Result<super::super::plan::SampleSpec, AnalyticsError> {
    let (ast::TableSampleKind::BeforeTableAlias(sample)
    | ast::TableSampleKind::AfterTableAlias(sample)) = kind;
    let how = "write TABLESAMPLE BERNOULLI (10 PERCENT) or TABLESAMPLE (1000 ROWS), optionally REPEATABLE (42)";
    if sample.bucket.is_some() || sample.offset.is_some() {
        return Err(invalid(format!(
            "this TABLESAMPLE form is not supported: {how}"
        )));
    }
    let quantity = sample
        .quantity
        .as_ref()
        .ok_or_else(|| invalid(format!("TABLESAMPLE needs an amount: {how}")))?;
    let amount: f64 = quantity
        .value
        .to_string()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| {
            invalid(format!(
                "TABLESAMPLE's amount is a number, not {}: {how}",
                quantity.value
            ))
        })?;
    let seed =
        match &sample.seed {
            Some(s) => s.value.to_string().parse::<u64>().map_err(|_| {
                invalid(format!("REPEATABLE takes a whole number, not {}", s.value))
            })?,
            None => 0,
        };
    let (fraction, rows) = match quantity.unit {
        Some(ast::TableSampleUnit::Rows) => {
            if amount < 0.0 || amount.fract() != 0.0 {
                return Err(invalid(format!(
                    "TABLESAMPLE ({amount} ROWS): the rows are a whole number"
                )));
            }
            (None, Some(amount as u64))
        }
        _ => {
            if !(amount > 0.0 && amount <= 100.0) {
                return Err(invalid(format!(
                    "TABLESAMPLE takes a percent above 0 and at most 100, not {amount}"
                )));
            }
            (Some(amount / 100.0), None)
        }
    };
    Ok(super::super::plan::SampleSpec {
        dataset: dataset.to_owned(),
        fraction,
        rows,
        seed,
    })
}
