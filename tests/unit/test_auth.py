"""Roles table and local accounts: argon2id hashes, refusals, malformed files, OIDC mapping."""

from __future__ import annotations

import datetime as dt
import json
import stat

import pytest

from geointel import auth
from geointel.cli import main
from geointel.errors import AccessDenied, DataFileError, MissingDataError, ValidationError

PASSWORD = "correct horse battery staple"


@pytest.fixture
def cheap(monkeypatch):
    """The cheapest argon2 parameters, so the many hashes here take milliseconds."""
    monkeypatch.setattr(auth, "ARGON2_PROFILE", "CHEAPEST")


@pytest.fixture
def accounts(tmp_path, cheap):
    path = tmp_path / "accounts.toml"
    auth.add_account(path, "ann", role="planner", password=PASSWORD)
    auth.add_account(path, "bo", role="analyst", password=PASSWORD + "!")
    return path


@pytest.mark.parametrize(("role", "pages"), [
    ("analyst", ["overview", "harm", "lines", "targeting", "briefing", "data"]),
    ("planner", ["overview", "harm", "access", "siting", "briefing", "data"]),
    ("viewer", ["briefing"]),
])
def test_pages_for_each_role(role, pages):
    assert auth.pages_for(role) == pages


def test_check_role_refuses_and_unknown_role_is_an_error():
    auth.check_role("analyst", "export:contacts")
    with pytest.raises(AccessDenied, match="planner role may not use export:lines"):
        auth.check_role("planner", "export:lines")
    with pytest.raises(ValidationError, match="unknown role 'admin'"):
        auth.allowed("admin", "page:overview")


def test_hashes_are_argon2id_with_rfc9106_parameters_and_the_file_is_private(tmp_path):
    path = tmp_path / "accounts.toml"
    auth.add_account(path, "ann", role="planner", password=PASSWORD)
    text = path.read_text()
    assert "$argon2id$v=19$m=65536,t=3,p=4$" in text
    assert PASSWORD not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.verify(path, "ann", PASSWORD) == auth.Account("ann", "planner")


def test_verify_accepts_only_the_right_password_for_a_known_user(accounts):
    assert auth.verify(accounts, "ann", PASSWORD) == auth.Account("ann", "planner")
    assert auth.verify(accounts, "bo", PASSWORD + "!") == auth.Account("bo", "analyst")
    assert auth.verify(accounts, "ann", PASSWORD + "!") is None  # bo's password
    assert auth.verify(accounts, "ann", "") is None
    assert auth.verify(accounts, "Ann", PASSWORD) is None  # names are exact
    assert auth.verify(accounts, "carol", PASSWORD) is None


@pytest.mark.parametrize(("username", "password", "message"), [
    ("ann2", "elevenchars", "shorter than 12 characters"),
    ("ann2", "", "shorter than 12 characters"),
    ("ann2", "x" * 1025, "longer than 1024"),
    ("longusername", "LongUserName", "is the user name"),
    ("bad name", PASSWORD, "is not usable"),
    ("", PASSWORD, "is not usable"),
    ('a"b', PASSWORD, "is not usable"),
])
def test_bad_accounts_are_refused_and_nothing_is_written(accounts, username, password, message):
    before = accounts.read_text()
    with pytest.raises(ValidationError, match=message):
        auth.add_account(accounts, username, role="viewer", password=password)
    assert accounts.read_text() == before


def test_existing_account_needs_replace(accounts):
    with pytest.raises(ValidationError, match="already has an account 'ann'"):
        auth.add_account(accounts, "ann", role="viewer", password="another long one")
    auth.add_account(accounts, "ann", role="viewer", password="another long one", replace=True)
    assert auth.verify(accounts, "ann", PASSWORD) is None
    assert auth.verify(accounts, "ann", "another long one") == auth.Account("ann", "viewer")
    assert dict(auth.load_accounts(accounts).roles) == {"ann": "viewer", "bo": "analyst"}


def test_unknown_role_is_refused(tmp_path, cheap):
    with pytest.raises(ValidationError, match="unknown role 'admin'"):
        auth.add_account(tmp_path / "a.toml", "ann", role="admin", password=PASSWORD)
    assert not (tmp_path / "a.toml").exists()


def test_old_parameters_are_rehashed_at_sign_in(accounts, monkeypatch):
    old = auth.load_accounts(accounts).hashes["ann"]
    assert old.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    monkeypatch.setattr(auth, "ARGON2_PROFILE", "RFC_9106_LOW_MEMORY")
    assert auth.verify(accounts, "ann", "wrong password!") is None
    assert auth.load_accounts(accounts).hashes["ann"] == old  # no rehash on failure
    assert auth.verify(accounts, "ann", PASSWORD) == auth.Account("ann", "planner")
    new = auth.load_accounts(accounts).hashes
    assert new["ann"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert new["bo"].startswith("$argon2id$v=19$m=8,t=1,p=1$")  # others untouched
    assert auth.verify(accounts, "ann", PASSWORD) == auth.Account("ann", "planner")


def test_missing_file_says_how_to_create_an_account(tmp_path):
    with pytest.raises(MissingDataError, match="geointel users add NAME --role ROLE"):
        auth.verify(tmp_path / "none.toml", "ann", PASSWORD)


@pytest.mark.parametrize(("text", "message"), [
    ("[users.ann\nrole = 1", "is not valid TOML"),
    ("[admins.ann]\nrole = 'analyst'", "unknown section"),
    ("users = 3", "must be tables"),
    ("[users.ann]\nrole = 'planner'", "exactly role and password_hash"),
    ("[users.ann]\nrole = 'planner'\npassword_hash = '$argon2id$x'\nadmin = true",
     "exactly role and password_hash"),
    ("[users.ann]\nrole = 'root'\npassword_hash = '$argon2id$x'", "unknown role 'root'"),
    ("[users.ann]\nrole = 'planner'\npassword_hash = 'hunter2hunter2'",
     "not an argon2id hash"),
    ("[users.ann]\nrole = 'planner'\npassword_hash = '$2b$12$bcrypt'", "not an argon2id hash"),
    ("[users.'bad name']\nrole = 'planner'\npassword_hash = '$argon2id$x'", "is not usable"),
    ("[oidc_roles]\n'bo' = 'analyst'", "is not an e-mail address"),
    ("[oidc_roles]\n'bo@x.org' = 'owner'", "unknown role 'owner'"),
])
def test_malformed_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "accounts.toml"
    path.write_text(text)
    with pytest.raises(DataFileError, match=message) as err:
        auth.load_accounts(path)
    assert str(path) in str(err.value)
    with pytest.raises(DataFileError):  # sign-in fails closed too
        auth.verify(path, "ann", PASSWORD)


def test_a_corrupted_hash_does_not_verify(accounts):
    text = accounts.read_text()
    good = auth.load_accounts(accounts).hashes["ann"]
    accounts.write_text(text.replace(good, "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"))
    assert auth.verify(accounts, "ann", PASSWORD) is None


def test_oidc_mapping(accounts):
    auth.map_identity(accounts, "Bo@Force.Police.UK", role="analyst")
    loaded = auth.load_accounts(accounts)
    assert dict(loaded.oidc_roles) == {"bo@force.police.uk": "analyst"}
    assert dict(loaded.roles) == {"ann": "planner", "bo": "analyst"}  # accounts kept
    assert auth.role_for_identity(loaded, "bo@force.police.uk") == "analyst"
    assert auth.role_for_identity(loaded, " BO@FORCE.POLICE.UK ") == "analyst"
    assert auth.role_for_identity(loaded, "bo@force.police.uk", email_verified=False) is None
    assert auth.role_for_identity(loaded, "bo@evil.example") is None
    assert auth.role_for_identity(loaded, None) is None
    auth.map_identity(accounts, "bo@force.police.uk", role=None)
    assert dict(auth.load_accounts(accounts).oidc_roles) == {}
    with pytest.raises(ValidationError, match="not an e-mail address"):
        auth.map_identity(accounts, 'x"@y.org\n[users.z]', role="analyst")


@pytest.mark.parametrize(("section", "providers"), [
    (None, []),
    ({}, []),
    ({"redirect_uri": "u", "cookie_secret": "s", "client_id": "c", "client_secret": "s",
      "server_metadata_url": "m"}, [None]),
    ({"redirect_uri": "u", "cookie_secret": "s",
      "google": {"client_id": "c"}, "microsoft": {"client_id": "d"}}, ["google", "microsoft"]),
])
def test_oidc_providers(section, providers):
    assert auth.oidc_providers(section) == providers


def test_demo_accounts_one_per_role_refusing_to_overwrite(accounts):
    passwords = auth.demo_accounts(accounts)
    loaded = auth.load_accounts(accounts)
    assert {name: loaded.roles[name] for name in passwords} == {
        "demo-analyst": "analyst", "demo-planner": "planner", "demo-viewer": "viewer"}
    assert len(set(passwords.values())) == 3
    assert all(len(pw) >= auth.MIN_PASSWORD for pw in passwords.values())
    for name, pw in passwords.items():
        assert pw not in accounts.read_text()
        assert auth.verify(accounts, name, pw) == auth.Account(name, loaded.roles[name])
    with pytest.raises(ValidationError, match="already has demo account"):
        auth.demo_accounts(accounts)
    assert auth.verify(accounts, "ann", PASSWORD) is not None  # other accounts kept


def test_users_cli(tmp_path, monkeypatch, capsys, cheap):
    path = tmp_path / "accounts.toml"
    monkeypatch.setenv("GEOINTEL_ACCOUNTS_FILE", str(path))
    monkeypatch.delenv("GEOINTEL_NEW_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["users", "add", "ann", "--role", "planner"]) == 1
    assert "set GEOINTEL_NEW_PASSWORD" in capsys.readouterr().err
    assert not path.exists()
    monkeypatch.setenv("GEOINTEL_NEW_PASSWORD", "short")
    assert main(["users", "add", "ann", "--role", "planner"]) == 1
    monkeypatch.setenv("GEOINTEL_NEW_PASSWORD", PASSWORD)
    assert main(["users", "add", "ann", "--role", "planner", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "ok": True, "accounts_file": str(path), "user": "ann", "role": "planner"}
    assert main(["users", "add", "ann", "--role", "admin"]) == 2
    assert main(["users", "demo", "--json"]) == 0
    demo = json.loads(capsys.readouterr().out)["accounts"]
    assert auth.verify(path, "demo-viewer", demo["demo-viewer"]["password"]) is not None
    assert main(["users", "demo"]) == 1
    assert main(["users", "map", "bo@force.police.uk", "--role", "analyst"]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["users"] == {"ann": "planner", "demo-analyst": "analyst",
                               "demo-planner": "planner", "demo-viewer": "viewer"}
    assert listed["oidc_roles"] == {"bo@force.police.uk": "analyst"}
    assert "argon2" not in json.dumps(listed)


# ------------------------------------------------------------------ sign-in throttle

T0 = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)


def _at(*minutes: float) -> list[dt.datetime]:
    return [T0 + dt.timedelta(minutes=m) for m in minutes]


@pytest.mark.parametrize(("failures", "now", "until"), [
    ((0, 1, 2, 3), 4, None),                  # four failures: not locked
    ((0, 1, 2, 3, 4), 5, 19),                 # the fifth locks until 15 min after it
    ((0, 1, 2, 3, 4), 18.99, 19),
    ((0, 1, 2, 3, 4), 19, None),              # and not a moment longer
    ((0, 5, 10, 14, 15), 16, 30),             # five within exactly 15 minutes lock
    ((0, 5, 10, 14, 15.01), 16, None),        # spread over more than 15 do not
    ((0, 1, 2, 3, 4, 20, 21, 22, 23, 24), 25, 39),  # a second burst locks again
    ((0, 1, 2, 3, 4, 20), 21, None),          # one failure after the lock is not enough
])
def test_locked_until(failures, now, until) -> None:
    got = auth.locked_until(_at(*failures), now=_at(now)[0])
    assert got == (None if until is None else _at(until)[0])


def test_sign_in_lock_counts_this_users_failures_from_the_audit_log(tmp_path) -> None:
    from geointel import audit

    log = tmp_path / "audit.sqlite"
    for _ in range(4):
        audit.record(log, "sign_in_failed", user="ann", role=None, method="local")
    audit.record(log, "sign_in_failed", user="bo", role=None, method="local")
    assert auth.sign_in_lock(log, "ann") is None  # bo's failure is not ann's
    audit.record(log, "sign_in_failed", user="ann", role=None, method="local")
    now = dt.datetime.now(dt.UTC)
    until = auth.sign_in_lock(log, "ann", now=now)
    last = audit.read_events(log)["when"].iloc[-1].to_pydatetime()
    assert until == last + auth.LOCKOUT and auth.sign_in_lock(log, "bo") is None
    # attempts refused while locked are audited but do not extend the lock
    for _ in range(3):
        audit.record(log, "sign_in_failed", user="ann", role=None, method="local",
                     reason=auth.LOCKED_REASON)
    assert auth.sign_in_lock(log, "ann", now=now) == until
    assert auth.sign_in_lock(log, "ann", now=until) is None
    assert auth.sign_in_lock(tmp_path / "none.sqlite", "ann") is None  # no log yet
