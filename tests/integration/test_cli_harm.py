"""`geointel harm` on the real Southend LSOAs: deaths from a register, trends and point
hotspots written as files, every figure checked against the files or by hand."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from geointel import hotspots
from geointel.area import build_area
from geointel.cli import main

pytestmark = [pytest.mark.mirror, pytest.mark.slow]

SOUTHEND = "E06000033"


@pytest.fixture(scope="module")
def southend(mirror: Path) -> pd.DataFrame:
    return build_area([SOUTHEND], data_dir=mirror).lsoas


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_harm_counts_people_in_the_register_for_the_period_and_outcome(
        southend: pd.DataFrame, mirror: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GEOINTEL_DATA_DIR", str(mirror))
    first, second = southend.iloc[0], southend.loc[
        southend["msoa_code"] != southend["msoa_code"].iloc[0]].iloc[0]
    l1, l2 = first["lsoa_code"], second["lsoa_code"]
    register = tmp_path / "deaths.csv"
    register.write_text(
        "record_id,date,lsoa_code,count,category\n"
        f"D1,2018-11-05,{l1},6,death\n"
        f"D2,2018-12,{l2},7,\n"                           # blank category = death
        f"D3,2018-11-20,{l1},9,non_fatal_overdose\n"
        f"D4,2019-01-10,{l1},2,death\n"                   # after --end
        "D5,2018-11,E01000001,5,death\n",                 # City of London: outside
        encoding="utf-8")
    common = ["harm", "--json", "--area", SOUTHEND, "--permutations", "99",
              "--start", "2018-10", "--end", "2018-12", "--deaths", str(register)]
    out = run([*common, "--out", str(tmp_path / "d")], capsys)
    # deaths in the period: 6 (l1) + 7 (l2) in Southend, 5 outside; D3 is an overdose
    assert out["deaths"]["outcome"] == ["death"]
    assert out["deaths"]["period"] == ["2018-10", "2018-12"]
    assert (out["deaths"]["level"], out["deaths"]["people_in_area"]) == ("ward", 13)
    # deaths go out by ward only: two levels of the same deaths could be differenced
    assert not any((tmp_path / "d" / f"deaths_{level}.csv").exists()
                   for level in ("lsoa", "msoa", "lad"))
    ward = pd.read_csv(tmp_path / "d" / "deaths_ward.csv").set_index("code")
    assert len(ward) == southend["ward_code"].nunique() == 17
    w1, w2 = first["ward_code"], second["ward_code"]
    expected = {w1: 6 + 7} if w1 == w2 else {w1: 6, w2: 7}
    assert ward.loc[list(expected), "count"].tolist() == list(expected.values())
    assert int(ward["count"].sum()) == 13
    assert ward.loc[w1, "rate"] == pytest.approx(
        expected[w1] / southend.loc[southend["ward_code"] == w1, "population"].sum() * 100_000)
    overdoses = run([*common, "--outcome", "non_fatal_overdose", "--out",
                     str(tmp_path / "o")], capsys)
    assert overdoses["deaths"]["people_in_area"] == 9
    assert pd.read_csv(tmp_path / "o" / "deaths_ward.csv").set_index("code").loc[
        w1, "count"] == 9


def test_harm_withholds_small_deaths_and_a_total_that_would_give_them_away(
        southend: pd.DataFrame, mirror: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GEOINTEL_DATA_DIR", str(mirror))
    wards = southend.drop_duplicates("ward_code")
    register = tmp_path / "deaths.csv"
    register.write_text("record_id,date,lsoa_code,count,category\n" + "".join(
        f"D{i},2018-11-05,{code},1,death\n" for i, code in enumerate(wards["lsoa_code"][:3])),
        encoding="utf-8")
    out = run(["harm", "--json", "--area", SOUTHEND, "--permutations", "99", "--deaths",
               str(register), "--out", str(tmp_path / "d")], capsys)
    # three wards with one death each: hidden, and the total (3) would make each 1
    assert out["deaths"]["people_in_area"] is None
    ward = pd.read_csv(tmp_path / "d" / "deaths_ward.csv")
    assert ward["count"].isna().sum() >= 3 and ward["count"].dropna().eq(0).all()
    assert ward["benchmark"].isna().all()


def test_harm_writes_trends_emerging_hotspots_and_point_clusters(
        southend: pd.DataFrame, mirror: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GEOINTEL_DATA_DIR", str(mirror))
    out = run(["harm", "--json", "--area", SOUTHEND, "--permutations", "99",
               "--min-cluster-size", "8", "--out", str(tmp_path)], capsys)
    emerging = out["emerging"]
    assert (emerging["months"], emerging["first"], emerging["last"]) == (5, "2018-10",
                                                                         "2019-02")
    assert list(emerging["patterns"]) == list(hotspots.EMERGING)
    table = pd.read_csv(tmp_path / "emerging_lsoa.csv")
    assert len(table) == len(southend) == sum(emerging["patterns"].values())
    assert table["pattern"].value_counts().to_dict() == {
        k: v for k, v in emerging["patterns"].items() if v}
    # hot_steps of a "new" LSOA is 1 (hot only in the final month), "no pattern" ones are
    # never hot in the final month
    assert (table.loc[table["pattern"] == "new", "hot_steps"] == 1).all()
    assert (table.loc[table["pattern"] == "no pattern", "final_bin"] < 1).all()
    monthly = pd.read_csv(tmp_path / "monthly_lsoa.csv")
    assert list(monthly.columns) == ["lsoa_code", "2018-10", "2018-11", "2018-12", "2019-01",
                                     "2019-02", "marking"]
    assert monthly.iloc[:, 1:6].to_numpy().sum() == out["offences_in_area"]
    layers = dict(pyogrio.list_layers(tmp_path / "harm.gpkg"))
    assert set(layers) == {"lsoa", "emerging", "kde", "clusters"}
    clusters = gpd.read_file(tmp_path / "harm.gpkg", layer="clusters")
    points = out["point_hotspots"]
    assert len(clusters) == points["clusters"] > 0
    assert clusters["points"].sum() == points["points_in_clusters"] <= points["points"]
    assert (clusters["points"] >= 8).all() and clusters["points"].is_monotonic_decreasing
    assert pd.read_csv(tmp_path / "clusters.csv")["points"].tolist() == clusters[
        "points"].tolist()
    kde = gpd.read_file(tmp_path / "harm.gpkg", layer="kde")
    assert len(kde) == points["kde_cells"]
    assert kde["density_km2"].max() == pytest.approx(points["kde_max_per_km2"], abs=1e-3)
    assert kde["density_km2"].min() >= 0.001 * kde["density_km2"].max()
    # fewer than three months: no emerging classes, and the summary says why
    short = run(["harm", "--json", "--area", SOUTHEND, "--permutations", "99",
                 "--start", "2019-01", "--out", str(tmp_path / "short")], capsys)
    assert short["emerging"]["patterns"] is None and "3 months" in short["emerging"]["note"]
    assert not (tmp_path / "short" / "emerging_lsoa.csv").exists()


def test_access_coverage_weighted_by_offences_and_deaths(
        southend: pd.DataFrame, mirror: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    from scipy.spatial import cKDTree

    from geointel.io.police_uk import read_police_uk, select_crime_types
    from geointel.io.services import read_services
    from geointel.samples import make_services

    monkeypatch.setenv("GEOINTEL_DATA_DIR", str(mirror))
    make_services(southend, seed=42).to_csv(tmp_path / "services.csv", index=False)
    services = read_services(tmp_path / "services.csv").data
    dist, _ = cKDTree(np.column_stack([services.geometry.x, services.geometry.y])).query(
        np.column_stack([southend["centroid_easting"], southend["centroid_northing"]]))
    within = pd.Series(dist * 1.3 <= 1000, index=southend["lsoa_code"].to_numpy())
    near, far = within[within].index[0], within[~within].index[0]
    register = tmp_path / "deaths.csv"
    register.write_text("record_id,date,lsoa_code,count,category\n"
                        f"D1,2018-11-05,{near},6,death\n"
                        f"D2,2018-12,{far},7,death\n"
                        f"D3,2018-12,{far},5,non_fatal_overdose\n", encoding="utf-8")
    out = run(["access", "--json", "--area", SOUTHEND, "--services",
               str(tmp_path / "services.csv"), "--deaths", str(register), "--threshold",
               "1000", "--out", str(tmp_path / "a")], capsys)
    shares = out["coverage_any_by_weight"]
    assert shares["deaths"] == pytest.approx(6 / 13, abs=1e-4)  # 6 of the 13 who died
    drugs = select_crime_types(read_police_uk(sorted((mirror / "police_uk").glob(
        "*-essex-street.csv"))).data, ["Drugs"])
    per_lsoa = drugs["lsoa_code"].value_counts().reindex(within.index, fill_value=0)
    assert shares["offences"] == pytest.approx(per_lsoa[within].sum() / per_lsoa.sum(),
                                               abs=1e-4)
    assert out["weights_left_out"] == {}
    cov = pd.read_csv(tmp_path / "a" / "coverage.csv")
    row = cov.loc[(cov["kind"] == "any") & (cov["weight"] == "deaths")].iloc[0]
    # people are not counted in the file, only the share
    assert pd.isna(row["covered"]) and pd.isna(row["total"])
    assert row["share"] == pytest.approx(6 / 13)
    by_time = pd.read_csv(tmp_path / "a" / "coverage_by_time.csv")
    assert set(by_time["weight"]) >= {"offences", "deaths"}
    # per-LSOA deaths are not published in the map layer (small numbers)
    layer = gpd.read_file(tmp_path / "a" / "access.gpkg", layer="lsoa_access")
    assert "deaths" not in layer.columns and "offences" in layer.columns
    # 3 within reach and 2 beyond: a share would say so, so it is withheld too
    register.write_text("record_id,date,lsoa_code,count,category\n"
                        f"D1,2018-11-05,{near},3,death\nD2,2018-12,{far},2,death\n",
                        encoding="utf-8")
    small = run(["access", "--json", "--area", SOUTHEND, "--services",
                 str(tmp_path / "services.csv"), "--deaths", str(register), "--threshold",
                 "1000", "--out", str(tmp_path / "s")], capsys)
    assert small["coverage_any_by_weight"]["deaths"] is None
