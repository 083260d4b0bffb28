"""Reader for the English Indices of Deprivation (IMD and its seven domains) per LSOA.

Three shapes are accepted, told apart by their headers (matched case- and
punctuation-insensitively, by key words):

* the reduced table of the open-data mirror: ``lsoa11_code`` (or ``lsoa21_code``) with
  ``IMD_decile``, ``Income_decile`` ... ``Environment_decile`` and the matching ``*_rank``
  columns (``*_score`` columns are read if present);
* the official MHCLG IoD2019 "File 7" CSV: ``LSOA code (2011)``, ``Index of Multiple
  Deprivation (IMD) Score`` / ``Rank (where 1 is most deprived)`` / ``Decile (where 1 is
  most deprived 10% of LSOAs)`` and the same triples for the seven domains, IDACI, IDAOPI,
  the sub-domains and the population denominators;
* IoD2025, the same shape on 2021 LSOAs (``LSOA code (2021)``).

Rows are rejected for: an LSOA code that is not an English LSOA code (``E01`` + 6
digits), a decile that is not a whole number from 1 to 10, a rank that is not a positive
whole number, a score or population that is not a number (``inf`` is not), a rank or
population over 1,000,000,000, and a code already seen (the later row is rejected, naming
the first line).

Examples
--------
>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "imd.csv")
>>> doms = ["IMD", "Income", "Employment", "Education", "Health", "Crime",
...         "Housing_and_Access", "Environment"]
>>> head = ",".join(["lsoa11_code"] + [f"{d}_decile" for d in doms] + [f"{d}_rank" for d in doms])
>>> _ = open(p, "w").write(head + "\\nE01000001," + ",".join(["9"] * 8 + ["29199"] * 8) + "\\n")
>>> r = read_imd(p)
>>> row = r.data.iloc[0]
>>> row["lsoa_code"], row["vintage"], int(row["imd_decile"]), int(row["imd_rank"])
('E01000001', '2011', 9, 29199)
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from geointel.errors import DataFileError
from geointel.io._table import FILE, LINE, ReadResult, finish, read_csv_rows

log = logging.getLogger(__name__)

KIND = "English Indices of Deprivation CSV (IoD2019 File 7, IoD2025, or the reduced table)"

#: Output domain name -> pattern of its name at the start of a normalised header.
DOMAINS = {
    "imd": r"(?:index of multiple deprivation(?: imd)?|imd)",
    "income": r"income",
    "employment": r"employment",
    "education": r"education(?: skills and training)?",
    "health": r"health(?: deprivation and disability)?",
    "crime": r"crime",
    "housing": r"(?:barriers to housing and services|housing(?: and access)?)",
    "environment": r"(?:living )?environment",
}
MEASURES = ("score", "rank", "decile")
LSOA = re.compile(r"^E01\d{6}$")
#: The largest rank or population accepted (England has under 40,000 LSOAs; larger is a
#: typo, and would not fit the int64 columns).
MAX_WHOLE = 1_000_000_000
_CODE_HEADER = re.compile(r"^lsoa ?(11|21)? ?(?:code|cd) ?(2011|2021)?$")
_POPULATION_HEADER = re.compile(r"^total population mid (\d{4})\b")


def _normalise(header: str) -> str:
    """Lower case, punctuation to spaces, runs of spaces to one: robust header keys.

    >>> _normalise("Income Score (rate) "), _normalise("Housing_and_Access_decile")
    ('income score rate', 'housing and access decile')
    """
    return " ".join(re.sub(r"[^0-9a-z]+", " ", header.lower()).split())


def _find(headers: list[str], pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [h for h in headers if rx.search(_normalise(h))]


def _one(path: Path, headers: list[str], pattern: str, what: str, *, required: bool) -> str | None:
    found = _find(headers, pattern)
    if len(found) > 1:
        raise DataFileError(path, f"has several columns that look like the {what}: "
                                  f"{', '.join(map(repr, found))}",
                            fix="remove the extra columns or rename them")
    if not found and required:
        raise DataFileError(path, f"has no column for the {what}",
                            fix=f"check that this is an {KIND}")
    return found[0] if found else None


def _columns(path: Path, headers: list[str]) -> tuple[str, str, dict[str, str]]:
    """The LSOA code column, the vintage, and output name -> file column."""
    codes = [h for h in headers if _CODE_HEADER.match(_normalise(h))]
    if len(codes) != 1:
        shown = ", ".join(repr(h) for h in headers[:6])
        problem = ("has no LSOA code column" if not codes
                   else f"has several LSOA code columns ({', '.join(map(repr, codes))})")
        raise DataFileError(path, f"{problem} (header starts: {shown})",
                            fix="the code column should be 'LSOA code (2011)', "
                                "'LSOA code (2021)', 'lsoa11_code' or 'lsoa21_code'")
    match = _CODE_HEADER.match(_normalise(codes[0]))
    assert match is not None  # matched just above
    year = match.group(1) or match.group(2)
    if year is None:
        raise DataFileError(path, f"column {codes[0]!r} does not say whether it holds "
                                  "2011 or 2021 LSOA codes",
                            fix="rename it 'lsoa11_code' or 'lsoa21_code'")
    vintage = "2011" if year in ("11", "2011") else "2021"
    mapping: dict[str, str] = {}
    for name, stem in DOMAINS.items():
        for measure in MEASURES:
            what = f"{name} {measure}"
            column = _one(path, headers, rf"^{stem}(?: domain)? {measure}\b", what,
                          required=measure != "score")
            if column is not None:
                mapping[f"{name}_{measure}"] = column
    population = [h for h in headers if _POPULATION_HEADER.match(_normalise(h))]
    if len(population) == 1:
        pop = _POPULATION_HEADER.match(_normalise(population[0]))
        assert pop is not None  # matched just above
        mapping[f"population_mid{pop.group(1)}"] = population[0]
    return codes[0], vintage, mapping


def _whole(values: pd.Series, *, low: int, high: float) -> pd.Series:
    """True where ``values`` is a whole number in ``[low, high]``."""
    x = pd.to_numeric(values, errors="coerce")
    return x.notna() & x.between(low, high) & x.mod(1).eq(0)


def read_imd(path: str | Path) -> ReadResult:
    """Read English IMD deciles, ranks and (where given) scores per LSOA.

    Parameters
    ----------
    path
        The reduced mirror table, an official IoD2019 File 7 CSV, or an IoD2025 CSV.

    Returns
    -------
    ReadResult
        ``data`` has ``lsoa_code``, ``vintage`` (``'2011'`` or ``'2021'``), ``imd_score``,
        ``imd_rank``, ``imd_decile`` and ``<d>_score``, ``<d>_rank``, ``<d>_decile`` for
        ``d`` in income, employment, education, health, crime, housing, environment (ranks
        and deciles ``int64``; scores ``float64``, NaN when the file has none), then
        ``population_mid<year>`` (e.g. ``population_mid2015``, ``int64``) when the file
        gives a total population, then ``_file`` and ``_line``.

    Raises
    ------
    DataFileError
        The file cannot be read, or lacks the LSOA code or a rank or decile column.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "bad.csv")
    >>> _ = open(p, "w").write("code,score\\nE01000001,3\\n")
    >>> try:
    ...     read_imd(p)
    ... except DataFileError as err:
    ...     print(err.problem[:23])
    has no LSOA code column
    """
    path = Path(path)
    frame, rejects, rows_read = read_csv_rows(path, required=[], kind=KIND)
    headers = [h for h in frame.columns if h not in (FILE, LINE)]
    code, vintage, mapping = _columns(path, headers)
    # Work on stripped text under the output names; messages use the file's own names.
    frame = frame[[FILE, LINE]].assign(
        lsoa_code=frame[code].astype("str").str.strip(),
        **{out: frame[column].astype("str").str.strip() for out, column in mapping.items()},
    )
    frame = rejects.take(frame, ~frame["lsoa_code"].str.fullmatch(LSOA.pattern),
                         f"{code!r} is not an English LSOA code (E01 and 6 digits)")
    for out, column in mapping.items():
        values = frame[out]
        if out.endswith("_decile"):
            bad = ~_whole(values, low=1, high=10)
            problem = "is not a whole number from 1 to 10"
        elif out.endswith("_rank"):
            bad = ~_whole(values, low=1, high=np.inf)
            problem = "is not a positive whole number"
        elif out.startswith("population"):
            bad = ~_whole(values, low=0, high=np.inf)
            problem = "is not a whole number of people"
        else:
            bad = values.ne("") & ~np.isfinite(pd.to_numeric(values, errors="coerce"))
            problem = "is not a number"
        frame = rejects.take(frame, bad, f"{column!r} {problem}")
        if out.endswith("_rank") or out.startswith("population"):
            too_big = pd.to_numeric(frame[out], errors="coerce") > MAX_WHOLE
            frame = rejects.take(frame, too_big, f"{column!r} is more than {MAX_WHOLE:,} "
                                 "(a typo or a shifted column?)")

    repeat = frame["lsoa_code"].duplicated(keep="first")
    if repeat.any():
        first = frame.loc[~repeat].set_index("lsoa_code")[LINE]
        frame = rejects.take(frame, repeat, "LSOA code already on line "
                             + frame["lsoa_code"].map(first).astype(str))

    data = pd.DataFrame({"lsoa_code": frame["lsoa_code"]})
    data["vintage"] = pd.Series(vintage, index=frame.index, dtype="str")
    for name in DOMAINS:
        for measure in MEASURES:
            out = f"{name}_{measure}"
            if out not in mapping:
                data[out] = np.nan
            else:
                values = pd.to_numeric(frame[out].mask(frame[out].eq("")))
                data[out] = values.astype("float64" if measure == "score" else "int64")
    for out in mapping:
        if out.startswith("population"):
            data[out] = pd.to_numeric(frame[out]).astype("int64")
    data[FILE] = frame[FILE].astype("str")
    data[LINE] = frame[LINE].astype("int64")
    result = finish(data, rejects, rows_read, path)
    log.info("read IMD (LSOA %s) from %s: %d accepted, %d rejected", vintage, path,
             result.rows_accepted, result.rows_rejected)
    return result
