"""Network analysis on hand-built records: flares, features, rebrands, holders, disruption."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from geointel.errors import ValidationError
from geointel.network.disruption import (
    compare_strategies,
    customers_cut_off,
    lcc_after_removal,
    read_weighted_edgelist,
    top_betweenness,
)
from geointel.network.features import DealLineModel, deal_line_score, features_sql
from geointel.network.graph import contact_edges, prepare
from geointel.network.lines import attribute_holders, chain_lines, link_rebrands, runners_sql
from geointel.settings import PROJECT_ROOT

T0 = pd.Timestamp("2018-10-01")
CUSTOMERS = [f"Pc{i:02d}" for i in range(12)]


def _rec(day, minute, a, b, kind="sms", cell=None, dur=0.0):
    return {"timestamp": T0 + pd.Timedelta(days=day, minutes=minute), "a_party": a,
            "b_party": b, "kind": kind, "duration_s": dur, "cell_id": cell,
            "cell_lat": 51.5 if cell else np.nan, "cell_lon": 0.7 if cell else np.nan}


@pytest.fixture(scope="module")
def tiny():
    """Line Pold (days 0-20) rebranded to Pnew (day 22 on); holder Phold; runner Prun."""
    rows = []
    for i, c in enumerate(CUSTOMERS):  # flares: 12 SMS within 12 minutes
        rows.append(_rec(1, i, "Pold", c, cell="X"))
        rows.append(_rec(22, i, "Pnew", c, cell="X"))
    for i, c in enumerate(CUSTOMERS):
        for day in (3 + i % 5, 10 + i % 7):
            rows.append(_rec(day, 60 * 12, c, "Pold", kind="call", dur=30.0))
        for day in (25 + i % 5, 32 + i % 7):
            rows.append(_rec(day, 60 * 12, c, "Pnew", kind="call", dur=30.0))
    for day in range(2, 20, 3):  # dispatches from the line, holder on his own phone nearby
        rows.append(_rec(day, 600, "Pold", "Prun", cell="X"))
        rows.append(_rec(day, 610, "Phold", "Pfriend", kind="call", cell="X", dur=60.0))
        rows.append(_rec(day, 615, "Pneigh", "Pother", cell="X" if day < 8 else "Y"))
    for day in range(23, 41, 3):
        rows.append(_rec(day, 600, "Pnew", "Prun", cell="X"))
        rows.append(_rec(day, 610, "Phold", "Pfriend", kind="call", cell="X", dur=60.0))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def con(tiny):
    c = prepare(tiny)
    yield c
    c.close()


def test_flares_are_found(con):
    flares = con.execute("SELECT a, recipients FROM flares ORDER BY a").fetchall()
    assert flares == [("Pnew", 12), ("Pold", 12)]


def test_features_and_score(con):
    f = deal_line_score(features_sql(con)).set_index("handset")
    old = f.loc["Pold"]
    # 12 customers (2 calls in, only flares out) + the runner (6 dispatches out, none in)
    assert (old["n_contacts"], old["n_customers"], old["flares"]) == (13, 12, 1)
    assert old["one_way_share"] == pytest.approx(12 / 13)
    assert old["in_share"] == pytest.approx(24 / (24 + 12 + 6))
    assert bool(old["is_deal_line"]) and not bool(f.loc["Phold", "is_deal_line"])
    assert f.loc["Pc00", "score"] < 0.5


def test_rebrand_link_and_chain(con):
    f = features_sql(con)
    links = link_rebrands(con, f, ["Pnew", "Pold"])
    assert links[["old", "new", "shared_customers"]].values.tolist() == [["Pold", "Pnew", 12]]
    assert links.loc[0, "overlap"] == 1.0 and links.loc[0, "flare_share"] == 1.0
    chain = chain_lines(["Pnew", "Pold"], links, f)
    assert chain.values.tolist() == [["Pold", "LINE-old", 0], ["Pnew", "LINE-old", 1]]


def test_holder_by_co_location(con):
    h = attribute_holders(con, ["Pnew", "Pold"]).set_index("handset")
    assert h.loc["Pold", "holder"] == "Phold" and h.loc["Pnew", "holder"] == "Phold"
    assert (h.loc["Pold", "same_cell_hours"], h.loc["Pold", "rate"]) == (6, 1.0)


def test_runner_is_the_dispatched_handset(con):
    r = runners_sql(con, ["Pnew", "Pold"])
    assert r[["h", "c", "dispatches"]].values.tolist() == [["Pnew", "Prun", 6],
                                                          ["Pold", "Prun", 6]]


def test_contact_edges_per_month(tiny):
    e = contact_edges(tiny, period="month")
    row = e[(e["u"] == "Pc00") & (e["v"] == "Pold")].iloc[0]
    assert (row["contacts"], row["calls"], row["sms"], row["period"]) == (3, 2, 1, "2018-10")


def test_raw_numbers_are_refused(tiny):
    with pytest.raises(ValidationError, match="not pseudonyms"):
        prepare(tiny.assign(a_party="07700900001"))


def test_disruption_strategies_on_a_small_network():
    G = nx.Graph([("L", "c1"), ("L", "c2"), ("L", "c3"), ("L", "R"), ("L", "H"), ("H", "B"),
                  ("B", "H2"), ("H2", "L2"), ("L2", "c4")])
    assert lcc_after_removal(G, ["B"]) == 6 and top_betweenness(G, 1) == ["L"]
    assert customers_cut_off(G, {"L"}, supply={"L", "L2"}, customers={"c1", "c4"}) == 1
    kwargs = {"supply": {"L", "L2"}, "customers": {"c1", "c2", "c3", "c4"},
              "held": {"H": {"L"}, "H2": {"L2"}}, "line_size": {"H": 3, "H2": 1}, "seed": 1}
    # Every strategy spends the same budget of handsets. With k=1 no holder fits (a holder
    # costs 2: themselves and their line handset), so the holder strategy removes nothing.
    one = compare_strategies(G, k=1, **kwargs).set_index("strategy")
    assert one["nodes_removed"].tolist() == [0, 1, 1]
    assert (one.loc["holder", "lcc_after"], one.loc["holder", "customers_cut_off"]) == (10, 0)
    assert one.loc["betweenness", "lcc_after"] == 5  # L removed: H-B-H2-L2-c4 left
    # k=2: H with L (the largest line); H2 with L2 would exceed the budget. Betweenness by
    # hand: L 26 pairs, H 20 (5 x 4 across it), B 18 (6 x 3): L and H go.
    two = compare_strategies(G, k=2, **kwargs).set_index("strategy")
    assert two["nodes_removed"].tolist() == [2, 2, 2]
    assert two.loc["holder", "removed"] == "H;L"
    assert two.loc["betweenness", "removed"] == "H;L"
    assert (two.loc["holder", "lcc_after"], two.loc["holder", "customers_cut_off"]) == (4, 3)
    assert two.loc["key_player", "lcc_after"] <= two.loc["betweenness", "lcc_after"]


@pytest.mark.mirror
def test_montagna_top_5pc_betweenness_leaves_a_third(mirror):
    """Cavallaro et al. (2020): removing the top 5% by betweenness leaves ~1/3 of the LCC."""
    G = read_weighted_edgelist(mirror / "networks" / "montagna_phonecalls_edgelist.csv")
    before = max(len(c) for c in nx.connected_components(G))
    k = math.ceil(0.05 * G.number_of_nodes())
    fraction = lcc_after_removal(G, top_betweenness(G, k)) / before
    assert (G.number_of_nodes(), before, k) == (100, 89, 5)
    assert fraction == pytest.approx(1 / 3, abs=0.05)  # measured 29/89 = 0.326


def test_model_json_round_trip_and_default_model(tmp_path):
    model = DealLineModel.from_json(PROJECT_ROOT / "models" / "deal_line_classifier.json")
    f = pd.DataFrame({"one_way_share": [0.9, 0.05], "flares_per_30d": [4.0, 0.0],
                      "n_customers": [30, 0], "hours_active": [22, 14], "in_share": [0.5, 0.5],
                      "churn": [0.1, 0.0], "mobile": [1, 1], "n_contacts": [33, 6]},
                     index=["line", "person"])
    p = pd.Series(model.probability(f), index=f.index)
    assert p["line"] > 0.9 and p["person"] < 0.1
    again = DealLineModel.from_json(model.to_json(tmp_path / "m.json"))
    assert np.allclose(again.probability(f), p.to_numpy())
    assert model.metrics["cv_precision"] >= 0.9 and model.metrics["cv_recall"] >= 0.9


def test_weekly_activity_and_network_evidence(con):
    import geopandas as gpd

    from geointel.network.activity import network_evidence, weekly_activity
    from geointel.network.lines import customers_sql

    deal = ["Pnew", "Pold"]
    chains = chain_lines(deal, link_rebrands(con, features_sql(con), deal), features_sql(con))
    customers = customers_sql(con, deal)
    activity, who = weekly_activity(con, chains, customers)
    # customer calls: days 3-7 and 10-16 to Pold, 25-29 and 32-38 to Pnew (Mondays:
    # 1 Oct, 8, 15, 22, 29 Oct, 5 Nov); every customer calls twice per handset.
    assert activity["week"].dt.strftime("%m-%d").tolist() == [
        "10-01", "10-08", "10-15", "10-22", "10-29", "11-05"]
    assert activity["deal_messages"].sum() == 48
    assert set(activity["line_id"]) == {"LINE-old"}
    assert (who.groupby("week")["customer"].nunique().to_numpy()
            == activity["active_customers"].to_numpy()).all()
    assert sorted(who["customer"].unique()) == CUSTOMERS
    # records run from Tue 2 Oct (day 1) to Thu 8 Nov (day 38): the first week has 6 days
    # inside them, the last 4; the evidence means use the four full weeks: customers
    # (9 + 4 + 8 + 8) / 4, messages (10 + 4 + 8 + 10) / 4
    assert activity["days_covered"].tolist() == [6, 7, 7, 7, 7, 4]
    assert activity["deal_messages"].tolist() == [10, 10, 4, 8, 10, 6]
    links = gpd.GeoDataFrame({"line_id": ["LINE-old"], "distance_km": [12.5]}, geometry=[None])
    ev = network_evidence(activity, runners_sql(con, deal), chains, links)
    assert ev.values.tolist() == [["LINE-old", 7.25, 8.0, 1, 12.5]]


def _fake_result(groups: list[str]):
    from geointel.network.pipeline import LinesResult

    key = bytes(range(32))
    from geointel.privacy import pseudonymise

    numbers = ["07700900001", "07700900002", "07700900003", "07700900004"]
    hs = pseudonymise(numbers, key)
    lines = pd.DataFrame({"line_id": [f"LINE-{i}" for i in range(4)], "handsets": hs,
                          "group_id": groups})
    handsets = pd.DataFrame({"handset": hs, "role": "deal_line", "line_id": lines["line_id"],
                             "group_id": groups})
    empty_links = pd.DataFrame({"old": [], "new": []})
    holders = pd.DataFrame({"handset": [], "holder": []})
    result = LinesResult(pd.DataFrame(), handsets, lines, empty_links, holders, pd.DataFrame(),
                         None, None, None, pd.DataFrame(), nx.Graph(), pd.DataFrame(),
                         pd.DataFrame())
    truth_h = pd.DataFrame({"handset": numbers, "role": "deal_line"})
    truth_l = pd.DataFrame({"line_id": ["T1", "T2", "T3", "T4"], "handsets": numbers,
                            "holder": ["07700900101"] * 4, "group_id": ["G1", "G1", "G2", "G2"]})
    return result, truth_h, truth_l, key


@pytest.mark.parametrize(("groups", "precision", "recall"), [
    (["GRP-1", "GRP-1", "GRP-2", "GRP-2"], 1.0, 1.0),   # the truth's grouping
    (["GRP-1", "GRP-2", "GRP-3", "GRP-4"], 1.0, 0.0),   # every line its own group
    (["GRP-1", "GRP-1", "GRP-1", "GRP-1"], 2 / 6, 1.0),  # one group: 2 of 6 pairs right
    (["GRP-1", "GRP-1", "GRP-1", "GRP-2"], 1 / 3, 0.5),  # pairs 01, 02, 12 together; 01 true
])
def test_group_scores_penalise_over_splitting_and_merging(groups, precision, recall):
    from geointel.network.evaluate import evaluate_against_truth

    result, truth_h, truth_l, key = _fake_result(groups)
    scores = evaluate_against_truth(result, truth_h, truth_l, key=key)
    assert scores["group_precision"] == pytest.approx(precision)
    assert scores["group_recall"] == pytest.approx(recall)
    assert (scores["group_adjusted_rand"] == 1.0) == (precision == recall == 1.0)
    assert scores["deal_line_precision"] == scores["deal_line_recall"] == 1.0
