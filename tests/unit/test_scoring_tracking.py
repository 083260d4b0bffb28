"""The Fortress-style tracker, displacement, the disruption log, national counts and the CLI."""

from __future__ import annotations

import json
import math
from math import comb

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import optimize, stats

from geointel.cli import main
from geointel.errors import DataFileError, PrivacyError, ValidationError
from geointel.privacy import key_fingerprint
from geointel.scoring import (
    DEFAULT_SCHEME,
    add_disruption,
    check_key,
    comparison_test,
    displacement,
    footprint_offences,
    line_of_handsets,
    national_counts,
    offences_test,
    period_dispersion,
    read_activity,
    read_disruption_log,
    read_lines,
    segmented_test,
    track,
    validate_disruption_log,
)

# --- the tests of change -------------------------------------------------------------------


def test_period_dispersion_by_hand():
    # Pearson around each period's mean: (4 * 25 / 10) before, 0 after; 6 df.
    assert period_dispersion([5, 15, 5, 15], [2, 2, 2, 2]) == pytest.approx(10 / 6)
    assert period_dispersion([10, 10], [3, 3]) == 1.0  # never below 1 (quasi-Poisson floor)


def _log_change(before_total: float, weeks_before: int, after_total: float, weeks_after: int,
                phi: float = 1.0) -> tuple[float, float]:
    xb, xa = before_total + 0.5, after_total + 0.5
    return math.log(xa / weeks_after) - math.log(xb / weeks_before), phi * (1 / xb + 1 / xa)


def test_comparison_test_by_hand():
    # Constant weeks: every dispersion is 1. The line halves; the comparison lines stay,
    # rise by a fifth and fall by a fifth, so their changes vary (tau2 > 0).
    comparison = [([50, 50], [50, 50]), ([50, 50], [60, 60]), ([50, 50], [40, 40])]
    t = comparison_test([40, 40], [20, 20], comparison)
    r_line, v_line = _log_change(80, 2, 40, 2)
    rc = [_log_change(100, 2, a, 2) for a in (100, 120, 80)]
    r = [x for x, _ in rc]
    v_mean = sum(v for _, v in rc) / 3
    mean = sum(r) / 3
    s2 = sum((x - mean) ** 2 for x in r) / 2
    tau2 = s2 - v_mean
    assert tau2 > 0
    var = v_line + tau2 + (tau2 + v_mean) / 3
    df = var**2 / ((4 / 3 * s2) ** 2 / 2)
    assert (t.method, t.comparison_lines, t.dispersion) == ("comparison", 3, 1.0)
    assert t.heterogeneity == pytest.approx(tau2)
    assert t.effect_ratio == pytest.approx(math.exp(r_line - mean))
    assert t.statistic == pytest.approx((r_line - mean) / math.sqrt(var))
    assert t.df == pytest.approx(df)
    assert t.p_value == pytest.approx(2 * stats.t.sf(abs(t.statistic), df))
    # comparison lines that all change alike: no heterogeneity, a normal reference
    steady = comparison_test([40, 40], [20, 20], [([50, 50], [50, 50])] * 3)
    z = (r_line - 0) / math.sqrt(v_line + _log_change(100, 2, 100, 2)[1] / 3)
    assert steady.df == math.inf and steady.heterogeneity == 0
    assert steady.statistic == pytest.approx(z)
    assert steady.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))


def test_segmented_test_by_hand():
    # [10, 10 | 40, 40]: a step and no trend fit exactly (deviance 0, dispersion floored at
    # 1, 4 weeks - 3 parameters = 1 df). Without the step, log mu = c + d * week with the
    # Poisson score equations: sum(week * y) / sum(y) = 2.1 = sum(week * e^(d week)) / ...
    t = segmented_test([10, 10], [40, 40])
    y, week = np.array([10, 10, 40, 40.0]), np.arange(4.0)
    d = optimize.brentq(lambda d: (week * np.exp(d * week)).sum() / np.exp(d * week).sum()
                        - 2.1, -5, 5)
    mu = np.exp(d * week) * y.sum() / np.exp(d * week).sum()
    deviance = 2 * (y * np.log(y / mu)).sum()
    assert (t.method, t.df, t.dispersion) == ("segmented", 1.0, 1.0)
    assert t.effect_ratio == pytest.approx(4.0)
    assert t.statistic == pytest.approx(deviance, rel=1e-6)
    assert t.p_value == pytest.approx(stats.f.sf(deviance, 1, 1), rel=1e-6)
    # a steady rise is the trend, not a step: nothing to find
    rise = segmented_test([10, 20, 40], [80, 160, 320])
    assert rise.effect_ratio == pytest.approx(1.0) and rise.p_value == pytest.approx(1.0)


def test_segmented_test_a_line_that_goes_silent_is_a_step_to_zero():
    t = segmented_test([30, 30, 30, 30], [0, 0, 0, 0])
    # the after weeks are fitted by zero; the before weeks (flat) by 30: deviance 0
    y, week = np.array([30.0] * 4 + [0.0] * 4), np.arange(8.0)
    d = optimize.brentq(lambda d: (week * np.exp(d * week)).sum() / np.exp(d * week).sum()
                        - 1.5, -20, 20)
    mu = np.exp(d * week) * y.sum() / np.exp(d * week).sum()
    deviance = 2 * (np.where(y > 0, y * np.log(np.maximum(y, 1) / mu), 0) - (y - mu)).sum()
    assert t.effect_ratio == 0.0 and t.dispersion == 1.0
    assert t.statistic == pytest.approx(deviance, rel=1e-6)
    assert t.p_value == pytest.approx(stats.f.sf(deviance, 1, 5), rel=1e-6) and t.p_value < 1e-3


def test_offences_test_is_fishers_exact_test_by_hand():
    # footprint 6 -> 1, rest 20 -> 20: hypergeometric on the margins (7 footprint, 26 before,
    # 47 in all); two-sided: the tables at most as likely as the one seen.
    t = offences_test(6, 1, 20, 20)

    def prob(a: int) -> float:
        return comb(26, a) * comb(21, 7 - a) / comb(47, 7)

    seen = prob(6)
    p = sum(prob(a) for a in range(8) if prob(a) <= seen * (1 + 1e-7))
    assert t.p_value == pytest.approx(p)
    assert t.effect_ratio == pytest.approx((1 / 6) / (20 / 20))
    assert t.method == "area comparison"


# --- the tracker --------------------------------------------------------------------------

def _activity() -> pd.DataFrame:
    weeks = pd.date_range("2024-01-01", periods=9, freq="7D")  # Mondays
    rows = [{"line_id": "L1", "week": w.date().isoformat(), "deal_messages": 10,
             "active_customers": 4} for w in weeks[:4]]
    rows += [{"line_id": "L1", "week": weeks[5].date().isoformat(), "deal_messages": 3,
              "active_customers": 1}]
    for line, n in (("L2", 5), ("L3", 8), ("L4", 12)):
        rows += [{"line_id": line, "week": w.date().isoformat(), "deal_messages": n,
                  "active_customers": 2} for w in weeks]
    return pd.DataFrame(rows)


def test_track_zero_fills_skips_the_action_week_and_compares_with_the_other_lines():
    # Action on Wednesday 31 Jan: the week of Mon 29 Jan is neither before nor after; the
    # weeks observed run to 26 Feb (the other lines' last), so L1's silent weeks count as 0.
    result = track(_activity(), line_id="L1", action_date="2024-01-31", weeks=4)
    weekly = result.weekly
    assert weekly["week"].dt.strftime("%m-%d").tolist() == [
        "01-01", "01-08", "01-15", "01-22", "02-05", "02-12", "02-19", "02-26"]
    assert weekly["period"].tolist() == ["before"] * 4 + ["after"] * 4
    assert weekly["deal_messages"].tolist() == [10, 10, 10, 10, 3, 0, 0, 0]
    assert result.comparison == ("L2", "L3", "L4")
    m = result.measures.set_index("measure")
    assert m.loc["deal_messages", ["before_total", "after_total", "rate_before"]].tolist() == [
        40, 3, 10]
    assert m.loc["deal_messages", "rate_after"] == pytest.approx(0.75)
    assert m.loc["deal_messages", "change_pct"] == pytest.approx(-92.5)
    # By hand: L1's dispersion: Pearson around the after mean 0.75 is
    # (2.25**2 + 3 * 0.75**2) / 0.75 = 9, none before; 6 df -> 1.5. Its log change
    # log(3.5 / 4) - log(40.5 / 4), variance 1.5 * (1 / 40.5 + 1 / 3.5). The three steady
    # comparison lines change by 0 (no heterogeneity): the reference is normal, with the
    # variance of their mean change (2 / (4n + 0.5)) / 3 added.
    r_line = math.log(3.5 / 40.5)
    var = 1.5 * (1 / 40.5 + 1 / 3.5) + sum(2 / (4 * n + 0.5) for n in (5, 8, 12)) / 9
    row = m.loc["deal_messages"]
    assert (row["method"], row["comparison_lines"], row["dispersion"]) == ("comparison", 3, 1.5)
    assert row["heterogeneity"] == 0 and row["df"] == math.inf
    assert row["effect_ratio"] == pytest.approx(3.5 / 40.5)
    assert row["statistic"] == pytest.approx(r_line / math.sqrt(var))
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(r_line) / math.sqrt(var)))
    assert bool(row["beyond_normal_variation"]) is True and row["direction"] == "down"
    assert "difference in differences" in result.test
    summary = result.summary()
    assert summary["weeks_before"] == 4 and summary["weeks_after"] == 4
    assert summary["measures"]["deal_messages"]["beyond_normal_variation"] is True
    assert summary["measures"]["deal_messages"]["df"] == "inf"
    # p-values are shown to 4 significant digits, never rounded to 0.0
    p = summary["measures"]["deal_messages"]["p_value"]
    assert 0 < p < 0.001 and p == pytest.approx(row["p_value"], rel=1e-3)


def test_steady_line_is_within_normal_variation():
    result = track(_activity(), line_id="L2", action_date="2024-01-31", weeks=4)
    m = result.measures.set_index("measure")
    assert m.loc["deal_messages", "rate_ratio"] == 1.0
    assert m.loc["deal_messages", "p_value"] > 0.5
    assert not m["beyond_normal_variation"].any()


def test_track_an_area_sums_its_lines_and_falls_back_to_the_time_series():
    result = track(_activity(), line_id=["L1", "L2"], action_date="2024-01-31", weeks=4)
    assert result.weekly["deal_messages"].tolist() == [15, 15, 15, 15, 8, 5, 5, 5]
    assert result.lines == ("L1", "L2")
    # only L3 and L4 are left to compare with: fewer than 3, so the interrupted time series
    m = result.measures.set_index("measure")
    assert (m["method"] == "segmented").all()
    expected = segmented_test([15] * 4, [8, 5, 5, 5], gap=1)
    assert m.loc["deal_messages", "p_value"] == pytest.approx(expected.p_value)
    assert m.loc["deal_messages", "effect_ratio"] == pytest.approx(expected.effect_ratio)


def test_lines_in_the_same_market_and_excluded_lines_are_not_compared_with():
    lines = pd.DataFrame({"line_id": ["L1", "L2", "L3", "L4"],
                          "importer_la": ["E07000066", "E07000066", "E06000033", ""]})
    result = track(_activity(), line_id="L1", action_date="2024-01-31", weeks=4, lines=lines)
    assert result.comparison == ("L3", "L4")  # L2 sells in L1's authority
    assert (result.measures["method"] == "segmented").all()
    result = track(_activity(), line_id="L2", action_date="2024-01-31", weeks=4,
                   exclude="L3")
    assert result.comparison == ("L1", "L4")
    # selling outside the boundaries given is no market: such lines stay comparable
    outside = lines.assign(importer_la=["outside the supplied areas"] * 2 + ["E06000033", ""])
    result = track(_activity(), line_id="L1", action_date="2024-01-31", weeks=4, lines=outside)
    assert result.comparison == ("L2", "L3", "L4")


def test_a_week_the_records_cover_in_part_is_left_out():
    # Records end on Thursday 29 Feb: the week of Mon 26 Feb has 4 days and a third fewer
    # messages; it must not read as a drop.
    activity = _activity().assign(days_covered=7)
    activity.loc[activity["week"] == "2024-02-26", "days_covered"] = 4
    activity.loc[activity["week"] == "2024-02-26", "deal_messages"] = [3, 5, 7]
    result = track(activity, line_id="L2", action_date="2024-02-19", weeks=4)
    assert result.partial_weeks == ("2024-02-26",)
    assert result.weekly["week"].max() == pd.Timestamp("2024-02-19")
    assert result.measures.set_index("measure").loc["deal_messages", "periods_after"] == 1
    with pytest.raises(ValidationError, match=r"0 after 2024-02-25.*cover only in part left "
                                              r"out: 2024-02-26"):
        track(activity, line_id="L2", action_date="2024-02-25", weeks=4)


def test_track_risk_before_and_after_by_hand():
    weeks = pd.date_range("2024-01-01", periods=4, freq="7D")
    activity = pd.DataFrame({"line_id": "L1", "week": weeks,
                             "deal_messages": [120, 120, 10, 10]})
    lines = pd.DataFrame({"line_id": ["L1"], "weapons": [4]})
    from geointel.scoring import load_scheme
    result = track(activity, line_id="L1", action_date="2024-01-15", weeks=2, lines=lines,
                   scheme=load_scheme(DEFAULT_SCHEME))
    risk = result.risk.iloc[0]
    # before: physical 3 (weapons 4 reaches 1, 2, 4), financial 2 (120 msgs/wk reaches 20,
    #   100), likelihood 4 (reaches 1, 20, 100): harm 0.25*3 + 0.15*2 = 1.05,
    #   risk 100 * 1.05 * 4 / (4 * 1.3 * 1.4 * 4 = 29.12)
    # after: financial 0, likelihood 2 (10 msgs/wk): harm 0.75, risk 100 * 0.75 * 2 / 29.12
    assert risk["risk_before"] == pytest.approx(420 / 29.12)
    assert risk["risk_after"] == pytest.approx(150 / 29.12)
    assert risk["risk_change"] == pytest.approx(-270 / 29.12)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"line_id": "L9", "action_date": "2024-01-31"}, "no activity for line\\(s\\) L9"),
    ({"line_id": "L1", "action_date": "2024-01-08"}, "1 full week\\(s\\) before"),
    ({"line_id": "L1", "action_date": "2024-03-31"}, "and 0 after"),
])
def test_track_refuses_what_it_cannot_measure(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        track(_activity(), **kwargs)


# --- drug offences in the footprint (police.uk, monthly) ----------------------------------

def _police() -> pd.DataFrame:
    rows = []
    counts = {"2024-01": (4, 1, 30), "2024-02": (3, 0, 34), "2024-03": (9, 9, 9),
              "2024-04": (1, 0, 35), "2024-05": (0, 1, 31)}
    for month, (in_a, in_b, rest) in counts.items():  # footprint LSOAs E1 and E2
        rows += [(month, "E1", "Drugs")] * in_a + [(month, "E2", "Drugs")] * in_b
        rows += [(month, "E9", "Drugs")] * rest + [(month, "E1", "Robbery")] * 2
    rows += [("2024-02", None, "Drugs")]  # no LSOA: left out
    return pd.DataFrame(rows, columns=["month", "lsoa_code", "crime_type"])


def _footprints() -> pd.DataFrame:
    return pd.DataFrame({"line_id": ["L1", "L1", "L1", "L2"], "side": ["sell", "sell", "run",
                                                                     "sell"],
                         "lsoa": ["E1", "E2", "E5", "E9"]})


def test_footprint_offences_counts_by_hand():
    table = footprint_offences(_police(), _footprints(), line_id="L1")
    assert table.values.tolist() == [["2024-01", 5, 30, 2], ["2024-02", 3, 34, 2],
                                     ["2024-03", 18, 9, 2], ["2024-04", 1, 35, 2],
                                     ["2024-05", 1, 31, 2]]
    run = footprint_offences(_police(), _footprints(), line_id="L1", side="run")
    assert run["footprint"].sum() == 0 and run["footprint_lsoas"].iloc[0] == 1
    with pytest.raises(ValidationError, match="no 'sell' footprint LSOA"):
        footprint_offences(_police(), _footprints(), line_id="L7")


def test_track_drug_offences_in_whole_months_around_the_action():
    # Action on 12 March: March is neither before nor after; with weeks=8 (about two
    # months) before = January, February, after = April, May.
    offences = footprint_offences(_police(), _footprints(), line_id="L1")
    result = track(_activity().assign(week=lambda f: pd.to_datetime(f["week"])
                                      + pd.Timedelta(days=56)),
                   line_id="L1", action_date="2024-03-12", weeks=8, offences=offences)
    row = result.measures.set_index("measure").loc["drug_offences"]
    assert (row["unit"], row["method"]) == ("month", "area comparison")
    assert (row["before_total"], row["after_total"]) == (8, 2)
    assert (row["periods_before"], row["periods_after"]) == (2, 2)
    assert row["rate_before"] == 4 and row["rate_after"] == 1
    expected = offences_test(8, 2, 64, 66)
    assert row["p_value"] == pytest.approx(expected.p_value)
    assert row["effect_ratio"] == pytest.approx((2 / 8) / (66 / 64))
    assert result.monthly["month"].tolist() == ["2024-01", "2024-02", "2024-04", "2024-05"]
    assert result.monthly["period"].tolist() == ["before"] * 2 + ["after"] * 2
    with pytest.raises(ValidationError, match="drug offences given twice"):
        track(_activity().assign(drug_offences=1), line_id="L1",
              action_date="2024-01-31", weeks=4, offences=offences)


# --- the pseudonymisation key travels with the lines outputs -------------------------------

KEY_A, KEY_B = bytes(range(32)), bytes(range(32, 64))  # distinct bytes: a real-looking key


def test_lines_and_activity_made_under_another_key_are_refused(tmp_path):
    lines = tmp_path / "lines.csv"
    lines.write_text("line_id,handsets,customers,key_fingerprint\n"
                     f"L1,P{'a' * 16},4,{key_fingerprint(KEY_A)}\n", encoding="utf-8")
    accepted = read_lines(lines, key=KEY_A)
    assert accepted.data.columns.tolist()[:3] == ["line_id", "handsets", "customers"]
    assert "key_fingerprint" not in accepted.data.columns
    with pytest.raises(PrivacyError) as err:
        read_lines(lines, key=KEY_B)
    message = str(err.value)
    assert key_fingerprint(KEY_A) in message and key_fingerprint(KEY_B) in message
    assert "original key" in message
    activity = _activity().assign(key_fingerprint=key_fingerprint(KEY_A))
    assert track(activity, line_id="L1", action_date="2024-01-31", weeks=4,
                 key=KEY_A).lines == ("L1",)
    with pytest.raises(PrivacyError, match=key_fingerprint(KEY_B)):
        track(activity, line_id="L1", action_date="2024-01-31", weeks=4, key=KEY_B)
    path = tmp_path / "activity.csv"
    activity.to_csv(path, index=False)
    assert read_activity(path, key=KEY_A).rows_accepted == len(activity)
    with pytest.raises(PrivacyError):
        read_activity(path, key=KEY_B)
    mixed = pd.DataFrame({"line_id": ["L1", "L2"],
                          "key_fingerprint": [key_fingerprint(KEY_A), key_fingerprint(KEY_B)]})
    with pytest.raises(PrivacyError, match="mixes rows pseudonymised under 2 keys"):
        check_key(mixed, None, what="lines.csv")


# --- displacement and contact-derived evidence --------------------------------------------

def test_displacement_finds_the_new_line_sharing_old_customers():
    rows = [("OLD", c, "2024-01-01") for c in "abcde"]
    rows += [("NEW", c, "2024-01-15") for c in "abcx"]      # 3 of the 5 old customers
    rows += [("OTHER", c, "2023-12-25") for c in "yz"]      # existed before
    rows += [("OTHER", c, "2024-01-22") for c in "dez"]     # took 2 old customers
    rows += [("SMALL", c, "2024-01-15") for c in "ay"]      # only 1: below min_shared
    lc = pd.DataFrame(rows, columns=["line_id", "customer", "week"])
    out = displacement(lc, line_id="OLD", action_date="2024-01-10", min_shared=2)
    assert out[["line_id", "new_line", "shared_customers", "customers_after"]].values.tolist() \
        == [["NEW", True, 3, 4], ["OTHER", False, 2, 3]]
    assert out["share_of_old_customers"].tolist() == [0.6, 0.4]


# --- disruption log and national counts ---------------------------------------------------

def _log() -> pd.DataFrame:
    return pd.DataFrame({
        "line_id": ["L1", "L1", "L2", "L3", "L3"],
        "date": ["2024-01-05", "2024-02-01", "03/02/2024", "2024-03-01", "2024-03-09"],
        "action": ["warrant", "arrest", "stop search", "warrant", "charge"],
        "outcome": ["runner arrested", "holder charged; line dead", "", "", "line dead"],
        "grading": ["moderate", "Major", "minor", "moderate", "major"],
        "closure_type": ["", "1", "", "", "Type 2"]})


def test_national_counts_by_hand():
    counts = national_counts(_log())
    assert counts == {"actions": 5, "lines_disrupted": 3, "lines_closed": 2,
                      "closures_type_1": 1, "closures_type_2": 1, "major_disruptions": 2,
                      "moderate_disruptions": 2, "minor_disruptions": 1}
    feb = national_counts(_log(), start="2024-02-01", end="2024-02-29")
    assert (feb["actions"], feb["lines_closed"], feb["minor_disruptions"]) == (2, 1, 1)


def test_disruption_log_validation_and_append():
    tidy = validate_disruption_log(_log())
    assert tidy["date"].iloc[2] == pd.Timestamp("2024-02-03")  # UK day-first
    assert tidy["closure_type"].tolist()[1:5:3] == [1, 2]
    bad = _log().assign(grading=["moderate", "huge", "minor", "moderate", "major"])
    with pytest.raises(ValidationError, match="row 1: grading is not major, moderate or minor"):
        validate_disruption_log(bad)
    log = _log()
    longer = add_disruption(log, line_id="L4", date="2024-03-10", action="warrant",
                            outcome="line dead", grading="major", closure_type=2)
    assert len(log) == 5 and len(longer) == 6
    assert national_counts(longer)["lines_closed"] == 3


def test_readers_account_for_every_row(tmp_path):
    path = tmp_path / "log.csv"
    _log().to_csv(path, index=False)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("L5,someday,warrant,,major,\nL6,2024-03-01,warrant,,major,3\n")
    result = read_disruption_log(path)
    assert (result.rows_read, result.rows_accepted) == (7, 5)
    assert result.rejects["reason"].tolist() == [
        "date is not a date (use YYYY-MM-DD)",
        "closure_type is not 1, 2 or blank (NCA county-line closure types)"]
    act = tmp_path / "act.csv"
    act.write_text("line_id,week,deal_messages\nL1,2024-01-03,5\nL1,2024-01-01,2\n"
                   "L1,2024-01-10,-1\n", encoding="utf-8")
    r = read_activity(act)
    assert r.rows_accepted == 1 and r.rejects["reason"].tolist() == [
        "week repeated for this line (one row per line and week)",
        "deal_messages is not a non-negative whole number: '-1'"]


# --- CLI ----------------------------------------------------------------------------------

PA, PB = "P" + "a" * 16, "P" + "b" * 16


def test_cli_score_writes_ranked_csv_and_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GEOINTEL_PSEUDONYM_KEY", bytes(range(32)).hex())
    lines = tmp_path / "lines.csv"
    lines.write_text("line_id,handsets,messages,customers,runners,reach_km\n"
                     f"L1,{PA},400,40,3,50\nL2,{PB},30,8,1,2\nL3,,bad,1,1,1\n",
                     encoding="utf-8")
    # the register names handsets (pseudonyms here); they map to lines through `handsets`
    intel = tmp_path / "intel.csv"
    intel.write_text("subject,weapons,violence,cuckooed_addresses,exploited_children,"
                     "vulnerable_adults,seizures,grading\n"
                     f"{PA},yes,no,,1,,,1AP\n{PA},1,1,,0,,,2BP\n{PB},0,1,,0,,,3EP\n",
                     encoding="utf-8")
    out = tmp_path / "out" / "ranked.csv"
    code = main(["score", "--lines", str(lines), "--intel", str(intel), "--scheme",
                 str(DEFAULT_SCHEME), "--out", str(out), "--draws", "50", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["ok"] is True
    assert summary["lines"]["rows_accepted"] == 2 and summary["lines"]["rows_rejected"] == 1
    assert [t["line_id"] for t in summary["top"]] == ["L1", "L2"]
    assert summary["top"][0]["rank_low"] == 1 and summary["top"][0]["rank_high"] == 1
    assert summary["scheme"].endswith("(MoRiLE-style, illustrative)")
    table = pd.read_csv(out)
    assert table["line_id"].tolist() == ["L1", "L2"] and "physical_evidence" in table.columns
    assert table.loc[0, "physical_evidence"] == "weapons=2 -> 2; violence=1 -> 1; suggested 2"


def test_cli_score_refuses_bad_scheme_and_unreasoned_override(tmp_path, capsys):
    lines = tmp_path / "lines.csv"
    lines.write_text("line_id,weapons\nL1,1\n", encoding="utf-8")
    scheme = tmp_path / "scheme.yaml"
    data = yaml.safe_load(DEFAULT_SCHEME.read_text(encoding="utf-8"))
    data["harm"]["physical"]["bounds"] = [0.3, 0.4]
    scheme.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["score", "--lines", str(lines), "--scheme", str(scheme)]) == 1
    assert "harm.physical.bounds" in capsys.readouterr().err
    overrides = tmp_path / "o.csv"
    overrides.write_text("line_id,item,value,by,at,reason\nL1,physical,4,DC Smith,"
                         "2024-05-04T09:00,\n", encoding="utf-8")
    assert main(["score", "--lines", str(lines), "--scheme", str(DEFAULT_SCHEME),
                 "--overrides", str(overrides), "--allow-missing-evidence"]) == 1
    assert "has no reason" in capsys.readouterr().err


def test_cli_score_refuses_a_lines_table_without_the_schemes_network_evidence(tmp_path, capsys):
    # the old `lines` output: counts under other names than the scheme reads
    lines = tmp_path / "lines.csv"
    lines.write_text("line_id,n_customers,n_runners,weapons\nL1,40,3,1\nL2,5,0,0\n",
                     encoding="utf-8")
    assert main(["score", "--lines", str(lines), "--scheme", str(DEFAULT_SCHEME)]) == 1
    err = capsys.readouterr().err
    assert "customers, messages, reach_km, runners" in err and "--allow-missing-evidence" in err
    assert main(["score", "--lines", str(lines), "--scheme", str(DEFAULT_SCHEME), "--draws",
                 "5", "--allow-missing-evidence", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["missing_evidence"][:2] == ["cuckooed_addresses", "customers"]
    assert summary["warning"].startswith("evidence column(s) cuckooed_addresses, customers")


def test_disruption_log_by_number_is_pseudonymised_and_mapped(tmp_path):
    from geointel.privacy import pseudonymise

    key = bytes(range(32))
    old, new = pseudonymise(["07700900111", "07700900222"], key)
    lines = pd.DataFrame({"line_id": ["LINE-1"], "handsets": [f"{old};{new}"]})
    path = tmp_path / "log.csv"
    path.write_text("line,date,action,grading,closure_type\n"
                    "07700 900222,2024-01-05,warrant,major,1\n"
                    "07700900111,2024-01-02,stop search,minor,\n"
                    "07700900999,2024-01-03,stop search,minor,\n", encoding="utf-8")
    r = read_disruption_log(path, key=key, line_of=line_of_handsets(lines))
    assert r.data["line_id"].tolist() == ["LINE-1", "LINE-1"]
    assert r.rejects["reason"].tolist() == ["line is not a handset of any detected line"]
    assert "line" not in r.data.columns and "900" not in r.data.to_csv()
    assert national_counts(r.data)["lines_closed"] == 1
    with pytest.raises(DataFileError, match="names lines by number"):
        read_disruption_log(path)


def test_cli_track_reports_the_drop_and_national_counts(tmp_path, capsys):
    activity = tmp_path / "activity.csv"
    _activity().to_csv(activity, index=False)
    log = tmp_path / "log.csv"
    _log().to_csv(log, index=False)
    code = main(["track", "--line", "L1", "--action-date", "2024-01-31", "--activity",
                 str(activity), "--weeks", "4", "--disruptions", str(log), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    drop = summary["measures"]["deal_messages"]
    assert drop["rate_before"] == 10 and drop["rate_after"] == 0.75
    assert drop["beyond_normal_variation"] is True
    assert summary["national_counts"]["lines_closed"] == 2
    assert main(["track", "--line", "L1", "--action-date", "2024-01-31", "--activity",
                 str(activity), "--scheme", str(DEFAULT_SCHEME)]) == 1
    assert "--scheme needs --lines" in capsys.readouterr().err


def test_cli_score_and_track_refuse_outputs_made_under_another_key(tmp_path, capsys,
                                                                   monkeypatch):
    from geointel.privacy import pseudonymise

    handset = pseudonymise(["07700900111"], KEY_A)[0]
    lines = tmp_path / "lines.csv"
    lines.write_text("line_id,handsets,customers,messages,runners,reach_km,key_fingerprint\n"
                     f"L1,{handset},40,400,3,50,{key_fingerprint(KEY_A)}\n", encoding="utf-8")
    intel = tmp_path / "intel.csv"
    intel.write_text("subject,weapons,violence,cuckooed_addresses,exploited_children,"
                     "vulnerable_adults,seizures\n07700900111,3,0,0,0,0,0\n", encoding="utf-8")
    argv = ["score", "--lines", str(lines), "--intel", str(intel), "--scheme",
            str(DEFAULT_SCHEME), "--draws", "5", "--out", str(tmp_path / "ranked.csv"),
            "--json"]
    monkeypatch.setenv("GEOINTEL_PSEUDONYM_KEY", KEY_B.hex())
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert key_fingerprint(KEY_A) in err and key_fingerprint(KEY_B) in err
    monkeypatch.setenv("GEOINTEL_PSEUDONYM_KEY", KEY_A.hex())
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["intel"]["rows_accepted"] == 1
    ranked = pd.read_csv(tmp_path / "ranked.csv")
    assert ranked.loc[0, "weapons"] == 3  # the register's report reached the line
    activity = tmp_path / "activity.csv"
    _activity().assign(key_fingerprint=key_fingerprint(KEY_A)).to_csv(activity, index=False)
    track_argv = ["track", "--line", "L1", "--action-date", "2024-01-31", "--activity",
                  str(activity), "--weeks", "4"]
    assert main(track_argv) == 0
    capsys.readouterr()
    monkeypatch.setenv("GEOINTEL_PSEUDONYM_KEY", KEY_B.hex())
    assert main(track_argv) == 1
    assert "another key" in capsys.readouterr().err


POLICE_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
                 "LSOA code,LSOA name,Crime type,Last outcome category,Context\n")


def test_cli_track_drug_offences_from_police_uk_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GEOINTEL_PSEUDONYM_KEY", KEY_A.hex())
    activity = tmp_path / "activity.csv"
    _activity().assign(week=lambda f: pd.to_datetime(f["week"]) + pd.Timedelta(days=56)
                       ).to_csv(activity, index=False)
    _footprints().assign(key_fingerprint=key_fingerprint(KEY_A)).to_csv(
        tmp_path / "footprints.csv", index=False)
    police = tmp_path / "police"
    police.mkdir()
    n = 0
    for month, group in _police().dropna().groupby("month"):
        lines = []
        for row in group.itertuples():
            n += 1
            lines.append(f"c{n},{month},Essex Police,Essex Police,0.71,51.54,On or near X,"
                         f"{row.lsoa_code},,{row.crime_type},,\n")
        (police / f"{month}-essex-street.csv").write_text(POLICE_HEADER + "".join(lines),
                                                          encoding="utf-8")
    code = main(["track", "--line", "L1", "--action-date", "2024-03-12", "--activity",
                 str(activity), "--weeks", "8", "--offences", str(police), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    drugs = summary["measures"]["drug_offences"]
    assert (drugs["unit"], drugs["before_total"], drugs["after_total"]) == ("month", 8, 2)
    assert [m["footprint"] for m in summary["drug_offences_by_month"]] == [5, 3, 1, 1]
    (tmp_path / "footprints.csv").unlink()
    assert main(["track", "--line", "L1", "--action-date", "2024-03-12", "--activity",
                 str(activity), "--offences", str(police)]) == 1
    assert "footprints" in capsys.readouterr().err
