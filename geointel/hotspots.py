"""Hotspots: Getis-Ord Gi* and Local Moran on areas, KDE and HDBSCAN on points, trends.

The area statistics are PySAL's (``esda.G_Local`` with ``star=True`` and
``esda.Moran_Local``) on ``libpysal`` weights; this module chooses the weights, runs the
permutations with a seed, controls the false discovery rate with ``esda.fdr`` and turns
the results into the bins and labels analysts read.

Conventions
-----------
* **p-values** are two-sided permutation p-values: twice esda's folded ``p_sim``, at
  most 1 (esda 2.8 announces two-sided as its coming default and recommends it).
* **Gi\\* bins** follow ArcGIS's Hot Spot Analysis: ``3``/``-3`` hot/cold at 99 %
  confidence, ``2``/``-2`` at 95 %, ``1``/``-1`` at 90 %, ``0`` not significant; the
  sign is the sign of the Gi\\* z-score. An area whose neighbourhood is every area has
  no defined z (``NaN``) and bin 0.
* **LISA** quadrants ``High-High``/``Low-Low`` are clusters and ``High-Low``/``Low-High``
  outliers.
* With ``fdr=True`` (the default) a test is significant at level ``a`` when its p is
  below ``esda.fdr(p, a)`` (Benjamini-Hochberg). With 999 permutations the smallest
  two-sided p is 0.002, so FDR at 99 % needs many hot areas or more permutations.

Examples
--------
>>> import shapely
>>> cells = gpd.GeoDataFrame({"v": [0, 0, 0, 0, 9, 0, 0, 0, 0]}, crs="EPSG:27700",
...     geometry=[shapely.box(x, y, x + 1, y + 1) for y in range(3) for x in range(3)])
>>> w = spatial_weights(cells)
>>> sorted(w.neighbors[4]) == [0, 1, 2, 3, 5, 6, 7, 8]
True
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import stats

from geointel._progress import Progress, report
from geointel.errors import CRSError, ValidationError

log = logging.getLogger(__name__)

BNG = "EPSG:27700"
#: (two-sided level, bin) from the weakest to the strongest, as ArcGIS reports them.
GI_LEVELS = ((0.10, 1), (0.05, 2), (0.01, 3))
LISA_LABELS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
NOT_SIGNIFICANT = "Not significant"
EMERGING = ("new", "intensifying", "persistent", "diminishing", "sporadic", "historical",
            "no pattern")


def _polygons_bng(areas: gpd.GeoDataFrame, name: str = "areas") -> gpd.GeoDataFrame:
    if not isinstance(areas, gpd.GeoDataFrame):
        raise ValidationError(f"{name} must be a GeoDataFrame of polygons")
    if areas.crs is None:
        raise CRSError(f"{name} has no CRS; set it (EPSG:27700)")
    if areas.crs.is_geographic:
        raise CRSError(f"{name} is in a geographic CRS ({areas.crs.to_string()}); hotspots "
                       "need metres. Fix: .to_crs('EPSG:27700')")
    return areas.to_crs(BNG) if areas.crs.to_epsg() != 27700 else areas


def _points_xy(points: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    if not isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        raise ValidationError("points must be a GeoDataFrame or GeoSeries of points")
    if points.crs is None or points.crs.is_geographic:
        raise CRSError("points need a projected CRS (EPSG:27700 metres), not "
                       f"{points.crs.to_string() if points.crs else 'none'}. "
                       "Fix: .to_crs('EPSG:27700')")
    geoms = points.geometry if points.crs.to_epsg() == 27700 else points.geometry.to_crs(BNG)
    if len(geoms) and not (geoms.geom_type == "Point").all():
        raise ValidationError("points must all be Point geometries")
    return np.column_stack([geoms.x.to_numpy(dtype=float), geoms.y.to_numpy(dtype=float)])


def spatial_weights(
    areas: gpd.GeoDataFrame,
    *,
    kind: Literal["queen", "rook", "knn"] = "queen",
    k: int = 6,
) -> object:
    """Spatial weights (``libpysal.weights.W``, ids 0..n-1 in row order) for ``areas``.

    Contiguity weights give every island (an area touching no other, e.g. on the coast)
    its nearest neighbour by centroid, so no area is left without neighbours.
    ``kind="knn"`` uses the ``k`` nearest centroids.
    """
    from libpysal import weights as lw

    areas = _polygons_bng(areas)
    if len(areas) < 2:
        raise ValidationError("spatial weights need at least two areas")
    frame = gpd.GeoDataFrame(geometry=areas.geometry.to_numpy(), crs=BNG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands and components are handled and logged here
        if kind == "knn":
            if not 1 <= k < len(frame):
                raise ValidationError(f"k={k!r}: need 1 <= k < number of areas ({len(frame)})")
            w = lw.KNN.from_dataframe(frame.set_geometry(frame.centroid), k=k, use_index=False)
        elif kind in ("queen", "rook"):
            builder = lw.Queen if kind == "queen" else lw.Rook
            w = builder.from_dataframe(frame, use_index=False)
            if w.islands:
                log.info("%d areas touch no other; each is given its nearest neighbour",
                         len(w.islands))
                knn = lw.KNN.from_dataframe(frame.set_geometry(frame.centroid), k=1,
                                            use_index=False)
                w = lw.attach_islands(w, knn)
        else:
            raise ValidationError(f"kind={kind!r}: choose 'queen', 'rook' or 'knn'")
    if w.n_components > 1:
        log.info("the weights have %d disconnected groups of areas", w.n_components)
    return w


def _values(areas: pd.DataFrame, column: str) -> np.ndarray:
    if column not in areas.columns:
        raise ValidationError(f"areas has no column {column!r} to analyse")
    y = pd.to_numeric(areas[column], errors="coerce").to_numpy(dtype=float)
    if np.isnan(y).any():
        raise ValidationError(f"column {column!r} has missing values; fill them (e.g. 0 "
                              "counts) or drop those areas first")
    return y


def _weights_for(areas: gpd.GeoDataFrame, weights: object | None) -> object:
    """The caller's weights copied (esda sets their transform in place), or queen weights."""
    if weights is None:
        return spatial_weights(areas)
    n = getattr(weights, "n", None)
    if n != len(areas):
        raise ValidationError(f"weights are for {n} areas but there are {len(areas)}; build "
                              "them with spatial_weights(areas)")
    return copy.deepcopy(weights)


@contextmanager
def _quiet_esda() -> Iterator[None]:
    """Silence esda's notice about its future default, libpysal's repeat of the component
    count (logged by :func:`spatial_weights`) and 0/0 in undefined z-scores."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.filterwarnings("ignore", message="The alternative hypothesis",
                                category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="The weights matrix is not fully connected",
                                category=UserWarning)
        yield


def _two_sided(p_sim: np.ndarray) -> np.ndarray:
    return np.minimum(2 * np.asarray(p_sim, dtype=float), 1.0)


def _check_permutations(permutations: int) -> None:
    if permutations < 99:
        raise ValidationError(f"permutations={permutations!r}: use at least 99 (999 is usual)")


def _significant(p: np.ndarray, alpha: float, fdr: bool) -> np.ndarray:
    from esda import fdr as fdr_cut

    cut = fdr_cut(p, alpha) if fdr else alpha
    return p < cut


def getis_ord(
    areas: gpd.GeoDataFrame,
    column: str,
    *,
    seed: int,
    weights: object | None = None,
    permutations: int = 999,
    fdr: bool = True,
) -> pd.DataFrame:
    """Getis-Ord Gi* hot and cold spots with permutation inference, as ArcGIS bins.

    Parameters
    ----------
    areas
        Polygons in a projected CRS with ``column`` (counts or rates).
    seed
        Seed of the permutations.
    weights
        ``libpysal`` weights in the row order of ``areas``; default
        :func:`spatial_weights` (queen contiguity, binary, each area its own neighbour).
    permutations
        Conditional permutations per area.
    fdr
        Control the false discovery rate at each confidence level.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``areas``: ``gi_z`` (analytical z of Gi*), ``gi_p`` (two-sided
        permutation p), ``gi_bin`` (-3..3).
    """
    from esda import G_Local

    _check_permutations(permutations)
    y = _values(areas, column)
    w = _weights_for(areas, weights)
    with _quiet_esda():
        g = G_Local(y, w, transform="B", star=True, permutations=permutations, seed=seed,
                    n_jobs=1)
    z = np.asarray(g.Zs, dtype=float)
    p = _two_sided(g.p_sim)
    gi_bin = np.zeros(len(y), dtype="int64")
    for alpha, level in GI_LEVELS:
        gi_bin[_significant(p, alpha, fdr)] = level
    gi_bin *= np.sign(np.nan_to_num(z)).astype("int64")
    return pd.DataFrame({"gi_z": z, "gi_p": p, "gi_bin": gi_bin}, index=areas.index)


def local_moran(
    areas: gpd.GeoDataFrame,
    column: str,
    *,
    seed: int,
    weights: object | None = None,
    permutations: int = 999,
    alpha: float = 0.05,
    fdr: bool = True,
) -> pd.DataFrame:
    """Local Moran's I (LISA): clusters (High-High, Low-Low) and outliers (High-Low, Low-High).

    Weights default to row-standardised queen contiguity.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``areas``: ``lisa_i``, ``lisa_p`` (two-sided permutation p), ``lisa_q``
        (1 HH, 2 LH, 3 LL, 4 HL), ``lisa_label`` (``"Not significant"`` unless significant).
    """
    from esda import Moran_Local

    _check_permutations(permutations)
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha={alpha!r} must be between 0 and 1")
    y = _values(areas, column)
    w = _weights_for(areas, weights)
    with _quiet_esda():
        lisa = Moran_Local(y, w, transformation="r", permutations=permutations, seed=seed,
                           n_jobs=1)
    p = _two_sided(lisa.p_sim)
    q = np.asarray(lisa.q, dtype="int64")
    sig = _significant(p, alpha, fdr)
    labels = np.where(sig, pd.Series(q).map(LISA_LABELS).to_numpy(), NOT_SIGNIFICANT)
    return pd.DataFrame({"lisa_i": np.asarray(lisa.Is, dtype=float), "lisa_p": p,
                         "lisa_q": q, "lisa_label": labels}, index=areas.index)


def kde_surface(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    bandwidth: float = 500.0,
    cell: float = 250.0,
    bounds: tuple[float, float, float, float] | None = None,
    max_cells: int = 500_000,
    min_share: float = 0.0,
) -> gpd.GeoDataFrame:
    """Gaussian kernel density of points on a square grid, in events per km².

    Parameters
    ----------
    points
        Event points in a projected CRS (EPSG:27700).
    bandwidth
        Kernel standard deviation, metres.
    cell
        Grid cell side, metres.
    bounds
        ``(minx, miny, maxx, maxy)`` of the grid (e.g. the Area's ``total_bounds``);
        default the points' extent padded by three bandwidths.
    min_share
        Leave out cells whose density is below this share of the peak (e.g. ``0.001``),
        to keep a map layer of a large area small; 0 keeps every cell.

    Returns
    -------
    geopandas.GeoDataFrame
        One square per cell (EPSG:27700) with ``density_km2``; over all cells the
        densities integrate to the number of points (less what falls outside the grid).

    Examples
    --------
    >>> import shapely
    >>> p = gpd.GeoSeries([shapely.Point(0, 0)] * 4, crs="EPSG:27700")
    >>> s = kde_surface(p, bandwidth=100, cell=50)
    >>> round(float((s["density_km2"] * 0.05 ** 2).sum()), 1)
    4.0
    >>> len(s), len(kde_surface(p, bandwidth=100, cell=50, min_share=0.5))
    (144, 16)
    """
    from sklearn.neighbors import KernelDensity

    if not bandwidth > 0 or not cell > 0:
        raise ValidationError("bandwidth and cell must be positive distances in metres")
    if not 0 <= min_share < 1:
        raise ValidationError(f"min_share={min_share!r}: a share of the peak in [0, 1)")
    xy = _points_xy(points)
    if len(xy) == 0:
        raise ValidationError("a density surface needs at least one point")
    if bounds is None:
        pad = 3 * bandwidth
        bounds = (xy[:, 0].min() - pad, xy[:, 1].min() - pad,
                  xy[:, 0].max() + pad, xy[:, 1].max() + pad)
    minx, miny, maxx, maxy = bounds
    nx_, ny_ = int(np.ceil((maxx - minx) / cell)), int(np.ceil((maxy - miny) / cell))
    if nx_ * ny_ > max_cells:
        raise ValidationError(f"the grid would have {nx_ * ny_:,} cells (more than "
                              f"max_cells={max_cells:,}); use a larger cell or smaller bounds")
    xs = minx + (np.arange(nx_) + 0.5) * cell
    ys = miny + (np.arange(ny_) + 0.5) * cell
    gx, gy = np.meshgrid(xs, ys)
    centres = np.column_stack([gx.ravel(), gy.ravel()])
    kde = KernelDensity(bandwidth=bandwidth, kernel="gaussian", rtol=1e-6).fit(xy)
    density = np.exp(kde.score_samples(centres)) * len(xy) * 1e6
    if min_share > 0:
        keep = density >= min_share * density.max()
        centres, density = centres[keep], density[keep]
    half = cell / 2
    boxes = shapely.box(centres[:, 0] - half, centres[:, 1] - half,
                        centres[:, 0] + half, centres[:, 1] + half)
    return gpd.GeoDataFrame({"density_km2": density}, geometry=boxes, crs=BNG)


def hdbscan_clusters(
    points: gpd.GeoDataFrame,
    *,
    min_cluster_size: int = 10,
    min_samples: int | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """HDBSCAN clusters of points (scikit-learn), numbered by size.

    Returns
    -------
    labelled, clusters
        ``labelled`` is a copy of ``points`` with ``cluster`` (1 = largest, ``-1`` noise);
        ``clusters`` has one row per cluster: ``cluster``, ``points``, ``centroid_easting``,
        ``centroid_northing`` and its convex hull (buffered by 1 m so that clusters of
        stacked or collinear points still have an area to map).

    Examples
    --------
    >>> import shapely
    >>> xy = [(0, 0), (1, 0), (0, 1), (1, 1), (500, 500), (501, 500), (500, 501)]
    >>> p = gpd.GeoDataFrame(geometry=[shapely.Point(x) for x in xy], crs="EPSG:27700")
    >>> labelled, clusters = hdbscan_clusters(p, min_cluster_size=3)
    >>> labelled["cluster"].tolist(), clusters["points"].tolist()
    ([1, 1, 1, 1, 2, 2, 2], [4, 3])
    """
    from sklearn.cluster import HDBSCAN

    if min_cluster_size < 2:
        raise ValidationError("min_cluster_size must be at least 2")
    xy = _points_xy(points)
    labelled = points.copy()
    if len(xy) < min_cluster_size:
        labels = np.full(len(xy), -1)
    else:
        labels = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                         copy=True).fit_predict(xy)
    found = pd.Series(labels[labels >= 0]).value_counts()
    order = sorted(found.index, key=lambda c: (-found[c], np.flatnonzero(labels == c)[0]))
    renumber = {old: new for new, old in enumerate(order, start=1)}
    labelled["cluster"] = np.array([renumber.get(int(c), -1) for c in labels], dtype="int64")
    rows, hulls = [], []
    for new in range(1, len(order) + 1):
        member = xy[labelled["cluster"].to_numpy() == new]
        rows.append({"cluster": new, "points": len(member),
                     "centroid_easting": float(member[:, 0].mean()),
                     "centroid_northing": float(member[:, 1].mean())})
        hulls.append(shapely.multipoints(member).convex_hull.buffer(1.0))
    clusters = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["cluster", "points", "centroid_easting",
                                    "centroid_northing"]), geometry=hulls, crs=BNG)
    return labelled, clusters


def monthly_series(
    records: pd.DataFrame,
    codes: Sequence[str],
    *,
    months: Sequence[str] | None = None,
    code_column: str = "lsoa_code",
    month_column: str = "month",
    weight: str | None = None,
) -> pd.DataFrame:
    """Counts per area (rows, in ``codes`` order) and month (columns), zeros filled.

    ``months`` default: every month from the first to the last in ``records``.
    ``weight`` names a column to sum instead of counting rows (a deaths register's
    ``count``: people per row).

    Examples
    --------
    >>> r = pd.DataFrame({"lsoa_code": ["A", "A", "B"],
    ...                   "month": ["2019-01", "2019-03", "2019-03"], "count": [1, 2, 4]})
    >>> monthly_series(r, ["A", "B"]).values.tolist()
    [[1, 0, 1], [0, 0, 1]]
    >>> monthly_series(r, ["A", "B"], weight="count").values.tolist()
    [[1, 0, 2], [0, 0, 4]]
    """
    for col in (code_column, month_column, *([weight] if weight else [])):
        if col not in records.columns:
            raise ValidationError(f"records has no column {col!r}")
    month = records[month_column].astype("string").str[:7]
    if months is None:
        if month.dropna().empty:
            raise ValidationError("records have no months; pass months= explicitly")
        span = pd.period_range(month.min(), month.max(), freq="M")
        months = [str(m) for m in span]
    codes_of = records[code_column].astype("string")
    if weight is None:
        table = pd.crosstab(codes_of, month)
    else:
        from geointel.harm import whole_counts

        amount = pd.Series(whole_counts(records, weight), index=records.index)
        table = pd.crosstab(codes_of, month, values=amount, aggfunc="sum")
    out = table.reindex(index=list(codes), columns=list(months), fill_value=0)
    out.index.name, out.columns.name = code_column, "month"
    return out.fillna(0).astype("int64")


def mann_kendall(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Mann-Kendall trend test: Kendall's tau between the series and time, and its p.

    Uses :func:`scipy.stats.kendalltau` (exact for short series without ties). A constant
    series has no trend: ``(0.0, 1.0)``.

    Examples
    --------
    >>> tau, p = mann_kendall([1, 2, 3, 4, 5])
    >>> round(tau, 6), round(p, 4)
    (1.0, 0.0167)
    """
    y = np.asarray(values, dtype=float)
    if len(y) < 3 or np.all(y == y[0]):
        return 0.0, 1.0
    res = stats.kendalltau(np.arange(len(y)), y)
    return float(res.statistic), float(res.pvalue)


def emerging_hotspots(
    areas: gpd.GeoDataFrame,
    series: pd.DataFrame,
    *,
    seed: int,
    weights: object | None = None,
    permutations: int = 999,
    hot_bin: int = 1,
    trend_alpha: float = 0.05,
    fdr: bool = True,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Emerging hot spot classes from Gi* in each time step and a Mann-Kendall trend.

    Parameters
    ----------
    areas
        Polygons, row ``i`` matching row ``i`` of ``series``.
    series
        Counts (or rates) per area and time step, columns in time order
        (:func:`monthly_series`).
    seed
        Seed of the permutations; time step ``t`` uses ``seed + t``.
    hot_bin
        Lowest Gi* bin counted as hot (1 = 90 % confidence, ArcGIS's default).
    fdr
        Control the false discovery rate in each time step's Gi* (as :func:`getis_ord`).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``areas``: ``hot_steps``, ``final_bin``, ``trend_tau``, ``trend_p``
        (Mann-Kendall on the Gi* z-scores) and ``pattern``:
        ``new`` hot only in the final step; ``intensifying`` / ``persistent`` /
        ``diminishing`` hot in at least 90 % of steps including the final one, with the
        z-scores rising significantly / without significant trend / falling;
        ``sporadic`` hot in the final step and on and off before; ``historical`` hot in
        at least 90 % of earlier steps but not the final; otherwise ``no pattern``.
    """
    if len(series) != len(areas):
        raise ValidationError(f"series has {len(series)} rows but areas has {len(areas)}; "
                              "build it with monthly_series(records, areas codes)")
    steps = series.shape[1]
    if steps < 3:
        raise ValidationError(f"emerging hot spots need at least 3 time steps, got {steps}")
    w = _weights_for(areas, weights)
    zs = np.zeros((len(areas), steps))
    bins = np.zeros((len(areas), steps), dtype="int64")
    frame = gpd.GeoDataFrame(geometry=areas.geometry.to_numpy(), crs=areas.crs)
    for t in range(steps):
        report(progress, t, steps, f"Gi* for {series.columns[t]}")
        frame["y"] = series.iloc[:, t].to_numpy(dtype=float)
        gi = getis_ord(frame, "y", seed=seed + t, weights=w, permutations=permutations,
                       fdr=fdr)
        zs[:, t] = gi["gi_z"].to_numpy()
        bins[:, t] = gi["gi_bin"].to_numpy()
    report(progress, steps, steps, "classifying")
    out = classify_emerging(bins, zs, hot_bin=hot_bin, trend_alpha=trend_alpha)
    out.index = areas.index
    return out


def classify_emerging(
    bins: np.ndarray,
    z: np.ndarray,
    *,
    hot_bin: int = 1,
    trend_alpha: float = 0.05,
) -> pd.DataFrame:
    """Emerging hot spot pattern of each area from its Gi* bins and z-scores over time.

    ``bins`` and ``z`` have one row per area and one column per time step (oldest first).
    The patterns are those of :func:`emerging_hotspots`.

    Examples
    --------
    >>> bins = np.array([[0, 0, 0, 2], [2, 2, 2, 2], [1, 0, 1, 1]])
    >>> z = np.array([[0, 0, 0, 2.0], [2, 2.5, 3, 3.5], [2, 1, 2, 2.0]])
    >>> classify_emerging(bins, z)["pattern"].tolist()
    ['new', 'persistent', 'sporadic']
    """
    bins = np.asarray(bins)
    z = np.asarray(z, dtype=float)
    if bins.shape != z.shape or bins.ndim != 2:
        raise ValidationError(f"bins {bins.shape} and z {z.shape} must be the same 2-D shape")
    steps = bins.shape[1]
    if steps < 2:
        raise ValidationError("emerging patterns need at least 2 time steps")
    hot = bins >= hot_bin
    trend = [mann_kendall(np.nan_to_num(row)) for row in z]
    tau = np.array([t for t, _ in trend], dtype=float)
    p = np.array([q for _, q in trend], dtype=float)
    need = int(np.ceil(0.9 * steps))
    need_before = int(np.ceil(0.9 * (steps - 1)))
    final = hot[:, -1]
    before = hot[:, :-1].sum(axis=1)
    total = hot.sum(axis=1)
    rising = (p < trend_alpha) & (tau > 0)
    falling = (p < trend_alpha) & (tau < 0)
    pattern = np.full(len(bins), "no pattern", dtype=object)
    pattern[final & (before > 0)] = "sporadic"
    persistent = final & (total >= need)
    pattern[persistent] = "persistent"
    pattern[persistent & rising] = "intensifying"
    pattern[persistent & falling] = "diminishing"
    pattern[final & (before == 0)] = "new"
    pattern[~final & (before >= need_before)] = "historical"
    return pd.DataFrame({"hot_steps": total.astype("int64"), "final_bin": bins[:, -1],
                         "trend_tau": tau, "trend_p": p, "pattern": pattern})
