"""Drug harm per area: counts, rates with exact Poisson intervals, deprivation, transport.

Offences (police.uk) and drug-related deaths are counted per LSOA and aggregated to MSOA,
ward and local authority through the Area's LSOA table (``Area.lsoas``: ``lsoa_code``,
``msoa_code``, ``ward_code``, ``lad_code``, ``population``, ``imd_*`` and polygons in
EPSG:27700). Wards are the Area's best-fit aggregations of LSOAs, so ward counts and
populations come from the same LSOAs.

Examples
--------
>>> lsoas = pd.DataFrame({"lsoa_code": ["A", "B"], "ward_code": ["W1", "W1"],
...                       "ward_name": ["Kursaal", "Kursaal"], "population": [1500, 500]})
>>> offences = pd.DataFrame({"lsoa_code": ["A", "A", "B", "Z"]})
>>> count_by_area(offences, lsoas, level="ward")[["code", "count", "population"]].values.tolist()
[['W1', 3, 2000]]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import stats

from geointel.errors import CRSError, ValidationError

log = logging.getLogger(__name__)

Level = Literal["lsoa", "msoa", "ward", "lad"]
#: Area levels and the Area.lsoas columns holding their code and name.
LEVELS: dict[str, tuple[str, str]] = {
    "lsoa": ("lsoa_code", "lsoa_name"),
    "msoa": ("msoa_code", "msoa_name"),
    "ward": ("ward_code", "ward_name"),
    "lad": ("lad_code", "lad_name"),
}
COMPARISONS = ("higher", "similar", "lower")


def _need(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"{name} has no column {', '.join(map(repr, missing))} (it has "
                              f"{', '.join(map(str, frame.columns[:15]))}); pass an Area's "
                              "lsoas table or a reader's data")


def _bng(frame: gpd.GeoDataFrame | gpd.GeoSeries, name: str, *,
         distances: bool = False) -> gpd.GeoSeries:
    """Geometries in EPSG:27700; with ``distances`` a geographic CRS is refused."""
    if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
        raise ValidationError(f"{name} must be a GeoDataFrame with geometries")
    if frame.crs is None:
        raise CRSError(f"{name} has no CRS; set it (EPSG:27700 for eastings/northings)")
    if distances and frame.crs.is_geographic:
        raise CRSError(f"{name} is in a geographic CRS ({frame.crs.to_string()}, degrees); "
                       "distances need metres. Fix: .to_crs('EPSG:27700')")
    geoms = frame.geometry
    if frame.crs.to_epsg() != 27700:
        geoms = geoms.to_crs("EPSG:27700")
    return geoms


def select_period(
    records: pd.DataFrame,
    *,
    start: str | None = None,
    end: str | None = None,
    column: str = "month",
) -> pd.DataFrame:
    """The records whose month lies from ``start`` to ``end`` inclusive (``'YYYY-MM'``).

    ``column`` may hold ``'YYYY-MM'`` text or dates. ``records`` is not modified.

    Examples
    --------
    >>> r = pd.DataFrame({"month": ["2018-10", "2018-11", "2019-01"]})
    >>> select_period(r, start="2018-11")["month"].tolist()
    ['2018-11', '2019-01']
    """
    for label, value in (("start", start), ("end", end)):
        if value is not None and not pd.Series([value]).str.fullmatch(
                r"\d{4}-(0[1-9]|1[0-2])").iloc[0]:
            raise ValidationError(f"{label}={value!r}: months are written 'YYYY-MM'")
    if start is None and end is None:
        return records
    _need(records, [column], "records")
    months = _months(records[column])
    keep = pd.Series(True, index=records.index)
    if start is not None:
        keep &= months >= start
    if end is not None:
        keep &= months <= end
    return records.loc[keep.to_numpy()]


def _months(values: pd.Series) -> pd.Series:
    text = values.astype("string")
    if text.str.fullmatch(r"\d{4}-\d{2}").fillna(False).all():
        return text
    return pd.to_datetime(values, errors="coerce").dt.strftime("%Y-%m").astype("string")


def locate(points: gpd.GeoDataFrame, lsoas: gpd.GeoDataFrame, *,
           code_column: str = "lsoa_code") -> pd.Series:
    """The code of the LSOA polygon containing each point (``<NA>`` outside every one).

    A point on a shared boundary goes to the polygon whose code the point's own
    ``code_column`` names if that is one of them, otherwise to the first polygon.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> l = gpd.GeoDataFrame({"lsoa_code": ["A", "B"]}, geometry=[box(0, 0, 1, 1),
    ...                      box(1, 0, 2, 1)], crs="EPSG:27700")
    >>> p = gpd.GeoDataFrame({"lsoa_code": ["B", "A", "A"]}, geometry=[Point(1, .5),
    ...                      Point(.5, .5), Point(5, 5)], crs="EPSG:27700")
    >>> locate(p, l).tolist()
    ['B', 'A', <NA>]
    """
    _need(lsoas, [code_column], "lsoas")
    codes = lsoas[code_column].astype(str).to_numpy()
    tree = shapely.STRtree(_bng(lsoas, "lsoas").to_numpy())
    pt, poly = tree.query(_bng(points, "points").to_numpy(), predicate="intersects")
    if code_column in points.columns:
        own = points[code_column].astype("string").fillna("").to_numpy(dtype=object)
        disagree = codes[poly] != own[pt]
    else:
        disagree = np.zeros(len(pt), dtype=bool)
    order = np.lexsort((poly, disagree, pt))
    pt, poly = pt[order], poly[order]
    first = np.ones(len(pt), dtype=bool)
    first[1:] = pt[1:] != pt[:-1]
    out = np.full(len(points), None, dtype=object)
    out[pt[first]] = codes[poly[first]]
    return pd.Series(pd.array(out, dtype="string"), index=points.index, name="point_lsoa")


def points_in_area(records: pd.DataFrame, lsoas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The records with a point inside one of the Area's LSOA polygons, in EPSG:27700.

    Rows without a point (a plain DataFrame, or a missing/empty geometry) and points
    outside every LSOA are left out; this is what point hotspots (kernel density,
    HDBSCAN) are computed on. ``records`` is not modified.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> l = gpd.GeoDataFrame({"lsoa_code": ["A"]}, geometry=[box(0, 0, 1, 1)],
    ...                      crs="EPSG:27700")
    >>> p = gpd.GeoDataFrame({"n": [1, 2, 3]}, geometry=[Point(.5, .5), Point(5, 5), None],
    ...                      crs="EPSG:27700")
    >>> points_in_area(p, l)["n"].tolist()
    [1]
    """
    has = _has_points(records).to_numpy(dtype=bool)
    if not has.any():
        columns = pd.DataFrame(records).iloc[:0].drop(columns="geometry", errors="ignore")
        return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs="EPSG:27700"))
    located = gpd.GeoDataFrame(records.loc[has])
    inside = located.loc[locate(located, lsoas).notna().to_numpy(dtype=bool)]
    return inside.set_geometry(_bng(inside, "records"))


def code_disagreements(points: gpd.GeoDataFrame, lsoas: gpd.GeoDataFrame) -> pd.DataFrame:
    """Rows whose point lies in an Area LSOA other than their own ``lsoa_code`` says.

    Rows whose point is outside every LSOA of the Area but whose code names one are
    included too (``point_lsoa`` blank). Rows of LSOAs outside the Area are ignored.

    Returns
    -------
    pandas.DataFrame
        ``_file``, ``_line`` (when present), ``crime_id`` (when present), ``lsoa_code``,
        ``point_lsoa``, ``easting``, ``northing``.
    """
    _need(points, ["lsoa_code"], "points")
    where = locate(points, lsoas)
    own = points["lsoa_code"].astype("string")
    in_area = own.isin(set(lsoas["lsoa_code"].astype(str)))
    bad = (in_area & (where.isna() | (where != own))).fillna(True).to_numpy(dtype=bool)
    cols = [c for c in ("_file", "_line", "crime_id", "month", "crime_type", "lsoa_code")
            if c in points.columns]
    out = pd.DataFrame(points.loc[bad, cols]).reset_index(drop=True)
    out["point_lsoa"] = where[bad].to_numpy()
    geoms = _bng(points, "points")[bad]
    out["easting"] = geoms.x.to_numpy()
    out["northing"] = geoms.y.to_numpy()
    return out


def count_by_area(
    records: pd.DataFrame,
    lsoas: pd.DataFrame,
    *,
    level: Level = "lsoa",
    assign: Literal["code", "point"] = "code",
    weight: str | None = None,
) -> pd.DataFrame:
    """Records (offences, deaths) counted per area, every area listed, zeros included.

    Parameters
    ----------
    records
        One row per event with ``lsoa_code`` (``assign="code"``) or point geometry in a
        projected CRS (``assign="point"``).
    lsoas
        ``Area.lsoas``: ``lsoa_code``, ``population``, and the level's code/name columns
        (plus polygons for ``assign="point"``).
    level
        ``"lsoa"``, ``"msoa"``, ``"ward"`` or ``"lad"``.
    assign
        ``"code"`` trusts the record's LSOA code (police.uk assign it on the full-
        resolution boundaries) and places records without a code by their point, if
        they have one; ``"point"`` places every record by its point in the Area's
        polygons. Records that fall outside the Area are logged and not counted.
    weight
        Column to sum instead of counting rows (e.g. ``count`` of a deaths register).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``count``, ``population``, ``lsoas`` (LSOAs in the unit),
        sorted by code.
    """
    if level not in LEVELS:
        raise ValidationError(f"level={level!r}: choose one of {', '.join(LEVELS)}")
    code_col, name_col = LEVELS[level]
    _need(lsoas, ["lsoa_code", "population", code_col], "lsoas")
    if assign == "code":
        _need(records, ["lsoa_code"], "records")
        where = _placed_codes(records, lsoas)
    elif assign == "point":
        where = locate(records, lsoas)
    else:
        raise ValidationError(f"assign={assign!r}: choose 'code' or 'point'")
    known = set(lsoas["lsoa_code"].astype(str))
    inside = where.isin(known).fillna(False).to_numpy(dtype=bool)
    outside = int((~inside).sum())
    if outside:
        blank = int(where.isna().sum())
        log.info("%d of %d records are outside the Area's %d LSOAs (%d with no LSOA); "
                 "codes are expected as LSOA 2011 (E01...)", outside, len(where), len(known),
                 blank)
    if weight is None:
        per_lsoa = where[inside].value_counts()
    else:
        amount = whole_counts(records, weight)
        per_lsoa = pd.Series(amount[inside]).groupby(where[inside].to_numpy()).sum()
    table = pd.DataFrame({
        "lsoa_code": lsoas["lsoa_code"].astype(str).to_numpy(),
        "code": lsoas[code_col].astype(str).to_numpy(),
        "name": (lsoas[name_col] if name_col in lsoas.columns else lsoas[code_col])
        .astype(str).to_numpy(),
        "population": pd.to_numeric(lsoas["population"], errors="coerce").to_numpy(),
    })
    table["count"] = table["lsoa_code"].map(per_lsoa).fillna(0).astype("int64")
    out = table.groupby("code", sort=True).agg(
        name=("name", "first"), count=("count", "sum"), population=("population", "sum"),
        lsoas=("lsoa_code", "size")).reset_index()
    return out[["code", "name", "count", "population", "lsoas"]]


def _placed_codes(records: pd.DataFrame, lsoas: pd.DataFrame) -> pd.Series:
    """Each record's ``lsoa_code``, blanks filled by locating the record's point (if any)."""
    where = _blank_as_na(records["lsoa_code"])
    placeable = (where.isna() & _has_points(records)).to_numpy(dtype=bool)
    if placeable.any():
        where = where.copy()
        where[placeable] = locate(records.loc[placeable], lsoas).to_numpy()
    return where


def _blank_as_na(codes: pd.Series) -> pd.Series:
    """Codes as strings with blanks (as readers leave them) made missing."""
    text = codes.astype("string").str.strip()
    return text.mask(text == "")


def whole_counts(records: pd.DataFrame, weight: str) -> np.ndarray:
    """The ``weight`` column as whole, non-negative numbers (a register's ``count``), or a
    ValidationError naming the column and the first bad rows.

    >>> whole_counts(pd.DataFrame({"count": [2, 0, 5]}), "count").tolist()
    [2, 0, 5]
    """
    _need(records, [weight], "records")
    amount = pd.to_numeric(records[weight], errors="coerce")
    bad = amount.isna() | (amount < 0) | (amount != amount.round())
    if bad.any():
        rows = records.index[bad.to_numpy()][:5].tolist()
        raise ValidationError(f"records: column {weight!r} has {int(bad.sum())} value(s) that "
                              f"are not whole numbers >= 0 (rows {rows}); fix them or read the "
                              "register with geointel.io.deaths.read_deaths")
    return amount.to_numpy(dtype="int64")


def _has_points(records: pd.DataFrame) -> pd.Series:
    """True for rows with a non-empty geometry (False for a plain DataFrame)."""
    if not isinstance(records, gpd.GeoDataFrame) or records.geometry.name not in records:
        return pd.Series(False, index=records.index)
    geoms = records.geometry
    return pd.Series(geoms.notna().to_numpy() & ~geoms.is_empty.fillna(True).to_numpy(),
                     index=records.index)


def poisson_interval(
    counts: np.ndarray | pd.Series | Sequence[float],
    *,
    level: float = 0.95,
    method: Literal["exact", "byar", "phe"] = "exact",
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence interval for Poisson counts.

    ``"exact"`` is Garwood's chi-square interval; ``"byar"`` is Byar's approximation;
    ``"phe"`` uses exact below 10 and Byar from 10, as England's public health
    indicators do.

    Examples
    --------
    >>> lo, hi = poisson_interval([0, 1, 10])
    >>> lo.round(4).tolist(), hi.round(4).tolist()
    ([0.0, 0.0253, 4.7954], [3.6889, 5.5716, 18.3904])
    """
    if not 0 < level < 1:
        raise ValidationError(f"level={level!r}: a confidence level is between 0 and 1")
    k = np.asarray(counts, dtype=float)
    if np.isnan(k).any() or (k < 0).any():
        raise ValidationError("counts must be non-negative numbers")
    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        ex_lo = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
        ex_hi = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
        z = stats.norm.ppf(1 - alpha / 2)
        by_lo = np.where(k > 0, k * (1 - 1 / (9 * k) - z / (3 * np.sqrt(k))) ** 3, 0.0)
        k1 = k + 1
        by_hi = k1 * (1 - 1 / (9 * k1) + z / (3 * np.sqrt(k1))) ** 3
    if method == "exact":
        return ex_lo, ex_hi
    if method == "byar":
        return np.maximum(by_lo, 0.0), by_hi
    if method == "phe":
        small = k < 10
        return np.where(small, ex_lo, by_lo), np.where(small, ex_hi, by_hi)
    raise ValidationError(f"method={method!r}: choose 'exact', 'byar' or 'phe'")


def add_rates(
    table: pd.DataFrame,
    *,
    per: float = 1000.0,
    level: float = 0.95,
    method: Literal["exact", "byar", "phe"] = "exact",
    benchmark: float | None = None,
) -> pd.DataFrame:
    """Rates per ``per`` residents with intervals, compared with the area average.

    The benchmark is the rate over all rows of ``table`` (total count / total population)
    unless given. An area is ``"higher"`` when its interval lies wholly above the
    benchmark, ``"lower"`` when wholly below, otherwise ``"similar"``; areas without
    population get ``"no population"``. ``rank`` 1 is the highest rate.

    Examples
    --------
    >>> t = pd.DataFrame({"code": ["A", "B"], "count": [60, 2], "population": [10000, 10000]})
    >>> add_rates(t)[["rate", "comparison", "rank"]].values.tolist()
    [[6.0, 'higher', 1], [0.2, 'lower', 2]]
    """
    _need(table, ["count", "population"], "table")
    out = table.copy()
    count = out["count"].to_numpy(dtype=float)
    pop = pd.to_numeric(out["population"], errors="coerce").to_numpy(dtype=float)
    lo, hi = poisson_interval(count, level=level, method=method)
    has_pop = pop > 0
    safe = np.where(has_pop, pop, np.nan)
    if benchmark is None:
        total = pop[has_pop].sum()
        benchmark = float(count[has_pop].sum() / total * per) if total > 0 else float("nan")
    out["rate"] = count / safe * per
    out["rate_lower"] = lo / safe * per
    out["rate_upper"] = hi / safe * per
    out["benchmark"] = benchmark
    comparison = np.where(out["rate_lower"] > benchmark, "higher",
                          np.where(out["rate_upper"] < benchmark, "lower", "similar"))
    out["comparison"] = np.where(has_pop, comparison, "no population")
    out["rank"] = out["rate"].rank(ascending=False, method="min").astype("Int64")
    return out


def rate_table(
    records: pd.DataFrame,
    lsoas: pd.DataFrame,
    *,
    level: Level = "lsoa",
    per: float = 1000.0,
    ci_level: float = 0.95,
    method: Literal["exact", "byar", "phe"] = "exact",
    assign: Literal["code", "point"] = "code",
    weight: str | None = None,
) -> pd.DataFrame:
    """Counts and rates per area, ranked (1 = highest rate), benchmark = whole Area.

    ``weight`` names a column of people per record to sum instead of counting rows (the
    ``count`` of a deaths register; :func:`register_rates` does this for a register).

    Examples
    --------
    >>> lsoas = pd.DataFrame({"lsoa_code": ["A", "B"], "population": [1000, 1000]})
    >>> rate_table(pd.DataFrame({"lsoa_code": ["B"] * 3}), lsoas)["rank"].tolist()
    [1, 2]
    >>> rate_table(pd.DataFrame({"lsoa_code": ["A", "B"], "count": [4, 1]}), lsoas,
    ...            weight="count")[["code", "count"]].values.tolist()
    [['A', 4], ['B', 1]]
    """
    counts = count_by_area(records, lsoas, level=level, assign=assign, weight=weight)
    out = add_rates(counts, per=per, level=ci_level, method=method)
    return out.sort_values(["rank", "code"], kind="stable").reset_index(drop=True)


#: The register category counted as a drug-related death (blank categories are read as it).
DEATH = "death"


def select_register(
    register: pd.DataFrame,
    *,
    outcome: str | Sequence[str] | None = DEATH,
    start: str | None = None,
    end: str | None = None,
    lsoas: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """The rows of a deaths/incidents register for an outcome and a period.

    Parameters
    ----------
    register
        ``geointel.io.deaths.read_deaths(...).data``: ``month``, ``category``, ``count``
        (people in the row) and ``lsoa_code``/points. Not modified.
    outcome
        Category or categories to keep (``"death"``, ``"non_fatal_overdose"``...; written
        as the reader stores them, lower case with ``_``); ``None`` keeps every row. A
        register without a ``category`` column is all deaths (the schema's blank).
    start, end
        First and last month, ``'YYYY-MM'``, inclusive (see :func:`select_period`).
    lsoas
        With an Area's LSOA polygons, rows with a blank ``lsoa_code`` and a point get
        the code of the polygon containing it (so code-based tallies such as
        :func:`geointel.hotspots.monthly_series` count them as :func:`register_counts`
        does).

    Examples
    --------
    >>> r = pd.DataFrame({"month": ["2019-01", "2019-02", "2019-03"], "count": [2, 1, 5],
    ...                   "category": ["death", "non_fatal_overdose", "death"]})
    >>> select_register(r, end="2019-02")["count"].tolist()
    [2]
    """
    if outcome is None:
        chosen = register
    else:
        wanted = [outcome] if isinstance(outcome, str) else list(outcome)
        if not wanted:
            raise ValidationError("outcome=[]: name at least one category (e.g. 'death'), "
                                  "or pass None for every row")
        if "category" in register.columns:
            category = register["category"].astype("string").fillna("").str.strip()
            category = category.where(category != "", DEATH)
            keep = category.isin(wanted).to_numpy(dtype=bool)
            if len(register) and not keep.any():
                log.info("the register has no %s rows (its categories: %s)",
                         " or ".join(map(repr, wanted)),
                         ", ".join(sorted(category.unique())))
            chosen = register.loc[keep]
        elif DEATH in wanted:
            chosen = register
        else:
            chosen = register.iloc[:0]
    chosen = select_period(chosen, start=start, end=end)
    if lsoas is not None and "lsoa_code" in chosen.columns:
        chosen = chosen.assign(lsoa_code=_placed_codes(chosen, lsoas).to_numpy())
    return chosen


def register_counts(
    register: pd.DataFrame,
    lsoas: pd.DataFrame,
    *,
    level: Level = "lsoa",
    outcome: str | Sequence[str] | None = DEATH,
    start: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """People in a deaths/incidents register per area, for an outcome and a period.

    Each row of the register counts ``count`` people (a row with no ``count`` column
    counts one); only rows of ``outcome`` (deaths by default, see
    :func:`select_register`) whose month lies from ``start`` to ``end`` are counted.
    Rows are placed by their LSOA code, or by their point when the code is blank; rows
    outside the Area are logged and not counted.

    Returns
    -------
    pandas.DataFrame
        :func:`count_by_area`'s table: ``code``, ``name``, ``count``, ``population``,
        ``lsoas``, every area listed.

    Examples
    --------
    >>> lsoas = pd.DataFrame({"lsoa_code": ["A", "B"], "ward_code": ["W", "W"],
    ...                       "population": [1500, 500]})
    >>> r = pd.DataFrame({"lsoa_code": ["A", "A", "B", "B"], "count": [2, 3, 1, 4],
    ...                   "category": ["death", "non_fatal_overdose", "death", "death"],
    ...                   "month": ["2019-01", "2019-01", "2019-02", "2019-05"]})
    >>> register_counts(r, lsoas, end="2019-03")["count"].tolist()
    [2, 1]
    >>> register_counts(r, lsoas, level="ward", outcome=None)["count"].tolist()
    [10]
    """
    chosen = select_register(register, outcome=outcome, start=start, end=end)
    weight = "count" if "count" in chosen.columns else None
    return count_by_area(chosen, lsoas, level=level, weight=weight)


def register_rates(
    register: pd.DataFrame,
    lsoas: pd.DataFrame,
    *,
    level: Level = "lsoa",
    outcome: str | Sequence[str] | None = DEATH,
    start: str | None = None,
    end: str | None = None,
    per: float = 100_000.0,
    ci_level: float = 0.95,
    method: Literal["exact", "byar", "phe"] = "exact",
) -> pd.DataFrame:
    """:func:`register_counts` with rates per ``per`` residents (100,000 for deaths),
    exact intervals and the comparison with the Area, ranked as :func:`rate_table`.

    Examples
    --------
    >>> lsoas = pd.DataFrame({"lsoa_code": ["A", "B"], "population": [1000, 1000]})
    >>> r = pd.DataFrame({"lsoa_code": ["A", "B"], "count": [3, 1], "month": "2019-01",
    ...                   "category": ["death", "non_fatal_overdose"]})
    >>> register_rates(r, lsoas)[["code", "count", "rate"]].values.tolist()
    [['A', 3, 300.0], ['B', 0, 0.0]]
    """
    chosen = select_register(register, outcome=outcome, start=start, end=end)
    return rate_table(chosen, lsoas, level=level, per=per, ci_level=ci_level, method=method,
                      weight="count" if "count" in chosen.columns else None)


def by_imd_decile(
    lsoa_counts: pd.DataFrame,
    lsoas: pd.DataFrame,
    *,
    per: float = 1000.0,
    level: float = 0.95,
    method: Literal["exact", "byar", "phe"] = "exact",
) -> pd.DataFrame:
    """Counts and rates per IMD decile (1 = most deprived) from LSOA counts.

    ``lsoa_counts`` is :func:`count_by_area` at ``level="lsoa"`` (``code``, ``count``).
    Deciles with no LSOA in the Area are left out.
    """
    _need(lsoas, ["lsoa_code", "imd_decile", "population"], "lsoas")
    frame = _joined(lsoa_counts, lsoas)
    out = frame.groupby("imd_decile", sort=True).agg(
        count=("count", "sum"), population=("population", "sum"),
        lsoas=("count", "size")).reset_index()
    out["imd_decile"] = out["imd_decile"].astype("int64")
    return add_rates(out, per=per, level=level, method=method)


def _joined(lsoa_counts: pd.DataFrame, lsoas: pd.DataFrame) -> pd.DataFrame:
    _need(lsoa_counts, ["code", "count"], "lsoa_counts")
    cols = [c for c in ("lsoa_code", "imd_decile", "imd_rank", "imd_score", "population")
            if c in lsoas.columns]
    frame = pd.DataFrame(lsoas[cols]).merge(
        lsoa_counts[["code", "count"]].rename(columns={"code": "lsoa_code"}),
        on="lsoa_code", how="left", validate="one_to_one")
    frame["count"] = frame["count"].fillna(0)
    for col in ("imd_decile", "imd_rank", "imd_score", "population"):
        if col in frame.columns:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    missing = int(frame["imd_decile"].isna().sum()) if "imd_decile" in frame.columns else 0
    if missing:
        log.warning("%d LSOAs have no IMD decile and are left out of the deprivation "
                    "analysis", missing)
    return frame.dropna(subset=[c for c in ("imd_decile",) if c in frame.columns])


def concentration_curve(lsoa_counts: pd.DataFrame, lsoas: pd.DataFrame) -> pd.DataFrame:
    """Cumulative share of harm against cumulative share of population, most deprived first.

    LSOAs are ordered by IMD rank (1 = most deprived in England). The first row is (0, 0).

    Examples
    --------
    >>> l = pd.DataFrame({"lsoa_code": ["A", "B"], "imd_rank": [1, 2], "imd_decile": [1, 1],
    ...                   "population": [100, 300]})
    >>> c = pd.DataFrame({"code": ["A", "B"], "count": [3, 1]})
    >>> concentration_curve(c, l)[["population_share", "harm_share"]].values.tolist()
    [[0.0, 0.0], [0.25, 0.75], [1.0, 1.0]]
    """
    _need(lsoas, ["lsoa_code", "imd_rank", "population"], "lsoas")
    frame = _joined(lsoa_counts, lsoas).sort_values(["imd_rank", "lsoa_code"], kind="stable")
    pop = frame["population"].to_numpy(dtype=float)
    harm = frame["count"].to_numpy(dtype=float)
    if pop.sum() <= 0 or harm.sum() <= 0:
        raise ValidationError("a concentration curve needs some population and some harm; "
                              "check the period and crime types selected")
    return pd.DataFrame({
        "lsoa_code": ["", *frame["lsoa_code"].astype(str)],
        "population_share": np.concatenate([[0.0], np.cumsum(pop) / pop.sum()]),
        "harm_share": np.concatenate([[0.0], np.cumsum(harm) / harm.sum()]),
    })


def concentration_index(curve: pd.DataFrame) -> float:
    """1 - 2 x area under the concentration curve: negative when harm is concentrated in
    the most deprived (the curve lies above the diagonal), 0 when spread evenly.

    Examples
    --------
    >>> c = pd.DataFrame({"population_share": [0, .5, 1.], "harm_share": [0, .75, 1.]})
    >>> concentration_index(c)
    -0.25
    """
    x = curve["population_share"].to_numpy(dtype=float)
    y = curve["harm_share"].to_numpy(dtype=float)
    return float(1 - 2 * np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def share_in_most_deprived(curve: pd.DataFrame, population_share: float) -> float:
    """Share of harm in the most deprived ``population_share`` of residents (interpolated).

    Examples
    --------
    >>> c = pd.DataFrame({"population_share": [0, .5, 1.], "harm_share": [0, .75, 1.]})
    >>> share_in_most_deprived(c, 0.25)
    0.375
    """
    if not 0 <= population_share <= 1:
        raise ValidationError(f"population_share={population_share!r} must be in [0, 1]")
    return float(np.interp(population_share, curve["population_share"], curve["harm_share"]))


def deprivation_summary(lsoa_counts: pd.DataFrame, lsoas: pd.DataFrame, *,
                        per: float = 1000.0) -> dict[str, object]:
    """Headline figures: decile rates, most/least deprived ratio, Spearman, concentration.

    The ratio compares the most and least deprived deciles with residents in the Area
    (named in the result). Spearman's rho is between each LSOA's rate and its IMD score when
    scores are available (positive = more harm where more deprived), otherwise its IMD
    rank (negative = more harm where more deprived, rank 1 being most deprived).
    """
    deciles = by_imd_decile(lsoa_counts, lsoas, per=per)
    deciles = deciles.loc[deciles["population"] > 0]
    if deciles.empty:
        raise ValidationError("no LSOA with an IMD decile has any population")
    most, least = deciles.iloc[0], deciles.iloc[-1]
    ratio = float(most["rate"] / least["rate"]) if least["rate"] > 0 else float("nan")
    frame = _joined(lsoa_counts, lsoas)
    frame = frame.loc[frame["population"] > 0]
    rate = frame["count"] / frame["population"] * per
    use_score = "imd_score" in frame.columns and frame["imd_score"].notna().all()
    against = "imd_score" if use_score else "imd_rank"
    if against not in frame.columns:
        raise ValidationError("lsoas needs imd_score or imd_rank for the rank correlation")
    rho, p = stats.spearmanr(rate, frame[against])
    curve = concentration_curve(lsoa_counts, lsoas)
    return {
        "most_deprived_decile": int(most["imd_decile"]),
        "least_deprived_decile": int(least["imd_decile"]),
        "rate_ratio_most_least": ratio,
        "spearman_against": against,
        "spearman_rho": float(rho),
        "spearman_p": float(p),
        "concentration_index": concentration_index(curve),
        "share_in_most_deprived_20pc": share_in_most_deprived(curve, 0.2),
    }


def _buffer_union(stops: gpd.GeoDataFrame, distance: float) -> shapely.Geometry:
    return shapely.union_all(shapely.buffer(_bng(stops, "stops", distances=True).to_numpy(),
                                            distance))


def near_transport(
    offences: gpd.GeoDataFrame,
    stops: gpd.GeoDataFrame,
    lsoas: gpd.GeoDataFrame,
    *,
    distance: float = 200.0,
) -> dict[str, float]:
    """Share of offences within ``distance`` metres of a stop, against what is expected.

    Only offences inside ``lsoas`` count. Expected shares if offences ignored transport:
    by land area (share of the Area's land within the distance of a stop) and by
    population (each LSOA's residents apportioned by the share of its land within the
    distance). A binomial test compares the observed count with the population-based
    expectation.

    Returns
    -------
    dict
        ``offences``, ``near``, ``observed_share``, ``expected_area_share``,
        ``expected_population_share``, ``ratio`` (observed / expected population share),
        ``p_value`` (two-sided binomial).
    """
    if not distance > 0:
        raise ValidationError(f"distance={distance!r} must be a positive number of metres")
    _need(lsoas, ["population"], "lsoas")
    zone = _buffer_union(stops, distance)
    polys = _bng(lsoas, "lsoas").to_numpy()
    pts = _bng(offences, "offences", distances=True).to_numpy()
    pts = pts[locate(offences, lsoas).notna().to_numpy()]
    area = shapely.area(polys)
    covered = shapely.area(shapely.intersection(polys, zone))
    pop = pd.to_numeric(lsoas["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    expected_area = float(covered.sum() / area.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_pop = float(np.nansum(pop * covered / area) / pop.sum())
    shapely.prepare(zone)
    near = int(shapely.contains_xy(zone, shapely.get_x(pts), shapely.get_y(pts)).sum()) \
        if len(pts) else 0
    n = len(pts)
    observed = near / n if n else float("nan")
    p = float(stats.binomtest(near, n, expected_pop).pvalue) if n else float("nan")
    return {"distance_m": float(distance), "offences": float(n), "near": float(near),
            "observed_share": observed, "expected_area_share": expected_area,
            "expected_population_share": expected_pop,
            "ratio": observed / expected_pop if expected_pop > 0 else float("nan"),
            "p_value": p}


def station_counts(
    offences: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    *,
    distance: float = 200.0,
    id_column: str = "atco_code",
) -> gpd.GeoDataFrame:
    """Offences within ``distance`` metres of each station or stop, most first.

    An offence near two stations counts for both.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> s = gpd.GeoDataFrame({"atco_code": ["S1", "S2"]}, geometry=[Point(0, 0),
    ...                      Point(1000, 0)], crs="EPSG:27700")
    >>> o = gpd.GeoDataFrame(geometry=[Point(10, 0), Point(0, 150), Point(500, 0)],
    ...                      crs="EPSG:27700")
    >>> station_counts(o, s)[["atco_code", "offences"]].values.tolist()
    [['S1', 2], ['S2', 0]]
    """
    _need(stations, [id_column], "stations")
    st = _bng(stations, "stations", distances=True).to_numpy()
    pts = _bng(offences, "offences", distances=True).to_numpy()
    tree = shapely.STRtree(pts)
    idx_station, _ = tree.query(st, predicate="dwithin", distance=distance)
    counts = np.bincount(idx_station, minlength=len(st))
    out = stations.copy()
    if out.crs.to_epsg() != 27700:
        out = out.to_crs("EPSG:27700")
    out["offences"] = counts.astype("int64")
    return out.sort_values(["offences", id_column], ascending=[False, True],
                           kind="stable").reset_index(drop=True)


def suppress_small(table: pd.DataFrame, *, threshold: int, count: str = "count",
                   group_by: str | None = None) -> pd.DataFrame:
    """Hide counts from 1 to ``threshold - 1``, their complements, and their rates.

    Partner and public outputs of small counts (deaths, say) could identify people;
    zeros are kept. The area total is published (the ``benchmark`` rate gives it away),
    so :func:`geointel.privacy.suppress_small_counts` also hides complementary counts
    until no hidden count can be pinned down from the total. When even that cannot
    protect them (few deaths, all in different areas), the table is published without
    its total: ``benchmark`` and ``comparison`` are blanked and only small counts hidden.
    A ``suppressed`` column says which rows were hidden; their rates, intervals,
    comparison and rank are blanked too. A ranked table is re-ranked among the published
    rows and its hidden rows are put last in code order, so neither the ranks nor the
    order say where a hidden rate lies. ``result.attrs["total"]`` is the total that may go
    out beside the table, ``None`` after the fallback above (:func:`published_total`).

    With ``group_by`` (e.g. ``lad_code``) each group is suppressed on its own, its total
    taken as known: a row is hidden or shown the same way in every output whose groups
    include it, so outputs for different sets of groups cannot be differenced.

    Examples
    --------
    >>> t = pd.DataFrame({"count": [0, 3, 8, 12], "rate": [0.0, 1.5, 4.0, 6.0]})
    >>> suppress_small(t, threshold=5)["count"].tolist()
    [0, <NA>, <NA>, 12]
    >>> t["la"] = ["A", "A", "B", "B"]  # A's total would give its 3 away: its 0 is hidden too
    >>> out = suppress_small(t, threshold=5, group_by="la")
    >>> out["count"].tolist(), published_total(out)
    ([<NA>, <NA>, 8, 12], '23')
    """
    from geointel.errors import PrivacyError
    from geointel.privacy import suppress_small_counts

    _need(table, [count] + ([group_by] if group_by else []), "table")
    values = pd.to_numeric(table[count], errors="coerce")
    if values.isna().any():
        raise ValidationError(f"table: column {count!r} has {int(values.isna().sum())} missing "
                              "or non-numeric counts; fill them with 0 before suppression")
    rounded = table.assign(**{count: values.round()})
    groups = ([rounded] if group_by is None
              else [part for _, part in rounded.groupby(group_by, sort=False, dropna=False)])
    parts, no_total = [], False
    for part in groups:
        try:
            parts.append(suppress_small_counts(part, columns=[count], threshold=threshold))
        except PrivacyError as err:
            log.warning("%s: publishing the table without its total", err)
            parts.append(suppress_small_counts(part, columns=[count], threshold=threshold,
                                               totals_known=False))
            no_total = True
    out = pd.concat(parts).loc[rounded.index] if len(parts) > 1 else parts[0]
    hide = out.pop(f"{count}_suppressed").to_numpy(dtype=bool)
    blank = {"rate": hide, "rate_lower": hide, "rate_upper": hide, "rank": hide,
             "comparison": np.ones(len(out), bool) if no_total else hide,
             "benchmark": np.full(len(out), no_total)}
    if "rank" in out.columns and "rate" in out.columns:
        rate = pd.to_numeric(out["rate"], errors="coerce").where(~hide)
        out["rank"] = rate.rank(ascending=False, method="min").astype("Int64")
    for col, rows in blank.items():
        if col in out.columns:
            if out[col].dtype.kind == "f":
                out.loc[rows, col] = np.nan
            else:
                out[col] = out[col].astype("object")
                out.loc[rows, col] = None
    out["suppressed"] = hide
    if "rank" in out.columns:
        order = ["suppressed", "rank"] + [c for c in ("code",) if c in out.columns]
        out = out.sort_values(order, na_position="last", kind="stable").reset_index(drop=True)
    out.attrs["total"] = None if no_total else int(rounded[count].sum())
    return out


def published_total(*tables: pd.DataFrame) -> str:
    """The total of :func:`suppress_small` tables of the same counts (cut different ways,
    e.g. by ward and by month) as text (``1,234``), or why it is withheld: it goes out
    only if every table shown beside it may publish it. Use it wherever a total is shown.

    >>> months = suppress_small(pd.DataFrame({"count": [1, 1, 0]}), threshold=5)
    >>> wards = suppress_small(pd.DataFrame({"count": [2, 0, 0]}), threshold=5)
    >>> published_total(wards), published_total(wards, months)
    ('2', 'withheld (small numbers)')
    """
    totals = [table.attrs.get("total") for table in tables]
    if not totals or any(total is None for total in totals):
        return "withheld (small numbers)"
    return f"{totals[0]:,}"


#: The one level at which partner outputs publish drug deaths. The same deaths counted at
#: two nested levels can be differenced (a ward's count less its published LSOAs gives a
#: hidden LSOA), so every partner output takes its deaths from :func:`partner_deaths`.
DEATHS_LEVEL: Level = "ward"


def partner_deaths(
    register: pd.DataFrame,
    lsoas: pd.DataFrame,
    *,
    threshold: int,
    outcome: str | Sequence[str] | None = DEATH,
    start: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """Drug deaths per ward for partner outputs: rates per 100,000, small counts hidden.

    :func:`register_rates` at :data:`DEATHS_LEVEL` with each ward's ``lad_code``, through
    :func:`suppress_small` one local authority at a time, so a ward is hidden or shown
    the same way whichever authorities an output covers. Take rows of this table for an
    output; never count deaths for partners at another level.

    Examples
    --------
    >>> lsoas = pd.DataFrame({"lsoa_code": ["A", "B", "C"], "ward_code": ["W1", "W2", "W3"],
    ...                       "lad_code": ["L1", "L1", "L2"], "population": [1000] * 3})
    >>> r = pd.DataFrame({"lsoa_code": ["A", "B", "C"], "count": [7, 6, 2],
    ...                   "month": "2019-01", "category": "death"})
    >>> t = partner_deaths(r, lsoas, threshold=5)
    >>> t[["code", "lad_code", "count"]].values.tolist()
    [['W1', 'L1', 7], ['W2', 'L1', 6], ['W3', 'L2', <NA>]]
    >>> published_total(t)  # L2's total is its one ward's 2: no total goes out
    'withheld (small numbers)'
    """
    code_col, _ = LEVELS[DEATHS_LEVEL]
    _need(lsoas, [code_col, "lad_code"], "lsoas")
    table = register_rates(register, lsoas, level=DEATHS_LEVEL, outcome=outcome,
                           start=start, end=end)
    lad_of = lsoas.drop_duplicates(code_col).set_index(code_col)["lad_code"]
    table["lad_code"] = table["code"].map(lad_of.astype(str))
    return suppress_small(table, threshold=threshold, group_by="lad_code")


def write_outputs(
    out_dir: str | Path,
    *,
    stem: str,
    layers: Mapping[str, gpd.GeoDataFrame],
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping[str, object],
    marking: str,
    attribution: str,
    role: str = "analyst",
    capability: str = "export:harm",
) -> dict[str, str]:
    """Write map layers to ``<stem>.gpkg``, tables to CSV and ``summary.json``.

    Every file carries the protective ``marking``: the GeoPackage and CSVs through a
    ``marking`` column, the summary at its top together with the data ``attribution``
    (through :func:`geointel.exports.export_layers`, which also writes ``MARKING.txt``).
    ``role`` must hold ``capability`` (``export:harm``; the access outputs use
    ``export:access``). Returns the paths written, by name.

    Examples
    --------
    >>> import tempfile
    >>> t = pd.DataFrame({"code": ["A"], "count": [3]})
    >>> paths = write_outputs(tempfile.mkdtemp(), stem="harm", layers={}, tables={"t": t},
    ...                       summary={}, marking="OFFICIAL", attribution="OGL")
    >>> sorted(paths)
    ['summary', 't']
    """
    from geointel.exports import export_layers

    files = export_layers(Path(out_dir), layers=layers, tables=tables, marking=marking,
                          role=role, capability=capability, formats=("gpkg", "csv"),
                          summary=summary, stem=stem, attribution=attribution)
    paths = {name: str(files[f"{name}.csv"]) for name in tables}
    if f"{stem}.gpkg" in files:
        paths["gpkg"] = str(files[f"{stem}.gpkg"])
    paths["summary"] = str(files["summary.json"])
    return paths
