#!/usr/bin/env python3
"""Generates the analytics engine's differential test data and DuckDB's
answers to every query in queries.sql.

    python3 test_data/analytics/make_reference.py

Writes readings.csv and sensors.csv (seeded: NULLs, text, timestamps,
skewed keys), schemas.json (the upload schema of each) and
reference.json: for each query its columns and DuckDB's rows, timestamps
as RFC 3339 text. Rows are kept in DuckDB's order; a query without an
ORDER BY is compared as a multiset by the tests.
"""

import csv
import datetime as dt
import json
import pathlib
import random

import duckdb

HERE = pathlib.Path(__file__).parent
SCHEMAS = {
    "readings": [("id", "i64"), ("sensor", "string"), ("region", "string"), ("value", "f64"),
                 ("count", "i64"), ("ts", "timestamp"), ("ok", "bool")],
    "sensors": [("sensor", "string"), ("kind", "string"), ("threshold", "f64")],
}
DUCK_TYPES = {"i64": "BIGINT", "f64": "DOUBLE", "string": "VARCHAR", "timestamp": "TIMESTAMP",
              "bool": "BOOLEAN"}


def readings(n=3000, seed=7):
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1)
    sensors = "aaaaaaaabbbbccdefgh"  # skewed: a is 8/19 of rows
    rows = []
    for i in range(n):
        sensor = rng.choice(sensors)
        region = rng.choice(["north", "south", "east", "west", None])
        value = None if rng.random() < 0.05 else round(rng.gauss(20 + 3 * (ord(sensor) - 97), 4), 3)
        count = None if rng.random() < 0.03 else rng.randint(0, 100)
        at = start + dt.timedelta(minutes=37 * i + rng.randint(0, 20))
        ok = rng.random() < 0.8
        rows.append([i + 1, sensor, region, value, count, at, ok])
    return rows


def sensors():
    return [["a", "thermo", 25.0], ["b", "thermo", 27.5], ["c", "humid", None], ["d", "humid", 31.0],
            ["e", "pressure", 33.0], ["f", "pressure", 35.5], ["z", "spare", 10.0]]


def cell(v):
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def json_value(v):
    if isinstance(v, dt.datetime):
        text = v.strftime("%Y-%m-%dT%H:%M:%S")
        return text + (f".{v.microsecond:06d}Z" if v.microsecond else "Z")
    if isinstance(v, float) and v != v:
        return None
    if hasattr(v, "is_integer") and not isinstance(v, (int, float)):
        return float(v)  # Decimal
    return v


def top_level_order(sql):
    """Whether the query's own ORDER BY (not one inside parentheses)
    fixes its row order."""
    text = " ".join(sql.lower().split())
    at = text.rfind("order by")
    return at >= 0 and text[:at].count("(") == text[:at].count(")")


def main():
    data = {"readings": readings(), "sensors": sensors()}
    con = duckdb.connect()
    con.execute("SET threads TO 1")
    for name, rows in data.items():
        with open(HERE / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([c for c, _ in SCHEMAS[name]])
            for r in rows:
                w.writerow([cell(v) for v in r])
        columns = ", ".join(f'"{c}" {DUCK_TYPES[t]}' for c, t in SCHEMAS[name])
        con.execute(f"CREATE TABLE {name} ({columns})")
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(SCHEMAS[name]))})", rows)
    queries = [q.strip() for q in (HERE / "queries.sql").read_text().split(";") if q.strip()]
    cases = []
    for q in queries:
        sql = "\n".join(line for line in q.splitlines() if not line.strip().startswith("--")).strip()
        result = con.execute(sql)
        columns = [d[0] for d in result.description]
        rows = [[json_value(v) for v in row] for row in result.fetchall()]
        cases.append({"sql": sql, "columns": columns, "rows": rows, "ordered": top_level_order(sql)})
    schemas = {name: ",".join(f"{c}:{t}" for c, t in cols) for name, cols in SCHEMAS.items()}
    (HERE / "schemas.json").write_text(json.dumps(schemas, indent=1) + "\n")
    (HERE / "reference.json").write_text(json.dumps({"duckdb": duckdb.__version__, "cases": cases},
                                                    indent=1) + "\n")
    print(f"{len(cases)} queries answered by DuckDB {duckdb.__version__}")


if __name__ == "__main__":
    main()
