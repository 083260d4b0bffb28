"""The Area: LSOA selection, joins, unmatched codes with vintage warnings, wards, centroids."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
from pyproj import Transformer
from shapely.geometry import Point

from geointel.area import COLUMNS, WARD_TOLERANCE_M, area_from_settings, build_area, looks_2021
from geointel.cli import main
from geointel.errors import MissingDataError, ValidationError
from geointel.opendata import LAYOUT
from geointel.settings import Settings

pytestmark = pytest.mark.mirror

SOUTHEND, TENDRING, ESSEX = "E06000033", "E07000076", "E10000012"


def census(mirror: Path, lad: str) -> dict[str, int]:
    """LSOA -> usual residents of one authority, straight from the population CSV."""
    with open(mirror / LAYOUT["population"], newline="", encoding="utf-8-sig") as fh:
        return {r["lsoa11_code"]: int(r["usual_residents"]) for r in csv.DictReader(fh)
                if r["lad_code"] == lad}


def features(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def _filter_csv(src: Path, dest: Path, column: str, keep: set[str],
                extra: list[dict[str, str]] = ()) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(src, newline="", encoding="utf-8-sig") as fh, \
            open(dest, "w", newline="", encoding="utf-8") as out:
        reader = csv.DictReader(fh)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(r for r in reader if r[column] in keep)
        writer.writerows(extra)


def _copy_boundaries(mirror: Path, data: Path, file_code: str) -> set[str]:
    """Copy one authority's LSOA and ward files; return its LSOA codes."""
    for kind in ("lsoa11", "ward"):
        rel = LAYOUT[kind].format(code=file_code)
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mirror / rel, data / rel)
    return {f["properties"]["LSOA11CD"]
            for f in features(mirror / LAYOUT["lsoa11"].format(code=file_code))}


@pytest.fixture(scope="module")
def small(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real files for Southend and Essex, the national tables cut to their LSOAs (for speed)."""
    data = tmp_path_factory.mktemp("small")
    codes = _copy_boundaries(mirror, data, SOUTHEND) | _copy_boundaries(mirror, data, ESSEX)
    _filter_csv(mirror / LAYOUT["population"], data / LAYOUT["population"], "lsoa11_code",
                codes)
    _filter_csv(mirror / LAYOUT["imd"], data / LAYOUT["imd"], "lsoa11_code", codes)
    _filter_csv(mirror / LAYOUT["centroids"], data / LAYOUT["centroids"], "lsoa11cd", codes)
    return data


@pytest.fixture(scope="module")
def area(small: Path):
    return build_area([SOUTHEND, TENDRING], data_dir=small)


@pytest.fixture(scope="module")
def gappy(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Southend data where population lacks 2 LSOAs (and has 2 LSOA 2021 codes), IMD lacks 1
    and the centroids lack 1."""
    data = tmp_path_factory.mktemp("gappy")
    codes = _copy_boundaries(mirror, data, SOUTHEND)
    template = {"lad_code": SOUTHEND, "lad_name": "Southend-on-Sea UA", "region_code": "E12000006",
                "region_name": "EAST", "msoa11_code": "E02003279",
                "msoa11_name": "Southend-on-Sea 001", "usual_residents": "1500",
                "household_residents": "1500", "communal_residents": "0", "area_hectares": "10",
                "density_per_hectare": "150", "households": "600",
                "persons_per_household": "2.5"}
    extra = [{**template, "lsoa11_code": c, "lsoa11_name": f"Southend-on-Sea 0{c[-2:]}X"}
             for c in ("E01035001", "E01035002")]
    _filter_csv(mirror / LAYOUT["population"], data / LAYOUT["population"], "lsoa11_code",
                codes - {"E01015814", "E01015815"}, extra)
    _filter_csv(mirror / LAYOUT["imd"], data / LAYOUT["imd"], "lsoa11_code",
                codes - {"E01015816"})
    _filter_csv(mirror / LAYOUT["centroids"], data / LAYOUT["centroids"], "lsoa11cd",
                codes - {"E01015817"})
    return data


def test_lsoas_and_population_match_the_source_files(area, mirror):
    assert list(area.lsoas.columns) == COLUMNS
    assert area.lsoas.crs.to_epsg() == 27700
    assert area.lsoas["lsoa_code"].is_unique
    southend = features(mirror / LAYOUT["lsoa11"].format(code=SOUTHEND))
    tendring = [f for f in features(mirror / LAYOUT["lsoa11"].format(code=ESSEX))
                if f["properties"]["LADCD_ACTIVE"] == TENDRING]
    assert (len(southend), len(tendring)) == (107, 89)
    by = area.by_authority().set_index("code")
    assert by.loc[SOUTHEND, "lsoas"] == 107 and by.loc[TENDRING, "lsoas"] == 89
    assert by.loc[SOUTHEND, "population"] == sum(census(mirror, SOUTHEND).values()) == 173658
    assert by.loc[TENDRING, "population"] == sum(census(mirror, TENDRING).values()) == 138048
    assert set(area.lsoas.loc[area.lsoas["lad_code"] == TENDRING, "lsoa_code"]) == {
        f["properties"]["LSOA11CD"] for f in tendring}
    assert area.unmatched == {"population": [], "boundaries": [], "imd": [], "centroid": [],
                              "ward": []}
    row = area.lsoas.set_index("lsoa_code").loc["E01015814"]
    assert (row["lsoa_name"], row["lad_name"], row["msoa_code"], row["utla_code"]) == (
        "Southend-on-Sea 003A", "Southend-on-Sea", "E02003281", SOUTHEND)
    assert (row["imd_rank"], row["imd_decile"], row["crime_rank"]) == (19102, 6, 19954)
    assert area.summary()["population"] == 173658 + 138048


def test_centroids_are_the_ons_points_in_bng(area, mirror):
    points = area.centroids()
    assert len(points) == 196 and points.crs.to_epsg() == 27700
    with open(mirror / LAYOUT["centroids"], newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["lsoa11cd"] == "E01015814")
    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(
        float(row["longitude"]), float(row["latitude"]))
    got = points.set_index("lsoa_code").geometry["E01015814"]
    assert got.distance(Point(x, y)) < 0.01


def test_wards_are_best_fit_by_centroid(area, mirror):
    wards = gpd.read_file(mirror / LAYOUT["ward"].format(code=SOUTHEND)).to_crs(27700)
    wards = wards.set_index("WD25CD")
    southend = area.lsoas[area.lsoas["lad_code"] == SOUTHEND]
    assert set(southend["ward_code"]) <= set(wards.index)
    assert southend["ward_code"].nunique() == 17
    for row in southend.itertuples():
        centroid = Point(row.centroid_easting, row.centroid_northing)
        assert wards.geometry[row.ward_code].distance(centroid) <= WARD_TOLERANCE_M
        assert wards.loc[row.ward_code, "WD25NM"] == row.ward_name
    kursaal = southend.loc[southend["ward_name"] == "Kursaal", "lsoa_code"]
    assert len(kursaal) >= 1


def test_unmatched_codes_are_listed_and_warned(gappy, mirror, caplog):
    with caplog.at_level(logging.WARNING, logger="geointel.area"):
        area = build_area([SOUTHEND], data_dir=gappy)
    assert len(area.lsoas) == 107  # nothing dropped
    assert area.unmatched == {
        "population": ["E01015814", "E01015815"],
        "boundaries": ["E01035001", "E01035002"],
        "imd": ["E01015816"],
        "centroid": ["E01015817"],
        "ward": ["E01015817"],
    }
    text = caplog.text
    assert "2 LSOA code(s) of these authorities" in text
    assert "2 look like 2021 codes but the boundaries are 2011" in text
    assert "population join: 2 LSOA code(s) of the area have no row" in text
    assert "(expected LSOA 2011 codes)" in text
    rows = area.lsoas.set_index("lsoa_code")
    assert rows["population"].isna().sum() == 2
    expected = sum(census(mirror, SOUTHEND).values())
    missing = census(mirror, SOUTHEND)
    assert area.summary()["population"] == expected - missing["E01015814"] - missing["E01015815"]
    assert len(area.centroids()) == 106
    assert area.summary()["unmatched"] == {"population": 2, "boundaries": 2, "imd": 1,
                                           "centroid": 1, "ward": 1}


def test_missing_data_says_to_sync(tmp_path):
    with pytest.raises(MissingDataError, match=r"run `geointel data sync --area E07000076"):
        build_area([TENDRING], data_dir=tmp_path)
    with pytest.raises(ValidationError, match="unknown local authority"):
        build_area(["E09000001"], data_dir=tmp_path)


def test_area_from_settings_and_cli(gappy, capsys):
    settings = Settings(data_dir=gappy, areas=(SOUTHEND,))
    assert len(area_from_settings(settings).lsoas) == 107
    assert main(["data", "area", "--data-dir", str(gappy), "--area", SOUTHEND, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["by_authority"][SOUTHEND]["lsoas"] == 107
    assert out["unmatched"]["population"] == 2


@pytest.mark.parametrize(("code", "newer"), [("E01015814", False), ("E01033768", False),
                                             ("E01033769", True), ("W01001959", True),
                                             ("E02003281", False), ("", False)])
def test_looks_2021(code, newer):
    assert looks_2021(code) is newer
