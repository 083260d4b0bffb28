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
    spec = at.get("graphviz_chart")[0].proto.spec
    assert spec.startswith("digraph command")
    assert all(f'"{line}"' in spec for line in expected.lines["line_id"])
    assert spec.count("cluster_GRP-") == len(expected.groups)
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
