"""From contact records to lines, holders, runners, groups, footprints and disruption.

:func:`analyse_lines` runs the whole method on pseudonymised contact records (from
:func:`geointel.io.contacts.read_contacts`) and returns a frozen :class:`LinesResult`;
:func:`geointel.network.export.write_outputs` writes it to disk.

Examples
--------
>>> from geointel.network.simulate import simulate_county_lines
>>> from geointel.privacy import pseudonymise
>>> sim = simulate_county_lines(seed=5, months=2)
>>> recs = sim.contacts.assign(
...     timestamp=pd.to_datetime(sim.contacts["timestamp"]),
...     a_party=pseudonymise(sim.contacts["a_party"], b"k" * 32),
...     b_party=pseudonymise(sim.contacts["b_party"], b"k" * 32))
>>> result = analyse_lines(recs, seed=1)
>>> result.summary()["deal_line_handsets"] >= 6
True
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import pandas as pd

from geointel._progress import Progress, report
from geointel.errors import ValidationError
from geointel.network._duck import fetch
from geointel.network.activity import network_evidence, weekly_activity
from geointel.network.disruption import compare_strategies
from geointel.network.features import DealLineModel, deal_line_score, features_sql
from geointel.network.footprint import footprint_areas, footprint_points, line_links
from geointel.network.graph import prepare
from geointel.network.groups import controller_graph, group_lines, group_table
from geointel.network.lines import (
    attribute_holders,
    carry_forward,
    chain_lines,
    customers_sql,
    link_rebrands,
    runners_sql,
)

log = logging.getLogger(__name__)
ROLE_ORDER = ("deal_line", "holder", "runner", "associate", "customer")
INTEL_SUMS = ("weapons", "violence", "cuckooed_addresses", "exploited_children",
              "vulnerable_adults", "seizures")


@dataclass(frozen=True)
class LinesResult:
    """Everything :func:`analyse_lines` found; identifiers are pseudonyms throughout.

    Attributes
    ----------
    features
        Per-handset features with the score's contributions, ``score``,
        ``is_deal_line`` (and ``probability`` when a model was used).
    handsets
        ``handset``, ``role`` (deal_line/holder/runner/associate/customer), ``line_id``,
        ``group_id``.
    lines
        One row per line: ``line_id``, ``group_id``, ``handsets`` (chain, ``;``),
        ``first_seen``, ``last_seen``, ``holder``, ``customers_total`` (distinct customers
        over the period), ``exporter_la``, ``importer_la``, the scoring scheme's network
        evidence ``customers``, ``messages`` (weekly means), ``runners``, ``reach_km`` (see
        :mod:`geointel.network.activity`) and the summed intelligence counts.
    links
        Rebrand links (old, new) with their evidence.
    holders
        Holder per deal-line handset with the co-location evidence.
    groups
        One row per group: its lines, holders and runners.
    footprints
        Records per line, side (sell/run), LSOA and local authority (``None`` without LSOAs).
    footprint_polygons
        LSOA polygons with the records per line and side (``None`` without LSOAs).
    line_links
        Exporter -> importer LineStrings (EPSG:27700).
    disruption
        Strategies compared side by side (see :mod:`geointel.network.disruption`).
    graph
        The operational network: lines, holders, runners, associates and customers.
    activity
        Weekly demand per line: ``line_id, week, deal_messages, active_customers,
        days_covered`` (days of the week inside the records).
    line_customers
        Who contacted each line in each week: ``line_id, customer, week`` (pseudonyms).
    carried
        With ``previous`` lines: which ids were carried forward, new or retired
        (:func:`geointel.network.lines.carry_forward`); else ``None``.
    """

    features: pd.DataFrame
    handsets: pd.DataFrame
    lines: pd.DataFrame
    links: pd.DataFrame
    holders: pd.DataFrame
    groups: pd.DataFrame
    footprints: pd.DataFrame | None
    footprint_polygons: gpd.GeoDataFrame | None
    line_links: gpd.GeoDataFrame
    disruption: pd.DataFrame
    graph: nx.Graph
    activity: pd.DataFrame
    line_customers: pd.DataFrame
    carried: pd.DataFrame | None = None

    def summary(self) -> dict[str, Any]:
        """Counts for the CLI's ``--json`` output."""
        roles = self.handsets["role"].value_counts()
        carried: dict[str, Any] = {}
        if self.carried is not None:
            status = self.carried["status"].value_counts()
            carried = {"line_ids": {s: int(status.get(s, 0))
                                    for s in ("carried", "new", "retired")}}
        return {
            "deal_line_handsets": int(roles.get("deal_line", 0)),
            "lines": len(self.lines),
            "rebrand_links": len(self.links),
            "holders": int(roles.get("holder", 0)),
            "runners": int(roles.get("runner", 0)),
            "customers": int(roles.get("customer", 0)),
            "groups": len(self.groups),
            **carried,
            "disruption": {str(r["strategy"]): {
                "nodes_removed": int(r["nodes_removed"]),
                "lcc_fraction": round(float(r["lcc_fraction"]), 3),
                "customers_cut_off": int(r["customers_cut_off"])}
                for r in self.disruption.to_dict("records")},
        }


def _roles(chains: pd.DataFrame, holder_of_line: dict[str, str], runners: pd.DataFrame,
           customers: pd.DataFrame, associates: set[str],
           line_group: dict[str, str]) -> pd.DataFrame:
    line_of = dict(zip(chains["handset"], chains["line_id"], strict=True))
    rows: dict[str, tuple[str, str]] = {}

    def put(handset: str, role: str, line_id: str) -> None:
        old = rows.get(handset)
        if old is None or ROLE_ORDER.index(role) < ROLE_ORDER.index(old[0]):
            rows[handset] = (role, line_id)

    for h, line_id in line_of.items():
        put(h, "deal_line", line_id)
    for line_id, holder in holder_of_line.items():
        put(holder, "holder", line_id)
    for h, c in zip(runners["h"], runners["c"], strict=True):
        put(c, "runner", line_of[h])
    for a in associates:
        put(a, "associate", "")
    for h, c in zip(customers["h"], customers["c"], strict=True):
        put(c, "customer", line_of[h])
    table = pd.DataFrame([(h, r, lid) for h, (r, lid) in rows.items()],
                         columns=["handset", "role", "line_id"])
    table["group_id"] = table["line_id"].map(line_group).fillna("")
    table["rank"] = table["role"].map(ROLE_ORDER.index)
    return (table.sort_values(["rank", "line_id", "handset"]).drop(columns="rank")
            .reset_index(drop=True))


def _operational_graph(con: Any, handsets: pd.DataFrame, holders: pd.DataFrame) -> nx.Graph:
    con.register("op_nodes", handsets[["handset"]])
    edges = fetch(con, """
        SELECT p.h AS u, p.c AS v, p.n_in + p.n_out AS weight, p.first_t, p.last_t
        FROM pairs p
        WHERE p.h < p.c AND p.h IN (SELECT handset FROM op_nodes)
          AND p.c IN (SELECT handset FROM op_nodes)
        ORDER BY 1, 2""")
    con.unregister("op_nodes")
    G = nx.Graph()
    for row in handsets.itertuples(index=False):
        G.add_node(row.handset, role=row.role, line_id=row.line_id, group_id=row.group_id)
    for u, v, w, t0, t1 in edges.to_numpy().tolist():
        G.add_edge(u, v, weight=int(w), kind="contact",
                   first_seen=pd.Timestamp(int(t0), unit="s").isoformat(),
                   last_seen=pd.Timestamp(int(t1), unit="s").isoformat())
    for handset, holder, hours in holders[["handset", "holder", "same_cell_hours"]].to_numpy(
            ).tolist():
        G.add_edge(handset, holder, weight=int(hours), kind="co_located")
    return G


def analyse_lines(
    contacts: pd.DataFrame,
    *,
    intel: pd.DataFrame | None = None,
    lsoas: gpd.GeoDataFrame | None = None,
    method: Literal["score", "model"] = "score",
    model: DealLineModel | None = None,
    threshold: float | None = None,
    disruption_k: int | None = None,
    previous: pd.DataFrame | None = None,
    seed: int = 42,
    progress: Progress | None = None,
) -> LinesResult:
    """Detect deal lines, rebrands, holders, runners, customers, groups, footprints.

    Parameters
    ----------
    contacts
        Pseudonymised contact records (``read_contacts(...).data``).
    intel
        Optional intelligence register (``read_intel(...).data``); its counts are summed
        per line through the line's handsets.
    lsoas
        Optional LSOA polygons (e.g. ``read_boundaries(...).data``) for footprints.
    method
        ``"score"`` (the transparent score) or ``"model"`` (the logistic regression
        ``model``, default ``models/deal_line_classifier.json``).
    model
        The classifier for ``method="model"``.
    threshold
        Deal-line threshold of the score (default 0.7) or the model's probability.
    disruption_k
        Handsets each disruption strategy removes (default: 5% of the network, at least 1).
    previous
        The lines of an earlier run (``line_id``, ``handsets``; ``lines.csv``): chains that
        share handsets with a previous line keep its id (see
        :func:`geointel.network.lines.carry_forward`), reported in ``carried``.
    seed
        Seed of Louvain and of any sampling.
    progress
        ``progress(done, total, message)`` callback.
    """
    if method not in ("score", "model"):
        raise ValidationError(f"analyse_lines: method={method!r}; use 'score' or 'model'")
    total = 7
    report(progress, 0, total, "aggregating records")
    con = prepare(contacts)
    try:
        feats = features_sql(con)
        report(progress, 1, total, "scoring handsets")
        if method == "model":
            if model is None:
                from geointel.settings import PROJECT_ROOT

                model = DealLineModel.from_json(PROJECT_ROOT / "models" /
                                                "deal_line_classifier.json")
            scored = deal_line_score(feats)
            scored["probability"] = model.probability(feats)
            scored["is_deal_line"] = scored["probability"] >= (threshold or model.threshold)
        else:
            scored = deal_line_score(feats, **({"threshold": threshold} if threshold else {}))
        deal = sorted(scored.loc[scored["is_deal_line"], "handset"])
        report(progress, 2, total, f"{len(deal)} deal-line handsets; linking rebrands")
        links = link_rebrands(con, feats, deal)
        chains = chain_lines(deal, links, feats)
        carried = None
        if previous is not None:
            chains, carried = carry_forward(chains, previous)
        holders = attribute_holders(con, deal)
        customers = customers_sql(con, deal)
        runners = runners_sql(con, deal)
        report(progress, 3, total, "holders and runners")
        line_of = dict(zip(chains["handset"], chains["line_id"], strict=True))
        holder_of_line: dict[str, str] = {}
        for line_id, part in holders.assign(line_id=holders["handset"].map(line_of)).groupby(
                "line_id"):
            votes = part.groupby("holder")["same_cell_hours"].sum().sort_values(
                ascending=False, kind="stable")
            holder_of_line[str(line_id)] = str(votes.index[0])
        exclude = set(deal) | set(runners["c"]) | set(customers["c"])
        controllers = controller_graph(con, sorted(set(holder_of_line.values())),
                                       exclude=sorted(exclude))
        line_holder = {lid: holder_of_line.get(lid, "") for lid in sorted(set(line_of.values()))}
        line_group = group_lines(controllers, {k: v for k, v in line_holder.items() if v},
                                 seed=seed)
        for lid in line_holder:
            line_group.setdefault(lid, "")
        _renumber_orphans(line_group)
        associates = set(controllers.nodes) - set(holder_of_line.values())
        handsets = _roles(chains, holder_of_line, runners, customers, associates, line_group)
        groups = group_table(line_group, holder_of_line, runners, chains)
        report(progress, 4, total, "footprints")
        points = footprint_points(con, chains, customers, runners, holder_of_line)
        areas = polygons = None
        if lsoas is not None:
            areas = footprint_areas(points, lsoas)
            polygons = _footprint_polygons(areas, lsoas)
        links_geo = line_links(points, areas, sorted(line_holder))
        activity, who = weekly_activity(con, chains, customers)
        report(progress, 5, total, "operational network and disruption")
        G = _operational_graph(con, handsets, holders)
    finally:
        con.close()
    report(progress, 6, total, "line table")
    evidence = network_evidence(activity, runners, chains, links_geo)
    lines = _line_table(chains, feats, holder_of_line, line_group, customers, evidence,
                        links_geo, intel)
    k = disruption_k or max(1, math.ceil(0.05 * G.number_of_nodes()))
    disruption = simulate_disruption(G, lines, k=k, seed=seed)
    report(progress, total, total, "done")
    log.info("found %d deal-line handsets in %d lines and %d groups", len(deal), len(lines),
             len(groups))
    return LinesResult(features=scored, handsets=handsets, lines=lines, links=links,
                       holders=holders, groups=groups, footprints=areas,
                       footprint_polygons=polygons, line_links=links_geo,
                       disruption=disruption, graph=G, activity=activity,
                       line_customers=who, carried=carried)


def simulate_disruption(graph: nx.Graph, lines: pd.DataFrame, *, k: int, seed: int,
                        strategies: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Compare removal strategies on the operational network of :func:`analyse_lines`.

    Parameters
    ----------
    graph, lines
        ``LinesResult.graph`` and ``LinesResult.lines``: deal-line handsets and customers
        come from the nodes' ``role``, each holder's handsets and customers from the lines.
    k
        Handsets each strategy removes.
    strategies
        Keep only these (``holder``, ``betweenness``, ``key_player``); all by default.
    seed
        Seed of any sampling.

    Returns
    -------
    DataFrame
        One row per strategy (see :func:`geointel.network.disruption.compare_strategies`).
    """
    if not graph.number_of_nodes() or lines.empty:
        return pd.DataFrame()
    roles = nx.get_node_attributes(graph, "role")
    held: dict[str, set[str]] = {}
    size: dict[str, int] = {}
    for row in lines.to_dict("records"):
        if row["holder"]:
            holder = str(row["holder"])
            held.setdefault(holder, set()).update(str(row["handsets"]).split(";"))
            size[holder] = size.get(holder, 0) + int(row["customers_total"])
    table = compare_strategies(graph, k=k,
                               supply=sorted(n for n, r in roles.items() if r == "deal_line"),
                               customers={n for n, r in roles.items() if r == "customer"},
                               held=held, line_size=size, seed=seed)
    if strategies is not None:
        table = table[table["strategy"].isin(strategies)].reset_index(drop=True)
    return table


def _renumber_orphans(line_group: dict[str, str]) -> None:
    used = [int(g.split("-")[1]) for g in line_group.values() if g]
    nxt = max(used, default=0) + 1
    for lid in sorted(line_group):
        if not line_group[lid]:
            line_group[lid] = f"GRP-{nxt}"
            nxt += 1


def _footprint_polygons(areas: pd.DataFrame, lsoas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    from geointel.network.footprint import OUTSIDE, _columns

    code, _ = _columns(lsoas, None, None)
    polys = lsoas.to_crs("EPSG:27700")[[code, lsoas.geometry.name]].rename(
        columns={code: "lsoa"})
    inside = areas[areas["lsoa"] != OUTSIDE]
    return gpd.GeoDataFrame(inside.merge(polys, on="lsoa", how="inner"),
                            geometry=polys.geometry.name, crs="EPSG:27700")


def _line_table(chains: pd.DataFrame, feats: pd.DataFrame, holder_of_line: dict[str, str],
                line_group: dict[str, str], customers: pd.DataFrame, evidence: pd.DataFrame,
                links_geo: gpd.GeoDataFrame, intel: pd.DataFrame | None) -> pd.DataFrame:
    f = feats.set_index("handset")
    line_of = dict(zip(chains["handset"], chains["line_id"], strict=True))
    geo = links_geo.set_index("line_id")
    rows = []
    for key, part in chains.groupby("line_id", sort=True):
        line_id = str(key)
        hs = part.sort_values("position")["handset"].tolist()
        mine = customers[customers["h"].isin(hs)]
        rows.append({
            "line_id": line_id, "group_id": line_group.get(line_id, ""),
            "handsets": ";".join(hs), "n_handsets": len(hs),
            "first_seen": pd.Timestamp(int(f.loc[hs, "first_t"].min()), unit="s").isoformat(),
            "last_seen": pd.Timestamp(int(f.loc[hs, "last_t"].max()), unit="s").isoformat(),
            "holder": holder_of_line.get(line_id, ""),
            "customers_total": int(mine["c"].nunique()),
            "exporter_la": str(geo.loc[line_id, "exporter_la"]) if line_id in geo.index else "",
            "importer_la": str(geo.loc[line_id, "importer_la"]) if line_id in geo.index else "",
        })
    lines = pd.DataFrame(rows)
    if lines.empty:
        return lines
    lines = lines.merge(evidence, on="line_id", how="left")
    if intel is not None and len(intel):
        tagged = intel.assign(line_id=intel["subject"].map(line_of)).dropna(subset=["line_id"])
        sums = tagged.groupby("line_id")[list(INTEL_SUMS)].sum()
        sums["intel_records"] = tagged.groupby("line_id").size()
        lines = lines.merge(sums, left_on="line_id", right_index=True, how="left")
        cols = [*INTEL_SUMS, "intel_records"]
        lines[cols] = lines[cols].fillna(0).astype("int64")
    return lines
