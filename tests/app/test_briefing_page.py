"""AppTest of the Briefings page: the packs each role may build, the preview's figures, the
downloads, publishing for viewers and the viewer's published list.

The page runs on a data directory in tmp_path whose entries link to the synced open data and
the sample, so the published folder and the audit log are the test's own.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geointel import audit
from geointel import briefing as br

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "briefing.py")
DATA = ROOT / "data"
pytestmark = [pytest.mark.mirror, pytest.mark.sample]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """GEOINTEL_DATA_DIR and GEOINTEL_AUDIT_FILE in tmp; data linked to the real files."""
    from app_pages import _cached

    if not (DATA / "samples" / "contacts.csv").is_file():
        pytest.skip("the sample is not built (geointel sample build)")
    tmp = tmp_path_factory.mktemp("briefing_page")
    data = tmp / "data"
    data.mkdir()
    for entry in DATA.iterdir():
        if entry.name not in {"published", "audit.sqlite", "accounts.toml"}:
            (data / entry.name).symlink_to(entry)
    paths = {"data": data, "audit": tmp / "audit.sqlite", "published": data / "published"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GEOINTEL_DATA_DIR", str(data))
        mp.setenv("GEOINTEL_AUDIT_FILE", str(paths["audit"]))
        for name in ("GEOINTEL_CONFIG", "GEOINTEL_KEY_FILE", "GEOINTEL_PSEUDONYM_KEY",
                     "GEOINTEL_AREAS"):
            mp.delenv(name, raising=False)
        _cached.settings.clear()
        yield paths
        _cached.settings.clear()


def _page(role: str, user: str = "tester"):
    at = streamlit_testing.AppTest.from_file(PAGE, default_timeout=400)
    at.session_state["role"] = role
    at.session_state["user"] = user
    return at.run()


def _labels(at) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


@pytest.fixture(scope="module")
def lines_found(env):
    """How many lines geointel.network.pipeline.analyse_lines finds on the sample."""
    from geointel.io.contacts import read_contacts
    from geointel.network.pipeline import analyse_lines
    from geointel.privacy import load_key

    contacts = read_contacts(DATA / "samples" / "contacts.csv",
                             key=load_key(DATA / "pseudonym.key")).data
    return len(analyse_lines(contacts, seed=42).lines)


def test_a_planner_has_no_operation_pack_and_nothing_builds_until_asked(env):
    at = _page("planner")
    assert not at.exception, at.exception
    assert [o.split(" (")[0] for o in at.sidebar.radio[0].options] == ["Partnership board"]
    assert at.sidebar.multiselect[0].value == ["E06000033", "E06000034", "E10000012"]
    # the picker names the authorities, not only their codes
    assert at.sidebar.multiselect[0].options == [
        "Southend-on-Sea (E06000033)", "Thurrock (E06000034)", "Essex (E10000012)"]
    assert next(i.value for i in at.info).startswith("Choose the pack")
    assert not at.metric and not _labels(at)


def test_a_viewer_sees_only_the_published_packs(env):
    folder = br.publish_pack(_small_board(), env["published"], role="planner",
                             name="2019-02-28 board test")
    try:
        at = _page("viewer", "vic")
        assert not at.exception, at.exception
        assert not at.sidebar.radio and not at.button and not at.sidebar.button
        assert any("Test board" in m.value for m in at.markdown)
        assert _labels(at) == ["PDF pack (A4 landscape)", "Map (HTML, opens offline)",
                               "Map (PNG)"]
        assert not at.metric
    finally:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()


def _small_board() -> br.Briefing:
    import geopandas as gpd
    from shapely.geometry import box

    wards = gpd.GeoDataFrame({"code": ["W1", "W2", "W3"], "name": ["A", "B", "C"],
                              "count": [12, 0, 30], "rate": [1.0, 0.0, 2.5]},
                             geometry=[box(580000 + i * 1000, 180000, 581000 + i * 1000,
                                           181000) for i in range(3)], crs="EPSG:27700")
    return br.board_briefing(wards, marking="OFFICIAL", threshold=5, title="Test board",
                             date="2019-02-28")


@pytest.mark.slow
def test_the_analyst_builds_the_operation_pack_with_every_ranked_line(env, lines_found):
    at = _page("analyst", "ann")
    assert [o.split(" (")[0] for o in at.sidebar.radio[0].options] == [
        "Operation", "Partnership board"]
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Lines ranked"] == str(lines_found)
    assert int(metrics["Contact records analysed"].replace(",", "")) > 80_000
    assert len(at.dataframe[0].value) == lines_found
    assert _labels(at) == [
        "PDF pack (A4 landscape)", "Map (HTML, opens offline)", "Map (PNG)",
        "Map layers (GeoPackage)", "Map layer: exporter to importer links (GeoJSON)",
        "Map layer: line footprint where lines run records per lsoa (GeoJSON)",
        "Map layer: line footprint where lines sell records per lsoa (GeoJSON)",
        "Map layer: local authorities (GeoJSON)", "Table: ranked lines (CSV)"]
    assert not [b for b in at.button if b.proto.label == "Publish for viewers"]
    page = at.get("iframe")[0].proto.srcdoc  # the offline map of the pack
    assert page.count(">OFFICIAL-SENSITIVE</div>") == 2 and "Exporter to importer" in page
    assert any("OFFICIAL-SENSITIVE" in c.value for c in at.caption)


def _targeting(overrides=None):
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app_pages" / "targeting.py"),
                                             default_timeout=400)
    at.session_state["role"] = "analyst"
    at.session_state["user"] = "ann"
    if overrides is not None:
        at.session_state["score_overrides"] = overrides
    return at.run()


@pytest.mark.slow
def test_the_operation_pack_ranks_exactly_as_the_targeting_page(env):
    """Same intelligence register, same overrides (this session's), same draws: the pack's
    ranked table is the Targeting page's, confidence included."""
    from geointel.scoring import add_override, load_scheme

    cols = ["rank", "line_id", "band", "confidence"]
    page = _targeting()
    assert not page.exception, page.exception
    shown = page.dataframe[0].value
    assert (shown["confidence"] == "high").any()  # the register is evidence
    at = _page("analyst", "ann")
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    pack = at.dataframe[0].value
    pd.testing.assert_frame_equal(pack[cols].reset_index(drop=True),
                                  shown[cols].reset_index(drop=True), check_dtype=False)
    assert (pack["rank_low"].astype(str) + "–" + pack["rank_high"].astype(str)).tolist() == \
        shown["rank interval"].tolist()
    for col in ("priority", "risk", "harm"):  # the pack prints them to 2 decimals
        assert pack[col].tolist() == shown[col].round(2).tolist()

    # an audited override in this session moves the last line up, on both pages
    last = shown["line_id"].iloc[-1]
    scheme = load_scheme()
    trail = add_override(None, line_id=last, item="physical",
                         value=max(scheme.levels("physical")), by="ann",
                         reason="test: firearm recovered", scheme=scheme)
    page = _targeting(trail)
    moved = page.dataframe[0].value
    assert moved["line_id"].tolist() != shown["line_id"].tolist()
    at = _page("analyst", "ann")
    at.session_state["score_overrides"] = trail
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    pack = at.dataframe[0].value
    pd.testing.assert_frame_equal(pack[cols].reset_index(drop=True),
                                  moved[cols].reset_index(drop=True), check_dtype=False)
    assert {m.label: m.value for m in at.metric}["Scores overridden (audited)"] == "1"


@pytest.mark.slow
def test_the_board_pack_says_its_partner_data_are_synthetic_and_offers_geojson(env):
    at = _page("planner", "pat")
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "SYNTHETIC" in captions and "Oct 2018 to Feb 2019" in captions
    assert "wards have their offence count suppressed" in captions
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drug offences (police.uk, Oct 2018 to Feb 2019)"]
    geojson = [b for b in at.get("download_button") if b.proto.label.endswith("(GeoJSON)")]
    assert [b.proto.label for b in geojson] == [
        "Map layer: access gaps lsoas beyond 1 6 km of any service (GeoJSON)",
        "Map layer: drug deaths per 100 000 residents by ward jan 2016 to feb 2019 (GeoJSON)",
        "Map layer: drug offences per 1 000 residents by ward oct 2018 to feb 2019 (GeoJSON)",
        "Map layer: local authorities (GeoJSON)",
        "Map layer: recommended new sites (GeoJSON)",
        "Map layer: services (GeoJSON)"]


@pytest.mark.slow
def test_publishing_the_board_pack_writes_it_for_viewers(env):
    at = _page("planner", "pat")
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Recommended new sites"] == "3"
    publish = next(b for b in at.button if b.proto.label == "Publish for viewers")
    publish.click().run()
    assert not at.exception, at.exception
    folders = [p for p in env["published"].iterdir() if p.is_dir()]
    assert len(folders) == 1 and (folders[0] / "briefing.pdf").is_file()
    assert (folders[0] / "map.html").is_file() and (folders[0] / "map.png").is_file()
    assert any(s.value.startswith("Published as") for s in at.success)
    exports = audit.read_events(env["audit"], event="export")
    assert exports["detail"].astype(str).str.contains(
        f"published briefing: {folders[0].name}").any()
    assert set(exports["user"]) == {"pat"}
    packs = br.published_packs(env["published"])
    assert packs[0].marking == "OFFICIAL"
    viewer = _page("viewer", "vic")
    assert not viewer.exception
    assert any(packs[0].title in m.value for m in viewer.markdown)
