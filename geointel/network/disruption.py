"""Disruption simulation: remove handsets, measure the damage to the network and to supply.

Strategies compared side by side at the same budget: each removes at most ``k`` handsets
(nodes), and the table reports how many it removed (``nodes_removed``):

``holder``
    the holders of the lines with the most customers, each with the line handsets they carry
    (arresting a holder seizes the line phones too), as many holders as fit in ``k``
    handsets: a holder whose handsets would exceed the budget is skipped for the next;
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


def holder_packages(G: nx.Graph, held: Mapping[Any, Collection[Any]],
                    line_size: Mapping[Any, int], *, k: int) -> set[Any]:
    """Holders (largest lines first) with their line handsets, as many as fit in ``k`` nodes.

    >>> G = nx.path_graph(["a", "L1", "b", "L2", "L3"])
    >>> sorted(holder_packages(G, {"a": ["L1"], "b": ["L2", "L3"]}, {"a": 5, "b": 9}, k=3))
    ['L2', 'L3', 'b']
    """
    removed: set[Any] = set()
    for holder in sorted(held, key=lambda h: (-line_size.get(h, 0), str(h))):
        package = {n for n in (holder, *held[holder]) if n in G} - removed
        if package and len(removed) + len(package) <= k:
            removed |= package
    return removed


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
    """Remove up to ``k`` handsets by each strategy; report the damage side by side.

    Every strategy spends the same budget: a holder counts with the line handsets removed
    with them, so the holder strategy removes whole packages (holder + handsets) while they
    fit in ``k``; betweenness and key player remove exactly ``k`` (or every node).

    Parameters
    ----------
    G
        The operational network (lines, holders, runners, customers, associates).
    k
        Handsets (nodes) each strategy may remove.
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
        ``strategy``, ``removed`` (every node removed, ``;``-list), ``nodes_removed``,
        ``lcc_before``, ``lcc_after``, ``lcc_fraction``, ``customers``,
        ``customers_cut_off``, ``cut_off_share``.

    Examples
    --------
    >>> G = nx.Graph([("h", "L"), ("L", "c1"), ("L", "c2"), ("L", "r"), ("r", "c3")])
    >>> t = compare_strategies(G, k=2, supply=["L"], customers=["c1", "c2", "c3"],
    ...                        held={"h": ["L"]}, line_size={"h": 3}, seed=0)
    >>> t[["strategy", "removed", "nodes_removed", "customers_cut_off"]].values.tolist()
    [['holder', 'L;h', 2, 3], ['betweenness', 'L;r', 2, 3], ['key_player', 'L;c3', 2, 2]]
    """
    if k < 1:
        raise ValidationError(f"compare_strategies: k={k}; give 1 or more")
    sample = 300 if G.number_of_nodes() > 3000 else None
    picks: dict[str, set[Any]] = {
        "holder": holder_packages(G, held, line_size, k=k),
        "betweenness": set(top_betweenness(G, k, seed=seed, sample=sample)),
        "key_player": set(greedy_key_players(G, k, seed=seed)),
    }
    before = lcc_size(G)
    n_customers = sum(1 for c in customers if c in G)
    rows = []
    for name, removed in picks.items():
        after = lcc_after_removal(G, removed)
        cut = customers_cut_off(G, removed, supply=supply, customers=customers)
        rows.append({"strategy": name, "removed": ";".join(sorted(map(str, removed))),
                     "nodes_removed": len(removed),
                     "lcc_before": before, "lcc_after": after,
                     "lcc_fraction": after / before if before else math.nan,
                     "customers": n_customers, "customers_cut_off": cut,
                     "cut_off_share": cut / n_customers if n_customers else math.nan})
    return pd.DataFrame(rows)
