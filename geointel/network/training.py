"""Train the default deal-line classifier on simulated samples (how models/ was made).

``python -m geointel.network.training`` rewrites ``models/deal_line_classifier.json``; the
model card ``models/deal_line_classifier.md`` records the figures it printed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from geointel.network.features import DealLineModel, handset_features, train_deal_line_classifier
from geointel.network.simulate import simulate_county_lines

log = logging.getLogger(__name__)
DEFAULT_SEEDS = (101, 102, 103, 104, 105)


def labelled_features(seeds: Sequence[int], *, months: int = 5) -> pd.DataFrame:
    """Features of every handset in simulations with these seeds, with ``label`` (deal line).

    Simulations use pseudonym identifiers, so no key is involved.
    """
    parts = []
    for seed in seeds:
        sim = simulate_county_lines(seed=seed, months=months, identifiers="pseudonym")
        recs = sim.contacts.assign(timestamp=pd.to_datetime(sim.contacts["timestamp"]))
        feats = handset_features(recs)
        deal = set(sim.truth_handsets.loc[sim.truth_handsets["role"] == "deal_line", "handset"])
        parts.append(feats.assign(label=feats["handset"].isin(deal), seed=seed))
    return pd.concat(parts, ignore_index=True)


def train_default_model(seeds: Sequence[int] = DEFAULT_SEEDS, *, seed: int = 42) -> DealLineModel:
    """The default classifier: logistic regression on :func:`labelled_features`."""
    data = labelled_features(seeds)
    return train_deal_line_classifier(
        data, data["label"], seed=seed,
        trained_on=f"simulate_county_lines seeds {list(seeds)}, months=5, scale=1")


if __name__ == "__main__":  # pragma: no cover - run by hand to rebuild models/
    from geointel.settings import PROJECT_ROOT

    model = train_default_model()
    path = model.to_json(PROJECT_ROOT / "models" / "deal_line_classifier.json")
    print(path, model.metrics)
