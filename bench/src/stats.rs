//! Percentiles and the report table.

use std::time::Duration;

/// Timings of one measurement.
#[derive(Default, Clone)]
pub(crate) struct Sample {
    times: Vec<Duration>,
}

impl Sample {
    pub(crate) fn of(d: Duration) -> Self {
        Self { times: vec![d] }
    }

    pub(crate) fn push(&mut self, d: Duration) {
        self.times.push(d);
    }

    pub(crate) fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.times.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[rank.min(sorted.len() - 1)]
    }
}

/// One line of the report.
pub(crate) struct Row {
    what: String,
    sample: Sample,
    baseline: Option<(String, Sample)>,
    note: String,
}

impl Row {
    pub(crate) fn absolute(what: &str, sample: Sample, note: &str) -> Self {
        Self {
            what: what.to_owned(),
            sample,
            baseline: None,
            note: note.to_owned(),
        }
    }

    pub(crate) fn versus(
        what: &str,
        sample: Sample,
        baseline_name: &str,
        baseline: Sample,
    ) -> Self {
        Self {
            what: what.to_owned(),
            sample,
            baseline: Some((baseline_name.to_owned(), baseline)),
            note: String::new(),
        }
    }

    /// Adds a remark after the figures.
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        self.note = note.to_owned();
        self
    }
}

fn show(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.1} µs")
    } else if micros < 1e6 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

pub(crate) fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| measurement | p50 | p99 | baseline (same run) | baseline p50 | ratio p50 |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let (p50, p99) = (row.sample.percentile(50.0), row.sample.percentile(99.0));
        match &row.baseline {
            Some((name, base)) => {
                let b50 = base.percentile(50.0);
                let ratio = p50.as_secs_f64() / b50.as_secs_f64().max(1e-12);
                let what = if row.note.is_empty() {
                    row.what.clone()
                } else {
                    format!("{} ({})", row.what, row.note)
                };
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {:.2}× |\n",
                    what,
                    show(p50),
                    show(p99),
                    name,
                    show(b50),
                    ratio
                ));
            }
            None => out.push_str(&format!(
                "| {} | {} | {} | {} | | |\n",
                row.what,
                show(p50),
                show(p99),
                row.note
            )),
        }
    }
    out
}
