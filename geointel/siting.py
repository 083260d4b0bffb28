"""Siting satellite clinics and naloxone points: MCLP, LSCP and p-median, plus a need index.

The planner's question is "with N more sites, where do we put them to reach the most people
in need within a travel threshold, keeping the services we already have?". Three models
answer it, each in the spopt shape with its flaws fixed:

* :class:`MCLP` - maximal covering: ``p`` new sites, most demand weight within ``threshold``;
* :class:`LSCP` - set covering: fewest new sites so that ``target_share`` of the weight is
  within ``threshold`` (by default everyone within reach of some site);
* :class:`PMedian` - ``p`` new sites, least weight-times-distance to the nearest open site.

``from_cost_matrix(...)`` is the real builder (it validates everything);
``from_geodataframe(...)`` checks CRS and geometry, computes distances with
:func:`geointel.access.distance_matrix` and delegates. Existing services are fixed open and
are *not* counted in ``p``. ``solve()`` returns a frozen :class:`SitingResult` (selected
sites, assignment, objective, coverage before/after, each new site's marginal gain, status,
gap, time); nothing is attached to the model afterwards.

How a model is solved: the instance is first reduced without changing its optimum
(demand already covered by existing services is counted once and dropped; demand points
with the same candidate set are merged; candidates with identical coverage are collapsed and
candidates whose coverage is a strict subset of another's are dropped). A greedy + swap
heuristic then gives an incumbent and a Lagrangian relaxation gives a valid bound; if they
meet, the incumbent is proved optimal and no MILP is built. Otherwise the MILP is solved
with pulp's bundled CBC, warm-started from the incumbent, within ``time_limit``. If CBC stops
early (or ``solver="heuristic"``), the best incumbent is returned with its gap measured
against the valid bound, so the reported gap is never smaller than the true gap.

Examples
--------
>>> import numpy as np
>>> cost = np.array([[0., 5., 9.], [4., 0., 9.], [9., 9., 0.]])
>>> r = MCLP.from_cost_matrix(cost, np.array([1., 2., 4.]), threshold=5, p=1).solve()
>>> r.selected, r.objective, r.status
((2,), 4.0, 'optimal')
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from geointel._progress import Progress, report
from geointel.errors import CRSError, DataFileError, GeointelError, ValidationError

log = logging.getLogger(__name__)

Solver = Literal["cbc", "heuristic"]
SOLVERS = ("cbc", "heuristic")
#: Above this many MILP variables the exact model is not built; the heuristic answers.
MAX_MILP_VARIABLES = 2_000_000
#: Dominance checks are skipped when the candidate-pair product would be larger than this.
_MAX_DOMINANCE_PAIRS = 60_000_000
_REL_TOL = 1e-9
DEFAULT_TIME_LIMIT = 60.0


# --- result ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SitingResult:
    """What a solved siting model recommends, and how sure the solver is.

    Attributes
    ----------
    model
        ``"mclp"``, ``"lscp"`` or ``"pmedian"``.
    selected
        Ids of the new sites, in the order of their marginal gain (the first adds most).
    existing
        Ids of the existing (fixed open) sites.
    objective
        MCLP: demand weight covered (existing services included); LSCP: number of new sites;
        p-median: sum of weight x distance to the nearest open site (metres).
    bound
        A proven bound on the optimum (upper for MCLP, lower for LSCP/p-median).
    gap
        ``|bound - objective| / |objective|``; 0 when proved optimal. Never below the true gap.
    status
        ``"optimal"`` (proved) or ``"feasible"`` (time limit reached or heuristic only).
    method
        What produced the answer: ``"bound"`` (heuristic proved optimal by the bound),
        ``"milp"`` (CBC) or ``"heuristic"``.
    seconds
        Wall-clock solve time.
    coverage_before, coverage_after
        Share (0-1) of the demand weight within ``threshold`` of an existing / any open site
        (NaN for a p-median model without a threshold).
    total_weight
        Total demand weight.
    marginal_gain
        One row per new site: ``site_id``, ``order``, ``gain`` (weight newly covered, or
        weighted distance saved for p-median) and ``cumulative`` objective after adding it.
    assignment
        One row per demand point: ``demand_id``, ``weight``, ``site_id`` (nearest open site),
        ``distance`` (metres), ``covered`` (within threshold), ``existing`` (that site is an
        existing service).
    threshold, p
        The model's parameters (``None`` where they do not apply).

    Examples
    --------
    >>> import numpy as np
    >>> r = PMedian.from_cost_matrix(np.array([[1., 3.], [2., 1.]]), np.ones(2), p=1).solve()
    >>> r.selected, r.objective, list(r.assignment["site_id"])
    ((0,), 3.0, [0, 0])
    """

    model: str
    selected: tuple[Hashable, ...]
    existing: tuple[Hashable, ...]
    objective: float
    bound: float
    gap: float
    status: str
    method: str
    seconds: float
    coverage_before: float
    coverage_after: float
    total_weight: float
    marginal_gain: pd.DataFrame
    assignment: pd.DataFrame
    threshold: float | None
    p: int | None

    @property
    def uncovered(self) -> pd.DataFrame:
        """Demand points left outside the threshold of every open site (positive weight)."""
        a = self.assignment
        return a.loc[~a["covered"] & (a["weight"] > 0)].reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``geointel site --json`` prints)."""

        def num(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else round(float(x), 6)

        return {
            "model": self.model,
            "p": self.p,
            "threshold_m": self.threshold,
            "new_sites": len(self.selected),
            "existing_sites": len(self.existing),
            "objective": num(self.objective),
            "bound": num(self.bound),
            "gap": num(self.gap),
            "status": self.status,
            "method": self.method,
            "seconds": round(self.seconds, 3),
            "coverage_before": num(self.coverage_before),
            "coverage_after": num(self.coverage_after),
            "demand_points": len(self.assignment),
            "uncovered_points": len(self.uncovered),
            "selected": [str(s) for s in self.selected],
        }


# --- validation --------------------------------------------------------------------------

def _as_cost(cost: Any) -> np.ndarray:
    arr = np.array(cost, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValidationError(
            f"cost: expected a non-empty 2-D matrix (demand points x candidate sites), got shape "
            f"{arr.shape}; build it with geointel.access.distance_matrix(demand, sites)")
    if np.isnan(arr).any():
        raise ValidationError(
            f"cost: {int(np.isnan(arr).sum())} entries are NaN; use inf for unreachable pairs")
    if (arr < 0).any():
        raise ValidationError("cost: distances must be >= 0; check how the matrix was built")
    arr.setflags(write=False)
    return arr


def _as_weights(weights: Any, n: int) -> np.ndarray:
    w = np.array(weights, dtype=float).reshape(-1)
    if w.shape[0] != n:
        raise ValidationError(
            f"weights: {w.shape[0]} values for {n} demand points (cost rows); give one weight "
            "per row of the cost matrix")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError(
            "weights: must be finite and >= 0 (population or need); fill or drop missing values")
    if w.sum() <= 0:
        raise ValidationError("weights: all weights are zero, so there is nothing to cover")
    w.setflags(write=False)
    return w


def _as_fixed(fixed: Any, m: int) -> np.ndarray:
    mask = np.zeros(m, dtype=bool)
    if fixed is None:
        pass
    else:
        arr = np.asarray(fixed)
        if arr.dtype == bool:
            if arr.shape != (m,):
                raise ValidationError(
                    f"fixed: a boolean mask needs {m} values (one per cost column), got "
                    f"{arr.shape}")
            mask = arr.copy()
        elif arr.size:
            if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= m:
                raise ValidationError(
                    f"fixed: expected column indices in 0..{m - 1} or a boolean mask of the "
                    "existing services' columns")
            mask[arr.astype(int)] = True
    mask.setflags(write=False)
    return mask


def _as_ids(ids: Sequence[Hashable] | None, n: int, name: str) -> tuple[Hashable, ...]:
    if ids is None:
        return tuple(range(n))
    out = tuple(ids)
    if len(out) != n:
        raise ValidationError(f"{name}: {len(out)} ids for {n} {name.split('_')[0]} points")
    if len(set(out)) != n:
        raise ValidationError(f"{name}: ids must be unique; rename or drop the duplicates")
    return out


def _check_p(p: int, free: int) -> int:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0:
        raise ValidationError(f"p={p!r}: the number of new sites must be an integer >= 0")
    if p > free:
        raise ValidationError(
            f"p={p} but there are only {free} candidate sites that are not existing services; "
            "lower p or add candidates")
    return int(p)


def _check_threshold(threshold: float | None, *, required: bool) -> float | None:
    if threshold is None:
        if required:
            raise ValidationError("threshold: a coverage distance in metres is required")
        return None
    t = float(threshold)
    if not (math.isfinite(t) and t > 0):
        raise ValidationError(
            f"threshold={threshold!r}: must be a positive distance in metres (e.g. 1600)")
    return t


def _check_solver(solver: str, time_limit: float) -> None:
    if solver not in SOLVERS:
        raise ValidationError(f"solver={solver!r}: choose one of {', '.join(SOLVERS)}")
    if not time_limit > 0:
        raise ValidationError(f"time_limit={time_limit!r}: must be a positive number of seconds")


def _points(frame: Any, name: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValidationError(f"{name}: expected a GeoDataFrame of points, got "
                              f"{type(frame).__name__}")
    if frame.crs is None:
        raise CRSError(f"{name} has no CRS; set it, e.g. .set_crs('EPSG:27700')")
    if frame.crs.is_geographic:
        raise CRSError(
            f"{name} is in a geographic CRS ({frame.crs.to_string()}, degrees); distances need "
            "metres. Fix: .to_crs('EPSG:27700')")
    if len(frame) == 0:
        raise ValidationError(f"{name}: has no rows")
    geom = frame.geometry
    bad = geom.isna() | geom.is_empty
    if bad.any():
        raise ValidationError(
            f"{name}: {int(bad.sum())} rows have no geometry (first: {frame.index[bad][0]!r}); "
            "drop them or fix their coordinates")
    kinds = set(geom.geom_type)
    if kinds != {"Point"}:
        raise ValidationError(
            f"{name}: geometries must be points, found {', '.join(sorted(kinds))}; for LSOA "
            "polygons use population-weighted centroids (Area.centroids())")
    return frame


def _ids_from(frame: gpd.GeoDataFrame, col: str | None, name: str) -> list[Hashable]:
    if col is None:
        return list(frame.index)
    if col not in frame.columns:
        raise ValidationError(
            f"{name}: no column {col!r} (columns: {', '.join(map(str, frame.columns))})")
    return list(frame[col])


def _geo_inputs(
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame | None,
    *,
    weight_col: str,
    demand_id_col: str | None,
    site_id_col: str | None,
    detour: float,
    network: Any,
) -> dict[str, Any]:
    """Validate GeoDataFrames and build the arguments of ``from_cost_matrix``."""
    from geointel.access import distance_matrix

    demand = _points(demand, "demand")
    candidates = _points(candidates, "candidates")
    if weight_col not in demand.columns:
        raise ValidationError(
            f"demand: no weight column {weight_col!r} (columns: "
            f"{', '.join(map(str, demand.columns))}); pass weight_col=")
    weights = pd.to_numeric(demand[weight_col], errors="coerce")
    if weights.isna().any():
        raise ValidationError(
            f"demand[{weight_col!r}]: {int(weights.isna().sum())} values are missing or not "
            "numbers; fill them (e.g. 0) or drop those rows")
    sites: Any = candidates
    site_ids = [f"candidate:{i}" if site_id_col is None else i
                for i in _ids_from(candidates, site_id_col, "candidates")]
    fixed = np.zeros(len(candidates), dtype=bool)
    if existing is not None and len(existing):
        existing = _points(existing, "existing")
        ex = existing.to_crs(candidates.crs) if existing.crs != candidates.crs else existing
        col = site_id_col if site_id_col in ex.columns else None
        site_ids += [f"existing:{i}" if col is None else i
                     for i in _ids_from(ex, col, "existing")]
        sites = pd.concat([candidates.geometry, ex.geometry], ignore_index=True)
        fixed = np.r_[fixed, np.ones(len(ex), dtype=bool)]
    if len(set(site_ids)) != len(site_ids):
        raise ValidationError(
            f"site ids in {site_id_col!r} are not unique across candidates and existing "
            "services; make them unique (e.g. prefix the existing ones)")
    cost = distance_matrix(demand.geometry, sites, detour=detour, network=network)
    return {"cost": cost, "weights": weights.to_numpy(dtype=float), "fixed": fixed,
            "site_ids": site_ids,
            "demand_ids": _ids_from(demand, demand_id_col, "demand")}


# --- coverage structures -----------------------------------------------------------------

def _coverage_matrix(cost: np.ndarray, threshold: float) -> sparse.csr_matrix:
    """Boolean demand x site matrix: 1 where the site is within ``threshold``."""
    rows, cols = np.nonzero(cost <= threshold)
    data = np.ones(rows.size, dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=cost.shape)


def _group_keys(mat: sparse.csr_matrix) -> np.ndarray:
    """For each row of a 0/1 CSR matrix: the index of the first row with the same pattern."""
    first: dict[bytes, int] = {}
    out = np.empty(mat.shape[0], dtype=np.int64)
    indptr, indices = mat.indptr, mat.indices
    for r in range(mat.shape[0]):
        key = np.sort(indices[indptr[r]:indptr[r + 1]]).tobytes()
        out[r] = first.setdefault(key, r)
    return out


@dataclass(frozen=True)
class _CoverInstance:
    """A reduced covering instance: rows = merged demand, columns = useful candidates."""

    cover: sparse.csr_matrix  # n' x m', 0/1
    weights: np.ndarray  # n'
    columns: np.ndarray  # m' original column index of each reduced candidate
    base: float  # weight already covered by the fixed sites
    coverable: float  # weight coverable by some non-fixed candidate (not already covered)


def _reduce_cover(cover: sparse.csr_matrix, w: np.ndarray, fixed: np.ndarray) -> _CoverInstance:
    """Reduce a covering instance without changing its optimum (see module docstring)."""
    csc = cover.tocsc()
    covered0 = np.asarray(csc[:, np.flatnonzero(fixed)].sum(axis=1)).ravel() > 0
    base = float(w[covered0].sum())
    free = np.flatnonzero(~fixed)
    sub = csc[:, free].tocsr()
    reach = np.diff(sub.indptr) > 0
    rows = np.flatnonzero(~covered0 & (w > 0) & reach)
    sub = sub[rows]
    # merge demand points with identical candidate sets
    first = _group_keys(sub)
    reps, inverse = np.unique(first, return_inverse=True)
    wm = np.bincount(inverse, weights=w[rows], minlength=reps.size)
    sub = sub[reps]
    coverable = float(wm.sum())
    # collapse candidates with identical coverage; drop empty ones
    cols = sub.T.tocsr()
    nonempty = np.diff(cols.indptr) > 0
    firstc = _group_keys(cols)
    keep = np.flatnonzero(nonempty & (firstc == np.arange(cols.shape[0])))
    cols = cols[keep]
    # drop candidates whose coverage is a strict subset of another's
    sizes = np.diff(cols.indptr)
    per_row = np.diff(sub[:, keep].tocsr().indptr).astype(float)
    pairs = float(np.sum(per_row**2))
    if keep.size > 1 and pairs <= _MAX_DOMINANCE_PAIRS:
        inter = (cols @ cols.T).tocoo()
        dom = (inter.data == sizes[inter.row]) & (inter.row != inter.col)
        dominated = np.unique(inter.row[dom])
        alive = np.ones(keep.size, dtype=bool)
        alive[dominated] = False
        keep, cols = keep[alive], cols[alive]
    elif keep.size > 1:
        log.info("skipping the dominance check: %.0f candidate pairs", pairs)
    reduced = cols.T.tocsr()
    log.debug("covering instance reduced to %d demand groups x %d candidates (base %.1f)",
              reduced.shape[0], reduced.shape[1], base)
    return _CoverInstance(cover=reduced, weights=wm, columns=free[keep], base=base,
                          coverable=coverable)


def _covered_weight(cover_t: sparse.csr_matrix, w: np.ndarray, sel: Iterable[int]) -> float:
    """Weight of demand covered by the candidates ``sel`` (rows of the transposed cover)."""
    idx = np.fromiter(sel, dtype=np.int64)
    if idx.size == 0:
        return 0.0
    hit = np.zeros(w.size, dtype=bool)
    hit[cover_t[idx].indices] = True
    return float(w[hit].sum())


def _greedy_cover(cover_t: sparse.csr_matrix, w: np.ndarray, p: int) -> list[int]:
    """Greedy maximal covering: add the candidate covering most uncovered weight, p times."""
    uncovered = w.copy()
    chosen: list[int] = []
    for _ in range(min(p, cover_t.shape[0])):
        gain = cover_t @ uncovered
        if chosen:
            gain[chosen] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        uncovered[cover_t[j].indices] = 0.0
    return chosen


def _swap_cover(cover_t: sparse.csr_matrix, w: np.ndarray, sel: list[int], *,
                deadline: float, max_rounds: int = 50) -> list[int]:
    """Best-improvement 1-swap local search for maximal covering."""
    sel = list(sel)
    m = cover_t.shape[0]
    for _ in range(max_rounds):
        if not sel or len(sel) >= m or time.perf_counter() > deadline:
            break
        count = np.bincount(cover_t[sel].indices, minlength=w.size)
        free_gain = cover_t @ (w * (count == 0))
        best = (1e-9 * max(1.0, float(w.sum())), -1, -1)
        for pos, s in enumerate(sel):
            only_s = np.zeros(w.size)
            members = cover_t[s].indices
            lone = members[count[members] == 1]
            only_s[lone] = w[lone]
            loss = float(only_s.sum())
            value = free_gain + cover_t @ only_s - loss
            value[sel] = -np.inf
            c = int(np.argmax(value))
            if value[c] > best[0]:
                best = (float(value[c]), pos, c)
        if best[1] < 0:
            break
        sel[best[1]] = best[2]
    return sel


def _lagrangian_cover(cover_t: sparse.csr_matrix, w: np.ndarray, p: int, lower: float, *,
                      deadline: float, iterations: int = 400) -> tuple[float, list[int], float]:
    """Lagrangian dual of maximal covering (relaxing y_i <= sum_j a_ij x_j).

    For any ``0 <= lam <= w``, ``sum(w - lam) + (sum of the p largest (A^T lam)_j)`` is an
    upper bound on the optimum; subgradient steps tighten it. Each step's chosen sites are
    also evaluated as a primal solution. Returns (best bound, best primal sites, its value).
    """
    m = cover_t.shape[0]
    k = min(p, m)
    lam = w * 0.5
    best_ub = float(w.sum())
    best_sel: list[int] = []
    best_val = lower
    theta, stall = 2.0, 0
    for _ in range(iterations):
        score = cover_t @ lam
        sel = np.argpartition(-score, k - 1)[:k] if k else np.array([], dtype=np.int64)
        ub = float((w - lam).sum() + score[sel].sum())
        if ub < best_ub - 1e-12 * max(1.0, best_ub):
            best_ub, stall = ub, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        hit = np.bincount(cover_t[sel].indices, minlength=w.size)
        val = float(w[hit > 0].sum())
        if val > best_val:
            best_val, best_sel = val, [int(j) for j in sel]
        if best_ub - best_val <= _REL_TOL * max(1.0, best_val) or theta < 1e-4:
            break
        if time.perf_counter() > deadline:
            break
        sub = hit - (lam < w)
        norm = float(sub @ sub)
        if norm == 0:
            break
        step = theta * (ub - best_val) / norm
        lam = np.clip(lam - step * sub, 0.0, w)
    return best_ub, best_sel, best_val


# --- MILP via pulp/CBC ---------------------------------------------------------------------

def _cbc(time_limit: float) -> Any:
    import pulp

    return pulp.PULP_CBC_CMD(msg=False, timeLimit=max(1, math.ceil(time_limit)),
                             warmStart=True, gapRel=0.0, threads=1)


def _solve_problem(prob: Any, time_limit: float) -> tuple[bool, bool]:
    """Solve a pulp problem with CBC; returns (has a solution, proved optimal)."""
    import pulp

    try:
        prob.solve(_cbc(time_limit))
    except pulp.PulpSolverError as err:
        raise GeointelError(f"the CBC solver failed ({err}); try solver='heuristic'") from None
    has = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    return has, prob.sol_status == pulp.LpSolutionOptimal


def _milp_cover(inst: _CoverInstance, p: int, warm: Sequence[int], time_limit: float
                ) -> tuple[list[int] | None, bool]:
    """Exact maximal covering on a reduced instance. Returns (sites or None, proved)."""
    import pulp

    cover = inst.cover
    n, m = cover.shape
    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{j}", cat="Binary") for j in range(m)]
    y = [pulp.LpVariable(f"y{i}", lowBound=0, upBound=1) for i in range(n)]
    prob.setObjective(pulp.LpAffineExpression(zip(y, inst.weights.tolist(), strict=True)))
    for i in range(n):
        js = cover.indices[cover.indptr[i]:cover.indptr[i + 1]]
        prob += pulp.LpAffineExpression([(x[j], 1.0) for j in js] + [(y[i], -1.0)]) >= 0
    prob += pulp.LpAffineExpression([(v, 1.0) for v in x]) <= p
    chosen = set(warm)
    for j, v in enumerate(x):
        v.setInitialValue(1 if j in chosen else 0)
    has, proved = _solve_problem(prob, time_limit)
    if not has:
        return None, False
    return [j for j, v in enumerate(x) if (v.value() or 0) > 0.5], proved


# --- shared result building ------------------------------------------------------------------

def _nearest(cost: np.ndarray, open_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if open_cols.size == 0:
        n = cost.shape[0]
        return np.full(n, -1, dtype=np.int64), np.full(n, np.inf)
    sub = cost[:, open_cols]
    arg = np.argmin(sub, axis=1)
    return open_cols[arg], sub[np.arange(cost.shape[0]), arg]


def _covered_share(cost: np.ndarray, w: np.ndarray, cols: np.ndarray,
                   threshold: float | None) -> float:
    if threshold is None:
        return math.nan
    if cols.size == 0:
        return 0.0
    hit = (cost[:, cols] <= threshold).any(axis=1)
    return float(w[hit].sum() / w.sum())


def _order_by_gain(cost: np.ndarray, w: np.ndarray, fixed_cols: np.ndarray,
                   new_cols: Sequence[int], value: Any) -> list[tuple[int, float, float]]:
    """Order new sites greedily by marginal gain; ``value(cols)`` is the objective to raise."""
    current = list(fixed_cols)
    remaining = list(new_cols)
    now = value(np.array(current, dtype=np.int64))
    out = []
    while remaining:
        vals = [value(np.array([*current, j], dtype=np.int64)) for j in remaining]
        k = int(np.argmax(vals))
        j = remaining.pop(k)
        gain = vals[k] - now if math.isfinite(now) else math.nan
        out.append((j, gain, vals[k]))
        current.append(j)
        now = vals[k]
    return out


@dataclass(frozen=True)
class _Base:
    cost: np.ndarray
    weights: np.ndarray
    fixed: np.ndarray
    site_ids: tuple[Hashable, ...]
    demand_ids: tuple[Hashable, ...]
    threshold: float | None

    @property
    def fixed_cols(self) -> np.ndarray:
        return np.flatnonzero(self.fixed)

    def _result(self, model: str, new_cols: Sequence[int] | np.ndarray, *, p: int | None,
                sense: int, objective_of: Any, bound: float, proved: bool, method: str,
                start: float, minimise: bool, report_objective: float | None = None
                ) -> SitingResult:
        """Assemble the result from the original (unreduced) data.

        ``sense * objective_of(cols)`` is what each added site raises (it orders the marginal
        gains); ``minimise`` says which side of the objective ``bound`` lies on.
        """
        fixed_cols = self.fixed_cols
        new_cols = [int(j) for j in new_cols]
        ordered = _order_by_gain(self.cost, self.weights, fixed_cols, new_cols,
                                 lambda cols: sense * objective_of(cols))
        all_cols = np.array([*fixed_cols, *new_cols], dtype=np.int64)
        objective = (report_objective if report_objective is not None
                     else float(objective_of(all_cols)))
        if proved:
            bound, gap = objective, 0.0
        else:
            diff = max(0.0, objective - bound if minimise else bound - objective)
            gap = diff / abs(objective) if objective else (0.0 if diff == 0 else math.inf)
            if gap <= _REL_TOL:
                proved, gap = True, 0.0
        site, dist = _nearest(self.cost, all_cols)
        ids = np.array(self.site_ids, dtype=object)
        thr = self.threshold
        assignment = pd.DataFrame({
            "demand_id": list(self.demand_ids),
            "weight": self.weights,
            "site_id": [ids[s] if s >= 0 else None for s in site],
            "distance": dist,
            "covered": dist <= thr if thr is not None else np.isfinite(dist),
            "existing": [bool(self.fixed[s]) if s >= 0 else False for s in site],
        })
        gains = pd.DataFrame({
            "site_id": [ids[j] for j, _, _ in ordered],
            "order": np.arange(1, len(ordered) + 1),
            "gain": [g for _, g, _ in ordered],
            "cumulative": [sense * v for _, _, v in ordered],
        })
        w = self.weights
        return SitingResult(
            model=model,
            selected=tuple(ids[j] for j, _, _ in ordered),
            existing=tuple(ids[j] for j in fixed_cols),
            objective=objective,
            bound=bound,
            gap=gap,
            status="optimal" if proved else "feasible",
            method=method,
            seconds=time.perf_counter() - start,
            coverage_before=_covered_share(self.cost, w, fixed_cols, thr),
            coverage_after=_covered_share(self.cost, w, all_cols, thr),
            total_weight=float(w.sum()),
            marginal_gain=gains,
            assignment=assignment,
            threshold=thr,
            p=p,
        )

    def _covered(self, cols: np.ndarray) -> float:
        if cols.size == 0 or self.threshold is None:
            return 0.0
        hit = (self.cost[:, cols] <= self.threshold).any(axis=1)
        return float(self.weights[hit].sum())


def _base_args(cost: Any, weights: Any, fixed: Any, site_ids: Sequence[Hashable] | None,
               demand_ids: Sequence[Hashable] | None) -> dict[str, Any]:
    c = _as_cost(cost)
    n, m = c.shape
    return {"cost": c, "weights": _as_weights(weights, n), "fixed": _as_fixed(fixed, m),
            "site_ids": _as_ids(site_ids, m, "site_ids"),
            "demand_ids": _as_ids(demand_ids, n, "demand_ids")}


# --- MCLP ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class MCLP(_Base):
    """Maximal covering: ``p`` new sites covering the most demand weight within ``threshold``.

    Build with :meth:`from_cost_matrix` or :meth:`from_geodataframe`, then :meth:`solve`.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[100., 900.], [900., 100.], [950., 120.]])
    >>> m = MCLP.from_cost_matrix(cost, [5, 1, 1], threshold=500, p=1)
    >>> m.solve().coverage_after
    0.7142857142857143
    """

    p: int = 0

    @classmethod
    def from_cost_matrix(
        cls,
        cost: Any,
        weights: Any,
        *,
        threshold: float,
        p: int,
        fixed: Any = None,
        site_ids: Sequence[Hashable] | None = None,
        demand_ids: Sequence[Hashable] | None = None,
    ) -> MCLP:
        """Build from a demand x site cost matrix (metres).

        Parameters
        ----------
        cost
            Shape ``(n_demand, n_sites)``; ``inf`` for unreachable pairs.
        weights
            Demand weight per row (population, need index, ...), ``>= 0``.
        threshold
            Coverage distance in metres: a site covers demand at cost ``<= threshold``.
        p
            Number of *new* sites (existing ones are extra).
        fixed
            Existing services: a boolean mask or column indices; fixed open, not in ``p``.
        site_ids, demand_ids
            Labels for columns and rows (default: positions).
        """
        args = _base_args(cost, weights, fixed, site_ids, demand_ids)
        free = int((~args["fixed"]).sum())
        return cls(**args, threshold=_check_threshold(threshold, required=True),
                   p=_check_p(p, free))

    @classmethod
    def from_geodataframe(
        cls,
        demand: gpd.GeoDataFrame,
        candidates: gpd.GeoDataFrame,
        *,
        weight_col: str,
        threshold: float,
        p: int,
        existing: gpd.GeoDataFrame | None = None,
        demand_id_col: str | None = None,
        site_id_col: str | None = None,
        detour: float = 1.3,
        network: Any = None,
    ) -> MCLP:
        """Validate point layers (projected CRS, point geometry), compute distances, delegate.

        Site ids come from ``site_id_col`` (in candidates, and in existing if present there),
        else ``"candidate:<index>"`` / ``"existing:<index>"``.
        """
        args = _geo_inputs(demand, candidates, existing, weight_col=weight_col,
                           demand_id_col=demand_id_col, site_id_col=site_id_col,
                           detour=detour, network=network)
        return cls.from_cost_matrix(args.pop("cost"), args.pop("weights"), threshold=threshold,
                                    p=p, **args)

    def solve(self, *, solver: Solver = "cbc", time_limit: float = DEFAULT_TIME_LIMIT,
              progress: Progress | None = None) -> SitingResult:
        """Solve; see the module docstring for how. Returns a :class:`SitingResult`."""
        _check_solver(solver, time_limit)
        start = time.perf_counter()
        deadline = start + time_limit
        assert self.threshold is not None
        report(progress, 0, 4, "reducing the instance")
        inst = _reduce_cover(_coverage_matrix(self.cost, self.threshold), self.weights,
                             self.fixed)
        cover, w = inst.cover, inst.weights
        cover_t = cover.T.tocsr()
        report(progress, 1, 4, "greedy and Lagrangian bound")
        heur_deadline = start + min(time_limit * 0.25, 30.0)
        sel = _swap_cover(cover_t, w, _greedy_cover(cover_t, w, self.p),
                          deadline=heur_deadline)
        val = _covered_weight(cover_t, w, sel)
        ub, lsel, lval = _lagrangian_cover(cover_t, w, self.p, val, deadline=heur_deadline)
        if lval > val:
            sel = _swap_cover(cover_t, w, lsel, deadline=heur_deadline)
            val = _covered_weight(cover_t, w, sel)
        ub = min(ub, inst.coverable)
        proved = ub - val <= _REL_TOL * max(1.0, val)
        method = "bound" if proved else "heuristic"
        if not proved and solver == "cbc":
            n_vars = cover.shape[0] + cover.shape[1]
            if n_vars > MAX_MILP_VARIABLES:
                log.warning("MCLP too large for the exact solver (%d variables); returning the "
                            "heuristic answer with its gap", n_vars)
            else:
                report(progress, 2, 4, "solving the MILP with CBC")
                remaining = max(1.0, deadline - time.perf_counter())
                milp, milp_proved = _milp_cover(inst, self.p, sel, remaining)
                if milp is not None:
                    mval = _covered_weight(cover_t, w, milp)
                    if mval >= val - _REL_TOL * max(1.0, val):
                        sel, val, method = milp, mval, "milp"
                        proved = milp_proved
        report(progress, 3, 4, "building the result")
        result = self._result(
            "mclp", inst.columns[np.asarray(sel, dtype=np.int64)], p=self.p, sense=1,
            objective_of=self._covered, bound=inst.base + ub, proved=proved, method=method,
            start=start, minimise=False)
        report(progress, 4, 4, "done")
        return result


# --- LSCP ----------------------------------------------------------------------------------

def _lscp_lp_bound(inst: _CoverInstance, required: float, full: bool,
                   time_limit: float) -> float:
    """Lower bound on the number of sites from the LP relaxation (0 if it did not solve).

    Only a relaxation solved to optimality is a bound: pulp 2.9 reports ``status``
    Optimal when CBC stops on its time limit with some solution, so the solution status
    (``sol_status``) must be ``LpSolutionOptimal`` too; anything else gives 0.
    """
    import pulp

    cover = inst.cover
    m = cover.shape[1]
    prob = pulp.LpProblem("lscp_lp", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{j}", lowBound=0, upBound=1) for j in range(m)]
    prob.setObjective(pulp.LpAffineExpression([(v, 1.0) for v in x]))
    _lscp_constraints(prob, cover, inst.weights, x, required, full)
    try:
        prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=max(1, int(time_limit))))
    except pulp.PulpSolverError:
        return 0.0
    if prob.status != pulp.LpStatusOptimal or prob.sol_status != pulp.LpSolutionOptimal:
        log.info("the LSCP LP relaxation was not solved to optimality (status %s, solution "
                 "status %s); its value is not used as a bound", prob.status, prob.sol_status)
        return 0.0
    return float(pulp.value(prob.objective) or 0.0)


def _lscp_constraints(prob: Any, cover: sparse.csr_matrix, w: np.ndarray, x: list[Any],
                      required: float, full: bool) -> None:
    import pulp

    n = cover.shape[0]
    if full:
        for i in range(n):
            js = cover.indices[cover.indptr[i]:cover.indptr[i + 1]]
            prob += pulp.LpAffineExpression([(x[j], 1.0) for j in js]) >= 1
        return
    y = [pulp.LpVariable(f"y{i}", lowBound=0, upBound=1) for i in range(n)]
    for i in range(n):
        js = cover.indices[cover.indptr[i]:cover.indptr[i + 1]]
        prob += pulp.LpAffineExpression([(x[j], 1.0) for j in js] + [(y[i], -1.0)]) >= 0
    prob += pulp.LpAffineExpression(zip(y, w.tolist(), strict=True)) >= required


@dataclass(frozen=True)
class LSCP(_Base):
    """Set covering: fewest new sites so that ``target_share`` of the weight is covered.

    Existing services count towards the target and are not counted as new sites. With
    ``target_share=None`` (the default) every demand point of positive weight that some
    site can reach within ``threshold`` must be covered (the target is then the reachable
    share, e.g. 0.918 when some rural LSOAs have no candidate in reach); with
    ``target_share=1`` every demand point must be, which fails if one is out of reach.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1., 9., 9.], [9., 1., 9.], [9., 1., 1.]])
    >>> r = LSCP.from_cost_matrix(cost, np.ones(3), threshold=2).solve()
    >>> r.objective, r.selected
    (2.0, (1, 0))
    """

    target_share: float = 1.0

    @classmethod
    def from_cost_matrix(
        cls,
        cost: Any,
        weights: Any,
        *,
        threshold: float,
        target_share: float | None = None,
        fixed: Any = None,
        site_ids: Sequence[Hashable] | None = None,
        demand_ids: Sequence[Hashable] | None = None,
    ) -> LSCP:
        """Build from a demand x site cost matrix (see :meth:`MCLP.from_cost_matrix`).

        ``target_share=None`` covers everyone within reach of some site (the model's
        ``target_share`` is then that reachable share).

        Raises
        ------
        ValidationError
            If the target share cannot be reached even with every candidate open.
        """
        args = _base_args(cost, weights, fixed, site_ids, demand_ids)
        if target_share is not None and not 0 < float(target_share) <= 1:
            raise ValidationError(
                f"target_share={target_share!r}: must be a share in (0, 1], e.g. 0.9, or "
                "None for everyone within reach")
        thr = _check_threshold(threshold, required=True)
        assert thr is not None
        reachable = (args["cost"] <= thr).any(axis=1)
        w = args["weights"]
        best = float(w[reachable].sum() / w.sum())
        share = best if target_share is None else float(target_share)
        if best < share - 1e-12:
            raise ValidationError(
                f"target_share={share:g}: even with every candidate open only {best:.1%} of "
                f"the weight is within {thr:g} m ({int((~reachable & (w > 0)).sum())} demand "
                "points have no site in reach). To cover everyone within reach, leave the "
                f"target out (target_share=None; `geointel site` without --target-share) or "
                f"ask for at most {math.floor(best * 1000) / 1000:g}; or raise the threshold "
                "or add candidates")
        return cls(**args, threshold=thr, target_share=share)

    @classmethod
    def from_geodataframe(
        cls,
        demand: gpd.GeoDataFrame,
        candidates: gpd.GeoDataFrame,
        *,
        weight_col: str,
        threshold: float,
        target_share: float | None = None,
        existing: gpd.GeoDataFrame | None = None,
        demand_id_col: str | None = None,
        site_id_col: str | None = None,
        detour: float = 1.3,
        network: Any = None,
    ) -> LSCP:
        """Validate, compute distances and delegate, as :meth:`MCLP.from_geodataframe`."""
        args = _geo_inputs(demand, candidates, existing, weight_col=weight_col,
                           demand_id_col=demand_id_col, site_id_col=site_id_col,
                           detour=detour, network=network)
        return cls.from_cost_matrix(args.pop("cost"), args.pop("weights"), threshold=threshold,
                                    target_share=target_share, **args)

    def solve(self, *, solver: Solver = "cbc", time_limit: float = DEFAULT_TIME_LIMIT,
              progress: Progress | None = None) -> SitingResult:
        """Solve; the objective is the number of new sites. Returns a :class:`SitingResult`."""
        _check_solver(solver, time_limit)
        start = time.perf_counter()
        deadline = start + time_limit
        assert self.threshold is not None
        report(progress, 0, 4, "reducing the instance")
        inst = _reduce_cover(_coverage_matrix(self.cost, self.threshold), self.weights,
                             self.fixed)
        w = inst.weights
        total = float(self.weights.sum())
        # a target that needs every coverable point (share 1, or the reachable share) is
        # written as "cover every point", without the weight constraint
        full = self.target_share * total - inst.base >= float(w.sum()) - 1e-9 * total
        # float tolerance: a target reached up to rounding counts as reached
        required = (w.sum() if full else self.target_share * total - inst.base)
        required -= 1e-9 * total
        cover_t = inst.cover.T.tocsr()
        report(progress, 1, 4, "greedy cover and LP bound")
        sel: list[int] = []
        uncovered = w.copy()
        got = 0.0
        while got < required:
            gain = cover_t @ uncovered
            j = int(np.argmax(gain))
            if gain[j] <= 0:  # pragma: no cover - from_cost_matrix checked reachability
                raise GeointelError("LSCP: target unreachable; please report this as a bug")
            sel.append(j)
            got += float(gain[j])
            uncovered[cover_t[j].indices] = 0.0
        for j in sorted(sel, key=lambda j: float(w[cover_t[j].indices].sum())):
            rest = [k for k in sel if k != j]
            if _covered_weight(cover_t, w, rest) >= required:
                sel = rest
        # bounds: LP relaxation, and "the k largest sets must together reach the target"
        sizes = np.sort(cover_t @ w)[::-1]
        simple = int(np.searchsorted(np.cumsum(sizes), required)) + 1 if required > 0 else 0
        lp = _lscp_lp_bound(inst, required, full, max(1.0, deadline - time.perf_counter())
                            ) if sel else 0.0
        bound = float(max(simple, math.ceil(lp - 1e-6)))
        proved = len(sel) <= bound
        method = "bound" if proved else "heuristic"
        if not proved and solver == "cbc":
            report(progress, 2, 4, "solving the MILP with CBC")
            milp, milp_proved = self._milp(inst, required, full, sel,
                                           max(1.0, deadline - time.perf_counter()))
            if milp is not None and len(milp) <= len(sel):
                sel, method, proved = milp, "milp", milp_proved
        report(progress, 3, 4, "building the result")
        result = self._result(
            "lscp", inst.columns[np.asarray(sel, dtype=np.int64)], p=None, sense=1,
            objective_of=self._covered, bound=bound, proved=proved, method=method,
            start=start, minimise=True, report_objective=float(len(sel)))
        report(progress, 4, 4, "done")
        return result

    @staticmethod
    def _milp(inst: _CoverInstance, required: float, full: bool, warm: Sequence[int],
              time_limit: float) -> tuple[list[int] | None, bool]:
        import pulp

        m = inst.cover.shape[1]
        prob = pulp.LpProblem("lscp", pulp.LpMinimize)
        x = [pulp.LpVariable(f"x{j}", cat="Binary") for j in range(m)]
        prob.setObjective(pulp.LpAffineExpression([(v, 1.0) for v in x]))
        _lscp_constraints(prob, inst.cover, inst.weights, x, required, full)
        chosen = set(warm)
        for j, v in enumerate(x):
            v.setInitialValue(1 if j in chosen else 0)
        has, proved = _solve_problem(prob, time_limit)
        if not has:
            return None, False
        return [j for j, v in enumerate(x) if (v.value() or 0) > 0.5], proved


# --- p-median ------------------------------------------------------------------------------

def _weighted_distance(cost: np.ndarray, w: np.ndarray, cols: np.ndarray) -> float:
    if cols.size == 0:
        return math.inf
    d = cost[:, cols].min(axis=1)
    if not np.isfinite(d[w > 0]).all():
        return math.inf
    return float(w[w > 0] @ d[w > 0])


def _pmedian_heuristic(d: np.ndarray, w: np.ndarray, base: np.ndarray, p: int, *,
                       deadline: float, max_rounds: int = 30) -> list[int]:
    """Greedy add then best-improvement interchange (Teitz-Bart) for p-median.

    ``d`` is the demand x candidate cost, ``base`` each demand's distance to the nearest
    existing site (``inf`` if none).
    """
    m = d.shape[1]
    cur = base.copy()
    sel: list[int] = []
    big = np.where(np.isfinite(cur), cur, np.nanmax(np.where(np.isfinite(d), d, 0)) * 10 + 1)
    for _ in range(min(p, m)):
        totals = w @ np.minimum(big[:, None], d)
        if sel:
            totals[sel] = np.inf
        j = int(np.argmin(totals))
        sel.append(j)
        big = np.minimum(big, d[:, j])
    cap = np.where(np.isfinite(base), base, np.inf)
    for _ in range(max_rounds):
        if not sel or time.perf_counter() > deadline:
            break
        dsel = np.column_stack([d[:, sel], cap])
        order = np.argsort(dsel, axis=1)[:, :2]
        rows = np.arange(d.shape[0])
        first = dsel[rows, order[:, 0]]
        second = dsel[rows, order[:, 1]] if dsel.shape[1] > 1 else np.full(d.shape[0], np.inf)
        current = float(w @ np.where(np.isfinite(first), first, 1e30))
        best_val, best = current - 1e-9 * max(1.0, current), None
        for pos in range(len(sel)):
            without = np.where(order[:, 0] == pos, second, first)
            new = np.minimum(without[:, None], d)
            new = np.where(np.isfinite(new), new, 1e30)
            totals = w @ new
            totals[sel] = np.inf
            c = int(np.argmin(totals))
            if totals[c] < best_val:
                best_val, best = float(totals[c]), (pos, c)
        if best is None:
            break
        sel[best[0]] = best[1]
    return sel


def _lagrangian_pmedian(d: np.ndarray, w: np.ndarray, base: np.ndarray, p: int, upper: float,
                        *, start: np.ndarray, deadline: float, iterations: int = 1000) -> float:
    """Lagrangian lower bound for p-median (relaxing each demand's assignment constraint).

    For any multipliers ``lam``: ``sum(lam) + sum_i min(0, w_i*base_i - lam_i) +
    (sum of the p most negative rho_j)`` with ``rho_j = sum_i min(0, w_i d_ij - lam_i)`` is a
    lower bound on the optimum. ``start`` are the first multipliers: each demand's weighted
    distance in the incumbent, so the first bound is the incumbent minus the p largest
    single-site savings.
    """
    wd = w[:, None] * d
    wb = w * base
    has_base = np.isfinite(base)
    m = d.shape[1]
    k = min(p, m)
    lam = np.where(np.isfinite(start), start, 0.0)
    best = -math.inf
    theta, stall = 2.0, 0
    for _ in range(iterations):
        red = np.minimum(0.0, wd - lam[:, None])
        rho = red.sum(axis=0)
        sel = np.argpartition(rho, k - 1)[:k] if k else np.array([], dtype=np.int64)
        zb = has_base & (wb < lam)
        lb = float(lam.sum() + np.where(zb, wb - lam, 0.0).sum() + rho[sel].sum())
        if lb > best + 1e-12 * max(1.0, abs(best) if math.isfinite(best) else 1.0):
            best, stall = lb, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        if upper - best <= _REL_TOL * max(1.0, upper) or theta < 1e-4:
            break
        if time.perf_counter() > deadline:
            break
        sub = 1.0 - zb - (wd[:, sel] < lam[:, None]).sum(axis=1)
        norm = float(sub @ sub)
        if norm == 0:
            break
        step = theta * (upper - lb) / norm
        lam = lam + step * sub
    return best


@dataclass(frozen=True)
class PMedian(_Base):
    """p-median: ``p`` new sites minimising the sum of weight x distance to the nearest site.

    ``threshold`` is optional and only used to report coverage before/after.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0., 4., 8.], [4., 0., 4.], [8., 4., 0.]])
    >>> PMedian.from_cost_matrix(cost, [1, 1, 1], p=1).solve().selected
    (1,)
    """

    p: int = 0

    @classmethod
    def from_cost_matrix(
        cls,
        cost: Any,
        weights: Any,
        *,
        p: int,
        fixed: Any = None,
        threshold: float | None = None,
        site_ids: Sequence[Hashable] | None = None,
        demand_ids: Sequence[Hashable] | None = None,
    ) -> PMedian:
        """Build from a demand x site cost matrix (see :meth:`MCLP.from_cost_matrix`).

        Raises
        ------
        ValidationError
            If some demand point of positive weight cannot reach any site (all ``inf``), or
            ``p = 0`` with no existing site.
        """
        args = _base_args(cost, weights, fixed, site_ids, demand_ids)
        free = int((~args["fixed"]).sum())
        p = _check_p(p, free)
        if p == 0 and not args["fixed"].any():
            raise ValidationError("p=0 with no existing sites: nothing to assign demand to")
        stuck = ~np.isfinite(args["cost"]).any(axis=1) & (args["weights"] > 0)
        if stuck.any():
            raise ValidationError(
                f"cost: {int(stuck.sum())} demand points reach no site at all (every cost is "
                "inf); drop them or add sites they can reach")
        return cls(**args, threshold=_check_threshold(threshold, required=False), p=p)

    @classmethod
    def from_geodataframe(
        cls,
        demand: gpd.GeoDataFrame,
        candidates: gpd.GeoDataFrame,
        *,
        weight_col: str,
        p: int,
        existing: gpd.GeoDataFrame | None = None,
        threshold: float | None = None,
        demand_id_col: str | None = None,
        site_id_col: str | None = None,
        detour: float = 1.3,
        network: Any = None,
    ) -> PMedian:
        """Validate, compute distances and delegate, as :meth:`MCLP.from_geodataframe`."""
        args = _geo_inputs(demand, candidates, existing, weight_col=weight_col,
                           demand_id_col=demand_id_col, site_id_col=site_id_col,
                           detour=detour, network=network)
        return cls.from_cost_matrix(args.pop("cost"), args.pop("weights"), p=p,
                                    threshold=threshold, **args)

    def _objective(self, cols: np.ndarray) -> float:
        return _weighted_distance(self.cost, self.weights, cols)

    def solve(self, *, solver: Solver = "cbc", time_limit: float = DEFAULT_TIME_LIMIT,
              progress: Progress | None = None) -> SitingResult:
        """Solve; the objective is total weight x distance. Returns a :class:`SitingResult`."""
        _check_solver(solver, time_limit)
        start = time.perf_counter()
        deadline = start + time_limit
        report(progress, 0, 4, "preparing")
        keep = self.weights > 0
        w = self.weights[keep]
        fixed_cols = self.fixed_cols
        free = np.flatnonzero(~self.fixed)
        d = self.cost[np.ix_(keep, free)]
        base = (self.cost[np.ix_(keep, fixed_cols)].min(axis=1) if fixed_cols.size
                else np.full(w.size, np.inf))
        report(progress, 1, 4, "greedy, interchange and Lagrangian bound")
        heur_deadline = start + min(time_limit * 0.25, 30.0)
        sel = _pmedian_heuristic(d, w, base, self.p, deadline=heur_deadline)
        value = self._objective(np.array([*fixed_cols, *free[sel]], dtype=np.int64))
        pairs = int((d < base[:, None]).sum())
        exact = solver == "cbc" and pairs + d.shape[1] <= MAX_MILP_VARIABLES
        current = np.minimum(base, d[:, sel].min(axis=1)) if sel else base
        bound = _lagrangian_pmedian(
            d, w, base, self.p, value, start=w * current,
            deadline=start + time_limit * (0.5 if exact else 0.9))
        proved = value - bound <= _REL_TOL * max(1.0, value)
        method = "bound" if proved else "heuristic"
        if not proved and solver == "cbc":
            if not exact:
                log.warning("p-median too large for the exact solver (%d variables); returning "
                            "the heuristic answer with its gap", pairs)
            else:
                report(progress, 2, 4, "solving the MILP with CBC")
                milp, milp_proved = self._milp(d, w, base, sel,
                                               max(1.0, deadline - time.perf_counter()))
                if milp is not None:
                    mval = self._objective(np.array([*fixed_cols, *free[milp]], dtype=np.int64))
                    if mval <= value + _REL_TOL * max(1.0, value):
                        sel, value, method, proved = milp, mval, "milp", milp_proved
        report(progress, 3, 4, "building the result")
        result = self._result("pmedian", free[np.asarray(sel, dtype=np.int64)], p=self.p,
                              sense=-1, objective_of=self._objective, bound=bound,
                              proved=proved, method=method, start=start, minimise=True)
        report(progress, 4, 4, "done")
        return result

    def _milp(self, d: np.ndarray, w: np.ndarray, base: np.ndarray, warm: Sequence[int],
              time_limit: float) -> tuple[list[int] | None, bool]:
        """Assignment MILP; only pairs closer than the nearest existing site get a variable."""
        import pulp

        n, m = d.shape
        prob = pulp.LpProblem("pmedian", pulp.LpMinimize)
        x = [pulp.LpVariable(f"x{j}", cat="Binary") for j in range(m)]
        terms: list[tuple[Any, float]] = []
        chosen = set(warm)
        for j, v in enumerate(x):
            v.setInitialValue(1 if j in chosen else 0)
        for i in range(n):
            js = np.flatnonzero(d[i] < base[i])
            zs = [pulp.LpVariable(f"z{i}_{j}", lowBound=0, upBound=1) for j in js]
            row = [(z, 1.0) for z in zs]
            for z, col in zip(zs, js.tolist(), strict=True):
                terms.append((z, float(w[i] * d[i, col])))
                prob += pulp.LpAffineExpression([(x[col], 1.0), (z, -1.0)]) >= 0
            if math.isfinite(base[i]):
                z0 = pulp.LpVariable(f"z{i}_fixed", lowBound=0, upBound=1)
                terms.append((z0, float(w[i] * base[i])))
                row.append((z0, 1.0))
            prob += pulp.LpAffineExpression(row) == 1
        prob.setObjective(pulp.LpAffineExpression(terms))
        prob += pulp.LpAffineExpression([(v, 1.0) for v in x]) <= self.p
        has, proved = _solve_problem(prob, time_limit)
        if not has:
            return None, False
        return [j for j, v in enumerate(x) if (v.value() or 0) > 0.5], proved


# --- scenarios -----------------------------------------------------------------------------

def sweep(
    cost: Any,
    weights: Any,
    *,
    ps: Sequence[int],
    thresholds: Sequence[float],
    fixed: Any = None,
    solver: Solver = "cbc",
    time_limit: float = DEFAULT_TIME_LIMIT,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Maximal-covering coverage for every combination of ``p`` and ``threshold``.

    The curve a board wants to see: how much more of the need is within reach for each
    extra site, at each travel threshold.

    Returns
    -------
    pandas.DataFrame
        One row per (threshold, p): ``threshold``, ``p``, ``objective``, ``coverage_before``,
        ``coverage_after``, ``gain`` (after - before), ``uncovered_points``, ``status``,
        ``gap``, ``seconds``, ``selected`` (comma-separated site ids).

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0., 9.], [9., 0.], [9., 1.]])
    >>> t = sweep(cost, [1, 1, 1], ps=[0, 1], thresholds=[2])
    >>> t[["p", "coverage_after"]].round(3).values.tolist()
    [[0.0, 0.0], [1.0, 0.667]]
    """
    rows = []
    combos = [(float(t), int(p)) for t in thresholds for p in ps]
    if not combos:
        raise ValidationError("sweep: give at least one value in ps and in thresholds")
    for k, (t, p) in enumerate(combos):
        report(progress, k, len(combos), f"threshold {t:g} m, p = {p}")
        r = MCLP.from_cost_matrix(cost, weights, threshold=t, p=p, fixed=fixed).solve(
            solver=solver, time_limit=time_limit)
        rows.append({
            "threshold": t, "p": p, "objective": r.objective,
            "coverage_before": r.coverage_before, "coverage_after": r.coverage_after,
            "gain": r.coverage_after - r.coverage_before,
            "uncovered_points": len(r.uncovered), "status": r.status, "gap": r.gap,
            "seconds": r.seconds, "selected": ",".join(map(str, r.selected)),
        })
    report(progress, len(combos), len(combos), "done")
    return pd.DataFrame(rows)


# --- candidate and existing site layers ---------------------------------------------------

SITE_ID_COLUMNS = ("candidate_id", "site_id", "id")


def _header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            return [h.strip() for h in fh.readline().split(",")]
    except OSError:
        return []


def read_sites(path: str | Path) -> Any:
    """Read a point layer of sites (candidates or existing services) from a CSV.

    Understood: a NaPTAN ``Stops.csv`` (``ATCOCode``; read by
    :func:`geointel.io.naptan.read_naptan`, active stops only), a services register
    (``service_id``; :func:`geointel.io.services.read_services`), or any CSV with an id
    column (``candidate_id``, ``site_id`` or ``id``), optional ``name``/``kind`` and
    ``latitude``/``longitude`` (WGS84) or ``easting``/``northing`` (BNG).

    Returns
    -------
    ReadResult
        ``data``: ``site_id, name, kind, easting, northing, geometry`` (EPSG:27700 points),
        ``_file, _line``; rows without a usable location or with a repeated id are rejected.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "candidates.csv")
    >>> _ = open(p, "w").write("candidate_id,name,kind,latitude,longitude\\n"
    ...                        "C1,Library,library,51.54,0.71\\nC2,Hall,venue,,\\n")
    >>> r = read_sites(p)
    >>> r.data["site_id"].tolist(), r.rows_rejected
    (['C1'], 1)
    """
    from geointel.io._geo import locate_bng, with_points
    from geointel.io._table import ReadResult, read_csv_rows
    from geointel.io.naptan import read_naptan
    from geointel.io.services import read_services

    path = Path(path)
    header = _header(path)
    keep = ["site_id", "name", "kind", "easting", "northing", "geometry", "_file", "_line"]
    if "ATCOCode" in header:
        r = read_naptan(path)
        data = r.data.rename(columns={"atco_code": "site_id"}).assign(kind=r.data["mode"])
        return ReadResult(data[keep], r.rejects, r.rows_read, r.sources)
    if "service_id" in header:
        r = read_services(path)
        return ReadResult(r.data.rename(columns={"service_id": "site_id"})[keep], r.rejects,
                          r.rows_read, r.sources)
    id_col = next((c for c in SITE_ID_COLUMNS if c in header), SITE_ID_COLUMNS[0])
    frame, rejects, rows_read = read_csv_rows(
        path, required=[id_col], kind="site list CSV (id and coordinates per row)")
    ids = frame[id_col].astype(str).str.strip()
    frame = rejects.take(frame.assign(site_id=ids), ids.eq(""), f"{id_col} is blank")
    frame = rejects.take(frame, frame["site_id"].duplicated(),
                         "repeats an earlier site id")
    x, y, why = locate_bng(frame)
    located = with_points(frame, x, y)
    located = rejects.take(located, why.ne(""), why)
    for col in ("name", "kind"):
        if col not in located.columns:
            located[col] = ""
    data = gpd.GeoDataFrame(located[keep].reset_index(drop=True), geometry="geometry")
    return ReadResult(data, rejects.frame(), rows_read, (str(path),))


MODELS = ("mclp", "lscp", "pmedian")


def site_layers(
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame | None = None,
    *,
    model: str,
    weight_col: str,
    p: int = 0,
    threshold: float | None = None,
    target_share: float | None = None,
    demand_id_col: str | None = None,
    site_id_col: str | None = None,
    solver: Solver = "cbc",
    time_limit: float = DEFAULT_TIME_LIMIT,
    progress: Progress | None = None,
) -> SitingResult:
    """Build and solve one model from point layers (what the CLI and the app call).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> d = gpd.GeoDataFrame({"pop": [5, 1]}, geometry=[Point(0, 0), Point(5000, 0)],
    ...                      crs="EPSG:27700")
    >>> c = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[Point(100, 0), Point(4000, 0)],
    ...                      crs="EPSG:27700")
    >>> site_layers(d, c, model="mclp", weight_col="pop", p=1, threshold=500,
    ...             site_id_col="id").selected
    ('a',)
    """
    common: dict[str, Any] = {"weight_col": weight_col, "existing": existing,
                              "demand_id_col": demand_id_col, "site_id_col": site_id_col}
    built: MCLP | LSCP | PMedian
    if model == "mclp":
        if threshold is None:
            raise ValidationError("model mclp needs a threshold (metres), e.g. --threshold 1600")
        built = MCLP.from_geodataframe(demand, candidates, threshold=threshold, p=p, **common)
    elif model == "lscp":
        if threshold is None:
            raise ValidationError("model lscp needs a threshold (metres), e.g. --threshold 1600")
        built = LSCP.from_geodataframe(demand, candidates, threshold=threshold,
                                       target_share=target_share, **common)
    elif model == "pmedian":
        built = PMedian.from_geodataframe(demand, candidates, p=p, threshold=threshold,
                                          **common)
    else:
        raise ValidationError(f"model={model!r}: choose one of {', '.join(MODELS)}")
    return built.solve(solver=solver, time_limit=time_limit, progress=progress)


def export_result(
    result: SitingResult,
    demand: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    out_dir: str | Path,
    *,
    demand_id_col: str,
    site_id_col: str = "site_id",
    marking: str = "OFFICIAL",
    attribution: str = "",
    role: str = "planner",
    extra_layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    summary: Mapping[str, Any] | None = None,
    formats: Sequence[str] = ("gpkg", "csv"),
) -> dict[str, str]:
    """Write the chosen sites and the assignment as GeoPackage + CSV, and a JSON summary.

    ``sites`` holds every candidate and existing site (``site_id_col``, optional ``name`` and
    ``kind``); ``demand`` every demand point (``demand_id_col``). Files: ``siting.gpkg``
    (layers ``sites`` and ``assignment``, EPSG:27700, with a ``marking`` column),
    ``sites.csv``, ``assignment.csv``, ``MARKING.txt``, ``summary.json`` (with the protective
    marking and data attribution), written by :func:`geointel.exports.export_layers` after
    checking that ``role`` may use ``export:siting``. ``extra_layers`` (e.g. the need
    index per LSOA) go into the GeoPackage and to ``<name>.csv`` too; ``summary`` adds
    figures to ``summary.json``; ``formats`` may add ``"geojson"`` (one WGS84 file per
    layer, ``sites.geojson``...). Returns their paths.
    """
    from geointel.exports import export_layers

    chosen = pd.DataFrame({"site_id": list(result.existing) + list(result.selected),
                           "status": ["existing"] * len(result.existing)
                           + ["new"] * len(result.selected)})
    gains = result.marginal_gain.set_index("site_id")
    chosen["order"] = chosen["site_id"].map(gains["order"]).astype("Int64")
    chosen["marginal_gain"] = chosen["site_id"].map(gains["gain"])
    a = result.assignment
    chosen["demand_points"] = chosen["site_id"].map(a.groupby("site_id").size()).fillna(0)
    chosen["weight_served"] = chosen["site_id"].map(
        a.groupby("site_id")["weight"].sum()).fillna(0.0)
    chosen["weight_covered"] = chosen["site_id"].map(
        a[a["covered"]].groupby("site_id")["weight"].sum()).fillna(0.0)
    layer = sites.rename(columns={site_id_col: "site_id"})
    extra = [c for c in ("name", "kind") if c in layer.columns]
    site_geo = gpd.GeoDataFrame(
        chosen.merge(pd.DataFrame(layer[["site_id", *extra]]).assign(
            geometry=layer.geometry.to_numpy()), on="site_id", how="left"),
        geometry="geometry", crs=sites.crs)
    dem = pd.DataFrame({"demand_id": demand[demand_id_col].to_numpy(),
                        "geometry": demand.geometry.to_numpy()})
    assign_geo = gpd.GeoDataFrame(a.merge(dem, on="demand_id", how="left"),
                                  geometry="geometry", crs=demand.crs)
    tables = {}
    for name, geo in (("sites", site_geo), ("assignment", assign_geo)):
        table = pd.DataFrame(geo.drop(columns="geometry"))
        table["easting"] = geo.geometry.x.round(1)
        table["northing"] = geo.geometry.y.round(1)
        tables[name] = table
    layers = {"sites": site_geo, "assignment": assign_geo}
    for name, extra in (extra_layers or {}).items():
        if name in layers:
            raise ValidationError(f"extra_layers: {name!r} is already written; rename it")
        layers[name] = extra
        tables[name] = pd.DataFrame(extra.drop(columns=extra.geometry.name))
    files = export_layers(Path(out_dir), layers=layers,
                          tables=tables, marking=marking, role=role, capability="export:siting",
                          formats=tuple(formats), summary={**result.summary(),
                                                            **(summary or {})},
                          stem="siting", attribution=attribution, marking_column=False)
    paths = {"gpkg": files.get("siting.gpkg"), "sites_csv": files["sites.csv"],
             "assignment_csv": files["assignment.csv"], "marking": files["MARKING.txt"],
             "summary": files["summary.json"]}
    paths |= {f"{name}_csv": files[f"{name}.csv"] for name in (extra_layers or {})}
    paths |= {f"{name}_geojson": files[f"{name}.geojson"] for name in layers
              if f"{name}.geojson" in files}
    return {k: str(v) for k, v in paths.items() if v is not None}


# --- need index ----------------------------------------------------------------------------

NORMALISATIONS = ("minmax", "rank", "z")
FILLS = ("error", "median", "zero")


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a need-index recipe from YAML (see ``models/need_index.yaml``).

    Examples
    --------
    >>> from geointel.settings import PROJECT_ROOT
    >>> [c["name"] for c in load_recipe(PROJECT_ROOT / "models/need_index.yaml")["components"]][:2]
    ['drug_offence_rate', 'drug_deaths']
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "does not exist (expected a need-index recipe)",
                            fix="pass models/need_index.yaml or a copy of it")
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise DataFileError(path, f"is not valid YAML ({err})",
                            fix="compare it with models/need_index.yaml") from None
    if not isinstance(recipe, dict) or not isinstance(recipe.get("components"), list):
        raise DataFileError(path, "has no 'components' list",
                            fix="compare it with models/need_index.yaml")
    return recipe


def _normalise(x: pd.Series, how: str) -> pd.Series:
    if how == "minmax":
        lo, hi = x.min(), x.max()
        return (x - lo) / (hi - lo) if hi > lo else x * 0.0
    if how == "rank":
        r = x.rank(method="average")
        return (r - 1) / (len(x) - 1) if len(x) > 1 else r * 0.0
    sd = x.std(ddof=0)
    return (x - x.mean()) / sd if sd > 0 else x * 0.0


def need_table(
    lsoas: gpd.GeoDataFrame,
    *,
    offences: pd.DataFrame | None = None,
    deaths: pd.DataFrame | None = None,
    services: gpd.GeoDataFrame | None = None,
    suppression_threshold: int = 5,
    detour: float = 1.3,
    network: Any = None,
) -> gpd.GeoDataFrame:
    """The Area's LSOA table with the measures the default need recipe reads joined on.

    Each input given adds one column (the ones ``models/need_index.yaml`` names):

    * ``offences`` (police.uk rows already chosen by crime type and period) ->
      ``drug_offence_rate``, offences per 1,000 residents (:func:`geointel.harm.rate_table`);
    * ``deaths`` (a deaths/incidents register) -> ``drug_death_rate``, people in its
      ``death`` rows per 100,000 residents of the LSOA's ward over the whole register, as
      partner outputs publish them (:func:`geointel.harm.partner_deaths` with
      ``suppression_threshold``): a ward whose count is hidden counts as the middle of the
      hidden range (``suppression_threshold / 2`` people), so the index, which goes out
      with the siting outputs, gives away no count the ward table hides;
    * ``services`` (points of the services already open) -> ``dist_any``, metres from each
      LSOA's population-weighted centroid to the nearest one (straight line x ``detour``,
      or along ``network``; :func:`geointel.access.distance_matrix`).

    Inputs not given add nothing, so :func:`need_index` skips their optional components
    and says so. ``lsoas`` is not modified.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> l = gpd.GeoDataFrame({"lsoa_code": ["A", "B"], "population": [1000, 500],
    ...     "centroid_easting": [500.0, 1500.0], "centroid_northing": [500.0, 500.0]},
    ...     geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)], crs="EPSG:27700")
    >>> s = gpd.GeoDataFrame(geometry=[Point(500, 500)], crs="EPSG:27700")
    >>> t = need_table(l, offences=pd.DataFrame({"lsoa_code": ["B", "B"]}), services=s,
    ...                detour=1.0)
    >>> t[["drug_offence_rate", "dist_any"]].values.tolist()
    [[0.0, 0.0], [4.0, 1000.0]]
    """
    from geointel import access, harm

    if "lsoa_code" not in lsoas.columns:
        raise ValidationError("lsoas has no 'lsoa_code' column; pass Area.lsoas")
    out = lsoas.copy()
    codes = out["lsoa_code"].astype(str)
    if offences is not None:
        rates = harm.rate_table(offences, lsoas).set_index("code")["rate"]
        out["drug_offence_rate"] = codes.map(rates).fillna(0.0).to_numpy(dtype=float)
    if deaths is not None:
        wards = harm.partner_deaths(deaths, lsoas, threshold=suppression_threshold)
        people = wards["count"].astype("Float64").fillna(suppression_threshold / 2)
        rate = (people / wards["population"] * 100_000).set_axis(wards["code"])
        out["drug_death_rate"] = out[harm.LEVELS[harm.DEATHS_LEVEL][0]].astype(str).map(
            rate).fillna(0.0).to_numpy(dtype=float)
    if services is not None:
        if len(services) == 0:
            raise ValidationError("services has no rows, so there is no distance to the "
                                  "nearest one; pass services=None to leave dist_any out")
        if {"centroid_easting", "centroid_northing"} <= set(out.columns):
            origins = gpd.GeoSeries(gpd.points_from_xy(out["centroid_easting"],
                                                       out["centroid_northing"]),
                                    index=out.index, crs="EPSG:27700")
        else:
            raise ValidationError("lsoas needs centroid_easting/centroid_northing (as "
                                  "Area.lsoas has) for distances to services")
        matrix = access.distance_matrix(origins, services, detour=detour, network=network)
        out["dist_any"] = matrix.min(axis=1)
    return out


def need_index(lsoas: pd.DataFrame, recipe: Mapping[str, Any] | str | Path) -> pd.DataFrame:
    """A need index per LSOA from a weighted, normalised recipe, with each contribution.

    ``index = sum_k weight_k * normalise_k(column_k)`` with weights rescaled to sum to 1
    (over the components used); ``invert: true`` turns "high is good" columns such as IMD
    decile around (``1 - v`` for minmax/rank, ``-v`` for z). Components marked
    ``optional: true`` whose column is absent are skipped (listed in
    ``result.attrs["skipped"]``, with the column each lacked in
    ``result.attrs["skipped_columns"]``); ``result.attrs["used"]`` maps each component
    used to its rescaled weight. Missing values follow ``fill`` (``error``, ``median``,
    ``zero``). :func:`need_table` joins the default recipe's measures onto an Area.

    Parameters
    ----------
    lsoas
        One row per LSOA with the recipe's columns (the Area table joined with harm/access
        measures); not modified.
    recipe
        A mapping like ``models/need_index.yaml`` or the path of such a YAML file.

    Returns
    -------
    pandas.DataFrame
        Same index as ``lsoas``: ``need_index``, ``contribution_<name>`` per component and,
        if the recipe names an ``id_column`` present in ``lsoas``, that column first.

    Examples
    --------
    >>> t = pd.DataFrame({"rate": [0.0, 5.0, 10.0], "imd_decile": [1, 5, 10]})
    >>> r = {"components": [
    ...     {"name": "rate", "column": "rate", "normalise": "minmax", "weight": 1},
    ...     {"name": "deprivation", "column": "imd_decile", "normalise": "rank",
    ...      "invert": True, "weight": 1}]}
    >>> need_index(t, r)["need_index"].tolist()
    [0.5, 0.5, 0.5]
    """
    if not isinstance(recipe, Mapping):
        recipe = load_recipe(recipe)
    comps = recipe.get("components")
    if not isinstance(comps, list) or not comps:
        raise ValidationError("recipe: needs a non-empty 'components' list")
    used: list[tuple[str, pd.Series, float]] = []
    skipped: list[str] = []
    skipped_columns: dict[str, str] = {}
    for k, comp in enumerate(comps):
        if not isinstance(comp, Mapping):
            raise ValidationError(f"recipe component {k}: expected a mapping, got {comp!r}")
        name = str(comp.get("name", comp.get("column", k)))
        column = comp.get("column", name)
        how = comp.get("normalise", "minmax")
        fill = comp.get("fill", "error")
        weight = comp.get("weight", 1.0)
        if how not in NORMALISATIONS:
            raise ValidationError(
                f"recipe component {name!r}: normalise={how!r}; use one of "
                f"{', '.join(NORMALISATIONS)}")
        if fill not in FILLS:
            raise ValidationError(
                f"recipe component {name!r}: fill={fill!r}; use one of {', '.join(FILLS)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise ValidationError(
                f"recipe component {name!r}: weight={weight!r}; weights must be positive numbers")
        if column not in lsoas.columns:
            if comp.get("optional", False):
                log.info("need index: skipping optional component %r (no column %r)",
                         name, column)
                skipped.append(name)
                skipped_columns[name] = str(column)
                continue
            raise ValidationError(
                f"need index: component {name!r} needs column {column!r}, which the LSOA table "
                f"lacks (columns: {', '.join(map(str, lsoas.columns))}); add it or mark the "
                "component optional: true")
        values = pd.to_numeric(pd.Series(lsoas[column], index=lsoas.index),
                               errors="coerce").astype(float)
        missing = values.isna()
        if missing.any():
            if fill == "error":
                raise ValidationError(
                    f"need index: column {column!r} has {int(missing.sum())} missing or "
                    "non-numeric values; fill them or set fill: median / zero in the recipe")
            values = values.fillna(values.median() if fill == "median" else 0.0)
            if values.isna().any():  # every value missing
                values = values.fillna(0.0)
        norm = _normalise(values, how)
        if comp.get("invert", False):
            norm = -norm if how == "z" else 1.0 - norm
        used.append((name, norm, float(weight)))
    if not used:
        raise ValidationError("need index: no component could be computed; see the recipe")
    total = sum(wt for _, _, wt in used)
    out = pd.DataFrame(index=lsoas.index)
    id_col = recipe.get("id_column")
    if id_col and id_col in lsoas.columns:
        out[id_col] = lsoas[id_col]
    contributions = {f"contribution_{name}": norm * (wt / total) for name, norm, wt in used}
    out["need_index"] = sum(contributions.values())
    for col, values in contributions.items():
        out[col] = values
    out.attrs["skipped"] = skipped
    out.attrs["skipped_columns"] = skipped_columns
    out.attrs["used"] = {name: wt / total for name, _, wt in used}
    return out
