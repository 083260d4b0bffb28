"""Targeting (analyst): ranked lines with score breakdown, confidence and rank intervals;
audited score overrides; the Fortress-style tracker, displacement, disruption log and counts."""

import pandas as pd
import streamlit as st

from app_pages import _cached
from app_pages._auth import require
from geointel import audit
from geointel.briefing import RANK_DRAWS
from geointel.errors import GeointelError
from geointel.scoring import (
    DEFAULT_SCHEME,
    GRADINGS,
    HARM_DIMENSIONS,
    ITEMS,
    add_override,
    national_counts,
)

MEASURES = {"deal_messages": "Deal messages per week",
            "active_customers": "Active customers per week"}

st.title("Targeting")
role = require("page:targeting")
cfg = _cached.settings()
samples = cfg.samples_dir
with st.sidebar:
    draws = st.number_input("Monte Carlo draws (rank intervals)", min_value=50,
                            max_value=5000, value=RANK_DRAWS, step=50)
    weeks = st.number_input("Tracker: weeks before and after", min_value=2, max_value=16,
                            value=8)
    alpha = st.select_slider("Tracker: significance level", options=[0.01, 0.05, 0.1],
                             value=0.05)
# the operation pack (Briefing page) ranks with this session's draws and overrides too
st.session_state["ranking_draws"] = int(draws)
args, overrides, draws = _cached.ranking_inputs(cfg)
try:
    ranked = _cached.ranked_lines(*args, str(DEFAULT_SCHEME), overrides, draws)
    log = _cached.disruption_log_lines(str(samples / "disruptions.csv"), *args)
except GeointelError as err:
    st.error(str(err))
    st.stop()
scheme, table = ranked.scheme, ranked.table

st.subheader("Ranked lines")
st.caption(f"{cfg.marking_police}. Scheme {scheme.name} {scheme.version} ({scheme.label}); "
           f"rank interval: the central {scheme.interval:.0%} of ranks over {int(draws)} "
           "draws of the weights within their stated bounds.")
shown = table.assign(
    rank_interval=table["rank_low"].astype(str) + "–" + table["rank_high"].astype(str),
    coverage=table["coverage"].map("{:.0%}".format))
st.dataframe(shown[["rank", "line_id", "rank_interval", "band", "priority", "risk", "harm",
                    "confidence", "coverage", "sources", "holder", "customers_total"]
                   ].rename(columns={"rank_interval": "rank interval",
                                     "customers_total": "customers"}),
             hide_index=True, width="stretch")

st.subheader("Score breakdown")
line = st.selectbox("Line", table["line_id"].tolist(), key="breakdown_line")
row = table.set_index("line_id").loc[line]
st.dataframe(pd.DataFrame({
    "item": list(ITEMS),
    "score": [int(row[i]) for i in ITEMS],
    "level": [scheme.label_of(i, int(row[i])) for i in ITEMS],
    "basis": [str(row[f"{i}_basis"]) for i in ITEMS],
    "evidence and suggestion": [str(row[f"{i}_evidence"]) for i in ITEMS],
}), hide_index=True, width="stretch")
st.bar_chart(pd.Series({d: float(row[f"{d}_contribution"]) for d in HARM_DIMENSIONS},
                       name="contribution to harm"))
st.caption(f"Harm {row['harm']:.2f} (weighted mean of the five dimensions) × scope and "
           f"vulnerability = {row['harm_adjusted']:.2f}; risk {row['risk']:.1f} of 100; "
           f"position factor {row['position_factor']:.2f}; priority {row['priority']:.1f} "
           f"({row['band']}). Confidence {row['confidence']}: {row['coverage']:.0%} of the "
           f"risk items from evidence, {int(row['sources'])} source(s).")

st.subheader("Edit a score")
cols = st.columns(3)
o_line = cols[0].selectbox("Line to override", table["line_id"].tolist(), key="override_line")
o_item = cols[1].selectbox("Item", list(ITEMS), key="override_item")
o_value = cols[2].selectbox("New level", list(scheme.levels(o_item)), key="override_value",
                            format_func=lambda v: f"{v} ({scheme.label_of(o_item, v)})")
reason = st.text_input("Reason (required)", key="override_reason")
if st.button("Apply override", key="override_apply"):
    old = int(table.set_index("line_id").loc[o_line, o_item])
    try:
        trail = add_override(overrides, line_id=o_line, item=o_item, value=int(o_value),
                             by=st.session_state["user"], reason=reason, scheme=scheme)
    except GeointelError as err:
        st.error(str(err))
    else:
        audit.record(cfg.resolved_audit_file(), "override", user=st.session_state["user"],
                     role=role, line=o_line, item=o_item, old=old, new=int(o_value),
                     reason=reason.strip())
        st.session_state["score_overrides"] = trail
        st.rerun()
if len(ranked.audit):
    st.markdown("**Overrides (this session; each is in the audit log)**")
    st.dataframe(ranked.audit, hide_index=True, width="stretch")

st.subheader("Tracker")
data = log.data
severity = data.assign(order=data["grading"].map(GRADINGS.index)).sort_values(
    ["order", "date"], ascending=[True, False])
default_line = severity["line_id"].iloc[0] if len(severity) else table["line_id"].iloc[0]
lines = table["line_id"].tolist()
pick = st.columns(2)
t_line = pick[0].selectbox("Line tracked", lines, index=lines.index(default_line),
                           key="tracker_line")
logged = severity.loc[severity["line_id"] == t_line, "date"]
default_date = (logged.iloc[0] if len(logged) else pd.Timestamp(
    ranked.table.set_index("line_id").loc[t_line, "last_seen"]) - pd.Timedelta(weeks=8))
action = pick[1].date_input("Action date", value=default_date.date(), key="tracker_date")
try:
    tracked, moved = _cached.lines_track(*args, t_line, action.isoformat(), int(weeks),
                                         float(alpha), str(DEFAULT_SCHEME))
except GeointelError as err:
    st.error(str(err))
    st.stop()
measures = tracked.measures.set_index("measure")
shown_cols = st.columns(len(MEASURES) + 1)
for col, (name, label) in zip(shown_cols, MEASURES.items(), strict=False):
    m = measures.loc[name]
    col.metric(label, f"{m['rate_after']:.1f}", f"{m['change_pct']:+.0f}% vs before",
               help=f"{m['rate_before']:.1f} per week before; p = {m['p_value']:.2g}")
risk = tracked.risk.set_index("line_id")
if t_line in risk.index:
    r = risk.loc[t_line]
    shown_cols[-1].metric("Risk score", f"{r['risk_after']:.1f}", f"{r['risk_change']:+.1f}",
                    delta_color="inverse", help=f"{r['band_before']} → {r['band_after']}")
for name, label in MEASURES.items():
    m = measures.loc[name]
    verdict = ("beyond normal variation" if m["beyond_normal_variation"]
               else "within normal variation")
    text = (f"{label}: {m['rate_before']:.1f} before, {m['rate_after']:.1f} after "
            f"({m['change_pct']:+.0f}%, rate ratio {m['rate_ratio']:.2f}), "
            f"p = {m['p_value']:.2g}: {verdict}.")
    (st.success if m["beyond_normal_variation"] and m["direction"] == "down"
     else st.warning if m["beyond_normal_variation"] else st.info)(text)
st.line_chart(tracked.weekly.set_index("week")[list(MEASURES)])
st.caption(f"{int(weeks)} full weeks before {tracked.action_date.date()} against the "
           f"{int(weeks)} weeks from it; test: {tracked.test}.")
st.markdown("**Displacement: lines serving the tracked line's customers after the action**")
if moved.empty:
    st.info("No other line took two or more of its customers after the action.")
else:
    st.dataframe(moved.assign(share_of_old_customers=moved["share_of_old_customers"].map(
        "{:.0%}".format)), hide_index=True, width="stretch")

st.subheader("Disruption log and national counts")
counts = national_counts(data)
labels = {"actions": "Actions logged", "lines_disrupted": "Lines disrupted",
          "lines_closed": "Lines closed", "major_disruptions": "Major disruptions",
          "moderate_disruptions": "Moderate disruptions",
          "minor_disruptions": "Minor disruptions"}
for col, (name, label) in zip(st.columns(len(labels)), labels.items(), strict=True):
    col.metric(label, f"{counts[name]:,}")
st.dataframe(data[["line_id", "date", "action", "outcome", "grading", "closure_type"]],
             hide_index=True, width="stretch")
if log.rows_rejected:
    st.warning(f"{log.rows_rejected} row(s) of the log were rejected:")
    st.dataframe(log.rejects, hide_index=True, width="stretch")
st.caption("Lines closed: distinct lines with an NCA type 1 or 2 closure; disruptions by NCA "
           "grading. The log names lines by number; numbers are pseudonymised as they are "
           "read and matched to the detected lines.")
