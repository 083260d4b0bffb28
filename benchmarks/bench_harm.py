"""Benchmark: point-in-LSOA join and Gi* hotspots on the real mirror.

Two measurements, each against a bare baseline on the same data:

``join``
    :func:`geointel.harm.locate` placing ``--points`` points (seeded, each drawn in the
    bounding box of a random LSOA, so most fall inside one and some between or outside)
    into every LSOA 2011 polygon of the mirror, against a bare ``shapely.STRtree(polygons)
    .query(points, predicate="intersects")`` on the same arrays. Both times include
    building the tree. ``locate`` is timed with and without a ``lsoa_code`` column on the
    points (with one, a point on a shared boundary goes to the LSOA its code names).
    Target: within 1.5x of the bare query.
``gistar``
    :func:`geointel.hotspots.getis_ord` (999 permutations, FDR bins) on the drug-offence
    rate of all Essex + Southend + Thurrock LSOAs (police.uk months in the mirror), against
    ``esda.G_Local`` alone on the same queen weights; the weights build is timed apart.

Times are the best of ``--repeat`` runs (wall clock, ``time.perf_counter``); the join's
three runs are interleaved round by round.

Run by hand (it is not part of the test suite)::

    python benchmarks/bench_harm.py
    python benchmarks/bench_harm.py --points 200000 --repeat 1 --only join
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geointel import harm, hotspots
from geointel.settings import SET_AREAS, Settings


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return best, out


def all_lsoas(mirror: Path) -> gpd.GeoDataFrame:
    from geointel.io.boundaries import read_boundaries

    parts = [read_boundaries(p).data for p in sorted((mirror / "boundaries" / "lsoa11").glob(
        "*.geojson"))]
    frame = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame({"lsoa_code": frame["code"].astype(str)},
                            geometry=frame.geometry.to_numpy(), crs=parts[0].crs)


def bench_join(mirror: Path, n: int, repeat: int, seed: int) -> dict[str, Any]:
    lsoas = all_lsoas(mirror)
    rng = np.random.default_rng(seed)
    bounds = lsoas.geometry.bounds.to_numpy()
    pick = rng.integers(0, len(lsoas), n)
    b = bounds[pick]
    x = b[:, 0] + rng.random(n) * (b[:, 2] - b[:, 0])
    y = b[:, 1] + rng.random(n) * (b[:, 3] - b[:, 1])
    geoms = shapely.points(x, y)
    plain = gpd.GeoDataFrame(geometry=geoms, crs="EPSG:27700")
    coded = plain.assign(lsoa_code=lsoas["lsoa_code"].to_numpy()[pick])
    polys = lsoas.geometry.to_numpy()

    def bare() -> int:
        pts, _ = shapely.STRtree(polys).query(geoms, predicate="intersects")
        return len(np.unique(pts))

    t_bare = t_plain = t_coded = float("inf")
    for _ in range(repeat):  # interleaved, so load from other processes hits all alike
        t, placed_bare = best_of(1, bare)
        t_bare = min(t_bare, t)
        t, where = best_of(1, lambda: harm.locate(plain, lsoas))
        t_plain = min(t_plain, t)
        t, _ = best_of(1, lambda: harm.locate(coded, lsoas))
        t_coded = min(t_coded, t)
    return {"points": n, "lsoas": len(lsoas), "placed": int(where.notna().sum()),
            "placed_bare": int(placed_bare), "bare_strtree_s": round(t_bare, 3),
            "locate_s": round(t_plain, 3), "locate_with_codes_s": round(t_coded, 3),
            "ratio": round(t_plain / t_bare, 2), "ratio_with_codes": round(t_coded / t_bare, 2)}


def bench_gistar(mirror: Path, repeat: int, seed: int) -> dict[str, Any]:
    from esda import G_Local

    from geointel.area import build_area
    from geointel.io.police_uk import read_police_uk, select_crime_types

    area = build_area(SET_AREAS, data_dir=mirror)
    police = read_police_uk(sorted((mirror / "police_uk").glob("*-essex-street.csv")))
    counts = harm.count_by_area(select_crime_types(police.data, ["Drugs"]), area.lsoas)
    cells = area.lsoas[["lsoa_code", "population", "geometry"]].copy()
    cells["rate"] = (cells["lsoa_code"].map(counts.set_index("code")["count"])
                     / cells["population"] * 1000).fillna(0.0)
    t_w, w = best_of(repeat, lambda: hotspots.spatial_weights(cells))
    t_gi, gi = best_of(repeat, lambda: hotspots.getis_ord(cells, "rate", seed=seed, weights=w,
                                                          permutations=999))

    def bare() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return G_Local(cells["rate"].to_numpy(), w, transform="B", star=True,
                           permutations=999, seed=seed, n_jobs=1)

    t_bare, _ = best_of(repeat, bare)
    t_lisa, _ = best_of(repeat, lambda: hotspots.local_moran(cells, "rate", seed=seed,
                                                             weights=w, permutations=999))
    bins = gi["gi_bin"].value_counts().sort_index()
    return {"lsoas": len(cells), "permutations": 999, "weights_s": round(t_w, 3),
            "getis_ord_s": round(t_gi, 3), "bare_esda_g_local_s": round(t_bare, 3),
            "ratio": round(t_gi / t_bare, 2), "local_moran_s": round(t_lisa, 3),
            "bins": {str(k): int(v) for k, v in bins.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=["join", "gistar"])
    parser.add_argument("--mirror", type=Path, default=Settings().resolved_mirror())
    args = parser.parse_args()
    if args.mirror is None:
        raise SystemExit("no mirror: pass --mirror DIR (laid out like ../shared/data)")
    out: dict[str, Any] = {}
    if args.only in (None, "join"):
        out["join"] = bench_join(args.mirror, args.points, args.repeat, args.seed)
    if args.only in (None, "gistar"):
        out["gistar"] = bench_gistar(args.mirror, args.repeat, args.seed)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
