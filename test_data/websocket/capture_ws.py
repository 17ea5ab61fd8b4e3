"""Captures one real message of every type of the generic event protocol
(`/api/v1/ws` and the seed endpoints) from a live server:
    python3 test_data/websocket/capture_ws.py http://127.0.0.1:8080
Runs a small graph job so that real events flow, another through the
endpoint's own graph_algorithm_request, sends an operator broadcast and a
bad message. Writes ws_messages.json beside this script;
the e2e tests check it against schemas/ws/.
"""

import asyncio
import json
import pathlib
import sys
import urllib.request

import websockets

HERE = pathlib.Path(__file__).parent


def post(base, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


async def main(base):
    captured = {}

    def keep(message):
        captured.setdefault(message["type"], [])
        if len(captured[message["type"]]) < 3:
            captured[message["type"]].append(message)

    async with websockets.connect(base.replace("http", "ws", 1) + "/api/v1/ws/graph/algorithms") as ws:
        async def until(kind):
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                keep(message)
                if message["type"] == kind:
                    return message

        await until("welcome")
        await until("subscribed")  # the endpoint's pre-subscription
        await ws.send(json.dumps({"type": "subscribe", "id": "jobs", "topics": ["jobs.*"]}))
        await until("subscribed")
        await asyncio.to_thread(post, base, "/api/v1/jobs?wait=true", {
            "engine": "graph", "op": "pagerank",
            "params": {"edges": [[1, 2], [2, 3], [3, 1], [3, 4]], "max_iterations": 5},
        })
        await until("event")
        await ws.send(json.dumps({
            "type": "graph_algorithm_request", "request_id": "r1", "algorithm": "degree_centrality",
            "params": {"edges": [[1, 2], [2, 3]]},
        }))
        await until("accepted")
        await until("result")
        await asyncio.to_thread(post, base, "/api/v1/ws/broadcast", {"kind": "maintenance", "data": {"in_minutes": 5}})
        await until("broadcast")
        await ws.send(json.dumps({"type": "ping"}))
        await until("pong")
        await ws.send(json.dumps({"type": "teleport"}))
        await until("error")
        await ws.send(json.dumps({"type": "unsubscribe", "id": "jobs"}))
        await until("unsubscribed")
    with open(HERE / "ws_messages.json", "w") as f:
        json.dump(captured, f, indent=2)
        f.write("\n")
    print(sorted(captured))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"))
