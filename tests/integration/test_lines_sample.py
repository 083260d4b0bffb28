"""The lines method on the simulated sample, checked against its ground truth.

Done-when figures (seed 42, 5 months): deal-line precision and recall, rebrand-link precision
and recall, holder accuracy and the grouping of lines (pairwise precision and recall), each at
least 0.9; no raw identifier in any output file, log line or export. The figures for the
closing note are printed by ``benchmarks/lines_accuracy.py``.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re

import pandas as pd
import pytest

from geointel.cli import main
from geointel.io.contacts import read_contacts, read_intel
from geointel.network.evaluate import evaluate_against_truth, precision_recall
from geointel.network.export import write_outputs
from geointel.network.features import DealLineModel
from geointel.network.lines import stable_line_id
from geointel.network.pipeline import analyse_lines
from geointel.network.simulate import simulate_county_lines
from geointel.privacy import key_fingerprint, pseudonymise
from geointel.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow  # about 20-30 s: simulate, read and analyse 5 months

TARGETS = ("deal_line_precision", "deal_line_recall", "rebrand_link_precision",
           "rebrand_link_recall", "holder_accuracy", "group_precision", "group_recall")


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
        paths = write_outputs(result, tmp / "out", key_fingerprint=key_fingerprint(key))
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


def test_disruption_compares_three_strategies_at_the_same_budget(run):
    r = run["result"]
    d = r.disruption.set_index("strategy")
    k = math.ceil(0.05 * r.graph.number_of_nodes())  # the default budget
    assert list(d.index) == ["holder", "betweenness", "key_player"]
    assert (d["lcc_after"] <= d["lcc_before"]).all()
    # every strategy spends at most k handsets; betweenness and key player exactly k
    assert d.loc["betweenness", "nodes_removed"] == d.loc["key_player", "nodes_removed"] == k
    assert d["removed"].str.split(";").map(len).tolist() == d["nodes_removed"].tolist()
    # the holder strategy takes whole packages (holder + the line handsets they carry), the
    # largest lines first, while they fit: recomputed here from the lines table
    packages: dict[str, set[str]] = {}
    size: dict[str, int] = {}
    for row in r.lines.itertuples():
        packages.setdefault(row.holder, {row.holder}).update(row.handsets.split(";"))
        size[row.holder] = size.get(row.holder, 0) + row.customers_total
    chosen: set[str] = set()
    for holder in sorted(packages, key=lambda h: (-size[h], h)):
        if len(chosen | packages[holder]) <= k:
            chosen |= packages[holder]
    assert set(d.loc["holder", "removed"].split(";")) == chosen
    assert 0 < d.loc["holder", "nodes_removed"] <= k
    # key player is chosen to fragment the network: it leaves no larger a component than
    # betweenness at the same budget
    assert d.loc["key_player", "lcc_after"] <= d.loc["betweenness", "lcc_after"]


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


def test_a_later_window_keeps_the_line_ids_with_previous(run):
    # Records from 15 December: three lines are past a rebrand, so their chains start at a
    # later handset and would get new ids; carried forward they keep the earlier ones.
    contacts = run["contacts"].data
    late = contacts[contacts["timestamp"] >= pd.Timestamp("2018-12-15")]
    earlier = run["result"].lines
    fresh = analyse_lines(late, seed=42)
    changed = set(fresh.lines["line_id"]) - set(earlier["line_id"])
    assert len(changed) == 3 and len(fresh.lines) == 6
    kept = analyse_lines(late, seed=42, previous=earlier)
    assert set(kept.lines["line_id"]) == set(earlier["line_id"])
    status = kept.carried.set_index("line_id")["status"]
    assert (status == "carried").all() and len(status) == 6
    assert kept.summary()["line_ids"] == {"carried": 6, "new": 0, "retired": 0}
    # each carried line's handsets are a part of the earlier line's
    for row in kept.lines.itertuples():
        before = set(earlier.set_index("line_id").loc[row.line_id, "handsets"].split(";"))
        assert set(row.handsets.split(";")) <= before
    assert set(kept.activity["line_id"]) <= set(earlier["line_id"])
    # a rebranded line missing from the earlier table gets the id of its first handset in
    # the window (new); an earlier line with no chain now is reported retired
    rebranded = next(row for row in kept.lines.itertuples()
                     if stable_line_id(row.handsets.split(";")[0]) != row.line_id)
    previous = pd.concat([earlier[earlier["line_id"] != rebranded.line_id],
                          pd.DataFrame({"line_id": ["LINE-ffffffff"],
                                        "handsets": ["P" + "f" * 16]})])
    partial = analyse_lines(late, seed=42, previous=previous)
    report = partial.carried.set_index("line_id")
    new_id = stable_line_id(rebranded.handsets.split(";")[0])
    assert new_id in changed and report.loc[new_id, "status"] == "new"
    assert report.loc["LINE-ffffffff", "status"] == "retired"
    assert partial.summary()["line_ids"] == {"carried": 5, "new": 1, "retired": 1}


def test_cli_missing_key_is_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GEOINTEL_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("GEOINTEL_KEY_FILE", str(tmp_path / "absent.key"))
    (tmp_path / "c.csv").write_text("x\n1\n", encoding="utf-8")
    assert main(["lines", "--contacts", str(tmp_path / "c.csv")]) == 1
    assert "pseudonymisation key" in capsys.readouterr().err


def test_the_downloaded_lines_table_is_checked_like_the_written_one(run, tmp_path):
    """The app's lines.csv download (marking line first) reads back under its key and is
    refused under another, as the file ``geointel lines`` writes."""
    from geointel.errors import PrivacyError
    from geointel.network.export import download
    from geointel.scoring import read_lines

    data = download(run["result"], "lines", role="analyst",
                    key_fingerprint=key_fingerprint(run["key"]))
    path = tmp_path / "lines.csv"
    path.write_bytes(data)
    lines = read_lines(path, key=run["key"])
    assert lines.data["line_id"].tolist() == run["result"].lines["line_id"].tolist()
    with pytest.raises(PrivacyError, match=key_fingerprint(run["key"])):
        read_lines(path, key=bytes(range(1, 33)))
