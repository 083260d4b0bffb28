"""The audit log: append-only, complete details, no credentials, a chain that shows tampering."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from geointel import audit
from geointel.errors import DataFileError, PrivacyError, ValidationError
from geointel.privacy import key_fingerprint


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "logs" / "audit.sqlite"
    audit.record(path, "sign_in", user="ann", role="planner", method="local")
    audit.record(path, "export", user="ann", role="planner", what="harm map",
                 marking="OFFICIAL", file="harm.gpkg")
    audit.record(path, "override", user="bo", role="analyst", line="L3", item="harm",
                 old=2, new=4, reason="two seizures")
    audit.record(path, "data_load", user="bo", role="analyst", file="contacts.csv",
                 rows_read=10, accepted=9, rejected=1)
    audit.record(path, "sign_in_failed", user="eve", role=None)
    return path


def test_events_are_read_back_in_order_with_their_details(log):
    events = audit.read_events(log)
    assert events["id"].tolist() == [1, 2, 3, 4, 5]
    assert events["event"].tolist() == ["sign_in", "export", "override", "data_load",
                                        "sign_in_failed"]
    assert events["user"].tolist() == ["ann", "ann", "bo", "bo", "eve"]
    assert events["role"].tolist()[:4] == ["planner", "planner", "analyst", "analyst"]
    assert events["role"].isna().tolist()[4]
    assert events["detail"][1] == {"what": "harm map", "marking": "OFFICIAL", "file": "harm.gpkg"}
    assert events["detail"][2] == {"line": "L3", "item": "harm", "old": 2, "new": 4,
                                   "reason": "two seizures"}
    assert str(events["when"].dt.tz) == "UTC"
    assert events["when"].is_monotonic_increasing


def test_read_events_filters_by_event(log):
    loads = audit.read_events(log, event="data_load")
    assert loads["user"].tolist() == ["bo"]
    assert loads["detail"][0] == {"file": "contacts.csv", "rows_read": 10, "accepted": 9,
                                  "rejected": 1}
    with pytest.raises(ValidationError, match="'login' is not one of"):
        audit.read_events(log, event="login")


def test_missing_log_reads_as_empty(tmp_path):
    events = audit.read_events(tmp_path / "none.sqlite")
    assert events.columns.tolist() == audit.COLUMNS
    assert len(events) == 0
    assert not (tmp_path / "none.sqlite").exists()
    assert audit.verify_chain(tmp_path / "none.sqlite") == 0


def test_log_file_is_private(log):
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


@pytest.mark.parametrize("sql", [
    "UPDATE events SET user = 'mallory' WHERE id = 2",
    "UPDATE events SET detail = '{}'",
    "DELETE FROM events WHERE id = 1",
    "DELETE FROM events",
])
def test_update_and_delete_are_refused(log, sql):
    con = sqlite3.connect(log)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute(sql)
    con.close()
    assert len(audit.read_events(log)) == 5
    assert audit.verify_chain(log) == 5


def test_chain_shows_a_row_changed_with_the_triggers_dropped(log):
    con = sqlite3.connect(log)
    con.execute("DROP TRIGGER events_no_update")
    con.execute("UPDATE events SET user = 'mallory' WHERE id = 2")
    con.commit()
    con.close()
    with pytest.raises(DataFileError, match="audit row 2 does not follow"):
        audit.verify_chain(log)


def test_chain_shows_a_row_removed_with_the_triggers_dropped(log):
    con = sqlite3.connect(log)
    con.execute("DROP TRIGGER events_no_delete")
    con.execute("DELETE FROM events WHERE id = 3")
    con.commit()
    con.close()
    with pytest.raises(DataFileError, match="audit row 4 does not follow"):
        audit.verify_chain(log)


@pytest.mark.parametrize(("event", "detail", "message"), [
    ("login", {}, "'login' is not one of"),
    ("export", {"what": "pack"}, "needs detail marking"),
    ("override", {"line": "L1", "item": "harm", "old": 1, "new": 2}, "needs detail reason"),
    ("data_load", {"file": "x.csv"}, "needs detail rows_read, accepted, rejected"),
    ("sign_in_failed", {"password": "hunter2hunter2"}, "looks like a credential"),
    ("sign_in", {"oidc_token": "abc"}, "looks like a credential"),
])
def test_bad_events_are_refused_and_nothing_is_written(tmp_path, event, detail, message):
    path = tmp_path / "a.sqlite"
    with pytest.raises(ValidationError, match=message):
        audit.record(path, event, user="ann", role="planner", **detail)
    assert len(audit.read_events(path)) == 0


def test_not_an_audit_file_is_named(tmp_path):
    path = tmp_path / "audit.sqlite"
    path.write_text("this is not sqlite at all, just text " * 50)
    with pytest.raises(DataFileError, match="cannot be used as the audit log"):
        audit.read_events(path)


def test_checked_key_refuses_a_key_other_than_the_recorded_one(tmp_path):
    path, key_file = tmp_path / "a.sqlite", tmp_path / "pseudonym.key"
    original, other = bytes(range(32)), bytes(range(1, 33))
    key_file.write_text(original.hex())
    assert audit.checked_key(path, key_file, env={}) == original  # nothing recorded
    audit.record(path, "data_load", user="bo", role="analyst", file="contacts.csv",
                 rows_read=3, accepted=3, rejected=0,
                 key_fingerprint=key_fingerprint(original))
    audit.record(path, "data_load", user="ann", role="planner", file="services.csv",
                 rows_read=3, accepted=3, rejected=0)  # not pseudonymised: no fingerprint
    assert audit.checked_key(path, key_file, env={}) == original
    env = {"GEOINTEL_PSEUDONYM_KEY": other.hex()}
    with pytest.raises(PrivacyError, match=r"data loaded from contacts\.csv on .* another key"):
        audit.checked_key(path, key_file, env=env)
    key_file.unlink()
    with pytest.raises(PrivacyError, match="no pseudonymisation key"):
        audit.checked_key(path, key_file, env={})


# ------------------------------------------------------------------ the CLI's rows

def test_cli_score_records_overrides_and_the_export(tmp_path, monkeypatch, capsys):
    import getpass

    from geointel.cli import main
    from geointel.scoring import DEFAULT_SCHEME

    log_path = tmp_path / "audit.sqlite"
    monkeypatch.setenv("GEOINTEL_AUDIT_FILE", str(log_path))
    monkeypatch.setenv("GEOINTEL_PSEUDONYM_KEY", bytes(range(32)).hex())
    lines = tmp_path / "lines.csv"
    lines.write_text("line_id,messages,customers,runners,reach_km\nL1,400,40,3,50\n"
                     "L2,30,8,1,2\n", encoding="utf-8")
    intel = tmp_path / "intel.csv"
    intel.write_text("subject,weapons,violence,cuckooed_addresses,exploited_children,"
                     "vulnerable_adults,seizures\nL1,1,1,0,0,0,0\nL2,0,0,0,0,0,0\n",
                     encoding="utf-8")
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("line_id,item,value,by,at,reason\n"
                         "L2,physical,4,DC Smith,2024-05-04T09:00,firearm seized 3 May\n",
                         encoding="utf-8")
    out = tmp_path / "ranked.csv"
    assert main(["score", "--lines", str(lines), "--intel", str(intel), "--scheme",
                 str(DEFAULT_SCHEME), "--overrides", str(overrides), "--out", str(out),
                 "--draws", "5"]) == 0
    capsys.readouterr()
    events = audit.read_events(log_path)
    assert events["event"].tolist() == ["data_load", "override", "export"]
    assert set(events["user"]) == {getpass.getuser()} and set(events["role"]) == {"cli"}
    load, override, export = events["detail"]
    assert (load["kind"], load["file"], load["rows_read"], load["accepted"]) == (
        "intel", str(intel), 2, 2)
    assert load["key_fingerprint"] == key_fingerprint(bytes(range(32)))
    assert (override["line"], override["item"], override["new"], override["reason"],
            override["file"]) == ("L2", "physical", 4, "firearm seized 3 May", str(overrides))
    assert export == {"what": "ranked lines", "marking": "OFFICIAL-SENSITIVE",
                      "file": str(out)}
    assert audit.verify_chain(log_path) == 3


@pytest.mark.mirror
def test_cli_access_records_the_register_load_and_the_export(tmp_path, monkeypatch, capsys):
    from geointel.cli import main
    from geointel.settings import load_settings

    services = load_settings(env={}).samples_dir / "services.csv"
    if not services.is_file():
        pytest.skip("the sample is not built")
    log_path = tmp_path / "audit.sqlite"
    audit.record(log_path, "sign_in", user="ann", role="planner")  # an existing chain
    monkeypatch.setenv("GEOINTEL_AUDIT_FILE", str(log_path))
    assert main(["access", "--area", "E06000033", "--out", str(tmp_path / "acc")]) == 0
    capsys.readouterr()
    events = audit.read_events(log_path)
    # the services register and the deaths register it weights coverage by (the sample's)
    assert events["event"].tolist() == ["sign_in", "data_load", "data_load", "export"]
    load, deaths, export = events["detail"][1], events["detail"][2], events["detail"][3]
    assert load["file"] == str(services) and load["kind"] == "services"
    assert load["rows_read"] == load["accepted"] + load["rejected"]
    assert deaths["file"] == str(services.with_name("deaths.csv")) and deaths["kind"] == "deaths"
    assert export["what"] == "access outputs" and export["marking"] == "OFFICIAL"
    assert sorted(export["files"]) == ["coverage", "coverage_by_time", "gaps", "gpkg",
                                       "summary"]
    assert all(path.startswith(str(tmp_path / "acc")) for path in export["files"].values())
    assert audit.verify_chain(log_path) == 4


def test_read_events_selects_by_user_and_time(tmp_path):
    import datetime as dt

    log_path = tmp_path / "a.sqlite"
    audit.record(log_path, "sign_in_failed", user="ann", role=None)
    audit.record(log_path, "sign_in_failed", user="bo", role=None)
    audit.record(log_path, "sign_in", user="ann", role="planner")
    times = audit.read_events(log_path)["when"]
    assert audit.read_events(log_path, user="ann")["event"].tolist() == [
        "sign_in_failed", "sign_in"]
    assert audit.read_events(log_path, event="sign_in_failed", user="ann")["id"].tolist() == [1]
    since = times.iloc[1].to_pydatetime()
    assert audit.read_events(log_path, since=since)["id"].tolist() == [2, 3]
    later = since + dt.timedelta(days=1)
    assert audit.read_events(log_path, since=later).empty
    with pytest.raises(ValidationError, match="timezone-aware"):
        audit.read_events(log_path, since=dt.datetime(2024, 1, 1))
