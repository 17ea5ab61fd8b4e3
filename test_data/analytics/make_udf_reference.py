"""Reference answers for the UDF plugin (tests/plugins/udfs) called from
the analytics engine's SQL: DuckDB computes the same three functions with
its own built-ins over readings.csv, so tests/e2e/analytics_udf.rs checks
the hot-loaded functions against an engine that is not ours.

    python3 test_data/analytics/make_udf_reference.py
"""

import json
import pathlib

import duckdb

HERE = pathlib.Path(__file__).parent

QUERY = """
SELECT id,
       value * 9 / 5 + 32 AS f,
       sqrt(value) AS r,
       trim(regexp_replace(lower(region || ' / ' || sensor), '[^a-z0-9]+', '-', 'g'), '-') AS s
FROM read_csv(?, header = true, nullstr = '')
ORDER BY id
"""


def main() -> None:
    con = duckdb.connect()
    rows = con.execute(QUERY, [str(HERE / "readings.csv")]).fetchall()
    by_slug = con.execute(
        f"SELECT s, count(*) AS n FROM ({QUERY}) GROUP BY s ORDER BY s NULLS FIRST",
        [str(HERE / "readings.csv")],
    ).fetchall()
    out = {
        "rows": [[i, f, r, s] for i, f, r, s in rows],
        "by_slug": [[s, n] for s, n in by_slug],
    }
    (HERE / "udf_reference.json").write_text(json.dumps(out) + "\n")
    print(f"{len(rows)} rows, {len(by_slug)} slugs")


if __name__ == "__main__":
    main()
