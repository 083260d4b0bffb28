"""ONS boundary reader: real mirror files, other formats and CRSs, broken geometry and files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geointel.errors import CRSError, DataFileError
from geointel.io.boundaries import COLUMNS, read_boundaries


def mirror_file(mirror: Path, level: str, lad: str = "E06000033") -> Path:
    return mirror / "boundaries" / level / f"{lad}.geojson"


def features(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def write_geojson(path: Path, feats: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def square(x: float, y: float, size: float = 0.01) -> list:
    return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]


def feature(props: dict, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


@pytest.mark.mirror
@pytest.mark.parametrize(
    ("level", "lad", "code_field", "name_field", "vintage", "out_level"),
    [
        ("lsoa11", "E06000033", "LSOA11CD", "LSOA11NM", "2011", "lsoa"),
        ("lsoa11", "E10000012", "LSOA11CD", "LSOA11NM", "2011", "lsoa"),
        ("msoa11", "E06000034", "MSOA11CD", "MSOA11NM", "2011", "msoa"),
        ("ward", "E06000045", "WD25CD", "WD25NM", "2025", "ward"),
        ("ward", "E10000012", "WD25CD", "WD25NM", "2025", "ward"),
    ],
)
def test_mirror_files_read_every_feature(mirror, level, lad, code_field, name_field, vintage,
                                         out_level):
    path = mirror_file(mirror, level, lad)
    feats = features(path)  # counted independently with json
    result = read_boundaries(path)
    data = result.data
    assert result.rows_read == len(feats) == result.rows_accepted
    assert list(data.columns) == COLUMNS
    assert data.crs.to_epsg() == 27700
    assert data["code"].tolist() == [f["properties"][code_field] for f in feats]
    assert data["name"].tolist() == [f["properties"][name_field] for f in feats]
    assert set(data["level"]) == {out_level} and set(data["vintage"]) == {vintage}
    assert data["lad_code"].tolist() == [f["properties"]["LADCD_ACTIVE"] for f in feats]
    assert set(data["utla_code"]) == {lad}
    assert data["_line"].tolist() == list(range(1, len(feats) + 1))
    assert set(data.geom_type) <= {"Polygon", "MultiPolygon"}


@pytest.mark.mirror
def test_reprojection_puts_lsoas_at_their_published_bng_centroids(mirror):
    path = mirror_file(mirror, "lsoa11")
    props = {f["properties"]["LSOA11CD"]: f["properties"] for f in features(path)}
    data = read_boundaries(path).data.set_index("code")
    row = data.loc["E01015814"]
    assert row["name"] == "Southend-on-Sea 003A"
    # ONS publishes each LSOA's BNG centroid; every one lies inside or close to its polygon.
    for code, geom in data.geometry.items():
        point = shapely.Point(props[code]["BNG_E"], props[code]["BNG_N"])
        assert geom.distance(point) < 100, code
    minx, miny, maxx, maxy = data.total_bounds  # Southend-on-Sea, in metres
    assert 580_000 < minx < maxx < 600_000 and 180_000 < miny < maxy < 195_000


@pytest.mark.mirror
@pytest.mark.filterwarnings("ignore:Column names longer than 10:UserWarning")
@pytest.mark.filterwarnings("ignore:Normalized/laundered field name:RuntimeWarning")
def test_geopackage_and_shapefile_in_other_crs_give_the_same_polygons(mirror, tmp_path):
    path = mirror_file(mirror, "msoa11")
    original = read_boundaries(path).data
    source = gpd.read_file(path)
    gpkg = tmp_path / "msoa.gpkg"
    source.to_crs("EPSG:3857").to_file(gpkg, layer="msoa", driver="GPKG")
    shp = tmp_path / "msoa.shp"
    source.to_crs("EPSG:27700").to_file(shp)
    geojson_4326 = tmp_path / "msoa_4326.geojson"
    source.to_crs("EPSG:4326").to_file(geojson_4326, driver="GeoJSON")
    geojson_bng = tmp_path / "msoa_bng.geojson"  # old-style GeoJSON with a "crs" member
    source.to_crs("EPSG:27700").to_file(geojson_bng, driver="GeoJSON")
    assert "27700" in geojson_bng.read_text()[:500]
    for other in (gpkg, shp, geojson_4326, geojson_bng):
        data = read_boundaries(other).data
        assert data.crs.to_epsg() == 27700
        assert data["code"].tolist() == original["code"].tolist()
        assert data["vintage"].tolist() == ["2011"] * len(original)
        assert data["lad_code"].tolist() == original["lad_code"].tolist()  # also LADCD_ACTI
        ratio = data.geometry.area.to_numpy() / original.geometry.area.to_numpy()
        assert abs(ratio - 1).max() < 1e-6, other.suffix


@pytest.mark.mirror
def test_multilayer_geopackage_needs_a_layer(mirror, tmp_path):
    source = gpd.read_file(mirror_file(mirror, "ward"))
    gpkg = tmp_path / "two.gpkg"
    source.to_file(gpkg, layer="wards")
    source.head(3).to_file(gpkg, layer="few")
    with pytest.raises(DataFileError, match="has 2 layers") as info:
        read_boundaries(gpkg)
    assert "layer=" in str(info.value)
    assert read_boundaries(gpkg, layer="few").rows_read == 3


def test_broken_geometries_are_repaired_or_rejected(tmp_path, caplog):
    bowtie = [[[0.70, 51.50], [0.71, 51.51], [0.71, 51.50], [0.70, 51.51], [0.70, 51.50]]]
    flat = [[[0.70, 51.50], [0.71, 51.50], [0.72, 51.50], [0.70, 51.50]]]
    path = write_geojson(tmp_path / "b.geojson", [
        feature({"LSOA21CD": "E01000001", "LSOA21NM": "ok"},
                {"type": "Polygon", "coordinates": square(0.6, 51.5)}),
        feature({"LSOA21CD": "E01000002", "LSOA21NM": "bowtie"},
                {"type": "Polygon", "coordinates": bowtie}),
        feature({"LSOA21CD": "E01000003", "LSOA21NM": "flat"},
                {"type": "Polygon", "coordinates": flat}),
        feature({"LSOA21CD": "E01000004", "LSOA21NM": "point"},
                {"type": "Point", "coordinates": [0.7, 51.5]}),
        feature({"LSOA21CD": "E01000005", "LSOA21NM": "null"}, None),
        feature({"LSOA21CD": " ", "LSOA21NM": "blank code"},
                {"type": "Polygon", "coordinates": square(0.5, 51.5)}),
        feature({"LSOA21CD": "E01000001", "LSOA21NM": "duplicate"},
                {"type": "Polygon", "coordinates": square(0.4, 51.5)}),
    ])
    with caplog.at_level(logging.INFO, logger="geointel.io.boundaries"):
        result = read_boundaries(path)
    assert result.rows_read == 7 and result.rows_accepted == 2
    assert result.data["code"].tolist() == ["E01000001", "E01000002"]
    assert result.data["vintage"].tolist() == ["2021", "2021"]
    bow = result.data.geometry.iloc[1]
    assert bow.is_valid and bow.geom_type == "MultiPolygon" and len(bow.geoms) == 2
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, "geometry is invalid and cannot be repaired into a polygon"],
        [4, "geometry is a Point, not a polygon"],
        [5, "geometry is null or empty"],
        [6, "LSOA21CD is blank"],
        [7, "duplicate code E01000001 (first at feature 1)"],
    ]
    assert set(result.rejects["file"]) == {str(path)}
    assert "repaired 1 invalid geometries (features 2)" in caplog.text


def test_geometry_geos_cannot_build_rejects_that_feature_not_the_file(tmp_path):
    # found by fuzzing: GEOS refuses a one-point ring ("point array must contain 0 or >1
    # elements") and used to fail the whole file with a GEOSException
    one_point = [[[0.70, 51.50]]]
    path = write_geojson(tmp_path / "p.geojson", [
        feature({"LSOA11CD": "E01000001"}, {"type": "Polygon", "coordinates": square(0.6, 51.5)}),
        feature({"LSOA11CD": "E01000002"}, {"type": "Polygon", "coordinates": one_point}),
    ])
    result = read_boundaries(path)
    assert result.rows_read == 2 and result.data["code"].tolist() == ["E01000001"]
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [2, "geometry is null or empty"]]


def test_columns_found_case_insensitively_with_lad_and_utla(tmp_path):
    path = write_geojson(tmp_path / "w.geojson", [
        feature({"wd24cd": "E05000001", "wd24nm": "Ward A", "lad24cd": "E07000066"},
                {"type": "Polygon", "coordinates": square(0.6, 51.5)}),
    ])
    row = read_boundaries(path).data.iloc[0]
    assert (row["code"], row["name"], row["level"], row["vintage"], row["lad_code"],
            row["utla_code"]) == ("E05000001", "Ward A", "ward", "2024", "E07000066", "")


def test_lad_file_uses_its_own_code_as_lad_code(tmp_path):
    path = write_geojson(tmp_path / "lad.geojson", [
        feature({"LAD23CD": "E06000033", "LAD23NM": "Southend-on-Sea"},
                {"type": "Polygon", "coordinates": square(0.6, 51.5)}),
    ])
    row = read_boundaries(path).data.iloc[0]
    assert (row["code"], row["level"], row["vintage"], row["lad_code"]) == (
        "E06000033", "lad", "2023", "E06000033")


def test_missing_code_column_names_what_was_looked_for(tmp_path):
    path = write_geojson(tmp_path / "x.geojson", [
        feature({"CODE": "E01000001"}, {"type": "Polygon", "coordinates": square(0.6, 51.5)})])
    with pytest.raises(DataFileError) as info:
        read_boundaries(path)
    message = str(info.value)
    assert str(path) in message and "LSOAyyCD" in message and "'CODE'" in message
    assert "Fix:" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"{this is not json", "cannot be read"),
        (b'{"type": "FeatureCollection", "features": []}', "has no features"),
    ],
)
def test_empty_and_corrupt_files(tmp_path, content, problem):
    path = tmp_path / "bad.geojson"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=problem) as info:
        read_boundaries(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        read_boundaries(tmp_path / "nope.geojson")


def test_shapefile_without_prj_is_a_crs_error(tmp_path):
    frame = gpd.GeoDataFrame({"LSOA11CD": ["E01000001"]},
                             geometry=[shapely.box(590_000, 185_000, 591_000, 186_000)],
                             crs="EPSG:27700")
    shp = tmp_path / "noprj.shp"
    frame.to_file(shp)
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match=r"\.prj"):
        read_boundaries(shp)


def test_geojson_without_crs_is_wgs84_and_metres_in_it_are_refused(tmp_path):
    path = write_geojson(tmp_path / "deg.geojson", [
        feature({"LSOA11CD": "E01000001"}, {"type": "Polygon", "coordinates": square(0.7, 51.5)})])
    geom = read_boundaries(path).data.geometry.iloc[0]
    # The centroid (0.705 E, 51.505 N) is 0.0065 deg (~450 m) west and 0.0374 deg (~4.16 km)
    # south of Southend Victoria station (0.7115 E, 51.5424 N = BNG 588128, 185997 in NaPTAN),
    # so about (587680, 181840), give or take grid convergence.
    assert 587_500 < geom.centroid.x < 588_100 and 181_600 < geom.centroid.y < 182_200
    metres = write_geojson(tmp_path / "metres.geojson", [
        feature({"LSOA11CD": "E01000001"},
                {"type": "Polygon", "coordinates": square(590_000, 185_000, 1000)})])
    with pytest.raises(CRSError, match="look like metres"):
        read_boundaries(metres)
