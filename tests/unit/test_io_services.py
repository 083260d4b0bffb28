"""Services register: opening hours parsing, open/closed queries and the CSV reader."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geointel.errors import DataFileError, ValidationError
from geointel.io.services import (
    COLUMNS,
    is_open,
    normalise_kind,
    open_during,
    parse_opening_hours,
    read_services,
)

WEEKDAYS_9_5 = tuple((d, 540, 1020) for d in range(5))


@pytest.mark.parametrize(("text", "expected"), [
    ("Mo-Fr 09:00-17:00", WEEKDAYS_9_5),
    ("Mo-Fr 09:00-17:00; Sa 10:00-13:00", (*WEEKDAYS_9_5, (5, 600, 780))),
    ("24/7", tuple((d, 0, 1440) for d in range(7))),
    ("Mo-Su 00:00-24:00", tuple((d, 0, 1440) for d in range(7))),
    ("Fr 22:00-02:00", ((4, 1320, 1440), (5, 0, 120))),
    ("Su 23:30-00:30", ((0, 0, 30), (6, 1410, 1440))),
    ("Mo,We 09:00-12:00,13:00-17:00", ((0, 540, 720), (0, 780, 1020),
                                       (2, 540, 720), (2, 780, 1020))),
    ("Sa-Mo 10:00-12:00", ((0, 600, 720), (5, 600, 720), (6, 600, 720))),
    ("Mo-Fr 09:00-17:00; We off", tuple(i for i in WEEKDAYS_9_5 if i[0] != 2)),
    ("Mo-Fr 09:00-17:00; We closed", tuple(i for i in WEEKDAYS_9_5 if i[0] != 2)),
    ("Mo-Fr 09:00-17:00; We 12:00-14:00", tuple(
        (2, 720, 840) if i[0] == 2 else i for i in WEEKDAYS_9_5)),
    ("Mo 09:00-12:00, Mo 11:00-15:00", ((0, 540, 900),)),  # additional rule adds and merges
    ("Mo-Fr 09:00-17:00, Sa 10:00-13:00", (*WEEKDAYS_9_5, (5, 600, 780))),
    ("Tu", ((1, 0, 1440),)),
    ("10:00-11:00", tuple((d, 600, 660) for d in range(7))),
    ("mo-fr 9:00–17:00; PH off", WEEKDAYS_9_5),  # lower case, en dash, holidays ignored
    ("Mo-Su off", ()),
])
def test_parse_opening_hours(text, expected):
    assert parse_opening_hours(text) == expected


@pytest.mark.parametrize("text", [
    "Mo-Fr 9-5", "Monday 09:00-17:00", "Mo-Fr 09:00-17:60", "Mo 25:00-26:00",
    "Mo 09:00-09:00", "Mo 09:00-17:00 extra", "Xx 09:00-10:00", "open sometimes",
])
def test_unreadable_opening_hours_quote_the_text(text):
    with pytest.raises(ValidationError) as info:
        parse_opening_hours(text)
    assert repr(text) in str(info.value)


def test_blank_opening_hours_are_not_a_schedule():
    with pytest.raises(ValidationError, match="unknown"):
        parse_opening_hours("  ")


def test_is_open():
    hours = parse_opening_hours("Mo-Fr 09:00-17:00; Sa 22:00-01:00")
    assert is_open(hours, 0, 540) and is_open(hours, 4, 1019)
    assert not is_open(hours, 0, 539) and not is_open(hours, 0, 1020)
    assert is_open(hours, 5, 1439) and is_open(hours, 6, 59) and not is_open(hours, 6, 60)
    with pytest.raises(ValidationError, match="day must be 0"):
        is_open(hours, 7, 0)
    with pytest.raises(ValidationError, match="minute must be 0 to 1439"):
        is_open(hours, 0, 1440)


def test_open_during_whole_window():
    services = pd.DataFrame({"opening_hours": [
        "Mo-Fr 09:00-17:00", "24/7", "", "Sa 22:00-24:00; Su 00:00-06:00",
        "Su 20:00-24:00; Mo 00:00-03:00", "Mo 09:00-12:00,12:00-17:00"]},
        index=[10, 11, 12, 13, 14, 15])
    result = open_during(services, 0, 600, 960)  # Monday 10:00-16:00
    assert result.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert result.tolist() == [True, True, False, False, False, True]
    assert open_during(services, 0, 960, 1080).tolist() == [  # Monday 16:00-18:00
        False, True, False, False, False, False]
    assert open_during(services, 5, 1380, 1740).tolist() == [  # Sat 23:00 - Sun 05:00
        False, True, False, True, False, False]
    assert open_during(services, 6, 1380, 1560).tolist() == [  # Sun 23:00 - Mon 02:00
        False, True, False, False, True, False]
    assert open_during(services, 0, 600, 960, unknown=True).tolist()[2] is True
    with pytest.raises(ValidationError, match="at most 24 hours"):
        open_during(services, 0, 600, 600)
    with pytest.raises(ValidationError, match="opening_hours"):
        open_during(pd.DataFrame({"x": [1]}), 0, 0, 60)


@settings(max_examples=60, deadline=None)
@given(day=st.integers(0, 6), start=st.integers(0, 1439), length=st.integers(1, 1439))
def test_open_during_matches_is_open_minute_by_minute(day, start, length):
    end = start + length
    text = f"{['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su'][day]} " \
           f"{start // 60:02d}:{start % 60:02d}-{end % 1440 // 60:02d}:{end % 60:02d}"
    hours = parse_opening_hours(text)
    frame = pd.DataFrame({"opening_hours": [text]})
    assert open_during(frame, day, start, end).tolist() == [True]
    assert open_during(frame, day, start, end + 1).tolist() == [False]
    minutes = [(day * 1440 + m) % 10080 for m in range(start, end)]
    assert all(is_open(hours, m // 1440, m % 1440) for m in minutes)


@pytest.mark.parametrize(("text", "kind"), [
    ("Treatment hub", "treatment_hub"), ("TREATMENT-HUB", "treatment_hub"),
    ("naloxone", "naloxone"), ("Take-home naloxone", "naloxone"),
    ("Community Pharmacy", "pharmacy"), ("satellite clinic", "satellite"),
    ("Outreach team", "outreach"), ("gym", None), ("", None),
])
def test_kind_variants(text, kind):
    assert normalise_kind(text) == kind


HEADER = ("service_id,name,kind,latitude,longitude,easting,northing,opening_hours,capacity,"
          "provider,postcode,notes")


def write(tmp_path: Path, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "services.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_read_services_values_and_rejects(tmp_path):
    # East Beach stop (NaPTAN 15800001): 0.7971940770, 51.5284447058 == BNG 594125, 184768.
    path = write(tmp_path, [
        'S1,"  <b>Hub</b> & Co ",Treatment hub,,,594125,184768,"Mo-Fr 09:00-17:00",12,'
        'NHS,ss1 2aa,"=cmd|\' /C calc\'!A0"',
        "S2,Beach Naloxone,NALOXONE,51.5284447058,0.7971940770,,,24/7,,Council,,",
        "S3,Gym,gym,51.5,0.7,,,,,,,",
        "S4,Nowhere,pharmacy,,,,,,,,,",
        "S5,Odd hours,pharmacy,51.5,0.7,,,whenever,,,,",
        "S6,Neg,outreach,51.5,0.7,,,,-1,,,",
        "S7,Half,outreach,51.5,0.7,,,,2.5,,,",
        "S1,Again,satellite,51.5,0.7,,,,,,,",
        ",No id,satellite,51.5,0.7,,,,,,,",
        "S8,Both,satellite,0,0,590000,185000,Sa 10:00-13:00,0,,,",
    ])
    result = read_services(path)
    assert result.rows_read == 10 and result.rows_accepted == 3
    data = result.data.set_index("service_id")
    assert list(result.data.columns) == COLUMNS and result.data.crs.to_epsg() == 27700
    assert data.loc["S1", "name"] == "  <b>Hub</b> & Co "  # untrusted text kept verbatim
    assert data.loc["S1", "notes"] == "=cmd|' /C calc'!A0"
    assert (data.loc["S1", "kind"], data.loc["S2", "kind"], data.loc["S8", "kind"]) == (
        "treatment_hub", "naloxone", "satellite")
    assert (data.loc["S1", "easting"], data.loc["S1", "northing"]) == (594125.0, 184768.0)
    assert abs(data.loc["S2", "easting"] - 594125) < 5
    assert abs(data.loc["S2", "northing"] - 184768) < 5
    assert (data.loc["S8", "easting"], data.loc["S8", "northing"]) == (590000.0, 185000.0)
    assert str(result.data["capacity"].dtype) == "Int64"
    assert result.data["capacity"].tolist()[0] == 12 and result.data["capacity"].tolist()[2] == 0
    assert pd.isna(result.data["capacity"].tolist()[1])
    assert data.loc["S1", "postcode"] == "SS1 2AA"
    assert data.loc["S2", "opening_hours"] == "24/7"
    reasons = result.rejects[["line", "reason"]].values.tolist()
    assert reasons[:3] == [
        [4, "kind 'gym' is not one of naloxone, pharmacy, treatment_hub, satellite, outreach"],
        [5, "no usable location: easting/northing are blank; longitude/latitude are blank"],
        [6, "unreadable opening_hours: opening hours 'whenever': cannot read 'whenever'; use "
            "the OpenStreetMap form, e.g. 'Mo-Fr 09:00-17:00; Sa 10:00-13:00', 'Mo-Su off' "
            "or '24/7'"],
    ]
    assert reasons[3:] == [
        [7, "capacity '-1' is negative"],
        [8, "capacity '2.5' is not a whole number"],
        [9, "duplicate service_id 'S1' (first on line 2)"],
        [10, "service_id is blank"],
    ]
    assert open_during(result.data, 0, 600, 660).tolist() == [True, True, False]


@pytest.mark.parametrize(("capacity", "reason"), [
    ("inf", "capacity 'inf' is not a whole number"),
    ("1e40", "capacity '1e40' is more than 1,000,000 (a typo or a shifted column?)"),
    ("9" * 20, f"capacity '{'9' * 20}' is more than 1,000,000 (a typo or a shifted column?)"),
])
def test_capacity_not_finite_or_huge_is_rejected_not_a_crash(tmp_path, capacity, reason):
    # found by fuzzing: these crashed the cast to Int64 ("cannot safely cast")
    path = tmp_path / "s.csv"
    path.write_text("service_id,name,kind,easting,northing,capacity\n"
                    "S1,A,pharmacy,590000,185000,1000000\n"
                    f"S2,B,pharmacy,590000,185000,{capacity}\n")
    result = read_services(path)
    assert result.data["capacity"].tolist() == [1_000_000]
    assert result.rejects[["line", "reason"]].values.tolist() == [[3, reason]]


def test_lat_lon_only_file_and_missing_columns(tmp_path):
    path = write(tmp_path, ["N1,Point,naloxone,51.5284447058,0.7971940770"],
                 header="service_id,name,kind,latitude,longitude")
    result = read_services(path)
    row = result.data.iloc[0]
    assert (row["opening_hours"], row["notes"], row["provider"]) == ("", "", "")
    assert pd.isna(row["capacity"])
    with pytest.raises(DataFileError, match="has no location columns"):
        read_services(write(tmp_path, ["N1,Point,naloxone,CB1"],
                            header="service_id,name,kind,postcode"))
    with pytest.raises(DataFileError, match="'kind'"):
        read_services(write(tmp_path, ["N1,Point,51,0"],
                            header="service_id,name,latitude,longitude"))
