"""AppTest of the Harm map page on the synced SET area and the sample deaths register."""

from __future__ import annotations

from pathlib import Path

import pytest

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "harm.py")
pytestmark = pytest.mark.mirror


def _page(role: str | None = "planner"):
    at = streamlit_testing.AppTest.from_file(PAGE, default_timeout=180)
    if role:
        at.session_state["role"] = role
    return at.run()


def test_harm_page_ranks_wards_of_the_whole_area():
    at = _page()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 257  # best-fit wards of the SET area
    assert table["rank"].tolist() == sorted(table["rank"].tolist())
    assert set(table["vs whole area"]) <= {"higher", "similar", "lower"}
    assert (table["95% CI lower"] <= table["rate per 1,000"]).all()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Offences in the area"] == f"{int(table['count'].sum()):,}"
    assert len(at.get("iframe")) == 1


def test_southend_ward_table_has_its_17_wards():
    at = _page()
    at.sidebar.multiselect[0].set_value(["E06000033"]).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 17
    # the strategy names Kursaal, Milton and Victoria: all above Southend's own rate
    top = table.loc[table["vs whole area"] == "higher", "name"].tolist()
    assert {"Kursaal", "Milton", "Victoria"} <= set(top)
    at.selectbox[0].set_value(table.loc[table["name"] == "Victoria", "code"].item()).run()
    details = {m.label: m.value for m in at.metric}
    assert details["Rank"] == f"{table.loc[table['name'] == 'Victoria', 'rank'].item()} of 17"


def test_geography_switch_gives_lsoas_and_authorities():
    at = _page()
    at.sidebar.multiselect[0].set_value(["E06000033"])
    at.sidebar.radio[0].set_value("LSOA").run()
    assert len(at.dataframe[0].value) == 107
    at.sidebar.radio[0].set_value("Local authority").run()
    table = at.dataframe[0].value
    assert table["name"].tolist() == ["Southend-on-Sea"]
    assert table["vs whole area"].tolist() == ["similar"]


def test_harm_page_refuses_the_viewer():
    at = _page("viewer")
    assert [e.value for e in at.error] == ["Your role (viewer) may not open this page."]
    assert not at.dataframe


def test_exports_hold_the_ranked_table_and_suppressed_deaths_and_are_audited(app_audit,
                                                                            tmp_path):
    import io

    import geopandas as gpd
    import pandas as pd

    from app_pages import _cached
    from geointel import audit
    from geointel.privacy import check_no_small_counts

    at = _page()
    at.sidebar.multiselect[0].set_value(["E06000033"]).run()
    shown = at.dataframe[0].value
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["GeoPackage (rates, LSOA hotspots)", "Wards ranked (CSV)",
                      "Drug deaths, suppressed (CSV)"]
    at.get("download_button")[1].click().run()
    events = audit.read_events(app_audit, event="export")
    assert events["detail"].tolist() == [{"what": "harm: rates.csv", "marking": "OFFICIAL"}]

    cfg = _cached.settings()
    months = sorted(_cached.police(str(cfg.data_dir)).data["month"].dropna().unique())
    files = _cached.harm_export(cfg.areas, str(cfg.data_dir), ("E06000033",), ("Drugs",),
                                months[0], months[-1], "ward",
                                str(cfg.samples_dir / "deaths.csv"),
                                cfg.suppression_threshold, cfg.seed, "OFFICIAL", "planner")
    rates = pd.read_csv(io.BytesIO(files["rates.csv"]))
    assert rates["code"].tolist() == shown["code"].tolist()
    assert rates["count"].tolist() == shown["count"].tolist()
    assert set(rates["marking"]) == {"OFFICIAL"}
    deaths = pd.read_csv(io.BytesIO(files["deaths.csv"]))
    check_no_small_counts(deaths, columns=["count"], threshold=cfg.suppression_threshold)
    (tmp_path / "harm.gpkg").write_bytes(files["harm.gpkg"])
    wards = gpd.read_file(tmp_path / "harm.gpkg", layer="rates")
    assert len(wards) == 17 and wards.crs.to_epsg() == 27700
