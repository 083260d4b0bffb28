"""Harm, hotspots and access on the real Essex police.uk months and SET Area (the mirror).

Every expectation here is computed independently of geointel: the police files are
parsed with the csv module, projected with pyproj and placed with shapely; Gi* and LISA
are run on weights built directly with libpysal; nearest distances use a k-d tree.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geointel import access, harm, hotspots
from geointel.area import Area, build_area
from geointel.settings import SET_AREAS

pytestmark = [
    pytest.mark.mirror, pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The alternative hypothesis:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The weights matrix is not fully connected:UserWarning"),
]

SOUTHEND = "E06000033"
NAMED_WARDS = {"Kursaal", "Milton", "Southchurch", "Victoria"}


@pytest.fixture(scope="module")
def area(mirror: Path) -> Area:
    return build_area(SET_AREAS, data_dir=mirror)


@pytest.fixture(scope="module")
def police_files(mirror: Path) -> list[Path]:
    return sorted((mirror / "police_uk").glob("*-essex-street.csv"))


@pytest.fixture(scope="module")
def drugs(police_files: list[Path]) -> gpd.GeoDataFrame:
    from geointel.io.police_uk import read_police_uk, select_crime_types

    return select_crime_types(read_police_uk(police_files).data, ["Drugs"])


@pytest.fixture(scope="module")
def independent(police_files: list[Path], area: Area) -> pd.DataFrame:
    """Drugs rows straight from the CSVs: file, line, code, BNG point, own-polygon test."""
    rows = []
    seen: set[str] = set()
    for path in police_files:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            for line, row in enumerate(reader, start=2):
                crime_id = row["Crime ID"].strip()
                duplicate = bool(crime_id) and crime_id in seen
                seen.add(crime_id)
                if row["Crime type"] != "Drugs" or not row["Longitude"] or duplicate:
                    continue
                rows.append((str(path), line, row["LSOA code"], float(row["Longitude"]),
                             float(row["Latitude"])))
    frame = pd.DataFrame(rows, columns=["file", "line", "code", "lon", "lat"])
    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(frame["lon"],
                                                                       frame["lat"])
    frame["x"], frame["y"] = x, y
    polygons = dict(zip(area.lsoas["lsoa_code"], area.lsoas.geometry, strict=True))
    frame["in_area"] = frame["code"].isin(polygons)
    frame["in_own"] = [bool(shapely.covers(polygons[c], shapely.Point(px, py)))
                       if c in polygons else False
                       for c, px, py in zip(frame["code"], x, y, strict=True)]
    return frame


def test_counts_per_lsoa_equal_an_independent_count(
        drugs: gpd.GeoDataFrame, independent: pd.DataFrame, area: Area) -> None:
    ind = independent
    assert len(drugs) == len(ind)  # same Drugs rows with a location
    counts = harm.count_by_area(drugs, area.lsoas).set_index("code")["count"]
    expected = Counter(ind.loc[ind["in_area"], "code"])
    assert counts.to_dict() == {c: expected.get(c, 0) for c in area.lsoas["lsoa_code"]}
    assert counts.sum() > 1500
    # rows whose point falls in their own LSOA, counted per LSOA, equal the counts less the
    # reported disagreements, LSOA by LSOA
    bad = harm.code_disagreements(drugs, area.lsoas)
    agree = Counter(ind.loc[ind["in_own"], "code"])
    less = counts - bad["lsoa_code"].value_counts().reindex(counts.index, fill_value=0)
    assert less.to_dict() == {c: agree.get(c, 0) for c in counts.index}
    # and the report names exactly the rows where point and code disagree
    disagree = ind.loc[ind["in_area"] & ~ind["in_own"]]
    assert sorted(zip(bad["_file"], bad["_line"], strict=True)) == sorted(
        zip(disagree["file"], disagree["line"], strict=True))
    assert 0 < len(bad) < 0.1 * counts.sum()  # generalised boundaries: a few per cent


def test_southend_ward_table_ranks_all_17_wards(drugs: gpd.GeoDataFrame, area: Area) -> None:
    southend = area.lsoas.loc[area.lsoas["lad_code"] == SOUTHEND]
    wards = harm.rate_table(drugs, southend, level="ward")
    assert len(wards) == 17 and sorted(wards["rank"]) == list(range(1, 18))
    assert wards["population"].sum() == southend["population"].sum()
    lsoa_total = harm.count_by_area(drugs, southend)["count"].sum()
    assert wards["count"].sum() == lsoa_total
    # the four wards the strategy names are the top five by rate in these months
    top5 = set(wards.loc[wards["rank"] <= 5, "name"])
    assert top5 >= NAMED_WARDS, wards[["name", "count", "rate", "rank"]]
    top = wards.iloc[0]
    assert top["name"] == "Victoria" and top["comparison"] == "higher"


def test_deprivation_gradient_on_real_data(drugs: gpd.GeoDataFrame, area: Area) -> None:
    counts = harm.count_by_area(drugs, area.lsoas)
    summary = harm.deprivation_summary(counts, area.lsoas)
    deciles = harm.by_imd_decile(counts, area.lsoas)
    assert deciles["imd_decile"].tolist() == list(range(1, 11))
    assert deciles["count"].sum() == counts["count"].sum()
    assert summary["rate_ratio_most_least"] == pytest.approx(
        deciles["rate"].iloc[0] / deciles["rate"].iloc[-1])
    assert summary["rate_ratio_most_least"] > 2          # more harm where more deprived
    assert summary["spearman_rho"] < 0 and summary["spearman_p"] < 1e-6   # vs IMD rank
    assert summary["concentration_index"] < 0


def _rates(drugs: gpd.GeoDataFrame, area: Area) -> gpd.GeoDataFrame:
    counts = harm.count_by_area(drugs, area.lsoas)
    out = area.lsoas[["lsoa_code", "population", "geometry"]].copy()
    out["rate"] = out["lsoa_code"].map(counts.set_index("code")["count"]) / out[
        "population"] * 1000
    return out


def test_gi_star_and_lisa_match_esda_on_real_data(drugs: gpd.GeoDataFrame, area: Area) -> None:
    from esda import G_Local, Moran_Local
    from libpysal.weights import Queen

    cells = _rates(drugs, area)
    w = Queen.from_dataframe(cells, use_index=False, silence_warnings=True)
    assert not w.islands
    gi = hotspots.getis_ord(cells, "rate", seed=42, permutations=199)
    ref = G_Local(cells["rate"].to_numpy(), w, transform="B", star=True, permutations=199,
                  seed=42, n_jobs=1)
    np.testing.assert_allclose(gi["gi_z"], ref.Zs)
    np.testing.assert_allclose(gi["gi_p"], np.minimum(2 * ref.p_sim, 1))
    assert (np.sign(gi["gi_bin"]) == np.sign(ref.Zs) * (gi["gi_bin"] != 0)).all()
    w.transform = "r"
    lisa = hotspots.local_moran(cells, "rate", seed=42, permutations=199, fdr=False)
    ref_l = Moran_Local(cells["rate"].to_numpy(), w, permutations=199, seed=42, n_jobs=1)
    np.testing.assert_allclose(lisa["lisa_i"], ref_l.Is)
    assert lisa["lisa_q"].tolist() == list(ref_l.q)
    hh = lisa["lisa_label"] == "High-High"
    assert hh.sum() > 0 and (cells.loc[hh, "rate"] > cells["rate"].mean()).all()


def test_emerging_hotspots_on_real_months(drugs: gpd.GeoDataFrame, area: Area) -> None:
    southend = area.lsoas.loc[area.lsoas["lad_code"] == SOUTHEND].reset_index(drop=True)
    series = hotspots.monthly_series(drugs, southend["lsoa_code"])
    assert list(series.columns) == ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]
    assert series.to_numpy().sum() == harm.count_by_area(drugs, southend)["count"].sum()
    got = hotspots.emerging_hotspots(southend, series, seed=42, permutations=199)
    assert set(got["pattern"]) <= set(hotspots.EMERGING)
    counts = got["pattern"].value_counts()
    assert len(got) == len(southend) == counts.sum()
    # independently: esda's Gi* per month on queen weights (seed 42 + month), two-sided
    # permutation p, hot = positive z with p under the Benjamini-Hochberg cut at 10 %
    from esda import G_Local
    from esda import fdr as fdr_cut
    from libpysal.weights import Queen
    from scipy.stats import kendalltau

    w = Queen.from_dataframe(southend, use_index=False, silence_warnings=True)
    assert not w.islands
    hot = np.zeros(series.shape, dtype=bool)
    zs = np.zeros(series.shape)
    for t in range(series.shape[1]):
        g = G_Local(series.iloc[:, t].to_numpy(dtype=float), w, transform="B", star=True,
                    permutations=199, seed=42 + t, n_jobs=1)
        p = np.minimum(2 * g.p_sim, 1)
        zs[:, t] = g.Zs
        hot[:, t] = (np.nan_to_num(g.Zs) > 0) & (p < fdr_cut(p, 0.10))
    assert got["hot_steps"].tolist() == hot.sum(axis=1).tolist()
    assert hot.any()  # some LSOA is hot in some month: the classes are not all trivial
    new = hot[:, -1] & ~hot[:, :-1].any(axis=1)
    assert (got["pattern"] == "new").tolist() == new.tolist()
    persistent = hot.all(axis=1)  # 5 months: hot in >= 90 % of them means all five
    assert got["pattern"].isin(["persistent", "intensifying", "diminishing"]).tolist() == (
        persistent.tolist())
    tau = [kendalltau(np.arange(5), np.nan_to_num(z)).statistic if np.ptp(np.nan_to_num(z))
           else 0.0 for z in zs]
    np.testing.assert_allclose(got["trend_tau"], tau)


def test_transport_and_point_hotspots_on_real_data(drugs: gpd.GeoDataFrame, area: Area,
                                                   mirror: Path) -> None:
    from geointel.io.naptan import read_naptan

    southend = area.lsoas.loc[area.lsoas["lad_code"] == SOUTHEND]
    inside = drugs.loc[drugs["lsoa_code"].isin(southend["lsoa_code"])]
    stops = read_naptan(mirror / "naptan" / "158Stops.csv").data
    near = harm.near_transport(inside, stops, southend, distance=200)
    pts = np.column_stack([inside.geometry.x, inside.geometry.y])
    stop_xy = np.column_stack([stops.geometry.x, stops.geometry.y])
    d = np.sqrt(((pts[:, None, :] - stop_xy[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    assert near["near"] == int((d <= 200).sum())
    assert 0 < near["expected_area_share"] < 1 and 0 < near["expected_population_share"] < 1
    per_stop = harm.station_counts(inside, stops, distance=200)
    assert per_stop["offences"].sum() == int(
        ((np.sqrt(((stop_xy[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2))) <= 200).sum())
    labelled, clusters = hotspots.hdbscan_clusters(inside, min_cluster_size=10)
    assert clusters["points"].sum() == (labelled["cluster"] > 0).sum()
    kde = hotspots.kde_surface(inside, bandwidth=400, cell=200,
                               bounds=tuple(southend.total_bounds))
    assert kde["density_km2"].max() > 0


def test_access_on_the_sample_services(area: Area, tmp_path: Path) -> None:
    from scipy.spatial import cKDTree

    from geointel.io.services import read_services
    from geointel.samples import make_services

    make_services(area.lsoas, seed=42).to_csv(tmp_path / "services.csv", index=False)
    services = read_services(tmp_path / "services.csv").data
    table = access.lsoa_access(area.lsoas, services)
    xy = np.column_stack([area.lsoas["centroid_easting"], area.lsoas["centroid_northing"]])
    for kind in ("pharmacy", "treatment_hub", "any"):
        sub = services if kind == "any" else services.loc[services["kind"] == kind]
        dist, _ = cKDTree(np.column_stack([sub.geometry.x, sub.geometry.y])).query(xy)
        np.testing.assert_allclose(table[f"dist_{kind}"], dist * 1.3)
    threshold = access.walking_threshold_m(20)
    cov = access.coverage(table, threshold_m=threshold, kinds=["any"])
    pop = area.lsoas["population"].to_numpy(dtype=float)
    assert cov["share"].iloc[0] == pytest.approx(pop[table["dist_any"] <= threshold].sum()
                                                 / pop.sum())
    by_time = access.coverage_by_time(area.lsoas, services, threshold_m=threshold,
                                      kinds=["pharmacy"])
    anyk = by_time.loc[by_time["kind"] == "any"].set_index("window")["share"]
    assert anyk["always"] == pytest.approx(cov["share"].iloc[0])
    assert anyk["weekend"] < anyk["weekday_daytime"] <= anyk["always"]  # pharmacies shut
    gaps = access.gap_areas(table, threshold_m=threshold)
    assert len(gaps) == int((table["dist_any"] > threshold).sum())
    assert gaps["population"].is_monotonic_decreasing


def test_harm_and_access_verbs_write_outputs(mirror: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from geointel.cli import main
    from geointel.samples import make_services

    monkeypatch.setenv("GEOINTEL_DATA_DIR", str(mirror))
    monkeypatch.chdir(tmp_path)
    code = main(["harm", "--json", "--area", SOUTHEND, "--permutations", "199",
                 "--stops", str(mirror / "naptan" / "158Stops.csv"), "--out", "harm"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] and out["wards"] == 17
    assert set(out["top_wards"][:5]) >= NAMED_WARDS
    police = out["police"]
    assert police["rows_read"] == police["rows_accepted"] + police["rows_rejected"]
    rates = pd.read_csv(tmp_path / "harm" / "rates_lsoa.csv")
    assert rates["count"].sum() == out["offences_in_area"] and len(rates) == 107
    assert sum(out["hotspot_bins"].values()) == 107
    assert gpd.read_file(tmp_path / "harm" / "harm.gpkg", layer="lsoa")["gi_bin"].between(
        -3, 3).all()
    assert json.loads((tmp_path / "harm" / "summary.json").read_text())["marking"] == (
        "OFFICIAL")

    area = build_area([SOUTHEND], data_dir=mirror)
    make_services(area.lsoas, seed=42).to_csv(tmp_path / "services.csv", index=False)
    code = main(["access", "--json", "--area", SOUTHEND, "--services", "services.csv",
                 "--threshold", "1000", "--out", "access"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["threshold_m"] == 1000.0
    cov = pd.read_csv(tmp_path / "access" / "coverage.csv")
    row = cov.loc[(cov["kind"] == "any") & (cov["weight"] == "population")].iloc[0]
    assert out["coverage_population"]["any"] == pytest.approx(row["share"], abs=1e-4)
    gaps = pd.read_csv(tmp_path / "access" / "gaps.csv")
    assert out["gap_lsoas"] == len(gaps) and (gaps["distance_m"] > 1000).all()
    assert main(["access", "--area", SOUTHEND, "--services", "missing.csv"]) == 1
