"""Contact-record and intelligence readers: accounting, line numbers, pseudonyms, rejects."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from geointel.errors import DataFileError
from geointel.io.contacts import read_contacts, read_intel, redact_numbers
from geointel.privacy import pseudonymise

HEADER = "timestamp,a_party,b_party,kind,duration_s,imei,cell_id,cell_lat,cell_lon\n"
GOOD = "2018-10-01T10:00:00,07700900001,07700 900002,call,30,000000001234567,SOU01,51.55,0.70\n"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pseudonyms_are_the_hmac_of_the_normalised_number(tmp_path, key):
    r = read_contacts(_write(tmp_path, "c.csv", HEADER + GOOD), key=key)
    expected = "P" + hmac.new(key, b"07700900002", hashlib.sha256).hexdigest()[:16]
    assert r.data.loc[0, "b_party"] == expected
    assert r.data.loc[0, "a_party"] == pseudonymise(["+44 7700 900001"], key)[0]
    assert r.data.loc[0, "imei"] == pseudonymise(["000000001234567"], key)[0]
    assert r.data.loc[0, "timestamp"] == pd.Timestamp("2018-10-01 10:00:00")
    assert r.data.loc[0, "duration_s"] == 30.0 and r.data.loc[0, "cell_id"] == "SOU01"


def test_rejects_name_file_line_and_reason_and_accounting_holds(tmp_path, key):
    rows = [GOOD, "\n",
            "2018-10-01,07700900001,07700900003,SMS,,,,,\n",             # line 4: ok
            "yesterday,07700900001,07700900003,sms,0,,,,\n",             # 5
            "2018-10-01T10:00:00,07700900001\n",                         # 6: short
            "2018-10-01T10:00:00,07700900001,07700900003,call,-5,,,,\n",  # 7
            "2018-10-01T10:00:00,07700900001,07700900001,call,5,,,,\n",   # 8
            "2018-10-01T10:00:00,07700900001,07700900003,fax,5,,,,\n",    # 9
            "2018-10-01T10:00:00,07700900001,07700900003,call,,,,,\n",    # 10
            "2018-10-01T10:00:00,07700900001,07700900003,sms,0,,X,48.0,0.1\n",  # 11
            "2018-10-01T10:00:00,07700900001,07700900003,sms,0,,X,51.5,\n",     # 12
            GOOD]                                                        # 13
    path = _write(tmp_path, "c.csv", HEADER + "".join(rows))
    r = read_contacts(path, key=key)
    assert r.rows_read == 11 and r.rows_accepted == 3 and r.rows_rejected == 8
    assert r.data["_line"].tolist() == [2, 4, 13]
    assert r.rejects["line"].tolist() == [5, 6, 7, 8, 9, 10, 11, 12]
    reasons = dict(zip(r.rejects["line"], r.rejects["reason"], strict=True))
    assert reasons[5] == "timestamp 'yesterday' is not an ISO 8601 date-time"
    assert reasons[6] == "has 2 fields, expected 9 (truncated or shifted row)"
    assert reasons[7] == "duration_s '-5' is not a non-negative number"
    assert reasons[8] == "a_party and b_party are the same handset"
    assert reasons[9] == "kind 'fax' is not call or sms"
    assert reasons[10] == "duration_s is blank for a call"
    assert reasons[11] == "cell_lat/cell_lon outside Great Britain"
    assert reasons[12] == "cell_lat/cell_lon: only one is given"
    assert set(r.rejects["file"]) == {str(path)}


def test_no_raw_number_in_rejects(tmp_path, key):
    text = HEADER + "2018-10-01T10:00:00,07700900001,07700900001,call,5,,,,\n"
    r = read_contacts(_write(tmp_path, "c.csv", text), key=key)
    assert "900001" not in r.rejects.to_csv()


def test_parquet_and_csv_together_and_pseudonyms_pass_through(tmp_path, key):
    frame = pd.DataFrame({"timestamp": ["2018-10-02T11:00:00"] * 2,
                          "a_party": ["P0123456789abcdef", "07700900009"],
                          "b_party": ["Pfedcba9876543210"] * 2, "kind": ["sms"] * 2,
                          "duration_s": [0, 0]})
    frame.to_parquet(tmp_path / "c.parquet")
    r = read_contacts([_write(tmp_path, "c.csv", HEADER + GOOD), tmp_path / "c.parquet"],
                      key=key)
    assert r.rows_read == 3 and r.rows_accepted == 3
    part = r.data[r.data["_file"] == str(tmp_path / "c.parquet")]
    assert part["a_party"].tolist() == ["P0123456789abcdef",
                                        pseudonymise(["07700900009"], key)[0]]
    assert part["_line"].tolist() == [1, 2]
    assert part["cell_id"].isna().all()


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "is empty"),
    (b"PK\x03\x04rest", "ZIP archive"),
    (b"<html><body>error</body></html>", "HTML page"),
    (b"time,a,b\n1,2,3\n", "has no column 'timestamp'"),
])
def test_unusable_files_raise_one_clear_error(tmp_path, key, content, problem):
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=problem):
        read_contacts(path, key=key)


def test_missing_file(tmp_path, key):
    with pytest.raises(DataFileError, match="does not exist"):
        read_contacts(tmp_path / "nope.csv", key=key)


INTEL_HEADER = ("subject,weapons,violence,cuckooed_addresses,exploited_children,"
                "vulnerable_adults,drugs,seizures,notes,grading,date\n")


def test_intel_counts_grading_dates_and_redacted_notes(tmp_path, key):
    text = INTEL_HEADER + (
        "07700 900123,1,2,,0,1,crack,3,seen with 07700 900124 on 2018-10-03,2-B-P,2018-10-04\n"
        "07700 900123,x,0,0,0,0,,0,,,\n"
        "07700 900123,0,0,0,0,0,,0,,9ZZ,\n"
        ",0,0,0,0,0,,0,,,\n")
    r = read_intel(_write(tmp_path, "i.csv", text), key=key)
    assert r.rows_read == 4 and r.rows_accepted == 1
    row = r.data.iloc[0]
    assert row["subject"] == pseudonymise(["07700900123"], key)[0]
    assert (row["weapons"], row["violence"], row["cuckooed_addresses"], row["seizures"]) == (
        1, 2, 0, 3)
    assert row["grading"] == "2BP" and row["date"] == pd.Timestamp("2018-10-04")
    assert row["notes"] == (f"seen with {pseudonymise(['07700900124'], key)[0]} "
                            "on 2018-10-03")
    assert r.rejects["reason"].tolist() == [
        "weapons is not a whole number of 0 or more",
        "grading is not a 3x5x2 code such as 2BP", "subject is blank"]


def test_redact_numbers_keeps_dates_and_small_numbers(key):
    assert redact_numbers("3 wraps on 2018-10-01 at 14:00", key) == "3 wraps on 2018-10-01 at 14:00"
    assert "900999" not in redact_numbers("call +44 7700 900999 now", key)


def test_intel_yes_no_counts_and_line_ids_pass_through(tmp_path, key):
    text = INTEL_HEADER + ("LINE-0123abcd,yes,No,,y,false,,TRUE,,,\n"
                           "L1,0,0,0,0,0,,0,,,\n"
                           "07700 900123,maybe,0,0,0,0,,0,,,\n")
    r = read_intel(_write(tmp_path, "i.csv", text), key=key)
    assert r.data[["weapons", "violence", "exploited_children", "vulnerable_adults",
                   "seizures"]].values.tolist() == [[1, 0, 1, 0, 1], [0, 0, 0, 0, 0]]
    # a detected line id (made from a pseudonym) is kept; anything else is pseudonymised
    assert r.data["subject"].tolist() == ["LINE-0123abcd", pseudonymise(["L1"], key)[0]]
    assert r.rejects["reason"].tolist() == ["weapons is not a whole number of 0 or more"]
