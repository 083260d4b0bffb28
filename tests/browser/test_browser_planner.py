"""The planner's controls in the real app: the Access threshold changes the coverage figure,
and a siting scenario chooses sites, adds coverage and exports them."""

from __future__ import annotations

import csv

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.sample, pytest.mark.slow]


def _share(text: str) -> float:
    """``"83.2%"`` -> 0.832."""
    return float(text.rstrip("%").replace(",", "")) / 100


def test_access_threshold_changes_the_coverage_figure(app):
    app.sign_in("planner")
    app.open_nav("access")
    assert app.exceptions() == []
    before = app.metrics()
    label = "Population within 1,000 m of a naloxone point or pharmacy"
    assert label in before, before
    gaps_before = int(before["LSOAs in a gap"].replace(",", ""))
    app.screenshot("planner_access_1000m")

    box = app.page.get_by_label("Threshold (metres along the route)")
    box.fill("3000")
    box.press("Enter")
    wider = "Population within 3,000 m of a naloxone point or pharmacy"
    app.page.get_by_text(wider).first.wait_for()
    app.wait_idle()
    after = app.metrics()
    assert label not in after
    assert _share(after[wider]) > _share(before[label])
    assert int(after["LSOAs in a gap"].replace(",", "")) < gaps_before
    assert app.exceptions() == []
    app.screenshot("planner_access_3000m")


def test_siting_scenarios_choose_sites_and_export_them(app, contact_data):
    app.sign_in("planner")
    app.open_nav("siting")
    assert app.exceptions() == []
    app.page.get_by_text("press Run").wait_for()
    runs = []
    for p in (2, 4):
        app.page.get_by_label("New sites (p)").fill(str(p))
        app.page.get_by_label("New sites (p)").press("Enter")
        app.wait_idle()
        app.page.get_by_role("button", name="Run").click()
        app.page.get_by_text(f"mclp p={p} ").first.wait_for()
        app.wait_idle()
        shown = app.metrics()
        assert shown["New sites chosen"] == str(p)
        before, after = _share(shown["Coverage before"]), _share(shown["Coverage after"])
        assert after > before
        # the gain is shown from unrounded shares: within one rounding step of the difference
        assert _share(shown["Coverage gain"]) == pytest.approx(after - before, abs=0.0011)
        runs.append(after)
        assert app.exceptions() == []
    assert runs[1] > runs[0]  # two more sites cover more residents
    app.screenshot("planner_siting_two_scenarios")

    path = app.download("Chosen sites (CSV)")
    text = path.read_text(encoding="utf-8")
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert sum(r["status"] == "new" for r in rows) == 4  # the last scenario's new sites
    assert not contact_data.search(text)
