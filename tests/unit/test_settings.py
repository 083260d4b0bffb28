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
