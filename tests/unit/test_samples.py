"""The synthetic sample: deterministic bytes, realistic shape, readable by the readers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from geointel.errors import CRSError, DataFileError, ValidationError
from geointel.samples import (
    CANDIDATE_COLUMNS,
    DEATH_COLUMNS,
    DEATH_RATE_PER_100K,
    LABEL,
    SERVICE_COLUMNS,
    build_sample,
    make_candidates,
    make_deaths,
    make_services,
    relative_risk,
)

SOUTHEND, TENDRING = "E06000033", "E07000076"
POP = 1600  # per LSOA: 200 LSOAs -> 320,000 residents


def _grid(lad: str, name: str, x0: float, y0: float, start: int) -> list[dict]:
    """A 10 x 10 grid of 1 km square 'LSOAs' with deciles 1..10 repeating."""
    rows = []
    for i in range(100):
        x, y = x0 + 1000 * (i % 10), y0 + 1000 * (i // 10)
        rows.append({"lsoa_code": f"E01{start + i:06d}", "lad_code": lad, "lad_name": name,
                     "population": POP, "imd_decile": i % 10 + 1, "imd_rank": 0,
                     "centroid_easting": x + 500.0, "centroid_northing": y + 500.0,
                     "geometry": box(x, y, x + 1000, y + 1000)})
    return rows


@pytest.fixture(scope="module")
def lsoas() -> gpd.GeoDataFrame:
    """Hand-made Area-shaped table: grids around Southend and around Clacton/Jaywick.

    Southend centre (588170, 185720), Leigh-on-Sea (584280, 185910), Clacton
    (617540, 214850), Jaywick (614980, 213400) and Walton-on-the-Naze (625180, 221650)
    lie outside only for Walton; Shoeburyness (593950) and Harwich lie outside their grid.
    """
    rows = _grid(SOUTHEND, "Southend-on-Sea", 583000, 181000, 1) + _grid(
        TENDRING, "Tendring", 612000, 210000, 101)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700")


@pytest.fixture(scope="module")
def built(lsoas, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("sample")
    return out, build_sample(lsoas, seed=42, out_dir=out)


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- determinism and manifest ----------------------------------------------------------

def test_same_seed_gives_identical_bytes_and_other_seed_differs(lsoas, built, tmp_path):
    first, _ = built
    again = build_sample(lsoas, seed=42, out_dir=tmp_path / "again")
    other = build_sample(lsoas, seed=43, out_dir=tmp_path / "other")
    assert _hashes(first) == _hashes(tmp_path / "again")
    assert dict(again.files) == {k: v for k, v in _hashes(first).items() if k != "manifest.json"}
    differ = {k for k in other.files if other.files[k] != again.files[k]}
    assert {"services.csv", "candidates.csv", "deaths.csv", "truth/deaths_rate.csv"} <= differ


def test_manifest_lists_every_file_with_its_hash_and_label(built):
    out, rep = built
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["label"] == LABEL == "SYNTHETIC — not real data"
    assert manifest["seed"] == 42 and manifest["lsoas"] == 200
    assert manifest["population"] == 200 * POP
    assert manifest["lad_codes"] == [SOUTHEND, TENDRING]
    on_disk = {k: v for k, v in _hashes(out).items() if k != "manifest.json"}
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == on_disk
    assert set(on_disk) == {"services.csv", "candidates.csv", "deaths.csv", "contacts.csv",
                            "intel.csv", "disruptions.csv", "cells.csv",
                            "truth/deaths_rate.csv", "truth/handsets.csv", "truth/lines.csv"}
    for name, entry in manifest["files"].items():
        lines = (out / name).read_text(encoding="utf-8").count("\n")
        assert entry["rows"] == rep.rows[name] == lines - 1  # header + one line per row
    assert b"\r" not in (out / "services.csv").read_bytes()


def test_progress_is_reported_to_the_end(lsoas, tmp_path):
    seen: list[tuple[int, int, str]] = []
    build_sample(lsoas, seed=1, out_dir=tmp_path, progress=lambda d, t, m: seen.append((d, t, m)))
    assert seen[0][0] == 0 and seen[-1] == (5, 5, "done")
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)


def test_sample_reads_back_through_the_readers_with_no_rejects(built):
    from geointel.io.deaths import read_deaths
    from geointel.io.services import read_services

    out, rep = built
    services = read_services(out / "services.csv")
    assert services.rows_rejected == 0 and services.rows_accepted == rep.rows["services.csv"]
    assert services.data["kind"].value_counts()["treatment_hub"] == 2
    hub = services.data.set_index("service_id").loc["S0001"]
    # written as WGS84 to 6 decimals, read back to BNG within 0.2 m of (588170, 185720)
    assert abs(hub["easting"] - 588170) < 0.2 and abs(hub["northing"] - 185720) < 0.2
    assert services.data["capacity"].isna().sum() == 36 + 5  # pharmacies and hostels
    deaths = read_deaths(out / "deaths.csv")
    assert deaths.rows_rejected == 0 and deaths.rows_accepted == rep.rows["deaths.csv"]
    truth = pd.read_csv(out / "truth" / "deaths_rate.csv")
    by_category = deaths.data.groupby("category")["count"].sum()
    assert by_category["death"] == truth["deaths"].sum()
    assert by_category["non_fatal_overdose"] == truth["non_fatal"].sum()
    assert deaths.data.loc[deaths.data["category"] == "death", "geometry"].isna().all()


# --- services --------------------------------------------------------------------------

def test_services_counts_follow_population(lsoas):
    s = make_services(lsoas, seed=42)
    counts = s["kind"].value_counts().to_dict()
    # 320,000 residents: pharmacies 1 per 9,000 (35.6 -> 36), hostel naloxone points
    # 1 per 60,000 (5.3 -> 5), outreach 1 per 200,000 (1.6 -> 2); hubs Southend and
    # Clacton; satellites Shoeburyness and Harwich (moved into their districts).
    assert counts == {"pharmacy": 36, "naloxone": 5, "outreach": 2, "treatment_hub": 2,
                      "satellite": 2}
    assert list(s.columns[: len(SERVICE_COLUMNS)]) == SERVICE_COLUMNS
    assert s["service_id"].tolist() == [f"S{i:04d}" for i in range(1, 48)]
    assert s["service_id"].is_unique and s["name"].is_unique
    assert s["name"].str.startswith("Sample ").all()
    assert s["notes"].str.startswith("SYNTHETIC").all()


def test_hubs_sit_at_the_town_centres_inside_their_district(lsoas):
    s = make_services(lsoas, seed=7)
    hubs = s[s["kind"] == "treatment_hub"].set_index("name")
    assert hubs.loc["Sample treatment hub 1 (Southend-on-Sea)", ["easting", "northing"]].tolist() \
        == [588170.0, 185720.0]
    assert hubs.loc["Sample treatment hub 2 (Clacton-on-Sea)", ["easting", "northing"]].tolist() \
        == [617540.0, 214850.0]
    fixed = s[s["kind"].isin(["treatment_hub", "satellite", "outreach"])]
    for _, row in fixed.iterrows():
        district = lsoas[lsoas["lad_code"] == row["lad_code"]].union_all()
        assert district.covers(shapely.Point(row["easting"], row["northing"])), row["name"]
    # Shoeburyness (593950, 185270) lies 950 m east of the Southend grid: moved into the
    # nearest LSOA, column 9 of row 4 (x 592-593 km, y 185-186 km): index 49, E01000050.
    shoe = s[s["name"].str.contains("Shoeburyness")].iloc[0]
    assert (shoe["lad_code"], shoe["lsoa_code"]) == (SOUTHEND, "E01000050")


def test_every_point_service_lies_in_its_lsoa(lsoas):
    s = make_services(lsoas, seed=3)
    by_code = lsoas.set_index("lsoa_code").geometry
    moved = s["kind"].isin(["treatment_hub", "satellite"])
    for _, row in s[~moved].iterrows():
        assert by_code[row["lsoa_code"]].covers(shapely.Point(row["easting"], row["northing"]))


def test_outreach_goes_to_the_most_deprived_lsoas(lsoas):
    s = make_services(lsoas, seed=11)
    deciles = lsoas.set_index("lsoa_code")["imd_decile"]
    assert deciles[s.loc[s["kind"] == "outreach", "lsoa_code"]].tolist() == [1, 1]


def test_pharmacies_mostly_close_evenings_and_sundays(lsoas):
    hours = make_services(lsoas, seed=5).query("kind == 'pharmacy'")["opening_hours"]
    sunday = hours.str.contains("Su")
    assert 0 < sunday.sum() < len(hours) / 2
    assert set(hours) <= {"Mo-Fr 09:00-18:00; Sa 09:00-13:00", "Mo-Fr 09:00-17:30",
                          "Mo-Sa 09:00-17:30", "Mo-Sa 08:00-22:00; Su 10:00-16:00",
                          "Mo-Su 07:00-23:00"}


def test_latitude_longitude_match_the_bng_point(lsoas):
    s = make_services(lsoas, seed=1).iloc[0]
    # Southend hub: BNG (588170, 185720) is about 51.5390 N, 0.7120 E.
    assert s["latitude"] == "51.539009" and s["longitude"] == "0.711958"


def test_a_district_with_no_listed_town_gets_a_central_hub():
    rows = [{"lsoa_code": f"E0100000{i}", "lad_code": "E06000045", "lad_name": "Southampton",
             "population": p, "imd_decile": 3, "centroid_easting": 442000.0 + 1000 * i,
             "centroid_northing": 112000.0, "geometry": box(441500 + 1000 * i, 111500,
                                                            442500 + 1000 * i, 112500)}
            for i, p in enumerate([1000, 4000, 1000])]
    s = make_services(gpd.GeoDataFrame(rows, crs="EPSG:27700"), seed=1)
    hub = s[s["kind"] == "treatment_hub"]
    assert hub[["name", "easting", "northing"]].values.tolist() == [
        ["Sample treatment hub 1 (Southampton)", 443000.0, 112000.0]]
    assert (s["kind"] == "satellite").sum() == 0


# --- candidates ------------------------------------------------------------------------

def test_candidates(lsoas):
    c = make_candidates(lsoas, seed=42)
    assert list(c.columns[:len(CANDIDATE_COLUMNS)]) == CANDIDATE_COLUMNS
    # libraries in the unserved listed towns present: Leigh-on-Sea, Jaywick, Walton;
    # GP surgeries 320,000 / 25,000 = 12.8 -> 13; community venues / 40,000 = 8.
    assert c["kind"].value_counts().to_dict() == {"gp_surgery": 13, "community_venue": 8,
                                                  "library": 3}
    libraries = c.loc[c["kind"] == "library", "name"].tolist()
    assert libraries == ["Sample library 1 (Leigh-on-Sea)", "Sample library 2 (Jaywick)",
                         "Sample library 3 (Walton-on-the-Naze)"]
    assert c["candidate_id"].is_unique and c["name"].str.startswith("Sample ").all()


# --- deaths register -------------------------------------------------------------------

def test_relative_risk_by_decile():
    assert relative_risk(np.arange(1, 11)).round(4).tolist() == [
        5.9874, 4.9077, 4.0227, 3.2973, 2.7027, 2.2153, 1.8158, 1.4884, 1.22, 1.0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_deaths_concentrate_in_deprived_deciles(lsoas, seed):
    records, truth = make_deaths(lsoas, seed=seed)
    deaths = records[records["category"] == "death"]
    decile = deaths["lsoa_code"].map(lsoas.set_index("lsoa_code")["imd_decile"])
    # equal population per decile, so counts compare as rates
    assert decile.isin([1, 2]).sum() > 2 * decile.isin([9, 10]).sum()
    assert len(deaths) == truth["deaths"].sum()


def test_death_rates_truth(lsoas):
    records, truth = make_deaths(lsoas, seed=42)
    pop = truth["population"]
    overall = (truth["rate_per_100k"] * pop).sum() / pop.sum()
    assert overall == pytest.approx(DEATH_RATE_PER_100K)
    years = (pd.Timestamp("2019-02-28") - pd.Timestamp("2016-01-01")).days / 365.25 + 1 / 365.25
    assert truth["expected_deaths"].sum() == pytest.approx(5.5e-5 * 320_000 * years)
    elevated = truth[truth["elevated"]]
    assert len(elevated) == 4 and elevated["imd_decile"].le(3).all()  # 2% of 200
    plain = truth[~truth["elevated"]]
    ratio = plain.set_index("imd_decile")["rate_per_100k"].groupby(level=0).first()
    assert ratio[1] / ratio[10] == pytest.approx(1.22 ** 9)
    nf = records[records["category"] == "non_fatal_overdose"]
    assert nf["count"].astype(int).sum() == truth["non_fatal"].sum()
    assert truth["expected_non_fatal"].sum() == pytest.approx(5 * truth["expected_deaths"].sum())


def test_death_records_shape(lsoas):
    records, _ = make_deaths(lsoas, seed=42, start="2018-10-01", end="2019-02-28")
    assert list(records.columns) == DEATH_COLUMNS
    assert records["record_id"].is_unique
    assert records["date"].tolist() == sorted(records["date"])
    deaths = records[records["category"] == "death"]
    assert deaths["date"].between("2018-10-01", "2019-02-28").all()
    assert (deaths["count"] == "1").all() and (deaths["latitude"] == "").all()
    nf = records[records["category"] == "non_fatal_overdose"]
    assert nf["date"].str.fullmatch(r"\d{4}-\d{2}").all() and (nf["latitude"] != "").all()
    assert nf["date"].between("2018-10", "2019-02").all()
    assert set(records["substance"]) <= {"opiates", "multiple", "cocaine", "benzodiazepines",
                                         "methadone", "other"}


# --- bad input -------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors(lsoas, tmp_path):
    with pytest.raises(ValidationError, match="no column imd_decile"):
        make_services(lsoas.drop(columns="imd_decile"), seed=1)
    with pytest.raises(CRSError, match="EPSG:27700"):
        make_deaths(lsoas.to_crs(4326), seed=1)
    with pytest.raises(ValidationError, match="seed must be a whole number"):
        make_candidates(lsoas, seed=-1)
    with pytest.raises(ValidationError, match="imd_decile must be 1-10"):
        make_services(lsoas.assign(imd_decile=0), seed=1)
    with pytest.raises(ValidationError, match="no LSOA in lsoas has both"):
        make_services(lsoas.assign(population=pd.NA), seed=1)
    with pytest.raises(ValidationError, match="duplicate lsoa_code"):
        make_services(pd.concat([lsoas, lsoas.iloc[:1]]), seed=1)
    with pytest.raises(ValidationError, match="end"):
        make_deaths(lsoas, seed=1, start="2019-01-01", end="2018-01-01")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataFileError, match="is a file, not a directory"):
        build_sample(lsoas, seed=1, out_dir=blocker)


def test_lsoas_without_population_or_imd_are_left_out(lsoas, caplog):
    holes = lsoas.assign(population=lsoas["population"].astype("Int64"))
    holes.loc[holes["lsoa_code"] == "E01000001", "population"] = pd.NA
    holes.loc[holes["lsoa_code"] == "E01000002", "imd_decile"] = np.nan
    _, truth = make_deaths(holes, seed=1)
    assert len(truth) == 198 and "E01000001" not in set(truth["lsoa_code"])
    assert "2 LSOA(s) have no population or IMD decile" in caplog.text


def test_inputs_are_not_mutated(lsoas):
    before = lsoas.copy()
    make_services(lsoas, seed=1)
    make_deaths(lsoas, seed=1)
    pd.testing.assert_frame_equal(lsoas, before)
