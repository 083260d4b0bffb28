"""AppTest of the Clinic siting page: run, compare scenarios, export."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
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


def _curve(at):
    """The p-sweep chart's data (p, share covered)."""
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[0].proto
    return pa.ipc.open_stream(chart.datasets[0].data.data).read_all().to_pandas()


def _map_layers(at) -> dict[str, str]:
    """Legend heading -> legend entries (text) of the page's map."""
    import re

    page = at.get("iframe")[0].proto.srcdoc
    found = re.findall(r'id="gi-legend-\d+"(?: style="display:none")?><div class=\'gi-lh\'>'
                       r"(.*?)</div>(.*?)</div></div>", page)
    return {heading: re.sub(r"<[^>]+>", "", body) for heading, body in found}


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
    curve = _curve(at)
    assert curve["p"].tolist() == [0, 1, 2, 3, 4, 5]
    # p = 3 on the curve is the run itself
    after = float(metrics["Coverage after"].rstrip("%")) / 100
    assert curve.set_index("p").loc[3, "share covered"] == pytest.approx(after, abs=0.0005)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["GeoPackage (sites, assignment)", "Chosen sites (CSV)",
                      "Assignment (CSV)", "Chosen sites (GeoJSON)", "Assignment (GeoJSON)"]
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


def test_the_page_shows_the_last_run_not_the_sidebar_until_run_is_pressed():
    at = _page()
    at.sidebar.button[0].click().run()
    table, curve = at.dataframe[0].value, _curve(at)
    heading = at.subheader[0].value
    # switch to p-median, another threshold and other fixed kinds, without pressing Run
    at.sidebar.radio[0].set_value("p-median (least total distance)")
    at.sidebar.number_input[1].set_value(3000)
    at.sidebar.multiselect[0].set_value(["treatment_hub"]).run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == heading
    assert any(c.value.startswith("Showing the last run") for c in at.caption)
    shown = at.dataframe[0].value
    assert "residents newly covered" in shown.columns  # the MCLP run's gain, not p-median's
    assert "weighted metres saved" not in shown.columns
    pd.testing.assert_frame_equal(shown, table)
    pd.testing.assert_frame_equal(_curve(at), curve)  # the run's threshold and fixed kinds

    at.sidebar.button[0].click().run()  # now the p-median run
    assert "weighted metres saved" in at.dataframe[0].value.columns
    assert not any(c.value.startswith("Showing the last run") for c in at.caption)


def test_the_map_shows_the_chosen_sites_the_kept_services_and_the_areas_left_out():
    from app_pages import _cached
    from geointel.io.services import read_services

    at = _page()
    at.sidebar.button[0].click().run()
    assert not at.exception
    legend = _map_layers(at)
    assert list(legend) == ["Local authority boundaries",
                            "LSOAs beyond 1,600 m of every open site",
                            "Existing services kept open", "New sites chosen"]
    page = at.get("iframe")[0].proto.srcdoc
    cfg = _cached.settings()
    result = _cached.siting_run(cfg.areas, str(cfg.data_dir), "mclp", 3, 1600.0, "sample",
                                ("treatment_hub", "satellite"), 20.0,
                                str(cfg.samples_dir / "services.csv"), 1.0)
    names = dict(zip(at.dataframe[0].value["site_id"], at.dataframe[0].value["name"],
                     strict=True))
    assert all(names[s] in page for s in result.selected)
    services = read_services(cfg.samples_dir / "services.csv").data
    kept = services[services["kind"].isin(["treatment_hub", "satellite"])]
    assert len(result.existing) == len(kept)
    # one popup per area left beyond the threshold (each names its distance)
    assert page.count("distance to nearest open site (m)") == len(result.uncovered)


def test_lscp_covers_everyone_within_reach_by_default():
    at = _page()
    at.sidebar.radio[0].set_value("LSCP (fewest sites to cover everyone reachable)").run()
    assert at.sidebar.checkbox[0].value and at.sidebar.slider[0].disabled
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "everyone within reach" in at.subheader[0].value
    from app_pages import _cached

    cfg = _cached.settings()
    result = _cached.siting_run(cfg.areas, str(cfg.data_dir), "lscp", 0, 1600.0, "sample",
                                ("treatment_hub", "satellite"), 20.0,
                                str(cfg.samples_dir / "services.csv"), None)
    # the page shows that run (the library's own tests check it covers everyone in reach)
    assert result.model == "lscp" and result.status == "optimal"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New sites chosen"] == f"{len(result.selected)}"
    assert metrics["Coverage after"] == f"{result.coverage_after:.1%}"
    assert metrics["Coverage after"] == f"{result.coverage_after:.1%}"


def test_lscp_takes_a_target_share_it_can_reach():
    at = _page()
    at.sidebar.radio[0].set_value("LSCP (fewest sites to cover everyone reachable)").run()
    at.sidebar.checkbox[0].uncheck().run()
    at.sidebar.slider[0].set_value(0.4).run()
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "40% covered" in at.subheader[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Coverage after"].rstrip("%")) >= 40.0
    assert not at.get("vega_lite_chart")  # no p-sweep for set covering
    # a share the candidates cannot reach is refused with the reachable share named
    at.sidebar.slider[0].set_value(0.9).run()
    at.sidebar.button[0].click().run()
    assert any("even with every candidate open only" in e.value for e in at.error)


def test_siting_page_refuses_the_analyst():
    at = _page("analyst")
    assert [e.value for e in at.error] == ["Your role (analyst) may not open this page."]
