"""Siting models: exact objectives against spopt and brute force, honest gaps, scenarios."""

from __future__ import annotations

import dataclasses
import itertools
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import pytest
from scipy.spatial.distance import cdist
from shapely.geometry import Point, box

from geointel.errors import CRSError, DataFileError, ValidationError
from geointel.settings import PROJECT_ROOT
from geointel.siting import (
    LSCP,
    MCLP,
    PMedian,
    SitingResult,
    _coverage_matrix,
    _lagrangian_cover,
    _reduce_cover,
    load_recipe,
    need_index,
    sweep,
)

# Hand-built instance: site 0 is an existing service; threshold 10 m.
#   site 0 covers d0; site 1 covers d0, d1; site 2 covers d2; site 3 covers d2, d3.
HAND_COST = np.array([
    [5.0, 8.0, 50.0, 60.0],
    [30.0, 9.0, 50.0, 60.0],
    [40.0, 40.0, 2.0, 7.0],
    [50.0, 50.0, 30.0, 10.0],
])
HAND_W = np.array([10.0, 20.0, 30.0, 40.0])


def random_instance(seed: int, *, n: tuple[int, int] = (20, 60), m: tuple[int, int] = (10, 40),
                    max_fixed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    nd, ns = int(rng.integers(*n)), int(rng.integers(*m))
    cost = cdist(rng.uniform(0, 10_000, (nd, 2)), rng.uniform(0, 10_000, (ns, 2)))
    weights = rng.integers(1, 100, nd).astype(float)
    fixed = np.zeros(ns, dtype=bool)
    fixed[rng.choice(ns, int(rng.integers(0, max_fixed + 1)), replace=False)] = True
    return cost, weights, fixed


def _predefined(fixed: np.ndarray) -> np.ndarray | None:
    return fixed.astype(int) if fixed.any() else None


def brute_force(cost: np.ndarray, w: np.ndarray, fixed: np.ndarray, p: int, *,
                threshold: float | None) -> float:
    """Optimal MCLP (threshold given) or p-median objective by enumeration."""
    free = np.flatnonzero(~fixed)
    fixed_cols = list(np.flatnonzero(fixed))
    best = -math.inf if threshold is not None else math.inf
    for combo in itertools.combinations(free, p):
        cols = fixed_cols + list(combo)
        if threshold is not None:
            best = max(best, float(w[(cost[:, cols] <= threshold).any(axis=1)].sum()))
        else:
            best = min(best, float(w @ cost[:, cols].min(axis=1)))
    return best


# --- exact objectives against spopt -------------------------------------------------------

@pytest.mark.parametrize("seed", range(8))
def test_mclp_objective_equals_spopt(seed: int) -> None:
    from spopt.locate import MCLP as SpoptMCLP

    cost, w, fixed = random_instance(seed)
    rng = np.random.default_rng(100 + seed)
    p, threshold = int(rng.integers(1, 5)), float(rng.uniform(1500, 3500))
    ours = MCLP.from_cost_matrix(cost, w, threshold=threshold, p=p, fixed=fixed).solve()
    # spopt counts predefined facilities inside p; ours does not
    ref = SpoptMCLP.from_cost_matrix(cost, w, service_radius=threshold,
                                     p_facilities=p + int(fixed.sum()),
                                     predefined_facilities_arr=_predefined(fixed))
    ref.solve(pulp.PULP_CBC_CMD(msg=False))
    assert ours.status == "optimal" and ours.gap == 0.0
    assert ours.objective == pytest.approx(pulp.value(ref.problem.objective), abs=1e-6)
    assert len(ours.selected) <= p
    assert ours.coverage_after == pytest.approx(ours.objective / w.sum())


@pytest.mark.parametrize("seed", range(6))
def test_pmedian_objective_equals_spopt(seed: int) -> None:
    from spopt.locate import PMedian as SpoptPMedian

    cost, w, fixed = random_instance(seed, n=(15, 30), m=(8, 16))
    p = int(np.random.default_rng(200 + seed).integers(1, 4))
    ours = PMedian.from_cost_matrix(cost, w, p=p, fixed=fixed).solve()
    ref = SpoptPMedian.from_cost_matrix(cost, w, p_facilities=p + int(fixed.sum()),
                                        predefined_facilities_arr=_predefined(fixed))
    ref.solve(pulp.PULP_CBC_CMD(msg=False))
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(pulp.value(ref.problem.objective), rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_lscp_count_equals_spopt(seed: int) -> None:
    from spopt.locate import LSCP as SpoptLSCP

    cost, w, _ = random_instance(seed, n=(20, 40), m=(15, 30), max_fixed=0)
    threshold = float(np.max(np.min(cost, axis=1))) + 1.0  # every point reachable
    ours = LSCP.from_cost_matrix(cost, w, threshold=threshold).solve()
    ref = SpoptLSCP.from_cost_matrix(cost, threshold)
    ref.solve(pulp.PULP_CBC_CMD(msg=False))
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(pulp.value(ref.problem.objective))
    assert len(ours.selected) == ours.objective
    assert ours.coverage_after == 1.0


def milp_instance(seed: int) -> tuple[np.ndarray, np.ndarray, int, float, float]:
    """Larger random instances (30-80 demand points, 15-40 sites): cost, weights, p, an
    MCLP threshold and an LSCP threshold that reaches every point. The seeds used below
    are ones where greedy + Lagrangian (MCLP) or greedy + LP bound (LSCP) leave a gap."""
    rng = np.random.default_rng(seed)
    nd, ns = int(rng.integers(30, 80)), int(rng.integers(15, 40))
    cost = cdist(rng.uniform(0, 10_000, (nd, 2)), rng.uniform(0, 10_000, (ns, 2)))
    w = rng.integers(1, 100, nd).astype(float)
    p, mclp_threshold = int(rng.integers(2, 6)), float(rng.uniform(1500, 3000))
    lscp_threshold = max(float(np.max(np.min(cost, axis=1))) + 1.0,
                         float(rng.uniform(1500, 3000)))
    return cost, w, p, mclp_threshold, lscp_threshold


@pytest.mark.parametrize("seed", [20, 37, 46, 50, 52, 58])
def test_mclp_exact_milp_objective_equals_spopt(seed: int) -> None:
    """Instances the heuristic cannot prove: CBC really runs (method 'milp')."""
    from spopt.locate import MCLP as SpoptMCLP

    cost, w, p, threshold, _ = milp_instance(seed)
    ours = MCLP.from_cost_matrix(cost, w, threshold=threshold, p=p).solve()
    assert ours.method == "milp", "the heuristic closed the gap: CBC was not exercised"
    ref = SpoptMCLP.from_cost_matrix(cost, w, service_radius=threshold, p_facilities=p)
    ref.solve(pulp.PULP_CBC_CMD(msg=False))
    assert ours.status == "optimal" and ours.gap == 0.0
    assert ours.objective == pytest.approx(pulp.value(ref.problem.objective), abs=1e-6)
    assert ours.objective == pytest.approx(
        w[(cost[:, list(ours.selected)] <= threshold).any(axis=1)].sum())
    # the heuristic alone stops short of the optimum, or cannot prove it
    heuristic = MCLP.from_cost_matrix(cost, w, threshold=threshold, p=p).solve(
        solver="heuristic")
    assert heuristic.objective < ours.objective or heuristic.status == "feasible"


@pytest.mark.parametrize("seed", [0, 3, 4, 7, 8, 9])
def test_lscp_exact_milp_count_equals_spopt(seed: int) -> None:
    """Instances where the greedy cover is not proved by the bounds: CBC really runs."""
    from spopt.locate import LSCP as SpoptLSCP

    cost, w, _, _, threshold = milp_instance(seed)
    ours = LSCP.from_cost_matrix(cost, w, threshold=threshold).solve()
    assert ours.method == "milp", "the greedy met the bound: CBC was not exercised"
    ref = SpoptLSCP.from_cost_matrix(cost, threshold)
    ref.solve(pulp.PULP_CBC_CMD(msg=False))
    assert ours.status == "optimal" and ours.coverage_after == 1.0
    assert ours.objective == pytest.approx(pulp.value(ref.problem.objective))
    assert (cost[:, list(ours.selected)] <= threshold).any(axis=1).all()


# --- honest gaps ----------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["mclp", "pmedian"])
def test_heuristic_gap_is_never_below_true_gap(model: str) -> None:
    """On many small random instances: bound valid and reported gap >= true gap."""
    checked = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        nd, ns = int(rng.integers(15, 40)), int(rng.integers(8, 13))
        cost = cdist(rng.uniform(0, 5_000, (nd, 2)), rng.uniform(0, 5_000, (ns, 2)))
        w = rng.integers(1, 50, nd).astype(float)
        fixed = np.zeros(ns, dtype=bool)
        fixed[rng.choice(ns, int(rng.integers(0, 2)), replace=False)] = True
        p = int(rng.integers(1, 4))
        if model == "mclp":
            t = float(rng.uniform(800, 2000))
            r = MCLP.from_cost_matrix(cost, w, threshold=t, p=p, fixed=fixed).solve(
                solver="heuristic")
            opt = brute_force(cost, w, fixed, p, threshold=t)
            assert r.bound >= opt - 1e-6
            assert r.objective <= opt + 1e-6
            true_gap = (opt - r.objective) / r.objective
        else:
            r = PMedian.from_cost_matrix(cost, w, p=p, fixed=fixed).solve(solver="heuristic")
            opt = brute_force(cost, w, fixed, p, threshold=None)
            assert r.bound <= opt + 1e-6 * opt
            assert r.objective >= opt - 1e-6 * opt
            true_gap = (r.objective - opt) / r.objective
        assert r.gap >= true_gap - 1e-9, (seed, r.gap, true_gap)
        assert (r.status == "optimal") == (r.gap == 0.0)
        checked += 1
    assert checked == 40


@pytest.mark.parametrize("seed", range(15))
def test_lagrangian_bound_is_valid_from_any_start(seed: int) -> None:
    """Even cut short after a few steps, the Lagrangian bound is above the optimum."""
    cost, w, _ = random_instance(seed, m=(8, 13), max_fixed=0)
    p, t = 2, 1500.0
    inst = _reduce_cover(_coverage_matrix(cost, t), w, np.zeros(cost.shape[1], dtype=bool))
    opt = brute_force(cost, w, np.zeros(cost.shape[1], dtype=bool), p, threshold=t)
    for iterations in (1, 3, 50):
        ub, _, val = _lagrangian_cover(inst.cover.T.tocsr(), inst.weights, p, 0.0,
                                       deadline=math.inf, iterations=iterations)
        assert ub + inst.base >= opt - 1e-6
        assert val + inst.base <= opt + 1e-6


def test_time_limited_heuristic_reports_feasible_with_positive_gap() -> None:
    # A harder instance where greedy is suboptimal: overlapping sets designed to fool it.
    #   site 0 covers d0..d3 (weight 4), sites 1, 2 cover d0,d1,d4 / d2,d3,d5 (weight 3.5 each)
    cost = np.full((6, 3), 100.0)
    cost[[0, 1, 2, 3], 0] = 1
    cost[[0, 1, 4], 1] = 1
    cost[[2, 3, 5], 2] = 1
    w = np.array([1, 1, 1, 1, 1.5, 1.5])
    greedy_value = 4 + 1.5  # site 0 then one of 1/2
    r = MCLP.from_cost_matrix(cost, w, threshold=5, p=2).solve(solver="heuristic")
    assert r.objective >= greedy_value
    exact = MCLP.from_cost_matrix(cost, w, threshold=5, p=2).solve()
    assert exact.objective == 7.0 and set(exact.selected) == {1, 2}
    assert r.gap >= (7.0 - r.objective) / r.objective - 1e-12


# --- hand-computed behaviour --------------------------------------------------------------

def test_mclp_hand_example_existing_not_counted_in_p() -> None:
    model = MCLP.from_cost_matrix(HAND_COST, HAND_W, threshold=10, p=1, fixed=[0],
                                  site_ids=["ex", "a", "b", "c"],
                                  demand_ids=["d0", "d1", "d2", "d3"])
    r = model.solve()
    assert r.selected == ("c",) and r.existing == ("ex",)
    assert r.objective == 80.0 and r.bound == 80.0 and r.status == "optimal"
    assert r.coverage_before == pytest.approx(0.1)
    assert r.coverage_after == pytest.approx(0.8)
    assert r.marginal_gain[["site_id", "gain", "cumulative"]].values.tolist() == [
        ["c", 70.0, 80.0]]
    a = r.assignment.set_index("demand_id")
    assert a["site_id"].tolist() == ["ex", "ex", "c", "c"]
    assert a["distance"].tolist() == [5.0, 30.0, 7.0, 10.0]
    assert a["covered"].tolist() == [True, False, True, True]
    assert a["existing"].tolist() == [True, True, False, False]
    assert r.uncovered["demand_id"].tolist() == ["d1"]
    s = r.summary()
    assert s["objective"] == 80.0 and s["uncovered_points"] == 1 and s["selected"] == ["c"]


def test_mclp_hand_example_two_sites_marginal_gains_in_order() -> None:
    r = MCLP.from_cost_matrix(HAND_COST, HAND_W, threshold=10, p=2, fixed=[0]).solve()
    assert r.selected == (3, 1)
    assert r.marginal_gain["gain"].tolist() == [70.0, 20.0]
    assert r.marginal_gain["gain"].sum() == pytest.approx(
        (r.coverage_after - r.coverage_before) * r.total_weight)
    assert r.coverage_after == 1.0 and r.uncovered.empty


def test_mclp_without_existing_and_p_zero() -> None:
    r = MCLP.from_cost_matrix(HAND_COST, HAND_W, threshold=10, p=0).solve()
    assert r.selected == () and r.objective == 0.0 and r.coverage_after == 0.0
    assert r.assignment["site_id"].isna().all()


def test_mclp_duplicate_and_dominated_candidates_are_reduced() -> None:
    # columns 0 and 1 identical (cover d0, d1); column 2 covers d0 only (dominated)
    cost = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 9.0], [9.0, 9.0, 9.0]])
    w = np.array([1.0, 1.0, 1.0])
    inst = _reduce_cover(_coverage_matrix(cost, 5), w, np.zeros(3, dtype=bool))
    assert inst.columns.tolist() == [0]
    assert inst.cover.shape == (2, 1) and inst.weights.tolist() == [1.0, 1.0]
    r = MCLP.from_cost_matrix(cost, w, threshold=5, p=2).solve()
    # one site already covers all it can; the second would add nothing
    assert r.selected == (0,) and r.objective == 2.0


def test_mclp_merges_identical_demand_and_drops_already_covered() -> None:
    inst = _reduce_cover(_coverage_matrix(HAND_COST, 10), HAND_W,
                         np.array([True, False, False, False]))
    assert inst.base == 10.0  # d0 covered by the existing site
    # demand rows d1 (site 1), d2 (sites 2, 3), d3 (site 3); site 2 dominated by site 3
    assert inst.columns.tolist() == [1, 3]
    # demand is merged before dominance, so d2 and d3 stay apart
    assert inst.weights.tolist() == [20.0, 30.0, 40.0]
    assert inst.cover.toarray().tolist() == [[1, 0], [0, 1], [0, 1]]


def test_pmedian_hand_example() -> None:
    cost = np.array([[0.0, 4.0, 8.0], [4.0, 0.0, 4.0], [8.0, 4.0, 0.0]])
    r = PMedian.from_cost_matrix(cost, [1, 1, 5], p=1, threshold=5).solve()
    assert r.selected == (2,) and r.objective == 12.0  # 8 + 4 + 0 beats 4 + 0 + 20
    assert r.coverage_before == 0.0 and r.coverage_after == pytest.approx(6 / 7)
    assert math.isnan(r.marginal_gain["gain"].iloc[0])  # no existing site: nothing to compare
    with_existing = PMedian.from_cost_matrix(cost, [1, 1, 5], p=1, fixed=[2]).solve()
    assert with_existing.selected == (0,) and with_existing.objective == 4.0
    assert with_existing.marginal_gain["gain"].tolist() == [8.0]  # 12 -> 4
    assert math.isnan(with_existing.coverage_after)


def test_lscp_target_share_and_existing() -> None:
    r = LSCP.from_cost_matrix(HAND_COST, HAND_W, threshold=10, target_share=0.75, fixed=[0])
    res = r.solve()
    assert res.objective == 1.0 and res.selected == (3,)  # 10 + 70 >= 75
    full = LSCP.from_cost_matrix(HAND_COST, HAND_W, threshold=10, fixed=[0]).solve()
    assert full.objective == 2.0 and set(full.selected) == {1, 3}
    none_needed = LSCP.from_cost_matrix(HAND_COST, HAND_W, threshold=10, target_share=0.1,
                                        fixed=[0]).solve()
    assert none_needed.objective == 0.0 and none_needed.selected == ()


def test_lscp_unreachable_target_is_an_error() -> None:
    with pytest.raises(ValidationError, match=r"only 30\.0%.*\(3 demand points have no site"
                       r".*target_share=None.*at most 0\.3\b"):
        LSCP.from_cost_matrix(HAND_COST, HAND_W, threshold=3, target_share=1.0)


@pytest.mark.parametrize("fixed", [None, [True, False, False, False]])
def test_lscp_default_target_is_everyone_within_reach(fixed) -> None:
    # within 9 m: d0 by sites 0 and 1, d1 by site 1, d2 by sites 2 and 3; d3 (40 %) by none
    model = LSCP.from_cost_matrix(HAND_COST, HAND_W, threshold=9, fixed=fixed)
    assert model.target_share == pytest.approx(0.6)
    r = model.solve()
    assert set(r.selected) == {1, 2} and r.objective == 2.0 and r.status == "optimal"
    assert r.coverage_after == pytest.approx(0.6)
    assert r.uncovered["demand_id"].tolist() == [3]
    assert r.coverage_before == pytest.approx(0.1 if fixed else 0.0)
    # explicit shares below the reachable one: no single site reaches 50 (site 1 covers
    # d0 + d1 = 30, site 2 d2 = 30; with site 0 open, 10 + 30 at most), but one reaches 30
    half = LSCP.from_cost_matrix(HAND_COST, HAND_W, threshold=9, target_share=0.5,
                                 fixed=fixed).solve()
    assert half.objective == 2.0 and half.coverage_after == pytest.approx(0.6)
    third = LSCP.from_cost_matrix(HAND_COST, HAND_W, threshold=9, target_share=0.3,
                                  fixed=fixed).solve()
    assert third.objective == 1.0 and third.coverage_after >= 0.3


def _five_cycle() -> tuple[np.ndarray, np.ndarray]:
    """Site j covers demand j and j+1 (mod 5). Covering all needs 3 sites; the LP
    relaxation is 2.5 (every x = 1/2), so its bound is 3, while the "largest sets" bound
    is only 2 because demand 0 weighs 10."""
    cost = np.full((5, 5), 100.0)
    for j in range(5):
        cost[j, j] = cost[(j + 1) % 5, j] = 1.0
    return cost, np.array([10.0, 1.0, 1.0, 1.0, 1.0])


def test_lscp_lp_bound_is_used_only_when_the_lp_was_solved_to_optimality(
        tmp_path, monkeypatch) -> None:
    from pulp.apis.coin_api import COIN_CMD

    from geointel.siting import _lscp_lp_bound

    cost, w = _five_cycle()
    inst = _reduce_cover(_coverage_matrix(cost, 2.0), w, np.zeros(5, dtype=bool))
    assert _lscp_lp_bound(inst, float(w.sum()), True, 10) == pytest.approx(2.5)
    proved = LSCP.from_cost_matrix(cost, w, threshold=2).solve(solver="heuristic")
    assert (proved.objective, proved.bound, proved.status) == (3.0, 3.0, "optimal")
    # CBC stopping on its time limit writes "Stopped on time - objective value ..."; pulp
    # 2.9 reads that as status Optimal with solution status IntegerFeasible
    real = COIN_CMD.get_status
    stopped = tmp_path / "stopped.sol"
    stopped.write_text("Stopped on time - objective value 2.5\n")
    monkeypatch.setattr(COIN_CMD, "get_status", lambda self, _: real(self, str(stopped)))
    assert _lscp_lp_bound(inst, float(w.sum()), True, 10) == 0.0
    honest = LSCP.from_cost_matrix(cost, w, threshold=2).solve(solver="heuristic")
    assert (honest.objective, honest.bound, honest.status) == (3.0, 2.0, "feasible")
    assert honest.gap == pytest.approx(1 / 3)


def test_result_is_frozen_and_inputs_untouched() -> None:
    cost, w = HAND_COST.copy(), HAND_W.copy()
    r = MCLP.from_cost_matrix(cost, w, threshold=10, p=1).solve()
    assert isinstance(r, SitingResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.objective = 0.0  # type: ignore[misc]
    np.testing.assert_array_equal(cost, HAND_COST)
    np.testing.assert_array_equal(w, HAND_W)


def test_progress_is_reported() -> None:
    seen: list[tuple[int, int, str]] = []
    MCLP.from_cost_matrix(HAND_COST, HAND_W, threshold=10, p=1).solve(
        progress=lambda d, t, m: seen.append((d, t, m)))
    assert seen[0][0] == 0 and seen[-1] == (4, 4, "done")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"cost": np.array([[1.0, np.nan]])}, "NaN"),
    ({"cost": np.array([[1.0, -2.0]])}, ">= 0"),
    ({"weights": [1.0, 2.0]}, "1 demand points"),
    ({"weights": [-1.0]}, "finite and >= 0"),
    ({"p": 3}, "only 2 candidate sites"),
    ({"threshold": 0}, "positive distance"),
    ({"fixed": [5]}, "column indices"),
])
def test_validation_errors_name_the_argument(kwargs: dict, match: str) -> None:
    args = {"cost": np.array([[1.0, 2.0]]), "weights": [1.0], "threshold": 5.0, "p": 1}
    args.update(kwargs)
    with pytest.raises(ValidationError, match=match):
        MCLP.from_cost_matrix(args.pop("cost"), args.pop("weights"), **args)


def test_unknown_solver_is_an_error() -> None:
    with pytest.raises(ValidationError, match="solver='gurobi'"):
        MCLP.from_cost_matrix(HAND_COST, HAND_W, threshold=10, p=1).solve(solver="gurobi")


def test_pmedian_unreachable_demand_is_an_error() -> None:
    with pytest.raises(ValidationError, match="reach no site"):
        PMedian.from_cost_matrix(np.array([[1.0], [np.inf]]), [1, 1], p=1)


# --- from_geodataframe --------------------------------------------------------------------

def _layers(crs: str = "EPSG:27700") -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame,
                                              gpd.GeoDataFrame]:
    demand = gpd.GeoDataFrame({"lsoa_code": ["A", "B", "C"], "population": [100, 50, 10]},
                              geometry=[Point(0, 0), Point(2000, 0), Point(10_000, 0)], crs=crs)
    cands = gpd.GeoDataFrame({"site": ["s1", "s2"]},
                             geometry=[Point(100, 0), Point(9_900, 0)], crs=crs)
    existing = gpd.GeoDataFrame({"site": ["hub"]}, geometry=[Point(2100, 0)], crs=crs)
    return demand, cands, existing


def test_from_geodataframe_uses_distance_matrix_and_existing() -> None:
    demand, cands, existing = _layers()
    m = MCLP.from_geodataframe(demand, cands, weight_col="population", threshold=500, p=1,
                               existing=existing, demand_id_col="lsoa_code", site_id_col="site")
    # 100 m straight line x 1.3 detour = 130 m
    assert m.cost[0, 0] == pytest.approx(130.0)
    assert m.site_ids == ("s1", "s2", "hub") and m.fixed.tolist() == [False, False, True]
    r = m.solve()
    assert r.selected == ("s1",) and r.existing == ("hub",)
    assert r.coverage_before == pytest.approx(50 / 160)
    assert r.coverage_after == pytest.approx(150 / 160)
    assert r.uncovered["demand_id"].tolist() == ["C"]
    p = PMedian.from_geodataframe(demand, cands, weight_col="population", p=1,
                                  existing=existing).solve()
    assert p.selected == ("candidate:0",) and p.existing == ("existing:0",)


def test_from_geodataframe_refuses_geographic_crs() -> None:
    demand, cands, _ = _layers()
    with pytest.raises(CRSError, match="geographic"):
        MCLP.from_geodataframe(demand.set_crs("EPSG:4326", allow_override=True), cands,
                               weight_col="population", threshold=500, p=1)
    with pytest.raises(CRSError, match="no CRS"):
        LSCP.from_geodataframe(demand, cands.set_crs(None, allow_override=True),
                               weight_col="population", threshold=500)


def test_from_geodataframe_refuses_polygons_and_bad_weights() -> None:
    demand, cands, _ = _layers()
    polys = demand.set_geometry([box(0, 0, 1, 1)] * 3)
    with pytest.raises(ValidationError, match=r"Area\.centroids"):
        MCLP.from_geodataframe(polys, cands, weight_col="population", threshold=500, p=1)
    with pytest.raises(ValidationError, match="no weight column 'pop'"):
        MCLP.from_geodataframe(demand, cands, weight_col="pop", threshold=500, p=1)
    bad = demand.assign(population=["1", "x", "3"])
    with pytest.raises(ValidationError, match="1 values are missing"):
        MCLP.from_geodataframe(bad, cands, weight_col="population", threshold=500, p=1)


# --- scenarios ------------------------------------------------------------------------------

def test_sweep_over_p_and_threshold() -> None:
    t = sweep(HAND_COST, HAND_W, ps=[0, 1, 2], thresholds=[7, 10], fixed=[0])
    assert t[["threshold", "p"]].values.tolist() == [
        [7, 0], [7, 1], [7, 2], [10, 0], [10, 1], [10, 2]]
    # threshold 7: existing covers d0 (10); site 2 or 3 adds d2 (30); then site 1/3 nothing
    assert t["objective"].tolist() == [10.0, 40.0, 40.0, 10.0, 80.0, 100.0]
    assert t["gain"].round(2).tolist() == [0.0, 0.3, 0.3, 0.0, 0.7, 0.9]
    assert t["uncovered_points"].tolist() == [3, 2, 2, 3, 1, 0]
    assert set(t["status"]) == {"optimal"}


# --- need index -----------------------------------------------------------------------------

def test_need_index_contributions_hand_computed() -> None:
    table = pd.DataFrame({"lsoa_code": ["a", "b", "c", "d"],
                          "rate": [0.0, 10.0, 5.0, 20.0],
                          "imd_decile": [10, 1, 5, 5],
                          "deaths": [1.0, 3.0, 1.0, 3.0]})
    recipe = {"id_column": "lsoa_code", "components": [
        {"name": "rate", "column": "rate", "normalise": "minmax", "weight": 2},
        {"name": "dep", "column": "imd_decile", "normalise": "rank", "invert": True,
         "weight": 1},
        {"name": "deaths", "column": "deaths", "normalise": "z", "weight": 1},
    ]}
    out = need_index(table, recipe)
    # rate minmax: 0, .5, .25, 1 -> x 0.5
    assert out["contribution_rate"].tolist() == [0.0, 0.25, 0.125, 0.5]
    # decile ranks (avg ties): 4, 1, 2.5, 2.5 -> (r-1)/3 = 1, 0, .5, .5 -> inverted 0, 1, .5, .5
    assert out["contribution_dep"].tolist() == [0.0, 0.25, 0.125, 0.125]
    # deaths z: mean 2, sd 1 -> -1, 1, -1, 1 -> x 0.25
    assert out["contribution_deaths"].tolist() == [-0.25, 0.25, -0.25, 0.25]
    assert out["need_index"].tolist() == [-0.25, 0.75, 0.0, 0.875]
    assert out["lsoa_code"].tolist() == ["a", "b", "c", "d"]
    assert "contribution_rate" not in table.columns


def test_need_index_missing_columns_and_values() -> None:
    table = pd.DataFrame({"imd_decile": [1, 2, None]})
    base = {"name": "dep", "column": "imd_decile", "normalise": "minmax", "invert": True}
    with pytest.raises(ValidationError, match="1 missing"):
        need_index(table, {"components": [base]})
    filled = need_index(table, {"components": [{**base, "fill": "median"}]})
    assert filled["need_index"].tolist() == [1.0, 0.0, 0.5]
    with pytest.raises(ValidationError, match="needs column 'rate'"):
        need_index(table, {"components": [{"name": "rate", "fill": "zero"}]})
    skipped = need_index(table, {"components": [
        {**base, "fill": "zero"}, {"name": "rate", "optional": True, "weight": 5}]})
    assert skipped.attrs["skipped"] == ["rate"]
    assert skipped["need_index"].tolist() == [0.5, 0.0, 1.0]
    with pytest.raises(ValidationError, match="normalise='log'"):
        need_index(table, {"components": [{**base, "normalise": "log"}]})


def test_default_recipe_runs_on_an_area_table(tmp_path) -> None:
    recipe = load_recipe(PROJECT_ROOT / "models" / "need_index.yaml")
    table = pd.DataFrame({"lsoa_code": ["x", "y", "z"], "imd_decile": [1, 10, 4],
                          "dist_any": [500.0, 1500.0, 1000.0]})
    out = need_index(table, recipe)
    assert set(out.attrs["skipped"]) == {"drug_offence_rate", "drug_deaths", "unmet_need"}
    # deprivation (0.25) and distance (0.15) rescaled to 0.625 / 0.375
    assert out["need_index"].round(4).tolist() == [0.625, 0.375, round(0.3125 + 0.1875, 4)]
    broken = tmp_path / "recipe.yaml"
    broken.write_text("components: [a, b\n")
    with pytest.raises(DataFileError, match="not valid YAML"):
        load_recipe(broken)


def test_need_table_joins_offences_deaths_and_distance_then_the_default_recipe() -> None:
    from geointel.siting import need_table

    lsoas = gpd.GeoDataFrame({
        "lsoa_code": ["A", "B", "C"], "population": [1000, 500, 2000],
        "ward_code": ["W1", "W1", "W2"], "lad_code": ["L", "L", "L"],
        "imd_decile": [1, 5, 10], "centroid_easting": [500.0, 1500.0, 2500.0],
        "centroid_northing": [500.0, 500.0, 500.0]},
        geometry=[box(x, 0, x + 1000, 1000) for x in (0, 1000, 2000)], crs="EPSG:27700")
    offences = pd.DataFrame({"lsoa_code": ["A", "A", "C", "Z"]})
    deaths = gpd.GeoDataFrame({
        "lsoa_code": ["A", "B", "", "C"], "count": [3, 2, 1, 4],
        "category": ["death", "non_fatal_overdose", "death", "death"],
        "month": ["2019-01", "2019-01", "2019-02", "2019-03"]},
        geometry=[None, None, Point(2500, 900), None], crs="EPSG:27700")
    services = gpd.GeoDataFrame({"site_id": ["S"]}, geometry=[Point(500, 500)],
                                crs="EPSG:27700")
    # deaths by ward, as partners see them: W1 3 (A; B's row is an overdose), W2 5 (C: 1
    # placed by its point + 4); with threshold 3 both are published
    table = need_table(lsoas, offences=offences, deaths=deaths, services=services,
                       suppression_threshold=3)
    assert table["drug_offence_rate"].tolist() == [2.0, 0.0, 0.5]   # per 1,000 residents
    assert table["drug_death_rate"].tolist() == pytest.approx(
        [3 / 1500 * 1e5, 3 / 1500 * 1e5, 5 / 2000 * 1e5])          # per 100,000 in the ward
    assert table["dist_any"].tolist() == pytest.approx([0.0, 1300.0, 2600.0])  # x 1.3
    assert "drug_death_rate" not in lsoas.columns
    # with threshold 5, W1's 3 is hidden, and W2's 5 with it (their total, 8, is known):
    # each counts as 2.5 people, so the index says nothing the ward table hides
    hidden = need_table(lsoas, deaths=deaths, suppression_threshold=5)
    assert hidden["drug_death_rate"].tolist() == pytest.approx(
        [2.5 / 1500 * 1e5, 2.5 / 1500 * 1e5, 2.5 / 2000 * 1e5])
    out = need_index(table, PROJECT_ROOT / "models" / "need_index.yaml")
    # used: offences .30, deaths .20, deprivation .25, distance .15 of 0.90
    assert out.attrs["used"] == pytest.approx({"drug_offence_rate": 1 / 3,
                                               "drug_deaths": 2 / 9,
                                               "deprivation": 0.25 / 0.9,
                                               "distance_to_service": 1 / 6})
    assert out.attrs["skipped_columns"] == {"unmet_need": "unmet_need"}
    # rank(rate) 1, 0, .5; minmax(death rate) 0, 0, 1; inverted rank(decile) 1, .5, 0;
    # minmax(distance) 0, .5, 1
    expected = [1 / 3 + 0.25 / 0.9,
                0.5 * 0.25 / 0.9 + 0.5 / 6,
                0.5 / 3 + 2 / 9 + 1 / 6]
    assert out["need_index"].tolist() == pytest.approx(expected)
    contributions = out.filter(like="contribution_").sum(axis=1)
    assert contributions.tolist() == pytest.approx(expected)
    bare = need_index(need_table(lsoas), PROJECT_ROOT / "models" / "need_index.yaml")
    assert bare.attrs["used"] == {"deprivation": 1.0}
    with pytest.raises(ValidationError, match="services has no rows"):
        need_table(lsoas, services=services.iloc[:0])


# --- real data ------------------------------------------------------------------------------

@pytest.mark.mirror
def test_southend_stops_against_spopt(mirror) -> None:
    from spopt.locate import MCLP as SpoptMCLP

    from geointel.io.boundaries import read_boundaries
    from geointel.io.naptan import read_naptan

    codes = set(read_boundaries(mirror / "boundaries/lsoa11/E06000033.geojson").data["code"])
    cent = pd.read_csv(mirror / "centroids/lsoa11_population_weighted_centroids.csv")
    cent = cent[cent["lsoa11cd"].isin(codes)].reset_index(drop=True)
    demand = gpd.GeoDataFrame(
        cent, geometry=gpd.points_from_xy(cent["longitude"], cent["latitude"]),
        crs="EPSG:4326").to_crs("EPSG:27700").assign(weight=1.0)
    stops = read_naptan(mirror / "naptan/158Stops.csv").data
    model = MCLP.from_geodataframe(demand, stops, weight_col="weight", threshold=800, p=5,
                                   demand_id_col="lsoa11cd", site_id_col="atco_code")
    r = model.solve()
    ref = SpoptMCLP.from_cost_matrix(model.cost, model.weights, service_radius=800,
                                     p_facilities=5)
    ref.solve(pulp.PULP_CBC_CMD(msg=False))
    assert len(demand) == len(codes) == 107
    assert r.objective == pytest.approx(pulp.value(ref.problem.objective))
    assert all(str(s).startswith("158") for s in r.selected)
