"""Overview: the partnership area at a glance."""

import streamlit as st

from app_pages import _cached
from app_pages._auth import require
from geointel.errors import GeointelError

st.title("Overview")
require("page:overview")
cfg = _cached.settings()
try:
    area = _cached.area(cfg.areas, str(cfg.data_dir))
except GeointelError as err:
    st.error(str(err))
    st.stop()

lsoas = area.lsoas
cols = st.columns(3)
cols[0].metric("LSOAs", f"{len(lsoas):,}")
cols[1].metric("Residents (Census 2011)", f"{int(lsoas['population'].sum()):,}")
cols[2].metric("Local authorities", f"{lsoas['lad_code'].nunique()}")
by_la = (lsoas.groupby(["lad_code", "lad_name"], as_index=False)
         .agg(lsoas=("lsoa_code", "size"), population=("population", "sum"),
              most_deprived_decile_lsoas=("imd_decile", lambda d: int((d == 1).sum())))
         .sort_values("population", ascending=False))
st.subheader("Local authorities")
st.dataframe(by_la, hide_index=True, width="stretch")
if any(area.unmatched.values()):
    st.warning("Some codes did not join: " + "; ".join(
        f"{k}: {len(v)}" for k, v in area.unmatched.items() if v))
st.caption("Contains public sector information licensed under the Open Government Licence v3.0. "
           "Contains OS data © Crown copyright and database right.")
