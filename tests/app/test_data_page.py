"""AppTest of the Data page: manifest, reject reports, loading a partner file by path."""

from __future__ import annotations

from pathlib import Path

import pytest

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "data.py")
pytestmark = pytest.mark.mirror


def _page(role: str = "planner"):
    at = streamlit_testing.AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["role"] = role
    return at.run()


def test_data_page_lists_the_manifest_and_reader_counts():
    from geointel.io.police_uk import read_police_uk
    from geointel.opendata import read_manifest
    from geointel.settings import load_settings

    cfg = load_settings(env={})
    at = _page()
    assert not at.exception
    files = at.dataframe[0].value
    assert files["file"].tolist() == sorted(read_manifest(cfg.data_dir)["files"])
    report = at.dataframe[1].value.set_index("data")
    police = report.loc["police.uk street crime"]
    assert police["rows read"] == police["accepted"] + police["rejected"]
    direct = read_police_uk(cfg.data_dir / "police_uk")
    assert (police["rows read"], police["rejected"]) == (direct.rows_read,
                                                         direct.rows_rejected)
    assert (report["rows read"] == report["accepted"] + report["rejected"]).all()
    # the months each dataset covers, from its own accepted rows
    months = sorted(direct.data["month"].unique())
    assert police["covers"] == f"{months[0]} to {months[-1]}"
    assert report.loc["IMD 2019", "covers"] == ""
    assert "SYNTHETIC" in at.warning[0].value


def test_a_partner_file_is_loaded_by_path_its_report_shown_and_the_load_audited(app_audit):
    from geointel import audit

    at = _page()
    at.session_state["user"] = "test-planner"
    at.radio[0].set_value("Deaths / incidents register")
    at.text_input[0].input("samples/deaths.csv").run()
    assert not at.exception
    shown = at.dataframe[-1].value
    assert shown["rows read"].item() == shown["accepted"].item() + shown["rejected"].item()
    assert shown["rows read"].item() > 1000
    at.run()  # a rerun of the same file is not a second load
    events = audit.read_events(app_audit)
    assert events[["event", "user", "role"]].values.tolist() == [
        ["data_load", "test-planner", "planner"]]
    detail = events["detail"][0]
    assert detail["file"].endswith("samples/deaths.csv") and detail["kind"] == "deaths"
    assert (detail["rows_read"], detail["accepted"], detail["rejected"]) == (
        shown["rows read"].item(), shown["accepted"].item(), shown["rejected"].item())


def test_a_path_outside_the_data_folder_is_refused():
    at = _page()
    at.text_input[0].input("../pyproject.toml").run()
    assert len(at.error) == 1 and "'..'" in at.error[0].value


def test_data_page_refuses_the_viewer():
    at = _page("viewer")
    assert [e.value for e in at.error] == ["Your role (viewer) may not open this page."]


def test_a_loaded_register_is_used_for_the_session_and_can_be_put_back(app_audit):
    at = _page()
    at.radio[0].set_value("Deaths / incidents register")
    at.text_input[0].input("samples/deaths.csv").run()
    next(b for b in at.button if b.label == "Use this deaths register in this session").click()
    at.run()
    assert at.session_state["deaths_register"].endswith("samples/deaths.csv")
    assert "Back to the sample deaths register" in [b.label for b in at.button]
    next(b for b in at.button if b.label == "Back to the sample deaths register").click()
    at.run()
    assert "deaths_register" not in at.session_state


@pytest.mark.parametrize(("typed", "reason"), [
    ("pseudonym.key", "is the pseudonymisation key, which is never read as a partner file"),
    ("accounts.toml", "is the accounts file, which is never read as a partner file"),
    ("manifest.json", "is not a .csv file"),
    ("samples/contacts.csv", "police-only sample data"),
    ("samples/intel.csv", "police-only sample data"),
    ("samples/truth/lines.csv", "not in a folder of partner files"),
])
@pytest.mark.parametrize("role", ["planner", "analyst"])
def test_the_key_accounts_and_police_files_cannot_be_read_by_path(app_audit, typed, reason,
                                                                  role):
    from geointel import audit
    from geointel.settings import load_settings

    at = _page(role)
    at.text_input[0].input(typed).run()
    assert not at.exception
    assert [reason in e.value for e in at.error] == [True], [e.value for e in at.error]
    key = load_settings(env={}).resolved_key_file()
    if key.is_file():  # nothing of the key reaches the page, not even in an error
        secret = key.read_text(encoding="utf-8").strip()
        shown = [e.value for e in at.error] + [m.value for m in at.markdown]
        assert not any(secret[:12] in text for text in shown)
    assert audit.read_events(app_audit).empty  # nothing was loaded


def test_a_key_file_configured_among_the_uploads_is_refused_by_what_it_is(app_audit,
                                                                         monkeypatch):
    from app_pages import _cached

    # a deployment that keeps its key as uploads/team.csv (odd, but possible)
    monkeypatch.setenv("GEOINTEL_KEY_FILE", str(ROOT / "data" / "uploads" / "team.csv"))
    _cached.settings.clear()
    at = _page()
    at.text_input[0].input("uploads/team.csv").run()
    assert [e.value for e in at.error] == [
        "path 'uploads/team.csv' is the pseudonymisation key, which is never read as a "
        "partner file; give a CSV in uploads/ or samples/ of the data directory"]


def test_an_upload_setting_above_the_server_cap_is_shown_as_the_server_cap(app_audit,
                                                                           monkeypatch):
    import streamlit as st

    from app_pages import _cached

    monkeypatch.setenv("GEOINTEL_UPLOAD_MAX_MB", "1000")
    _cached.settings.clear()
    at = _page()
    server = int(st.get_option("server.maxUploadSize"))
    assert [c.value for c in at.caption if "server.maxUploadSize" in c.value] == [
        f"Uploads are limited to {server} MB by the server (server.maxUploadSize in "
        ".streamlit/config.toml), below the upload_max_mb setting of 1000 MB."]
    monkeypatch.setenv("GEOINTEL_UPLOAD_MAX_MB", str(server))
    _cached.settings.clear()
    assert not [c for c in _page().caption if "server.maxUploadSize" in c.value]
