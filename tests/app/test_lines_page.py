"""AppTest of the County lines page on the sample: lines, command network, map, disruption.

The lines analysis is cached per process (``_cached.lines_result``), so the first run pays for
it (about 25 s on the shared machine) and later runs reuse it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geointel import audit
from geointel.settings import PROJECT_ROOT

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "lines.py")
SAMPLES = PROJECT_ROOT / "data" / "samples"
KEY_FILE = PROJECT_ROOT / "data" / "pseudonym.key"
pytestmark = [pytest.mark.mirror, pytest.mark.sample, pytest.mark.slow]


def _page(role: str = "analyst"):
    at = streamlit_testing.AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["role"] = role
    at.session_state["user"] = "test-analyst"
    return at.run()


@pytest.fixture(scope="module")
def expected(analyst_audit):
    """analyse_lines run directly on the sample (no footprints: they do not change lines)."""
    from geointel.io.contacts import read_contacts, read_intel
    from geointel.network.pipeline import analyse_lines
    from geointel.privacy import load_key

    key = load_key(KEY_FILE, env={})
    contacts = read_contacts(SAMPLES / "contacts.csv", key=key).data
    intel = read_intel(SAMPLES / "intel.csv", key=key).data
    return analyse_lines(contacts, intel=intel, seed=42)


def test_the_page_shows_every_detected_line_with_holders_and_the_network(analyst_audit, expected):
    at = _page()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    truth = pd.read_csv(SAMPLES / "truth" / "lines.csv")
    assert metrics["Lines"] == str(len(expected.lines)) == str(len(truth))
    assert metrics["Groups"] == str(len(expected.groups))
    shown = at.dataframe[0].value
    assert sorted(shown["line_id"]) == sorted(expected.lines["line_id"])
    by_line = shown.set_index("line_id")
    want = expected.lines.set_index("line_id")
    assert (by_line["holder"] == want.loc[by_line.index, "holder"]).all()
    assert (by_line["handsets"] == want.loc[by_line.index, "n_handsets"]).all()
    assert int(by_line["handsets"].sum()) == len(expected.lines["handsets"].str.split(";")
                                                 .explode())
    assert (by_line["rebrand chain (oldest first)"].str.count("→")
            == by_line["handsets"] - 1).all()
    nodes, edges, spec = _network(at)
    by_role = nodes.groupby("role")["node"].apply(set)
    assert by_role["line"] == set(expected.lines["line_id"])
    assert by_role["holder"] == set(expected.lines["holder"].replace("", None).dropna())
    h = expected.handsets
    runners = h[(h["role"] == "runner") & h["line_id"].isin(expected.lines["line_id"])]
    assert by_role["runner"] == set(runners["handset"])
    lines = nodes[nodes["role"] == "line"].set_index("node")
    want = expected.lines.set_index("line_id")
    assert (lines["customers"] == want.loc[lines.index, "customers_total"]).all()
    assert (lines["group_id"] == want.loc[lines.index, "group_id"]).all()
    relations = edges.groupby("relation").size().to_dict()
    assert relations == {"holds": int((expected.lines["holder"] != "").sum()),
                         "dispatches": len(runners)}
    # every edge is drawn between its two nodes' positions (seeded layout)
    at_xy = nodes.set_index("node")[["x", "y"]]
    assert (edges["x"].to_numpy() == at_xy.loc[edges["source"], "x"].to_numpy()).all()
    assert (edges["y2"].to_numpy() == at_xy.loc[edges["target"], "y"].to_numpy()).all()
    # interactive: zoom and pan bound to the scales, tooltips on the nodes
    assert '"bind": "scales"' in spec and '"tooltip"' in spec
    assert not at.get("graphviz_chart")
    page = at.get("iframe")[0].proto.srcdoc
    assert "Exporter → importer" in page and "OFFICIAL-SENSITIVE" in page
    labels = [b.label for b in at.download_button]
    assert labels == ["Network (GraphML, Gephi)", "i2 entities (CSV)", "i2 links (CSV)",
                      "Lines (CSV)"]
    assert not at.error
    at.download_button[0].click().run()
    assert not at.exception, at.exception
    events = audit.read_events(analyst_audit, event="export")
    assert events[["user", "role"]].values.tolist() == [["test-analyst", "analyst"]]
    assert events["detail"][0] == {"what": "lines: network.graphml",
                                   "marking": "OFFICIAL-SENSITIVE"}


def _network(at):
    """Nodes, edges and the Vega-Lite spec of the command network chart."""
    import pyarrow as pa

    chart = next(c.proto for c in at.get("vega_lite_chart") if '"rule"' in c.proto.spec)
    frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.datasets]
    nodes = max((f for f in frames if "role" in f.columns), key=len)
    edges = next(f for f in frames if "relation" in f.columns)
    return nodes, edges, chart.spec


def test_disruption_strategies_are_compared_side_by_side(analyst_audit, expected):
    from geointel.network.pipeline import simulate_disruption

    at = _page()
    at.multiselect[0].set_value(["Line holders (largest markets first)",
                                 "Top-k by betweenness"])
    at.number_input[0].set_value(4)
    next(b for b in at.button if b.label == "Compare").click().run()
    assert not at.exception, at.exception
    compared = at.dataframe[-1].value
    assert compared.columns.tolist() == ["holder", "betweenness"]
    direct = simulate_disruption(expected.graph, expected.lines, k=4, seed=42,
                                 strategies=("holder", "betweenness")).set_index("strategy")
    left = compared.loc["largest component left"]
    assert left.tolist() == [f"{direct.loc[s, 'lcc_fraction']:.1%}"
                             for s in ("holder", "betweenness")]
    assert compared.loc["handsets removed", "betweenness"] == "4"
    cut = compared.loc["customers cut off from supply", "holder"]
    assert cut == (f"{direct.loc['holder', 'customers_cut_off']} of "
                   f"{direct.loc['holder', 'customers']}")


def test_lines_page_refuses_the_planner(analyst_audit):
    at = _page("planner")
    assert [e.value for e in at.error] == ["Your role (planner) may not open this page."]
    assert not at.metric
