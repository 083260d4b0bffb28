"""Scoring and tracking on lines detected from a simulated market, checked against its truth.

The simulation's truth gives a harm order (from its intelligence register) and one line
disrupted mid-period with a built-in drop in demand and displacement to another line in the
same town. Everything scored and tracked comes from :func:`analyse_lines` on the records
pseudonymised as at read time: its lines table (the scheme's network evidence), its weekly
activity and line customers; the truth is used only to check the answers.
"""

from __future__ import annotations

import pytest

from geointel.io.contacts import read_contacts, read_intel
from geointel.network.pipeline import analyse_lines
from geointel.network.simulate import simulate_county_lines
from geointel.privacy import pseudonymise
from geointel.scoring import (
    displacement,
    line_of_handsets,
    load_scheme,
    national_counts,
    rank_lines,
    track,
    validate_disruption_log,
)

pytestmark = pytest.mark.slow  # about 15 s: simulate and analyse 5 months

KEY = bytes(range(32))
SEED = 1


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict:
    sim = simulate_county_lines(seed=SEED)
    tmp = tmp_path_factory.mktemp("scoring")
    sim.contacts.to_csv(tmp / "contacts.csv", index=False)
    sim.intel.to_csv(tmp / "intel.csv", index=False)
    contacts = read_contacts(tmp / "contacts.csv", key=KEY).data
    intel = read_intel(tmp / "intel.csv", key=KEY).data
    result = analyse_lines(contacts, seed=SEED)
    line_of = line_of_handsets(result.lines)
    detected = {row.line_id: line_of[pseudonymise([row.handsets.split(";")[0]], KEY)[0]]
                for row in sim.truth_lines.itertuples()}
    disruptions = sim.disruptions.assign(
        line_id=[line_of[p] for p in pseudonymise(sim.disruptions["line"], KEY)])
    return {"sim": sim, "result": result, "intel": intel, "detected": detected,
            "truth": sim.truth_lines.set_index("line_id"),
            "disruptions": disruptions.drop(columns=["line"])}


def test_ranking_puts_the_most_harmful_lines_on_top(sample):
    truth, detected = sample["truth"].sort_values("harm_rank"), sample["detected"]
    ranked = rank_lines(sample["result"].lines, load_scheme(), seed=SEED,
                        intel=sample["intel"], draws=300).table
    assert len(ranked) == len(truth)
    order = ranked["line_id"].tolist()
    most_harmful = {detected[i] for i in truth.index[truth["harm_tier"] == "high"]}
    assert set(order[:2]) == most_harmful
    assert order[0] == detected[truth.index[0]]
    # the whole order agrees closely with the truth (Spearman rank correlation)
    truth_rank = ranked["line_id"].map({detected[i]: r for i, r in truth["harm_rank"].items()})
    assert ranked["rank"].corr(truth_rank, method="spearman") >= 0.9
    top = ranked.iloc[0]
    assert (top["rank_low"], top["rank_high"]) == (1, 1)
    # county lines reach tens of km from their exporter; the local lines stay in town
    reach = ranked.set_index("line_id")["reach_km"]
    county = [detected[i] for i in truth.index[truth["exporter"] != truth["importer"]]]
    local = [detected[i] for i in truth.index[truth["exporter"] == truth["importer"]]]
    assert reach[county].min() > 15 and reach[local].max() < 5


def test_tracker_detects_the_demand_drop_after_the_disruption(sample):
    truth, detected = sample["truth"], sample["detected"]
    disrupted = truth.index[truth["disrupted_on"] != ""][0]
    action = truth.loc[disrupted, "disrupted_on"]
    activity = sample["result"].activity
    # analysed without LSOA boundaries, the lines carry no importer authority: the other
    # line in the disrupted line's town (which takes its customers) is left out by hand
    importer = truth.loc[disrupted, "importer"]
    same_town = [detected[i] for i in truth.index[truth["importer"] == importer]]
    result = track(activity, line_id=detected[disrupted], action_date=action, weeks=8,
                   lines=sample["result"].lines, scheme=load_scheme(), exclude=same_town)
    assert len(result.comparison) == 4 and not set(result.comparison) & set(same_town)
    m = result.measures.set_index("measure")
    for measure in ("deal_messages", "active_customers"):
        assert m.loc[measure, "method"] == "comparison"
        assert m.loc[measure, "beyond_normal_variation"]
        assert m.loc[measure, "direction"] == "down" and m.loc[measure, "rate_ratio"] < 0.8
    assert result.risk["risk_change"].iloc[0] < 0
    # an undisrupted county line in another town shows no change beyond normal variation
    control = track(activity, line_id=detected["L4"], action_date=action, weeks=8,
                    exclude=[detected[disrupted]]).measures
    assert not control["beyond_normal_variation"].any()


def test_displacement_finds_the_line_that_took_the_customers(sample):
    truth, detected = sample["truth"], sample["detected"]
    disrupted = truth.index[truth["disrupted_on"] != ""][0]
    moved = displacement(sample["result"].line_customers, line_id=detected[disrupted],
                         action_date=truth.loc[disrupted, "disrupted_on"], min_shared=3)
    importer = truth.loc[disrupted, "importer"]
    same_town = {detected[i] for i in truth.index[truth["importer"] == importer]}
    assert moved["line_id"].iloc[0] in same_town - {detected[disrupted]}
    assert moved["shared_customers"].iloc[0] >= 3


def test_national_counts_from_the_sample_disruption_log(sample):
    log = sample["sim"].disruptions
    tidy = validate_disruption_log(sample["disruptions"])
    assert set(tidy["line_id"]) <= set(sample["result"].lines["line_id"])
    counts = national_counts(tidy)
    assert counts["actions"] == len(log)
    assert counts["moderate_disruptions"] == int((log["grading"] == "moderate").sum()) == 1
    assert counts["lines_closed"] == 0
