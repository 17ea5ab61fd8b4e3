//! UDF figures: the per-call cost of a function brought by a hot-loaded
//! UDF plugin (`tests/plugins/udfs`, its own sandboxed instance, one call
//! per 65,536-value chunk through `weft:host/functions`) against the same
//! function built into the analytics engine, in the same SQL over the same
//! stored chunk, in the same run. `fahrenheit(v)` is twinned with the
//! expression `v * 9.0 / 5.0 + 32.0` (a vectorized built-in path),
//! `root(v)` with built-in `sqrt(v)` (a row-by-row one).

use serde_json::json;
use weft_runtime::Invocation;

use crate::stats::{Row, Sample};
use crate::time;

const ROWS: usize = 65_536;
const RUNS: usize = 15;

pub(crate) fn rows() -> anyhow::Result<Vec<Row>> {
    use weft_storage::columnar::{ColumnType, Field, Values};
    let component = crate::setup::component("analytics")?;
    let wasm = std::fs::read(weft_tests::test_plugin("udfs"))
        .map_err(|e| anyhow::anyhow!("run `make test-plugins` first: {e}"))?;
    component._runtime.load("udfs", &wasm)?;
    let values: Vec<f64> = (0..ROWS).map(|i| (i % 1000) as f64 / 10.0).collect();
    let t = component.store.create_dataset(
        "bench",
        "t",
        vec![Field {
            name: "v".into(),
            kind: ColumnType::F64,
        }],
    )?;
    t.append(vec![(Values::F64(values), Vec::new())])?;

    let run = |query: &str| -> anyhow::Result<Sample> {
        let params = json!({"query": query, "cache": false});
        let mut sample = Sample::default();
        for _ in 0..RUNS {
            let (elapsed, out) = time(|| {
                component
                    .plugin
                    .invoke("sql", &params, Invocation::detached("bench"))
            });
            out.map_err(|e| anyhow::anyhow!("{query}: {}", e.message))?;
            sample.push(elapsed);
        }
        Ok(sample)
    };
    let mut rows = Vec::new();
    for (udf, builtin) in [
        ("fahrenheit(v)", "v * 9.0 / 5.0 + 32.0"),
        ("root(v)", "sqrt(v)"),
    ] {
        eprintln!("      {udf} vs {builtin} …");
        let theirs = run(&format!("SELECT sum({builtin}) FROM t"))?;
        let ours = run(&format!("SELECT sum({udf}) FROM t"))?;
        rows.push(Row::versus(
            &format!("UDF {udf} from a hot-loaded plugin, SQL over one 65,536-value chunk"),
            ours,
            &format!("built-in {builtin}, same query"),
            theirs,
        ));
    }
    Ok(rows)
}
