"""Streamlit entry: page config, sign-in, and navigation over only the pages the role may open.

Sign-in is by a local account (``geointel users add``; argon2id hashes in the accounts file)
or, when ``st.secrets`` has an ``[auth]`` section, by OpenID Connect (``st.login``) with the
identity's e-mail mapped to a role in the accounts file's ``[oidc_roles]``. Roles and their
pages come from :mod:`geointel.auth` only; a page the role may not open is not registered, so
its URL lands on the role's first page. Sign-ins, failures and sign-outs go to the audit log; after
five failed sign-ins for a user name within 15 minutes it is refused for 15 minutes (counted from
the audit log, so across restarts and sessions; see geointel.auth.sign_in_lock).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import streamlit as st

from geointel import audit
from geointel.auth import (
    LOCKED_REASON,
    Accounts,
    load_accounts,
    oidc_providers,
    pages_for,
    role_for_identity,
    sign_in_lock,
)
from geointel.auth import verify as verify_password
from geointel.errors import GeointelError, MissingDataError, PrivacyError
from geointel.settings import Settings, load_settings

#: page name -> (title, icon); the order pages_for() gives is the order listed.
PAGES = {
    "overview": ("Overview", ":material/dashboard:"),
    "harm": ("Harm map", ":material/map:"),
    "access": ("Access and naloxone", ":material/local_pharmacy:"),
    "siting": ("Clinic siting", ":material/add_location_alt:"),
    "lines": ("County lines", ":material/hub:"),
    "targeting": ("Targeting", ":material/target:"),
    "briefing": ("Briefings", ":material/description:"),
    "data": ("Data", ":material/database:"),
}
#: pages that read pseudonymised contact or intelligence data: closed if the key changed.
KEYED_PAGES = ("lines", "targeting")
SETUP_HELP = """No accounts are set up, so nobody can sign in (there is no default password).
Create one on the server, then reload this page:

```sh
geointel users add NAME --role analyst|planner|viewer   # asks for a password (12+ characters)
GEOINTEL_NEW_PASSWORD=... geointel users add NAME --role planner   # from a script
geointel users demo    # one random-password account per role, shown once
```

The accounts file is `{path}` (setting `accounts_file`, or `GEOINTEL_ACCOUNTS_FILE`)."""


def _auth_section() -> Mapping[str, Any] | None:
    """The ``[auth]`` secrets section (OpenID Connect), if the deployment has one."""
    try:
        return st.secrets.get("auth")
    except (FileNotFoundError, KeyError):
        return None


def _clear_session() -> None:
    for name in ("user", "role", "auth_method"):
        st.session_state.pop(name, None)


def _sign_out(cfg: Settings) -> None:
    audit.record(cfg.resolved_audit_file(), "sign_out", user=st.session_state["user"],
                 role=st.session_state["role"])
    method = st.session_state.get("auth_method")
    _clear_session()
    if method == "oidc":
        st.logout()
    st.rerun()


def _still_valid(accounts: Accounts | None) -> bool:
    """Whether the signed-in identity still has its role (accounts are re-read every run)."""
    if accounts is None:
        return False
    user, role = st.session_state["user"], st.session_state["role"]
    if st.session_state.get("auth_method") == "oidc":
        return bool(st.user.is_logged_in) and role_for_identity(
            accounts, st.user.get("email"), email_verified=st.user.get("email_verified")) == role
    return accounts.roles.get(user) == role


def _oidc_sign_in(cfg: Settings, accounts: Accounts | None) -> None:
    """Turn a provider's identity into a role, or refuse it (unmapped: no access)."""
    email = str(st.user.get("email") or "")
    role = None if accounts is None else role_for_identity(
        accounts, email, email_verified=st.user.get("email_verified"))
    if role is None:
        if not st.session_state.get("oidc_refused"):
            audit.record(cfg.resolved_audit_file(), "sign_in_failed", user=email or "(no e-mail)",
                         role=None, method="oidc", reason="identity not mapped to a role")
            st.session_state["oidc_refused"] = True
        st.error(f"{email or 'This identity'} has no access to geointel. Ask an administrator "
                 "to run `geointel users map EMAIL --role ROLE`.")
        if st.button("Sign out"):
            st.session_state.pop("oidc_refused", None)
            st.logout()
        st.stop()
    st.session_state.update(user=email, role=role, auth_method="oidc")
    audit.record(cfg.resolved_audit_file(), "sign_in", user=email, role=role, method="oidc")
    st.rerun()


def _sign_in_page(cfg: Settings, accounts: Accounts | None, providers: list[str | None]) -> None:
    st.title("geointel")
    st.caption("Drug-harm geospatial intelligence. Police and health data: sign in to continue.")
    for provider in providers:
        if importlib.util.find_spec("authlib") is None:
            st.warning("OpenID Connect is configured but Authlib is not installed. "
                       "Fix: pip install 'streamlit[auth]'")
            break
        label = f"Sign in with {provider.title() if provider else 'your organisation'}"
        if st.button(label, key=f"oidc-{provider}"):
            if provider:
                st.login(provider)
            else:
                st.login()
    if accounts is None or not accounts.roles:
        if not providers:
            st.info(SETUP_HELP.format(path=cfg.resolved_accounts_file()))
        st.stop()
    username = st.text_input("Username")
    password = st.text_input("Password", type="password")
    if st.button("Sign in"):
        until = sign_in_lock(cfg.resolved_audit_file(), username.strip()[:64])
        if until is not None:
            audit.record(cfg.resolved_audit_file(), "sign_in_failed",
                         user=username.strip()[:64] or "(blank)", role=None, method="local",
                         reason=LOCKED_REASON)
            st.error(f"Too many failed sign-ins for this user name: try again after "
                     f"{until:%H:%M} UTC. Ask an administrator if you have forgotten the "
                     "password.")
            st.stop()
        account = verify_password(accounts.path, username.strip(), password)
        if account is None:
            audit.record(cfg.resolved_audit_file(), "sign_in_failed",
                         user=username.strip()[:64] or "(blank)", role=None, method="local")
            st.error("Wrong user name or password.")
            st.stop()
        st.session_state.update(user=account.username, role=account.role, auth_method="local")
        audit.record(cfg.resolved_audit_file(), "sign_in", user=account.username,
                     role=account.role, method="local")
        st.rerun()
    st.stop()


def _pages(cfg: Settings, role: str) -> list[str]:
    """The role's pages, without the keyed pages if the pseudonymisation key was refused."""
    names = pages_for(role)
    if any(name in names for name in KEYED_PAGES):
        try:
            audit.checked_key(cfg.resolved_audit_file(), cfg.resolved_key_file())
        except PrivacyError as err:
            st.error(f"Contact-data pages are closed: {err}")
            names = [name for name in names if name not in KEYED_PAGES]
    return names


st.set_page_config(page_title="geointel", page_icon=":material/map:", layout="wide")
try:
    settings = load_settings()
    try:
        known: Accounts | None = load_accounts(settings.resolved_accounts_file())
    except MissingDataError:
        known = None
except GeointelError as err:  # fail closed: a broken settings or accounts file opens nothing
    st.error(str(err))
    st.stop()

if "role" in st.session_state and not _still_valid(known):
    _clear_session()
    st.warning("Your account or role has changed; please sign in again.")
if "role" not in st.session_state:
    oidc = oidc_providers(_auth_section())
    if oidc and st.user.is_logged_in:
        _oidc_sign_in(settings, known)
    _sign_in_page(settings, known, oidc)

with st.sidebar:
    st.caption(f"Signed in as **{st.session_state['user']}** ({st.session_state['role']})")
    if st.button("Sign out", icon=":material/logout:"):
        _sign_out(settings)
allowed_pages = _pages(settings, st.session_state["role"])
st.navigation([st.Page(f"app_pages/{name}.py", title=PAGES[name][0], icon=PAGES[name][1],
                       url_path=name, default=i == 0)
               for i, name in enumerate(allowed_pages)]).run()
