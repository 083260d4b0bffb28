"""The CLI frame: exit codes 0/1/2, --json on stdout, errors on stderr."""

from __future__ import annotations

import json

from geointel.cli import main


def test_key_new_json_then_refusal(tmp_path, capsys):
    path = tmp_path / "k.key"
    assert main(["key", "new", "--file", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["key_file"] == str(path) and len(out["fingerprint"]) == 12
    assert main(["--json", "key", "new", "--file", str(path)]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["ok"] is False
    assert "already holds a key" in captured.err


def test_usage_errors_exit_2(capsys):
    assert main(["no-such-verb"]) == 2
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "VERB" in capsys.readouterr().out


def test_human_summary_indents_every_level(capsys):
    from geointel.cli import _print_summary

    _print_summary({"police": {"rows_by_file": {"a.csv": {"accepted": 2}}}, "ok": 1})
    assert capsys.readouterr().out.splitlines() == [
        "police:", "  rows_by_file:", "    a.csv:", "      accepted: 2", "ok: 1"]
