"""Reader for data.police.uk street-level crime files (the standard 12-column CSV).

Many months and forces are read together; every row ends up accepted or rejected (with
file, line and reason). Choosing crime types is an analysis step on the accepted rows,
:func:`select_crime_types`, so the reader's accounting is the plain contract.

Rows are rejected for: no location (police.uk "No Location" rows, blank Longitude and
Latitude), coordinates that are not numbers or lie outside Great Britain, a Month not in
``YYYY-MM`` form, a blank Crime type, and a non-blank Crime ID already seen in an earlier
row of the files read together (the later copy is rejected, naming the first file:line).
A blank Crime ID is normal for anti-social behaviour and is accepted.

Examples
--------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
...           "LSOA code,LSOA name,Crime type,Last outcome category,Context\\n")
>>> rows = ("a1,2019-01,Essex Police,Essex Police,0.71,51.54,On or near X,E01015871,"
...         "Southend-on-Sea 006C,Drugs,Under investigation,\\n"
...         ",2019-01,Essex Police,Essex Police,,,No Location,,,Anti-social behaviour,,\\n")
>>> _ = open(os.path.join(d, "2019-01-essex-street.csv"), "w").write(header + rows)
>>> result = read_police_uk(d)
>>> result.rows_read, result.rows_accepted, result.rejects["reason"].str[:11].tolist()
(2, 1, ['no location'])
>>> round(float(result.data["easting"].iloc[0]))
588030
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geointel._progress import Progress, report
from geointel.errors import DataFileError, ValidationError
from geointel.io._geo import WGS84, lonlat_problems, points_bng
from geointel.io._table import FILE, LINE, ReadResult, RejectLog, read_csv_rows

log = logging.getLogger(__name__)

KIND = "police.uk street-level crime file"
PATTERN = "*-street.csv"

#: The 12 columns of a police.uk street-level file and the names the reader gives them.
COLUMNS = {
    "Crime ID": "crime_id",
    "Month": "month",
    "Reported by": "reported_by",
    "Falls within": "falls_within",
    "Longitude": "longitude",
    "Latitude": "latitude",
    "Location": "location",
    "LSOA code": "lsoa_code",
    "LSOA name": "lsoa_name",
    "Crime type": "crime_type",
    "Last outcome category": "last_outcome",
    "Context": "context",
}
OUTPUT_COLUMNS = [*COLUMNS.values(), "easting", "northing", "geometry", FILE, LINE]

#: police.uk crime categories, current and legacy, for checking ``crime_types``.
CRIME_TYPES = (
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson",
    "Drugs", "Other crime", "Other theft", "Possession of weapons", "Public order",
    "Robbery", "Shoplifting", "Theft from the person", "Vehicle crime",
    "Violence and sexual offences",
    # legacy categories found in older archives
    "Violent crime", "Public disorder and weapons",
)
DRUGS = "Drugs"

_MONTH = r"\d{4}-(?:0[1-9]|1[0-2])"
NO_LOCATION = "no location: Longitude and Latitude are blank (a police.uk 'No Location' row)"


def _expand(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Files to read: a directory gives its ``*-street.csv`` files, sorted; order kept."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise ValidationError(
            "read_police_uk: paths is empty; give a police.uk CSV file, a list of them, "
            "or a directory holding '*-street.csv' files")
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob(PATTERN))
            if not found:
                raise DataFileError(path, f"holds no police.uk '{PATTERN}' files",
                                    fix="point at the folder the police.uk archive unzipped "
                                        "into (e.g. police_uk/2019-01), or at the CSV files")
            files.extend(found)
        else:
            files.append(path)
    unique = list(dict.fromkeys(files))
    if len(unique) < len(files):
        log.warning("read_police_uk: %d file(s) given more than once were read once",
                    len(files) - len(unique))
    return unique


def _check_crime_types(crime_types: Collection[str]) -> tuple[str, ...]:
    if isinstance(crime_types, str):
        raise ValidationError(
            f"crime_types must be a collection of names, not the string {crime_types!r}; "
            f"write crime_types=[{crime_types!r}]")
    known = {t.casefold(): t for t in CRIME_TYPES}
    unknown = [t for t in crime_types if t.strip().casefold() not in known]
    if unknown:
        raise ValidationError(
            f"crime_types has unknown police.uk crime type(s) {', '.join(map(repr, unknown))}; "
            f"known types are: {', '.join(CRIME_TYPES)}")
    return tuple(dict.fromkeys(known[t.strip().casefold()] for t in crime_types))


def _validate(frame: pd.DataFrame, rejects: RejectLog) -> pd.DataFrame:
    """Apply the row rules in order; each rejected row gets the first rule it breaks.

    ``frame`` holds the 12 columns as stripped text (blank = ``""``).
    """
    frame = rejects.take(frame, frame["Longitude"].eq("") & frame["Latitude"].eq(""),
                         NO_LOCATION)

    problems = lonlat_problems(frame["Longitude"], frame["Latitude"])
    frame = rejects.take(frame, problems.ne(""), problems)

    frame = rejects.take(frame, ~frame["Month"].str.fullmatch(_MONTH),
                         "Month is not a month written YYYY-MM")

    frame = rejects.take(frame, frame["Crime type"].eq(""), "Crime type is blank")

    ids = frame["Crime ID"]
    given = ids.ne("")
    repeat = given & ids.duplicated(keep="first")
    if repeat.any():
        firsts = ~repeat & given & ids.isin(ids[repeat])
        where = (frame.loc[firsts, FILE].astype(str) + ":"
                 + frame.loc[firsts, LINE].astype(str))
        first_at = pd.Series(where.to_numpy(), index=ids[firsts].to_numpy())
        reason = "duplicate Crime ID, first seen at " + ids.map(first_at).fillna("")
        frame = rejects.take(frame, repeat, reason)
    return frame


def _tidy(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Rename, type and project the accepted rows."""
    out = pd.DataFrame({COLUMNS[c]: frame[c].mask(frame[c].eq("")) for c in COLUMNS})
    out["longitude"] = pd.to_numeric(out["longitude"]).astype(float)
    out["latitude"] = pd.to_numeric(out["latitude"]).astype(float)
    out[FILE] = frame[FILE].astype("str").to_numpy()
    out[LINE] = frame[LINE].astype("int64").to_numpy()
    geo = points_bng(out, "longitude", "latitude", crs=WGS84)
    return geo[OUTPUT_COLUMNS].reset_index(drop=True)


def read_police_uk(
    paths: str | Path | Iterable[str | Path],
    *,
    progress: Progress | None = None,
) -> ReadResult:
    """Read police.uk street-level crime CSVs (many months and forces at once).

    Parameters
    ----------
    paths
        A CSV file, a directory (every ``*-street.csv`` in it, sorted by name), or several
        of either. Crime IDs are checked for duplicates across all files read together.
    progress
        Called as ``progress(done, total, message)`` after each file.

    Returns
    -------
    ReadResult
        ``data`` is a GeoDataFrame in EPSG:27700 with columns ``crime_id, month
        ('YYYY-MM'), reported_by, falls_within, longitude, latitude, location, lsoa_code,
        lsoa_name, crime_type, last_outcome, context, easting, northing, geometry, _file,
        _line``; blank text fields are missing values (e.g. ``crime_id`` of anti-social
        behaviour).

    Raises
    ------
    DataFileError
        A file is missing, empty, not a UTF-8 CSV, or lacks one of the 12 columns.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "2019-01-essex-street.csv")
    >>> _ = open(p, "w").write(
    ...     "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
    ...     "LSOA name,Crime type,Last outcome category,Context\\n"
    ...     "a1,2019-01,Essex Police,Essex Police,0.71,51.54,On or near X,,,Drugs,,\\n"
    ...     "b2,2019-01,Essex Police,Essex Police,0.72,51.55,On or near Y,,,Burglary,,\\n")
    >>> r = read_police_uk(p)
    >>> r.rows_read, r.rows_accepted, r.rows_rejected
    (2, 2, 0)
    """
    files = _expand(paths)
    total = len(files) + 1
    frames: list[pd.DataFrame] = []
    rejects = RejectLog()
    rows_read = 0
    for done, path in enumerate(files, start=1):
        frame, file_rejects, n = read_csv_rows(path, required=list(COLUMNS), kind=KIND)
        for (file, reason), part in file_rejects.frame().groupby(["file", "reason"], sort=False):
            rejects.add(str(file), part["line"].tolist(), str(reason))
        frames.append(frame[[*COLUMNS, FILE, LINE]])
        rows_read += n
        report(progress, done, total, f"read {path.name}")
    combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    # Arrow-backed text makes the string work vectorised (object columns loop in Python).
    text = {c: combined[c].astype("str").str.strip() for c in COLUMNS}
    combined = combined[[FILE, LINE]].assign(**text)
    accepted = _validate(combined, rejects)
    data = _tidy(accepted)
    report(progress, total, total, "validated")
    result = ReadResult(data=data, rejects=rejects.frame(), rows_read=rows_read,
                              sources=tuple(str(p) for p in files))
    log.info("read %d police.uk rows from %d file(s): %d accepted, %d rejected",
             rows_read, len(files), result.rows_accepted, result.rows_rejected)
    return result


def select_crime_types(offences: pd.DataFrame, crime_types: Collection[str]) -> pd.DataFrame:
    """The rows of ``offences`` whose ``crime_type`` is one of ``crime_types``.

    Names are matched case-insensitively against the police.uk categories; an unknown
    name is a :class:`~geointel.errors.ValidationError` (so a typo cannot silently count
    nothing). ``offences`` is not modified.

    Examples
    --------
    >>> frame = pd.DataFrame({"crime_type": ["Drugs", "Burglary", "Drugs"]})
    >>> len(select_crime_types(frame, [" drugs "]))
    2
    """
    kept = _check_crime_types(crime_types)
    return offences.loc[offences["crime_type"].isin(kept)].reset_index(drop=True)
