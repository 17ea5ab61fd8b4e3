"""Baselines for `make bench`: the same graph operations in networkx and
(when installed) python-igraph, on an edge list written by the Rust bench.

Usage: graph_baselines.py EDGES_TSV OP [k]
Prints one JSON object: {"networkx": seconds, "igraph": seconds or null,
"build_networkx": seconds, "build_igraph": seconds or null}. The
algorithm is timed alone; building each library's graph from the edge
list (already in memory as Python tuples) is timed separately, so the
bench can also set whole runs side by side.
"""

import json
import sys
import time

import networkx as nx

try:
    import igraph
except ImportError:  # igraph is optional
    igraph = None


def timed(f):
    start = time.perf_counter()
    try:
        f()
    except nx.PowerIterationFailedConvergence:
        pass  # 20 iterations done, as asked; networkx just complains
    return time.perf_counter() - start


def main():
    path, op = sys.argv[1], sys.argv[2]
    k = int(sys.argv[3]) if len(sys.argv) > 3 else None
    edges = [tuple(map(int, line.split())) for line in open(path)]
    directed = op == "pagerank"
    start = time.perf_counter()
    G = (nx.DiGraph if directed else nx.Graph)(edges)
    build = time.perf_counter() - start
    out = {"build_networkx": build, "igraph": None, "build_igraph": None}
    if op == "pagerank":
        out["networkx"] = timed(lambda: nx.pagerank(G, alpha=0.85, max_iter=20, tol=1e-300))
    elif op == "components":
        out["networkx"] = timed(lambda: list(nx.weakly_connected_components(G) if directed else nx.connected_components(G)))
    elif op == "betweenness":
        out["networkx"] = timed(lambda: nx.betweenness_centrality(G, k=k, seed=1))
    if igraph is not None:
        start = time.perf_counter()
        n = max(max(e) for e in edges) + 1
        g = igraph.Graph(n=n, edges=edges, directed=directed)
        out["build_igraph"] = time.perf_counter() - start
        if op == "pagerank":
            out["igraph"] = timed(lambda: g.pagerank(damping=0.85))
        elif op == "components":
            out["igraph"] = timed(lambda: g.connected_components(mode="weak"))
        elif op == "betweenness":
            # igraph has no source sampling; its exact betweenness would not
            # be the same work, so it is left out.
            out["igraph"] = None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
