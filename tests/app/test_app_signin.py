"""AppTest of app.py: set-up help without accounts, sign-in per role, routing, audit rows.

Routing is checked on a copy of app.py beside one-line pages (``page <name>``), so the test
asserts what app.py registers and runs, independent of the pages' own work; the real app is
checked too: set-up help, refused sign-in, and each role's sign-in and pages.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.util import calc_hash

from geointel import audit, auth
from geointel.privacy import key_fingerprint

streamlit_testing = pytest.importorskip("streamlit.testing.v1")

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long test passphrase"
USERS = {"ann": "analyst", "pat": "planner", "vic": "viewer"}
KEY_NOW, KEY_BEFORE = bytes(range(32)), bytes(range(100, 132))


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Accounts, audit log, key and an empty data directory in tmp_path (cheap hashes)."""
    from app_pages import _cached

    monkeypatch.setattr(auth, "ARGON2_PROFILE", "CHEAPEST")
    paths = {"accounts": tmp_path / "accounts.toml", "audit": tmp_path / "audit.sqlite",
             "key": tmp_path / "pseudonym.key", "data": tmp_path / "data"}
    paths["key"].write_text(KEY_NOW.hex())
    paths["data"].mkdir()
    for name, value in {"ACCOUNTS_FILE": "accounts", "AUDIT_FILE": "audit",
                        "KEY_FILE": "key", "DATA_DIR": "data"}.items():
        monkeypatch.setenv(f"GEOINTEL_{name}", str(paths[value]))
    monkeypatch.delenv("GEOINTEL_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("GEOINTEL_CONFIG", raising=False)
    _cached.settings.clear()  # pages read settings through this cache: keep ours out of it
    yield paths
    _cached.settings.clear()


@pytest.fixture
def accounts(env):
    for user, role in USERS.items():
        auth.add_account(env["accounts"], user, role=role, password=PASSWORD)
    return env


@pytest.fixture
def app_copy(tmp_path):
    """app.py beside one-line pages that show their name."""
    root = tmp_path / "app"
    (root / "app_pages").mkdir(parents=True)
    shutil.copy(ROOT / "app.py", root / "app.py")
    for name in app_pages():
        (root / "app_pages" / f"{name}.py").write_text(
            f'import streamlit as st\n\nst.title("page {name}")\n')
    return root / "app.py"


def app_pages() -> list[str]:
    """Every page name in the roles table."""
    return [c.removeprefix("page:") for c in auth.CAPABILITIES if c.startswith("page:")]


def registered(at) -> list[str]:
    """Page files st.navigation registered in the last run (the default page has url "")."""
    return [Path(info["script_path"]).stem for info in at._registered_pages.values()
            if "url_pathname" in info]


def sign_in(at, user: str, password: str):
    at.text_input[0].input(user)
    at.text_input[1].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def titles(at) -> list[str]:
    return [t.value for t in at.title]


def test_without_accounts_the_app_shows_how_to_create_one(env):
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert "geointel users add NAME --role" in at.info[0].value
    assert str(env["accounts"]) in at.info[0].value
    assert not at.text_input and registered(at) == []
    assert not env["accounts"].exists()  # nothing is created implicitly


def test_wrong_password_and_unknown_user_are_refused_and_audited(accounts):
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    sign_in(at, "ann", PASSWORD + "x")
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    assert registered(at) == [] and "role" not in at.session_state
    sign_in(at, "mallory", PASSWORD)
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    events = audit.read_events(accounts["audit"])
    assert events["event"].tolist() == ["sign_in_failed", "sign_in_failed"]
    assert events["user"].tolist() == ["ann", "mallory"]
    assert events["role"].isna().all()
    assert PASSWORD not in accounts["audit"].read_bytes().decode("utf-8", "replace")


@pytest.mark.parametrize(("user", "role"), USERS.items())
def test_each_role_is_offered_exactly_its_pages(accounts, app_copy, user, role):
    at = streamlit_testing.AppTest.from_file(str(app_copy), default_timeout=30).run()
    sign_in(at, user, PASSWORD)
    assert not at.exception
    assert registered(at) == auth.pages_for(role)
    assert titles(at) == [f"page {auth.pages_for(role)[0]}"]  # the default page ran
    assert at.session_state["user"] == user and at.session_state["role"] == role
    for name in sorted(set(app_pages()) - set(auth.pages_for(role))):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"app_pages/{name}.py")  # not registered, so not routable
        at._page_hash = calc_hash(name)  # what a session asking for URL /<name> requests
        at.run()
        assert titles(at) == [f"page {auth.pages_for(role)[0]}"], name  # the default page
    allowed = auth.pages_for(role)[-1]
    at.switch_page(f"app_pages/{allowed}.py").run()
    assert titles(at) == [f"page {allowed}"]
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert registered(at) == [] and "role" not in at.session_state
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    events = audit.read_events(accounts["audit"])
    assert events[["event", "user", "role"]].values.tolist() == [
        ["sign_in", user, role], ["sign_out", user, role]]
    assert events["detail"][0] == {"method": "local"}


def test_a_removed_account_loses_its_session(accounts, app_copy):
    at = streamlit_testing.AppTest.from_file(str(app_copy), default_timeout=30).run()
    sign_in(at, "pat", PASSWORD)
    assert registered(at) == auth.pages_for("planner")
    auth.add_account(accounts["accounts"], "pat", role="viewer", password=PASSWORD,
                     replace=True)
    at.run()
    assert "role" not in at.session_state and registered(at) == []
    assert "please sign in again" in at.warning[0].value


def test_a_changed_key_closes_the_contact_pages(accounts, app_copy):
    audit.record(accounts["audit"], "data_load", user="ann", role="analyst",
                 file="contacts.csv", rows_read=5, accepted=5, rejected=0,
                 key_fingerprint=key_fingerprint(KEY_BEFORE))
    at = streamlit_testing.AppTest.from_file(str(app_copy), default_timeout=30).run()
    sign_in(at, "ann", PASSWORD)
    assert registered(at) == [p for p in auth.pages_for("analyst")
                              if p not in ("lines", "targeting")]
    assert at.error[0].value.startswith("Contact-data pages are closed: data loaded from "
                                        "contacts.csv on ")
    assert "pseudonymised with another key" in at.error[0].value
    accounts["key"].write_text(KEY_BEFORE.hex())  # the original key back: pages open again
    at.run()
    assert registered(at) == auth.pages_for("analyst") and not at.error


def test_oidc_needs_an_auth_section_and_a_mapping(accounts, app_copy):
    at = streamlit_testing.AppTest.from_file(str(app_copy), default_timeout=30).run()
    assert not [b for b in at.button if b.label.startswith("Sign in with")]
    auth.map_identity(accounts["accounts"], "Bo@Force.Police.UK", role="analyst")
    section = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32,
               "client_id": "c", "client_secret": "s",
               "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
    for email, expected in (("eve@example.org", None), ("bo@force.police.uk", "analyst")):
        at = streamlit_testing.AppTest.from_file(str(app_copy), default_timeout=30)
        at.secrets["auth"] = section
        at.user = {"is_logged_in": True, "email": email, "email_verified": True}
        at.run()
        assert not at.exception
        if expected is None:
            assert registered(at) == []
            assert "has no access" in at.error[0].value
        else:
            assert registered(at) == auth.pages_for(expected)
            assert at.session_state["user"] == email
    events = audit.read_events(accounts["audit"])
    assert events[["event", "user"]].values.tolist() == [
        ["sign_in_failed", "eve@example.org"], ["sign_in", "bo@force.police.uk"]]
    assert events["role"].isna().tolist() == [True, False] and events["role"][1] == "analyst"
    assert events["detail"][0] == {"method": "oidc", "reason": "identity not mapped to a role"}


@pytest.mark.parametrize(("user", "role"), USERS.items())
def test_real_app_routes_each_role_to_its_pages(accounts, user, role):
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    sign_in(at, user, PASSWORD)
    assert registered(at) == auth.pages_for(role)
    assert audit.read_events(accounts["audit"])["event"].tolist() == ["sign_in"]


def test_five_failed_sign_ins_lock_that_user_name_for_fifteen_minutes(accounts):
    at = streamlit_testing.AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    for _ in range(auth.MAX_FAILED_SIGN_INS):
        sign_in(at, "pat", "a wrong passphrase!")
        assert [e.value for e in at.error] == ["Wrong user name or password."]
    sign_in(at, "pat", PASSWORD)  # the right password, but locked: not even checked
    assert len(at.error) == 1 and at.error[0].value.startswith(
        "Too many failed sign-ins for this user name: try again after ")
    assert "role" not in at.session_state
    # another session (a new AppTest) is refused too: the count lives in the audit log
    other = streamlit_testing.AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    sign_in(other, "pat", PASSWORD)
    assert other.error[0].value.startswith("Too many failed sign-ins")
    # other user names are not affected
    sign_in(other, "vic", PASSWORD)
    assert not other.error and other.session_state["user"] == "vic"
    events = audit.read_events(accounts["audit"])
    assert events["event"].tolist() == ["sign_in_failed"] * 7 + ["sign_in"]
    reasons = [d.get("reason") for d in events["detail"]]
    assert reasons == [None] * 5 + [auth.LOCKED_REASON] * 2 + [None]
    assert audit.verify_chain(accounts["audit"]) == 8
