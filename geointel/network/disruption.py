"""Disruption simulation: remove handsets, measure the damage to the network and to supply.

Strategies compared side by side at the same budget ``k``:

``holder``
    the holders of the lines with the most customers (their line handsets go with them);
``betweenness``
    the ``k`` nodes of highest betweenness centrality (computed once, on the intact graph);
``key_player``
    a greedy key-player set: repeatedly remove the node whose removal shrinks the largest
    connected component most (candidates: the 30 highest-betweenness nodes left).

Damage is the share of the largest connected component (LCC) that survives and the
customers cut off: those left with no path to any remaining deal-line handset.

Examples
--------
>>> G = nx.path_graph(5)
>>> lcc_after_removal(G, [2])
2
>>> top_betweenness(G, 1)
[2]
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from geointel.errors import DataFileError, ValidationError


def read_weighted_edgelist(path: str | Path) -> nx.Graph:
    """An undirected graph from a whitespace-separated ``u v weight`` file (self-loops dropped).

    Repeated pairs add their weights. Used for published networks such as Montagna.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "does not exist (expected a 'u v weight' edge list)",
                            fix="check the path")
    G = nx.Graph()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise DataFileError(path, f"line {number} has {len(parts)} fields, expected "
                                "'u v' or 'u v weight'", fix="check the separator")
        u, v = parts[0], parts[1]
        try:
            w = float(parts[2]) if len(parts) == 3 else 1.0
        except ValueError:
            raise DataFileError(path, f"line {number}: weight {parts[2]!r} is not a number",
                                fix="check the file") from None
        G.add_node(u)
        G.add_node(v)
        if u != v:
            G.add_edge(u, v, weight=G.get_edge_data(u, v, {"weight": 0.0})["weight"] + w)
    return G


def lcc_size(G: nx.Graph) -> int:
    """Number of nodes in the largest connected component (0 for an empty graph)."""
    return max((len(c) for c in nx.connected_components(G)), default=0)


def lcc_after_removal(G: nx.Graph, removed: Iterable[object]) -> int:
    """LCC size after removing ``removed`` (``G`` is not modified)."""
    gone = set(removed)
    return lcc_size(G.subgraph([n for n in G if n not in gone]))


def top_betweenness(G: nx.Graph, k: int, *, weight: str | None = None,
                    seed: int | None = None, sample: int | None = None) -> list[object]:
    """The ``k`` nodes of highest betweenness (ties broken by node name).

    ``sample`` estimates betweenness from that many pivot nodes (seeded) for large graphs.
    """
    if k < 0:
        raise ValidationError(f"top_betweenness: k={k}; give 0 or more")
    pivots = sample if sample is not None and sample < G.number_of_nodes() else None
    b = nx.betweenness_centrality(G, k=pivots, weight=weight, seed=seed)
    return sorted(b, key=lambda n: (-b[n], str(n)))[:k]


def greedy_key_players(G: nx.Graph, k: int, *, candidates: int = 30,
                       seed: int | None = None) -> list[object]:
    """Greedy fragmentation set: each step removes the node that most shrinks the LCC."""
    chosen: list[object] = []
    H = G.copy()
    for _ in range(min(k, G.number_of_nodes())):
        pool = top_betweenness(H, candidates, seed=seed,
                               sample=200 if H.number_of_nodes() > 2000 else None)
        best = min(pool, key=lambda n: (lcc_after_removal(H, [n]), str(n)))
        chosen.append(best)
        H.remove_node(best)
    return chosen


def customers_cut_off(G: nx.Graph, removed: Collection[object], *,
                      supply: Collection[object], customers: Collection[object]) -> int:
    """Customers with no path to a remaining supply node once ``removed`` are gone."""
    gone = set(removed)
    H = G.subgraph([n for n in G if n not in gone])
    reached: set[object] = set()
    for s in supply:
        if s in H and s not in reached:
            reached |= nx.node_connected_component(H, s)
    return sum(1 for c in customers if c in G and c not in gone and c not in reached)


def compare_strategies(
    G: nx.Graph,
    *,
    k: int,
    supply: Collection[Any],
    customers: Collection[Any],
    held: Mapping[Any, Collection[Any]],
    line_size: Mapping[Any, int],
    seed: int,
) -> pd.DataFrame:
    """Remove ``k`` handsets by each strategy; report the damage side by side.

    Parameters
    ----------
    G
        The operational network (lines, holders, runners, customers, associates).
    k
        Handsets each strategy may remove.
    supply
        Deal-line handsets.
    customers
        Customer handsets.
    held
        Holder -> the deal-line handsets they carry (removed with them).
    line_size
        Holder -> customers served, to pick the holders to remove first.
    seed
        Seed of any sampling.

    Returns
    -------
    DataFrame
        ``strategy``, ``removed`` (``;``-list), ``lcc_before``, ``lcc_after``,
        ``lcc_fraction``, ``customers``, ``customers_cut_off``, ``cut_off_share``.
    """
    if k < 1:
        raise ValidationError(f"compare_strategies: k={k}; give 1 or more")
    sample = 300 if G.number_of_nodes() > 3000 else None
    picks = {
        "holder": sorted(held, key=lambda h: (-line_size.get(h, 0), str(h)))[:k],
        "betweenness": top_betweenness(G, k, seed=seed, sample=sample),
        "key_player": greedy_key_players(G, k, seed=seed),
    }
    before = lcc_size(G)
    n_customers = sum(1 for c in customers if c in G)
    rows = []
    for name, nodes in picks.items():
        removed = set(nodes)
        for n in nodes:
            removed |= set(held.get(n, ()))
        after = lcc_after_removal(G, removed)
        cut = customers_cut_off(G, removed, supply=supply, customers=customers)
        rows.append({"strategy": name, "removed": ";".join(sorted(map(str, nodes))),
                     "lcc_before": before, "lcc_after": after,
                     "lcc_fraction": after / before if before else math.nan,
                     "customers": n_customers, "customers_cut_off": cut,
                     "cut_off_share": cut / n_customers if n_customers else math.nan})
    return pd.DataFrame(rows)
