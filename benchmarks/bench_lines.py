"""Benchmark: 10 million contact records -> deal lines and holders.

Three runs over the same Parquet files, each in its own process so that its time and peak
memory (max RSS) are its own:

``geointel``
    ``read_contacts`` (validation + pseudonymisation in DuckDB) then the lines method up to
    holders: ``prepare`` (flares, pair table), features, score, rebrand links, chains,
    holder attribution.
``pandas``
    a naive pandas baseline of the same core: pair table by ``groupby`` over both directions,
    per-handset features (one-way customers, flares by a 10-minute rolling count), and
    co-location by merging (cell, hour) tables. No validation or pseudonymisation.
``floor``
    a bare DuckDB ``GROUP BY a_party, b_party`` over the same files: the least any method
    must do.

Data: ``simulate_county_lines`` with pseudonym identifiers, ``--scale`` per simulation,
repeated with different seeds (and cell ids) until ``--records`` are reached, written as one
Parquet file per simulation (not timed).

Run by hand (it is not part of the test suite)::

    python benchmarks/bench_lines.py                  # 10 million records
    python benchmarks/bench_lines.py --records 1000000 --skip-pandas
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd


def make_data(folder: Path, records: int, scale: float) -> list[Path]:
    from geointel.network.simulate import simulate_county_lines

    paths, total, seed = [], 0, 1000
    while total < records:
        sim = simulate_county_lines(seed=seed, scale=scale, identifiers="pseudonym")
        c = sim.contacts
        c = c.assign(cell_id=c["cell_id"].where(c["cell_id"] == "", f"S{seed}-" + c["cell_id"]))
        c = c.head(records - total)
        path = folder / f"contacts_{seed}.parquet"
        c.to_parquet(path, index=False)
        paths.append(path)
        total += len(c)
        seed += 1
        print(f"  generated {total:,} records", file=sys.stderr)
    return paths


def run_geointel(paths: list[Path]) -> dict[str, Any]:
    from geointel.io.contacts import read_contacts
    from geointel.network.features import deal_line_score, features_sql
    from geointel.network.graph import prepare
    from geointel.network.lines import attribute_holders, chain_lines, link_rebrands

    t0 = time.perf_counter()
    result = read_contacts(paths, key=b"benchmark-key-0123456789abcdef!!")
    t_read = time.perf_counter() - t0
    con = prepare(result.data)
    feats = features_sql(con)
    scored = deal_line_score(feats)
    deal = sorted(scored.loc[scored["is_deal_line"], "handset"])
    links = link_rebrands(con, feats, deal)
    chains = chain_lines(deal, links, feats)
    holders = attribute_holders(con, deal)
    return {"rows": result.rows_read, "read_s": round(t_read, 1),
            "deal_handsets": len(deal), "lines": int(chains["line_id"].nunique()),
            "holders": len(holders)}


def run_pandas(paths: list[Path]) -> dict[str, Any]:
    c = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    c["t"] = pd.to_datetime(c["timestamp"]).astype("int64") // 10**9
    c = c.sort_values(["a_party", "t"], kind="stable").reset_index(drop=True)
    # flares: an SMS preceded by 9+ SMS from the same handset within 10 minutes
    s = c.loc[c["kind"] == "sms", ["a_party", "t"]]
    s = s.assign(ts=pd.to_datetime(s["t"], unit="s"))
    n = s.groupby("a_party").rolling("600s", on="ts")["t"].count()
    c["flare"] = False
    c.loc[s.index, "flare"] = n.to_numpy() >= 10
    flare_senders = c.loc[c["flare"], "a_party"].unique()
    out = c[["a_party", "b_party"]].rename(columns={"a_party": "h", "b_party": "c"})
    out["n_out"], out["n_in"] = (~c["flare"]).astype(int), 0
    inn = c[["b_party", "a_party"]].rename(columns={"b_party": "h", "a_party": "c"})
    inn["n_out"], inn["n_in"] = 0, 1
    pairs = pd.concat([out, inn]).groupby(["h", "c"], as_index=False)[["n_in", "n_out"]].sum()
    pairs["customer"] = (pairs["n_in"] >= 2) & (pairs["n_in"] >= 3 * pairs["n_out"])
    per = pairs.groupby("h").agg(n_contacts=("c", "size"), n_customers=("customer", "sum"))
    per["one_way_share"] = per["n_customers"] / per["n_contacts"]
    deal = per[(per["one_way_share"] >= 0.5) & (per["n_customers"] >= 15)
               & per.index.isin(flare_senders)].index
    loc = c.loc[c["cell_id"].notna() & (c["cell_id"] != ""), ["a_party", "cell_id", "t"]]
    loc = loc.assign(hr=loc["t"] // 3600).drop(columns="t").drop_duplicates()
    dl = loc[loc["a_party"].isin(deal)]
    same = dl.merge(loc, on=["cell_id", "hr"], suffixes=("", "_x"))
    same = same[~same["a_party_x"].isin(deal)]
    best = same.groupby(["a_party", "a_party_x"]).size().reset_index(name="hours")
    best = best.sort_values("hours", ascending=False).drop_duplicates("a_party")
    return {"rows": len(c), "deal_handsets": len(deal), "holders": len(best)}


def run_floor(paths: list[Path]) -> dict[str, Any]:
    import duckdb

    files = ", ".join(f"'{p}'" for p in paths)
    con = duckdb.connect()
    rows = con.execute(f"SELECT count(*) FROM (SELECT a_party, b_party, count(*) "
                       f"FROM read_parquet([{files}]) GROUP BY 1, 2)").fetchall()
    return {"pairs": int(rows[0][0])}


def _child(name: str, paths: list[Path], queue: mp.Queue) -> None:
    runner = {"geointel": run_geointel, "pandas": run_pandas, "floor": run_floor}[name]
    t0 = time.perf_counter()
    info = runner(paths)
    info["seconds"] = round(time.perf_counter() - t0, 1)
    info["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    queue.put(info)


def measure(name: str, paths: list[Path]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, paths, queue))
    proc.start()
    info = queue.get()
    proc.join()
    return {"run": name, **info}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_data(Path(tmp), args.records, args.scale)
        runs = ["floor", "geointel"] + ([] if args.skip_pandas else ["pandas"])
        results = [measure(name, paths) for name in runs]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
