"""Shapely 2 baselines for `make bench`'s spatial rows.

Reads the points and polygons the bench wrote (`x,y` lines; polygons as WKT
lines), and times what a Shapely user would write: building an STRtree,
nearest-neighbour queries against it (vectorised `query_nearest`), and a
points-in-polygons join (`query(..., predicate="contains")` then a count
per polygon). Prints JSON: seconds per step, and the counts for checking.
"""

import json
import sys
import time

import numpy as np
import shapely


def main(points_path, queries_path, polygons_path):
    xy = np.loadtxt(points_path, delimiter=",")
    queries = np.loadtxt(queries_path, delimiter=",")
    with open(polygons_path) as f:
        polygons = shapely.from_wkt([line.strip() for line in f if line.strip()])
    points = shapely.points(xy)
    query_points = shapely.points(queries)

    start = time.perf_counter()
    tree = shapely.STRtree(points)
    build = time.perf_counter() - start

    start = time.perf_counter()
    nearest = tree.query_nearest(query_points, all_matches=False)
    knn = time.perf_counter() - start

    start = time.perf_counter()
    polygon_index, _ = tree.query(polygons, predicate="contains")
    counts = np.bincount(polygon_index, minlength=len(polygons))
    join = time.perf_counter() - start

    print(json.dumps({
        "build": build, "knn": knn, "join": join,
        "pairs": int(counts.sum()),
        "first_nearest": [int(i) for i in nearest[1][:5]],
        "shapely": shapely.__version__,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:4])
