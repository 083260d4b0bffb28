"""Every reader, fed random and mutated files, either refuses cleanly or accounts for every row.

Two kinds of input, for each of the eleven readers:

* random files: a header drawn from the reader's real header plus junk names, and rows
  whose cells are real values, unicode, quotes, commas, newlines, blanks, huge numbers and
  ``NaN``/``inf`` strings (GeoJSON features with random properties, some of them bytes
  that are not UTF-8, and random geometries for boundaries);
* mutated real files: the first 200 rows of the open-data mirror file (or of the built
  sample), then truncated at a random byte, with lines deleted, duplicated or swapped,
  bytes flipped, a BOM added, CRLF line ends, or another encoding.

The property: the reader raises a :class:`~geointel.errors.GeointelError` (never another
exception, never the "internal accounting error" the ReadResult raises on itself) or
returns a :class:`~geointel.io._table.ReadResult` whose ``rows_read`` equals accepted +
rejected, whose line numbers point into the file, and whose reject reasons are not blank.

The quick tests use a fixed derandomised sequence of ``GEOINTEL_FUZZ_EXAMPLES`` (15)
examples per reader and kind of input, and also put every special value in every column
of a real row. The long fuzzing run, which collects every distinct failure, is::

    python benchmarks/fuzz_readers.py --examples 1000            # all readers
    python benchmarks/fuzz_readers.py --examples 500 --reader deaths --seed 7
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import tempfile
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import hypothesis
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from geointel.errors import GeointelError
from geointel.io._table import ReadResult
from geointel.io.boundaries import read_boundaries
from geointel.io.contacts import read_contacts, read_intel
from geointel.io.deaths import read_deaths
from geointel.io.imd import read_imd
from geointel.io.naptan import read_naptan
from geointel.io.police_uk import read_police_uk
from geointel.io.population import read_centroids, read_population
from geointel.io.rail import read_rail_stations
from geointel.io.services import read_services
from geointel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
HEAD_ROWS = 200
QUICK = int(os.environ.get("GEOINTEL_FUZZ_EXAMPLES", "15"))
INT64_MIN = np.iinfo("int64").min


@dataclass(frozen=True)
class Reader:
    name: str
    read: Callable[[Path], ReadResult]
    source: str  # "mirror:<relative path>" or "sample:<file>"
    suffix: str = ".csv"


READERS = [
    Reader("police_uk", read_police_uk, "mirror:police_uk/2018-10-essex-street.csv"),
    Reader("imd", read_imd, "mirror:imd/imd2019_england_lsoa11.csv"),
    Reader("population", read_population, "mirror:population/census2011_lsoa11_population.csv"),
    Reader("centroids", read_centroids,
           "mirror:centroids/lsoa11_population_weighted_centroids.csv"),
    Reader("boundaries", read_boundaries, "mirror:boundaries/lsoa11/E06000033.geojson",
           ".geojson"),
    Reader("naptan", read_naptan, "mirror:naptan/150Stops.csv"),
    Reader("rail", read_rail_stations, "mirror:rail/stations.csv"),
    Reader("services", read_services, "sample:services.csv"),
    Reader("deaths", read_deaths, "sample:deaths.csv"),
    Reader("contacts", lambda p: read_contacts(p, key=KEY), "sample:contacts.csv"),
    Reader("intel", lambda p: read_intel(p, key=KEY), "sample:intel.csv"),
]
BY_NAME = {r.name: r for r in READERS}


def _source_file(reader: Reader) -> Path | None:
    kind, rel = reader.source.split(":", 1)
    if kind == "mirror":
        mirror = Settings().resolved_mirror()
        path = mirror / rel if mirror is not None else None
    else:
        path = ROOT / "data" / "samples" / rel
    return path if path is not None and path.is_file() else None


_HEADS: dict[str, bytes] = {}


def real_head(reader: Reader) -> bytes:
    """The first rows of the reader's real file (features, for GeoJSON), one per line."""
    if reader.name not in _HEADS:
        path = _source_file(reader)
        if path is None:
            pytest.skip(f"{reader.source} is not available (mirror or sample not built)")
        if reader.suffix == ".geojson":
            doc = json.loads(path.read_text(encoding="utf-8"))
            features = doc["features"][:12]
            body = ",\n".join(json.dumps(f) for f in features)
            top = {k: v for k, v in doc.items() if k != "features"}
            head = (json.dumps(top)[:-1] + ', "features": [\n' + body + "\n]}\n").encode()
        else:
            with path.open("rb") as fh:
                head = b"".join(line for _, line in zip(range(HEAD_ROWS + 1), fh, strict=False))
        _HEADS[reader.name] = head
    return _HEADS[reader.name]


def header_and_rows(reader: Reader) -> tuple[list[str], list[list[str]]]:
    text = real_head(reader).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return [h.strip() for h in rows[0]], [r for r in rows[1:] if r]


def check(reader: Reader, path: Path) -> ReadResult | None:
    """The property every reader must keep, for one file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = reader.read(path)
    except GeointelError as err:
        assert "internal accounting error" not in str(err), err
        assert str(err).strip()
        return None
    assert isinstance(result, ReadResult)
    assert result.rows_read == result.rows_accepted + result.rows_rejected
    assert result.rows_read >= 0
    lines = result.data["_line"].tolist() + result.rejects["line"].tolist()
    assert all(n >= 1 for n in lines)
    if reader.suffix != ".geojson":  # CSV line numbers are lines of the file
        # a lone CR ends a line too (old Mac files; Python's csv and DuckDB agree)
        n_lines = len(re.split(rb"\r\n|\r|\n", path.read_bytes()))
        assert all(n <= n_lines for n in lines), (max(lines), n_lines)
        assert result.rows_read <= n_lines
    assert result.rejects["reason"].astype(str).str.strip().ne("").all()
    for name, column in result.data.items():  # a float too big for int64 wraps to its minimum
        if str(column.dtype) in ("int64", "Int64"):
            assert not column.eq(INT64_MIN).any(), f"{name} overflowed int64"
    return result


# ------------------------------------------------------------------ random content

SPECIAL = ["", " ", "NaN", "nan", "inf", "-inf", "Infinity", "1e309", "-1e309", "9" * 40,
           "-0", "0", "-1", "1.5", "None", "null", "N/A", '"', '""', ",", "\n", "\r\n",
           "a,b", "'", "\\", "\t", "é", "Zoë", "日本", "\u202e", "\ufeff", "🙂", "\x0b",
           "2018-13-45", "2018-10", "31/02/2019", "E01015814", "E01021234", "07700 900123",
           "<script>alert(1)</script>", "=cmd|' /C calc'!A0", "-999999999999999999999"]


@st.composite
def random_csv(draw: st.DrawFn, reader: Reader) -> bytes:
    header, rows = header_and_rows(reader)
    junk = st.text(max_size=8) | st.sampled_from(["", " ", "_line", "_file", header[0]])
    names = draw(st.lists(st.sampled_from(header) | junk, min_size=1,
                          max_size=len(header) + 2))
    if draw(st.booleans()):  # most examples keep the real columns so validation is reached
        names = header + [n for n in names if n not in header][:2]
        names = draw(st.permutations(names))
    real = {h: [r[i] for r in rows if i < len(r)] for i, h in enumerate(header)}

    def cell(column: str) -> st.SearchStrategy[str]:
        pool = real.get(column) or SPECIAL
        return (st.sampled_from(pool) | st.sampled_from(SPECIAL) | st.text(max_size=12)
                | st.integers(-10**30, 10**30).map(str)
                | st.floats(allow_nan=True, allow_infinity=True).map(repr))

    n_rows = draw(st.integers(0, 6))
    out = []
    for _ in range(n_rows):
        width = len(names) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        out.append([draw(cell(names[i % len(names)])) for i in range(max(width, 0))])
    buf = io.StringIO(newline="")
    if draw(st.booleans()):
        csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(
            [names, *out])
    else:  # written naively: stray quotes and separators reach the parser
        buf.write("\n".join(",".join(r) for r in [names, *out]) + "\n")
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1",
                                     "utf-16"]))
    return buf.getvalue().encode(encoding, errors="replace")


_NUM = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**20, 10**20)
#: Text holding bytes that are not UTF-8 (written out through surrogateescape): a Latin-1
#: e-acute, a cp1252 dash, a lone continuation byte, a truncated two-byte sequence.
_NOT_UTF8 = st.sampled_from(["Caf\udce9", "Leigh \udc96 Sea", "\udc80", "Southend \udcc3",
                             "\udcff\udcfe"])


@st.composite
def random_geojson(draw: st.DrawFn, reader: Reader) -> bytes:
    doc = json.loads(real_head(reader))
    props = list(doc["features"][0]["properties"])
    values = (st.none() | st.text(max_size=10) | _NUM | st.sampled_from(["E01015814", ""])
              | _NOT_UTF8)
    ring = st.lists(st.tuples(_NUM, _NUM).map(list), min_size=0, max_size=5)
    geometry = st.one_of(
        st.none(),
        st.builds(lambda r: {"type": "Polygon", "coordinates": [r]}, ring),
        st.builds(lambda p: {"type": "Point", "coordinates": p}, st.tuples(_NUM, _NUM).map(list)),
        st.builds(lambda t: {"type": t, "coordinates": []},
                  st.sampled_from(["MultiPolygon", "LineString", "Bogus"])),
        st.sampled_from([f["geometry"] for f in doc["features"]]),
    )
    features = draw(st.lists(st.fixed_dictionaries({
        "type": st.just("Feature"),
        "properties": st.dictionaries(st.sampled_from(props) | st.text(max_size=6)
                                      | _NOT_UTF8, values,
                                      max_size=len(props) + 2),
        "geometry": geometry,
    }), max_size=5))
    body = {"type": "FeatureCollection", "features": features}
    if draw(st.booleans()):
        body["crs"] = doc.get("crs") or draw(st.sampled_from([{"type": "name"}, None]))
    text = json.dumps(body, allow_nan=True, ensure_ascii=False)
    # lone surrogates of _NOT_UTF8 become the raw bytes they stand for; now and then the
    # whole file is Latin-1 (an export from an old GIS), which breaks any non-ASCII text
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "latin-1"]))
    try:
        return text.encode(encoding, errors="surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="surrogateescape")


# ------------------------------------------------------------------ mutations

MUTATIONS = ["truncate", "delete", "duplicate", "swap", "flip", "insert", "bom", "crlf",
             "latin-1", "utf-16", "cp1252", "blank", "header-dup"]


def mutate(data: bytes, ops: list[tuple[str, int]]) -> bytes:
    """Apply ``(operation, seed)`` pairs to ``data`` in order; deterministic."""
    for op, seed in ops:
        rnd = random.Random(seed)
        lines = data.split(b"\n")
        if op == "truncate" and data:
            data = data[:rnd.randrange(len(data) + 1)]
        elif op == "delete" and len(lines) > 1:
            del lines[rnd.randrange(len(lines))]
            data = b"\n".join(lines)
        elif op == "duplicate" and lines:
            i = rnd.randrange(len(lines))
            lines.insert(i, lines[i])
            data = b"\n".join(lines)
        elif op == "swap" and len(lines) > 1:
            i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif op == "flip" and data:
            raw = bytearray(data)
            for _ in range(rnd.randint(1, 4)):
                raw[rnd.randrange(len(raw))] ^= 1 << rnd.randrange(8)
            data = bytes(raw)
        elif op == "insert" and data:
            i = rnd.randrange(len(data) + 1)
            data = data[:i] + rnd.choice([b",", b'"', b"\n", b"\r", b"\x00", b"\xff",
                                          b"NaN", b"\xc3", b";", b"}", b"]"]) + data[i:]
        elif op == "bom":
            data = b"\xef\xbb\xbf" + data
        elif op == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif op in ("latin-1", "utf-16", "cp1252"):
            data = data.decode("utf-8", errors="replace").encode(op, errors="replace")
        elif op == "blank" and lines:
            lines.insert(rnd.randrange(len(lines) + 1), b"")
            data = b"\n".join(lines)
        elif op == "header-dup" and lines:
            lines.insert(rnd.randrange(1, len(lines) + 1), lines[0])
            data = b"\n".join(lines)
    return data


mutations = st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 2**32 - 1)),
                     min_size=1, max_size=4)


# ------------------------------------------------------------------ the runs

_DIR = Path(tempfile.mkdtemp(prefix="geointel-fuzz-"))
KINDS = ("random", "mutated")


def _write(reader: Reader, data: bytes) -> Path:
    path = _DIR / f"{reader.name}{reader.suffix}"
    path.write_bytes(data)
    return path


@dataclass(frozen=True)
class Failure:
    """One distinct way a reader broke the property, with the first input that showed it."""

    reader: str
    kind: str
    error: str  # exception type and the first line of its message
    where: str  # the innermost frame in geointel/ (or the test's own check)
    example: str  # the random file's bytes, or the mutations applied to the real head

    def __str__(self) -> str:
        return f"{self.reader}/{self.kind}: {self.error} at {self.where}\n    input: {self.example}"


def _where(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "/geointel/" in f.filename] or frames[-1:]
    return f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"


def fuzz(reader: Reader, kind: str, *, examples: int,
         seed: int | None = None) -> tuple[int, list[Failure]]:
    """Feed ``reader`` ``examples`` inputs of ``kind``; return how many ran and what broke.

    Failures are collected, one per distinct (error, place), instead of stopping at the
    first, so a long run reports everything it found. ``seed=None`` is the fixed
    derandomised sequence of the quick tests; a number gives another reproducible one.
    """
    if kind == "random":
        strategy = random_geojson(reader) if reader.suffix == ".geojson" else random_csv(reader)
    else:
        real_head(reader)
        strategy = mutations
    found: dict[tuple[str, str], Failure] = {}
    ran = 0

    @settings(max_examples=examples, derandomize=seed is None, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(strategy)
    def run(drawn: bytes | list[tuple[str, int]]) -> None:
        nonlocal ran
        ran += 1
        if isinstance(drawn, bytes):
            data, example = drawn, repr(drawn[:2000])
        else:
            data, example = mutate(real_head(reader), drawn), f"mutate(head, {drawn!r})"
        try:
            check(reader, _write(reader, data))
        except Exception as err:  # the property is "nothing else escapes": record it
            first_line = (str(err).strip().splitlines() or [""])[0][:200]
            error = f"{type(err).__name__}: {first_line}"
            key = (type(err).__name__, _where(err))
            found.setdefault(key, Failure(reader.name, kind, error, key[1], example))

    if seed is not None:
        run = hypothesis.seed(seed)(run)
    run()
    return ran, list(found.values())


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_real_head_reads_and_accounts_for_every_row(reader: Reader) -> None:
    result = check(reader, _write(reader, real_head(reader)))
    assert result is not None and result.rows_accepted > 0
    expected = 12 if reader.suffix == ".geojson" else len(header_and_rows(reader)[1])
    assert result.rows_read == expected


def test_mutate_is_deterministic_and_changes_the_file() -> None:
    data = b"a,b\n1,2\n3,4\n"
    assert mutate(data, [("swap", 7), ("flip", 3)]) == mutate(data, [("swap", 7), ("flip", 3)])
    assert mutate(data, [("crlf", 0)]) == b"a,b\r\n1,2\r\n3,4\r\n"
    assert mutate(data, [("bom", 0)]) == b"\xef\xbb\xbf" + data
    assert mutate(data, [("utf-16", 0)]).startswith(b"\xff\xfe")
    assert len(mutate(data, [("truncate", 1)])) < len(data)
    assert mutate(data, [("delete", 1)]).count(b"\n") == 2


@pytest.mark.parametrize("reader", [r for r in READERS if r.suffix == ".csv"],
                         ids=lambda r: r.name)
def test_every_special_value_in_every_column(reader: Reader) -> None:
    """One file: the first real row once per (column, special value), all read together."""
    header, rows = header_and_rows(reader)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for i in range(len(header)):
        for value in SPECIAL:
            row = list(rows[0])
            row[i] = value
            writer.writerow(row)
    result = check(reader, _write(reader, out.getvalue().encode("utf-8")))
    assert result is not None and result.rows_read == len(header) * len(SPECIAL)


NUMERIC = ["inf", "-inf", "NaN", "1e309", "1e40", "-1e40", "9" * 20, "9" * 40, "-0", "1.5"]


@pytest.mark.slow  # one read per column and value: 2-35 s per reader
@pytest.mark.parametrize("reader", [r for r in READERS if r.suffix == ".csv"],
                         ids=lambda r: r.name)
def test_every_extreme_number_in_every_column_alone(reader: Reader) -> None:
    """The first real row with one cell an extreme number, one file each (so no row is
    hidden behind a duplicate-key reject): found the int64 overflows in four readers."""
    header, rows = header_and_rows(reader)
    for i in range(len(header)):
        for value in NUMERIC:
            row = list(rows[0])
            row[i] = value
            out = io.StringIO(newline="")
            csv.writer(out, lineterminator="\n").writerows([header, row])
            result = check(reader, _write(reader, out.getvalue().encode("utf-8")))
            assert result is None or result.rows_read == 1, (header[i], value)


@pytest.mark.parametrize(("bad", "reason"), [
    (b"2018-10-01T09:01:00,07700900001,07700900\xb102,call,60", "is not valid UTF-8 text"),
    ("2018-10-01T09:01:00,07700900001,07700900002,call,6\u65e50".encode(),
     "duration_s '6\u65e50' is not a non-negative number"),
    (b"2018-10-01T09:01:00,07700900001,07700900002,call,6\x010",
     "duration_s '6\x010' is not a non-negative number"),
])
def test_contacts_odd_bytes_are_one_reject_not_a_crash(tmp_path: Path, bad: bytes,
                                                        reason: str) -> None:
    # found by fuzzing: a byte that is not UTF-8 (or a \x01) made the scan that numbers
    # the lines raise DuckDB's own InvalidInputException; the bad line is put after the
    # first 8 KB, as in the fuzzed file (a bad byte in the header's chunk is refused)
    good = b"2018-10-01T09:00:00,07700900001,07700900002,call,60\n"
    path = tmp_path / "c.csv"
    path.write_bytes(b"timestamp,a_party,b_party,kind,duration_s\n" + good * 200 + bad
                     + b"\n\n" + good)
    result = read_contacts(path, key=KEY)
    assert (result.rows_read, result.rows_accepted) == (202, 201)
    assert result.rejects[["line", "reason"]].values.tolist() == [[202, reason]]
    assert result.data["_line"].tolist() == [*range(2, 202), 204]


@pytest.mark.parametrize("value", ["inf", "1e309", "1e40", "9" * 40])
def test_intel_count_that_is_not_finite_or_huge_is_rejected(tmp_path: Path,
                                                           value: str) -> None:
    # found by fuzzing: 'inf' crashed the int64 cast and 9 * 40 overflowed it
    path = tmp_path / "i.csv"
    path.write_text("subject,weapons,violence,cuckooed_addresses,exploited_children,"
                    f"vulnerable_adults,seizures\n07700900001,1,0,0,0,0,0\n"
                    f"07700900002,{value},0,0,0,0,0\n")
    result = read_intel(path, key=KEY)
    assert result.data["weapons"].tolist() == [1]
    huge = value in ("1e40", "9" * 40)
    assert result.rejects[["line", "reason"]].values.tolist() == [[3, (
        "weapons is more than 1,000,000 (a typo or a shifted column?)" if huge
        else "weapons is not a whole number of 0 or more")]]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_fuzz_quick(reader: Reader, kind: str) -> None:
    ran, failures = fuzz(reader, kind, examples=QUICK)
    assert ran == QUICK
    assert not failures, "\n".join(map(str, failures))
