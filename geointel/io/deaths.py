"""The drug-related deaths and incidents register partners keep.

The CSV schema (also in ``docs/schemas.md``); UTF-8, header on line 1, any column order:

=================  ========  ==========================================================
column             needed    meaning
=================  ========  ==========================================================
``record_id``      yes       unique identifier of the record
``date``           yes       ``yyyy-mm-dd``, or ``yyyy-mm`` when only the month is known
``lsoa_code``      a place   LSOA code (2011 or 2021), ``E01`` or ``W01`` + 6 digits
``latitude``,      a place   WGS84 degrees
``longitude``
``easting``,       a place   British National Grid metres (used first when both given)
``northing``
``count``          no        whole number >= 1 of people in the record; blank = 1
``category``       no        e.g. ``death``, ``non_fatal_overdose``; blank = ``death``;
                             stored lower case with spaces and hyphens as ``_``
``substance``      no        free text, e.g. ``heroin``, ``cocaine``; kept verbatim
=================  ========  ==========================================================

At least one of the place columns must exist, and each row needs a usable place: an LSOA
code of the right form or usable coordinates. A row with usable coordinates keeps them
even if its LSOA code is malformed (the code is then blanked and a warning logged); a row
with only an LSOA code gets no geometry (``None``) and NaN easting/northing.

Output columns: ``record_id, date`` (datetime64; the 1st for a month-only date), ``month``
(``yyyy-mm``), ``lsoa_code, count`` (int64), ``category, substance, easting, northing,
geometry`` (points or None, EPSG:27700), ``_file, _line``.

Rejected rows: blank ``record_id``, no usable location, an unreadable date, a date in the
future, a count that is not a whole number >= 1 (``inf`` is not) or is more than 1,000,000,
a duplicate ``record_id``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geointel.errors import DataFileError
from geointel.io._geo import BNG, locate_bng, with_points
from geointel.io._table import FILE, LINE, ReadResult, read_csv_rows

log = logging.getLogger(__name__)

KIND = "deaths/incidents register CSV"
COLUMNS = ["record_id", "date", "month", "lsoa_code", "count", "category", "substance",
           "easting", "northing", "geometry", FILE, LINE]
LSOA_CODE = re.compile(r"^[EW]01\d{6}$")
_PLACE_COLUMNS = ("lsoa_code", "latitude", "longitude", "easting", "northing")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
#: The largest count accepted: more people than this in one record is a typo or a shifted
#: column (and larger numbers would not survive the conversion to int64 exactly).
MAX_COUNT = 1_000_000


def _parse_dates(text: pd.Series) -> pd.Series:
    """Datetimes for ``yyyy-mm-dd`` or ``yyyy-mm`` text, NaT where unreadable."""
    full = text.where(text.str.match(_DAY), None)
    month = text.where(text.str.match(_MONTH), None)
    days = pd.to_datetime(full, format="%Y-%m-%d", errors="coerce")
    months = pd.to_datetime(month, format="%Y-%m", errors="coerce")
    return days.fillna(months)


def read_deaths(path: str | Path, *, today: dt.date | None = None) -> ReadResult:
    """Read a deaths/incidents register (schema in the module docstring).

    Parameters
    ----------
    path
        The register CSV.
    today
        Dates after this are rejected as in the future (default: today's date). A
        month-only date is in the future when its month is after this one's.

    Returns
    -------
    ReadResult
        ``data`` has ``record_id, date, month, lsoa_code, count, category, substance,
        easting, northing, geometry, _file, _line``.

    Raises
    ------
    DataFileError
        Missing or unreadable file, no ``record_id``/``date`` column, or no place column.

    Examples
    --------
    >>> import tempfile, os, datetime
    >>> p = os.path.join(tempfile.mkdtemp(), "deaths.csv")
    >>> _ = open(p, "w").write("record_id,date,lsoa_code,count\\n"
    ...                        "D1,2023-04,E01015814,\\nD2,2031-01-02,E01015814,1\\n")
    >>> r = read_deaths(p, today=datetime.date(2024, 1, 1))
    >>> r.data[["record_id", "month", "count", "category"]].values.tolist()
    [['D1', '2023-04', 1, 'death']]
    >>> r.rejects["reason"].tolist()
    ["date '2031-01-02' is in the future (after 2024-01-01)"]
    """
    path = Path(path)
    today = today or dt.date.today()
    frame, rejects, rows_read = read_csv_rows(path, required=["record_id", "date"], kind=KIND)
    has = set(frame.columns)
    if not has & set(_PLACE_COLUMNS):
        raise DataFileError(path, "has no location column",
                            fix="add lsoa_code, or latitude and longitude, or easting and "
                                "northing; see docs/schemas.md")
    frame = frame.assign(**{c: "" for c in ("lsoa_code", "count", "category", "substance")
                            if c not in has})
    frame = frame.assign(record_id=frame["record_id"].astype(str).str.strip(),
                         lsoa_code=frame["lsoa_code"].astype(str).str.strip().str.upper(),
                         date=frame["date"].astype(str).str.strip())
    frame = rejects.take(frame, frame["record_id"] == "", "record_id is blank")

    x, y, problems = locate_bng(frame)
    good_code = frame["lsoa_code"].str.match(LSOA_CODE)
    has_xy = problems == ""
    where = pd.Series("neither an LSOA code (E01/W01 + 6 digits) nor coordinates",
                      index=frame.index, dtype=object)
    code_problem = ("lsoa_code " + frame["lsoa_code"].map(repr)
                    + " is not E01/W01 + 6 digits").where(frame["lsoa_code"] != "",
                                                          "lsoa_code is blank")
    where = where + " (" + code_problem + "; " + problems + ")"
    frame = frame.assign(_x=x, _y=y)
    frame = rejects.take(frame, ~good_code & ~has_xy, "no usable location: " + where)
    given = pd.Series(False, index=frame.index)
    for column in ("latitude", "longitude", "easting", "northing"):
        if column in has:
            given |= frame[column].astype(str).str.strip() != ""
    unusable = given & ~has_xy[frame.index]
    if unusable.any():
        log.warning("%s: %d row(s) have unusable coordinates and are placed by LSOA code only "
                    "(lines %s)", path, int(unusable.sum()),
                    ", ".join(frame.loc[unusable, LINE].astype(str).head(10)))
    malformed = (frame["lsoa_code"] != "") & ~frame["lsoa_code"].str.match(LSOA_CODE)
    if malformed.any():
        log.warning("%s: blanked %d malformed lsoa_code value(s) on rows with coordinates "
                    "(lines %s)", path, int(malformed.sum()),
                    ", ".join(frame.loc[malformed, LINE].astype(str).head(10)))
        frame = frame.assign(lsoa_code=frame["lsoa_code"].where(~malformed, ""))

    dates = _parse_dates(frame["date"])
    frame = rejects.take(frame, dates.isna(), "date " + frame["date"].map(repr)
                         + " is not yyyy-mm-dd or yyyy-mm")
    dates = dates[frame.index]
    month_only = frame["date"].str.match(_MONTH)
    limit = pd.Timestamp(today)
    future = ((dates > limit) & ~month_only) | (
        month_only & (dates > pd.Timestamp(today.replace(day=1))))
    frame = rejects.take(frame, future, "date " + frame["date"].map(repr)
                         + f" is in the future (after {today.isoformat()})")
    dates = dates[frame.index]

    count_text = frame["count"].astype(str).str.strip()
    frame = frame.assign(count=count_text.where(count_text != "", "1"))
    count = pd.to_numeric(frame["count"], errors="coerce")
    whole = count.notna() & np.isfinite(count) & (count == count.round())
    frame = rejects.take(frame, ~(whole & (count >= 1)),
                         "count " + frame["count"].map(repr) + " is not a whole number >= 1")
    count = count[frame.index]
    frame = rejects.take(frame, count > MAX_COUNT, "count " + frame["count"].map(repr)
                         + f" is more than {MAX_COUNT:,} (a typo or a shifted column?)")
    count = count[frame.index]

    first = frame.groupby("record_id")[LINE].transform("first")
    frame = rejects.take(frame, frame["record_id"].duplicated(keep="first"),
                         "duplicate record_id " + frame["record_id"].map(repr)
                         + " (first on line " + first.astype(str) + ")")

    category = (frame["category"].astype(str).str.strip().str.lower()
                .str.replace(r"[\s\-]+", "_", regex=True))
    out = pd.DataFrame({
        "record_id": frame["record_id"],
        "date": dates[frame.index],
        "month": dates[frame.index].dt.strftime("%Y-%m"),
        "lsoa_code": frame["lsoa_code"],
        "count": count[frame.index].astype("int64"),
        "category": category.where(category != "", "death"),
        "substance": frame["substance"].astype(str),
        FILE: frame[FILE],
        LINE: frame[LINE],
    }, index=frame.index)
    geo = with_points(out, frame["_x"].to_numpy(dtype=float), frame["_y"].to_numpy(dtype=float))
    data = gpd.GeoDataFrame(geo[COLUMNS].reset_index(drop=True), geometry="geometry", crs=BNG)
    return ReadResult(data=data, rejects=rejects.frame(), rows_read=rows_read,
                      sources=(str(path),))
