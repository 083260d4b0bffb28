"""Deaths / incidents register reader."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geointel.errors import DataFileError
from geointel.io.deaths import COLUMNS, read_deaths

TODAY = dt.date(2024, 6, 15)
HEADER = "record_id,date,lsoa_code,latitude,longitude,easting,northing,count,category,substance"


def write(tmp_path: Path, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "deaths.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_values_and_rejects(tmp_path, caplog):
    path = write(tmp_path, [
        "D1,2023-04-02,e01015814,,,,,,,heroin",                       # code only, lower case
        "D2,2023-05,,51.5284447058,0.7971940770,,,2,Non-fatal overdose,",  # lat/lon, month
        "D3,2024-06-15,W01000001,,,594125,184768,1,death,Cocaine + alcohol",  # today is fine
        "D4,2023-01-01,E0101581,,,590000,185000,,,",                  # malformed code, coords
        "D5,2023-01-01,,,,,,,,",                                       # no place
        "D6,2023-01-01,X01015814,91,0,,,,,",                           # nothing usable
        "D7,2023-02-30,E01015814,,,,,,,",                              # no such day
        "D8,02/01/2023,E01015814,,,,,,,",                              # not ISO
        "D9,2024-06-16,E01015814,,,,,,,",                              # tomorrow
        "D10,2024-07,E01015814,,,,,,,",                                # next month
        "D11,2024-06,E01015814,,,,,,,",                                # this month is fine
        "D12,2023-01-01,E01015814,,,,,0,,",
        "D13,2023-01-01,E01015814,,,,,1.5,,",
        "D1,2023-01-01,E01015814,,,,,,,",
        ",2023-01-01,E01015814,,,,,,,",
    ])
    with caplog.at_level(logging.WARNING, logger="geointel.io.deaths"):
        result = read_deaths(path, today=TODAY)
    assert result.rows_read == 15 and result.rows_accepted == 5
    data = result.data
    assert list(data.columns) == COLUMNS and data.crs.to_epsg() == 27700
    assert data["record_id"].tolist() == ["D1", "D2", "D3", "D4", "D11"]
    assert str(data["date"].dtype).startswith("datetime64")
    assert data["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2023-04-02", "2023-05-01", "2024-06-15", "2023-01-01", "2024-06-01"]
    assert data["month"].tolist() == ["2023-04", "2023-05", "2024-06", "2023-01", "2024-06"]
    assert data["lsoa_code"].tolist() == ["E01015814", "", "W01000001", "", "E01015814"]
    assert data["count"].tolist() == [1, 2, 1, 1, 1] and data["count"].dtype == np.int64
    assert data["category"].tolist() == ["death", "non_fatal_overdose", "death", "death",
                                         "death"]
    assert data["substance"].tolist() == ["heroin", "", "Cocaine + alcohol", "", ""]
    assert data.geometry.isna().tolist() == [True, False, False, False, True]
    assert np.isnan(data.loc[0, "easting"])
    assert abs(data.loc[1, "easting"] - 594125) < 5 and abs(data.loc[1, "northing"] - 184768) < 5
    assert (data.loc[2, "easting"], data.loc[3, "northing"]) == (594125.0, 185000.0)
    assert "blanked 1 malformed lsoa_code" in caplog.text and "lines 5" in caplog.text
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [6, "no usable location: neither an LSOA code (E01/W01 + 6 digits) nor coordinates "
            "(lsoa_code is blank; easting/northing are blank; longitude/latitude are blank)"],
        [7, "no usable location: neither an LSOA code (E01/W01 + 6 digits) nor coordinates "
            "(lsoa_code 'X01015814' is not E01/W01 + 6 digits; easting/northing are blank; "
            "longitude/latitude outside Great Britain)"],
        [8, "date '2023-02-30' is not yyyy-mm-dd or yyyy-mm"],
        [9, "date '02/01/2023' is not yyyy-mm-dd or yyyy-mm"],
        [10, "date '2024-06-16' is in the future (after 2024-06-15)"],
        [11, "date '2024-07' is in the future (after 2024-06-15)"],
        [13, "count '0' is not a whole number >= 1"],
        [14, "count '1.5' is not a whole number >= 1"],
        [15, "duplicate record_id 'D1' (first on line 2)"],
        [16, "record_id is blank"],
    ]


def test_minimal_file_with_code_only_and_unusable_coordinates_warning(tmp_path, caplog):
    path = write(tmp_path, ["A,2020-01-01,E01000001", "B,2020-02-03,E01000002"],
                 header="record_id,date,lsoa_code")
    result = read_deaths(path, today=TODAY)
    assert result.data["count"].tolist() == [1, 1]
    assert result.data["category"].tolist() == ["death", "death"]
    assert result.data.geometry.isna().all()
    path = write(tmp_path, ["A,2020-01-01,E01000001,51,200"],
                 header="record_id,date,lsoa_code,latitude,longitude")
    with caplog.at_level(logging.WARNING, logger="geointel.io.deaths"):
        result = read_deaths(path, today=TODAY)
    assert result.rows_accepted == 1 and result.data.geometry.isna().all()
    assert "placed by LSOA code only (lines 2)" in caplog.text


def test_default_today_rejects_next_year(tmp_path):
    next_year = dt.date.today().year + 1
    path = write(tmp_path, [f"A,{next_year}-01-01,E01000001", "B,2020-01-01,E01000001"],
                 header="record_id,date,lsoa_code")
    result = read_deaths(path)
    assert result.data["record_id"].tolist() == ["B"]
    assert result.rejects["reason"].str.contains("in the future").all()


@pytest.mark.parametrize(("header", "problem"), [
    ("record_id,date,count", "has no location column"),
    ("record_id,lsoa_code", "has no column 'date'"),
])
def test_unusable_files(tmp_path, header, problem):
    path = write(tmp_path, [",".join(["x"] * len(header.split(",")))], header=header)
    with pytest.raises(DataFileError, match=problem) as info:
        read_deaths(path, today=TODAY)
    assert "Fix:" in str(info.value) and str(path) in str(info.value)


def test_rows_add_up_with_seeded_random_counts(tmp_path):
    rng = np.random.default_rng(7)
    lines = [f"R{i},2023-{1 + i % 12:02d}-01,E01{i:06d},,,,,{int(rng.integers(0, 3))},,"
             for i in range(40)]
    result = read_deaths(write(tmp_path, lines), today=TODAY)
    zeros = sum(line.split(",")[7] == "0" for line in lines)
    assert result.rows_accepted == 40 - zeros and result.rows_rejected == zeros
    assert pd.Series(result.data["record_id"]).is_unique


@pytest.mark.parametrize("count", ["inf", "Infinity", "-inf", "NaN", "1e309"])
def test_non_finite_count_is_rejected_not_a_crash(tmp_path, count):
    # found by fuzzing: 'inf' passed the whole-number check and crashed the int64 cast
    path = write(tmp_path, ["D1,2023-01-01,E01015814,,,,,2,,",
                            f"D2,2023-01-01,E01015814,,,,,{count},,"])
    result = read_deaths(path, today=TODAY)
    assert result.data["count"].tolist() == [2]
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, f"count {count!r} is not a whole number >= 1"]]


@pytest.mark.parametrize("count", ["1000001", "1e40", "9" * 40])
def test_huge_count_is_rejected_not_wrapped_round(tmp_path, count):
    # 1e40 used to be accepted and cast to int64 as -9223372036854775808
    path = write(tmp_path, ["D1,2023-01-01,E01015814,,,,,1000000,,",
                            f"D2,2023-01-01,E01015814,,,,,{count},,"])
    result = read_deaths(path, today=TODAY)
    assert result.data["count"].tolist() == [1_000_000]
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, f"count {count!r} is more than 1,000,000 (a typo or a shifted column?)"]]
