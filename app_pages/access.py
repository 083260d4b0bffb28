"""Access and naloxone: coverage by threshold and time of week, gap list, services map."""

import streamlit as st

from app_pages import _cached
from app_pages._auth import require
from app_pages._downloads import download_buttons
from app_pages._labels import coverage_label
from geointel import access
from geointel.errors import GeointelError
from geointel.io.services import KINDS

WINDOWS = ["always", *(w.label for w in access.TIME_WINDOWS)]

st.title("Access and naloxone")
role = require("page:access")
cfg = _cached.settings()
data_dir = str(cfg.data_dir)
services_path = _cached.register_path(cfg, "services")

with st.sidebar:
    unit = st.radio("Threshold in", ["metres", "walking minutes"], horizontal=True)
    if unit == "metres":
        amount = st.number_input("Threshold (metres along the route)", min_value=100,
                                 max_value=20_000, value=1000, step=100)
    else:
        amount = st.number_input("Threshold (minutes' walk at 4.8 km/h)", min_value=1,
                                 max_value=120, value=15, step=1)
    window = st.selectbox("Time of week", WINDOWS,
                          format_func=lambda w: w.replace("_", " "))
    kinds = st.multiselect("Service kinds", list(KINDS), default=["naloxone", "pharmacy"])
if not kinds:
    st.info("Choose at least one kind of service.")
    st.stop()
try:
    threshold = (float(amount) if unit == "metres"
                 else access.walking_threshold_m(float(amount)))
    table = _cached.access_view(cfg.areas, data_dir, services_path, tuple(kinds), window)
    shares = access.coverage(table, threshold_m=threshold,
                             weights=["population", "imd_weighted_population", "lsoas"])
    gaps = access.gap_areas(table, threshold_m=threshold, kind="any")
    page = _cached.access_map(cfg.areas, data_dir, services_path, tuple(kinds), window,
                              threshold, cfg.marking_partner)
    open_now = len(_cached.open_services(services_path, tuple(kinds), window))
except GeointelError as err:
    st.error(str(err))
    st.stop()

when = window.replace("_", " ")
st.markdown(f"**{open_now} services** of the chosen kinds count for *{when}* (open throughout "
            f"it on every day of it); threshold **{threshold:,.0f} m** along the route "
            "(straight line x 1.3 from each LSOA's population-weighted centroid).")
population = shares.loc[shares["weight"] == "population"].set_index("kind")["share"]
deprived = shares.loc[shares["weight"] == "imd_weighted_population"].set_index("kind")["share"]
shown = ["any", *kinds] if len(kinds) > 1 else kinds
cols = st.columns(len(shown))
for col, kind in zip(cols, shown, strict=True):
    col.metric(coverage_label(threshold, kinds if kind == "any" else [kind]),
               f"{population[kind]:.1%}",
               help=f"Deprivation-weighted population covered: {deprived[kind]:.1%}")

st.iframe(page, height=600)

st.subheader(f"Gaps: LSOAs beyond {threshold:,.0f} m of any chosen service")
gap_cols = st.columns(2)
gap_cols[0].metric("LSOAs in a gap", f"{len(gaps):,}")
gap_cols[1].metric("Residents in a gap", f"{int(gaps['population'].sum()):,}")
st.dataframe(gaps.rename(columns={"distance_m": "distance (m)", "excess_m": "beyond (m)",
                                  "nearest": "nearest service"}),
             hide_index=True, width="stretch")

try:
    files = _cached.access_export(cfg.areas, data_dir, services_path, tuple(kinds), window,
                                  threshold, cfg.marking_partner, role)
except GeointelError as err:
    st.error(str(err))
    st.stop()
download_buttons(files, cfg=cfg, role=role, topic="access", marking=cfg.marking_partner,
                 labels={"access.gpkg": "GeoPackage (distances per LSOA)",
                         "lsoa_access.geojson": "Distances per LSOA (GeoJSON)",
                         "lsoa_access.csv": "Distances per LSOA (CSV)",
                         "gaps.csv": "Gap list (CSV)"})

st.subheader("Coverage by time of week")
timed = []
for label in WINDOWS:
    try:
        view = _cached.access_view(cfg.areas, data_dir, services_path, tuple(kinds), label)
    except GeointelError as err:
        st.error(str(err))
        st.stop()
    share = access.coverage(view, threshold_m=threshold, kinds=["any"])["share"].item()
    timed.append({"time of week": label.replace("_", " "), "population covered": share})
st.dataframe(timed, hide_index=True, column_config={
    "population covered": st.column_config.NumberColumn(format="percent")})
st.caption(f"Services register: {services_path} (the SYNTHETIC sample unless another was "
           "loaded on the Data page). "
           "Contains public sector information licensed under the Open Government Licence "
           "v3.0. Contains OS data © Crown copyright and database right.")
