"""Reader for data.police.uk street-level crime files (the standard 12-column CSV).

Many months and forces are read together; every row ends up accepted, rejected (with
file, line and reason) or — only when ``crime_types`` is given — counted as filtered.

Rows are rejected for: no location (police.uk "No Location" rows, blank Longitude and
Latitude), coordinates that are not numbers or lie outside Great Britain, a Month not in
``YYYY-MM`` form, a blank Crime type, and a non-blank Crime ID already seen in an earlier
row of the files read together (the later copy is rejected, naming the first file:line).
A blank Crime ID is normal for anti-social behaviour and is accepted.

How the ``crime_types`` filter is accounted for
-----------------------------------------------
Every row of every file is read and validated first, so ``rows_read`` always counts every
data row and ``rejects`` holds every invalid row whatever its type. Valid rows of other
types are then dropped from ``data`` and counted in ``rows_filtered`` of the returned
:class:`PoliceReadResult`, so that ``rows_read == rows_accepted + rows_rejected +
rows_filtered`` (with ``rows_filtered == 0`` when no filter is asked for, this is the
plain reader contract). :func:`filter_crime_types` and :func:`drug_offences` apply the same
scheme to a result already read.

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
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geointel._progress import Progress, report
from geointel.errors import DataFileError, GeointelError, ValidationError
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


@dataclass(frozen=True)
class PoliceReadResult(ReadResult):
    """A :class:`ReadResult` that may also have filtered rows out by crime type.

    Attributes
    ----------
    rows_filtered
        Valid rows left out because their crime type was not asked for.
    crime_types
        The crime types kept, or ``None`` for all.

    Notes
    -----
    ``rows_read == rows_accepted + rows_rejected + rows_filtered``. Read all files of one
    analysis in one call: :func:`~geointel.io._table.concat_results` knows nothing of
    filtered rows and refuses filtered results.

    Examples
    --------
    >>> from geointel.io._table import empty_rejects
    >>> r = PoliceReadResult(pd.DataFrame({"a": [1]}), empty_rejects(), 3, rows_filtered=2,
    ...                      crime_types=("Drugs",))
    >>> r.summary()["rows_filtered"], r.summary()["crime_types"]
    (2, ['Drugs'])
    """

    rows_filtered: int = 0
    crime_types: tuple[str, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        accounted = len(self.data) + len(self.rejects) + self.rows_filtered
        if self.rows_read != accounted:
            raise GeointelError(
                f"internal accounting error reading {', '.join(self.sources)}: "
                f"{self.rows_read} rows read but {len(self.data)} accepted + "
                f"{len(self.rejects)} rejected + {self.rows_filtered} filtered; "
                "please report this as a bug"
            )

    def summary(self) -> dict[str, object]:
        """The reader summary plus ``rows_filtered`` and the ``crime_types`` kept."""
        out = super().summary()
        out["rows_filtered"] = self.rows_filtered
        out["crime_types"] = list(self.crime_types) if self.crime_types is not None else "all"
        return out


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
    crime_types: Collection[str] | None = None,
    progress: Progress | None = None,
) -> PoliceReadResult:
    """Read police.uk street-level crime CSVs (many months and forces at once).

    Parameters
    ----------
    paths
        A CSV file, a directory (every ``*-street.csv`` in it, sorted by name), or several
        of either. Crime IDs are checked for duplicates across all files read together.
    crime_types
        Keep only these police.uk crime types (e.g. ``["Drugs"]``); ``None`` keeps all.
        Valid rows of other types are counted in ``rows_filtered``, not rejected (see the
        module notes). Unknown type names raise :class:`~geointel.errors.ValidationError`.
    progress
        Called as ``progress(done, total, message)`` after each file.

    Returns
    -------
    PoliceReadResult
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
    >>> r = read_police_uk(p, crime_types=["Drugs"])
    >>> r.rows_read, r.rows_accepted, r.rows_rejected, r.rows_filtered
    (2, 1, 0, 1)
    """
    kept = _check_crime_types(crime_types) if crime_types is not None else None
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
    result = PoliceReadResult(data=data, rejects=rejects.frame(), rows_read=rows_read,
                              sources=tuple(str(p) for p in files))
    log.info("read %d police.uk rows from %d file(s): %d accepted, %d rejected",
             rows_read, len(files), result.rows_accepted, result.rows_rejected)
    return filter_crime_types(result, kept) if kept is not None else result


def filter_crime_types(result: ReadResult, crime_types: Collection[str]) -> PoliceReadResult:
    """Keep only the accepted rows of ``crime_types``, counting the others as filtered.

    ``rows_read`` and ``rejects`` are unchanged; the rows dropped are added to
    ``rows_filtered``. Filtering an already filtered result narrows it further.

    Examples
    --------
    >>> from geointel.io._table import empty_rejects
    >>> r = PoliceReadResult(pd.DataFrame({"crime_type": ["Drugs", "Burglary"]}),
    ...                      empty_rejects(), 2)
    >>> f = filter_crime_types(r, ["Drugs"])
    >>> f.rows_accepted, f.rows_filtered, f.summary()["crime_types"]
    (1, 1, ['Drugs'])
    """
    kept = _check_crime_types(crime_types)
    before: tuple[str, ...] | None = getattr(result, "crime_types", None)
    if before is not None:
        kept = tuple(t for t in kept if t in before)
    keep = result.data["crime_type"].isin(kept).to_numpy()
    return PoliceReadResult(
        data=result.data.loc[keep].reset_index(drop=True),
        rejects=result.rejects,
        rows_read=result.rows_read,
        sources=result.sources,
        rows_filtered=getattr(result, "rows_filtered", 0) + int((~keep).sum()),
        crime_types=kept,
    )


def drug_offences(result: ReadResult) -> PoliceReadResult:
    """The police.uk ``Drugs`` offences of ``result`` (others counted as filtered).

    Examples
    --------
    >>> from geointel.io._table import empty_rejects
    >>> r = PoliceReadResult(pd.DataFrame({"crime_type": ["Drugs", "Robbery", "Drugs"]}),
    ...                      empty_rejects(), 3)
    >>> drug_offences(r).rows_accepted
    2
    """
    return filter_crime_types(result, [DRUGS])
