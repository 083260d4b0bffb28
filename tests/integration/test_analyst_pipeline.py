"""The analyst's chain on the embedded sample, through the CLI: lines -> score -> track.

``geointel lines`` on ``data/samples/contacts.csv`` and ``intel.csv`` (key
``data/pseudonym.key``) writes the lines with the scheme's network evidence, the weekly
activity and the line customers; ``geointel score`` ranks those lines with the register;
``geointel track`` measures the sample's built-in disruption, its displacement and the
national counts from the sample's disruption log (which names lines by raw number).
Everything is checked against ``data/samples/truth/lines.csv``.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout

import pandas as pd
import pytest

from geointel.cli import main
from geointel.privacy import load_key, pseudonymise
from geointel.settings import PROJECT_ROOT

pytestmark = [pytest.mark.sample, pytest.mark.slow]  # about 15 s: lines, score, track

SAMPLES = PROJECT_ROOT / "data" / "samples"
KEY_FILE = PROJECT_ROOT / "data" / "pseudonym.key"
SCHEME = PROJECT_ROOT / "models" / "morile_style_illustrative.yaml"


def _run(argv: list[str]) -> dict:
    """Run ``geointel <argv> --json`` and return its summary."""
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main([*argv, "--json"])
    assert code == 0, buffer.getvalue()
    return json.loads(buffer.getvalue())


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    if not (SAMPLES / "contacts.csv").is_file() or not KEY_FILE.is_file():
        pytest.skip("the sample is not built (geointel sample build) or no key")
    out = tmp_path_factory.mktemp("analyst")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("GEOINTEL_PSEUDONYM_KEY", raising=False)
        mp.setenv("GEOINTEL_KEY_FILE", str(KEY_FILE))
        results = {}
        results["lines"] = _run(["lines", "--contacts", str(SAMPLES / "contacts.csv"),
                                "--intel", str(SAMPLES / "intel.csv"), "--out", str(out)])
        results["score"] = _run(["score", "--lines", str(out / "lines.csv"), "--intel",
                                str(SAMPLES / "intel.csv"), "--scheme", str(SCHEME),
                                "--out", str(out / "ranked.csv"), "--draws", "300"])
        truth = pd.read_csv(SAMPLES / "truth" / "lines.csv", dtype=str)
        key = load_key(KEY_FILE, env={})
        lines = pd.read_csv(out / "lines.csv")
        detected = {h: line for line, hs in zip(lines["line_id"], lines["handsets"], strict=True)
                    for h in hs.split(";")}
        truth["detected"] = [detected.get(pseudonymise([hs.split(";")[0]], key)[0])
                             for hs in truth["handsets"]]
        t = truth.set_index("line_id")
        disrupted = t.index[t["disrupted_on"].notna()][0]
        action = t.loc[disrupted, "disrupted_on"]
        control = "L4"  # KILO: a county line into another town (Harlow), never disrupted
        assert pd.isna(t.loc[control, "disrupted_on"])
        assert t.loc[control, "importer"] != t.loc[disrupted, "importer"]
        track_args = ["--action-date", action, "--activity", str(out / "activity.csv"),
                      "--weeks", "8"]
        results["track"] = _run(["track", "--line", t.loc[disrupted, "detected"], *track_args,
                                "--customers", str(out / "line_customers.csv"),
                                "--lines", str(out / "lines.csv"),
                                "--disruptions", str(SAMPLES / "disruptions.csv")])
        results["control"] = _run(["track", "--line", t.loc[control, "detected"], *track_args])
    return {"out": out, "truth": t, "disrupted": disrupted, "control": control, **results}


def test_lines_finds_every_truth_line_and_writes_the_evidence(chain):
    t = chain["truth"]
    assert t["detected"].notna().all() and t["detected"].nunique() == len(t) == 6
    lines = pd.read_csv(chain["out"] / "lines.csv").set_index("line_id")
    assert {"customers", "messages", "runners", "reach_km"} <= set(lines.columns)
    reach = lines["reach_km"]
    county = t.loc[t["exporter"] != t["importer"], "detected"]
    local = t.loc[t["exporter"] == t["importer"], "detected"]
    assert reach[county].min() > 15 and reach[local].max() < 5
    assert (lines["runners"] >= 1).all() and (lines["messages"] > lines["customers"]).all()
    activity = pd.read_csv(chain["out"] / "activity.csv")
    assert list(activity.columns) == ["line_id", "week", "deal_messages", "active_customers"]
    assert set(activity["line_id"]) == set(lines.index)


def test_score_ranks_the_truths_most_harmful_line_first_with_sensible_bands(chain):
    t, s = chain["truth"], chain["score"]
    assert s["missing_evidence"] == [] and "warning" not in s
    ranked = pd.read_csv(chain["out"] / "ranked.csv")
    order = ranked["line_id"].tolist()
    by_rank = t.sort_values("harm_rank", key=lambda r: r.astype(int))
    assert order[0] == by_rank["detected"].iloc[0]
    assert order == by_rank["detected"].tolist()  # the whole harm order
    top = ranked.iloc[0]
    assert (top["rank_low"], top["rank_high"]) == (1, 1)
    band = ranked.set_index("line_id")["band"]
    # The illustrative scheme's bands (high >= 50, medium >= 25): the truth's high-harm lines
    # band medium or above, its low-harm local lines band low; never a higher band lower down.
    assert set(band[t.loc[t["harm_tier"] == "high", "detected"]]) <= {"high", "medium"}
    assert set(band[t.loc[t["harm_tier"] == "low", "detected"]]) == {"low"}
    levels = ranked["band"].map({"high": 2, "medium": 1, "low": 0})
    assert levels.is_monotonic_decreasing
    assert (ranked["confidence"].head(4) == "high").all()


def test_track_detects_the_drop_for_the_disrupted_line_only(chain):
    drop = chain["track"]["measures"]
    for measure in ("deal_messages", "active_customers"):
        assert drop[measure]["p_value"] < 0.05 and drop[measure]["direction"] == "down"
    assert chain["track"]["risk"][0]["risk_change"] < 0
    steady = chain["control"]["measures"]
    assert all(m["p_value"] >= 0.05 for m in steady.values()), steady


def test_displacement_finds_the_line_that_took_the_customers(chain):
    t = chain["truth"]
    moved = chain["track"]["displacement"]
    importer = t.loc[chain["disrupted"], "importer"]
    same_town = set(t.loc[(t["importer"] == importer)
                          & (t.index != chain["disrupted"]), "detected"])
    assert moved[0]["line_id"] in same_town and moved[0]["shared_customers"] >= 5


def test_disruption_log_counts_per_detected_line(chain):
    tr, t = chain["track"], chain["truth"]
    log = pd.read_csv(SAMPLES / "disruptions.csv", dtype=str)
    assert tr["disruption_log"]["rows_accepted"] == len(log)
    assert tr["national_counts"]["actions"] == len(log)
    assert tr["national_counts"]["moderate_disruptions"] == int(
        (log["grading"] == "moderate").sum())
    per_line = tr["disruptions_per_line"]
    assert set(per_line) <= set(t["detected"])
    assert per_line[t.loc[chain["disrupted"], "detected"]] >= 1


def test_no_raw_number_from_the_contacts_in_any_output(chain):
    contacts = pd.read_csv(SAMPLES / "contacts.csv", dtype=str, usecols=["a_party", "b_party",
                                                                          "imei"])
    numbers = set(contacts["a_party"]) | set(contacts["b_party"])
    imeis = set(contacts["imei"].dropna())
    forms = set(imeis)
    for n in numbers:
        forms |= {n, n[1:], f"{n[:5]} {n[5:]}"}
    pattern = re.compile("|".join(sorted(map(re.escape, forms), key=len, reverse=True)))
    files = [p for p in chain["out"].iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"lines.csv", "activity.csv", "line_customers.csv",
                                       "ranked.csv", "network.graphml", "i2_entities.csv"}
    for path in files:
        assert not pattern.search(path.read_bytes().decode("latin-1")), path.name
    for summary in ("lines", "score", "track", "control"):
        assert not pattern.search(json.dumps(chain[summary], default=str)), summary
