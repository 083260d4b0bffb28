"""Briefings: build a pack for an operation (police) or a partnership board, preview it,
download it, publish board packs for viewers. Viewers see the published packs only."""

import streamlit as st

from app_pages import _cached
from app_pages._auth import require
from geointel import audit
from geointel.auth import allowed
from geointel.briefing import (
    PUBLISHED_FILES,
    page_count,
    publish_pack,
    published_packs,
    read_published,
)
from geointel.errors import GeointelError
from geointel.opendata import AUTHORITIES

KINDS = {"operation": "Operation (police: ranked lines, OFFICIAL-SENSITIVE)",
         "board": "Partnership board (partners: harm, access, siting; OFFICIAL)"}
DOWNLOADS = {"briefing.pdf": "PDF pack (A4 landscape)", "map.html": "Map (HTML, opens offline)",
             "map.png": "Map (PNG)", "briefing.gpkg": "Map layers (GeoPackage)"}
MIME = {**PUBLISHED_FILES, "briefing.gpkg": "application/geopackage+sqlite3",
        "csv": "text/csv", "geojson": "application/geo+json"}


def _label(name: str) -> str:
    """Download label of a pack file: the known ones, then a layer or table by its name."""
    if name in DOWNLOADS:
        return DOWNLOADS[name]
    stem, suffix = name.rsplit(".", 1)
    what = "Map layer" if suffix == "geojson" else "Table"
    return f"{what}: {stem.replace('_', ' ')} ({'GeoJSON' if suffix == 'geojson' else 'CSV'})"

st.title("Briefings")
role = require("page:briefing")
cfg = _cached.settings()
user = str(st.session_state.get("user") or role)


def _record(what: str, marking: str) -> None:
    audit.record(cfg.resolved_audit_file(), "export", user=user, role=role, what=what,
                 marking=marking)


def _published() -> None:
    st.subheader("Published briefings")
    try:
        packs = published_packs(cfg.published_dir)
    except GeointelError as err:
        st.error(str(err))
        return
    if not packs:
        st.info("No briefing has been published yet.")
        return
    for pack in packs:
        with st.container(border=True):
            st.markdown(f"**{pack.title}** · {pack.date} · {pack.marking}")
            st.caption(" · ".join(f"{label}: {value}" for label, value in pack.key_figures))
            cols = st.columns(max(1, len(pack.files)))
            for col, name in zip(cols, pack.files, strict=False):
                try:
                    data = read_published(pack, name, role=role)
                except GeointelError as err:
                    st.error(str(err))
                    continue
                col.download_button(DOWNLOADS[name], data, file_name=f"{pack.name}-{name}",
                                    mime=MIME[name], key=f"pub-{pack.name}-{name}",
                                    on_click=_record,
                                    args=(f"published briefing: {pack.name}/{name}",
                                          pack.marking))


if not allowed(role, "export:partner_briefing"):  # viewers: published packs only
    _published()
    st.stop()

def _area_name(code: str) -> str:
    authority = AUTHORITIES.get(code)
    return f"{authority.name} ({code})" if authority else code


kinds = [k for k, cap in _cached.BRIEFING_CAPABILITY.items() if allowed(role, cap)]
with st.sidebar:
    kind = st.radio("Pack", kinds, format_func=KINDS.__getitem__)
    codes = tuple(st.multiselect("Area (local authorities)", list(cfg.areas),
                                 default=list(cfg.areas), format_func=_area_name))
    build = st.button("Build pack", type="primary")
if build and codes:
    st.session_state["briefing_params"] = (kind, codes)
if not codes or st.session_state.get("briefing_params") != (kind, codes):
    st.info("Choose the pack and the area in the sidebar, then press Build pack. Building "
            "takes about half a minute the first time; a bar shows how far it is.")
    _published()
    st.stop()

try:
    pack = _cached.briefing_pack(kind, codes, cfg, role)
    files = _cached.briefing_files(kind, codes, cfg, role)
except GeointelError as err:
    st.error(str(err))
    st.stop()

st.subheader(pack.title)
st.caption(f"**{pack.marking}** · prepared {pack.date} · {page_count(pack)} PDF pages · "
           f"areas {', '.join(map(_area_name, codes))}")
for text in next((s.text for s in pack.sections if s.text), ()):
    st.caption(text)
if kind == "operation":
    st.caption("Lines are ranked exactly as on the Targeting page in this session (the "
               "intelligence register, your audited overrides and the number of draws).")
figures = list(pack.key_figures)
for start in range(0, len(figures), 4):
    cols = st.columns(4)
    for col, (label, value) in zip(cols, figures[start:start + 4], strict=False):
        col.metric(label, value)
for heading, table in pack.tables.items():
    st.markdown(f"**{heading.replace('_', ' ').capitalize()}**")
    st.dataframe(table, hide_index=True, width="stretch")
if "map.html" in files:
    st.iframe(files["map.html"].decode("utf-8"), height=600)

st.subheader("Download")
names = [n for n in DOWNLOADS if n in files]
data = sorted(n for n in files if n.endswith((".geojson", ".csv")))
for row in (names, data):
    for col, name in zip(st.columns(max(len(row), 1)), row, strict=False):
        col.download_button(_label(name), files[name], file_name=name,
                            mime=MIME.get(name) or MIME[name.rsplit(".", 1)[-1]],
                            key=f"dl-{name}", on_click=_record,
                            args=(f"{kind} briefing: {name}", pack.marking))
st.caption(f"Every file is marked {pack.marking} and carries the data attribution; each "
           "download is recorded in the audit log.")

if pack.audience == "partner":
    st.subheader("Publish")
    st.caption("Publishing puts this partner pack (small numbers suppressed, no police "
               "layers) where the viewer role can download it.")
    if st.button("Publish for viewers"):
        name = f"{pack.date} board {' '.join(codes)}"
        try:
            folder = publish_pack(pack, cfg.published_dir, role=role, name=name)
        except GeointelError as err:
            st.error(str(err))
            st.stop()
        _record(f"published briefing: {folder.name}", pack.marking)
        st.success(f"Published as {folder.name}.")
_published()
