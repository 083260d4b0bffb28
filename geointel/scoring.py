"""MoRiLE-style scoring, ranking and tracking of county lines.

The scheme is a versioned YAML file (``models/morile_style_illustrative.yaml`` by default)
holding every number: the 0-4 scale, harm-dimension weights and the bounds they may vary
within, scope and vulnerability multipliers, likelihood values, the combination rule,
organisational-position factor, priority bands, confidence grades and the rules that
suggest scores from evidence. Real MoRiLE matrices are not published, so the default is
labelled "MoRiLE-style, illustrative"; a force replaces the file with its own.

Arithmetic, for line ``i``::

    harm      = sum_d(w_d * s_d) / sum_d(w_d)                 (d = the five harm dimensions)
    harm_adj  = harm * scope_multiplier * vulnerability_multiplier
    risk_raw  = harm_adj * likelihood    (combination "product")  or  harm_adj + likelihood ("sum")
    risk      = 100 * risk_raw / (largest risk_raw the scheme allows)
    factor    = lo + (hi - lo) * (weighted mean of capacity, capability, opportunity - min) / span
    priority  = risk * factor       -> band from the scheme's thresholds

Inputs are plain DataFrames so everything can be checked by hand:

- **lines** - one row per line: ``line_id`` plus evidence columns (any may be missing or
  blank): network ``customers`` (active customers per week), ``messages`` (deal messages per
  week), ``runners``, ``reach_km`` - the ``lines`` table of
  :func:`geointel.network.pipeline.analyse_lines` (``lines.csv`` of ``geointel lines``)
  carries them under these names, with ``handsets`` (``;``-separated pseudonyms) that map
  intelligence subjects and disruption-log numbers to lines; intelligence ``weapons``, ``violence``,
  ``cuckooed_addresses``, ``exploited_children``, ``vulnerable_adults`` (report counts),
  ``intel_reports``, ``intel_corroborated``; analyst scores ``score_<item>`` for any item
  (``physical`` ... ``likelihood``, ``capacity``, ``capability``, ``opportunity``).
- **intel** - one row per intelligence report (``geointel.io.contacts.read_intel``, which
  pseudonymises subjects): ``subject`` (a line id, or a handset mapped to one with
  ``line_of`` or the lines table's ``handsets``), the intelligence columns above, optional
  ``grading`` (3x5x2, e.g. ``"1A"``, ``"2-B-P"``) and ``date``.
- **overrides** - ``line_id, item, value, by, at, reason``: the analyst's audit trail.
- **activity** - one row per line and week: ``line_id``, ``week`` (any date in the week),
  and measures ``deal_messages``, ``active_customers``, ``drug_offences`` (any present),
  optionally ``days_covered`` (days of the week inside the records; weeks under 7 are left
  out); ``LinesResult.activity`` (``activity.csv`` of ``geointel lines``).
- **offences** - police.uk drug offences per month in a line's footprint and in the rest of
  the area (:func:`footprint_offences` of the police.uk rows and ``footprints.csv``).
- **disruption log** - ``line_id, date, action, outcome, grading (major|moderate|minor),
  closure_type (1|2|blank)``.
- **line customers** - ``line_id, customer, week``: who each line served, for displacement
  (``LinesResult.line_customers``, ``line_customers.csv``).

Tables written by ``geointel lines`` carry ``key_fingerprint``, the fingerprint of the
pseudonymisation key; the readers and :func:`track` refuse them under another key
(:func:`check_key`). The tracker's tests of change are :func:`comparison_test`,
:func:`segmented_test` and :func:`offences_test` (see :data:`TRACKER_TEST` and
``models/README.md``).

Examples
--------
>>> scheme = load_scheme(DEFAULT_SCHEME)
>>> lines = pd.DataFrame({"line_id": ["A", "B"], "weapons": [3, 0], "messages": [400, 10]})
>>> ranked = rank_lines(lines, scheme, seed=1, draws=50).table
>>> ranked[["line_id", "rank", "rank_low", "rank_high"]].values.tolist()
[['A', 1, 1, 1], ['B', 2, 2, 2]]
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import pandas as pd
import yaml

from geointel._progress import Progress, report
from geointel.errors import DataFileError, ValidationError
from geointel.io._table import ReadResult, RejectLog, finish, read_csv_rows
from geointel.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

#: The default scheme shipped with the project.
DEFAULT_SCHEME = PROJECT_ROOT / "models" / "morile_style_illustrative.yaml"
SCHEME_FORMAT = "geointel-scoring-scheme/1"
HARM_DIMENSIONS = ("physical", "psychological", "financial", "community", "exploitation")
RISK_ITEMS = (*HARM_DIMENSIONS, "scope", "vulnerability", "likelihood")
POSITION_COMPONENTS = ("capacity", "capability", "opportunity")
ITEMS = (*RISK_ITEMS, *POSITION_COMPONENTS)
NETWORK_EVIDENCE = ("customers", "messages", "runners", "reach_km")
INTEL_EVIDENCE = ("weapons", "violence", "cuckooed_addresses", "exploited_children",
                  "vulnerable_adults")
INTEL_COUNTS = ("intel_reports", "intel_corroborated")
#: Evidence columns a scheme may name: the network evidence and intelligence sums of
#: ``geointel lines`` and ``evidence_from_intel``, and the lines table's own counts. A scheme
#: reading other columns declares them under ``custom_evidence`` (so a typo is refused).
KNOWN_EVIDENCE = (*NETWORK_EVIDENCE, *INTEL_EVIDENCE, "seizures", "intel_records",
                  *INTEL_COUNTS, "customers_total", "n_handsets")
MEASURES = ("deal_messages", "active_customers", "drug_offences")
GRADINGS = ("major", "moderate", "minor")
#: Column of the tables ``geointel lines`` writes: the fingerprint of the pseudonymisation key.
FINGERPRINT_COLUMN = "key_fingerprint"
#: Column of the weekly activity: days of the week inside the records' span (7 = full week).
COVERAGE_COLUMN = "days_covered"
OVERRIDE_COLUMNS = ["line_id", "item", "value", "by", "at", "reason"]
DISRUPTION_COLUMNS = ["line_id", "date", "action", "outcome", "grading", "closure_type"]
BASES = ("default", "evidence", "analyst", "override")
_GRADING = re.compile(r"([1-3])\s*[-x/ ]?\s*([A-E])", re.IGNORECASE)
_TRUE = {"true", "yes", "y"}
_FALSE = {"false", "no", "n"}


# --- the scheme ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Weighted:
    """A weighted component (harm dimension or position component) and its weight bounds."""

    key: str
    label: str
    weight: float
    bounds: tuple[float, float]


@dataclass(frozen=True)
class Level:
    """One level of an ordinal item: its label and value (multiplier or likelihood value)."""

    level: int
    label: str
    value: float


@dataclass(frozen=True)
class Rule:
    """Suggest a score from one evidence column: lowest level + thresholds reached."""

    evidence: str
    thresholds: tuple[float, ...]

    def score(self, value: float, lowest: int) -> int:
        """The suggested level for an evidence value.

        >>> Rule("weapons", (1, 2, 4, 8)).score(3, 0)
        2
        """
        return lowest + sum(1 for t in self.thresholds if value >= t)


@dataclass(frozen=True)
class Band:
    """A priority band and the lowest priority score it takes."""

    band: str
    min_priority: float


@dataclass(frozen=True)
class Grade:
    """A confidence grade and the evidence it needs."""

    grade: str
    min_coverage: float
    min_sources: int


@dataclass(frozen=True)
class Scheme:
    """A validated, immutable scoring scheme; build it with :func:`load_scheme`.

    Every mapping is held as a tuple so the scheme is hashable and picklable.

    Examples
    --------
    >>> s = load_scheme(DEFAULT_SCHEME)
    >>> s.label, s.levels("scope"), s.levels("physical")
    ('MoRiLE-style, illustrative', (1, 2, 3, 4), (0, 1, 2, 3, 4))
    """

    name: str
    version: str
    label: str
    notes: str
    scale: tuple[Level, ...]
    harm: tuple[Weighted, ...]
    scope: tuple[Level, ...]
    vulnerability: tuple[Level, ...]
    likelihood: tuple[Level, ...]
    combination: str
    position: tuple[Weighted, ...]
    factor_range: tuple[float, float]
    bands: tuple[Band, ...]
    network_evidence: tuple[str, ...]
    corroborating_sources: tuple[str, ...]
    corroborating_assessments: tuple[str, ...]
    grades: tuple[Grade, ...]
    defaults: tuple[tuple[str, int], ...]
    suggestions: tuple[tuple[str, tuple[Rule, ...]], ...]
    draws: int
    interval: float
    source: str = ""
    custom_evidence: tuple[str, ...] = ()

    def _table(self, item: str) -> tuple[Level, ...]:
        if item in ("scope", "vulnerability", "likelihood"):
            return tuple(getattr(self, item))
        if item in ITEMS:
            return self.scale
        raise ValidationError(f"unknown scoring item {item!r}; known items: {', '.join(ITEMS)}")

    def levels(self, item: str) -> tuple[int, ...]:
        """The integer levels ``item`` may take."""
        return tuple(lv.level for lv in self._table(item))

    def value(self, item: str, level: int) -> float:
        """The multiplier / value of a level of scope, vulnerability or likelihood."""
        return next(lv.value for lv in self._table(item) if lv.level == level)

    def label_of(self, item: str, level: int) -> str:
        """The label of a level, e.g. ``label_of("scope", 4)``."""
        return next(lv.label for lv in self._table(item) if lv.level == level)

    def default(self, item: str) -> int:
        """The score an item takes with neither evidence nor an analyst score."""
        return dict(self.defaults)[item]

    def rules(self, item: str) -> tuple[Rule, ...]:
        """The evidence rules suggesting a score for ``item`` (possibly none)."""
        return dict(self.suggestions).get(item, ())

    @property
    def risk_max(self) -> float:
        """The largest raw risk the scheme allows (the 100 of the normalised risk)."""
        harm = max(lv.level for lv in self.scale)
        adj = harm * max(lv.value for lv in self.scope) * max(
            lv.value for lv in self.vulnerability)
        lik = max(lv.value for lv in self.likelihood)
        return adj * lik if self.combination == "product" else adj + lik


class _Problems:
    """Collects every problem in a scheme so the user can fix them all at once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, path: str, problem: str, fix: str) -> None:
        self.items.append(f"{path}: {problem}. Fix: {fix}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(
                f"scoring scheme {self.source} is not valid ({len(self.items)} problem"
                f"{'s' if len(self.items) > 1 else ''}):\n  - " + "\n  - ".join(self.items))


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(p: _Problems, data: Mapping[str, Any], key: str, path: str) -> str:
    value = data.get(key)
    if not isinstance(value, str | int | float) or isinstance(value, bool) or not str(value):
        p.add(f"{path}{key}", f"is missing or not text (got {value!r})",
              f"give {key} as a quoted string")
        return ""
    return str(value)


def _mapping(p: _Problems, data: Mapping[str, Any], key: str, path: str) -> Mapping[Any, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping) or not value:
        p.add(f"{path}{key}", f"is missing or not a mapping (got {type(value).__name__})",
              f"give {key} as a YAML mapping, as in the default scheme")
        return {}
    return value


def _levels(p: _Problems, data: Mapping[str, Any], key: str, value_key: str | None
            ) -> tuple[Level, ...]:
    table = _mapping(p, data, key, "")
    out: list[Level] = []
    for level, spec in table.items():
        where = f"{key}.{level}"
        if not isinstance(level, int) or isinstance(level, bool) or level < 0:
            p.add(where, "level is not a non-negative integer",
                  "use integer levels 0, 1, 2, ... as keys")
            continue
        if value_key is None:
            if not isinstance(spec, str) or not spec:
                p.add(where, f"label is not text (got {spec!r})", "give each level a label")
                continue
            out.append(Level(level, spec, float(level)))
            continue
        if not isinstance(spec, Mapping):
            p.add(where, "is not a mapping", f"write {{label: ..., {value_key}: ...}}")
            continue
        label, value = spec.get("label"), spec.get(value_key)
        if not isinstance(label, str) or not label:
            p.add(f"{where}.label", "is missing", "give each level a label")
        if not _is_number(value) or value <= 0:
            p.add(f"{where}.{value_key}", f"is not a positive number (got {value!r})",
                  f"give {value_key} as a number above 0")
            continue
        out.append(Level(level, str(label), float(value)))
    out.sort(key=lambda lv: lv.level)
    numbers = [lv.level for lv in out]
    if numbers and numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        p.add(key, f"levels {numbers} are not consecutive integers",
              "number the levels consecutively, e.g. 0, 1, 2, 3, 4")
    if table and len(out) < 2:
        p.add(key, "has fewer than two levels", "give at least two levels")
    if any(b.value < a.value for a, b in itertools.pairwise(out)):
        p.add(key, f"{value_key} values decrease as the level rises",
              f"make {value_key} non-decreasing with the level")
    return tuple(out)


def _weighted(p: _Problems, table: Mapping[str, Any], path: str, keys: Sequence[str]
              ) -> tuple[Weighted, ...]:
    missing = [k for k in keys if k not in table]
    unknown = [str(k) for k in table if k not in keys]
    if table and missing:
        p.add(path, f"has no {', '.join(missing)}", f"give all of: {', '.join(keys)}")
    if unknown:
        p.add(path, f"has unknown key(s) {', '.join(unknown)}",
              f"use exactly: {', '.join(keys)}")
    out: list[Weighted] = []
    for key in keys:
        spec = table.get(key)
        if spec is None:
            continue
        where = f"{path}.{key}"
        if not isinstance(spec, Mapping):
            p.add(where, "is not a mapping", "write {label: ..., weight: ..., bounds: [lo, hi]}")
            continue
        weight, bounds = spec.get("weight"), spec.get("bounds")
        if not _is_number(weight) or weight <= 0:
            p.add(f"{where}.weight", f"is not a positive number (got {weight!r})",
                  "give a weight above 0")
            continue
        if (not isinstance(bounds, Sequence) or isinstance(bounds, str) or len(bounds) != 2
                or not all(_is_number(b) for b in bounds)):
            p.add(f"{where}.bounds", f"is not a pair of numbers (got {bounds!r})",
                  "write bounds: [lowest, highest] weight")
            continue
        lo, hi = float(bounds[0]), float(bounds[1])
        if not 0 < lo <= weight <= hi:
            p.add(f"{where}.bounds", f"[{lo}, {hi}] do not satisfy 0 < low <= weight "
                  f"({weight}) <= high", "widen the bounds to contain the weight")
            continue
        out.append(Weighted(key, str(spec.get("label") or key), float(weight), (lo, hi)))
    return tuple(out)


def _rules(p: _Problems, table: Any, levels: Mapping[str, tuple[int, ...]],
           known: Sequence[str]) -> tuple[tuple[str, tuple[Rule, ...]], ...]:
    if table is None:
        return ()
    if not isinstance(table, Mapping):
        p.add("suggestions", "is not a mapping", "map each item to a list of rules")
        return ()
    out: list[tuple[str, tuple[Rule, ...]]] = []
    for item, rules in table.items():
        where = f"suggestions.{item}"
        if item not in ITEMS:
            p.add(where, "is not a scoring item", f"use one of: {', '.join(ITEMS)}")
            continue
        if not isinstance(rules, list) or not rules:
            p.add(where, "is not a non-empty list", "write - {evidence: ..., thresholds: [...]}")
            continue
        parsed: list[Rule] = []
        for n, rule in enumerate(rules):
            at = f"{where}[{n}]"
            if not isinstance(rule, Mapping):
                p.add(at, "is not a mapping", "write {evidence: column, thresholds: [...]}")
                continue
            evidence, thresholds = rule.get("evidence"), rule.get("thresholds")
            if not isinstance(evidence, str) or not evidence.isidentifier():
                p.add(f"{at}.evidence", f"is not a column name (got {evidence!r})",
                      "name the evidence column, e.g. weapons")
                continue
            if evidence not in known:
                p.add(f"{at}.evidence", f"{evidence!r} is not an evidence column",
                      f"use one of {', '.join(known)}, or declare your own column under "
                      "custom_evidence")
                continue
            if (not isinstance(thresholds, list) or not thresholds
                    or not all(_is_number(t) for t in thresholds)):
                p.add(f"{at}.thresholds", f"is not a list of numbers (got {thresholds!r})",
                      "give thresholds as a list of numbers, e.g. [1, 2, 4, 8]")
                continue
            if any(b < a for a, b in itertools.pairwise(thresholds)):
                p.add(f"{at}.thresholds", f"{thresholds} decrease",
                      "list thresholds in non-decreasing order")
                continue
            span = len(levels.get(item, ())) - 1
            if span >= 0 and len(thresholds) > span:
                p.add(f"{at}.thresholds", f"has {len(thresholds)} thresholds but {item} has "
                      f"only {span} steps above its lowest level",
                      f"give at most {span} thresholds")
                continue
            parsed.append(Rule(evidence, tuple(float(t) for t in thresholds)))
        out.append((str(item), tuple(parsed)))
    return tuple(out)


_KEYS = ("format", "name", "version", "label", "notes", "scale", "harm", "scope",
         "vulnerability", "likelihood", "combination", "position", "priority_bands",
         "confidence", "defaults", "custom_evidence", "suggestions", "monte_carlo")


def validate_scheme(data: Any, *, source: str = "<scheme>") -> Scheme:
    """Check a parsed scheme and build the frozen :class:`Scheme`.

    Every problem is reported at once, each with its key path and the fix.

    Parameters
    ----------
    data
        The scheme as parsed from YAML (a mapping).
    source
        Where it came from, for messages.

    Raises
    ------
    ValidationError
        Listing every problem, e.g. ``harm.physical.bounds: [0.3, 0.4] do not satisfy ...``.

    Examples
    --------
    >>> raw = yaml.safe_load(DEFAULT_SCHEME.read_text())
    >>> validate_scheme(raw).name
    'morile_style_illustrative'
    >>> raw["combination"] = "max"
    >>> try:
    ...     validate_scheme(raw, source="s.yaml")
    ... except ValidationError as err:
    ...     print(str(err).splitlines()[1])
      - combination: is 'max', not one of product, sum. Fix: set combination: product or sum
    """
    p = _Problems(source)
    if not isinstance(data, Mapping):
        raise ValidationError(f"scoring scheme {source} is not a YAML mapping of keys; "
                              "start from models/morile_style_illustrative.yaml")
    for key in data:
        if key not in _KEYS:
            p.add(str(key), "is not a scheme key",
                  f"remove it or correct the spelling (keys: {', '.join(_KEYS)})")
    if data.get("format") != SCHEME_FORMAT:
        p.add("format", f"is {data.get('format')!r}, expected {SCHEME_FORMAT!r}",
              f"set format: {SCHEME_FORMAT}")
    name, version, label = (_text(p, data, k, "") for k in ("name", "version", "label"))
    scale = _levels(p, data, "scale", None)
    scope = _levels(p, data, "scope", "multiplier")
    vulnerability = _levels(p, data, "vulnerability", "multiplier")
    likelihood = _levels(p, data, "likelihood", "value")
    harm = _weighted(p, _mapping(p, data, "harm", ""), "harm", HARM_DIMENSIONS)
    combination = data.get("combination")
    if combination not in ("product", "sum"):
        p.add("combination", f"is {combination!r}, not one of product, sum",
              "set combination: product or sum")
    position_table = _mapping(p, data, "position", "")
    position = _weighted(p, _mapping(p, position_table, "components", "position.")
                         if position_table else {}, "position.components", POSITION_COMPONENTS)
    factor_range = position_table.get("factor_range") if position_table else None
    factor = (1.0, 1.0)
    if (isinstance(factor_range, list) and len(factor_range) == 2
            and all(_is_number(f) for f in factor_range)
            and 0 < factor_range[0] <= factor_range[1]):
        factor = (float(factor_range[0]), float(factor_range[1]))
    elif position_table:
        p.add("position.factor_range", f"is not [low, high] with 0 < low <= high "
              f"(got {factor_range!r})", "write factor_range: [0.8, 1.2]")
    bands = _bands(p, data.get("priority_bands"))
    confidence = _mapping(p, data, "confidence", "")
    network, sources, assessments, grades = _confidence(p, confidence)
    levels = {item: (tuple(lv.level for lv in (scope if item == "scope" else vulnerability
                     if item == "vulnerability" else likelihood if item == "likelihood"
                     else scale))) for item in ITEMS}
    defaults_table = _mapping(p, data, "defaults", "")
    defaults: list[tuple[str, int]] = []
    for item in ITEMS:
        value = defaults_table.get(item)
        if defaults_table and item not in defaults_table:
            p.add(f"defaults.{item}", "is missing", f"give a default level for {item}")
        elif defaults_table and value not in levels[item]:
            p.add(f"defaults.{item}", f"{value!r} is not a level of {item}",
                  f"use one of {list(levels[item])}")
        else:
            defaults.append((item, int(value) if isinstance(value, int) else 0))
    for key in defaults_table:
        if key not in ITEMS:
            p.add(f"defaults.{key}", "is not a scoring item", f"use one of: {', '.join(ITEMS)}")
    custom = data.get("custom_evidence", [])
    if not isinstance(custom, list) or not all(
            isinstance(c, str) and c.isidentifier() for c in custom):
        p.add("custom_evidence", f"is not a list of column names (got {custom!r})",
              "write custom_evidence: [firearms_discharges] for your own evidence columns")
        custom = []
    clash = sorted(set(custom) & set(KNOWN_EVIDENCE))
    if clash:
        p.add("custom_evidence", f"repeats known evidence column(s) {', '.join(clash)}",
              "list only columns geointel does not already know")
    known = (*KNOWN_EVIDENCE, *custom)
    for column in network:
        if column not in known:
            p.add("confidence.network_evidence", f"{column!r} is not an evidence column",
                  f"use columns of {', '.join(NETWORK_EVIDENCE)} or declare it under "
                  "custom_evidence")
    suggestions = _rules(p, data.get("suggestions"), levels, known)
    mc = data.get("monte_carlo", {"draws": 1000, "interval": 0.9})
    draws, interval = 1000, 0.9
    if not isinstance(mc, Mapping):
        p.add("monte_carlo", "is not a mapping", "write monte_carlo: {draws: 1000, interval: 0.9}")
    else:
        draws, interval = mc.get("draws", 1000), mc.get("interval", 0.9)
        if not isinstance(draws, int) or isinstance(draws, bool) or draws < 1:
            p.add("monte_carlo.draws", f"is not a positive integer (got {draws!r})",
                  "give the number of draws, e.g. 1000")
        if not _is_number(interval) or not 0 < interval <= 1:
            p.add("monte_carlo.interval", f"is not in (0, 1] (got {interval!r})",
                  "give the central share of ranks, e.g. 0.9")
    p.raise_if_any()
    return Scheme(
        name=name, version=version, label=label, notes=str(data.get("notes") or ""),
        scale=scale, harm=harm, scope=scope, vulnerability=vulnerability,
        likelihood=likelihood, combination=str(combination), position=position,
        factor_range=factor, bands=bands, network_evidence=network,
        corroborating_sources=sources, corroborating_assessments=assessments, grades=grades,
        defaults=tuple(defaults), suggestions=suggestions, draws=int(draws),
        interval=float(interval), source=source, custom_evidence=tuple(custom))


def _bands(p: _Problems, table: Any) -> tuple[Band, ...]:
    if not isinstance(table, list) or not table:
        p.add("priority_bands", "is missing or not a list",
              "list bands highest first: - {band: high, min_priority: 50}")
        return ()
    out: list[Band] = []
    for n, spec in enumerate(table):
        where = f"priority_bands[{n}]"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("band"), str) \
                or not _is_number(spec.get("min_priority")):
            p.add(where, f"is not {{band: name, min_priority: number}} (got {spec!r})",
                  "write - {band: high, min_priority: 50}")
            continue
        out.append(Band(spec["band"], float(spec["min_priority"])))
    mins = [b.min_priority for b in out]
    if any(b >= a for a, b in itertools.pairwise(mins)):
        p.add("priority_bands", f"min_priority values {mins} do not strictly decrease",
              "list bands from highest to lowest threshold")
    if out and out[-1].min_priority != 0:
        p.add(f"priority_bands[{len(out) - 1}].min_priority",
              f"is {out[-1].min_priority}, so low scores get no band",
              "make the last band start at 0")
    if len({b.band for b in out}) != len(out):
        p.add("priority_bands", "repeats a band name", "give each band its own name")
    return tuple(out)


def _confidence(p: _Problems, table: Mapping[str, Any]
                ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[Grade, ...]]:
    if not table:
        return (), (), (), ()
    network = table.get("network_evidence", list(NETWORK_EVIDENCE))
    if not isinstance(network, list) or not all(isinstance(c, str) for c in network):
        p.add("confidence.network_evidence", "is not a list of column names",
              "write network_evidence: [customers, messages, runners, reach_km]")
        network = []
    gradings = table.get("corroborating_gradings", {})
    sources = gradings.get("sources", []) if isinstance(gradings, Mapping) else None
    assessments = gradings.get("assessments", []) if isinstance(gradings, Mapping) else None
    if not isinstance(sources, list) or not all(str(s) in "123" for s in sources):
        p.add("confidence.corroborating_gradings.sources", f"is not a list of 1/2/3 "
              f"(got {sources!r})", 'write sources: ["1", "2"]')
        sources = []
    if not isinstance(assessments, list) or not all(
            isinstance(a, str) and len(a) == 1 and a.upper() in "ABCDE" for a in assessments):
        p.add("confidence.corroborating_gradings.assessments",
              f"is not a list of A-E (got {assessments!r})", "write assessments: [A, B, C]")
        assessments = []
    grades: list[Grade] = []
    raw = table.get("grades")
    if not isinstance(raw, list) or not raw:
        p.add("confidence.grades", "is missing or not a list",
              "list grades best first: - {grade: high, min_coverage: 0.75, min_sources: 3}")
        raw = []
    for n, spec in enumerate(raw):
        where = f"confidence.grades[{n}]"
        cov = spec.get("min_coverage") if isinstance(spec, Mapping) else None
        src = spec.get("min_sources") if isinstance(spec, Mapping) else None
        if (not isinstance(spec, Mapping) or not isinstance(spec.get("grade"), str)
                or not _is_number(cov) or not 0 <= cov <= 1
                or not isinstance(src, int) or isinstance(src, bool) or src < 0):
            p.add(where, f"is not {{grade: name, min_coverage: 0-1, min_sources: integer >= 0}} "
                  f"(got {spec!r})", "write - {grade: high, min_coverage: 0.75, min_sources: 3}")
            continue
        grades.append(Grade(spec["grade"], float(cov), int(src)))
    if grades and (grades[-1].min_coverage != 0 or grades[-1].min_sources != 0):
        p.add(f"confidence.grades[{len(grades) - 1}]", "the last grade has conditions, so some "
              "lines would get no grade", "make the last grade min_coverage: 0, min_sources: 0")
    return (tuple(network), tuple(str(s) for s in sources),
            tuple(a.upper() for a in assessments), tuple(grades))


def load_scheme(path: str | Path = DEFAULT_SCHEME) -> Scheme:
    """Read and validate a scheme YAML file.

    Raises
    ------
    DataFileError
        If the file is missing or not YAML.
    ValidationError
        If the scheme is malformed (every problem listed with its key path and fix).

    Examples
    --------
    >>> load_scheme().version
    '1.0.0'
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "does not exist (expected a scoring scheme YAML)",
                            fix="pass --scheme models/morile_style_illustrative.yaml or your own")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DataFileError(path, f"is not valid YAML ({err})".replace("\n", " "),
                            fix="check indentation and quoting near the line named") from None
    return validate_scheme(data, source=str(path))


# --- evidence -----------------------------------------------------------------------------

def _blank(raw: pd.Series) -> pd.Series:
    return raw.isna() | raw.astype("string").str.strip().eq("").fillna(True)


def _evidence_values(frame: pd.DataFrame, column: str, *, what: str) -> pd.Series:
    """A column as non-negative floats (blank = NaN), or a ValidationError naming the rows."""
    raw = frame[column]
    text = raw.astype("string").str.strip().str.lower()
    mapped = text.map(lambda v: "1" if v in _TRUE else "0" if v in _FALSE else v,
                      na_action="ignore")
    values = pd.to_numeric(mapped, errors="coerce").astype("float64")
    blank = _blank(raw)
    bad = (~blank & values.isna()) | (values < 0).fillna(False)
    if bad.any():
        shown = ", ".join(f"{i}: {v!r}" for i, v in raw[bad].head(5).items())
        raise ValidationError(
            f"{what}: column {column!r} must hold non-negative numbers or yes/no; bad value(s) "
            f"at row(s) {shown}. Fix: correct or blank those cells")
    return values.where(~blank)


def _grading_corroborates(grading: pd.Series, scheme: Scheme) -> pd.Series:
    """True where a 3x5x2 grading's source and assessment are in the scheme's lists."""
    parts = grading.astype("string").str.extract(_GRADING)
    source = parts[0].fillna("")
    assessment = parts[1].fillna("").str.upper()
    return (source.isin(scheme.corroborating_sources)
            & assessment.isin(scheme.corroborating_assessments)).astype(bool)


def evidence_from_intel(intel: pd.DataFrame, *, scheme: Scheme,
                        line_of: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per-line intelligence evidence: report counts of each intelligence column.

    Parameters
    ----------
    intel
        One row per report: ``subject`` and any of ``weapons``, ``violence``,
        ``cuckooed_addresses``, ``exploited_children``, ``vulnerable_adults`` (counts or
        yes/no), optional ``grading`` (3x5x2, e.g. ``"1A"``).
    scheme
        Gives the gradings that count as corroborating.
    line_of
        Maps subjects to line ids; ``None`` means subjects are line ids. Reports whose
        subject is not mapped are left out (logged).

    Returns
    -------
    DataFrame
        ``line_id``, the summed intelligence columns, ``intel_reports`` and
        ``intel_corroborated``.

    Examples
    --------
    >>> intel = pd.DataFrame({"subject": ["A", "A", "B"], "weapons": ["yes", "no", "2"],
    ...                       "grading": ["1A", "3E", "2B"]})
    >>> evidence_from_intel(intel, scheme=load_scheme()).values.tolist()
    [['A', 1.0, 2, 1], ['B', 2.0, 1, 1]]
    """
    if "subject" not in intel.columns:
        raise ValidationError("intel: no 'subject' column; give each report the line id (or "
                              "a key mapped with line_of) it is about")
    subject = intel["subject"].astype("string").str.strip()
    line = subject.map(line_of) if line_of is not None else subject
    keep = line.notna() & line.ne("").fillna(False)
    if (~keep).any():
        log.warning("intel: %d report(s) have no line (subject not mapped); left out",
                    int((~keep).sum()))
    columns = [c for c in INTEL_EVIDENCE if c in intel.columns]
    frame = pd.DataFrame({"line_id": line[keep].astype(str)})
    for column in columns:
        frame[column] = _evidence_values(intel, column, what="intel")[keep].fillna(0.0)
    frame["intel_reports"] = 1
    graded = (_grading_corroborates(intel["grading"], scheme) if "grading" in intel.columns
              else pd.Series(False, index=intel.index))
    frame["intel_corroborated"] = graded[keep].astype(int)
    out = frame.groupby("line_id", sort=True).sum().reset_index()
    return out.astype({"intel_reports": "int64", "intel_corroborated": "int64"})


def line_of_handsets(lines: pd.DataFrame) -> dict[str, str]:
    """Handset pseudonym -> line id, from the lines table's ``handsets`` column.

    Each line id maps to itself too, so a register may name a line or any of its handsets.

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": ["LINE-aa"], "handsets": ["Paa;Pbb"]})
    >>> line_of_handsets(lines)
    {'LINE-aa': 'LINE-aa', 'Paa': 'LINE-aa', 'Pbb': 'LINE-aa'}
    """
    out = {str(line): str(line) for line in lines["line_id"]}
    if "handsets" in lines.columns:
        for line, handsets in zip(lines["line_id"], lines["handsets"].fillna(""), strict=True):
            for h in str(handsets).split(";"):
                if h.strip():
                    out[h.strip()] = str(line)
    return out


#: Intelligence sums a lines table may carry (``geointel lines --intel``); replaced when the
#: register itself is given to scoring, which also counts corroborated reports.
INTEL_SUM_COLUMNS = (*INTEL_EVIDENCE, "seizures", "intel_records", *INTEL_COUNTS)


def without_intel(lines: pd.DataFrame) -> pd.DataFrame:
    """The lines table without its intelligence sums, to score it with the register instead.

    >>> lines = pd.DataFrame({"line_id": ["A"], "weapons": [1], "messages": [3]})
    >>> without_intel(lines).columns.tolist()
    ['line_id', 'messages']
    """
    return lines.drop(columns=[c for c in INTEL_SUM_COLUMNS if c in lines.columns])


def _attach_intel(lines: pd.DataFrame, intel: pd.DataFrame, scheme: Scheme,
                  line_of: Mapping[str, str] | None) -> pd.DataFrame:
    if line_of is None and "handsets" in lines.columns:
        line_of = line_of_handsets(lines)
    evidence = evidence_from_intel(intel, scheme=scheme, line_of=line_of)
    overlap = [c for c in evidence.columns if c != "line_id" and c in lines.columns]
    if overlap:
        raise ValidationError(
            f"lines: already has intelligence column(s) {', '.join(overlap)} and intel was "
            "given too. Fix: drop them (scoring.without_intel) or do not pass the intel")
    unknown = sorted(set(evidence["line_id"]) - set(lines["line_id"].astype(str)))
    if unknown:
        log.warning("intel: %d subject(s) match no line and are ignored", len(unknown))
    merged = lines.merge(evidence, on="line_id", how="left")
    return merged.fillna({"intel_reports": 0, "intel_corroborated": 0})


# --- overrides ----------------------------------------------------------------------------

def _check_override(scheme: Scheme, line_id: Any, item: Any, value: Any, by: Any, reason: Any,
                    where: str) -> int:
    if not isinstance(line_id, str) or not line_id.strip():
        raise ValidationError(f"{where}: override has no line_id; name the line overridden")
    if item not in ITEMS:
        raise ValidationError(f"{where}: override item {item!r} is not a scoring item; "
                              f"use one of: {', '.join(ITEMS)}")
    if not isinstance(by, str) or not by.strip():
        raise ValidationError(f"{where}: override of {item} for line {line_id} does not say "
                              "who made it; every override records who, when and why")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError(f"{where}: override of {item} for line {line_id} has no reason; "
                              "an override is refused unless it says why")
    try:
        level = int(value)
        ok = float(value) == level
    except (TypeError, ValueError):
        ok = False
    if not ok or level not in scheme.levels(item):
        raise ValidationError(f"{where}: override value {value!r} for {item} is not a level of "
                              f"the scheme; use one of {list(scheme.levels(item))}")
    return level


def add_override(overrides: pd.DataFrame | None, *, line_id: str, item: str, value: int,
                 by: str, reason: str, scheme: Scheme,
                 at: datetime | None = None) -> pd.DataFrame:
    """A new audit trail with one analyst override appended (the input is not changed).

    Parameters
    ----------
    overrides
        The trail so far (columns ``line_id, item, value, by, at, reason``) or ``None``.
    line_id, item, value
        What is overridden and the new level.
    by, reason
        Who and why; both required (an override without a reason is refused).
    at
        When (default: now, UTC).

    Examples
    --------
    >>> s = load_scheme()
    >>> t = add_override(None, line_id="A", item="physical", value=4, by="DC Smith",
    ...                  reason="stabbing 3 May", scheme=s, at=datetime(2024, 5, 4))
    >>> t[["line_id", "item", "value", "by"]].values.tolist()
    [['A', 'physical', 4, 'DC Smith']]
    """
    level = _check_override(scheme, line_id, item, value, by, reason, "add_override")
    when = pd.Timestamp(at if at is not None else datetime.now(UTC))
    row = pd.DataFrame({"line_id": [line_id], "item": [item], "value": [level],
                        "by": [by.strip()], "at": [when], "reason": [reason.strip()]})
    if overrides is None or overrides.empty:
        return row
    return pd.concat([validate_overrides(overrides, scheme=scheme), row], ignore_index=True)


def validate_overrides(overrides: pd.DataFrame, *, scheme: Scheme,
                       source: str = "overrides") -> pd.DataFrame:
    """Check an override trail: every row names line, item, level, who, when and why.

    Returns a copy with ``value`` as int and ``at`` as timestamps; raises
    :class:`ValidationError` naming the first bad row (its file line if ``_line`` exists).

    Examples
    --------
    >>> bad = pd.DataFrame({"line_id": ["A"], "item": ["physical"], "value": [3],
    ...                     "by": ["DC Smith"], "at": ["2024-05-04"], "reason": [""]})
    >>> validate_overrides(bad, scheme=load_scheme())
    Traceback (most recent call last):
    ...
    geointel.errors.ValidationError: overrides row 0: override of physical for line A has no \
reason; an override is refused unless it says why
    """
    missing = [c for c in OVERRIDE_COLUMNS if c not in overrides.columns]
    if missing:
        raise ValidationError(f"{source}: no column(s) {', '.join(missing)}; an override trail "
                              f"needs {', '.join(OVERRIDE_COLUMNS)}")
    out = overrides.copy()
    values: list[int] = []
    for i, row in enumerate(overrides.itertuples(index=False)):
        where = (f"{source} line {overrides['_line'].iloc[i]}" if "_line" in overrides.columns
                 else f"{source} row {i}")
        values.append(_check_override(scheme, row.line_id, row.item, row.value, row.by,
                                      row.reason, where))
    out["value"] = pd.Series(values, index=out.index, dtype="int64")
    at = pd.to_datetime(out["at"], errors="coerce", format="mixed", utc=True)
    if at.isna().any():
        i = int(np.flatnonzero(at.isna().to_numpy())[0])
        raise ValidationError(f"{source} row {i}: 'at' {overrides['at'].iloc[i]!r} is not a "
                              "date-time; record when the override was made (ISO 8601)")
    out["at"] = at
    return out


def read_overrides(path: str | Path, *, scheme: Scheme) -> pd.DataFrame:
    """Read an override trail CSV; a row without who, when or why refuses the whole file.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "o.csv")
    >>> _ = open(p, "w").write("line_id,item,value,by,at,reason\\n"
    ...                        "A,physical,4,DC Smith,2024-05-04T10:00,stabbing\\n")
    >>> read_overrides(p, scheme=load_scheme())["value"].tolist()
    [4]
    """
    frame, rejects, _ = read_csv_rows(path, required=OVERRIDE_COLUMNS,
                                      kind="scoring override trail")
    if len(rejects.frame()):
        first = rejects.frame().iloc[0]
        raise DataFileError(path, f"line {first['line']} {first['reason']}",
                            fix="repair the row; overrides are an audit trail and are "
                                "not skipped")
    try:
        return validate_overrides(frame, scheme=scheme, source=str(path))
    except ValidationError as err:
        raise DataFileError(path, str(err).removeprefix(f"{path} "),
                            fix="every override must give a level of the scheme, who, when "
                                "and why") from None


# --- scoring ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoredLines:
    """Scored (and ranked) lines, the override audit trail and the scheme used.

    Attributes
    ----------
    table
        One row per line, best first: ``rank``, ``band``, ``priority``, ``risk``, ``harm``,
        ``harm_adjusted``, ``position_factor``, ``confidence``, ``coverage``, ``sources``; for
        every item its score, ``<item>_basis`` (default|evidence|analyst|override) and
        ``<item>_evidence`` (the evidence and the suggestion it gives); for each harm
        dimension ``<dim>_contribution`` to harm; and, after :func:`rank_intervals`,
        ``rank_low``, ``rank_median``, ``rank_high``.
    audit
        Every override in time order: ``line_id, item, previous, value, by, at, reason,
        in_force``.
    scheme
        The scheme used (its name and version belong beside any output).
    missing_evidence
        Evidence columns the scheme reads that the lines table does not have at all (their
        items fell back to defaults); see :func:`missing_evidence`.
    """

    table: pd.DataFrame
    audit: pd.DataFrame
    scheme: Scheme
    missing_evidence: tuple[str, ...] = ()

    def override_events(self) -> list[dict[str, Any]]:
        """Each override applied, as the audit log's ``override`` event details.

        One dict per row of ``audit``: ``line``, ``item``, ``old`` (the score before it),
        ``new``, ``reason``, ``by``, ``at`` (ISO 8601), ``in_force`` - what
        :func:`geointel.audit.record` takes for an ``override`` event.

        >>> s = load_scheme()
        >>> trail = add_override(None, line_id="A", item="physical", value=4, by="DC Smith",
        ...                      reason="stabbing", scheme=s, at=datetime(2024, 5, 4))
        >>> scored = score_lines(pd.DataFrame({"line_id": ["A"]}), s, overrides=trail)
        >>> e = scored.override_events()[0]
        >>> e["line"], e["old"], e["new"], e["at"]
        ('A', 0, 4, '2024-05-04T00:00:00+00:00')
        """
        return [{"line": str(r["line_id"]), "item": str(r["item"]), "old": int(r["previous"]),
                 "new": int(r["value"]), "reason": str(r["reason"]), "by": str(r["by"]),
                 "at": pd.Timestamp(r["at"]).isoformat(), "in_force": bool(r["in_force"])}
                for r in self.audit.to_dict("records")]

    def summary(self, *, top: int = 5) -> dict[str, Any]:
        """Counts and the top lines, for the CLI's ``--json``."""
        bands = self.table["band"].value_counts()
        cols = [c for c in ("line_id", "rank", "band", "priority", "risk", "confidence",
                            "rank_low", "rank_high") if c in self.table.columns]
        head = self.table[cols].head(top)
        out: dict[str, Any] = {}
        if self.missing_evidence:
            out["warning"] = (f"evidence column(s) {', '.join(self.missing_evidence)} absent: "
                              "the items they suggest took the scheme's defaults")
        return {
            **out,
            "scheme": f"{self.scheme.name} {self.scheme.version} ({self.scheme.label})",
            "missing_evidence": list(self.missing_evidence),
            "lines_scored": len(self.table),
            "bands": {b.band: int(bands.get(b.band, 0)) for b in self.scheme.bands},
            "overrides": len(self.audit),
            "top": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in rec.items()}
                    for rec in head.to_dict("records")],
        }


def _compute(scheme: Scheme, harm_scores: np.ndarray, multiplier: np.ndarray,
             likelihood: np.ndarray, position_scores: np.ndarray, wh: np.ndarray,
             wp: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised arithmetic: lines x weight draws (``wh``: draws x 5, ``wp``: draws x 3)."""
    harm = harm_scores @ wh.T / wh.sum(axis=1)
    adjusted = harm * multiplier[:, None]
    raw = (adjusted * likelihood[:, None] if scheme.combination == "product"
           else adjusted + likelihood[:, None])
    risk = 100.0 * raw / scheme.risk_max
    lo_level = min(lv.level for lv in scheme.scale)
    span = max(lv.level for lv in scheme.scale) - lo_level
    position = (position_scores @ wp.T / wp.sum(axis=1) - lo_level) / span
    lo, hi = scheme.factor_range
    factor = lo + (hi - lo) * position
    return {"harm": harm, "harm_adjusted": adjusted, "risk": risk, "position_factor": factor,
            "priority": risk * factor}


def _ranks(priority: np.ndarray) -> np.ndarray:
    """Rank 1 = highest priority; ties share the best rank (column-wise for 2-D input).

    >>> _ranks(np.array([3.0, 5.0, 3.0, 1.0])).tolist()
    [2, 1, 2, 4]
    """
    values = -np.round(np.asarray(priority, dtype=float), 9)
    columns = values.reshape(len(values), -1)
    ordered = np.sort(columns, axis=0)
    ranks = np.column_stack([np.searchsorted(ordered[:, j], columns[:, j], side="left") + 1
                             for j in range(columns.shape[1])])
    return ranks.reshape(values.shape).astype(int)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_lines(lines: pd.DataFrame) -> pd.DataFrame:
    if "line_id" not in lines.columns:
        raise ValidationError("lines: no 'line_id' column; give one row per line with its id")
    out = lines.copy()
    out["line_id"] = out["line_id"].astype("string").str.strip()
    if out["line_id"].isna().any() or out["line_id"].eq("").any():
        raise ValidationError("lines: some rows have a blank line_id; give every line an id")
    dup = out["line_id"][out["line_id"].duplicated()]
    if len(dup):
        raise ValidationError(f"lines: line_id repeated: {', '.join(dup.unique()[:5])}; "
                              "give one row per line")
    if out.empty:
        raise ValidationError("lines: no lines to score; the lines table is empty")
    out["line_id"] = out["line_id"].astype(str)
    _check_ids(out["line_id"].tolist(), "lines")
    return out.reset_index(drop=True)


def missing_evidence(columns: Sequence[str], scheme: Scheme) -> tuple[str, ...]:
    """Evidence columns ``scheme`` reads (its rules and network evidence) absent from ``columns``.

    Examples
    --------
    >>> missing_evidence(["line_id", "n_customers", "weapons"], load_scheme())[:4]
    ('cuckooed_addresses', 'customers', 'exploited_children', 'messages')
    """
    wanted = {r.evidence for _, rules in scheme.suggestions for r in rules}
    wanted |= set(scheme.network_evidence)
    return tuple(sorted(wanted - set(columns)))


def score_lines(lines: pd.DataFrame, scheme: Scheme, *, intel: pd.DataFrame | None = None,
                line_of: Mapping[str, str] | None = None,
                overrides: pd.DataFrame | None = None) -> ScoredLines:
    """Score every line under ``scheme`` and rank them (no weight variation).

    Each item takes, in increasing precedence: the scheme's default; the suggestion from
    evidence (highest over the item's rules, shown in ``<item>_evidence``); the analyst's
    score (``score_<item>`` column); the latest override in ``overrides``.

    Parameters
    ----------
    lines
        One row per line (see the module docstring for the columns).
    scheme
        From :func:`load_scheme`.
    intel
        Intelligence reports, summed per line with :func:`evidence_from_intel`.
    line_of
        Maps intel subjects to line ids.
    overrides
        The override trail (see :func:`add_override`).

    Examples
    --------
    >>> s = load_scheme()
    >>> lines = pd.DataFrame({"line_id": ["A"], "weapons": [2]})
    >>> row = score_lines(lines, s).table.iloc[0]
    >>> int(row["physical"]), row["physical_evidence"], row["physical_basis"]
    (2, 'weapons=2 -> 2; suggested 2', 'evidence')
    >>> round(float(row["risk"]), 3)  # 100 * (0.25 * 2 = 0.5) * 1 * 1 * 2 / (4 * 1.3 * 1.4 * 4)
    3.434
    """
    frame = _check_lines(lines)
    if intel is not None:
        frame = _attach_intel(frame, intel, scheme, line_of)
    n = len(frame)
    evidence_columns = {r.evidence for _, rules in scheme.suggestions for r in rules}
    evidence_columns |= set(scheme.network_evidence) | {"intel_corroborated"}
    evidence = {c: _evidence_values(frame, c, what="lines").to_numpy()
                for c in sorted(evidence_columns) if c in frame.columns}
    out = pd.DataFrame({"line_id": frame["line_id"]})
    scores: dict[str, np.ndarray] = {}
    basis: dict[str, np.ndarray] = {}
    for item in ITEMS:
        levels = scheme.levels(item)
        score = np.full(n, scheme.default(item), dtype=int)
        base = np.full(n, "default", dtype=object)
        parts: list[list[str]] = [[] for _ in range(n)]
        best = np.full(n, -1, dtype=int)
        for rule in scheme.rules(item):
            values = evidence.get(rule.evidence)
            if values is None:
                continue
            for i in np.flatnonzero(~np.isnan(values)):
                s = min(rule.score(values[i], levels[0]), levels[-1])
                parts[i].append(f"{rule.evidence}={_fmt(values[i])} -> {s}")
                best[i] = max(best[i], s)
        suggested = best >= 0
        score[suggested] = best[suggested]
        base[suggested] = "evidence"
        text = [("; ".join(p) + f"; suggested {b}") if p else "" for p, b in zip(parts, best,
                                                                                 strict=True)]
        analyst_col = f"score_{item}"
        if analyst_col in frame.columns:
            given = _evidence_values(frame, analyst_col, what="lines").to_numpy()
            has = ~np.isnan(given)
            wrong = has & ~np.isin(given, levels)
            if wrong.any():
                k = int(np.flatnonzero(wrong)[0])
                raise ValidationError(
                    f"lines: {analyst_col} = {_fmt(given[k])} for line {frame['line_id'][k]} "
                    f"is not a level of {item}; use one of {list(levels)}")
            score[has] = given[has].astype(int)
            base[has] = "analyst"
        scores[item], basis[item] = score, base
        out[item] = score
        out[f"{item}_basis"] = base
        out[f"{item}_evidence"] = text
    audit = _apply_overrides(out, scores, basis, overrides, scheme)
    for item in ITEMS:
        out[item] = scores[item]
        out[f"{item}_basis"] = pd.array(basis[item], dtype="string")
    harm_scores = np.column_stack([scores[d] for d in HARM_DIMENSIONS]).astype(float)
    position_scores = np.column_stack([scores[c] for c in POSITION_COMPONENTS]).astype(float)
    multiplier = np.array([scheme.value("scope", s) * scheme.value("vulnerability", v)
                           for s, v in zip(scores["scope"], scores["vulnerability"],
                                           strict=True)])
    likelihood = np.array([scheme.value("likelihood", v) for v in scores["likelihood"]])
    wh = np.array([[w.weight for w in scheme.harm]])
    wp = np.array([[w.weight for w in scheme.position]])
    result = _compute(scheme, harm_scores, multiplier, likelihood, position_scores, wh, wp)
    for key, values in result.items():
        out[key] = values[:, 0]
    for j, dim in enumerate(HARM_DIMENSIONS):
        out[f"{dim}_contribution"] = harm_scores[:, j] * wh[0, j] / wh.sum()
    coverage = np.mean([basis[item] != "default" for item in RISK_ITEMS], axis=0)
    network = np.zeros(n, dtype=bool)
    for column in scheme.network_evidence:
        if column in evidence:
            network |= ~np.isnan(evidence[column])
    corroborated = (np.nan_to_num(evidence["intel_corroborated"]).astype(int)
                    if "intel_corroborated" in evidence else np.zeros(n, dtype=int))
    sources = network.astype(int) + corroborated
    out["coverage"] = coverage
    out["sources"] = sources
    out["confidence"] = [next(g.grade for g in scheme.grades
                              if c >= g.min_coverage - 1e-12 and s >= g.min_sources)
                         for c, s in zip(coverage, sources, strict=True)]
    out["band"] = [next(b.band for b in scheme.bands if p >= b.min_priority - 1e-9)
                   for p in out["priority"]]
    out["rank"] = _ranks(out["priority"].to_numpy())
    for column in frame.columns:  # the evidence and anything else given, after the scores
        if column not in out.columns:
            out[column] = frame[column].to_numpy()
    lead = ["line_id", "rank", "band", "priority", "risk", "harm", "harm_adjusted",
            "position_factor", "confidence", "coverage", "sources"]
    rest = [c for c in out.columns if c not in lead]
    table = (out[lead + rest].sort_values(["rank", "risk", "line_id"],
                                          ascending=[True, False, True], kind="stable")
             .reset_index(drop=True))
    absent = missing_evidence(list(frame.columns), scheme)
    if absent:
        log.info("lines: evidence column(s) %s absent; their items take the scheme's "
                    "defaults", ", ".join(absent))
    return ScoredLines(table=table, audit=audit, scheme=scheme, missing_evidence=absent)


def _apply_overrides(out: pd.DataFrame, scores: dict[str, np.ndarray],
                     basis: dict[str, np.ndarray], overrides: pd.DataFrame | None,
                     scheme: Scheme) -> pd.DataFrame:
    columns = ["line_id", "item", "previous", "value", "by", "at", "reason", "in_force"]
    if overrides is None or overrides.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    trail = validate_overrides(overrides, scheme=scheme).sort_values("at", kind="stable")
    position = {line: i for i, line in enumerate(out["line_id"])}
    unknown = sorted(set(trail["line_id"]) - set(position))
    if unknown:
        raise ValidationError(f"overrides: line(s) {', '.join(unknown[:5])} are not in the "
                              "lines table; check the line ids or drop those overrides")
    rows = []
    for row in trail.to_dict("records"):
        i, item, value = position[str(row["line_id"])], str(row["item"]), int(row["value"])
        rows.append({"line_id": row["line_id"], "item": item, "previous": int(scores[item][i]),
                     "value": value, "by": row["by"], "at": row["at"], "reason": row["reason"]})
        scores[item][i] = value
        basis[item][i] = "override"
    audit = pd.DataFrame(rows, columns=columns[:-1])
    last = ~audit.duplicated(["line_id", "item"], keep="last")
    audit["in_force"] = last.to_numpy()
    return audit.reset_index(drop=True)


def rank_intervals(scored: ScoredLines, *, seed: int, draws: int | None = None,
                   interval: float | None = None,
                   progress: Progress | None = None) -> pd.DataFrame:
    """Monte Carlo rank intervals: ranks when the weights vary within the scheme's bounds.

    Each draw takes every harm-dimension and position weight uniformly within its bounds and
    re-ranks the lines (ties share the best rank). The interval is the central ``interval``
    share of each line's ranks (lower and higher order statistics, so ranks stay integers).

    Parameters
    ----------
    scored
        From :func:`score_lines`.
    seed
        Seed of the weight draws.
    draws, interval
        Override the scheme's ``monte_carlo`` settings.

    Returns
    -------
    DataFrame
        ``line_id, rank_low, rank_median, rank_high`` in the order of ``scored.table``.

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": ["A", "B"], "weapons": [8, 1], "runners": [6, 1]})
    >>> rank_intervals(score_lines(lines, load_scheme()), seed=0, draws=20).values.tolist()
    [['A', 1, 1, 1], ['B', 2, 2, 2]]
    """
    scheme = scored.scheme
    draws = scheme.draws if draws is None else draws
    interval = scheme.interval if interval is None else interval
    if draws < 1 or not 0 < interval <= 1:
        raise ValidationError(f"rank_intervals: draws={draws} must be >= 1 and "
                              f"interval={interval} in (0, 1]")
    table = scored.table
    harm_scores = table[list(HARM_DIMENSIONS)].to_numpy(dtype=float)
    position_scores = table[list(POSITION_COMPONENTS)].to_numpy(dtype=float)
    multiplier = np.array([scheme.value("scope", s) * scheme.value("vulnerability", v)
                           for s, v in zip(table["scope"], table["vulnerability"], strict=True)])
    likelihood = np.array([scheme.value("likelihood", v) for v in table["likelihood"]])
    rng = np.random.default_rng(seed)
    h_lo, h_hi = (np.array([w.bounds[k] for w in scheme.harm]) for k in (0, 1))
    p_lo, p_hi = (np.array([w.bounds[k] for w in scheme.position]) for k in (0, 1))
    ranks = np.empty((len(table), draws), dtype=int)
    chunk = 500
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        wh = rng.uniform(h_lo, h_hi, size=(size, len(h_lo)))
        wp = rng.uniform(p_lo, p_hi, size=(size, len(p_lo)))
        result = _compute(scheme, harm_scores, multiplier, likelihood, position_scores, wh, wp)
        ranks[:, start:start + size] = _ranks(result["priority"])
        report(progress, start + size, draws, "rank intervals")
    tail = (1 - interval) / 2
    return pd.DataFrame({
        "line_id": table["line_id"].to_numpy(),
        "rank_low": np.quantile(ranks, tail, axis=1, method="lower").astype(int),
        "rank_median": np.quantile(ranks, 0.5, axis=1, method="lower").astype(int),
        "rank_high": np.quantile(ranks, 1 - tail, axis=1, method="higher").astype(int),
    })


def rank_lines(lines: pd.DataFrame, scheme: Scheme, *, seed: int,
               intel: pd.DataFrame | None = None, line_of: Mapping[str, str] | None = None,
               overrides: pd.DataFrame | None = None, draws: int | None = None,
               progress: Progress | None = None) -> ScoredLines:
    """Score, rank and add Monte Carlo rank intervals: the ranked list for targeting.

    See :func:`score_lines` and :func:`rank_intervals`; ``table`` gains ``rank_low``,
    ``rank_median`` and ``rank_high`` beside ``rank``.

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": ["A", "B"], "violence": [0, 5]})
    >>> rank_lines(lines, load_scheme(), seed=1, draws=10).table["line_id"].tolist()
    ['B', 'A']
    """
    scored = score_lines(lines, scheme, intel=intel, line_of=line_of, overrides=overrides)
    intervals = rank_intervals(scored, seed=seed, draws=draws, progress=progress)
    table = scored.table.merge(intervals, on="line_id", how="left")
    order = ["line_id", "rank", "rank_low", "rank_median", "rank_high"]
    table = table[order + [c for c in table.columns if c not in order]]
    return ScoredLines(table=table, audit=scored.audit, scheme=scheme,
                       missing_evidence=scored.missing_evidence)


# --- weeks ------------------------------------------------------------------------------

def _week_start(when: pd.Series) -> pd.Series:
    """The Monday (00:00) of the week of each timestamp."""
    stamps = pd.to_datetime(when)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_localize(None)
    day = stamps.dt.normalize()
    return day - pd.to_timedelta(day.dt.day_of_week, unit="D")


# --- the Fortress-style tracker -----------------------------------------------------------

TRACKER_TEST = (
    "only weeks fully covered by the records count. Each weekly measure is tested by "
    "comparison when at least 3 comparison lines (other lines outside the tracked lines' "
    "market, active before and after) exist: the line's log rate ratio (after/before) against "
    "theirs over the same weeks (difference in differences on period totals), variance = its "
    "quasi-Poisson sampling variance + the between-line variance of changes + the variance of "
    "the comparison mean, two-sided t with Welch-Satterthwaite df; otherwise by an "
    "interrupted time series: quasi-Poisson regression on a linear trend and a step at the "
    "action, the step tested by a quasi-likelihood F test. Drug offences (police.uk, monthly): "
    "the footprint's whole months before/after against the rest of the area, Fisher's exact "
    "test. Beyond normal variation when p < alpha")
#: Fewest comparison lines for the comparison test (fewer: the interrupted time series).
MIN_COMPARISON = 3
#: Days a week must have inside the records to count (``days_covered`` of the activity).
FULL_WEEK = 7


@dataclass(frozen=True)
class ChangeTest:
    """A before/after change of one measure tested against normal variation.

    Attributes
    ----------
    method
        ``"comparison"`` (:func:`comparison_test`), ``"segmented"``
        (:func:`segmented_test`) or ``"area comparison"`` (:func:`offences_test`).
    effect_ratio
        The change tested, as a ratio (1 = no change): relative to the comparison lines'
        change, to the pre-action trend, or to the rest of the area.
    statistic, df
        The test statistic (t, F or the odds ratio) and its degrees of freedom (``inf``:
        normal; ``nan``: an exact test).
    p_value
        Two-sided.
    dispersion
        Quasi-Poisson dispersion of the tracked weekly counts (at least 1).
    comparison_lines
        Lines compared with (0 unless ``method="comparison"``).
    heterogeneity
        Between-line variance of the comparison lines' log changes (``nan`` otherwise).
    """

    method: str
    effect_ratio: float
    statistic: float
    df: float
    p_value: float
    dispersion: float = 1.0
    comparison_lines: int = 0
    heterogeneity: float = math.nan


def _counts(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    out = np.asarray(values, dtype=float)
    if out.ndim != 1 or not np.isfinite(out).all() or (out < 0).any():
        raise ValidationError(f"{what}: give non-negative weekly counts")
    return out


def period_dispersion(before: Sequence[float] | np.ndarray,
                      after: Sequence[float] | np.ndarray) -> float:
    """Quasi-Poisson dispersion of weekly counts around each period's own mean (at least 1).

    Pearson chi-square around the before mean and around the after mean, over
    ``weeks - 2`` degrees of freedom; 1 when there are no spare degrees of freedom.

    >>> period_dispersion([5, 15, 5, 15], [2, 2, 2, 2])  # 4 * 25 / 10 = 10 over 6 df
    1.6666666666666667
    """
    b, a = _counts(before, "before"), _counts(after, "after")
    pearson = sum(float(((g - g.mean()) ** 2).sum() / g.mean()) for g in (b, a)
                  if len(g) and g.mean() > 0)
    df = len(b) + len(a) - 2
    return max(1.0, pearson / df) if df > 0 else 1.0


def _log_change(before: np.ndarray, after: np.ndarray) -> tuple[float, float, float]:
    """Log rate ratio (0.5 added to each total), its quasi-Poisson variance, dispersion."""
    phi = period_dispersion(before, after)
    xb, xa = float(before.sum()) + 0.5, float(after.sum()) + 0.5
    return math.log(xa / len(after)) - math.log(xb / len(before)), phi * (1 / xb + 1 / xa), phi


def comparison_test(before: Sequence[float] | np.ndarray, after: Sequence[float] | np.ndarray,
                    comparison: Sequence[tuple[Sequence[float] | np.ndarray,
                                               Sequence[float] | np.ndarray]]) -> ChangeTest:
    """Test a line's change against the changes of comparison lines over the same weeks.

    A difference in differences on period totals, which is robust to drift shared by the
    lines and to serial correlation (Bertrand, Duflo & Mullainathan 2004). For each line,
    ``r = log((after total + 0.5) / weeks after) - log((before total + 0.5) / weeks
    before)`` with sampling variance ``v = phi * (1 / (before total + 0.5) + 1 / (after
    total + 0.5))`` (``phi``: :func:`period_dispersion`). Lines also drift apart on their
    own; that between-line variance is ``tau2 = max(0, s2 - mean v)`` over the ``k``
    comparison lines (``s2``: sample variance of their ``r``; method of moments). Then::

        t   = (r_line - mean r_comparison) / sqrt(V)
        V   = v_line + tau2 + (tau2 + mean v_comparison) / k
        df  = V**2 / ((1 + 1/k) * s2)**2 * (k - 1)   (Welch-Satterthwaite; inf if tau2 = 0)

    and the p-value is two-sided. ``effect_ratio = exp(r_line - mean r_comparison)``.

    Examples
    --------
    >>> t = comparison_test([100, 100], [50, 50], [([100, 100], [100, 100])] * 3)
    >>> round(t.effect_ratio, 4), t.df, t.comparison_lines, t.p_value < 1e-6
    (0.5012, inf, 3, True)
    """
    b, a = _counts(before, "before"), _counts(after, "after")
    if len(b) < 1 or len(a) < 1:
        raise ValidationError("comparison_test: need at least one week before and one after")
    if len(comparison) < 2:
        raise ValidationError("comparison_test: need at least 2 comparison lines")
    r_line, v_line, phi = _log_change(b, a)
    changes = np.array([_log_change(_counts(cb, "comparison before"),
                                    _counts(ca, "comparison after"))[:2]
                        for cb, ca in comparison])
    r, v = changes[:, 0], changes[:, 1]
    k = len(r)
    s2 = float(r.var(ddof=1))
    tau2 = max(0.0, s2 - float(v.mean()))
    var = v_line + tau2 + (tau2 + float(v.mean())) / k
    diff = r_line - float(r.mean())
    t = diff / math.sqrt(var)
    df = var**2 / (((1 + 1 / k) * s2) ** 2 / (k - 1)) if tau2 > 0 else math.inf
    from scipy import stats

    p = float(2 * stats.t.sf(abs(t), df))
    return ChangeTest("comparison", math.exp(diff), t, df, p, phi, k, tau2)


def _poisson_fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson regression by iteratively reweighted least squares: (coefficients, means)."""
    mu = y + 0.5
    beta = np.linalg.lstsq(X * np.sqrt(mu)[:, None], np.log(mu) * np.sqrt(mu), rcond=None)[0]
    for _ in range(100):
        eta = np.clip(X @ beta, -700, 700)
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        w = np.sqrt(mu)
        new = np.linalg.lstsq(X * w[:, None], z * w, rcond=None)[0]
        if np.max(np.abs(new - beta)) < 1e-10:
            beta = new
            break
        beta = new
    return beta, np.exp(np.clip(X @ beta, -700, 700))


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(2 * (term - (y - mu)).sum())


def segmented_test(before: Sequence[float] | np.ndarray, after: Sequence[float] | np.ndarray,
                   *, gap: int = 0) -> ChangeTest:
    """Interrupted time series: the step at the action beyond the pre-existing trend.

    Weekly counts are fitted by Poisson regression on ``log mu = b0 + b1 * week + b2 *
    after`` (segmented regression with a trend; Bernal, Cummins & Gasparrini 2017). The
    step ``b2`` is tested by a quasi-likelihood ratio test: ``F = (D0 - D1) / phi`` on 1 and
    ``n - 3`` degrees of freedom, ``D0``/``D1`` the deviances without/with the step and
    ``phi = max(1, Pearson chi-square / (n - 3))`` of the full model. A series that falls
    to zero after the action (or starts from zero) is handled exactly: its zero segment is
    fitted by a zero mean. ``effect_ratio = exp(b2)``.

    Parameters
    ----------
    before, after
        Weekly counts in time order; at least 4 weeks in all.
    gap
        Weeks between the last before-week and the first after-week left out (the week of
        an action taken mid-week).

    Examples
    --------
    >>> t = segmented_test([10, 10], [40, 40])  # no trend; a fourfold step; exact fit
    >>> round(t.effect_ratio, 6), t.df, t.dispersion
    (4.0, 1.0, 1.0)
    """
    b, a = _counts(before, "before"), _counts(after, "after")
    n = len(b) + len(a)
    if len(b) < 1 or len(a) < 1 or n < 4:
        raise ValidationError(f"segmented_test: {len(b)} week(s) before and {len(a)} after; "
                              "need at least 4 weeks with one on each side")
    y = np.concatenate([b, a])
    week = np.concatenate([np.arange(len(b)), len(b) + gap + np.arange(len(a))]).astype(float)
    week = (week - week.mean()) / max(float(np.ptp(week)), 1.0)
    step = np.r_[np.zeros(len(b)), np.ones(len(a))]
    X0 = np.column_stack([np.ones(n), week])
    _, mu0 = _poisson_fit(X0, y)
    d0 = _deviance(y, mu0)
    df = n - 3
    if b.sum() == 0 and a.sum() == 0:
        return ChangeTest("segmented", math.nan, 0.0, float(df), 1.0)
    mu1 = np.zeros(n)
    zero = (step == 1) if a.sum() == 0 else (step == 0) if b.sum() == 0 else None
    if zero is None:
        beta, mu1 = _poisson_fit(np.column_stack([X0, step]), y)
        ratio = math.exp(float(beta[2]))
    else:  # the step takes one segment to zero: fit the other segment on its own
        keep = ~zero
        _, mu1[keep] = _poisson_fit(X0[keep], y[keep])
        ratio = 0.0 if a.sum() == 0 else math.inf
    d1 = _deviance(y, mu1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = float(np.where(mu1 > 0, (y - mu1) ** 2 / mu1, 0.0).sum())
    phi = max(1.0, pearson / df)
    f = max(0.0, d0 - d1) / phi
    from scipy import stats

    return ChangeTest("segmented", ratio, f, float(df), float(stats.f.sf(f, 1, df)), phi)


def offences_test(footprint_before: int, footprint_after: int, rest_before: int,
                  rest_after: int) -> ChangeTest:
    """Drug offences in a footprint before/after against the rest of the area.

    Fisher's exact test of the 2x2 table (footprint, rest) x (before, after): is the
    footprint's share of the area's offences different after the action? police.uk counts
    are monthly, so only a few months enter and month-to-month over-dispersion is not
    modelled: read it as indicative. ``effect_ratio`` = the footprint's after/before ratio
    over the rest's (``nan`` when a count is zero).

    >>> t = offences_test(30, 10, 300, 300)
    >>> round(t.effect_ratio, 3), t.p_value < 0.01
    (0.333, True)
    """
    from scipy import stats

    table = [[int(footprint_before), int(footprint_after)], [int(rest_before), int(rest_after)]]
    if min(min(row) for row in table) < 0:
        raise ValidationError("offences_test: counts must be non-negative")
    odds, p = stats.fisher_exact(table)
    ratio = ((footprint_after / footprint_before) / (rest_after / rest_before)
             if footprint_before and rest_before and rest_after else math.nan)
    return ChangeTest("area comparison", ratio, float(odds), math.nan, float(p))


@dataclass(frozen=True)
class TrackerResult:
    """Demand and risk before and after an action.

    Attributes
    ----------
    lines
        The line(s) tracked (several = an area).
    action_date
        The day of the action; its own week is left out when it starts mid-week.
    weekly
        ``week``, ``period`` (before|after), one column per weekly measure (zero-filled).
    measures
        Per measure: ``unit`` (week|month), ``method`` (see :class:`ChangeTest`), totals,
        ``periods_before``/``periods_after``, rates per unit, ``change_per_unit``,
        ``change_pct``, ``rate_ratio`` (after/before rates), ``effect_ratio`` (the change
        tested), ``comparison_lines``, ``dispersion``, ``heterogeneity``, ``statistic``,
        ``df``, ``p_value``, ``beyond_normal_variation``, ``direction`` (of the effect).
    risk
        Per line (if evidence and a scheme were given): ``risk_before``, ``risk_after``,
        ``risk_change``, ``band_before``, ``band_after``; else empty.
    alpha, test
        The significance level and the tests used, in words.
    comparison
        The comparison lines available (before each measure's own activity filter).
    partial_weeks
        Weeks left out because the records cover only part of them.
    monthly
        Drug offences per month (``month``, ``period``, ``footprint``, ``rest``) when
        police.uk offences were given; else empty.
    """

    lines: tuple[str, ...]
    action_date: pd.Timestamp
    weekly: pd.DataFrame
    measures: pd.DataFrame
    risk: pd.DataFrame
    alpha: float
    test: str = TRACKER_TEST
    comparison: tuple[str, ...] = ()
    partial_weeks: tuple[str, ...] = ()
    monthly: pd.DataFrame | None = None

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly before/after summary (floats to 4 significant digits; an infinite
        value, e.g. ``df`` of a normal reference, as ``"inf"``; a missing one as null)."""
        def clean(v: Any) -> Any:
            if isinstance(v, float | np.floating):
                if math.isnan(v):
                    return None
                return float(f"{float(v):.4g}") if math.isfinite(v) else str(float(v))
            if isinstance(v, np.integer | np.bool_):
                return v.item()
            return v

        out: dict[str, Any] = {
            "lines": list(self.lines),
            "action_date": self.action_date.date().isoformat(),
            "weeks_before": int((self.weekly["period"] == "before").sum()),
            "weeks_after": int((self.weekly["period"] == "after").sum()),
            "partial_weeks_left_out": list(self.partial_weeks),
            "comparison_lines": list(self.comparison),
            "test": self.test, "alpha": self.alpha,
            "measures": {r["measure"]: {k: clean(v) for k, v in r.items() if k != "measure"}
                         for r in self.measures.to_dict("records")},
            "risk": [{k: clean(v) for k, v in r.items()} for r in self.risk.to_dict("records")],
        }
        if self.monthly is not None and len(self.monthly):
            out["drug_offences_by_month"] = [
                {k: clean(v) for k, v in r.items()} for r in self.monthly.to_dict("records")]
        return out


def _check_ids(ids: Sequence[str], what: str) -> None:
    from geointel.privacy import is_raw_identifier

    raw = [i for i in ids if is_raw_identifier(str(i))]
    if raw:
        from geointel.errors import PrivacyError

        raise PrivacyError(f"{what}: {len(raw)} line id(s) look like raw phone numbers or "
                           "IMEIs; use the line's name or its pseudonym, never the number")


def _activity_frame(activity: pd.DataFrame) -> tuple[pd.DataFrame, list[str], pd.Series]:
    missing = [c for c in ("line_id", "week") if c not in activity.columns]
    measures = [m for m in MEASURES if m in activity.columns]
    if missing or not measures:
        raise ValidationError(
            f"activity: needs line_id, week and at least one of {', '.join(MEASURES)}; "
            f"has {', '.join(map(str, activity.columns))}")
    frame = activity[["line_id", "week", *measures]].copy()
    frame["line_id"] = frame["line_id"].astype(str).str.strip()
    week = pd.to_datetime(frame["week"], errors="coerce", format="mixed")
    if week.isna().any():
        bad = activity["week"][week.isna()].head(3).tolist()
        raise ValidationError(f"activity: week values {bad} are not dates; give the "
                              "first day of each week as YYYY-MM-DD")
    frame["week"] = _week_start(week)
    for m in measures:
        frame[m] = _evidence_values(frame, m, what="activity").fillna(0.0)
    covered = pd.Series(dtype="float64")
    if COVERAGE_COLUMN in activity.columns:
        days = _evidence_values(activity, COVERAGE_COLUMN, what="activity")
        covered = days.groupby(frame["week"].to_numpy()).min()
    return frame, measures, covered


def check_key(frame: pd.DataFrame, key: bytes | None, *, what: str) -> pd.DataFrame:
    """``frame`` without its ``key_fingerprint`` column, refused if made under another key.

    Tables written by ``geointel lines`` carry the fingerprint of the pseudonymisation key
    (:func:`geointel.privacy.key_fingerprint`); with ``key`` given, a table made under
    another key raises :class:`~geointel.errors.PrivacyError` naming both fingerprints, so
    pseudonyms from two keys are never mixed. Without ``key`` nothing is checked.

    Examples
    --------
    >>> from geointel.privacy import key_fingerprint
    >>> t = pd.DataFrame({"line_id": ["L"], "key_fingerprint": [key_fingerprint(b"a" * 32)]})
    >>> check_key(t, b"a" * 32, what="lines.csv").columns.tolist()
    ['line_id']
    >>> check_key(t, b"b" * 32, what="lines.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geointel.errors.PrivacyError: lines.csv was pseudonymised with another key (fingerprint ...
    """
    if FINGERPRINT_COLUMN not in frame.columns:
        return frame
    from geointel.privacy import check_fingerprint

    found = sorted(set(frame[FINGERPRINT_COLUMN].dropna().astype(str).str.strip()) - {""})
    if len(found) > 1:
        from geointel.errors import PrivacyError

        raise PrivacyError(f"{what} mixes rows pseudonymised under {len(found)} keys "
                           f"(fingerprints {', '.join(found)}); re-run geointel lines on all "
                           "the records under one key")
    if found and key is not None:
        check_fingerprint(found[0], key, what=what)
    return frame.drop(columns=[FINGERPRINT_COLUMN])


def _market_of(lines: pd.DataFrame | None, ids: tuple[str, ...]) -> set[str]:
    """Lines sharing a tracked line's importer authority: the same market (a blank authority,
    or one outside the LSOAs given, names no market)."""
    from geointel.network.footprint import OUTSIDE

    if lines is None or "importer_la" not in lines.columns:
        return set()
    la = dict(zip(lines["line_id"].astype(str), lines["importer_la"].fillna("").astype(str),
                  strict=True))
    markets = {la[i] for i in ids if la.get(i) and la[i] != OUTSIDE}
    return {line for line, m in la.items() if m in markets}


def track(activity: pd.DataFrame, *, line_id: str | Sequence[str], action_date: date | str,
          weeks: int = 8, alpha: float = 0.05, lines: pd.DataFrame | None = None,
          scheme: Scheme | None = None, exclude: Sequence[str] = (),
          offences: pd.DataFrame | None = None, key: bytes | None = None) -> TrackerResult:
    """Fortress-style tracker: demand and risk before and after an action.

    The weeks observed run from the earliest to the latest week in ``activity`` (every
    line), so a line that goes quiet counts as zero; weeks the records cover only in part
    (``days_covered`` below 7, e.g. data ending on a Thursday) are left out, so a short week
    never looks like a drop. "Before" is the ``weeks`` full weeks ending before
    ``action_date``; "after" the ``weeks`` weeks starting on or after it (a week containing
    the action mid-week is in neither).

    Each weekly measure is tested against normal variation (see :data:`TRACKER_TEST`):
    against the other lines over the same weeks (:func:`comparison_test`) when at least
    :data:`MIN_COMPARISON` comparison lines are active before and after, otherwise by the
    interrupted time series of the tracked weeks (:func:`segmented_test`). Comparison lines
    are every other line in ``activity`` except ``exclude`` and, when ``lines`` carries
    ``importer_la``, lines selling in the tracked lines' authority: a line in the same
    market may absorb the displaced customers, so its rise would double the apparent drop.
    With police.uk ``offences`` (monthly, from :func:`footprint_offences`), drug offences in
    the footprint are compared before/after in whole months (:func:`offences_test`).

    With ``lines`` (evidence, as for :func:`score_lines`) and ``scheme``, each line is
    re-scored with its before and after weekly means as ``customers``/``messages``
    evidence, giving the change in risk.

    Parameters
    ----------
    activity
        ``line_id, week``, any of ``deal_messages, active_customers, drug_offences`` and
        optionally ``days_covered`` and ``key_fingerprint`` (``activity.csv``).
    line_id
        A line, or several (an area: their weekly counts are summed).
    action_date
        Date of the police action.
    weeks, alpha
        Window length and significance level.
    lines, scheme
        Lines evidence (for the market and the risk before/after) and the scheme.
    exclude
        Lines not to compare with (e.g. other lines disrupted in the window).
    offences
        ``month, footprint, rest`` drug offence counts (:func:`footprint_offences`).
    key
        The current pseudonymisation key: ``activity`` or ``lines`` carrying the
        fingerprint of another is refused (:func:`check_key`).

    Examples
    --------
    >>> act = pd.DataFrame({"line_id": "L1", "week": pd.date_range("2024-01-01", periods=8,
    ...                     freq="7D"), "deal_messages": [100] * 4 + [20] * 4})
    >>> r = track(act, line_id="L1", action_date="2024-01-29", weeks=4)
    >>> cols = ["measure", "method", "rate_before", "rate_after", "beyond_normal_variation"]
    >>> r.measures[cols].values.tolist()
    [['deal_messages', 'segmented', 100.0, 20.0, True]]
    """
    activity = check_key(activity, key, what="activity")
    if lines is not None:
        lines = check_key(lines, key, what="lines")
    frame, measures, covered = _activity_frame(activity)
    ids = (line_id,) if isinstance(line_id, str) else tuple(line_id)
    _check_ids(ids, "track")
    unknown = [i for i in ids if i not in set(frame["line_id"])]
    if unknown or not ids:
        raise ValidationError(f"track: no activity for line(s) {', '.join(unknown) or '(none)'}; "
                              f"the activity table has {frame['line_id'].nunique()} lines, "
                              f"e.g. {', '.join(sorted(frame['line_id'].unique())[:5])}")
    if weeks < 1 or not 0 < alpha < 1:
        raise ValidationError(f"track: weeks={weeks} must be >= 1 and alpha={alpha} in (0, 1)")
    if offences is not None and "drug_offences" in measures:
        raise ValidationError("track: drug offences given twice (weekly in the activity and "
                              "monthly from police.uk); give one")
    action = pd.Timestamp(action_date).normalize()
    grid = pd.date_range(frame["week"].min(), frame["week"].max(), freq="7D")
    days = covered.reindex(grid)
    partial = grid[(days < FULL_WEEK).fillna(False).to_numpy(dtype=bool)]
    full = grid.difference(partial)
    before = full[full + pd.Timedelta(days=7) <= action][-weeks:]
    after = full[full >= action][:weeks]
    if len(before) < 2 or len(after) < 1:
        left = (f" ({len(partial)} week(s) the records cover only in part left out: "
                f"{', '.join(str(w.date()) for w in partial)})" if len(partial) else "")
        raise ValidationError(
            f"track: the activity runs {grid[0].date()} to {grid[-1].date()}, which gives "
            f"{len(before)} full week(s) before and {len(after)} after {action.date()}"
            f"{left}; need at least 2 before and 1 after. Fix: check the action date or "
            "supply more weeks")
    gap = int((after[0] - before[-1]).days // 7) - 1
    per_line = frame.groupby(["line_id", "week"])[measures].sum()
    series = (frame[frame["line_id"].isin(ids)].groupby("week")[measures].sum()
              .reindex(grid, fill_value=0.0))
    weekly = series.loc[before.append(after)].rename_axis("week").reset_index()
    weekly.insert(1, "period", ["before"] * len(before) + ["after"] * len(after))
    excluded = (exclude,) if isinstance(exclude, str) else tuple(exclude)
    skip = set(ids) | {str(x) for x in excluded} | _market_of(lines, ids)
    pool = sorted(set(frame["line_id"]) - skip)
    rows = []
    for m in measures:
        xb, xa = series.loc[before, m].to_numpy(), series.loc[after, m].to_numpy()
        comparison = []
        for other in pool:
            own = per_line.loc[other, m].reindex(grid, fill_value=0.0)
            ob, oa = own.loc[before].to_numpy(), own.loc[after].to_numpy()
            if ob.sum() > 0 and oa.sum() > 0:
                comparison.append((ob, oa))
        if len(comparison) >= MIN_COMPARISON:
            test = comparison_test(xb, xa, comparison)
        elif len(before) + len(after) >= 4:
            test = segmented_test(xb, xa, gap=gap)
        else:
            raise ValidationError(
                f"track: {m} has {len(comparison)} comparison line(s) and {len(before)} + "
                f"{len(after)} weeks; need {MIN_COMPARISON} comparison lines or 4 weeks. "
                "Fix: supply more weeks or the other lines' activity")
        rows.append(_measure_row(m, "week", xb, xa, test, alpha))
    monthly = None
    if offences is not None:
        row, monthly = _offences_row(offences, action, weeks, alpha)
        rows.append(row)
    risk = _risk_before_after(frame, ids, before, after, lines, scheme)
    return TrackerResult(lines=ids, action_date=action, weekly=weekly,
                         measures=pd.DataFrame(rows), risk=risk, alpha=alpha,
                         comparison=tuple(pool),
                         partial_weeks=tuple(str(w.date()) for w in partial), monthly=monthly)


def _measure_row(measure: str, unit: str, before: np.ndarray, after: np.ndarray,
                 test: ChangeTest, alpha: float) -> dict[str, Any]:
    rb, ra = float(before.sum()) / len(before), float(after.sum()) / len(after)
    change = ra - rb
    effect = test.effect_ratio
    return {
        "measure": measure, "unit": unit, "method": test.method,
        "before_total": float(before.sum()), "after_total": float(after.sum()),
        "periods_before": len(before), "periods_after": len(after),
        "rate_before": rb, "rate_after": ra, "change_per_unit": change,
        "change_pct": 100 * change / rb if rb > 0 else math.nan,
        "rate_ratio": ra / rb if rb > 0 else (math.inf if ra > 0 else math.nan),
        "effect_ratio": effect, "comparison_lines": test.comparison_lines,
        "dispersion": test.dispersion, "heterogeneity": test.heterogeneity,
        "statistic": test.statistic, "df": test.df, "p_value": test.p_value,
        "beyond_normal_variation": bool(test.p_value < alpha),
        "direction": _direction(change if math.isnan(effect) else effect - 1),
    }


def _direction(sign: float) -> str:
    return "down" if sign < 0 else "up" if sign > 0 else "none"


def _offences_row(offences: pd.DataFrame, action: pd.Timestamp, weeks: int, alpha: float
                  ) -> tuple[dict[str, Any], pd.DataFrame]:
    missing = [c for c in ("month", "footprint", "rest") if c not in offences.columns]
    if missing:
        raise ValidationError(f"track: offences need month, footprint, rest (from "
                              f"footprint_offences); no {', '.join(missing)}")
    table = offences[[c for c in ("month", "footprint", "rest", "footprint_lsoas")
                      if c in offences.columns]].copy()
    start = pd.to_datetime(table["month"].astype(str), format="%Y-%m", errors="coerce")
    if start.isna().any():
        raise ValidationError("track: offences 'month' must be YYYY-MM")
    end = start + pd.offsets.MonthEnd(0)
    months = max(1, round(weeks * 7 / 30.44))
    table["period"] = np.where(end < action, "before", np.where(start >= action, "after", ""))
    table = table.assign(_start=start).sort_values("_start")
    before = table[table["period"] == "before"].tail(months)
    after = table[table["period"] == "after"].head(months)
    if before.empty or after.empty:
        raise ValidationError(
            f"track: police.uk months {', '.join(table['month'].astype(str))} give "
            f"{len(before)} whole month(s) before and {len(after)} after {action.date()}; "
            "need one of each. Fix: sync more police.uk months")
    fb, fa = before["footprint"].to_numpy(float), after["footprint"].to_numpy(float)
    test = offences_test(int(fb.sum()), int(fa.sum()), int(before["rest"].sum()),
                         int(after["rest"].sum()))
    row = _measure_row("drug_offences", "month", fb, fa, test, alpha)
    keep = ["month", "period", "footprint", "rest"] + (
        ["footprint_lsoas"] if "footprint_lsoas" in table.columns else [])
    monthly = pd.concat([before, after])[keep]
    return row, monthly.reset_index(drop=True)


def footprint_offences(offences: pd.DataFrame, footprints: pd.DataFrame, *,
                       line_id: str | Sequence[str], side: str = "sell",
                       crime_types: Sequence[str] = ("Drugs",)) -> pd.DataFrame:
    """police.uk offences per month in the footprint LSOAs of line(s) and in the rest.

    police.uk publishes street-level crime by month (no days), each with the LSOA police.uk
    assigned; an offence is in the footprint when that LSOA is one where the line sells
    (``side="sell"``: its customers' and runners' cells) or is run from (``"run"``).
    Offences without an LSOA code are left out (logged).

    Parameters
    ----------
    offences
        police.uk rows: ``month`` (YYYY-MM), ``lsoa_code``, ``crime_type``
        (:func:`geointel.io.police_uk.read_police_uk`).
    footprints
        ``line_id, side, lsoa`` (``LinesResult.footprints``, ``footprints.csv``).
    line_id
        A line or several (their footprints are joined).

    Returns
    -------
    DataFrame
        ``month``, ``footprint``, ``rest`` (counts), ``footprint_lsoas``; every month
        of ``offences``.

    Examples
    --------
    >>> off = pd.DataFrame({"month": ["2019-01", "2019-01", "2019-02", "2019-02"],
    ...     "lsoa_code": ["E1", "E2", "E1", "E3"], "crime_type": ["Drugs"] * 3 + ["Robbery"]})
    >>> fp = pd.DataFrame({"line_id": ["L"], "side": ["sell"], "lsoa": ["E1"]})
    >>> footprint_offences(off, fp, line_id="L").values.tolist()
    [['2019-01', 1, 1, 1], ['2019-02', 1, 0, 1]]
    """
    from geointel.io.police_uk import select_crime_types
    from geointel.network.footprint import OUTSIDE

    ids = {line_id} if isinstance(line_id, str) else set(line_id)
    missing = [c for c in ("line_id", "side", "lsoa") if c not in footprints.columns]
    if missing:
        raise ValidationError(f"footprint_offences: footprints have no {', '.join(missing)}; "
                              "pass footprints.csv of geointel lines (made with LSOA "
                              "boundaries)")
    for c in ("month", "lsoa_code", "crime_type"):
        if c not in offences.columns:
            raise ValidationError(f"footprint_offences: offences have no {c!r}; pass police.uk "
                                  "rows (geointel.io.police_uk.read_police_uk)")
    mine = footprints[footprints["line_id"].astype(str).isin(ids)
                      & (footprints["side"] == side) & (footprints["lsoa"] != OUTSIDE)]
    lsoas = set(mine["lsoa"].astype(str))
    if not lsoas:
        raise ValidationError(f"footprint_offences: line(s) {', '.join(sorted(ids))} have no "
                              f"'{side}' footprint LSOA; run geointel lines with LSOA "
                              "boundaries covering the area")
    chosen = select_crime_types(offences, list(crime_types))
    code = chosen["lsoa_code"].astype("string").str.strip()
    if code.isna().any() or code.eq("").any():
        log.info("footprint_offences: %d offence(s) without an LSOA code left out",
                 int((code.isna() | code.eq("")).sum()))
    chosen = chosen[code.notna() & code.ne("")]
    inside = chosen["lsoa_code"].astype(str).isin(lsoas)
    months = sorted(offences["month"].astype(str).unique())
    out = pd.DataFrame({"month": months})
    by_month = chosen["month"].astype(str)
    out["footprint"] = out["month"].map(by_month[inside].value_counts()).fillna(0).astype(int)
    out["rest"] = out["month"].map(by_month[~inside].value_counts()).fillna(0).astype(int)
    out["footprint_lsoas"] = len(lsoas)
    return out


def _risk_before_after(frame: pd.DataFrame, ids: tuple[str, ...], before: pd.DatetimeIndex,
                       after: pd.DatetimeIndex, lines: pd.DataFrame | None,
                       scheme: Scheme | None) -> pd.DataFrame:
    columns = ["line_id", "risk_before", "risk_after", "risk_change", "priority_before",
               "priority_after", "band_before", "band_after"]
    if lines is None or scheme is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    base = _check_lines(lines)
    missing = [i for i in ids if i not in set(base["line_id"])]
    if missing:
        raise ValidationError(f"track: line(s) {', '.join(missing)} are not in the lines "
                              "evidence table; add them or leave out the lines table")
    rows = []
    for period, window in (("before", before), ("after", after)):
        for line in ids:
            own = (frame[frame["line_id"] == line].groupby("week").sum(numeric_only=True)
                   .reindex(window, fill_value=0.0))
            row = base[base["line_id"] == line].iloc[0].to_dict()
            row["line_id"] = f"{line}\t{period}"
            if "active_customers" in own.columns:
                row["customers"] = float(own["active_customers"].mean())
            if "deal_messages" in own.columns:
                row["messages"] = float(own["deal_messages"].mean())
            rows.append(row)
    scored = score_lines(pd.DataFrame(rows), scheme).table.set_index("line_id")
    out = []
    for line in ids:
        b = scored.loc[f"{line}\tbefore"].to_dict()
        a = scored.loc[f"{line}\tafter"].to_dict()
        out.append({"line_id": line, "risk_before": float(b["risk"]),
                    "risk_after": float(a["risk"]),
                    "risk_change": float(a["risk"] - b["risk"]),
                    "priority_before": float(b["priority"]),
                    "priority_after": float(a["priority"]),
                    "band_before": b["band"], "band_after": a["band"]})
    return pd.DataFrame(out, columns=columns)


def displacement(customers: pd.DataFrame, *, line_id: str, action_date: date | str,
                 weeks: int = 8, min_shared: int = 2) -> pd.DataFrame:
    """Lines that took over a disrupted line's customers after the action.

    Old customers are those who contacted ``line_id`` in the ``weeks`` weeks before the
    action; for every other line active in the ``weeks`` weeks from the action week on, the
    old customers it now serves are counted. Lines sharing at least ``min_shared`` are
    returned, ``new_line`` marking those first seen from the action week on (a new line in
    the same market); the others are existing lines absorbing the demand.

    Parameters
    ----------
    customers
        ``line_id, customer, week`` (``LinesResult.line_customers`` of
        :func:`geointel.network.pipeline.analyse_lines`).

    Returns
    -------
    DataFrame
        ``line_id, first_seen, new_line, shared_customers, share_of_old_customers,
        customers_after``, most shared first.

    Examples
    --------
    >>> lc = pd.DataFrame({"line_id": ["L1", "L1", "L1", "L2", "L2", "L3"],
    ...     "customer": ["a", "b", "c", "a", "b", "a"],
    ...     "week": ["2024-01-01", "2024-01-01", "2024-01-01", "2024-01-15", "2024-01-15",
    ...              "2024-01-15"]})
    >>> displacement(lc, line_id="L1", action_date="2024-01-10")[
    ...     ["line_id", "new_line", "shared_customers"]].values.tolist()
    [['L2', True, 2]]
    """
    missing = [c for c in ("line_id", "customer", "week") if c not in customers.columns]
    if missing:
        raise ValidationError(f"displacement: no column(s) {', '.join(missing)}; need "
                              "line_id, customer, week (line_customers of geointel lines)")
    frame = customers[["line_id", "customer", "week"]].copy()
    frame["line_id"] = frame["line_id"].astype(str)
    frame["week"] = _week_start(pd.to_datetime(frame["week"], format="mixed"))
    if line_id not in set(frame["line_id"]):
        raise ValidationError(f"displacement: line {line_id!r} has no customers in the table")
    action = pd.Timestamp(action_date).normalize()
    action_week = action - pd.Timedelta(days=action.weekday())
    window = pd.Timedelta(days=7 * weeks)
    old = set(frame.loc[(frame["line_id"] == line_id) & (frame["week"] < action_week)
                        & (frame["week"] >= action_week - window), "customer"])
    first_seen = frame.groupby("line_id")["week"].min()
    later = frame[(frame["line_id"] != line_id) & (frame["week"] >= action_week)
                  & (frame["week"] < action_week + window)]
    rows = []
    for other, group in later.groupby("line_id"):
        served = set(group["customer"])
        shared = len(served & old)
        if shared >= min_shared:
            rows.append({"line_id": other, "first_seen": first_seen[other],
                         "new_line": bool(first_seen[other] >= action_week),
                         "shared_customers": shared,
                         "share_of_old_customers": shared / len(old) if old else 0.0,
                         "customers_after": len(served)})
    out = pd.DataFrame(rows, columns=["line_id", "first_seen", "new_line", "shared_customers",
                                      "share_of_old_customers", "customers_after"])
    return out.sort_values(["shared_customers", "line_id"], ascending=[False, True],
                           kind="stable").reset_index(drop=True)


# --- disruption log and national counts ---------------------------------------------------

def _disruption_problems(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per row the reason it is unusable (or ""), parsed dates and closure types."""
    text = {c: frame[c].astype("string").fillna("").str.strip() if c in frame.columns
            else pd.Series("", index=frame.index, dtype="string") for c in DISRUPTION_COLUMNS}
    when = _parse_dates(text["date"])
    closure = text["closure_type"].str.lower().str.removeprefix("type").str.strip()
    reason = pd.Series("", index=frame.index, dtype=object)
    reason[~closure.isin(["", "1", "2", "1.0", "2.0"])] = (
        "closure_type is not 1, 2 or blank (NCA county-line closure types)")
    reason[~text["grading"].str.lower().isin(GRADINGS)] = (
        "grading is not major, moderate or minor (NCA disruption grading)")
    reason[text["action"].eq("")] = "action is blank; say what was done"
    reason[when.isna()] = "date is not a date (use YYYY-MM-DD)"
    reason[text["line_id"].eq("")] = "line_id is blank; name the line"
    types = pd.to_numeric(closure.replace("", None), errors="coerce").astype("Int64")
    return reason, when, types


def _parse_dates(text: pd.Series) -> pd.Series:
    iso = pd.to_datetime(text, errors="coerce", format="ISO8601")
    uk = pd.to_datetime(text, errors="coerce", format="%d/%m/%Y")
    return iso.fillna(uk)


def validate_disruption_log(log_frame: pd.DataFrame) -> pd.DataFrame:
    """Check a disruption log and return it tidy (``date`` as dates, ``grading`` lower case,
    ``closure_type`` 1/2/NA); raise :class:`ValidationError` naming the first bad row.

    Examples
    --------
    >>> d = pd.DataFrame({"line_id": ["L1"], "date": ["2024-03-01"], "action": ["warrant"],
    ...                   "outcome": ["holder charged"], "grading": ["Major"],
    ...                   "closure_type": ["1"]})
    >>> validate_disruption_log(d)[["grading", "closure_type"]].values.tolist()
    [['major', 1]]
    """
    missing = [c for c in ("line_id", "date", "action", "grading") if c not in log_frame.columns]
    if missing:
        raise ValidationError(f"disruption log: no column(s) {', '.join(missing)}; needs "
                              f"{', '.join(DISRUPTION_COLUMNS)} (outcome, closure_type optional)")
    reason, when, types = _disruption_problems(log_frame)
    bad = reason.ne("")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValidationError(f"disruption log row {i}: {reason.iloc[i]}")
    out = log_frame.copy()
    out["line_id"] = out["line_id"].astype(str).str.strip()
    out["date"] = when
    out["grading"] = out["grading"].astype(str).str.strip().str.lower()
    out["closure_type"] = types
    if "outcome" not in out.columns:
        out["outcome"] = ""
    return out[DISRUPTION_COLUMNS + [c for c in out.columns if c not in DISRUPTION_COLUMNS]]


def add_disruption(log_frame: pd.DataFrame | None, *, line_id: str, date: date | str,
                   action: str, outcome: str, grading: str,
                   closure_type: int | None = None) -> pd.DataFrame:
    """A new disruption log with one entry appended (the input is not changed).

    Examples
    --------
    >>> d = add_disruption(None, line_id="L1", date="2024-03-01", action="warrant",
    ...                    outcome="holder charged, line dead", grading="major", closure_type=1)
    >>> national_counts(d)["lines_closed"]
    1
    """
    row = pd.DataFrame({"line_id": [line_id], "date": [str(date)], "action": [action],
                        "outcome": [outcome], "grading": [grading],
                        "closure_type": ["" if closure_type is None else str(closure_type)]})
    row = validate_disruption_log(row)
    if log_frame is None or log_frame.empty:
        return row
    return pd.concat([validate_disruption_log(log_frame), row], ignore_index=True)


def national_counts(log_frame: pd.DataFrame, *, start: date | str | None = None,
                    end: date | str | None = None) -> dict[str, int]:
    """The national outcome counts from a disruption log, optionally within [start, end].

    ``lines_closed`` counts distinct lines with a type 1 or type 2 closure;
    ``major_disruptions`` / ``moderate_disruptions`` / ``minor_disruptions`` count logged
    actions by NCA grading.

    Examples
    --------
    >>> d = pd.DataFrame({"line_id": ["L1", "L1", "L2"], "grading": ["moderate", "major", "minor"],
    ...     "date": ["2024-01-05", "2024-02-01", "2024-02-03"], "action": ["a", "b", "c"],
    ...     "closure_type": ["", "2", ""]})
    >>> c = national_counts(d)
    >>> c["lines_closed"], c["major_disruptions"], c["moderate_disruptions"], c["actions"]
    (1, 1, 1, 3)
    """
    d = validate_disruption_log(log_frame)
    if start is not None:
        d = d[d["date"] >= pd.Timestamp(start)]
    if end is not None:
        d = d[d["date"] <= pd.Timestamp(end)]
    closed = d[d["closure_type"].notna()]
    grading = d["grading"].value_counts()
    return {
        "actions": len(d),
        "lines_disrupted": int(d["line_id"].nunique()),
        "lines_closed": int(closed["line_id"].nunique()),
        "closures_type_1": int(closed.loc[closed["closure_type"] == 1, "line_id"].nunique()),
        "closures_type_2": int(closed.loc[closed["closure_type"] == 2, "line_id"].nunique()),
        "major_disruptions": int(grading.get("major", 0)),
        "moderate_disruptions": int(grading.get("moderate", 0)),
        "minor_disruptions": int(grading.get("minor", 0)),
    }


# --- readers (the reader contract: every row accepted or rejected with a reason) ----------

def _take_numbers(frame: pd.DataFrame, log_: RejectLog, column: str, *, integer: bool,
                  yes_no: bool = False) -> pd.DataFrame:
    text = frame[column].astype("string").fillna("").str.strip()
    mapped = text.str.lower()
    if yes_no:
        mapped = mapped.map(lambda v: "1" if v in _TRUE else "0" if v in _FALSE else v)
    values = pd.to_numeric(mapped.replace("", None), errors="coerce").astype("float64")
    blank = text.eq("")
    bad = ~blank & (values.isna() | (values < 0).fillna(False)
                    | ((values % 1 != 0).fillna(False) if integer else False))
    kind = "whole number" if integer else "number"
    frame = log_.take(frame, bad, f"{column} is not a non-negative {kind}: '" + text + "'")
    return frame.assign(**{column: values.loc[frame.index].where(~blank.loc[frame.index])})


def carried_fingerprint(path: str | Path) -> str | None:
    """The key fingerprint a CSV written by ``geointel lines`` carries (``None``: none).

    Reads only the header and first row, so a front end can decide whether it needs the
    key before reading the file.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "l.csv")
    >>> _ = open(p, "w").write("line_id,key_fingerprint\\nL,0123456789ab\\n")
    >>> carried_fingerprint(p)
    '0123456789ab'
    """
    try:
        head = pd.read_csv(path, nrows=1, dtype=str, encoding="utf-8-sig",
                           usecols=lambda c: c == FINGERPRINT_COLUMN)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    if FINGERPRINT_COLUMN not in head.columns or head.empty:
        return None
    value = head[FINGERPRINT_COLUMN].iloc[0]
    return str(value).strip() if isinstance(value, str) and value.strip() else None


def _fingerprinted(frame: pd.DataFrame, path: str | Path, key: bytes | None) -> pd.DataFrame:
    """Check and drop the ``key_fingerprint`` column of a file written by ``geointel lines``."""
    if FINGERPRINT_COLUMN not in frame.columns:
        if key is not None:
            log.info("%s carries no key fingerprint; its pseudonyms cannot be checked against "
                     "the current key", path)
        return frame
    return check_key(frame, key, what=f"{path}")


def read_lines(path: str | Path, *, key: bytes | None = None) -> ReadResult:
    """Read a lines evidence CSV (``line_id`` + evidence and ``score_<item>`` columns).

    A ``lines.csv`` written by ``geointel lines`` carries the fingerprint of the key its
    pseudonyms were made with (``key_fingerprint``); given the current ``key``, a file made
    under another key is refused (:class:`~geointel.errors.PrivacyError` naming both
    fingerprints) instead of silently matching nothing. The column is dropped.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "lines.csv")
    >>> _ = open(p, "w").write("line_id,weapons,score_likelihood\\nA,2,3\\nB,x,\\nA,1,\\n")
    >>> r = read_lines(p)
    >>> r.data["line_id"].tolist(), r.rejects["reason"].tolist()
    (['A'], ["weapons is not a non-negative number: 'x'", 'line_id A repeated'])
    """
    frame, log_, n = read_csv_rows(path, required=["line_id"], kind="lines evidence table")
    frame = _fingerprinted(frame, path, key)
    frame["line_id"] = frame["line_id"].astype("string").str.strip()
    frame = log_.take(frame, frame["line_id"].eq(""), "line_id is blank")
    for column in frame.columns:
        if column in NETWORK_EVIDENCE or column in INTEL_EVIDENCE:
            frame = _take_numbers(frame, log_, column, integer=False)
        elif column in INTEL_COUNTS or column.startswith("score_"):
            frame = _take_numbers(frame, log_, column, integer=True)
    frame = log_.take(frame, frame["line_id"].duplicated(),
                      "line_id " + frame["line_id"].astype(str) + " repeated")
    _check_ids(frame["line_id"].astype(str).tolist(), str(path))
    return finish(frame.astype({"line_id": str}), log_, n, path)


def read_activity(path: str | Path, *, key: bytes | None = None) -> ReadResult:
    """Read a weekly activity CSV (``line_id, week`` + ``deal_messages``,
    ``active_customers``, ``drug_offences``; any of the three; optional ``days_covered``).

    As :func:`read_lines`, a file carrying the fingerprint of another key than ``key`` is
    refused.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "act.csv")
    >>> _ = open(p, "w").write("line_id,week,deal_messages\\nL1,2024-01-03,5\\nL1,x,2\\n")
    >>> r = read_activity(p)
    >>> r.data["week"].astype(str).tolist(), r.rows_rejected
    (['2024-01-01'], 1)
    """
    frame, log_, n = read_csv_rows(path, required=["line_id", "week"],
                                   kind="weekly activity table")
    frame = _fingerprinted(frame, path, key)
    measures = [m for m in MEASURES if m in frame.columns]
    if not measures:
        raise DataFileError(path, f"has none of the measure columns {', '.join(MEASURES)}",
                            fix="add deal_messages, active_customers or drug_offences per week")
    frame["line_id"] = frame["line_id"].astype("string").str.strip()
    frame = log_.take(frame, frame["line_id"].eq(""), "line_id is blank")
    text = frame["week"].astype("string").fillna("").str.strip()
    when = _parse_dates(text)
    frame = log_.take(frame, when.isna(), "week is not a date (use YYYY-MM-DD): '" + text + "'")
    frame = frame.assign(week=_week_start(when.loc[frame.index]))
    for m in measures:
        frame = _take_numbers(frame, log_, m, integer=True)
    if COVERAGE_COLUMN in frame.columns:
        frame = _take_numbers(frame, log_, COVERAGE_COLUMN, integer=True)
        frame = log_.take(frame, (frame[COVERAGE_COLUMN] > 7).fillna(False),
                          "days_covered is more than 7")
    frame = log_.take(frame, frame.duplicated(["line_id", "week"]),
                      "week repeated for this line (one row per line and week)")
    _check_ids(frame["line_id"].astype(str).unique().tolist(), str(path))
    return finish(frame.astype({"line_id": str}), log_, n, path)


def read_disruption_log(path: str | Path, *, key: bytes | None = None,
                        line_of: Mapping[str, str] | None = None) -> ReadResult:
    """Read a disruption log CSV; rows with a bad date, grading or closure type are rejected.

    The log names each line by ``line_id``, or by ``line``: a deal-line number or handset
    (raw or pseudonym), as police logs do. A ``line`` column is pseudonymised with ``key``
    as it is read and mapped to the detected line with ``line_of`` (handset pseudonym ->
    line id, e.g. :func:`line_of_handsets` of the ``geointel lines`` table); rows whose
    number is no handset of a detected line are rejected. The raw number is never kept.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> _ = open(p, "w").write("line_id,date,action,outcome,grading,closure_type\\n"
    ...     "L1,2024-03-01,warrant,charged,major,1\\nL2,2024-03-02,stop,none,huge,\\n")
    >>> r = read_disruption_log(p)
    >>> national_counts(r.data)["lines_closed"], r.rejects["reason"].tolist()
    (1, ['grading is not major, moderate or minor (NCA disruption grading)'])
    >>> from geointel.privacy import pseudonymise
    >>> _ = open(p, "w").write("line,date,action,grading\\n07700 900001,2024-03-01,stop,minor\\n")
    >>> handset = pseudonymise(["07700900001"], b"k" * 32)[0]
    >>> read_disruption_log(p, key=b"k" * 32, line_of={handset: "LINE-x"}).data[
    ...     "line_id"].tolist()
    ['LINE-x']
    """
    from geointel.privacy import pseudonymise

    frame, log_, n = read_csv_rows(path, required=["date", "action", "grading"],
                                   kind="disruption log")
    with_numbers = "line_id" not in frame.columns
    if with_numbers and "line" not in frame.columns:
        raise DataFileError(path, "has no column 'line_id' (or 'line')",
                            fix="name each line by line_id, or by its number in 'line'")
    if with_numbers:
        if key is None or line_of is None:
            raise DataFileError(path, "names lines by number ('line' column), which must be "
                                "pseudonymised and mapped to detected lines",
                                fix="pass the key and the lines table (geointel track "
                                    "--lines DIR/lines.csv), or give a line_id column")
        handset = pd.Series(pseudonymise(frame["line"].fillna("").astype(str), key),
                            index=frame.index)
        mapped = handset.map(dict(line_of))
        frame = frame.drop(columns=["line"]).assign(line_id=mapped.fillna(""))
        frame = log_.take(frame, mapped.isna() & handset.ne(""),
                          "line is not a handset of any detected line")
    reason, _, _ = _disruption_problems(frame)
    frame = log_.take(frame, reason.ne(""), reason)
    return finish(validate_disruption_log(frame), log_, n, path)


def read_line_customers(path: str | Path, *, key: bytes) -> ReadResult:
    """Read ``line_id, customer, week``; customers are pseudonymised on reading.

    A file carrying the fingerprint of another key than ``key`` is refused.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "lc.csv")
    >>> _ = open(p, "w").write("line_id,customer,week\\nL1,07700 900123,2024-01-01\\n")
    >>> read_line_customers(p, key=b"k" * 32).data["customer"].str.startswith("P").tolist()
    [True]
    """
    from geointel.privacy import pseudonymise

    frame, log_, n = read_csv_rows(path, required=["line_id", "customer", "week"],
                                   kind="line customers table")
    frame = _fingerprinted(frame, path, key)
    text = frame["week"].astype("string").fillna("").str.strip()
    when = _parse_dates(text)
    frame = log_.take(frame, when.isna(), "week is not a date (use YYYY-MM-DD): '" + text + "'")
    frame = log_.take(frame, frame["customer"].astype("string").str.strip().eq(""),
                      "customer is blank")
    frame = frame.assign(week=_week_start(when.loc[frame.index]),
                         customer=pseudonymise(frame["customer"].astype(str), key),
                         line_id=frame["line_id"].astype(str).str.strip())
    _check_ids(frame["line_id"].unique().tolist(), str(path))
    return finish(frame, log_, n, path)
