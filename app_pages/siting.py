"""Clinic siting: choose sites for satellite clinics / naloxone points, compare scenarios."""

from typing import Any

import pandas as pd
import streamlit as st

from app_pages import _cached
from app_pages._auth import require
from app_pages._downloads import download_buttons
from geointel.auth import check_role
from geointel.errors import GeointelError
from geointel.io.services import KINDS

MODELS = {"MCLP (most residents within the threshold)": "mclp",
          "LSCP (fewest sites to cover everyone reachable)": "lscp",
          "p-median (least total distance)": "pmedian"}
CANDIDATES = {"Sample candidate sites": "sample", "NaPTAN stops": "naptan"}
KEEP = 5  # scenarios kept for comparison
TIME_LIMIT = 20.0

st.title("Clinic siting")
role = require("page:siting")
cfg = _cached.settings()
data_dir = str(cfg.data_dir)

with st.sidebar:
    model = MODELS[st.radio("Model", list(MODELS))]
    p = st.number_input("New sites (p)", min_value=1, max_value=30, value=3,
                        disabled=model == "lscp")
    threshold = st.number_input("Threshold (metres along the route)", min_value=200,
                                max_value=20_000, value=1600, step=100)
    reach_all = st.checkbox("LSCP: cover everyone within reach", value=True,
                            disabled=model != "lscp",
                            help="Every resident some candidate or open service can reach "
                            "within the threshold; untick to choose a share.")
    target = st.slider("LSCP: share of residents to cover", min_value=0.1, max_value=1.0,
                       value=0.9, step=0.01, format="%.2f",
                       disabled=model != "lscp" or reach_all,
                       help="The fewest new sites that bring this share of residents within "
                       "the threshold (existing services count). 1.00 can be out of reach: "
                       "some areas have no candidate within the threshold.")
    source = CANDIDATES[st.radio("Candidates", list(CANDIDATES))]
    fixed = st.multiselect("Existing services kept open", list(KINDS),
                           default=["treatment_hub", "satellite"])
    run = st.button("Run", type="primary")

services_path = _cached.register_path(cfg, "services")
lscp_target = None if reach_all else float(target)  # None: everyone within reach
# what a run used, by name: everything below shows the run, never the sidebar's current state
params: dict[str, Any] = {"codes": cfg.areas, "data_dir": data_dir, "model": model,
          "p": int(p) if model != "lscp" else 0, "threshold": float(threshold),
          "source": source, "existing_kinds": tuple(fixed), "time_limit": TIME_LIMIT,
          "services_path": services_path,
          "target_share": lscp_target if model == "lscp" else 1.0}
scenarios: list[dict] = st.session_state.setdefault("siting_scenarios", [])
if run:
    try:
        result = _cached.siting_run(**params)
    except GeointelError as err:
        st.error(str(err))
        st.stop()
    goal = ""
    if model == "lscp":
        goal = (" everyone within reach" if lscp_target is None
                else f" {lscp_target:.0%} covered")
    name = (f"{model} p={len(result.selected)}{goal} {threshold:,.0f} m {source}"
            f" ({len(fixed)} kinds fixed)")
    scenarios[:] = [s for s in scenarios if s["params"] != params][-(KEEP - 1):]
    scenarios.append({"name": name, "params": params})
if not scenarios:
    st.info("Choose a model and its settings in the sidebar, then press Run.")
    st.stop()

current = scenarios[-1]
ran = current["params"]
try:
    result = _cached.siting_run(**ran)
    sites = _cached.sites(data_dir, ran["source"]).data
except GeointelError as err:
    st.error(str(err))
    st.stop()
st.subheader(current["name"])
if ran != params:
    st.caption("Showing the last run; the sidebar has changed since. Press Run to run it.")
cols = st.columns(4)
cols[0].metric("New sites chosen", f"{len(result.selected)}")
cols[1].metric("Coverage before", f"{result.coverage_before:.1%}")
cols[2].metric("Coverage after", f"{result.coverage_after:.1%}")
cols[3].metric("Coverage gain", f"{result.coverage_after - result.coverage_before:+.1%}")
st.caption(f"Residents of the {len(result.assignment):,} LSOAs (population-weighted "
           f"centroids) within {result.threshold or ran['threshold']:,.0f} m; solver: "
           f"{result.status} ({result.method}, gap {result.gap:.2%}, {result.seconds:.1f} s).")

try:
    page = _cached.siting_map(**ran, marking=cfg.marking_partner)
except GeointelError as err:
    st.error(str(err))
    st.stop()
st.iframe(page, height=560)
st.caption("New sites (blue, sized by their gain), existing services kept open (green) and the "
           "LSOAs still beyond the threshold (purple outlines); click one for its figures.")

gain = ("weighted metres saved" if ran["model"] == "pmedian"
        else "residents newly covered")
chosen = result.marginal_gain.merge(
    pd.DataFrame(sites[["site_id", "name", "kind", "easting", "northing"]]),
    on="site_id", how="left")
st.markdown("**Chosen sites, in order of marginal gain**")
st.dataframe(chosen.rename(columns={"gain": gain}), hide_index=True, width="stretch")

if ran["model"] != "lscp":
    ps = tuple(range(0, len(result.selected) + 3))
    try:
        curve = _cached.siting_sweep(ran["codes"], data_dir, ps, ran["threshold"],
                                     ran["source"], ran["existing_kinds"], TIME_LIMIT,
                                     ran["services_path"])
    except GeointelError as err:
        st.error(str(err))
        st.stop()
    st.markdown(f"**Share of residents within {ran['threshold']:,.0f} m against the number "
                "of new sites (MCLP p-sweep)**")
    st.line_chart(curve.set_index("p")["coverage_after"].rename("share covered"))

st.subheader("Compare scenarios")
rows = []
for s in scenarios:
    r = _cached.siting_run(**s["params"])
    rows.append({"scenario": s["name"], "new sites": str(len(r.selected)),
                 "coverage before": f"{r.coverage_before:.1%}",
                 "coverage after": f"{r.coverage_after:.1%}",
                 "gain": f"{r.coverage_after - r.coverage_before:+.1%}", "status": r.status,
                 "sites": ", ".join(map(str, r.selected))})
st.dataframe(pd.DataFrame(rows).set_index("scenario").T, width="stretch")

st.subheader("Export")
try:
    check_role(role, "export:siting")
    files = _cached.siting_export(**ran, marking=cfg.marking_partner, role=role)
except GeointelError as err:
    st.error(str(err))
    st.stop()
download_buttons(files, cfg=cfg, role=role, topic="siting", marking=cfg.marking_partner,
                 labels={"siting.gpkg": "GeoPackage (sites, assignment)",
                         "sites.csv": "Chosen sites (CSV)", "assignment.csv": "Assignment (CSV)",
                         "sites.geojson": "Chosen sites (GeoJSON)",
                         "assignment.geojson": "Assignment (GeoJSON)"})
st.caption(f"Existing services: {ran['services_path']}. Sample candidates and registers are "
           "SYNTHETIC; load your own register on the Data page.")
