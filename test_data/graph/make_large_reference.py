"""Reference values on a 10,000-node graph (the upper end of the sizes the
graph issue asks for): a seeded Barabási–Albert graph (m = 3, ~30,000
edges) with integer weights 1–9. networkx's weighted PageRank, connected
components, triangles, clustering, BFS depths and weighted Dijkstra
distances from node 0 are written to large_graph.json. (Exact closeness and
betweenness are O(n·m) in networkx — minutes here — and are checked on the
1,000-node graphs instead.) Run with `make reference`.
"""

import json
import pathlib
import random

import networkx as nx


def main():
    G = nx.barabasi_albert_graph(10_000, 3, seed=2026)
    rng = random.Random(7)
    for u, v in G.edges():
        G[u][v]["weight"] = rng.randint(1, 9)

    def keyed(mapping):
        return {str(k): v for k, v in mapping.items()}

    reference = {
        "networkx": nx.__version__,
        "name": "ba_10000",
        "directed": False,
        "edges": [[u, v, d["weight"]] for u, v, d in G.edges(data=True)],
        "source": 0,
        "pagerank": keyed(nx.pagerank(G, alpha=0.85, tol=1e-12, max_iter=1000, weight="weight")),
        "components": nx.number_connected_components(G),
        "triangles": keyed(nx.triangles(G)),
        "clustering": keyed(nx.clustering(G)),
        "bfs_depths": keyed(nx.single_source_shortest_path_length(G, 0)),
        "dijkstra_distances": keyed(nx.single_source_dijkstra_path_length(G, 0, weight="weight")),
    }
    out = pathlib.Path(__file__).parent / "large_graph.json"
    out.write_text(json.dumps(reference) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
