"""County lines (analyst): the command network, lines with holders, rebrands and groups,
footprints and exporter -> importer links, disruption simulation and exports."""

import math

import pandas as pd
import streamlit as st

from app_pages import _cached
from app_pages._auth import require
from geointel import audit
from geointel.command_chart import command_chart
from geointel.errors import GeointelError

STRATEGIES = {"Line holders (largest markets first)": "holder",
              "Top-k by betweenness": "betweenness",
              "Greedy key-player set": "key_player"}
DOWNLOADS = {"graphml": ("Network (GraphML, Gephi)", "network.graphml", "application/xml"),
             "i2_entities": ("i2 entities (CSV)", "i2_entities.csv", "text/csv"),
             "i2_links": ("i2 links (CSV)", "i2_links.csv", "text/csv"),
             "lines": ("Lines (CSV)", "lines.csv", "text/csv")}

st.title("County lines")
role = require("page:lines")
cfg = _cached.settings()
samples = cfg.samples_dir
args = (str(samples / "contacts.csv"), str(samples / "intel.csv"),
        str(cfg.resolved_key_file()), cfg.seed, cfg.areas, str(cfg.data_dir))
try:
    result = _cached.lines_result(*args)
except GeointelError as err:
    st.error(str(err))
    st.stop()

counts = result.summary()
cols = st.columns(6)
for col, (label, name) in zip(cols, [("Lines", "lines"), ("Deal-line handsets",
                                                            "deal_line_handsets"),
                                     ("Holders", "holders"), ("Runners", "runners"),
                                     ("Customers", "customers"), ("Groups", "groups")],
                              strict=True):
    col.metric(label, f"{counts[name]:,}")
st.caption(f"{cfg.marking_police}. Contact records and intelligence register of "
           f"{samples} (the SYNTHETIC sample unless replaced), pseudonymised at read time; "
           "every identifier shown is a pseudonym.")

st.subheader("Command network")
try:
    nodes, edges = _cached.command_network(*args)
except GeointelError as err:
    st.error(str(err))
    st.stop()
st.altair_chart(command_chart(nodes, edges), width="stretch")
st.caption("Each holder (red) holds its line (orange); each line dispatches its runners "
           "(blue). Hover over a node for its pseudonym, line, group and customers; drag to "
           "pan and scroll to zoom (double-click resets).")

st.subheader("Lines")
table = result.lines.assign(
    chain=result.lines["handsets"].str.replace(";", " → "),
    footprint=result.lines["exporter_la"] + " → " + result.lines["importer_la"])
shown = [c for c in ("line_id", "group_id", "holder", "n_handsets", "chain",
                     "customers_total", "footprint", "customers", "messages", "runners",
                     "reach_km", "first_seen", "last_seen", "intel_records")
         if c in table.columns]
st.dataframe(table[shown].rename(columns={
    "n_handsets": "handsets", "chain": "rebrand chain (oldest first)",
    "customers_total": "customers (all)", "footprint": "run from → sells in",
    "customers": "customers / week", "messages": "messages / week"}),
    hide_index=True, width="stretch")
left, right = st.columns(2)
left.markdown("**Rebrands (same line, new handset)**")
left.dataframe(result.links, hide_index=True, width="stretch")
right.markdown("**Groups**")
right.dataframe(result.groups, hide_index=True, width="stretch")

st.subheader("Footprints and exporter → importer links")
try:
    page = _cached.lines_map(*args, cfg.marking_police)
except GeointelError as err:
    st.error(str(err))
    st.stop()
st.iframe(page, height=600)
if result.footprints is not None:
    per_la = (result.footprints.groupby(["line_id", "side", "la"])["records"].sum()
              .reset_index().sort_values(["line_id", "side", "records"],
                                         ascending=[True, True, False]))
    st.dataframe(per_la.rename(columns={"la": "local authority"}), hide_index=True,
                 width="stretch")
st.caption("Where each line sells (its customers' and runners' cells) and where it is run "
           "from (its holder's cells), by LSOA and local authority of the chosen area.")

st.subheader("Disruption simulation")
nodes = result.graph.number_of_nodes()
with st.form("disruption"):
    chosen = st.multiselect("Strategies", list(STRATEGIES), default=list(STRATEGIES))
    k = st.number_input("Handsets removed per strategy (k)", min_value=1,
                        max_value=max(1, min(50, nodes)),
                        value=min(50, max(1, math.ceil(0.05 * nodes))))
    st.form_submit_button("Compare")
if not chosen:
    st.info("Choose at least one strategy.")
else:
    try:
        compared = _cached.lines_disruption(*args, int(k),
                                            tuple(STRATEGIES[c] for c in chosen))
    except GeointelError as err:
        st.error(str(err))
        st.stop()
    side = compared.set_index("strategy")
    st.dataframe(pd.DataFrame({
        "handsets removed": side["removed"].map(
            lambda r: str(len([h for h in str(r).split(";") if h]))),
        "largest component left": side["lcc_fraction"].map("{:.1%}".format),
        "largest component (before → after)": side["lcc_before"].astype(str) + " → "
        + side["lcc_after"].astype(str),
        "customers cut off from supply": side["customers_cut_off"].astype(str) + " of "
        + side["customers"].astype(str),
    }).T, width="stretch")
    st.bar_chart(side["lcc_fraction"].rename("share of the largest component remaining"))
    st.caption(f"Each strategy removes {int(k)} handsets from the operational network "
               f"({nodes:,} handsets); removing a holder removes the deal-line handsets they "
               "carry too. Customers cut off: no path left to any deal-line handset.")

st.subheader("Downloads")


def _record(what: str) -> None:
    audit.record(cfg.resolved_audit_file(), "export", user=st.session_state["user"], role=role,
                 what=what, marking=cfg.marking_police)


for col, (kind, (label, name, mime)) in zip(st.columns(len(DOWNLOADS)), DOWNLOADS.items(),
                                           strict=True):
    try:
        data = _cached.lines_download(*args, kind, role, cfg.marking_police)
    except GeointelError as err:
        st.error(str(err))
        st.stop()
    col.download_button(label, data, file_name=name, mime=mime, on_click=_record,
                        args=(f"lines: {name}",))
st.caption(f"Exports are marked {cfg.marking_police} and hold pseudonyms only; each download "
           "is recorded in the audit log.")
