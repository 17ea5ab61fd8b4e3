"""Captures real storage events from a live server into the seed's six
sample files (buffer_pool_events.json, lsm_events.json,
disk_io_events.json, tier_events.json, page_events.json,
columnar_events.json):

    weft serve --data-dir ./data --buffer-pool-mib 1   # small pool: evictions, misses
    python3 test_data/websocket/capture_storage.py http://127.0.0.1:8080 ./data

It listens on the six /api/v1/ws/storage/* endpoints while it writes and
flushes a collection (flushes, a compaction), reads keys (pool hits and
misses), uploads datasets (chunks, an encoding change), summarises a column
(a scan) and — with the server's data directory as second argument — flips
a byte in a table file and asks for a checksum scan (a checksum failure).
The e2e tests check every sample against schemas/storage/.
"""

import asyncio
import json
import pathlib
import random
import sys
import urllib.request

import websockets

HERE = pathlib.Path(__file__).parent
STREAMS = {
    "buffer-pool": "buffer_pool_events.json",
    "lsm": "lsm_events.json",
    "io": "disk_io_events.json",
    "tiers": "tier_events.json",
    "pages": "page_events.json",
    "columnar": "columnar_events.json",
}


def call(base, method, path, body=None, content_type="application/json"):
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": content_type})
    with urllib.request.urlopen(request) as response:
        return response.read()


def work(base, data_dir):
    for round in range(4):
        puts = {f"user-{i:05}": {"round": round, "name": f"user {i}", "pad": "x" * 100} for i in range(round, 4000, 4)}
        call(base, "POST", "/api/v1/collections/capture/batch", {"put": puts})
        call(base, "POST", "/api/v1/collections/capture/flush", {})
    for i in range(0, 4000, 37):
        call(base, "GET", f"/api/v1/collections/capture/keys/user-{i:05}")
    rng = random.Random(7)
    rows = ["step,value,label"]
    for i in range(70_000):
        # Sorted steps in the first chunk, shuffled in the second: the
        # column's encoding changes from delta to plain.
        step = i if i < 65_536 else rng.randrange(1 << 40)
        rows.append(f"{step},{rng.gauss(0, 1):.4f},{rng.choice('abc')}")
    call(base, "POST", "/api/v1/datasets/capture", ("\n".join(rows) + "\n").encode(), "text/csv")
    call(base, "GET", "/api/v1/datasets/capture/columns/value/summary")
    if data_dir:
        table = sorted(pathlib.Path(data_dir).rglob("*.sst"))[0]
        raw = bytearray(table.read_bytes())
        raw[8192 + 100] ^= 0x5A
        table.write_bytes(bytes(raw))
        call(base, "POST", "/api/v1/storage/verify", {})
    # Everything idle goes cold; reading a chunk brings its segment back.
    call(base, "POST", "/api/v1/storage/tiers/migrate?idle_secs=0", {})
    call(base, "GET", "/api/v1/datasets/capture/columns/label?chunk=1")


async def main(base, data_dir):
    captured = {name: {} for name in STREAMS}

    async def listen(name):
        url = base.replace("http", "ws", 1) + f"/api/v1/ws/storage/{name}?interval_ms=100"
        async with websockets.connect(url) as ws:
            try:
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 3))
                    if message["type"] == "event":
                        kinds = captured[name].setdefault(message["kind"], [])
                        if len(kinds) < 2:
                            kinds.append(message)
            except asyncio.TimeoutError:
                pass

    listeners = [asyncio.create_task(listen(name)) for name in STREAMS]
    await asyncio.sleep(0.5)
    await asyncio.to_thread(work, base, data_dir)
    await asyncio.gather(*listeners)
    for name, file in STREAMS.items():
        events = [e for kind in sorted(captured[name]) for e in captured[name][kind]]
        with open(HERE / file, "w") as f:
            json.dump(events, f, indent=2)
            f.write("\n")
        print(f"{file}: {len(events)} events, kinds {sorted(captured[name])}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080",
                     sys.argv[2] if len(sys.argv) > 2 else None))
