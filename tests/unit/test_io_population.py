"""Census population and population-weighted centroid readers: mirror files, broken input."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from geointel.errors import DataFileError
from geointel.io.population import read_centroids, read_population

TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
CENSUS2011_HEADER = ["region_code", "region_name", "lad_code", "lad_name", "msoa11_code",
                     "msoa11_name", "lsoa11_code", "lsoa11_name", "usual_residents",
                     "household_residents", "communal_residents", "area_hectares",
                     "density_per_hectare", "households", "persons_per_household"]
SOUTHEND_006C = ["E12000006", "EAST", "E06000033", "Southend-on-Sea UA", "E02003284",
                 "Southend-on-Sea 006", "E01015871", "Southend-on-Sea 006C", "1617", "1617",
                 "0", "74", "21.9", "657", "2.5"]
TS001_HEADER = ["date", "geography", "geography code", "Residence type: Total; measures: Value",
                "Residence type: Lives in a household; measures: Value",
                "Residence type: Lives in a communal establishment; measures: Value"]


def to_csv(rows: list[list[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def census_row(**changes: str) -> list[str]:
    row = list(SOUTHEND_006C)
    for name, value in changes.items():
        row[CENSUS2011_HEADER.index(name)] = value
    return row


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- Census 2011 on the mirror -----------------------------------------------------------

@pytest.mark.mirror
def test_census2011_mirror(mirror):
    path = mirror / "population" / "census2011_lsoa11_population.csv"
    rows = csv_rows(path)
    result = read_population(path)
    assert result.rows_read == len(rows) == 34_753
    assert (result.rows_accepted, result.rows_rejected) == (34_753, 0)
    data = result.data
    assert list(data.columns) == ["lsoa_code", "lsoa_name", "msoa_code", "msoa_name",
                                  "lad_code", "lad_name", "population", "households",
                                  "area_hectares", "vintage", "_file", "_line"]
    total = sum(int(r["usual_residents"]) for r in rows)
    assert int(data["population"].sum()) == total == 56_075_912  # as the mirror README says
    assert int(data["households"].sum()) == sum(int(r["households"]) for r in rows)
    row = data.set_index("lsoa_code").loc["E01015871"]
    assert (row["lsoa_name"], row["msoa_code"], row["lad_code"]) == (
        "Southend-on-Sea 006C", "E02003284", "E06000033")
    assert (row["population"], row["households"], row["area_hectares"]) == (1617, 657, 74.0)
    assert row["vintage"] == "2011" and row["_line"] == 16260
    assert data["population"].dtype == np.int64 and str(data["households"].dtype) == "Int64"
    assert Counter(data["lsoa_code"].str[0]) == Counter(r["lsoa11_code"][0] for r in rows)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"lsoa11_code": "S01006506"},
         "'lsoa11_code' is not an England or Wales LSOA code (E01 or W01 and 6 digits)"),
        ({"lsoa11_code": "E0101587"},
         "'lsoa11_code' is not an England or Wales LSOA code (E01 or W01 and 6 digits)"),
        ({"usual_residents": "x"}, "'usual_residents' is not a whole number of people"),
        ({"usual_residents": "-5"}, "'usual_residents' is not a whole number of people"),
        ({"households": "1.5"}, "'households' is not a whole number"),
        # found by fuzzing: these crashed the int64/Int64 casts or wrapped round
        ({"usual_residents": "1e40"}, "'usual_residents' is not a whole number of people"),
        ({"usual_residents": "9" * 20}, "'usual_residents' is not a whole number of people"),
        ({"usual_residents": "inf"}, "'usual_residents' is not a whole number of people"),
        ({"households": "1e40"}, "'households' is not a whole number"),
        ({"area_hectares": "0"}, "'area_hectares' is not a number above 0"),
        ({"area_hectares": ""}, "'area_hectares' is not a number above 0"),
        ({"lsoa11_code": "W01000001", "usual_residents": "1500"},
         "'lsoa11_code' already on line 3"),
    ],
)
def test_census2011_row_rules(tmp_path, changes, reason):
    path = tmp_path / "pop.csv"
    path.write_text(to_csv([CENSUS2011_HEADER, census_row(lsoa11_code="E01000001"),
                            census_row(lsoa11_code="W01000001"), census_row(**changes)]))
    result = read_population(path)
    assert (result.rows_read, result.rows_accepted) == (3, 2)
    assert result.rejects.values.tolist() == [[str(path), 4, reason]]
    assert result.data["lsoa_code"].tolist() == ["E01000001", "W01000001"]
    assert result.data["population"].tolist() == [1617, 1617]


def test_ts001_table(tmp_path):
    path = tmp_path / "census2021-ts001-lsoa.csv"
    path.write_text(to_csv([
        TS001_HEADER,
        ["2021", "Southend-on-Sea 006C", "E01015871", "1650", "1640", "10"],
        ["2021", "Southend-on-Sea", "E06000033", "180686", "178000", "2686"],  # not an LSOA
        ["2021", "Cardiff 001A", "W01001552", "1400", "1400", "0"],
        ["2021", "Cardiff 001A", "W01001552", "1400", "1400", "0"],
        ["2021", "Cardiff 001B", "W01001553", "n/a", "0", "0"],
    ]))
    result = read_population(path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (5, 2, 3)
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, "'geography code' is not an England or Wales LSOA code (E01 or W01 and 6 digits; "
            "download the LSOA level of TS001)"],
        [5, "'geography code' already on line 4"],
        [6, "'Residence type: Total; measures: Value' is not a whole number of people"],
    ]
    data = result.data
    assert data["lsoa_code"].tolist() == ["E01015871", "W01001552"]
    assert data["lsoa_name"].tolist() == ["Southend-on-Sea 006C", "Cardiff 001A"]
    assert data["population"].tolist() == [1650, 1400]
    assert data["households"].isna().all() and data["area_hectares"].isna().all()
    assert data["msoa_code"].isna().all() and set(data["vintage"]) == {"2021"}


# --- centroids ----------------------------------------------------------------------------

@pytest.mark.mirror
def test_centroids_mirror(mirror):
    path = mirror / "centroids" / "lsoa11_population_weighted_centroids.csv"
    rows = csv_rows(path)
    result = read_centroids(path)
    assert result.rows_read == len(rows) == 48_424
    assert (result.rows_accepted, result.rows_rejected) == (48_424, 0)
    data = result.data
    assert list(data.columns) == ["lsoa_code", "country", "easting", "northing", "geometry",
                                  "_file", "_line"]
    assert data.crs.to_epsg() == 27700
    expected = Counter("N" if r["lsoa11cd"].startswith("95") else r["lsoa11cd"][0]
                       for r in rows)
    assert dict(Counter(data["country"])) == dict(expected)
    assert expected == {"E": 34_789, "S": 6_976, "N": 4_670, "W": 1_989}
    by_code = data.set_index("lsoa_code")
    e, n = TO_BNG.transform(0.7248335737341974, 51.554477625543065)
    assert by_code.loc["E01015871", "easting"] == pytest.approx(e, abs=0.06)
    assert by_code.loc["E01015871", "northing"] == pytest.approx(n, abs=0.06)
    assert by_code.loc["E01015871", "_line"] == 16295
    assert by_code.loc["95AA01S1", "country"] == "N" and by_code.loc["95AA01S1", "_line"] == 2


def test_centroids_bng_shape_and_row_rules(tmp_path):
    path = tmp_path / "LSOA_Dec_2011_PWC_in_England_and_Wales.csv"
    path.write_text(to_csv([
        ["X", "Y", "FID", "lsoa11cd", "lsoa11nm"],
        ["588177.5", "186599.25", "1", "E01015871", "Southend-on-Sea 006C"],
        ["320000", "180000", "2", "W01001552", "Cardiff 001A"],
        ["588000", "186000", "3", "E01015871", "again"],          # duplicate
        ["800000", "186000", "4", "E01015872", "off the grid"],   # easting beyond 700 km
        ["abc", "186000", "5", "E01015873", "not a number"],
        ["", "", "6", "E01015874", "blank"],
        ["588000", "186000", "7", "E1015875", "bad code"],
        ["290000", "700000", "8", "S01006506", "Scotland"],
    ]))
    result = read_centroids(path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (8, 3, 5)
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [4, "'lsoa11cd' already on line 2"],
        [5, "X/Y outside Great Britain"],
        [6, "X/Y are not numbers"],
        [7, "X/Y are blank"],
        [8, "'lsoa11cd' is not a small-area code (e.g. E01000001, S01006506, N20000001, "
            "95AA01S1)"],
    ]
    data = result.data
    assert data["lsoa_code"].tolist() == ["E01015871", "W01001552", "S01006506"]
    assert data["country"].tolist() == ["E", "W", "S"]
    assert data["easting"].tolist() == [588177.5, 320000.0, 290000.0]
    assert data["northing"].tolist() == [186599.2, 180000.0, 700000.0]  # rounded to 0.1 m
    assert data.geometry.iloc[0].x == 588177.5 and data.crs.to_epsg() == 27700


def test_centroids_lonlat_outside_gb_rejected(tmp_path):
    path = tmp_path / "pwc.csv"
    path.write_text("LSOACD,latitude,longitude,lsoa11cd\n"
                    "E01015871,51.5545,0.7248,E01015871\n"
                    "E01015872,40.7,-74.0,E01015872\n"
                    "N20000001,54.6,-6.2,N20000001\n")
    result = read_centroids(path)
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, "longitude/latitude outside Great Britain"]]
    assert result.data["country"].tolist() == ["E", "N"]


# --- unusable files -----------------------------------------------------------------------

def test_truncated_last_line(tmp_path):
    text = to_csv([CENSUS2011_HEADER, census_row(lsoa11_code="E01000001"), census_row()])
    path = tmp_path / "pop.csv"
    path.write_text(text[:-12])  # cut inside density_per_hectare: 13 of 15 fields
    result = read_population(path)
    assert (result.rows_read, result.rows_accepted) == (2, 1)
    assert result.rejects["reason"].tolist() == [
        "has 13 fields, expected 15 (truncated or shifted row)"]


@pytest.mark.parametrize(
    ("reader", "content", "problem"),
    [
        (read_population, to_csv([[c for c in CENSUS2011_HEADER if c != "households"]]),
         "has no column 'households'"),
        (read_population, "geography code,population\nE01015871,3\n",
         "is not a Census LSOA population table"),
        (read_centroids, "code,latitude,longitude\nE01015871,51,0\n",
         "has no LSOA code column"),
        (read_centroids, "lsoa11cd,lsoa21cd,x,y\nE01015871,E01015871,1,1\n",
         "several LSOA code columns"),
        (read_centroids, "lsoa11cd,lat\nE01015871,51\n", "has no coordinate columns"),
        (read_population, "lsoa11_code,usual_residents\nE01015871,caf\xe9\n",
         "is not UTF-8 text"),
        (read_centroids, "", "is empty"),
        (read_population, "", "is empty"),
    ],
    ids=["missing-column", "unknown-shape", "no-code", "two-codes", "no-coordinates",
         "latin-1", "empty-centroids", "empty-population"],
)
def test_unusable_files(tmp_path, reader, content, problem):
    path = tmp_path / "in.csv"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(DataFileError, match=problem) as info:
        reader(path)
    assert info.value.path == str(path)


def test_inputs_are_not_modified(tmp_path):
    path = tmp_path / "pop.csv"
    text = to_csv([CENSUS2011_HEADER, census_row()])
    path.write_text(text)
    first = read_population(path).data
    second = read_population(path).data
    assert path.read_text() == text
    pd.testing.assert_frame_equal(first, second)
