"""Reference values for weighted closeness and betweenness.

Two seeded Erdős–Rényi graphs of 300 nodes (undirected and directed) with
integer weights 1–9 (so that equal-length paths are exactly equal, as
networkx compares them); networkx's closeness_centrality(distance="weight")
and betweenness_centrality(weight="weight") are written to
weighted_centrality.json. Run with `make reference`.
"""

import json
import pathlib
import random

import networkx as nx


def case(name, G):
    return {
        "name": name,
        "directed": G.is_directed(),
        "nodes": list(G.nodes()),
        "edges": [[u, v, d["weight"]] for u, v, d in G.edges(data=True)],
        "closeness": {str(k): v for k, v in nx.closeness_centrality(G, distance="weight").items()},
        "betweenness": {str(k): v for k, v in nx.betweenness_centrality(G, weight="weight").items()},
    }


def weighted(G, seed):
    rng = random.Random(seed)
    for u, v in G.edges():
        G[u][v]["weight"] = rng.randint(1, 9)
    return G


def main():
    graphs = [
        case("er_300_weighted", weighted(nx.gnp_random_graph(300, 0.02, seed=11), 1)),
        case("er_300_weighted_directed", weighted(nx.gnp_random_graph(300, 0.02, seed=12, directed=True), 2)),
    ]
    out = pathlib.Path(__file__).parent / "weighted_centrality.json"
    out.write_text(json.dumps({"networkx": nx.__version__, "graphs": graphs}) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
