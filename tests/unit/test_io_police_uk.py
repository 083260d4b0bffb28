"""police.uk street-level reader: real mirror files and broken inputs built in tmp_path."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from pyproj import Transformer

from geointel.errors import DataFileError, ValidationError
from geointel.io._table import ReadResult, concat_results
from geointel.io.police_uk import NO_LOCATION, read_police_uk, select_crime_types

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context\n")
TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def row(crime_id: str = "c1", month: str = "2019-01", lon: str = "0.714", lat: str = "51.538",
        crime_type: str = "Drugs") -> str:
    return (f"{crime_id},{month},Essex Police,Essex Police,{lon},{lat},On or near High Street,"
            f"E01015871,Southend-on-Sea 006C,{crime_type},Under investigation,\n")


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# --- the real mirror ---------------------------------------------------------------------

def independent_counts(files: list[Path]) -> dict[str, object]:
    """What the reader should find, worked out row by row with the csv module."""
    rows = no_location = bad = 0
    types: Counter[str] = Counter()
    blank_ids = 0
    seen: set[str] = set()
    duplicates = 0
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            next(reader)
            for fields in reader:
                if not fields:
                    continue
                rows += 1
                crime_id, month, lon, lat, crime_type = (fields[0], fields[1], fields[4],
                                                         fields[5], fields[9])
                if lon == "" and lat == "":
                    no_location += 1
                    continue
                in_gb = -9 <= float(lon) <= 3 and 49 <= float(lat) <= 61.5
                if not in_gb or not re.fullmatch(r"\d{4}-\d\d", month) or not crime_type:
                    bad += 1
                    continue
                if crime_id and crime_id in seen:
                    duplicates += 1
                    continue
                seen.add(crime_id)
                blank_ids += crime_id == ""
                types[crime_type] += 1
    return {"rows": rows, "no_location": no_location, "bad": bad, "duplicates": duplicates,
            "types": types, "blank_ids": blank_ids}


@pytest.fixture(scope="module")
def police_dir(mirror: Path) -> Path:
    return mirror / "police_uk"


@pytest.fixture(scope="module")
def everything(police_dir: Path) -> ReadResult:
    return read_police_uk(police_dir)


@pytest.mark.mirror
def test_all_mirror_files_are_accounted_for(police_dir, everything):
    files = sorted(police_dir.glob("*-street.csv"))
    expected = independent_counts(files)
    assert len(files) == 10 and everything.sources == tuple(str(p) for p in files)
    assert everything.rows_read == expected["rows"] == 148_977
    assert everything.rows_rejected == expected["no_location"] == 369
    assert expected["bad"] == 0 and expected["duplicates"] == 0
    assert everything.summary()["reject_reasons"] == {NO_LOCATION: 369}
    assert everything.rows_accepted == everything.rows_read - everything.rows_rejected
    assert dict(Counter(everything.data["crime_type"])) == dict(expected["types"])
    assert int(everything.data["crime_id"].isna().sum()) == expected["blank_ids"]
    assert set(everything.data.loc[everything.data["crime_id"].isna(), "crime_type"]) == {
        "Anti-social behaviour"}


@pytest.mark.mirror
def test_mirror_columns_types_and_a_known_row(police_dir, everything):
    data = everything.data
    assert list(data.columns) == [
        "crime_id", "month", "reported_by", "falls_within", "longitude", "latitude",
        "location", "lsoa_code", "lsoa_name", "crime_type", "last_outcome", "context",
        "easting", "northing", "geometry", "_file", "_line"]
    assert data.crs.to_epsg() == 27700
    assert sorted(data["month"].unique()) == ["2018-10", "2018-11", "2018-12", "2019-01",
                                               "2019-02"]
    first = data.iloc[0]  # line 2 of the first file, sorted by name
    assert first["_file"] == str(police_dir / "2018-10-essex-street.csv") and first["_line"] == 2
    assert first["crime_id"].startswith("aaa003527bd5d88d")
    assert (first["longitude"], first["latitude"]) == (1.012183, 51.979598)
    assert (first["location"], first["lsoa_code"], first["crime_type"]) == (
        "On or near Collingwood Fields", "E01029882", "Other theft")
    assert pd.isna(first["context"])
    e, n = TO_BNG.transform(1.012183, 51.979598)
    assert first["easting"] == pytest.approx(e, abs=0.06)
    assert first["northing"] == pytest.approx(n, abs=0.06)
    assert first.geometry.x == pytest.approx(e, abs=1e-6)


@pytest.mark.mirror
def test_mirror_no_location_rejects_name_file_and_line(police_dir, everything):
    rejects = everything.rejects
    essex = str(police_dir / "2018-10-essex-street.csv")
    lines = rejects.loc[rejects["file"] == essex, "line"].tolist()
    assert {17714, 17715, 17716} <= set(lines)  # the first "No Location" rows (grep -n)
    assert rejects["reason"].eq(NO_LOCATION).all()


@pytest.mark.mirror
def test_mirror_drug_offences(police_dir, everything):
    expected = independent_counts(sorted(police_dir.glob("*-street.csv")))["types"]["Drugs"]
    drugs = select_crime_types(everything.data, ["Drugs"])
    assert set(drugs["crime_type"]) == {"Drugs"}
    assert len(drugs) == expected == 3570


# --- row rules ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        (row(lon="", lat=""), NO_LOCATION),
        (row(lon="abc"), "longitude/latitude are not numbers"),
        (row(lon="0.7", lat=""), "longitude/latitude are not numbers"),
        (row(lon="-74.0", lat="40.7"), "longitude/latitude outside Great Britain"),
        (row(lon="51.5", lat="0.7"), "longitude/latitude outside Great Britain"),  # swapped
        (row(month="2019-13"), "Month is not a month written YYYY-MM"),
        (row(month="Jan-2019"), "Month is not a month written YYYY-MM"),
        (row(month=""), "Month is not a month written YYYY-MM"),
        (row(crime_type=""), "Crime type is blank"),
        (row(crime_type="  "), "Crime type is blank"),
    ],
)
def test_each_row_rule_rejects_with_its_reason(tmp_path, bad_row, reason):
    path = write(tmp_path, "2019-01-essex-street.csv", HEADER + row("ok") + bad_row)
    result = read_police_uk(path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (2, 1, 1)
    assert result.rejects.values.tolist() == [[str(path), 3, reason]]
    assert result.data["crime_id"].tolist() == ["ok"]


def test_blank_crime_id_is_accepted_and_values_are_typed(tmp_path):
    path = write(tmp_path, "2019-01-essex-street.csv",
                 HEADER + row("", crime_type="Anti-social behaviour") + row("c2"))
    data = read_police_uk(path).data
    assert data["crime_id"].isna().tolist() == [True, False]
    assert data["month"].tolist() == ["2019-01", "2019-01"]
    assert data["longitude"].tolist() == [0.714, 0.714]
    assert data["last_outcome"].tolist() == ["Under investigation"] * 2
    e, n = TO_BNG.transform(0.714, 51.538)
    assert data["easting"].iloc[0] == pytest.approx(round(e, 1))
    assert data["northing"].iloc[0] == pytest.approx(round(n, 1))
    assert data["_line"].tolist() == [2, 3]


def test_duplicate_crime_ids_across_files_name_the_first(tmp_path):
    jan = write(tmp_path, "2019-01-essex-street.csv", HEADER + row("a") + row("b"))
    feb = write(tmp_path, "2019-02-essex-street.csv",
                HEADER + row("c", month="2019-02") + row("a", month="2019-02")
                + row("c", month="2019-02"))
    result = read_police_uk(tmp_path)
    assert result.sources == (str(jan), str(feb))
    assert result.data["crime_id"].tolist() == ["a", "b", "c"]
    assert result.rejects.values.tolist() == [
        [str(feb), 3, f"duplicate Crime ID, first seen at {jan}:2"],
        [str(feb), 4, f"duplicate Crime ID, first seen at {feb}:2"],
    ]


def test_duplicate_of_a_rejected_row_keeps_the_located_copy(tmp_path):
    path = write(tmp_path, "2019-01-essex-street.csv",
                 HEADER + row("a", lon="", lat="") + row("a"))
    result = read_police_uk(path)
    assert result.data["_line"].tolist() == [3]
    assert result.rejects["reason"].tolist() == [NO_LOCATION]


def test_paths_as_list_keep_order_and_read_a_file_once(tmp_path):
    a = write(tmp_path, "b-street.csv", HEADER + row("x"))
    b = write(tmp_path, "a-street.csv", HEADER + row("y"))
    result = read_police_uk([a, str(b), a])
    assert result.sources == (str(a), str(b))
    assert result.data["crime_id"].tolist() == ["x", "y"]


# --- choosing crime types -----------------------------------------------------------------

def test_select_crime_types_keeps_only_those_types(tmp_path):
    path = write(tmp_path, "2019-01-essex-street.csv",
                 HEADER + row("d1") + row("b1", crime_type="Burglary")
                 + row("w1", crime_type="Possession of weapons") + row("d2"))
    offences = read_police_uk(path).data
    assert select_crime_types(offences, [" drugs "])["crime_id"].tolist() == ["d1", "d2"]
    both = select_crime_types(offences, ["Drugs", "Possession of weapons"])
    assert both["crime_id"].tolist() == ["d1", "w1", "d2"]
    assert len(offences) == 4  # input untouched


@pytest.mark.parametrize(("types", "match"), [
    (["Drug"], "unknown police.uk crime type"),
    ("Drugs", "not the string"),
])
def test_bad_crime_types_argument(tmp_path, types, match):
    offences = read_police_uk(write(tmp_path, "x-street.csv", HEADER + row())).data
    with pytest.raises(ValidationError, match=match):
        select_crime_types(offences, types)


def test_results_of_several_reads_concatenate(tmp_path):
    path = write(tmp_path, "x-street.csv", HEADER + row("d1") + row("b1", crime_type="Robbery"))
    assert concat_results([read_police_uk(path)]).rows_read == 2


def test_progress_is_reported_per_file(tmp_path):
    write(tmp_path, "1-street.csv", HEADER + row("a"))
    write(tmp_path, "2-street.csv", HEADER + row("b"))
    seen: list[tuple[int, int, str]] = []
    read_police_uk(tmp_path, progress=lambda d, t, m: seen.append((d, t, m)))
    assert seen == [(1, 3, "read 1-street.csv"), (2, 3, "read 2-street.csv"),
                    (3, 3, "validated")]


# --- broken files ------------------------------------------------------------------------

def test_truncated_last_line_is_rejected(tmp_path):
    text = HEADER + row("a") + row("b")
    path = write(tmp_path, "x-street.csv", text[:-40])  # cut inside the last row
    result = read_police_uk(path)
    assert (result.rows_read, result.rows_accepted) == (2, 1)
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, "has 9 fields, expected 12 (truncated or shifted row)"]]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (HEADER.replace("Crime type,", "Type,") + row().replace("Drugs,", ""),
         "has no column 'Crime type'"),
        (HEADER.encode() + row(crime_id="caf\xe9").encode("latin-1"), "is not UTF-8 text"),
        (b"", "is empty"),
    ],
    ids=["missing-column", "latin-1", "empty"],
)
def test_unusable_files_raise_data_file_error(tmp_path, content, problem):
    path = write(tmp_path, "x-street.csv", content)
    with pytest.raises(DataFileError, match=problem) as info:
        read_police_uk(path)
    assert info.value.path == str(path)


def test_missing_file_and_empty_directory(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        read_police_uk(tmp_path / "nope-street.csv")
    with pytest.raises(DataFileError, match=r"holds no police.uk '\*-street.csv' files"):
        read_police_uk(tmp_path)
    with pytest.raises(ValidationError, match="paths is empty"):
        read_police_uk([])
