"""NaPTAN stops and GB rail stations: real mirror files and broken inputs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from geointel.errors import DataFileError, ValidationError
from geointel.io.naptan import COLUMNS, STOP_TYPE_MODES, read_naptan
from geointel.io.rail import read_rail_stations

HEADER = ("ATCOCode,NaptanCode,CommonName,Indicator,Street,LocalityName,Town,GridType,"
          "Easting,Northing,Longitude,Latitude,StopType,AdministrativeAreaCode,Status")


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def write(tmp_path: Path, lines: list[str], name: str = "Stops.csv",
          header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def stop(atco: str, *, e: str = "594125", n: str = "184768", lon: str = "", lat: str = "",
         stop_type: str = "BCT", status: str = "active", grid: str = "UKOS") -> str:
    return f"{atco},,Stop {atco},o/s,High St,Shoeburyness,Southend,{grid},{e},{n},{lon},{lat}," \
           f"{stop_type},053,{status}"


@pytest.mark.mirror
@pytest.mark.parametrize("name", ["158Stops.csv", "159Stops.csv", "910Stops.csv"])
def test_mirror_active_stops_match_an_independent_count(mirror, name):
    path = mirror / "naptan" / name
    rows = csv_rows(path)
    active = [r["ATCOCode"] for r in rows if r["Status"] == "active"]
    result = read_naptan(path)
    assert result.rows_read == len(rows)
    assert result.data["atco_code"].tolist() == active
    assert list(result.data.columns) == COLUMNS and result.data.crs.to_epsg() == 27700
    assert set(result.rejects["reason"]) == {
        "stop is inactive; pass include_inactive=True to keep it"}
    everything = read_naptan(path, include_inactive=True)
    assert everything.rows_accepted == len(rows)
    assert set(everything.data["status"]) == {"active", "inactive"}


@pytest.mark.mirror
def test_mirror_stop_values(mirror):
    data = read_naptan(mirror / "naptan" / "158Stops.csv").data.set_index("atco_code")
    row = data.loc["15800001"]
    assert (row["name"], row["naptan_code"], row["indicator"], row["street"], row["locality"],
            row["town"], row["stop_type"], row["mode"], row["admin_area"]) == (
        "East Beach", "soadgapg", "SW-bound", "Rampart Terrace", "Shoeburyness",
        "Southend-on-Sea", "BCT", "bus", "053")
    assert (row["easting"], row["northing"]) == (594125.0, 184768.0)
    assert (row.geometry.x, row.geometry.y) == (594125.0, 184768.0)


@pytest.mark.mirror
def test_mirror_directory_with_mode_filter(mirror):
    files = sorted((mirror / "naptan").glob("*Stops.csv"))
    rows = [r for f in files for r in csv_rows(f)]
    rail = [r["ATCOCode"] for r in rows
            if r["StopType"] in {"RSE", "RLY", "RPL"} and r["Status"] == "active"]
    result = read_naptan(mirror / "naptan", modes=["rail"])
    assert result.rows_read == len(rows) and len(result.sources) == len(files)
    assert sorted(result.data["atco_code"]) == sorted(rail)
    assert set(result.data["mode"]) == {"rail"}
    reasons = result.rejects["reason"].value_counts()
    assert reasons["mode bus is not in modes=['rail']"] == sum(
        r["StopType"] in {"BCT", "BCS", "BCQ"} for r in rows)


@pytest.mark.mirror
def test_mirror_list_of_files(mirror):
    paths = [mirror / "naptan" / "158Stops.csv", mirror / "naptan" / "159Stops.csv"]
    result = read_naptan(paths)
    assert result.rows_read == sum(len(csv_rows(p)) for p in paths)
    assert set(result.data["_file"]) == {str(p) for p in paths}


@pytest.mark.parametrize(("code", "mode"), [
    ("BCT", "bus"), ("BCS", "bus"), ("BCQ", "bus"), ("BST", "bus"), ("BCE", "bus"),
    ("RSE", "rail"), ("RLY", "rail"), ("RPL", "rail"),
    ("TMU", "metro"), ("MET", "metro"), ("PLT", "metro"),
    ("FER", "ferry"), ("FBT", "ferry"), ("FTD", "ferry"),
    ("AIR", "air"), ("GAT", "air"), ("TXR", "taxi"), ("STR", "taxi"),
    ("LCE", "other"), ("SDA", "other"), ("XYZ", "other"),
])
def test_stop_type_to_mode(tmp_path, code, mode):
    result = read_naptan(write(tmp_path, [stop("1", stop_type=code)]))
    assert result.data["mode"].tolist() == [mode]
    assert STOP_TYPE_MODES.get(code, "other") == mode


@pytest.mark.parametrize(("column", "values", "expected"), [
    ("Status", ["active", "inactive", "pending", "act", "del", "pen"],
     ["active", "inactive", "pending", "active", "inactive", "pending"]),
    ("Active", ["1", "0", "true", "false", "TRUE", "False"],
     ["active", "inactive", "active", "inactive", "active", "inactive"]),
])
def test_status_and_boolean_active_forms(tmp_path, column, values, expected):
    header = HEADER.replace(",Status", f",{column}")
    path = write(tmp_path, [stop(str(i), status=v) for i, v in enumerate(values)], header=header)
    kept = read_naptan(path, include_inactive=True)
    assert kept.data["status"].tolist() == expected
    default = read_naptan(path)
    assert default.data["atco_code"].tolist() == [
        str(i) for i, s in enumerate(expected) if s == "active"]
    assert default.rows_read == len(values) == default.rows_accepted + default.rows_rejected
    assert all("include_inactive=True" in r for r in default.rejects["reason"])


def test_lonlat_fallback_and_unusable_rows(tmp_path):
    # East Beach (15800001) in 158Stops.csv: 594125, 184768 == 0.7971940770, 51.5284447058.
    path = write(tmp_path, [
        stop("A", e="", n="", lon="0.7971940770", lat="51.5284447058"),
        stop("B", e="", n="", lon="", lat=""),
        stop("C", e="x", n="1", lon="200", lat="51"),
        stop("D", grid="IrishOS", e="300000", n="200000", lon="0.7971940770",
             lat="51.5284447058"),
        stop("E", status="maybe"),
        stop("A"),
        stop(""),
    ])
    result = read_naptan(path)
    data = result.data.set_index("atco_code")
    assert list(data.index) == ["A", "D"]
    for code in ("A", "D"):  # D's Irish-grid easting/northing are ignored
        assert abs(data.loc[code, "easting"] - 594125) < 5
        assert abs(data.loc[code, "northing"] - 184768) < 5
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, "no usable location: easting/northing are blank; longitude/latitude are blank"],
        [4, "no usable location: easting/northing are not numbers; "
            "longitude/latitude outside Great Britain"],
        [6, "status 'maybe' is not active/inactive/pending or a true/false value"],
        [7, f"duplicate ATCOCode A (first in {path} line 2)"],
        [8, "ATCOCode is blank"],
    ]


def test_duplicates_across_files(tmp_path):
    a = write(tmp_path, [stop("1"), stop("2")], name="aStops.csv")
    b = write(tmp_path, [stop("2"), stop("3")], name="bStops.csv")
    result = read_naptan(tmp_path)
    assert result.data["atco_code"].tolist() == ["1", "2", "3"]
    assert result.rejects[["file", "line", "reason"]].values.tolist() == [
        [str(b), 2, f"duplicate ATCOCode 2 (first in {a} line 3)"]]


def test_bad_arguments_and_files(tmp_path):
    with pytest.raises(ValidationError, match="unknown value"):
        read_naptan(write(tmp_path, [stop("1")]), modes=["tram"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileError, match=r"no \*Stops\.csv files"):
        read_naptan(tmp_path / "empty")
    bad = write(tmp_path, ["1,x"], name="noStops.csv", header="ATCOCode,CommonName")
    with pytest.raises(DataFileError, match="'StopType'"):
        read_naptan(bad)
    nocoord = write(tmp_path, ["1,x,BCT"], name="xStops.csv",
                    header="ATCOCode,CommonName,StopType")
    with pytest.raises(DataFileError, match="neither Easting/Northing nor Longitude/Latitude"):
        read_naptan(nocoord)
    with pytest.raises(DataFileError, match="is empty"):
        read_naptan(write(tmp_path, [], name="emptyStops.csv", header=""))


@pytest.mark.mirror
def test_rail_stations_from_mirror(mirror):
    path = mirror / "rail" / "stations.csv"
    rows = csv_rows(path)
    result = read_rail_stations(path)
    assert result.rows_read == result.rows_accepted == len(rows)
    assert list(result.data.columns) == ["name", "crs_code", "country", "easting", "northing",
                                         "geometry", "_file", "_line"]
    assert result.data["country"].value_counts().to_dict() == {
        c: sum(r["constituentCountry"] == c for r in rows) for c in ("england", "scotland",
                                                                      "wales")}
    # Checked against an independent source: NaPTAN 9100STHVIC is at 588128, 185997.
    sov = result.data.set_index("crs_code").loc["SOV"]
    assert sov["name"] == "Southend Victoria"
    assert abs(sov["easting"] - 588128) < 150 and abs(sov["northing"] - 185997) < 150


def test_rail_station_rejects(tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text("stationName,lat,long,crsCode,iataAirportCode,constituentCountry\n"
                    "Southend Victoria,51.542389,0.711184,SOV,,england\n"
                    "Nowhere,,,NWH,,england\n"
                    "Atlantis,10,-40,ATL,,england\n"
                    "Southend Again,51.54,0.71,sov,,england\n"
                    "No Code,51.54,0.71,,,england\n", encoding="utf-8")
    result = read_rail_stations(path)
    assert result.data["crs_code"].tolist() == ["SOV"]
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, "no usable location: longitude/latitude are blank"],
        [4, "no usable location: longitude/latitude outside Great Britain"],
        [5, "duplicate crsCode SOV (first on line 2)"],
        [6, "crsCode is blank"],
    ]
    with pytest.raises(DataFileError, match="'crsCode'"):
        bad = tmp_path / "bad.csv"
        bad.write_text("stationName,lat,long\nX,51,0\n", encoding="utf-8")
        read_rail_stations(bad)
