"""The audit log: an append-only SQLite file of sign-ins, exports, overrides and data loads.

Every event is one row of the ``events`` table: when (UTC), the event, who, their role and
the event's details as JSON. The code only ever INSERTs; triggers abort any UPDATE or
DELETE, and each row carries a SHA-256 chained over the previous row's, so
:func:`verify_chain` notices a row edited or removed by other means (e.g. with the triggers
dropped). The file is created with mode 600 at ``Settings.resolved_audit_file()``
(``data_dir/audit.sqlite``, or ``GEOINTEL_AUDIT_FILE``).

Events and the details each must carry (more may be given; nothing named like a password,
secret or token is accepted, so a password can never reach the log):

=================  ==========================================================
``sign_in``        (method, e.g. ``"local"`` or ``"oidc"``)
``sign_in_failed`` (the attempted user name; no password)
``sign_out``
``export``         ``what``, ``marking``
``override``       ``line``, ``item``, ``old``, ``new``, ``reason``
``data_load``      ``file``, ``rows_read``, ``accepted``, ``rejected``
=================  ==========================================================

The pseudonymisation key
------------------------
Phone numbers and handset identifiers are replaced at read time by a keyed hash
(:mod:`geointel.privacy`). The key comes from the ``GEOINTEL_PSEUDONYM_KEY`` environment
variable if set, else from the key file (``Settings.resolved_key_file()``:
``data_dir/pseudonym.key`` unless ``key_file``/``GEOINTEL_KEY_FILE`` says otherwise), made once
with ``geointel key new`` and never committed. A missing key is refused
(:func:`geointel.privacy.load_key`). A data load of pseudonymised data records the key's
fingerprint (``key_fingerprint`` detail); :func:`checked_key` loads the key and refuses it
when earlier loads were made under another, so pseudonyms from two keys are never mixed.

Examples
--------
>>> import tempfile, os
>>> log = os.path.join(tempfile.mkdtemp(), "audit.sqlite")
>>> record(log, "export", user="ann", role="planner", what="harm map", marking="OFFICIAL")
1
>>> events = read_events(log)
>>> events[["event", "user", "role"]].values.tolist(), events["detail"][0]["marking"]
([['export', 'ann', 'planner']], 'OFFICIAL')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd

from geointel.errors import DataFileError, ValidationError

log = logging.getLogger(__name__)

#: event -> detail fields it must carry.
EVENTS: dict[str, tuple[str, ...]] = {
    "sign_in": (),
    "sign_in_failed": (),
    "sign_out": (),
    "export": ("what", "marking"),
    "override": ("line", "item", "old", "new", "reason"),
    "data_load": ("file", "rows_read", "accepted", "rejected"),
}
COLUMNS = ["id", "when", "event", "user", "role", "detail"]
_FORBIDDEN = ("password", "passwd", "secret", "token", "key_hex")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be deleted'); END;
"""
_GENESIS = "0" * 64


def _row_hash(prev: str, at: str, event: str, user: str, role: str | None, detail: str) -> str:
    payload = json.dumps([prev, at, event, user, role, detail], separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to the log at ``path``, created (mode 600, with its schema) if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # mode 600 from the start: the log names users and what they exported
        with suppress(FileExistsError):  # another session may have created it in between
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as con:
            con.executescript(_SCHEMA)
            yield con
    except sqlite3.DatabaseError as err:
        if isinstance(err, sqlite3.IntegrityError) or "append-only" in str(err):
            raise
        raise DataFileError(path, f"cannot be used as the audit log ({err})",
                            fix="point audit_file (GEOINTEL_AUDIT_FILE) at the audit SQLite "
                                "file, or at a new path to start one") from None


def _detail_json(event: str, detail: Mapping[str, Any]) -> str:
    if event not in EVENTS:
        raise ValidationError(f"audit event {event!r} is not one of {', '.join(EVENTS)}")
    missing = [f for f in EVENTS[event] if f not in detail]
    if missing:
        raise ValidationError(f"audit event {event!r} needs detail {', '.join(missing)}")
    for name in detail:
        if any(word in name.lower() for word in _FORBIDDEN):
            raise ValidationError(f"audit detail {name!r} looks like a credential; the audit "
                                  "log never records passwords, secrets or tokens")
    return json.dumps(dict(detail), sort_keys=True, default=str, ensure_ascii=False)


def record(path: str | Path, event: str, *, user: str, role: str | None,
           **detail: Any) -> int:
    """Append one event to the audit log at ``path`` (created if absent); returns its id.

    Parameters
    ----------
    path
        The SQLite audit file, usually ``settings.resolved_audit_file()``.
    event
        One of :data:`EVENTS`.
    user, role
        Who did it (for ``sign_in_failed`` the name that was tried, role ``None``).
    **detail
        The event's details (:data:`EVENTS` lists the required ones); JSON-encoded, other
        values (dates, paths) as text.

    Examples
    --------
    >>> import tempfile, os
    >>> log = os.path.join(tempfile.mkdtemp(), "a.sqlite")
    >>> record(log, "override", user="bo", role="analyst", line="L1", item="harm",
    ...        old=3, new=4, reason="seizure on 3 May")
    1
    >>> record(log, "sign_in_failed", user="bo", role=None, password="x")
    Traceback (most recent call last):
    ...
    geointel.errors.ValidationError: audit detail 'password' looks like a credential; the \
audit log never records passwords, secrets or tokens
    """
    payload = _detail_json(event, detail)
    if not isinstance(user, str) or not user:
        raise ValidationError("audit record needs user (the signed-in or attempted user name)")
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    with _connect(Path(path)) as con:
        con.execute("BEGIN IMMEDIATE")  # serialise writers so the hash chain stays linear
        try:
            last = con.execute("SELECT row_hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
            prev = last[0] if last else _GENESIS
            cur = con.execute(
                "INSERT INTO events (at, event, user, role, detail, prev_hash, row_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at, event, user, role, payload, prev,
                 _row_hash(prev, at, event, user, role, payload)))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    log.info("audit %s by %s (%s)", event, user, role)
    return int(cur.lastrowid or 0)


def read_events(path: str | Path, *, event: str | None = None, user: str | None = None,
                since: dt.datetime | None = None) -> pd.DataFrame:
    """The audit log as a table, oldest first: id, when (UTC), event, user, role, detail (dict).

    ``event``, ``user`` and ``since`` (a timezone-aware time; events at or after it) select
    rows in the database, so a check such as the sign-in throttle reads only what it needs.
    A log that does not exist yet has no events (an empty table).

    >>> read_events("/nonexistent/audit.sqlite").columns.tolist()
    ['id', 'when', 'event', 'user', 'role', 'detail']
    """
    if event is not None and event not in EVENTS:
        raise ValidationError(f"event {event!r} is not one of {', '.join(EVENTS)}")
    if since is not None and since.tzinfo is None:
        raise ValidationError("since must be timezone-aware (e.g. datetime.now(UTC))")
    path = Path(path)
    rows: list[tuple[Any, ...]] = []
    if path.exists():
        with _connect(path) as con:
            where, args = [], []
            for clause, value in (("event = ?", event), ("user = ?", user),
                                  ("at >= ?", since.astimezone(dt.UTC).isoformat(
                                      timespec="microseconds") if since else None)):
                if value is not None:
                    where.append(clause)
                    args.append(value)
            query = "SELECT id, at, event, user, role, detail FROM events"
            if where:
                query += " WHERE " + " AND ".join(where)
            rows = con.execute(query + " ORDER BY id", args).fetchall()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["id"] = frame["id"].astype("int64")
    frame["when"] = pd.to_datetime(frame["when"], utc=True, format="ISO8601")
    frame["detail"] = [json.loads(text) for text in frame["detail"]]
    return frame


def verify_chain(path: str | Path) -> int:
    """Check that no row of the log was changed or removed; returns the number of rows.

    Raises
    ------
    DataFileError
        Naming the first row whose hash does not follow from the rows before it.
    """
    path = Path(path)
    if not path.exists():
        return 0
    with _connect(path) as con:
        rows = con.execute("SELECT id, at, event, user, role, detail, prev_hash, row_hash "
                           "FROM events ORDER BY id").fetchall()
    prev = _GENESIS
    for rid, at, event, user, role, detail, prev_hash, row_hash in rows:
        if prev_hash != prev or row_hash != _row_hash(prev, at, event, user, role, detail):
            raise DataFileError(path, f"audit row {rid} does not follow from the rows before it "
                                      "(edited, inserted or a row removed)",
                                fix="treat the log as tampered with; keep a copy for review")
        prev = row_hash
    return len(rows)


def checked_key(audit_path: str | Path, key_file: str | Path | None, *,
                env: Mapping[str, str] | None = None) -> bytes:
    """The pseudonymisation key, refused if the log's data loads were made under another key.

    The key comes from ``GEOINTEL_PSEUDONYM_KEY`` or ``key_file`` (see the module notes).
    The most recent ``data_load`` that recorded a ``key_fingerprint`` fixes the key that
    existing pseudonymised outputs were made under.

    Raises
    ------
    PrivacyError
        If there is no key, or it is not the key of earlier loads.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> log, kf = os.path.join(d, "a.sqlite"), os.path.join(d, "k")
    >>> _ = open(kf, "w").write(bytes(range(32)).hex())
    >>> from geointel.privacy import key_fingerprint
    >>> _ = record(log, "data_load", user="bo", role="analyst", file="c.csv", rows_read=2,
    ...            accepted=2, rejected=0, key_fingerprint=key_fingerprint(bytes(range(32))))
    >>> checked_key(log, kf, env={}) == bytes(range(32))
    True
    >>> _ = open(kf, "w").write(bytes(range(1, 33)).hex())
    >>> checked_key(log, kf, env={})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geointel.errors.PrivacyError: data loaded from c.csv ... was pseudonymised with another \
key (fingerprint ...); pseudonyms would not match. Use the original key or re-read the raw \
data under the current key
    """
    from geointel.privacy import check_fingerprint, load_key

    key = load_key(key_file, env=env)
    loads = read_events(audit_path, event="data_load")
    for when, detail in zip(loads["when"][::-1], loads["detail"][::-1], strict=True):
        expected = detail.get("key_fingerprint")
        if expected:
            check_fingerprint(str(expected), key,
                              what=f"data loaded from {detail.get('file')} on {when:%Y-%m-%d}")
            break
    return key
