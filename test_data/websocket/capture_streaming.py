"""Captures one real message of every type of the anomaly session protocol.

Run against a live server (`make run`, or `weft serve --session-stats-secs 1`):
    python3 test_data/websocket/capture_streaming.py ws://127.0.0.1:8080
Writes streaming_messages.json beside this script: {type: [messages...]}.
The e2e tests check every message there against schemas/streaming/.
"""

import asyncio
import json
import math
import pathlib
import random
import sys

import websockets

HERE = pathlib.Path(__file__).parent


async def main(base):
    captured = {}

    def keep(message):
        captured.setdefault(message["type"], [])
        if len(captured[message["type"]]) < 2:
            captured[message["type"]].append(message)

    url = f"{base}/api/v1/streaming/enhanced/capture-{random.randrange(1 << 30)}?algorithm=isolation_forest&warmup=64&client_id=capture"
    async with websockets.connect(url, max_size=None) as ws:
        async def send(message):
            await ws.send(json.dumps(message))

        async def until(kind, request_id=None):
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                keep(message)
                if message["type"] == kind and (request_id is None or message.get("request_id") == request_id):
                    return message

        await until("welcome")
        await send({"type": "sample", "data": [0.1, 0.2], "request_id": "first"})
        await until("result", "first")
        for topic in ["anomalies", "alerts", "stats"]:
            await send({"type": "subscribe", "config": {"topic": topic}, "request_id": f"sub-{topic}"})
            await until("subscribed", f"sub-{topic}")
        random.seed(1)
        rows = [[math.sin(i / 8) + random.gauss(0, 0.05), math.cos(i / 8)] for i in range(600)]
        rows[597] = [4.0, -4.0]
        # Warm up one sample at a time (only the first two answers are kept),
        # then small batches in both formats.
        for i, row in enumerate(rows[:590]):
            await send({"type": "sample", "data": row, "request_id": f"warm-{i}"})
            await until("result", f"warm-{i}")
        await send({"type": "batch", "batch_data": rows[590:595], "request_id": "rows"})
        await until("batch_result", "rows")
        await send({"type": "batch", "batch_data": rows[595:600], "format": "columns", "request_id": "columns"})
        await until("batch_result", "columns")
        if "anomaly" not in captured:
            await until("anomaly")
        await send({"type": "sample", "data": [0.5, 0.8], "sample_id": "s-1", "request_id": "scored"})
        await until("result", "scored")
        await send({"type": "drift", "config": {"window_size": 100}, "request_id": "drift"})
        await until("drift", "drift")
        await send({"type": "config", "config": {"contamination": 0.01}, "request_id": "config"})
        await until("config", "config")
        await send({"type": "alert", "data": {"title": "disk", "message": "almost full", "severity": "warning"}, "request_id": "alert"})
        await until("ack", "alert")
        if "alert" not in captured:
            await until("alert")
        await send({"type": "stats", "request_id": "stats"})
        await until("stats", "stats")
        await send({"type": "ping", "request_id": "ping"})
        await until("pong", "ping")
        await send({"type": "sample", "data": "not numbers", "request_id": "bad"})
        await until("error", "bad")
        await send({"type": "unsubscribe", "config": {"topic": "stats"}, "request_id": "unsub"})
        await until("unsubscribed", "unsub")
    with open(HERE / "streaming_messages.json", "w") as f:
        json.dump(captured, f, indent=2)
        f.write("\n")
    print(sorted(captured))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8080"))
