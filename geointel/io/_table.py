"""The reader contract: every reader returns a :class:`ReadResult`.

A ``ReadResult`` holds the accepted rows, a reject report (file, line, reason) and the
number of rows read, and refuses to exist unless ``rows_read == accepted + rejected``.
:func:`read_csv_rows` does the part every CSV reader shares (existence, format, encoding,
header, field counts) and :class:`RejectLog` moves failing rows into the report.

Line numbers are the file's own: the header is line 1, so an analyst can open the file at
the reported line.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from geointel.errors import DataFileError, GeointelError

logger = logging.getLogger(__name__)

FILE = "_file"
LINE = "_line"
REJECT_COLUMNS = ["file", "line", "reason"]


@dataclass(frozen=True)
class ReadResult:
    """What a reader accepted, what it rejected and why.

    Attributes
    ----------
    data
        Accepted rows (a DataFrame or GeoDataFrame), with ``_file`` and ``_line`` columns
        saying where each came from.
    rejects
        One row per rejected input row: ``file``, ``line``, ``reason``.
    rows_read
        Data rows found in the input (header and blank lines not counted).
    sources
        The files read.

    Examples
    --------
    >>> r = ReadResult(pd.DataFrame({"a": [1]}), empty_rejects(), rows_read=1, sources=("x.csv",))
    >>> r.summary()["rows_accepted"]
    1
    """

    data: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    sources: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.rows_read != len(self.data) + len(self.rejects):
            raise GeointelError(
                f"internal accounting error reading {', '.join(self.sources)}: "
                f"{self.rows_read} rows read but {len(self.data)} accepted + "
                f"{len(self.rejects)} rejected; please report this as a bug"
            )

    @property
    def rows_accepted(self) -> int:
        return len(self.data)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejects)

    def months(self) -> str:
        """First to last ``month`` (YYYY-MM) of the accepted rows; ``""`` without months.

        >>> r = ReadResult(pd.DataFrame({"month": ["2019-02", "2018-10"]}), empty_rejects(), 2)
        >>> r.months()
        '2018-10 to 2019-02'
        """
        if "month" not in self.data.columns or not self.data["month"].notna().any():
            return ""
        first, last = self.data["month"].dropna().astype(str).agg(["min", "max"])
        return first if first == last else f"{first} to {last}"

    def summary(self) -> dict[str, object]:
        """Counts for the CLI's ``--json`` output and the app's reject report."""
        reasons = self.rejects["reason"].value_counts().sort_index()
        return {
            "files": len(self.sources),
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "reject_reasons": {str(k): int(v) for k, v in reasons.items()},
        }


def empty_rejects() -> pd.DataFrame:
    """An empty reject report with the standard columns."""
    return pd.DataFrame({"file": pd.Series(dtype=str), "line": pd.Series(dtype="int64"),
                         "reason": pd.Series(dtype=str)})


def concat_results(results: Sequence[ReadResult]) -> ReadResult:
    """Combine the results of reading several files of the same kind.

    Examples
    --------
    >>> a = ReadResult(pd.DataFrame({"x": [1]}), empty_rejects(), 1, ("a.csv",))
    >>> concat_results([a, a]).rows_read
    2
    """
    if not results:
        raise GeointelError("concat_results needs at least one result")
    frames = [r.data for r in results]
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if hasattr(frames[0], "crs") and not hasattr(data, "crs"):  # keep a GeoDataFrame
        import geopandas as gpd

        data = gpd.GeoDataFrame(data, geometry=frames[0].geometry.name, crs=frames[0].crs)
    rejects = pd.concat([r.rejects for r in results], ignore_index=True)
    return ReadResult(
        data=data,
        rejects=rejects,
        rows_read=sum(r.rows_read for r in results),
        sources=tuple(s for r in results for s in r.sources),
    )


class RejectLog:
    """Collects rejected rows while a reader validates a frame.

    Examples
    --------
    >>> frame = pd.DataFrame({"v": ["1", "x"], "_file": "f.csv", "_line": [2, 3]})
    >>> log = RejectLog()
    >>> good = log.take(frame, frame["v"] == "x", "v is not a number")
    >>> list(good["v"]), log.frame()[["line", "reason"]].values.tolist()
    (['1'], [[3, 'v is not a number']])
    """

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, file: str, lines: Iterable[int], reason: str) -> None:
        """Record rows that never became part of a frame (e.g. a short row)."""
        lines = list(lines)
        if lines:
            self._parts.append(pd.DataFrame({"file": file, "line": lines, "reason": reason}))

    def take(self, frame: pd.DataFrame, bad: pd.Series, reason: str | pd.Series) -> pd.DataFrame:
        """Move the rows where ``bad`` is true into the log; return the others.

        ``reason`` is one text for all, or a Series aligned with ``frame`` giving each
        row its own reason. ``frame`` is not modified.
        """
        bad = bad.fillna(True).astype(bool)
        if bad.any():
            reasons = reason[bad] if isinstance(reason, pd.Series) else reason
            self._parts.append(pd.DataFrame({
                "file": frame.loc[bad, FILE].astype(str).to_numpy(),
                "line": frame.loc[bad, LINE].astype("int64").to_numpy(),
                "reason": reasons if isinstance(reasons, str) else reasons.astype(str).to_numpy(),
            }))
        return frame.loc[~bad]

    def frame(self) -> pd.DataFrame:
        """The reject report so far, ordered by file and line."""
        if not self._parts:
            return empty_rejects()
        out = pd.concat(self._parts, ignore_index=True)
        out["line"] = out["line"].astype("int64")
        return out.sort_values(["file", "line"], kind="stable").reset_index(drop=True)


def decode_csv(path: str | Path, raw: bytes) -> str:
    """The text of CSV bytes, refusing empty, ZIP, binary/UTF-16, HTML and non-UTF-8 input.

    Every reader goes through this (via :func:`read_csv_rows`), and uploads are sniffed
    with it before they are saved. ``path`` only names the file in the error.

    Examples
    --------
    >>> decode_csv("x.csv", b"\\xef\\xbb\\xbfa,b\\n1,2\\n")
    'a,b\\n1,2\\n'
    >>> decode_csv("x.csv", b"<!DOCTYPE html><p>Not found")
    Traceback (most recent call last):
    ...
    geointel.errors.DataFileError: x.csv: is an HTML page, not a CSV. Fix: the download \
probably failed; download the CSV again
    """
    if not raw.strip():
        raise DataFileError(path, "is empty", fix="check the export or download it again")
    if raw.startswith(b"PK\x03\x04"):
        raise DataFileError(path, "is a ZIP archive, not a CSV",
                            fix="unzip it and read the CSV inside")
    if b"\x00" in raw[:4096]:
        raise DataFileError(path, "is a binary file, not a CSV (or is UTF-16)",
                            fix="export it as CSV UTF-8")
    head = raw[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise DataFileError(path, "is an HTML page, not a CSV",
                            fix="the download probably failed; download the CSV again")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataFileError(
            path,
            f"is not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line})",
            fix="re-save it as UTF-8 (in Excel: 'CSV UTF-8')",
        ) from None


#: Column names echoed in an error message: how many, and how long each may be.
HEADER_SHOWN = 15
NAME_SHOWN = 40
_PLAIN_NAME = re.compile(r"^[\w .,:;()/%&+#'-]*$")


def describe_header(header: Sequence[str]) -> str:
    """The header for an error message, without echoing a line that is not a CSV header.

    A first line with a single field (a key, a TOML comment, a sentence) is not shown at
    all: a reader pointed at the wrong file must not print that file's first line. Of a
    real header, at most :data:`HEADER_SHOWN` names are shown, each cut to
    :data:`NAME_SHOWN` characters; names with control or markup characters are replaced.

    Examples
    --------
    >>> describe_header(["6046ffa0ccd49727d056437cf5df1835"])
    'its first line has no separator, so it is not a CSV header'
    >>> describe_header(["date", "lsoa_code", "<script>"])
    "header has: 'date', 'lsoa_code', (a name that is not plain text)"
    """
    if len(header) < 2:
        return "its first line has no separator, so it is not a CSV header"
    names = []
    for name in header[:HEADER_SHOWN]:
        if not _PLAIN_NAME.match(name):
            names.append("(a name that is not plain text)")
        else:
            names.append(repr(name[:NAME_SHOWN] + ("…" if len(name) > NAME_SHOWN else "")))
    more = f" and {len(header) - HEADER_SHOWN} more" if len(header) > HEADER_SHOWN else ""
    return f"header has: {', '.join(names)}{more}"


def read_csv_rows(
    path: str | Path,
    *,
    required: Sequence[str],
    kind: str,
    delimiter: str = ",",
) -> tuple[pd.DataFrame, RejectLog, int]:
    """Read a CSV into a frame of strings, checking everything about the file itself.

    Parameters
    ----------
    path
        The CSV file.
    required
        Columns that must be in the header (after stripping spaces); missing ones raise
        :class:`~geointel.errors.DataFileError` naming them.
    kind
        What the file should be, for messages, e.g. ``"police.uk street-level crime file"``.
    delimiter
        Field separator.

    Returns
    -------
    frame, rejects, rows_read
        ``frame`` has every header column as text (blank = ``""``) plus ``_file`` and
        ``_line``; rows with fewer fields than the header, or extra non-empty fields, are
        already in ``rejects``. ``rows_read`` counts every non-blank data row.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(p, "w").write("a,b\\n1,2\\n3\\n")
    >>> frame, log, n = read_csv_rows(p, required=["a"], kind="test file")
    >>> n, list(frame["a"]), log.frame()["reason"].tolist()
    (2, ['1'], ['has 1 fields, expected 2 (truncated or shifted row)'])
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, f"does not exist (expected a {kind})",
                            fix="check the path, or run `geointel data sync`")
    text = decode_csv(path, path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:  # pragma: no cover - _decode refuses empty files
        raise DataFileError(path, "is empty") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DataFileError(
            path,
            f"has no column {', '.join(repr(c) for c in missing)} ({describe_header(header)})",
            fix=f"check that this is a {kind}; the columns needed are {', '.join(required)}",
        )
    width = len(header)
    rows: list[list[str]] = []
    lines: list[int] = []
    short: list[tuple[int, int]] = []
    rows_read = 0
    start = reader.line_num + 1
    try:
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):
                rows_read += 1
                if len(row) == width:
                    rows.append(row)
                    lines.append(start)
                elif len(row) > width and not any(v.strip() for v in row[width:]):
                    rows.append(row[:width])
                    lines.append(start)
                else:
                    short.append((start, len(row)))
            start = reader.line_num + 1
    except csv.Error as err:
        raise DataFileError(path, f"is not a valid CSV near line {start}: {err}",
                            fix=f"check that this is a {kind}") from None
    if rows_read and not text.endswith(("\n", "\r")):
        warn_no_final_newline(path, lines[-1] if lines and (not short or lines[-1] >
                                                             short[-1][0]) else short[-1][0])
    log = RejectLog()
    for line, n in short:
        log.add(str(path), [line], f"has {n} fields, expected {width} (truncated or shifted row)")
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(
        columns=header, dtype=object)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    frame[FILE] = str(path)
    frame[LINE] = pd.Series(lines, dtype="int64")
    return frame, log, rows_read


def warn_no_final_newline(path: str | Path, line: int) -> None:
    """Log that ``path`` ends without a line break, so its last row may be cut short.

    A row cut inside its last field still has every field and passes every check, so it
    is accepted; the warning (on stderr in the CLI) says which line to compare with the
    source. Files written by spreadsheets and pandas end with a line break.
    """
    logger.warning("%s does not end with a line break: its last row (line %d) may have been "
                   "cut short (an interrupted download or copy); compare it with the source",
                   path, line)


def finish(frame: pd.DataFrame, log: RejectLog, rows_read: int, path: str | Path) -> ReadResult:
    """Build the :class:`ReadResult` for one file, resetting the accepted rows' index."""
    return ReadResult(data=frame.reset_index(drop=True), rejects=log.frame(),
                      rows_read=rows_read, sources=(str(path),))
