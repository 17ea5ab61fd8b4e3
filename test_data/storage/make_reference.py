"""Makes the dataset-upload reference: a seeded CSV of sensor readings
(sensors.csv, 70,000 rows: two 65,536-row chunks) and, computed by DuckDB
from that file alone, each column's type, row count, null count, min, max
and sum (reference.json). The e2e test uploads the CSV to Weft and checks
its stored columns against these figures.

Run: python3 test_data/storage/make_reference.py
"""
import csv
import json
import os
import random

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
CSV = os.path.join(HERE, "sensors.csv")
ROWS = 70_000

rng = random.Random(20261123)
with open(CSV, "w", newline="") as f:
    out = csv.writer(f)
    out.writerow(["ts", "sensor", "reading", "count", "ok"])
    for i in range(ROWS):
        minute = i % 60
        hour = (i // 60) % 24
        day = 1 + i // 1440
        ts = f"2026-{1 + (day - 1) // 28:02d}-{1 + (day - 1) % 28:02d}T{hour:02d}:{minute:02d}:00Z"
        sensor = rng.choice(["north", "south", "east", "west"])
        reading = "" if rng.random() < 0.02 else f"{rng.gauss(20.0, 5.0):.3f}"
        count = rng.randint(-1000, 1000)
        ok = "true" if rng.random() < 0.9 else "false"
        out.writerow([ts, sensor, reading, count, ok])

con = duckdb.connect()
con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{CSV}', header=true, timestampformat='%Y-%m-%dT%H:%M:%SZ')")
types = {name: str(kind) for name, kind, *_ in con.execute("DESCRIBE t").fetchall()}
reference = {"rows": con.execute("SELECT count(*) FROM t").fetchone()[0], "columns": {}}
for name in ["reading", "count"]:
    n, nulls, lo, hi, total = con.execute(
        f'SELECT count("{name}"), count(*) - count("{name}"), min("{name}"), max("{name}"), sum("{name}") FROM t'
    ).fetchone()
    reference["columns"][name] = {"duckdb_type": types[name], "non_null": n, "nulls": nulls,
                                  "min": float(lo), "max": float(hi), "sum": float(total)}
true_count = con.execute("SELECT count(*) FILTER (WHERE ok) FROM t").fetchone()[0]
reference["columns"]["ok"] = {"duckdb_type": types["ok"], "true": true_count}
per_sensor = dict(con.execute("SELECT sensor, count(*) FROM t GROUP BY sensor ORDER BY sensor").fetchall())
reference["columns"]["sensor"] = {"duckdb_type": types["sensor"], "counts": per_sensor}
first, last = con.execute("SELECT epoch_us(min(ts)), epoch_us(max(ts)) FROM t").fetchone()
reference["columns"]["ts"] = {"duckdb_type": types["ts"], "min_us": first, "max_us": last}
with open(os.path.join(HERE, "reference.json"), "w") as f:
    json.dump(reference, f, indent=2)
    f.write("\n")
print(json.dumps(reference, indent=2))
