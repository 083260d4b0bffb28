"""Files from users: paths that cannot leave the data directory, and checked uploads.

:func:`safe_path` turns a path typed by a user into one inside a base directory or
refuses it; :func:`accept_upload` saves uploaded bytes under a clean name after checking
size, suffix and content, never replacing a file already there.

Examples
--------
>>> import tempfile
>>> base = Path(tempfile.mkdtemp())
>>> safe_path("samples/deaths.csv", base=base) == base.resolve() / "samples" / "deaths.csv"
True
>>> accept_upload("My deaths (Jan).csv", b"date,lsoa\\n2024-01-02,E01000001\\n",
...               dest_dir=base, max_bytes=1000, allowed_suffixes={".csv"}).name
'My_deaths_Jan_.csv'
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from pathlib import Path, PurePosixPath

from geointel.errors import DataFileError, ValidationError
from geointel.io._table import decode_csv

log = logging.getLogger(__name__)

#: Longest file name :func:`accept_upload` keeps (the suffix is kept whole).
MAX_NAME = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _parts(text: str) -> list[str]:
    """Path components, with backslashes treated as separators too."""
    return [p for p in re.split(r"[\\/]+", text) if p not in ("", ".")]


def safe_path(user_path: str | os.PathLike[str], *, base: Path) -> Path:
    """The resolved path ``user_path`` names inside ``base``, or a refusal.

    Relative paths are taken from ``base``; an absolute path is accepted only if it is
    inside ``base``. Symbolic links are followed, so a link inside ``base`` pointing
    outside it is refused like any other escape.

    Raises
    ------
    ValidationError
        For an empty path, a NUL byte, a ``..`` component, or a path that resolves
        outside ``base``; the message says what to give instead.

    Examples
    --------
    >>> import tempfile
    >>> safe_path("../../etc/passwd", base=Path(tempfile.mkdtemp()))
    Traceback (most recent call last):
    ...
    geointel.errors.ValidationError: path '../../etc/passwd' goes up a directory ('..'); \
give a path inside the data directory, without '..'
    """
    text = os.fspath(user_path)
    if "\x00" in text:
        raise ValidationError(f"path {text!r} contains a NUL byte; give a plain file path")
    if not text.strip():
        raise ValidationError("path is empty; give a file path inside the data directory")
    if ".." in _parts(text):
        raise ValidationError(f"path {text!r} goes up a directory ('..'); give a path "
                              "inside the data directory, without '..'")
    root = Path(base).resolve()
    given = Path(text)
    candidate = (given if given.is_absolute() else root / given).resolve()
    if not candidate.is_relative_to(root):
        why = ("is a link that leads" if not given.is_absolute() else "is")
        raise ValidationError(
            f"path {text!r} {why} outside the data directory {root}; give a path inside it "
            "(copy the file into the data directory first if it lives elsewhere)")
    return candidate


#: Folders of the data directory where partner files (registers) live.
PARTNER_DIRS = ("uploads", "samples")
#: Police-only files of the sample (contact records, intelligence, cell sites, disruption
#: log): never read as a partner register, whoever asks.
POLICE_ONLY = frozenset({"contacts.csv", "intel.csv", "cells.csv", "disruptions.csv"})


def _same_file(a: Path, b: Path) -> bool:
    if a == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links too
    except OSError:
        return False


def partner_file(user_path: str | os.PathLike[str], *, base: Path,
                 protected: Mapping[str, Path] | None = None) -> Path:
    """A partner CSV named by a user, refused unless it is where partner files live.

    The path must pass :func:`safe_path`, end in ``.csv`` and be directly inside one of
    :data:`PARTNER_DIRS` of ``base``; the sample's police-only files (:data:`POLICE_ONLY`)
    and every file in ``protected`` (the pseudonymisation key, the accounts file, the
    audit log: ``{what it is: path}``) are refused by name, wherever they are configured
    to live, so that a reader's error message can never show a line of them.

    Raises
    ------
    ValidationError
        Saying why the path is refused and what to give instead.

    Examples
    --------
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> partner_file("samples/deaths.csv", base=base) == base.resolve() / "samples/deaths.csv"
    True
    >>> partner_file("pseudonym.key", base=base,
    ...              protected={"the pseudonymisation key": base / "pseudonym.key"})
    Traceback (most recent call last):
    ...
    geointel.errors.ValidationError: path 'pseudonym.key' is the pseudonymisation key, which \
is never read as a partner file; give a CSV in uploads/ or samples/ of the data directory
    """
    candidate = safe_path(user_path, base=base)
    shown = os.fspath(user_path)
    where = "give a CSV in " + " or ".join(f"{d}/" for d in PARTNER_DIRS) + \
        " of the data directory"
    for what, path in (protected or {}).items():
        if _same_file(candidate, Path(path)):
            raise ValidationError(f"path {shown!r} is {what}, which is never read as a partner "
                                  f"file; {where}")
    root = Path(base).resolve()
    if candidate.suffix.lower() != ".csv":
        raise ValidationError(f"path {shown!r} is not a .csv file; partner registers are CSV "
                              f"files: {where}")
    if candidate.parent not in {(root / d).resolve() for d in PARTNER_DIRS}:
        raise ValidationError(f"path {shown!r} is not in a folder of partner files; {where} "
                              "(upload the file, or copy it into uploads/)")
    if candidate.parent == (root / "samples").resolve() and candidate.name in POLICE_ONLY:
        raise ValidationError(f"path {shown!r} is police-only sample data (contacts, "
                              f"intelligence, cells, disruptions), not a partner register; {where}")
    return candidate


def _clean_name(name: str) -> str:
    """A file name that is safe on every file system: ASCII letters, digits, ``._-``."""
    if "\x00" in name:
        raise ValidationError(f"upload name {name!r} contains a NUL byte; rename the file")
    parts = _parts(name)
    leaf = parts[-1] if parts else ""
    leaf = unicodedata.normalize("NFKD", leaf).encode("ascii", "ignore").decode("ascii")
    leaf = _UNSAFE.sub("_", leaf).lstrip(".-_")
    while ".." in leaf:
        leaf = leaf.replace("..", ".")
    stem, dot, suffix = leaf.rpartition(".")
    if not dot:
        stem, suffix = leaf, ""
    stem = stem or "upload"
    suffix = suffix.lower()
    room = MAX_NAME - len(suffix) - 1
    return f"{stem[:max(room, 1)]}.{suffix}" if suffix else stem[:MAX_NAME]


def _sniff_text(name: str, data: bytes) -> None:
    decode_csv(name, data)


def _sniff_json(name: str, data: bytes) -> None:
    text = decode_csv(name, data)
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFileError(name, f"is not valid JSON ({err.msg} at line {err.lineno})",
                            fix="export the file again as (Geo)JSON") from None
    except RecursionError:
        raise DataFileError(name, "is JSON nested too deeply to read",
                            fix="export the file again as (Geo)JSON") from None


def _sniff_xml(name: str, data: bytes) -> None:
    head = decode_csv(name, data).lstrip()[:200].lower()
    if not head.startswith(("<?xml", "<graphml")):
        raise DataFileError(name, "is not an XML/GraphML file",
                            fix="save the road network with osmnx.save_graphml")


def _magic(prefix: bytes, what: str, *, suffix: bytes = b"") -> Callable[[str, bytes], None]:
    def check(name: str, data: bytes) -> None:
        if not data.startswith(prefix) or not data.endswith(suffix):
            raise DataFileError(name, f"is not a {what} file (its content does not match "
                                "its name)", fix=f"upload the {what} file itself")
    return check


#: Content checks by suffix; a suffix without one is never accepted.
SNIFFERS: dict[str, Callable[[str, bytes], None]] = {
    ".csv": _sniff_text,
    ".tsv": _sniff_text,
    ".txt": _sniff_text,
    ".json": _sniff_json,
    ".geojson": _sniff_json,
    ".graphml": _sniff_xml,
    ".gpkg": _magic(b"SQLite format 3\x00", "GeoPackage"),
    ".zip": _magic(b"PK\x03\x04", "ZIP"),
    ".parquet": _magic(b"PAR1", "Parquet", suffix=b"PAR1"),
}


def accept_upload(
    name: str,
    data: bytes,
    *,
    dest_dir: Path,
    max_bytes: int,
    allowed_suffixes: Collection[str],
) -> Path:
    """Check an uploaded file and save it in ``dest_dir``; return where it was saved.

    The name is reduced to its last component and to ASCII letters, digits and ``._-``
    (no leading dot, at most :data:`MAX_NAME` characters). The file must be no larger
    than ``max_bytes``, its suffix (case-insensitive) must be in ``allowed_suffixes``,
    and its content must match the suffix (see :data:`SNIFFERS`): a CSV must be UTF-8
    text, not binary, UTF-16, ZIP or an HTML page. An existing file is never replaced:
    ``name-1.csv``, ``name-2.csv``, ... are tried instead. Files are written with mode
    600 (partner data).

    Raises
    ------
    ValidationError
        Empty or oversize data, a NUL byte in the name, a suffix not allowed, or
        ``dest_dir`` outside what :func:`safe_path` allows.
    DataFileError
        Content that does not match the suffix.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> [accept_upload("a.csv", b"x\\n1\\n", dest_dir=d, max_bytes=100,
    ...                allowed_suffixes={"csv"}).name for _ in range(2)]
    ['a.csv', 'a-1.csv']
    """
    if max_bytes < 1:
        raise ValidationError(f"max_bytes must be at least 1, got {max_bytes}")
    if len(data) > max_bytes:
        raise ValidationError(
            f"upload {name!r} is {len(data):,} bytes, over the limit of {max_bytes:,}; "
            "upload a smaller file (e.g. one period or area at a time)")
    if not data:
        raise ValidationError(f"upload {name!r} is empty; upload the file again")
    allowed = {("." + s.lower().lstrip(".")) for s in allowed_suffixes}
    unknown = sorted(allowed - SNIFFERS.keys())
    if unknown:
        raise ValidationError(f"allowed_suffixes has {unknown}, which have no content check; "
                              f"choose from {', '.join(sorted(SNIFFERS))}")
    clean = _clean_name(name)
    suffix = Path(clean).suffix
    if suffix not in allowed:
        raise ValidationError(
            f"upload {name!r} has suffix {suffix or '(none)'!r}; allowed here: "
            f"{', '.join(sorted(allowed))}. Upload a file of one of those types")
    SNIFFERS[suffix](clean, data)
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    stem = PurePosixPath(clean).stem
    for n in range(10_000):
        candidate = clean if n == 0 else f"{stem}-{n}{suffix}"
        if os.path.lexists(dest / candidate):  # a file or any link: never written through
            continue
        target = safe_path(candidate, base=dest)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        log.info("accepted upload as %s (%d bytes)", target.name, len(data))
        return target
    raise ValidationError(f"{dest} already holds 10,000 uploads named like {clean!r}; "
                          "clear out old uploads")
