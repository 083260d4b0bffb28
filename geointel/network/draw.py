"""The command structure of detected lines as a Graphviz DOT graph (for screens and briefings).

Only the operational core is drawn - groups (clusters), lines, their holders and runners - so
that a market of hundreds of customers stays readable; customers are counted on each line's
label. Node names are pseudonyms; labels show only their first characters.

Examples
--------
>>> lines = pd.DataFrame({"line_id": ["LINE-aa"], "group_id": ["GRP-1"], "holder": ["Phh"],
...                       "handsets": ["Paa;Pbb"], "customers_total": [30]})
>>> handsets = pd.DataFrame({"handset": ["Prr"], "role": ["runner"], "line_id": ["LINE-aa"]})
>>> dot = command_dot(lines, handsets)
>>> '"LINE-aa" -> "Prr"' in dot, 'subgraph "cluster_GRP-1"' in dot
(True, True)
"""

from __future__ import annotations

import pandas as pd

_STYLE = {
    "line": 'shape=box, style="filled", fillcolor="#fdae61"',
    "holder": 'shape=ellipse, style="filled", fillcolor="#d7191c", fontcolor="white"',
    "runner": 'shape=ellipse, style="filled", fillcolor="#abd9e9", fontsize=9',
}


def _q(text: object) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def command_dot(lines: pd.DataFrame, handsets: pd.DataFrame) -> str:
    """Groups, lines, holders and runners as DOT (``LinesResult.lines``/``.handsets``).

    Holders point at the lines they hold, lines at the runners they dispatch; each group is a
    cluster holding its lines and their holders.
    """
    out = ["digraph command {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    runners = handsets[handsets["role"] == "runner"]
    for group, part in lines.groupby("group_id", sort=True):
        out.append(f"  subgraph {_q('cluster_' + str(group))} {{")
        out.append(f"    label={_q(group)}; style=rounded; color=\"#636363\";")
        for row in part.to_dict("records"):
            chain = str(row["handsets"]).split(";")
            label = (f"{row['line_id']}\\n{len(chain)} handset(s), "
                     f"{int(row['customers_total'])} cust.")
            out.append(f"    {_q(row['line_id'])} [label={_q(label)}, {_STYLE['line']}];")
            if row["holder"]:
                out.append(f"    {_q(row['holder'])} "
                           f"[label={_q('holder ' + str(row['holder'])[:7])}, {_STYLE['holder']}];")
        out.append("  }")
    for holder, line_id in zip(lines["holder"], lines["line_id"], strict=True):
        if holder:
            out.append(f"  {_q(holder)} -> {_q(line_id)} [label=\"holds\"];")
    for handset, line_id in zip(runners["handset"], runners["line_id"], strict=True):
        out.append(f"  {_q(handset)} [label={_q('runner ' + str(handset)[:7])}, "
                   f"{_STYLE['runner']}];")
        out.append(f"  {_q(line_id)} -> {_q(handset)} [color=\"#2c7bb6\"];")
    out.append("}")
    return "\n".join(out)
