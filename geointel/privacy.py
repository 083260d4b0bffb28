"""Pseudonymisation by keyed hash, and disclosure control for partner outputs.

Raw phone numbers and handset identifiers (IMEI) are replaced by
``"P" + HMAC-SHA256(key, normalised identifier)[:16 hex]``; values that are already
pseudonyms pass through. The key lives in a file or the ``GEOINTEL_PSEUDONYM_KEY``
environment variable, never in the repository. Its fingerprint travels with derived data
so that data made under another key are refused rather than mixed.

Examples
--------
>>> key = b"k" * 32
>>> a = pseudonymise(["07700 900123", "+44 7700 900123", "Pabcdef0123456789"], key)
>>> a[0] == a[1], a[2]
(True, 'Pabcdef0123456789')

Disclosure control: :func:`suppress_small_counts` hides small counts and enough
complementary cells that no hidden count can be recovered from the totals,
:func:`check_no_small_counts` is the last check every exporter makes, and
:func:`partner_layers` keeps police-only and point-level personal layers out of
partner maps.

>>> t = pd.DataFrame({"area": ["A", "B", "C"], "deaths": [3, 7, 12]})
>>> suppress_small_counts(t, columns=["deaths"], threshold=5)["deaths"].tolist()
[<NA>, <NA>, 12]
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from geointel.errors import PrivacyError, ValidationError

log = logging.getLogger(__name__)

KEY_ENV = "GEOINTEL_PSEUDONYM_KEY"
PSEUDONYM = re.compile(r"^P[0-9a-f]{16}$")
_NON_DIGITS = re.compile(r"[\s()\-.+]")


def new_key() -> bytes:
    """A fresh random 32-byte key."""
    return secrets.token_bytes(32)


def write_key(path: str | Path, key: bytes | None = None) -> Path:
    """Write a key as hex to ``path`` (mode 600), refusing to overwrite an existing one."""
    path = Path(path)
    if path.exists():
        raise PrivacyError(
            f"{path} already holds a key; replacing it would make new pseudonyms that do not "
            "match existing data. Delete it deliberately if you mean to start again")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write((key or new_key()).hex() + "\n")
    return path


def load_key(key_file: str | Path | None, env: Mapping[str, str] | None = None) -> bytes:
    """The pseudonymisation key from ``GEOINTEL_PSEUDONYM_KEY`` or ``key_file``.

    Raises
    ------
    PrivacyError
        If neither gives a key of at least 16 bytes.
    """
    env = os.environ if env is None else env
    text = env.get(KEY_ENV, "").strip()
    source = KEY_ENV
    if not text and key_file is not None and Path(key_file).is_file():
        text = Path(key_file).read_text(encoding="utf-8").strip()
        source = str(key_file)
    if not text:
        raise PrivacyError(
            f"no pseudonymisation key: set {KEY_ENV} or create a key file with "
            f"`geointel key new` (expected at {key_file})")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = text.encode("utf-8")
    if len(key) < 16:
        raise PrivacyError(f"the pseudonymisation key from {source} is shorter than 16 bytes")
    return key


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible name for a key, stored beside pseudonymised data.

    >>> len(key_fingerprint(b"k" * 32))
    12
    """
    return hmac.new(key, b"geointel key fingerprint", hashlib.sha256).hexdigest()[:12]


def check_fingerprint(expected: str, key: bytes, *, what: str) -> None:
    """Refuse to combine ``what`` (made under ``expected``) with data made under ``key``."""
    if expected != key_fingerprint(key):
        raise PrivacyError(
            f"{what} was pseudonymised with another key (fingerprint {expected}, current "
            f"{key_fingerprint(key)}); pseudonyms would not match. Use the original key or "
            "re-read the raw data under the current key")


def normalise_identifier(value: str) -> str:
    """Canonical form of a phone number or IMEI before hashing; others unchanged.

    >>> normalise_identifier("+44 (0)7700-900123"), normalise_identifier("0044 7700 900123")
    ('07700900123', '07700900123')
    """
    digits = _NON_DIGITS.sub("", value.strip())
    if not digits.isdigit():
        return value.strip()
    if digits.startswith("440"):
        digits = digits[2:]
    elif digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44"):
        digits = "0" + digits[2:]
    return digits


def is_raw_identifier(value: str) -> bool:
    """True for something that looks like a phone number (7-15 digits) or an IMEI.

    >>> is_raw_identifier("07700 900123"), is_raw_identifier("Pabcdef0123456789")
    (True, False)
    """
    digits = normalise_identifier(value)
    return digits.isdigit() and 7 <= len(digits) <= 16


def pseudonymise(values: Iterable[str] | pd.Series, key: bytes) -> list[str]:
    """Pseudonyms for ``values``: raw identifiers hashed, existing pseudonyms kept.

    Each distinct value is hashed once, so millions of rows with thousands of distinct
    identifiers are cheap. Anything that is neither a raw identifier nor a pseudonym
    (``P`` + 16 hex) is hashed too, so nothing identifying can pass through by accident.
    """
    items = list(values)
    cache: dict[str, str] = {}
    out = []
    for value in items:
        text = "" if value is None else str(value)
        if text not in cache:
            if PSEUDONYM.match(text) or text == "":
                cache[text] = text
            else:
                digest = hmac.new(key, normalise_identifier(text).encode("utf-8"), hashlib.sha256)
                cache[text] = "P" + digest.hexdigest()[:16]
        out.append(cache[text])
    return out


# --------------------------------------------------------------------------- disclosure

#: Column added to the rows :func:`suppress_small_counts` appends for totals.
TOTAL_FLAG = "is_total"
#: Label of the grand-total row in the ``group_by`` column.
GRAND_TOTAL = "Total"
#: Largest number of hidden cells the exact linear-algebra audit is run on (per table).
_AUDIT_LIMIT = 2000


def _count_matrix(table: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The counts as a float matrix, refusing anything that is not a count."""
    if not columns:
        raise ValidationError("columns is empty; name the count columns to protect")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValidationError(
            f"columns {missing} are not in the table (it has {list(table.columns)[:15]}); "
            "pass the names of its count columns")
    out = np.empty((len(table), len(columns)))
    for j, col in enumerate(columns):
        raw = table[col]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() | ~np.isfinite(values.astype(float)) | (values < 0)
        if bad.any():
            rows = list(table.index[bad.to_numpy()][:5])
            raise ValidationError(
                f"column {col!r} has {int(bad.sum())} values that are not non-negative "
                f"counts (rows {rows}); fill missing counts with 0 or drop those rows "
                "before suppression")
        out[:, j] = values.to_numpy(dtype=float)
    return out


def _audit(values: np.ndarray, hidden: np.ndarray,
           equations: list[tuple[np.ndarray, np.ndarray]]) -> list[int]:
    """Hidden cells that the published cells and totals determine exactly.

    Each equation is ``(cells, signs)`` with ``sum(signs * values[cells]) == constant``
    known to a reader. A hidden cell is determined when its unit vector lies in the row
    space of the equations restricted to the hidden cells.
    """
    unknown = np.flatnonzero(hidden)
    if len(unknown) == 0 or len(unknown) > _AUDIT_LIMIT:
        if len(unknown) > _AUDIT_LIMIT:
            log.warning("%d suppressed cells: exact recoverability audit skipped "
                        "(group rule still applied)", len(unknown))
        return []
    where = {int(c): i for i, c in enumerate(unknown)}
    rows = []
    for cells, signs in equations:
        row = np.zeros(len(unknown))
        for c, s in zip(cells, signs, strict=True):
            if int(c) in where:
                row[where[int(c)]] = s
        if row.any():
            rows.append(row)
    if not rows:
        return []
    a = np.vstack(rows)
    _, sv, vt = np.linalg.svd(a, full_matrices=False)
    rank = int((sv > 1e-9 * max(1.0, sv[0])).sum())
    basis = vt[:rank]
    weight = (basis ** 2).sum(axis=0)
    return [int(unknown[i]) for i in np.flatnonzero(weight > 1 - 1e-9)]


def _pick(values: np.ndarray, hidden: np.ndarray, cells: np.ndarray) -> int | None:
    """The smallest non-zero visible cell among ``cells`` (a zero only if none)."""
    free = [int(c) for c in cells if not hidden[c]]
    if not free:
        return None
    return min(free, key=lambda c: (values[c] == 0, values[c], c))


def suppress_small_counts(
    table: pd.DataFrame,
    *,
    columns: Sequence[str],
    threshold: int,
    total_row: bool = False,
    group_by: str | None = None,
) -> pd.DataFrame:
    """Hide small counts and the complementary cells that would give them away.

    *Primary suppression* hides every count from 1 to ``threshold - 1``. A zero is kept:
    it says nobody was counted, which identifies no one, and hiding zeros would only
    make tables unreadable.

    *Secondary suppression* makes the hidden counts unrecoverable from totals. The
    totals a reader is assumed to know are: each column's total within each
    ``group_by`` group (or over the whole table), and, when there are two or more count
    columns, each row's total. Whenever such a group holds exactly one hidden cell, its
    smallest visible non-zero cell is hidden too (a zero only when nothing else is
    left), and this repeats until no group has a single hidden cell. An exact audit then
    checks that no hidden cell is determined by all the totals together (e.g. through a
    chain of rows and columns) and hides more complementary cells until none is.

    With ``total_row=True`` the totals are published as extra rows flagged
    ``is_total``: one per ``group_by`` group and a grand total (labelled ``"Total"`` in
    the ``group_by`` column). They are computed from the unsuppressed counts, are
    themselves suppressed when small, and take part in secondary suppression, so they
    never reveal a hidden cell.

    Parameters
    ----------
    table
        One row per area (or other unit); not modified.
    columns
        The count columns to protect (non-negative numbers, no missing values).
    threshold
        Counts from 1 to ``threshold - 1`` are hidden (``threshold=1`` hides nothing).
    total_row
        Append the (protected) total rows.
    group_by
        Column whose groups have published subtotals (e.g. the local authority of each
        LSOA).

    Returns
    -------
    DataFrame
        A copy of ``table``: each count column holds nullable integers (``Int64``, or
        ``Float64`` for non-integral counts) with hidden cells as ``<NA>``, and a
        boolean ``<column>_suppressed`` column beside it. For a display copy, fill the
        ``<NA>`` cells with ``"*"``.

    Raises
    ------
    ValidationError
        For a missing column, a negative, missing or non-numeric count, or a bad
        ``threshold``.

    Examples
    --------
    >>> t = pd.DataFrame({"la": ["X", "X", "Y", "Y"], "n": [2, 9, 10, 11]})
    >>> out = suppress_small_counts(t, columns=["n"], threshold=5, group_by="la",
    ...                             total_row=True)
    >>> out["n"].tolist(), out["is_total"].tolist()
    ([<NA>, <NA>, 10, 11, 11, 21, 32], [False, False, False, False, True, True, True])
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) \
            or threshold < 1:
        raise ValidationError(f"threshold must be a whole number >= 1, got {threshold!r}")
    columns = list(columns)
    if len(set(columns)) != len(columns):
        raise ValidationError(f"columns {columns} repeats a name; list each count column once")
    values = _count_matrix(table, columns)
    n, k = values.shape
    if group_by is not None:
        if group_by not in table.columns:
            raise ValidationError(f"group_by column {group_by!r} is not in the table")
        if group_by in columns:
            raise ValidationError(f"group_by {group_by!r} is also a count column")
        if table[group_by].isna().any():
            raise ValidationError(f"group_by column {group_by!r} has missing values; "
                                  "give every row its group")
        labels = list(pd.unique(table[group_by]))
        codes = pd.Categorical(table[group_by], categories=labels).codes
        groups = [np.flatnonzero(codes == g) for g in range(len(labels))]
    else:
        labels = []
        groups = [np.arange(n)]

    # rows: the table, then one total per group (if grouped), then the grand total
    total_rows: list[int] = []
    grand: int | None = None
    if total_row:
        sums = [values[g].sum(axis=0) for g in groups] if group_by is not None else []
        grand_sum = values.sum(axis=0)
        total_rows = list(range(n, n + len(sums)))
        grand = n + len(sums)
        values = np.vstack([values, *sums, grand_sum]) if sums else np.vstack([values,
                                                                                grand_sum])
    flat = values.ravel()

    def cell(i: int, j: int) -> int:
        return i * k + j

    equations: list[tuple[np.ndarray, np.ndarray]] = []

    def add(members: list[int], total: int | None) -> None:
        cells = members + ([total] if total is not None else [])
        if len(cells) >= 2:
            signs = [1.0] * len(members) + ([-1.0] if total is not None else [])
            equations.append((np.array(cells), np.array(signs)))

    for j in range(k):
        if group_by is not None:
            for g, members in enumerate(groups):
                add([cell(int(i), j) for i in members],
                    cell(total_rows[g], j) if total_row else None)
            if total_row and grand is not None:
                add([cell(t, j) for t in total_rows], cell(grand, j))
        else:
            add([cell(i, j) for i in range(n)], cell(grand, j) if grand is not None else None)
    if k >= 2:
        for i in range(len(values)):
            add([cell(i, j) for j in range(k)], None)

    hidden = (flat >= 1) & (flat < threshold)
    while True:
        changed = True
        while changed:
            changed = False
            for cells, _ in equations:
                if int(hidden[cells].sum()) == 1:
                    chosen = _pick(flat, hidden, cells)
                    if chosen is not None:
                        hidden[chosen] = True
                        changed = True
        exposed = _audit(flat, hidden, equations)
        if not exposed:
            break
        added = False
        for c in exposed:
            pool = np.unique(np.concatenate([cells for cells, _ in equations if c in cells]))
            chosen = _pick(flat, hidden, pool)
            if chosen is not None:
                hidden[chosen] = True
                added = True
        if not added:
            log.warning("%d suppressed cells remain recoverable and have no visible "
                        "neighbour left to hide", len(exposed))
            break
    mask = hidden.reshape(values.shape)
    log.info("suppressed %d of %d cells (%d primary) below %d", int(mask.sum()), mask.size,
             int(((flat >= 1) & (flat < threshold)).sum()), threshold)

    out = table.copy()
    if total_row:
        extra = pd.DataFrame(index=range(len(values) - n), columns=table.columns, dtype=object)
        if group_by is not None:
            extra[group_by] = [*labels, GRAND_TOTAL]
        out = pd.concat([out.assign(**{TOTAL_FLAG: False}),
                         extra.assign(**{TOTAL_FLAG: True})], ignore_index=True)
    for j, col in enumerate(columns):
        column = values[:, j]
        integral = bool(np.all(column == np.round(column)))
        series = pd.Series(np.round(column) if integral else column, index=out.index,
                           dtype="Int64" if integral else "Float64")
        series[mask[:, j]] = pd.NA
        out[col] = series
        out[f"{col}_suppressed"] = mask[:, j]
    return out


def check_no_small_counts(table: pd.DataFrame, *, columns: Sequence[str], threshold: int) -> None:
    """Refuse a table that would publish a count from 1 to ``threshold - 1``.

    Missing (suppressed) cells pass. Every exporter of partner/public tables calls this
    last, so a table that skipped :func:`suppress_small_counts` cannot leave.

    Raises
    ------
    PrivacyError
        Naming the column and how many cells are small (never the values themselves).

    Examples
    --------
    >>> check_no_small_counts(pd.DataFrame({"n": [0, 5, None]}), columns=["n"], threshold=5)
    >>> check_no_small_counts(pd.DataFrame({"n": [2]}), columns=["n"], threshold=5)
    Traceback (most recent call last):
    ...
    geointel.errors.PrivacyError: column 'n' has 1 counts from 1 to 4 that would be published; \
run suppress_small_counts(..., threshold=5) first
    """
    for col in columns:
        if col not in table.columns:
            raise ValidationError(f"column {col!r} is not in the table; cannot check it")
        values = pd.to_numeric(table[col].astype(object).where(table[col].notna(), None),
                               errors="coerce")
        small = int(((values >= 1) & (values < threshold)).sum())
        if small:
            raise PrivacyError(
                f"column {col!r} has {small} counts from 1 to {threshold - 1} that would be "
                f"published; run suppress_small_counts(..., threshold={threshold}) first")


#: Words in a layer's name or columns that mark records about people or incidents.
PERSONAL_SUBJECTS = ("offence", "offense", "crime", "death", "deceased", "address",
                     "postcode", "incident", "victim", "patient", "contact", "intel")
_POINT_COLUMNS = ({"x", "y"}, {"easting", "northing"}, {"lat", "lon"},
                  {"latitude", "longitude"})
SENSITIVITIES = ("public", "partner", "police")

L = TypeVar("L")


def _layer_parts(layer: Any) -> tuple[str, Any, str]:
    if hasattr(layer, "sensitivity") and hasattr(layer, "frame"):
        return str(getattr(layer, "name", "")), layer.frame, str(layer.sensitivity)
    if isinstance(layer, tuple) and len(layer) == 3:
        return str(layer[0]), layer[1], str(layer[2])
    raise ValidationError(
        f"layer {layer!r} is neither a MapLayer (.frame, .sensitivity) nor a "
        "(name, frame, sensitivity) tuple")


def _is_point_level(frame: Any) -> bool:
    geom_type = getattr(frame, "geom_type", None)
    if geom_type is not None and hasattr(frame, "crs"):
        return bool(pd.Series(geom_type).isin(["Point", "MultiPoint"]).any())
    cols = {str(c).strip().lower() for c in getattr(frame, "columns", [])}
    return any(pair <= cols for pair in _POINT_COLUMNS)


def _is_personal(name: str, frame: Any) -> bool:
    words = [name.lower(), *(str(c).lower() for c in getattr(frame, "columns", []))]
    return any(s in w for w in words for s in PERSONAL_SUBJECTS)


def partner_layers(layers: Iterable[L]) -> list[L]:
    """The layers that may go into a partner (or public) map.

    Layers are ``geointel.maps.MapLayer`` objects (anything with ``.frame`` and
    ``.sensitivity``, and usually ``.name``) or ``(name, frame, sensitivity)`` tuples;
    the kept ones are returned unchanged, in order. Point-level layers about offences,
    deaths, addresses or other records of people (see :data:`PERSONAL_SUBJECTS`,
    matched in the layer name and column names) are dropped with a log message;
    aggregated (polygon) layers and point layers of places such as services and stops
    are kept.

    Raises
    ------
    PrivacyError
        If any layer is marked ``"police"``: a police-only layer reaching a partner
        output is a mistake upstream, so it is refused rather than silently dropped.
    ValidationError
        For an unknown sensitivity or something that is not a layer.

    Examples
    --------
    >>> pts = pd.DataFrame({"crime_type": ["Drugs"], "lat": [51.5], "lon": [0.7]})
    >>> wards = pd.DataFrame({"ward": ["Milton"], "rate": [12.0]})
    >>> [n for n, _, _ in partner_layers([("offences", pts, "partner"),
    ...                                   ("rates", wards, "partner")])]
    ['rates']
    """
    kept: list[L] = []
    for layer in layers:
        name, frame, sensitivity = _layer_parts(layer)
        if sensitivity not in SENSITIVITIES:
            raise ValidationError(f"layer {name!r} has sensitivity {sensitivity!r}; "
                                  f"use one of {', '.join(SENSITIVITIES)}")
        if sensitivity == "police":
            raise PrivacyError(
                f"layer {name!r} is police-only and may not be in a partner output; "
                "build the partner map from partner or public layers only")
        if _is_point_level(frame) and _is_personal(name, frame):
            log.info("partner output: dropped point-level layer %r", name)
            continue
        kept.append(layer)
    return kept
