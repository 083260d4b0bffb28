"""Every st.cache_* in the app lives here; pages call these, never the library directly
for anything expensive. Settings are passed explicitly (never mutated globally)."""

from __future__ import annotations

import streamlit as st

from geointel.area import Area, build_area
from geointel.settings import Settings, load_settings


@st.cache_resource
def settings() -> Settings:
    """The deployment's settings (read once per server)."""
    return load_settings()


@st.cache_resource(show_spinner="Building the area from open data…")
def area(codes: tuple[str, ...], data_dir: str) -> Area:
    """The Area for ``codes`` (frozen, shared read-only between sessions)."""
    from pathlib import Path

    return build_area(codes, data_dir=Path(data_dir))
