"""The services register partners maintain: naloxone points, pharmacies, treatment sites.

The CSV schema (also in ``docs/schemas.md``); UTF-8, header on line 1, any column order:

=================  ========  ==========================================================
column             needed    meaning
=================  ========  ==========================================================
``service_id``     yes       unique identifier of the service (text)
``name``           yes       display name; untrusted text, kept verbatim
``kind``           yes       naloxone, pharmacy, treatment_hub, satellite or outreach
                             (case and spacing variants such as "Treatment hub",
                             "community pharmacy", "outreach team" are accepted)
``latitude``,      one pair  WGS84 degrees
``longitude``
``easting``,       one pair  British National Grid metres (used first when both given)
``northing``
``opening_hours``  no        OpenStreetMap ``opening_hours`` subset (see below);
                             blank = unknown
``capacity``       no        whole number >= 0 (e.g. clients per session); blank = unknown
``provider``       no        organisation running it
``postcode``       no        postcode
``notes``          no        free text; untrusted, kept verbatim
=================  ========  ==========================================================

Opening hours: rules separated by ``;`` (a later rule replaces the days it names) or by
``,`` after a time (an additional rule that adds hours). A rule is optional days
(``Mo``..``Su``, ranges ``Mo-Fr``, lists ``Mo,We``, wrapping ``Fr-Mo``) followed by time
ranges (``09:00-12:00,13:00-17:00``), ``off``/``closed``, or nothing (all day). No days
means every day. ``24/7`` is open always. A range ending at or before its start runs past
midnight and is split there (``Fr 22:00-02:00`` is Friday 22:00-24:00 and Saturday
00:00-02:00). Public-holiday rules (``PH ...``) are accepted and ignored, as holidays are
not modelled.

Output columns: ``service_id, name, kind, provider, postcode, capacity`` (Int64, NA when
unknown), ``opening_hours, notes, easting, northing, geometry`` (points, EPSG:27700),
``_file, _line``.

Rejected rows: blank ``service_id``, unknown ``kind``, no usable location, unreadable
opening hours, a capacity that is not a whole number (``inf`` is not), is negative or is
more than 1,000,000, a duplicate ``service_id``.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geointel.errors import DataFileError, ValidationError
from geointel.io._geo import BNG, locate_bng, with_points
from geointel.io._table import FILE, LINE, ReadResult, read_csv_rows

log = logging.getLogger(__name__)

KIND = "services register CSV"
KINDS = ("naloxone", "pharmacy", "treatment_hub", "satellite", "outreach")
COLUMNS = ["service_id", "name", "kind", "provider", "postcode", "capacity", "opening_hours",
           "notes", "easting", "northing", "geometry", FILE, LINE]
OPTIONAL = ("opening_hours", "capacity", "provider", "postcode", "notes")
#: The largest capacity accepted (larger is a typo, and would not fit the Int64 column).
MAX_CAPACITY = 1_000_000
_KIND_ALIASES: dict[str, str] = {
    **{k: k for k in KINDS},
    **dict.fromkeys(("naloxone_point", "naloxone_supply", "naloxone_site",
                     "take_home_naloxone", "thn"), "naloxone"),
    **dict.fromkeys(("community_pharmacy", "chemist", "pharmacist"), "pharmacy"),
    **dict.fromkeys(("hub", "treatment", "treatment_centre", "treatment_center",
                     "treatment_service"), "treatment_hub"),
    **dict.fromkeys(("satellite_clinic", "satellite_site", "satellite_service"), "satellite"),
    **dict.fromkeys(("outreach_team", "outreach_service", "outreach_van", "mobile_outreach"),
                    "outreach"),
}

DAY = 1440
WEEK = 7 * DAY
_DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
_D = r"(?:mo|tu|we|th|fr|sa|su)"
_DAYRANGE = rf"{_D}(?:\s*-\s*{_D})?"
_T = r"\d{1,2}:\d{2}"
_SPAN = rf"{_T}\s*-\s*{_T}"
_RULE = re.compile(
    rf"^(?:(?P<ph>ph)|(?P<days>{_DAYRANGE}(?:\s*,\s*{_DAYRANGE})*))?\s*"
    rf"(?P<what>{_SPAN}(?:\s*,\s*{_SPAN})*|off|closed)?$",
    re.IGNORECASE)
_ADDITIONAL = re.compile(r"(?<=[0-9fd])\s*,\s*(?=(?:mo|tu|we|th|fr|sa|su|ph)\b)", re.IGNORECASE)

Intervals = tuple[tuple[int, int, int], ...]


def normalise_kind(text: str) -> str | None:
    """The canonical service kind for ``text``, or None if it is not one.

    Examples
    --------
    >>> normalise_kind("Treatment hub"), normalise_kind(" NALOXONE "), normalise_kind("gym")
    ('treatment_hub', 'naloxone', None)
    """
    key = re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_")
    return _KIND_ALIASES.get(key)


def _minutes(text: str, hours: str) -> int:
    hh, mm = (int(v) for v in text.split(":"))
    if mm >= 60 or hh > 48:
        raise ValidationError(f"opening hours {hours!r}: {text!r} is not a time of day; "
                              "write times as HH:MM, e.g. 09:00-17:00")
    return hh * 60 + mm


def _days(spec: str) -> list[int]:
    days: list[int] = []
    for part in re.split(r"\s*,\s*", spec.strip()):
        ends = [_DAYS.index(d.strip().lower()) for d in part.split("-")]
        first, last = ends[0], ends[-1]
        days.extend((first + i) % 7 for i in range((last - first) % 7 + 1))
    return days


def _spans(what: str, hours: str) -> list[tuple[int, int]]:
    spans = []
    for span in re.split(r"\s*,\s*", what.strip()):
        start_text, end_text = (t.strip() for t in span.split("-"))
        start, end = _minutes(start_text, hours), _minutes(end_text, hours)
        if start >= DAY:
            raise ValidationError(f"opening hours {hours!r}: {span!r} starts after midnight; "
                                  "write it on the next day")
        if end == start:
            raise ValidationError(f"opening hours {hours!r}: {span!r} starts and ends at the "
                                  "same time; for all day write 00:00-24:00")
        if end < start:
            end += DAY
        if end - start > DAY:
            raise ValidationError(f"opening hours {hours!r}: {span!r} is longer than a day")
        spans.append((start, end))
    return spans


def _merge(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(pairs):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@functools.lru_cache(maxsize=4096)
def parse_opening_hours(text: str) -> Intervals:
    """Opening hours in the OpenStreetMap syntax subset as ``(day, start, end)`` intervals.

    Parameters
    ----------
    text
        e.g. ``"Mo-Fr 09:00-17:00; Sa 10:00-13:00"`` or ``"24/7"``.

    Returns
    -------
    tuple of (day, start_minute, end_minute)
        ``day`` 0 = Monday .. 6 = Sunday; minutes from midnight, ``end`` exclusive and at
        most 1440; ranges past midnight are split there. Sorted, overlaps merged; empty if
        the text says closed on every day.

    Raises
    ------
    ValidationError
        The text (quoted in the message) cannot be read, or is blank (blank means unknown,
        which is not a set of hours).

    Examples
    --------
    >>> parse_opening_hours("Mo-Fr 09:00-17:00; Sa 10:00-13:00")[-2:]
    ((4, 540, 1020), (5, 600, 780))
    >>> parse_opening_hours("Su 22:00-02:00")
    ((0, 0, 120), (6, 1320, 1440))
    """
    hours = str(text)
    clean = re.sub(r"\s+", " ", hours.replace("\u2013", "-").replace("\u2014", "-")).strip()
    if not clean:
        raise ValidationError("opening hours are blank, which means unknown; check for blank "
                              "text before parsing (open_during handles it with unknown=)")
    if clean.lower() == "24/7":
        return tuple((d, 0, DAY) for d in range(7))
    state: dict[int, list[tuple[int, int]]] = {}
    for rule_text in clean.split(";"):
        for n, part in enumerate(_ADDITIONAL.split(rule_text)):
            part = part.strip()
            if not part:
                continue
            match = _RULE.match(part)
            if match is None or not (match["ph"] or match["days"] or match["what"]):
                raise ValidationError(
                    f"opening hours {hours!r}: cannot read {part!r}; use the OpenStreetMap "
                    "form, e.g. 'Mo-Fr 09:00-17:00; Sa 10:00-13:00', 'Mo-Su off' or '24/7'")
            if match["ph"]:
                continue
            days = _days(match["days"]) if match["days"] else list(range(7))
            what = (match["what"] or "").lower()
            spans = [] if what in {"off", "closed"} else (
                _spans(what, hours) if what else [(0, DAY)])
            for day in days:
                if n == 0 or what in {"off", "closed"}:
                    state[day] = list(spans)
                else:
                    state.setdefault(day, []).extend(spans)
    by_day: dict[int, list[tuple[int, int]]] = {}
    for day, spans in state.items():
        for start, end in spans:
            by_day.setdefault(day, []).append((start, min(end, DAY)))
            if end > DAY:
                by_day.setdefault((day + 1) % 7, []).append((0, end - DAY))
    return tuple((day, s, e) for day in sorted(by_day) for s, e in _merge(by_day[day]))


def _check_day_minute(day: int, minute: int, *, what: str) -> None:
    if not 0 <= day <= 6:
        raise ValidationError(f"{what}: day must be 0 (Monday) to 6 (Sunday), got {day}")
    if not 0 <= minute < DAY:
        raise ValidationError(f"{what}: minute must be 0 to 1439 (minutes after midnight), "
                              f"got {minute}")


def is_open(intervals: Intervals, day: int, minute: int) -> bool:
    """Whether a service with ``intervals`` is open at ``minute`` past midnight on ``day``.

    Examples
    --------
    >>> hours = parse_opening_hours("Mo-Fr 09:00-17:00")
    >>> is_open(hours, 0, 9 * 60), is_open(hours, 0, 17 * 60), is_open(hours, 5, 600)
    (True, False, False)
    """
    _check_day_minute(day, minute, what="is_open")
    return any(d == day and start <= minute < end for d, start, end in intervals)


def _week_spans(text: str) -> list[tuple[int, int]]:
    """Open spans in minutes from Monday 00:00 over two weeks, merged across midnight."""
    spans = [(d * DAY + s, d * DAY + e) for d, s, e in parse_opening_hours(text)]
    return _merge(spans + [(s + WEEK, e + WEEK) for s, e in spans])


def open_during(
    services: pd.DataFrame,
    day: int,
    start_minute: int,
    end_minute: int,
    *,
    unknown: bool = False,
) -> pd.Series:
    """Which services are open for the whole of a time window.

    Parameters
    ----------
    services
        A frame with an ``opening_hours`` text column (as :func:`read_services` returns).
    day
        0 = Monday .. 6 = Sunday.
    start_minute, end_minute
        The window in minutes after midnight of ``day``, end exclusive; ``end_minute`` may
        pass 1440 to run into the next day (at most 24 hours in all).
    unknown
        What to answer for services whose opening hours are blank (unknown).

    Returns
    -------
    pandas.Series of bool
        Aligned with ``services``.

    Examples
    --------
    >>> s = pd.DataFrame({"opening_hours": ["Mo-Fr 09:00-17:00", "24/7", "",
    ...                                     "Mo 22:00-24:00; Tu 00:00-06:00"]})
    >>> open_during(s, 0, 600, 660).tolist()
    [True, True, False, False]
    >>> open_during(s, 0, 1380, 1500).tolist()
    [False, True, False, True]
    """
    _check_day_minute(day, start_minute, what="open_during")
    if not start_minute < end_minute <= start_minute + DAY:
        raise ValidationError(
            f"open_during: end_minute {end_minute} must be after start_minute {start_minute} "
            "and at most 24 hours later")
    if "opening_hours" not in services.columns:
        raise ValidationError("open_during: services has no 'opening_hours' column; "
                              "pass the frame read_services returns")
    lo, hi = day * DAY + start_minute, day * DAY + end_minute
    answers: dict[str, bool] = {}
    for text in services["opening_hours"].fillna("").astype(str).unique():
        if not text.strip():
            answers[text] = unknown
        else:
            answers[text] = any(a <= lo and hi <= b for a, b in _week_spans(text))
    hours = services["opening_hours"].fillna("").astype(str)
    return hours.map(answers).astype(bool)


def _hours_problem(text: str) -> str:
    if not text.strip():
        return ""
    try:
        parse_opening_hours(text)
    except ValidationError as err:
        return f"unreadable opening_hours: {err}"
    return ""


def read_services(path: str | Path) -> ReadResult:
    """Read a services register (schema in the module docstring) into EPSG:27700 points.

    Parameters
    ----------
    path
        The register CSV.

    Returns
    -------
    ReadResult
        ``data`` has ``service_id, name, kind, provider, postcode, capacity, opening_hours,
        notes, easting, northing, geometry, _file, _line``.

    Raises
    ------
    DataFileError
        Missing or unreadable file, a needed column missing, or no location columns.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "services.csv")
    >>> _ = open(p, "w").write("service_id,name,kind,latitude,longitude,opening_hours\\n"
    ...                        "S1,Victoria Pharmacy,Community pharmacy,51.541,0.711,24/7\\n"
    ...                        "S2,Gym,gym,51.54,0.71,\\n")
    >>> r = read_services(p)
    >>> r.data[["service_id", "kind"]].values.tolist(), r.rejects["reason"].tolist()
    ([['S1', 'pharmacy']], ["kind 'gym' is not one of naloxone, pharmacy, treatment_hub, \
satellite, outreach"])
    """
    path = Path(path)
    frame, rejects, rows_read = read_csv_rows(path, required=["service_id", "name", "kind"],
                                              kind=KIND)
    has = set(frame.columns)
    if not ({"latitude", "longitude"} <= has or {"easting", "northing"} <= has):
        raise DataFileError(path, "has no location columns",
                            fix="add latitude and longitude (WGS84) or easting and northing "
                                "(British National Grid) columns; see docs/schemas.md")
    frame = frame.assign(**{c: "" for c in OPTIONAL if c not in has})
    frame = frame.assign(service_id=frame["service_id"].astype(str).str.strip())
    frame = rejects.take(frame, frame["service_id"] == "", "service_id is blank")

    kind = frame["kind"].map(normalise_kind)
    frame = rejects.take(frame, kind.isna(), "kind " + frame["kind"].map(repr)
                         + f" is not one of {', '.join(KINDS)}")
    frame = frame.assign(kind=kind[frame.index])

    x, y, problems = locate_bng(frame)
    frame = frame.assign(_x=x, _y=y)
    frame = rejects.take(frame, problems != "", "no usable location: " + problems)

    hours_problem = frame["opening_hours"].map(_hours_problem)
    frame = rejects.take(frame, hours_problem != "", hours_problem)

    frame = frame.assign(capacity=frame["capacity"].astype(str).str.strip())
    capacity = pd.to_numeric(frame["capacity"], errors="coerce")
    whole = capacity.notna() & np.isfinite(capacity) & (capacity == capacity.round())
    frame = rejects.take(frame, (frame["capacity"] != "") & ~whole,
                         "capacity " + frame["capacity"].map(repr) + " is not a whole number")
    frame = rejects.take(frame, capacity[frame.index] < 0,
                         "capacity " + frame["capacity"].map(repr) + " is negative")
    frame = rejects.take(frame, capacity[frame.index] > MAX_CAPACITY,
                         "capacity " + frame["capacity"].map(repr)
                         + f" is more than {MAX_CAPACITY:,} (a typo or a shifted column?)")

    first = frame.groupby("service_id")[LINE].transform("first")
    frame = rejects.take(frame, frame["service_id"].duplicated(keep="first"),
                         "duplicate service_id " + frame["service_id"].map(repr)
                         + " (first on line " + first.astype(str) + ")")

    out = frame[["service_id", "name", "kind", "provider", "postcode", "opening_hours",
                 "notes", FILE, LINE]].copy()
    out["capacity"] = capacity[frame.index].astype("Int64")
    out["postcode"] = out["postcode"].astype(str).str.strip().str.upper()
    out["opening_hours"] = out["opening_hours"].astype(str).str.strip()
    geo = with_points(out, frame["_x"].to_numpy(dtype=float), frame["_y"].to_numpy(dtype=float))
    data = gpd.GeoDataFrame(geo[COLUMNS].reset_index(drop=True), geometry="geometry", crs=BNG)
    return ReadResult(data=data, rejects=rejects.frame(), rows_read=rows_read,
                      sources=(str(path),))
