"""Briefing maps: offline HTML (Leaflet inlined, no external URL), marking, layers, escaping,
and the A4 print map."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import geopandas as gpd
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
