"""Contact records into a weighted, time-aware contact graph (the heavy group-bys in DuckDB).

:func:`prepare` loads pseudonymised contact records (from
:func:`geointel.io.contacts.read_contacts`) into a DuckDB table ``rec`` with epoch seconds and
flags the SMS that belong to a "flare" (bulk messages to many recipients within minutes).
:func:`contact_edges` aggregates records per handset pair and period; :func:`contact_graph`
turns edges into a networkx graph.

The SQL uses only standard constructs (``GROUP BY``, joins, window frames over integer
seconds) so that it can move to a distributed engine later.

Examples
--------
>>> import pandas as pd
>>> recs = pd.DataFrame({
...     "timestamp": pd.to_datetime(["2018-10-01 10:00", "2018-10-02 11:00", "2018-11-03 09:00"]),
...     "a_party": ["Pa", "Pb", "Pa"], "b_party": ["Pb", "Pa", "Pc"],
...     "kind": ["call", "sms", "call"], "duration_s": [60.0, 0.0, 30.0]})
>>> e = contact_edges(recs, period="month")
>>> e[["u", "v", "period", "contacts"]].values.tolist()
[['Pa', 'Pb', '2018-10', 2], ['Pa', 'Pc', '2018-11', 1]]
>>> G = contact_graph(contact_edges(recs))
>>> G["Pa"]["Pb"]["weight"], G.number_of_nodes()
(2, 3)
"""

from __future__ import annotations

from typing import Any, Literal

import networkx as nx
import pandas as pd

from geointel.errors import ValidationError
from geointel.network._duck import connect, fetch

#: A flare: at least FLARE_MIN_SMS messages from one handset within FLARE_WINDOW_S seconds.
FLARE_MIN_SMS = 10
FLARE_WINDOW_S = 600
_NEEDED = ("timestamp", "a_party", "b_party", "kind", "duration_s")


def check_contacts(contacts: pd.DataFrame) -> None:
    """Refuse a frame that is not pseudonymised contact records."""
    missing = [c for c in _NEEDED if c not in contacts.columns]
    if missing:
        raise ValidationError(
            f"contacts: missing column(s) {', '.join(missing)}; pass the data of "
            "geointel.io.contacts.read_contacts(...)")
    sample = pd.concat([contacts["a_party"].head(1000), contacts["b_party"].head(1000)])
    if len(sample) and not sample.astype(str).str.fullmatch(r"P[0-9a-f]{16}|P\w+").all():
        raise ValidationError(
            "contacts: a_party/b_party are not pseudonyms; read the records with "
            "geointel.io.contacts.read_contacts(..., key=...) so that raw numbers never "
            "reach the analysis")


def prepare(contacts: pd.DataFrame, *, con: Any | None = None,
            flare_min_sms: int = FLARE_MIN_SMS, flare_window_s: int = FLARE_WINDOW_S) -> Any:
    """A DuckDB connection holding table ``rec`` (one row per record) and ``flares``.

    ``rec`` columns: ``t`` (epoch seconds), ``a``, ``b``, ``sms`` (bool), ``dur``, ``cell``,
    ``lat``, ``lon``, ``flare`` (bool: the SMS is part of a flare: it falls within
    ``flare_window_s`` after an SMS that starts a run of ``flare_min_sms`` within that
    window). ``flares``: one row per
    flare event (``a``, ``flare_id``, ``t0``, ``t1``, ``recipients``).
    """
    check_contacts(contacts)
    con = con if con is not None else connect()
    frame = contacts
    for col in ("cell_id", "cell_lat", "cell_lon"):
        if col not in frame.columns:
            frame = frame.assign(**{col: pd.Series(pd.NA, index=frame.index, dtype=object)})
    con.register("contacts_in", frame[[*_NEEDED, "cell_id", "cell_lat", "cell_lon"]])
    w = int(flare_window_s)
    con.execute(f"""
        CREATE OR REPLACE TABLE rec AS
        WITH base AS (
          SELECT CAST(EXTRACT(EPOCH FROM timestamp) AS BIGINT) AS t,
                 CAST(a_party AS VARCHAR) AS a, CAST(b_party AS VARCHAR) AS b,
                 kind = 'sms' AS sms, CAST(duration_s AS DOUBLE) AS dur,
                 nullif(CAST(cell_id AS VARCHAR), '') AS cell, CAST(cell_lat AS DOUBLE) AS lat,
                 CAST(cell_lon AS DOUBLE) AS lon
          FROM contacts_in),
        burst AS (
          SELECT a, t, b,
            CASE WHEN count(*) OVER (PARTITION BY a ORDER BY t
                   RANGE BETWEEN CURRENT ROW AND {w} FOLLOWING) >= {int(flare_min_sms)}
                 THEN 1 ELSE 0 END AS starts
          FROM base WHERE sms),
        member AS (
          SELECT a, t, b,
            max(starts) OVER (PARTITION BY a ORDER BY t
                              RANGE BETWEEN {w} PRECEDING AND CURRENT ROW) AS in_flare
          FROM burst)
        SELECT base.*, coalesce(f.flare, false) AS flare
        FROM base LEFT JOIN (
          SELECT DISTINCT a, t, b, true AS flare FROM member WHERE in_flare = 1) f
        ON base.sms AND f.a = base.a AND f.t = base.t AND f.b = base.b
    """).fetchall()
    con.unregister("contacts_in")
    con.execute(f"""
        CREATE OR REPLACE TABLE flares AS
        SELECT a, flare_id, min(t) AS t0, max(t) AS t1, count(DISTINCT b) AS recipients
        FROM (
          SELECT a, t, b, sum(new) OVER (PARTITION BY a ORDER BY t
                                         ROWS UNBOUNDED PRECEDING) AS flare_id
          FROM (SELECT a, t, b,
                  CASE WHEN t - lag(t) OVER (PARTITION BY a ORDER BY t) <= {w}
                       THEN 0 ELSE 1 END AS new
                FROM rec WHERE flare))
        GROUP BY a, flare_id
    """).fetchall()
    con.execute("""
        CREATE OR REPLACE TABLE pairs AS
        SELECT h, c, CAST(sum(n_in) AS BIGINT) AS n_in, CAST(sum(n_out) AS BIGINT) AS n_out,
               CAST(sum(n_out_flare) AS BIGINT) AS n_out_flare, min(t) AS first_t,
               max(t) AS last_t
        FROM (
          SELECT a AS h, b AS c, 0 AS n_in, 1 AS n_out,
                 CASE WHEN flare THEN 1 ELSE 0 END AS n_out_flare, t FROM rec
          UNION ALL
          SELECT b AS h, a AS c, 1, 0, 0, t FROM rec)
        GROUP BY h, c
    """).fetchall()
    return con


def contact_edges(contacts: pd.DataFrame, *,
                  period: Literal["all", "month", "week"] = "all") -> pd.DataFrame:
    """Records aggregated per unordered handset pair (and period).

    Parameters
    ----------
    contacts
        Pseudonymised contact records.
    period
        ``"all"`` for one row per pair, or ``"month"``/``"week"`` for one per pair and
        period (the time-aware graph).

    Returns
    -------
    DataFrame
        ``u``, ``v`` (``u < v``), ``period``, ``contacts``, ``calls``, ``sms``,
        ``duration_s``, ``u_to_v``, ``v_to_u``, ``first_seen``, ``last_seen``.
    """
    formats = {"all": "'all'", "month": "strftime(timestamp, '%Y-%m')",
               "week": "strftime(timestamp, '%G-W%V')"}
    if period not in formats:
        raise ValidationError(f"contact_edges: period={period!r}; use 'all', 'month' or 'week'")
    check_contacts(contacts)
    con = connect()
    try:
        con.register("c", contacts[list(_NEEDED)])
        return fetch(con, f"""
            SELECT least(a_party, b_party) AS u, greatest(a_party, b_party) AS v,
                   {formats[period]} AS period, count(*) AS contacts,
                   sum(CASE WHEN kind = 'call' THEN 1 ELSE 0 END) AS calls,
                   sum(CASE WHEN kind = 'sms' THEN 1 ELSE 0 END) AS sms,
                   sum(duration_s) AS duration_s,
                   sum(CASE WHEN a_party < b_party THEN 1 ELSE 0 END) AS u_to_v,
                   sum(CASE WHEN a_party > b_party THEN 1 ELSE 0 END) AS v_to_u,
                   min(timestamp) AS first_seen, max(timestamp) AS last_seen
            FROM c GROUP BY 1, 2, 3 ORDER BY 3, 1, 2""")
    finally:
        con.close()


def contact_graph(edges: pd.DataFrame) -> nx.Graph:
    """An undirected graph from :func:`contact_edges` (summed over periods).

    Edge attributes: ``weight`` (records), ``calls``, ``sms``, ``duration_s``,
    ``first_seen``, ``last_seen`` (ISO text).
    """
    agg = edges.groupby(["u", "v"], sort=True).agg(
        weight=("contacts", "sum"), calls=("calls", "sum"), sms=("sms", "sum"),
        duration_s=("duration_s", "sum"), first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max")).reset_index()
    G = nx.Graph()
    for row in agg.to_dict("records"):
        G.add_edge(row["u"], row["v"], weight=int(row["weight"]), calls=int(row["calls"]),
                   sms=int(row["sms"]), duration_s=float(row["duration_s"]),
                   first_seen=pd.Timestamp(row["first_seen"]).isoformat(),
                   last_seen=pd.Timestamp(row["last_seen"]).isoformat())
    return G
