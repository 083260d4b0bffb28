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


@pytest.fixture
def app_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh audit log for an AppTest (pages read settings through a cache: cleared)."""
    from app_pages import _cached

    path = tmp_path / "audit.sqlite"
    monkeypatch.setenv("GEOINTEL_AUDIT_FILE", str(path))
    _cached.settings.clear()
    yield path
    _cached.settings.clear()
