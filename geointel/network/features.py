"""Per-handset features, the transparent deal-line score and an optional classifier.

Features (one row per handset, computed in DuckDB from :func:`geointel.network.graph.prepare`):

``n_contacts``
    distinct counterparts;
``n_customers`` / ``one_way_share``
    counterparts that contact the handset at least twice and at least three times as often
    as the handset contacts them outside flares (one-way customers), and their share;
``flares`` / ``flares_per_30d``
    bulk SMS bursts (>= 10 messages within 10 minutes) sent by the handset;
``hours_active``
    distinct hours of the day with any contact (0-24);
``churn``
    share of counterparts seen in only one half of the handset's active span;
``in_share``
    inbound records / all records;
``mean_in_call_s``
    mean duration of inbound calls;
``mobile``
    1 if the handset was ever seen on a cell (a mobile), else 0.

The transparent score adds capped contributions (weights in :data:`SCORE_WEIGHTS`): one-way
customers (0.30, full at a share of 0.5), flares (0.30, full at 2 per 30 days), customer
count (0.15, full at 15), hours of activity (0.10, full at 16), inbound share (0.05) and being
a mobile (0.10). A handset scoring at least :data:`DEAL_LINE_THRESHOLD` is a deal line. A busy
business landline (many one-way callers, no flares) scores about 0.6; a bulk-SMS sender
(flares but no customers) about 0.3; a deal line about 0.9-1.0.

Examples
--------
>>> f = pd.DataFrame({"one_way_share": [0.9, 0.95], "flares_per_30d": [4.0, 0.0],
...                   "n_customers": [30, 50], "hours_active": [20, 13],
...                   "in_share": [0.5, 0.95], "mobile": [1, 0]})
>>> s = deal_line_score(f)
>>> s["score"].round(3).tolist(), s["is_deal_line"].tolist()
([0.975, 0.579], [True, False])
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geointel.errors import DataFileError, ValidationError
from geointel.network._duck import fetch

log = logging.getLogger(__name__)

DEAL_LINE_THRESHOLD = 0.7
#: feature -> (weight, value at which the contribution is full)
SCORE_WEIGHTS: dict[str, tuple[float, float]] = {
    "one_way_share": (0.30, 0.5),
    "flares_per_30d": (0.30, 2.0),
    "n_customers": (0.15, 15.0),
    "hours_active": (0.10, 16.0),
    "in_share": (0.05, 1.0),
    "mobile": (0.10, 1.0),
}
MODEL_FEATURES = ("one_way_share", "flares_per_30d", "log_customers", "hours_active",
                  "in_share", "churn", "mobile", "log_contacts")
FEATURE_COLUMNS = ["handset", "n_contacts", "n_customers", "one_way_share", "flares",
                   "flares_per_30d", "hours_active", "churn", "n_in", "n_out", "in_share",
                   "mean_in_call_s", "mobile", "first_t", "last_t", "last_out_t"]


def features_sql(con: Any) -> pd.DataFrame:
    """Per-handset features from a connection made by :func:`~geointel.network.graph.prepare`."""
    return fetch(con, """
        WITH span AS (
          SELECT h, min(first_t) AS first_t, max(last_t) AS last_t FROM pairs GROUP BY h),
        per_pair AS (
          SELECT p.h, p.c, p.n_in, p.n_out,
                 CASE WHEN p.n_in >= 2 AND p.n_in >= 3 * (p.n_out - p.n_out_flare)
                      THEN 1 ELSE 0 END AS customer,
                 CASE WHEN p.last_t < (s.first_t + s.last_t) / 2.0
                        OR p.first_t >= (s.first_t + s.last_t) / 2.0 THEN 1 ELSE 0 END AS churned
          FROM pairs p JOIN span s ON s.h = p.h),
        agg AS (
          SELECT h, count(*) AS n_contacts, CAST(sum(customer) AS BIGINT) AS n_customers,
                 CAST(sum(churned) AS BIGINT) AS n_churned, CAST(sum(n_in) AS BIGINT) AS n_in,
                 CAST(sum(n_out) AS BIGINT) AS n_out
          FROM per_pair GROUP BY h),
        hrs AS (
          SELECT h, count(DISTINCT hod) AS hours_active FROM (
            SELECT a AS h, CAST(floor(mod(t, 86400) / 3600.0) AS INTEGER) AS hod FROM rec
            UNION ALL
            SELECT b, CAST(floor(mod(t, 86400) / 3600.0) AS INTEGER) FROM rec)
          GROUP BY h),
        calls AS (
          SELECT b AS h, avg(dur) AS mean_in_call_s FROM rec WHERE NOT sms GROUP BY b),
        outb AS (
          SELECT a AS h, max(t) AS last_out_t,
                 max(CASE WHEN cell IS NOT NULL OR lat IS NOT NULL THEN 1 ELSE 0 END) AS mobile
          FROM rec GROUP BY a),
        fl AS (SELECT a AS h, count(*) AS flares FROM flares GROUP BY a)
        SELECT agg.h AS handset, agg.n_contacts, agg.n_customers,
               agg.n_customers * 1.0 / agg.n_contacts AS one_way_share,
               coalesce(fl.flares, 0) AS flares,
               coalesce(fl.flares, 0) * 30.0
                 / greatest((span.last_t - span.first_t) / 86400.0, 30.0) AS flares_per_30d,
               hrs.hours_active, agg.n_churned * 1.0 / agg.n_contacts AS churn,
               agg.n_in, agg.n_out, agg.n_in * 1.0 / (agg.n_in + agg.n_out) AS in_share,
               coalesce(calls.mean_in_call_s, 0.0) AS mean_in_call_s,
               coalesce(outb.mobile, 0) AS mobile,
               span.first_t, span.last_t, coalesce(outb.last_out_t, span.first_t) AS last_out_t
        FROM agg JOIN span ON span.h = agg.h JOIN hrs ON hrs.h = agg.h
        LEFT JOIN calls ON calls.h = agg.h LEFT JOIN outb ON outb.h = agg.h
        LEFT JOIN fl ON fl.h = agg.h
        ORDER BY handset
    """)[FEATURE_COLUMNS]


def handset_features(contacts: pd.DataFrame) -> pd.DataFrame:
    """Per-handset features of pseudonymised contact records (see the module docstring).

    Examples
    --------
    >>> recs = pd.DataFrame({"timestamp": pd.to_datetime(["2018-10-01 10:00"] * 3),
    ...     "a_party": ["Pc1", "Pc1", "Pc2"], "b_party": ["Pline"] * 3,
    ...     "kind": ["call", "sms", "sms"], "duration_s": [20.0, 0.0, 0.0]})
    >>> f = handset_features(recs).set_index("handset")
    >>> int(f.loc["Pline", "n_contacts"]), int(f.loc["Pline", "n_customers"])
    (2, 1)
    """
    from geointel.network.graph import prepare

    con = prepare(contacts)
    try:
        return features_sql(con)
    finally:
        con.close()


def deal_line_score(features: pd.DataFrame, *,
                    threshold: float = DEAL_LINE_THRESHOLD) -> pd.DataFrame:
    """The transparent deal-line score: each capped contribution, their sum and the verdict.

    Returns a new frame with ``c_<feature>`` contributions, ``score`` and ``is_deal_line``.
    """
    missing = [c for c in SCORE_WEIGHTS if c not in features.columns]
    if missing:
        raise ValidationError(f"deal_line_score: features lack {', '.join(missing)}; "
                              "compute them with handset_features(...)")
    out = features.copy()
    total = pd.Series(0.0, index=out.index)
    for name, (weight, full) in SCORE_WEIGHTS.items():
        part = weight * np.minimum(out[name].astype(float) / full, 1.0)
        out[f"c_{name}"] = part
        total = total + part
    out["score"] = total
    out["is_deal_line"] = out["score"] >= threshold
    return out


def model_matrix(features: pd.DataFrame) -> np.ndarray:
    """The classifier's input columns (:data:`MODEL_FEATURES`) as a float matrix."""
    f = features
    cols = {
        "one_way_share": f["one_way_share"], "flares_per_30d": f["flares_per_30d"],
        "log_customers": np.log1p(f["n_customers"].astype(float)),
        "hours_active": f["hours_active"] / 24.0, "in_share": f["in_share"],
        "churn": f["churn"], "mobile": f["mobile"],
        "log_contacts": np.log1p(f["n_contacts"].astype(float)),
    }
    return np.column_stack([np.asarray(cols[c], dtype=float) for c in MODEL_FEATURES])


@dataclass(frozen=True)
class DealLineModel:
    """A logistic regression stored as plain numbers (portable JSON, no pickle).

    ``probability = 1 / (1 + exp(-(intercept + sum(coef * (x - mean) / scale))))``.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    metrics: dict[str, float] = field(default_factory=dict)
    trained_on: str = ""

    def probability(self, features: pd.DataFrame) -> np.ndarray:
        """Probability that each handset is a deal line."""
        x = (model_matrix(features) - np.asarray(self.mean)) / np.asarray(self.scale)
        z = self.intercept + x @ np.asarray(self.coef)
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.probability(features) >= self.threshold

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps({
            "kind": "logistic_regression", "features": list(self.features),
            "mean": list(self.mean), "scale": list(self.scale), "coef": list(self.coef),
            "intercept": self.intercept, "threshold": self.threshold,
            "metrics": self.metrics, "trained_on": self.trained_on}, indent=2) + "\n",
            encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> DealLineModel:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            model = cls(features=tuple(data["features"]), mean=tuple(data["mean"]),
                        scale=tuple(data["scale"]), coef=tuple(data["coef"]),
                        intercept=float(data["intercept"]),
                        threshold=float(data.get("threshold", 0.5)),
                        metrics=dict(data.get("metrics", {})),
                        trained_on=str(data.get("trained_on", "")))
        except FileNotFoundError:
            raise DataFileError(path, "does not exist (expected a deal-line model JSON)",
                                fix="use models/deal_line_classifier.json") from None
        except (ValueError, KeyError, TypeError) as err:
            raise DataFileError(path, f"is not a deal-line model JSON ({err})",
                                fix="re-create it with train_deal_line_classifier") from None
        if model.features != MODEL_FEATURES:
            raise DataFileError(path, f"has features {model.features}, expected "
                                f"{MODEL_FEATURES}", fix="re-train the model")
        return model


def train_deal_line_classifier(features: pd.DataFrame, labels: pd.Series | np.ndarray, *,
                               seed: int, folds: int = 5,
                               trained_on: str = "") -> DealLineModel:
    """Fit a logistic regression on labelled handsets; report cross-validated precision/recall.

    Parameters
    ----------
    features
        From :func:`handset_features`.
    labels
        True for deal-line handsets, aligned with ``features``.
    seed
        Seed of the fold split.
    folds
        Stratified cross-validation folds.
    trained_on
        Description of the training data, kept in the model file.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import precision_score, recall_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(labels, dtype=bool)
    if y.sum() < folds or (~y).sum() < folds:
        raise ValidationError(f"train_deal_line_classifier: need at least {folds} deal lines "
                              f"and {folds} other handsets; got {int(y.sum())} and "
                              f"{int((~y).sum())}")
    x = model_matrix(features)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000,
                                                              class_weight="balanced"))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(pipe, x, y, cv=cv)
    metrics = {"cv_precision": round(float(precision_score(y, predicted)), 4),
               "cv_recall": round(float(recall_score(y, predicted)), 4),
               "folds": folds, "positives": int(y.sum()), "handsets": len(y)}
    pipe.fit(x, y)
    scaler, lr = pipe.steps[0][1], pipe.steps[1][1]
    scale = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
    return DealLineModel(features=MODEL_FEATURES, mean=tuple(map(float, scaler.mean_)),
                         scale=tuple(map(float, scale)), coef=tuple(map(float, lr.coef_[0])),
                         intercept=float(lr.intercept_[0]), metrics=metrics,
                         trained_on=trained_on)
