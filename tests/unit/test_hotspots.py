"""Hotspots: Gi*, LISA, KDE, HDBSCAN and emerging patterns on hand-checkable grids."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geointel import hotspots
from geointel.errors import CRSError, ValidationError

BNG = "EPSG:27700"
ESDA_NOTICE = "ignore:The alternative hypothesis:DeprecationWarning"


def grid(values: list[float] | np.ndarray, side: int) -> gpd.GeoDataFrame:
    """``side`` x ``side`` squares of 100 m, row-major from the bottom left."""
    cells = [box(x * 100, y * 100, x * 100 + 100, y * 100 + 100)
             for y in range(side) for x in range(side)]
    return gpd.GeoDataFrame({"v": np.asarray(values, dtype=float)}, geometry=cells, crs=BNG)


def queen_matrix(side: int) -> np.ndarray:
    """Binary queen contiguity written out from the grid positions."""
    n = side * side
    w = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            yi, xi, yj, xj = i // side, i % side, j // side, j % side
            if i != j and abs(yi - yj) <= 1 and abs(xi - xj) <= 1:
                w[i, j] = 1
    return w


@pytest.mark.parametrize("kind, corner, edge, centre", [("queen", 3, 5, 8), ("rook", 2, 3, 4)])
def test_contiguity_weights_on_a_grid(kind: str, corner: int, edge: int, centre: int) -> None:
    w = hotspots.spatial_weights(grid(range(9), 3), kind=kind)  # type: ignore[arg-type]
    assert [w.cardinalities[i] for i in (0, 1, 4)] == [corner, edge, centre]


def test_islands_get_their_nearest_neighbour() -> None:
    cells = grid(range(9), 3)
    far = gpd.GeoDataFrame({"v": [0.0]}, geometry=[box(1000, 0, 1100, 100)], crs=BNG)
    w = hotspots.spatial_weights(pd.concat([cells, far], ignore_index=True))
    assert w.islands == [] and list(w.neighbors[9]) == [2]  # (250, 250) is nearest
    assert 9 in w.neighbors[2]


def test_weights_refuse_degrees_and_bad_kind() -> None:
    with pytest.raises(CRSError, match="geographic"):
        hotspots.spatial_weights(grid(range(9), 3).set_crs("EPSG:4326", allow_override=True))
    with pytest.raises(ValidationError, match="kind"):
        hotspots.spatial_weights(grid(range(9), 3), kind="hex")  # type: ignore[arg-type]


def test_gi_star_z_matches_ord_getis_formula_by_hand() -> None:
    values = np.arange(1, 10, dtype=float)
    got = hotspots.getis_ord(grid(values, 3), "v", seed=1, permutations=99)
    # Corner (value 1): itself and 2, 4, 5 -> sum 12, W = 4, mean 5, S^2 = 285/9 - 25
    # z = (12 - 5 * 4) / (S * sqrt((9 * 4 - 16) / 8)) = -1.95959...
    assert got["gi_z"].iloc[0] == pytest.approx(-8 / (math.sqrt(20 / 3) * math.sqrt(2.5)))
    # the centre's neighbourhood is every cell: Gi* has no variance, z undefined, bin 0
    assert math.isnan(got["gi_z"].iloc[4]) and got["gi_bin"].iloc[4] == 0
    # every cell against the formula written out in numpy
    w = queen_matrix(3) + np.eye(9)
    n, mean, s = 9, values.mean(), values.std()
    wi = w.sum(axis=1)
    with np.errstate(invalid="ignore"):
        z = (w @ values - mean * wi) / (s * np.sqrt((n * wi - wi**2) / (n - 1)))
    np.testing.assert_allclose(got["gi_z"], z)  # NaN in the same place


def bh_cut(p: np.ndarray, alpha: float) -> float:
    """Benjamini-Hochberg: the largest k*alpha/n with p_(k) below it (alpha/n if none)."""
    n = len(p)
    ok = [k for k in range(1, n + 1) if np.sort(p)[k - 1] < k * alpha / n]
    return max(ok) * alpha / n if ok else alpha / n


@pytest.mark.filterwarnings(ESDA_NOTICE)
@pytest.mark.parametrize("fdr", [True, False])
def test_gi_star_bins_follow_arcgis_levels(fdr: bool) -> None:
    from esda import G_Local
    from libpysal.weights import lat2W

    rng = np.random.default_rng(0)
    values = rng.poisson(2, 49).astype(float)
    values[[0, 1, 7, 8]] += 12  # a hot corner
    cells = grid(values, 7)
    got = hotspots.getis_ord(cells, "v", seed=7, fdr=fdr)
    ref = G_Local(values, lat2W(7, 7, rook=False), transform="B", star=True,
                  permutations=999, seed=7, n_jobs=1)
    p = np.minimum(2 * ref.p_sim, 1)
    np.testing.assert_allclose(got["gi_p"], p)
    expected = np.zeros(49, dtype=int)
    for alpha, level in [(0.10, 1), (0.05, 2), (0.01, 3)]:
        cut = bh_cut(p, alpha) if fdr else alpha
        expected[p < cut] = level
    expected *= np.sign(ref.Zs).astype(int)
    assert got["gi_bin"].tolist() == expected.tolist()
    assert (got["gi_bin"].iloc[[0, 1, 7, 8]] >= 2).all()  # the planted corner is hot
    # the same seed gives the same answer
    pd.testing.assert_frame_equal(got, hotspots.getis_ord(cells, "v", seed=7, fdr=fdr))


def test_gi_star_refuses_missing_values_and_few_permutations() -> None:
    cells = grid([1.0, np.nan, 2, 3, 4, 5, 6, 7, 8], 3)
    with pytest.raises(ValidationError, match="missing"):
        hotspots.getis_ord(cells, "v", seed=1)
    with pytest.raises(ValidationError, match="permutations"):
        hotspots.getis_ord(grid(range(9), 3), "v", seed=1, permutations=9)


def test_local_moran_value_and_quadrant_by_hand() -> None:
    got = hotspots.local_moran(grid(np.arange(1, 10), 3), "v", seed=1, permutations=99)
    # corner: z = (1 - 5) / S = -1.549; neighbours 2, 4, 5 -> mean z = -(4/3) / S
    # I = (n - 1) / n * z * lag = 8/9 * 0.8 = 32/45, in the Low-Low quadrant
    assert got["lisa_i"].iloc[0] == pytest.approx(32 / 45)
    assert got["lisa_q"].iloc[0] == 3 and got["lisa_q"].iloc[8] == 1


@pytest.mark.filterwarnings(ESDA_NOTICE)
def test_local_moran_labels_clusters_and_outliers() -> None:
    from esda import Moran_Local
    from libpysal.weights import lat2W

    values = np.zeros(49)
    left = [i for i in range(49) if i % 7 < 3]
    values[left] = 10.0
    values[6 * 7 + 6] = 10.0  # a high cell in the low corner
    got = hotspots.local_moran(grid(values, 7), "v", seed=3, fdr=False)
    w = lat2W(7, 7, rook=False)
    w.transform = "r"
    ref = Moran_Local(values, w, permutations=999, seed=3, n_jobs=1)
    sig = np.minimum(2 * ref.p_sim, 1) < 0.05
    labels = np.where(sig, pd.Series(ref.q).map(hotspots.LISA_LABELS), "Not significant")
    assert got["lisa_label"].tolist() == labels.tolist()
    assert got["lisa_label"].iloc[7 * 3] == "High-High"      # inside the high block
    assert got["lisa_label"].iloc[7 * 3 + 5] == "Low-Low"    # inside the low block
    assert got["lisa_label"].iloc[48] in ("High-Low", "Not significant")


def test_caller_weights_are_not_changed() -> None:
    cells = grid(np.arange(9.0), 3)
    w = hotspots.spatial_weights(cells)
    hotspots.local_moran(cells, "v", seed=1, weights=w, permutations=99)
    hotspots.getis_ord(cells, "v", seed=1, weights=w, permutations=99)
    assert w.transform == "O"
    with pytest.raises(ValidationError, match="weights are for 9"):
        hotspots.getis_ord(grid(np.arange(16.0), 4), "v", seed=1, weights=w)


def test_kde_gaussian_height_by_hand() -> None:
    pts = gpd.GeoSeries([Point(0, 0)], crs=BNG)
    s = hotspots.kde_surface(pts, bandwidth=100, cell=50, bounds=(-125, -125, 125, 125))
    assert len(s) == 25
    centre = s.loc[s.geometry.centroid.distance(Point(0, 0)) < 1, "density_km2"].iloc[0]
    peak = 1 / (2 * math.pi * 100**2) * 1e6   # per km²
    assert centre == pytest.approx(peak, rel=1e-4)
    east = s.loc[s.geometry.centroid.distance(Point(100, 0)) < 1, "density_km2"].iloc[0]
    assert east == pytest.approx(peak * math.exp(-0.5), rel=1e-4)
    with pytest.raises(ValidationError, match="max_cells"):
        hotspots.kde_surface(pts, bandwidth=100, cell=1, bounds=(0, 0, 1000, 1000))


def test_hdbscan_finds_two_blobs_numbered_by_size() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal([1000, 1000], 20, (40, 2))
    b = rng.normal([5000, 1000], 20, (25, 2))
    noise = np.array([[3000, 9000], [9000, 3000]])
    xy = np.vstack([b, a, noise])
    pts = gpd.GeoDataFrame({"id": range(len(xy))},
                           geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=BNG)
    labelled, clusters = hotspots.hdbscan_clusters(pts, min_cluster_size=10)
    assert labelled["cluster"].iloc[:25].eq(2).all() and labelled["cluster"].iloc[25:65].eq(1).all()
    assert labelled["cluster"].iloc[65:].eq(-1).all()
    assert clusters["points"].tolist() == [40, 25]
    assert clusters["centroid_easting"].round(-2).tolist() == [1000, 5000]
    assert clusters.geometry.contains(Point(1000, 1000)).iloc[0]


def test_monthly_series_and_mann_kendall() -> None:
    rec = pd.DataFrame({"lsoa_code": ["A", "A", "B", "A"],
                        "month": ["2018-11", "2019-01", "2019-01", "2019-01"]})
    s = hotspots.monthly_series(rec, ["A", "B", "C"])
    assert list(s.columns) == ["2018-11", "2018-12", "2019-01"]
    assert s.values.tolist() == [[1, 0, 2], [0, 0, 1], [0, 0, 0]]
    # exact Mann-Kendall, n = 5: S = +-10 has probability 1/120 each way
    assert hotspots.mann_kendall([1, 2, 3, 4, 5])[1] == pytest.approx(2 / 120)
    tau, p = hotspots.mann_kendall([5, 4, 3, 2, 1])
    assert tau == pytest.approx(-1) and p == pytest.approx(2 / 120)
    assert hotspots.mann_kendall([2, 2, 2, 2]) == (0.0, 1.0)


def test_classify_emerging_patterns_by_hand() -> None:
    bins = np.array([
        [0, 0, 0, 0, 0, 3],     # new
        [1, 2, 2, 3, 3, 3],     # hot throughout, z rising every step: intensifying
        [2, 2, 2, 2, 2, 2],     # hot throughout, flat: persistent
        [3, 3, 3, 2, 2, 1],     # hot throughout, z falling: diminishing
        [2, 0, 2, 0, 0, 2],     # sporadic
        [3, 3, 3, 3, 3, 0],     # historical
        [0, 0, 0, 0, 0, 0],     # nothing
        [-3, -3, -3, -3, -3, -3],
    ])
    z = np.array([
        [0, 0, 0, 0, 0, 3.0],
        [1.7, 2.0, 2.2, 2.7, 3.0, 3.5],
        [2.1, 2.3, 2.0, 2.2, 2.1, 2.3],
        [3.5, 3.0, 2.7, 2.2, 2.0, 1.7],
        [2.0, 0.1, 2.0, 0.2, 0.1, 2.1],
        [3, 3, 3, 3, 3, 0.5],
        [0, 0, 0, 0, 0, 0.0],
        [-3, -3, -3, -3, -3, -3.0],
    ])
    got = hotspots.classify_emerging(bins, z)
    assert got["pattern"].tolist() == ["new", "intensifying", "persistent", "diminishing",
                                       "sporadic", "historical", "no pattern", "no pattern"]
    assert got["hot_steps"].tolist() == [1, 6, 6, 6, 3, 5, 0, 0]
    assert got.loc[1, "trend_p"] == pytest.approx(2 / 720)  # exact, n = 6, S = 15


def test_emerging_hotspots_sees_a_new_hot_corner() -> None:
    rng = np.random.default_rng(3)
    series = pd.DataFrame(rng.poisson(2, (49, 4)), columns=["m1", "m2", "m3", "m4"])
    series.iloc[[0, 1, 7, 8], 3] += 15
    cells = grid(np.zeros(49), 7)
    seen: list[str] = []
    got = hotspots.emerging_hotspots(cells, series, seed=11,
                                     progress=lambda d, t, m: seen.append(m))
    assert (got["pattern"].iloc[[0, 1, 7, 8]] == "new").all()
    assert got["pattern"].value_counts().to_dict() == {"no pattern": 45, "new": 4}
    assert seen[0] == "Gi* for m1" and len(seen) == 5
    with pytest.raises(ValidationError, match="3 time steps"):
        hotspots.emerging_hotspots(cells, series.iloc[:, :2], seed=1)
