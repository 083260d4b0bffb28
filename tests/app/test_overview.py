"""AppTest smoke test of the Overview page on the synced SET area."""

from __future__ import annotations

from pathlib import Path

import pytest

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.mirror


def test_overview_shows_the_set_area():
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app_pages" / "overview.py"),
                                             default_timeout=120)
    at.session_state["role"] = "planner"
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # SET = Southend (107) + Thurrock (98) + Essex (872) LSOAs; Census 2011 residents.
    assert metrics["LSOAs"] == "1,077"
    assert metrics["Residents (Census 2011)"] == "1,724,950"
    assert metrics["Local authorities"] == "14"
    table = at.dataframe[0].value
    assert table.loc[table["lad_code"] == "E06000033", "population"].item() == 173658


def test_app_entry_opens_on_overview():
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Overview"


@pytest.mark.parametrize(("role", "shown"), [
    (None, "Please sign in."),
    ("viewer", "Your role (viewer) may not open this page."),
])
def test_overview_refuses_other_roles(role, shown):
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app_pages" / "overview.py"),
                                             default_timeout=120)
    if role:
        at.session_state["role"] = role
    at.run()
    assert [e.value for e in at.error] == [shown]
    assert not at.metric
