"""Groups: communities of the people who control lines (networkx Louvain, seeded).

A group is found among holders and their common associates (handsets in contact with at
least two holders, e.g. a "boss"), with edges weighted by the number of distinct days in
contact. Each line belongs to its holder's group and each runner to its line's group. Lines
whose holder is unknown form a group of their own.

Examples
--------
>>> import networkx as nx
>>> G = nx.Graph([("h1", "h2", {"weight": 30}), ("h3", "h4", {"weight": 30})])
>>> lines = {"LINE-a": "h1", "LINE-b": "h2", "LINE-c": "h3"}
>>> groups = group_lines(G, lines, seed=1)
>>> sorted(groups.items())
[('LINE-a', 'GRP-1'), ('LINE-b', 'GRP-1'), ('LINE-c', 'GRP-2')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
import pandas as pd

from geointel.network._duck import fetch


def controller_graph(con: Any, holders: Sequence[str], *, exclude: Sequence[str] = ()) -> nx.Graph:
    """Holders and their common associates, edges weighted by distinct days in contact."""
    con.execute("CREATE OR REPLACE TABLE holder_set (h VARCHAR)").fetchall()
    con.execute("CREATE OR REPLACE TABLE excluded (h VARCHAR)").fetchall()
    if holders:
        con.executemany("INSERT INTO holder_set VALUES (?)", [[h] for h in sorted(set(holders))])
    if exclude:
        con.executemany("INSERT INTO excluded VALUES (?)", [[h] for h in sorted(set(exclude))])
    edges = fetch(con, """
        WITH ties AS (
          SELECT least(a, b) AS u, greatest(a, b) AS v,
                 count(DISTINCT CAST(floor(t / 86400.0) AS BIGINT)) AS days
          FROM rec WHERE a IN (SELECT h FROM holder_set) OR b IN (SELECT h FROM holder_set)
          GROUP BY 1, 2),
        ends AS (
          SELECT u AS x, v AS y, days FROM ties UNION ALL SELECT v, u, days FROM ties),
        assoc AS (
          SELECT x FROM ends WHERE y IN (SELECT h FROM holder_set)
            AND x NOT IN (SELECT h FROM holder_set) AND x NOT IN (SELECT h FROM excluded)
          GROUP BY x HAVING count(DISTINCT y) >= 2)
        SELECT u, v, days FROM ties
        WHERE (u IN (SELECT h FROM holder_set) OR u IN (SELECT x FROM assoc))
          AND (v IN (SELECT h FROM holder_set) OR v IN (SELECT x FROM assoc))
        ORDER BY u, v""")
    G = nx.Graph()
    G.add_nodes_from(sorted(set(holders)))
    for u, v, d in edges.itertuples(index=False):
        G.add_edge(u, v, weight=int(d))
    return G


def group_lines(controllers: nx.Graph, line_holder: Mapping[str, str], *,
                seed: int, resolution: float = 1.0) -> dict[str, str]:
    """Each line's group id (``GRP-1`` ...), numbered by the group's first line id."""
    communities = nx.community.louvain_communities(controllers, weight="weight",
                                                   resolution=resolution, seed=seed)
    member_of = {n: i for i, c in enumerate(communities) for n in c}
    raw: dict[str, str] = {}
    for line_id in sorted(line_holder):
        holder = line_holder[line_id]
        raw[line_id] = (f"c{member_of[holder]}" if holder in member_of else f"solo:{line_id}")
    order: dict[str, str] = {}
    for line_id in sorted(raw):
        if raw[line_id] not in order:
            order[raw[line_id]] = f"GRP-{len(order) + 1}"
    return {line_id: order[raw[line_id]] for line_id in sorted(raw)}


def group_table(line_group: Mapping[str, str], line_holder: Mapping[str, str],
                runners: pd.DataFrame, chains: pd.DataFrame) -> pd.DataFrame:
    """One row per group: ``group_id``, ``lines``, ``holders``, ``runners`` (``;``-lists)."""
    handset_line = dict(zip(chains["handset"], chains["line_id"], strict=True))
    rows = []
    for group_id in sorted(set(line_group.values()), key=lambda g: int(g.split("-")[1])):
        lines = sorted(lid for lid, g in line_group.items() if g == group_id)
        holders = sorted({line_holder[lid] for lid in lines if lid in line_holder})
        run = sorted({c for h, c in zip(runners["h"], runners["c"], strict=True)
                      if handset_line.get(h) in lines})
        rows.append({"group_id": group_id, "n_lines": len(lines), "lines": ";".join(lines),
                     "holders": ";".join(holders), "runners": ";".join(run)})
    return pd.DataFrame(rows, columns=["group_id", "n_lines", "lines", "holders", "runners"])
