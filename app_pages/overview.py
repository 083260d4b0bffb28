"""Overview: the partnership area at a glance and its outcome measures, with trends."""

import pandas as pd
import streamlit as st

from app_pages import _cached
from app_pages._auth import require
from app_pages._labels import coverage_label
from geointel import access, harm, hotspots
from geointel.errors import GeointelError

NALOXONE_M = 1000.0
#: Where take-home naloxone is supplied: hostel naloxone points and community pharmacies.
NALOXONE_KINDS = ("naloxone", "pharmacy")

st.title("Overview")
role = require("page:overview")
cfg = _cached.settings()
data_dir = str(cfg.data_dir)
try:
    area = _cached.area(cfg.areas, data_dir)
    drugs = _cached.offences(data_dir, ("Drugs",))
    register = _cached.deaths(_cached.register_path(cfg, "deaths")).data
    nal = _cached.access_view(cfg.areas, data_dir, _cached.register_path(cfg, "services"),
                              NALOXONE_KINDS, "always")
    outcomes, actions = _cached.disruption_outcomes(str(cfg.samples_dir / "disruptions.csv"))
except GeointelError as err:
    st.error(str(err))
    st.stop()

lsoas = area.lsoas
codes = lsoas["lsoa_code"].tolist()
cols = st.columns(3)
cols[0].metric("LSOAs", f"{len(lsoas):,}")
cols[1].metric("Residents (Census 2011)", f"{int(lsoas['population'].sum()):,}")
cols[2].metric("Local authorities", f"{lsoas['lad_code'].nunique()}")

st.subheader("Outcome measures")
offence_months = hotspots.monthly_series(drugs, codes).sum(axis=0)
# drug deaths: the register's "death" rows, each counting its `count` of people
dead = harm.select_register(register, lsoas=lsoas)
death_months = None
if len(dead):
    death_months = hotspots.monthly_series(dead, codes, weight="count").sum(axis=0)
    deaths_table = harm.suppress_small(pd.DataFrame({"count": death_months}),
                                       threshold=cfg.suppression_threshold)
    # the total only where neither the months here nor the partner ward table (the Harm
    # page, the packs) would give a hidden count away beside it
    deaths_total = harm.published_total(deaths_table, harm.partner_deaths(
        register, lsoas, threshold=cfg.suppression_threshold))
no_deaths = ("The deaths register has no rows of category 'death' (it holds: "
             + (", ".join(sorted(register["category"].unique())) or "no rows")
             + "), so drug deaths are not shown. Load a register with deaths on the Data "
             "page.")
covered = access.coverage(nal, threshold_m=NALOXONE_M, kinds=["any"])["share"].item()
first, last = offence_months.index[0], offence_months.index[-1]
cols = st.columns(3)
cols[0].metric(f"Drug offences ({first} to {last})", f"{int(offence_months.sum()):,}")
if death_months is None:
    cols[1].metric("Drug deaths", "none in the register")
else:
    cols[1].metric(f"Drug deaths ({death_months.index[0]} to {death_months.index[-1]})",
                   deaths_total)
cols[2].metric(coverage_label(NALOXONE_M, NALOXONE_KINDS), f"{covered:.1%}")
lines_cols = st.columns(4)
lines_cols[0].metric("Lines disrupted", f"{outcomes['lines_disrupted']}")
lines_cols[1].metric("Lines closed", f"{outcomes['lines_closed']}")
lines_cols[2].metric("Major disruptions", f"{outcomes['major_disruptions']}")
lines_cols[3].metric("Moderate disruptions", f"{outcomes['moderate_disruptions']}")
st.caption("Lines and disruptions are counts from the disruption log; which lines they are "
           "is police material and not shown here. Naloxone: nearest hostel naloxone point or "
           "pharmacy of the services register, from each LSOA's population-weighted "
           "centroid (straight line x 1.3).")

st.subheader("Monthly trends")
left, right = st.columns(2)
left.markdown("**Drug offences per month** (police.uk)")
left.line_chart(offence_months.rename("drug offences"))
right.markdown(f"**Drug deaths per month** (counts 1-{cfg.suppression_threshold - 1} "
               "suppressed)")
if death_months is None:
    right.info(no_deaths)
else:
    right.line_chart(deaths_table["count"].astype("Float64").rename("drug deaths"))
st.markdown("**Disruptions per month by grading**")
st.line_chart(actions)

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
           "Contains OS data © Crown copyright and database right. Partner data (services, "
           "deaths, disruptions) are the SYNTHETIC sample unless replaced on the Data page.")
