"""Briefing maps: offline HTML (Leaflet inlined, no external URL), marking, layers, escaping,
and the A4 print map."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from geointel.errors import MissingDataError, ValidationError
from geointel.maps import ATTRIBUTION, MapLayer, build_map, static_map_png

HOSTILE = "<script>alert(1)</script>"
VENDOR = Path(__file__).resolve().parents[2] / "data" / "vendor" / "leaflet"
pytestmark = pytest.mark.skipif(not (VENDOR / "leaflet.js").exists(),
                                reason="Leaflet not obtained: run `make vendor`")


@pytest.fixture
def layers() -> list[MapLayer]:
    areas = gpd.GeoDataFrame({"lsoa_code": ["E01000001", "E01000002"], "rate": [1.5, 6.0]},
                             geometry=[box(588000, 186000, 589000, 187000),
                                       box(589000, 186000, 590000, 187000)], crs="EPSG:27700")
    services = gpd.GeoDataFrame({"name": [HOSTILE, "Hub"], "kind": ["naloxone", "hub"]},
                                geometry=[Point(588500, 186500), Point(589500, 186500)],
                                crs="EPSG:27700")
    return [MapLayer("Offence rate", areas, "choropleth", column="rate",
                     popup=["lsoa_code", "rate"]),
            MapLayer(f"Services {HOSTILE}", services, "points", popup=["name", "kind"],
                     colour="#2c7bb6")]


def test_html_opens_offline_with_leaflet_inlined_marking_and_layers(layers):
    page = build_map(layers, title="Southend harm", marking="OFFICIAL", date="2026-11-22")
    # no resource from another host: script/link/img URLs and CSS url()s (script bodies are
    # code, e.g. Leaflet's own attribution link, not resources the page loads)
    tags = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", page, flags=re.S)
    assert re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", tags) == []
    assert re.findall(r"""url\(\s*["']?(?:https?:)?//""", page) == []
    assert "L.control.scale" in page  # scale bar
    assert (VENDOR / "leaflet.js").read_text()[:200] in page  # the library itself, inlined
    assert page.count(">OFFICIAL</div>") == 2  # banner top and bottom
    assert "Offence rate" in page and "2026-11-22" in page
    assert ATTRIBUTION.split(".")[0] in page


def test_untrusted_text_is_escaped_everywhere(layers):
    page = build_map(layers, title=f"Title {HOSTILE}", marking="OFFICIAL")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.replace("\\u0026", "&")


def test_missing_leaflet_names_the_fix(layers, tmp_path):
    with pytest.raises(MissingDataError, match="make vendor"):
        build_map(layers, title="t", marking="OFFICIAL", vendor_dir=tmp_path)


def test_a_bad_layer_is_refused():
    frame = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(0, 0)], crs="EPSG:27700")
    with pytest.raises(ValidationError):
        MapLayer("x", frame, "heatmap")  # type: ignore[arg-type]


def test_static_png_is_a4_landscape(layers):
    png = static_map_png(layers, title="Southend harm", marking="OFFICIAL", dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert abs(width / height - 297 / 210) < 0.01


# --- colour classes -------------------------------------------------------------------------

def _luminance(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_zero_is_its_own_class_and_ties_do_not_collapse_the_classes():
    from geointel.maps import PALETTE, ZERO, classify

    # the board pack's deaths layer: 110 wards at 0 and a few positive rates, max 92.9
    values = np.array([0.0] * 110 + [5.0, 5.0, 12.5, 30.0, 41.0, 60.0, 92.9, np.nan, np.inf])
    c = classify(values)
    # six distinct positive values in five classes of one or two distinct values each (the
    # repeated 5 counts once); the maximum is not lumped with the zeros
    assert c.labels == ["0", "5 – 12.5", "30", "41", "60", "92.9"]
    assert c.colours == [ZERO, *PALETTE]
    assert (c.index[:110] == 0).all()
    assert c.index[110:117].tolist() == [1, 1, 1, 2, 3, 4, 5]
    assert c.index[117:].tolist() == [-1, -1]


def test_quantile_breaks_are_taken_over_distinct_values():
    from geointel.maps import classify

    # 50 ones and one each of 2..5: quantiles of the 55 values would all be 1
    c = classify(np.array([1.0] * 50 + [2.0, 3.0, 4.0, 5.0]))
    assert c.labels == ["1", "2", "3", "4", "5"]
    assert np.bincount(c.index).tolist() == [50, 1, 1, 1, 1]


def test_negative_values_get_no_zero_class_and_labels_are_the_ranges_held():
    from geointel.maps import classify

    values = np.arange(-10.0, 10.0)  # 20 distinct values, 5 classes of 4
    c = classify(values)
    assert c.labels == ["-10 – -7", "-6 – -3", "-2 – 1", "2 – 5", "6 – 9"]
    assert np.bincount(c.index).tolist() == [4, 4, 4, 4, 4]
    assert classify(np.array([np.nan])).labels == []
    one = classify(np.array([3.0, 3.0]))
    assert one.labels == ["3"] and one.index.tolist() == [0, 0]


def test_gi_star_bins_are_categorical_with_not_significant_neutral():
    from geointel.maps import GI_STAR, classify

    c = classify(np.array([0, 0, 3, -1, 2, 0]), categories=GI_STAR)
    assert c.labels == ["Hot spot, 99% confidence", "Hot spot, 95% confidence",
                        "Hot spot, 90% confidence", "Not significant",
                        "Cold spot, 90% confidence", "Cold spot, 95% confidence",
                        "Cold spot, 99% confidence"]
    assert c.index.tolist() == [3, 3, 0, 4, 1, 3]
    neutral = c.colours[3]
    r, g, b = (int(neutral[i:i + 2], 16) for i in (1, 3, 5))
    assert min(r, g, b) > 230 and max(r, g, b) - min(r, g, b) < 10  # near white, no hue
    assert c.colours[0] == "#d62f27" and c.colours[-1] == "#4575b5"  # ArcGIS hot and cold


def test_imd_decile_one_is_darkest_and_lisa_labels_are_categories():
    from geointel.maps import IMD_DECILES, LISA, classify

    c = classify(np.array([1.0, 10.0, 5.0, np.nan]), categories=IMD_DECILES)
    assert c.index.tolist() == [0, 9, 4, -1]
    assert c.labels[0] == "1 (most deprived 10%)" and c.labels[9] == "10 (least deprived 10%)"
    shades = [_luminance(colour) for colour in c.colours]
    assert shades == sorted(shades) and shades[0] < shades[-1]
    lisa = classify(np.array(["Not significant", "High-High", "Low-Low"], dtype=object),
                    categories=LISA)
    assert lisa.index.tolist() == [4, 0, 3]
    assert lisa.labels == ["High-High cluster", "High-Low outlier", "Low-High outlier",
                           "Low-Low cluster", "Not significant"]


def test_a_categorical_layer_refuses_values_outside_its_categories():
    from geointel.maps import GI_STAR

    frame = gpd.GeoDataFrame({"gi_bin": [0, 4]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
                             crs="EPSG:27700")
    with pytest.raises(ValidationError, match="holds 4, which no category matches"):
        MapLayer("Gi*", frame, "choropleth", column="gi_bin", categories=GI_STAR)


def test_the_html_legend_shows_the_categories_and_only_the_layers_that_are_on(layers):
    from geointel.maps import GI_STAR

    areas = layers[0].frame.assign(gi_bin=[0, 3], rate=[0.0, 6.0])
    page = build_map([MapLayer("Rate", areas, "choropleth", column="rate",
                               no_value="suppressed (1 to 4)"),
                      MapLayer("Gi*", areas, "choropleth", column="gi_bin", categories=GI_STAR,
                               show=False)],
                     title="t", marking="OFFICIAL")
    shown = re.search(r'<div class="gi-layer" id="gi-legend-0">(.*?)<div class="gi-layer"',
                      page)
    hidden = re.search(r'<div class="gi-layer" id="gi-legend-1" style="display:none">(.*?)'
                       r'<div class="gi-sources">', page, flags=re.S)
    assert shown and hidden
    assert "> 0</div>" in shown.group(1) and "> 6</div>" in shown.group(1)
    assert "suppressed (1 to 4)" not in shown.group(1)  # every area has a value
    assert "Not significant" in hidden.group(1) and "Hot spot, 99% confidence" in hidden.group(1)
    # the layer control's add/remove events show and hide the legend entries
    sync = re.search(r"var pairs = \[(.*?)\];.*map\.on\('overlayadd overlayremove', sync\)",
                     page, flags=re.S)
    assert sync and sync.group(1).count("gi-legend-") == 2
    assert page.index("var pairs") > page.index("L.control.layers")


def test_siting_layers_show_existing_new_sites_and_the_areas_left_uncovered():
    from geointel.maps import siting_layers
    from geointel.siting import MCLP

    # demand A1 (10) near the new site, A2 (5) near the existing one, A3 (7) near neither
    cost = np.array([[100.0, 900.0], [900.0, 200.0], [4000.0, 5000.0]])
    result = MCLP.from_cost_matrix(cost, [10, 5, 7], threshold=500, p=1, fixed=[False, True],
                                   site_ids=["C1", "S1"], demand_ids=["A1", "A2", "A3"]).solve()
    sites = gpd.GeoDataFrame({"site_id": ["C1", "S1", "C9"], "name": ["Hall", "Hub", "Other"],
                              "kind": ["venue", "treatment_hub", "venue"]},
                             geometry=[Point(0, 0), Point(900, 0), Point(5, 5)],
                             crs="EPSG:27700")
    areas = gpd.GeoDataFrame({"lsoa_code": ["A1", "A2", "A3"], "lsoa_name": ["a", "b", "c"],
                              "population": [10, 5, 7]},
                             geometry=[box(i * 10, 0, i * 10 + 5, 5) for i in range(3)],
                             crs="EPSG:27700")
    boundary = gpd.GeoDataFrame({"code": ["E1"], "name": ["LA"]}, geometry=[box(0, 0, 30, 5)],
                                crs="EPSG:27700")
    layers = siting_layers(result, sites=sites, areas=areas, boundaries=boundary)
    assert [layer.name for layer in layers] == [
        "Local authority boundaries", "LSOAs beyond 500 m of every open site",
        "Existing services kept open", "New sites chosen"]
    far = layers[1].frame
    assert far["lsoa_code"].tolist() == ["A3"]
    assert far["distance to nearest open site (m)"].tolist() == [4000.0]
    assert layers[2].frame["name"].tolist() == ["Hub"]
    new = layers[3].frame
    assert new["site_id"].tolist() == ["C1"]
    assert new["residents newly covered"].tolist() == [10.0]
    assert layers[0].kind == "outline" and layers[0].sensitivity == "public"
