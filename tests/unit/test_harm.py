"""Harm: counting, exact Poisson rates, comparisons, deprivation and transport by hand."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geointel import harm
from geointel.errors import CRSError, ValidationError

BNG = "EPSG:27700"


def lsoas() -> gpd.GeoDataFrame:
    """Four 1 km squares in a row: A, B in ward W1 (LAD L1); C, D in W2 (L1, L2)."""
    return gpd.GeoDataFrame({
        "lsoa_code": ["A", "B", "C", "D"], "lsoa_name": ["a", "b", "c", "d"],
        "msoa_code": ["M1", "M1", "M2", "M2"], "msoa_name": ["m1", "m1", "m2", "m2"],
        "ward_code": ["W1", "W1", "W2", "W2"], "ward_name": ["Kursaal", "Kursaal",
                                                             "Milton", "Milton"],
        "lad_code": ["L1", "L1", "L1", "L2"], "lad_name": ["l1", "l1", "l1", "l2"],
        "population": [1000, 1000, 2000, 0],
        "imd_rank": [100, 20000, 5000, 30000], "imd_decile": [1, 7, 2, 10],
    }, geometry=[box(x, 0, x + 1000, 1000) for x in (0, 1000, 2000, 3000)], crs=BNG)


def offences(rows: list[tuple[str | None, float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"lsoa_code": pd.array([r[0] for r in rows], dtype="string"),
         "month": ["2019-01"] * len(rows), "_file": "f.csv",
         "_line": np.arange(2, len(rows) + 2)},
        geometry=[Point(r[1], r[2]) for r in rows], crs=BNG)


@pytest.mark.parametrize("method, count, lower, upper", [
    ("exact", 0, 0.0, 3.6889), ("exact", 1, 0.0253, 5.5716), ("exact", 10, 4.7954, 18.3904),
    ("exact", 30, 20.2409, 42.8269), ("byar", 10, 4.7874, 18.3915),
    ("phe", 9, 4.1154, 17.0848), ("phe", 10, 4.7874, 18.3915),
])
def test_poisson_interval_matches_published_values(method: str, count: int, lower: float,
                                                   upper: float) -> None:
    lo, hi = harm.poisson_interval([count], method=method)  # type: ignore[arg-type]
    assert lo[0] == pytest.approx(lower, abs=1e-4) and hi[0] == pytest.approx(upper, abs=1e-4)


def test_poisson_interval_refuses_bad_input() -> None:
    with pytest.raises(ValidationError):
        harm.poisson_interval([-1])
    with pytest.raises(ValidationError):
        harm.poisson_interval([1], level=95)
    with pytest.raises(ValidationError, match="method"):
        harm.poisson_interval([1], method="wilson")  # type: ignore[arg-type]


def test_add_rates_compares_with_area_average() -> None:
    table = pd.DataFrame({"code": ["A", "B", "C", "D"], "count": [30, 10, 0, 0],
                          "population": [1000, 1000, 1000, 0]})
    out = harm.add_rates(table)
    # benchmark 40 / 3000 * 1000 = 13.33; A (20.24, 42.83) above it, C (0, 3.69) below.
    assert out["benchmark"].iloc[0] == pytest.approx(40 / 3)
    assert out["rate"].tolist()[:3] == [30.0, 10.0, 0.0] and math.isnan(out["rate"].iloc[3])
    assert out["rate_lower"].iloc[0] == pytest.approx(20.2409, abs=1e-4)
    assert out["rate_upper"].iloc[2] == pytest.approx(3.6889, abs=1e-4)
    assert out["comparison"].tolist() == ["higher", "similar", "lower", "no population"]
    assert out["rank"].tolist()[:3] == [1, 2, 3]
    assert list(table.columns) == ["code", "count", "population"]  # input untouched


def test_count_by_area_every_level_with_zeros_and_outside_codes() -> None:
    rec = pd.DataFrame({"lsoa_code": pd.array(["A", "A", "C", "Z", None], dtype="string")})
    by = {lvl: harm.count_by_area(rec, lsoas(), level=lvl).set_index("code")
          for lvl in ("lsoa", "msoa", "ward", "lad")}
    assert by["lsoa"]["count"].to_dict() == {"A": 2, "B": 0, "C": 1, "D": 0}
    assert by["ward"]["count"].to_dict() == {"W1": 2, "W2": 1}
    assert by["ward"]["name"].to_dict() == {"W1": "Kursaal", "W2": "Milton"}
    assert by["ward"]["population"].to_dict() == {"W1": 2000, "W2": 2000}
    assert by["msoa"]["lsoas"].to_dict() == {"M1": 2, "M2": 2}
    assert by["lad"]["count"].to_dict() == {"L1": 3, "L2": 0}
    with pytest.raises(ValidationError, match="level"):
        harm.count_by_area(rec, lsoas(), level="county")  # type: ignore[arg-type]


def test_locate_points_boundaries_and_outside() -> None:
    pts = offences([("A", 500, 500), ("A", 1500, 500), ("B", 1000, 500), ("A", 1000, 500),
                    ("A", 9000, 9000), (None, 2500, 10)])
    assert harm.locate(pts, lsoas()).tolist() == ["A", "B", "B", "A", pd.NA, "C"]


def test_code_disagreements_and_point_counts() -> None:
    pts = offences([("A", 500, 500), ("A", 1500, 500), ("C", 9000, 9000), ("Z", 500, 400),
                    ("B", 1200, 300)])
    bad = harm.code_disagreements(pts, lsoas())
    assert bad["_line"].tolist() == [3, 4]            # A placed in B; C outside every LSOA
    assert bad["point_lsoa"].fillna("").tolist() == ["B", ""]
    assert bad[["easting", "northing"]].values.tolist() == [[1500, 500], [9000, 9000]]
    by_code = harm.count_by_area(pts, lsoas()).set_index("code")["count"].to_dict()
    by_point = harm.count_by_area(pts, lsoas(), assign="point").set_index("code")["count"]
    assert by_code == {"A": 2, "B": 1, "C": 1, "D": 0}
    assert by_point.to_dict() == {"A": 2, "B": 2, "C": 0, "D": 0}  # Z's point is in A


def test_missing_crs_and_degrees_in_distances_are_refused() -> None:
    pts = offences([("A", 500, 500)])
    with pytest.raises(CRSError, match="points has no CRS"):
        harm.locate(pts.set_crs(None, allow_override=True), lsoas())
    stops = gpd.GeoDataFrame({"atco_code": ["S1"]}, geometry=[Point(0.7, 51.5)],
                             crs="EPSG:4326")
    with pytest.raises(CRSError, match=r"stations.*geographic"):
        harm.station_counts(pts, stops)
    with pytest.raises(CRSError, match=r"stops.*geographic"):
        harm.near_transport(pts, stops, lsoas())


def test_select_period_inclusive_and_validated() -> None:
    rec = pd.DataFrame({"month": ["2018-10", "2018-12", "2019-01", "2019-02"]})
    assert harm.select_period(rec, start="2018-12", end="2019-01")["month"].tolist() == [
        "2018-12", "2019-01"]
    dates = pd.DataFrame({"date": pd.to_datetime(["2018-10-05", "2019-01-31"])})
    assert len(harm.select_period(dates, end="2018-12", column="date")) == 1
    with pytest.raises(ValidationError, match="YYYY-MM"):
        harm.select_period(rec, start="2018-13")


def test_rate_table_ranks_wards() -> None:
    rec = pd.DataFrame({"lsoa_code": ["A"] * 6 + ["C"] * 2})
    t = harm.rate_table(rec, lsoas(), level="ward")
    # W1 6 per 2000 = 3.0 per 1,000; W2 2 per 2000 = 1.0
    assert t[["code", "rate", "rank"]].values.tolist() == [["W1", 3.0, 1], ["W2", 1.0, 2]]


def test_deprivation_deciles_ratio_spearman_and_concentration() -> None:
    counts = harm.count_by_area(pd.DataFrame({"lsoa_code": ["A"] * 6 + ["B"] + ["C"] * 3}),
                                lsoas())
    dec = harm.by_imd_decile(counts, lsoas()).set_index("imd_decile")
    assert dec["count"].to_dict() == {1: 6, 2: 3, 7: 1, 10: 0}
    assert dec["rate"].loc[[1, 2, 7]].tolist() == [6.0, 1.5, 1.0]
    curve = harm.concentration_curve(counts, lsoas())
    # order by IMD rank: A (1000 people, 6), C (2000, 3), B (1000, 1), D (0, 0)
    assert curve["population_share"].tolist() == [0, 0.25, 0.75, 1.0, 1.0]
    assert curve["harm_share"].tolist() == pytest.approx([0, 0.6, 0.9, 1.0, 1.0])
    # area under the curve: .25*.6/2 + .5*(.6+.9)/2 + .25*(.9+1)/2 = 0.6875 -> C = -0.375
    assert harm.concentration_index(curve) == pytest.approx(-0.375)
    assert harm.share_in_most_deprived(curve, 0.5) == pytest.approx(0.75)
    summary = harm.deprivation_summary(counts, lsoas())
    # Decile 10 (D) has nobody, so the least deprived decile with residents is 7 (1.0).
    assert summary["most_deprived_decile"] == 1 and summary["least_deprived_decile"] == 7
    assert summary["rate_ratio_most_least"] == pytest.approx(6.0)
    # rates A 6, C 1.5, B 1 against ranks 100, 5000, 20000: perfectly opposite.
    assert summary["spearman_against"] == "imd_rank"
    assert summary["spearman_rho"] == pytest.approx(-1.0)


def test_deprivation_ratio_when_both_ends_have_people() -> None:
    table = lsoas()
    table.loc[3, "population"] = 500
    counts = harm.count_by_area(pd.DataFrame({"lsoa_code": ["A"] * 6 + ["D"]}), table)
    summary = harm.deprivation_summary(counts, table)
    assert summary["least_deprived_decile"] == 10
    assert summary["rate_ratio_most_least"] == pytest.approx(6.0 / 2.0)


def test_near_transport_against_expected_shares() -> None:
    areas = lsoas().iloc[:2].copy()   # A (1000 people) and B (1000 people), 2 km²
    areas.loc[1, "population"] = 3000
    stops = gpd.GeoDataFrame({"atco_code": ["S1"]}, geometry=[Point(500, 500)], crs=BNG)
    pts = offences([("A", 500, 550), ("A", 600, 600), ("A", 400, 400), ("A", 510, 310),
                    ("A", 900, 900), ("B", 1500, 500), ("B", 1600, 600), ("B", 1700, 700),
                    ("B", 1800, 800), ("B", 1900, 900)])
    got = harm.near_transport(pts, stops, areas, distance=200)
    circle = math.pi * 200**2
    assert got["near"] == 4 and got["observed_share"] == 0.4
    assert got["expected_area_share"] == pytest.approx(circle / 2e6, rel=0.01)
    # A's 1000 people x (circle / 1 km²) of 4000 people
    assert got["expected_population_share"] == pytest.approx(1000 * circle / 1e6 / 4000,
                                                             rel=0.01)
    assert got["ratio"] == pytest.approx(0.4 / (circle / 4e6), rel=0.01)
    assert got["p_value"] < 0.001


def test_station_counts_counts_each_station_and_sorts() -> None:
    stations = gpd.GeoDataFrame({"atco_code": ["S1", "S2", "S3"]},
                                geometry=[Point(0, 0), Point(300, 0), Point(5000, 0)], crs=BNG)
    pts = offences([("A", 150, 0), ("A", 10, 10), ("A", 310, 0), ("A", 600, 0)])
    got = harm.station_counts(pts, stations, distance=200)
    # (150, 0) is within 200 m of both S1 and S2
    assert got[["atco_code", "offences"]].values.tolist() == [["S1", 2], ["S2", 2], ["S3", 0]]


def test_count_by_area_sums_a_weight_and_places_codeless_points() -> None:
    deaths = offences([("A", 500, 500), (None, 2500, 500), (None, 9000, 9000)])
    deaths["count"] = [2, 3, 4]
    got = harm.count_by_area(deaths, lsoas(), weight="count").set_index("code")["count"]
    assert got.to_dict() == {"A": 2, "B": 0, "C": 3, "D": 0}  # the third is outside


def test_suppress_small_hides_counts_and_their_rates() -> None:
    t = harm.add_rates(pd.DataFrame({"code": ["A", "B", "C"], "count": [0, 4, 5],
                                     "population": [1000, 1000, 1000]}))
    out = harm.suppress_small(t, threshold=5)
    # 4 is small; 5 is hidden too, or the area total (in the benchmark) would give 4 away
    assert out["count"].tolist() == [0, pd.NA, pd.NA]
    assert math.isnan(out["rate"].iloc[1]) and out["comparison"].iloc[1] is None
    assert math.isnan(out["rate"].iloc[2]) and out["rank"].iloc[2] is None
    assert out["suppressed"].tolist() == [False, True, True]
    assert t["count"].tolist() == [0, 4, 5]  # input untouched


def test_write_outputs_marks_every_file(tmp_path) -> None:
    import json

    layer = lsoas()
    table = pd.DataFrame({"code": ["A"], "count": [3]})
    paths = harm.write_outputs(tmp_path / "out", stem="harm", layers={"lsoa": layer},
                               tables={"rates": table}, summary={"offences": 3},
                               marking="OFFICIAL", attribution="OGL v3")
    assert sorted(paths) == ["gpkg", "rates", "summary"]
    back = gpd.read_file(paths["gpkg"], layer="lsoa")
    assert len(back) == 4 and set(back["marking"]) == {"OFFICIAL"}
    assert back.crs.to_epsg() == 27700
    assert pd.read_csv(paths["rates"])["marking"].tolist() == ["OFFICIAL"]
    assert json.loads(Path(paths["summary"]).read_text()) == {
        "marking": "OFFICIAL", "attribution": "OGL v3", "offences": 3}


def register(tmp_path: Path) -> gpd.GeoDataFrame:
    """A deaths/incidents register read by the real reader: codes, counts, categories,
    months, a blank category (= death) and a row placed only by its point (in C)."""
    from geointel.io.deaths import read_deaths

    path = tmp_path / "deaths.csv"
    path.write_text(
        "record_id,date,lsoa_code,easting,northing,count,category\n"
        "R1,2018-10-05,A,,,,death\n"                     # A, 1 person (blank count)
        "R2,2018-11,A,,,3,death\n"                       # A, 3
        "R3,2018-11-20,B,,,4,non_fatal_overdose\n"       # B, overdose, 4
        "R4,2018-12-01,B,,,2,\n"                         # B, blank category = death, 2
        "R5,2019-01,,2500,500,5,Death\n"                 # C by its point, 5
        "R6,2019-02-02,C,,,7,non-fatal overdose\n"       # C, overdose, 7
        "R7,2019-03,Z,,,6,death\n",                      # outside the Area
        encoding="utf-8")
    # codes A..D are not real LSOA codes: give the rows real-looking ones, then map back
    text = path.read_text().replace(",A,", ",E01000001,").replace(",B,", ",E01000002,")
    path.write_text(text.replace(",C,", ",E01000003,").replace(",Z,", ",E01009999,"))
    data = read_deaths(path).data
    back = {"E01000001": "A", "E01000002": "B", "E01000003": "C", "E01009999": "Z", "": ""}
    return data.assign(lsoa_code=data["lsoa_code"].map(back))


def test_register_counts_people_per_area_for_an_outcome_and_period(tmp_path) -> None:
    reg = register(tmp_path)
    assert reg["count"].tolist() == [1, 3, 4, 2, 5, 7, 6]
    deaths = harm.register_counts(reg, lsoas()).set_index("code")["count"]
    # deaths: A 1 + 3, B 2 (blank category), C 5 (placed by point); Z outside
    assert deaths.to_dict() == {"A": 4, "B": 2, "C": 5, "D": 0}
    overdoses = harm.register_counts(reg, lsoas(), outcome="non_fatal_overdose")
    assert overdoses.set_index("code")["count"].to_dict() == {"A": 0, "B": 4, "C": 7, "D": 0}
    every = harm.register_counts(reg, lsoas(), outcome=None, level="ward")
    assert every.set_index("code")["count"].to_dict() == {"W1": 1 + 3 + 4 + 2, "W2": 5 + 7}
    both = harm.register_counts(reg, lsoas(), outcome=["death", "non_fatal_overdose"],
                                level="lad")
    assert both["count"].tolist() == [1 + 3 + 4 + 2 + 5 + 7, 0]
    period = harm.register_counts(reg, lsoas(), start="2018-11", end="2018-12")
    assert period.set_index("code")["count"].to_dict() == {"A": 3, "B": 2, "C": 0, "D": 0}
    assert reg["count"].tolist() == [1, 3, 4, 2, 5, 7, 6]  # input untouched


def test_register_rates_per_100000_with_intervals(tmp_path) -> None:
    rates = harm.register_rates(register(tmp_path), lsoas(), level="ward")
    # W1: 6 deaths / 2,000 residents; W2: 5 / 2,000 (D has none); benchmark 11 / 4,000
    assert rates[["code", "count", "rate"]].values.tolist() == [
        ["W1", 6, 300.0], ["W2", 5, 250.0]]
    assert rates["benchmark"].iloc[0] == pytest.approx(275.0)
    lo, hi = harm.poisson_interval([6])
    assert rates["rate_lower"].iloc[0] == pytest.approx(lo[0] / 2000 * 100_000)
    assert rates["rate_upper"].iloc[0] == pytest.approx(hi[0] / 2000 * 100_000)


def test_select_register_places_codeless_rows_and_rejects_bad_input(tmp_path) -> None:
    from geointel.hotspots import monthly_series

    reg = register(tmp_path)
    dead = harm.select_register(reg, lsoas=lsoas())
    assert dead["record_id"].tolist() == ["R1", "R2", "R4", "R5", "R7"]
    assert dead["lsoa_code"].tolist() == ["A", "A", "B", "C", "Z"]
    months = monthly_series(dead, ["A", "B", "C", "D"], weight="count")
    assert months.sum(axis=0).tolist() == [1, 3, 2, 5, 0, 0]  # 2018-10 .. 2019-03, Z out
    assert harm.select_register(reg, outcome="suicide").empty
    with pytest.raises(ValidationError, match="outcome"):
        harm.select_register(reg, outcome=[])
    with pytest.raises(ValidationError, match="YYYY-MM"):
        harm.select_register(reg, start="2018")
    bad = reg.assign(count=[1, -2, 1, 1, 1, 1, 1])
    with pytest.raises(ValidationError, match="'count' has 1 value"):
        harm.register_counts(bad, lsoas())
    # a plain table without category or count columns: every row is one death
    plain = pd.DataFrame({"lsoa_code": ["A", "A", "D"], "month": ["2019-01"] * 3})
    assert harm.register_counts(plain, lsoas())["count"].tolist() == [2, 0, 0, 1]
