"""Benchmark: geointel.siting MCLP against spopt's MCLP on the same real instance.

Demand: every LSOA (2011) of Southend-on-Sea, Thurrock and Essex at its ONS
population-weighted centroid, weighted by Census 2011 usual residents. Candidates: every
active NaPTAN stop of those areas (150/158/159 Stops.csv). Distances: straight line x 1.3
(``geointel.access.distance_matrix``). Each solver runs in its own forked process on the same
cost matrix, so its time and peak memory are its own.

Run (takes several minutes: spopt builds a dense model)::

    python benchmarks/bench_siting.py --p 10 --threshold 1600 --threshold 3200

Options: ``--mirror DIR`` (default ../shared/data), ``--skip-spopt``, ``--json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geointel.access import distance_matrix
from geointel.io.boundaries import read_boundaries
from geointel.io.naptan import read_naptan
from geointel.settings import SET_AREAS, Settings
from geointel.siting import MCLP

NAPTAN = ("150", "158", "159")


def build_instance(mirror: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Demand (LSOA centroids with population) and candidate stops, EPSG:27700."""
    codes = pd.concat([
        read_boundaries(mirror / "boundaries" / "lsoa11" / f"{code}.geojson").data
        for code in SET_AREAS
    ])
    lsoa = set(codes["code"])
    cent = pd.read_csv(mirror / "centroids" / "lsoa11_population_weighted_centroids.csv")
    cent = cent[cent["lsoa11cd"].isin(lsoa)]
    pop = pd.read_csv(mirror / "population" / "census2011_lsoa11_population.csv",
                      usecols=["lsoa11_code", "usual_residents"])
    cent = cent.merge(pop, left_on="lsoa11cd", right_on="lsoa11_code", how="left")
    demand = gpd.GeoDataFrame(
        cent[["lsoa11cd", "usual_residents"]].reset_index(drop=True),
        geometry=gpd.points_from_xy(cent["longitude"], cent["latitude"]), crs="EPSG:4326",
    ).to_crs("EPSG:27700")
    stops = read_naptan([mirror / "naptan" / f"{a}Stops.csv" for a in NAPTAN]).data
    return demand, stops


def _peak_rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def _rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run_geointel(cost: np.ndarray, w: np.ndarray, p: int, t: float) -> dict[str, Any]:
    start = time.perf_counter()
    r = MCLP.from_cost_matrix(cost, w, threshold=t, p=p).solve(time_limit=600)
    return {"objective": r.objective, "status": r.status, "method": r.method, "gap": r.gap,
            "seconds": time.perf_counter() - start, "sites": [str(s) for s in r.selected]}


def _run_spopt(cost: np.ndarray, w: np.ndarray, p: int, t: float) -> dict[str, Any]:
    import pulp
    from spopt.locate import MCLP as SpoptMCLP

    start = time.perf_counter()
    model = SpoptMCLP.from_cost_matrix(cost, w, service_radius=t, p_facilities=p)
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    return {"objective": float(pulp.value(model.problem.objective)),
            "status": pulp.LpStatus[model.problem.status],
            "seconds": time.perf_counter() - start}


def _child(name: str, cost: np.ndarray, w: np.ndarray, p: int, t: float, queue: Any) -> None:
    base = _rss_now_mb()
    out = (_run_geointel if name == "geointel" else _run_spopt)(cost, w, p, t)
    own, kids = _peak_rss_mb()
    out["peak_rss_mb_above_start"] = round(own - base, 1)
    out["solver_process_peak_rss_mb"] = round(kids, 1)
    queue.put(out)


def run(name: str, cost: np.ndarray, w: np.ndarray, p: int, t: float) -> dict[str, Any]:
    """Run one solver in a forked process; returns its figures."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, cost, w, p, t, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=None)
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--threshold", type=float, action="append")
    ap.add_argument("--skip-spopt", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    mirror = args.mirror or Settings().resolved_mirror()
    if mirror is None:
        print("no open-data mirror found; pass --mirror", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    demand, stops = build_instance(mirror)
    cost = distance_matrix(demand.geometry, stops.geometry)
    w = demand["usual_residents"].to_numpy(dtype=float)
    setup = time.perf_counter() - t0
    rows = []
    for t in args.threshold or [1600.0, 3200.0]:
        row: dict[str, Any] = {"threshold_m": t, "p": args.p, "demand": len(demand),
                               "candidates": len(stops), "setup_seconds": round(setup, 2)}
        row["geointel"] = run("geointel", cost, w, args.p, t)
        if not args.skip_spopt:
            row["spopt"] = run("spopt", cost, w, args.p, t)
            row["same_objective"] = bool(
                abs(row["spopt"]["objective"] - row["geointel"]["objective"]) <= 1e-6)
            row["speedup"] = round(row["spopt"]["seconds"] / row["geointel"]["seconds"], 1)
        rows.append(row)
        if not args.json:
            print(json.dumps(row, indent=2), flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
