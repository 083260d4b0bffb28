"""The row counts data/samples/README.md states are the ones the seed-42 SET build writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from geointel.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `([\w/]+\.csv)` \| ([\d,]+) \|", re.MULTILINE)


def test_sample_readme_row_counts_match_the_built_manifest() -> None:
    stated = {name: int(n.replace(",", "")) for name, n in
              ROW.findall((ROOT / "data" / "samples" / "README.md").read_text(encoding="utf-8"))}
    assert len(stated) == 10 and stated["deaths.csv"] == 1762
    manifest_path = load_settings(env={}).samples_dir / "manifest.json"
    if not manifest_path.is_file():
        pytest.skip("the sample is not built (geointel sample build)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if (manifest["seed"], manifest["lsoas"]) != (42, 1077):  # 1,077 LSOAs: the SET area
        pytest.skip("the sample was built with another seed or area")
    assert stated == {name: entry["rows"] for name, entry in manifest["files"].items()}
