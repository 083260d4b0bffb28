"""Contact records (calls and SMS) and the line intelligence register, pseudonymised on read.

:func:`read_contacts` reads many CSV or Parquet files through DuckDB, so tens of millions of
records are routine: the files are scanned by DuckDB, every check is one SQL ``CASE``
expression, and identifiers are replaced by keyed-hash pseudonyms (the HMAC of
:func:`geointel.privacy.pseudonymise`, computed once per distinct identifier) before anything
leaves the reader. Raw numbers are never written, logged or put in a reject reason.

Contact record columns (``docs/schemas.md``): ``timestamp`` (ISO 8601), ``a_party``,
``b_party``, ``kind`` (``call``/``sms``), ``duration_s``; optional ``imei``, ``cell_id``,
``cell_lat``, ``cell_lon`` (the a-party's handset and serving cell).

Line numbers in reject reports are the file's own for CSV (header = line 1) and the 1-based
row number for Parquet.

Examples
--------
>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "c.csv")
>>> _ = open(p, "w").write("timestamp,a_party,b_party,kind,duration_s\\n"
...     "2018-10-01T10:00:00,07700900001,07700900002,call,30\\n"
...     "2018-10-01T10:05:00,07700900001,07700900002,fax,0\\n")
>>> r = read_contacts([p], key=b"k" * 32)
>>> r.rows_read, r.rows_accepted, r.rejects["reason"].tolist()
(2, 1, ["kind 'fax' is not call or sms"])
>>> r.data["a_party"].str.match(r"^P[0-9a-f]{16}$").all()
np.True_
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geointel._progress import Progress, report
from geointel.errors import DataFileError, ValidationError
from geointel.io._geo import LAT_RANGE, LON_RANGE
from geointel.io._table import (
    FILE,
    LINE,
    ReadResult,
    RejectLog,
    describe_header,
    empty_rejects,
    finish,
    read_csv_rows,
    warn_no_final_newline,
)
from geointel.network._duck import connect, fetch
from geointel.privacy import is_raw_identifier, pseudonymise

log = logging.getLogger(__name__)

KIND = "contact records file (timestamp, a_party, b_party, kind, duration_s)"
REQUIRED = ("timestamp", "a_party", "b_party", "kind", "duration_s")
OPTIONAL = ("imei", "cell_id", "cell_lat", "cell_lon")
COLUMNS = [*REQUIRED, *OPTIONAL, FILE, LINE]
INTEL_KIND = "line intelligence register"
INTEL_COUNTS = ("weapons", "violence", "cuckooed_addresses", "exploited_children",
                "vulnerable_adults", "seizures")
INTEL_REQUIRED = ("subject", *INTEL_COUNTS)
INTEL_OPTIONAL = ("drugs", "notes", "grading", "date")
#: The largest intelligence count accepted (larger is a typo, and would overflow int64).
MAX_INTEL_COUNT = 1_000_000
_YES_NO = {"yes": "1", "y": "1", "true": "1", "no": "0", "n": "0", "false": "0"}
#: A line id made by geointel.network.lines.stable_line_id (from a pseudonym, never a number).
_LINE_ID = r"LINE-[0-9a-f]{8}"
_PARQUET = (".parquet", ".pq")
_CSV_OPTIONS = ("header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
                "null_padding = false")
_CSV = (".csv", ".txt", ".csv.gz")
#: Phone numbers and IMEIs inside free text. A UK number: ``0``, ``44``, ``+44`` or
#: ``0044`` (``+44 (0)`` too), then 9-10 more digits with a few spaces and at most one dot
#: or dash between digits (``+44 (0) 7700 900 126``, ``tel:07700.900.128``,
#: ``07700 - 900126``), or an area code in
#: brackets (``(01702) 215000``). An IMEI: 15-16 digits, grouped or not
#: (``35-209900-176148-1``). A number glued to words (``mob07700900126``) counts; dates,
#: times, counts and codes do not, and :func:`redact_numbers` checks each match.
_SEP = r"\s{0,3}[.\-]?\s{0,3}"
_NUMBER_IN_TEXT = re.compile(
    r"(?<![\d+])(?:(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?|44[\s.\-]?|0)\d(?:" + _SEP + r"\d){8,9}"
    r"|\(0\d{2,5}\)" + _SEP + r"\d(?:" + _SEP + r"\d){4,7})(?!\d|[.\-]\d)"
    r"|(?<![\d.\-])\d(?:" + _SEP + r"\d){14,15}(?!\d|[.\-]\d)")


def _check_file(path: Path) -> str:
    """'csv' or 'parquet' for a usable file; raises DataFileError otherwise."""
    if not path.is_file():
        raise DataFileError(path, f"does not exist (expected a {KIND})",
                            fix="check the path given to --contacts")
    name = path.name.lower()
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.strip():
        raise DataFileError(path, "is empty", fix="check the export or export it again")
    if head.startswith(b"PAR1") or name.endswith(_PARQUET):
        if not head.startswith(b"PAR1"):
            raise DataFileError(path, "is named .parquet but is not a Parquet file",
                                fix="export it again as Parquet, or as CSV")
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        raise DataFileError(path, "is a ZIP archive, not a CSV",
                            fix="unzip it and read the CSV inside")
    if head.startswith(b"\x1f\x8b") and not name.endswith(".gz"):
        raise DataFileError(path, "is gzip-compressed but not named .gz",
                            fix="rename it to .csv.gz")
    if b"\x00" in head and not head.startswith(b"\x1f\x8b"):
        raise DataFileError(path, "is a binary file, not a CSV (or is UTF-16)",
                            fix="export it as CSV UTF-8 or as Parquet")
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        raise DataFileError(path, "is an HTML page, not a CSV",
                            fix="the download probably failed; download it again")
    return "csv"


def _csv_header(path: Path) -> list[str]:
    """The header row's column names (stripped), read with Python's csv module."""
    import csv
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:  # the header line only: the rest may be gigabytes
        first = fh.readline(1 << 20)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataFileError(path, f"has a header that is not UTF-8 text (byte "
                                  f"0x{first[err.start]:02x} on line 1)",
                            fix="re-save it as UTF-8 (in Excel: 'CSV UTF-8')") from None
    header = next(csv.reader([text.rstrip("\r\n")]), [])
    names = [h.strip() for h in header]
    if len(set(names)) != len(names):
        raise DataFileError(path, "has repeated column names in its header",
                            fix="give every column a distinct name")
    return names


def _q(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _load_file(con: Any, path: Path, fmt: str, i: int) -> tuple[str, pd.DataFrame]:
    """Load one file into table ``f{i}`` (all text, ``_line``); return it and its rejects."""
    p = _q(str(path))
    table = f"f{i}"
    if fmt == "parquet":
        source = f"read_parquet({p}, file_row_number = true)"
        try:
            cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        except Exception as err:  # duckdb raises its own error classes
            raise DataFileError(path, f"cannot be read as Parquet ({err})",
                                fix="export it again as Parquet, or as CSV") from None
        line_expr = "file_row_number + 1"
    else:
        cols = _csv_header(path)
        spec = "{" + ", ".join(f"{_q(c)}: 'VARCHAR'" for c in cols) + "}"
        source = (f"read_csv({p}, columns = {spec}, {_CSV_OPTIONS}, store_rejects = true, "
                  f"rejects_table = 'rej{i}', rejects_scan = 'scan{i}')")
        line_expr = "NULL"
    stripped = {c.strip(): c for c in cols if c != "file_row_number"}
    missing = [c for c in REQUIRED if c not in stripped]
    if missing:
        raise DataFileError(
            path, f"has no column {', '.join(repr(c) for c in missing)} "
                  f"({describe_header(list(stripped))})",
            fix=f"check that this is a {KIND}; the columns needed are {', '.join(REQUIRED)}")
    select = ", ".join(
        (f"CAST({_ident(stripped[c])} AS VARCHAR)" if c in stripped else "NULL::VARCHAR")
        + f" AS {c}" for c in (*REQUIRED, *OPTIONAL))
    if fmt == "parquet":  # read in place: a view, no copy
        con.execute(f"CREATE VIEW {table}_v AS SELECT {select}, {line_expr} AS _line "
                    f"FROM {source}").fetchall()
        return table, empty_rejects()
    try:
        con.execute(f"CREATE TABLE {table} AS SELECT {select}, {line_expr} AS _line "
                    f"FROM {source}").fetchall()
    except Exception as err:
        raise DataFileError(path, f"cannot be read ({err})",
                            fix=f"check that this is a {KIND} in UTF-8") from None
    rejects = fetch(con, f"SELECT line, min(error_type) AS error_type, "
                    f"min(error_message) AS msg FROM rej{i} GROUP BY line ORDER BY line")
    _number_csv_lines(con, path, table, rejects["line"].tolist())
    if not path.name.lower().endswith(".gz") and not _ends_with_newline(path):
        last = con.execute(f"SELECT max(_line) FROM {table}_v").fetchone()[0]
        lines = [int(v) for v in [last, *rejects["line"].tolist()] if v is not None]
        if lines:
            warn_no_final_newline(path, max(lines))
    reasons = [_structural_reason(t, m) for t, m in
               zip(rejects["error_type"], rejects["msg"], strict=True)]
    return table, pd.DataFrame({"file": str(path), "line": rejects["line"].astype("int64"),
                                "reason": pd.Series(reasons, dtype=str)})


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            return True
        fh.seek(size - 1)
        return fh.read(1) in (b"\n", b"\r")


def _structural_reason(error_type: str, message: str) -> str:
    found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message or "")
    if found and error_type in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        return (f"has {found.group(2)} fields, expected {found.group(1)} "
                "(truncated or shifted row)")
    if "UNICODE" in (error_type or "") or "ENCODING" in (error_type or ""):
        return "is not valid UTF-8 text"
    return f"cannot be parsed as CSV ({(error_type or 'error').lower()})"


def _blank_lines(con: Any, path: Path) -> list[int]:
    """Line numbers (header = 1) of the blank lines after the header.

    DuckDB reads the lines; a byte that is not UTF-8 (its row is already a reject) makes
    it give up, and then the lines are scanned in Python, splitting at LF, CRLF or a lone
    CR as DuckDB does.
    """
    import duckdb

    raw = (f"read_csv({_q(str(path))}, columns = {{'l': 'VARCHAR'}}, header = false, "
           "delim = '\x01', quote = '', escape = '', auto_detect = false, "
           "strict_mode = false)")
    try:
        return [int(r[0]) for r in con.execute(
            f"SELECT n FROM (SELECT row_number() OVER () AS n, l FROM {raw}) "
            "WHERE n > 1 AND (l IS NULL OR trim(l) = '')").fetchall()]
    except duckdb.Error:
        pass
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    blanks: list[int] = []
    n = 0
    with opener(path, "rb") as fh:
        for chunk in fh:
            body = chunk.removesuffix(b"\n").removesuffix(b"\r")
            for line in body.split(b"\r"):
                n += 1
                if n > 1 and not line.split(b"\x01")[0].strip(b" "):
                    blanks.append(n)
    return blanks


def _number_csv_lines(con: Any, path: Path, table: str, reject_lines: list[int]) -> None:
    """Set ``_line`` to each accepted row's line in the file (header = 1)."""
    blanks = _blank_lines(con, path)
    skipped = sorted(set(blanks) | {int(x) for x in reject_lines})
    # Accepted row k (0-based) sits at line k + 2 + (number of skipped lines before it).
    # Between consecutive skipped lines the offset is constant: one segment per gap.
    if not skipped:
        con.execute(f"CREATE VIEW {table}_v AS SELECT * EXCLUDE (_line), "
                    f"CAST(rowid + 2 AS BIGINT) AS _line FROM {table}")
        return
    bounds = [s - 2 - j for j, s in enumerate(skipped)]
    segments = pd.DataFrame({"lo": [0, *bounds], "hi": [*bounds, 2**62],
                             "off": range(len(bounds) + 1)})
    con.execute(f"CREATE TABLE {table}_seg (lo BIGINT, hi BIGINT, off BIGINT)")
    con.executemany(f"INSERT INTO {table}_seg VALUES (?, ?, ?)",
                    segments.astype("int64").values.tolist())
    con.execute(f"CREATE VIEW {table}_v AS SELECT t.* EXCLUDE (_line), "
                f"CAST(t.rowid + 2 + s.off AS BIGINT) AS _line FROM {table} t "
                f"JOIN {table}_seg s ON t.rowid >= s.lo AND t.rowid < s.hi")


_LAT = f"{LAT_RANGE[0]} AND {LAT_RANGE[1]}"
_LON = f"{LON_RANGE[0]} AND {LON_RANGE[1]}"
_VALIDATE = f"""
SELECT *,
  CASE
    WHEN ts_text = '' THEN 'timestamp is blank'
    WHEN ts IS NULL THEN 'timestamp ''' || left(ts_text, 40)
         || ''' is not an ISO 8601 date-time'
    WHEN a_party = '' THEN 'a_party is blank'
    WHEN b_party = '' THEN 'b_party is blank'
    WHEN a_party = b_party THEN 'a_party and b_party are the same handset'
    WHEN kind NOT IN ('call', 'sms') THEN 'kind ''' || left(kind, 20)
         || ''' is not call or sms'
    WHEN dur_text = '' AND kind = 'call' THEN 'duration_s is blank for a call'
    WHEN dur_text <> '' AND (dur IS NULL OR dur < 0)
         THEN 'duration_s ''' || left(dur_text, 20) || ''' is not a non-negative number'
    WHEN (lat_text = '') <> (lon_text = '') THEN 'cell_lat/cell_lon: only one is given'
    WHEN lat_text <> '' AND (lat IS NULL OR lon IS NULL)
         THEN 'cell_lat/cell_lon are not numbers'
    WHEN lat_text <> '' AND NOT (lat BETWEEN {_LAT} AND lon BETWEEN {_LON})
         THEN 'cell_lat/cell_lon outside Great Britain'
    ELSE ''
  END AS reason
FROM (
  SELECT _file, _file_no, _line,
    coalesce(trim(timestamp), '') AS ts_text,
    try_cast(regexp_replace(trim(timestamp), 'Z$', '') AS TIMESTAMP) AS ts,
    coalesce(trim(a_party), '') AS a_party,
    coalesce(trim(b_party), '') AS b_party,
    lower(coalesce(trim(kind), '')) AS kind,
    coalesce(trim(duration_s), '') AS dur_text,
    try_cast(trim(duration_s) AS DOUBLE) AS dur,
    coalesce(trim(imei), '') AS imei,
    nullif(trim(cell_id), '') AS cell_id,
    coalesce(trim(cell_lat), '') AS lat_text,
    coalesce(trim(cell_lon), '') AS lon_text,
    try_cast(trim(cell_lat) AS DOUBLE) AS lat,
    try_cast(trim(cell_lon) AS DOUBLE) AS lon
  FROM all_rows
)
"""


def read_contacts(
    paths: str | Path | Sequence[str | Path],
    *,
    key: bytes,
    progress: Progress | None = None,
) -> ReadResult:
    """Read contact records (CSV or Parquet, many files), validated and pseudonymised.

    Parameters
    ----------
    paths
        One file or several; CSV (``.csv``, ``.csv.gz``) or Parquet, in the contact-record
        schema. Column order does not matter; the optional columns may be absent.
    key
        Pseudonymisation key (:func:`geointel.privacy.load_key`). Raw numbers and IMEIs are
        replaced by ``P`` + 16 hex; values that are already pseudonyms pass through.
    progress
        Called as ``progress(done, total, message)`` after each file and step.

    Returns
    -------
    ReadResult
        ``data`` columns: ``timestamp`` (datetime64), ``a_party``, ``b_party``, ``kind``,
        ``duration_s`` (float, 0 for a blank SMS duration), ``imei`` (``""`` if unknown),
        ``cell_id``, ``cell_lat``, ``cell_lon`` (missing if unknown), ``_file``, ``_line``.
        Rejected rows (with file, line and reason) are in ``rejects``.

    Raises
    ------
    DataFileError
        A file is missing, empty, not CSV/Parquet or lacks a required column.

    Examples
    --------
    See the module docstring.
    """
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise ValidationError("read_contacts: no files given; pass one or more paths")
    files = [Path(p) for p in items]
    formats = [_check_file(p) for p in files]
    total = len(files) + 2
    con = connect()
    try:
        tables, reject_parts = [], []
        for i, (path, fmt) in enumerate(zip(files, formats, strict=True)):
            table, rejects = _load_file(con, path, fmt, i)
            tables.append(f"SELECT *, {_q(str(path))} AS _file, {i} AS _file_no "
                          f"FROM {table}_v")
            reject_parts.append(rejects)
            report(progress, i + 1, total, f"read {path.name}")
        con.execute("CREATE VIEW all_rows AS " + " UNION ALL ".join(tables))
        con.execute(f"CREATE TABLE checked AS {_VALIDATE}")
        rows_loaded = con.execute("SELECT count(*) FROM checked").fetchall()[0][0]
        bad = fetch(con, "SELECT _file AS file, CAST(_line AS BIGINT) AS line, reason "
                         "FROM checked WHERE reason <> ''")
        report(progress, len(files) + 1, total, "validated")
        data = _pseudonymised(con, key)
        report(progress, total, total, "pseudonymised")
    finally:
        con.close()
    rejects = pd.concat([*reject_parts, bad.astype({"file": str, "reason": str})],
                        ignore_index=True)
    log_ = RejectLog()
    for file, part in rejects.groupby("file", sort=False):
        for reason, lines in part.groupby("reason", sort=False)["line"]:
            log_.add(str(file), lines.astype("int64").tolist(), str(reason))
    rows_read = int(rows_loaded) + sum(len(r) for r in reject_parts)
    result = ReadResult(data=data, rejects=log_.frame(), rows_read=rows_read,
                        sources=tuple(str(p) for p in files))
    log.info("read %d contact records from %d file(s): %d accepted, %d rejected",
             result.rows_read, len(files), result.rows_accepted, result.rows_rejected)
    return result


def _pseudonymised(con: Any, key: bytes) -> pd.DataFrame:
    """Accepted rows with every identifier replaced by its pseudonym."""
    distinct = fetch(con, "SELECT a_party AS v FROM checked WHERE reason = '' UNION "
                     "SELECT b_party FROM checked WHERE reason = '' UNION "
                     "SELECT imei FROM checked WHERE reason = '' AND imei <> ''")["v"]
    mapping = pd.DataFrame({"raw": distinct.astype(str).to_numpy(),
                            "pseudonym": pseudonymise(distinct.astype(str), key)})
    con.register("pseudonyms", mapping)
    frame = fetch(con, """
        SELECT c.ts AS timestamp, pa.pseudonym AS a_party, pb.pseudonym AS b_party,
               c.kind, coalesce(c.dur, 0.0) AS duration_s, coalesce(pi.pseudonym, '') AS imei,
               c.cell_id, c.lat AS cell_lat, c.lon AS cell_lon, c._file, c._line
        FROM checked c
        JOIN pseudonyms pa ON pa.raw = c.a_party
        JOIN pseudonyms pb ON pb.raw = c.b_party
        LEFT JOIN pseudonyms pi ON pi.raw = c.imei AND c.imei <> ''
        WHERE c.reason = ''
        ORDER BY c._file_no, c._line
    """)
    con.unregister("pseudonyms")
    frame[LINE] = frame[LINE].astype("int64")
    frame[FILE] = frame[FILE].astype("category")
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us]")
    return frame


def redact_numbers(text: str, key: bytes) -> str:
    """Replace phone numbers and IMEIs inside free text by their pseudonyms.

    Examples
    --------
    >>> out = redact_numbers("seen with 07700 900123 on 2018-10-01", b"k" * 32)
    >>> "900123" in out, out.endswith("on 2018-10-01")
    (False, True)
    """
    def swap(match: re.Match[str]) -> str:
        found = match.group(0)
        return pseudonymise([found], key)[0] if is_raw_identifier(found) else found

    return _NUMBER_IN_TEXT.sub(swap, text)


def read_intel(path: str | Path, *, key: bytes) -> ReadResult:
    """Read the line intelligence register, pseudonymising subjects and numbers in notes.

    Parameters
    ----------
    path
        CSV with ``subject`` (a deal-line number or handset, raw or pseudonymised),
        ``weapons``, ``violence``, ``cuckooed_addresses``, ``exploited_children``,
        ``vulnerable_adults``, ``seizures`` (counts, or yes/no for 1/0; blank = 0), and
        optional ``drugs``,
        ``notes``, ``grading`` (3x5x2, e.g. ``2BP``), ``date`` (ISO date).
    key
        Pseudonymisation key; the same as for the contact records so subjects join.

    Returns
    -------
    ReadResult
        Counts as integers, ``date`` as datetime64 (missing if blank), ``grading``
        normalised to e.g. ``2BP``, phone numbers in ``notes`` replaced by pseudonyms.
        A subject that is already a detected line id (``LINE-`` + 8 hex, made from a
        pseudonym by ``geointel lines``) is kept as it is; every other subject is
        pseudonymised.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "i.csv")
    >>> cols = "subject,weapons,violence,cuckooed_addresses,exploited_children,"
    >>> cols += "vulnerable_adults,seizures,grading,date"
    >>> _ = open(p, "w").write(cols + "\\n07700 900001,yes,0,0,0,0,2,2-B-P,2018-10-04\\n")
    >>> r = read_intel(p, key=b"k" * 32)
    >>> int(r.data.loc[0, "weapons"]), int(r.data.loc[0, "seizures"]), r.data.loc[0, "grading"]
    (1, 2, '2BP')
    """
    frame, log_, rows_read = read_csv_rows(path, required=INTEL_REQUIRED, kind=INTEL_KIND)
    for col in INTEL_OPTIONAL:
        if col not in frame.columns:
            frame[col] = ""
    frame = frame.copy()
    for col in (*INTEL_REQUIRED, *INTEL_OPTIONAL):
        frame[col] = frame[col].fillna("").astype(str).str.strip()
    frame = log_.take(frame, frame["subject"].eq(""), "subject is blank")
    for col in INTEL_COUNTS:
        text = frame[col].str.lower().map(lambda v: _YES_NO.get(v, v))
        frame[col] = text
        text = text.where(text != "", "0")
        value = pd.to_numeric(text, errors="coerce")
        bad = value.isna() | ~np.isfinite(value) | (value < 0) | (value != value.round())
        frame = log_.take(frame, bad, f"{col} is not a whole number of 0 or more")
        frame = log_.take(frame, value[frame.index] > MAX_INTEL_COUNT,
                          f"{col} is more than {MAX_INTEL_COUNT:,} (a typo or a shifted column?)")
        frame[col] = pd.to_numeric(frame[col].where(frame[col] != "", "0")).astype("int64")
    grading = frame["grading"].str.upper().str.replace(r"[\s\-X/]", "", regex=True)
    frame = log_.take(frame, (grading != "") & ~grading.str.fullmatch(r"[1-3][A-E][PC]"),
                      "grading is not a 3x5x2 code such as 2BP")
    frame["grading"] = grading.loc[frame.index]
    dates = pd.to_datetime(frame["date"], errors="coerce", format="ISO8601")
    frame = log_.take(frame, (frame["date"] != "") & dates.isna(),
                      "date is not an ISO date such as 2018-10-04")
    frame["date"] = dates.loc[frame.index]
    is_line = frame["subject"].str.fullmatch(_LINE_ID)
    frame["subject"] = frame["subject"].where(is_line, pd.Series(
        pseudonymise(frame["subject"], key), index=frame.index, dtype=object))
    frame["notes"] = [redact_numbers(t, key) for t in frame["notes"]]
    keep = [*INTEL_REQUIRED, *INTEL_OPTIONAL, FILE, LINE]
    return finish(frame[keep], log_, rows_read, path)
