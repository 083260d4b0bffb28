"""Pseudonymisation: keyed, stable across formats, refusing missing or changed keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pytest

from geointel.errors import PrivacyError
from geointel.privacy import (
    check_fingerprint,
    is_raw_identifier,
    key_fingerprint,
    load_key,
    pseudonymise,
    write_key,
)


def test_pseudonym_is_hmac_of_normalised_number(key):
    expected = "P" + hmac.new(key, b"07700900123", hashlib.sha256).hexdigest()[:16]
    assert pseudonymise(["+44 7700 900123", "07700-900-123", "447700900123"], key) == [expected] * 3


def test_other_key_gives_other_pseudonym(key):
    assert pseudonymise(["07700900123"], key) != pseudonymise(["07700900123"], b"z" * 32)


def test_existing_pseudonyms_and_blanks_pass_through(key):
    assert pseudonymise(["P0123456789abcdef", ""], key) == ["P0123456789abcdef", ""]


def test_free_text_identifiers_are_hashed_not_passed(key):
    out = pseudonymise(["Tony line"], key)[0]
    assert out.startswith("P") and "Tony" not in out


@pytest.mark.parametrize(("value", "raw"), [("07700 900123", True), ("353456789012345", True),
                                            ("P0123456789abcdef", False), ("12", False)])
def test_is_raw_identifier(value, raw):
    assert is_raw_identifier(value) is raw


def test_key_from_env_wins_over_file(tmp_path, key):
    path = write_key(tmp_path / "k.key", key)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key(path, env={}) == key
    other = bytes(range(100, 120))
    assert load_key(path, env={"GEOINTEL_PSEUDONYM_KEY": other.hex()}) == other


@pytest.mark.parametrize(("value", "message"), [
    ("abcd", "shorter than 16 bytes"),                          # hex, 2 bytes
    ("00112233445566778899aabbccddee", "shorter than 16 bytes"),  # hex, 15 bytes
    ("correct horse battery", "not hex and shorter than 32 characters"),
    ("sixteen chars!!!", "not hex and shorter than 32 characters"),
    ("0" * 64, "one byte repeated"),
    ("ab" * 32, "one byte repeated"),
    ("z" * 40, "one byte repeated"),
])
def test_short_or_placeholder_keys_are_refused(value, message):
    with pytest.raises(PrivacyError, match=message):
        load_key(None, env={"GEOINTEL_PSEUDONYM_KEY": value})


def test_hex_and_passphrase_keys_at_the_limits_are_accepted():
    sixteen = bytes(range(16))
    assert load_key(None, env={"GEOINTEL_PSEUDONYM_KEY": sixteen.hex()}) == sixteen
    phrase = "a passphrase of thirty-two chars"
    assert len(phrase) == 32
    assert load_key(None, env={"GEOINTEL_PSEUDONYM_KEY": phrase}) == phrase.encode()


def test_missing_key_is_refused(tmp_path):
    with pytest.raises(PrivacyError, match="no pseudonymisation key"):
        load_key(tmp_path / "absent.key", env={})


def test_existing_key_is_never_overwritten(tmp_path, key):
    path = write_key(tmp_path / "k.key", key)
    with pytest.raises(PrivacyError, match="already holds a key"):
        write_key(path)
    assert load_key(path, env={}) == key


def test_changed_key_is_refused(key):
    check_fingerprint(key_fingerprint(key), key, what="lines.csv")
    with pytest.raises(PrivacyError, match="another key"):
        check_fingerprint(key_fingerprint(key), b"y" * 32, what="lines.csv")
