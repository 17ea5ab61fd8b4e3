"""Reference values for the graph engine on seeded random graphs.

Three graphs of 1,000 nodes: Erdős–Rényi undirected, Barabási–Albert
(power-law) undirected, and Erdős–Rényi directed. For each, networkx's
answers for every algorithm the engine offers are written to
random_graphs.json. Run with `make reference`.
"""

import json
import pathlib

import networkx as nx


def as_str_keys(mapping):
    return {str(k): v for k, v in mapping.items()}


def case(name, G):
    edges = [[u, v] for u, v in G.edges()]
    nodes = list(G.nodes())
    first = nodes[0]
    out = {
        "name": name,
        "directed": G.is_directed(),
        "nodes": nodes,
        "edges": edges,
        "pagerank": as_str_keys(nx.pagerank(G, alpha=0.85, tol=1e-12, max_iter=1000)),
        "personalized_pagerank": {
            "personalization": {str(nodes[0]): 1.0, str(nodes[1]): 3.0},
            "scores": as_str_keys(
                nx.pagerank(G, alpha=0.85, tol=1e-12, max_iter=1000, personalization={nodes[0]: 1.0, nodes[1]: 3.0})
            ),
        },
        "degree_centrality": as_str_keys(nx.degree_centrality(G)),
        "closeness_centrality": as_str_keys(nx.closeness_centrality(G)),
        "betweenness_centrality": as_str_keys(nx.betweenness_centrality(G, normalized=True)),
        "source": first,
        "shortest_path_lengths": as_str_keys(nx.single_source_shortest_path_length(G, first)),
    }
    if G.is_directed():
        out["weak_components"] = nx.number_weakly_connected_components(G)
        out["strong_components"] = sorted(
            (sorted(c) for c in nx.strongly_connected_components(G)), key=lambda c: (-len(c), c[0])
        )
    else:
        out["components"] = nx.number_connected_components(G)
        out["triangles"] = as_str_keys(nx.triangles(G))
        out["clustering"] = as_str_keys(nx.clustering(G))
        out["average_clustering"] = nx.average_clustering(G)
        pairs = [(nodes[i], nodes[j]) for i, j in [(0, 1), (2, 3), (4, 5), (0, 7), (10, 20)]]
        out["pairs"] = [[u, v] for u, v in pairs]
        out["jaccard"] = [s for _, _, s in nx.jaccard_coefficient(G, pairs)]
        out["adamic_adar"] = [s for _, _, s in nx.adamic_adar_index(G, pairs)]
        out["common_neighbors"] = [len(list(nx.common_neighbors(G, u, v))) for u, v in pairs]
        communities = nx.community.louvain_communities(G, seed=0)
        out["louvain_modularity"] = nx.community.modularity(G, communities)
    return out


def geometric():
    """A* on a random geometric graph whose weights are at least the
    Euclidean length of each edge, so the straight-line heuristic is
    admissible."""
    import math
    import random

    rng = random.Random(5)
    G = nx.random_geometric_graph(300, 0.12, seed=5)
    pos = nx.get_node_attributes(G, "pos")
    for u, v in G.edges():
        G[u][v]["weight"] = math.dist(pos[u], pos[v]) * (1.0 + rng.random())
    largest = max(nx.connected_components(G), key=len)
    nodes = sorted(largest)
    source, target = nodes[0], nodes[-1]
    euclid = lambda a, b: math.dist(pos[a], pos[b])
    return {
        "edges": [[u, v, d["weight"]] for u, v, d in G.edges(data=True)],
        "coordinates": {str(n): list(pos[n]) for n in G.nodes()},
        "source": source,
        "target": target,
        "distance": nx.astar_path_length(G, source, target, heuristic=euclid, weight="weight"),
        "dijkstra_distance": nx.dijkstra_path_length(G, source, target, weight="weight"),
    }


graphs = [
    case("erdos_renyi_undirected", nx.gnp_random_graph(1000, 0.006, seed=1)),
    case("barabasi_albert", nx.barabasi_albert_graph(1000, 3, seed=2)),
    case("erdos_renyi_directed", nx.gnp_random_graph(1000, 0.004, seed=3, directed=True)),
]
reference = {"generator": f"networkx {nx.__version__}", "graphs": graphs, "astar": geometric()}
out = pathlib.Path(__file__).with_name("random_graphs.json")
out.write_text(json.dumps(reference, separators=(",", ":")) + "\n")
print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
