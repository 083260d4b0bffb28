"""AppTest of the Access and naloxone page on the sample services register."""

from __future__ import annotations

from pathlib import Path

import pytest

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "access.py")
pytestmark = pytest.mark.mirror


@pytest.fixture(scope="module")
def library():
    """The access table computed with the library alone, for naloxone and pharmacies."""
    from geointel.area import build_area
    from geointel.io.services import read_services
    from geointel.settings import load_settings

    cfg = load_settings(env={})
    lsoas = build_area(cfg.areas, data_dir=cfg.data_dir).lsoas
    services = read_services(cfg.samples_dir / "services.csv").data
    return lsoas, services.loc[services["kind"].isin(["naloxone", "pharmacy"])]


def _page(role: str = "planner"):
    at = streamlit_testing.AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["role"] = role
    return at.run()


def test_coverage_metric_equals_the_library_figure(library):
    from geointel import access

    lsoas, services = library
    table = access.lsoa_access(lsoas, services, kinds=["naloxone", "pharmacy"])
    shares = access.coverage(table, threshold_m=1000).set_index("kind")["share"]
    at = _page()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # each label says what it counts; "any" is the Overview's naloxone figure, same label
    assert metrics["Population within 1,000 m of a naloxone point"] == (
        f"{shares['naloxone']:.1%}")
    assert metrics["Population within 1,000 m of a pharmacy"] == f"{shares['pharmacy']:.1%}"
    assert metrics["Population within 1,000 m of a naloxone point or pharmacy"] == (
        f"{shares['any']:.1%}")
    assert shares["naloxone"] < shares["any"]  # the two figures differ: so must the labels
    gaps = access.gap_areas(table, threshold_m=1000)
    assert metrics["LSOAs in a gap"] == f"{len(gaps):,}"
    shown = at.dataframe[0].value
    assert shown["lsoa_code"].tolist() == gaps["lsoa_code"].tolist()


def test_walking_minutes_and_evening_use_open_services_only(library):
    from geointel import access

    lsoas, services = library
    evening = next(w for w in access.TIME_WINDOWS if w.label == "weekday_evening")
    open_ = services.loc[access.available_in(services, evening)]
    table = access.lsoa_access(lsoas, open_, kinds=["naloxone", "pharmacy"])
    metres = access.walking_threshold_m(15)  # 1,200 m
    share = access.coverage(table, threshold_m=metres, kinds=["any"])["share"].item()
    at = _page()
    at.sidebar.radio[0].set_value("walking minutes").run()
    at.sidebar.selectbox[0].set_value("weekday_evening").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Population within 1,200 m of a naloxone point or pharmacy"] == (
        f"{share:.1%}")
    by_time = at.dataframe[1].value.set_index("time of week")["population covered"]
    assert by_time["weekday evening"] == pytest.approx(share)
    assert by_time["weekday evening"] < by_time["always"]


def test_access_page_refuses_the_analyst():
    at = _page("analyst")
    assert [e.value for e in at.error] == ["Your role (analyst) may not open this page."]


def test_gap_list_export_matches_the_page_and_is_audited(app_audit):
    import io
    import json

    import pandas as pd

    from app_pages import _cached
    from geointel import audit

    at = _page()
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert list(buttons) == ["GeoPackage (distances per LSOA)",
                             "Distances per LSOA (GeoJSON)", "Distances per LSOA (CSV)",
                             "Gap list (CSV)"]
    buttons["Gap list (CSV)"].click().run()
    assert not at.exception
    events = audit.read_events(app_audit, event="export")
    assert events["detail"].tolist() == [{"what": "access: gaps.csv", "marking": "OFFICIAL"}]
    cfg = _cached.settings()
    files = _cached.access_export(cfg.areas, str(cfg.data_dir),
                                  str(cfg.samples_dir / "services.csv"),
                                  ("naloxone", "pharmacy"), "always", 1000.0, "OFFICIAL",
                                  "planner")
    gaps = pd.read_csv(io.BytesIO(files["gaps.csv"]))
    assert gaps["lsoa_code"].tolist() == at.dataframe[0].value["lsoa_code"].tolist()
    lsoas = pd.read_csv(io.BytesIO(files["lsoa_access.csv"]))
    assert len(lsoas) == 1077 and lsoas["lsoa_code"].is_unique
    geojson = json.loads(files["lsoa_access.geojson"])
    assert len(geojson["features"]) == 1077
    assert geojson["metadata"]["marking"] == "OFFICIAL"


def test_a_register_loaded_on_the_data_page_replaces_the_sample(library, tmp_path):
    from geointel import access
    from geointel.io.services import read_services

    lsoas, services = library
    every = read_services(ROOT / "data" / "samples" / "services.csv").data
    lines = (ROOT / "data" / "samples" / "services.csv").read_text().splitlines()
    keep = every.loc[every["kind"].isin(["naloxone", "pharmacy"]), "_line"].head(15)
    mine = tmp_path / "services.csv"  # the header and the first 15 naloxone points/pharmacies
    mine.write_text("\n".join([lines[0], *(lines[i - 1] for i in keep)]) + "\n")
    own = read_services(mine).data
    own = own.loc[own["kind"].isin(["naloxone", "pharmacy"])]
    table = access.lsoa_access(lsoas, own, kinds=["naloxone", "pharmacy"])
    share = access.coverage(table, threshold_m=1000, kinds=["any"])["share"].item()

    at = streamlit_testing.AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["role"] = "planner"
    at.session_state["services_register"] = str(mine)
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Population within 1,000 m of a naloxone point or pharmacy"] == (
        f"{share:.1%}")
    assert len(own) == 15 < len(services) and 0 < share < 1
