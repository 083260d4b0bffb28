"""`geointel sample build` on the real SET geography (open data from the mirror)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from geointel.cli import main
from geointel.settings import SET_AREAS

pytestmark = [pytest.mark.mirror]

# The district each hub's town lies in.
HUB_DISTRICTS = {
    "Southend-on-Sea": "E06000033", "Grays": "E06000034", "Basildon": "E07000066",
    "Chelmsford": "E07000070", "Colchester": "E07000071", "Harlow": "E07000073",
    "Clacton-on-Sea": "E07000076",
}


@pytest.fixture(scope="module")
def data_dir(mirror, tmp_path_factory) -> Path:
    from geointel.opendata import sync

    folder = tmp_path_factory.mktemp("data")
    sync(list(SET_AREAS), data_dir=folder, mirror=mirror, months=["2018-10"])
    return folder


@pytest.fixture(scope="module")
def area(data_dir):
    from geointel.area import build_area

    return build_area(SET_AREAS, data_dir=data_dir)


@pytest.fixture(scope="module")
def cli_build(data_dir) -> tuple[dict, Path]:
    """The CLI run once for the whole SET area with seed 42 (about 10-30 s)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GEOINTEL_DATA_DIR", str(data_dir))
        mp.delenv("GEOINTEL_CONFIG", raising=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["sample", "build", "--seed", "42", "--json"])
    assert code == 0
    return json.loads(out.getvalue()), data_dir / "samples"


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_cli_builds_the_labelled_sample_into_samples_dir(cli_build):
    summary, folder = cli_build
    assert summary["ok"] is True and summary["seed"] == 42
    assert summary["label"] == "SYNTHETIC — not real data"
    assert summary["areas"] == list(SET_AREAS)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["lsoas"] == 1077 and manifest["population"] == 1_724_950
    assert manifest["files"]["services.csv"]["rows"] == summary["rows"]["services.csv"]
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == {
        k: v for k, v in _hashes(folder).items() if k != "manifest.json"}
    # realistic sizes: a few hundred services, ~1 pharmacy per 9,000 of 1.72 million
    services = pd.read_csv(folder / "services.csv", dtype=str, keep_default_na=False)
    assert services["kind"].value_counts().to_dict() == {
        "pharmacy": 192, "naloxone": 29, "satellite": 13, "outreach": 9, "treatment_hub": 7}


@pytest.mark.slow
def test_same_area_and_seed_rebuild_identical_bytes(cli_build, area, tmp_path):
    from geointel.samples import build_sample

    _, folder = cli_build
    build_sample(area.lsoas, seed=42, out_dir=tmp_path)
    assert _hashes(tmp_path) == _hashes(folder)


@pytest.mark.slow
def test_hubs_and_satellites_lie_in_the_right_authority(cli_build, area):
    from geointel.io.services import read_services

    _, folder = cli_build
    services = read_services(folder / "services.csv")
    assert services.rows_rejected == 0
    lsoas = area.lsoas[["lsoa_code", "lad_code", "utla_code", "geometry"]]
    located = gpd.sjoin(services.data[["name", "kind", "geometry"]], lsoas,
                        predicate="covered_by", how="left")
    assert located.index.is_unique and located["lad_code"].notna().all()  # all in the area
    hubs = located[located["kind"] == "treatment_hub"]
    found = dict(zip(hubs["name"].str.extract(r"\((.+)\)")[0], hubs["lad_code"], strict=True))
    assert found == HUB_DISTRICTS
    sats = located[located["kind"] == "satellite"].set_index("name")
    harwich = sats.loc["Sample satellite clinic 12 (Harwich)"]
    assert (harwich["lad_code"], harwich["utla_code"]) == ("E07000076", "E10000012")


@pytest.mark.slow
def test_deaths_read_back_and_concentrate_in_deprived_deciles(cli_build, area):
    from geointel.io.deaths import read_deaths

    _, folder = cli_build
    deaths = read_deaths(folder / "deaths.csv")
    assert deaths.rows_rejected == 0
    died = deaths.data[deaths.data["category"] == "death"]
    lsoas = area.lsoas.set_index("lsoa_code")
    decile = died["lsoa_code"].map(lsoas["imd_decile"])
    pop = lsoas.groupby("imd_decile")["population"].sum()
    deprived = decile.isin([1, 2]).sum() / pop[[1, 2]].sum()
    affluent = decile.isin([9, 10]).sum() / pop[[9, 10]].sum()
    assert deprived > 3 * affluent
    # overall rate close to the 5.5 per 100,000 per year the generator aims at
    years = (pd.Timestamp("2019-03-01") - pd.Timestamp("2016-01-01")).days / 365.25
    rate = len(died) / 1_724_950 * 1e5 / years
    assert 4.5 < rate < 6.5


def test_cli_without_synced_data_exits_1_naming_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEOINTEL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GEOINTEL_CONFIG", raising=False)
    assert main(["sample", "build", "--seed", "1", "--area", "E06000033"]) == 1
    assert "geointel data sync --area E06000033" in capsys.readouterr().err
    assert not (tmp_path / "samples").exists()
