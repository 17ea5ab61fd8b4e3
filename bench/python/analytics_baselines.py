"""DuckDB baselines for `make bench`'s analytics rows.

Loads the CSVs the bench wrote (facts: id, k, d, v; dim: id, w) into
in-memory DuckDB tables, then times each query given on the command line
(after the two paths) with one thread and with DuckDB's default threads,
best of three. Prints JSON: {"threads_1": [seconds…], "threads_default":
[seconds…], "threads": n}.
"""

import json
import sys
import time

import duckdb


def best(con, sql, runs=3):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        con.execute(sql).fetchall()
        times.append(time.perf_counter() - start)
    return min(times)


def main(facts, dim, queries):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE facts AS SELECT * FROM read_csv('{facts}', header=true, "
                "columns={'id': 'BIGINT', 'k': 'BIGINT', 'd': 'BIGINT', 'v': 'DOUBLE'})")
    con.execute(f"CREATE TABLE dim AS SELECT * FROM read_csv('{dim}', header=true, "
                "columns={'id': 'BIGINT', 'w': 'DOUBLE'})")
    default = con.execute("SELECT current_setting('threads')").fetchone()[0]
    out = {"threads": default}
    con.execute("SET threads TO 1")
    out["threads_1"] = [best(con, q) for q in queries]
    con.execute(f"SET threads TO {default}")
    out["threads_default"] = [best(con, q) for q in queries]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
