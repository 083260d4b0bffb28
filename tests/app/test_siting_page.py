"""AppTest of the Clinic siting page: run, compare scenarios, export."""

from __future__ import annotations

from pathlib import Path

import pytest

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "siting.py")
pytestmark = pytest.mark.mirror


def _page(role: str = "planner"):
    at = streamlit_testing.AppTest.from_file(PAGE, default_timeout=240)
    at.session_state["role"] = role
    return at.run()


def test_nothing_runs_until_asked():
    at = _page()
    assert not at.exception
    assert next(i.value for i in at.info).startswith("Choose a model")
    assert not at.metric


def test_a_run_chooses_p_sites_with_a_gain_and_can_be_compared_and_exported(app_audit):
    from geointel import audit

    at = _page()
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New sites chosen"] == "3"
    assert float(metrics["Coverage gain"].rstrip("%")) > 0
    chosen = at.dataframe[0].value
    assert len(chosen) == 3 and chosen["site_id"].str.startswith("C").all()
    assert (chosen["residents newly covered"] > 0).all()
    assert len(at.get("vega_lite_chart")) == 1  # the p-sweep curve
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["GeoPackage (sites, assignment)", "Chosen sites (CSV)",
                      "Assignment (CSV)"]
    at.get("download_button")[1].click().run()
    events = audit.read_events(app_audit, event="export")
    assert events["role"].tolist() == ["planner"]
    assert events["detail"][0] == {"what": "siting: sites.csv", "marking": "OFFICIAL"}

    at.sidebar.number_input[0].set_value(5)
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["New sites chosen"] == "5"
    compare = at.dataframe[-1].value
    assert compare.shape[1] == 2
    assert compare.loc["new sites"].tolist() == ["3", "5"]


def test_siting_page_refuses_the_analyst():
    at = _page("analyst")
    assert [e.value for e in at.error] == ["Your role (analyst) may not open this page."]
