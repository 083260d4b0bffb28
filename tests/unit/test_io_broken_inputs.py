"""Every reader on broken copies of its real file: empty, wrong encoding, truncated, a
missing column, bad coordinates. Each case asserts the error (type, file, problem) or the
reject (line, reason), and that rows read = accepted + rejected whenever a file is read.

The broken files are made from the header and first three rows of each reader's real file
(the open-data mirror, or the built sample for partner data), so line 2-4 are data rows.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from geointel.errors import DataFileError
from geointel.io._table import ReadResult
from geointel.io.boundaries import read_boundaries
from geointel.io.contacts import read_contacts, read_intel
from geointel.io.deaths import read_deaths
from geointel.io.imd import read_imd
from geointel.io.naptan import read_naptan
from geointel.io.police_uk import read_police_uk
from geointel.io.population import read_centroids, read_population
from geointel.io.rail import read_rail_stations
from geointel.io.services import read_services
from geointel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
pytestmark = pytest.mark.mirror


@dataclass(frozen=True)
class Reader:
    read: Callable[[Path], ReadResult]
    source: str            # "mirror:<path>" or "sample:<file>"
    drop: str              # a required column to remove
    missing: str           # what the error says then
    name: str = "x.csv"    # the file name the reader expects


READERS = {
    "police_uk": Reader(read_police_uk, "mirror:police_uk/2018-10-essex-street.csv",
                        "Crime type", "has no column 'Crime type'", "x-street.csv"),
    "imd": Reader(read_imd, "mirror:imd/imd2019_england_lsoa11.csv", "lsoa11_code",
                  "has no LSOA code column"),
    "population": Reader(read_population, "mirror:population/census2011_lsoa11_population.csv",
                         "lsoa11_code", "is not a Census LSOA population table"),
    "centroids": Reader(read_centroids,
                        "mirror:centroids/lsoa11_population_weighted_centroids.csv",
                        "latitude", "has no coordinate columns"),
    "naptan": Reader(read_naptan, "mirror:naptan/150Stops.csv", "ATCOCode",
                     "has no column 'ATCOCode'"),
    "rail": Reader(read_rail_stations, "mirror:rail/stations.csv", "crsCode",
                   "has no column 'crsCode'"),
    "services": Reader(read_services, "sample:services.csv", "kind", "has no column 'kind'"),
    "deaths": Reader(read_deaths, "sample:deaths.csv", "date", "has no column 'date'"),
    "contacts": Reader(lambda p: read_contacts(p, key=KEY), "sample:contacts.csv", "a_party",
                       "has no column 'a_party'"),
    "intel": Reader(lambda p: read_intel(p, key=KEY), "sample:intel.csv", "subject",
                    "has no column 'subject'"),
}


def _source(reader: Reader) -> Path:
    kind, rel = reader.source.split(":", 1)
    base = Settings().resolved_mirror() if kind == "mirror" else ROOT / "data" / "samples"
    path = base / rel if base is not None else None
    if path is None or not path.is_file():
        pytest.skip(f"{reader.source} is not available (mirror or sample not built)")
    return path


def real_records(name: str) -> list[list[str]]:
    """Header and first three data rows of the reader's real file, as parsed CSV."""
    with open(_source(READERS[name]), encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        return [next(reader) for _ in range(4)]


def as_bytes(records: list[list[str]], *, end: str = "\n") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(records)
    return (buf.getvalue()[:-1] + end).encode("utf-8")


def read(name: str, tmp_path: Path, data: bytes) -> tuple[Path, Callable[[], ReadResult]]:
    path = tmp_path / READERS[name].name
    path.write_bytes(data)
    return path, lambda: READERS[name].read(path)


def accounted(result: ReadResult) -> ReadResult:
    assert result.rows_read == result.rows_accepted + result.rows_rejected
    return result


NAMES = list(READERS)


# ------------------------------------------------------------------ unusable files

UNUSABLE: list[tuple[str, Callable[[list[list[str]]], bytes], str]] = [
    ("empty", lambda recs: b"", "is empty"),
    ("blank-lines", lambda recs: b"\n  \r\n\n", "is empty"),
    ("utf-16", lambda recs: as_bytes(recs).decode("utf-8").encode("utf-16"),
     r"is a binary file, not a CSV \(or is UTF-16\)"),
    ("zip", lambda recs: b"PK\x03\x04" + as_bytes(recs), "is a ZIP archive"),
    ("latin-1-header", lambda recs: as_bytes([[recs[0][0] + "\xe9", *recs[0][1:]], *recs[1:]]
                                             ).decode("utf-8").encode("latin-1"),
     r"not UTF-8 text \(byte 0xe9 on line 1\)"),
]


@pytest.mark.parametrize(("case", "make", "problem"), UNUSABLE, ids=[c[0] for c in UNUSABLE])
@pytest.mark.parametrize("name", NAMES)
def test_unusable_file_is_one_clear_error_naming_it(tmp_path: Path, name: str, case: str,
                                                    make: Callable[[list[list[str]]], bytes],
                                                    problem: str) -> None:
    path, run = read(name, tmp_path, make(real_records(name)))
    with pytest.raises(DataFileError, match=problem) as info:
        run()
    assert info.value.path == str(path) and "Fix:" in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_missing_required_column(tmp_path: Path, name: str) -> None:
    records = real_records(name)
    j = records[0].index(READERS[name].drop)
    path, run = read(name, tmp_path, as_bytes([r[:j] + r[j + 1:] for r in records]))
    with pytest.raises(DataFileError, match=READERS[name].missing) as info:
        run()
    assert info.value.path == str(path)


@pytest.mark.parametrize("name", NAMES)
def test_latin_1_in_a_data_row(tmp_path: Path, name: str) -> None:
    records = real_records(name)
    records[2][0] = records[2][0] + " caf\xe9"
    _, run = read(name, tmp_path, as_bytes(records).decode("utf-8").encode("latin-1"))
    if name == "contacts":  # read in bulk by DuckDB: the one bad line is rejected
        result = accounted(run())
        assert result.rejects[["line", "reason"]].values.tolist() == [
            [3, "is not valid UTF-8 text"]]
        return
    with pytest.raises(DataFileError, match=r"is not UTF-8 text \(byte 0xe9 on line 3\)"):
        run()


# ------------------------------------------------------------------ truncation

@pytest.mark.parametrize("name", NAMES)
def test_row_truncated_to_three_fields_is_rejected(tmp_path: Path, name: str) -> None:
    records = real_records(name)
    width = len(records[0])
    _, run = read(name, tmp_path, as_bytes([*records[:3], records[3][:3]]))
    result = accounted(run())
    assert result.rows_read == 3 and result.rows_accepted == 2
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [4, f"has 3 fields, expected {width} (truncated or shifted row)"]]


@pytest.mark.parametrize("name", NAMES)
def test_file_cut_inside_its_last_field_is_read_with_a_warning(
        tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture) -> None:
    records = real_records(name)
    last = next(j for j in range(len(records[3]) - 1, -1, -1) if len(records[3][j]) >= 2)
    records[3] = records[3][:last + 1]
    records[3][last] = records[3][last][:-1]  # one character lost, and the line break
    path, run = read(name, tmp_path, as_bytes(records, end=""))
    with caplog.at_level(logging.WARNING):
        result = accounted(run())
    assert result.rows_read == 3
    assert any(f"{path} does not end with a line break: its last row (line 4)" in m
               for m in caplog.messages), caplog.messages


@pytest.mark.parametrize("name", NAMES)
def test_header_only_file_reads_no_rows(tmp_path: Path, name: str) -> None:
    _, run = read(name, tmp_path, as_bytes(real_records(name)[:1]))
    result = accounted(run())
    assert (result.rows_read, result.rows_accepted) == (0, 0)


# ------------------------------------------------------------------ bad coordinates

#: reader -> (x column, y column, other location columns to blank, reason for each case)
COORDS: dict[str, tuple[str, str, tuple[str, ...], Callable[[str], str]]] = {
    "police_uk": ("Longitude", "Latitude", (), lambda p: {
        "are blank": "no location: Longitude and Latitude are blank (a police.uk 'No "
                     "Location' row)"}.get(p, f"longitude/latitude {p}")),
    "centroids": ("longitude", "latitude", (), lambda p: f"longitude/latitude {p}"),
    "rail": ("long", "lat", (), lambda p: f"no usable location: longitude/latitude {p}"),
    "services": ("longitude", "latitude", (),
                 lambda p: f"no usable location: longitude/latitude {p}"),
    "naptan": ("Longitude", "Latitude", ("Easting", "Northing"),
               lambda p: f"no usable location: easting/northing {p}; longitude/latitude {p}"),
    "deaths": ("longitude", "latitude", ("lsoa_code",),
               lambda p: "no usable location: neither an LSOA code (E01/W01 + 6 digits) nor "
                         f"coordinates (lsoa_code is blank; longitude/latitude {p})"),
    "contacts": ("cell_lon", "cell_lat", (), lambda p: f"cell_lat/cell_lon {p}"),
}
BAD_XY = [(("abc", "51.5"), "are not numbers"), (("-20.0", "91.5"), "outside Great Britain"),
          (("51.5", "0.7"), "outside Great Britain"), (("", ""), "are blank")]


@pytest.mark.parametrize(("xy", "problem"), BAD_XY,
                         ids=["not-numbers", "outside", "swapped", "blank"])
@pytest.mark.parametrize("name", list(COORDS))
def test_bad_coordinates_are_rejected_with_the_reason(tmp_path: Path, name: str,
                                                      xy: tuple[str, str], problem: str) -> None:
    x, y, others, reason = COORDS[name]
    records = real_records(name)
    header = records[0]
    row = records[2]
    row[header.index(x)], row[header.index(y)] = xy
    for col in others:  # the other columns that could place the row
        row[header.index(col)] = xy[0] if col == "Easting" else xy[1] if col == "Northing" else ""
    if name == "naptan" and problem == "outside Great Britain":
        row[header.index("Easting")], row[header.index("Northing")] = "-5", "2000000"
    _, run = read(name, tmp_path, as_bytes(records))
    result = accounted(run())
    if name == "contacts" and problem == "are blank":  # a cell site is optional
        assert result.rows_rejected == 0
        return
    assert result.rejects[["line", "reason"]].values.tolist() == [[3, reason(problem)]]


# ------------------------------------------------------------------ boundaries (GeoJSON)

def _boundary_doc() -> dict:
    mirror = Settings().resolved_mirror()
    path = mirror / "boundaries" / "lsoa11" / "E06000033.geojson" if mirror else None
    if path is None or not path.is_file():
        pytest.skip("no open-data mirror")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["features"] = doc["features"][:3]
    return doc


def _geojson(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _name_latin1(doc: dict) -> bytes:
    doc["features"][1]["properties"]["LSOA11NM"] = "Southend caf\xe9"
    return json.dumps(doc, ensure_ascii=False).encode("latin-1")


def _code_renamed(doc: dict) -> bytes:
    for f in doc["features"]:
        f["properties"]["CODE"] = f["properties"].pop("LSOA11CD")
    return _geojson(doc)


BOUNDARY_ERRORS: list[tuple[str, Callable[[dict], bytes], str]] = [
    ("empty", lambda doc: b"", "is empty"),
    ("truncated", lambda doc: _geojson(doc)[: len(_geojson(doc)) // 2], "cannot be read as"),
    ("latin-1", _name_latin1, r"has attribute text that is not UTF-8 \(byte 0xe9\)"),
    ("no-features", lambda doc: b'{"type": "FeatureCollection", "features": []}',
     "has no features"),
    ("missing-code", _code_renamed, "has no boundary code column"),
]


@pytest.mark.parametrize(("case", "make", "problem"), BOUNDARY_ERRORS,
                         ids=[c[0] for c in BOUNDARY_ERRORS])
def test_broken_boundary_file_is_one_clear_error(tmp_path: Path, case: str,
                                                 make: Callable[[dict], bytes],
                                                 problem: str) -> None:
    path = tmp_path / "b.geojson"
    path.write_bytes(make(_boundary_doc()))
    with pytest.raises(DataFileError, match=problem) as info:
        read_boundaries(path)
    assert info.value.path == str(path)


def _swap(coords: list) -> list:
    return [_swap(c) for c in coords] if isinstance(coords[0], list) else coords[::-1]


@pytest.mark.parametrize(("case", "reason"), [
    ("swapped", "geometry lies wholly outside Great Britain (wrong CRS, or longitude and "
                "latitude swapped?)"),
    ("null", "geometry is null or empty"),
    ("point", "geometry is a Point, not a polygon"),
])
def test_bad_boundary_coordinates_reject_that_feature(tmp_path: Path, case: str,
                                                      reason: str) -> None:
    doc = _boundary_doc()
    feature = doc["features"][1]
    if case == "swapped":
        feature["geometry"]["coordinates"] = _swap(feature["geometry"]["coordinates"])
    elif case == "null":
        feature["geometry"] = None
    else:
        feature["geometry"] = {"type": "Point", "coordinates": [0.7, 51.5]}
    path = tmp_path / "b.geojson"
    path.write_bytes(_geojson(doc))
    result = accounted(read_boundaries(path))
    assert result.rejects[["line", "reason"]].values.tolist() == [[2, reason]]
    assert result.rows_accepted == 2
