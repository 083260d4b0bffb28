"""Site layers, exports and the `geointel site` verb."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from geointel.cli import main
from geointel.errors import DataFileError
from geointel.siting import export_result, read_sites, site_layers


def test_read_sites_generic_csv_accounts_for_every_row(tmp_path) -> None:
    path = tmp_path / "candidates.csv"
    path.write_text(
        "candidate_id,name,kind,latitude,longitude,easting,northing\n"
        "C1,Library,library,,,588000,185000\n"
        "C2,Hall,community_venue,51.54,0.71,,\n"
        "C3,Nowhere,venue,,,,\n"
        "C1,Again,library,,,588100,185100\n"
        ",Blank,venue,,,588100,185100\n", encoding="utf-8")
    r = read_sites(path)
    assert r.data["site_id"].tolist() == ["C1", "C2"]
    assert r.data.crs.to_epsg() == 27700
    assert r.data["easting"].tolist()[0] == 588000.0
    assert r.rows_read == 5 and r.rows_rejected == 3
    reasons = dict(zip(r.rejects["line"], r.rejects["reason"], strict=True))
    assert reasons[5] == "repeats an earlier site id" and reasons[6] == "candidate_id is blank"
    assert "blank" in reasons[4]


def test_read_sites_naptan_and_services(tmp_path) -> None:
    stops = tmp_path / "Stops.csv"
    stops.write_text("ATCOCode,CommonName,StopType,Easting,Northing,Status\n"
                     "15800001,East Beach,BCT,594125,184768,active\n"
                     "15800002,Old,BCT,594000,184000,inactive\n", encoding="utf-8")
    r = read_sites(stops)
    assert r.data[["site_id", "name", "kind"]].values.tolist() == [
        ["15800001", "East Beach", "bus"]]
    assert r.rows_rejected == 1
    services = tmp_path / "services.csv"
    services.write_text("service_id,name,kind,easting,northing\n"
                        "S1,Hub,treatment_hub,588000,185000\n", encoding="utf-8")
    assert read_sites(services).data[["site_id", "kind"]].values.tolist() == [
        ["S1", "treatment_hub"]]


def test_read_sites_missing_file(tmp_path) -> None:
    with pytest.raises(DataFileError, match="does not exist"):
        read_sites(tmp_path / "none.csv")


def test_site_layers_and_export(tmp_path) -> None:
    demand = gpd.GeoDataFrame({"lsoa_code": ["A", "B", "C"], "w": [100.0, 50.0, 10.0]},
                              geometry=[Point(0, 0), Point(2000, 0), Point(10_000, 0)],
                              crs="EPSG:27700")
    cands = gpd.GeoDataFrame({"site_id": ["s1", "s2"], "name": ["Lib", "Hall"],
                              "kind": ["library", "venue"]},
                             geometry=[Point(100, 0), Point(9_900, 0)], crs="EPSG:27700")
    existing = gpd.GeoDataFrame({"site_id": ["hub"], "name": ["Hub"], "kind": ["satellite"]},
                                geometry=[Point(2100, 0)], crs="EPSG:27700")
    r = site_layers(demand, cands, existing, model="mclp", weight_col="w", p=1, threshold=500,
                    demand_id_col="lsoa_code", site_id_col="site_id")
    assert r.selected == ("s1",)
    files = export_result(r, demand, pd.concat([cands, existing], ignore_index=True),
                          tmp_path / "out", demand_id_col="lsoa_code", marking="OFFICIAL",
                          attribution="test")
    sites = pd.read_csv(files["sites_csv"])
    assert sites[["site_id", "status", "weight_covered", "easting"]].values.tolist() == [
        ["hub", "existing", 50.0, 2100.0], ["s1", "new", 100.0, 100.0]]
    assert sites["marginal_gain"].tolist()[1] == 100.0
    layers = gpd.list_layers(files["gpkg"])["name"].tolist()
    assert sorted(layers) == ["assignment", "sites"]
    assignment = gpd.read_file(files["gpkg"], layer="assignment")
    assert assignment["covered"].tolist() == [True, True, False]
    summary = json.loads(Path(files["summary"]).read_text(encoding="utf-8"))
    assert summary["marking"] == "OFFICIAL" and summary["objective"] == 150.0
    assert summary["uncovered_points"] == 1


def test_cli_site_missing_candidates_is_exit_1(tmp_path, capsys) -> None:
    code = main(["site", "--candidates", str(tmp_path / "no.csv"), "--no-existing", "--json"])
    assert code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and "no.csv" in out["error"]


def test_cli_site_usage_error_is_exit_2() -> None:
    assert main(["site", "--model", "pcenter"]) == 2


@pytest.mark.sample
def test_cli_site_on_the_sample(settings, tmp_path, monkeypatch, capsys) -> None:
    if not (settings.samples_dir / "candidates.csv").is_file():
        pytest.skip("sample not built (run `make sample`)")
    monkeypatch.setenv("GEOINTEL_DATA_DIR", str(settings.data_dir))
    code = main(["site", "--model", "mclp", "-p", "3", "--threshold", "1600",
                 "--existing-kind", "treatment_hub", "--existing-kind", "satellite",
                 "--out", str(tmp_path), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["new_sites"] == 3 and out["status"] == "optimal"
    assert out["coverage_after"] > out["coverage_before"]
    sites = pd.read_csv(tmp_path / "sites.csv")
    new = sites[sites["status"] == "new"]
    assert len(new) == 3 and (new["marginal_gain"] > 0).all()
    assert new["marginal_gain"].is_monotonic_decreasing


@pytest.mark.sample
def test_cli_site_need_weight_joins_every_component_it_has(settings, tmp_path, monkeypatch,
                                                            capsys) -> None:
    """--weight need uses the drug offence rate, deaths, deprivation and distance to the
    existing services; need_index.csv holds them with their contributions, and the summary
    says what was used and what was skipped (unmet need, and deaths without --deaths)."""
    import numpy as np
    import pyogrio
    from scipy.spatial import cKDTree

    from geointel import harm
    from geointel.area import build_area
    from geointel.io.deaths import read_deaths
    from geointel.io.police_uk import read_police_uk, select_crime_types

    if not (settings.samples_dir / "candidates.csv").is_file():
        pytest.skip("sample not built (run `make sample`)")
    monkeypatch.setenv("GEOINTEL_DATA_DIR", str(settings.data_dir))
    kinds = ["--existing-kind", "treatment_hub", "--existing-kind", "satellite"]
    code = main(["site", "--weight", "need", "--deaths", str(settings.samples_dir /
                 "deaths.csv"), *kinds, "--out", str(tmp_path), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    need = out["need_index"]
    assert need["used"] == pytest.approx({"drug_offence_rate": 1 / 3, "drug_deaths": 2 / 9,
                                          "deprivation": 0.25 / 0.9,
                                          "distance_to_service": 1 / 6}, abs=1e-4)
    assert list(need["skipped"]) == ["unmet_need"]
    table = pd.read_csv(tmp_path / "need_index.csv")
    lsoas = build_area(settings.areas, data_dir=settings.data_dir).lsoas
    assert table["lsoa_code"].tolist() == lsoas["lsoa_code"].tolist()
    contributions = table.filter(like="contribution_")
    assert list(contributions.columns) == [f"contribution_{k}" for k in need["used"]]
    np.testing.assert_allclose(contributions.sum(axis=1), table["need_index"])
    assert need["mean_contribution"] == pytest.approx(
        {c.removeprefix("contribution_"): v for c, v in contributions.mean().items()},
        abs=1e-4)
    # each measure against an independent source
    drugs = select_crime_types(read_police_uk(settings.data_dir / "police_uk").data,
                               ["Drugs"])
    codes = drugs["lsoa_code"].value_counts()
    pop = lsoas.set_index("lsoa_code")["population"]
    np.testing.assert_allclose(table["drug_offence_rate"],
                               (codes.reindex(pop.index, fill_value=0) / pop * 1000).to_numpy())
    # deaths: the partner ward table's rate, hidden wards counted as threshold / 2 people
    register = read_deaths(settings.samples_dir / "deaths.csv").data
    dead = register.loc[register["category"] == "death"]
    ward_of = lsoas.set_index("lsoa_code")["ward_code"]
    per_ward = dead["lsoa_code"].map(ward_of).to_frame("ward").assign(
        n=dead["count"]).groupby("ward")["n"].sum()
    ward_pop = lsoas.groupby("ward_code")["population"].sum()
    published = harm.partner_deaths(register, lsoas,
                                    threshold=settings.suppression_threshold)
    hidden = set(published.loc[published["suppressed"], "code"])
    people = per_ward.reindex(ward_pop.index, fill_value=0).astype(float)
    people[people.index.isin(hidden)] = settings.suppression_threshold / 2
    expected = (people / ward_pop * 1e5).reindex(lsoas["ward_code"]).to_numpy()
    np.testing.assert_allclose(table["drug_death_rate"], expected)
    assert "drug_deaths" not in table.columns  # no count of deaths per LSOA goes out
    services = read_sites(settings.samples_dir / "services.csv").data
    services = services.loc[services["kind"].isin(["treatment_hub", "satellite"])]
    dist, _ = cKDTree(np.column_stack([services.geometry.x, services.geometry.y])).query(
        np.column_stack([lsoas["centroid_easting"], lsoas["centroid_northing"]]))
    np.testing.assert_allclose(table["dist_any"], dist * 1.3)
    # the demand weight is residents x need index, and is what the model covered
    np.testing.assert_allclose(table["demand_weight"], table["population"] * table["need_index"])
    assignment = pd.read_csv(tmp_path / "assignment.csv")
    assert out["objective"] == pytest.approx(
        assignment.loc[assignment["covered"], "weight"].sum(), rel=1e-9)
    assert "need_index" in dict(pyogrio.list_layers(tmp_path / "siting.gpkg"))
    # without --deaths, the deaths component is skipped and the summary says why
    code = main(["site", "--weight", "need", *kinds, "--out", str(tmp_path / "b"), "--json"])
    skipped = json.loads(capsys.readouterr().out)["need_index"]["skipped"]
    assert code == 0 and set(skipped) == {"drug_deaths", "unmet_need"}
    assert "--deaths" in skipped["drug_deaths"]


@pytest.mark.sample
def test_cli_site_lscp_covers_everyone_within_reach_by_default(settings, tmp_path,
                                                                monkeypatch, capsys) -> None:
    """At 5 km some rural LSOAs have no candidate or kept service in reach; the default
    target is the reachable share, and asking for 1 says what share is reachable."""
    import numpy as np
    from scipy.spatial import cKDTree

    from geointel.area import build_area

    if not (settings.samples_dir / "candidates.csv").is_file():
        pytest.skip("sample not built (run `make sample`)")
    monkeypatch.setenv("GEOINTEL_DATA_DIR", str(settings.data_dir))
    args = ["site", "--model", "lscp", "--threshold", "5000", "--existing-kind",
            "treatment_hub", "--existing-kind", "satellite", "--json"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    lsoas = build_area(settings.areas, data_dir=settings.data_dir).lsoas
    sites = pd.concat([read_sites(settings.samples_dir / "candidates.csv").data,
                       read_sites(settings.samples_dir / "services.csv").data.query(
                           "kind in ['treatment_hub', 'satellite']")])
    dist, _ = cKDTree(np.column_stack([sites.geometry.x, sites.geometry.y])).query(
        np.column_stack([lsoas["centroid_easting"], lsoas["centroid_northing"]]))
    reach = dist * 1.3 <= 5000
    pop = lsoas["population"].to_numpy(dtype=float)
    assert 0.5 < pop[reach].sum() / pop.sum() < 1  # some LSOAs are out of reach
    assert out["target_share"] == "everyone within reach" and out["status"] == "optimal"
    assert out["coverage_after"] == pytest.approx(pop[reach].sum() / pop.sum(), abs=1e-6)
    assert out["uncovered_points"] == int((~reach & (pop > 0)).sum())
    assert main([*args, "--target-share", "1", "--out", str(tmp_path / "b")]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    share = pop[reach].sum() / pop.sum()
    assert f"only {share:.1%}" in error and "without --target-share" in error
