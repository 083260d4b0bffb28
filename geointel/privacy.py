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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from geointel.errors import PrivacyError, ValidationError

log = logging.getLogger(__name__)

KEY_ENV = "GEOINTEL_PSEUDONYM_KEY"
#: Shortest key accepted in hex (``geointel key new`` writes 32 random bytes).
MIN_KEY_BYTES = 16
#: Shortest key accepted as a passphrase (text that is not hex).
MIN_PASSPHRASE = 32
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

    The key is hex (as ``geointel key new`` writes: 32 random bytes) of at least
    :data:`MIN_KEY_BYTES` bytes, or else a passphrase of at least
    :data:`MIN_PASSPHRASE` characters. A key that is one byte repeated (``000...``,
    ``aaa...``, a placeholder) is refused: pseudonyms under it could be reversed by
    hashing every phone number with it.

    Raises
    ------
    PrivacyError
        If neither gives a key, or the key is too short or a placeholder.

    Examples
    --------
    >>> len(load_key(None, env={KEY_ENV: bytes(range(32)).hex()}))
    32
    >>> load_key(None, env={KEY_ENV: "0" * 64})
    Traceback (most recent call last):
    ...
    geointel.errors.PrivacyError: the pseudonymisation key from GEOINTEL_PSEUDONYM_KEY is one \
byte repeated, a placeholder rather than a key; make a random one with `geointel key new`
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
        if len(text) < MIN_PASSPHRASE:
            raise PrivacyError(
                f"the pseudonymisation key from {source} is not hex and shorter than "
                f"{MIN_PASSPHRASE} characters; make a random one with `geointel key new` "
                "(or give a longer passphrase)") from None
    if len(key) < MIN_KEY_BYTES:
        raise PrivacyError(f"the pseudonymisation key from {source} is shorter than "
                           f"{MIN_KEY_BYTES} bytes; make one with `geointel key new`")
    if len(set(key)) == 1:
        raise PrivacyError(f"the pseudonymisation key from {source} is one byte repeated, a "
                           "placeholder rather than a key; make a random one with "
                           "`geointel key new`")
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
#: Largest number of hidden cells linked by two or more totals that the interval audit
#: solves linear programmes for (single-total groups have a closed form and no limit).
_AUDIT_LIMIT = 1500


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


Equation = tuple[np.ndarray, np.ndarray]


def prior_bounds(values: np.ndarray, hidden: np.ndarray, *,
                 threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """What a reader of the published table knows about each hidden cell before totals.

    Zeros are published, so a hidden cell is at least 1; a hidden *small* cell (primary
    suppression) is at most ``threshold - 1`` (below ``threshold`` for non-whole counts);
    a complementary cell has no upper bound. The reader is assumed to know which hidden
    cells are small, which is more than the table says, so the audit errs on the safe
    side. A zero hidden as a complement of last resort gets ``[0, inf)`` (the bounds must
    hold for the true values). Visible cells get their value as both bounds.

    Examples
    --------
    >>> lo, hi = prior_bounds(np.array([0., 3., 12., 0.]),
    ...                       np.array([False, True, True, True]), threshold=5)
    >>> lo.tolist(), hi.tolist()
    ([0.0, 1.0, 1.0, 0.0], [0.0, 4.0, inf, inf])
    """
    integral = bool(np.all(values == np.round(values)))
    primary = hidden & (values >= 1) & (values < threshold)
    lo = np.where(hidden, np.where(values >= 1, 1.0, 0.0), values)
    hi = np.where(hidden, np.inf, values)
    hi = np.where(primary, float(threshold - 1 if integral else threshold), hi)
    return lo, hi


def _components(hidden_cells: np.ndarray,
                equations: Sequence[Equation]) -> list[tuple[list[int], list[int]]]:
    """Groups of hidden cells linked through equations: (cells, equation indices)."""
    parent = {int(c): int(c) for c in hidden_cells}

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    touching: list[list[int]] = []
    for cells, _ in equations:
        members = [int(c) for c in cells if int(c) in parent]
        touching.append(members)
        for c in members[1:]:
            ra, rb = find(members[0]), find(c)
            if ra != rb:
                parent[rb] = ra
    cells_of: dict[int, list[int]] = {}
    for c in parent:
        cells_of.setdefault(find(c), []).append(c)
    eqs_of: dict[int, list[int]] = {}
    for e, members in enumerate(touching):
        if members:
            eqs_of.setdefault(find(members[0]), []).append(e)
    return [(sorted(cells), eqs_of.get(root, [])) for root, cells in cells_of.items()]


def _one_equation_ranges(signs: np.ndarray, rhs: float, lo: np.ndarray,
                         hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ranges of each x_i given ``sum(signs * x) == rhs`` and ``lo <= x <= hi``."""
    low_term = np.where(signs > 0, lo, -hi)    # smallest value of signs_i * x_i
    high_term = np.where(signs > 0, hi, -lo)   # largest
    others_low = _sum_without_each(low_term)
    others_high = _sum_without_each(high_term)
    with np.errstate(invalid="ignore"):
        t_low = rhs - others_high               # range of signs_j * x_j
        t_high = rhs - others_low
    x_low = np.where(signs > 0, t_low, -t_high)
    x_high = np.where(signs > 0, t_high, -t_low)
    return np.maximum(lo, x_low), np.minimum(hi, x_high)


def _sum_without_each(terms: np.ndarray) -> np.ndarray:
    """``sum(terms) - terms[i]`` for each i, exact when some terms are infinite (all of
    one sign: the callers pass lower ends, which can only be -inf, or upper ends)."""
    finite = np.isfinite(terms)
    out = terms[finite].sum() - np.where(finite, terms, 0.0)
    for inf in (np.inf, -np.inf):
        others = int((terms == inf).sum()) - (terms == inf)
        out = np.where(others > 0, inf, out)
    return out


def feasible_ranges(values: np.ndarray, hidden: np.ndarray,
                    equations: Sequence[Equation], *, threshold: int,
                    enough: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest value each hidden cell can take, as a reader can work out.

    A reader knows the published cells, every total in ``equations`` (each
    ``(cells, signs)`` meaning ``sum(signs * values[cells])`` is known) and the bounds of
    :func:`prior_bounds`. A group of hidden cells tied by one total has a closed form;
    cells tied by several totals get two linear programmes each (HiGHS). Visible cells
    get their value. This is the interval (bounded) audit of statistical disclosure
    control; it finds exact recovery through chains of totals too.

    With ``enough``, a cell tied by several totals is only solved until two feasible
    tables differ in it by at least ``enough`` (the returned range is then inside the true
    one, and at least that wide): the audit only needs to know that a range is not a single
    value, and each solution of one cell's programme shows the spread of every other cell.

    Examples
    --------
    Three hidden ones whose total is known are each exactly 1:

    >>> v = np.array([1., 1., 1., 0., 9.])
    >>> h = np.array([True, True, True, False, False])
    >>> lo, hi = feasible_ranges(v, h, [(np.arange(5), np.ones(5))], threshold=5)
    >>> lo[:3].tolist(), hi[:3].tolist()
    ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    """
    lo_all, hi_all = prior_bounds(values, hidden, threshold=threshold)
    low, high = lo_all.copy(), hi_all.copy()
    for cells, eq_ids in _components(np.flatnonzero(hidden), equations):
        idx = np.array(cells)
        pos = {c: i for i, c in enumerate(cells)}
        rows = np.zeros((len(eq_ids), len(cells)))
        rhs = np.zeros(len(eq_ids))
        for r, e in enumerate(eq_ids):
            eq_cells, signs = equations[e]
            for c, s in zip(eq_cells, signs, strict=True):
                if int(c) in pos:
                    rows[r, pos[int(c)]] += s
                    rhs[r] += s * values[int(c)]
        keep = np.abs(rows).sum(axis=1) > 0
        rows, rhs = rows[keep], rhs[keep]
        if len(rows) == 0:
            continue
        if len(rows) == 1 and np.all(np.isin(rows[0], (-1.0, 1.0))):
            low[idx], high[idx] = _one_equation_ranges(rows[0], float(rhs[0]),
                                                       lo_all[idx], hi_all[idx])
            continue
        if len(cells) > _AUDIT_LIMIT:
            raise PrivacyError(
                f"{len(cells)} suppressed cells are linked by {len(rows)} totals, too many to "
                f"audit (limit {_AUDIT_LIMIT}); publish the table at a coarser level or in "
                "parts")
        low[idx], high[idx] = _lp_ranges(rows, rhs, lo_all[idx], hi_all[idx], enough)
    return low, high


def _lp_ranges(a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               enough: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of each variable by linear programming (see :func:`feasible_ranges`).

    Every solution is a feasible table, so the values it gives all cells narrow nothing
    but widen what has been seen; the min (max) programme of a cell attains its minimum
    (maximum), so the ranges are exact unless ``enough`` stops a cell early.
    """
    from scipy.optimize import linprog

    n = a.shape[1]
    bounds = [(float(lo_i), None if np.isinf(hi_i) else float(hi_i))
              for lo_i, hi_i in zip(lo, hi, strict=True)]
    low, high = np.full(n, np.inf), np.full(n, -np.inf)
    for i in range(n):
        for sign in (1.0, -1.0):
            if enough is not None and high[i] - low[i] >= enough:
                break
            c = np.zeros(n)
            c[i] = sign
            res = linprog(c, A_eq=a, b_eq=b, bounds=bounds, method="highs")
            if res.status == 0:
                low, high = np.minimum(low, res.x), np.maximum(high, res.x)
            elif res.status == 3:   # unbounded: only the maximum can be
                high[i] = np.inf
            else:  # pragma: no cover - the true values are always feasible
                raise PrivacyError(f"disclosure audit could not solve its programme "
                                   f"({res.message}); please report this as a bug")
    return low, high


def single_valued(low: np.ndarray, high: np.ndarray, *, integral: bool) -> np.ndarray:
    """Whether each range holds one value only (one whole number, for whole counts).

    >>> single_valued(np.array([1., 1., 2.]), np.array([1., 1.9, 4.]), integral=True).tolist()
    [True, True, False]
    """
    if integral:
        with np.errstate(invalid="ignore"):
            return np.floor(high + 1e-6) - np.ceil(low - 1e-6) < 1
    return high - low < 1e-9


def _exposed(values: np.ndarray, hidden: np.ndarray, equations: Sequence[Equation],
             threshold: int) -> list[int]:
    """Hidden cells whose feasible range is a single value, where the rule did not
    already say so (a small count with ``threshold == 2`` is 1 by the rule itself)."""
    integral = bool(np.all(values == np.round(values)))
    low, high = feasible_ranges(values, hidden, equations, threshold=threshold,
                                enough=1.0 if integral else 1e-9)
    prior_lo, prior_hi = prior_bounds(values, hidden, threshold=threshold)
    single = single_valued(low, high, integral=integral)
    by_rule = single_valued(prior_lo, prior_hi, integral=integral)
    return [int(c) for c in np.flatnonzero(hidden & single & ~by_rule)]


def _pick(values: np.ndarray, hidden: np.ndarray, cells: np.ndarray, *,
          opens: Callable[[int], int] | None = None) -> int | None:
    """The smallest non-zero visible cell among ``cells`` (a zero only if none); with
    ``opens``, first the cells that start the fewest new totals with a hidden cell."""
    free = [int(c) for c in cells if not hidden[c]]
    if not free:
        return None
    return min(free, key=lambda c: (opens(c) if opens else 0, values[c] == 0, values[c], c))


def suppress_small_counts(
    table: pd.DataFrame,
    *,
    columns: Sequence[str],
    threshold: int,
    total_row: bool = False,
    group_by: str | None = None,
    totals_known: bool = True,
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
    left), and this repeats until no group has a single hidden cell.

    An *interval audit* then works out, as a reader could, the smallest and largest value
    each hidden cell can take given the published cells, all the totals together and
    what the rule itself says (zeros are shown, so a hidden cell is at least 1; a small
    cell is at most ``threshold - 1``; the reader is even assumed to know which hidden
    cells are the small ones), see :func:`feasible_ranges`. While any hidden cell is
    pinned to a single value (e.g. 20 hidden ones under a known total of 20), the
    smallest visible non-zero cell of its totals is hidden too. Exact recovery through
    chains of rows and columns is found the same way. With ``threshold=2`` a hidden
    small count is 1 by the rule itself, whatever the totals; use 3 or more.

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
    totals_known
        Whether a reader knows each column's total (within each group) although no total
        row is published, e.g. from a benchmark rate beside the table. The safe default
        is ``True``; pass ``False`` only for a table published with nothing that gives its
        totals away (its row totals, with two or more count columns, still count as
        known). Must be ``True`` with ``total_row=True``.

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
    PrivacyError
        When a total pins a hidden cell even with every cell of that total hidden, i.e.
        the known total is itself disclosive (three deaths in all, say, all ones): such a
        table cannot be published with its totals.

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
    if total_row and not totals_known:
        raise ValidationError("total_row=True publishes the totals, so totals_known cannot be "
                              "False; drop one of the two")
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
        # a known total that is not a published row pins even a single member (a group
        # of one row: its count is the total)
        if len(cells) >= 2 or (total is None and len(cells) == 1):
            signs = [1.0] * len(members) + ([-1.0] if total is not None else [])
            equations.append((np.array(cells), np.array(signs)))

    for j in range(k if totals_known else 0):
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
    by_cell: dict[int, list[int]] = {}
    for e, (cells, _) in enumerate(equations):
        for c in cells:
            by_cell.setdefault(int(c), []).append(e)
    while True:
        changed = True
        while changed:  # the quick rule: no known total with a single hidden cell
            changed = False
            for cells, _ in equations:
                if int(hidden[cells].sum()) == 1:
                    chosen = _pick(flat, hidden, cells)
                    if chosen is not None:
                        hidden[chosen] = True
                        changed = True
        exposed = _exposed(flat, hidden, equations, threshold)
        if not exposed:
            break

        def opens(c: int) -> int:
            """Totals of cell ``c`` with no hidden cell yet: hiding it there would leave
            that total with a single hidden cell and start a new chain of complements."""
            return sum(1 for e in by_cell.get(c, ()) if not hidden[equations[e][0]].any())

        added = False
        for comp_cells, eq_ids in _components(np.flatnonzero(hidden), equations):
            in_group = set(comp_cells)
            touched: set[int] = set()  # totals already given a complement this round
            for c in (c for c in exposed if c in in_group):
                mine = [e for e in eq_ids if c in equations[e][0]]
                if touched.intersection(mine):
                    continue  # its total just got a complement: audit again first
                near = [equations[e][0] for e in mine]
                chosen = _pick(flat, hidden, np.unique(np.concatenate(near)),
                               opens=opens) if near else None
                if chosen is None and eq_ids:  # widen to every total of the group
                    chosen = _pick(flat, hidden, np.unique(np.concatenate(
                        [equations[e][0] for e in eq_ids])), opens=opens)
                if chosen is not None:
                    hidden[chosen] = True
                    added = True
                    touched.update(e for e in eq_ids if chosen in equations[e][0])
                    touched.update(mine)
        if not added:
            rows = sorted({c // k for c in exposed})
            raise PrivacyError(
                f"the totals of {', '.join(repr(c) for c in columns)} pin {len(exposed)} "
                f"suppressed cell(s) (rows {rows[:10]}) to a single value even with every "
                "cell of those totals hidden (the total itself is too small to publish); "
                "publish at a coarser level or over a longer period, or without the totals")
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
