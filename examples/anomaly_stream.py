#!/usr/bin/env python3
"""Streams a CSV into a Weft anomaly session and prints what it flags.

    python3 examples/anomaly_stream.py --csv test_data/anomaly/stream.csv

Connects to ws://HOST/api/v1/streaming/enhanced/SESSION, subscribes to the
session's alerts (drift alerts arrive there), sends the numeric columns of
the CSV in batches and prints every row the detector flags. Columns with
text, timestamps or empty cells are not sent (it says which). If the CSV has
a `label` column (1 = anomalous) it also prints precision and recall. An
existing session keeps its algorithm; the server's notice is printed.
Needs only the `websockets` package.
"""

import argparse
import asyncio
import csv
import json
import sys

import websockets

def is_number(text):
    try:
        value = float(text)
    except ValueError:
        return False
    return value == value and value not in (float("inf"), float("-inf"))


def read_csv(path, label, skip):
    """Numeric columns as rows of floats, the label column (if any) as
    booleans, and why each other column was left out."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            sys.exit(f"{path} has no header row")
        records = list(reader)
    skipped = {}
    columns = []
    for name in reader.fieldnames:
        if name == label:
            continue
        if name in skip:
            skipped[name] = "skipped by --skip"
            continue
        values = [record.get(name) or "" for record in records]
        empty = sum(1 for v in values if not v.strip())
        text = next((v for v in values if v.strip() and not is_number(v)), None)
        if text is not None:
            skipped[name] = f"not numeric (e.g. {text[:20]!r})"
        elif empty:
            skipped[name] = f"{empty} empty values"
        else:
            columns.append(name)
    rows = [[float(record[c]) for c in columns] for record in records]
    labels = []
    if label in reader.fieldnames:
        labels = [record[label].strip() in ("1", "true", "True") for record in records]
    return columns, rows, labels, skipped


async def stream(args):
    columns, rows, labels, skipped = read_csv(args.csv, args.label, set(args.skip.split(",")))
    for name, why in skipped.items():
        print(f"column {name!r} not sent: {why}", file=sys.stderr)
    if not columns:
        sys.exit(f"{args.csv} has no numeric column to send")
    if not rows:
        sys.exit(f"{args.csv} has no rows")
    url = f"{args.url}/api/v1/streaming/enhanced/{args.session}?algorithm={args.algorithm}"
    flagged = []
    try:
        connection = websockets.connect(url, max_size=None)
        ws = await connection
    except (OSError, websockets.exceptions.InvalidURI, websockets.exceptions.InvalidHandshake) as error:
        sys.exit(f"cannot reach a weft server at {args.url} ({error}); start one with `make run` "
                 f"or pass --url")
    async with ws:
        welcome = json.loads(await ws.recv())
        if welcome["type"] != "welcome":
            sys.exit(f"the server refused the session: {welcome.get('message', welcome)}")
        if "notice" in welcome:
            print(f"note: {welcome['notice']}", file=sys.stderr)
        algorithm = welcome["config"].get("algorithm", args.algorithm)
        print(f"session {welcome['session_id']} on {welcome['engine']} {welcome['engine_version']} "
              f"({algorithm}), {len(rows)} rows of {columns}")
        await ws.send(json.dumps({"type": "subscribe", "config": {"topic": "alerts"}}))
        for start in range(0, len(rows), args.batch):
            batch = rows[start:start + args.batch]
            await ws.send(json.dumps({"type": "batch", "batch_data": batch, "request_id": str(start)}))
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "alert":
                    print(f"ALERT {message.get('title')}: {json.dumps(message.get('detail', {}))[:160]}")
                elif message["type"] == "error":
                    sys.exit(f"error: {message['code']}: {message['message']}")
                elif message["type"] == "batch_result" and message.get("request_id") == str(start):
                    for result in message["results"]:
                        if result["is_anomaly"]:
                            row = start + result["index"]
                            flagged.append(row)
                            print(f"anomaly at row {row}: confidence {result['confidence_score']:.3f} "
                                  f"score {result['anomaly_score']:.4f} values {rows[row]}")
                    break
        await ws.send(json.dumps({"type": "stats"}))
        while (message := json.loads(await ws.recv()))["type"] != "stats":
            pass
        streaming = message["stats"]["streaming"]
    print(f"flagged {len(flagged)} of {len(rows)} rows with {streaming['algorithm']} "
          f"(model fitted: {streaming['model_fitted']})")
    if labels:
        hits = sum(labels[r] for r in flagged)
        actual = sum(labels)
        precision = hits / len(flagged) if flagged else 0.0
        print(f"precision {precision:.3f}, recall {hits / actual if actual else 0.0:.3f} "
              f"against the CSV's labels")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8080", help="server (default %(default)s)")
    parser.add_argument("--session", default="example", help="session id (default %(default)s)")
    parser.add_argument("--csv", required=True, help="CSV with a header row")
    parser.add_argument("--algorithm", default="isolation_forest",
                        help="isolation_forest, half_space_trees, one_class_svm or robust_zscore")
    parser.add_argument("--batch", type=int, default=100, help="rows per message (default %(default)s)")
    parser.add_argument("--label", default="label",
                        help="column of 1/0 labels, used for precision and recall, never sent "
                             "(default %(default)s)")
    parser.add_argument("--skip", default="t,time,timestamp",
                        help="comma-separated columns not to send even if numeric "
                             "(default %(default)s); text and incomplete columns are never sent")
    args = parser.parse_args()
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    try:
        asyncio.run(stream(args))
    except websockets.exceptions.ConnectionClosed as closed:
        sys.exit(f"the server closed the session: {closed}")
    except KeyboardInterrupt:
        sys.exit("interrupted")


if __name__ == "__main__":
    main()
