"""The command network laid out for the Lines page's interactive chart."""

from __future__ import annotations

import pandas as pd
import pytest

from geointel.command_chart import ROLE_COLOURS, command_chart, command_layout
from geointel.errors import ValidationError


def _lines() -> tuple[pd.DataFrame, pd.DataFrame]:
    lines = pd.DataFrame({"line_id": ["LINE-a", "LINE-b", "LINE-c"],
                         "group_id": ["GRP-1", "GRP-1", "GRP-2"],
                         "holder": ["Phold1", "Phold1", ""],
                         "handsets": ["Pa1;Pa2", "Pb1", "Pc1"],
                         "customers_total": [40, 12, 7]})
    handsets = pd.DataFrame({
        "handset": ["Pa1", "Pr1", "Pr2", "Pr3", "Pcust", "Pr9"],
        "role": ["deal_line", "runner", "runner", "runner", "customer", "runner"],
        "line_id": ["LINE-a", "LINE-a", "LINE-b", "LINE-c", "LINE-a", "LINE-gone"]})
    return lines, handsets


def test_nodes_are_lines_holders_and_runners_with_their_figures():
    nodes, edges = command_layout(*_lines(), seed=7)
    assert nodes["node"].tolist() == ["LINE-a", "LINE-b", "LINE-c", "Phold1", "Pr1", "Pr2",
                                      "Pr3"]
    assert nodes["role"].tolist() == ["line"] * 3 + ["holder"] + ["runner"] * 3
    lines = nodes.set_index("node")
    assert lines.loc["LINE-a", "handsets"] == 2 and lines.loc["LINE-a", "customers"] == 40
    assert lines.loc["Pr3", "group_id"] == "GRP-2"
    assert lines.loc["Phold1", "label"] == "holder Phold1"
    assert lines.loc["LINE-c", "label"] == "LINE-c (GRP-2)"  # the group is on the chart
    # a holder of two lines is one node with two 'holds' edges; a line without a holder
    # has none; customers and runners of unknown lines are not drawn
    pairs = sorted(zip(edges["source"], edges["target"], edges["relation"], strict=True))
    assert pairs == [("LINE-a", "Pr1", "dispatches"), ("LINE-b", "Pr2", "dispatches"),
                     ("LINE-c", "Pr3", "dispatches"), ("Phold1", "LINE-a", "holds"),
                     ("Phold1", "LINE-b", "holds")]


def test_the_layout_is_seeded_and_edges_join_their_nodes():
    nodes, edges = command_layout(*_lines(), seed=7)
    again, _ = command_layout(*_lines(), seed=7)
    other, _ = command_layout(*_lines(), seed=8)
    pd.testing.assert_frame_equal(nodes, again)
    assert not nodes[["x", "y"]].equals(other[["x", "y"]])
    # two parts (LINE-a/LINE-b share a holder; LINE-c alone), each within radius 1 of its
    # grid point, the grid 3 apart: the parts never overlap
    centre = {"GRP-1": (0.0, 0.0), "GRP-2": (3.0, 0.0)}
    for row in nodes.itertuples():
        cx, cy = centre[row.group_id]
        assert abs(row.x - cx) <= 1 + 1e-9 and abs(row.y - cy) <= 1 + 1e-9
    xy = nodes.set_index("node")
    for e in edges.itertuples():
        assert (e.x, e.y) == (xy.loc[e.source, "x"], xy.loc[e.source, "y"])
        assert (e.x2, e.y2) == (xy.loc[e.target, "x"], xy.loc[e.target, "y"])


def test_the_chart_colours_by_role_zooms_and_shows_pseudonyms_only():
    lines, handsets = _lines()
    spec = command_chart(*command_layout(lines, handsets, seed=1)).to_dict()
    points = spec["layer"][1]
    assert points["mark"]["type"] == "circle"
    scale = points["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"], strict=True)) == ROLE_COLOURS
    assert [t["field"] for t in points["encoding"]["tooltip"]] == [
        "label", "role", "line_id", "group_id", "handsets", "customers"]
    assert any(p.get("bind") == "scales" for p in spec.get("params", []))


def test_missing_columns_are_named():
    lines, handsets = _lines()
    with pytest.raises(ValidationError, match="lines lacks holder; handsets lacks role"):
        command_layout(lines.drop(columns="holder"), handsets.drop(columns="role"), seed=1)
