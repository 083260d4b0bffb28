"""The Fortress-style tracker, displacement, the disruption log, national counts and the CLI."""

from __future__ import annotations

import json
from math import comb

import pandas as pd
import pytest
import yaml

from geointel.cli import main
from geointel.errors import DataFileError, ValidationError
from geointel.scoring import (
    DEFAULT_SCHEME,
    add_disruption,
    displacement,
    line_of_handsets,
    national_counts,
    rate_ratio_test,
    read_activity,
    read_disruption_log,
    track,
    validate_disruption_log,
)


def _binomial_two_sided_half(k: int, n: int) -> float:
    """2 * P(Bin(n, 1/2) <= k) for k below n/2, exactly."""
    return 2 * sum(comb(n, i) for i in range(k + 1)) / 2**n


# --- the rate-ratio test ------------------------------------------------------------------

def test_rate_ratio_test_poisson_case_by_hand():
    t = rate_ratio_test([10, 10, 10, 10], [2, 2, 2, 2])
    # No extra-Poisson variation (dispersion 1): 8 of 48 after, p = 2 P(Bin(48, .5) <= 8).
    assert (t.before_total, t.after_total, t.rate_ratio, t.dispersion) == (40, 8, 0.2, 1.0)
    assert t.p_value == pytest.approx(_binomial_two_sided_half(8, 48), rel=1e-9)


def test_rate_ratio_test_overdispersed_by_hand():
    t = rate_ratio_test([5, 15, 5, 15], [2, 2, 2, 2])
    # Pearson: 4 * 25 / 10 = 10 before, 0 after; df 6 -> dispersion 10/6. Totals 40 and 8
    # become round(24.0) = 24 and round(4.8) = 5: p = 2 P(Bin(29, .5) <= 5).
    assert t.dispersion == pytest.approx(10 / 6)
    assert t.p_value == pytest.approx(_binomial_two_sided_half(5, 29), rel=1e-9)
    flat = rate_ratio_test([0, 20, 0, 20], [10, 10, 10, 10])
    assert flat.rate_ratio == 1.0 and flat.p_value == 1.0


# --- the tracker --------------------------------------------------------------------------

def _activity() -> pd.DataFrame:
    weeks = pd.date_range("2024-01-01", periods=9, freq="7D")  # Mondays
    rows = [{"line_id": "L1", "week": w.date().isoformat(), "deal_messages": 10,
             "active_customers": 4} for w in weeks[:4]]
    rows += [{"line_id": "L1", "week": weeks[5].date().isoformat(), "deal_messages": 3,
              "active_customers": 1}]
    rows += [{"line_id": "L2", "week": w.date().isoformat(), "deal_messages": 5,
              "active_customers": 2} for w in weeks]
    return pd.DataFrame(rows)


def test_track_zero_fills_skips_the_action_week_and_tests_the_drop():
    # Action on Wednesday 31 Jan: the week of Mon 29 Jan is neither before nor after; the
    # weeks observed run to 26 Feb (L2's last), so L1's silent weeks count as zero.
    result = track(_activity(), line_id="L1", action_date="2024-01-31", weeks=4)
    weekly = result.weekly
    assert weekly["week"].dt.strftime("%m-%d").tolist() == [
        "01-01", "01-08", "01-15", "01-22", "02-05", "02-12", "02-19", "02-26"]
    assert weekly["period"].tolist() == ["before"] * 4 + ["after"] * 4
    assert weekly["deal_messages"].tolist() == [10, 10, 10, 10, 3, 0, 0, 0]
    m = result.measures.set_index("measure")
    assert m.loc["deal_messages", ["before_total", "after_total", "rate_before"]].tolist() == [
        40, 3, 10]
    assert m.loc["deal_messages", "rate_after"] == pytest.approx(0.75)
    assert m.loc["deal_messages", "change_pct"] == pytest.approx(-92.5)
    # Pearson around the after mean 0.75: (2.25**2 + 3 * 0.75**2) / 0.75 = 9, none before;
    # df 6 -> dispersion 1.5; totals 40/1.5 -> 27 and 3/1.5 -> 2: p = 2 P(Bin(29, .5) <= 2).
    assert m.loc["deal_messages", "dispersion"] == pytest.approx(1.5)
    assert m.loc["deal_messages", "p_value"] == pytest.approx(
        _binomial_two_sided_half(2, 29), rel=1e-9)
    assert bool(m.loc["deal_messages", "beyond_normal_variation"]) is True
    assert m.loc["deal_messages", "direction"] == "down"
    assert "Poisson rate-ratio" in result.test
    summary = result.summary()
    assert summary["weeks_before"] == 4 and summary["weeks_after"] == 4
    assert summary["measures"]["deal_messages"]["beyond_normal_variation"] is True


def test_steady_line_is_within_normal_variation():
    result = track(_activity(), line_id="L2", action_date="2024-01-31", weeks=4)
    m = result.measures.set_index("measure")
    assert m.loc["deal_messages", "rate_ratio"] == 1.0
    assert m.loc["deal_messages", "p_value"] == 1.0
    assert not m["beyond_normal_variation"].any()


def test_track_an_area_sums_its_lines():
    result = track(_activity(), line_id=["L1", "L2"], action_date="2024-01-31", weeks=4)
    assert result.weekly["deal_messages"].tolist() == [15, 15, 15, 15, 8, 5, 5, 5]
    assert result.lines == ("L1", "L2")


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
