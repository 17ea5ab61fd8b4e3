#!/usr/bin/env python3
"""Reference answers for the analytics engine's profile, olap and
timeseries operations, each computed by the library a user would
otherwise reach for:

    python3 test_data/analytics/make_ops_reference.py

- profiles: DuckDB aggregates (count, count DISTINCT, min/max, avg,
  stddev_samp, quantile_cont, GROUP BY for common values, a bucketing
  query for histograms, TRY_CAST shares for text inference) over
  readings.csv (written by make_reference.py) and messy.csv (written
  here: numbers, booleans and timestamps stored as text, a few typos);
- olap: each move's view written out by hand as DuckDB SQL (not
  generated the way the engine generates it), pivots laid out in Python;
- timeseries: statsmodels' STL (plain and robust) on series.csv (hourly,
  daily season, trend, noise, three spikes, NULLs, missing hours),
  pandas for hourly bucketing, numpy/scipy for the forecast and the
  robust z-scores, DuckDB time_bucket for windows.

Writes ops_reference.json.
"""

import csv
import datetime as dt
import json
import math
import pathlib
import random

import duckdb
import numpy as np
import pandas as pd
import statsmodels
from scipy.stats import norm
from statsmodels.tsa.seasonal import STL

HERE = pathlib.Path(__file__).parent
EPOCH = dt.datetime(1970, 1, 1)


def rfc3339(v):
    text = v.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{v.microsecond:06d}Z" if v.microsecond else "Z")


def js(v):
    if isinstance(v, dt.datetime):
        return rfc3339(v)
    if isinstance(v, float) and v != v:
        return None
    if hasattr(v, "is_integer") and not isinstance(v, (int, float)):
        return float(v)
    return v


def write_messy():
    rng = random.Random(11)
    rows = []
    for i in range(200):
        amount = str(rng.randint(-50, 500)) if i % 40 != 7 else "n/a"
        price = f"{rng.uniform(0, 100):.2f}"
        flag = rng.choice(["true", "false"])
        seen = (dt.datetime(2024, 5, 1) + dt.timedelta(hours=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        name = rng.choice(["ada", "grace", "edsger", "barbara", "ken"])
        rows.append([amount if i % 25 else "", price, flag, seen, name])
    with open(HERE / "messy.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["amount", "price", "flag", "seen", "name"])
        w.writerows(rows)
    return "amount:string,price:string,flag:string,seen:string,name:string"


QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95]


def profile(con, table, column, kind, bins=10, top_k=5):
    c = f'"{column}"'
    rows, non_null, distinct = con.execute(
        f"SELECT count(*), count({c}), count(DISTINCT {c}) FROM {table}").fetchone()
    lo, hi = con.execute(f"SELECT min({c}), max({c}) FROM {table}").fetchone()
    common = con.execute(
        f"SELECT {c}, count(*) AS n FROM {table} WHERE {c} IS NOT NULL "
        f"GROUP BY {c} ORDER BY n DESC, {c} ASC LIMIT {top_k}").fetchall()
    out = {
        "column": column, "rows": rows, "null_count": rows - non_null, "distinct_count": distinct,
        "min": js(lo), "max": js(hi),
        "most_common": [{"value": js(v), "count": n} for v, n in common],
        "completeness": non_null / rows, "uniqueness": distinct / non_null if non_null else None,
    }
    numeric = kind in ("i64", "f64", "timestamp")
    if numeric:
        x = f"epoch_us({c})::DOUBLE" if kind == "timestamp" else f"{c}::DOUBLE"
        qs = con.execute(f"SELECT quantile_cont({x}, {QUANTILES}) FROM {table}").fetchone()[0]
        out["quantiles_numeric"] = qs
        mn, mx = con.execute(f"SELECT min({x}), max({x}) FROM {table}").fetchone()
        counts = dict(con.execute(
            f"SELECT least(floor(({x} - {mn}) / ({mx} - {mn}) * {bins})::BIGINT, {bins - 1}) AS b, count(*) "
            f"FROM {table} WHERE {c} IS NOT NULL GROUP BY b").fetchall())
        out["histogram_counts"] = [counts.get(b, 0) for b in range(bins)]
        if kind != "timestamp":
            mean, sd = con.execute(f"SELECT avg({c}), stddev_samp({c}) FROM {table}").fetchone()
            out["mean"], out["stddev"] = mean, sd
    if kind == "string":
        # DuckDB's casts, except that BIGINT's accepts '1.32' (rounding):
        # an integer is digits alone.
        tests = [("boolean", f"TRY_CAST({c} AS BOOLEAN)"),
                 ("integer", f"CASE WHEN regexp_full_match(trim({c}), '[+-]?[0-9]+') THEN 1 END"),
                 ("float", f"TRY_CAST({c} AS DOUBLE)"), ("timestamp", f"TRY_CAST({c} AS TIMESTAMP)")]
        out["inferred_type"], out["validity"] = "text", 1.0
        for name, parsed in tests:
            share = con.execute(f"SELECT count({parsed}) / count({c}) FROM {table}").fetchone()[0]
            if share >= 0.95:
                out["inferred_type"], out["validity"] = name, share
                break
    return out


CUBE = {
    "dataset": "readings",
    "dimensions": [
        {"name": "time", "levels": [
            {"name": "year", "column": "ts", "part": "year"},
            {"name": "quarter", "column": "ts", "part": "quarter"},
            {"name": "month", "column": "ts", "part": "month"},
            {"name": "day", "column": "ts", "part": "day"}]},
        {"name": "place", "levels": [
            {"name": "region", "column": "region"},
            {"name": "sensor", "column": "sensor"}]},
    ],
    "measures": [
        {"name": "n", "agg": "count"},
        {"name": "total", "agg": "sum", "column": "value"},
        {"name": "mean", "agg": "avg", "column": "value"},
        {"name": "lo", "agg": "min", "column": "value"},
        {"name": "hi", "agg": "max", "column": "value"},
        {"name": "sensors", "agg": "count_distinct", "column": "sensor"},
    ],
}
MEASURES = ("count(*) AS n, sum(value) AS total, avg(value) AS mean, min(value) AS lo, "
            "max(value) AS hi, count(DISTINCT sensor) AS sensors")
Y, Q, M = "year(ts)", "quarter(ts)", "month(ts)"

# (what it shows, request, the view it should land on, DuckDB's SQL for that view)
OLAP = [
    ("the grand total", {}, {}, [],
     f"SELECT {MEASURES} FROM readings"),
    ("drill down to years", {"action": {"type": "drill_down", "dimension": "time"}}, {"time": "year"}, [],
     f"SELECT {Y} AS year, {MEASURES} FROM readings GROUP BY 1 ORDER BY 1"),
    ("drill down to quarters", {"at": {"time": "year"}, "action": {"type": "drill_down", "dimension": "time"}},
     {"time": "quarter"}, [],
     f"SELECT {Y} AS year, {Q} AS quarter, {MEASURES} FROM readings GROUP BY 1, 2 ORDER BY 1, 2"),
    ("drill down a second dimension", {"at": {"time": "quarter"}, "action": {"type": "drill_down", "dimension": "place"}},
     {"time": "quarter", "place": "region"}, [],
     f"SELECT {Y} AS year, {Q} AS quarter, region, {MEASURES} FROM readings GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"),
    ("roll up time", {"at": {"time": "quarter", "place": "region"}, "action": {"type": "roll_up", "dimension": "time"}},
     {"time": "year", "place": "region"}, [],
     f"SELECT {Y} AS year, region, {MEASURES} FROM readings GROUP BY 1, 2 ORDER BY 1, 2"),
    ("roll time up entirely", {"at": {"time": "year", "place": "sensor"}, "action": {"type": "roll_up", "dimension": "time"}},
     {"place": "sensor"}, [],
     f"SELECT region, sensor, {MEASURES} FROM readings GROUP BY 1, 2 ORDER BY 1, 2"),
    ("slice one region", {"at": {"time": "month", "place": "sensor"},
                          "action": {"type": "slice", "level": "region", "value": "north"}},
     {"time": "month"}, [{"level": "region", "values": ["north"]}],
     f"SELECT {Y} AS year, {Q} AS quarter, {M} AS month, {MEASURES} FROM readings WHERE region = 'north' "
     "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"),
    ("slice the rows without a region", {"at": {"place": "sensor"},
                                         "action": {"type": "slice", "level": "region", "value": None}},
     {}, [{"level": "region", "values": [None]}],
     f"SELECT {MEASURES} FROM readings WHERE region IS NULL"),
    ("dice two levels", {"at": {"place": "sensor"}, "action": {"type": "dice", "filters": [
        {"level": "region", "values": ["east", "west"]}, {"level": "sensor", "values": ["a", "b", "h"]}]}},
     {"place": "sensor"}, [{"level": "region", "values": ["east", "west"]},
                           {"level": "sensor", "values": ["a", "b", "h"]}],
     f"SELECT region, sensor, {MEASURES} FROM readings WHERE region IN ('east', 'west') AND sensor IN ('a', 'b', 'h') "
     "GROUP BY 1, 2 ORDER BY 1, 2"),
    ("dice by month within a slice", {"at": {"time": "day"}, "filters": [{"level": "region", "values": ["south"]}],
                                      "action": {"type": "dice", "filters": [{"level": "month", "values": [2]}]}},
     {"time": "day"}, [{"level": "region", "values": ["south"]}, {"level": "month", "values": [2]}],
     f"SELECT {Y} AS year, {Q} AS quarter, {M} AS month, day(ts) AS day, {MEASURES} FROM readings "
     "WHERE region = 'south' AND month(ts) = 2 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"),
]


def pivot_case(con):
    request = {"at": {"time": "month", "place": "region"},
               "action": {"type": "pivot", "rows": "place", "columns": "time"}}
    sql = (f"SELECT {Y} AS year, {Q} AS quarter, {M} AS month, region, {MEASURES} FROM readings "
           "GROUP BY 1, 2, 3, 4")
    rows = con.execute(sql).fetchall()
    key = lambda k: tuple((v is None, v) for v in k)  # NULLs last
    row_keys = sorted({(r[3],) for r in rows}, key=key)
    col_keys = sorted({(r[0], r[1], r[2]) for r in rows}, key=key)
    cells = {}
    for m, at in (("n", 4), ("total", 5)):
        matrix = [[None] * len(col_keys) for _ in row_keys]
        for r in rows:
            matrix[row_keys.index((r[3],))][col_keys.index((r[0], r[1], r[2]))] = js(r[at])
        cells[m] = matrix
    return {"what": "pivot regions down, months across", "request": request,
            "pivot": {"row_keys": [list(k) for k in row_keys], "column_keys": [list(k) for k in col_keys],
                      "cells": cells}}


def write_series():
    rng = random.Random(5)
    start = dt.datetime(2024, 3, 1)
    rows, missing = [], {50, 51, 200, 301, 302, 303}
    for i in range(16 * 24):
        if i in missing:
            continue
        v = 10 + 0.02 * i + 3 * math.sin(2 * math.pi * i / 24) + rng.gauss(0, 0.3)
        v += {100: 6.0, 250: -5.0, 333: 8.0}.get(i, 0.0)
        rows.append([(start + dt.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "" if i in (17, 150) else f"{v:.6f}"])
    with open(HERE / "series.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["at", "load"])
        w.writerows(rows)
    return "at:timestamp,load:f64"


def robust_z(residual):
    med = np.median(residual)
    mad = np.median(np.abs(residual - med))
    return (residual - med) / (1.4826 * mad)


def forecast(trend, seasonal, resid, period, horizon, level):
    n, m = len(trend), 2 * period
    tail = trend[-m:]
    slope, intercept = np.polyfit(np.arange(m), tail, 1)
    sigma = np.std(resid, ddof=1)
    z = norm.ppf(0.5 + level / 2)
    x_mean, sxx = (m - 1) / 2, np.sum((np.arange(m) - (m - 1) / 2) ** 2)
    out = []
    for step in range(1, horizon + 1):
        x = m - 1 + step
        value = intercept + slope * x + seasonal[n - period + (step - 1) % period]
        half = z * sigma * math.sqrt(1 + 1 / m + (x - x_mean) ** 2 / sxx)
        out.append({"step": step, "value": value, "lower": value - half, "upper": value + half})
    return out


def timeseries(con):
    frame = pd.read_csv(HERE / "series.csv", parse_dates=["at"]).dropna()
    y = frame["load"].to_numpy()
    cases = []
    for robust in (False, True):
        res = STL(y, period=24, robust=robust).fit()
        cases.append({
            "what": f"STL, period given, robust={robust}",
            "params": {"period": 24, "robust": robust, "forecast": {"horizon": 30, "level": 0.9}},
            "points": len(y), "trend": list(res.trend), "seasonal": list(res.seasonal),
            "residual": list(res.resid),
            "anomalies": [int(i) for i in np.nonzero(np.abs(robust_z(res.resid)) > 3.5)[0]],
            "forecast": forecast(res.trend, res.seasonal, res.resid, 24, 30, 0.9),
        })
    hourly = frame.set_index("at")["load"].resample("1h").mean().interpolate("linear")
    res = STL(hourly.to_numpy(), period=24).fit()
    cases.append({
        "what": "hourly buckets, gaps interpolated, period detected",
        "params": {"interval": "1h"},
        "points": len(hourly), "detected_period": 24,
        "first_time": rfc3339(hourly.index[0].to_pydatetime()),
        "values": list(hourly.to_numpy()),
        "trend": list(res.trend), "seasonal": list(res.seasonal), "residual": list(res.resid),
        "anomalies": [int(i) for i in np.nonzero(np.abs(robust_z(res.resid)) > 3.5)[0]],
    })
    con.execute("CREATE TABLE series AS SELECT * FROM read_csv('%s', timestampformat='%%Y-%%m-%%dT%%H:%%M:%%SZ')"
                % (HERE / "series.csv"))
    agg = "count(load) AS count, sum(load) AS sum, avg(load) AS avg, min(load) AS min, max(load) AS max"
    tumbling = con.execute(
        f"SELECT time_bucket(INTERVAL '6 hours', \"at\") AS start, {agg} FROM series WHERE load IS NOT NULL "
        "GROUP BY 1 ORDER BY 1").fetchall()
    sliding = con.execute(
        f"SELECT s.start, {agg} FROM (SELECT unnest(generate_series(TIMESTAMP '2024-02-29 18:00:00', "
        "TIMESTAMP '2024-03-17 00:00:00', INTERVAL '6 hours')) AS start) s "
        "JOIN series ON \"at\" >= s.start AND \"at\" < s.start + INTERVAL '12 hours' AND load IS NOT NULL "
        "GROUP BY 1 ORDER BY 1").fetchall()
    columns = ["start", "count", "sum", "avg", "min", "max"]
    windows = {
        "params": {"windows": [{"type": "tumbling", "size": "6h"},
                               {"type": "sliding", "size": "12h", "step": "6h"}]},
        "tumbling": [dict(zip(columns, map(js, r))) for r in tumbling],
        "sliding": [dict(zip(columns, map(js, r))) for r in sliding],
    }
    return cases, windows


def main():
    con = duckdb.connect()
    con.execute("SET threads TO 1")
    schemas = json.loads((HERE / "schemas.json").read_text())
    messy_schema = write_messy()
    series_schema = write_series()
    kinds = {"readings": dict(f.split(":") for f in schemas["readings"].split(",")),
             "messy": dict(f.split(":") for f in messy_schema.split(","))}
    con.execute("CREATE TABLE readings AS SELECT * FROM read_csv('%s', timestampformat='%%Y-%%m-%%dT%%H:%%M:%%SZ', "
                "types={'id':'BIGINT','sensor':'VARCHAR','region':'VARCHAR','value':'DOUBLE','count':'BIGINT',"
                "'ts':'TIMESTAMP','ok':'BOOLEAN'})" % (HERE / "readings.csv"))
    con.execute("CREATE TABLE messy AS SELECT * FROM read_csv('%s', all_varchar=true)" % (HERE / "messy.csv"))
    profiles = {t: [profile(con, t, c, k) for c, k in kinds[t].items()] for t in kinds}
    olap = [{"what": what, "request": req, "at": at, "filters": filters,
             "columns": [d[0] for d in con.execute(sql).description],
             "rows": [[js(v) for v in r] for r in con.execute(sql).fetchall()]}
            for what, req, at, filters, sql in OLAP]
    series, windows = timeseries(con)
    out = {"duckdb": duckdb.__version__, "statsmodels": statsmodels.__version__,
           "schemas": {"messy": messy_schema, "series": series_schema},
           "cube": CUBE, "profiles": profiles, "olap": olap, "pivot": pivot_case(con),
           "timeseries": series, "windows": windows}
    (HERE / "ops_reference.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"profiles of {sum(map(len, profiles.values()))} columns, {len(olap) + 1} OLAP views, "
          f"{len(series)} decompositions (DuckDB {duckdb.__version__}, statsmodels {statsmodels.__version__})")


if __name__ == "__main__":
    main()
