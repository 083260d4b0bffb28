"""Access: distances, nearest services, coverage and gaps on hand-checkable layouts."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from geointel import access
from geointel.errors import CRSError, DataFileError, ValidationError

BNG = "EPSG:27700"


def pts(coords: list[tuple[float, float]], crs: str = BNG) -> gpd.GeoSeries:
    return gpd.GeoSeries([Point(x, y) for x, y in coords], crs=crs)


def services(rows: list[tuple[str, str, float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"service_id": [r[0] for r in rows], "kind": [r[1] for r in rows]},
        geometry=[Point(r[2], r[3]) for r in rows], crs=BNG)


def lsoa_table() -> gpd.GeoDataFrame:
    """Four LSOAs on a line at x = 0, 1000, 2000, 5000 m, populations 100..400."""
    xs = [0.0, 1000.0, 2000.0, 5000.0]
    return gpd.GeoDataFrame(
        {"lsoa_code": ["A", "B", "C", "D"], "lsoa_name": ["a", "b", "c", "d"],
         "population": [100, 200, 300, 400], "imd_decile": [1, 5, 10, 2],
         "centroid_easting": xs, "centroid_northing": [0.0] * 4},
        geometry=[Polygon([(x - 400, -400), (x + 400, -400), (x + 400, 400), (x - 400, 400)])
                  for x in xs], crs=BNG)


@pytest.mark.parametrize("detour, expected", [(1.0, [[5.0, 10.0], [0.0, 5.0]]),
                                              (1.3, [[6.5, 13.0], [0.0, 6.5]])])
def test_distance_matrix_straight_line_times_detour(detour: float, expected: list) -> None:
    got = access.distance_matrix(pts([(0, 0), (3, 4)]), pts([(3, 4), (6, 8)]), detour=detour)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, expected)


def test_distance_matrix_reprojects_other_projected_crs() -> None:
    # The same point given in UTM 31N and in BNG is (almost) zero metres away.
    bng = pts([(583_989.0, 187_186.0)])
    utm = bng.to_crs("EPSG:32631")
    assert access.distance_matrix(utm, bng, detour=1.0)[0, 0] < 0.01


@pytest.mark.parametrize("crs", ["EPSG:4326", None])
def test_distance_matrix_refuses_degrees_and_missing_crs(crs: str | None) -> None:
    lonlat = gpd.GeoSeries([Point(0.7, 51.5)], crs=crs)
    with pytest.raises(CRSError, match="origins"):
        access.distance_matrix(lonlat, pts([(0, 0)]))
    with pytest.raises(CRSError, match="destinations"):
        access.distance_matrix(pts([(0, 0)]), lonlat)


def test_distance_matrix_refuses_polygons_and_bad_detour() -> None:
    polys = gpd.GeoSeries([Point(0, 0).buffer(10)], crs=BNG)
    with pytest.raises(ValidationError, match="Polygon"):
        access.distance_matrix(polys, pts([(0, 0)]))
    with pytest.raises(ValidationError, match="detour"):
        access.distance_matrix(pts([(0, 0)]), pts([(0, 0)]), detour=0.5)


def road_grid() -> nx.MultiDiGraph:
    """Nodes 0-(100,0)-(100,100) in an L; a one-way shortcut 0 -> (100,100) of 50 m."""
    g = nx.MultiDiGraph(crs=BNG)
    for n, (x, y) in {"a": (0, 0), "b": (100, 0), "c": (100, 100)}.items():
        g.add_node(n, x=x, y=y)
    for u, v, length in [("a", "b", 100.0), ("b", "c", 100.0)]:
        g.add_edge(u, v, length=length)
        g.add_edge(v, u, length=length)
    g.add_edge("a", "c", length=50.0)  # one-way
    return g


def test_network_distances_add_access_legs_and_follow_one_way_edges() -> None:
    g = road_grid()
    origins = pts([(0, -10), (100, 110)])       # 10 m from a, 10 m from c
    dests = pts([(103, 104), (100, 3)])         # 5 m from c, 3 m from b
    got = access.distance_matrix(origins, dests, network=g)
    # a -> c uses the 50 m one-way; c -> a must go round (200 m); a -> b 100 m; c -> b 100 m
    np.testing.assert_allclose(got, [[10 + 50 + 5, 10 + 100 + 3], [10 + 0 + 5, 10 + 100 + 3]])


def test_network_unreachable_is_infinite_and_missing_length_refused() -> None:
    g = road_grid()
    g.add_node("island", x=1000, y=1000)
    got = access.distance_matrix(pts([(0, 0)]), pts([(1000, 1001)]), network=g)
    assert got[0, 0] == math.inf
    g.add_edge("island", "a")  # no length
    with pytest.raises(ValidationError, match="length"):
        access.distance_matrix(pts([(0, 0)]), pts([(0, 0)]), network=g)


def test_load_road_network_graphml_round_trip_and_projection(tmp_path) -> None:
    g = road_grid()
    path = tmp_path / "roads.graphml"
    nx.write_graphml(g, path)
    loaded = access.load_road_network(path)
    assert loaded.nodes["c"]["x"] == 100.0 and loaded.edges["a", "c", 0]["length"] == 50.0
    # A graph in degrees (as osmnx builds before projecting) gets BNG node coordinates.
    geo = nx.MultiDiGraph(crs="EPSG:4326")
    geo.add_node(1, x=0.714, y=51.538)
    geo.add_node(2, x=0.724, y=51.538)
    geo.add_edge(1, 2, length=700.0)
    nx.write_graphml(geo, tmp_path / "geo.graphml")
    bng = access.load_road_network(tmp_path / "geo.graphml")
    assert bng.graph["crs"] == BNG
    assert 585_000 < bng.nodes["1"]["x"] < 590_000 and 185_000 < bng.nodes["1"]["y"] < 190_000
    d = access.distance_matrix(pts([(bng.nodes["1"]["x"], bng.nodes["1"]["y"])]),
                               pts([(bng.nodes["2"]["x"], bng.nodes["2"]["y"])]), network=bng)
    assert d[0, 0] == pytest.approx(700.0)


def test_load_road_network_explains_bad_files(tmp_path) -> None:
    with pytest.raises(DataFileError, match="does not exist"):
        access.load_road_network(tmp_path / "none.graphml")
    (tmp_path / "bad.graphml").write_text("not xml")
    with pytest.raises(DataFileError, match="GraphML"):
        access.load_road_network(tmp_path / "bad.graphml")
    nocrs = nx.MultiDiGraph()
    nocrs.add_node(1, x=0, y=0)
    nx.write_graphml(nocrs, tmp_path / "nocrs.graphml")
    with pytest.raises(DataFileError, match="crs"):
        access.load_road_network(tmp_path / "nocrs.graphml")


#: A hand-written OpenStreetMap XML extract near Southend: an L-shaped street 1-2-3, a
#: one-way street 3-4, a footpath 3-8 and a building outline (not a road).
OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="51.5400" lon="0.7000"/>
  <node id="2" lat="51.5400" lon="0.7100"/>
  <node id="3" lat="51.5450" lon="0.7100"/>
  <node id="4" lat="51.5450" lon="0.7200"/>
  <node id="8" lat="51.5500" lon="0.7100"/>
  <node id="5" lat="51.5300" lon="0.7000"/>
  <node id="6" lat="51.5300" lon="0.7010"/>
  <node id="7" lat="51.5310" lon="0.7010"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>
  <way id="11"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/>
    <tag k="oneway" v="yes"/></way>
  <way id="13"><nd ref="3"/><nd ref="8"/><tag k="highway" v="footway"/></way>
  <way id="12"><nd ref="5"/><nd ref="6"/><nd ref="7"/><tag k="building" v="yes"/></way>
</osm>
"""


def _osm_points(*lonlat: tuple[float, float]) -> gpd.GeoSeries:
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(*zip(*lonlat,
                                                                             strict=True))
    return pts(list(zip(x, y, strict=True)))


def _geodesic(*lonlat: tuple[float, float]) -> float:
    """Length of a polyline by the haversine formula on a sphere of radius 6,371,009 m,
    the great-circle convention osmnx measures edge lengths with."""
    total = 0.0
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(lonlat):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        h = (math.sin((p2 - p1) / 2) ** 2
             + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
        total += 2 * 6_371_009 * math.asin(math.sqrt(h))
    return total


@pytest.mark.parametrize("suffix", [".osm", ".osm.xml", ".osm.bz2"])
def test_load_road_network_from_an_openstreetmap_extract(tmp_path, suffix: str) -> None:
    import bz2

    pytest.importorskip("osmnx")
    path = tmp_path / f"roads{suffix}"
    data = OSM_XML.encode()
    path.write_bytes(bz2.compress(data) if suffix.endswith(".bz2") else data)
    g = access.load_road_network(path)
    assert g.graph["crs"] == BNG
    assert sorted(g.nodes) == [1, 3, 4, 8]  # bend 2 simplified away, building 5-7 dropped
    home, clinic, path_end = _osm_points((0.700, 51.540), (0.720, 51.545), (0.710, 51.550))
    d = access.distance_matrix(gpd.GeoSeries([home], crs=BNG),
                               gpd.GeoSeries([clinic, path_end], crs=BNG), network=g)
    # along the street 1-2-3 then 3-4, or 3-8: great-circle lengths (osmnx's metres)
    street = _geodesic((0.700, 51.540), (0.710, 51.540), (0.710, 51.545))
    assert d[0, 0] == pytest.approx(street + _geodesic((0.710, 51.545), (0.720, 51.545)),
                                    rel=1e-9)
    assert d[0, 1] == pytest.approx(street + _geodesic((0.710, 51.545), (0.710, 51.550)),
                                    rel=1e-9)
    # walking (bidirectional, the default) goes against the one-way street; driving not
    back = access.distance_matrix(gpd.GeoSeries([clinic], crs=BNG),
                                  gpd.GeoSeries([home], crs=BNG), network=g)
    assert back[0, 0] == pytest.approx(d[0, 0], rel=1e-9)
    driving = access.load_road_network(path, bidirectional=False)
    assert math.isinf(access.distance_matrix(gpd.GeoSeries([clinic], crs=BNG),
                                             gpd.GeoSeries([home], crs=BNG),
                                             network=driving)[0, 0])


def test_load_road_network_openstreetmap_errors(tmp_path, monkeypatch) -> None:
    import sys

    pytest.importorskip("osmnx")
    (tmp_path / "area.osm.pbf").write_bytes(b"\x00\x00")
    with pytest.raises(DataFileError, match=r"PBF.*osmium cat area\.osm\.pbf -o area\.osm`"):
        access.load_road_network(tmp_path / "area.osm.pbf")
    (tmp_path / "buildings.osm").write_text(OSM_XML.replace('k="highway"', 'k="landuse"'))
    with pytest.raises(DataFileError, match="no ways tagged highway"):
        access.load_road_network(tmp_path / "buildings.osm")
    (tmp_path / "broken.osm").write_text("<osm><node id=")
    with pytest.raises(DataFileError, match="not a usable OpenStreetMap XML"):
        access.load_road_network(tmp_path / "broken.osm")
    (tmp_path / "roads.osm").write_text(OSM_XML)
    monkeypatch.setitem(sys.modules, "osmnx", None)  # as if osmnx were not installed
    with pytest.raises(ImportError, match=r"geointel\[osm\]"):
        access.load_road_network(tmp_path / "roads.osm")


def test_nearest_service_by_kind_and_any() -> None:
    s = services([("n1", "naloxone", 0, 300), ("p1", "pharmacy", 1000, 0),
                  ("p2", "pharmacy", 4000, 0)])
    got = access.nearest_service(pts([(0, 0), (5000, 0)]), s, kinds=["naloxone", "pharmacy",
                                                                      "treatment_hub"],
                                 detour=1.0)
    assert got["nearest_naloxone"].tolist() == ["n1", "n1"]
    np.testing.assert_allclose(got["dist_naloxone"], [300.0, math.hypot(5000, 300)])
    assert got["nearest_pharmacy"].tolist() == ["p1", "p2"]
    np.testing.assert_allclose(got["dist_pharmacy"], [1000.0, 1000.0])
    assert got["nearest_any"].tolist() == ["n1", "p2"]
    assert np.isinf(got["dist_treatment_hub"]).all() and got["nearest_treatment_hub"].isna().all()


def test_lsoa_access_coverage_and_gaps_hand_checked() -> None:
    lsoas = lsoa_table()
    s = services([("p1", "pharmacy", 0, 0), ("h1", "treatment_hub", 2000, 0)])
    table = access.lsoa_access(lsoas, s, detour=1.3)
    assert list(lsoas.columns) == list(lsoa_table().columns)  # input untouched
    np.testing.assert_allclose(table["dist_pharmacy"], [0, 1300, 2600, 6500])
    np.testing.assert_allclose(table["dist_treatment_hub"], [2600, 1300, 0, 3900])
    np.testing.assert_allclose(table["dist_any"], [0, 1300, 0, 3900])
    # within 1300 m: any -> A, B, C = 600 of 1000 people; pharmacy -> A, B = 300.
    cov = access.coverage(table, threshold_m=1300, weights=["population", "lsoas"],
                          kinds=["pharmacy", "any"])
    shares = {(r.kind, r.weight): r.share for r in cov.itertuples()}
    assert shares == {("pharmacy", "population"): 0.3, ("pharmacy", "lsoas"): 0.5,
                      ("any", "population"): 0.6, ("any", "lsoas"): 0.75}
    gaps = access.gap_areas(table, threshold_m=1000, kind="pharmacy")
    assert gaps["lsoa_code"].tolist() == ["D", "C", "B"]  # by population out of reach
    assert gaps["excess_m"].tolist() == pytest.approx([5500, 1600, 300])
    assert gaps["nearest"].tolist() == ["p1", "p1", "p1"]


def test_walking_minutes_threshold_with_detour() -> None:
    # 15 min at 4.8 km/h = 1200 m of route = 923 m straight at detour 1.3.
    t = access.walking_threshold_m(15)
    assert t == 1200.0
    table = access.lsoa_access(lsoa_table(), services([("p1", "pharmacy", 920, 0)]))
    cov = access.coverage(table, threshold_m=t, kinds=["any"])
    # A at 920 m straight (1196 m route) and B at 80 m are in; C at 1080 m (1404) is not.
    assert cov["covered"].tolist() == [300.0]
    with pytest.raises(ValidationError):
        access.walking_threshold_m(0)


def test_need_weights_and_need_coverage() -> None:
    lsoas = access.need_weights(lsoa_table(), {"offences": pd.Series({"A": 4, "D": 6})})
    assert lsoas["offences"].tolist() == [4.0, 0.0, 0.0, 6.0]
    assert lsoas["imd_weighted_population"].tolist() == pytest.approx([100, 120, 30, 360])
    table = access.lsoa_access(lsoas, services([("p1", "pharmacy", 0, 0)]), detour=1.0)
    cov = access.coverage(table, threshold_m=2500, weights=["offences",
                                                            "imd_weighted_population"],
                          kinds=["any"])
    assert cov["share"].tolist() == pytest.approx([0.4, 250 / 610])


def test_coverage_refuses_unknown_weight_and_kind() -> None:
    table = access.lsoa_access(lsoa_table(), services([("p1", "pharmacy", 0, 0)]))
    with pytest.raises(ValidationError, match="deaths"):
        access.coverage(table, threshold_m=100, weights=["deaths"])
    assert np.isinf(table["dist_naloxone"]).all()  # asked for by default, none exist
    with pytest.raises(ValidationError, match="outreach"):
        access.coverage(table, threshold_m=100, kinds=["outreach"])


def hours_services() -> gpd.GeoDataFrame:
    """A pharmacy at A open office hours Mon-Sat, a hub at C open 24/7, one with no hours."""
    s = services([("p1", "pharmacy", 0, 0), ("h1", "treatment_hub", 2000, 0),
                  ("n1", "naloxone", 5000, 0)])
    s["opening_hours"] = ["Mo-Sa 09:00-18:00", "24/7", ""]
    return s


@pytest.mark.parametrize("window, expected", [
    (access.TIME_WINDOWS[0], [True, True, False]),   # weekday daytime
    (access.TIME_WINDOWS[1], [False, True, False]),  # weekday evening 18:00-21:00
    (access.TIME_WINDOWS[2], [False, True, False]),  # weekend: pharmacy shut on Sunday
    (access.TimeWindow("saturday", (5,), 10 * 60, 12 * 60), [True, True, False]),
])
def test_available_in_time_windows(window: access.TimeWindow, expected: list[bool]) -> None:
    assert access.available_in(hours_services(), window).tolist() == expected


def test_available_in_unknown_hours_option_and_bad_window() -> None:
    got = access.available_in(hours_services(), access.TIME_WINDOWS[2], unknown_hours=True)
    assert got.tolist() == [False, True, True]
    with pytest.raises(ValidationError, match="start < end"):
        access.TimeWindow("bad", (0,), 600, 600)
    with pytest.raises(ValidationError, match="opening_hours"):
        access.available_in(services([("p1", "pharmacy", 0, 0)]), access.TIME_WINDOWS[0])


def test_coverage_by_time_of_week_hand_checked() -> None:
    # Within 1000 m straight (detour 1): counting every service A (p1), B (1000 m from p1
    # and h1), C (h1) and D (n1); daytime n1 (unknown hours) is out: A, B, C; evenings and
    # weekends only h1 is open: B, C. Populations 100, 200, 300, 400.
    cov = access.coverage_by_time(lsoa_table(), hours_services(), threshold_m=1000,
                                  detour=1.0, weights=["population"])
    anyk = cov.loc[cov["kind"] == "any"].set_index("window")
    assert anyk["share"].to_dict() == pytest.approx({
        "always": 1.0, "weekday_daytime": 0.6, "weekday_evening": 0.5, "weekend": 0.5})
    assert anyk["services_open"].to_dict() == {"always": 3, "weekday_daytime": 2,
                                               "weekday_evening": 1, "weekend": 1}
    pharmacy = cov.loc[cov["kind"] == "pharmacy"].set_index("window")["share"]
    assert pharmacy.to_dict() == pytest.approx({
        "always": 0.3, "weekday_daytime": 0.3, "weekday_evening": 0.0, "weekend": 0.0})
