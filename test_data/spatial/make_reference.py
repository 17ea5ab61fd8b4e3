"""Reference values for the spatial engine, from Shapely 2, pyproj and networkx.

Run with `make reference` (or `python3 test_data/spatial/make_reference.py`);
writes `reference.json` and `network.geojson` beside this file. Every input
is generated here from a fixed seed, so the file can be regenerated and
diffed. The tests (`plugins/spatial/tests/reference.rs` natively and
`tests/e2e/spatial.rs` through the server) compare the engine's answers with
these values.
"""

import itertools
import json
import math
import os
import random

import networkx as nx
import numpy as np
import pyproj
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, mapping

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261201)

# The GRS80 mean radius R1 as geo rounds it (6371008.8 m), which its Haversine (and so the engine) uses.
EARTH_RADIUS = 6371008.8

PREDICATES = ["intersects", "within", "contains", "touches", "crosses", "overlaps",
              "disjoint", "equals", "covers", "covered_by"]


def star(cx, cy, radius, n, step=0.5):
    """A simple (star-shaped) polygon with vertices on a `step` grid."""
    while True:
        angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(n))
        ring = []
        for a in angles:
            r = radius * rng.uniform(0.4, 1.0)
            x = round((cx + r * math.cos(a)) / step) * step
            y = round((cy + r * math.sin(a)) / step) * step
            if not ring or ring[-1] != (x, y):
                ring.append((x, y))
        if len(ring) >= 3:
            poly = Polygon(ring)
            if poly.is_valid and poly.area > 0:
                return poly


def grid_rect():
    x, y = rng.randint(0, 18), rng.randint(0, 18)
    return box(x, y, x + rng.randint(1, 4), y + rng.randint(1, 4))


def grid_line():
    points = [(rng.randint(0, 20), rng.randint(0, 20))]
    for _ in range(rng.randint(1, 3)):
        x, y = points[-1]
        points.append((x + rng.randint(-4, 4), y + rng.randint(-4, 4)))
    if len({p for p in points}) < 2:
        points.append((points[0][0] + 1, points[0][1]))
    return LineString(points)


def features_of(geoms):
    return [{"type": "Feature", "id": i, "geometry": mapping(g),
             "properties": {"fid": i, "kind": g.geom_type, "weight": round(rng.uniform(0, 10), 3)}}
            for i, g in enumerate(geoms)]


def predicate_cases():
    shapes = ([star(rng.uniform(2, 18), rng.uniform(2, 18), rng.uniform(1.5, 5), rng.randint(4, 9)) for _ in range(20)]
              + [grid_rect() for _ in range(15)]
              + [Point(rng.randint(0, 20), rng.randint(0, 20)) for _ in range(15)]
              + [grid_line() for _ in range(10)]
              # Degenerate but valid: a repeated vertex, a repeated point in
              # a line, a collinear vertex, a point on a corner, a closed
              # line, a polygon with a hole touching its shell at a point.
              + [Polygon([(4, 4), (8, 4), (8, 4), (8, 8), (4, 8)]),
                 LineString([(2, 2), (6, 6), (6, 6), (10, 2)]),
                 Polygon([(10, 10), (12, 10), (14, 10), (14, 14), (10, 14)]),
                 Point(10, 10),
                 LineString([(3, 12), (6, 12), (6, 15), (3, 12)]),
                 Polygon([(0, 0), (6, 0), (6, 6), (0, 6)], [[(0, 0), (2, 1), (1, 2)]])])
    # A copy of a layer feature, so that `equals` has a positive case.
    assert all(g.is_valid for g in shapes)
    queries = [box(4, 4, 10, 10), star(10, 10, 6, 8), LineString([(0, 0), (10, 10), (20, 5)]),
               Point(8, 8), Polygon([(2, 2), (16, 2), (16, 16), (2, 16)], [[(6, 6), (6, 12), (12, 12), (12, 6)]]),
               MultiPolygon([box(0, 0, 5, 5), box(12, 12, 18, 19)]), shapes[20]]
    cases = []
    for q in queries:
        answers = {}
        for p in PREDICATES:
            answers[p] = [i for i, s in enumerate(shapes) if getattr(s, p)(q)]
        answers["relate:T*F**F***"] = [i for i, s in enumerate(shapes) if s.relate_pattern(q, "T*F**F***")]
        cases.append({"geometry": mapping(q), "wkt": q.wkt, "answers": answers})
    relate = [{"a": shapes[i].wkt, "b": shapes[j].wkt, "matrix": shapes[i].relate(shapes[j])}
              for i, j in itertools.combinations(range(len(shapes)), 2) if rng.random() < 0.05]
    return {"features": features_of(shapes), "queries": cases, "relate": relate}


def planar_measures():
    geoms = ([star(0, 0, rng.uniform(1, 1000), rng.randint(4, 12), step=1e-3) for _ in range(10)]
             + [LineString([(rng.uniform(-50, 50), rng.uniform(-50, 50)) for _ in range(rng.randint(2, 8))]) for _ in range(10)]
             + [Polygon(box(0, 0, 10, 10).exterior.coords, [box(2, 2, 4, 4).exterior.coords])])
    out = []
    for g in geoms:
        other = star(rng.uniform(-100, 100), rng.uniform(-100, 100), 20, 6, step=1e-3)
        out.append({"wkt": g.wkt, "area": g.area, "length": g.length, "other": other.wkt,
                    "distance": g.distance(other), "centroid": list(g.centroid.coords[0])})
    return out


def geodesic_measures():
    geod = pyproj.Geod(ellps="WGS84")
    out = []
    for _ in range(12):
        lon, lat = rng.uniform(-170, 170), rng.uniform(-70, 70)
        poly = star(lon, lat, rng.uniform(0.01, 5), rng.randint(4, 10), step=1e-4)
        area, perimeter = geod.geometry_area_perimeter(poly)
        line = LineString([(lon + rng.uniform(-3, 3), lat + rng.uniform(-3, 3)) for _ in range(4)])
        a = (rng.uniform(-180, 180), rng.uniform(-80, 80))
        b = (rng.uniform(-180, 180), rng.uniform(-80, 80))
        _, _, dist = geod.inv(a[0], a[1], b[0], b[1])
        out.append({"polygon": poly.wkt, "area": abs(area), "perimeter": perimeter,
                    "line": line.wkt, "line_length": geod.geometry_length(line),
                    "line_haversine": haversine_length(list(line.coords)),
                    "a": list(a), "b": list(b), "distance": dist,
                    "haversine": haversine(a, b)})
    return out


def haversine(a, b):
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS * math.asin(math.sqrt(h))


def haversine_length(coords):
    return sum(haversine(a, b) for a, b in zip(coords, coords[1:]))


# (target CRS, lon range, lat range): each projection where it is meant to be used.
TRANSFORMS = [
    ("EPSG:3857", (-179, 179), (-80, 80)),
    ("EPSG:3395", (-179, 179), (-80, 80)),
    ("EPSG:32633", (10, 20), (0, 80)),
    ("EPSG:32756", (150, 156), (-70, -1)),
    ("EPSG:2154", (-4, 8), (42, 51)),
    ("EPSG:3035", (-10, 30), (35, 70)),
    ("EPSG:25832", (6, 12), (45, 60)),
    ("EPSG:4258", (-10, 30), (35, 70)),
    ("EPSG:3413", (-180, 180), (60, 89)),
]


def transforms():
    out = []
    for crs, (lon0, lon1), (lat0, lat1) in TRANSFORMS:
        forward = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        points = [(rng.uniform(lon0, lon1), rng.uniform(lat0, lat1)) for _ in range(8)]
        projected = [list(forward.transform(x, y)) for x, y in points]
        out.append({"to": crs, "points": [list(p) for p in points], "projected": projected})
    return out


def operations():
    polys = [star(rng.uniform(0, 20), rng.uniform(0, 20), rng.uniform(3, 8), rng.randint(5, 12), step=1e-3) for _ in range(8)]
    pairs = []
    for a, b in zip(polys, polys[1:]):
        pairs.append({"a": a.wkt, "b": b.wkt,
                      "intersection": a.intersection(b).area, "union": a.union(b).area,
                      "difference": a.difference(b).area, "sym_difference": a.symmetric_difference(b).area,
                      "intersection_wkt": a.intersection(b).wkt})
    buffers = []
    for g in [polys[0], LineString([(0, 0), (10, 0), (10, 10)]), Point(3, 4), polys[3]]:
        for d in [0.5, 2.0]:
            buffered = g.buffer(d, quad_segs=16)
            buffers.append({"wkt": g.wkt, "distance": d, "area": buffered.area, "result": buffered.wkt})
    cloud = shapely.MultiPoint([(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(60)])
    hull = cloud.convex_hull
    wiggle = LineString([(x, math.sin(x / 3) * 10 + rng.uniform(-0.5, 0.5)) for x in range(0, 60)])
    simplified = [{"tolerance": t, "result": wiggle.simplify(t, preserve_topology=False).wkt} for t in [0.3, 1.0, 3.0]]
    invalid = {
        "POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))": False,   # bowtie
        "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))": True,
        "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (20 20, 21 20, 21 21, 20 21, 20 20))": False,  # hole outside
        "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 4 2, 4 4, 2 4, 2 2))": True,
        "MULTIPOLYGON (((0 0, 5 0, 5 5, 0 5, 0 0)), ((3 3, 8 3, 8 8, 3 8, 3 3)))": False,  # overlapping parts
        "POLYGON ((0 0, 10 0, 5 5, 10 10, 0 10, 5 5, 0 0))": False,  # self-touching at a point (GEOS: invalid)
        "LINESTRING (0 0, 0 0)": False,
        "LINESTRING (0 0, 1 1, 0 0)": True,
    }
    for wkt_text, expected in invalid.items():
        assert shapely.from_wkt(wkt_text).is_valid == expected, wkt_text
    return {"pairs": pairs, "buffers": buffers,
            "convex_hull": {"points": cloud.wkt, "hull_area": hull.area, "hull": hull.wkt},
            "simplify": {"line": wiggle.wkt, "cases": simplified},
            "validity": [{"wkt": k, "valid": v} for k, v in invalid.items()]}


def proximity():
    points = [(rng.uniform(0, 1000), rng.uniform(0, 1000)) for _ in range(400)]
    arr = np.array(points)
    knn, within = [], []
    for _ in range(8):
        q = (rng.uniform(0, 1000), rng.uniform(0, 1000))
        d = np.hypot(arr[:, 0] - q[0], arr[:, 1] - q[1])
        order = np.argsort(d)
        knn.append({"point": list(q), "k": 7, "ids": [int(i) for i in order[:7]],
                    "distances": [float(d[i]) for i in order[:7]]})
        radius = rng.uniform(20, 120)
        within.append({"point": list(q), "distance": radius,
                       "ids": [int(i) for i in order if d[i] <= radius]})
    bbox = [200.0, 300.0, 450.0, 700.0]
    in_box = [i for i, (x, y) in enumerate(points) if bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]]
    polygons = [star(rng.uniform(100, 900), rng.uniform(100, 900), rng.uniform(50, 200), 7, step=1e-3) for _ in range(6)]
    counts = [sum(1 for p in points if poly.contains(Point(p))) for poly in polygons]
    return {"points": [{"type": "Feature", "geometry": mapping(Point(p)), "properties": {"n": i}}
                       for i, p in enumerate(points)],
            "knn": knn, "within": within, "bbox": bbox, "in_bbox": in_box,
            "polygons": features_of(polygons), "join_counts": counts}


def grid_city(n=12, spacing=400.0):
    """A jittered n x n street grid in metres (EPSG:32633), some blocks missing."""
    nodes = {(i, j): (500000 + i * spacing + rng.uniform(-60, 60), 5000000 + j * spacing + rng.uniform(-60, 60))
             for i in range(n) for j in range(n)}
    graph_length, graph_minutes = nx.Graph(), nx.Graph()
    features = []
    for (i, j), a in nodes.items():
        for di, dj in [(1, 0), (0, 1)]:
            if (i + di, j + dj) not in nodes or rng.random() < 0.12:
                continue
            b = nodes[(i + di, j + dj)]
            mid = ((a[0] + b[0]) / 2 + rng.uniform(-20, 20), (a[1] + b[1]) / 2 + rng.uniform(-20, 20))
            line = LineString([a, mid, b])
            speed = rng.choice([30, 50, 70])
            minutes = line.length / 1000 / speed * 60
            features.append({"type": "Feature", "geometry": mapping(line),
                             "properties": {"speed_kmh": speed, "minutes": minutes}})
            for g, w in [(graph_length, line.length), (graph_minutes, minutes)]:
                g.add_edge(a, b, weight=min(w, g.edges[a, b]["weight"]) if g.has_edge(a, b) else w)
    component = max(nx.connected_components(graph_length), key=len)
    live = sorted(component)
    routes = []
    for _ in range(12):
        a, b = rng.sample(live, 2)
        offset = lambda p: [p[0] + rng.uniform(-5, 5), p[1] + rng.uniform(-5, 5)]
        routes.append({"from": offset(a), "to": offset(b), "from_node": list(a), "to_node": list(b),
                       "length": nx.dijkstra_path_length(graph_length, a, b),
                       "minutes": nx.dijkstra_path_length(graph_minutes, a, b)})
    stops = rng.sample(live, 7)
    matrix = {(s, t): nx.dijkstra_path_length(graph_length, s, t) for s in stops for t in stops}
    best = min(sum(matrix[(tour[k], tour[(k + 1) % len(tour)])] for k in range(len(tour)))
               for tour in ([stops[0], *rest] for rest in itertools.permutations(stops[1:])))
    centre = live[len(live) // 2]
    reach = nx.single_source_dijkstra_path_length(graph_length, centre, cutoff=1500.0)
    network = {"type": "FeatureCollection", "features": features}
    return network, {"routes": routes, "tsp": {"stops": [list(s) for s in stops], "optimal_length": best},
                     "service_area": {"from": list(centre), "max_cost": 1500.0,
                                      "reachable_nodes": len(reach)}}


def raster():
    width, height, cell = 30, 20, 10.0
    origin = (1000.0, 2000.0)  # top-left corner; rows go south
    values = [[round(rng.uniform(0, 100), 2) for _ in range(width)] for _ in range(height)]
    zones = [star(origin[0] + rng.uniform(60, 240), origin[1] - rng.uniform(40, 160), rng.uniform(30, 60), 6, step=1e-3)
             for _ in range(4)]
    stats = []
    for zone in zones:
        inside = [values[r][c] for r in range(height) for c in range(width)
                  if zone.contains(Point(origin[0] + (c + 0.5) * cell, origin[1] - (r + 0.5) * cell))]
        stats.append({"count": len(inside), "sum": sum(inside), "mean": sum(inside) / len(inside) if inside else None,
                      "min": min(inside) if inside else None, "max": max(inside) if inside else None})
    samples = []
    for _ in range(6):
        x, y = origin[0] + rng.uniform(0, width * cell), origin[1] - rng.uniform(0, height * cell)
        c, r = int((x - origin[0]) // cell), int((origin[1] - y) // cell)
        samples.append({"point": [x, y], "value": values[r][c]})
    return {"grid": {"width": width, "height": height, "origin": list(origin), "cell_size": cell,
                     "values": values},
            "zones": features_of(zones), "stats": stats, "samples": samples}


def main():
    network, routing = grid_city()
    reference = {
        "generator": "test_data/spatial/make_reference.py",
        "versions": {"shapely": shapely.__version__, "pyproj": pyproj.__version__, "networkx": nx.__version__},
        "predicates": predicate_cases(),
        "planar": planar_measures(),
        "geodesic": geodesic_measures(),
        "transforms": transforms(),
        "operations": operations(),
        "proximity": proximity(),
        "routing": routing,
        "raster": raster(),
    }
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
    with open(os.path.join(HERE, "network.geojson"), "w") as f:
        json.dump(network, f)


if __name__ == "__main__":
    main()
