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
    assert labels == ["GeoPackage (rates, LSOA hotspots)", "Wards ranked (GeoJSON)",
                      "LSOA hotspots (GeoJSON)", "Wards ranked (CSV)",
                      "Drug deaths, suppressed (CSV)"]
    at.get("download_button")[3].click().run()
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
    (tmp_path / "rates.geojson").write_bytes(files["rates.geojson"])
    as_json = gpd.read_file(tmp_path / "rates.geojson")
    assert as_json["code"].tolist() == wards["code"].tolist()
    assert as_json.crs.to_epsg() == 4326  # GeoJSON is WGS84


def test_the_map_says_which_crime_types_and_draws_honest_classes_over_the_boundaries():
    import re

    at = _page()
    at.sidebar.multiselect[0].set_value(["E06000033"])
    at.sidebar.multiselect[1].set_value(["Burglary"]).run()
    assert not at.exception
    page = at.get("iframe")[0].proto.srcdoc
    title = re.search(r'<div class="gi-box gi-title"><h1>(.*?)</h1>', page).group(1)
    assert title.startswith("Burglary offences ") and "Drug" not in title
    layers = re.findall(r'id="gi-legend-\d+"(?: style="display:none")?>'
                        r"<div class='gi-lh'>(.*?)</div>", page)
    assert layers == ["Local authority boundaries", "Burglary offences per 1,000 residents",
                      "Drug deaths per 100,000 by ward (whole register)",
                      "Gi* hot and cold spots (Burglary offence rate, LSOA)",
                      "Local Moran clusters and outliers (Burglary offence rate, LSOA)",
                      "IMD 2019 decile (1 = most deprived)"]
    # categorical legends: 'not significant' is a class of its own, decile 1 named
    assert "Not significant</div>" in page and "Hot spot, 99% confidence" in page
    assert "High-High cluster" in page and "1 (most deprived 10%)" in page
    assert "suppressed (1 to 4 deaths)" in page
