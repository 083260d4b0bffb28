"""Check detected lines, rebrands, holders and groups against a simulation's ground truth.

Examples
--------
>>> precision_recall({"a", "b"}, {"b", "c"})
(0.5, 0.5)
"""

from __future__ import annotations

import itertools
from collections import Counter
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


def evaluate_against_truth(result: LinesResult, truth_handsets: pd.DataFrame,
                           truth_lines: pd.DataFrame, *, key: bytes) -> dict[str, float]:
    """Deal-line precision/recall, rebrand-link precision/recall, holder and group accuracy.

    ``truth_*`` are a simulation's raw-number truth tables; they are pseudonymised with
    ``key`` (the key the records were read with) before comparison.
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
    # Group accuracy: lines whose detected group's majority true group is their own.
    lines = result.handsets[result.handsets["role"] == "deal_line"]
    pairs = [(g, line_truth[h]) for h, g in zip(lines["handset"], lines["group_id"],
                                                strict=True) if h in line_truth]
    majority = {g: Counter(t for gg, t in pairs if gg == g).most_common(1)[0][0]
                for g, _ in pairs}
    group_acc = sum(majority[g] == t for g, t in pairs) / len(pairs) if pairs else 1.0
    return {"deal_line_precision": p, "deal_line_recall": r,
            "rebrand_link_precision": lp, "rebrand_link_recall": lr,
            "rebrand_link_accuracy": len(found_links & true_links)
            / max(len(found_links | true_links), 1),
            "holder_accuracy": holder_acc, "group_accuracy": group_acc}
