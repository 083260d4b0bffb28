"""Scheme validation, scoring arithmetic, ranking, rank intervals and the override audit."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import datetime
from math import isclose

import pandas as pd
import pytest
import yaml

from geointel.errors import DataFileError, PrivacyError, ValidationError
from geointel.scoring import (
    DEFAULT_SCHEME,
    HARM_DIMENSIONS,
    add_override,
    evidence_from_intel,
    load_scheme,
    rank_intervals,
    rank_lines,
    read_lines,
    read_overrides,
    score_lines,
    validate_scheme,
)

# A small scheme whose arithmetic is easy by hand: equal harm weights, factor 1.0 at the
# middle of the scale, risk_max = 4 (harm) * 2 (scope) * 1.5 (vulnerability) * 2 (lik.) = 24.
SMALL: dict = {
    "format": "geointel-scoring-scheme/1", "name": "small", "version": "0.1",
    "label": "test scheme",
    "scale": {0: "none", 1: "low", 2: "moderate", 3: "high", 4: "severe"},
    "harm": {d: {"weight": 1.0, "bounds": [0.5, 2.0]} for d in HARM_DIMENSIONS},
    "scope": {1: {"label": "local", "multiplier": 1.0}, 2: {"label": "wide", "multiplier": 2.0}},
    "vulnerability": {0: {"label": "none", "multiplier": 1.0},
                      1: {"label": "some", "multiplier": 1.5}},
    "likelihood": {1: {"label": "possible", "value": 1}, 2: {"label": "likely", "value": 2}},
    "combination": "product",
    "position": {"components": {c: {"weight": 1.0, "bounds": [0.5, 2.0]}
                                for c in ("capacity", "capability", "opportunity")},
                 "factor_range": [0.5, 1.5]},
    "priority_bands": [{"band": "high", "min_priority": 50},
                       {"band": "medium", "min_priority": 20},
                       {"band": "low", "min_priority": 0}],
    "confidence": {"network_evidence": ["customers"],
                   "corroborating_gradings": {"sources": ["1", "2"], "assessments": ["A", "B"]},
                   "grades": [{"grade": "high", "min_coverage": 0.5, "min_sources": 2},
                              {"grade": "low", "min_coverage": 0, "min_sources": 0}]},
    "defaults": {**{d: 0 for d in HARM_DIMENSIONS}, "scope": 1, "vulnerability": 0,
                 "likelihood": 1, "capacity": 2, "capability": 2, "opportunity": 2},
    "suggestions": {"physical": [{"evidence": "weapons", "thresholds": [1, 2, 3, 4]},
                                 {"evidence": "violence", "thresholds": [2, 4]}]},
    "monte_carlo": {"draws": 200, "interval": 0.9},
}


@pytest.fixture
def small() -> object:
    return validate_scheme(copy.deepcopy(SMALL), source="small.yaml")


def _mutated(path: str, value: object) -> dict:
    data = copy.deepcopy(SMALL)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[int(key) if key.isdigit() and (isinstance(node, list) or int(key) in node)
                    else key]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return data


# --- the scheme ---------------------------------------------------------------------------

def test_default_scheme_is_labelled_illustrative_frozen_and_picklable():
    scheme = load_scheme(DEFAULT_SCHEME)
    assert scheme.label == "MoRiLE-style, illustrative"
    assert [w.key for w in scheme.harm] == list(HARM_DIMENSIONS)
    assert isclose(scheme.risk_max, 4 * 1.3 * 1.4 * 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scheme.combination = "sum"
    assert pickle.loads(pickle.dumps(scheme)) == scheme and hash(scheme) == hash(load_scheme())


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("combination", "max", "combination: is 'max', not one of product, sum"),
    ("harm.physical.bounds", [1.5, 2.0], "harm.physical.bounds: [1.5, 2.0] do not satisfy"),
    ("harm.exploitation", KeyError, "harm: has no exploitation"),
    ("harm.physical.weight", -1, "harm.physical.weight: is not a positive number"),
    ("scale", {0: "a", 1: "b", 3: "d"}, "scale: levels [0, 1, 3] are not consecutive"),
    ("scope.2.multiplier", 0.5, "scope: multiplier values decrease"),
    ("priority_bands.2.min_priority", 10, "priority_bands[2].min_priority: is 10.0"),
    ("defaults.scope", 7, "defaults.scope: 7 is not a level of scope"),
    ("defaults.likelihood", KeyError, "defaults.likelihood: is missing"),
    ("suggestions.physical.0.thresholds", [3, 1], "suggestions.physical[0].thresholds: [3, 1]"),
    ("suggestions.physical.1.thresholds", [1, 2, 3, 4, 5], "has 5 thresholds but physical"),
    ("suggestions.colour", [{"evidence": "x", "thresholds": [1]}],
     "suggestions.colour: is not a scoring item"),
    ("format", "v2", "format: is 'v2', expected 'geointel-scoring-scheme/1'"),
    ("position.factor_range", [1.5, 0.5], "position.factor_range: is not [low, high]"),
    ("confidence.grades.1.min_sources", 1, "confidence.grades[1]: the last grade has"),
    ("monte_carlo.interval", 1.5, "monte_carlo.interval: is not in (0, 1]"),
    ("suggestions.physical.0.evidence", "knives",
     "suggestions.physical[0].evidence: 'knives' is not an evidence column. Fix: use one of "
     "customers, messages, runners, reach_km, weapons"),
    ("confidence.network_evidence", ["custmers"],
     "confidence.network_evidence: 'custmers' is not an evidence column"),
    ("custom_evidence", ["weapons"], "custom_evidence: repeats known evidence column(s) weapons"),
])
def test_malformed_scheme_is_refused_naming_key_path_and_fix(path, value, expected):
    with pytest.raises(ValidationError) as err:
        validate_scheme(_mutated(path, value), source="small.yaml")
    message = str(err.value)
    assert "small.yaml" in message and expected in message and "Fix:" in message


def test_every_problem_is_listed_at_once():
    data = _mutated("combination", "max")
    data["colour"] = "red"
    with pytest.raises(ValidationError, match=r"\(2 problems\)") as err:
        validate_scheme(data, source="s.yaml")
    assert "colour: is not a scheme key" in str(err.value)


def test_a_force_declares_its_own_evidence_columns(small):
    data = _mutated("suggestions.physical.0.evidence", "knives")
    data["custom_evidence"] = ["knives"]
    scheme = validate_scheme(data, source="force.yaml")
    assert scheme.custom_evidence == ("knives",)
    row = score_lines(pd.DataFrame({"line_id": ["A"], "knives": [3]}), scheme).table.iloc[0]
    # knives 3 reaches thresholds 1, 2, 3 of the rule that read weapons: physical 3
    assert (row["physical"], row["physical_basis"]) == (3, "evidence")
    assert row["physical_evidence"] == "knives=3 -> 3; suggested 3"


def test_load_scheme_file_errors(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        load_scheme(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("harm: [1, 2\nscale: {", encoding="utf-8")
    with pytest.raises(DataFileError, match="is not valid YAML"):
        load_scheme(bad)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(SMALL), encoding="utf-8")
    assert load_scheme(good).name == "small"


# --- scoring arithmetic -------------------------------------------------------------------

def _analyst(line_id: str, **scores: int) -> dict:
    return {"line_id": line_id, **{f"score_{k}": v for k, v in scores.items()}}


def test_scoring_arithmetic_by_hand(small):
    lines = pd.DataFrame([
        _analyst("A", physical=4, psychological=2, financial=0, community=2, exploitation=2,
                 scope=2, vulnerability=1, likelihood=2),
        _analyst("B", physical=1, psychological=1, financial=1, community=1, exploitation=1,
                 scope=1, vulnerability=0, likelihood=1, capacity=4),
    ])
    table = score_lines(lines, small).table.set_index("line_id")
    a, b = table.loc["A"], table.loc["B"]
    # A: harm (4+2+0+2+2)/5 = 2; x scope 2 x vulnerability 1.5 = 6; x likelihood 2 = 12 of 24.
    assert a["harm"] == 2 and a["harm_adjusted"] == 6 and a["risk"] == 50
    assert a["position_factor"] == 1.0 and a["priority"] == 50 and a["band"] == "high"
    assert a["physical_contribution"] == pytest.approx(4 / 5)
    assert sum(a[f"{d}_contribution"] for d in HARM_DIMENSIONS) == pytest.approx(a["harm"])
    # B: harm 1, raw 1 -> risk 100/24; position (4+2+2)/3 = 8/3 of 4 -> 0.5 + 2/3.
    assert b["risk"] == pytest.approx(100 / 24)
    assert b["position_factor"] == pytest.approx(0.5 + 2 / 3)
    assert b["priority"] == pytest.approx(100 / 24 * (0.5 + 2 / 3)) and b["band"] == "low"
    assert list(table.index) == ["A", "B"] and list(table["rank"]) == [1, 2]
    assert a["physical_basis"] == "analyst" and b["capability_basis"] == "default"


def test_sum_combination_by_hand(small):
    scheme = dataclasses.replace(small, combination="sum")
    lines = pd.DataFrame([_analyst("A", physical=4, psychological=2, financial=0, community=2,
                                   exploitation=2, scope=2, vulnerability=1, likelihood=2)])
    # adjusted 6 + likelihood 2 = 8, of a maximum 4 * 2 * 1.5 + 2 = 14.
    assert score_lines(lines, scheme).table["risk"].iloc[0] == pytest.approx(800 / 14)


def test_suggestions_show_their_evidence_and_analyst_scores_win(small):
    lines = pd.DataFrame({"line_id": ["A", "B", "C"], "weapons": [3, 1, None],
                          "violence": [1, 5, None], "score_physical": [None, 0, None]})
    table = score_lines(lines, small).table.set_index("line_id")
    assert table.loc["A", "physical"] == 3 and table.loc["A", "physical_basis"] == "evidence"
    assert table.loc["A", "physical_evidence"] == "weapons=3 -> 3; violence=1 -> 0; suggested 3"
    # B's evidence suggests 2 (violence 5 reaches both thresholds) but the analyst said 0.
    assert table.loc["B", "physical"] == 0 and table.loc["B", "physical_basis"] == "analyst"
    assert table.loc["B", "physical_evidence"] == "weapons=1 -> 1; violence=5 -> 2; suggested 2"
    assert table.loc["C", "physical_basis"] == "default" and table.loc["C", "physical"] == 0


def test_confidence_from_coverage_and_sources(small):
    lines = pd.DataFrame([
        {**_analyst("A", physical=1, psychological=1, financial=1, community=1),
         "customers": 10, "intel_corroborated": 1},
        {**_analyst("B", physical=1, psychological=1, financial=1, community=1),
         "intel_corroborated": 1},
        {**_analyst("C", physical=1), "customers": 10, "intel_corroborated": 3},
    ])
    table = score_lines(lines, small).table.set_index("line_id")
    # coverage: A and B 4 of 8 risk items = 0.5; C 1 of 8.
    assert list(table.loc[["A", "B", "C"], "coverage"]) == [0.5, 0.5, 0.125]
    assert list(table.loc[["A", "B", "C"], "sources"]) == [2, 1, 4]
    assert list(table.loc[["A", "B", "C"], "confidence"]) == ["high", "low", "low"]


def test_ties_share_rank_and_order_is_stable(small):
    lines = pd.DataFrame([_analyst("B", physical=2), _analyst("A", physical=2),
                          _analyst("C", physical=4)])
    table = score_lines(lines, small).table
    assert table[["line_id", "rank"]].values.tolist() == [["C", 1], ["A", 2], ["B", 2]]


@pytest.mark.parametrize(("lines", "error", "match"), [
    (pd.DataFrame({"id": ["A"]}), ValidationError, "no 'line_id' column"),
    (pd.DataFrame({"line_id": ["A", "A"]}), ValidationError, "line_id repeated: A"),
    (pd.DataFrame({"line_id": ["A"], "score_scope": [9]}), ValidationError,
     "score_scope = 9 for line A is not a level of scope"),
    (pd.DataFrame({"line_id": ["A"], "weapons": ["lots"]}), ValidationError,
     "column 'weapons' must hold non-negative numbers"),
    (pd.DataFrame({"line_id": ["07700 900123"]}), PrivacyError, "raw phone numbers"),
])
def test_bad_lines_are_refused(small, lines, error, match):
    with pytest.raises(error, match=match):
        score_lines(lines, small)


def test_inputs_are_not_mutated(small):
    lines = pd.DataFrame({"line_id": [" A "], "weapons": [2]})
    before = lines.copy()
    score_lines(lines, small)
    pd.testing.assert_frame_equal(lines, before)


# --- intelligence evidence ----------------------------------------------------------------

def test_evidence_from_intel_counts_and_corroboration(small):
    intel = pd.DataFrame({
        "subject": ["n1", "n2", "n1", "n9"], "weapons": ["yes", "1", "no", "1"],
        "violence": [0, 2, 1, 0], "grading": ["1A", "2-B-P", "3A", "1A"]})
    out = evidence_from_intel(intel, scheme=small, line_of={"n1": "L1", "n2": "L1", "n3": "L2"})
    # n9 is not mapped: left out. L1: weapons 1 + 1 + 0, violence 0 + 2 + 1, 3 reports, of which
    # 1A and 2B are corroborating (sources 1-2, assessments A-B) and 3A is not.
    assert out.values.tolist() == [["L1", 2.0, 3.0, 3, 2]]


def test_intel_feeds_scores_and_refuses_double_counting(small):
    lines = pd.DataFrame({"line_id": ["L1", "L2"]})
    intel = pd.DataFrame({"subject": ["L1", "L1", "L1"], "weapons": [1, 1, 1]})
    table = score_lines(lines, small, intel=intel).table.set_index("line_id")
    assert table.loc["L1", "physical"] == 3 and table.loc["L2", "physical_basis"] == "default"
    assert table.loc["L2", "intel_reports"] == 0
    with pytest.raises(ValidationError, match="already has intelligence column"):
        score_lines(lines.assign(weapons=1), small, intel=intel)


# --- rank intervals -----------------------------------------------------------------------

def test_dominating_line_has_interval_1_1(small):
    lines = pd.DataFrame([_analyst("TOP", physical=4, psychological=3, financial=3,
                                   community=3, exploitation=3),
                          _analyst("X", physical=3, psychological=3, financial=0),
                          _analyst("Y", financial=3, community=3, exploitation=2)])
    intervals = rank_intervals(score_lines(lines, small), seed=3, draws=300)
    assert intervals.set_index("line_id").loc["TOP"].tolist() == [1, 1, 1]


def test_lines_that_trade_off_swap_ranks_under_weight_variation(small):
    # A harm = 4 w_physical / sum w, B = 4 w_financial / sum w: A first iff w_physical is the
    # larger, probability 1/2 with the same bounds; a 90% interval covers ranks 1 to 2.
    lines = pd.DataFrame([_analyst("A", physical=4), _analyst("B", financial=4),
                          _analyst("C")])
    scored = score_lines(lines, small)
    assert scored.table["rank"].tolist() == [1, 1, 3]  # equal weights: a tie
    intervals = rank_intervals(scored, seed=11, draws=400).set_index("line_id")
    assert intervals.loc["A", ["rank_low", "rank_high"]].tolist() == [1, 2]
    assert intervals.loc["B", ["rank_low", "rank_high"]].tolist() == [1, 2]
    assert intervals.loc["C"].tolist() == [3, 3, 3]


def test_rank_intervals_are_seeded_and_report_progress(small):
    lines = pd.DataFrame([_analyst("A", physical=4), _analyst("B", financial=4)])
    scored = score_lines(lines, small)
    seen: list[tuple[int, int, str]] = []
    a = rank_intervals(scored, seed=5, draws=1200, progress=lambda d, t, m: seen.append((d, t, m)))
    b = rank_intervals(scored, seed=5, draws=1200)
    pd.testing.assert_frame_equal(a, b)
    assert seen[-1] == (1200, 1200, "rank intervals") and len(seen) == 3


def test_rank_lines_orders_by_priority_with_intervals():
    lines = pd.DataFrame({"line_id": ["low", "high"], "weapons": [0, 8], "runners": [0, 6],
                          "messages": [5, 900]})
    table = rank_lines(lines, load_scheme(), seed=1, draws=50).table
    assert table[["line_id", "rank", "rank_low", "rank_high"]].values.tolist() == [
        ["high", 1, 1, 1], ["low", 2, 2, 2]]


# --- overrides ----------------------------------------------------------------------------

def test_override_without_reason_or_author_is_refused(small):
    for kwargs, match in [({"reason": "  "}, "has no reason"), ({"by": ""}, "does not say who"),
                          ({"value": 9}, "not a level"), ({"item": "colour"}, "not a scoring")]:
        args = {"line_id": "A", "item": "physical", "value": 3, "by": "DC Smith",
                "reason": "stabbing 3 May", **kwargs}
        with pytest.raises(ValidationError, match=match):
            add_override(None, scheme=small, **args)


def test_overrides_are_applied_latest_first_and_audited(small):
    lines = pd.DataFrame({"line_id": ["A", "B"], "weapons": [2, 0]})
    t1 = add_override(None, line_id="A", item="physical", value=4, by="DC Smith",
                      reason="knife seized 3 May", scheme=small, at=datetime(2024, 5, 4, 9))
    t2 = add_override(t1, line_id="A", item="physical", value=3, by="DS Jones",
                      reason="knife was a replica", scheme=small, at=datetime(2024, 5, 6, 14))
    t3 = add_override(t2, line_id="B", item="likelihood", value=2, by="DC Smith",
                      reason="new flare seen", scheme=small, at=datetime(2024, 5, 5))
    assert len(t1) == 1 and len(t2) == 2  # appending never changes the trail passed in
    scored = score_lines(lines, small, overrides=t3)
    table = scored.table.set_index("line_id")
    assert table.loc["A", "physical"] == 3 and table.loc["A", "physical_basis"] == "override"
    assert table.loc["A", "physical_evidence"] == "weapons=2 -> 2; suggested 2"
    assert table.loc["B", "likelihood"] == 2
    audit = scored.audit
    assert audit[["line_id", "item", "previous", "value", "by", "in_force"]].values.tolist() == [
        ["A", "physical", 2, 4, "DC Smith", False],
        ["B", "likelihood", 1, 2, "DC Smith", True],
        ["A", "physical", 4, 3, "DS Jones", True]]
    assert audit["reason"].iloc[2] == "knife was a replica"


def test_override_for_unknown_line_is_refused(small):
    trail = add_override(None, line_id="Z", item="physical", value=1, by="DC Smith",
                         reason="r", scheme=small)
    with pytest.raises(ValidationError, match="line\\(s\\) Z are not in the lines table"):
        score_lines(pd.DataFrame({"line_id": ["A"]}), small, overrides=trail)


def test_read_overrides_refuses_a_row_without_reason(tmp_path, small):
    path = tmp_path / "overrides.csv"
    path.write_text("line_id,item,value,by,at,reason\n"
                    "A,physical,4,DC Smith,2024-05-04T09:00,knife seized\n"
                    "A,scope,2,DC Smith,2024-05-04T09:05,\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="line 3: override of scope for line A has no reason"):
        read_overrides(path, scheme=small)


def test_read_lines_accounts_for_every_row(tmp_path):
    path = tmp_path / "lines.csv"
    path.write_text("line_id,customers,weapons,score_scope\n"
                    "L1,20,2,3\nL2,-1,0,\nL3,5,,2.5\n,1,1,\nL1,1,1,1\nL4,,,\n", encoding="utf-8")
    result = read_lines(path)
    assert result.rows_read == 6 and result.data["line_id"].tolist() == ["L1", "L4"]
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, "customers is not a non-negative number: '-1'"],
        [4, "score_scope is not a non-negative whole number: '2.5'"],
        [5, "line_id is blank"],
        [6, "line_id L1 repeated"]]
    assert result.data["weapons"].isna().tolist() == [False, True]
