"""Reference values for the graph engine: Zachary's karate club.

Writes karate_pagerank.json with the weighted edge list (as networkx ships
it) and networkx's PageRank, BFS depths from node 0, connected components
and Dijkstra distances from node 0. Run with `make reference`.
"""

import json
import pathlib

import networkx as nx

G = nx.karate_club_graph()
edges = [[u, v, d["weight"]] for u, v, d in G.edges(data=True)]

reference = {
    "generator": f"networkx {nx.__version__}: karate_club_graph()",
    "edges": edges,
    "pagerank": {
        # Tight tolerance so the comparison is about the algorithm, not
        # where each implementation happens to stop.
        "params": {"damping": 0.85, "tolerance": 1e-12, "max_iterations": 1000},
        "scores": {
            str(k): v
            for k, v in nx.pagerank(G, alpha=0.85, tol=1e-12, max_iter=1000, weight="weight").items()
        },
    },
    "pagerank_default": {
        "params": {"damping": 0.85},
        "scores": {str(k): v for k, v in nx.pagerank(G, alpha=0.85, weight="weight").items()},
    },
    "bfs_depths_from_0": {str(k): v for k, v in nx.single_source_shortest_path_length(G, 0).items()},
    "dijkstra_from_0": {
        str(k): v for k, v in nx.single_source_dijkstra_path_length(G, 0, weight="weight").items()
    },
    "components": nx.number_connected_components(G),
    "club": {str(n): d["club"] for n, d in G.nodes(data=True)},
    "all_pairs_dijkstra": {
        str(u): {str(v): d for v, d in lengths.items()}
        for u, lengths in nx.all_pairs_dijkstra_path_length(G, weight="weight")
    },
}

out = pathlib.Path(__file__).with_name("karate_pagerank.json")
out.write_text(json.dumps(reference, indent=1) + "\n")
print(f"wrote {out}")
