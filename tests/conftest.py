"""Shared fixtures: the open-data mirror, the synced data directory, the built sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from geointel.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The read-only open-data mirror (../shared/data)."""
    path = Settings().resolved_mirror()
    if path is None:
        pytest.skip("no open-data mirror (../shared/data) on this machine")
    return path


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Project settings as `make test` leaves them (data synced, sample built)."""
    return load_settings(env={})


@pytest.fixture
def key() -> bytes:
    """A fixed test pseudonymisation key."""
    return bytes(range(32))



@pytest.fixture(autouse=True)
def _private_audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI records exports, overrides and data loads: keep every test's rows out of the
    real data directory's audit log (a module-wide log set by a fixture is kept)."""
    import os

    if "GEOINTEL_AUDIT_FILE" not in os.environ:
        monkeypatch.setenv("GEOINTEL_AUDIT_FILE", str(tmp_path / "cli-audit.sqlite"))


def _use_audit_log(path: Path, mp: pytest.MonkeyPatch) -> None:
    """Point the app at audit log ``path`` with default settings otherwise (pages read
    settings through a cache, which is cleared)."""
    from app_pages import _cached

    mp.setenv("GEOINTEL_AUDIT_FILE", str(path))
    for name in ("GEOINTEL_PSEUDONYM_KEY", "GEOINTEL_CONFIG", "GEOINTEL_KEY_FILE",
                 "GEOINTEL_DATA_DIR"):
        mp.delenv(name, raising=False)
    _cached.settings.clear()


@pytest.fixture
def app_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh audit log for one AppTest."""
    from app_pages import _cached

    _use_audit_log(tmp_path / "audit.sqlite", monkeypatch)
    yield tmp_path / "audit.sqlite"
    _cached.settings.clear()


@pytest.fixture(scope="module")
def analyst_audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An audit log shared by a module's AppTests of the analyst pages, which need the
    sample's contact records and the key as `make test` leaves them."""
    from app_pages import _cached

    settings = load_settings(env={})
    if not (settings.samples_dir / "contacts.csv").is_file() or \
            not settings.resolved_key_file().is_file():
        pytest.skip("the sample is not built (geointel sample build) or no key")
    path = tmp_path_factory.mktemp("analyst") / "audit.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        _use_audit_log(path, mp)
        yield path
    _cached.settings.clear()
