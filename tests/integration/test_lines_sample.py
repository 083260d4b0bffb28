"""The lines method on the simulated sample, checked against its ground truth.

Done-when figures (seed 42, 5 months): deal-line precision and recall, rebrand-link precision
and recall, holder and group accuracy, each at least 0.9; no raw identifier in any output
file, log line or export.
"""

from __future__ import annotations

import io
import json
import logging
import re

import pandas as pd
import pytest

from geointel.cli import main
from geointel.io.contacts import read_contacts, read_intel
from geointel.network.evaluate import evaluate_against_truth, precision_recall
from geointel.network.export import write_outputs
from geointel.network.features import DealLineModel
from geointel.network.pipeline import analyse_lines
from geointel.network.simulate import simulate_county_lines
from geointel.privacy import pseudonymise
from geointel.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow  # about 20-30 s: simulate, read and analyse 5 months

TARGETS = ("deal_line_precision", "deal_line_recall", "rebrand_link_precision",
           "rebrand_link_recall", "holder_accuracy", "group_accuracy")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    key = bytes(range(32))
    tmp = tmp_path_factory.mktemp("lines")
    sim = simulate_county_lines(seed=42)
    sim.contacts.to_csv(tmp / "contacts.csv", index=False)
    sim.intel.to_csv(tmp / "intel.csv", index=False)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger("geointel")
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        contacts = read_contacts(tmp / "contacts.csv", key=key)
        intel = read_intel(tmp / "intel.csv", key=key)
        result = analyse_lines(contacts.data, intel=intel.data, seed=42)
        paths = write_outputs(result, tmp / "out")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    return {"sim": sim, "key": key, "contacts": contacts, "result": result, "paths": paths,
            "log": stream.getvalue(), "tmp": tmp}


def test_every_record_is_accounted_for(run):
    c = run["contacts"]
    assert c.rows_read == len(run["sim"].contacts) == c.rows_accepted + c.rows_rejected
    assert c.rows_rejected == 0


def test_detection_meets_the_targets(run):
    scores = evaluate_against_truth(run["result"], run["sim"].truth_handsets,
                                    run["sim"].truth_lines, key=run["key"])
    for name in TARGETS:
        assert scores[name] >= 0.9, (name, scores)
    r = run["result"]
    assert (len(r.lines), len(r.links), len(r.groups)) == (6, 5, 3)


def test_the_classifier_meets_the_targets_too(run):
    model = DealLineModel.from_json(PROJECT_ROOT / "models" / "deal_line_classifier.json")
    f = run["result"].features
    found = set(f.loc[model.predict(f), "handset"])
    th = run["sim"].truth_handsets
    truth = set(pseudonymise(th.loc[th["role"] == "deal_line", "handset"], run["key"]))
    precision, recall = precision_recall(found, truth)
    assert precision >= 0.9 and recall >= 0.9


def test_intel_is_summed_per_line(run):
    sim, key = run["sim"], run["key"]
    truth_line = {p: row.line_id for row in sim.truth_lines.itertuples()
                  for p in pseudonymise(row.handsets.split(";"), key)}
    lines = run["result"].lines
    lines = lines.assign(truth=[truth_line[hs.split(";")[0]] for hs in lines["handsets"]])
    intel = sim.intel.assign(line=[truth_line[p] for p in pseudonymise(sim.intel["subject"],
                                                                         key)])
    expected = intel.groupby("line")[["weapons", "exploited_children"]].sum()
    got = lines.set_index("truth")[["weapons", "exploited_children"]]
    assert got.sort_index().equals(expected.sort_index().astype("int64"))
    assert lines.set_index("truth").loc["L2", "exploited_children"] == 3


def test_disruption_compares_three_strategies(run):
    d = run["result"].disruption.set_index("strategy")
    assert list(d.index) == ["holder", "betweenness", "key_player"]
    assert (d["lcc_after"] <= d["lcc_before"]).all()
    assert d.loc["holder", "customers_cut_off"] >= d.loc["betweenness", "customers_cut_off"]


def _raw_forms(sim):
    numbers = set(sim.truth_handsets["handset"])
    imeis = set(sim.contacts.loc[sim.contacts["imei"] != "", "imei"])
    forms = set()
    for n in numbers:
        forms |= {n, n[1:], f"{n[:5]} {n[5:]}"}
    return forms | imeis


def test_no_raw_identifier_in_outputs_or_logs(run):
    forms = _raw_forms(run["sim"])
    pattern = re.compile("|".join(sorted(map(re.escape, forms), key=len, reverse=True)))
    outputs = list((run["tmp"] / "out").iterdir())
    assert {p.name for p in outputs} >= {"lines.csv", "network.graphml", "network.gexf",
                                         "i2_entities.csv", "i2_links.csv", "MARKING.txt"}
    for path in outputs:
        text = path.read_bytes().decode("latin-1")
        assert not pattern.search(text), path.name
    assert run["log"] and not pattern.search(run["log"])
    for frame in (run["result"].handsets, run["result"].lines, run["result"].features):
        assert not pattern.search(frame.to_csv())


def test_cli_lines_json(run, tmp_path, monkeypatch, capsys):
    sim = simulate_county_lines(seed=3, months=1)
    sim.contacts.to_csv(tmp_path / "c.csv", index=False)
    monkeypatch.setenv("GEOINTEL_PSEUDONYM_KEY", run["key"].hex())
    code = main(["lines", "--contacts", str(tmp_path / "c.csv"), "--out",
                 str(tmp_path / "out"), "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 0 and summary["ok"] and summary["lines"] >= 4
    assert summary["contacts"]["rows_read"] == len(sim.contacts)
    forms = _raw_forms(sim)
    assert not any(f in captured.out or f in captured.err for f in forms)
    assert pd.read_csv(tmp_path / "out" / "lines.csv")["line_id"].str.match("LINE-").all()


def test_cli_missing_key_is_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GEOINTEL_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("GEOINTEL_KEY_FILE", str(tmp_path / "absent.key"))
    (tmp_path / "c.csv").write_text("x\n1\n", encoding="utf-8")
    assert main(["lines", "--contacts", str(tmp_path / "c.csv")]) == 1
    assert "pseudonymisation key" in capsys.readouterr().err
