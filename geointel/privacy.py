"""Pseudonymisation by keyed hash, applied when identifiers are read.

Raw phone numbers and handset identifiers (IMEI) are replaced by
``"P" + HMAC-SHA256(key, normalised identifier)[:16 hex]``; values that are already
pseudonyms pass through. The key lives in a file or the ``GEOINTEL_PSEUDONYM_KEY``
environment variable, never in the repository. Its fingerprint travels with derived data
so that data made under another key are refused rather than mixed.

Examples
--------
>>> key = b"k" * 32
>>> a = pseudonymise(["07700 900123", "+44 7700 900123", "Pabcdef0123456789"], key)
>>> a[0] == a[1], a[2]
(True, 'Pabcdef0123456789')
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from geointel.errors import PrivacyError

KEY_ENV = "GEOINTEL_PSEUDONYM_KEY"
PSEUDONYM = re.compile(r"^P[0-9a-f]{16}$")
_NON_DIGITS = re.compile(r"[\s()\-.+]")


def new_key() -> bytes:
    """A fresh random 32-byte key."""
    return secrets.token_bytes(32)


def write_key(path: str | Path, key: bytes | None = None) -> Path:
    """Write a key as hex to ``path`` (mode 600), refusing to overwrite an existing one."""
    path = Path(path)
    if path.exists():
        raise PrivacyError(
            f"{path} already holds a key; replacing it would make new pseudonyms that do not "
            "match existing data. Delete it deliberately if you mean to start again")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write((key or new_key()).hex() + "\n")
    return path


def load_key(key_file: str | Path | None, env: Mapping[str, str] | None = None) -> bytes:
    """The pseudonymisation key from ``GEOINTEL_PSEUDONYM_KEY`` or ``key_file``.

    Raises
    ------
    PrivacyError
        If neither gives a key of at least 16 bytes.
    """
    env = os.environ if env is None else env
    text = env.get(KEY_ENV, "").strip()
    source = KEY_ENV
    if not text and key_file is not None and Path(key_file).is_file():
        text = Path(key_file).read_text(encoding="utf-8").strip()
        source = str(key_file)
    if not text:
        raise PrivacyError(
            f"no pseudonymisation key: set {KEY_ENV} or create a key file with "
            f"`geointel key new` (expected at {key_file})")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = text.encode("utf-8")
    if len(key) < 16:
        raise PrivacyError(f"the pseudonymisation key from {source} is shorter than 16 bytes")
    return key


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible name for a key, stored beside pseudonymised data.

    >>> len(key_fingerprint(b"k" * 32))
    12
    """
    return hmac.new(key, b"geointel key fingerprint", hashlib.sha256).hexdigest()[:12]


def check_fingerprint(expected: str, key: bytes, *, what: str) -> None:
    """Refuse to combine ``what`` (made under ``expected``) with data made under ``key``."""
    if expected != key_fingerprint(key):
        raise PrivacyError(
            f"{what} was pseudonymised with another key (fingerprint {expected}, current "
            f"{key_fingerprint(key)}); pseudonyms would not match. Use the original key or "
            "re-read the raw data under the current key")


def normalise_identifier(value: str) -> str:
    """Canonical form of a phone number or IMEI before hashing; others unchanged.

    >>> normalise_identifier("+44 (0)7700-900123"), normalise_identifier("0044 7700 900123")
    ('07700900123', '07700900123')
    """
    digits = _NON_DIGITS.sub("", value.strip())
    if not digits.isdigit():
        return value.strip()
    if digits.startswith("440"):
        digits = digits[2:]
    elif digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44"):
        digits = "0" + digits[2:]
    return digits


def is_raw_identifier(value: str) -> bool:
    """True for something that looks like a phone number (7-15 digits) or an IMEI.

    >>> is_raw_identifier("07700 900123"), is_raw_identifier("Pabcdef0123456789")
    (True, False)
    """
    digits = normalise_identifier(value)
    return digits.isdigit() and 7 <= len(digits) <= 16


def pseudonymise(values: Iterable[str] | pd.Series, key: bytes) -> list[str]:
    """Pseudonyms for ``values``: raw identifiers hashed, existing pseudonyms kept.

    Each distinct value is hashed once, so millions of rows with thousands of distinct
    identifiers are cheap. Anything that is neither a raw identifier nor a pseudonym
    (``P`` + 16 hex) is hashed too, so nothing identifying can pass through by accident.
    """
    items = list(values)
    cache: dict[str, str] = {}
    out = []
    for value in items:
        text = "" if value is None else str(value)
        if text not in cache:
            if PSEUDONYM.match(text) or text == "":
                cache[text] = text
            else:
                digest = hmac.new(key, normalise_identifier(text).encode("utf-8"), hashlib.sha256)
                cache[text] = "P" + digest.hexdigest()[:16]
        out.append(cache[text])
    return out
