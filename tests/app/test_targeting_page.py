"""AppTest of the Targeting page on the sample: ranking, audited overrides, tracker, log.

The lines analysis is cached per process (``_cached.lines_result``): the first run pays for
it (about 25 s on the shared machine), every later AppTest run reuses it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geointel import audit
from geointel.settings import PROJECT_ROOT

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "targeting.py")
SAMPLES = PROJECT_ROOT / "data" / "samples"
KEY_FILE = PROJECT_ROOT / "data" / "pseudonym.key"
pytestmark = [pytest.mark.mirror, pytest.mark.sample, pytest.mark.slow]


def _page(role: str = "analyst"):
    at = streamlit_testing.AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["role"] = role
    at.session_state["user"] = "test-analyst"
    return at.run()


@pytest.fixture(scope="module")
def first(analyst_audit):
    """One run of the page (pays for the lines analysis) and the detected lines it used."""
    from app_pages import _cached

    at = _page()
    assert not at.exception, at.exception
    cfg = _cached.settings()
    result = _cached.lines_result(str(SAMPLES / "contacts.csv"), str(SAMPLES / "intel.csv"),
                                  str(KEY_FILE), cfg.seed, cfg.areas, str(cfg.data_dir))
    return {"at": at, "result": result}


def _ranking(at) -> list[str]:
    return at.dataframe[0].value["line_id"].tolist()


def test_the_ranking_is_rank_lines_on_the_detected_lines(first):
    from geointel.io.contacts import read_intel
    from geointel.privacy import load_key
    from geointel.scoring import load_scheme, rank_lines, without_intel

    intel = read_intel(SAMPLES / "intel.csv", key=load_key(KEY_FILE, env={})).data
    direct = rank_lines(without_intel(first["result"].lines), load_scheme(), seed=42,
                        intel=intel, draws=500).table
    shown = first["at"].dataframe[0].value
    assert len(shown) == len(direct) == 6
    assert shown["line_id"].iloc[0] == direct["line_id"].iloc[0]
    assert shown["line_id"].tolist() == direct["line_id"].tolist()
    assert shown["rank interval"].iloc[0] == (f"{direct['rank_low'].iloc[0]}–"
                                              f"{direct['rank_high'].iloc[0]}")
    assert shown["confidence"].tolist() == direct["confidence"].tolist()
    # the truth's most harmful line (JAY, three handsets) is first
    truth = pd.read_csv(SAMPLES / "truth" / "lines.csv")
    top = first["result"].lines.set_index("line_id").loc[shown["line_id"].iloc[0]]
    assert top["n_handsets"] == truth.loc[truth["harm_rank"] == 1, "handsets"].item().count(
        ";") + 1


def test_an_override_needs_a_reason_and_is_audited(analyst_audit, first):
    at = _page()
    before = _ranking(at)
    top = before[0]
    assert at.selectbox(key="breakdown_line").value == top
    old = at.dataframe[1].value.set_index("item").loc["likelihood", "score"]
    assert old > 1
    at.selectbox(key="override_line").set_value(top)
    at.selectbox(key="override_item").set_value("likelihood").run()
    at.selectbox(key="override_value").set_value(1)
    at.button(key="override_apply").click().run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "has no reason" in at.error[0].value
    assert _ranking(at) == before
    assert audit.read_events(analyst_audit, event="override").empty

    at.text_input(key="override_reason").input("holder remanded; line now rarely answered")
    at.button(key="override_apply").click().run()
    assert not at.exception, at.exception
    assert not at.error
    after = _ranking(at)
    assert after != before and after[0] == before[1] and after[-1] == top
    trail = at.dataframe[2].value
    assert trail[["line_id", "item", "value", "by"]].values.tolist() == [
        [top, "likelihood", 1, "test-analyst"]]
    events = audit.read_events(analyst_audit, event="override")
    assert events[["user", "role"]].values.tolist() == [["test-analyst", "analyst"]]
    detail = events["detail"][0]
    assert (detail["line"], detail["item"], detail["new"]) == (top, "likelihood", 1)
    assert detail["old"] == old and detail["reason"].startswith("holder remanded")


def test_the_tracker_shows_the_drop_for_the_disrupted_line(first):
    from geointel.privacy import load_key, pseudonymise
    from geointel.scoring import line_of_handsets, track

    at = first["at"]
    truth = pd.read_csv(SAMPLES / "truth" / "lines.csv", dtype=str)
    disrupted = truth.dropna(subset=["disrupted_on"]).iloc[0]
    handset = pseudonymise([disrupted["handsets"].split(";")[0]],
                           load_key(KEY_FILE, env={}))[0]
    line = line_of_handsets(first["result"].lines)[handset]
    assert at.selectbox(key="tracker_line").value == line
    assert str(at.date_input(key="tracker_date").value) == disrupted["disrupted_on"]
    direct = track(first["result"].activity, line_id=line, lines=first["result"].lines,
                   action_date=disrupted["disrupted_on"], weeks=8).measures.set_index("measure")
    assert (direct["p_value"] < 0.05).all() and (direct["direction"] == "down").all()
    shown = [s.value for s in at.success]
    assert len(shown) == 2
    for text, measure in zip(shown, ("deal_messages", "active_customers"), strict=True):
        m = direct.loc[measure]
        assert f"{m['change_pct']:+.0f}%" in text and f"p = {m['p_value']:.2g}" in text
        assert text.endswith("beyond normal variation.")
    metrics = {m.label: m for m in at.metric}
    rate_after = direct.loc["deal_messages", "rate_after"]
    assert metrics["Deal messages per week"].value == f"{rate_after:.1f}"
    assert metrics["Risk score"].delta.startswith("-")
    moved = at.dataframe[1 + 1].value  # ranked, breakdown, displacement
    assert moved["shared_customers"].iloc[0] >= 5


def test_the_disruption_log_and_national_counts(first):
    at = first["at"]
    log = pd.read_csv(SAMPLES / "disruptions.csv", dtype=str)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Actions logged"] == str(len(log))
    assert metrics["Moderate disruptions"] == str(int((log["grading"] == "moderate").sum()))
    assert metrics["Lines closed"] == str(log["closure_type"].notna().sum())
    shown = at.dataframe[-1].value
    assert len(shown) == len(log)
    assert set(shown["line_id"]) <= set(first["result"].lines["line_id"])
    numbers = set(log["line"])
    assert not numbers & set(shown.astype(str).to_numpy().ravel())


def test_targeting_page_refuses_the_planner(analyst_audit):
    at = _page("planner")
    assert [e.value for e in at.error] == ["Your role (planner) may not open this page."]
