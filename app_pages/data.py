"""Data: which data are in use (sources, dates obtained, months covered, licences), each
reader's reject report, and loading a partner file (services or deaths register) by upload
or by path."""

import json

import pandas as pd
import streamlit as st

from app_pages import _cached
from app_pages._auth import require
from geointel import audit
from geointel.errors import GeointelError
from geointel.io.uploads import accept_upload, partner_file
from geointel.opendata import read_manifest

KINDS = {"Services register": "services", "Deaths / incidents register": "deaths"}

st.title("Data")
role = require("page:data")
cfg = _cached.settings()
data_dir = str(cfg.data_dir)


def counts(label: str, result: object) -> dict:
    """One row of the reject report table for a reader's result."""
    summary = result.summary()  # type: ignore[attr-defined]
    return {"data": label, "covers": result.months(),  # type: ignore[attr-defined]
            "files": summary["files"], "rows read": summary["rows_read"],
            "accepted": summary["rows_accepted"], "rejected": summary["rows_rejected"]}


def show_rejects(result: object) -> None:
    """The reasons and the first rejected rows of a reader's result."""
    rejects = result.rejects  # type: ignore[attr-defined]
    if rejects.empty:
        st.write("No rows rejected.")
        return
    reasons = rejects["reason"].value_counts().rename_axis("reason").reset_index()
    st.dataframe(reasons, hide_index=True, width="stretch")
    st.dataframe(rejects.head(200), hide_index=True, width="stretch")


st.subheader("Data in use")
manifest = read_manifest(cfg.data_dir)
files = pd.DataFrame([{"file": name, "source": entry.get("source", ""),
                       "obtained": entry.get("obtained", ""),
                       "licence": entry.get("licence", ""), "bytes": entry.get("bytes"),
                       "sha256": str(entry.get("sha256", ""))[:12]}
                      for name, entry in sorted(manifest["files"].items())])
st.markdown(f"Open data for **{', '.join(manifest['areas']) or 'no area'}**, synced "
            f"{manifest.get('updated', 'never')} ({len(files)} files).")
st.dataframe(files, hide_index=True, width="stretch")
sample = cfg.samples_dir / "manifest.json"
if sample.is_file():
    meta = json.loads(sample.read_text(encoding="utf-8"))
    st.warning(f"Partner data: {meta.get('label', 'sample')} (seed {meta.get('seed')}), "
               "built by `geointel sample build`; load your own below.")
st.caption("Contains public sector information licensed under the Open Government Licence "
           "v3.0. Contains OS data © Crown copyright and database right. Rail stations: ODbL.")

st.subheader("Reject report of each reader")
try:
    reports = _cached.reader_reports(data_dir)
except GeointelError as err:
    st.error(str(err))
    st.stop()
st.dataframe(pd.DataFrame([counts(label, r) for label, r in reports.items()]),
             hide_index=True, width="stretch")
for label, result in reports.items():
    with st.expander(f"{label}: {result.rows_rejected:,} rejected"):
        show_rejects(result)

st.subheader("Load a partner file")
kind = KINDS[st.radio("Kind of file", list(KINDS), horizontal=True)]
server_mb = int(st.get_option("server.maxUploadSize"))
upload = st.file_uploader("Upload a CSV", type=["csv"],
                          max_upload_size=min(cfg.upload_max_mb, server_mb))
if cfg.upload_max_mb > server_mb:
    st.caption(f"Uploads are limited to {server_mb} MB by the server (server.maxUploadSize in "
               f".streamlit/config.toml), below the upload_max_mb setting of "
               f"{cfg.upload_max_mb} MB.")
typed = st.text_input("…or a CSV already in the data folder's uploads/ or samples/ (path "
                      "relative to the data folder, e.g. samples/deaths.csv)")
path = None
try:
    if upload is not None:
        saved = st.session_state.setdefault("uploads", {})
        if upload.file_id not in saved:
            saved[upload.file_id] = str(accept_upload(
                upload.name, upload.getvalue(), dest_dir=cfg.data_dir / "uploads",
                max_bytes=cfg.upload_max_mb * 1024 * 1024, allowed_suffixes={".csv"}))
        path = saved[upload.file_id]
    elif typed:
        path = str(partner_file(typed, base=cfg.data_dir, protected={
            "the pseudonymisation key": cfg.resolved_key_file(),
            "the accounts file": cfg.resolved_accounts_file(),
            "the audit log": cfg.resolved_audit_file()}))
    if path is not None:
        loaded = (_cached.services(path) if kind == "services" else _cached.deaths(path))
        if path not in st.session_state.setdefault("loads_recorded", set()):
            audit.record(cfg.resolved_audit_file(), "data_load",
                         user=st.session_state.get("user", role), role=role, file=path,
                         kind=kind, rows_read=loaded.rows_read, accepted=loaded.rows_accepted,
                         rejected=loaded.rows_rejected)
            st.session_state["loads_recorded"].add(path)
except GeointelError as err:
    st.error(str(err))
    st.stop()
if path is not None:
    st.markdown(f"**{path}** read as a {kind} register:")
    st.dataframe(pd.DataFrame([counts(kind, loaded)]), hide_index=True, width="stretch")
    show_rejects(loaded)
    if loaded.rows_accepted and st.button(f"Use this {kind} register in this session"):
        st.session_state[f"{kind}_register"] = path
    st.caption("Uploads are kept in the data folder's uploads/ (owner-only).")

st.subheader("Registers in use this session")
for name in KINDS.values():
    st.markdown(f"- {name}: `{_cached.register_path(cfg, name)}`")
    if st.session_state.get(f"{name}_register") and st.button(
            f"Back to the sample {name} register", key=f"reset-{name}"):
        del st.session_state[f"{name}_register"]
        st.rerun()
