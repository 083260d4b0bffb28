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
    return [e for e in eqs if len(e) >= 2]


tables = st.integers(1, 7).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.integers(0, 25), min_size=n, max_size=n), min_size=1, max_size=3),
    st.lists(st.sampled_from("ABC"), min_size=n, max_size=n),
    st.booleans(), st.booleans(), st.integers(2, 10)))


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_suppression_properties(case: tuple[list[list[int]], list[str], bool, bool, int]) -> None:
    cols_values, group_labels, grouped, total_row, threshold = case
    columns = [f"c{j}" for j in range(len(cols_values))]
    table = pd.DataFrame({"g": group_labels, **dict(zip(columns, cols_values, strict=True))})
    out = suppress_small_counts(table, columns=columns, threshold=threshold,
                                total_row=total_row, group_by="g" if grouped else None)
    n, k = len(table), len(columns)

    # 1. nothing small is published, anywhere (cells and totals)
    check_no_small_counts(out, columns=columns, threshold=threshold)
    source = np.array(cols_values, dtype=float).T
    if grouped:
        labels = list(pd.unique(table["g"]))
        groups = [np.flatnonzero(table["g"].to_numpy() == lab) for lab in labels]
    else:
        groups = [np.arange(n)]
    if total_row:
        extra = [source[g].sum(axis=0) for g in groups] if grouped else []
        source = np.vstack([source, *extra, source.sum(axis=0)])
    hidden = np.column_stack([out[f"{c}_suppressed"].to_numpy(bool) for c in columns])
    published = out[columns].to_numpy(dtype=float, na_value=np.nan)
    # 2. published values are the true counts; hidden ones are missing
    assert np.array_equal(np.isnan(published), hidden)
    assert np.array_equal(published[~hidden], source[~hidden])
    # 3. primary suppression is exactly the small cells
    small = (source >= 1) & (source < threshold)
    assert not (small & ~hidden).any()
    eqs = _equations(n, k, groups, total_row, grouped)
    # 4. no group with a known total has exactly one hidden cell: total minus the
    #    visible cells never equals a hidden cell on its own
    for eq in eqs:
        assert sum(hidden[i, j] for i, j, _ in eq) != 1, eq
    # 5. and no hidden cell is determined by all the totals together (independent
    #    check: its column in the system is not in the span of the others)
    unknown = [tuple(x) for x in np.argwhere(hidden)]
    if unknown:
        a = np.array([[next((s for i, j, s in eq if (i, j) == u), 0.0) for u in unknown]
                      for eq in eqs]) if eqs else np.zeros((1, len(unknown)))
        rank = np.linalg.matrix_rank(a)
        for u in range(len(unknown)):
            assert np.linalg.matrix_rank(np.delete(a, u, axis=1)) == rank, unknown[u]


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=10), st.integers(2, 8))
def test_secondary_suppression_takes_the_smallest_complement(values: list[int],
                                                             threshold: int) -> None:
    out = suppress_small_counts(pd.DataFrame({"n": values}), columns=["n"],
                                threshold=threshold)
    hidden = out["n_suppressed"].tolist()
    primary = [1 <= v < threshold for v in values]
    if sum(primary) != 1:
        assert hidden == primary
        return
    others = [(v == 0, v, i) for i, v in enumerate(values) if not primary[i]]
    complement = min(others)[2]
    assert hidden == [p or i == complement for i, p in enumerate(primary)]
