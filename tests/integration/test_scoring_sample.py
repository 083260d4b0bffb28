"""Scoring and tracking on the simulated county-lines sample, checked against its ground truth.

The sample's truth gives a harm order (from its intelligence register) and one line disrupted
mid-period with a built-in drop in demand and displacement to another line in the same town.
Deal-line handsets are mapped to lines with the truth's handset chains (deal-line detection is
the network module's job); everything scored - customers, messages, runners, reach, harm
evidence - is computed here from the contact records and the intelligence register, after
pseudonymisation as at read time.
"""

from __future__ import annotations

import pytest

from geointel.network.simulate import simulate_county_lines
from geointel.privacy import pseudonymise
from geointel.scoring import (
    displacement,
    evidence_from_contacts,
    line_activity,
    line_customers,
    load_scheme,
    national_counts,
    rank_lines,
    track,
)

KEY = bytes(range(32))
SEED = 1


@pytest.fixture(scope="module")
def sample() -> dict:
    sim = simulate_county_lines(seed=SEED)
    contacts = sim.contacts.assign(a_party=pseudonymise(sim.contacts["a_party"], KEY),
                                   b_party=pseudonymise(sim.contacts["b_party"], KEY))
    chains = zip(sim.truth_lines["line_id"].astype(str), sim.truth_lines["handsets"].astype(str),
                 strict=True)
    line_of = {pseudonymise([h], KEY)[0]: line_id
               for line_id, handsets in chains for h in handsets.split(";")}
    intel = sim.intel.assign(subject=pseudonymise(sim.intel["subject"], KEY))
    disruptions = sim.disruptions.assign(
        line_id=[line_of[p] for p in pseudonymise(sim.disruptions["line"], KEY)])
    return {"sim": sim, "contacts": contacts, "line_of": line_of, "intel": intel,
            "evidence": evidence_from_contacts(contacts, line_of=line_of),
            "disruptions": disruptions.drop(columns=["line"])}


def test_ranking_puts_the_most_harmful_lines_on_top(sample):
    truth = sample["sim"].truth_lines.sort_values("harm_rank")
    ranked = rank_lines(sample["evidence"], load_scheme(), seed=SEED, intel=sample["intel"],
                        line_of=sample["line_of"], draws=300).table
    order = ranked["line_id"].tolist()
    most_harmful = set(truth.loc[truth["harm_tier"] == "high", "line_id"])
    assert set(order[:2]) == most_harmful
    assert order[0] == truth["line_id"].iloc[0]
    # the whole order agrees closely with the truth (Spearman rank correlation)
    truth_rank = ranked["line_id"].map(truth.set_index("line_id")["harm_rank"])
    rho = ranked["rank"].corr(truth_rank, method="spearman")
    assert rho >= 0.9
    top = ranked.iloc[0]
    assert (top["rank_low"], top["rank_high"]) == (1, 1)
    # county lines reach tens of km from their exporter; the local lines stay in town
    reach = ranked.set_index("line_id")["reach_km"]
    assert reach[["L1", "L2", "L3", "L4"]].min() > 15 and reach[["L5", "L6"]].max() < 5


def test_tracker_detects_the_demand_drop_after_the_disruption(sample):
    truth = sample["sim"].truth_lines.set_index("line_id")
    disrupted = truth.index[truth["disrupted_on"] != ""][0]
    action = truth.loc[disrupted, "disrupted_on"]
    activity = line_activity(sample["contacts"], line_of=sample["line_of"])
    result = track(activity, line_id=disrupted, action_date=action, weeks=8,
                   lines=sample["evidence"], scheme=load_scheme())
    m = result.measures.set_index("measure")
    for measure in ("deal_messages", "active_customers"):
        assert m.loc[measure, "beyond_normal_variation"]
        assert m.loc[measure, "direction"] == "down" and m.loc[measure, "rate_ratio"] < 0.7
    assert result.risk["risk_change"].iloc[0] < 0
    # an undisrupted county line in another town shows no drop beyond normal variation
    control = track(activity, line_id="L4", action_date=action, weeks=8).measures
    assert not (control["beyond_normal_variation"] & (control["direction"] == "down")).any()


def test_displacement_finds_the_line_that_took_the_customers(sample):
    truth = sample["sim"].truth_lines.set_index("line_id")
    disrupted = truth.index[truth["disrupted_on"] != ""][0]
    customers = line_customers(sample["contacts"], line_of=sample["line_of"])
    moved = displacement(customers, line_id=disrupted,
                         action_date=truth.loc[disrupted, "disrupted_on"], min_shared=3)
    importer = truth.loc[disrupted, "importer"]
    assert moved["line_id"].iloc[0] in set(truth.index[truth["importer"] == importer])
    assert moved["shared_customers"].iloc[0] >= 3


def test_national_counts_from_the_sample_disruption_log(sample):
    counts = national_counts(sample["disruptions"])
    log = sample["sim"].disruptions
    assert counts["actions"] == len(log)
    assert counts["moderate_disruptions"] == int((log["grading"] == "moderate").sum()) == 1
    assert counts["lines_closed"] == 0
