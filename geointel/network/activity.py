"""Weekly demand per detected line and the network evidence the scoring scheme reads.

One definition of a line's customers serves everything: the (line handset, customer) pairs
of :func:`geointel.network.lines.customers_sql`. From them, in DuckDB:

- **activity** - one row per line and week with a contact: ``deal_messages`` (contacts
  from the line's customers to any of its handsets, old numbers included),
  ``active_customers`` (distinct customers making them) and ``days_covered``: how many days
  of that week lie inside the records' span (from the day of the first record to the day of
  the last, whole days), so that the tracker can leave out a week the data cover only in part
  (records ending on a Thursday give the last week 4). Weeks start on Monday; a week with
  no contact has no row (the tracker fills it with zero).
- **line customers** - ``line_id, customer, week``: who contacted each line in each week
  (pseudonyms), for displacement.
- **evidence** - per line, under the names of the scoring scheme: ``customers`` and
  ``messages`` (means over the full weeks the line was active; its partial weeks only when it
  has no full week), ``runners`` (distinct runners of
  :func:`~geointel.network.lines.runners_sql`), ``reach_km`` (run-from to selling centre of
  :func:`~geointel.network.footprint.line_links`; blank without cell positions).

Examples
--------
>>> from geointel.network.graph import prepare
>>> recs = pd.DataFrame({
...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00",
...                                  "2024-01-09 10:00"]),
...     "a_party": ["Pc1", "Pc2", "Pc1"], "b_party": ["Ph1", "Ph1", "Ph1"],
...     "kind": ["call"] * 3, "duration_s": [30.0] * 3})
>>> con = prepare(recs)
>>> chains = pd.DataFrame({"handset": ["Ph1"], "line_id": ["LINE-h1"], "position": [0]})
>>> cust = pd.DataFrame({"h": ["Ph1", "Ph1"], "c": ["Pc1", "Pc2"]})
>>> act, who = weekly_activity(con, chains, cust)
>>> act.astype({"week": str}).values.tolist()  # records from Mon 1 to Tue 9 January
[['LINE-h1', '2024-01-01', 2, 2, 7], ['LINE-h1', '2024-01-08', 1, 1, 2]]
>>> len(who)
3
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd

from geointel.network._duck import fetch

#: Seconds from the epoch (a Thursday) to the first Monday, 1970-01-05.
_MONDAY = 4 * 86_400
_WEEK = 7 * 86_400
_DAY = 86_400
ACTIVITY_COLUMNS = ["line_id", "week", "deal_messages", "active_customers", "days_covered"]
CUSTOMER_COLUMNS = ["line_id", "customer", "week"]
EVIDENCE_COLUMNS = ["line_id", "customers", "messages", "runners", "reach_km"]


def weekly_activity(con: Any, chains: pd.DataFrame, customers: pd.DataFrame
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly demand per line and who made it, from the ``rec`` table of ``con``.

    Parameters
    ----------
    con
        A connection from :func:`geointel.network.graph.prepare`.
    chains
        ``handset, line_id`` (from :func:`~geointel.network.lines.chain_lines`).
    customers
        ``h, c`` pairs (from :func:`~geointel.network.lines.customers_sql`).

    Returns
    -------
    tuple of DataFrame
        ``activity`` (``line_id, week, deal_messages, active_customers, days_covered``)
        and ``line_customers`` (``line_id, customer, week``); ``week`` is the Monday.
    """
    pairs = customers[["h", "c"]].merge(chains[["handset", "line_id"]], left_on="h",
                                        right_on="handset")[["h", "c", "line_id"]]
    if pairs.empty:
        return (pd.DataFrame(columns=ACTIVITY_COLUMNS), pd.DataFrame(columns=CUSTOMER_COLUMNS))
    con.register("act_pairs", pairs)
    try:
        per = fetch(con, f"""
            SELECT p.line_id, p.c AS customer,
                   CAST(floor((r.t - {_MONDAY}) / {_WEEK}.0) AS BIGINT) AS wk,
                   count(*) AS messages
            FROM rec r JOIN act_pairs p ON r.a = p.c AND r.b = p.h
            GROUP BY 1, 2, 3""")
        span = fetch(con, "SELECT min(t) AS t0, max(t) AS t1 FROM rec").iloc[0].tolist()
    finally:
        con.unregister("act_pairs")
    per["week"] = pd.to_datetime(per["wk"] * _WEEK + _MONDAY, unit="s")
    activity = (per.groupby(["line_id", "week"], sort=True)
                .agg(deal_messages=("messages", "sum"), active_customers=("customer", "nunique"))
                .reset_index().astype({"deal_messages": "int64", "active_customers": "int64"}))
    activity["days_covered"] = days_covered(activity["week"], int(span[0]), int(span[1]))
    who = (per[CUSTOMER_COLUMNS].sort_values(["line_id", "week", "customer"])
           .reset_index(drop=True))
    return activity[ACTIVITY_COLUMNS], who


def days_covered(weeks: pd.Series, first_t: int, last_t: int) -> pd.Series:
    """Days of each week (its Monday) inside the days from ``first_t`` to ``last_t``.

    >>> days_covered(pd.Series(pd.to_datetime(["2019-02-18", "2019-02-25"])),
    ...              int(pd.Timestamp("2018-10-01").timestamp()),
    ...              int(pd.Timestamp("2019-02-28 23:55").timestamp())).tolist()
    [7, 4]
    """
    first_day, last_day = first_t // _DAY, last_t // _DAY
    monday = ((pd.to_datetime(weeks) - pd.Timestamp(0)) // pd.Timedelta(days=1)).to_numpy()
    covered = (pd.Series(monday + 6).clip(upper=last_day)
               - pd.Series(monday).clip(lower=first_day) + 1).clip(lower=0, upper=7)
    return pd.Series(covered.to_numpy(), index=weeks.index, dtype="int64")


def network_evidence(activity: pd.DataFrame, runners: pd.DataFrame, chains: pd.DataFrame,
                     links: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per line: ``customers``, ``messages``, ``runners``, ``reach_km`` (the scheme's names).

    Examples
    --------
    >>> act = pd.DataFrame({"line_id": ["L", "L", "L"],
    ...     "week": ["2024-01-01", "2024-01-08", "2024-01-15"], "deal_messages": [10, 20, 1],
    ...     "active_customers": [4, 6, 1], "days_covered": [7, 7, 2]})
    >>> ch = pd.DataFrame({"handset": ["Ph"], "line_id": ["L"]})
    >>> run = pd.DataFrame({"h": ["Ph", "Ph"], "c": ["Pr1", "Pr2"]})
    >>> links = gpd.GeoDataFrame({"line_id": ["L"], "distance_km": [55.0]}, geometry=[None])
    >>> network_evidence(act, run, ch, links).values.tolist()
    [['L', 5.0, 15.0, 2, 55.0]]
    """
    line_of = dict(zip(chains["handset"], chains["line_id"], strict=True))
    out = pd.DataFrame({"line_id": sorted(set(chains["line_id"].astype(str)))})
    full = activity
    if "days_covered" in activity.columns:  # a line's partial weeks only if it has no full one
        whole = activity["days_covered"] >= 7
        has_full = whole.groupby(activity["line_id"]).transform("any")
        full = activity[whole | ~has_full]
    means = full.groupby("line_id")[["active_customers", "deal_messages"]].mean()
    out["customers"] = out["line_id"].map(means["active_customers"]).fillna(0.0).round(2)
    out["messages"] = out["line_id"].map(means["deal_messages"]).fillna(0.0).round(2)
    per_line = runners.assign(line_id=runners["h"].map(line_of)).groupby("line_id")["c"]
    out["runners"] = out["line_id"].map(per_line.nunique()).fillna(0).astype("int64")
    reach = links.set_index("line_id")["distance_km"] if len(links) else pd.Series(
        dtype="float64")
    out["reach_km"] = pd.to_numeric(out["line_id"].map(reach), errors="coerce")
    return out[EVIDENCE_COLUMNS]
