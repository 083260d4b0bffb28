"""The command network of detected lines laid out for an interactive chart.

:func:`command_layout` places the operational core of the lines (lines, their holders and
the runners they dispatch; customers are counted on the lines) with a seeded force-directed
layout (:func:`networkx.spring_layout`), so the same lines always give the same picture.
It returns plain tables - nodes with ``x``/``y`` and edges with both ends - that any chart
library draws; the app draws them with Altair (zoom, pan and tooltips).
:func:`command_chart` is that Altair chart. Nodes are named by their pseudonyms and line
ids only.

Examples
--------
>>> lines = pd.DataFrame({"line_id": ["LINE-aa"], "group_id": ["GRP-1"], "holder": ["Phh"],
...                       "handsets": ["Paa;Pbb"], "customers_total": [30]})
>>> handsets = pd.DataFrame({"handset": ["Prr"], "role": ["runner"], "line_id": ["LINE-aa"]})
>>> nodes, edges = command_layout(lines, handsets, seed=1)
>>> nodes[["node", "role", "line_id"]].values.tolist()
[['LINE-aa', 'line', 'LINE-aa'], ['Phh', 'holder', 'LINE-aa'], ['Prr', 'runner', 'LINE-aa']]
>>> edges[["source", "target", "relation"]].values.tolist()
[['LINE-aa', 'Prr', 'dispatches'], ['Phh', 'LINE-aa', 'holds']]
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from geointel.errors import ValidationError, require

log = logging.getLogger(__name__)

#: Role -> colour of the command chart's nodes.
ROLE_COLOURS = {"line": "#fdae61", "holder": "#d7191c", "runner": "#2c7bb6"}
NODE_COLUMNS = ["node", "role", "label", "line_id", "group_id", "handsets", "customers", "x",
                "y"]
EDGE_COLUMNS = ["source", "target", "relation", "line_id", "x", "y", "x2", "y2"]


def command_layout(lines: pd.DataFrame, handsets: pd.DataFrame, *,
                   seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes and edges of the command network, positioned.

    Parameters
    ----------
    lines
        ``LinesResult.lines``: ``line_id``, ``group_id``, ``holder`` (pseudonym or blank),
        ``handsets`` (``;``-separated chain), ``customers_total``.
    handsets
        ``LinesResult.handsets``: ``handset``, ``role``, ``line_id``; the ``runner`` rows are
        drawn.
    seed
        Seed of the layout.

    Returns
    -------
    nodes, edges : pandas.DataFrame
        ``nodes``: ``node`` (line id or pseudonym), ``role`` (line/holder/runner),
        ``label``, ``line_id``, ``group_id``, ``handsets`` (deal-line handsets of a line),
        ``customers`` (of a line), ``x``, ``y`` (each connected part within radius 1 of
        its own point of a grid 3 apart, by group). ``edges``: ``source``,
        ``target``, ``relation`` (holds/dispatches), ``line_id`` and both ends' ``x``, ``y``,
        ``x2``, ``y2``.

    Raises
    ------
    ValidationError
        If ``lines`` or ``handsets`` lacks a column the layout needs.
    """
    import networkx as nx

    need = {"line_id", "group_id", "holder", "handsets", "customers_total"} - set(lines.columns)
    need_h = {"handset", "role", "line_id"} - set(handsets.columns)
    if need or need_h:
        raise ValidationError(
            "command_layout: lines lacks " + (", ".join(sorted(need)) or "nothing")
            + "; handsets lacks " + (", ".join(sorted(need_h)) or "nothing")
            + ". Pass LinesResult.lines and LinesResult.handsets")
    graph = nx.DiGraph()
    group_of = dict(zip(lines["line_id"], lines["group_id"], strict=True))
    for row in lines.to_dict("records"):
        chain = [h for h in str(row["handsets"]).split(";") if h]
        graph.add_node(row["line_id"], role="line", label=f"{row['line_id']} ({row['group_id']})",
                       line_id=row["line_id"], group_id=row["group_id"],
                       handsets=len(chain), customers=int(row["customers_total"]))
    for row in lines.to_dict("records"):
        holder = row["holder"]
        if isinstance(holder, str) and holder:
            if holder not in graph:
                graph.add_node(holder, role="holder", label=f"holder {holder[:7]}",
                               line_id=row["line_id"], group_id=row["group_id"])
            graph.add_edge(holder, row["line_id"], relation="holds", line_id=row["line_id"])
    runners = handsets[(handsets["role"] == "runner") & handsets["line_id"].isin(group_of)]
    for handset, line_id in zip(runners["handset"], runners["line_id"], strict=True):
        if handset not in graph:
            graph.add_node(handset, role="runner", label=f"runner {str(handset)[:7]}",
                           line_id=line_id, group_id=group_of[line_id])
        graph.add_edge(line_id, handset, relation="dispatches", line_id=line_id)
    if graph.number_of_nodes() == 0:
        return pd.DataFrame(columns=NODE_COLUMNS), pd.DataFrame(columns=EDGE_COLUMNS)
    pos = _packed_layout(graph, seed=seed)
    nodes = pd.DataFrame([{"node": n, **data, "x": float(pos[n][0]), "y": float(pos[n][1])}
                          for n, data in graph.nodes(data=True)])
    for col in NODE_COLUMNS:
        if col not in nodes.columns:
            nodes[col] = pd.NA
    nodes["handsets"] = nodes["handsets"].astype("Int64")
    nodes["customers"] = nodes["customers"].astype("Int64")
    edges = pd.DataFrame([{"source": u, "target": v, "relation": d["relation"],
                           "line_id": d["line_id"], "x": float(pos[u][0]),
                           "y": float(pos[u][1]), "x2": float(pos[v][0]),
                           "y2": float(pos[v][1])} for u, v, d in graph.edges(data=True)],
                         columns=EDGE_COLUMNS)
    log.info("laid out %d nodes and %d edges of the command network", len(nodes), len(edges))
    return nodes[NODE_COLUMNS], edges


def _packed_layout(graph: Any, *, seed: int) -> dict[Any, tuple[float, float]]:
    """Each connected part (a line with its holder and runners, or lines sharing a holder)
    laid out on its own (seeded spring layout, radius 1) and the parts placed on a grid,
    ordered by group and line, so no part shrinks to a dot beside the gaps between them."""
    import math

    import networkx as nx

    undirected = graph.to_undirected()
    parts = sorted(nx.connected_components(undirected),
                   key=lambda c: min((str(graph.nodes[n].get("group_id")),
                                      str(graph.nodes[n].get("line_id"))) for n in c))
    cols = max(1, math.ceil(math.sqrt(len(parts))))
    pos: dict[Any, tuple[float, float]] = {}
    for k, part in enumerate(parts):
        sub = undirected.subgraph(part)
        local = (nx.spring_layout(sub, seed=seed, iterations=200) if len(part) > 1
                 else {next(iter(part)): (0.0, 0.0)})
        cx, cy = 3.0 * (k % cols), -3.0 * (k // cols)
        for node, (x, y) in local.items():
            pos[node] = (cx + float(x), cy + float(y))
    return pos


def command_chart(nodes: pd.DataFrame, edges: pd.DataFrame, *, height: int = 520) -> Any:
    """An Altair chart of :func:`command_layout`: edges as lines, nodes coloured by role with
    tooltips (pseudonyms and line ids only), zoom and pan with the mouse.

    Examples
    --------
    >>> lines = pd.DataFrame({"line_id": ["L1"], "group_id": ["G1"], "holder": ["Ph"],
    ...                       "handsets": ["Pa"], "customers_total": [3]})
    >>> handsets = pd.DataFrame({"handset": ["Pr"], "role": ["runner"], "line_id": ["L1"]})
    >>> chart = command_chart(*command_layout(lines, handsets, seed=1))
    >>> [layer.mark.type for layer in chart.layer]
    ['rule', 'circle', 'text']
    """
    require("altair", extra="app")  # ships with Streamlit
    import altair as alt

    roles = list(ROLE_COLOURS)
    free = alt.Scale(zero=False, padding=30)
    colour = alt.Color("role:N", title="role",
                       scale=alt.Scale(domain=roles, range=[ROLE_COLOURS[r] for r in roles]))
    links = alt.Chart(edges).mark_rule(color="#9e9e9e", strokeWidth=1.2).encode(
        x=alt.X("x:Q", axis=None, scale=free), y=alt.Y("y:Q", axis=None, scale=free),
        x2="x2:Q", y2="y2:Q",
        tooltip=[alt.Tooltip("source:N"), alt.Tooltip("relation:N"),
                 alt.Tooltip("target:N")])
    points = alt.Chart(nodes).mark_circle(opacity=0.95, stroke="#222222",
                                          strokeWidth=0.6).encode(
        x=alt.X("x:Q", axis=None, scale=free), y=alt.Y("y:Q", axis=None, scale=free), color=colour,
        size=alt.Size("role:N", scale=alt.Scale(domain=roles, range=[420, 260, 90]),
                      legend=None),
        tooltip=[alt.Tooltip("label:N", title="node"), alt.Tooltip("role:N"),
                 alt.Tooltip("line_id:N", title="line"),
                 alt.Tooltip("group_id:N", title="group"),
                 alt.Tooltip("handsets:Q", title="deal-line handsets"),
                 alt.Tooltip("customers:Q", title="customers")])
    names = alt.Chart(nodes[nodes["role"] == "line"]).mark_text(
        dy=-16, fontSize=11, fontWeight="bold").encode(
        x=alt.X("x:Q", axis=None, scale=free), y=alt.Y("y:Q", axis=None, scale=free),
        text="label:N")
    return alt.layer(links, points, names).properties(height=height).interactive()
