"""The reader contract: file-level checks and reject accounting in geointel.io._table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geointel.errors import DataFileError, GeointelError
from geointel.io._table import ReadResult, RejectLog, concat_results, empty_rejects, read_csv_rows


def write(tmp_path: Path, content: bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_reads_rows_with_file_line_numbers(tmp_path):
    path = write(tmp_path, b"a,b\n1,2\n\n3,4\n")
    frame, log, rows = read_csv_rows(path, required=["a", "b"], kind="test file")
    assert rows == 2
    assert frame["a"].tolist() == ["1", "3"]
    assert frame["_line"].tolist() == [2, 4]  # the blank line 3 is not a row
    assert log.frame().empty


def test_quoted_multiline_field_keeps_start_line(tmp_path):
    path = write(tmp_path, b'a,b\n"x\ny",2\n3,4\n')
    frame, _, rows = read_csv_rows(path, required=["a"], kind="test file")
    assert rows == 2 and frame["_line"].tolist() == [2, 4]


def test_short_row_is_rejected_with_its_line(tmp_path):
    path = write(tmp_path, b"a,b,c\n1,2,3\n4,5\n")  # truncated last line
    frame, log, rows = read_csv_rows(path, required=["a"], kind="test file")
    rejects = log.frame()
    assert rows == 2 and len(frame) == 1
    assert rejects[["line", "reason"]].values.tolist() == [
        [3, "has 2 fields, expected 3 (truncated or shifted row)"]]


def test_trailing_empty_fields_are_tolerated_but_extra_values_are_not(tmp_path):
    path = write(tmp_path, b"a,b\n1,2,\n3,4,5\n")
    frame, log, rows = read_csv_rows(path, required=["a"], kind="test file")
    assert frame["a"].tolist() == ["1"] and log.frame()["line"].tolist() == [3] and rows == 2


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (b"PK\x03\x04rest", "ZIP archive"),
        (b"\xff\xfea\x00,\x00b\x00", "binary file"),
        (b"<!DOCTYPE html><html>", "HTML page"),
        (b"a,b\ncaf\xe9,1\n", "not UTF-8 text (byte 0xe9 on line 2)"),
        (b"x,y\n1,2\n", "has no column 'a'"),
    ],
)
def test_unusable_files_raise_naming_file_and_problem(tmp_path, content, problem):
    path = write(tmp_path, content)
    with pytest.raises(DataFileError) as info:
        read_csv_rows(path, required=["a"], kind="test file")
    assert problem in str(info.value)
    assert str(path) in str(info.value)
    assert "Fix:" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        read_csv_rows(tmp_path / "nope.csv", required=[], kind="test file")


def test_utf8_bom_is_accepted(tmp_path):
    path = write(tmp_path, "\ufeffa,b\n1,2\n".encode())
    frame, _, _ = read_csv_rows(path, required=["a"], kind="test file")
    assert frame["a"].tolist() == ["1"]


def test_reject_log_take_with_per_row_reasons():
    frame = pd.DataFrame({"v": ["1", "x", "y"], "_file": "f.csv", "_line": [2, 3, 4]})
    reasons = pd.Series(["", "bad x", "bad y"], index=frame.index)
    log = RejectLog()
    good = log.take(frame, frame["v"] != "1", reasons)
    assert good["v"].tolist() == ["1"]
    assert log.frame()["reason"].tolist() == ["bad x", "bad y"]
    assert frame["v"].tolist() == ["1", "x", "y"]  # input not mutated


def test_read_result_refuses_inconsistent_counts():
    with pytest.raises(GeointelError, match="accounting"):
        ReadResult(pd.DataFrame({"a": [1]}), empty_rejects(), rows_read=2)


def test_concat_and_summary():
    log = RejectLog()
    log.add("b.csv", [5, 6], "bad")
    a = ReadResult(pd.DataFrame({"x": [1, 2]}), empty_rejects(), 2, ("a.csv",))
    b = ReadResult(pd.DataFrame({"x": [3]}), log.frame(), 3, ("b.csv",))
    both = concat_results([a, b])
    assert both.summary() == {"files": 2, "rows_read": 5, "rows_accepted": 3,
                              "rows_rejected": 2, "reject_reasons": {"bad": 2}}


@pytest.mark.parametrize(("first_line", "shown", "hidden"), [
    # a key, a TOML comment, a sentence: one field, never echoed
    (b"6046ffa0ccd49727d056437cf5df183548527db8a8361b604bd45b404dd3884d",
     "its first line has no separator, so it is not a CSV header", "6046ff"),
    (b"# geointel accounts", "its first line has no separator", "geointel accounts"),
    (b"supersecretpassphrase", "its first line has no separator", "supersecret"),
    # a real header is shown, names cut to 40 characters, at most 15 names
    (b"date,lsoa", "header has: 'date', 'lsoa'", None),
    (b"a," + b"x" * 60, "header has: 'a', '" + "x" * 40 + "\u2026'", "x" * 41),
    (b",".join(b"c%d" % i for i in range(20)), "'c14' and 5 more", "'c15'"),
    (b"date,<img src=x onerror=alert(1)>", "(a name that is not plain text)", "onerror"),
])
def test_missing_columns_error_never_echoes_a_line_that_is_not_a_header(
        tmp_path: Path, first_line: bytes, shown: str, hidden: str | None) -> None:
    path = tmp_path / "wrong.csv"
    path.write_bytes(first_line + b"\n1,2\n")
    with pytest.raises(DataFileError, match="has no column 'name'") as err:
        read_csv_rows(path, required=["name"], kind="services register")
    assert shown in str(err.value)
    if hidden is not None:
        assert hidden not in str(err.value)
