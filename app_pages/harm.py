"""Harm map: offences, deaths, hotspots and deprivation by area, ranked with intervals."""

import streamlit as st

from app_pages import _cached
from app_pages._auth import require
from app_pages._downloads import download_buttons
from geointel.errors import GeointelError

GEOGRAPHIES = {"LSOA": "lsoa", "Ward": "ward", "Local authority": "lad"}

st.title("Harm map")
role = require("page:harm")
cfg = _cached.settings()
data_dir = str(cfg.data_dir)
deaths_path = _cached.register_path(cfg, "deaths")
try:
    area = _cached.area(cfg.areas, data_dir)
    rows = _cached.police(data_dir).data
except GeointelError as err:
    st.error(str(err))
    st.stop()

names = (area.lsoas[["lad_code", "lad_name"]].drop_duplicates().sort_values("lad_name")
         .set_index("lad_code")["lad_name"].to_dict())
months = sorted(rows["month"].dropna().unique().tolist())
types = sorted(rows["crime_type"].dropna().unique().tolist())
with st.sidebar:
    lads = st.multiselect("Area (local authorities)", list(names), default=list(names),
                          format_func=names.__getitem__)
    start, end = st.select_slider("Period", options=months, value=(months[0], months[-1]))
    level = GEOGRAPHIES[st.radio("Geography", list(GEOGRAPHIES), index=1)]
    crime_types = st.multiselect("Crime types", types, default=["Drugs"])
if not lads or not crime_types:
    st.info("Choose at least one local authority and one crime type.")
    st.stop()
args = (cfg.areas, data_dir, tuple(lads), tuple(crime_types), start, end, level,
        deaths_path, cfg.suppression_threshold, cfg.seed)
try:
    view = _cached.harm_view(*args)
    page = _cached.harm_map(*args, cfg.marking_partner)
except GeointelError as err:
    st.error(str(err))
    st.stop()

rates = view["rates"]
deaths = view["deaths"].set_index("code")
cols = st.columns(3)
cols[0].metric("Offences in the area", f"{int(rates['count'].sum()):,}")
cols[1].metric("Rate per 1,000 residents", f"{rates['benchmark'].iloc[0]:.2f}")
cols[2].metric("Areas with a higher rate", f"{int((rates['comparison'] == 'higher').sum())}")
st.iframe(page, height=600)
st.caption("Click an area on the map for its figures; switch layers with the control at the "
           "top right. Gi* bins: 3/2/1 hot spots at 99/95/90% confidence, negative bins cold "
           "spots; Local Moran: High-High and Low-Low clusters, High-Low and Low-High "
           "outliers at 95% (999 permutations each, false discovery rate controlled).")

label = {"lsoa": "LSOA", "ward": "Ward", "lad": "Local authority"}[level]
st.subheader(f"{label}s ranked by rate")
table = rates[["rank", "code", "name", "count", "population", "rate", "rate_lower",
               "rate_upper", "comparison"]].rename(columns={
                   "rate": "rate per 1,000", "rate_lower": "95% CI lower",
                   "rate_upper": "95% CI upper", "comparison": "vs whole area"})
st.dataframe(table, hide_index=True, width="stretch")
st.caption("Compared with the chosen area as a whole: 'higher' or 'lower' when the exact "
           "Poisson 95% interval excludes the area's rate, otherwise 'similar'.")

st.subheader("Export")
try:
    files = _cached.harm_export(*args, cfg.marking_partner, role)
except GeointelError as err:
    st.error(str(err))
    st.stop()
download_buttons(files, cfg=cfg, role=role, topic="harm", marking=cfg.marking_partner,
                 labels={"harm.gpkg": "GeoPackage (rates, LSOA hotspots)",
                         "rates.geojson": f"{label}s ranked (GeoJSON)",
                         "lsoa_hotspots.geojson": "LSOA hotspots (GeoJSON)",
                         "rates.csv": f"{label}s ranked (CSV)",
                         "deaths.csv": "Drug deaths, suppressed (CSV)"})

st.subheader("Area details")
names_of = dict(zip(rates["code"], rates["name"], strict=True))
choice = st.selectbox("Area details", rates["code"].tolist(),
                      format_func=lambda code: names_of[code])
row = rates.set_index("code").loc[choice]
detail = st.columns(4)
detail[0].metric("Offences", f"{int(row['count']):,}")
detail[1].metric("Rate per 1,000", f"{row['rate']:.2f}",
               help=f"95% CI {row['rate_lower']:.2f} to {row['rate_upper']:.2f}")
detail[2].metric("Rank", f"{row['rank']} of {len(rates)}")
if choice in deaths.index:  # deaths are published by ward only
    dead = deaths.loc[choice]
    detail[3].metric("Drug deaths (register)", "suppressed" if dead["suppressed"]
                   else f"{int(dead['count'])}")
else:
    detail[3].metric("Drug deaths (register)", "by ward only",
                   help="Drug deaths are published by ward only, so that counts at two "
                   "levels cannot be differenced; choose the ward geography.")
st.write(f"{row['name']} ({choice}): {int(row['population']):,} residents in "
         f"{int(row['lsoas'])} LSOA(s); rate {row['rate']:.2f} per 1,000 "
         f"(95% CI {row['rate_lower']:.2f}-{row['rate_upper']:.2f}), "
         f"{row['comparison']} than the area as a whole.")
st.caption("Drug deaths are from the deaths register (the SYNTHETIC sample by default) over "
           f"its whole period, by ward; counts 1-{cfg.suppression_threshold - 1} are "
           "suppressed, with enough others that none can be worked out. "
           "Contains public sector information licensed under the Open Government Licence "
           "v3.0. Contains OS data © Crown copyright and database right.")
