"""Check detected lines, rebrands, holders and groups against a simulation's ground truth.

Groups are scored on pairs of detected lines: pairwise precision (of the pairs put in one
group, the share truly in one group) and recall (of the pairs truly in one group, the share
put together), and the adjusted Rand index. Putting every line in its own group gives
recall 0 (and ARI 0); putting all in one group gives low precision.

Examples
--------
>>> precision_recall({"a", "b"}, {"b", "c"})
(0.5, 0.5)
>>> group_pairs({"x": "g1", "y": "g1", "z": "g2"}, {"x": "T1", "y": "T1", "z": "T2"})
(1.0, 1.0)
>>> group_pairs({"x": "g1", "y": "g2", "z": "g3"}, {"x": "T1", "y": "T1", "z": "T2"})
(1.0, 0.0)
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pandas as pd

from geointel.network.pipeline import LinesResult
from geointel.privacy import pseudonymise


def precision_recall(found: set[Any], truth: set[Any]) -> tuple[float, float]:
    """Precision and recall of ``found`` against ``truth`` (1.0 when both are empty)."""
    hit = len(found & truth)
    precision = hit / len(found) if found else float(not truth)
    recall = hit / len(truth) if truth else 1.0
    return precision, recall


def group_pairs(found: Mapping[Any, Any], truth: Mapping[Any, Any]) -> tuple[float, float]:
    """Pairwise precision and recall of a grouping (items in both mappings; 1.0 if no pair)."""
    items = sorted(set(found) & set(truth), key=str)
    same_found = same_truth = both = 0
    for a, b in itertools.combinations(items, 2):
        f, t = found[a] == found[b], truth[a] == truth[b]
        same_found += f
        same_truth += t
        both += f and t
    return (both / same_found if same_found else 1.0,
            both / same_truth if same_truth else 1.0)


def adjusted_rand(found: Mapping[Any, Any], truth: Mapping[Any, Any]) -> float:
    """Adjusted Rand index of two groupings of the same items (1 = identical).

    >>> adjusted_rand({"a": 1, "b": 1, "c": 2, "d": 2}, {"a": "x", "b": "x", "c": "y", "d": "y"})
    1.0
    """
    from sklearn.metrics import adjusted_rand_score

    items = sorted(set(found) & set(truth), key=str)
    if len(items) < 2:
        return 1.0
    return float(adjusted_rand_score([str(truth[i]) for i in items],
                                     [str(found[i]) for i in items]))


def evaluate_against_truth(result: LinesResult, truth_handsets: pd.DataFrame,
                           truth_lines: pd.DataFrame, *, key: bytes) -> dict[str, float]:
    """Deal-line precision/recall, rebrand-link precision/recall and accuracy, holder
    accuracy, and the grouping of lines (pairwise precision/recall, adjusted Rand index).

    ``truth_*`` are a simulation's raw-number truth tables; they are pseudonymised with
    ``key`` (the key the records were read with) before comparison. Each detected line is
    matched to the truth line most of its handsets belong to.
    """
    th = truth_handsets.assign(handset=pseudonymise(truth_handsets["handset"], key))
    truth_deal = set(th.loc[th["role"] == "deal_line", "handset"])
    found_deal = set(result.handsets.loc[result.handsets["role"] == "deal_line", "handset"])
    p, r = precision_recall(found_deal, truth_deal)
    true_links, holder_truth, line_truth = set(), {}, {}
    for row in truth_lines.itertuples(index=False):
        chain = pseudonymise(str(row.handsets).split(";"), key)
        holder = pseudonymise([str(row.holder)], key)[0]
        true_links |= set(itertools.pairwise(chain))
        for h in chain:
            holder_truth[h] = holder
            line_truth[h] = str(row.group_id)
    found_links = set(zip(result.links["old"], result.links["new"], strict=True))
    lp, lr = precision_recall(found_links, true_links)
    found_holder = {str(h): str(v) for h, v in zip(result.holders["handset"],
                                                      result.holders["holder"], strict=True)}
    holder_acc = (sum(found_holder.get(h) == v for h, v in holder_truth.items())
                  / len(holder_truth)) if holder_truth else 1.0
    found_group: dict[str, str] = {}
    true_group: dict[str, str] = {}
    for line, handsets, group in zip(result.lines["line_id"], result.lines["handsets"],
                                     result.lines["group_id"], strict=True):
        votes = Counter(line_truth[h] for h in str(handsets).split(";") if h in line_truth)
        if votes:
            found_group[str(line)] = str(group)
            true_group[str(line)] = votes.most_common(1)[0][0]
    gp, gr = group_pairs(found_group, true_group)
    return {"deal_line_precision": p, "deal_line_recall": r,
            "rebrand_link_precision": lp, "rebrand_link_recall": lr,
            "rebrand_link_accuracy": len(found_links & true_links)
            / max(len(found_links | true_links), 1),
            "holder_accuracy": holder_acc, "group_precision": gp, "group_recall": gr,
            "group_adjusted_rand": adjusted_rand(found_group, true_group)}
