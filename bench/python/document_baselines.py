"""SQLite baselines for `make bench`'s document rows.

What someone would write with Python's sqlite3 instead of a document store:
documents as JSON text in a table keyed by _id (JSON1's json_extract for
fields), WAL mode with synchronous=FULL (a commit is durable when it
returns, as a Weft write is), an expression index for the indexed range,
and FTS5 with bm25() for text search. Reads the JSON-lines files the bench
wrote; prints JSON: seconds per step, and counts for checking.

    python3 document_baselines.py docs.jsonl texts.jsonl SINGLES BATCH
"""

import json
import os
import sqlite3
import sys
import tempfile
import time


def main(docs_path, texts_path, singles, batch):
    singles, batch = int(singles), int(batch)
    with open(docs_path) as f:
        docs = [line.rstrip("\n") for line in f]
    with open(texts_path) as f:
        texts = [json.loads(line) for line in f]
    ids = [json.loads(d)["_id"] for d in docs]
    out = {}
    with tempfile.TemporaryDirectory() as scratch:
        db = sqlite3.connect(os.path.join(scratch, "bench.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE singles (id INTEGER PRIMARY KEY, doc TEXT)")
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, doc TEXT)")

        start = time.perf_counter()
        for i in range(singles):
            db.execute("BEGIN")
            db.execute("INSERT INTO singles VALUES (?, json(?))", (ids[i], docs[i]))
            db.execute("COMMIT")
        out["single"] = time.perf_counter() - start

        start = time.perf_counter()
        for at in range(0, len(docs), batch):
            db.execute("BEGIN")
            db.executemany("INSERT INTO people VALUES (?, json(?))", zip(ids[at:at + batch], docs[at:at + batch]))
            db.execute("COMMIT")
        out["bulk"] = time.perf_counter() - start

        start = time.perf_counter()
        for i in range(singles):
            db.execute("SELECT doc FROM people WHERE id = ?", ((i * 7919) % len(docs),)).fetchone()
        out["point"] = time.perf_counter() - start

        start = time.perf_counter()
        rows = db.execute("SELECT count(*) FROM people WHERE json_extract(doc, '$.score') >= 50.0 "
                          "AND json_extract(doc, '$.score') < 50.5").fetchone()
        out["unindexed"] = time.perf_counter() - start
        out["unindexed_count"] = rows[0]

        db.execute("CREATE INDEX people_age ON people (json_extract(doc, '$.age'))")
        start = time.perf_counter()
        rows = db.execute("SELECT doc FROM people WHERE json_extract(doc, '$.age') >= 30 "
                          "AND json_extract(doc, '$.age') < 31").fetchall()
        out["indexed"] = time.perf_counter() - start
        out["indexed_count"] = len(rows)

        start = time.perf_counter()
        groups = db.execute("SELECT json_extract(doc, '$.city') AS city, sum(json_extract(doc, '$.score')) AS total, "
                            "count(*) FROM people WHERE json_extract(doc, '$.active') = 1 "
                            "GROUP BY city ORDER BY total DESC").fetchall()
        out["pipeline"] = time.perf_counter() - start
        out["groups"] = len(groups)

        db.execute("CREATE VIRTUAL TABLE texts USING fts5(body, tokenize='porter')")
        db.execute("BEGIN")
        db.executemany("INSERT INTO texts (rowid, body) VALUES (?, ?)", [(t["_id"], t["body"]) for t in texts])
        db.execute("COMMIT")
        start = time.perf_counter()
        hits = db.execute("SELECT rowid FROM texts WHERE texts MATCH 'espresso OR crema' "
                          "ORDER BY bm25(texts) LIMIT 10").fetchall()
        out["search"] = time.perf_counter() - start
        out["first_hits"] = [h[0] for h in hits]
        db.close()
    out["sqlite"] = sqlite3.sqlite_version
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:5])
