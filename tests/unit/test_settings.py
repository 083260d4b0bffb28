"""Settings precedence: defaults < geointel.toml < GEOINTEL_* environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from geointel.errors import ValidationError
from geointel.settings import SET_AREAS, load_settings


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    assert s.areas == SET_AREAS and s.seed == 42 and s.suppression_threshold == 5


def test_file_then_environment(tmp_path):
    config = tmp_path / "g.toml"
    config.write_text('seed = 3\nareas = ["E06000045"]\ndata_dir = "/x/data"\n')
    s = load_settings(config, env={})
    assert (s.seed, s.areas, s.data_dir) == (3, ("E06000045",), Path("/x/data"))
    s = load_settings(config, env={"GEOINTEL_SEED": "9", "GEOINTEL_CONFIG": "ignored"})
    assert s.seed == 9 and s.areas == ("E06000045",)


@pytest.mark.parametrize(("text", "message"), [("seed = [1\n", "not valid TOML"),
                                              ("colour = 1\n", "unknown setting"),
                                              ('seed = "many"\n', "unusable value")])
def test_bad_files_are_explained(tmp_path, text, message):
    config = tmp_path / "g.toml"
    config.write_text(text)
    with pytest.raises(ValidationError, match=message):
        load_settings(config, env={})


def test_named_missing_file_is_an_error(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        load_settings(env={"GEOINTEL_CONFIG": str(tmp_path / "none.toml")})


@pytest.mark.parametrize(("key", "value", "message"), [
    ("SUPPRESSION_THRESHOLD", "1", r"suppression_threshold must be a whole number from 3 to "
                                   r"100, got 1 \(1 would hide nothing"),
    ("SUPPRESSION_THRESHOLD", "2", "from 3 to 100, got 2"),
    ("SUPPRESSION_THRESHOLD", "0", "got 0"),
    ("SUPPRESSION_THRESHOLD", "1000", "got 1000"),
    ("UPLOAD_MAX_MB", "0", r"upload_max_mb must be a whole number from 1 to 1024, got 0"),
    ("UPLOAD_MAX_MB", "-5", "got -5"),
    ("UPLOAD_MAX_MB", "5000", "got 5000"),
])
def test_out_of_range_settings_are_refused(key, value, message):
    with pytest.raises(ValidationError, match=message):
        load_settings(env={f"GEOINTEL_{key}": value})


def test_range_ends_are_accepted_and_direct_construction_is_checked_too(tmp_path):
    from geointel.settings import Settings

    s = load_settings(env={"GEOINTEL_SUPPRESSION_THRESHOLD": "3", "GEOINTEL_UPLOAD_MAX_MB": "1"})
    assert (s.suppression_threshold, s.upload_max_mb) == (3, 1)
    config = tmp_path / "g.toml"
    config.write_text("suppression_threshold = 1\n")
    with pytest.raises(ValidationError, match="got 1"):
        load_settings(config, env={})
    with pytest.raises(ValidationError, match="upload_max_mb"):
        Settings(upload_max_mb=True)  # type: ignore[arg-type]


def test_streamlit_upload_cap_matches_the_default_setting():
    import tomllib

    from geointel.settings import PROJECT_ROOT, Settings

    server = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["maxUploadSize"] == Settings().upload_max_mb == 50
