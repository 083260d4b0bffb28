"""Readers for small-area population: Census counts and population-weighted centroids.

:func:`read_population` reads Census usual residents per LSOA (the Census 2011 LSOA table
of the open-data mirror, or the ONS Census 2021 TS001 table); :func:`read_centroids` reads
the ONS population-weighted centroids (longitude/latitude or BNG x/y).

Examples
--------
>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "ts001.csv")
>>> _ = open(p, "w").write(
...     "date,geography,geography code,Residence type: Total; measures: Value\\n"
...     "2021,Southend-on-Sea 006C,E01015871,1617\\n")
>>> r = read_population(p)
>>> r.data.loc[0, "lsoa_code"], int(r.data.loc[0, "population"]), r.data.loc[0, "vintage"]
('E01015871', 1617, '2021')
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geointel.errors import DataFileError
from geointel.io._geo import BNG, WGS84, bng_problems, lonlat_problems, points_bng
from geointel.io._table import (
    FILE,
    LINE,
    ReadResult,
    RejectLog,
    describe_header,
    finish,
    read_csv_rows,
)

log = logging.getLogger(__name__)

POPULATION_KIND = ("Census LSOA population table (Census 2011 LSOA table or Census 2021 "
                   "TS001)")
CENTROIDS_KIND = "ONS LSOA population-weighted centroids CSV"

#: Census 2011 table columns -> output columns.
CENSUS2011 = {
    "lsoa11_code": "lsoa_code",
    "lsoa11_name": "lsoa_name",
    "msoa11_code": "msoa_code",
    "msoa11_name": "msoa_name",
    "lad_code": "lad_code",
    "lad_name": "lad_name",
    "usual_residents": "population",
    "households": "households",
    "area_hectares": "area_hectares",
}
TS001_CODE = "geography code"
TS001_NAME = "geography"
TS001_TOTAL = "Residence type: Total; measures: Value"
POPULATION_COLUMNS = [*CENSUS2011.values(), "vintage", FILE, LINE]
CENTROID_COLUMNS = ["lsoa_code", "country", "easting", "northing", "geometry", FILE, LINE]

LSOA_EW = r"[EW]01\d{6}"
#: The largest count of people or households accepted (an LSOA has a few thousand; larger
#: is a typo, and would not fit int64).
MAX_WHOLE = 1_000_000_000
#: GSS codes (E, W, S, N + 8 digits) and the older Northern Ireland SOA codes (95AA01S1).
SMALL_AREA = r"[EWSN]\d{8}|95[A-Z]{2}\d{2}[A-Z]\d"
_CODE_HEADER = re.compile(r"^lsoa ?(11|21)? ?(?:code|cd)$")
_LON = {"longitude", "long", "lon"}
_LAT = {"latitude", "lat"}
_X = {"x", "easting", "bng e"}
_Y = {"y", "northing", "bng n"}


def _normalise(header: str) -> str:
    """Lower case, punctuation to spaces, runs of spaces to one.

    >>> _normalise("Residence type: Total; measures: Value"), _normalise("BNG_E")
    ('residence type total measures value', 'bng e')
    """
    return " ".join(re.sub(r"[^0-9a-z]+", " ", header.lower()).split())


def _whole(values: pd.Series) -> pd.Series:
    """True where ``values`` is a whole number from 0 to :data:`MAX_WHOLE`."""
    x = pd.to_numeric(values, errors="coerce")
    return x.notna() & x.between(0, MAX_WHOLE) & x.mod(1).eq(0)


def _by_key(headers: list[str]) -> dict[str, str]:
    return {_normalise(h): h for h in headers}


def _take_duplicates(frame: pd.DataFrame, column: str, rejects: RejectLog,
                     what: str) -> pd.DataFrame:
    """Reject later rows whose ``column`` repeats an earlier one, naming its line."""
    codes = frame[column]
    repeat = codes.duplicated(keep="first")
    if not repeat.any():
        return frame
    first = frame.loc[~repeat].set_index(column)[LINE]
    return rejects.take(frame, repeat, f"{what} already on line " + codes.map(first).astype(str))


def _census2011(frame: pd.DataFrame, rejects: RejectLog) -> pd.DataFrame:
    text = {out: frame[col].astype("str").str.strip() for col, out in CENSUS2011.items()}
    frame = frame[[FILE, LINE]].assign(**text)
    frame = rejects.take(frame, ~frame["lsoa_code"].str.fullmatch(LSOA_EW),
                         "'lsoa11_code' is not an England or Wales LSOA code "
                         "(E01 or W01 and 6 digits)")
    frame = rejects.take(frame, ~_whole(frame["population"]),
                         "'usual_residents' is not a whole number of people")
    frame = rejects.take(frame, ~_whole(frame["households"]),
                         "'households' is not a whole number")
    area = pd.to_numeric(frame["area_hectares"], errors="coerce")
    frame = rejects.take(frame, ~area.gt(0), "'area_hectares' is not a number above 0")
    frame = _take_duplicates(frame, "lsoa_code", rejects, "'lsoa11_code'")
    out = frame[list(CENSUS2011.values())].copy()
    for name in ("lsoa_name", "msoa_code", "msoa_name", "lad_code", "lad_name"):
        out[name] = out[name].mask(out[name].eq(""))
    out["population"] = pd.to_numeric(out["population"]).astype("int64")
    out["households"] = pd.to_numeric(out["households"]).astype("Int64")
    out["area_hectares"] = pd.to_numeric(out["area_hectares"]).astype("float64")
    out["vintage"] = "2011"
    return out.assign(**{FILE: frame[FILE], LINE: frame[LINE]})


def _ts001(frame: pd.DataFrame, rejects: RejectLog, columns: dict[str, str]) -> pd.DataFrame:
    code, total = columns[TS001_CODE], columns[_normalise(TS001_TOTAL)]
    name = columns.get(TS001_NAME)
    frame = frame[[FILE, LINE]].assign(
        lsoa_code=frame[code].astype("str").str.strip(),
        lsoa_name=(frame[name].astype("str").str.strip() if name is not None else ""),
        population=frame[total].astype("str").str.strip(),
    )
    frame = rejects.take(frame, ~frame["lsoa_code"].str.fullmatch(LSOA_EW),
                         f"{code!r} is not an England or Wales LSOA code (E01 or W01 and "
                         "6 digits; download the LSOA level of TS001)")
    frame = rejects.take(frame, ~_whole(frame["population"]),
                         f"{total!r} is not a whole number of people")
    frame = _take_duplicates(frame, "lsoa_code", rejects, repr(code))
    missing_text = pd.Series(np.nan, index=frame.index, dtype="str")
    return pd.DataFrame({
        "lsoa_code": frame["lsoa_code"],
        "lsoa_name": frame["lsoa_name"].mask(frame["lsoa_name"].eq("")).astype("str"),
        "msoa_code": missing_text, "msoa_name": missing_text,
        "lad_code": missing_text, "lad_name": missing_text,
        "population": pd.to_numeric(frame["population"]).astype("int64"),
        "households": pd.Series(pd.NA, index=frame.index, dtype="Int64"),
        "area_hectares": np.nan,
        "vintage": "2021",
        FILE: frame[FILE],
        LINE: frame[LINE],
    }, index=frame.index)


def read_population(path: str | Path) -> ReadResult:
    """Read Census usual residents per LSOA.

    Parameters
    ----------
    path
        The Census 2011 LSOA table (``lsoa11_code``, ``usual_residents``, ``households``,
        ``area_hectares`` ...) or an ONS Census 2021 TS001 table at LSOA level
        (``geography code``, ``Residence type: Total; measures: Value``).

    Returns
    -------
    ReadResult
        ``data`` has ``lsoa_code, lsoa_name, msoa_code, msoa_name, lad_code, lad_name,
        population`` (int64), ``households`` (nullable Int64: number of households; missing
        for TS001, which has none), ``area_hectares`` (float, NaN for TS001), ``vintage``
        (``'2011'`` or ``'2021'``, the LSOA codes' vintage), ``_file``, ``_line``.
        Rejected: codes that are not England/Wales LSOA codes, counts that are not whole
        numbers from 0 to 1,000,000,000, areas not above 0, and repeated codes (naming the
        first line).

    Raises
    ------
    DataFileError
        The file cannot be read or is neither of the two shapes.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "pop.csv")
    >>> _ = open(p, "w").write(
    ...     "lad_code,lad_name,msoa11_code,msoa11_name,lsoa11_code,lsoa11_name,"
    ...     "usual_residents,households,area_hectares\\n"
    ...     "E06000033,Southend-on-Sea UA,E02003284,Southend-on-Sea 006,E01015871,"
    ...     "Southend-on-Sea 006C,1617,657,74\\n"
    ...     "E06000033,Southend-on-Sea UA,E02003284,Southend-on-Sea 006,E01015871,"
    ...     "Southend-on-Sea 006C,1617,657,74\\n")
    >>> r = read_population(p)
    >>> int(r.data.loc[0, "households"]), r.rejects["reason"].tolist()
    (657, ["'lsoa11_code' already on line 2"])
    """
    path = Path(path)
    frame, rejects, rows_read = read_csv_rows(path, required=[], kind=POPULATION_KIND)
    headers = [h for h in frame.columns if h not in (FILE, LINE)]
    columns = _by_key(headers)
    if "lsoa11_code" in headers:
        missing = [c for c in CENSUS2011 if c not in headers]
        if missing:
            raise DataFileError(path, f"has no column {', '.join(map(repr, missing))}",
                                fix="a Census 2011 LSOA population table needs the columns "
                                    f"{', '.join(CENSUS2011)}")
        data = _census2011(frame, rejects)
    elif TS001_CODE in columns and _normalise(TS001_TOTAL) in columns:
        data = _ts001(frame, rejects, columns)
    else:
        raise DataFileError(
            path, f"is not a {POPULATION_KIND} ({describe_header(headers)})",
            fix="use the Census 2011 LSOA table (lsoa11_code, usual_residents, households, "
                f"area_hectares ...) or Census 2021 TS001 at LSOA level ({TS001_CODE!r}, "
                f"{TS001_TOTAL!r})")
    data = data[POPULATION_COLUMNS]
    data["vintage"] = data["vintage"].astype("str")
    data[FILE] = data[FILE].astype("str")
    result = finish(data, rejects, rows_read, path)
    log.info("read population of %d LSOAs from %s (%d rejected)", result.rows_accepted,
             path, result.rows_rejected)
    return result


def _centroid_columns(path: Path, headers: list[str]) -> tuple[str, str, str, str]:
    """The code column, x and y columns and their CRS."""
    codes = [h for h in headers if _CODE_HEADER.match(_normalise(h))]
    dated = [h for h in codes if re.search(r"(11|21)", h)]
    chosen = dated if dated else codes
    if len(chosen) != 1:
        problem = ("has no LSOA code column" if not chosen
                   else f"has several LSOA code columns ({', '.join(map(repr, chosen))})")
        raise DataFileError(path, problem,
                            fix="the code column should be 'lsoa11cd', 'lsoa21cd' or 'LSOACD'")
    keys = _by_key(headers)
    x = next((keys[k] for k in keys if k in _X), None)
    y = next((keys[k] for k in keys if k in _Y), None)
    if x is not None and y is not None:
        return chosen[0], x, y, BNG
    lon = next((keys[k] for k in keys if k in _LON), None)
    lat = next((keys[k] for k in keys if k in _LAT), None)
    if lon is not None and lat is not None:
        return chosen[0], lon, lat, WGS84
    raise DataFileError(path, "has no coordinate columns (x/y in metres or longitude/latitude)",
                        fix=f"check that this is an {CENTROIDS_KIND}")


def read_centroids(path: str | Path) -> ReadResult:
    """Read ONS population-weighted centroids of small areas as BNG points.

    Parameters
    ----------
    path
        A CSV with an LSOA code column (``lsoa11cd``, ``lsoa21cd`` or ``LSOACD``; a
        vintage-named column wins when there are several) and either BNG ``x``/``y``
        (``easting``/``northing``) or ``longitude``/``latitude``; BNG is used when both
        are present.

    Returns
    -------
    ReadResult
        ``data`` is a GeoDataFrame in EPSG:27700 with ``lsoa_code``, ``country``
        (``'E'``, ``'W'``, ``'S'`` or ``'N'``, from the code), ``easting``, ``northing``,
        ``geometry``, ``_file``, ``_line``. Scottish data zones and Northern Irish areas
        (GSS ``N...`` and old ``95..`` SOA codes) are kept. Rejected: malformed codes,
        coordinates that are not numbers or lie outside Great Britain and its waters, and
        repeated codes (naming the first line).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "pwc.csv")
    >>> _ = open(p, "w").write("lsoa11cd,x,y\\nE01015871,588030,186100\\nS01007182,x,1\\n")
    >>> r = read_centroids(p)
    >>> r.data.loc[0, "country"], float(r.data.loc[0, "easting"]), r.rows_rejected
    ('E', 588030.0, 1)
    """
    path = Path(path)
    frame, rejects, rows_read = read_csv_rows(path, required=[], kind=CENTROIDS_KIND)
    headers = [h for h in frame.columns if h not in (FILE, LINE)]
    code, x, y, crs = _centroid_columns(path, headers)
    frame = frame[[FILE, LINE]].assign(
        lsoa_code=frame[code].astype("str").str.strip(),
        x=frame[x].astype("str").str.strip(),
        y=frame[y].astype("str").str.strip(),
    )
    frame = rejects.take(frame, ~frame["lsoa_code"].str.fullmatch(SMALL_AREA),
                         f"{code!r} is not a small-area code (e.g. E01000001, S01006506, "
                         "N20000001, 95AA01S1)")
    problems = (bng_problems if crs == BNG else lonlat_problems)(frame["x"], frame["y"])
    problems = problems.str.replace(
        "easting/northing" if crs == BNG else "longitude/latitude", f"{x}/{y}", regex=False)
    frame = rejects.take(frame, problems.ne(""), problems)
    frame = _take_duplicates(frame, "lsoa_code", rejects, repr(code))
    country = frame["lsoa_code"].str[0].where(~frame["lsoa_code"].str.startswith("95"), "N")
    frame = frame.assign(country=country, **{FILE: frame[FILE].astype("str")})
    geo: gpd.GeoDataFrame = points_bng(frame, "x", "y", crs=crs)
    result = finish(geo[CENTROID_COLUMNS], rejects, rows_read, path)
    log.info("read %d centroids from %s (%d rejected)", result.rows_accepted, path,
             result.rows_rejected)
    return result
