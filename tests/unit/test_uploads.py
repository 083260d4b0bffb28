"""User paths stay inside the data directory; uploads are checked before they are saved."""

from __future__ import annotations

import os
import stat
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geointel.errors import DataFileError, GeointelError, ValidationError
from geointel.io.uploads import MAX_NAME, accept_upload, partner_file, safe_path

CSV = b"date,lsoa_code\n2024-01-02,E01021234\n"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    (d / "samples").mkdir(parents=True)
    (d / "samples" / "deaths.csv").write_bytes(CSV)
    return d


# ------------------------------------------------------------------ partner_file

KEY_TEXT = "6046ffa0ccd49727d056437cf5df183548527db8a8361b604bd45b404dd3884d\n"


@pytest.fixture
def secrets_base(base: Path) -> tuple[Path, dict[str, Path]]:
    """A data directory with a key, accounts, audit log and police-only sample files."""
    (base / "pseudonym.key").write_text(KEY_TEXT)
    (base / "accounts.toml").write_text("# geointel accounts\n")
    (base / "audit.sqlite").write_bytes(b"SQLite format 3\x00")
    (base / "uploads").mkdir()
    (base / "uploads" / "mine.csv").write_bytes(CSV)
    for name in ("contacts.csv", "intel.csv", "cells.csv", "disruptions.csv"):
        (base / "samples" / name).write_bytes(CSV)
    (base / "samples" / "truth").mkdir()
    (base / "samples" / "truth" / "lines.csv").write_bytes(CSV)
    (base / "police.csv").write_bytes(CSV)
    protected = {"the pseudonymisation key": base / "pseudonym.key",
                 "the accounts file": base / "accounts.toml",
                 "the audit log": base / "audit.sqlite"}
    return base, protected


@pytest.mark.parametrize("given_path", ["samples/deaths.csv", "uploads/mine.csv",
                                        "./uploads//mine.csv", "samples/DEATHS-new.CSV"])
def test_partner_file_accepts_csvs_where_partner_files_live(
        secrets_base: tuple[Path, dict[str, Path]], given_path: str) -> None:
    base, protected = secrets_base
    got = partner_file(given_path, base=base, protected=protected)
    assert got == (base / given_path).resolve()


@pytest.mark.parametrize(("given_path", "match"), [
    ("pseudonym.key", "is the pseudonymisation key, which is never read"),
    ("./pseudonym.key", "is the pseudonymisation key"),
    ("accounts.toml", "is the accounts file"),
    ("audit.sqlite", "is the audit log"),
    ("manifest.json", "is not a .csv file"),
    ("police.csv", "not in a folder of partner files"),
    ("samples/truth/lines.csv", "not in a folder of partner files"),
    ("samples/contacts.csv", "police-only sample data"),
    ("samples/intel.csv", "police-only sample data"),
    ("samples/cells.csv", "police-only sample data"),
    ("samples/disruptions.csv", "police-only sample data"),
    ("../pseudonym.key", "goes up a directory"),
])
def test_partner_file_refuses_secrets_and_police_files(
        secrets_base: tuple[Path, dict[str, Path]], given_path: str, match: str) -> None:
    base, protected = secrets_base
    with pytest.raises(ValidationError, match=match) as err:
        partner_file(given_path, base=base, protected=protected)
    assert "6046ff" not in str(err.value)


def test_partner_file_refuses_a_key_configured_as_a_csv_among_uploads(base: Path) -> None:
    # the protected files are refused by what they are, wherever they are configured
    (base / "uploads").mkdir()
    key = base / "uploads" / "key.csv"
    key.write_text(KEY_TEXT)
    with pytest.raises(ValidationError, match="is the pseudonymisation key"):
        partner_file("uploads/key.csv", base=base,
                     protected={"the pseudonymisation key": key})


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_partner_file_refuses_links_to_the_key(
        secrets_base: tuple[Path, dict[str, Path]], link: str) -> None:
    base, protected = secrets_base
    alias = base / "uploads" / "innocent.csv"
    if link == "symlink":
        alias.symlink_to(base / "pseudonym.key")
    else:
        os.link(base / "pseudonym.key", alias)
    with pytest.raises(ValidationError, match="is the pseudonymisation key"):
        partner_file("uploads/innocent.csv", base=base, protected=protected)


# ------------------------------------------------------------------ safe_path

@pytest.mark.parametrize("given_path", ["samples/deaths.csv", "./samples//deaths.csv",
                                        "new.csv", "samples/not-yet-there.csv"])
def test_safe_path_accepts_paths_inside_base(base: Path, given_path: str) -> None:
    got = safe_path(given_path, base=base)
    assert got == (base.resolve() / given_path).resolve()
    assert got.is_relative_to(base.resolve())


def test_safe_path_accepts_an_absolute_path_inside_base(base: Path) -> None:
    inside = base.resolve() / "samples" / "deaths.csv"
    assert safe_path(str(inside), base=base) == inside


@pytest.mark.parametrize(("given_path", "match"), [
    ("../../etc/passwd", r"goes up a directory \('\.\.'\)"),
    ("samples/../../x.csv", "goes up a directory"),
    ("samples\\..\\..\\x.csv", "goes up a directory"),
    ("/etc/passwd", "outside the data directory"),
    ("x.csv\x00.exe", "NUL byte"),
    ("", "path is empty"),
    ("   ", "path is empty"),
])
def test_safe_path_refuses_escapes(base: Path, given_path: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        safe_path(given_path, base=base)


def test_safe_path_refuses_a_symlink_out_of_base(base: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "keys.csv").write_text("k\n1\n")
    (base / "link").symlink_to(outside, target_is_directory=True)
    (base / "file-link.csv").symlink_to(outside / "keys.csv")
    with pytest.raises(ValidationError, match="is a link that leads outside"):
        safe_path("link/keys.csv", base=base)
    with pytest.raises(ValidationError, match="outside the data directory"):
        safe_path("file-link.csv", base=base)


def test_safe_path_follows_a_symlink_that_stays_inside(base: Path) -> None:
    (base / "latest.csv").symlink_to(base / "samples" / "deaths.csv")
    assert safe_path("latest.csv", base=base) == (base / "samples" / "deaths.csv").resolve()


@settings(max_examples=200, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # base is read-only here
@given(st.lists(st.sampled_from(["..", ".", "a", "b.csv", "/", "\\", "\x00", "é", "~", " "]),
                min_size=1, max_size=8).map("".join))
def test_safe_path_result_is_always_inside_base(base: Path, text: str) -> None:
    try:
        got = safe_path(text, base=base)
    except ValidationError:
        return
    assert got.is_relative_to(base.resolve())


# ------------------------------------------------------------------ accept_upload

def upload(base: Path, name: str, data: bytes = CSV, **kwargs: object) -> Path:
    args: dict = {"dest_dir": base / "uploads", "max_bytes": 10_000,
                  "allowed_suffixes": {".csv"}, **kwargs}
    return accept_upload(name, data, **args)


@pytest.mark.parametrize(("name", "saved"), [
    ("deaths.csv", "deaths.csv"),
    ("a/b.csv", "b.csv"),
    ("C:\\Users\\me\\Deaths 2024.CSV", "Deaths_2024.csv"),
    (".hidden.csv", "hidden.csv"),
    ("../../x.csv", "x.csv"),
    ("Décès (Jan).csv", "Deces_Jan_.csv"),
    ("<script>alert(1)</script>.csv", "script_.csv"),
    ("<b onload=alert(1)>.csv", "b_onload_alert_1_.csv"),
])
def test_upload_names_are_sanitised(base: Path, name: str, saved: str) -> None:
    path = upload(base, name)
    assert path.name == saved
    assert path.parent == (base / "uploads").resolve()
    assert path.read_bytes() == CSV
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_long_names_are_cut_but_keep_their_suffix(base: Path) -> None:
    path = upload(base, "x" * 500 + ".csv")
    assert len(path.name) == MAX_NAME and path.suffix == ".csv"


@pytest.mark.parametrize(("name", "match"), [
    ("../../etc/passwd", "suffix '\\(none\\)'"),
    ("x.csv\x00.exe", "NUL byte"),
    ("report.csv.exe", "suffix '.exe'"),
    ("deaths.xlsx", "suffix '.xlsx'; allowed here: .csv"),
    (".csv", "suffix '\\(none\\)'"),
])
def test_hostile_or_wrong_names_are_refused(base: Path, name: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        upload(base, name)
    assert not (base / "uploads").exists() or not any((base / "uploads").iterdir())


def test_size_limit(base: Path) -> None:
    assert upload(base, "ok.csv", b"a\n" + b"1\n" * 49, max_bytes=100).stat().st_size == 100
    with pytest.raises(ValidationError, match="is 102 bytes, over the limit of 100"):
        upload(base, "big.csv", b"a\n" + b"1\n" * 50, max_bytes=100)
    with pytest.raises(ValidationError, match="is empty"):
        upload(base, "empty.csv", b"")


def _zip() -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("deaths.csv", CSV)
    return buf.getvalue()


@pytest.mark.parametrize(("data", "match"), [
    (b"<!DOCTYPE html><html><body>Sign in</body></html>", "is an HTML page"),
    (_zip(), "is a ZIP archive"),
    ("date,lsoa\n".encode("utf-16"), "binary file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    ("date,name\n2024-01-01,Zoë\n".encode("latin-1"), "is not UTF-8 text"),
    (b"  \n \n", "is empty"),
])
def test_csv_content_must_be_utf8_text(base: Path, data: bytes, match: str) -> None:
    with pytest.raises(DataFileError, match=match):
        upload(base, "deaths.csv", data)


@pytest.mark.parametrize(("name", "data", "ok"), [
    ("net.graphml", b"<?xml version='1.0'?><graphml/>", True),
    ("net.graphml", b"<html>nope</html>", False),
    ("a.geojson", b'{"type": "FeatureCollection", "features": []}', True),
    ("a.geojson", b'{"type": ', False),
    ("a.geojson", b"[" * 100_000, False),
    ("a.gpkg", b"SQLite format 3\x00" + b"\x00" * 100, True),
    ("a.gpkg", CSV, False),
    ("a.zip", _zip(), True),
    ("a.parquet", b"PAR1" + b"\x00" * 10 + b"PAR1", True),
    ("a.parquet", b"PAR1" + b"\x00" * 10, False),
])
def test_other_types_are_sniffed(base: Path, name: str, data: bytes, ok: bool) -> None:
    kwargs: dict = {"allowed_suffixes": {Path(name).suffix}, "max_bytes": 1_000_000}
    if ok:
        assert upload(base, name, data, **kwargs).read_bytes() == data
    else:
        with pytest.raises(DataFileError):
            upload(base, name, data, **kwargs)


def test_allowed_suffixes_without_a_content_check_are_refused(base: Path) -> None:
    with pytest.raises(ValidationError, match=r"\['.exe'\], which have no content check"):
        upload(base, "a.csv", allowed_suffixes={"csv", "EXE"})


def test_never_overwrites(base: Path) -> None:
    first = upload(base, "deaths.csv", CSV)
    second = upload(base, "deaths.csv", CSV + b"2024-02-03,E01021235\n")
    third = upload(base, "sub/deaths.csv", CSV)
    assert [p.name for p in (first, second, third)] == ["deaths.csv", "deaths-1.csv",
                                                        "deaths-2.csv"]
    assert first.read_bytes() == CSV


def test_an_existing_symlink_with_the_upload_name_is_not_followed(base: Path,
                                                                  tmp_path: Path) -> None:
    dest = base / "uploads"
    dest.mkdir()
    victim = tmp_path / "victim.csv"
    (dest / "deaths.csv").symlink_to(base / "samples" / "deaths.csv")
    (dest / "other.csv").symlink_to(victim)  # dangling, out of base
    assert upload(base, "deaths.csv", b"x\n1\n").name == "deaths-1.csv"
    assert upload(base, "other.csv", b"x\n1\n").name == "other-1.csv"
    assert (base / "samples" / "deaths.csv").read_bytes() == CSV
    assert not victim.exists()


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # names never collide badly
@given(st.text(min_size=0, max_size=40), st.binary(max_size=64))
def test_any_name_and_bytes_either_save_inside_or_raise_cleanly(base: Path, name: str,
                                                                data: bytes) -> None:
    try:
        path = accept_upload(name, data, dest_dir=base / "u", max_bytes=50,
                             allowed_suffixes={".csv", ".json"})
    except GeointelError:
        return
    assert path.parent == (base / "u").resolve()
    assert path.read_bytes() == data and len(data) <= 50
    assert path.suffix in {".csv", ".json"} and os.sep not in path.name
