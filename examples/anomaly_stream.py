#!/usr/bin/env python3
"""Streams a CSV into a Weft anomaly session and prints what it flags.

    python3 examples/anomaly_stream.py --csv test_data/anomaly/stream.csv

Connects to ws://HOST/api/v1/streaming/enhanced/SESSION, subscribes to the
session's alerts (drift alerts arrive there), sends the numeric columns of
the CSV in batches and prints every row the detector flags. If the CSV has a
`label` column (1 = anomalous) it also prints precision and recall.
Needs only the `websockets` package.
"""

import argparse
import asyncio
import csv
import json
import sys

import websockets

SKIP = {"t", "time", "timestamp", "label", "kind"}


def read_csv(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = [c for c in reader.fieldnames if c not in SKIP]
        rows, labels = [], []
        for record in reader:
            rows.append([float(record[c]) for c in columns])
            if "label" in record:
                labels.append(record["label"] == "1")
    return columns, rows, labels


async def stream(args):
    columns, rows, labels = read_csv(args.csv)
    url = f"{args.url}/api/v1/streaming/enhanced/{args.session}?algorithm={args.algorithm}"
    flagged = []
    async with websockets.connect(url, max_size=None) as ws:
        welcome = json.loads(await ws.recv())
        if welcome["type"] != "welcome":
            sys.exit(f"the server refused the session: {welcome.get('message', welcome)}")
        print(f"session {welcome['session_id']} on {welcome['engine']} {welcome['engine_version']}, "
              f"{len(rows)} rows of {columns}")
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
    asyncio.run(stream(parser.parse_args()))


if __name__ == "__main__":
    main()
