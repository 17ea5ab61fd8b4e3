"""Reference rows for the graph engine's pattern queries.

A seeded random social graph (people with ages and cities, KNOWS and
LIKES edges) and the expected answers of a few queries, computed with
plain Python loops over the edge list: an implementation independent of
the engine's matcher. Rows are compared as multisets. Each edge also has
a `since` year (an edge property, drawn from its own generator so the
other queries' graph stays as it was). Run with
`make reference`.
"""

import json
import pathlib
import random

rng = random.Random(11)
people = {str(i): {"label": "Person", "name": f"p{i}", "age": rng.randint(18, 80),
                   "city": rng.choice(["Oslo", "Lima", "Pune"])} for i in range(200)}
edges = []
for _ in range(900):
    a, b = rng.sample(sorted(people), 2)
    edges.append({"from": a, "to": b, "label": rng.choice(["KNOWS", "KNOWS", "LIKES"])})

years = random.Random(12)
for e in edges:
    e["properties"] = {"since": years.randint(1990, 2024)}

out_edges = {}
for e in edges:
    out_edges.setdefault(e["from"], []).append(e)

q1 = sorted(
    [people[e["to"]]["name"]] for e in edges
    if e["label"] == "KNOWS" and people[e["from"]]["age"] > 30
)
q2 = sorted(
    [people[a["from"]]["name"], people[b["to"]]["name"]]
    for a in edges if a["label"] == "KNOWS"
    for b in out_edges.get(a["to"], []) if b["label"] == "LIKES"
    and people[a["from"]]["city"] == people[b["to"]]["city"]
)
q3 = sorted(
    [e["from"]] for e in edges
    if e["label"] == "LIKES" and people[e["to"]]["age"] <= 25 and people[e["from"]]["age"] >= 60
)
q4 = sorted(
    [people[e["from"]]["name"], e["properties"]["since"]] for e in edges
    if e["label"] == "KNOWS" and e["properties"]["since"] < 2000 and people[e["to"]]["age"] >= 40
)

reference = {
    "node_properties": people,
    "edges": edges,
    "queries": [
        {"query": "MATCH (a)-[:KNOWS]->(b) WHERE a.age > 30 RETURN b.name", "rows": q1},
        {"query": "MATCH (a:Person)-[:KNOWS]->(b)-[:LIKES]->(c) WHERE a.city = c.city RETURN a.name, c.name",
         "rows": q2},
        {"query": "match (y)<-[:LIKES]-(x) where y.age <= 25 and x.age >= 60 return x", "rows": q3},
        {"query": "MATCH (a)-[e:KNOWS]->(b) WHERE e.since < 2000 AND b.age >= 40 RETURN a.name, e.since",
         "rows": q4},
    ],
}
out = pathlib.Path(__file__).with_name("query_reference.json")
out.write_text(json.dumps(reference, separators=(",", ":")) + "\n")
print(f"wrote {out}: {[len(q['rows']) for q in reference['queries']]} rows")
