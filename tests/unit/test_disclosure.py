"""Disclosure control: small counts hidden, hidden counts not recoverable from totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from geointel.errors import PrivacyError, ValidationError
from geointel.privacy import check_no_small_counts, partner_layers, suppress_small_counts


def _hidden(out: pd.DataFrame, col: str) -> list[bool]:
    return out[f"{col}_suppressed"].tolist()


# ------------------------------------------------------------------ hand examples

def test_primary_and_smallest_complement_in_one_column() -> None:
    t = pd.DataFrame({"area": list("ABCDE"), "n": [0, 3, 12, 20, 8]})
    out = suppress_small_counts(t, columns=["n"], threshold=5)
    # 3 is small; the column total would give it away, so the smallest other
    # non-zero count (8) is hidden too; 0 is not disclosive and stays
    assert out["n"].tolist() == [0, pd.NA, 12, 20, pd.NA]
    assert _hidden(out, "n") == [False, True, False, False, True]
    assert out["area"].tolist() == list("ABCDE")


def test_zero_is_never_hidden_while_a_non_zero_complement_exists() -> None:
    t = pd.DataFrame({"n": [3, 0, 9, 15]})
    assert _hidden(suppress_small_counts(t, columns=["n"], threshold=5), "n") == [
        True, False, True, False]


def test_zero_is_the_complement_of_last_resort() -> None:
    t = pd.DataFrame({"n": [0, 3, 0]})
    assert _hidden(suppress_small_counts(t, columns=["n"], threshold=5), "n") == [
        True, True, False]


def test_two_primary_cells_need_no_complement() -> None:
    t = pd.DataFrame({"n": [2, 3, 40, 50]})
    assert _hidden(suppress_small_counts(t, columns=["n"], threshold=5), "n") == [
        True, True, False, False]


def test_threshold_one_hides_nothing_and_counts_at_threshold_are_published() -> None:
    t = pd.DataFrame({"n": [1, 5, 4]})
    assert suppress_small_counts(t, columns=["n"], threshold=1)["n"].tolist() == [1, 5, 4]
    assert suppress_small_counts(t, columns=["n"], threshold=5)["n"].tolist() == [
        pd.NA, 5, pd.NA]


def test_two_way_table_protects_rows_and_columns() -> None:
    t = pd.DataFrame({"ward": ["W1", "W2", "W3"],
                      "male": [2, 10, 30], "female": [7, 6, 40]})
    out = suppress_small_counts(t, columns=["male", "female"], threshold=5)
    # male 2 (W1) is primary. Row W1 -> hide female 7; column male -> hide 10;
    # column female now has only 7 hidden -> hide 6; row W2 has 10 and 6 hidden.
    assert _hidden(out, "male") == [True, True, False]
    assert _hidden(out, "female") == [True, True, False]
    assert out.loc[2, ["male", "female"]].tolist() == [30, 40]


def test_group_totals_are_published_protected_and_flagged() -> None:
    t = pd.DataFrame({"la": ["X", "X", "Y", "Y", "Z"], "n": [1, 2, 10, 11, 30]})
    out = suppress_small_counts(t, columns=["n"], threshold=5, group_by="la", total_row=True)
    assert out["is_total"].tolist() == [False] * 5 + [True] * 4
    assert out["la"].tolist() == ["X", "X", "Y", "Y", "Z", "X", "Y", "Z", "Total"]
    # X's total (3) is small itself, so the grand total would give it away: the
    # smallest other group total (Y = 21) is hidden, which then needs a partner in Y (10)
    assert out["n"].tolist() == [pd.NA, pd.NA, pd.NA, 11, 30, pd.NA, pd.NA, 30, 54]
    check_no_small_counts(out, columns=["n"], threshold=5)


def test_totals_come_from_unsuppressed_counts() -> None:
    t = pd.DataFrame({"n": [3, 4, 50]})
    out = suppress_small_counts(t, columns=["n"], threshold=5, total_row=True)
    assert out["n"].tolist() == [pd.NA, pd.NA, 50, 57]


def test_fractional_counts_keep_their_values() -> None:
    t = pd.DataFrame({"n": [0.5, 2.5, 7.25, 9.0]})
    out = suppress_small_counts(t, columns=["n"], threshold=5)
    assert str(out["n"].dtype) == "Float64"
    assert out["n"].tolist() == [pd.NA, pd.NA, 7.25, 9.0]


def test_input_is_not_modified() -> None:
    t = pd.DataFrame({"n": [3, 9, 12]})
    before = t.copy()
    suppress_small_counts(t, columns=["n"], threshold=5, total_row=True)
    pd.testing.assert_frame_equal(t, before)


@pytest.mark.parametrize(("table", "kwargs", "match"), [
    (pd.DataFrame({"n": [1, -2]}), {}, "non-negative counts"),
    (pd.DataFrame({"n": [1, None]}), {}, "fill missing counts"),
    (pd.DataFrame({"n": ["a", "1"]}), {}, "not non-negative counts"),
    (pd.DataFrame({"n": [1]}), {"columns": ["m"]}, "not in the table"),
    (pd.DataFrame({"n": [1]}), {"threshold": 0}, "threshold must be"),
    (pd.DataFrame({"n": [1]}), {"group_by": "g"}, "group_by column 'g'"),
    (pd.DataFrame({"n": [1], "g": [None]}), {"group_by": "g"}, "missing values"),
])
def test_bad_input_is_refused(table: pd.DataFrame, kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"columns": ["n"], "threshold": 5, **kwargs}
    with pytest.raises(ValidationError, match=match):
        suppress_small_counts(table, **args)


def test_check_no_small_counts() -> None:
    check_no_small_counts(pd.DataFrame({"n": [0, 5, None, 100]}), columns=["n"], threshold=5)
    with pytest.raises(PrivacyError, match=r"column 'n' has 2 counts from 1 to 4"):
        check_no_small_counts(pd.DataFrame({"n": [0, 1, 4, 5]}), columns=["n"], threshold=5)
    with pytest.raises(ValidationError, match="'m' is not in the table"):
        check_no_small_counts(pd.DataFrame({"n": [0]}), columns=["m"], threshold=5)


# ------------------------------------------------------------------ partner layers

@dataclass(frozen=True)
class Layer:
    name: str
    frame: Any
    sensitivity: str


def _points(**cols: list[Any]) -> gpd.GeoDataFrame:
    n = len(next(iter(cols.values())))
    return gpd.GeoDataFrame(cols, geometry=[Point(600000 + i, 190000) for i in range(n)],
                            crs=27700)


def test_partner_layers_drops_personal_points_and_keeps_places_and_areas() -> None:
    wards = gpd.GeoDataFrame({"ward": ["Milton"], "rate": [3.1]},
                             geometry=[box(0, 0, 1, 1)], crs=27700)
    layers = [
        Layer("offences", _points(crime_type=["Drugs"]), "partner"),
        Layer("drug deaths", _points(age=[40]), "partner"),
        Layer("homes", _points(address=["1 High St"]), "partner"),
        Layer("services", _points(service=["Naloxone point"]), "public"),
        Layer("ward rates", wards, "partner"),
        Layer("crime rate", wards, "partner"),  # aggregated: kept
    ]
    kept = partner_layers(layers)
    assert [layer.name for layer in kept] == ["services", "ward rates", "crime rate"]
    assert kept[0] is layers[3]


def test_partner_layers_accepts_tuples_and_plain_point_frames() -> None:
    plain = pd.DataFrame({"incident": ["x"], "latitude": [51.5], "longitude": [0.7]})
    stops = pd.DataFrame({"stop": ["Southend Victoria"], "lat": [51.5], "lon": [0.7]})
    kept = partner_layers([("incidents", plain, "partner"), ("stops", stops, "public")])
    assert [name for name, _, _ in kept] == ["stops"]


def test_partner_layers_refuses_police_layers_and_unknown_sensitivity() -> None:
    wards = pd.DataFrame({"ward": ["Milton"]})
    with pytest.raises(PrivacyError, match="'lines' is police-only"):
        partner_layers([Layer("ok", wards, "public"), Layer("lines", wards, "police")])
    with pytest.raises(ValidationError, match="sensitivity 'secret'"):
        partner_layers([Layer("x", wards, "secret")])
    with pytest.raises(ValidationError, match="neither a MapLayer"):
        partner_layers([wards])


# ------------------------------------------------------------------ properties

def _equations(n: int, k: int, groups: list[np.ndarray], total_row: bool,
               grouped: bool) -> list[list[tuple[int, int, float]]]:
    """The sums a reader knows, as lists of (row, column, sign) in the output table."""
    eqs: list[list[tuple[int, int, float]]] = []
    totals = list(range(n, n + len(groups))) if (total_row and grouped) else []
    grand = n + len(totals) if total_row else None
    for j in range(k):
        for g, rows in enumerate(groups):
            eq = [(int(i), j, 1.0) for i in rows]
            if total_row:
                eq.append((totals[g] if grouped else grand, j, -1.0))  # type: ignore[arg-type]
            eqs.append(eq)
        if grouped and total_row:
            eqs.append([(t, j, 1.0) for t in totals] + [(grand, j, -1.0)])  # type: ignore[list-item]
    if k >= 2:
        for i in range(n + len(totals) + (1 if total_row else 0)):
            eqs.append([(i, j, 1.0) for j in range(k)])
    # a known total over one cell (a group of one row, no total row) is that cell
    return [e for e in eqs if e]


def _lp_range(source: np.ndarray, hidden: np.ndarray, eqs: list[list[tuple[int, int, float]]],
              threshold: int) -> dict[tuple[int, int], tuple[float, float]]:
    """Independent interval audit: min and max of every hidden cell by linear programming,
    given the published cells, the known sums ``eqs`` and what the rule tells a reader
    (a hidden cell is >= 1 as zeros are shown, or >= 0 if it is a hidden zero; a small one
    is <= threshold - 1)."""
    from scipy.optimize import linprog

    unknown = [tuple(int(v) for v in x) for x in np.argwhere(hidden)]
    pos = {u: i for i, u in enumerate(unknown)}
    rows, rhs = [], []
    for eq in eqs:
        row = np.zeros(len(unknown))
        known = 0.0
        for i, j, sign in eq:
            if (i, j) in pos:
                row[pos[(i, j)]] += sign
            else:
                known += sign * source[i, j]
        if row.any():
            rows.append(row)
            # the reader knows the equation's constant: 0 with a published total cell,
            # else the total itself; either way it equals the true sum of the hidden part
            rhs.append(sum(sign * source[i, j] for i, j, sign in eq) - known)
    bounds = []
    for i, j in unknown:
        v = source[i, j]
        if 1 <= v < threshold:
            bounds.append((1.0, float(threshold - 1)))
        else:
            bounds.append((1.0 if v >= 1 else 0.0, None))
    out = {}
    for u, col in pos.items():
        if not rows:
            out[u] = (bounds[col][0], np.inf if bounds[col][1] is None else bounds[col][1])
            continue
        ends = []
        for sign in (1.0, -1.0):
            c = np.zeros(len(unknown))
            c[col] = sign
            res = linprog(c, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=bounds,
                          method="highs")
            assert res.status in (0, 3), res.message  # the true values are feasible
            ends.append(np.inf if res.status == 3 else float(res.x[col]))
        out[u] = (ends[0], ends[1])
    return out


def _single(lo: float, hi: float) -> bool:
    return np.floor(hi + 1e-6) - np.ceil(lo - 1e-6) < 1


tables = st.integers(1, 7).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.integers(0, 25), min_size=n, max_size=n), min_size=1, max_size=3),
    st.lists(st.sampled_from("ABC"), min_size=n, max_size=n),
    st.booleans(), st.booleans(), st.integers(2, 10)))


def _case_frame(cols_values: list[list[int]], group_labels: list[str], grouped: bool,
                total_row: bool) -> tuple[pd.DataFrame, list[str], np.ndarray, list[np.ndarray]]:
    columns = [f"c{j}" for j in range(len(cols_values))]
    table = pd.DataFrame({"g": group_labels, **dict(zip(columns, cols_values, strict=True))})
    n = len(table)
    source = np.array(cols_values, dtype=float).T
    if grouped:
        labels = list(pd.unique(table["g"]))
        groups = [np.flatnonzero(table["g"].to_numpy() == lab) for lab in labels]
    else:
        groups = [np.arange(n)]
    if total_row:
        extra = [source[g].sum(axis=0) for g in groups] if grouped else []
        source = np.vstack([source, *extra, source.sum(axis=0)])
    return table, columns, source, groups


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_suppression_properties(case: tuple[list[list[int]], list[str], bool, bool, int]) -> None:
    cols_values, group_labels, grouped, total_row, threshold = case
    table, columns, source, groups = _case_frame(cols_values, group_labels, grouped, total_row)
    n, k = len(table), len(columns)
    eqs = _equations(n, k, groups, total_row, grouped)
    small = (source >= 1) & (source < threshold)
    try:
        out = suppress_small_counts(table, columns=columns, threshold=threshold,
                                    total_row=total_row, group_by="g" if grouped else None)
    except PrivacyError:
        # refused only when the table cannot be protected at all: with every cell hidden,
        # some cell is still pinned by the totals (that a small one is 1 when threshold
        # is 2 is the rule's doing, not the totals')
        everything = np.ones_like(source, dtype=bool)
        ranges = _lp_range(source, everything, eqs, threshold)
        assert any(_single(lo, hi) and not (threshold == 2 and small[u])
                   for u, (lo, hi) in ranges.items())
        return

    # 1. nothing small is published, anywhere (cells and totals)
    check_no_small_counts(out, columns=columns, threshold=threshold)
    hidden = np.column_stack([out[f"{c}_suppressed"].to_numpy(bool) for c in columns])
    published = out[columns].to_numpy(dtype=float, na_value=np.nan)
    # 2. published values are the true counts; hidden ones are missing
    assert np.array_equal(np.isnan(published), hidden)
    assert np.array_equal(published[~hidden], source[~hidden])
    # 3. primary suppression is exactly the small cells
    assert not (small & ~hidden).any()
    # 4. no group with a known total has exactly one hidden cell: total minus the
    #    visible cells never equals a hidden cell on its own
    for eq in eqs:
        assert sum(hidden[i, j] for i, j, _ in eq) != 1, eq
    # 5. the interval audit, done independently: given the totals and what the rule
    #    says about hidden cells, no hidden cell can be narrowed to a single value
    for u, (lo, hi) in _lp_range(source, hidden, eqs, threshold).items():
        if threshold == 2 and small[u]:
            assert (lo, hi) == (1.0, 1.0)  # the rule alone says a small count is 1
            continue
        assert not _single(lo, hi), (u, source[u], lo, hi)
        assert lo <= source[u] <= hi


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=10), st.integers(3, 8))
def test_the_first_complement_is_the_smallest_non_zero_cell(values: list[int],
                                                           threshold: int) -> None:
    primary = [1 <= v < threshold for v in values]
    try:
        out = suppress_small_counts(pd.DataFrame({"n": values}), columns=["n"],
                                    threshold=threshold)
    except PrivacyError:
        # e.g. [1, 0]: a total of 1 says the one small cell is 1
        assert sum(v for v in values if v >= threshold) == 0
        return
    hidden = out["n_suppressed"].tolist()
    assert all(h for h, p in zip(hidden, primary, strict=True) if p)
    if sum(primary) != 1:
        return
    others = [(v == 0, v, i) for i, v in enumerate(values) if not primary[i]]
    assert hidden[min(others)[2]]


def test_hidden_ones_under_a_known_total_get_a_complement() -> None:
    # the audit's finding: 20 LSOAs with one death each, the rest zero, and a total of
    # 20 (the benchmark rate gives it) -> every hidden cell was exactly 1; with nothing
    # else to hide (even the zeros, hidden as a last resort, do not help) it is refused
    ones = pd.DataFrame({"n": [1] * 20 + [0] * 5})
    with pytest.raises(PrivacyError, match="pin 25 suppressed cell"):
        suppress_small_counts(ones, columns=["n"], threshold=5)
    t = pd.DataFrame({"n": [1] * 20 + [0] * 5 + [30, 7]})
    out = suppress_small_counts(t, columns=["n"], threshold=5)
    # the group rule sees 20 hidden cells and adds nothing; the interval audit finds each
    # one pinned to 1 and hides the smallest non-zero cell (7): total 27 over 21 hidden
    # cells lets each one be anything from 1 to 4, and the 7 anything from 1 to 7
    assert out["n_suppressed"].tolist() == [True] * 20 + [False] * 5 + [False, True]
    assert out["n"].iloc[-2] == 30


def test_small_cells_at_their_upper_bound_are_not_pinned() -> None:
    # 6 + 6 with threshold 7: two hidden cells under a total of 12 can only be 6 each;
    # the quick rule is satisfied (two hidden) but the upper bound of small cells is not
    t = pd.DataFrame({"n": [6, 6, 0, 40]})
    out = suppress_small_counts(t, columns=["n"], threshold=7)
    assert out["n_suppressed"].tolist() == [True, True, False, True]


def test_feasible_ranges_through_a_chain_of_rows_and_columns() -> None:
    from geointel.privacy import feasible_ranges

    # 2 x 2 table with row and column totals known; hiding all four leaves one degree of
    # freedom, worked by hand below
    values = np.array([2.0, 9.0, 8.0, 3.0])  # [[a, b], [c, d]] row-major
    hidden = np.ones(4, dtype=bool)
    eqs = [(np.array([0, 1]), np.ones(2)), (np.array([2, 3]), np.ones(2)),
           (np.array([0, 2]), np.ones(2)), (np.array([1, 3]), np.ones(2))]
    lo, hi = feasible_ranges(values, hidden, eqs, threshold=5)
    # a + b = 11, c + d = 11, a + c = 10, b + d = 12; a and d small (1..4), b, c >= 1.
    # a = t, b = 11 - t, c = 10 - t, d = 1 + t: d <= 4 gives t <= 3, a >= 1 gives t >= 1
    assert lo.tolist() == [1.0, 8.0, 7.0, 2.0]
    assert hi.tolist() == [3.0, 10.0, 9.0, 4.0]


def test_totals_known_false_hides_only_small_counts() -> None:
    t = pd.DataFrame({"n": [1, 1, 0, 0]})
    out = suppress_small_counts(t, columns=["n"], threshold=5, totals_known=False)
    assert out["n_suppressed"].tolist() == [True, True, False, False]
    with pytest.raises(ValidationError, match="totals_known cannot be False"):
        suppress_small_counts(t, columns=["n"], threshold=5, total_row=True,
                              totals_known=False)


def _ranked(counts: list[int], pops: list[int]) -> pd.DataFrame:
    from geointel.harm import add_rates

    t = pd.DataFrame({"code": [f"E0{i}" for i in range(len(counts))], "count": counts,
                      "population": pops})
    return add_rates(t, per=100_000).sort_values(["rank", "code"]).reset_index(drop=True)


def test_harm_tables_hide_where_a_suppressed_rate_ranks() -> None:
    from geointel.harm import suppress_small

    # rates per 100,000: E00 900, E01 300 (3 of 1000: small), E02 700, E03 0, E04 200 (2)
    t = _ranked([9, 3, 7, 0, 2], [1000] * 5)
    assert t["code"].tolist() == ["E00", "E02", "E01", "E04", "E03"]
    out = suppress_small(t, threshold=5)
    # two small counts whose sum (5) the benchmark gives: each could be 1 to 4, so no
    # complement is needed. Left in rate order, E01 would sit between 700 and 200 per
    # 100,000 (so 3 deaths, given its population) and E02's rank 2 would say so too.
    assert out["code"].tolist() == ["E00", "E02", "E03", "E01", "E04"]
    assert out["suppressed"].tolist() == [False, False, False, True, True]
    # published rows are ranked among themselves, hidden rows follow in code order
    assert out["rank"].tolist() == [1, 2, 3, None, None]
    assert out["benchmark"].tolist() == [420.0] * 5  # 21 deaths in 5,000 residents


def test_harm_tables_drop_their_total_when_it_gives_the_counts_away() -> None:
    from geointel.harm import suppress_small

    # four deaths, one in each of four LSOAs: the benchmark (4 in 8,000) says every
    # hidden LSOA had exactly one, so the table goes out without benchmark or comparison
    out = suppress_small(_ranked([1, 1, 1, 1, 0, 0, 0, 0], [1000] * 8), threshold=5)
    assert out["suppressed"].tolist() == [False] * 4 + [True] * 4
    assert out["code"].tolist() == ["E04", "E05", "E06", "E07", "E00", "E01", "E02", "E03"]
    assert out["benchmark"].isna().all()
    assert out["comparison"].isna().all()
    assert out["count"].iloc[:4].tolist() == [0, 0, 0, 0]
