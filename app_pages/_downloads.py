"""Download buttons for an export's files, each click recorded in the audit log."""

from __future__ import annotations

import streamlit as st

from geointel import audit
from geointel.settings import Settings

#: file suffix -> (label suffix, MIME type)
KINDS = {
    ".gpkg": ("GeoPackage", "application/geopackage+sqlite3"),
    ".csv": ("CSV", "text/csv"),
    ".geojson": ("GeoJSON", "application/geo+json"),
}


def _record(cfg: Settings, role: str, what: str, marking: str) -> None:
    audit.record(cfg.resolved_audit_file(), "export", user=st.session_state.get("user", role),
                 role=role, what=what, marking=marking)


def download_buttons(files: dict[str, bytes], *, cfg: Settings, role: str, topic: str,
                     marking: str, labels: dict[str, str] | None = None) -> None:
    """One button per data file of ``files`` (by name; MARKING.txt and summary.json are in
    every export's GeoPackage/CSV metadata and are not offered alone)."""
    names = [n for n in files if any(n.endswith(suffix) for suffix in KINDS)]
    for col, name in zip(st.columns(len(names)), names, strict=True):
        kind, mime = KINDS[name[name.rindex("."):]]
        label = (labels or {}).get(name, f"{name.rsplit('.', 1)[0].replace('_', ' ')} ({kind})")
        col.download_button(label, files[name], file_name=name, mime=mime, on_click=_record,
                            args=(cfg, role, f"{topic}: {name}", marking))
    st.caption(f"Exports are marked {marking} and carry the data attribution; each download is "
               "recorded in the audit log.")
