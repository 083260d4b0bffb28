"""Roles and what each may reach: the one table the app and the exporters both enforce.

Three roles: the police ``analyst`` (contact networks, lines, targeting), the partnership
``planner`` (aggregated harm, access, siting) and the ``viewer`` (published briefings only).
A capability is ``"page:<name>"`` or ``"export:<kind>"``. The app lists and routes only
the pages a role may use; the library functions behind exports call :func:`check_role`
with the role they are given, so an export cannot be reached around the app.

Who has which role comes from the accounts file (``Settings.resolved_accounts_file()``:
``data_dir/accounts.toml`` or ``GEOINTEL_ACCOUNTS_FILE``), mode 600, never committed::

    [users."ann"]
    role = "planner"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."

    [oidc_roles]            # OpenID Connect identities (st.login) -> role
    "bo@force.police.uk" = "analyst"

Passwords are stored only as argon2id hashes (:func:`add_account`, ``geointel users add``);
they must be at least :data:`MIN_PASSWORD` characters. No account exists until someone
creates one, so no default password works anywhere. ``geointel users demo`` makes one
random-password account per role for a demonstration. An OpenID Connect identity gets the
role its verified e-mail address is mapped to in ``[oidc_roles]`` and no access otherwise.

Examples
--------
>>> allowed("planner", "page:siting"), allowed("viewer", "page:lines")
(True, False)
>>> check_role("viewer", "export:contacts")
Traceback (most recent call last):
...
geointel.errors.AccessDenied: the viewer role may not use export:contacts (allowed: analyst)
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from geointel.errors import AccessDenied, DataFileError, MissingDataError, ValidationError

log = logging.getLogger(__name__)

ROLES = ("analyst", "planner", "viewer")

#: capability -> roles allowed. Anything not listed is allowed to nobody.
CAPABILITIES: dict[str, frozenset[str]] = {
    "page:overview": frozenset({"analyst", "planner"}),
    "page:harm": frozenset({"analyst", "planner"}),
    "page:access": frozenset({"planner"}),
    "page:siting": frozenset({"planner"}),
    "page:lines": frozenset({"analyst"}),
    "page:targeting": frozenset({"analyst"}),
    "page:briefing": frozenset({"analyst", "planner", "viewer"}),
    "page:data": frozenset({"analyst", "planner"}),
    # police-only material: contact networks, lines, rankings, OFFICIAL-SENSITIVE packs
    "export:contacts": frozenset({"analyst"}),
    "export:lines": frozenset({"analyst"}),
    "export:police_briefing": frozenset({"analyst"}),
    # aggregated, disclosure-controlled partner material (OFFICIAL)
    "export:harm": frozenset({"analyst", "planner"}),
    "export:access": frozenset({"planner"}),
    "export:siting": frozenset({"planner"}),
    "export:partner_briefing": frozenset({"analyst", "planner"}),
    # briefings already published to the viewer area
    "export:published_briefing": frozenset({"analyst", "planner", "viewer"}),
}


def _known_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return role


def allowed(role: str, capability: str) -> bool:
    """Whether ``role`` may use ``capability`` (unknown capabilities: nobody)."""
    return _known_role(role) in CAPABILITIES.get(capability, frozenset())


def check_role(role: str, capability: str) -> None:
    """Raise :class:`~geointel.errors.AccessDenied` unless ``role`` may use ``capability``."""
    if not allowed(role, capability):
        roles = ", ".join(sorted(CAPABILITIES.get(capability, frozenset()))) or "nobody"
        raise AccessDenied(f"the {role} role may not use {capability} (allowed: {roles})")


def pages_for(role: str) -> list[str]:
    """Page names ``role`` may open, in the order the app lists them.

    >>> pages_for("viewer")
    ['briefing']
    """
    return [c.removeprefix("page:") for c in CAPABILITIES
            if c.startswith("page:") and allowed(role, c)]


# --- accounts --------------------------------------------------------------------------

#: Shortest password accepted.
MIN_PASSWORD = 12
#: Longest password accepted (hashing is deliberately expensive).
MAX_PASSWORD = 1024
#: argon2 parameters of new hashes (RFC 9106 low-memory: argon2id, t=3, 64 MiB, p=4); a hash
#: made with other parameters is re-made at the next successful sign-in.
ARGON2_PROFILE = "RFC_9106_LOW_MEMORY"
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_DEMO_USERS = {role: f"demo-{role}" for role in ROLES}
_ADD_HINT = "create one with `geointel users add NAME --role ROLE`"


@dataclass(frozen=True)
class Account:
    """A signed-in identity: its user name (or e-mail for OpenID Connect) and its role."""

    username: str
    role: str


@dataclass(frozen=True)
class Accounts:
    """The parsed accounts file.

    Attributes
    ----------
    path
        The file read.
    roles
        user name -> role of every local account.
    oidc_roles
        lower-case e-mail address -> role, for OpenID Connect identities.
    """

    path: Path
    roles: Mapping[str, str]
    oidc_roles: Mapping[str, str]
    hashes: Mapping[str, str] = field(repr=False)


def _argon2() -> Any:
    from geointel.errors import require

    return require("argon2", extra="app")


def _hasher() -> Any:
    argon2 = _argon2()
    return argon2.PasswordHasher.from_parameters(getattr(argon2.profiles, ARGON2_PROFILE))


@cache
def _dummy_hash(profile: str) -> str:
    """A hash of a random password, checked for unknown users so they take as long."""
    return str(_hasher().hash(secrets.token_urlsafe(16)))


def _bad(path: Path, problem: str) -> DataFileError:
    return DataFileError(path, problem, fix="correct the accounts file (see geointel.auth) or "
                                            f"move it aside and {_ADD_HINT}")


def _check_username(username: str) -> str:
    if not isinstance(username, str) or not USERNAME.match(username):
        raise ValidationError(
            f"user name {username!r} is not usable: 1-64 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit")
    return username


def _check_password(username: str, password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(f"password for {username!r} is shorter than {MIN_PASSWORD} "
                              "characters; choose a longer one (a passphrase of several words)")
    if len(password) > MAX_PASSWORD:
        raise ValidationError(f"password for {username!r} is longer than {MAX_PASSWORD} "
                              "characters")
    if password.strip().lower() == username.lower():
        raise ValidationError(f"password for {username!r} is the user name; choose another")
    return password


def load_accounts(path: str | Path) -> Accounts:
    """Read and check the accounts file.

    Raises
    ------
    MissingDataError
        If the file does not exist (the message says how to create an account).
    DataFileError
        If it is not TOML, has unknown sections, an unknown role, a bad user name or e-mail,
        or a ``password_hash`` that is not an argon2id hash (plain passwords are refused).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "accounts.toml")
    >>> _ = open(p, "w").write('[users.ann]\\nrole = "planner"\\npassword_hash = "secret"\\n')
    >>> load_accounts(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geointel.errors.DataFileError: ...: user 'ann': password_hash is not an argon2id hash...
    """
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"no accounts file at {path}; {_ADD_HINT}")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise _bad(path, f"is not valid TOML ({err})") from None
    unknown = sorted(set(table) - {"users", "oidc_roles"})
    if unknown:
        raise _bad(path, f"unknown section(s) {', '.join(unknown)}; expected [users.NAME] "
                         "and [oidc_roles]")
    users, oidc = table.get("users", {}), table.get("oidc_roles", {})
    if not isinstance(users, dict) or not isinstance(oidc, dict):
        raise _bad(path, "users and oidc_roles must be tables")
    roles: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for name, entry in users.items():
        if not USERNAME.match(name):
            raise _bad(path, f"user name {name!r} is not usable (letters, digits, . _ - @)")
        if not isinstance(entry, dict) or set(entry) != {"role", "password_hash"}:
            raise _bad(path, f"user {name!r} must have exactly role and password_hash")
        if entry["role"] not in ROLES:
            raise _bad(path, f"user {name!r}: unknown role {entry['role']!r}; roles are "
                             f"{', '.join(ROLES)}")
        if not str(entry["password_hash"]).startswith("$argon2id$"):
            raise _bad(path, f"user {name!r}: password_hash is not an argon2id hash (a plain "
                             "password is never accepted); set it with `geointel users add "
                             f"{name} --role {entry['role']} --replace`")
        roles[name], hashes[name] = entry["role"], entry["password_hash"]
    oidc_roles: dict[str, str] = {}
    for email, role in oidc.items():
        if not _EMAIL.match(email):
            raise _bad(path, f"[oidc_roles]: {email!r} is not an e-mail address")
        if role not in ROLES:
            raise _bad(path, f"[oidc_roles]: {email!r} has unknown role {role!r}; roles are "
                             f"{', '.join(ROLES)}")
        oidc_roles[email.lower()] = role
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("%s can be read by other users of this machine; chmod 600 it", path)
    return Accounts(path=path, roles=roles, oidc_roles=oidc_roles, hashes=hashes)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write(path: Path, roles: Mapping[str, str], hashes: Mapping[str, str],
           oidc_roles: Mapping[str, str]) -> None:
    """Replace the accounts file atomically (mode 600)."""
    lines = ["# geointel accounts: argon2id hashes only. Edit with `geointel users`.", ""]
    for name in sorted(roles):
        lines += [f"[users.{_quote(name)}]", f"role = {_quote(roles[name])}",
                  f"password_hash = {_quote(hashes[name])}", ""]
    if oidc_roles:
        lines.append("[oidc_roles]")
        lines += [f"{_quote(email)} = {_quote(role)}" for email, role in sorted(oidc_roles.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines).rstrip("\n") + "\n")
    os.replace(tmp, path)


def _current(path: Path) -> Accounts:
    if path.exists():
        return load_accounts(path)
    return Accounts(path=path, roles={}, oidc_roles={}, hashes={})


def add_account(path: str | Path, username: str, *, role: str, password: str,
                replace: bool = False) -> Account:
    """Add a local account to the accounts file (created, mode 600, if absent).

    Parameters
    ----------
    path
        The accounts file, usually ``settings.resolved_accounts_file()``.
    username
        1-64 letters, digits, ``.``, ``_``, ``-`` or ``@``.
    role
        One of :data:`ROLES`.
    password
        At least :data:`MIN_PASSWORD` characters; only its argon2id hash is stored.
    replace
        Allow replacing an existing account's role and password (otherwise refused).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "accounts.toml")
    >>> add_account(p, "ann", role="planner", password="correct horse battery")
    Account(username='ann', role='planner')
    >>> add_account(p, "bo", role="analyst", password="short")
    Traceback (most recent call last):
    ...
    geointel.errors.ValidationError: password for 'bo' is shorter than 12 characters; choose \
a longer one (a passphrase of several words)
    """
    path = Path(path)
    _check_username(username)
    _known_role(role)
    _check_password(username, password)
    current = _current(path)
    if username in current.roles and not replace:
        raise ValidationError(f"{path} already has an account {username!r}; pass replace=True "
                              "(`--replace`) to change its role and password")
    digest = _hasher().hash(password)
    _write(path, {**current.roles, username: role}, {**current.hashes, username: digest},
           current.oidc_roles)
    log.info("account %s (%s) written to %s", username, role, path)
    return Account(username, role)


def map_identity(path: str | Path, email: str, *, role: str | None) -> None:
    """Map an OpenID Connect e-mail address to a role in ``[oidc_roles]`` (``None`` removes it).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "accounts.toml")
    >>> map_identity(p, "Bo@Force.Police.UK", role="analyst")
    >>> dict(load_accounts(p).oidc_roles)
    {'bo@force.police.uk': 'analyst'}
    """
    path = Path(path)
    if not _EMAIL.match(email):
        raise ValidationError(f"{email!r} is not an e-mail address")
    current = _current(path)
    mapping = {k: v for k, v in current.oidc_roles.items() if k != email.lower()}
    if role is not None:
        mapping[email.lower()] = _known_role(role)
    _write(path, current.roles, current.hashes, mapping)


def verify(path: str | Path, username: str, password: str) -> Account | None:
    """The account if ``password`` is right for ``username``, else ``None``.

    An unknown user costs the same hash check as a known one, so the time taken does not
    tell which user names exist. A hash made with older argon2 parameters is replaced after
    a successful check. A missing or malformed accounts file raises (see
    :func:`load_accounts`).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "accounts.toml")
    >>> _ = add_account(p, "ann", role="planner", password="correct horse battery")
    >>> verify(p, "ann", "correct horse battery"), verify(p, "ann", "Correct horse battery")
    (Account(username='ann', role='planner'), None)
    """
    accounts = load_accounts(path)
    argon2 = _argon2()
    hasher = _hasher()
    known = username in accounts.hashes
    digest = accounts.hashes[username] if known else _dummy_hash(ARGON2_PROFILE)
    try:
        ok = bool(hasher.verify(digest, password)) and known
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        ok = False
    if not ok:
        return None
    role = accounts.roles[username]
    if hasher.check_needs_rehash(digest):
        current = load_accounts(path)  # re-read: keep changes made since
        if hmac.compare_digest(current.hashes.get(username, ""), digest):
            _write(accounts.path, current.roles,
                   {**current.hashes, username: hasher.hash(password)}, current.oidc_roles)
            log.info("re-hashed the password of %s with the current argon2 parameters", username)
    return Account(username, role)


# --- sign-in throttle -------------------------------------------------------------------

#: Failed sign-ins for one user name within :data:`FAILURE_WINDOW` that lock it.
MAX_FAILED_SIGN_INS = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
#: How long a locked user name is refused, counted from the failure that locked it.
LOCKOUT = dt.timedelta(minutes=15)
#: ``reason`` of the audit row written for an attempt refused while locked (not a failure).
LOCKED_REASON = "locked: too many failed sign-ins"


def locked_until(failures: Sequence[dt.datetime], *, now: dt.datetime) -> dt.datetime | None:
    """When a user name with failed sign-ins at ``failures`` may try again, if locked now.

    A user name is locked for :data:`LOCKOUT` after the failure that makes
    :data:`MAX_FAILED_SIGN_INS` within :data:`FAILURE_WINDOW`.

    Examples
    --------
    >>> t0 = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)
    >>> five = [t0 + dt.timedelta(minutes=m) for m in (0, 2, 4, 6, 8)]
    >>> locked_until(five, now=t0 + dt.timedelta(minutes=10))
    datetime.datetime(2024, 5, 1, 9, 23, tzinfo=datetime.timezone.utc)
    >>> locked_until(five, now=t0 + dt.timedelta(minutes=23)) is None
    True
    >>> locked_until(five[:4], now=t0 + dt.timedelta(minutes=10)) is None
    True
    """
    times = sorted(failures)
    n = MAX_FAILED_SIGN_INS
    until = None
    for i in range(n - 1, len(times)):
        if times[i] - times[i - n + 1] <= FAILURE_WINDOW:
            until = times[i] + LOCKOUT
    return until if until is not None and now < until else None


def sign_in_lock(audit_path: str | Path, username: str, *,
                 now: dt.datetime | None = None) -> dt.datetime | None:
    """When ``username`` may sign in again if it is locked now (else ``None``).

    Counted from the audit log's ``sign_in_failed`` rows, so a lock holds across app
    restarts and for every session and server sharing the log. Attempts refused while
    locked are audited with ``reason`` :data:`LOCKED_REASON` and do not extend the lock.

    >>> import tempfile, os
    >>> from geointel import audit
    >>> log = os.path.join(tempfile.mkdtemp(), "a.sqlite")
    >>> for _ in range(5):
    ...     _ = audit.record(log, "sign_in_failed", user="ann", role=None, method="local")
    >>> sign_in_lock(log, "ann") is not None, sign_in_lock(log, "bo") is None
    (True, True)
    """
    from geointel import audit

    now = now or dt.datetime.now(dt.UTC)
    rows = audit.read_events(audit_path, event="sign_in_failed", user=username,
                             since=now - FAILURE_WINDOW - LOCKOUT)
    counted = [when.to_pydatetime() for when, detail in zip(rows["when"], rows["detail"],
                                                             strict=True)
               if detail.get("reason") != LOCKED_REASON]
    return locked_until(counted, now=now)


def role_for_identity(accounts: Accounts, email: object, *,
                      email_verified: object = None) -> str | None:
    """The role an OpenID Connect identity is mapped to, or ``None`` (no access).

    The e-mail address (``st.user["email"]``) must be mapped exactly (case-insensitive) in
    ``[oidc_roles]``; an address the provider says is not verified gets no access.

    >>> a = Accounts(Path("a.toml"), roles={}, oidc_roles={"bo@force.police.uk": "analyst"},
    ...              hashes={})
    >>> role_for_identity(a, "BO@force.police.uk"), role_for_identity(a, "eve@example.org")
    ('analyst', None)
    >>> role_for_identity(a, "bo@force.police.uk", email_verified=False) is None
    True
    """
    if not isinstance(email, str) or not email or email_verified in (False, "false"):
        return None
    return accounts.oidc_roles.get(email.strip().lower())


def oidc_providers(auth_section: Mapping[str, Any] | None) -> list[str | None]:
    """Providers configured in a Streamlit ``[auth]`` secrets section, for ``st.login``.

    ``None`` stands for the unnamed provider configured in ``[auth]`` itself; named ones are
    its sub-tables (``[auth.microsoft]``). No section: no providers.

    >>> oidc_providers({"redirect_uri": "https://x/oauth2callback", "cookie_secret": "s",
    ...                 "microsoft": {"client_id": "c", "client_secret": "s",
    ...                               "server_metadata_url": "https://m"}})
    ['microsoft']
    >>> oidc_providers(None)
    []
    """
    if not auth_section:
        return []
    named: list[str | None] = [name for name, value in auth_section.items()
                               if isinstance(value, Mapping) and "client_id" in value]
    return ([None] if "client_id" in auth_section else []) + named


def demo_accounts(path: str | Path) -> dict[str, str]:
    """Create one account per role with a random password, for a demonstration.

    Returns ``{user name: password}``: show it once; only the hashes are kept. Refuses when
    any of the demo accounts exists already (other accounts are kept).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "accounts.toml")
    >>> sorted(demo_accounts(p))
    ['demo-analyst', 'demo-planner', 'demo-viewer']
    """
    path = Path(path)
    current = _current(path)
    existing = sorted(set(_DEMO_USERS.values()) & set(current.roles))
    if existing:
        raise ValidationError(f"{path} already has demo account(s) {', '.join(existing)}; "
                              "their passwords were shown when they were made. Remove them "
                              "from the file to make new ones")
    hasher = _hasher()
    passwords = {name: secrets.token_urlsafe(15) for name in _DEMO_USERS.values()}
    _write(path, {**current.roles, **{name: role for role, name in _DEMO_USERS.items()}},
           {**current.hashes, **{name: hasher.hash(pw) for name, pw in passwords.items()}},
           current.oidc_roles)
    return passwords
