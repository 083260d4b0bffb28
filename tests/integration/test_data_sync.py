"""Done-when checks for `geointel data sync` on the real mirror, synced once to a temp dir.

Expected numbers are computed here, independently of the library: populations with the
csv module from the Census 2011 CSV, LSOA counts by counting GeoJSON features, police.uk
data rows by counting non-blank CSV rows.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest

from geointel.area import build_area
from geointel.cli import main
from geointel.opendata import ESSEX_DISTRICTS, LAYOUT

pytestmark = [pytest.mark.mirror, pytest.mark.slow]

AREAS = ("E06000033", "E06000034", "E10000012", "E06000045")


@pytest.fixture(scope="module")
def synced(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One sync of the four authorities through the CLI, with its --json output."""
    data = tmp_path_factory.mktemp("synced")
    argv = ["data", "sync", "--mirror", str(mirror), "--data-dir", str(data), "--json"]
    for code in AREAS:
        argv += ["--area", code]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return data, json.loads(out.getvalue())


@pytest.fixture(scope="module")
def area(synced):
    return build_area(AREAS, data_dir=synced[0])


def census_totals(path: Path) -> dict[str, int]:
    totals: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            totals[row["lad_code"]] = totals.get(row["lad_code"], 0) + int(row["usual_residents"])
    return totals


def test_populations_match_census_2011(area, mirror):
    totals = census_totals(mirror / LAYOUT["population"])
    expected = {
        "E06000033": totals["E06000033"],
        "E06000034": totals["E06000034"],
        "E10000012": sum(totals[d] for d in ESSEX_DISTRICTS),
        "E06000045": totals["E06000045"],
    }
    got = area.by_authority().set_index("code")["population"].to_dict()
    assert got == expected
    assert expected["E10000012"] == 1393587  # Census 2011, Essex county
    assert area.summary()["population"] == sum(expected.values())


def test_lsoa_counts_match_boundary_files(area, synced):
    data, _ = synced
    counts = {code: len(json.loads((data / LAYOUT["lsoa11"].format(code=code)).read_text())[
        "features"]) for code in AREAS}
    assert counts == {"E06000033": 107, "E06000034": 98, "E10000012": 872, "E06000045": 148}
    got = area.by_authority().set_index("code")["lsoas"].to_dict()
    assert got == counts
    assert len(area.lsoas) == sum(counts.values())
    assert all(not codes for codes in area.unmatched.values())


def test_every_police_row_is_accounted_for(synced, mirror):
    data, out = synced
    police = out["police"]
    files = sorted((data / "police_uk").glob("*-street.csv"))
    assert [f.name for f in files] == sorted(p.name for p in (mirror / "police_uk").glob(
        "*-street.csv"))  # every month of both forces
    rows = {}
    for path in files:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            next(reader)
            rows[path.name] = sum(1 for r in reader if any(v.strip() for v in r))
    assert police["files"] == len(files) == 10
    assert police["rows_read"] == sum(rows.values())
    assert police["rows_accepted"] + police["rows_rejected"] == sum(rows.values())
    assert sum(police["reject_reasons"].values()) == police["rows_rejected"]
    for name, n in rows.items():
        per_file = police["rows_by_file"][name]
        assert per_file["accepted"] + per_file["rejected"] == n


def test_manifest_and_cli_summary(synced, mirror):
    data, out = synced
    manifest = json.loads((data / "manifest.json").read_text())
    assert out["ok"] is True and out["files"] == len(manifest["files"]) == 33
    assert out["copied"] == 33 and out["unchanged"] == 0
    assert out["bytes"] == sum(e["bytes"] for e in manifest["files"].values())
    assert manifest["areas"] == sorted(AREAS)
    files = manifest["files"]
    assert files["boundaries/lsoa11/E06000033.geojson"]["areas"] == ["E06000033"]
    assert files["police_uk/2018-10-essex-street.csv"]["areas"] == [
        "E06000033", "E06000034", "E10000012"]
    assert files["naptan/150Stops.csv"]["areas"] == ["E06000033", "E06000034", "E10000012"]
    assert files["naptan/190Stops.csv"]["areas"] == ["E06000045"]
    assert files[LAYOUT["population"]]["areas"] == sorted(AREAS)
    assert manifest["files"]["rail/stations.csv"]["licence"].startswith("Open Database")
    for rel, entry in manifest["files"].items():
        assert entry["source"] == str((mirror / rel).resolve())
        assert not (data / rel).is_symlink()
