"""Accuracy figures of the lines method and the tracker on simulated markets (not timed).

For each seed, ``simulate_county_lines(seed)`` (seed 42 is the embedded sample: ``geointel
sample build --seed 42`` writes the same records) is written to CSV, read back with
``read_contacts`` under a fixed key (as ``geointel lines`` does), analysed with footprints on
the synced LSOA boundaries when present, and checked against the simulation's ground truth:

- deal-line precision and recall; rebrand-link precision, recall and accuracy (found and
  true links in common / in either); holder accuracy; the grouping of lines (pairwise
  precision and recall, adjusted Rand index) - :func:`geointel.network.evaluate`;
- whether the default scheme ranks the lines in the truth's harm order;
- the disruption strategies at the default budget (nodes removed, LCC fraction).

``--placebo`` adds the tracker: every Monday as a placebo action date on the four lines the
simulation never disrupts (share called beyond normal variation at 5%), and the built-in
disruption (detected or not, p-values). The Montagna phone-call network (Cavallaro et al.
2020) gives the LCC fraction left after removing the top 5% of nodes by betweenness.

Run by hand::

    python benchmarks/lines_accuracy.py                          # seeds 42 1 2 3
    python benchmarks/lines_accuracy.py --seeds 42 1 2 3 --placebo
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

KEY = bytes(range(32))
UNDISTURBED = ("L1", "L2", "L4", "L5")  # TONY, JAY, KILO, SMOKEY


def _lsoas() -> Any:
    from geointel.io.boundaries import read_boundaries
    from geointel.settings import load_settings

    files = sorted((load_settings().data_dir / "boundaries" / "lsoa11").glob("*.geojson"))
    if not files:
        return None
    return pd.concat([read_boundaries(f).data for f in files], ignore_index=True)


def one_seed(seed: int, lsoas: Any, *, placebo: bool) -> dict[str, Any]:
    from geointel.io.contacts import read_contacts, read_intel
    from geointel.network.evaluate import evaluate_against_truth
    from geointel.network.pipeline import analyse_lines
    from geointel.network.simulate import simulate_county_lines
    from geointel.privacy import pseudonymise
    from geointel.scoring import line_of_handsets, load_scheme, rank_lines

    sim = simulate_county_lines(seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        sim.contacts.to_csv(Path(tmp) / "contacts.csv", index=False)
        sim.intel.to_csv(Path(tmp) / "intel.csv", index=False)
        contacts = read_contacts(Path(tmp) / "contacts.csv", key=KEY).data
        intel = read_intel(Path(tmp) / "intel.csv", key=KEY).data
    result = analyse_lines(contacts, lsoas=lsoas, seed=seed)
    scores = evaluate_against_truth(result, sim.truth_handsets, sim.truth_lines, key=KEY)
    line_of = line_of_handsets(result.lines)
    truth = sim.truth_lines.set_index("line_id")
    detected = {i: line_of.get(pseudonymise([str(truth.loc[i, "handsets"]).split(";")[0]],
                                             KEY)[0]) for i in truth.index}
    ranked = rank_lines(result.lines, load_scheme(), seed=seed, intel=intel, draws=300).table
    name_of = {v: k for k, v in detected.items()}
    order = [name_of.get(x) for x in ranked["line_id"]]
    out: dict[str, Any] = {
        "seed": seed, **{k: round(v, 4) for k, v in scores.items()},
        "lines": len(result.lines), "groups": len(result.groups),
        "ranking_matches_truth": order == truth.sort_values("harm_rank").index.tolist(),
        "disruption": {r["strategy"]: {"nodes_removed": int(r["nodes_removed"]),
                                       "lcc_fraction": round(float(r["lcc_fraction"]), 3),
                                       "customers_cut_off": int(r["customers_cut_off"])}
                       for r in result.disruption.to_dict("records")},
    }
    if placebo:
        out["tracker"] = _tracker(result, truth, detected, lsoas is not None)
    return out


def _tracker(result: Any, truth: pd.DataFrame, detected: dict[str, Any],
             market_known: bool) -> dict[str, Any]:
    from geointel.scoring import track

    def exclude(line: str) -> list[str]:
        if market_known:  # lines.csv's importer_la leaves the same market out
            return []
        town = truth.loc[line, "importer"]
        return [detected[i] for i in truth.index[truth["importer"] == town] if i != line]

    flags: dict[str, list[bool]] = {}
    for name in UNDISTURBED:
        for day in pd.date_range("2018-10-15", "2019-02-18", freq="7D"):
            r = track(result.activity, line_id=detected[name], action_date=day, weeks=8,
                      lines=result.lines, exclude=exclude(name))
            for m in r.measures.itertuples():
                flags.setdefault(str(m.measure), []).append(bool(m.beyond_normal_variation))
    disrupted = truth.index[truth["disrupted_on"] != ""][0]
    r = track(result.activity, line_id=detected[disrupted],
              action_date=truth.loc[disrupted, "disrupted_on"], weeks=8, lines=result.lines,
              exclude=exclude(disrupted)).measures.set_index("measure")
    return {"placebo_flagged": {m: [sum(f), len(f)] for m, f in flags.items()},
            "disruption_p": {m: float(f"{p:.3g}") for m, p in r["p_value"].items()},
            "disruption_detected": {m: bool(v) for m, v in
                                    r["beyond_normal_variation"].items()}}


def montagna() -> dict[str, Any] | None:
    from geointel.network.disruption import (
        lcc_after_removal,
        lcc_size,
        read_weighted_edgelist,
        top_betweenness,
    )
    from geointel.settings import Settings

    mirror = Settings().resolved_mirror()
    path = mirror / "networks" / "montagna_phonecalls_edgelist.csv" if mirror else None
    if path is None or not path.is_file():
        return None
    G = read_weighted_edgelist(path)
    k = math.ceil(0.05 * G.number_of_nodes())
    before = lcc_size(G)
    after = lcc_after_removal(G, top_betweenness(G, k))
    return {"nodes": G.number_of_nodes(), "lcc_before": before, "removed": k,
            "lcc_after": after, "lcc_fraction": round(after / before, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3])
    parser.add_argument("--placebo", action="store_true",
                        help="also the tracker's placebo and disruption figures")
    parser.add_argument("--no-boundaries", action="store_true",
                        help="no footprints (the market is then taken from the truth)")
    args = parser.parse_args(argv)
    lsoas = None if args.no_boundaries else _lsoas()
    runs = []
    for seed in args.seeds:
        runs.append(one_seed(seed, lsoas, placebo=args.placebo))
        print(f"seed {seed} done", file=sys.stderr)
    summary: dict[str, Any] = {"seeds": runs, "montagna": montagna()}
    if args.placebo:
        total: dict[str, list[int]] = {}
        for run in runs:
            for m, (k, n) in run["tracker"]["placebo_flagged"].items():
                total.setdefault(m, [0, 0])
                total[m] = [total[m][0] + k, total[m][1] + n]
        summary["placebo_flagged_all"] = {m: {"flagged": k, "tests": n,
                                              "share": round(k / n, 3)}
                                          for m, (k, n) in total.items()}
        summary["disruption_detected_all"] = {
            m: sum(run["tracker"]["disruption_detected"][m] for run in runs)
            for m in runs[0]["tracker"]["disruption_detected"]}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
