"""Exported HTML maps open from a file with every network request blocked and show their layers:
the app's own "Map (HTML, opens offline)" download from the Briefing page, and a map of the
sample's services that shows a script-injection service name and note as text without running
them."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from geointel.io.boundaries import read_boundaries
from geointel.io.services import read_services
from geointel.maps import MapLayer, build_map

pytestmark = [pytest.mark.browser, pytest.mark.sample]

ROOT = Path(__file__).resolve().parents[2]

HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_NOTE = "<img src=x onerror=alert(2)>"
ESCAPED_NAME = "&lt;script&gt;alert(1)&lt;/script&gt;"
AREA_LAYER = "Southend LSOAs: sample services"
SERVICE_LAYER = "Services <sample>"


@pytest.fixture(scope="module")
def map_file(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """Southend's LSOAs coloured by sample services, the services, and one hostile service."""
    lsoas = read_boundaries(ROOT / "data" / "boundaries" / "lsoa11" / "E06000033.geojson").data
    services = read_services(ROOT / "data" / "samples" / "services.csv").data
    services = gpd.sjoin(services, lsoas[["code", "geometry"]], predicate="within")
    counts = services.groupby("code").size()
    lsoas = lsoas.assign(services=lsoas["code"].map(counts).fillna(0).astype(int))
    # The hostile service sits alone in an LSOA without services, so a click reaches it.
    empty = lsoas.loc[lsoas["services"] == 0].iloc[0]
    hostile = gpd.GeoDataFrame(
        {"name": [HOSTILE_NAME], "kind": ["naloxone"], "notes": [HOSTILE_NOTE]},
        geometry=[empty.geometry.representative_point()], crs=lsoas.crs)
    points = pd.concat([services[["name", "kind", "notes", "geometry"]], hostile],
                       ignore_index=True)
    layers = [
        MapLayer(AREA_LAYER, lsoas, "choropleth", column="services", popup=["name", "services"]),
        MapLayer(SERVICE_LAYER, points, "points", popup=["name", "kind", "notes"],
                 colour="#2b8cbe"),
    ]
    page = build_map(layers, title="Sample services, Southend-on-Sea", marking="OFFICIAL",
                     date="2019-02-28")
    path = tmp_path_factory.mktemp("map") / "services map.html"
    path.write_text(page, encoding="utf-8")
    return path, len(lsoas), len(points)


def _mark_circle(page, popup_part: str) -> str:
    """Give the SVG path of the circle whose popup contains ``popup_part`` an id; the id."""
    return str(page.evaluate("""(part) => {
        const map = Object.values(window).find(v => v instanceof L.Map);
        let found = null;
        map.eachLayer(l => {
            const p = l.feature && l.feature.properties && l.feature.properties.popup;
            if (p && p.includes(part) && l instanceof L.CircleMarker) found = l._path;
        });
        found.id = 'gi-test-target';
        return found.id;
    }""", popup_part))


def test_exported_map_opens_offline_and_shows_its_layers(browser_context, map_file,
                                                          screenshots):
    path, n_lsoas, n_points = map_file
    page = browser_context.new_page()
    blocked: list[str] = []
    dialogs: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith(("file://", "data:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(path.as_uri())
        page.wait_for_selector(".leaflet-container")
        page.wait_for_function(
            f"document.querySelectorAll('.leaflet-overlay-pane svg path').length >= "
            f"{n_lsoas + n_points}")
        overlays = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        assert [o.strip() for o in overlays] == [AREA_LAYER, SERVICE_LAYER]
        # every LSOA polygon and every service circle is an SVG path
        assert page.locator(".leaflet-overlay-pane svg path").count() == n_lsoas + n_points
        assert page.locator(".gi-marking").all_inner_texts() == ["OFFICIAL", "OFFICIAL"]
        assert "Sample services, Southend-on-Sea" in page.locator(".gi-title").inner_text()
        assert "Contains OS data" in page.locator(".gi-sources").inner_text()

        # open the hostile service's popup with a click on its circle (popups hold escaped
        # HTML, so the circle is found by the escaped name)
        page.locator(f"#{_mark_circle(page, ESCAPED_NAME)}").dispatch_event("click")
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        text = popup.inner_text()
        assert HOSTILE_NAME in text
        assert HOSTILE_NOTE in text
        assert popup.locator("script, img").count() == 0
        page.wait_for_timeout(500)  # the popup fades in; a dialog would have fired by now
        page.screenshot(path=str(screenshots / "map_offline_hostile_popup.png"))
        assert dialogs == []
        assert blocked == []
    finally:
        page.close()


def test_service_circles_are_filled_and_a_click_on_one_opens_its_popup(browser_context,
                                                                         map_file):
    path, _, n_points = map_file
    page = browser_context.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("file://", "data:")) else route.abort())
    try:
        page.goto(path.as_uri())
        page.wait_for_selector(".leaflet-container")
        fills = page.evaluate("""() => {
            const out = [];
            const map = Object.values(window).find(v => v instanceof L.Map);
            map.eachLayer(l => { if (l instanceof L.CircleMarker && l._path)
                out.push(l._path.getAttribute('fill')); });
            return out;
        }""")
        assert len(fills) == n_points
        assert "none" not in fills
        # a real mouse click on the circle's centre reaches the circle, not the LSOA below
        box = page.locator(f"#{_mark_circle(page, ESCAPED_NAME)}").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.locator(".leaflet-popup-content").wait_for()
        assert HOSTILE_NAME in page.locator(".leaflet-popup-content").inner_text()
    finally:
        page.close()


#: Building the board pack the first time takes about half a minute on the sample.
BUILD_TIMEOUT_MS = 240_000


@pytest.mark.slow
def test_the_apps_own_map_export_opens_offline_with_its_layers(app, browser_context,
                                                               screenshots, tmp_path):
    """The Briefing page's "Map (HTML, opens offline)" download, opened from the file with
    every request to a host other than this machine blocked, draws every layer it lists."""
    app.sign_in("planner")
    app.open_nav("briefing")
    app.page.get_by_role("button", name="Build pack").click()
    app.page.get_by_role("heading", name="Download").wait_for(timeout=BUILD_TIMEOUT_MS)
    app.wait_idle()
    assert app.exceptions() == []
    # the pack just built (a published pack further down may offer the same button)
    with app.page.expect_download() as info:
        app.page.get_by_role("button", name="Map (HTML, opens offline)").first.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == "map.html"

    page = browser_context.new_page()
    blocked: list[str] = []

    def local_only(route):
        url = route.request.url
        if url.startswith(("file://", "data:", "http://127.0.0.1", "http://localhost")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", local_only)
    try:
        page.goto(path.as_uri())
        page.wait_for_selector(".leaflet-container")
        overlays = [o.strip() for o in
                    page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]
        assert overlays[0] == "Local authorities"
        assert any(o.startswith("Drug offences per 1,000 residents by ward") for o in overlays)
        assert "Recommended new sites" in overlays
        # what each layer that is on holds, drawn: one SVG path per feature
        counts = page.evaluate("""() => {
            const map = Object.values(window).find(v => v instanceof L.Map);
            const out = [];
            map.eachLayer(l => { if (l instanceof L.GeoJSON) {
                const paths = l.getLayers().filter(f => f._path && f._path.isConnected);
                out.push([l.getLayers().length, paths.length]);
            }});
            return out;
        }""")
        assert len(counts) >= 3 and all(n == drawn for n, drawn in counts), counts
        drawn = page.locator(".leaflet-overlay-pane svg path").count()
        assert drawn == sum(n for n, _ in counts) and drawn > 257  # the wards and more
        assert page.locator(".gi-marking").all_inner_texts() == ["OFFICIAL", "OFFICIAL"]
        assert "SYNTHETIC" in page.locator(".gi-sources").inner_text()
        # the legend lists the layers that are on; switching one on adds its entry
        visible = page.locator(".gi-layer:visible .gi-lh").all_inner_texts()
        assert not any(v.startswith("Drug deaths") for v in visible)
        deaths = next(o for o in overlays if o.startswith("Drug deaths"))
        page.get_by_label(deaths).check()
        assert any(v.startswith("Drug deaths") for v in
                   page.locator(".gi-layer:visible .gi-lh").all_inner_texts())
        page.screenshot(path=str(screenshots / "briefing_map_export_offline.png"))
        assert blocked == []
    finally:
        page.close()
